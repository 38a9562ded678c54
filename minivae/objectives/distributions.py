"""Diagonal Gaussian and Bernoulli distributions: sampling, densities, KL, and their gradients.

Conventions: a batch of N distributions over L dimensions, so ``mu, logvar: (N, L)``.  Densities
and KL are summed over L and returned per example, shape (N,).  Gradient methods return the
gradient of the *sum over the batch* of the per-example quantity (scale it for a mean).

The log-variance parameterisation keeps the variance positive without constraints; encoders clamp
it to ``[LOGVAR_MIN, LOGVAR_MAX]`` with :func:`clamp_logvar` so ``exp`` can neither overflow nor
underflow to a zero standard deviation (exp(-30/2) ~ 3e-7, exp(20/2) ~ 2e4).
"""

from __future__ import annotations

import numpy as np

from minivae._validation import check_array, check_positive_int, check_rng, check_same_shape
from minivae.nn.functional import sigmoid, softplus

LOG_2PI = float(np.log(2.0 * np.pi))
LOGVAR_MIN = -30.0
LOGVAR_MAX = 20.0


def clamp_logvar(logvar: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Clip to [LOGVAR_MIN, LOGVAR_MAX]; returns (clipped, inside) where ``inside`` is the boolean
    mask through which gradients pass (the clip has zero slope outside the bounds)."""
    inside = (logvar > LOGVAR_MIN) & (logvar < LOGVAR_MAX)
    return np.clip(logvar, LOGVAR_MIN, LOGVAR_MAX), inside


class DiagonalGaussian:
    """N(mu, diag(exp(logvar))) for a batch.  mu, logvar: (N, L).

    ``rsample`` draws z = mu + exp(0.5 * logvar) * eps with eps ~ N(0, I) from the given
    generator and *keeps eps*, so ``rsample_backward`` (and a finite-difference check that reuses
    the same eps) sees exactly the same noise.
    """

    def __init__(self, mu: np.ndarray, logvar: np.ndarray) -> None:
        mu = check_array(mu, "mu", ndim=(1, 2, 3))
        logvar = check_array(logvar, "logvar", ndim=(1, 2, 3))
        check_same_shape(mu, logvar, "mu", "logvar")
        self.mu = mu
        self.logvar = logvar
        self.eps: np.ndarray | None = None

    # -- moments ---------------------------------------------------------------------------
    @property
    def std(self) -> np.ndarray:
        return np.exp(0.5 * self.logvar)

    @property
    def variance(self) -> np.ndarray:
        return np.exp(self.logvar)

    # -- sampling ------------------------------------------------------------------------------
    def rsample(
        self,
        rng: np.random.Generator | int,
        n_samples: int | None = None,
        eps: np.ndarray | None = None,
    ) -> np.ndarray:
        """Reparameterized sample.  Returns z: (N, L), or (K, N, L) with ``n_samples=K``.

        Pass ``eps`` to reuse fixed noise (gradient checks); otherwise it is drawn from ``rng``.
        """
        shape = self.mu.shape if n_samples is None else (
            check_positive_int(n_samples, "n_samples"),) + self.mu.shape
        if eps is None:
            eps = check_rng(rng).standard_normal(shape).astype(self.mu.dtype, copy=False)
        else:
            eps = check_array(eps, "eps", shape=shape, dtype=self.mu.dtype)
        self.eps = eps
        return self.mu + self.std * eps

    def rsample_backward(self, dz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Backprop through z = mu + exp(0.5 logvar) * eps.  Returns (dmu, dlogvar), shapes of mu.

        dz/dmu = 1, dz/dlogvar = 0.5 * exp(0.5 logvar) * eps = 0.5 * (z - mu).
        With K samples, gradients are summed over the sample axis.
        """
        if self.eps is None:
            raise RuntimeError("rsample_backward called before rsample: no noise is stored")
        dz = np.asarray(dz)
        if dz.shape != self.eps.shape:
            raise ValueError(f"dz must have shape {self.eps.shape}, got {dz.shape}")
        dmu = dz
        dlogvar = dz * 0.5 * self.std * self.eps
        if dz.ndim == self.mu.ndim + 1:  # K samples: each one used mu and logvar
            dmu, dlogvar = dmu.sum(axis=0), dlogvar.sum(axis=0)
        return dmu, dlogvar

    def sample(self, rng: np.random.Generator | int, n_samples: int | None = None) -> np.ndarray:
        """Like :meth:`rsample` but keeps no noise (for drawing samples, not training)."""
        eps_before = self.eps
        z = self.rsample(rng, n_samples)
        self.eps = eps_before
        return z

    # -- densities -------------------------------------------------------------------------------
    def log_prob(self, z: np.ndarray) -> np.ndarray:
        """log N(z; mu, var) summed over the last axis.  z: (..., N, L) -> (..., N)."""
        z = check_array(z, "z")
        if z.shape[-self.mu.ndim:] != self.mu.shape:
            raise ValueError(f"z must end with shape {self.mu.shape}, got {z.shape}")
        lp = -0.5 * (LOG_2PI + self.logvar + (z - self.mu) ** 2 * np.exp(-self.logvar))
        return lp.sum(axis=-1)

    def log_prob_grad(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Gradients of sum(log_prob(z)): returns (dz, dmu, dlogvar).

        d/dz = -(z - mu)/var; d/dmu = (z - mu)/var; d/dlogvar = -0.5 + 0.5 (z - mu)^2 / var.
        When z carries extra leading sample axes, dmu and dlogvar are summed over them.
        """
        z = check_array(z, "z")
        if z.shape[-self.mu.ndim:] != self.mu.shape:
            raise ValueError(f"z must end with shape {self.mu.shape}, got {z.shape}")
        inv_var = np.exp(-self.logvar)
        diff = z - self.mu
        dz = -diff * inv_var
        dmu = diff * inv_var
        dlogvar = -0.5 + 0.5 * diff**2 * inv_var
        extra = z.ndim - self.mu.ndim
        if extra:
            axes = tuple(range(extra))
            dmu, dlogvar = dmu.sum(axis=axes), dlogvar.sum(axis=axes)
        return dz, dmu, np.broadcast_to(dlogvar, self.mu.shape).copy()

    def entropy(self) -> np.ndarray:
        """Differential entropy per example: 0.5 * sum(log 2pi e + logvar)."""
        return 0.5 * np.sum(LOG_2PI + 1.0 + self.logvar, axis=-1)

    # -- KL divergences -----------------------------------------------------------------------
    def kl_standard_normal(self, per_dimension: bool = False) -> np.ndarray:
        """KL(q || N(0, I)) = 0.5 * sum(mu^2 + exp(logvar) - 1 - logvar).

        Returns (N,), or the per-dimension terms (N, L) with ``per_dimension=True`` (used for
        free bits and for counting active units).
        """
        terms = 0.5 * (self.mu**2 + np.exp(self.logvar) - 1.0 - self.logvar)
        return terms if per_dimension else terms.sum(axis=-1)

    def kl_standard_normal_grad(self) -> tuple[np.ndarray, np.ndarray]:
        """(dmu, dlogvar) of the summed KL to N(0, I): mu and 0.5 * (exp(logvar) - 1)."""
        return self.mu.copy(), 0.5 * (np.exp(self.logvar) - 1.0)

    def elbo_backward(self, dz: np.ndarray, dkl: float | np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
        """(dmu, dlogvar) of an ELBO-style loss ``f(z) + sum_{n,l} dkl_l * KL[n, l]``: the
        decoder's gradient dz = df/dz through the reparameterization, plus the closed-form KL
        gradient weighted by ``dkl`` (a scalar, or (L,) per dimension as free bits give it;
        e.g. beta / N).  dz: (N, L) like mu."""
        dmu, dlogvar = self.rsample_backward(dz)
        kmu, klogvar = self.kl_standard_normal_grad()
        return dmu + dkl * kmu, dlogvar + dkl * klogvar

    def kl(self, other: DiagonalGaussian) -> np.ndarray:
        """KL(self || other) per example, closed form for diagonal Gaussians.

        Here p = self and q = other (in a VAE, self is usually the posterior and other the
        prior, e.g. a conditional prior):

        0.5 * sum(lv_q - lv_p + (exp(lv_p) + (mu_p - mu_q)^2) / exp(lv_q) - 1).
        """
        self._check_other(other)
        terms = 0.5 * (
            other.logvar - self.logvar
            + (np.exp(self.logvar) + (self.mu - other.mu) ** 2) * np.exp(-other.logvar)
            - 1.0
        )
        return terms.sum(axis=-1)

    def kl_grad(self, other: DiagonalGaussian):
        """Gradients of the summed KL(self || other): (dmu_p, dlogvar_p, dmu_q, dlogvar_q)."""
        self._check_other(other)
        inv_var_q = np.exp(-other.logvar)
        diff = self.mu - other.mu
        dmu_p = diff * inv_var_q
        dlogvar_p = 0.5 * (np.exp(self.logvar) * inv_var_q - 1.0)
        dmu_q = -dmu_p
        dlogvar_q = 0.5 * (1.0 - (np.exp(self.logvar) + diff**2) * inv_var_q)
        return dmu_p, dlogvar_p, dmu_q, dlogvar_q

    def _check_other(self, other: object) -> None:
        if not isinstance(other, DiagonalGaussian):
            raise TypeError(f"other must be a DiagonalGaussian, got {type(other).__name__}")
        check_same_shape(self.mu, other.mu, "self.mu", "other.mu")


def standard_normal_log_prob(z: np.ndarray) -> np.ndarray:
    """log N(z; 0, I) summed over the last axis."""
    z = np.asarray(z)
    return -0.5 * np.sum(LOG_2PI + z**2, axis=-1)


class Bernoulli:
    """Independent Bernoulli variables parameterized by logits.  logits: (N, D)."""

    def __init__(self, logits: np.ndarray) -> None:
        self.logits = check_array(logits, "logits")

    @property
    def probs(self) -> np.ndarray:
        return sigmoid(self.logits)

    def log_prob(self, x: np.ndarray) -> np.ndarray:
        """sum_d [x log p + (1 - x) log(1 - p)] = sum_d [x l - softplus(l)], stable."""
        x = check_array(x, "x")
        check_same_shape(self.logits, x, "logits", "x")
        return np.sum(x * self.logits - softplus(self.logits), axis=-1)

    def sample(self, rng: np.random.Generator | int) -> np.ndarray:
        """Binary samples with the same shape as logits."""
        rng = check_rng(rng)
        return (rng.random(self.logits.shape) < self.probs).astype(self.logits.dtype)
