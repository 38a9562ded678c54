"""Synthetic time series with known structure, anomalies and missingness — all seeded.

Every generator takes ``rng``: a ``numpy.random.Generator`` or an int seed; the same seed gives
the same numbers.  Time is measured in samples unless a sampling rate ``fs`` (Hz) is given.

Contents
--------
* Smooth/regular signals: :func:`multi_sine`, :func:`sine_dataset`, :func:`random_walk`,
  :func:`regime_series`.
* ECG: :func:`ecg` (sum-of-Gaussians P-QRS-T beats with heart-rate variability, after McSharry
  et al. 2003), :func:`ecg_dataset`, :func:`ecg_windows`.
* Anomaly injectors ``inject_*`` and :func:`inject_anomalies`: each returns
  ``(series_with_anomalies, point_labels)`` with ``point_labels`` a (T,) bool array, True where a
  time step is anomalous.  The input is never modified.
* Missingness: :func:`mask_mcar`, :func:`mask_gaps` (True = observed) and :func:`apply_mask`.
* Source separation: :func:`fetal_maternal_mixture`, :func:`harmonic_sources`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from minivae._validation import (
    check_array,
    check_mask,
    check_no_inf,
    check_positive_int,
    check_rng,
    check_scalar,
)
from minivae.data.windows import sliding_windows

__all__ = [
    "multi_sine",
    "sine_dataset",
    "random_walk",
    "regime_series",
    "ECG",
    "ECG_WAVES",
    "ecg",
    "ecg_dataset",
    "ecg_windows",
    "ANOMALY_KINDS",
    "BEAT_ANOMALY_KINDS",
    "inject_spikes",
    "inject_level_shift",
    "inject_frequency_change",
    "inject_noise_burst",
    "inject_flat_line",
    "inject_abnormal_beats",
    "inject_anomalies",
    "mask_mcar",
    "mask_gaps",
    "apply_mask",
    "fetal_maternal_mixture",
    "harmonic_sources",
]

_TWO_PI = 2.0 * np.pi


# ----------------------------------------------------------------------------------------------
# Small argument helpers
# ----------------------------------------------------------------------------------------------


def _check_range(
    value: object, name: str, *, low: float | None = None, high: float | None = None,
    low_inclusive: bool = True, high_inclusive: bool = True,
) -> tuple[float, float]:
    """A scalar ``v`` (meaning ``(v, v)``) or a pair ``(lo, hi)`` with lo <= hi, within bounds."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be a number or a pair (low, high), got {value!r}")
        kw = dict(low=low, high=high, low_inclusive=low_inclusive, high_inclusive=high_inclusive)
        lo = check_scalar(value[0], f"{name}[0]", **kw)
        hi = check_scalar(value[1], f"{name}[1]", **kw)
        if lo > hi:
            raise ValueError(f"{name} must satisfy low <= high, got ({lo}, {hi})")
        return lo, hi
    v = check_scalar(value, name, low=low, high=high, low_inclusive=low_inclusive,
                     high_inclusive=high_inclusive)
    return v, v


def _draw(bounds: tuple[float, float], rng: np.random.Generator, size=None):
    """Uniform draw in ``bounds`` (a constant when low == high, without consuming randomness)."""
    lo, hi = bounds
    if lo == hi:
        return lo if size is None else np.full(size, lo)
    return rng.uniform(lo, hi, size=size)


def _check_nonneg(value: object, name: str) -> float:
    return check_scalar(value, name, low=0.0)


# ----------------------------------------------------------------------------------------------
# Sines, random walks, regimes
# ----------------------------------------------------------------------------------------------


def multi_sine(
    n_series: int,
    length: int,
    *,
    n_components: int = 3,
    freq_range: float | tuple[float, float] = (0.005, 0.05),
    amplitude_range: float | tuple[float, float] = (0.5, 1.5),
    noise_std: float = 0.1,
    n_channels: int | None = None,
    rng: np.random.Generator | int,
) -> np.ndarray:
    """Sums of sinusoids with random frequency, amplitude and phase, plus white noise.

    ``x[n, t] = sum_k a_k sin(2 pi f_k t + phi_k) + noise_std * eps``, with ``t`` in samples,
    ``f_k ~ U(freq_range)`` in cycles per sample (must stay below the Nyquist rate 0.5),
    ``a_k ~ U(amplitude_range)``, ``phi_k ~ U(0, 2 pi)``; every series and channel draws its own.

    Returns:
    - x: (N, T) float64, or (N, T, D) when ``n_channels=D`` is given.
    """
    N = check_positive_int(n_series, "n_series")
    T = check_positive_int(length, "length")
    K = check_positive_int(n_components, "n_components")
    D = 1 if n_channels is None else check_positive_int(n_channels, "n_channels")
    f_bounds = _check_range(freq_range, "freq_range", low=0.0, high=0.5,
                            low_inclusive=False, high_inclusive=False)
    a_bounds = _check_range(amplitude_range, "amplitude_range", low=0.0)
    noise_std = _check_nonneg(noise_std, "noise_std")
    rng = check_rng(rng)

    freqs = rng.uniform(*f_bounds, size=(N, D, K))
    amps = rng.uniform(*a_bounds, size=(N, D, K))
    phases = rng.uniform(0.0, _TWO_PI, size=(N, D, K))
    t = np.arange(T, dtype=np.float64)
    x = np.zeros((N, D, T))
    for k in range(K):  # one component at a time keeps memory at O(N D T)
        x += amps[..., k, None] * np.sin(_TWO_PI * freqs[..., k, None] * t + phases[..., k, None])
    if noise_std > 0:
        x += noise_std * rng.standard_normal(x.shape)
    x = np.transpose(x, (0, 2, 1))  # (N, T, D)
    return np.ascontiguousarray(x[..., 0] if n_channels is None else x)


def sine_dataset(
    n_series: int,
    length: int,
    *,
    n_components: int = 3,
    freq_range: float | tuple[float, float] = (0.005, 0.05),
    amplitude_range: float | tuple[float, float] = (0.5, 1.5),
    noise_std: float = 0.1,
    rng: np.random.Generator | int,
) -> np.ndarray:
    """:func:`multi_sine` shaped for a sequence model: returns (N, T, 1) float64."""
    return multi_sine(
        n_series, length, n_components=n_components, freq_range=freq_range,
        amplitude_range=amplitude_range, noise_std=noise_std, n_channels=1, rng=rng,
    )


def random_walk(
    n_series: int,
    length: int,
    *,
    step_std: float = 1.0,
    drift: float = 0.0,
    start: float = 0.0,
    n_channels: int | None = None,
    rng: np.random.Generator | int,
) -> np.ndarray:
    """Gaussian random walks ``x[t] = start + sum_{s <= t} (drift + step_std * eps_s)``.

    Returns:
    - x: (N, T) float64, or (N, T, D) when ``n_channels=D`` is given.
    """
    N = check_positive_int(n_series, "n_series")
    T = check_positive_int(length, "length")
    D = 1 if n_channels is None else check_positive_int(n_channels, "n_channels")
    step_std = _check_nonneg(step_std, "step_std")
    drift = check_scalar(drift, "drift")
    start = check_scalar(start, "start")
    rng = check_rng(rng)
    steps = drift + step_std * rng.standard_normal((N, T, D))
    x = start + np.cumsum(steps, axis=1)
    return x[..., 0] if n_channels is None else x


def regime_series(
    n_series: int,
    length: int,
    *,
    regimes: Sequence[tuple[float, float]] = ((0.0, 0.3), (2.0, 0.3), (-1.0, 1.0)),
    mean_duration: float = 50.0,
    ar: float = 0.0,
    rng: np.random.Generator | int,
) -> tuple[np.ndarray, np.ndarray]:
    """Piecewise-stationary series that switch between regimes of different mean and variance.

    A hidden Markov chain leaves its regime with probability ``1 / mean_duration`` per step (so
    regime durations are geometric with that mean) and then jumps to a *different* regime chosen
    uniformly.  Within regime ``r = (mean, std)`` the series is an AR(1) around ``mean`` with
    marginal standard deviation ``std``:
    ``x[t] = mean + ar * (x[t-1] - mean) + std * sqrt(1 - ar^2) * eps``.

    Inputs:
    - regimes: sequence of at least 2 ``(mean, std)`` pairs, std >= 0.
    - mean_duration: expected number of steps spent in a regime, >= 1.
    - ar: AR(1) coefficient in [0, 1); 0 gives white noise around the regime mean.

    Returns:
    - x: (N, T) float64.
    - states: (N, T) int64 regime index of each step.
    """
    N = check_positive_int(n_series, "n_series")
    T = check_positive_int(length, "length")
    if isinstance(regimes, (str, bytes)):
        raise TypeError(f"regimes must be a sequence of (mean, std) pairs, got {regimes!r:.40}")
    params = check_array(regimes, "regimes", ndim=2, dtype=np.float64)
    if params.shape[1] != 2 or params.shape[0] < 2:
        raise ValueError(f"regimes must be >= 2 (mean, std) pairs, got shape {params.shape}")
    if np.any(params[:, 1] < 0):
        raise ValueError(f"regimes std values must be >= 0, got {params[:, 1].tolist()}")
    mean_duration = check_scalar(mean_duration, "mean_duration", low=1.0)
    ar = check_scalar(ar, "ar", low=0.0, high=1.0, high_inclusive=False)
    rng = check_rng(rng)
    R = params.shape[0]

    switch = rng.random((N, T)) < 1.0 / mean_duration
    switch[:, 0] = False
    # Adding 1..R-1 (mod R) at a switch guarantees the new regime differs from the old one.
    jumps = np.where(switch, rng.integers(1, R, size=(N, T)), 0)
    states = (rng.integers(0, R, size=(N, 1)) + np.cumsum(jumps, axis=1)) % R
    mean, std = params[states, 0], params[states, 1]
    eps = rng.standard_normal((N, T))
    if ar == 0.0:
        return mean + std * eps, states.astype(np.int64)
    x = np.empty((N, T))
    x[:, 0] = mean[:, 0] + std[:, 0] * eps[:, 0]
    innov = np.sqrt(1.0 - ar * ar)
    for t in range(1, T):  # recursive; vectorised over series
        x[:, t] = mean[:, t] + ar * (x[:, t - 1] - mean[:, t]) + std[:, t] * innov * eps[:, t]
    return x, states.astype(np.int64)


# ----------------------------------------------------------------------------------------------
# ECG
# ----------------------------------------------------------------------------------------------

# Gaussian waves of one beat, relative to the R peak, for an RR interval of 1 s (60 bpm):
# name -> (centre offset [s], width sigma [s], amplitude [mV]).  The P and T waves (and their
# widths) are scaled by sqrt(RR) as in McSharry et al. (2003), a Bazett-like shortening of the
# PR/QT intervals at high heart rates; the QRS complex keeps its width.
ECG_WAVES: dict[str, tuple[float, float, float]] = {
    "P": (-0.17, 0.022, 0.15),
    "Q": (-0.028, 0.009, -0.12),
    "R": (0.0, 0.010, 1.0),
    "S": (0.028, 0.010, -0.25),
    "T": (0.27, 0.050, 0.30),
}
_RR_SCALED = ("P", "T")


class ECG(NamedTuple):
    """Output of :func:`ecg` (unpacks as ``signal, r_peaks, onsets``)."""

    signal: np.ndarray  # (T,) float64, in units of `amplitude` (mV for amplitude=1)
    r_peaks: np.ndarray  # (B,) int64 sample index of each R peak inside the signal
    onsets: np.ndarray  # (B,) int64 sample index of each beat's start (P-wave onset)


def _rr_series(n_max: int, rr_mean: float, hrv: float, rng: np.random.Generator) -> np.ndarray:
    """RR intervals [s] with a bimodal HRV spectrum (LF Mayer waves ~0.1 Hz, HF RSA ~0.25 Hz).

    ``RR_k = rr_mean * (1 + hrv * s_k)`` where ``s`` has unit variance: two sinusoids with random
    phase and slightly random frequency evaluated at the beat times, plus white jitter.
    """
    f_lf, f_hf = rng.uniform(0.08, 0.12), rng.uniform(0.2, 0.3)
    ph_lf, ph_hf = rng.uniform(0.0, _TWO_PI, size=2)
    # Variances 0.5 * 1.0^2 + 0.5 * 0.8^2 + 0.18 = 1 -> s has unit variance, LF/HF power ~1.6.
    jitter = np.sqrt(0.18) * rng.standard_normal(n_max)
    rr = np.empty(n_max)
    t = 0.0
    for k in range(n_max):
        s = np.sin(_TWO_PI * f_lf * t + ph_lf) + 0.8 * np.sin(_TWO_PI * f_hf * t + ph_hf)
        rr[k] = rr_mean * max(1.0 + hrv * (s + jitter[k]), 0.3)  # never a non-physical RR
        t += rr[k]
    return rr


def ecg(
    length: int | None = None,
    *,
    duration: float | None = None,
    fs: float = 250.0,
    heart_rate: float = 70.0,
    hrv: float = 0.05,
    amplitude: float = 1.0,
    noise_std: float = 0.02,
    baseline_wander: float = 0.05,
    waves: dict[str, tuple[float, float, float]] | None = None,
    rng: np.random.Generator | int,
) -> ECG:
    """A realistic single-lead ECG: one sum of Gaussian P, Q, R, S, T waves per heartbeat.

    Following the Gaussian-wave model of McSharry et al. (2003, "A dynamical model for generating
    synthetic electrocardiogram signals"), beat ``k`` with R peak at time ``r_k`` contributes
    ``sum_i a_i exp(-(t - r_k - mu_i)^2 / (2 b_i^2))`` for ``i`` in P, Q, R, S, T (see
    :data:`ECG_WAVES`; P and T offsets/widths scale with ``sqrt(RR)``).  RR intervals vary around
    ``60 / heart_rate`` with heart-rate variability (LF ~0.1 Hz and HF ~0.25 Hz oscillations plus
    jitter; relative std ~``hrv``).  Beat amplitudes jitter by ~3 %; a slow respiratory baseline
    wander and white measurement noise are added.

    Inputs:
    - length: number of samples T; or give ``duration`` in seconds instead (exactly one of them).
    - fs: sampling rate [Hz], >= 50 (>= 250 resolves the QRS well).
    - heart_rate: mean heart rate [beats per minute], in [20, 300].
    - hrv: relative RR variability in [0, 0.5).
    - amplitude: R-peak amplitude (the waves scale together).
    - noise_std, baseline_wander: white noise std and wander amplitude, in the same units.
    - waves: optional replacement for :data:`ECG_WAVES` (same keys).

    Returns an :class:`ECG` ``(signal (T,), r_peaks (B,), onsets (B,))``: the beats whose R peak
    falls inside the signal (their onsets, the P-wave start, always do too).
    """
    if (length is None) == (duration is None):
        raise ValueError("give exactly one of length (samples) or duration (seconds)")
    fs = check_scalar(fs, "fs", low=50.0)
    if length is not None:
        T = check_positive_int(length, "length")
    else:
        T = check_positive_int(int(round(check_scalar(duration, "duration", low=0.0,
                                                      low_inclusive=False) * fs)),
                               "duration * fs")
    heart_rate = check_scalar(heart_rate, "heart_rate", low=20.0, high=300.0)
    hrv = check_scalar(hrv, "hrv", low=0.0, high=0.5, high_inclusive=False)
    amplitude = check_scalar(amplitude, "amplitude", low=0.0, low_inclusive=False)
    noise_std = _check_nonneg(noise_std, "noise_std")
    baseline_wander = _check_nonneg(baseline_wander, "baseline_wander")
    waves = ECG_WAVES if waves is None else waves
    if set(waves) != set(ECG_WAVES):
        raise ValueError(f"waves must have keys {sorted(ECG_WAVES)}, got {sorted(waves)}")
    rng = check_rng(rng)

    rr_mean = 60.0 / heart_rate
    dur = T / fs
    # Beat times: start a random fraction of a cycle before t = 0 so recordings do not all begin
    # at the same phase, and synthesise beats until past the end (their P waves reach back into
    # the signal).  RR never drops below 0.3 * rr_mean, which bounds the number of beats.
    n_max = int(np.ceil((dur + 2.0) / (0.3 * rr_mean))) + 2
    rr = _rr_series(n_max, rr_mean, hrv, rng)
    r_all = -rng.uniform(0.0, rr_mean) + np.concatenate(([0.0], np.cumsum(rr[:-1])))
    keep = r_all < dur + 0.5  # a P wave starts < 0.3 s before its R peak
    r_all, rr_all = r_all[keep], rr[keep]
    beat_amp = amplitude * (1.0 + 0.03 * rng.standard_normal(r_all.size))

    signal = np.zeros(T)
    for name, (mu, sig, a) in waves.items():
        scale = np.sqrt(rr_all) if name in _RR_SCALED else np.ones_like(rr_all)
        centres = (r_all + mu * scale) * fs  # in samples
        sigmas = sig * scale * fs
        half = int(np.ceil(5.0 * sigmas.max())) + 1  # Gaussian is < 4e-6 of its peak beyond 5 sd
        idx = np.rint(centres).astype(np.int64)[:, None] + np.arange(-half, half + 1)[None, :]
        vals = (a * beat_amp)[:, None] * np.exp(
            -0.5 * ((idx - centres[:, None]) / sigmas[:, None]) ** 2
        )
        inside = (idx >= 0) & (idx < T)
        np.add.at(signal, idx[inside], vals[inside])

    t = np.arange(T) / fs
    if baseline_wander > 0:
        f_resp = rng.uniform(0.15, 0.3)
        ph = rng.uniform(0.0, _TWO_PI, size=2)
        signal += baseline_wander * (
            np.sin(_TWO_PI * f_resp * t + ph[0]) + 0.5 * np.sin(_TWO_PI * 0.05 * t + ph[1])
        )
    if noise_std > 0:
        signal += noise_std * rng.standard_normal(T)

    # Beat onset = start of the P wave, 3 sd before its centre.
    p_off, p_sig, _ = waves["P"]
    onset_times = r_all + (p_off - 3.0 * p_sig) * np.sqrt(rr_all)
    r_peaks = np.rint(r_all * fs).astype(np.int64)
    onsets = np.rint(onset_times * fs).astype(np.int64)
    ok = (r_peaks < T) & (onsets >= 0)
    return ECG(signal, r_peaks[ok], onsets[ok])


def ecg_dataset(
    n_series: int,
    length: int,
    *,
    fs: float = 250.0,
    heart_rate: float | tuple[float, float] = (60.0, 100.0),
    hrv: float = 0.05,
    amplitude: float = 1.0,
    noise_std: float = 0.02,
    baseline_wander: float = 0.05,
    rng: np.random.Generator | int,
) -> np.ndarray:
    """``n_series`` independent ECG recordings of ``length`` samples: returns (N, T, 1).

    ``heart_rate`` may be a ``(low, high)`` range; each recording then draws its own rate.
    """
    N = check_positive_int(n_series, "n_series")
    T = check_positive_int(length, "length")
    hr_bounds = _check_range(heart_rate, "heart_rate", low=20.0, high=300.0)
    rng = check_rng(rng)
    out = np.empty((N, T, 1))
    for n in range(N):
        out[n, :, 0] = ecg(
            T, fs=fs, heart_rate=float(_draw(hr_bounds, rng)), hrv=hrv, amplitude=amplitude,
            noise_std=noise_std, baseline_wander=baseline_wander, rng=rng,
        ).signal
    return out


def ecg_windows(
    n_windows: int,
    window: int,
    *,
    stride: int | None = None,
    fs: float = 250.0,
    heart_rate: float = 70.0,
    hrv: float = 0.05,
    amplitude: float = 1.0,
    noise_std: float = 0.02,
    baseline_wander: float = 0.05,
    rng: np.random.Generator | int,
) -> np.ndarray:
    """Windows cut from one long ECG recording: returns (n_windows, window, 1).

    The recording is exactly long enough for ``n_windows`` windows taken every ``stride``
    samples (default ``stride = window``: back to back, no overlap).
    """
    n_windows = check_positive_int(n_windows, "n_windows")
    window = check_positive_int(window, "window")
    stride = window if stride is None else check_positive_int(stride, "stride")
    T = window + (n_windows - 1) * stride
    sig = ecg(T, fs=fs, heart_rate=heart_rate, hrv=hrv, amplitude=amplitude,
              noise_std=noise_std, baseline_wander=baseline_wander, rng=rng).signal
    return sliding_windows(sig, window, stride)


# ----------------------------------------------------------------------------------------------
# Anomaly injection
# ----------------------------------------------------------------------------------------------

ANOMALY_KINDS = ("spike", "level_shift", "frequency_change", "noise_burst", "flat_line")
BEAT_ANOMALY_KINDS = ("wide_qrs", "inverted_t", "missing_beat")


def _prepare(x: object) -> tuple[np.ndarray, bool, np.ndarray]:
    """Copy ``x`` (T,) or (T, D) to float64 (T, D); return (copy, was_1d, per-channel scale)."""
    arr = check_no_inf(check_array(x, "x", ndim=(1, 2), allow_nan=True), "x")
    was_1d = arr.ndim == 1
    xx = np.array(arr, dtype=np.float64, copy=True).reshape(arr.shape[0], -1)
    with np.errstate(invalid="ignore"):
        scale = np.nanstd(xx, axis=0) if np.isfinite(xx).any() else np.ones(xx.shape[1])
    # A flat or all-NaN channel would get zero-size anomalies; fall back to unit scale.
    scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
    return xx, was_1d, scale


def _finish(xx: np.ndarray, was_1d: bool, labels: np.ndarray):
    return (xx[:, 0] if was_1d else xx), labels


def _segment(T: int, length: int | None, rng: np.random.Generator) -> tuple[int, int]:
    """Random [start, stop) of the given (or a random 2 %-10 % of T) length."""
    if length is None:
        lo, hi = max(2, T // 50), max(3, T // 10)
        length = int(rng.integers(lo, hi + 1))
    length = min(length, T)
    start = int(rng.integers(0, T - length + 1))
    return start, start + length


def _sign(rng: np.random.Generator) -> float:
    return 1.0 if rng.random() < 0.5 else -1.0


# Each _do_* applies one event in place to xx (T, D) and returns its [start, stop).


def _do_spike(xx, scale, rng, *, magnitude=(4.0, 6.0), **_):
    t, c = int(rng.integers(0, xx.shape[0])), int(rng.integers(0, xx.shape[1]))
    xx[t, c] += _sign(rng) * _draw(magnitude, rng) * scale[c]
    return t, t + 1


def _do_level_shift(xx, scale, rng, *, length=None, magnitude=(2.0, 4.0), **_):
    s, e = _segment(xx.shape[0], length, rng)
    c = int(rng.integers(0, xx.shape[1]))
    xx[s:e, c] += _sign(rng) * _draw(magnitude, rng) * scale[c]
    return s, e


def _do_frequency_change(xx, scale, rng, *, length=None, factor=(2.0, 3.0), **_):
    """Play the segment ``factor`` times faster (factor < 1: slower) by resampling the series."""
    T = xx.shape[0]
    s, e = _segment(T, length, rng)
    c = int(rng.integers(0, xx.shape[1]))
    f = _draw(factor, rng)
    pos = s + np.arange(e - s) * f
    # Reflect positions that run past the end back into the series (a mirror image is still a
    # signal of the right kind, unlike a constant pad).
    period = 2.0 * (T - 1) if T > 1 else 1.0
    pos = np.mod(pos, period)
    pos = np.where(pos > T - 1, period - pos, pos)
    src = xx[:, c].copy()
    finite = np.isfinite(src)
    if finite.sum() >= 2:
        grid = np.arange(T)
        xx[s:e, c] = np.interp(pos, grid[finite], src[finite])
    return s, e


def _do_noise_burst(xx, scale, rng, *, length=None, magnitude=(1.0, 2.0), **_):
    s, e = _segment(xx.shape[0], length, rng)
    c = int(rng.integers(0, xx.shape[1]))
    xx[s:e, c] += _draw(magnitude, rng) * scale[c] * rng.standard_normal(e - s)
    return s, e


def _do_flat_line(xx, scale, rng, *, length=None, **_):
    """A stuck sensor: the channel holds its value from the segment start."""
    s, e = _segment(xx.shape[0], length, rng)
    c = int(rng.integers(0, xx.shape[1]))
    v = xx[s, c]
    if not np.isfinite(v):
        v = np.nanmean(xx[:, c]) if np.isfinite(xx[:, c]).any() else 0.0
    xx[s:e, c] = v
    # A flat line that happens to sit on an already flat stretch is not detectable; we still
    # label it (the label marks where the generator acted).
    return s, e


_INJECTORS = {
    "spike": _do_spike,
    "level_shift": _do_level_shift,
    "frequency_change": _do_frequency_change,
    "noise_burst": _do_noise_burst,
    "flat_line": _do_flat_line,
}


def _run(x, kind: str, n: int, rng, **kwargs):
    n = check_positive_int(n, "n")
    rng = check_rng(rng)
    for key in ("magnitude", "factor"):
        if key in kwargs:
            low = 0.0
            kwargs[key] = _check_range(kwargs[key], key, low=low, low_inclusive=key != "factor")
    if kwargs.get("length") is not None:
        kwargs["length"] = check_positive_int(kwargs["length"], "length")
    xx, was_1d, scale = _prepare(x)
    labels = np.zeros(xx.shape[0], dtype=bool)
    for _ in range(n):
        s, e = _INJECTORS[kind](xx, scale, rng, **kwargs)
        labels[s:e] = True
    return _finish(xx, was_1d, labels)


def inject_spikes(
    x: np.ndarray, *, n: int = 1, magnitude: float | tuple[float, float] = (4.0, 6.0),
    rng: np.random.Generator | int,
) -> tuple[np.ndarray, np.ndarray]:
    """Add ``n`` single-step spikes of +-``magnitude`` channel standard deviations.

    ``x``: (T,) or (T, D); each event hits one random channel.  Returns ``(x_new, labels (T,))``.
    """
    return _run(x, "spike", n, rng, magnitude=magnitude)


def inject_level_shift(
    x: np.ndarray, *, n: int = 1, length: int | None = None,
    magnitude: float | tuple[float, float] = (2.0, 4.0), rng: np.random.Generator | int,
) -> tuple[np.ndarray, np.ndarray]:
    """Shift ``n`` segments by +-``magnitude`` channel stds (``length`` default: 2-10 % of T)."""
    return _run(x, "level_shift", n, rng, length=length, magnitude=magnitude)


def inject_frequency_change(
    x: np.ndarray, *, n: int = 1, length: int | None = None,
    factor: float | tuple[float, float] = (2.0, 3.0), rng: np.random.Generator | int,
) -> tuple[np.ndarray, np.ndarray]:
    """Speed up ``n`` segments by ``factor`` (time-compression; < 1 slows down)."""
    return _run(x, "frequency_change", n, rng, length=length, factor=factor)


def inject_noise_burst(
    x: np.ndarray, *, n: int = 1, length: int | None = None,
    magnitude: float | tuple[float, float] = (1.0, 2.0), rng: np.random.Generator | int,
) -> tuple[np.ndarray, np.ndarray]:
    """Add white noise of ``magnitude`` channel stds to ``n`` segments."""
    return _run(x, "noise_burst", n, rng, length=length, magnitude=magnitude)


def inject_flat_line(
    x: np.ndarray, *, n: int = 1, length: int | None = None, rng: np.random.Generator | int,
) -> tuple[np.ndarray, np.ndarray]:
    """Freeze ``n`` segments at their first value (a stuck sensor)."""
    return _run(x, "flat_line", n, rng, length=length)


def _noise_level(sig: np.ndarray) -> float:
    """Robust white-noise std from first differences (median absolute deviation)."""
    d = np.diff(sig[np.isfinite(sig)])
    if d.size == 0:
        return 0.0
    return float(np.median(np.abs(d - np.median(d))) / 0.6745 / np.sqrt(2.0))


def _beat_event(xx, r, rr, fs, kind, rng):
    """Apply one abnormal-beat event around R peak ``r`` (samples); return [start, stop)."""
    T = xx.shape[0]
    sq = np.sqrt(rr)
    if kind == "missing_beat":
        # Remove the whole P-QRS-T: from before the P wave to after the T wave, and bridge the
        # gap with the baseline plus noise of the surrounding level.
        s = max(int(r - round(0.3 * sq * fs)), 0)
        e = min(int(r + round(0.5 * sq * fs)), T - 1)
        for c in range(xx.shape[1]):
            ramp = np.linspace(xx[s, c], xx[e, c], e - s + 1)
            noise = _noise_level(xx[:, c]) * rng.standard_normal(e - s + 1)
            xx[s:e + 1, c] = ramp + noise
        return s, e + 1
    if kind == "inverted_t":
        # Mirror the T wave about the local baseline (the straight line between its ends).
        s = max(int(r + round(0.12 * sq * fs)), 0)
        e = min(int(r + round(0.45 * sq * fs)), T - 1)
        for c in range(xx.shape[1]):
            base = np.linspace(xx[s, c], xx[e, c], e - s + 1)
            xx[s:e + 1, c] = 2.0 * base - xx[s:e + 1, c]
        return s, e + 1
    if kind == "wide_qrs":
        # Stretch the QRS complex (R +- 60 ms) in time by a factor 2-2.5 around the R peak, as in
        # a bundle-branch block; the ends are cross-faded into the original signal.
        f = rng.uniform(2.0, 2.5)
        h = 0.06 * fs
        s, e = max(int(np.floor(r - f * h)), 0), min(int(np.ceil(r + f * h)), T - 1)
        t = np.arange(s, e + 1, dtype=np.float64)
        src_pos = np.clip(r + (t - r) / f, 0, T - 1)
        w = np.clip(1.0 - np.abs(t - r) / (f * h), 0.0, 1.0)  # 1 at R, 0 at the edges
        w = np.minimum(1.0, 4.0 * w)  # mostly the stretched QRS, short fade at the edges
        grid = np.arange(T)
        for c in range(xx.shape[1]):
            stretched = np.interp(src_pos, grid, xx[:, c])
            xx[s:e + 1, c] = w * stretched + (1.0 - w) * xx[s:e + 1, c]
        return s, e + 1
    raise ValueError(f"unknown beat anomaly {kind!r}; expected one of {BEAT_ANOMALY_KINDS}")


def _check_beats(r_peaks: object, fs: object, T: int) -> tuple[np.ndarray, float]:
    fs = check_scalar(fs, "fs", low=0.0, low_inclusive=False)
    r = check_array(r_peaks, "r_peaks", ndim=1)
    if r.dtype.kind not in "iu":
        raise TypeError(f"r_peaks must hold integer sample indices, got dtype {r.dtype}")
    if np.any(r < 0) or np.any(r >= T):
        raise ValueError(f"r_peaks must lie in [0, {T - 1}], got [{r.min()}, {r.max()}]")
    if np.any(np.diff(r) <= 0):
        raise ValueError("r_peaks must be strictly increasing")
    return r.astype(np.int64), fs


def _beat_rr(r: np.ndarray, k: int, fs: float) -> float:
    """Local RR interval [s] around beat ``k``: mean of its neighbouring intervals."""
    if r.size < 2:
        return 1.0
    d = np.diff(r) / fs
    neighbours = [d[j] for j in (k - 1, k) if 0 <= j < d.size]
    return float(np.mean(neighbours))


def inject_abnormal_beats(
    x: np.ndarray,
    r_peaks: np.ndarray,
    *,
    fs: float,
    n: int = 1,
    kinds: Sequence[str] = BEAT_ANOMALY_KINDS,
    rng: np.random.Generator | int,
) -> tuple[np.ndarray, np.ndarray]:
    """Turn ``n`` distinct beats of an ECG into abnormal ones.

    Kinds: ``"wide_qrs"`` (QRS stretched 2-2.5x, like a bundle-branch block), ``"inverted_t"``
    (T wave mirrored about the baseline), ``"missing_beat"`` (the beat is replaced by baseline and
    noise, like a dropped beat / sinus pause).  Each event picks a kind uniformly from ``kinds``
    and a beat not used before; the first and last beats are avoided when possible.

    Inputs:
    - x: (T,) or (T, D) ECG (all leads change together).
    - r_peaks: (B,) increasing R-peak sample indices (e.g. from :func:`ecg`).
    - fs: sampling rate [Hz].

    Returns ``(x_new, labels (T,))`` with labels True over each modified stretch.
    """
    n = check_positive_int(n, "n")
    rng = check_rng(rng)
    kinds = tuple(kinds)
    bad = [k for k in kinds if k not in BEAT_ANOMALY_KINDS]
    if not kinds or bad:
        raise ValueError(f"kinds must be a non-empty subset of {BEAT_ANOMALY_KINDS}, got {kinds}")
    xx, was_1d, _ = _prepare(x)
    r, fs = _check_beats(r_peaks, fs, xx.shape[0])
    candidates = np.arange(1, r.size - 1) if r.size > n + 2 else np.arange(r.size)
    if n > candidates.size:
        raise ValueError(f"n={n} abnormal beats requested but only {r.size} beats given")
    chosen = rng.choice(candidates, size=n, replace=False)
    labels = np.zeros(xx.shape[0], dtype=bool)
    for k in chosen:
        kind = kinds[int(rng.integers(0, len(kinds)))]
        s, e = _beat_event(xx, int(r[k]), _beat_rr(r, int(k), fs), fs, kind, rng)
        labels[s:e] = True
    return _finish(xx, was_1d, labels)


def inject_anomalies(
    x: np.ndarray,
    *,
    kinds: Sequence[str] = ANOMALY_KINDS,
    n: int = 3,
    r_peaks: np.ndarray | None = None,
    fs: float | None = None,
    return_events: bool = False,
    rng: np.random.Generator | int,
):
    """Inject ``n`` anomalies, each of a kind drawn uniformly from ``kinds``.

    ``kinds`` may mix :data:`ANOMALY_KINDS` (generic, default parameters of the ``inject_*``
    functions) and :data:`BEAT_ANOMALY_KINDS` (need ``r_peaks`` and ``fs``; each beat is used at
    most once).  Events may overlap; the labels are their union.

    Inputs:
    - x: (T,) or (T, D) series (NaN allowed; it is left in place).

    Returns:
    - x_new: same shape as ``x``, float64 copy with the anomalies.
    - labels: (T,) bool, True at anomalous steps.
    - events (only with ``return_events=True``): list of ``(kind, start, stop)``, in order.
    """
    n = check_positive_int(n, "n")
    rng = check_rng(rng)
    if isinstance(kinds, str) or not isinstance(kinds, (list, tuple)):
        raise TypeError(f"kinds must be a list or tuple of kind names, got {type(kinds).__name__}")
    kinds = tuple(kinds)
    if fs is not None:  # checked even when no beat kind uses them: no silently ignored input
        check_scalar(fs, "fs", low=0.0, low_inclusive=False)
    if r_peaks is not None:
        check_array(r_peaks, "r_peaks", ndim=1)
    known = ANOMALY_KINDS + BEAT_ANOMALY_KINDS
    bad = [k for k in kinds if k not in known]
    if not kinds or bad:
        raise ValueError(f"kinds must be a non-empty subset of {known}; unknown: {bad or kinds}")
    xx, was_1d, scale = _prepare(x)
    T = xx.shape[0]
    beat_order: list[int] = []
    if any(k in BEAT_ANOMALY_KINDS for k in kinds):
        if r_peaks is None or fs is None:
            raise ValueError(
                f"kinds {[k for k in kinds if k in BEAT_ANOMALY_KINDS]} need r_peaks and fs"
            )
        r, fs_val = _check_beats(r_peaks, fs, T)
        inner = np.arange(1, r.size - 1) if r.size > 2 else np.arange(r.size)
        beat_order = list(rng.permutation(inner))
    labels = np.zeros(T, dtype=bool)
    events = []
    for _ in range(n):
        kind = kinds[int(rng.integers(0, len(kinds)))]
        if kind in BEAT_ANOMALY_KINDS:
            if not beat_order:
                raise ValueError(f"ran out of beats: only {r.size} R peaks for n={n} events")
            k = int(beat_order.pop())
            s, e = _beat_event(xx, int(r[k]), _beat_rr(r, k, fs_val), fs_val, kind, rng)
        else:
            s, e = _INJECTORS[kind](xx, scale, rng)
        labels[s:e] = True
        events.append((kind, s, e))
    x_new, labels = _finish(xx, was_1d, labels)
    return (x_new, labels, events) if return_events else (x_new, labels)


# ----------------------------------------------------------------------------------------------
# Missingness masks (True = observed)
# ----------------------------------------------------------------------------------------------


def _check_shape(shape: object) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)) or not shape:
        raise TypeError(f"shape must be a non-empty tuple of ints, got {shape!r}")
    return tuple(check_positive_int(s, f"shape[{i}]") for i, s in enumerate(shape))


def mask_mcar(
    shape: int | tuple[int, ...], missing_rate: float, *, rng: np.random.Generator | int,
) -> np.ndarray:
    """Missing-completely-at-random mask: each entry is missing independently.

    Returns a bool array of ``shape``; True = observed, False with probability ``missing_rate``.
    """
    shape = _check_shape(shape)
    rate = check_scalar(missing_rate, "missing_rate", low=0.0, high=1.0)
    rng = check_rng(rng)
    return rng.random(shape) >= rate


def _gap_mask_1d(
    T: int, n_gaps: int, lengths: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """(T,) observed-mask with non-overlapping gaps of the given lengths at random places."""
    free = T - int(lengths.sum())
    # Stars and bars: sorted offsets in [0, free] split the free steps among the n+1 spaces
    # around the gaps, so gaps never overlap and all placements are possible.
    offsets = np.sort(rng.integers(0, free + 1, size=n_gaps))
    starts = offsets + np.concatenate(([0], np.cumsum(lengths)[:-1]))
    mask = np.ones(T, dtype=bool)
    for s, L in zip(starts, lengths):
        mask[s:s + L] = False
    return mask


def mask_gaps(
    shape: int | tuple[int, ...],
    *,
    n_gaps: int | None = None,
    missing_rate: float | None = None,
    gap_length: int | tuple[int, int] = 10,
    per_channel: bool = False,
    rng: np.random.Generator | int,
) -> np.ndarray:
    """Contiguous gaps (sensor outages) along the time axis.  True = observed.

    Inputs:
    - shape: (T,), (T, D) or (N, T, D); time is axis 0 for ndim <= 2 and axis 1 for ndim 3.
    - n_gaps: number of gaps per series (per channel with ``per_channel``), or
    - missing_rate: fraction of steps to hide; ``n_gaps = round(rate * T / mean gap length)``.
      Give exactly one of the two.
    - gap_length: gap length in steps, or a ``(low, high)`` range (inclusive) to draw from.
    - per_channel: False -> a gap hides all channels at once; True -> channels get independent
      gaps.

    Gaps never overlap (they may touch), so with a fixed ``gap_length`` the missing fraction is
    exactly ``n_gaps * gap_length / T``.

    Returns:
    - mask: bool array of ``shape``.
    """
    shape = _check_shape(shape)
    if len(shape) > 3:
        raise ValueError(f"shape must be (T,), (T, D) or (N, T, D), got {shape}")
    if (n_gaps is None) == (missing_rate is None):
        raise ValueError("give exactly one of n_gaps or missing_rate")
    if isinstance(gap_length, (tuple, list)):
        if len(gap_length) != 2:
            raise ValueError(f"gap_length must be an int or a (low, high) pair, got {gap_length}")
        g_lo = check_positive_int(gap_length[0], "gap_length[0]")
        g_hi = check_positive_int(gap_length[1], "gap_length[1]")
        if g_lo > g_hi:
            raise ValueError(f"gap_length must satisfy low <= high, got {gap_length}")
    else:
        g_lo = g_hi = check_positive_int(gap_length, "gap_length")
    rng = check_rng(rng)

    full = shape if len(shape) == 3 else (1,) + (shape if len(shape) == 2 else shape + (1,))
    N, T, D = full
    if n_gaps is not None:
        n = check_positive_int(n_gaps, "n_gaps", minimum=0)
    else:
        rate = check_scalar(missing_rate, "missing_rate", low=0.0, high=1.0)
        n = int(round(rate * T / ((g_lo + g_hi) / 2.0)))
    if n * g_lo > T:
        raise ValueError(
            f"{n} gaps of length >= {g_lo} do not fit in a series of T={T} steps"
        )
    mask = np.ones(full, dtype=bool)
    if n == 0:
        return mask.reshape(shape)
    for i in range(N):
        for c in range(D if per_channel else 1):
            lengths = rng.integers(g_lo, g_hi + 1, size=n)
            # Shorten drawn lengths if they would overflow T (only possible with a range).
            while lengths.sum() > T:
                lengths[np.argmax(lengths)] -= 1
            m = _gap_mask_1d(T, n, lengths, rng)
            if per_channel:
                mask[i, :, c] = m
            else:
                mask[i] = m[:, None]
    return mask.reshape(shape)


def apply_mask(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Copy of ``x`` (float) with NaN wherever ``mask`` (x's shape, True = observed) is False."""
    x = check_array(x, "x", allow_nan=True)
    if x.dtype.kind == "f" and np.any(np.isinf(x)):
        raise ValueError("x contains inf; only NaN (a missing value) is allowed")
    mask = check_mask(mask, x, data="x", finite=False)  # x may already hold NaN anywhere
    out = x.astype(np.float64 if x.dtype.kind != "f" else x.dtype, copy=True)
    out[~mask] = np.nan
    return out


# ----------------------------------------------------------------------------------------------
# Source-separation benchmarks
# ----------------------------------------------------------------------------------------------

# Fetal beats are shorter and smaller: narrower QRS (~50 ms) and P/T waves.
_FETAL_WAVES = {
    name: (
        mu * (0.7 if name in ("Q", "S") else 1.0),
        sig * (0.6 if name in ("Q", "R", "S") else 0.8),
        a,
    )
    for name, (mu, sig, a) in ECG_WAVES.items()
}


def fetal_maternal_mixture(
    duration: float = 10.0,
    fs: float = 500.0,
    *,
    maternal_hr: float | tuple[float, float] = (80.0, 90.0),
    fetal_hr: float | tuple[float, float] = (120.0, 160.0),
    amplitude_ratio: float | tuple[float, float] = (2.0, 10.0),
    noise_std: float = 0.02,
    baseline_wander: float = 0.05,
    return_info: bool = False,
    rng: np.random.Generator | int,
):
    """An abdominal-ECG-like mixture of a maternal and a fetal heartbeat.

    Both sources come from :func:`ecg` (the fetal one with narrower waves).  The maternal R peak
    has amplitude 1, the fetal one ``1 / amplitude_ratio``; the mixture adds white noise and
    baseline wander, the sources are returned clean.  Each of ``maternal_hr``, ``fetal_hr`` (bpm)
    and ``amplitude_ratio`` is a number or a ``(low, high)`` range drawn uniformly.

    Returns:
    - mixture, maternal, fetal: (T,) float64 each, ``T = round(duration * fs)``;
      ``mixture = maternal + fetal + noise + wander``.
    - info (only with ``return_info=True``): dict with the drawn ``maternal_hr``, ``fetal_hr``,
      ``amplitude_ratio`` and the R-peak indices ``maternal_r_peaks``, ``fetal_r_peaks``.
    """
    duration = check_scalar(duration, "duration", low=0.0, low_inclusive=False)
    fs = check_scalar(fs, "fs", low=50.0)
    rng = check_rng(rng)
    m_hr = _draw(_check_range(maternal_hr, "maternal_hr", low=20.0, high=300.0), rng)
    f_hr = _draw(_check_range(fetal_hr, "fetal_hr", low=20.0, high=300.0), rng)
    ratio = _draw(_check_range(amplitude_ratio, "amplitude_ratio", low=1.0), rng)
    noise_std = _check_nonneg(noise_std, "noise_std")
    baseline_wander = _check_nonneg(baseline_wander, "baseline_wander")
    T = check_positive_int(int(round(duration * fs)), "duration * fs")

    maternal = ecg(T, fs=fs, heart_rate=m_hr, hrv=0.04, amplitude=1.0, noise_std=0.0,
                   baseline_wander=0.0, rng=rng)
    fetal = ecg(T, fs=fs, heart_rate=f_hr, hrv=0.03, amplitude=1.0 / ratio, noise_std=0.0,
                baseline_wander=0.0, waves=_FETAL_WAVES, rng=rng)
    t = np.arange(T) / fs
    wander = baseline_wander * np.sin(_TWO_PI * rng.uniform(0.15, 0.3) * t
                                      + rng.uniform(0, _TWO_PI))
    mixture = maternal.signal + fetal.signal + wander + noise_std * rng.standard_normal(T)
    if not return_info:
        return mixture, maternal.signal, fetal.signal
    info = {
        "maternal_hr": float(m_hr), "fetal_hr": float(f_hr), "amplitude_ratio": float(ratio),
        "maternal_r_peaks": maternal.r_peaks, "fetal_r_peaks": fetal.r_peaks,
    }
    return mixture, maternal.signal, fetal.signal, info


def _harmonic_tone(
    f0: np.ndarray, fs: float, n_harmonics: int, rng: np.random.Generator
) -> np.ndarray:
    """A harmonic tone following the pitch contour ``f0`` (T,) [Hz], normalised to unit RMS."""
    phase = _TWO_PI * np.cumsum(f0) / fs  # integrate instantaneous frequency
    phase0 = rng.uniform(0.0, _TWO_PI, size=n_harmonics)
    # Decaying spectral envelope ~1/k with a random timbre per source.
    amps = rng.uniform(0.5, 1.0, size=n_harmonics) / np.arange(1, n_harmonics + 1)
    y = np.zeros_like(f0)
    for k in range(1, n_harmonics + 1):
        # Drop a harmonic wherever it would exceed 0.45 fs: above Nyquist it would alias.
        audible = k * f0 < 0.45 * fs
        y += audible * amps[k - 1] * np.sin(k * phase + phase0[k - 1])
    # 10 ms fade in/out so the sources start and stop without clicks.
    n_fade = min(int(0.01 * fs), y.size // 2)
    if n_fade > 0:
        ramp = np.linspace(0.0, 1.0, n_fade)
        y[:n_fade] *= ramp
        y[-n_fade:] *= ramp[::-1]
    rms = np.sqrt(np.mean(y * y))
    return y / rms if rms > 0 else y


def harmonic_sources(
    duration: float = 1.0,
    fs: float = 8000.0,
    *,
    f0_a: float | tuple[float, float] = (110.0, 220.0),
    f0_b: float | tuple[float, float] = (250.0, 450.0),
    n_harmonics: int = 6,
    glide_semitones: float = 4.0,
    vibrato_depth: float = 0.03,
    vibrato_rate: float = 5.5,
    gain_b: float = 1.0,
    noise_std: float = 0.01,
    return_info: bool = False,
    rng: np.random.Generator | int,
):
    """Two harmonic, audio-like sources with different pitch contours, and their mix.

    Source A glides: its pitch moves linearly (in semitones) from ``f0_a`` by a random amount in
    ``[-glide_semitones, glide_semitones]`` over the clip.  Source B holds ``f0_b`` with vibrato of
    relative depth ``vibrato_depth`` at ``vibrato_rate`` Hz.  Each has ``n_harmonics`` harmonics
    with a random ~1/k envelope, unit RMS (B is then scaled by ``gain_b``).  Base pitches are
    numbers or ``(low, high)`` ranges [Hz] drawn uniformly.

    Returns:
    - mixture, source_a, source_b: (T,) float64, ``T = round(duration * fs)``;
      ``mixture = source_a + source_b + noise``.
    - info (only with ``return_info=True``): dict with the pitch contours ``f0_a``, ``f0_b`` (T,).
    """
    duration = check_scalar(duration, "duration", low=0.0, low_inclusive=False)
    fs = check_scalar(fs, "fs", low=0.0, low_inclusive=False)
    rng = check_rng(rng)
    nyq = fs / 2.0
    fa = _draw(_check_range(f0_a, "f0_a", low=0.0, high=nyq, low_inclusive=False,
                            high_inclusive=False), rng)
    fb = _draw(_check_range(f0_b, "f0_b", low=0.0, high=nyq, low_inclusive=False,
                            high_inclusive=False), rng)
    n_harmonics = check_positive_int(n_harmonics, "n_harmonics")
    glide = _check_nonneg(glide_semitones, "glide_semitones")
    depth = check_scalar(vibrato_depth, "vibrato_depth", low=0.0, high=1.0, high_inclusive=False)
    rate = _check_nonneg(vibrato_rate, "vibrato_rate")
    gain_b = _check_nonneg(gain_b, "gain_b")
    noise_std = _check_nonneg(noise_std, "noise_std")
    T = check_positive_int(int(round(duration * fs)), "duration * fs")

    t = np.arange(T) / fs
    semis = rng.uniform(-glide, glide) if glide > 0 else 0.0
    contour_a = fa * 2.0 ** (semis * (t / duration) / 12.0)
    contour_b = fb * (1.0 + depth * np.sin(_TWO_PI * rate * t + rng.uniform(0.0, _TWO_PI)))
    a = _harmonic_tone(contour_a, fs, n_harmonics, rng)
    b = gain_b * _harmonic_tone(contour_b, fs, n_harmonics, rng)
    mixture = a + b + noise_std * rng.standard_normal(T)
    if return_info:
        return mixture, a, b, {"f0_a": contour_a, "f0_b": contour_b}
    return mixture, a, b
