r"""The ELBO of a VAE whose prior is a learned mixture of Gaussians, with a cluster variable c:

    p(c) = pi_c = softmax(logits)_c,   p(z | c) = N(z; m_c, diag(exp(s_c))),   p(x | z) decoder
    q(z, c | x) = q(z | x) q(c | x),   q(z | x) = N(mu(x), diag(exp(logvar(x))))

    -ELBO(x) = E_q(z|x)[-log p(x | z)]
               + sum_c gamma_c KL(q(z | x) || p(z | c))            (the "component KLs" a_c)
               + sum_c gamma_c (log gamma_c - log pi_c)             (KL(q(c | x) || p(c)))

with gamma_c = q(c | x).  Both mixture-prior models of minivae minimise this; they differ only
in gamma:

* **VaDE** (Jiang, Zheng, Tan, Tang & Zhou, "Variational deep embedding", IJCAI 2017, eq. 15-16):
  gamma_c = p(c | z) = pi_c N(z; m_c, s_c) / sum_c' pi_c' N(z; m_c', s_c') at the sampled z, in
  closed form (:func:`cluster_log_posterior`); its gradient flows into z, pi, m and s too;
* **GMVAE**, the variant with a categorical inference network (Dilokthanakul et al. 2016 build
  a two-level model; minivae's is the simpler q(c | x) = softmax(classifier(x)) with q(z | x)
  not conditioned on c): gamma from a network, its gradient goes back through that network.

Everything is written on log gamma (rows of log-probabilities), so 0 log 0 never occurs and the
softmax's backward is one line.  The component KLs are the library's closed-form Gaussian KL
(:meth:`~minivae.objectives.distributions.DiagonalGaussian.kl` and ``kl_grad``) on the
posterior broadcast against each component; the log densities are ``DiagonalGaussian.log_prob``
and ``log_prob_grad``.  Shapes: mu, logvar, z (N, L); means, logvars (C, L); log_pi (C,);
log_gamma (N, C).
"""

from __future__ import annotations

import numpy as np

from minivae._validation import check_array, check_no_overflow, check_scalar
from minivae.nn.functional import logsumexp
from minivae.objectives.distributions import (  # _log_density: the inputs are checked here
    DiagonalGaussian,
    _log_density,
    check_posterior,
)

__all__ = [
    "cluster_log_posterior",
    "cluster_log_posterior_backward",
    "component_kl",
    "log_softmax",
    "log_softmax_backward",
    "mixture_kl",
    "mixture_kl_backward",
    "mixture_log_prob",
]


# ------------------------------------------------------------------------------ log softmax
def log_softmax(s: object) -> np.ndarray:
    """log softmax over the last axis, s - logsumexp(s) (no overflow). s: (..., C)."""
    s = check_array(s, "s", ndim=(1, 2), dtype=np.float64)
    return s - logsumexp(s, axis=-1, keepdims=True)


def log_softmax_backward(log_p: object, dlog_p: object) -> np.ndarray:
    """d/ds of a loss given d/d(log p), log p = log_softmax(s): ds_j = dlog_p_j - p_j sum_c
    dlog_p_c (the Jacobian of log softmax is I - 1 p^T).  Shapes (..., C)."""
    log_p = check_array(log_p, "log_p", ndim=(1, 2), dtype=np.float64)
    dlog_p = check_array(dlog_p, "dlog_p", ndim=(1, 2), dtype=np.float64)
    if dlog_p.shape != log_p.shape:
        raise ValueError(f"dlog_p and log_p must have the same shape, got {dlog_p.shape} and "
                         f"{log_p.shape}")
    return dlog_p - np.exp(log_p) * dlog_p.sum(axis=-1, keepdims=True)


# ------------------------------------------------------------------------------ the components
def _check_components(means: object, logvars: object, L: int) -> tuple[np.ndarray, np.ndarray]:
    means = check_array(means, "means", shape=(None, L), dtype=np.float64)
    logvars = check_array(logvars, "logvars", shape=means.shape, dtype=np.float64)
    return means, logvars


def _against_components(q: DiagonalGaussian, means: np.ndarray, logvars: np.ndarray
                        ) -> tuple[DiagonalGaussian, DiagonalGaussian]:
    """q(z | x) and the C components broadcast to (N, C, L) each."""
    shape = (q.mu.shape[0], means.shape[0], q.mu.shape[1])
    post = DiagonalGaussian(np.broadcast_to(q.mu[:, None, :], shape),
                            np.broadcast_to(q.logvar[:, None, :], shape))
    comp = DiagonalGaussian(np.broadcast_to(means[None], shape),
                            np.broadcast_to(logvars[None], shape))
    return post, comp


def component_kl(q: DiagonalGaussian, means: object, logvars: object) -> np.ndarray:
    """a_c = KL(q(z | x) || N(m_c, diag(exp(s_c)))) for every example and component: (N, C).
    q: the posterior, mu and logvar (N, L); means, logvars: (C, L)."""
    q = check_posterior(q)
    means, logvars = _check_components(means, logvars, q.mu.shape[1])
    with np.errstate(over="ignore", invalid="ignore"):
        a = DiagonalGaussian.kl(*_against_components(q, means, logvars))
    check_no_overflow(a, "the component KLs", mu=q.mu, logvar=q.logvar, means=means,
                      logvars=logvars)
    return a


def _check_log_probs(a: object, name: str, shape: tuple[int | None, ...]) -> np.ndarray:
    """Rows of log-probabilities (each sums to 1 after exp, within 1e-6)."""
    a = check_array(a, name, shape=shape, dtype=np.float64)
    total = np.exp(logsumexp(a, axis=-1))
    if np.any(np.abs(total - 1.0) > 1e-6):
        raise ValueError(f"{name} must hold log-probabilities (exp sums to 1 along the last "
                         f"axis), got sums from {total.min():.6g} to {total.max():.6g}")
    return a


def mixture_kl(q: DiagonalGaussian, log_gamma: object, log_pi: object, means: object,
               logvars: object) -> np.ndarray:
    """The KL part of the mixture-prior negative ELBO, per example (N,):

        sum_c gamma_c (a_c + log gamma_c - log pi_c),   a = :func:`component_kl`.

    q: posterior (N, L); log_gamma: log q(c | x) (N, C); log_pi: log p(c) (C,)."""
    a = component_kl(q, means, logvars)
    log_gamma = _check_log_probs(log_gamma, "log_gamma", a.shape)
    log_pi = _check_log_probs(log_pi, "log_pi", (a.shape[1],))
    return np.sum(np.exp(log_gamma) * (a + log_gamma - log_pi), axis=1)


def mixture_kl_backward(q: DiagonalGaussian, log_gamma: object, log_pi: object, means: object,
                        logvars: object, weight: float | np.ndarray = 1.0
                        ) -> dict[str, np.ndarray]:
    """Gradients of sum_n weight_n * mixture_kl(...)_n (weight: a scalar or (N,), e.g. the
    KL weight over the batch size).  Returns "mu", "logvar" (N, L), "log_gamma" (N, C),
    "log_pi" (C,), "means", "logvars" (C, L).

    d/d log gamma_c = gamma_c (a_c + log gamma_c - log pi_c + 1); d/d log pi_c = -gamma_c;
    d/d(mu, logvar, m_c, s_c) = gamma_c times the component KL's gradient."""
    a = component_kl(q, means, logvars)
    log_gamma = _check_log_probs(log_gamma, "log_gamma", a.shape)
    log_pi = _check_log_probs(log_pi, "log_pi", (a.shape[1],))
    w = _check_weight(weight, a.shape[0])[:, None]
    gamma = np.exp(log_gamma)
    post, comp = _against_components(q, *_check_components(means, logvars, q.mu.shape[1]))
    dmu, dlogvar, dmeans, dlogvars = post.kl_grad(comp)  # each (N, C, L)
    wg = (w * gamma)[:, :, None]
    return {"mu": np.sum(wg * dmu, axis=1), "logvar": np.sum(wg * dlogvar, axis=1),
            "log_gamma": w * gamma * (a + log_gamma - log_pi[None] + 1.0),
            "log_pi": -np.sum(w * gamma, axis=0),
            "means": np.sum(wg * dmeans, axis=0), "logvars": np.sum(wg * dlogvars, axis=0)}


def _check_weight(weight: object, n: int) -> np.ndarray:
    """A finite scalar or (n,) per-example weight, returned as (n,)."""
    if isinstance(weight, np.ndarray) and weight.ndim:
        return check_array(weight, "weight", shape=(n,), dtype=np.float64)
    return np.full(n, check_scalar(weight, "weight"))


# ------------------------------------------------------------------------------ p(c | z), p(z)
def _joint(z: object, log_pi: object, means: object, logvars: object):
    """log p(z, c) = log pi_c + log N(z; m_c, s_c): (N, C), and the broadcast components."""
    means = check_array(means, "means", ndim=2, dtype=np.float64)
    C, L = means.shape
    z = check_array(z, "z", shape=(None, L), dtype=np.float64)
    means, logvars = _check_components(means, logvars, L)
    log_pi = _check_log_probs(log_pi, "log_pi", (C,))
    shape = (z.shape[0], C, L)
    comp = DiagonalGaussian(np.broadcast_to(means[None], shape),
                            np.broadcast_to(logvars[None], shape))
    zb = np.broadcast_to(z[:, None, :], shape)
    with np.errstate(over="ignore", invalid="ignore"):
        joint = log_pi[None] + np.sum(_log_density(zb, comp.mu, comp.logvar), axis=-1)
    check_no_overflow(joint, "log p(z, c)", z=z, means=means, logvars=logvars)
    return joint, comp, zb


def cluster_log_posterior(z: object, log_pi: object, means: object,
                          logvars: object) -> np.ndarray:
    """log p(c | z) = log softmax_c(log pi_c + log N(z; m_c, diag(exp(s_c)))): (N, C), VaDE's
    responsibilities gamma (Jiang et al. 2017, eq. 16).  z: (N, L)."""
    joint, _, _ = _joint(z, log_pi, means, logvars)
    return joint - logsumexp(joint, axis=1, keepdims=True)


def mixture_log_prob(z: object, log_pi: object, means: object, logvars: object) -> np.ndarray:
    """log p(z) = logsumexp_c (log pi_c + log N(z; m_c, s_c)): (N,)."""
    joint, _, _ = _joint(z, log_pi, means, logvars)
    return logsumexp(joint, axis=1)


def cluster_log_posterior_backward(z: object, log_pi: object, means: object, logvars: object,
                                   dlog_gamma: object) -> dict[str, np.ndarray]:
    """Gradients of sum(dlog_gamma * log p(c | z)) (dlog_gamma (N, C)): "z" (N, L), "log_pi"
    (C,), "means", "logvars" (C, L), through the log softmax and the Gaussian log density."""
    joint, comp, zb = _joint(z, log_pi, means, logvars)
    log_gamma = joint - logsumexp(joint, axis=1, keepdims=True)
    dlog_gamma = check_array(dlog_gamma, "dlog_gamma", shape=joint.shape, dtype=np.float64)
    ds = log_softmax_backward(log_gamma, dlog_gamma)  # d/d log p(z, c): (N, C)
    dz, dmeans, dlogvars = comp.log_prob_grad(zb)  # each (N, C, L)
    return {"z": np.sum(ds[:, :, None] * dz, axis=1), "log_pi": ds.sum(axis=0),
            "means": np.sum(ds[:, :, None] * dmeans, axis=0),
            "logvars": np.sum(ds[:, :, None] * dlogvars, axis=0)}
