"""The inverse autoregressive flow posterior (VAE-IAF; Kingma, Salimans, Jozefowicz, Chen,
Sutskever & Welling, 2016, "Improved Variational Inference with Inverse Autoregressive Flow").

The encoder gives, per example, a mean mu, a log-variance logvar and a context c (each (N, L)).
A diagonal Gaussian sample is pushed through K flow steps, each a small MADE
(:class:`~minivae.nn.masked_dense.MADE`) fed with the previous z and the context::

    z_0 = mu + sigma * eps,                       eps ~ N(0, I),  sigma = exp(logvar / 2)
    [m_k, s_k] = MADE_k(z_{k-1}, c),              sigma_k = sigmoid(s_k + GATE_BIAS)
    z_k = sigma_k * z_{k-1} + (1 - sigma_k) * m_k        (the paper's LSTM-type update, eq. 14)

Because m_k and s_k at coordinate i depend only on the coordinates before i (in step k's
ordering), the Jacobian dz_k / dz_{k-1} is triangular with diagonal sigma_k, so

    log q(z_K | x) = sum_i log N(eps_i; 0, 1) - sum_i log sigma_i - sum_k sum_i log sigma_k,i.

Each step uses its own seeded ordering (:func:`~minivae.nn.masked_dense.made_order` with seed
k): part of the architecture, so a model rebuilt from its config has the same masks.
GATE_BIAS = 1 starts sigma_k near sigmoid(1) = 0.73, close to the identity map, as the paper
advises (a forget-gate bias).

KL.  q(z_K | x) has no closed-form KL to p(z) = N(0, I); the model uses the single-sample Monte
Carlo estimate at the very z it decodes, KL ~ log q(z_K | x) - log p(z_K), differentiated
through z_K (its expectation is the KL; it is unbiased, not exact).

Its density is known only at its own samples (inverting the flow would take L sequential MADE
passes per step): :meth:`IAFPosterior.log_prob` returns it for the samples the posterior drew
last, which is what the ELBO and importance-weighted bounds need.
"""

from __future__ import annotations

import numpy as np

from minivae._validation import check_array, check_positive_int, check_rng, check_scalar
from minivae.nn.functional import log_sigmoid, sigmoid
from minivae.nn.layer import Layer
from minivae.nn.masked_dense import MADE, made_order
from minivae.objectives.distributions import (
    LOG_2PI,
    _standard_normal_noise,
    clamp_logvar,
    standard_normal_log_prob,
)

GATE_BIAS = 1.0


class IAFFamily(Layer):
    """The "iaf" posterior family of :mod:`minivae.objectives.posteriors`: K MADE steps (its
    trainable parameters, "steps.k.*"), the encoder width 3L ([mu, logvar, context]), the prior
    N(0, I).

    Args: latent_dim L; rng (weight initialisation); dtype; n_steps K (default 2);
    hidden_size of each MADE (default 4L).
    """

    name = "iaf"
    analytic_kl = False
    objectives = ("elbo",)

    def __init__(self, latent_dim: int, *, rng: np.random.Generator | int = 0,
                 dtype: object = np.float64, n_steps: int = 2,
                 hidden_size: int | None = None) -> None:
        super().__init__(dtype)
        self.latent_dim = L = check_positive_int(latent_dim, "latent_dim")
        n_steps = check_positive_int(n_steps, "n_steps")
        hidden_size = 4 * L if hidden_size is None else check_positive_int(hidden_size,
                                                                           "hidden_size")
        rng = check_rng(rng)
        self.steps = [MADE(made_order(L, k), L, hidden_size, rng=rng, dtype=self.dtype)
                      for k in range(n_steps)]

    @property
    def width(self) -> int:
        return 3 * self.latent_dim

    # -- the flow ---------------------------------------------------------------------------
    def flow(self, z0: np.ndarray, context: np.ndarray) -> tuple[np.ndarray, np.ndarray, list]:
        """z0: (M, L), context: (M, L) -> (z_K (M, L), sum_k sum_i log sigma_k,i (M,), the
        per-step (z_{k-1}, m_k, sigma_k) the backward pass needs)."""
        z0 = check_array(z0, "z0", shape=(None, self.latent_dim), dtype=self.dtype)
        context = check_array(context, "context", shape=z0.shape, dtype=self.dtype)
        z, log_det, path = z0, np.zeros(z0.shape[0], dtype=z0.dtype), []
        for step in self.steps:
            m, s = step.forward(z, context)
            gate = s + GATE_BIAS
            sig = sigmoid(gate)
            path.append((z, m, sig))
            z = sig * z + (1.0 - sig) * m
            log_det = log_det + log_sigmoid(gate).sum(axis=-1)
        return z, log_det, path

    def flow_backward(self, path: list, g: np.ndarray,
                      dlog_det: float) -> tuple[np.ndarray, np.ndarray]:
        """Backprop of ``sum(g * z_K) + dlog_det * sum(log_det)`` through :meth:`flow` (the
        MADE parameter gradients accumulate).  Returns (d z_0 (M, L), d context (M, L)).

        Step k, z = sig z' + (1 - sig) m with sig = sigmoid(s + b):  dz' = g sig (direct),
        dm = g (1 - sig), ds = g (z' - m) sig (1 - sig) + dlog_det (1 - sig)
        (d log sigmoid(a) / da = 1 - sigmoid(a)); the MADE takes (dm, ds) to z' and c.
        """
        dctx = np.zeros_like(g)
        for step, (z_prev, m, sig) in zip(self.steps[::-1], path[::-1]):
            dm = g * (1.0 - sig)
            ds = (g * (z_prev - m) * sig + dlog_det) * (1.0 - sig)
            dz_made, dc = step.backward(dm, ds)
            dctx = dctx + dc
            g = g * sig + dz_made
        return g, dctx

    # -- the family protocol -------------------------------------------------------------------
    def make(self, h: np.ndarray) -> tuple[IAFPosterior, np.ndarray]:
        """h: (N, 3L) = [mu, logvar, context] -> (q, inside (N, L), where the log-variance clamp
        passes gradients)."""
        h = check_array(h, "h", ndim=2)
        L = self.latent_dim
        if h.shape[1] != 3 * L:
            raise ValueError(f"h must have 3L = {3 * L} columns (mean, log-variance, context), "
                             f"got shape {h.shape}")
        logvar, inside = clamp_logvar(h[:, L:2 * L])
        return IAFPosterior(self, np.ascontiguousarray(h[:, :L]), logvar,
                            np.ascontiguousarray(h[:, 2 * L:])), inside

    def backward(self, q: IAFPosterior, inside: np.ndarray, dz: np.ndarray,
                 dkl: float) -> np.ndarray:
        """d loss / d h (N, 3L) of ``f(z_K) + dkl * sum_n (log q(z_K) - log p(z_K))[n]`` at the
        last one-sample :meth:`IAFPosterior.rsample`, dz = df/dz_K (N, L); accumulates the
        MADE gradients.  log q's terms: -log sigma_k (through the flow), -logvar / 2 (direct);
        -log p(z_K) = |z_K|^2 / 2 + const adds dkl * z_K to the gradient at z_K."""
        z, path = self._check_q(q).last_sample()
        dz = check_array(dz, "dz", shape=z.shape)
        inside = check_array(inside, "inside", shape=z.shape)
        dkl = check_scalar(dkl, "dkl")
        dz0, dctx = self.flow_backward(path, dz + dkl * z, -dkl)
        dlogvar = (0.5 * dz0 * np.exp(0.5 * q.logvar) * q.eps - 0.5 * dkl) * inside
        return np.concatenate([dz0, dlogvar, dctx], axis=1)

    def kl(self, q: IAFPosterior) -> np.ndarray:
        """log q(z_K | x) - log p(z_K) at the last sample: (N,) (or (K, N) after K samples)."""
        z, _ = self._check_q(q).last_sample(allow_many=True)
        return q.log_prob(z) - standard_normal_log_prob(z)

    def log_prior(self, z: np.ndarray) -> np.ndarray:
        return standard_normal_log_prob(z)

    def sample_prior(self, rng: np.random.Generator | int, n: int) -> np.ndarray:
        n = check_positive_int(n, "n")
        return check_rng(rng).standard_normal((n, self.latent_dim)).astype(self.dtype)

    def code(self, q: IAFPosterior) -> np.ndarray:
        """The flow of z_0 = mu (eps = 0): a deterministic location of q."""
        q = self._check_q(q)
        return self.flow(q.mu, q.context)[0]

    def summary(self, q: IAFPosterior) -> None:
        self._check_q(q)
        return None  # no per-dimension Gaussian marginals

    def _check_q(self, q: object) -> IAFPosterior:
        if not isinstance(q, IAFPosterior) or q.flow_family is not self:
            raise TypeError(f"q must be an IAFPosterior of this family, got {type(q).__name__}")
        return q

    def __repr__(self) -> str:
        return f"IAFFamily(L={self.latent_dim}, steps={len(self.steps)})"


class IAFPosterior:
    """q(z_K | x) of one batch: mu, logvar, context (N, L) and the family that holds the flow.

    ``rsample`` keeps eps and the flow's path (for :meth:`IAFFamily.backward`); both ``rsample``
    and ``sample`` remember the samples they drew and their log q, which :meth:`log_prob` returns.
    """

    def __init__(self, family: IAFFamily, mu: np.ndarray, logvar: np.ndarray,
                 context: np.ndarray) -> None:
        if not isinstance(family, IAFFamily):
            raise TypeError(f"family must be an IAFFamily, got {type(family).__name__}")
        self.flow_family = family
        self.mu = check_array(mu, "mu", shape=(None, family.latent_dim), dtype=family.dtype)
        self.logvar = check_array(logvar, "logvar", shape=self.mu.shape, dtype=family.dtype)
        self.context = check_array(context, "context", shape=self.mu.shape, dtype=family.dtype)
        self.eps: np.ndarray | None = None
        self._path: list | None = None
        self._drawn: tuple[np.ndarray, np.ndarray] | None = None

    def _draw(self, eps: np.ndarray) -> tuple[np.ndarray, np.ndarray, list]:
        """eps (N, L) or (K, N, L) -> (z_K, log q(z_K), path), z_K like eps."""
        L = self.mu.shape[1]
        z0 = self.mu + np.exp(0.5 * self.logvar) * eps
        log_q0 = -0.5 * np.sum(LOG_2PI + eps**2 + self.logvar, axis=-1)
        lead = eps.shape[:-1]
        ctx = np.broadcast_to(self.context, eps.shape).reshape(-1, L)
        z, log_det, path = self.flow_family.flow(z0.reshape(-1, L), ctx)
        return z.reshape(eps.shape), log_q0 - log_det.reshape(lead), path

    def rsample(self, rng: np.random.Generator | int | None, n_samples: int | None = None,
                eps: np.ndarray | None = None) -> np.ndarray:
        """Reparameterized z_K: (N, L), or (K, N, L) with ``n_samples=K``; ``eps`` (that shape)
        reuses fixed noise.  Keeps eps and the flow's path."""
        eps = _standard_normal_noise(self.mu, rng, n_samples, eps)
        z, log_q, self._path = self._draw(eps)
        self.eps, self._drawn = eps, (z, log_q)
        return z

    def sample(self, rng: np.random.Generator | int, n_samples: int | None = None) -> np.ndarray:
        """Like :meth:`rsample` without keeping the noise (log q of the draw is remembered)."""
        eps = _standard_normal_noise(self.mu, check_rng(rng), n_samples)
        z, log_q, _ = self._draw(eps)
        self._drawn = (z, log_q)
        return z

    def last_sample(self, allow_many: bool = False) -> tuple[np.ndarray, list | None]:
        """(z_K, flow path) of the last draw (one sample (N, L) unless ``allow_many``)."""
        if self._drawn is None:
            raise RuntimeError("no sample drawn yet: call rsample first")
        z = self._drawn[0]
        if not allow_many and (z.ndim != 2 or self._path is None):
            raise RuntimeError("the backward pass needs the last draw to be one rsample (N, L)")
        return z, self._path

    def log_prob(self, z: np.ndarray) -> np.ndarray:
        """log q(z | x) for the samples drawn last, z: (N, L) or (K, N, L) -> (N,) or (K, N).
        Other points would need the flow inverted: a ValueError says so."""
        z = check_array(z, "z", ndim=(2, 3))
        if self._drawn is None or not (z is self._drawn[0]
                                       or np.array_equal(z, self._drawn[0])):
            raise ValueError("z must be the samples this IAF posterior drew last (rsample or "
                             "sample): its density elsewhere needs the flow inverted")
        return self._drawn[1]
