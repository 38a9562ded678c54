r"""Multi-step forecasts: the simple baselines, prediction intervals and how to score them.

A forecast reads a *context* window of W steps and predicts the next k (the horizon).  Windows
of W + k steps cut from a series (:func:`forecast_windows`) hold both: the first W are the
context, the last k the truth (:func:`split_windows`).  Shapes: context (N, W, D), forecasts and
truth (N, k, D).

Baselines (Hyndman & Athanasopoulos, *Forecasting: Principles and Practice*, ch. 5.2)
-----------------------------------------------------------------------------------
* last value ("naive"): ``x_hat_{W+j} = x_W`` for every j = 1..k;
* seasonal naive with period m: ``x_hat_{W+j} = x_{W+j-m*ceil(j/m)}``, the value one (or more)
  periods back, exact on a series that repeats with period m.

:class:`BaselineForecaster` gives them prediction intervals from *residual quantiles*: on the
training windows it records the j-step-ahead errors ``r = x_{W+j} - x_hat_{W+j}`` and the
interval at level p is ``x_hat + [q_{(1-p)/2}(r_j), q_{(1+p)/2}(r_j)]`` with the empirical
quantiles taken per step j (and feature): the error grows with j and so do the intervals.

Scores
------
* :func:`interval_coverage`: the fraction of true values inside their interval (a calibrated
  80 % interval covers about 0.8);
* :func:`sample_interval`: the central interval of forecast *samples* (S, N, k, D), e.g. from
  a generative rollout;
* :func:`evaluate_forecast`: MAE, and coverage and mean width of each interval.
"""

from __future__ import annotations

import numpy as np

from minivae._validation import check_array, check_positive_int, check_scalar
from minivae.data.windows import window_starts, windows_at

__all__ = [
    "BASELINES",
    "BaselineForecaster",
    "evaluate_forecast",
    "forecast_windows",
    "interval_coverage",
    "last_value_forecast",
    "sample_interval",
    "seasonal_naive_forecast",
    "split_windows",
]

BASELINES = ("last_value", "seasonal_naive")


def _check_level(level: object) -> float:
    return check_scalar(level, "level", low=0.0, high=1.0, low_inclusive=False,
                        high_inclusive=False)


def _check_context(context: object, name: str = "context") -> np.ndarray:
    return check_array(context, name, ndim=3, dtype=np.float64)


def forecast_windows(x: object, context: int, horizon: int, stride: int = 1) -> np.ndarray:
    """Windows of ``context + horizon`` steps from a series, starts 0, stride, 2 stride, ...
    (only whole windows: no end-aligned extra window, so consecutive windows never overlap
    more than the stride says).

    x: (T,) or (T, D);  returns (N, context + horizon, D) copies.
    """
    W = check_positive_int(context, "context")
    k = check_positive_int(horizon, "horizon")
    stride = check_positive_int(stride, "stride")
    x = check_array(x, "x", ndim=(1, 2), dtype=np.float64)
    if x.shape[0] < W + k:
        raise ValueError(f"x must have at least context + horizon = {W + k} steps, got "
                         f"{x.shape[0]} (shape {x.shape})")
    starts = window_starts(x.shape[0], W + k, stride)
    starts = starts[starts % stride == 0]  # drop the end-aligned extra window
    return windows_at(x, starts, W + k)


def split_windows(windows: object, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """(N, W + k, D) -> context (N, W, D) and truth (N, k, D); W = steps - horizon >= 1."""
    k = check_positive_int(horizon, "horizon")
    windows = check_array(windows, "windows", ndim=3, dtype=np.float64)
    if windows.shape[1] <= k:
        raise ValueError(f"windows must have more than horizon={k} steps (context W >= 1), got "
                         f"shape {windows.shape}")
    return windows[:, :-k], windows[:, -k:]


def last_value_forecast(context: object, horizon: int) -> np.ndarray:
    """``x_hat_{W+j} = x_W``: context (N, W, D) -> (N, k, D)."""
    c = _check_context(context)
    k = check_positive_int(horizon, "horizon")
    return np.repeat(c[:, -1:], k, axis=1)


def seasonal_naive_forecast(context: object, horizon: int, period: int) -> np.ndarray:
    """``x_hat_{W+j} = x_{W+j-m*ceil(j/m)}``, m = ``period``: context (N, W, D) -> (N, k, D).

    Step j (1-based) repeats the value of the last observed period at the same phase: the
    context index (0-based) ``W - m + (j - 1) mod m``.  Needs W >= m.
    """
    c = _check_context(context)
    k = check_positive_int(horizon, "horizon")
    m = check_positive_int(period, "period")
    W = c.shape[1]
    if W < m:
        raise ValueError(f"context must hold at least one period: W >= period={m}, got W={W}")
    idx = W - m + np.arange(k) % m
    return c[:, idx]


class BaselineForecaster:
    """A baseline forecast with residual-quantile prediction intervals (module docstring).

    Args:
        method: "last_value" or "seasonal_naive".
        horizon: k, steps forecast.
        period: m, for "seasonal_naive" (must be None for "last_value").

    ``fit(windows)`` records the training residuals ``residuals_`` (N, k, D);
    ``predict(context)`` -> (N, k, D);  ``predict_interval(context, level)`` -> (point, lower,
    upper), each (N, k, D).
    """

    def __init__(self, method: str, horizon: int, *, period: int | None = None) -> None:
        if method not in BASELINES:
            raise ValueError(f"method must be one of {BASELINES}, got {method!r}")
        self.method = method
        self.horizon = check_positive_int(horizon, "horizon")
        if method == "seasonal_naive":
            if period is None:
                raise ValueError("method='seasonal_naive' needs period= (steps per season)")
            period = check_positive_int(period, "period")
        elif period is not None:
            raise ValueError(f"period is only used by method='seasonal_naive', got "
                             f"period={period!r} with method={method!r}")
        self.period = period
        self.residuals_: np.ndarray | None = None

    def predict(self, context: object) -> np.ndarray:
        """Point forecast (N, k, D) from context (N, W, D)."""
        if self.method == "last_value":
            return last_value_forecast(context, self.horizon)
        return seasonal_naive_forecast(context, self.horizon, self.period)  # type: ignore[arg-type]

    def fit(self, windows: object) -> BaselineForecaster:
        """Record the residuals truth - forecast on training windows (N, W + k, D)."""
        context, truth = split_windows(windows, self.horizon)
        self.residuals_ = truth - self.predict(context)
        return self

    def predict_interval(self, context: object, level: float
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(point, lower, upper), each (N, k, D): point + the per-step residual quantiles."""
        level = _check_level(level)
        if self.residuals_ is None:
            raise RuntimeError("BaselineForecaster.predict_interval needs fit(windows) first "
                               "(the intervals come from the training residuals)")
        point = self.predict(context)
        if point.shape[2] != self.residuals_.shape[2]:
            raise ValueError(f"context must have {self.residuals_.shape[2]} features (as the "
                             f"training windows), got shape {np.shape(context)}")
        lo, hi = np.quantile(self.residuals_, [0.5 * (1 - level), 0.5 * (1 + level)], axis=0)
        return point, point + lo, point + hi


def sample_interval(samples: object, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Central interval of forecast samples (S, ...) over the first axis.

    Returns (median, lower, upper), each ``samples.shape[1:]``: the 0.5, (1 - level) / 2 and
    (1 + level) / 2 empirical quantiles (linear interpolation, NumPy's default).
    """
    level = _check_level(level)
    s = check_array(samples, "samples", dtype=np.float64)
    if s.ndim < 2 or s.shape[0] < 2:
        raise ValueError(f"samples must have shape (S, ...) with S >= 2 samples on the first "
                         f"axis, got shape {s.shape}")
    med, lo, hi = np.quantile(s, [0.5, 0.5 * (1 - level), 0.5 * (1 + level)], axis=0)
    return med, lo, hi


def interval_coverage(y: object, lower: object, upper: object) -> float:
    """Fraction of entries with ``lower <= y <= upper`` (all three the same shape)."""
    y = check_array(y, "y", dtype=np.float64)
    lower = check_array(lower, "lower", shape=y.shape, dtype=np.float64)
    upper = check_array(upper, "upper", shape=y.shape, dtype=np.float64)
    if np.any(lower > upper):
        raise ValueError(f"lower must be <= upper everywhere, got lower > upper at "
                         f"{int(np.count_nonzero(lower > upper))} entries")
    return float(np.mean((lower <= y) & (y <= upper)))


def evaluate_forecast(y: object, point: object,
                      intervals: dict[float, tuple[np.ndarray, np.ndarray]] | None = None
                      ) -> dict[str, float]:
    """MAE of ``point`` against the truth ``y`` (same shape), and for every ``level ->
    (lower, upper)`` in ``intervals`` the coverage ``cov_{100 level}`` and the mean width
    ``width_{100 level}`` (e.g. ``cov_80``, ``width_80``)."""
    y = check_array(y, "y", dtype=np.float64)
    point = check_array(point, "point", shape=y.shape, dtype=np.float64)
    out = {"mae": float(np.mean(np.abs(y - point)))}
    for level, (lo, hi) in (intervals or {}).items():
        tag = f"{100 * _check_level(level):g}"
        out[f"cov_{tag}"] = interval_coverage(y, lo, hi)
        out[f"width_{tag}"] = float(np.mean(np.asarray(hi) - np.asarray(lo)))
    return out
