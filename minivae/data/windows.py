"""Cut a long series into fixed-length windows and put per-window results back on the time axis.

Sequence models are trained on windows of ``window`` steps taken every ``stride`` steps.  Anomaly
scores (or reconstructions) computed per window then have to be mapped back to the original
time axis, averaging wherever windows overlap.

Tail convention
---------------
When ``(T - window)`` is not a multiple of ``stride`` the regular grid ``0, stride, 2*stride, ...``
would leave the last few steps uncovered.  We then add **one extra window aligned to the end**
(start ``T - window``), so every time step is covered by at least one window.  That last window
overlaps its predecessor by more than usual; :func:`windows_to_series` averages the overlap, so
the reconstruction identity ``windows_to_series(sliding_windows(x, w, s), starts, T) == x`` holds
for every valid ``(T, w, s)`` with ``s <= w``.

A stride larger than the window is allowed (e.g. to thin out training windows) but then the
steps between windows are skipped: they are NaN after :func:`windows_to_series`.
"""

from __future__ import annotations

import numpy as np

from minivae._validation import check_array, check_positive_int

__all__ = ["window_starts", "sliding_windows", "windows_at", "windows_to_series"]


def window_starts(T: int, window: int, stride: int = 1) -> np.ndarray:
    """Start indices of the windows that cover a series of length ``T``.

    Inputs:
    - T: length of the series (number of time steps), >= 1.
    - window: window length, 1 <= window <= T.
    - stride: step between consecutive window starts, >= 1.

    Returns:
    - starts: (N,) int64, strictly increasing, first 0 and last ``T - window`` (the end-aligned
      extra window is appended when the regular grid misses the tail; see module docstring).
      With ``stride <= window`` the windows cover every step.
    """
    T = check_positive_int(T, "T")
    window = check_positive_int(window, "window")
    stride = check_positive_int(stride, "stride")
    if window > T:
        raise ValueError(
            f"window must be <= the series length T={T}, got window={window}; "
            "use a shorter window or a longer series"
        )
    starts = np.arange(0, T - window + 1, stride, dtype=np.int64)
    if starts[-1] != T - window:
        # The regular grid stops short of the end: add one end-aligned window so no step is lost.
        starts = np.append(starts, np.int64(T - window))
    return starts


def sliding_windows(x: np.ndarray, window: int, stride: int = 1) -> np.ndarray:
    """Cut a series into (possibly overlapping) windows.

    Inputs:
    - x: (T,) or (T, D) series; NaN (missing values) is allowed and copied through.
    - window: window length, 1 <= window <= T.
    - stride: step between window starts, >= 1.

    Returns:
    - windows: (N, window, D) copy (D = 1 for a 1-D ``x``), where window ``i`` is
      ``x[starts[i] : starts[i] + window]`` and ``starts = window_starts(T, window, stride)``.
    """
    x = check_array(x, "x", ndim=(1, 2), allow_nan=True)
    T = x.shape[0]
    window = check_positive_int(window, "window")
    if window > T:
        raise ValueError(
            f"window must be <= the series length T={T} (x has shape {x.shape}), "
            f"got window={window}"
        )
    return windows_at(x, window_starts(T, window, stride), window)


def windows_at(x: np.ndarray, starts: np.ndarray, window: int) -> np.ndarray:
    """The windows ``x[s : s + window]`` for the given starts (e.g. one window per heartbeat).

    Inputs:
    - x: (T,) or (T, D) series; NaN is allowed and copied through.
    - starts: (N,) integers, each in ``[0, T - window]``.
    - window: window length >= 1.

    Returns:
    - windows: (N, window, D) copy (D = 1 for a 1-D ``x``).
    """
    x = check_array(x, "x", ndim=(1, 2), allow_nan=True)
    if x.ndim == 1:
        x = x[:, None]
    window = check_positive_int(window, "window")
    starts = check_array(starts, "starts", ndim=1, allow_empty=True)
    if starts.dtype.kind not in "iu":
        raise TypeError(f"starts must hold integers, got dtype {starts.dtype}")
    if starts.size and (starts.min() < 0 or starts.max() > x.shape[0] - window):
        raise ValueError(
            f"starts must lie in [0, T - window] = [0, {x.shape[0] - window}], "
            f"got values in [{starts.min()}, {starts.max()}]"
        )
    # Index arithmetic instead of a strided view, so the result is an independent copy that the
    # caller may modify (e.g. mask or normalise) without touching x.
    idx = starts.astype(np.int64)[:, None] + np.arange(window)[None, :]  # (N, window)
    return x[idx]


def windows_to_series(
    scores: np.ndarray,
    starts: np.ndarray,
    T: int,
    *,
    window: int | None = None,
) -> np.ndarray:
    """Average per-window values back onto the time axis.

    Inputs:
    - scores: one of
        (N, window)     a value per window and step (e.g. per-step reconstruction error),
        (N, window, D)  a vector per window and step (e.g. reconstructed windows),
        (N,)            one value per window (then ``window`` must be given); every step of the
                        window receives that value.
      NaN entries are ignored in the average.
    - starts: (N,) integer window starts, each in ``[0, T - window]`` (e.g. from
      :func:`window_starts`).
    - T: length of the output series.
    - window: window length; required for (N,) scores, checked against ``scores.shape[1]``
      otherwise.

    Returns:
    - series: (T,) for (N,) or (N, window) scores, (T, D) for (N, window, D) scores.  Step ``t`` is
      the mean of all finite values of windows covering ``t``; NaN where no window covers ``t``.
    """
    scores = check_array(scores, "scores", ndim=(1, 2, 3), allow_nan=True)
    T = check_positive_int(T, "T")
    starts = check_array(starts, "starts", ndim=1)
    if starts.dtype.kind not in "iu":
        raise TypeError(f"starts must hold integers, got dtype {starts.dtype}")
    N = scores.shape[0]
    if starts.shape[0] != N:
        raise ValueError(
            f"starts must have one entry per window: scores has N={N} windows, "
            f"starts has shape {starts.shape}"
        )
    if scores.ndim == 1:
        if window is None:
            raise ValueError(
                "window must be given when scores has shape (N,) (one value per window)"
            )
        window = check_positive_int(window, "window")
        per_step = np.broadcast_to(scores[:, None], (N, window))
    else:
        if window is not None and check_positive_int(window, "window") != scores.shape[1]:
            raise ValueError(
                f"window={window} does not match scores.shape[1]={scores.shape[1]} "
                f"(scores has shape {scores.shape})"
            )
        window = scores.shape[1]
        per_step = scores
    if window > T:
        raise ValueError(f"window={window} is longer than the series T={T}")
    starts = starts.astype(np.int64)
    if np.any(starts < 0) or np.any(starts > T - window):
        raise ValueError(
            f"starts must lie in [0, T - window] = [0, {T - window}], "
            f"got values in [{starts.min()}, {starts.max()}]"
        )

    squeeze = per_step.ndim == 2
    vals = per_step[:, :, None] if squeeze else per_step  # (N, window, D)
    D = vals.shape[2]
    finite = np.isfinite(vals)
    # Time index of every (window, step) entry; np.add.at accumulates correctly even when two
    # windows share a start (plain fancy-index += would drop the repeated index).
    t_idx = (starts[:, None] + np.arange(window)[None, :]).reshape(-1)  # (N*window,)
    sums = np.zeros((T, D), dtype=np.float64)
    counts = np.zeros((T, D), dtype=np.float64)
    np.add.at(sums, t_idx, np.where(finite, vals, 0.0).reshape(-1, D))
    np.add.at(counts, t_idx, finite.reshape(-1, D).astype(np.float64))
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(counts > 0, sums / np.maximum(counts, 1.0), np.nan)
    return out[:, 0] if squeeze else out
