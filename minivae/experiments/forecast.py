"""``python -m minivae.experiments forecast``: multi-step forecasts with prediction intervals.

Predict the next k steps from a context window of W steps on three generated series (every
number seeded, ``--seed`` / ``--seeds``):

* **multi_sine**: two sinusoids of periods 24 and 8 steps (random amplitude and phase per seed)
  plus white noise of std 0.1: seasonal with period 24;
* **regime_series**: an AR(1) (coefficient 0.9) whose mean and variance switch between three
  regimes every ~60 steps (:func:`minivae.data.regime_series`): no season, sudden level changes;
* **ecg**: the Gaussian-wave ECG (:func:`minivae.data.ecg`) at 50 Hz and 75 bpm, so one beat is
  about 40 samples (the seasonal period; heart-rate variability makes it inexact).

Each series is split in time: the first part trains (and standardises: mean and std of the
training part), the last part is cut into non-overlapping test windows.  Methods:

* **LSTM forecaster** (:class:`minivae.models.LSTMForecaster`): LSTM encoder + autoregressive LSTM
  decoder with a Gaussian head, trained with :func:`minivae.fit` on the free-running rollout;
  intervals mean -+ z sigma from its predicted std;
* **VRNN** (Chung et al. 2015, :class:`minivae.models.vrnn.VRNN`, when available): trained as a
  generative model on every ``vrnn_every``-th training window (its step runs in NumPy only);
  :meth:`VRNN.forecast` reads the context and rolls
  out ``n_samples`` futures by ancestral sampling; point = the median of the samples, intervals
  = their central quantiles;
* **last value** and **seasonal naive** (:mod:`minivae.timeseries.forecast`), intervals from the
  quantiles of their residuals on the training part (per step ahead).

Reported (mean ± std over seeds): MAE (standardised units), the coverage of the 80 % and 95 %
intervals (calibrated: 0.80 and 0.95) and the mean width of the 80 % interval, and the seconds
each method took (training + forecasting).  A figure ``forecast_bands.png`` shows one test window
per series with the forecasts and their bands.

Options: ``--quick`` (smaller, fewer epochs), ``--seed S`` / ``--seeds A B`` (default 2 seeds),
``--out DIR`` (default ``minivae_output/forecast``), ``--no-figures``, ``--no-vrnn``.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from minivae.experiments._cli import (
    blas_threads_note,
    experiment_parser,
    parse_run,
    run_record,
    say,
    write_results,
)
from minivae.timeseries.forecast import (
    BaselineForecaster,
    evaluate_forecast,
    forecast_windows,
    sample_interval,
    split_windows,
)
from minivae.timeseries.metrics import mean_std

LEVELS = (0.8, 0.95)
DATASETS = ("multi_sine", "regime_series", "ecg")
# The seasonal period of each series in samples (None: no season, seasonal naive not run).
PERIODS: dict[str, int | None] = {"multi_sine": 24, "regime_series": None, "ecg": 40}
ECG_FS, ECG_BPM = 50.0, 75.0  # 60 / 75 s * 50 Hz = 40 samples per beat


@dataclass(frozen=True)
class Setting:
    """Sizes of one run (``FULL``, ``QUICK`` and a hidden ``TINY`` for the test suite)."""

    context: int = 48  # W
    horizon: int = 12  # k
    train_length: int = 3000
    test_length: int = 1200
    train_stride: int = 2
    hidden: int = 32
    epochs: int = 60
    lr: float = 5e-3
    vrnn_hidden: int = 32
    vrnn_latent: int = 4
    vrnn_epochs: int = 20
    vrnn_every: int = 3  # the VRNN (NumPy only, ~10x slower a step) trains on every 3rd window
    n_samples: int = 200  # VRNN rollouts per window
    n_seeds: int = 2


FULL = Setting()
QUICK = replace(FULL, train_length=1500, test_length=600, train_stride=3, hidden=24, epochs=30,
                vrnn_hidden=16, vrnn_epochs=10, n_samples=100)
TINY = replace(FULL, context=40, horizon=4, train_length=160, test_length=100, train_stride=8,
               hidden=4, epochs=1, vrnn_hidden=4, vrnn_latent=2, vrnn_epochs=1, vrnn_every=1,
               n_samples=5, n_seeds=1)


# ----------------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------------


def make_series(name: str, length: int, seed: int) -> np.ndarray:
    """One generated series (length,) of the named kind (module docstring), seeded."""
    from minivae.data import ecg, multi_sine, regime_series

    if name not in DATASETS:
        raise ValueError(f"unknown series {name!r}; choose one of {DATASETS}")
    rng = np.random.default_rng([seed, DATASETS.index(name), 18])
    if name == "multi_sine":
        x = sum(multi_sine(1, length, n_components=1, freq_range=1.0 / P,
                           amplitude_range=(0.5, 1.5), noise_std=0.0, rng=rng)[0]
                for P in (24.0, 8.0))
        return x + 0.1 * rng.standard_normal(length)
    if name == "regime_series":
        x, _ = regime_series(1, length, regimes=((0.0, 0.3), (2.0, 0.3), (-1.0, 0.6)),
                             mean_duration=60.0, ar=0.9, rng=rng)
        return x[0]
    return ecg(length, fs=ECG_FS, heart_rate=ECG_BPM, rng=rng).signal


def make_data(name: str, s: Setting, seed: int) -> dict[str, np.ndarray]:
    """Training windows (N, W + k, 1) (stride ``train_stride``) and non-overlapping test
    windows split into context (M, W, 1) and truth (M, k, 1), all standardised with the
    training part's mean and std."""
    x = make_series(name, s.train_length + s.test_length, seed)
    train, test = x[: s.train_length], x[s.train_length:]
    mu, sd = train.mean(), train.std()
    train, test = (train - mu) / sd, (test - mu) / sd
    W, k = s.context, s.horizon
    ctx, truth = split_windows(forecast_windows(test, W, k, stride=k), k)
    return {"train": forecast_windows(train, W, k, stride=s.train_stride), "context": ctx,
            "truth": truth}


# ----------------------------------------------------------------------------------------------
# Methods: each returns (point (M, k, 1), {level: (lower, upper)}, seconds)
# ----------------------------------------------------------------------------------------------


def run_lstm(d: dict[str, np.ndarray], s: Setting, seed: int):
    from minivae.models import LSTMForecaster

    t0 = time.perf_counter()
    model = LSTMForecaster(1, s.hidden, s.horizon, rng=seed)
    model.fit(d["train"], epochs=s.epochs, batch_size=32, lr=s.lr, clip_norm=5.0, verbose=0,
              diagnostics=False, rng=seed)
    bands = {}
    for level in LEVELS:
        point, lo, hi = model.predict_interval(d["context"], level)
        bands[level] = (lo, hi)
    return point, bands, time.perf_counter() - t0


def vrnn_available() -> bool:
    """True when this version of minivae has the VRNN model."""
    return importlib.util.find_spec("minivae.models.vrnn") is not None


def run_vrnn(d: dict[str, np.ndarray], s: Setting, seed: int):
    from minivae.models.vrnn import VRNN

    t0 = time.perf_counter()
    model = VRNN(1, s.vrnn_hidden, s.vrnn_latent, rng=seed)
    model.fit(d["train"][::s.vrnn_every], epochs=s.vrnn_epochs, batch_size=32, lr=s.lr,
              clip_norm=5.0, verbose=0, diagnostics=False, rng=seed)
    samples = model.forecast(d["context"], s.horizon, np.random.default_rng([seed, 7]),
                             n_samples=s.n_samples)  # (S, M, k, 1)
    bands = {}
    for level in LEVELS:
        point, lo, hi = sample_interval(samples, level)
        bands[level] = (lo, hi)
    return point, bands, time.perf_counter() - t0


def run_baseline(d: dict[str, np.ndarray], s: Setting, method: str, period: int | None):
    t0 = time.perf_counter()
    base = BaselineForecaster(method, s.horizon, period=period).fit(d["train"])
    bands = {}
    for level in LEVELS:
        point, lo, hi = base.predict_interval(d["context"], level)
        bands[level] = (lo, hi)
    return point, bands, time.perf_counter() - t0


def run_seed(s: Setting, seed: int, *, use_vrnn: bool) -> dict[str, Any]:
    """Every method on every series for one seed: metrics, seconds and (privately) the
    forecasts of one test window per series (the one whose truth varies most) for the
    figure."""
    out: dict[str, Any] = {"seed": seed, "metrics": {}, "_shown": {}}
    for name in DATASETS:
        d = make_data(name, s, seed)
        runs = {"LSTM forecaster": lambda d=d: run_lstm(d, s, seed)}
        if use_vrnn:
            runs["VRNN (samples)"] = lambda d=d: run_vrnn(d, s, seed)
        runs["last value"] = lambda d=d: run_baseline(d, s, "last_value", None)
        if PERIODS[name] is not None:
            runs[f"seasonal naive (m={PERIODS[name]})"] = (
                lambda d=d, m=PERIODS[name]: run_baseline(d, s, "seasonal_naive", m))
        rows, shown = {}, {}
        i = int(np.argmax(np.ptp(d["truth"][..., 0], axis=1)))  # the liveliest test window
        for method, run in runs.items():
            point, bands, seconds = run()
            rows[method] = {**evaluate_forecast(d["truth"], point, bands), "seconds": seconds}
            shown[method] = (point[i, :, 0], {lv: (lo[i, :, 0], hi[i, :, 0])
                                              for lv, (lo, hi) in bands.items()})
        out["metrics"][name] = rows
        out["_shown"][name] = (d["context"][i, :, 0], d["truth"][i, :, 0], shown)
        best = min(rows, key=lambda m: rows[m]["mae"])
        say(f"  seed {seed}, {name}: {d['train'].shape[0]} training windows, "
            f"{d['context'].shape[0]} test windows; best MAE {best} {rows[best]['mae']:.3f}")
    return out


# ----------------------------------------------------------------------------------------------
# Table and figure
# ----------------------------------------------------------------------------------------------


def format_table(runs: list[dict[str, Any]], s: Setting) -> str:
    """Per series and method: mean ± std over seeds of MAE, coverage, width and seconds."""
    cols = [("mae", "MAE", 3), ("cov_80", "cov 80%", 3), ("cov_95", "cov 95%", 3),
            ("width_80", "width 80%", 2), ("seconds", "seconds", 1)]
    seeds = [r["seed"] for r in runs]
    lines = [f"Forecasting the next k={s.horizon} steps from W={s.context} (standardised "
             f"units), mean ± std over {len(runs)} seed(s) {seeds}; calibrated coverage is "
             f"0.80 / 0.95"]
    head = f"{'series':<15}{'method':<24}" + "".join(f"{c:>15}" for _, c, _ in cols)
    lines += [head, "-" * len(head)]
    for name in runs[0]["metrics"]:
        for method in runs[0]["metrics"][name]:
            row = f"{name:<15}{method:<24}"
            for key, _, dg in cols:
                m, sd = mean_std([r["metrics"][name][method][key] for r in runs])
                row += f"{m:>{15 - dg - 3}.{dg}f}±{sd:.{dg}f}"
            lines.append(row)
    return "\n".join(lines)


def draw_forecast(ax: Any, context: np.ndarray, truth: np.ndarray,
                  forecasts: dict[str, tuple[np.ndarray, dict[float, tuple]]], *,
                  bands_of: tuple[str, ...] = ("LSTM forecaster", "VRNN (samples)")) -> None:
    """One panel: the context and the truth, each method's point forecast, and the 80 % and
    95 % bands of the methods named in ``bands_of`` (1-D arrays; steps 0..W-1 context, W..)."""
    W, k = context.shape[0], truth.shape[0]
    t_ctx, t_fut = np.arange(W), np.arange(W, W + k)
    ax.plot(t_ctx, context, color="0.3", lw=1.2, label="context")
    ax.plot(t_fut, truth, color="black", lw=1.6, ls="--", label="truth")
    colors = iter(["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple"])
    for method, (point, bands) in forecasts.items():
        color = next(colors)
        ax.plot(t_fut, point, color=color, lw=1.4, label=method)
        if method in bands_of:
            for level, alpha in ((0.95, 0.15), (0.8, 0.3)):
                if level in bands:
                    lo, hi = bands[level]
                    ax.fill_between(t_fut, lo, hi, color=color, alpha=alpha, lw=0)
    ax.axvline(W - 0.5, color="0.6", lw=0.8)


def forecast_figure(run: dict[str, Any], path: Path) -> str:
    from minivae import plots

    names = list(run["_shown"])
    fig, axes = plots.plt.subplots(len(names), 1, figsize=(9, 2.6 * len(names)))
    for ax, name in zip(np.atleast_1d(axes), names):
        context, truth, shown = run["_shown"][name]
        draw_forecast(ax, context, truth, shown)
        ax.set_title(f"{name} (seed {run['seed']}): bands 80 % (dark) and 95 % (light)",
                     fontsize=9)
        ax.legend(fontsize=7, ncol=3, loc="upper left")
    return plots.save(fig, path)


# ----------------------------------------------------------------------------------------------
# Command line
# ----------------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    p = experiment_parser("forecast", "Multi-step forecasts with intervals: LSTM forecaster, "
                          "VRNN rollouts, last-value and seasonal-naive baselines.",
                          "shorter series and fewer epochs (about a minute)")
    p.add_argument("--no-vrnn", action="store_true", help="skip the VRNN rows")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run every method on every series and seed; print the table, write the figure and
    results.json; returns 0."""
    args, mode, s, seeds = parse_run(_parser(), argv, {"tiny": TINY, "quick": QUICK, "full": FULL})
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    from minivae.fast.backend import get_backend

    use_vrnn = not args.no_vrnn and vrnn_available()
    say(f"forecast ({mode}): seeds {list(seeds)}, backend {get_backend()}, "
        f"{blas_threads_note()}")
    if not args.no_vrnn and not use_vrnn:
        say("(this version has no VRNN: its rows are skipped)")
    t_start = time.perf_counter()
    results = run_record(mode, seeds, s, argv)
    runs = [run_seed(s, seed, use_vrnn=use_vrnn) for seed in seeds]
    say()
    say(format_table(runs, s))
    results["runs"] = [{k: v for k, v in r.items() if not k.startswith("_")} for r in runs]
    figures = None
    if not args.no_figures:
        figures = [forecast_figure(runs[0], out / "forecast_bands.png")]
    write_results(results, out, t_start, figures)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
