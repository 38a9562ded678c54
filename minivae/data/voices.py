"""Seeded voice-like sources for the separation sweep: a source-filter model of voiced speech.

The review of Singh & Ogunfunmi (Entropy, 2022) separates TIMIT male / female speech; minivae
ships no speech corpus, so :func:`voice` synthesises a stand-in with the two properties that make
two talkers separable by their spectra: a **pitch range** and a set of **formants**.

Model (the classic source-filter model of vowels, Fant 1960), per voice:

* **Syllables.**  The clip is a sequence of voiced syllables of ``syllable_s`` seconds (uniform
  range) separated by silent gaps of ``gap_s`` seconds; each syllable fades in and out over
  20 ms (a raised cosine) so it starts and stops without clicks.
* **Pitch.**  Each syllable draws a base pitch uniformly (in semitones) from ``f0_range`` and
  glides linearly by up to ``glide_semitones`` over the syllable; vibrato multiplies it by
  ``1 + vibrato_depth * sin(2 pi vibrato_rate t + phase)``.  The contour stays inside
  ``f0_range`` widened by the glide and the vibrato (see :func:`pitch_bounds`).
* **Glottal source.**  A pulse train at that pitch, written as its harmonics: harmonic k has
  amplitude ``1 / k`` (the -12 dB/octave of a smooth glottal pulse plus +6 dB/octave of lip
  radiation), and harmonics above 0.45 fs are dropped (no aliasing).
* **Vocal tract.**  Each syllable is one vowel of :data:`VOWELS` (Peterson & Barney 1952 average
  formants F1-F3 of adult men), its formants multiplied by ``formant_scale`` (about 1.17 for a
  shorter, female vocal tract).  The tract is a cascade of three second-order resonators with
  bandwidths :data:`BANDWIDTHS`; harmonic k is weighted by the cascade's magnitude response at its
  own frequency ``k f0(t)``, ``prod_i F_i^2 / sqrt((F_i^2 - f^2)^2 + (B_i f)^2)`` (unit gain at
  0 Hz).  Weighting the harmonics is the frequency-domain form of filtering the pulse train,
  exact for a slowly varying pitch and vectorised over time.

The voice is scaled to unit RMS.  :func:`voice_pair` draws a low voice (85-155 Hz, men's
formants) and a high voice (165-255 Hz, formants x 1.17) and mixes them with a little white
noise.  Every draw comes from the generator passed in (same seed, same signals).
"""

from __future__ import annotations

import numpy as np

from minivae._validation import check_positive_int, check_rng, check_scalar

__all__ = ["BANDWIDTHS", "HIGH_RANGE", "LOW_RANGE", "VOWELS", "pitch_bounds", "voice", "voice_pair"]

#: vowel -> (F1, F2, F3) [Hz], adult men (Peterson & Barney, 1952, averages)
VOWELS: dict[str, tuple[float, float, float]] = {
    "i": (270.0, 2290.0, 3010.0), "e": (530.0, 1840.0, 2480.0), "a": (730.0, 1090.0, 2440.0),
    "o": (570.0, 840.0, 2410.0), "u": (300.0, 870.0, 2240.0),
}
#: bandwidths B1-B3 [Hz] of the three formant resonators
BANDWIDTHS = (60.0, 90.0, 120.0)
#: base-pitch ranges [Hz] of :func:`voice_pair`'s low and high voices
LOW_RANGE = (85.0, 155.0)
HIGH_RANGE = (165.0, 255.0)
_TWO_PI = 2.0 * np.pi
_FADE_S = 0.02


def _check_range(value: object, name: str, high: float) -> tuple[float, float]:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(f"{name} must be a (low, high) pair in Hz, got {value!r}")
    lo = check_scalar(value[0], f"{name}[0]", low=0.0, high=high, low_inclusive=False)
    hi = check_scalar(value[1], f"{name}[1]", low=lo, high=high)
    return lo, hi


def pitch_bounds(f0_range: tuple[float, float], glide_semitones: float,
                 vibrato_depth: float) -> tuple[float, float]:
    """The lowest and highest pitch [Hz] a :func:`voice` with these settings can reach."""
    lo, hi = _check_range(f0_range, "f0_range", np.inf)
    glide = check_scalar(glide_semitones, "glide_semitones", low=0.0)
    depth = check_scalar(vibrato_depth, "vibrato_depth", low=0.0, high=1.0, high_inclusive=False)
    g = 2.0 ** (glide / 12.0)
    return lo / g * (1.0 - depth), hi * g * (1.0 + depth)


def _syllables(T: int, fs: float, syllable_s: tuple[float, float], gap_s: tuple[float, float],
               rng: np.random.Generator) -> list[tuple[int, int]]:
    """(start, stop) sample indices of the voiced syllables filling T samples."""
    out, t = [], int(rng.uniform(*gap_s) * fs)
    while t < T - int(0.05 * fs):
        n = int(rng.uniform(*syllable_s) * fs)
        out.append((t, min(T, t + n)))
        t += n + int(rng.uniform(*gap_s) * fs)
    return out


def voice(
    duration: float,
    fs: float = 8000.0,
    *,
    f0_range: tuple[float, float] = (85.0, 155.0),
    formant_scale: float = 1.0,
    glide_semitones: float = 2.0,
    vibrato_depth: float = 0.02,
    vibrato_rate: float = 5.5,
    syllable_s: tuple[float, float] = (0.15, 0.35),
    gap_s: tuple[float, float] = (0.02, 0.10),
    return_info: bool = False,
    rng: np.random.Generator | int,
):
    """One voice-like signal (see the module docstring for the model).

    Inputs:
    - duration [s], fs [Hz]; f0_range: (low, high) base pitch [Hz], below 0.45 fs.
    - formant_scale: multiplies the formants of :data:`VOWELS` (1 men, ~1.17 women).
    - glide_semitones, vibrato_depth (relative), vibrato_rate [Hz]: the pitch movement.
    - syllable_s, gap_s: (low, high) durations [s] of syllables and of the pauses between them.
    - rng: generator or seed.

    Returns:
    - x: (T,) float64 with unit RMS, ``T = round(duration * fs)``;
    - with ``return_info=True`` also a dict: "f0" (T,) pitch contour [Hz] (0 where silent),
      "voiced" (T,) bool, "vowels" (one letter per syllable).
    """
    duration = check_scalar(duration, "duration", low=0.0, low_inclusive=False)
    fs = check_scalar(fs, "fs", low=0.0, low_inclusive=False)
    lo, hi = _check_range(f0_range, "f0_range", 0.45 * fs)
    scale = check_scalar(formant_scale, "formant_scale", low=0.0, low_inclusive=False)
    glide = check_scalar(glide_semitones, "glide_semitones", low=0.0, high=24.0)
    depth = check_scalar(vibrato_depth, "vibrato_depth", low=0.0, high=0.5)
    rate = check_scalar(vibrato_rate, "vibrato_rate", low=0.0, high=fs / 4)
    syl = _check_range(syllable_s, "syllable_s", 10.0)
    gap = _check_range(gap_s, "gap_s", 10.0)
    if not isinstance(return_info, (bool, np.bool_)):
        raise TypeError(f"return_info must be a bool, got {type(return_info).__name__} "
                        f"{return_info!r}")
    rng = check_rng(rng)
    T = check_positive_int(int(round(duration * fs)), "duration * fs")
    if T < int(0.1 * fs):
        raise ValueError(f"duration must be at least 0.1 s (one syllable), got {duration} s")

    t = np.arange(T) / fs
    f0 = np.zeros(T)
    env = np.zeros(T)
    formants = np.zeros((T, 3))
    names = list(VOWELS)
    vowels = []
    for a, b in _syllables(T, fs, syl, gap, rng):
        base = lo * (hi / lo) ** rng.uniform()  # uniform in semitones
        steps = rng.uniform(-glide, glide) * np.linspace(0.0, 1.0, b - a)
        f0[a:b] = base * 2.0 ** (steps / 12.0)
        vowel = names[rng.integers(len(names))]
        vowels.append(vowel)
        formants[a:b] = np.asarray(VOWELS[vowel]) * scale
        n_fade = min(int(_FADE_S * fs), (b - a) // 2)
        ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(n_fade) / max(n_fade, 1))
        env[a:b] = 1.0
        env[a:a + n_fade] = ramp
        env[b - n_fade:b] = ramp[::-1]
    voiced = f0 > 0
    f0[voiced] *= 1.0 + depth * np.sin(_TWO_PI * rate * t[voiced] + rng.uniform(0, _TWO_PI))
    pitch = np.where(voiced, f0, lo)  # any pitch in the gaps: the envelope is zero there
    phase = _TWO_PI * np.cumsum(pitch) / fs
    K = max(1, int(0.45 * fs / lo))
    x = np.zeros(T)
    for k in range(1, K + 1):
        fk = k * pitch
        audible = fk < 0.45 * fs
        x += audible * _tract_gain(fk, formants) / k * np.sin(k * phase)
    x *= env
    rms = np.sqrt(np.mean(x * x))
    x = x / rms if rms > 0 else x
    if return_info:
        return x, {"f0": f0, "voiced": voiced, "vowels": vowels}
    return x


def _tract_gain(f: np.ndarray, formants: np.ndarray) -> np.ndarray:
    """Resonator-cascade magnitude at f (T,) [Hz] with time-varying formants (T, 3) (zero rows
    in the gaps give zero), unit gain at 0 Hz."""
    g = np.ones_like(f)
    for i, B in enumerate(BANDWIDTHS):
        F = formants[:, i]
        g *= np.where(F > 0, F * F / np.sqrt((F * F - f * f) ** 2 + (B * f) ** 2 + 1e-300), 0.0)
    return g


def voice_pair(
    duration: float,
    fs: float = 8000.0,
    *,
    noise_std: float = 0.01,
    rng: np.random.Generator | int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two talkers and their mixture: ``mixture = low + high + noise_std * N(0, 1)``.

    The low voice has base pitch 85-155 Hz and men's formants; the high voice 165-255 Hz and
    formants x 1.17 (both unit RMS).  Returns (mixture, low, high), each (T,) float64.
    """
    rng = check_rng(rng)
    noise_std = check_scalar(noise_std, "noise_std", low=0.0)
    low = voice(duration, fs, f0_range=LOW_RANGE, formant_scale=1.0, rng=rng)
    high = voice(duration, fs, f0_range=HIGH_RANGE, formant_scale=1.17, rng=rng)
    return low + high + noise_std * rng.standard_normal(low.shape[0]), low, high


