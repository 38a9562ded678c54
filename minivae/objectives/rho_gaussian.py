"""The rho-VAE posterior: a Gaussian with an AR(1)-structured covariance (Ferdowsi et al., 2019,
"rho-VAE: Autoregressive parametrization of the VAE encoder"; the review's section 6.2).

One example's posterior over L latent dimensions is

    q(z | x) = N(mu, s * T(rho)),     T(rho)_ij = rho^|i - j|     (the AR(1) correlation matrix)

with only two numbers beyond the mean: a variance scale s > 0 and a correlation rho in (-1, 1).
The encoder outputs unconstrained values, ``logvar = log s`` (as for the diagonal Gaussian) and
``rho_raw`` with rho = tanh(rho_raw).  Shapes: ``mu: (N, L)``, ``logvar: (N,)``,
``rho_raw: (N,)``.

Sampling is the AR(1) recursion itself, the loop the lesson writes on the board
(eps ~ N(0, I), c = sqrt(1 - rho^2)):

    u_1 = sqrt(s) eps_1
    u_i = rho u_{i-1} + sqrt(s) c eps_i         (i = 2..L)
    z   = mu + u

so Var(u_i) = s and Cov(u_i, u_j) = s rho^|i-j|: exactly s T(rho).  Its backward is the reversed
loop (as backpropagation through time is for a recurrent layer).

KL to the standard normal prior, in closed form (det T = (1 - rho^2)^(L-1), trace(s T) = L s):

    KL = 1/2 [ L s + ||mu||^2 - L - L log s - (L - 1) log(1 - rho^2) ]

Numerics.  1 - rho^2 = sech^2(rho_raw), so log(1 - rho^2) = -2 log cosh(rho_raw) is computed from
rho_raw (never as 1 - tanh^2, which cancels).  ``rho_raw`` is clipped to
[-RHO_RAW_MAX, RHO_RAW_MAX] with RHO_RAW_MAX = 5, i.e. |rho| <= tanh(5) = 0.99991, and the gradient
is zero outside (like :func:`~minivae.objectives.distributions.clamp_logvar`).  Why 5:
1 - rho^2 >= sech^2(5) = 1.8e-4 stays three orders above float32's epsilon, so the conditional
scale c is accurate in either precision; the condition number of T, at most
(1 + |rho|) / (1 - |rho|) ~ e^10 = 2.2e4, keeps the explicit covariance (and any Cholesky or
log-determinant of it) accurate to ~1e-12 in float64; and beyond it the posterior is in effect
one draw repeated over every dimension (the encoder's tanh is saturated there anyway,
tanh'(5) = 1.8e-4).  ``logvar`` is used as given: encoders clamp it with ``clamp_logvar``.

Gradient methods return the gradient of the *sum over the batch* (scale it for a mean), as in
:mod:`~minivae.objectives.distributions`.
"""

from __future__ import annotations

import numpy as np

from minivae._validation import check_array, check_scalar
from minivae.objectives.distributions import LOG_2PI, _standard_normal_noise, clamp_logvar

RHO_RAW_MAX = 5.0
_LOG_2 = float(np.log(2.0))  # a Python float: float32 inputs stay float32


def log_one_minus_tanh_sq(a: np.ndarray) -> np.ndarray:
    """log(1 - tanh(a)^2) = -2 log cosh(a) = 2 (log 2 - |a| - log1p(exp(-2|a|))), stable for
    any a (1 - tanh^2 would cancel to 0 long before the logarithm does).  a: any shape."""
    a = check_array(a, "a")
    a = np.abs(a if a.dtype.kind == "f" else a.astype(np.float64))
    return 2.0 * (_LOG_2 - a - np.log1p(np.exp(-2.0 * a)))


class RhoGaussian:
    """N(mu, s T(rho)) for a batch, s = exp(logvar), rho = tanh(clip(rho_raw)).

    mu: (N, L), logvar: (N,), rho_raw: (N,).  ``rsample`` keeps its noise eps (and the path u),
    so ``rsample_backward`` and a finite-difference check that reuses eps see the same noise.
    """

    def __init__(self, mu: np.ndarray, logvar: np.ndarray, rho_raw: np.ndarray) -> None:
        mu = check_array(mu, "mu", ndim=2)
        if mu.dtype.kind != "f":
            mu = mu.astype(np.float64)  # ints/bools exactly; float32 stays float32
        N = mu.shape[0]
        self.mu = mu
        self.logvar = check_array(logvar, "logvar", shape=(N,), dtype=mu.dtype)
        rho_raw = check_array(rho_raw, "rho_raw", shape=(N,), dtype=mu.dtype)
        # the clip has zero slope outside the bounds: gradients pass only where inside
        self.rho_inside = np.abs(rho_raw) < RHO_RAW_MAX
        self.rho_raw = np.clip(rho_raw, -RHO_RAW_MAX, RHO_RAW_MAX)
        self.eps: np.ndarray | None = None
        self.u: np.ndarray | None = None

    # -- the parameters in their own units ----------------------------------------------------
    @property
    def latent_dim(self) -> int:
        return int(self.mu.shape[1])

    @property
    def variance(self) -> np.ndarray:
        """s: (N,), the marginal variance of every coordinate (T has ones on its diagonal)."""
        return np.exp(self.logvar)

    @property
    def rho(self) -> np.ndarray:
        """rho: (N,), the correlation of neighbouring coordinates."""
        return np.tanh(self.rho_raw)

    @property
    def innovation_scale(self) -> np.ndarray:
        """c = sqrt(1 - rho^2) = sech(rho_raw): (N,)."""
        return 1.0 / np.cosh(self.rho_raw)

    def covariance(self) -> np.ndarray:
        """The explicit covariance s T(rho): (N, L, L) (for tests and teaching; the sampler and
        the KL never build it)."""
        i = np.arange(self.latent_dim)
        lag = np.abs(i[:, None] - i[None, :])
        return self.variance[:, None, None] * self.rho[:, None, None] ** lag

    # -- sampling ------------------------------------------------------------------------------
    def rsample(self, rng: np.random.Generator | int | None, n_samples: int | None = None,
                eps: np.ndarray | None = None) -> np.ndarray:
        """Reparameterized sample by the AR(1) recursion.  Returns z: (N, L), or (K, N, L) with
        ``n_samples=K``.  Pass ``eps`` (the same shape) to reuse fixed noise."""
        eps = _standard_normal_noise(self.mu, rng, n_samples, eps)
        sd, rho, c = np.exp(0.5 * self.logvar), self.rho, self.innovation_scale
        u = np.empty_like(eps)
        u[..., 0] = sd * eps[..., 0]
        for i in range(1, self.latent_dim):  # u_i = rho u_{i-1} + sqrt(s) c eps_i
            u[..., i] = rho * u[..., i - 1] + sd * c * eps[..., i]
        self.eps, self.u = eps, u
        return self.mu + u

    def rsample_backward(self, dz: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Backprop through :meth:`rsample`: returns (dmu, dlogvar, drho_raw), shapes of the
        parameters; with K samples the gradients are summed over the sample axis.

        The reversed loop: g_L = dz_L, g_i = dz_i + rho g_{i+1} is dLoss/du_i with u_i's
        influence on later coordinates included.  Then
        d rho = sum_{i>=2} g_i u_{i-1},  d sqrt(s) = g_1 eps_1 + c sum_{i>=2} g_i eps_i,
        d c = sqrt(s) sum_{i>=2} g_i eps_i;  and by the chain rule d logvar = d sqrt(s) sqrt(s)/2,
        d rho_raw = d rho (1 - rho^2) + d c dc/drho_raw  with dc/drho_raw = -c rho.
        """
        if self.eps is None or self.u is None:
            raise RuntimeError("rsample_backward called before rsample: no noise is stored")
        dz = check_array(dz, "dz", shape=self.eps.shape)
        sd, rho, c = np.exp(0.5 * self.logvar), self.rho, self.innovation_scale
        eps, u = self.eps, self.u
        g = dz[..., -1]
        d_rho = np.zeros_like(g)
        d_innov = np.zeros_like(g)  # sum_{i>=2} g_i eps_i
        for i in range(self.latent_dim - 1, 0, -1):
            d_rho = d_rho + g * u[..., i - 1]
            d_innov = d_innov + g * eps[..., i]
            g = dz[..., i - 1] + rho * g  # g_{i-1}
        d_sd = g * eps[..., 0] + c * d_innov
        d_c = sd * d_innov
        dmu = dz
        if dz.ndim == 3:  # K samples: each one used the same parameters
            dmu, d_sd, d_c, d_rho = dmu.sum(0), d_sd.sum(0), d_c.sum(0), d_rho.sum(0)
        dlogvar = 0.5 * sd * d_sd
        drho_raw = (d_rho * c**2 - d_c * c * rho) * self.rho_inside
        return dmu, dlogvar, drho_raw

    def sample(self, rng: np.random.Generator | int, n_samples: int | None = None) -> np.ndarray:
        """Like :meth:`rsample` but keeps no noise (for drawing samples, not training)."""
        kept = self.eps, self.u
        z = self.rsample(rng, n_samples)
        self.eps, self.u = kept
        return z

    # -- density ---------------------------------------------------------------------------------
    def log_prob(self, z: np.ndarray) -> np.ndarray:
        """log q(z) by the chain rule of the AR(1) process: z: (..., N, L) -> (..., N).

        log N(u_1; 0, s) + sum_{i>=2} log N(u_i; rho u_{i-1}, s (1 - rho^2)),  u = z - mu.
        (No gradient method: the KL below is in closed form; this serves IWAE-style estimates
        and the Monte Carlo checks.)
        """
        z = check_array(z, "z", ndim=(2, 3))
        if z.shape[-2:] != self.mu.shape:
            raise ValueError(f"z must end with shape {self.mu.shape}, got {z.shape}")
        u = z - self.mu
        s, rho = self.variance, self.rho
        log_c2 = log_one_minus_tanh_sq(self.rho_raw)
        first = -0.5 * (LOG_2PI + self.logvar + u[..., 0] ** 2 / s)
        resid = u[..., 1:] - rho[:, None] * u[..., :-1]
        rest = -0.5 * (LOG_2PI + (self.logvar + log_c2)[:, None]
                       + resid**2 / (s * np.exp(log_c2))[:, None])
        return first + rest.sum(axis=-1)

    # -- KL to N(0, I) ---------------------------------------------------------------------------
    def kl_standard_normal(self) -> np.ndarray:
        """KL(q || N(0, I)) per example, (N,):
        1/2 [L s + ||mu||^2 - L - L log s - (L - 1) log(1 - rho^2)]."""
        L = self.latent_dim
        return 0.5 * (L * self.variance + np.sum(self.mu**2, axis=-1) - L - L * self.logvar
                      - (L - 1) * log_one_minus_tanh_sq(self.rho_raw))

    def kl_standard_normal_grad(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(dmu, dlogvar, drho_raw) of the summed KL: mu, L (s - 1) / 2, and (L - 1) rho
        (since d/da [-log(1 - tanh^2 a)] = 2 tanh a), zero where rho_raw was clipped."""
        L = self.latent_dim
        return (self.mu.copy(), 0.5 * L * (self.variance - 1.0),
                (L - 1) * self.rho * self.rho_inside)

    def elbo_backward(self, dz: np.ndarray, dkl: float
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(dmu, dlogvar, drho_raw) of ``f(z) + dkl * sum_n KL[n]``: the decoder's gradient dz
        through the sample plus the KL gradient weighted by ``dkl`` (e.g. beta / N)."""
        dkl = check_scalar(dkl, "dkl")
        grads = self.rsample_backward(dz)
        kls = self.kl_standard_normal_grad()
        return tuple(g + dkl * k for g, k in zip(grads, kls))  # type: ignore[return-value]


# -- from an encoder's output and back ------------------------------------------------------------
def rho_encoder_posterior(h: np.ndarray) -> tuple[RhoGaussian, np.ndarray]:
    """q(z | x) from an encoder's output h: (N, L + 2): the first L columns the mean, column L
    the log-variance scale log s (clamped to [LOGVAR_MIN, LOGVAR_MAX]), column L + 1 rho_raw.

    Returns (q, inside) with ``inside`` (N,) where the log-variance clamp passes gradients (the
    clip of rho_raw is inside q).  The rho-VAE counterpart of
    :func:`~minivae.objectives.elbo.encoder_posterior`.
    """
    h = check_array(h, "h", ndim=2)
    if h.shape[1] < 3:
        raise ValueError(f"h must have L + 2 >= 3 columns (mean, log-variance, rho_raw), got "
                         f"shape {h.shape}")
    L = h.shape[1] - 2
    logvar, inside = clamp_logvar(h[:, L])
    return RhoGaussian(np.ascontiguousarray(h[:, :L]), logvar, h[:, L + 1].copy()), inside


def rho_encoder_backward(q: RhoGaussian, inside: np.ndarray, dz: np.ndarray,
                         dkl: float) -> np.ndarray:
    """d loss / d h (N, L + 2) for the encoder's backward pass, the loss being
    ``f(z) + dkl * sum_n KL[n]`` with dz = df/dz (N, L) (1/N included) and dkl e.g. beta / N;
    no gradient passes where the log-variance was clamped."""
    if not isinstance(q, RhoGaussian):
        raise TypeError(f"q must be a RhoGaussian, got {type(q).__name__}")
    inside = check_array(inside, "inside", shape=(q.mu.shape[0],))
    dmu, dlogvar, drho_raw = q.elbo_backward(dz, dkl)
    return np.concatenate([dmu, (dlogvar * inside)[:, None], drho_raw[:, None]], axis=1)
