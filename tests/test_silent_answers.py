"""Regression tests for the silent answers of issue 14 item 4: each failed (returned a number)
before the fix and must now raise a named error or return NaN by the documented rule."""

from __future__ import annotations

import numpy as np
import pytest

from minivae import LSTMVAE, VAE
from minivae._validation import NumericalOverflowError, check_array
from minivae.objectives.losses import gaussian_nll, mse
from minivae.timeseries.metrics import confusion_counts, pr_auc, roc_auc, roc_curve


@pytest.mark.parametrize("metric", [roc_auc, pr_auc, roc_curve])
def test_metrics_refuse_shapes_that_differ(metric):
    y = np.array([0, 1] * 5)
    scores = np.linspace(0.0, 1.0, 10)
    with pytest.raises(ValueError, match=r"y_true and scores must have the same shape.*\(10,\)"):
        metric(y, scores.reshape(2, 5))  # returned 0.5 (flattened both) before
    assert np.isfinite(roc_auc(y.reshape(2, 5), scores.reshape(2, 5)))  # same shape: pooled
    with pytest.raises(ValueError, match="same shape"):
        confusion_counts(y, y.reshape(2, 5))


def test_sequence_with_nothing_observed_scores_nan_not_zero():
    model = LSTMVAE(1, 4, 2, rng=0)
    X = np.random.default_rng(0).standard_normal((3, 6, 1))
    mask = np.ones(X.shape, dtype=bool)
    mask[1] = False  # sequence 1: no observed entry at all
    per_seq = model.reconstruction_log_prob(X, rng=0, mask=mask, per_step=False, n_samples=2)
    assert np.isnan(per_seq[1])  # was 0.0, the most normal score there is
    assert np.all(np.isfinite(per_seq[[0, 2]]))
    per_step = model.reconstruction_log_prob(X, rng=0, mask=mask, per_step=True, n_samples=2)
    assert np.all(np.isnan(per_step[1])) and np.all(np.isfinite(per_step[[0, 2]]))


def test_float32_cast_overflow_is_reported_as_overflow():
    with pytest.raises(ValueError, match=r"X overflows float32.*1e\+300"):
        check_array(np.array([1.0, 1e300]), "X", dtype=np.float32)  # "NaN data" before
    with pytest.raises(ValueError, match="overflows float32"):
        LSTMVAE(1, 4, 2, rng=0, dtype=np.float32).encode(np.full((2, 3, 1), 1e300))


def test_forward_overflow_names_the_input():
    X = np.full((4, 3), 1e200)
    with pytest.raises(NumericalOverflowError, match=r"X has values too large.*1e\+200"):
        VAE(3, [4], 2, likelihood="gaussian", rng=0).reconstruct(X)  # came back as inf
    with pytest.raises(NumericalOverflowError, match=r"target is too large"):
        mse(np.zeros((2, 2)), np.full((2, 2), 1e200))
    with pytest.raises(FloatingPointError):  # also a FloatingPointError, for training loops
        gaussian_nll(np.full((2, 2), 1e200), np.zeros((2, 2)), np.zeros((2, 2)))
