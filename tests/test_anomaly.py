"""Tests for minivae.timeseries.anomaly: scores, thresholds, re-aggregation, baselines and bad
input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minivae.data import (
    inject_spikes,
    multi_sine,
    sliding_windows,
    window_starts,
    windows_to_series,
)
from minivae.models import Autoencoder
from minivae.models.lstm_vae import LSTMVAE
from minivae.timeseries.anomaly import (
    AnomalyDetector,
    RollingZScoreDetector,
    fit_error_gaussian,
    mahalanobis_scores,
    reconstruction_errors,
    rolling_zscore_scores,
)
from minivae.timeseries.metrics import roc_auc

# ----------------------------------------------------------------------------------------------
# Stub models: deterministic reconstructions with known errors (no training needed)
# ----------------------------------------------------------------------------------------------


class HalfModel:
    """Sequence "model" reconstructing x as x / 2, so the error is |x| / 2 exactly."""

    input_ndim = (3,)

    def __init__(self) -> None:
        self.calls = 0

    def reconstruct(self, X):
        self.calls += 1
        return 0.5 * np.asarray(X)

    def fit(self, X, **kwargs):  # pragma: no cover - the tests pass train=False
        raise AssertionError("HalfModel must not be trained")


class NaNModel(HalfModel):
    """A broken model whose reconstruction overflows after fitting."""

    broken = False

    def reconstruct(self, X):
        out = 0.5 * np.asarray(X)
        if self.broken:
            out = out.copy()
            out[0, 0, 0] = np.nan
        return out


@pytest.fixture(scope="module")
def sine_case():
    """A smooth normal series, a test series with spikes, and a small trained LSTM-VAE."""
    x = multi_sine(1, 900, n_components=2, freq_range=(0.02, 0.05), noise_std=0.05, rng=0)[0]
    test, labels = inject_spikes(x[600:], n=6, magnitude=(6.0, 8.0), rng=3)
    model = LSTMVAE(1, 8, 3, rng=0)
    det = AnomalyDetector(model, score="mse", window=16, stride=4, rng=0)
    det.fit(x[:600], epochs=3, batch_size=32, lr=1e-2, diagnostics=False)
    return x, test, labels, model, det


# ----------------------------------------------------------------------------------------------
# Building blocks
# ----------------------------------------------------------------------------------------------


def test_reconstruction_errors_hand_case():
    x = np.array([[[1.0, 2.0], [0.0, 0.0]]])  # (1, 2, 2)
    x_hat = np.array([[[0.0, 0.0], [1.0, -1.0]]])
    np.testing.assert_allclose(reconstruction_errors(x, x_hat, "mse"), [[2.5, 1.0]])
    np.testing.assert_allclose(reconstruction_errors(x, x_hat, "mae"), [[1.5, 1.0]])
    with pytest.raises(ValueError, match="same shape"):
        reconstruction_errors(x, x_hat[:, :1])


def test_fit_error_gaussian_hand_case():
    e = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [2.0, 2.0]])
    mu, cov = fit_error_gaussian(e, shrinkage=0.0)
    np.testing.assert_allclose(mu, [1.0, 1.0])
    np.testing.assert_allclose(cov, np.eye(2))  # population covariance of +-1 deviations
    # shrinkage s: (1 - s) S + s * tr(S)/K I; here S is not a multiple of I.
    e2 = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 2.0], [4.0, 2.0]])
    _, cov2 = fit_error_gaussian(e2, shrinkage=0.5)
    S = np.diag([4.0, 1.0])
    np.testing.assert_allclose(cov2, 0.5 * S + 0.5 * 2.5 * np.eye(2))


def test_mahalanobis_matches_direct_formula():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((3, 3))
    cov = A @ A.T + 0.5 * np.eye(3)
    mu = rng.standard_normal(3)
    e = rng.standard_normal((7, 3))
    direct = np.einsum("mi,ij,mj->m", e - mu, np.linalg.inv(cov), e - mu)
    np.testing.assert_allclose(mahalanobis_scores(e, mu, cov), direct, rtol=1e-10)
    # An identity covariance gives the squared Euclidean distance.
    np.testing.assert_allclose(mahalanobis_scores(e, mu, np.eye(3)),
                               np.sum((e - mu) ** 2, axis=1))
    with pytest.raises(ValueError, match="not positive definite"):
        mahalanobis_scores(e, mu, -np.eye(3))


def test_fit_error_gaussian_degenerate_inputs():
    # Identical error vectors: S = 0 is floored, so distances stay finite.
    mu, cov = fit_error_gaussian(np.ones((5, 2)), shrinkage=0.0)
    assert np.all(np.isfinite(mahalanobis_scores(np.ones((1, 2)) * 2, mu, cov)))
    # Fewer vectors than dimensions: shrinkage keeps the covariance invertible.
    _, cov = fit_error_gaussian(np.random.default_rng(0).random((3, 10)), shrinkage=0.1)
    assert np.all(np.linalg.eigvalsh(cov) > 0)
    with pytest.raises(ValueError, match="at least 2"):
        fit_error_gaussian(np.ones((1, 3)))


def test_detector_mahalanobis_pipeline_matches_direct_formula():
    """Stub model x_hat = x/2: error vectors are |x|/2, so every number can be recomputed."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((40, 5, 2))
    det = AnomalyDetector(HalfModel(), score="mahalanobis", scale=False, validation_split=0.5,
                          shrinkage=0.1, rng=0).fit(X, train=False)
    # Validation = last 20 windows; the error Gaussian uses their first half (10 windows).
    E_fit = np.abs(X[20:30]) / 2
    mu, cov = fit_error_gaussian(E_fit.reshape(-1, 2), shrinkage=0.1)
    np.testing.assert_allclose(det.error_mean_, mu)
    X_new = rng.standard_normal((4, 5, 2)) * 3
    e = np.abs(X_new) / 2
    direct = np.einsum("nti,ij,ntj->nt", e - mu, np.linalg.inv(cov), e - mu)
    np.testing.assert_allclose(det.score_steps(X_new), direct, rtol=1e-9)
    np.testing.assert_allclose(det.score(X_new), direct.mean(axis=1), rtol=1e-9)
    # The threshold is fitted on the other half of the validation windows.
    val_b = np.abs(X[30:]) / 2
    val_scores = np.einsum("nti,ij,ntj->nt", val_b - mu, np.linalg.inv(cov), val_b - mu)
    assert det.window_threshold_ == pytest.approx(val_scores.mean(axis=1).mean()
                                                  + 3 * val_scores.mean(axis=1).std())

    # "window" error vectors: one T*D-dimensional Gaussian per window.
    detw = AnomalyDetector(HalfModel(), score="mahalanobis", error_vector="window", scale=False,
                           validation_split=0.5, shrinkage=0.2, rng=0).fit(X, train=False)
    mu_w, cov_w = fit_error_gaussian(E_fit.reshape(10, -1), shrinkage=0.2)
    ew = e.reshape(4, -1)
    direct_w = np.einsum("ni,ij,nj->n", ew - mu_w, np.linalg.inv(cov_w), ew - mu_w)
    np.testing.assert_allclose(detw.score(X_new), direct_w, rtol=1e-9)
    np.testing.assert_allclose(detw.score_steps(X_new), np.repeat(direct_w[:, None], 5, 1),
                               rtol=1e-9)


# ----------------------------------------------------------------------------------------------
# The detector end to end
# ----------------------------------------------------------------------------------------------


def test_detector_finds_spikes(sine_case):
    _, test, labels, _, det = sine_case
    scores = det.score(test)
    assert scores.shape == test.shape
    assert roc_auc(labels, scores) > 0.9
    pred = det.predict(test)
    assert pred.shape == test.shape and set(np.unique(pred)) <= {0, 1}
    # Every spike is inside a flagged stretch.
    assert np.all(pred[labels] == 1)


def test_reconstruction_probability_higher_on_anomalous_windows(sine_case):
    x, _, _, model, _ = sine_case
    det = AnomalyDetector(model, score="reconstruction_probability", n_samples=4, window=16,
                          stride=4, rng=0).fit(x[:600], train=False)
    normal = sliding_windows(x[600:], 16, 16)
    anomalous = normal.copy()
    anomalous[:, 8, 0] += 6 * x.std()  # a spike in the middle of every window
    s_norm, s_anom = det.score(normal), det.score(anomalous)
    assert np.all(s_anom > s_norm)
    # Seeded: scoring twice gives the same numbers; another detector seed changes them.
    np.testing.assert_array_equal(det.score(normal), s_norm)
    other = AnomalyDetector(model, score="reconstruction_probability", n_samples=4, window=16,
                            stride=4, rng=1).fit(x[:600], train=False)
    assert not np.allclose(other.score(normal), s_norm)


def test_per_step_reaggregation_shapes(sine_case):
    _, test, _, _, det = sine_case
    T = test.shape[0]
    W, S = det.window, det.stride
    starts = window_starts(T, W, S)
    per_window, st = det.score_windows(test)
    np.testing.assert_array_equal(st, starts)
    assert per_window.shape == (starts.size,)
    # Windows of the (scaled) series scored directly agree with the series path.
    wins = sliding_windows(test, W, S)
    steps = det.score_steps(wins)
    assert steps.shape == (starts.size, W)
    np.testing.assert_allclose(det.score(wins), per_window)
    np.testing.assert_allclose(det.score(test), windows_to_series(steps, starts, T))
    # (T, D) input gives the same per-step scores as (T,).
    np.testing.assert_allclose(det.score(test[:, None]), det.score(test))
    rec = det.reconstruct(test)
    assert rec.shape == (T, 1)
    assert np.mean((rec[:, 0] - test) ** 2) < np.var(test)  # it learned something


def test_threshold_behaviour():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((30, 6, 1))
    det = AnomalyDetector(HalfModel(), score="mae", threshold="max", scale=False,
                          validation_split=0.4, rng=0).fit(X, train=False)
    val = X[18:]
    # "max": nothing in the validation windows is flagged (strict >).
    assert det.predict(val).sum() == 0
    assert det.window_threshold_ == pytest.approx(np.max(np.abs(val).mean(axis=(1, 2)) / 2))
    assert det.step_threshold_ == pytest.approx(np.max(np.abs(val)) / 2)
    louder = val * 1.01
    assert det.predict(louder).sum() >= 1
    det.set_threshold("mu_k_sigma", k=1.0)
    s = np.abs(val).mean(axis=(1, 2)) / 2
    assert det.window_threshold_ == pytest.approx(s.mean() + s.std())
    det.set_threshold("percentile", q=50)
    assert det.window_threshold_ == pytest.approx(np.median(s))
    assert 0 < det.predict(val).sum() < len(val)


def test_mlp_autoencoder_sees_flattened_windows():
    x = multi_sine(1, 400, rng=0, noise_std=0.05)[0]
    ae = Autoencoder(12, [8], 3, output="mse", activation="tanh", rng=0)
    det = AnomalyDetector(ae, score="mse", window=12, stride=3, rng=0)
    det.fit(x[:300], epochs=2, batch_size=16)
    assert det.history_ is not None  # the detector trained it
    assert det.score(x[300:]).shape == (100,)
    bad = Autoencoder(10, [8], 3, output="mse", rng=0)
    with pytest.raises(ValueError, match="input_dim = window \\* n_features = 12"):
        AnomalyDetector(bad, window=12).fit(x[:300])


# ----------------------------------------------------------------------------------------------
# Bad input
# ----------------------------------------------------------------------------------------------


def test_bad_input_errors():
    x = np.sin(np.arange(100) / 5.0)
    det = AnomalyDetector(HalfModel(), window=10, rng=0)
    with pytest.raises(ValueError, match="non-finite"):
        det.fit(np.full(100, np.nan), train=False)  # all-NaN series
    with pytest.raises(ValueError, match="window=200 is longer than the series"):
        AnomalyDetector(HalfModel(), window=200).fit(x, train=False)
    with pytest.raises(ValueError, match="stride=11 is larger than window=10"):
        AnomalyDetector(HalfModel(), window=10, stride=11).fit(x, train=False)
    with pytest.raises(ValueError, match="give the detector a window"):
        AnomalyDetector(HalfModel()).fit(x, train=False)
    with pytest.raises(RuntimeError, match="not fitted"):
        det.score(x)
    det.fit(x, train=False)
    with pytest.raises(ValueError, match="feature"):
        det.score(np.zeros((50, 2)))
    with pytest.raises(ValueError, match="window=10"):
        det.score(np.zeros((3, 7, 1)))
    with pytest.raises(ValueError, match="validation"):
        AnomalyDetector(HalfModel(), window=10, validation_split=0.05).fit(x, train=False)
    with pytest.raises(ValueError, match="score must be one of"):
        AnomalyDetector(HalfModel(), score="likelihood")
    with pytest.raises(ValueError, match="threshold must be one of"):
        AnomalyDetector(HalfModel(), threshold="otsu")
    with pytest.raises(TypeError, match="reconstruction_log_prob"):
        AnomalyDetector(Autoencoder(4, [3], 2, rng=0), score="reconstruction_probability")
    with pytest.raises(TypeError, match="reconstruct"):
        AnomalyDetector(object())


def test_non_finite_score_is_a_clear_error():
    model = NaNModel()
    X = np.random.default_rng(0).standard_normal((20, 4, 1))
    det = AnomalyDetector(model, rng=0).fit(X, train=False)
    model.broken = True
    with pytest.raises(FloatingPointError, match="non-finite"):
        det.score(X)
    with pytest.raises(FloatingPointError, match="non-finite"):
        AnomalyDetector(model, score="mahalanobis", rng=0).fit(X, train=False)


# ----------------------------------------------------------------------------------------------
# Rolling z-score baseline
# ----------------------------------------------------------------------------------------------


def test_rolling_zscore_hand_case():
    x = np.array([1.0, 2.0, 3.0, 4.0, 10.0])
    s = rolling_zscore_scores(x, 4)  # min_periods = 2
    assert s[0] == 0.0 and s[1] == 0.0  # fewer than 2 earlier points
    assert s[2] == pytest.approx(abs(3 - 1.5) / 0.5)
    assert s[3] == pytest.approx(abs(4 - 2.0) / np.std([1.0, 2.0, 3.0]))
    assert s[4] == pytest.approx(abs(10 - 2.5) / np.std([1.0, 2.0, 3.0, 4.0]))
    # Two channels: the max of the channel z-scores.
    two = rolling_zscore_scores(np.stack([x, -2 * x[::-1]], axis=1), 4)
    assert two[4] >= s[4]
    with pytest.raises(ValueError, match="shorter than the series"):
        rolling_zscore_scores(x, 5)
    with pytest.raises(ValueError, match="non-finite"):
        rolling_zscore_scores(np.array([1.0, np.nan, 2.0, 3.0]), 2)


@settings(max_examples=25, deadline=None)
@given(st.integers(6, 60), st.integers(2, 5), st.floats(-5, 5), st.floats(0.1, 10))
def test_rolling_zscore_is_affine_invariant(T, w, shift, scale):
    x = np.random.default_rng(T).standard_normal(T)
    np.testing.assert_allclose(rolling_zscore_scores(x * scale + shift, w),
                               rolling_zscore_scores(x, w), rtol=1e-6, atol=1e-6)


def test_rolling_zscore_detector():
    rng = np.random.default_rng(0)
    normal = rng.standard_normal(500)
    test = rng.standard_normal(300)
    labels = np.zeros(300, dtype=bool)
    labels[[50, 120, 190, 260]] = True  # isolated spikes (clustered ones inflate the std)
    test[labels] += 9.0
    det = RollingZScoreDetector(30, threshold="percentile", q=99.5).fit(normal)
    assert roc_auc(labels, det.score(test)) > 0.95
    pred = det.predict(test)
    assert pred[labels].all()
    assert pred[~labels].sum() <= 5  # about 0.5 % false alarms
    with pytest.raises(RuntimeError, match="not fitted"):
        RollingZScoreDetector(30).predict(test)
