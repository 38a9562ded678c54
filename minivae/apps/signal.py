"""Audio-style signal tools for source separation: STFT / iSTFT, Wiener masks, BSS-Eval metrics.

Three small parts, all in NumPy:

1. **STFT and its inverse.**  ``stft(x, fs, window_ms=32, hop_ms=8)`` cuts ``x: (T,)`` into
   overlapping windowed frames and returns their one-sided spectra ``X: (n_frames, n_freq)`` with
   ``n_freq = n_fft // 2 + 1``.  ``istft`` inverts it by *weighted overlap-add*: every frame is
   windowed a second time, frames are summed, and the sum is divided by the summed squared window
   ``env[n] = sum_t w[n - t hop]^2``.  That is the least-squares inverse (Griffin & Lim, 1984), so
   it is exact for an unmodified STFT whenever ``env > 0`` everywhere (the *NOLA* condition:
   nonzero overlap-add), and it is the best signal for a modified (masked) spectrogram.  The
   signal is zero-padded by ``n_fft - hop`` samples at the start and enough at the end that every
   original sample is covered by as many frames as an interior one, so the edges reconstruct
   exactly too.  Frame sizes can be given in milliseconds (``window_ms``, ``hop_ms`` with ``fs``)
   or in samples (``n_fft``, ``hop``).

2. **Masks.**  ``wiener_masks`` turns per-source magnitude estimates into soft masks
   ``|S_i|^p / sum_j |S_j|^p`` that sum to one in every time-frequency bin; ``apply_masks``
   multiplies the mixture STFT by each mask and inverts with the mixture phase, so the separated
   signals add up to the mixture exactly.  ``oracle_masks`` computes the same masks from the true
   sources (ideal ratio masks), the usual ceiling for mask-based separation.

   Spectrogram scaling for models: ``log_compress`` / ``log_expand`` (log magnitudes mapped to
   [0, 1]) and ``normalize_spectrogram`` / ``denormalize_spectrogram``.

3. **Metrics.**  ``bss_eval`` implements SDR / SIR / SAR of Vincent, Gribonval & Fevotte (2006),
   "Performance measurement in blind audio source separation", by orthogonal projections;
   ``sdr`` is the scale-invariant SDR (Le Roux et al., 2019) and ``snr`` the plain SNR.  All
   are in dB and capped at ``+-MAX_DB`` so that a perfect estimate gives a finite number.

Shapes used below: ``T`` samples, ``K`` sources, ``n_frames`` STFT frames, ``n_freq`` frequency
bins.  Everything is float64 / complex128.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from minivae._validation import (
    check_array,
    check_magnitude,
    check_positive_int,
    check_same_shape,
    check_scalar,
)

__all__ = [
    "MAX_DB",
    "WINDOWS",
    "BSSEvalResult",
    "apply_masks",
    "bss_eval",
    "denormalize_spectrogram",
    "frame_sizes",
    "from_magnitude_phase",
    "istft",
    "log_compress",
    "log_expand",
    "magnitude_phase",
    "normalize_spectrogram",
    "oracle_masks",
    "sdr",
    "snr",
    "stft",
    "wiener_masks",
]

WINDOWS = ("hann", "sqrt_hann", "rect")
MAX_DB = 300.0  # dB values are clipped to [-MAX_DB, MAX_DB]; a perfect estimate reads MAX_DB
# The summed squared window may not drop below this fraction of its maximum: dividing by a
# smaller envelope would amplify round-off by more than ~1e5 and is treated as a NOLA violation.
_NOLA_RTOL = 1e-10


# ------------------------------------------------------------------------------ frame sizes
def frame_sizes(
    fs: float | None = None,
    *,
    window_ms: float | None = None,
    hop_ms: float | None = None,
    n_fft: int | None = None,
    hop: int | None = None,
) -> tuple[int, int]:
    """Resolve the STFT frame to ``(n_fft, hop)`` in samples.

    Give either ``window_ms`` and ``hop_ms`` together with the sample rate ``fs`` (Hz), or
    ``n_fft`` and ``hop`` directly in samples.  Milliseconds are rounded to the nearest sample,
    e.g. ``fs=16000, window_ms=32, hop_ms=8`` -> ``(512, 128)``.
    """
    n_fft, hop, _, _ = _resolve_frame(fs, window_ms, hop_ms, n_fft, hop)
    return n_fft, hop


def _resolve_frame(fs, window_ms, hop_ms, n_fft, hop) -> tuple[int, int, str, str]:
    """Return ``(n_fft, hop, window_label, hop_label)``; the labels name the user's arguments."""
    ms_given = window_ms is not None or hop_ms is not None
    samples_given = n_fft is not None or hop is not None
    if ms_given and samples_given:
        raise ValueError(
            "give the frame either in milliseconds (window_ms, hop_ms with fs) or in samples "
            f"(n_fft, hop), not both; got window_ms={window_ms}, hop_ms={hop_ms}, "
            f"n_fft={n_fft}, hop={hop}"
        )
    if samples_given:
        if n_fft is None or hop is None:
            raise ValueError(f"n_fft and hop must be given together, got n_fft={n_fft}, hop={hop}")
        n_fft = check_positive_int(n_fft, "n_fft")
        hop = check_positive_int(hop, "hop")
        w_label, h_label = f"n_fft={n_fft}", f"hop={hop}"
    elif ms_given:
        if window_ms is None or hop_ms is None:
            raise ValueError(
                f"window_ms and hop_ms must be given together, got window_ms={window_ms}, "
                f"hop_ms={hop_ms}"
            )
        if fs is None:
            raise ValueError("fs (sample rate in Hz) is required when window_ms/hop_ms are given")
        fs = check_scalar(fs, "fs", low=0.0, low_inclusive=False)
        window_ms = check_scalar(window_ms, "window_ms", low=0.0, low_inclusive=False)
        hop_ms = check_scalar(hop_ms, "hop_ms", low=0.0, low_inclusive=False)
        n_fft = int(round(window_ms * fs / 1000.0))
        hop = int(round(hop_ms * fs / 1000.0))
        w_label = f"window_ms={window_ms:g} ({n_fft} samples at fs={fs:g} Hz)"
        h_label = f"hop_ms={hop_ms:g} ({hop} samples at fs={fs:g} Hz)"
        if n_fft < 1:
            raise ValueError(f"{w_label} is shorter than one sample")
        if hop < 1:
            raise ValueError(f"{h_label} is shorter than one sample")
    else:
        raise ValueError(
            "the STFT frame is missing: give window_ms and hop_ms (with fs), or n_fft and hop"
        )
    if hop > n_fft:
        raise ValueError(f"hop must not exceed the window: {h_label} > {w_label}")
    return n_fft, hop, w_label, h_label


def _window(window: str | np.ndarray, n_fft: int) -> np.ndarray:
    """The analysis (= synthesis) window, shape (n_fft,).

    Windows are *periodic* (the DFT-even form, ``cos(2 pi n / n_fft)`` rather than ``/(n_fft-1)``):
    shifted copies of a periodic Hann sum to a constant, which keeps the overlap-add envelope flat.
    """
    if isinstance(window, str):
        n = np.arange(n_fft)
        hann = 0.5 - 0.5 * np.cos(2.0 * np.pi * n / n_fft)
        if window == "hann":
            return hann
        if window == "sqrt_hann":
            return np.sqrt(hann)
        if window == "rect":
            return np.ones(n_fft)
        raise ValueError(f"window must be one of {WINDOWS} or an array, got {window!r}")
    w = check_array(window, "window", ndim=1, dtype=np.float64)
    if w.shape[0] != n_fft:
        raise ValueError(f"window must have length n_fft={n_fft}, got shape {w.shape}")
    return w


def _check_nola(w: np.ndarray, hop: int, w_label: str, h_label: str) -> None:
    """Refuse a (window, hop) pair whose summed squared window has (near-)zeros.

    With our padding every sample sees the periodic envelope ``env[k] = sum_j w[k + j hop]^2``
    (k = 0..hop-1), so checking one period is enough.
    """
    n_fft = w.shape[0]
    w2 = np.zeros(-(-n_fft // hop) * hop)  # pad to a whole number of hops
    w2[:n_fft] = w**2
    env = w2.reshape(-1, hop).sum(axis=0)
    if env.max() <= 0.0 or env.min() <= _NOLA_RTOL * env.max():
        raise ValueError(
            f"window and hop violate the NOLA condition (nonzero overlap-add): the summed squared "
            f"window has min {env.min():.3g} vs max {env.max():.3g} for {w_label}, {h_label}; "
            "use a smaller hop (e.g. n_fft // 2 or n_fft // 4)"
        )


def _padding(length: int, n_fft: int, hop: int) -> tuple[int, int, int]:
    """Return ``(left, n_frames, padded_length)`` for a signal of ``length`` samples.

    Sample n of the signal sits at ``n + left`` in the padded signal.  ``left = n_fft - hop``
    makes frame 0 the first one of the infinite frame grid that touches sample 0; the right pad
    is just long enough that the last frame touching the last sample exists.  Every sample is
    then covered by the full periodic envelope, so the edges invert exactly.
    """
    left = n_fft - hop
    n_frames = (left + length - 1) // hop + 1
    return left, n_frames, (n_frames - 1) * hop + n_fft


def _frame_setup(length, fs, window_ms, hop_ms, n_fft, hop, window, length_name):
    n_fft, hop, w_label, h_label = _resolve_frame(fs, window_ms, hop_ms, n_fft, hop)
    if n_fft > length:
        raise ValueError(
            f"the window ({w_label}) is longer than the signal {length_name} ({length} samples)"
        )
    w = _window(window, n_fft)
    _check_nola(w, hop, w_label, h_label)
    return n_fft, hop, w


def _check_complex(x: object, name: str, ndim: int) -> np.ndarray:
    """A finite complex (or real) array with ``ndim`` dimensions, returned as complex128."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiubc":
        raise TypeError(f"{name} must hold complex or real numbers, got dtype {arr.dtype}")
    if arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape})")
    arr = arr.astype(np.complex128, copy=False)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains non-finite values (NaN or inf)")
    return arr


# -------------------------------------------------------------------------------- STFT
def stft(
    x: np.ndarray,
    fs: float | None = None,
    *,
    window_ms: float | None = None,
    hop_ms: float | None = None,
    n_fft: int | None = None,
    hop: int | None = None,
    window: str | np.ndarray = "hann",
) -> np.ndarray:
    """Short-time Fourier transform of a real signal.

    Inputs:
    - x: (T,) real signal.
    - fs: sample rate in Hz (needed with window_ms / hop_ms).
    - window_ms, hop_ms: frame length and hop in milliseconds, or
    - n_fft, hop: the same in samples (give one pair, not both).
    - window: "hann" (periodic Hann), "sqrt_hann", "rect", or an array of shape (n_fft,).

    Returns:
    - X: (n_frames, n_fft // 2 + 1) complex; ``X[t, k]`` is frequency ``k * fs / n_fft`` of the
      frame starting at sample ``t * hop - (n_fft - hop)`` (the signal is zero-padded).
      ``n_frames = (T + n_fft - hop - 1) // hop + 1``.

    Raises ValueError when the window is longer than x, hop > window, hop <= 0, or the window and
    hop violate NOLA (e.g. Hann with hop == n_fft), since then ``istft`` could not invert it.
    """
    x = check_array(x, "x", ndim=1, dtype=np.float64)
    n_fft, hop, w = _frame_setup(x.shape[0], fs, window_ms, hop_ms, n_fft, hop, window, "x")
    left, n_frames, padded_len = _padding(x.shape[0], n_fft, hop)
    padded = np.zeros(padded_len)
    padded[left : left + x.shape[0]] = x
    # (n_frames, n_fft) view: row t is padded[t*hop : t*hop + n_fft]; no copy until windowing.
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop]
    return np.fft.rfft(frames * w, axis=1)


def istft(
    X: np.ndarray,
    fs: float | None = None,
    *,
    length: int,
    window_ms: float | None = None,
    hop_ms: float | None = None,
    n_fft: int | None = None,
    hop: int | None = None,
    window: str | np.ndarray = "hann",
) -> np.ndarray:
    """Inverse STFT by weighted overlap-add: ``x = sum_t w * frame_t / sum_t w^2``.

    Inputs:
    - X: (n_frames, n_fft // 2 + 1) complex spectrogram, as returned by ``stft`` (possibly
      modified, e.g. masked).
    - length: number of samples T of the signal to return (the original signal's length).
    - fs, window_ms, hop_ms, n_fft, hop, window: exactly as given to ``stft``.

    Returns:
    - x: (length,) real signal.  For an unmodified STFT the round trip is exact up to round-off
      (~1e-15 relative); for a modified one it is the least-squares signal whose STFT is closest
      to X.

    Raises ValueError if X's number of bins does not match n_fft, or its number of frames does not
    match ``length`` (the two must come from the same ``stft`` call).
    """
    X = _check_complex(X, "X", ndim=2)
    length = check_positive_int(length, "length")
    n_fft, hop, w = _frame_setup(length, fs, window_ms, hop_ms, n_fft, hop, window, "length")
    left, n_frames, padded_len = _padding(length, n_fft, hop)
    n_freq = n_fft // 2 + 1
    if X.shape[1] != n_freq:
        raise ValueError(
            f"X must have n_fft // 2 + 1 = {n_freq} frequency bins for n_fft={n_fft}, "
            f"got shape {X.shape}"
        )
    if X.shape[0] != n_frames:
        raise ValueError(
            f"X has {X.shape[0]} frames but length={length} with n_fft={n_fft}, hop={hop} gives "
            f"{n_frames}; pass the length of the signal the STFT was computed from"
        )
    frames = np.fft.irfft(X, n=n_fft, axis=1) * w  # synthesis window = analysis window
    # Overlap-add: sample index of every frame entry, (n_frames, n_fft).  np.add.at accumulates
    # repeated indices (plain fancy-index += would keep only one of the overlapping frames).
    idx = hop * np.arange(n_frames)[:, None] + np.arange(n_fft)[None, :]
    out = np.zeros(padded_len)
    env = np.zeros(padded_len)
    np.add.at(out, idx, frames)
    np.add.at(env, idx, np.broadcast_to(w**2, idx.shape))
    sl = slice(left, left + length)
    return out[sl] / env[sl]  # env > 0 on this range: NOLA was checked above


# ------------------------------------------------------------------- magnitude and phase
def magnitude_phase(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split a complex spectrogram X: (...) into magnitude |X| >= 0 and phase in (-pi, pi]."""
    X = np.asarray(X)
    if X.dtype.kind not in "fiubc":
        raise TypeError(f"X must hold complex or real numbers, got dtype {X.dtype}")
    return np.abs(X), np.angle(X)


def from_magnitude_phase(mag: np.ndarray, phase: np.ndarray) -> np.ndarray:
    """Rebuild ``mag * exp(i phase)``; mag (>= 0) and phase must have the same shape."""
    mag = check_array(mag, "mag", dtype=np.float64)
    phase = check_array(phase, "phase", dtype=np.float64)
    check_same_shape(mag, phase, "mag", "phase")
    if np.any(mag < 0):
        raise ValueError(f"mag must be >= 0, got min {mag.min():.3g}")
    return mag * np.exp(1j * phase)


# ---------------------------------------------------------------- spectrogram scaling
NORMALIZATIONS = ("max", "log")


def _check_eps(eps: float) -> float:
    """The dynamic-range floor of the log compression: (0, 1] (above 1 the log range vanishes
    and the map divides by ~0)."""
    return check_scalar(eps, "eps", low=0.0, low_inclusive=False, high=1.0)


def log_compress(rel_mag: np.ndarray, eps: float) -> np.ndarray:
    """Log compression of magnitudes relative to a scale, ``r = |S| / scale`` >= 0 (any shape):

        u = (log(r + eps) - log(eps)) / (log(1 + eps) - log(eps)),

    so silence maps to 0 and the scale itself to 1; ``eps`` sets the dynamic range (1e-4: the
    top 80 dB).  Inverted by :func:`log_expand`.  ``eps`` in (0, 1]."""
    rel_mag = check_array(rel_mag, "rel_mag", allow_empty=True)
    if np.any(rel_mag < 0):
        raise ValueError(f"rel_mag must be >= 0 (relative magnitudes), got min {rel_mag.min():.3g}")
    eps = _check_eps(eps)
    log_eps = np.log(eps)
    return (np.log(rel_mag + eps) - log_eps) / (np.log1p(eps) - log_eps)


def log_expand(u: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`log_compress`: ``r = exp(log(eps) + u (log(1 + eps) - log(eps))) - eps``,
    and its derivative dr/du = (log(1 + eps) - log(eps)) (r + eps).  Returns (r, dr/du)."""
    u = check_array(u, "u", allow_empty=True)
    eps = _check_eps(eps)
    log_eps = np.log(eps)
    span = np.log1p(eps) - log_eps
    e = np.exp(log_eps + u * span)
    return e - eps, span * e


def normalize_spectrogram(
    mag: np.ndarray, *, method: str = "max", eps: float = 1e-4
) -> tuple[np.ndarray, dict]:
    """Scale a magnitude spectrogram into [0, 1] for a model; undo with ``denormalize_spectrogram``.

    Inputs:
    - mag: (...) magnitudes >= 0, e.g. (n_frames, n_freq) or a batch (N, n_frames, n_freq).  One
      scale is used for the whole array, so relative levels between examples are kept.
    - method:
      "max": ``mag / scale`` with ``scale = mag.max()``.
      "log": :func:`log_compress` of ``mag / scale``: log compression (what the ear and most
      separation models use) mapped so silence -> 0 and the loudest bin -> 1.  ``eps`` sets the
      dynamic range: 1e-4 keeps the top 80 dB.
    - eps: > 0, used by "log" only.

    Returns:
    - normed: same shape as mag, values in [0, 1].
    - stats: dict with "method", "scale", "eps" (what the inverse needs).

    Raises ValueError for an all-zero spectrogram (the scale would be zero).
    """
    if method not in NORMALIZATIONS:
        raise ValueError(f"method must be one of {NORMALIZATIONS}, got {method!r}")
    mag = check_array(mag, "mag", dtype=np.float64)
    eps = check_scalar(eps, "eps", low=0.0, low_inclusive=False)
    if np.any(mag < 0):
        raise ValueError(f"mag must be >= 0 (a magnitude), got min {mag.min():.3g}")
    scale = float(mag.max())
    if scale == 0.0:
        raise ValueError(
            f"mag is all zeros (shape {mag.shape}); cannot normalise a silent spectrogram"
        )
    stats = {"method": method, "scale": scale, "eps": eps}
    if method == "max":
        return mag / scale, stats
    return log_compress(mag / scale, eps), stats


def denormalize_spectrogram(normed: np.ndarray, stats: dict) -> np.ndarray:
    """Invert ``normalize_spectrogram``: normed (...) and its stats -> magnitudes (...) >= 0.

    Values a model produces slightly outside [0, 1] are inverted by the same formula; for "log"
    the result is clipped at 0 so it stays a valid magnitude.
    """
    normed = check_array(normed, "normed", dtype=np.float64)
    if not isinstance(stats, dict) or not {"method", "scale", "eps"} <= set(stats):
        raise ValueError("stats must be the dict returned by normalize_spectrogram")
    method, scale, eps = stats["method"], float(stats["scale"]), float(stats["eps"])
    if method == "max":
        return normed * scale
    if method == "log":
        return np.maximum(log_expand(normed, eps)[0], 0.0) * scale
    raise ValueError(f"stats['method'] must be one of {NORMALIZATIONS}, got {method!r}")


# ------------------------------------------------------------------------------- masks
def _stack_sources(items: object, name: str) -> np.ndarray:
    """A list of K same-shape real arrays, or an array (K, ...), as a float64 array (K, ...)."""
    if isinstance(items, (list, tuple)):
        if len(items) == 0:
            raise ValueError(f"{name} is empty; need at least one source")
        arrays = [check_array(a, f"{name}[{i}]", dtype=np.float64) for i, a in enumerate(items)]
        for i, a in enumerate(arrays[1:], start=1):
            check_same_shape(arrays[0], a, f"{name}[0]", f"{name}[{i}]")
        return np.stack(arrays)
    arr = check_array(items, name, dtype=np.float64)
    if arr.ndim < 2:
        raise ValueError(f"{name} must be a list of arrays or an array (K, ...), got {arr.shape}")
    return arr


def wiener_masks(estimates: object, *, power: float = 2.0, eps: float = 0.0) -> np.ndarray:
    """Soft (Wiener-like) masks ``m_i = |S_i|^p / sum_j |S_j|^p``: they sum to 1 in every bin.

    Inputs:
    - estimates: K magnitude spectrograms, a list of (n_frames, n_freq) arrays or an array
      (K, n_frames, n_freq) (any trailing shape works).  Values must be >= 0.
    - power: p > 0.  p = 2 on magnitudes is the Wiener filter (ratio of powers); pass power
      spectrograms with p = 1 for the same masks; p = 1 on magnitudes is a ratio mask; a large p
      tends to a binary mask.
    - eps: >= 0.  Bins where every estimate is <= eps count as silent and get 1/K per source
      (an even split) instead of a 0/0.

    Returns:
    - masks: (K, n_frames, n_freq) in [0, 1], summing to 1 over K up to round-off.
    """
    mags = _stack_sources(estimates, "estimates")
    power = check_scalar(power, "power", low=0.0, low_inclusive=False)
    eps = check_scalar(eps, "eps", low=0.0)
    if np.any(mags < 0):
        raise ValueError(
            f"estimates must be magnitudes >= 0, got min {mags.min():.3g}; pass np.abs(S)"
        )
    # Divide by the per-bin maximum before raising to the power: the ratios are unchanged, but
    # nothing overflows or underflows for large p or extreme magnitudes (the log-sum-exp trick).
    peak = mags.max(axis=0)
    silent = peak <= eps
    rel = mags / np.where(silent, 1.0, peak)
    weights = np.where(silent, 1.0, rel**power)  # >= one weight is exactly 1 in loud bins
    return weights / weights.sum(axis=0)


def apply_masks(
    mixture_stft: np.ndarray,
    masks: object,
    fs: float | None = None,
    *,
    length: int,
    window_ms: float | None = None,
    hop_ms: float | None = None,
    n_fft: int | None = None,
    hop: int | None = None,
    window: str | np.ndarray = "hann",
) -> np.ndarray:
    """Separate a mixture by masking its STFT: ``s_i = istft(m_i * X_mix)`` (mixture phase).

    Inputs:
    - mixture_stft: (n_frames, n_freq) complex STFT of the mixture.
    - masks: K real masks, a list of (n_frames, n_freq) or an array (K, n_frames, n_freq).
    - length, fs, window_ms, hop_ms, n_fft, hop, window: as for ``istft``.

    Returns:
    - estimates: (K, length).  The iSTFT is linear, so if the masks sum to one the estimates sum
      to ``istft(mixture_stft)``, i.e. to the mixture itself.
    """
    X = _check_complex(mixture_stft, "mixture_stft", ndim=2)
    m = _stack_sources(masks, "masks")
    if m.shape[1:] != X.shape:
        raise ValueError(
            f"each mask must have the mixture_stft shape {X.shape}, got masks of shape {m.shape}"
        )
    frame = dict(window_ms=window_ms, hop_ms=hop_ms, n_fft=n_fft, hop=hop, window=window)
    return np.stack([istft(mk * X, fs, length=length, **frame) for mk in m])


def oracle_masks(
    true_sources: np.ndarray,
    fs: float | None = None,
    *,
    window_ms: float | None = None,
    hop_ms: float | None = None,
    n_fft: int | None = None,
    hop: int | None = None,
    window: str | np.ndarray = "hann",
    power: float = 2.0,
    eps: float = 0.0,
) -> np.ndarray:
    """Ideal ratio masks from the true sources: ``wiener_masks(|STFT(s_i)|)``.

    They tell how well mask-based separation with this STFT can do when the source magnitudes
    are known exactly; a model's masks are compared against this ceiling (it is the usual
    reference, not a strict upper bound on SDR).

    Inputs:
    - true_sources: (K, T) real signals whose sum is the mixture.
    - fs, window_ms, hop_ms, n_fft, hop, window: the STFT frame, as for ``stft``.
    - power, eps: as for ``wiener_masks``.

    Returns:
    - masks: (K, n_frames, n_freq).
    """
    src = check_array(true_sources, "true_sources", ndim=2, dtype=np.float64)
    frame = dict(window_ms=window_ms, hop_ms=hop_ms, n_fft=n_fft, hop=hop, window=window)
    mags = np.stack([np.abs(stft(s, fs, **frame)) for s in src])
    return wiener_masks(mags, power=power, eps=eps)


# ----------------------------------------------------------------------------- metrics
class BSSEvalResult(NamedTuple):
    """Per-source BSS-Eval scores in dB, each of shape (K,)."""

    sdr: np.ndarray  # signal to distortion: target vs everything else
    sir: np.ndarray  # signal to interference: target vs leakage of the other sources
    sar: np.ndarray  # signal to artifacts: (target + interference) vs what no source explains


def _ratio_db(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``10 log10(num / den)`` clipped to [-MAX_DB, MAX_DB]; 0/0 (undefined) gives NaN."""
    with np.errstate(divide="ignore", invalid="ignore"):
        val = 10.0 * np.log10(np.asarray(num, dtype=np.float64) / den)
    return np.clip(val, -MAX_DB, MAX_DB)


def _check_energy(x: np.ndarray, name: str) -> None:
    """Refuse rows of x: (K, T) with zero energy: their ratios are undefined."""
    energy = np.sum(x**2, axis=1)
    if np.any(energy == 0):
        k = int(np.flatnonzero(energy == 0)[0])
        raise ValueError(
            f"{name}[{k}] is all zeros (zero energy); SDR/SIR/SAR are undefined for it"
        )


def sdr(estimate: np.ndarray, reference: np.ndarray) -> float | np.ndarray:
    """Scale-invariant SDR (SI-SDR, Le Roux et al. 2019) in dB.

    ``target = (<s_hat, s> / ||s||^2) s`` is the part of the estimate along the reference and
    ``SI-SDR = 10 log10(||target||^2 / ||s_hat - target||^2)``.  Multiplying the estimate by any
    nonzero number leaves it unchanged.  It equals the SDR of ``bss_eval`` with
    ``distortion_filter_length=1``.

    Inputs:
    - estimate, reference: (T,) or (K, T) (one score per row).

    Returns:
    - a float for (T,) inputs, else (K,); clipped to [-MAX_DB, MAX_DB].
    """
    est = check_array(estimate, "estimate", ndim=(1, 2), dtype=np.float64)
    ref = check_array(reference, "reference", ndim=(1, 2), dtype=np.float64)
    check_same_shape(est, ref, "estimate", "reference")
    single = est.ndim == 1
    est, ref = np.atleast_2d(est), np.atleast_2d(ref)
    _check_energy(ref, "reference")
    _check_energy(est, "estimate")
    alpha = np.sum(est * ref, axis=1, keepdims=True) / np.sum(ref**2, axis=1, keepdims=True)
    target = alpha * ref
    out = _ratio_db(np.sum(target**2, axis=1), np.sum((est - target) ** 2, axis=1))
    return float(out[0]) if single else out


def snr(estimate: np.ndarray, reference: np.ndarray) -> float | np.ndarray:
    """Plain signal-to-noise ratio in dB: ``10 log10(||s||^2 / ||s_hat - s||^2)``.

    Unlike :func:`sdr` and :func:`bss_eval` nothing is projected out: a wrong gain, a delay or
    a filter all count as error (the "SNR" of denoising and of the separation baselines' tables).

    Inputs:
    - estimate, reference: (T,) or (K, T) (one score per row).

    Returns:
    - a float for (T,) inputs, else (K,); clipped to [-MAX_DB, MAX_DB] (a perfect estimate gives
      MAX_DB).
    """
    est = check_array(estimate, "estimate", ndim=(1, 2), dtype=np.float64)
    ref = check_array(reference, "reference", ndim=(1, 2), dtype=np.float64)
    check_magnitude(est, "estimate")  # the energies square the signals
    check_magnitude(ref, "reference")
    check_same_shape(est, ref, "estimate", "reference")
    single = est.ndim == 1
    est, ref = np.atleast_2d(est), np.atleast_2d(ref)
    _check_energy(ref, "reference")
    out = _ratio_db(np.sum(ref**2, axis=1), np.sum((est - ref) ** 2, axis=1))
    return float(out[0]) if single else out


def _correlations(a: np.ndarray, b: np.ndarray, nfft: int) -> np.ndarray:
    """Cross-correlations ``r[i, j, k] = sum_u a[i, u] b[j, u + k]`` for every pair of rows.

    Computed via FFT; lag k sits at index k mod nfft.  With nfft >= T + L - 1 the lags
    |k| <= L - 1 we read are free of circular wrap-around.  a: (I, T), b: (J, T) -> (I, J, nfft).
    """
    fa = np.fft.rfft(a, nfft, axis=1)
    fb = np.fft.rfft(b, nfft, axis=1)
    return np.fft.irfft(np.conj(fa)[:, None, :] * fb[None, :, :], nfft, axis=2)


def _psd_solve(gram: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Minimum-norm solution c of ``gram @ c = rhs`` for a symmetric positive semi-definite gram.

    gram: (n, n); rhs: (n, m) -> c: (n, m).  This is the pseudo-inverse via ``eigh``: for a Gram
    matrix it gives the same projection as ``lstsq`` several times faster (an SVD of the
    1024 x 1024 Gram matrix of K = 2, L = 512 takes seconds), and eigenvalues at round-off level
    (linearly dependent references) are dropped instead of blowing up, as ``solve`` would.
    """
    lam, V = np.linalg.eigh(gram)
    keep = lam > lam.max() * gram.shape[0] * np.finfo(np.float64).eps
    V = V[:, keep]
    return V @ ((V.T @ rhs) / lam[keep, None])


def _filtered_sum(refs: np.ndarray, coef: np.ndarray) -> np.ndarray:
    """``sum_j refs[j] * coef[j]`` (full convolutions): refs (J, T), coef (J*L,) -> (T + L - 1,).

    This maps the solution of the normal equations back to a signal: the projection onto the
    span of the delayed references.
    """
    n_ref, T = refs.shape
    coef = coef.reshape(n_ref, -1)
    out = np.zeros(T + coef.shape[1] - 1)
    for r, c in zip(refs, coef):
        out += np.convolve(r, c)
    return out


def bss_eval(
    estimates: np.ndarray,
    references: np.ndarray,
    *,
    distortion_filter_length: int = 1,
) -> BSSEvalResult:
    """SDR, SIR and SAR (Vincent, Gribonval & Fevotte 2006), per source, in dB.

    Each estimate s_hat_k (matched with reference k: no permutation search) is split into
    orthogonal projections:

        s_target = P_k(s_hat_k)                     (onto reference k and its delays)
        e_interf = P_all(s_hat_k) - s_target         (onto every reference and its delays)
        e_artif  = s_hat_k - P_all(s_hat_k)

        SDR = 10 log10(||s_target||^2 / ||e_interf + e_artif||^2)
        SIR = 10 log10(||s_target||^2 / ||e_interf||^2)
        SAR = 10 log10(||s_target + e_interf||^2 / ||e_artif||^2)

    With ``distortion_filter_length = L = 1`` the projections use the references only
    (``P_k(y) = <y, s_k> s_k / ||s_k||^2``): a gain is the only allowed distortion.  With L > 1
    the span includes the references delayed by 0..L-1 samples, so any length-L FIR filter of a
    reference counts as target (mir_eval uses L = 512); signals are zero-padded to T + L - 1.

    Inputs:
    - estimates: (K, T) separated signals.
    - references: (K, T) true sources.
    - distortion_filter_length: L >= 1, < T.

    Returns:
    - BSSEvalResult(sdr, sir, sar), each (K,), clipped to [-MAX_DB, MAX_DB] (a perfect estimate
      gives MAX_DB).  A ratio of two energies that are both exactly zero is NaN (with real
      data round-off makes this practically impossible).

    Raises ValueError on shape mismatch or an all-zero estimate or reference.
    """
    est = check_array(estimates, "estimates", ndim=2, dtype=np.float64)
    ref = check_array(references, "references", ndim=2, dtype=np.float64)
    check_magnitude(est, "estimates")  # correlations square the signals
    check_magnitude(ref, "references")
    check_same_shape(est, ref, "estimates", "references")
    K, T = ref.shape
    L = check_positive_int(distortion_filter_length, "distortion_filter_length")
    if L >= T:
        raise ValueError(f"distortion_filter_length must be < the signal length T={T}, got {L}")
    _check_energy(ref, "references")
    _check_energy(est, "estimates")

    nfft = 1 << int(np.ceil(np.log2(T + L - 1)))
    lags = np.arange(L)
    # Gram matrix of the delayed basis {s_j(t - a)}: <s_i(. - a), s_j(. - b)> = r_ij(a - b).
    # Block (i, j) is the L x L Toeplitz matrix of lags a - b, read modulo nfft.
    r_ref = _correlations(ref, ref, nfft)  # (K, K, nfft)
    lag_ab = (lags[:, None] - lags[None, :]) % nfft
    gram = r_ref[:, :, lag_ab].transpose(0, 2, 1, 3).reshape(K * L, K * L)
    # Inner products of each (zero-padded) estimate with the basis: <s_hat, s_j(. - a)> = r(a).
    r_est = _correlations(ref, est, nfft)[:, :, :L]  # (K refs, K estimates, L)
    rhs = r_est.transpose(0, 2, 1).reshape(K * L, K)  # column k: estimate k
    coef_all = _psd_solve(gram, rhs)  # projections onto all references, every estimate at once

    sdr_out, sir_out, sar_out = np.empty(K), np.empty(K), np.empty(K)
    for k in range(K):
        s_hat = np.concatenate([est[k], np.zeros(L - 1)])
        own = slice(k * L, (k + 1) * L)
        coef_own = _psd_solve(gram[own, own], rhs[own, k : k + 1])
        s_target = _filtered_sum(ref[k : k + 1], coef_own[:, 0])
        p_all = _filtered_sum(ref, coef_all[:, k])
        e_interf = p_all - s_target
        e_artif = s_hat - p_all
        target_energy = np.sum(s_target**2)
        sdr_out[k] = _ratio_db(target_energy, np.sum((e_interf + e_artif) ** 2))
        sir_out[k] = _ratio_db(target_energy, np.sum(e_interf**2))
        sar_out[k] = _ratio_db(np.sum((s_target + e_interf) ** 2), np.sum(e_artif**2))
    return BSSEvalResult(sdr_out, sir_out, sar_out)
