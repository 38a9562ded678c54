"""Priors over the latent code to match a batch of codes against: samplers (each takes a numpy
Generator) and log densities where one exists in closed form.

* :class:`GaussianPrior` — N(0, scale^2 I) in any dimension;
* :class:`LaplacePrior` — independent Laplace(0, scale) coordinates: heavier tails, a sharper
  peak, the prior of sparse codes;
* :class:`SwissRollPrior` — a 2-D spiral (Makhzani et al. 2016; Santana, Emigh & Principe 2016):
  the angle t is uniform on [t_min, t_max] and the point ``(t cos t, t sin t) * scale / t_max``
  plus Gaussian noise of standard deviation ``noise``.  Its density has no closed form.
* :class:`MixturePrior` — an equal-weight mixture of ``n_components`` (default 10) isotropic
  Gaussians of standard deviation ``std`` whose means lie on a circle of radius ``scale`` in the
  first two coordinates (Makhzani et al. 2016, figure 4); log p(z) by log-sum-exp.

Models that regularise codes towards a prior by samples only (the ITL autoencoder, the
adversarial autoencoder) store the prior by name and keyword arguments, ``prior.config()``, and
rebuild it with :func:`make_prior`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minivae._validation import (
    check_array,
    check_no_overflow,
    check_positive_int,
    check_rng,
    check_scalar,
)
from minivae.nn.functional import logsumexp

__all__ = ["PRIORS", "GaussianPrior", "LaplacePrior", "MixturePrior", "Prior", "SwissRollPrior",
           "make_prior"]


class Prior:
    """Base class: ``sample(n, rng) -> (n, dim)``, ``log_prob(z: (n, dim)) -> (n,)``."""

    name = "prior"

    def __init__(self, dim: int, scale: float = 1.0) -> None:
        self.dim = check_positive_int(dim, "dim")
        self.scale = check_scalar(scale, "scale", low=0.0, low_inclusive=False)

    def sample(self, n: int, rng: np.random.Generator | int) -> np.ndarray:
        """n draws, (n, dim) float64."""
        n = check_positive_int(n, "n")
        return self._sample(n, check_rng(rng))

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def check_z(self, z: object) -> np.ndarray:
        return check_array(z, "z", shape=(None, self.dim), dtype=np.float64)

    def log_prob(self, z: object) -> np.ndarray:
        """log p(z) per row of z: (n, dim) -> (n,)."""
        raise NotImplementedError(f"the {self.name} prior has no closed-form log density; "
                                  "estimate it from samples (e.g. a Parzen window)")

    def config(self) -> dict[str, Any]:
        """{"name": ..., and the constructor's keyword arguments}: JSON-able."""
        return {"name": self.name, "dim": self.dim, "scale": self.scale}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items() if k != "name")
        return f"{type(self).__name__}({args})"


class GaussianPrior(Prior):
    """N(0, scale^2 I) in ``dim`` dimensions."""

    name = "gaussian"

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return self.scale * rng.standard_normal((n, self.dim))

    def log_prob(self, z: object) -> np.ndarray:
        z = self.check_z(z)
        with np.errstate(over="ignore"):
            out = (-0.5 * np.sum((z / self.scale) ** 2, axis=1)
                   - self.dim * (np.log(self.scale) + 0.5 * np.log(2.0 * np.pi)))
        check_no_overflow(out, "log p(z)", z=z)  # |z| ~ 1e154 squares to inf
        return out


class LaplacePrior(Prior):
    """Independent Laplace(0, scale) coordinates: p(z) = prod exp(-|z_l| / scale) / (2 scale)
    (variance 2 scale^2)."""

    name = "laplace"

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.laplace(0.0, self.scale, size=(n, self.dim))

    def log_prob(self, z: object) -> np.ndarray:
        z = self.check_z(z)
        return -np.sum(np.abs(z), axis=1) / self.scale - self.dim * np.log(2.0 * self.scale)


class SwissRollPrior(Prior):
    """A 2-D swiss roll: t ~ U(t_min, t_max) (radians), z = (t cos t, t sin t) * scale / t_max
    + noise * N(0, I).  The outer end of the spiral is at radius ``scale``."""

    name = "swiss_roll"

    def __init__(self, dim: int = 2, scale: float = 2.0, noise: float = 0.05,
                 t_min: float = 1.5 * np.pi, t_max: float = 4.5 * np.pi) -> None:
        if dim != 2:
            raise ValueError(f"the swiss roll prior is 2-D: dim must be 2, got {dim!r}")
        super().__init__(dim, scale)
        self.noise = check_scalar(noise, "noise", low=0.0)
        self.t_min = check_scalar(t_min, "t_min", low=0.0, low_inclusive=False)
        self.t_max = check_scalar(t_max, "t_max", low=0.0, low_inclusive=False)
        if self.t_max <= self.t_min:
            raise ValueError(f"t_max must be > t_min, got t_min={self.t_min}, "
                             f"t_max={self.t_max}")

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        t = rng.uniform(self.t_min, self.t_max, size=n)
        z = np.stack([t * np.cos(t), t * np.sin(t)], axis=1) * (self.scale / self.t_max)
        return z + self.noise * rng.standard_normal((n, 2))

    def config(self) -> dict[str, Any]:
        return {**super().config(), "noise": self.noise, "t_min": self.t_min,
                "t_max": self.t_max}


class MixturePrior(Prior):
    """p(z) = (1/C) sum_c N(z; m_c, std^2 I), C = ``n_components``.

    The means are m_c = scale * (cos(2 pi c / C), sin(2 pi c / C), 0, ..., 0) (dim >= 2), or
    evenly spaced on [-scale, scale] when dim = 1.  ``sample_with_labels`` also returns which
    component drew each point (the colour of a prior scatter).
    """

    name = "mixture"

    def __init__(self, dim: int, scale: float = 2.0, n_components: int = 10,
                 std: float = 0.3) -> None:
        super().__init__(dim, scale)
        self.n_components = check_positive_int(n_components, "n_components")
        self.std = check_scalar(std, "std", low=0.0, low_inclusive=False)

    @property
    def means(self) -> np.ndarray:
        """(C, dim) component means."""
        C = self.n_components
        means = np.zeros((C, self.dim))
        if self.dim == 1:
            means[:, 0] = np.linspace(-self.scale, self.scale, C) if C > 1 else 0.0
        else:
            angle = 2.0 * np.pi * np.arange(C) / C
            means[:, 0], means[:, 1] = self.scale * np.cos(angle), self.scale * np.sin(angle)
        return means

    def sample_with_labels(self, n: int, rng: np.random.Generator | int
                           ) -> tuple[np.ndarray, np.ndarray]:
        """(z: (n, dim), component: (n,) ints in [0, C))."""
        n = check_positive_int(n, "n")
        rng = check_rng(rng)
        c = rng.integers(0, self.n_components, size=n)
        return self.means[c] + self.std * rng.standard_normal((n, self.dim)), c

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return self.sample_with_labels(n, rng)[0]

    def log_prob(self, z: object) -> np.ndarray:
        """log (1/C) sum_c N(z; m_c, std^2 I), by log-sum-exp over c (no underflow far from
        every mean)."""
        z = self.check_z(z)
        with np.errstate(over="ignore"):
            sq = np.sum((z[:, None, :] - self.means[None]) ** 2, axis=2)  # (n, C)
        check_no_overflow(sq, "log p(z)", z=z)
        log_comp = (-0.5 * sq / self.std ** 2
                    - self.dim * (np.log(self.std) + 0.5 * np.log(2.0 * np.pi)))
        return logsumexp(log_comp, axis=1) - np.log(self.n_components)

    def config(self) -> dict[str, Any]:
        return {**super().config(), "n_components": self.n_components, "std": self.std}


#: name -> prior class
PRIORS: dict[str, type[Prior]] = {
    cls.name: cls for cls in (GaussianPrior, LaplacePrior, SwissRollPrior, MixturePrior)
}


def make_prior(name: str, dim: int, **kwargs: Any) -> Prior:
    """The prior called ``name`` ("gaussian", "laplace", "swiss_roll", "mixture") in ``dim``
    dimensions; ``kwargs`` go to its constructor (``scale``, and ``noise``/``t_min``/``t_max``
    for the swiss roll, ``n_components``/``std`` for the mixture).
    ``make_prior(**prior.config())`` rebuilds ``prior``."""
    if name not in PRIORS:
        raise ValueError(f"prior must be one of {sorted(PRIORS)}, got {name!r}")
    return PRIORS[name](dim, **kwargs)
