r"""Realistic ECG noise and mixing a signal with noise at a chosen signal-to-noise ratio.

The three classic artefacts of a surface ECG (the ones the MIT-BIH Noise Stress Test Database
records: Moody, Muldrow & Mark, 1984), each generated with unit RMS so that only the mixing
decides its size:

* :func:`baseline_wander` — respiration and electrode motion: a few sinusoids between 0.05 and
  0.5 Hz (random frequencies, amplitudes and phases), below the ECG's own band.
* :func:`muscle_noise` — electromyographic (EMG) noise: broadband (white) Gaussian noise whose
  amplitude swells and fades in bursts (a smooth random envelope), overlapping the QRS band.
* :func:`powerline` — mains hum at 50 or 60 Hz with a weaker third harmonic (where it is below
  the Nyquist frequency) and a slow amplitude drift.

:func:`ecg_noise` mixes them (default weights 1 : 1 : 0.5 before the result is scaled to unit
RMS) and :func:`mix_at_snr` adds noise to a clean signal at a requested SNR per sequence::

    SNR_dB = 10 log10( sum_t s_t^2 / sum_t n_t^2 )

which :func:`snr_db` also measures (the output SNR of a denoiser: ``snr_db(clean, denoised)``
puts the residual ``denoised - clean`` in the denominator).

Every sampler takes a ``numpy.random.Generator`` or an int seed.  Shapes: one series (T,), a
batch (N, T) or (N, T, D); generators return (T,) and :func:`ecg_noise` broadcasts over any
leading ``shape``.
"""

from __future__ import annotations

import numpy as np

from minivae._validation import (
    check_array,
    check_magnitude,
    check_positive_int,
    check_rng,
    check_same_shape,
    check_scalar,
)

#: The noise components :func:`ecg_noise` can mix, by name.
NOISE_KINDS = ("baseline_wander", "emg", "powerline")
#: Default mixing weights (relative RMS before the sum is normalised).
DEFAULT_WEIGHTS = {"baseline_wander": 1.0, "emg": 1.0, "powerline": 0.5}
_TWO_PI = 2.0 * np.pi


def _unit_rms(x: np.ndarray) -> np.ndarray:
    """x scaled to root-mean-square 1 (along the last axis)."""
    rms = np.sqrt(np.mean(x**2, axis=-1, keepdims=True))
    return x / rms


def _time(T: object, fs: object) -> tuple[int, float, np.ndarray]:
    T = check_positive_int(T, "T", minimum=2)
    fs = check_scalar(fs, "fs", low=0.0, low_inclusive=False)
    return T, fs, np.arange(T) / fs


def baseline_wander(T: int, fs: float, rng: np.random.Generator | int, *,
                    band: tuple[float, float] = (0.05, 0.5), n_components: int = 4) -> np.ndarray:
    """Baseline wander (T,), unit RMS: ``sum_k a_k sin(2 pi f_k t + phi_k)`` with f_k uniform
    in ``band`` [Hz], a_k uniform in [0.5, 1] and random phases.  A window shorter than one
    period shows a slow drift, which is what a short ECG window sees of breathing."""
    T, fs, t = _time(T, fs)
    if not isinstance(band, (tuple, list)) or len(band) != 2:
        raise TypeError(f"band must be a (low, high) pair in Hz, got {band!r}")
    lo = check_scalar(band[0], "band[0]", low=0.0, low_inclusive=False)
    hi = check_scalar(band[1], "band[1]", low=lo, high=fs / 2)
    n = check_positive_int(n_components, "n_components")
    rng = check_rng(rng)
    f = rng.uniform(lo, hi, size=n)
    a = rng.uniform(0.5, 1.0, size=n)
    ph = rng.uniform(0.0, _TWO_PI, size=n)
    return _unit_rms(np.sum(a[:, None] * np.sin(_TWO_PI * f[:, None] * t + ph[:, None]), axis=0))


def muscle_noise(T: int, fs: float, rng: np.random.Generator | int, *,
                 burst_rate: float = 1.0) -> np.ndarray:
    """Muscle (EMG-like) noise (T,), unit RMS: white Gaussian noise times a burst envelope
    ``e_t = 0.3 + softplus(g_t)``, where g is white noise smoothed by a Gaussian kernel of width
    ``1 / burst_rate`` seconds (so bursts come and go about ``burst_rate`` times a second).
    The spectrum is flat up to the Nyquist frequency: it overlaps the QRS complex, which is why
    a band-pass filter cannot remove it."""
    T, fs, _ = _time(T, fs)
    burst_rate = check_scalar(burst_rate, "burst_rate", low=0.0, low_inclusive=False)
    rng = check_rng(rng)
    width = min(max(fs / burst_rate / 4.0, 1.0), T)  # kernel sd in samples
    half = int(np.ceil(3 * width))
    k = np.exp(-0.5 * (np.arange(-half, half + 1) / width) ** 2)
    g = np.convolve(rng.standard_normal(T + 2 * half), k / np.sqrt(np.sum(k**2)), mode="valid")
    envelope = 0.3 + np.logaddexp(0.0, 2.0 * g)  # softplus: positive, bursty
    return _unit_rms(envelope * rng.standard_normal(T))


def powerline(T: int, fs: float, rng: np.random.Generator | int, *, freq: float = 50.0,
              harmonic: float = 0.2, drift: float = 0.1) -> np.ndarray:
    """Powerline interference (T,), unit RMS: ``(1 + drift * sin(2 pi f_d t)) * (sin(2 pi f t
    + phi) + harmonic * sin(2 pi 3 f t + phi_3))`` with f = ``freq`` (50 or 60 Hz in practice;
    any frequency below fs/2 is accepted), the third harmonic only if 3 f < fs / 2, and a slow
    amplitude drift at f_d ~ U(0.1, 0.5) Hz."""
    T, fs, t = _time(T, fs)
    freq = check_scalar(freq, "freq", low=0.0, high=fs / 2, low_inclusive=False,
                        high_inclusive=False)
    harmonic = check_scalar(harmonic, "harmonic", low=0.0)
    drift = check_scalar(drift, "drift", low=0.0, high=1.0, high_inclusive=False)
    rng = check_rng(rng)
    ph = rng.uniform(0.0, _TWO_PI, size=3)
    hum = np.sin(_TWO_PI * freq * t + ph[0])
    if 3 * freq < fs / 2:
        hum = hum + harmonic * np.sin(_TWO_PI * 3 * freq * t + ph[1])
    slow = 1.0 + drift * np.sin(_TWO_PI * rng.uniform(0.1, 0.5) * t + ph[2])
    return _unit_rms(slow * hum)


_GENERATORS = {"baseline_wander": baseline_wander, "emg": muscle_noise, "powerline": powerline}


def ecg_noise(shape: int | tuple[int, ...], fs: float, rng: np.random.Generator | int, *,
              weights: dict[str, float] | None = None, powerline_freq: float = 50.0
              ) -> np.ndarray:
    """Mixed ECG noise of ``shape`` = T, (N, T) or (N, T, D), unit RMS per series.

    Each series (each n, and each channel d) gets its own draw of every component named in
    ``weights`` (default :data:`DEFAULT_WEIGHTS`: baseline wander 1, EMG 1, powerline 0.5),
    the weighted sum then scaled to RMS 1 along time.  ``powerline_freq``: 50 or 60 Hz.
    """
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    if len(shape) not in (1, 2, 3):
        raise ValueError(f"shape must be T, (N, T) or (N, T, D), got {shape}")
    for i, s in enumerate(shape):
        check_positive_int(s, f"shape[{i}]")
    weights = DEFAULT_WEIGHTS if weights is None else weights
    if not isinstance(weights, dict) or not weights or set(weights) - set(NOISE_KINDS):
        raise ValueError(f"weights must be a non-empty dict with keys among {NOISE_KINDS}, "
                         f"got {weights!r}")
    w = {k: check_scalar(v, f"weights[{k!r}]", low=0.0) for k, v in weights.items()}
    fs = check_scalar(fs, "fs", low=0.0, low_inclusive=False)
    powerline_freq = check_scalar(powerline_freq, "powerline_freq", low=0.0, high=fs / 2,
                                  low_inclusive=False, high_inclusive=False)
    if not any(w.values()):
        raise ValueError(f"weights must not all be 0, got {weights!r}")
    rng = check_rng(rng)
    T = shape[0] if len(shape) == 1 else shape[1]
    series = [(n, d) for n in range(1 if len(shape) == 1 else shape[0])
              for d in range(shape[2] if len(shape) == 3 else 1)]
    out = np.empty((len(series), T))
    for i, _ in enumerate(series):
        total = np.zeros(T)
        for kind, weight in w.items():
            extra = {"freq": powerline_freq} if kind == "powerline" else {}
            total += weight * _GENERATORS[kind](T, fs, rng, **extra)
        out[i] = _unit_rms(total)
    if len(shape) == 1:
        return out[0]
    if len(shape) == 2:
        return out
    return out.reshape(shape[0], shape[2], T).transpose(0, 2, 1).copy()


def _time_axis(x: np.ndarray) -> int:
    """The time axis of (T,), (N, T) or (N, T, D): 0 for one series, else 1."""
    return 0 if x.ndim == 1 else 1


def _power(x: np.ndarray) -> np.ndarray:
    """sum over time of x^2, per series (keepdims, so it broadcasts back)."""
    return np.sum(x**2, axis=_time_axis(x), keepdims=True)


def mix_at_snr(clean: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """clean + c * noise, with c > 0 chosen per series (per n, and per channel of (N, T, D)) so
    that 10 log10(sum clean^2 / sum (c noise)^2) equals ``snr_db`` (exact up to rounding).

    clean, noise: (T,), (N, T) or (N, T, D), the same shape; noise must not be all zero in any
    series, and clean must not be all zero in any series (its SNR would be -inf).
    """
    clean = check_array(clean, "clean", ndim=(1, 2, 3), dtype=np.float64)
    noise = check_array(noise, "noise", ndim=(1, 2, 3), dtype=np.float64)
    check_same_shape(clean, noise, "clean", "noise")
    check_magnitude(clean, "clean")
    check_magnitude(noise, "noise")
    snr = check_scalar(snr_db, "snr_db", low=-100.0, high=100.0)
    ps, pn = _power(clean), _power(noise)
    if np.any(pn == 0) or np.any(ps == 0):
        raise ValueError("every series of clean and of noise must have nonzero power "
                         f"(all-zero series: clean {int(np.sum(ps == 0))}, noise "
                         f"{int(np.sum(pn == 0))})")
    c = np.sqrt(ps / (pn * 10.0 ** (snr / 10.0)))
    return clean + c * noise


def snr_db(clean: np.ndarray, estimate: np.ndarray, *, pooled: bool = False) -> np.ndarray:
    """SNR of ``estimate`` against ``clean`` in dB: 10 log10(sum clean^2 / sum (estimate -
    clean)^2), per series ((N,) or (N, D); a float for one series (T,)), or one number over
    everything with ``pooled=True`` (total power ratio).  A perfect estimate gives +inf."""
    clean = check_array(clean, "clean", ndim=(1, 2, 3), dtype=np.float64)
    estimate = check_array(estimate, "estimate", ndim=(1, 2, 3), dtype=np.float64)
    check_same_shape(clean, estimate, "clean", "estimate")
    err = estimate - clean
    if pooled:
        num, den = np.sum(clean**2), np.sum(err**2)
    else:
        num, den = _power(clean), _power(err)
        num, den = np.squeeze(num, _time_axis(clean)), np.squeeze(den, _time_axis(clean))
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(num / den)
