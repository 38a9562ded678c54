r"""Input corruptions for denoising autoencoders (Vincent et al., 2008): x -> x~.

A denoising autoencoder reads a corrupted x~ and is trained to reconstruct the clean x
(:class:`minivae.models.Denoising`).  The corruptions here, each a function of the data and a
``numpy.random.Generator`` (or int seed), every entry corrupted independently unless stated:

* :func:`gaussian_noise` — x~ = x + std * e, e ~ N(0, 1).
* :func:`salt_and_pepper` — each entry, with probability ``fraction``, is replaced by ``low``
  or ``high`` (each with probability 1/2; default the smallest and largest value of x).
* :func:`poisson_noise` — shot noise: with o = the minimum of each series (the counts need a
  non-negative rate), x~ = o + k / rate with k ~ Poisson(rate * (x - o)); so E[x~] = x and
  Var[x~] = (x - o) / rate: larger ``rate`` (counts per unit of x) means less noise.
* :func:`masking_noise` — each entry, with probability ``fraction``, is set to ``fill``
  (default 0): the "masking noise" of Vincent et al.
* :func:`process_noise` — a generated noise process added at a chosen SNR per series; the
  process is realistic ECG noise (:func:`minivae.data.ecg_noise.ecg_noise`: baseline wander,
  muscle noise, powerline hum).  ``snr_db`` may be a number or a range (low, high) from which
  each series draws its own SNR (a denoiser then learns a range of noise levels).

:class:`Corruption` bundles a kind and its parameters into one callable ``c(x, rng)`` with a
JSON-able :meth:`Corruption.config` (a checkpoint of a denoising model stores it).

Data: any float array; the process corruption needs series (T,), (N, T) or (N, T, D).  The
result has x's shape and dtype.  Missing values (NaN) are refused: a model fills them before
corrupting (see :class:`minivae.models.Denoising`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minivae._validation import check_array, check_rng, check_scalar
from minivae.data.ecg_noise import ecg_noise, mix_at_snr

#: The corruption kinds of :class:`Corruption`, with their parameters and defaults.
CORRUPTIONS: dict[str, dict[str, Any]] = {
    "gaussian": {"std": 0.1},
    "salt_and_pepper": {"fraction": 0.05, "low": None, "high": None},
    "poisson": {"rate": 10.0},
    "masking": {"fraction": 0.25, "fill": 0.0},
    "process": {"snr_db": 5.0, "fs": 250.0, "weights": None, "powerline_freq": 50.0},
}


def _data(x: object) -> np.ndarray:
    x = check_array(x, "x")
    return x if x.dtype.kind == "f" else x.astype(np.float64)


def _fraction(fraction: object) -> float:
    return check_scalar(fraction, "fraction", low=0.0, high=1.0)


def gaussian_noise(x: np.ndarray, std: float, rng: np.random.Generator | int) -> np.ndarray:
    """x + std * e, e ~ N(0, 1) entrywise.  std >= 0."""
    x = _data(x)
    std = check_scalar(std, "std", low=0.0)
    rng = check_rng(rng)
    return (x + std * rng.standard_normal(x.shape)).astype(x.dtype, copy=False)


def salt_and_pepper(x: np.ndarray, fraction: float, rng: np.random.Generator | int, *,
                    low: float | None = None, high: float | None = None) -> np.ndarray:
    """Each entry with probability ``fraction`` replaced by ``low`` or ``high`` (1/2 each);
    defaults: min(x) and max(x)."""
    x = _data(x)
    fraction = _fraction(fraction)
    low = float(np.min(x)) if low is None else check_scalar(low, "low")
    high = float(np.max(x)) if high is None else check_scalar(high, "high", low=low)
    rng = check_rng(rng)
    hit = rng.random(x.shape) < fraction
    salt = rng.random(x.shape) < 0.5
    return np.where(hit, np.where(salt, high, low), x).astype(x.dtype, copy=False)


def poisson_noise(x: np.ndarray, rate: float, rng: np.random.Generator | int) -> np.ndarray:
    """Shot noise: o + Poisson(rate * (x - o)) / rate with o the minimum of each series (the
    minimum over time, per n and channel, for (N, T) / (N, T, D); over all of x for (T,) and
    other shapes).  Unbiased: E = x; variance (x - o) / rate."""
    x = _data(x)
    rate = check_scalar(rate, "rate", low=0.0, low_inclusive=False)
    rng = check_rng(rng)
    axis = 1 if x.ndim in (2, 3) else None
    o = np.min(x, axis=axis, keepdims=True)
    lam = rate * (x - o).astype(np.float64)
    if np.any(lam > 1e15):  # numpy's Poisson sampler refuses larger rates
        raise ValueError(f"rate * (x - min) must be <= 1e15 for the Poisson draw, got "
                         f"{float(np.max(lam)):.3g}; lower rate or rescale x")
    return (o + rng.poisson(lam) / rate).astype(x.dtype, copy=False)


def masking_noise(x: np.ndarray, fraction: float, rng: np.random.Generator | int, *,
                  fill: float = 0.0) -> np.ndarray:
    """Each entry with probability ``fraction`` set to ``fill`` (masking noise)."""
    x = _data(x)
    fraction = _fraction(fraction)
    fill = check_scalar(fill, "fill")
    rng = check_rng(rng)
    return np.where(rng.random(x.shape) < fraction, fill, x).astype(x.dtype, copy=False)


def _snr_draw(snr_db: object, n: int, rng: np.random.Generator) -> np.ndarray:
    """(n,) SNRs: the number ``snr_db`` n times, or n draws uniform in a range (low, high)."""
    if isinstance(snr_db, (tuple, list)):
        if len(snr_db) != 2:
            raise ValueError(f"snr_db must be a number or a (low, high) range, got {snr_db!r}")
        lo = check_scalar(snr_db[0], "snr_db[0]", low=-100.0, high=100.0)
        hi = check_scalar(snr_db[1], "snr_db[1]", low=lo, high=100.0)
        return rng.uniform(lo, hi, size=n)
    return np.full(n, check_scalar(snr_db, "snr_db", low=-100.0, high=100.0))


def process_noise(x: np.ndarray, rng: np.random.Generator | int, *,
                  snr_db: float | tuple[float, float] = 5.0, fs: float = 250.0,
                  weights: dict[str, float] | None = None, powerline_freq: float = 50.0
                  ) -> np.ndarray:
    """x + ECG noise (:func:`~minivae.data.ecg_noise.ecg_noise`, sampled at ``fs`` Hz) at
    ``snr_db`` per series: x (T,), (N, T) or (N, T, D); snr_db a number or a range (low, high)
    drawn uniformly per sequence n (shared by its channels)."""
    x = check_array(x, "x", ndim=(1, 2, 3))
    rng = check_rng(rng)
    n = 1 if x.ndim == 1 else x.shape[0]
    snr = _snr_draw(snr_db, n, rng)
    noise = ecg_noise(x.shape, fs, rng, weights=weights, powerline_freq=powerline_freq)
    if x.ndim == 1:
        out = mix_at_snr(x, noise, float(snr[0]))
    else:
        out = np.concatenate([mix_at_snr(x[i:i + 1], noise[i:i + 1], float(snr[i]))
                              for i in range(n)])
    return out.astype(x.dtype if x.dtype.kind == "f" else np.float64, copy=False)


_FUNCTIONS = {
    "gaussian": lambda x, rng, p: gaussian_noise(x, p["std"], rng),
    "salt_and_pepper": lambda x, rng, p: salt_and_pepper(x, p["fraction"], rng, low=p["low"],
                                                         high=p["high"]),
    "poisson": lambda x, rng, p: poisson_noise(x, p["rate"], rng),
    "masking": lambda x, rng, p: masking_noise(x, p["fraction"], rng, fill=p["fill"]),
    "process": lambda x, rng, p: process_noise(x, rng, **p),
}


class Corruption:
    """A corruption kind with its parameters: ``Corruption("gaussian", std=0.2)(x, rng)``.

    Kinds and parameters (defaults in :data:`CORRUPTIONS`): "gaussian" (std),
    "salt_and_pepper" (fraction, low, high), "poisson" (rate), "masking" (fraction, fill),
    "process" (snr_db, fs, weights, powerline_freq).  Parameters are checked here, once, by a
    trial run on a small series, so a bad value fails when the corruption is built.
    """

    def __init__(self, kind: str, **params: Any) -> None:
        if kind not in CORRUPTIONS:
            raise ValueError(f"kind must be one of {sorted(CORRUPTIONS)}, got {kind!r}")
        unknown = sorted(set(params) - set(CORRUPTIONS[kind]))
        if unknown:
            raise TypeError(f"corruption {kind!r} takes parameters "
                            f"{sorted(CORRUPTIONS[kind])}, got unknown {unknown}")
        self.kind = kind
        self.params = {**CORRUPTIONS[kind], **params}
        if isinstance(self.params.get("snr_db"), tuple):
            self.params["snr_db"] = list(self.params["snr_db"])  # JSON keeps lists
        self(np.linspace(-1.0, 1.0, 16)[None, :, None], np.random.default_rng(0))  # validates

    def __call__(self, x: np.ndarray, rng: np.random.Generator | int) -> np.ndarray:
        """The corrupted copy of x (same shape and dtype)."""
        return _FUNCTIONS[self.kind](x, check_rng(rng), self.params)

    def config(self) -> dict[str, Any]:
        """{"kind": ..., **parameters}: JSON-able; :meth:`from_config` rebuilds it."""
        return {"kind": self.kind, **self.params}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Corruption:
        if not isinstance(config, dict) or "kind" not in config:
            raise ValueError(f"config must be a dict with a 'kind', got {config!r}")
        params = {k: v for k, v in config.items() if k != "kind"}
        return cls(config["kind"], **params)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"Corruption({self.kind!r}, {args})"
