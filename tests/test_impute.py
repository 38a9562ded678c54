"""Tests for minivae.timeseries.impute: baselines on hand cases, GP against closed forms, bad
inputs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minivae.timeseries import impute as IM
from minivae.timeseries.metrics import mae

nan = np.nan

# ------------------------------------------------------------------------------------------
# Simple baselines: hand cases
# ------------------------------------------------------------------------------------------


def test_linear_is_exact_on_a_linear_series_and_flat_at_the_ends():
    t = np.arange(12.0)
    y = 2.0 * t + 1.0
    x = y.copy()
    x[[0, 1, 4, 5, 6, 9, 11]] = nan
    out = IM.impute_linear(x)
    interior = np.arange(2, 11)
    np.testing.assert_allclose(out[interior], y[interior], rtol=0, atol=1e-12)
    assert out[0] == out[1] == y[2]  # leading gap: first observation
    assert out[11] == y[10]  # trailing gap: last observation


def test_ffill_hand_case_with_leading_gap_backfilled():
    x = np.array([nan, 1.0, nan, nan, 4.0, nan])
    np.testing.assert_array_equal(IM.impute_ffill(x), [1, 1, 1, 1, 4, 4])


def test_mean_and_median_hand_case():
    x = np.array([1.0, nan, 2.0, 9.0, nan])
    np.testing.assert_array_equal(IM.impute_mean(x), [1, 4, 2, 9, 4])
    np.testing.assert_array_equal(IM.impute_median(x), [1, 2, 2, 9, 2])


def test_channels_are_independent_and_batches_keep_shape():
    x = np.array([[1.0, 10.0], [nan, nan], [3.0, 30.0], [nan, 50.0]])  # (T=4, D=2)
    out = IM.impute_linear(x)
    np.testing.assert_array_equal(out, [[1, 10], [2, 20], [3, 30], [3, 50]])
    batch = np.stack([x, x[::-1]])  # (N=2, T=4, D=2)
    out_b = IM.impute_mean(batch)
    assert out_b.shape == batch.shape
    np.testing.assert_array_equal(out_b[0, :, 0], [1, 2, 3, 2])
    np.testing.assert_array_equal(out_b[1, :, 1], [50, 30, 30, 10])


def test_weighted_average_hand_cases():
    # Gaussian, symmetric neighbours -> their mean.
    assert IM.impute_weighted_average(np.array([0.0, nan, 2.0]))[1] == pytest.approx(1.0)
    # Inverse distance, power 2: distances 1 and 2 -> weights 1 and 1/4.
    x = np.array([0.0, nan, nan, 3.0])
    out = IM.impute_weighted_average(x, kernel="inverse_distance", power=2.0)
    assert out[1] == pytest.approx((0 * 1 + 3 * 0.25) / 1.25)
    assert out[2] == pytest.approx((0 * 0.25 + 3 * 1) / 1.25)
    # Gaussian weights: exp(-1/(2 b^2)) vs exp(-4/(2 b^2)) with b = 1.
    w1, w2 = np.exp(-0.5), np.exp(-2.0)
    out = IM.impute_weighted_average(x, kernel="gaussian", bandwidth=1.0)
    assert out[1] == pytest.approx(3 * w2 / (w1 + w2))


def test_weighted_average_window_and_fallback():
    x = np.array([1.0, nan, nan, nan, nan, nan, 3.0])
    out = IM.impute_weighted_average(x, window=1)
    assert out[1] == 1.0 and out[5] == 3.0  # only one observation in the window
    assert out[3] == pytest.approx(2.0)  # none within 1: nearest two (tied at 3) averaged
    # A very narrow Gaussian does not underflow to 0/0: the nearest point wins.
    out = IM.impute_weighted_average(x, bandwidth=1e-3)
    assert out[2] == pytest.approx(1.0) and out[4] == pytest.approx(3.0)


# ------------------------------------------------------------------------------------------
# Properties shared by all baselines
# ------------------------------------------------------------------------------------------

FAST_METHODS = ["mean", "median", "ffill", "linear", "weighted_average"]


@settings(max_examples=40, deadline=None)
@given(
    st.integers(0, 2**31 - 1),
    st.integers(2, 30),
    st.integers(1, 3),
    st.sampled_from(FAST_METHODS),
)
def test_baselines_keep_observed_and_fill_within_range(seed, T, D, method):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(T, D))
    mask = rng.random((T, D)) < 0.6
    mask[rng.integers(T), :] = True  # every channel has an observation
    x_in = np.where(mask, x, nan)
    out = IM.impute(x_in, method=method)
    assert out.shape == x.shape
    np.testing.assert_array_equal(out[mask], x[mask])
    assert np.all(np.isfinite(out))
    # All these methods are convex combinations of observations: inside their range.
    for d in range(D):
        obs = x[mask[:, d], d]
        assert np.all(out[:, d] >= obs.min() - 1e-12) and np.all(out[:, d] <= obs.max() + 1e-12)


def test_mask_defines_missing_points():
    x = np.array([1.0, 100.0, 3.0])  # the 100 is a corrupted value the mask hides
    mask = np.array([True, False, True])
    np.testing.assert_array_equal(IM.impute_linear(x, mask), [1, 2, 3])
    # Without a mask nothing is missing, so nothing changes.
    np.testing.assert_array_equal(IM.impute_linear(x), x)


def test_float32_is_preserved_and_input_not_modified():
    x = np.array([1.0, nan, 3.0], dtype=np.float32)
    out = IM.impute_linear(x)
    assert out.dtype == np.float32 and np.isnan(x[1])


def test_registry_and_dispatch():
    x = np.array([1.0, nan, 5.0, nan])
    assert set(IM.BASELINES) == {"mean", "median", "ffill", "linear", "weighted_average", "gp"}
    np.testing.assert_array_equal(IM.impute(x, method="ffill"), IM.impute_ffill(x))
    with pytest.raises(ValueError, match="method must be one of"):
        IM.impute(x, method="knn")


# ------------------------------------------------------------------------------------------
# Bad inputs
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", list(IM.BASELINES))
def test_all_nan_channel_rejected(method):
    x = np.array([[1.0, nan], [2.0, nan], [nan, nan]])
    with pytest.raises(ValueError, match=r"x\[:, 1\] has no observed values"):
        IM.impute(x, method=method)
    with pytest.raises(ValueError, match=r"x\[1, :, 0\] has no observed values"):
        IM.impute(np.stack([np.ones((3, 2)), x[:, ::-1]]), method=method)
    with pytest.raises(ValueError, match=r"x\[1\] has no observed value at all"):
        IM.impute(np.stack([x[:, :1], np.full((3, 1), nan)]), method=method)


@pytest.mark.parametrize("method", list(IM.BASELINES))
def test_wrong_mask_shape_rejected(method):
    with pytest.raises(ValueError, match=r"mask must have shape \(4,\) to match x, got \(3,\)"):
        IM.impute(np.ones(4), np.ones(3, dtype=bool), method=method)


def test_mask_must_agree_with_data():
    with pytest.raises(ValueError, match="non-finite value.*mask marks observed"):
        IM.impute_mean(np.array([1.0, nan]), np.array([True, True]))
    with pytest.raises(TypeError, match="mask must be boolean"):
        IM.impute_mean(np.array([1.0, 2.0]), np.array([0.5, 1.0]))
    with pytest.raises(ValueError, match="infinite"):
        IM.impute_mean(np.array([1.0, np.inf, nan]))
    with pytest.raises(ValueError, match="x must have 1 or 2 or 3 dimensions"):
        IM.impute_mean(np.ones((2, 2, 2, 2)))


def test_weighted_average_bad_parameters():
    x = np.array([1.0, nan, 2.0])
    with pytest.raises(ValueError, match="kernel"):
        IM.impute_weighted_average(x, kernel="epanechnikov")
    with pytest.raises(ValueError, match="bandwidth must be > 0"):
        IM.impute_weighted_average(x, bandwidth=0.0)
    with pytest.raises(ValueError, match="window must be >= 1"):
        IM.impute_weighted_average(x, window=0)


# ------------------------------------------------------------------------------------------
# Gaussian process: closed forms computed independently here
# ------------------------------------------------------------------------------------------

T3 = np.array([0.0, 1.0, 2.5])
Y3 = np.array([0.3, -0.1, 0.8])
P3 = IM.GPParams(lengthscale=1.3, signal_var=0.7, noise_var=0.05)


def _k(a: float, b: float, p: IM.GPParams) -> float:
    return p.signal_var * np.exp(-((a - b) ** 2) / (2 * p.lengthscale**2))


def _gram(ta, tb, p):
    return np.array([[_k(a, b, p) for b in tb] for a in ta])


def test_gp_posterior_matches_closed_form_on_three_points():
    t_star = np.array([0.5, 2.0, 6.0])
    K = _gram(T3, T3, P3) + P3.noise_var * np.eye(3)
    K_star = _gram(T3, t_star, P3)  # (3, 3): train x test
    K_inv = np.linalg.inv(K)
    mean_ref = K_star.T @ K_inv @ Y3
    var_ref = np.array([_k(s, s, P3) for s in t_star]) - np.einsum(
        "ij,ik,kj->j", K_star, K_inv, K_star
    )
    mean, std = IM.gp_posterior(T3, Y3, t_star, P3, return_std=True)
    np.testing.assert_allclose(mean, mean_ref, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(std, np.sqrt(var_ref), rtol=1e-10)
    _, std_noisy = IM.gp_posterior(T3, Y3, t_star, P3, return_std=True, include_noise=True)
    np.testing.assert_allclose(std_noisy**2, var_ref + P3.noise_var, rtol=1e-10)
    # A dict works as params too.
    as_dict = {"lengthscale": 1.3, "signal_var": 0.7, "noise_var": 0.05}
    np.testing.assert_allclose(IM.gp_posterior(T3, Y3, t_star, as_dict), mean_ref, rtol=1e-12)


def test_gp_log_marginal_likelihood_matches_direct_formula():
    K = _gram(T3, T3, P3) + P3.noise_var * np.eye(3)
    ref = -0.5 * Y3 @ np.linalg.inv(K) @ Y3 - 0.5 * np.log(np.linalg.det(K))
    ref -= 1.5 * np.log(2 * np.pi)
    assert IM.gp_log_marginal_likelihood(T3, Y3, P3) == pytest.approx(ref, rel=1e-12)


@pytest.mark.parametrize(
    "params",
    [
        IM.GPParams(1.3, 0.7, 0.05),
        IM.GPParams(4.0, 2.0, 0.3),
        IM.GPParams(0.6, 1.0, 0.01),
    ],
)
def test_gp_lml_gradient_matches_central_differences(params):
    rng = np.random.default_rng(3)
    t = np.sort(rng.uniform(0, 10, size=9))
    y = np.sin(t) + 0.1 * rng.standard_normal(9)
    lml, grad = IM.gp_log_marginal_likelihood(t, y, params, return_grad=True)
    assert lml == IM.gp_log_marginal_likelihood(t, y, params)
    theta = params.log_params()
    h = 1e-5
    fd = np.empty(3)
    for j in range(3):
        e = np.zeros(3)
        e[j] = h
        up = IM.gp_log_marginal_likelihood(t, y, IM.GPParams.from_log(theta + e))
        down = IM.gp_log_marginal_likelihood(t, y, IM.GPParams.from_log(theta - e))
        fd[j] = (up - down) / (2 * h)
    rel_err = np.abs(grad - fd) / np.maximum(np.abs(fd), 1e-3)
    assert np.all(rel_err <= 1e-6), (grad, fd, rel_err)


def test_gp_fit_improves_likelihood_and_is_deterministic():
    # Sample from a GP prior with known hyperparameters.
    rng = np.random.default_rng(0)
    true = IM.GPParams(lengthscale=4.0, signal_var=1.0, noise_var=0.01)
    t = np.arange(60.0)
    K = _gram(t, t, true) + true.noise_var * np.eye(60)
    y = np.linalg.cholesky(K) @ rng.standard_normal(60)
    fitted = IM.gp_fit_params(t, y)
    assert fitted == IM.gp_fit_params(t, y)  # same input -> same numbers
    yc = y - y.mean()
    assert IM.gp_log_marginal_likelihood(t, yc, fitted) >= IM.gp_log_marginal_likelihood(
        t, yc, true
    )
    assert 2.0 < fitted.lengthscale < 8.0
    # Fixed hyperparameters stay fixed.
    assert IM.gp_fit_params(t, y, lengthscale=2.5, steps=20).lengthscale == 2.5


def _sine_with_gaps(T=60, period=20.0):
    t = np.arange(T)
    y = np.sin(2 * np.pi * t / period)
    miss = np.zeros(T, dtype=bool)
    miss[[3, 4, 5, 45]] = True
    miss[10:16] = True  # a gap of 6 steps (~ a third of a period)
    miss[30:34] = True
    return y, miss


def test_gp_imputation_beats_mean_and_linear_on_a_smooth_sine():
    y, miss = _sine_with_gaps()
    x = np.where(miss, nan, y)
    err_gp = mae(y, IM.impute_gp(x), miss)
    err_mean = mae(y, IM.impute_mean(x), miss)
    err_lin = mae(y, IM.impute_linear(x), miss)
    assert err_gp < 0.1 * err_mean
    assert err_gp < 0.5 * err_lin
    assert err_gp < 0.01


def test_gp_std_zero_at_observed_and_grows_inside_a_gap():
    y, miss = _sine_with_gaps()
    x = np.where(miss, nan, y)
    params = {"lengthscale": 3.0, "signal_var": 0.5, "noise_var": 1e-4}
    out, std = IM.impute_gp(x, **params, fit=False, return_std=True)
    assert np.all(std[~miss] == 0) and np.all(std[miss] > 0)
    np.testing.assert_array_equal(out[~miss], y[~miss])
    assert std[12] > std[10] and std[13] > std[15]  # middle of the gap 10..15 is least certain


def test_gp_local_windows_agree_with_exact_gp():
    rng = np.random.default_rng(1)
    T = 300
    t = np.arange(T)
    y = np.sin(2 * np.pi * t / 40) + 0.05 * rng.standard_normal(T)
    miss = rng.random(T) < 0.2
    miss[100:108] = True
    x = np.where(miss, nan, y)
    params = {"lengthscale": 5.0, "signal_var": 0.5, "noise_var": 0.0025, "fit": False}
    exact = IM.impute_gp(x, **params, max_points=1000)  # one window with all ~240 points
    local = IM.impute_gp(x, **params, max_points=60)  # ~8 windows of <= 60 points
    np.testing.assert_allclose(local[miss], exact[miss], atol=2e-3)
    assert mae(y, local, miss) < 0.1


def test_gp_multichannel_and_batch():
    y, miss = _sine_with_gaps()
    x = np.where(miss, nan, y)
    xd = np.stack([x, 2.0 + 3.0 * x], axis=1)  # (T, 2)
    params = {"lengthscale": 3.0, "signal_var": 1.0, "noise_var": 1e-4, "fit": False}
    out = IM.impute_gp(xd, **params)
    single = IM.impute_gp(x, **params)
    np.testing.assert_allclose(out[:, 0], single)
    batch = IM.impute_gp(np.stack([xd, xd]), **params)
    assert batch.shape == (2, 60, 2)
    np.testing.assert_allclose(batch[1], out)


def test_gp_bad_inputs():
    x = np.array([1.0, nan, 2.0])
    with pytest.raises(ValueError, match="with fit=False, give all GP hyperparameters"):
        IM.impute_gp(x, lengthscale=1.0, fit=False)
    with pytest.raises(ValueError, match="lengthscale must be > 0"):
        IM.GPParams(lengthscale=0.0, signal_var=1.0, noise_var=0.1)
    with pytest.raises(ValueError, match="noise_var must be > 0"):
        IM.impute_gp(x, noise_var=-1.0)
    with pytest.raises(ValueError, match="exactly the keys"):
        IM.gp_posterior(T3, Y3, T3, {"lengthscale": 1.0})
    with pytest.raises(ValueError, match="t_train and y_train must have the same shape"):
        IM.gp_posterior(T3, Y3[:2], T3, P3)
    with pytest.raises(ValueError, match="y contains 1 non-finite"):
        IM.gp_log_marginal_likelihood(T3, np.array([0.0, nan, 1.0]), P3)
