"""Diagonal Gaussian and Bernoulli distributions: sampling, densities, KL, and their gradients;
the standard normal's quantile function :func:`norm_ppf`.

Conventions: a batch of N distributions over L dimensions, so ``mu, logvar: (N, L)``.  Densities
and KL are summed over L and returned per example, shape (N,).  Gradient methods return the
gradient of the *sum over the batch* of the per-example quantity (scale it for a mean).

The log-variance parameterisation keeps the variance positive without constraints; encoders clamp
it to ``[LOGVAR_MIN, LOGVAR_MAX]`` with :func:`clamp_logvar` so ``exp`` can neither overflow nor
underflow to a zero standard deviation (exp(-30/2) ~ 3e-7, exp(20/2) ~ 2e4).
"""

from __future__ import annotations

import numpy as np

from minivae._validation import (
    check_array,
    check_no_overflow,
    check_positive_int,
    check_rng,
    check_same_shape,
)
from minivae.nn.functional import sigmoid, softplus

LOG_2PI = float(np.log(2.0 * np.pi))
LOGVAR_MIN = -30.0
LOGVAR_MAX = 20.0


def gaussian_log_density(x: np.ndarray, mean: np.ndarray, logvar: np.ndarray) -> np.ndarray:
    """log N(x; mean, exp(logvar)) element by element (no sum), arrays of one shape:
    ``-0.5 * (log 2pi + logvar + (x - mean)^2 / exp(logvar))``.

    Inputs are validated (finite real arrays of one shape); a value that overflows (e.g.
    |x - mean| > 1e154 in float64) raises :class:`~minivae._validation.NumericalOverflowError`
    naming the largest input, instead of returning -inf.
    """
    # ints and bools are computed in float64; float32 stays float32
    x, mean, logvar = (_as_float(check_array(a, name))
                       for a, name in ((x, "x"), (mean, "mean"), (logvar, "logvar")))
    check_same_shape(x, mean, "x", "mean")
    check_same_shape(x, logvar, "x", "logvar")
    with np.errstate(over="ignore", invalid="ignore"):
        out = _log_density(x, mean, logvar)
    check_no_overflow(out, "gaussian_log_density", x=x, mean=mean, logvar=logvar)
    return out


def _as_float(a: np.ndarray) -> np.ndarray:
    return a.astype(np.result_type(a, 1.0), copy=False)  # ints/bools -> float64, f32 stays


def _log_density(x: np.ndarray, mean: np.ndarray, logvar: np.ndarray) -> np.ndarray:
    """:func:`gaussian_log_density` without the checks, for callers that validated already
    (the losses and the models' inner loops)."""
    return -0.5 * (LOG_2PI + logvar + (x - mean) ** 2 * np.exp(-logvar))


def clamp_logvar(logvar: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Clip to [LOGVAR_MIN, LOGVAR_MAX]; returns (clipped, inside) where ``inside`` is the boolean
    mask through which gradients pass (the clip has zero slope outside the bounds)."""
    logvar = check_array(logvar, "logvar", allow_nan=True)  # NaN stays NaN: caught downstream
    inside = (logvar > LOGVAR_MIN) & (logvar < LOGVAR_MAX)
    return np.clip(logvar, LOGVAR_MIN, LOGVAR_MAX), inside


def _standard_normal_noise(mu: np.ndarray, rng: np.random.Generator | int | None,
                          n_samples: int | None = None,
                          eps: np.ndarray | None = None) -> np.ndarray:
    """The eps of a reparameterized sample shaped like ``mu`` (N, L), or (K, N, L) with
    ``n_samples=K``, in mu's dtype: drawn from ``rng``, or ``eps`` checked to that shape."""
    shape = mu.shape if n_samples is None else (
        check_positive_int(n_samples, "n_samples"),) + mu.shape
    if eps is None:
        return check_rng(rng).standard_normal(shape).astype(mu.dtype, copy=False)
    return check_array(eps, "eps", shape=shape, dtype=mu.dtype)


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
        eps = _standard_normal_noise(self.mu, rng, n_samples, eps)
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
        with np.errstate(over="ignore", invalid="ignore"):
            out = _log_density(z, self.mu, self.logvar).sum(axis=-1)
        check_no_overflow(out, "log_prob", z=z, mu=self.mu, logvar=self.logvar)
        return out

    def log_prob_grad(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Gradients of sum(log_prob(z)): returns (dz, dmu, dlogvar).

        d/dz = -(z - mu)/var; d/dmu = (z - mu)/var; d/dlogvar = -0.5 + 0.5 (z - mu)^2 / var.
        When z carries extra leading sample axes, dmu and dlogvar are summed over them.
        """
        z = check_array(z, "z")
        if z.shape[-self.mu.ndim:] != self.mu.shape:
            raise ValueError(f"z must end with shape {self.mu.shape}, got {z.shape}")
        with np.errstate(over="ignore", invalid="ignore"):
            inv_var = np.exp(-self.logvar)
            diff = z - self.mu
            dz = -diff * inv_var
            dmu = diff * inv_var
            dlogvar = -0.5 + 0.5 * diff**2 * inv_var
        check_no_overflow(dlogvar, "log_prob_grad", z=z, mu=self.mu, logvar=self.logvar)
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


def check_posterior(q: object, name: str = "q") -> DiagonalGaussian:
    """``q`` must be a :class:`DiagonalGaussian` (the objectives take the posterior object)."""
    if not isinstance(q, DiagonalGaussian):
        raise TypeError(f"{name} must be a DiagonalGaussian (e.g. from encoder_posterior), got "
                        f"{type(q).__name__}")
    return q


def standard_normal_log_prob(z: np.ndarray) -> np.ndarray:
    """log N(z; 0, I) summed over the last axis."""
    z = check_array(z, "z", ndim=(1, 2, 3))
    with np.errstate(over="ignore"):
        out = -0.5 * np.sum(LOG_2PI + z**2, axis=-1)
    check_no_overflow(out, "standard_normal_log_prob", z=z)
    return out


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


# -- the standard normal's quantile function (no SciPy): Wichura's algorithm AS 241 (PPND16) --
# Rational approximations of Wichura (1988), "Algorithm AS 241: The percentage points of the
# normal distribution", Applied Statistics 37, 477-484; accurate to about 1e-16.  Coefficients
# are listed from the highest power down (the order np.polyval expects).
# |p - 0.5| <= 0.425: x = q * A(r) / B(r) with q = p - 0.5, r = 0.180625 - q^2.
_A = (2.5090809287301226727e3, 3.3430575583588128105e4, 6.7265770927008700853e4,
      4.5921953931549871457e4, 1.3731693765509461125e4, 1.9715909503065514427e3,
      1.3314166789178437745e2, 3.3871328727963666080e0)
_B = (5.2264952788528545610e3, 2.8729085735721942674e4, 3.9307895800092710610e4,
      2.1213794301586595867e4, 5.3941960214247511077e3, 6.8718700749205790830e2,
      4.2313330701600911252e1, 1.0)
# Tails, r = sqrt(-log(min(p, 1 - p))) <= 5: x = C(r - 1.6) / D(r - 1.6).
_C = (7.74545014278341407640e-4, 2.27238449892691845833e-2, 2.41780725177450611770e-1,
      1.27045825245236838258e0, 3.64784832476320460504e0, 5.76949722146069140550e0,
      4.63033784615654529590e0, 1.42343711074968357734e0)
_D = (1.05075007164441684324e-9, 5.47593808499534494600e-4, 1.51986665636164571966e-2,
      1.48103976427480074590e-1, 6.89767334985100004550e-1, 1.67638483018380384940e0,
      2.05319162663775882187e0, 1.0)
# Far tails, r > 5 (p < ~1.4e-11): x = E(r - 5) / F(r - 5).
_E = (2.01033439929228813265e-7, 2.71155556874348757815e-5, 1.24266094738807843860e-3,
      2.65321895265761230930e-2, 2.96560571828504891230e-1, 1.78482653991729133580e0,
      5.46378491116411436990e0, 6.65790464350110377720e0)
_F = (2.04426310338993978564e-15, 1.42151175831644588870e-7, 1.84631831751005468180e-5,
      7.86869131145613259100e-4, 1.48753612908506148525e-2, 1.36929880922735805310e-1,
      5.99832206555887937690e-1, 1.0)


def norm_ppf(p: float | np.ndarray) -> float | np.ndarray:
    """Quantile function (inverse CDF) of the standard normal distribution, in NumPy.

    Wichura's AS 241 rational approximations: one for the centre, |p - 0.5| <= 0.425, and two in
    r = sqrt(-log(min(p, 1 - p))) for the tails; the result is accurate to ~1e-15 relative.
    (For p close to 1 the answer is limited by how well 1 - p is represented: pass the small
    tail probability and negate, norm_ppf(1 - p) = -norm_ppf(p).)

    Inputs:
    - p: probability or array of probabilities in [0, 1] (any shape).

    Returns:
    - x with Phi(x) = p, same shape as p (a Python float for scalar input); -inf at 0, +inf at 1.
    """
    arr = check_array(p, "p", dtype=np.float64, allow_empty=True)
    if arr.size and (arr.min() < 0.0 or arr.max() > 1.0):
        raise ValueError(
            f"p must hold probabilities in [0, 1], got values in [{arr.min():.6g}, {arr.max():.6g}]"
        )
    q = arr - 0.5
    out = np.empty_like(arr)
    central = np.abs(q) <= 0.425
    qc = q[central]
    r = 0.180625 - qc * qc
    out[central] = qc * np.polyval(_A, r) / np.polyval(_B, r)

    tail = ~central
    # The smaller of p and 1 - p; min(p, 1 - p) > 0 except at the end points, handled below.
    pt = np.minimum(arr[tail], 1.0 - arr[tail])
    with np.errstate(divide="ignore"):
        r = np.sqrt(-np.log(pt))
    near = r <= 5.0
    x = np.empty_like(r)
    x[near] = np.polyval(_C, r[near] - 1.6) / np.polyval(_D, r[near] - 1.6)
    far = ~near & np.isfinite(r)
    x[far] = np.polyval(_E, r[far] - 5.0) / np.polyval(_F, r[far] - 5.0)
    x[~np.isfinite(r)] = np.inf  # p exactly 0 or 1
    out[tail] = np.where(q[tail] < 0.0, -x, x)
    return float(out) if out.ndim == 0 else out
