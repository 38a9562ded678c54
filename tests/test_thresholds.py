"""Tests for minivae.timeseries.thresholds."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minivae.timeseries import thresholds as TH

SCORES = np.array([1.0, 2.0, 3.0, 4.0, 5.0])


def test_mu_k_sigma_hand_case():
    # mean 3, population std sqrt(((-2)^2 + 1 + 0 + 1 + 4) / 5) = sqrt(2).
    assert TH.threshold_mu_k_sigma(SCORES, k=2.0) == pytest.approx(3.0 + 2.0 * np.sqrt(2.0))
    assert TH.threshold_mu_k_sigma(SCORES) == pytest.approx(3.0 + 3.0 * np.sqrt(2.0))
    assert TH.threshold_mu_k_sigma(SCORES, k=0) == pytest.approx(3.0)


def test_percentile_hand_case():
    assert TH.threshold_percentile(SCORES, 50) == pytest.approx(3.0)
    assert TH.threshold_percentile(SCORES, 75) == pytest.approx(4.0)
    # position 0.9 * 4 = 3.6 between 4 and 5 -> 4.6 (linear interpolation)
    assert TH.threshold_percentile(SCORES, 90) == pytest.approx(4.6)
    assert TH.threshold_percentile(SCORES, 0) == 1.0
    assert TH.threshold_percentile(SCORES, 100) == 5.0


def test_max_flags_nothing_on_its_own_scores():
    thr = TH.threshold_max(SCORES)
    assert thr == 5.0
    assert TH.apply_threshold(SCORES, thr).sum() == 0
    np.testing.assert_array_equal(TH.apply_threshold(np.array([4.9, 5.0, 5.1]), thr), [0, 0, 1])


def test_fit_threshold_dispatches():
    s = np.arange(20.0).reshape(4, 5)  # any shape is fine
    assert TH.fit_threshold(s, "mu_k_sigma", k=1.5) == TH.threshold_mu_k_sigma(s, k=1.5)
    assert TH.fit_threshold(s, "percentile", q=95) == TH.threshold_percentile(s, 95)
    assert TH.fit_threshold(s, "max") == 19.0
    assert isinstance(TH.fit_threshold(s), float)


def test_fit_threshold_bad_arguments():
    with pytest.raises(ValueError, match="method must be one of"):
        TH.fit_threshold(SCORES, "otsu")
    with pytest.raises(TypeError, match=r"unexpected keyword\(s\) \['q'\]"):
        TH.fit_threshold(SCORES, "mu_k_sigma", q=99)
    with pytest.raises(TypeError, match="unexpected"):
        TH.fit_threshold(SCORES, "max", k=3)
    with pytest.raises(ValueError, match="q must be <= 100"):
        TH.threshold_percentile(SCORES, 101)
    with pytest.raises(ValueError, match="k must be finite"):
        TH.threshold_mu_k_sigma(SCORES, k=np.inf)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize(
    "fn",
    [
        TH.threshold_mu_k_sigma,
        lambda s: TH.threshold_percentile(s, 99),
        TH.threshold_max,
        TH.fit_threshold,
        lambda s: TH.apply_threshold(s, 0.5),
    ],
)
def test_non_finite_scores_rejected(fn, bad):
    with pytest.raises(ValueError, match="scores contains 1 non-finite"):
        fn(np.array([0.1, bad, 0.3]))


def test_empty_scores_rejected():
    with pytest.raises(ValueError, match="scores is empty"):
        TH.threshold_max(np.array([]))


finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=50, deadline=None)
@given(st.lists(finite, min_size=1, max_size=30), st.floats(0, 100), st.floats(0, 100))
def test_percentile_is_monotone_and_bounded(values, q1, q2):
    s = np.array(values)
    lo, hi = sorted((q1, q2))
    t_lo, t_hi = TH.threshold_percentile(s, lo), TH.threshold_percentile(s, hi)
    assert s.min() <= t_lo <= t_hi <= s.max()
    # Flagged fraction can only shrink as the threshold rises.
    assert TH.apply_threshold(s, t_hi).sum() <= TH.apply_threshold(s, t_lo).sum()
    assert TH.apply_threshold(s, TH.threshold_max(s)).sum() == 0
