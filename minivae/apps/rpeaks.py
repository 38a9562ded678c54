r"""R-peak detection and heart rate from a single-lead ECG, in NumPy.

The detector is the textbook three-step one (a simplified Pan & Tompkins, 1985):

1. **Band-pass** ``x`` to ``band`` (default 5-40 Hz), where the QRS complex has its energy and
   the P/T waves and breathing do not.  The filter is zero-phase: the spectrum ``rfft(x)`` is
   multiplied by a gain that is 1 inside the band and falls off outside it with a raised-cosine
   edge of ``edge`` Hz (a brick wall would ring), then ``irfft`` goes back.  Zero phase keeps
   the peaks where they are.
2. **Envelope**: ``e = |y|`` of the filtered signal ``y`` smoothed by a moving average of
   ``smooth`` seconds (one QRS width), so one complex gives one hump.
3. **Threshold + refractory period**: candidates are the local maxima of ``e`` above
   ``threshold * quantile(e, 0.99)``.  Taken from the largest down, a candidate is kept unless a
   kept peak lies closer than ``refractory`` seconds (no heart beats twice within it: 0.25 s
   allows up to 240 bpm, enough for a fetus).  Each kept position is finally moved to the
   largest ``|y|`` within ``smooth`` seconds, the R peak itself.

:func:`heart_rate` turns peak positions into beats per minute, ``60 / median(RR)`` (the median
ignores one missed or one extra beat), and :func:`match_peaks` scores detections against known
beat times (true positives within a tolerance, sensitivity, positive predictive value).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from minivae._validation import check_array, check_scalar

__all__ = ["PeakMatch", "bandpass", "detect_r_peaks", "heart_rate", "match_peaks"]


def _check_fs(fs: object) -> float:
    return check_scalar(fs, "fs", low=0.0, low_inclusive=False)


def bandpass(x: np.ndarray, fs: float, band: tuple[float, float] = (5.0, 40.0), *,
             edge: float = 2.0) -> np.ndarray:
    """Zero-phase band-pass of ``x: (T,)`` sampled at ``fs`` Hz; returns (T,).

    Gain 1 for ``band[0] <= f <= band[1]``, a raised-cosine roll-off of width ``edge`` Hz on
    each side, 0 beyond (and always 0 at DC, which removes the baseline offset).
    """
    x = check_array(x, "x", ndim=1, dtype=np.float64)
    fs = _check_fs(fs)
    if not isinstance(band, (tuple, list)) or len(band) != 2:
        raise TypeError(f"band must be a (low, high) pair in Hz, got {band!r}")
    lo = check_scalar(band[0], "band[0]", low=0.0)
    hi = check_scalar(band[1], "band[1]", low=lo, high=fs / 2, low_inclusive=False)
    edge = check_scalar(edge, "edge", low=0.0, low_inclusive=False)
    f = np.fft.rfftfreq(x.shape[0], d=1.0 / fs)
    gain = np.ones_like(f)
    below, above = f < lo, f > hi
    # Raised cosine: 1 at the band edge, 0 one `edge` further out.
    gain[below] = 0.5 + 0.5 * np.cos(np.pi * np.clip((lo - f[below]) / edge, 0.0, 1.0))
    gain[above] = 0.5 + 0.5 * np.cos(np.pi * np.clip((f[above] - hi) / edge, 0.0, 1.0))
    gain[0] = 0.0
    return np.fft.irfft(np.fft.rfft(x) * gain, n=x.shape[0])


def detect_r_peaks(x: np.ndarray, fs: float, *, band: tuple[float, float] = (5.0, 40.0),
                   threshold: float = 0.35, refractory: float = 0.25,
                   smooth: float = 0.03) -> np.ndarray:
    """Sample indices of the R peaks in ``x: (T,)`` (module docstring); returns (B,) int64,
    increasing.  ``threshold`` is a fraction (0, 1) of the envelope's 99th percentile;
    ``refractory`` and ``smooth`` are in seconds."""
    x = check_array(x, "x", ndim=1, dtype=np.float64)
    fs = _check_fs(fs)
    threshold = check_scalar(threshold, "threshold", low=0.0, high=1.0, low_inclusive=False,
                             high_inclusive=False)
    refractory = check_scalar(refractory, "refractory", low=0.0, low_inclusive=False)
    smooth = check_scalar(smooth, "smooth", low=0.0, low_inclusive=False)
    y = bandpass(x, fs, band)
    width = max(1, int(round(smooth * fs)))
    env = np.convolve(np.abs(y), np.ones(width) / width, mode="same")
    level = np.quantile(env, 0.99)
    if level <= 0.0:
        return np.zeros(0, dtype=np.int64)  # a flat signal has no beats
    inner = env[1:-1]
    cand = 1 + np.flatnonzero((inner >= env[:-2]) & (inner > env[2:])
                              & (inner > threshold * level))
    gap = refractory * fs
    kept: list[int] = []
    for i in cand[np.argsort(-env[cand], kind="stable")]:
        if all(abs(i - j) >= gap for j in kept):
            kept.append(int(i))
    half = width
    peaks = []
    for i in sorted(kept):
        lo, hi = max(0, i - half), min(x.shape[0], i + half + 1)
        peaks.append(lo + int(np.argmax(np.abs(y[lo:hi]))))
    return np.unique(np.asarray(peaks, dtype=np.int64))


def heart_rate(peaks: np.ndarray, fs: float) -> float:
    """Heart rate in beats per minute from R-peak indices ``peaks: (B,)``: ``60 fs /
    median(diff(peaks))``.  NaN when fewer than two peaks are given (no interval to measure)."""
    peaks = _indices(peaks, "peaks")
    fs = _check_fs(fs)
    if peaks.shape[0] < 2:
        return float("nan")
    rr = np.diff(np.sort(peaks))
    if np.any(rr <= 0):
        raise ValueError("peaks must not repeat a sample index")
    return float(60.0 * fs / np.median(rr))


def _indices(x: object, name: str) -> np.ndarray:
    """Sample indices: a 1-D array of whole numbers >= 0 (may be empty)."""
    arr = check_array(x, name, ndim=1, allow_empty=True)
    if arr.size and (np.any(arr < 0) or np.any(arr != np.round(arr))):
        raise ValueError(f"{name} must hold sample indices (whole numbers >= 0), got values "
                         f"in [{arr.min():.4g}, {arr.max():.4g}]")
    return arr.astype(np.float64)


class PeakMatch(NamedTuple):
    """Detections scored against true beats (:func:`match_peaks`)."""

    true_positives: int
    sensitivity: float  # detected true beats / true beats (NaN without true beats)
    ppv: float  # correct detections / detections (NaN without detections)


def match_peaks(detected: np.ndarray, true: np.ndarray, fs: float, *,
                tolerance: float = 0.05) -> PeakMatch:
    """Match detections to true R peaks one to one (nearest first) within ``tolerance`` s."""
    det, ref = _indices(detected, "detected"), _indices(true, "true")
    fs = _check_fs(fs)
    tol = check_scalar(tolerance, "tolerance", low=0.0) * fs
    used = np.zeros(det.shape[0], dtype=bool)
    tp = 0
    for r in ref:
        if det.shape[0] == 0:
            break
        dist = np.where(used, np.inf, np.abs(det - r))
        j = int(np.argmin(dist))
        if dist[j] <= tol:
            used[j] = True
            tp += 1
    sens = tp / ref.shape[0] if ref.shape[0] else float("nan")
    ppv = tp / det.shape[0] if det.shape[0] else float("nan")
    return PeakMatch(tp, float(sens), float(ppv))
