"""Forecasting: the baselines, intervals and their scores (minivae.timeseries.forecast) and the
LSTMForecaster model."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minivae.gradcheck.registry import run_checks
from minivae.models import LSTMForecaster
from minivae.objectives.distributions import norm_ppf
from minivae.timeseries.forecast import (
    BaselineForecaster,
    evaluate_forecast,
    forecast_windows,
    interval_coverage,
    last_value_forecast,
    sample_interval,
    seasonal_naive_forecast,
    split_windows,
)


# ---------------------------------------------------------------------------------- baselines
@settings(max_examples=30, deadline=None)
@given(period=st.integers(1, 9), extra=st.integers(0, 20), k=st.integers(1, 30),
       seed=st.integers(0, 10_000))
def test_seasonal_naive_is_exact_on_a_periodic_series(period, extra, k, seed):
    rng = np.random.default_rng(seed)
    one = rng.standard_normal((3, period, 2))  # one period of an arbitrary pattern
    W = period + extra
    reps = (W + k) // period + 1
    series = np.tile(one, (1, reps, 1))[:, : W + k]
    context, truth = series[:, :W], series[:, W:]
    np.testing.assert_array_equal(seasonal_naive_forecast(context, k, period), truth)
    # ... and its training residuals are exactly 0, so its intervals have zero width.
    base = BaselineForecaster("seasonal_naive", k, period=period).fit(series)
    point, lo, hi = base.predict_interval(context, 0.95)
    np.testing.assert_array_equal(lo, truth)
    np.testing.assert_array_equal(hi, truth)


def test_seasonal_naive_picks_the_value_one_period_back_by_hand():
    context = np.arange(10.0)[None, :, None]  # x_1..x_10 = 0..9
    # m = 4: the last period is 6, 7, 8, 9; steps 1..6 repeat it: 6 7 8 9 6 7
    np.testing.assert_array_equal(seasonal_naive_forecast(context, 6, 4)[0, :, 0],
                                  [6, 7, 8, 9, 6, 7])
    np.testing.assert_array_equal(last_value_forecast(context, 3)[0, :, 0], [9, 9, 9])


def test_last_value_is_exact_on_a_constant_series_and_wrong_on_a_ramp():
    flat = np.full((2, 8, 1), 3.5)
    np.testing.assert_array_equal(last_value_forecast(flat[:, :5], 3), flat[:, 5:])
    ramp = np.arange(8.0)[None, :, None]
    np.testing.assert_array_equal(last_value_forecast(ramp[:, :5], 3)[0, :, 0], [4, 4, 4])


def test_residual_intervals_are_per_step_quantiles_of_the_training_errors():
    rng = np.random.default_rng(0)
    walks = np.cumsum(rng.standard_normal((4000, 6, 1)), axis=1)  # random walks: errors grow
    base = BaselineForecaster("last_value", 3).fit(walks)
    res = walks[:, 3:] - walks[:, 2:3]
    np.testing.assert_allclose(base.residuals_, res)
    ctx = np.zeros((1, 3, 1))
    _, lo, hi = base.predict_interval(ctx, 0.8)
    np.testing.assert_allclose(lo[0, :, 0], np.quantile(res, 0.1, axis=0)[:, 0])
    np.testing.assert_allclose(hi[0, :, 0], np.quantile(res, 0.9, axis=0)[:, 0])
    # the j-step error of a random walk has std sqrt(j): the width grows with it
    width = (hi - lo)[0, :, 0]
    np.testing.assert_allclose(width / np.sqrt([1, 2, 3]), 2 * 1.2816, rtol=0.08)
    # fresh walks: the interval covers about 80 %
    new = np.cumsum(rng.standard_normal((4000, 6, 1)), axis=1)
    point, lo, hi = base.predict_interval(new[:, :3], 0.8)
    assert abs(interval_coverage(new[:, 3:], lo, hi) - 0.8) < 0.03


# ---------------------------------------------------------------------------------- scores
def test_coverage_counts_inside_and_boundary_points():
    y = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    lo = np.array([0.0, 1.5, 1.0, 3.5, -1.0])
    hi = np.array([0.5, 2.0, 2.0, 4.0, 3.0])
    # inside: 0 (on lo), 2 (on hi), 4? no (4 > 3); 1 < 1.5 no; 3 < 3.5 no -> 2 of 5
    assert interval_coverage(y, lo, hi) == pytest.approx(0.4)
    out = evaluate_forecast(y, y + 1.0, {0.8: (lo, hi)})
    assert out["mae"] == pytest.approx(1.0)
    assert out["cov_80"] == pytest.approx(0.4)
    assert out["width_80"] == pytest.approx(np.mean(hi - lo))


def test_sample_interval_matches_the_normal_quantiles():
    rng = np.random.default_rng(1)
    samples = 2.0 + 3.0 * rng.standard_normal((200_000, 2))
    med, lo, hi = sample_interval(samples, 0.95)
    np.testing.assert_allclose(med, 2.0, atol=0.03)
    np.testing.assert_allclose(hi, 2.0 + 3.0 * norm_ppf(0.975), atol=0.05)
    np.testing.assert_allclose(lo, 2.0 - 3.0 * norm_ppf(0.975), atol=0.05)


def test_windows_split_into_context_and_truth():
    x = np.arange(20.0)
    win = forecast_windows(x, 5, 3, stride=4)
    assert win.shape == (4, 8, 1)  # starts 0, 4, 8, 12 (16 + 8 > 20)
    np.testing.assert_array_equal(win[:, 0, 0], [0, 4, 8, 12])
    ctx, truth = split_windows(win, 3)
    assert ctx.shape == (4, 5, 1) and truth.shape == (4, 3, 1)
    np.testing.assert_array_equal(truth[1, :, 0], [9, 10, 11])


@pytest.mark.parametrize("call, match", [
    (lambda: seasonal_naive_forecast(np.zeros((1, 3, 1)), 2, 4), "at least one period"),
    (lambda: seasonal_naive_forecast(np.zeros((3, 1)), 2, 1), "context must have 3 dim"),
    (lambda: last_value_forecast(np.zeros((1, 3, 1)), 0), "horizon must be >= 1"),
    (lambda: BaselineForecaster("drift", 2), "method must be one of"),
    (lambda: BaselineForecaster("seasonal_naive", 2), "needs period"),
    (lambda: BaselineForecaster("last_value", 2, period=3), "period is only used"),
    (lambda: BaselineForecaster("last_value", 2).predict_interval(np.zeros((1, 3, 1)), 0.8),
     "needs fit"),
    (lambda: BaselineForecaster("last_value", 2).fit(np.zeros((2, 4, 1))).predict_interval(
        np.zeros((1, 3, 1)), 1.0), "level must be < 1"),
    (lambda: BaselineForecaster("last_value", 2).fit(np.zeros((2, 4, 1))).predict_interval(
        np.zeros((1, 3, 2)), 0.8), "context must have 1 features"),
    (lambda: interval_coverage(np.zeros(3), np.zeros(3), np.zeros(2)), "upper must have shape"),
    (lambda: interval_coverage(np.zeros(3), np.ones(3), np.zeros(3)), "lower must be <= upper"),
    (lambda: interval_coverage(np.array([np.nan, 0, 0]), np.zeros(3), np.ones(3)),
     "y contains 1 non-finite"),
    (lambda: sample_interval(np.zeros((1, 4)), 0.8), "S >= 2"),
    (lambda: split_windows(np.zeros((2, 3, 1)), 3), "more than horizon=3"),
    (lambda: forecast_windows(np.zeros(5), 4, 2), "at least context \\+ horizon = 6"),
    (lambda: evaluate_forecast(np.zeros(3), np.zeros(4)), "point must have shape"),
])
def test_bad_input_is_named(call, match):
    with pytest.raises((ValueError, TypeError, RuntimeError), match=match):
        call()


# ---------------------------------------------------------------------------------- the model
def _periodic(n: int, length: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    phase = rng.uniform(0, 2 * np.pi, size=(n, 1))
    x = np.sin(2 * np.pi * t / 16 + phase) + 0.5 * np.sin(2 * np.pi * t / 8 + 2 * phase)
    return (x + 0.02 * rng.standard_normal(x.shape))[..., None]


def test_forecaster_shapes_config_and_checkpoint(tmp_path):
    model = LSTMForecaster(2, 5, 4, latent_dim=3, rng=0)
    X = np.random.default_rng(0).standard_normal((3, 10, 2))
    value, parts = model.loss(X)
    assert np.isfinite(value) and parts["kl"] == 0.0
    assert model.last_eps["teacher_forcing"].shape == (3, 5)
    mean, std = model.predict(X[:, :6], return_std=True)
    assert mean.shape == std.shape == (3, 4, 2) and np.all(std > 0)
    m, lo, hi = model.predict_interval(X[:, :6], 0.8)
    np.testing.assert_allclose(hi - m, norm_ppf(0.9) * std)
    # the forecast NLL per window scores exactly what predict returns
    nll = model.per_example_loss(X)["loss"]
    half = 0.5 * np.log(2 * np.pi) + np.log(std) + 0.5 * ((X[:, 6:] - mean) / std) ** 2
    np.testing.assert_allclose(nll, half.sum(axis=(1, 2)), rtol=1e-10)
    path = tmp_path / "f.npz"
    model.save(path)
    again = LSTMForecaster.load(path)
    assert again.config() == model.config()
    np.testing.assert_array_equal(again.predict(X[:, :6]), mean)


def test_forecast_reads_only_the_context():
    model = LSTMForecaster(1, 4, 3, rng=1)
    X = np.random.default_rng(2).standard_normal((2, 9, 1))
    Y = X.copy()
    Y[:, 6:] += 100.0  # the targets change, the forecast must not
    np.testing.assert_array_equal(model.predict(X[:, :6]), model.predict(Y[:, :6]))
    assert not np.allclose(model.per_example_loss(X)["loss"], model.per_example_loss(Y)["loss"])


def test_forecaster_bad_input():
    model = LSTMForecaster(1, 4, 3, rng=0)
    with pytest.raises(ValueError, match="more than horizon=3"):
        model.loss(np.zeros((2, 3, 1)))
    with pytest.raises(ValueError, match="3 dimensions"):
        model.predict(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="horizon must be >= 1"):
        LSTMForecaster(1, 4, 0)
    with pytest.raises(ValueError, match="output='mse'"):
        LSTMForecaster(1, 4, 3, output="mse").predict_interval(np.zeros((1, 5, 1)), 0.8)
    with pytest.raises(ValueError, match="level must be > 0"):
        model.predict_interval(np.zeros((1, 5, 1)), 0.0)


def test_forecaster_beats_last_value_on_a_smooth_periodic_series():
    k, W = 8, 24
    train = _periodic(64, W + k, 0)
    test = _periodic(32, W + k, 1)
    model = LSTMForecaster(1, 16, k, rng=0)
    model.fit(train, epochs=40, batch_size=16, lr=1e-2, clip_norm=5.0, verbose=0,
              diagnostics=False, rng=0)
    ctx, truth = split_windows(test, k)
    mae_model = evaluate_forecast(truth, model.predict(ctx))["mae"]
    mae_last = evaluate_forecast(truth, last_value_forecast(ctx, k))["mae"]
    assert mae_model < 0.5 * mae_last, (mae_model, mae_last)


@pytest.mark.parametrize("seed", [0, 1])
def test_registered_gradient_checks_of_the_forecaster_pass(seed):
    results = run_checks(seed=seed, only="models.lstm_forecaster.*")
    checks = {r.check for r in results}
    assert checks == {f"models.lstm_forecaster.{n}"
                      for n in ("tf0", "tf05_masked", "stacked_tf1", "mse_tf0")}
    bad = [f"{r.check}: {r.name} {r.max_rel_error:.1e}" for r in results if not r.passed]
    assert not bad, bad
