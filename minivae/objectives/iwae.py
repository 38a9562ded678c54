"""The importance-weighted bound (IWAE; Burda, Grosse & Salakhutdinov, 2016) as a loss.

With k reparameterized samples ``z_i = mu + sigma * eps_i`` from q(z | x), the log importance
weights of a batch of N examples are

    log w_i = log p(x | z_i) + beta * (log p(z_i) - log q(z_i | x))          (k, N)

and the loss is the batch mean of ``-log (1/k) sum_i w_i``.  beta = 1 gives the true IWAE
bound, which tightens towards log p(x) as k grows (k = 1: a one-sample ELBO); beta weights the
prior/posterior ratio as it weights the KL in the ELBO (and a KL schedule sets it).

Its gradient is ``sum_i w~_i * grad(-log w_i)`` with ``w~ = softmax_i(log w_i)`` the normalized
importance weights, each ``grad(log w_i)`` taken through the reparameterized z_i.  As for the
ELBO (:mod:`minivae.objectives.elbo`), three small functions carry a model through one step:

* :func:`iwae_log_weights`: per-sample reconstruction NLL (k, N) and the samples -> log w;
* :func:`negative_iwae`: -> the loss, its parts, and the weight of each sample's gradient;
* :func:`negative_iwae_backward`: the decoder's gradient dz (k, N, L) -> d loss / d h (N, 2L).
"""

from __future__ import annotations

import numpy as np

from minivae._validation import check_array, check_scalar
from minivae.nn.functional import log_mean_exp, logsumexp
from minivae.objectives.distributions import (
    DiagonalGaussian,
    check_posterior,
    standard_normal_log_prob,
)


def iwae_log_weights(rec: np.ndarray, z: np.ndarray, q: DiagonalGaussian,
                     beta: float = 1.0) -> np.ndarray:
    """``log w = -rec + beta * (log p(z) - log q(z | x))``, (k, N).

    rec: (k, N) -log p(x | z_i);  z: (k, N, L) the samples;  q: the posterior, mu and logvar
    (N, L).  With beta = 1, ``log_mean_exp(log w, axis=0)`` is the IWAE bound of each example.
    """
    q = check_posterior(q)
    z = check_array(z, "z", ndim=3, allow_nan=True)  # non-finite: fit's guard reports it
    if z.shape[1:] != q.mu.shape:
        raise ValueError(f"z must have shape (k, {', '.join(map(str, q.mu.shape))}) to match q, "
                         f"got {z.shape}")
    rec = check_array(rec, "rec", shape=z.shape[:2], allow_nan=True)  # inf: fit's guard
    beta = check_scalar(beta, "beta", low=0.0)
    return -rec + beta * (standard_normal_log_prob(z) - q.log_prob(z))


def negative_iwae(
    rec: np.ndarray, z: np.ndarray, q: DiagonalGaussian, beta: float
) -> tuple[float, dict[str, float], np.ndarray]:
    """The loss of a batch: ``-mean_n log (1/k) sum_i w_i[n]``.

    Args:
        rec: (k, N) per-sample reconstruction NLL, -log p(x_n | z_in).
        z: (k, N, L) the reparameterized samples of q.
        q: the batch's posterior, mu and logvar (N, L).
        beta: the weight of log p(z) - log q(z | x) (1: the IWAE bound).

    Returns:
        value: the loss;
        parts: "loss", "reconstruction" (mean NLL over samples and examples), "kl" (batch-mean
            closed-form KL), "elbo" (-(reconstruction + kl)), "iwae_bound" (batch mean of the
            bound with beta = 1, whatever beta is);
        g: (k, N) d loss / d(-log w_i[n]) = w~_i[n] / N, in q's dtype: the weight of sample
            i's gradient, for the decoder's backward and :func:`negative_iwae_backward`.
    """
    log_w = iwae_log_weights(rec, z, q, beta)  # validates rec (k, N), z (k, N, L), q, beta
    n = log_w.shape[1]
    bound = log_mean_exp(log_w, axis=0)  # (N,)
    value = float(-bound.mean())
    w_norm = np.exp(log_w - logsumexp(log_w, axis=0, keepdims=True))  # softmax over samples
    g = (w_norm / n).astype(q.mu.dtype, copy=False)
    rec_mean = float(rec.mean())
    kl_mean = float(q.kl_standard_normal().mean())
    true_bound = bound if beta == 1.0 else log_mean_exp(iwae_log_weights(rec, z, q), axis=0)
    parts = {"loss": value, "reconstruction": rec_mean, "kl": kl_mean,
             "elbo": -(rec_mean + kl_mean), "iwae_bound": float(true_bound.mean())}
    return value, parts, g


def negative_iwae_backward(q: DiagonalGaussian, inside: np.ndarray, z: np.ndarray,
                           dz: np.ndarray, g: np.ndarray, beta: float) -> np.ndarray:
    """d loss / d h (N, 2L) for the encoder's backward pass.

    dz: (k, N, L), the decoder's gradient d loss / d z_i (the reconstruction terms, already
    weighted by g);  g: from :func:`negative_iwae`;  inside: (N, L) where the log-variance clamp
    of :func:`~minivae.objectives.elbo.encoder_posterior` passes gradients.

    Sample i adds ``g_i * beta * (log q(z_i | x) - log p(z_i))`` to the loss: log q depends on
    z_i and directly on mu, logvar; log p(z) = log N(z; 0, I) has d/dz = -z; and
    z_i = mu + sigma * eps_i carries every d/dz_i to mu and logvar.
    """
    q = check_posterior(q)
    z = check_array(z, "z", ndim=3, allow_nan=True)  # non-finite: fit's guard reports it
    if z.shape[1:] != q.mu.shape:
        raise ValueError(f"z must have shape (k, {', '.join(map(str, q.mu.shape))}) to match q, "
                         f"got {z.shape}")
    dz = check_array(dz, "dz", shape=z.shape, allow_nan=True)
    g = check_array(g, "g", shape=z.shape[:2], allow_nan=True)
    inside = check_array(inside, "inside", shape=q.mu.shape)
    beta = check_scalar(beta, "beta", low=0.0)
    weight = beta * g[..., None]  # (k, N, 1)
    per_sample = DiagonalGaussian(np.broadcast_to(q.mu, z.shape),
                                  np.broadcast_to(q.logvar, z.shape))
    dz_logq, dmu_logq, dlogvar_logq = per_sample.log_prob_grad(z)  # each (k, N, L)
    dmu, dlogvar = q.rsample_backward(dz + weight * (dz_logq + z))
    dmu = dmu + np.sum(weight * dmu_logq, axis=0)
    dlogvar = dlogvar + np.sum(weight * dlogvar_logq, axis=0)
    return np.concatenate([dmu, dlogvar * inside], axis=1)
