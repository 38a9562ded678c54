r"""Classical smoothing and band-pass filters in NumPy: the baselines a denoising model must beat.

All three are *zero-phase*: each output sample is a symmetric weighted sum of the input around
it, ``y_t = sum_{k=-m}^{m} h_k x_{t+k}`` with ``h_{-k} = h_k``, so no peak is delayed (a causal
filter would shift the QRS complex by m samples; running a causal filter forward and then
backward is the other way to cancel the delay, and squares the magnitude response).

* :func:`moving_average` — ``h_k = 1 / w`` for |k| <= m, window w = 2m + 1.  Its frequency
  response is the Dirichlet kernel sin(pi f w / fs) / (w sin(pi f / fs)): first zero at fs / w.
* :func:`savgol_filter` — Savitzky & Golay (1964): at every t, the least-squares polynomial of
  degree ``order`` through the w samples around t, evaluated at t.  The weights are computed
  here (:func:`savgol_coefficients`) from the normal equations; a polynomial of degree <=
  ``order`` passes through unchanged, peaks are kept far better than by a moving average.
* :func:`bandpass_fir` / :func:`fir_filter` — a windowed-sinc FIR band-pass (type I, odd length,
  symmetric): the ideal band-pass impulse response
  ``h_k = 2 f_2 sinc(2 f_2 k) - 2 f_1 sinc(2 f_1 k)`` (f in cycles per sample) times a Hamming
  window, scaled to gain 1 at the band centre.  The cut-offs ``low_hz`` and ``high_hz`` are
  where the gain is ~1/2 (-6 dB); the transition band is about 3.3 fs / numtaps wide (Hamming).
  ``low_hz = 0`` gives a low-pass.  :func:`frequency_response` evaluates the gain.

Shapes: x (T,), (N, T) or (N, T, D), filtered along T (axis 0 for (T,), else axis 1).  Edges:
the moving average and the FIR pad by reflection (x_{-k} = x_k: a constant stays constant); the
Savitzky-Golay filter evaluates the polynomial fitted to the first (last) w samples at the first
(last) m steps, so polynomials of its order pass unchanged everywhere, edges included.
"""

from __future__ import annotations

import numpy as np

from minivae._validation import check_array, check_positive_int, check_scalar


def _series(x: object) -> tuple[np.ndarray, int]:
    """x as a float array (T,), (N, T) or (N, T, D) and its time axis."""
    x = check_array(x, "x", ndim=(1, 2, 3))
    x = x if x.dtype.kind == "f" else x.astype(np.float64)
    return x, 0 if x.ndim == 1 else 1


def _odd_window(window: object, name: str = "window") -> int:
    w = check_positive_int(window, name)
    if w % 2 == 0:
        raise ValueError(f"{name} must be odd (a centred, symmetric kernel), got {w}")
    return w


def _symmetric_filter(x: np.ndarray, axis: int, kernel: np.ndarray) -> np.ndarray:
    """y_t = sum_k kernel[k + m] x_{t+k} along ``axis``, the series padded by reflection."""
    m = kernel.size // 2
    T = x.shape[axis]
    if m >= T:
        raise ValueError(f"x has T = {T} time steps (axis {axis}, shape {x.shape}): too short "
                         f"for a kernel of {kernel.size} taps (need T > {m}); use a shorter "
                         "window or fewer taps")
    xt = np.moveaxis(x, axis, -1)
    pad = [(0, 0)] * (xt.ndim - 1) + [(m, m)]
    padded = np.pad(xt, pad, mode="reflect")
    windows = np.lib.stride_tricks.sliding_window_view(padded, kernel.size, axis=-1)
    return np.moveaxis(windows @ kernel.astype(x.dtype), -1, axis)


def moving_average(x: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average of odd width ``window`` along time (edges: reflection)."""
    x, axis = _series(x)
    w = _odd_window(window)
    return _symmetric_filter(x, axis, np.full(w, 1.0 / w))


def savgol_coefficients(window: int, order: int) -> np.ndarray:
    """The (w, w) Savitzky-Golay matrix S: for samples y at offsets k = -m..m, ``S @ y`` is the
    least-squares polynomial of degree ``order`` through them, evaluated at each offset.

    With the Vandermonde matrix A (w, order + 1), A[i, j] = k_i^j, the fit is
    c = (A^T A)^{-1} A^T y and its values A c, so S = A (A^T A)^{-1} A^T (the hat matrix).  Row
    m (the centre) is the smoothing kernel; the other rows evaluate the fit off-centre (edges).
    Solved by a QR decomposition (S = Q Q^T), stabler than forming (A^T A)^{-1}.
    """
    w = _odd_window(window)
    order = check_positive_int(order, "order", minimum=0)
    if order >= w:
        raise ValueError(f"order must be < window (a degree-{order} fit needs more than {order} "
                         f"points), got order={order}, window={w}")
    k = np.arange(w) - w // 2
    A = (k[:, None] / max(w // 2, 1)) ** np.arange(order + 1)  # scaled offsets: conditioning
    Q, _ = np.linalg.qr(A)
    return Q @ Q.T


def savgol_filter(x: np.ndarray, window: int, order: int) -> np.ndarray:
    """Savitzky-Golay smoothing (odd ``window``, polynomial degree ``order`` < window) along
    time; the first and last ``window // 2`` steps take the fit of the first / last window."""
    x, axis = _series(x)
    S = savgol_coefficients(window, order)
    w, m = S.shape[0], S.shape[0] // 2
    T = x.shape[axis]
    if w > T:
        raise ValueError(f"window must be <= the series length T = {T}, got {w}")
    y = _symmetric_filter(x, axis, S[m][::-1])  # the centre row (symmetric: reversal is a no-op)
    xt, yt = np.moveaxis(x, axis, -1), np.moveaxis(y, axis, -1)
    yt[..., :m] = xt[..., :w] @ S[:m].T.astype(x.dtype)
    yt[..., T - m:] = xt[..., T - w:] @ S[m + 1:].T.astype(x.dtype)
    return y


def bandpass_fir(low_hz: float, high_hz: float, fs: float, numtaps: int) -> np.ndarray:
    """Windowed-sinc band-pass taps (numtaps,), odd and symmetric (module docstring).

    Args:
        low_hz: lower cut-off in Hz, >= 0 (0: a low-pass).
        high_hz: upper cut-off in Hz, low_hz < high_hz < fs / 2.
        fs: sampling rate in Hz.
        numtaps: odd number of taps; the transition bands are ~3.3 fs / numtaps Hz wide.
    """
    fs = check_scalar(fs, "fs", low=0.0, low_inclusive=False)
    low = check_scalar(low_hz, "low_hz", low=0.0, high=fs / 2, high_inclusive=False)
    high = check_scalar(high_hz, "high_hz", low=low, high=fs / 2, low_inclusive=False,
                        high_inclusive=False)
    n = _odd_window(numtaps, "numtaps")
    k = np.arange(n) - n // 2
    f1, f2 = low / fs, high / fs  # cycles per sample
    ideal = 2 * f2 * np.sinc(2 * f2 * k) - 2 * f1 * np.sinc(2 * f1 * k)
    h = ideal * np.hamming(n)
    centre = 0.0 if low == 0 else 0.5 * (low + high)
    return h / abs(frequency_response(h, np.array([centre]), fs)[0])


def frequency_response(taps: np.ndarray, freqs: np.ndarray, fs: float) -> np.ndarray:
    """H(f) = sum_n h_n exp(-2 pi i f (n - m) / fs) at ``freqs`` [Hz] for a centred kernel
    (m = numtaps // 2): real for symmetric taps (zero phase).  |H| is the gain."""
    taps = check_array(taps, "taps", ndim=1)
    freqs = check_array(freqs, "freqs", ndim=1)
    fs = check_scalar(fs, "fs", low=0.0, low_inclusive=False)
    k = np.arange(taps.size) - taps.size // 2
    return np.exp(-2j * np.pi * np.outer(freqs / fs, k)) @ taps


def fir_filter(x: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """Zero-phase FIR filtering along time with odd symmetric ``taps`` (e.g. from
    :func:`bandpass_fir`): the kernel is centred on each output sample, edges by reflection."""
    x, axis = _series(x)
    taps = check_array(taps, "taps", ndim=1)
    _odd_window(taps.size, "len(taps)")
    if not np.allclose(taps, taps[::-1], rtol=0.0, atol=1e-12 * np.max(np.abs(taps))):
        raise ValueError("taps must be symmetric (h[k] = h[-k]) for zero-phase filtering")
    return _symmetric_filter(x, axis, taps[::-1])


def bandpass(x: np.ndarray, fs: float, low_hz: float, high_hz: float,
             numtaps: int) -> np.ndarray:
    """``fir_filter(x, bandpass_fir(low_hz, high_hz, fs, numtaps))``."""
    return fir_filter(x, bandpass_fir(low_hz, high_hz, fs, numtaps))
