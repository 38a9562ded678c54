"""The (beta-, free-bits-) negative ELBO of a Gaussian-latent model, assembled from its parts.

A VAE's encoder ends with 2L numbers per example, ``h = [mu, logvar]``; its decoder turns a
reparameterized sample ``z = mu + exp(logvar / 2) * eps`` into the parameters of p(x | z).  The
loss of a batch of N examples is

    loss = mean_n -log p(x_n | z_n)  +  beta * KL term,

where the KL term is the batch-mean KL(q(z | x) || N(0, I)) or, with free bits, its free-bits
version (:func:`minivae.objectives.kl.kl_loss_term`).  Three small functions carry a model
through one step, whatever its encoder and decoder are:

* :func:`encoder_posterior`: h (N, 2L) -> q(z | x) (log-variance clamped);
* :func:`negative_elbo`: per-example reconstruction NLL (N,) and q -> the loss, its parts and
  the weight of the KL gradient;
* :func:`negative_elbo_backward`: the decoder's gradient dz (N, L) -> d loss / d h (N, 2L).
"""

from __future__ import annotations

import numpy as np

from minivae._validation import check_array
from minivae.objectives.distributions import DiagonalGaussian, check_posterior, clamp_logvar
from minivae.objectives.kl import kl_loss_term


def encoder_posterior(h: np.ndarray) -> tuple[DiagonalGaussian, np.ndarray]:
    """q(z | x) from an encoder's output h: (N, 2L), the first L columns the mean, the last L
    the log-variance (clamped to [LOGVAR_MIN, LOGVAR_MAX]).

    Returns (q, inside) with ``inside`` (N, L) the boolean mask where the clamp passes
    gradients (see :func:`~minivae.objectives.distributions.clamp_logvar`).
    """
    h = check_array(h, "h", ndim=2)
    if h.shape[1] % 2:
        raise ValueError(f"h must have an even number of columns (mean and log-variance), got "
                         f"shape {h.shape}")
    L = h.shape[1] // 2
    logvar, inside = clamp_logvar(h[:, L:])
    return DiagonalGaussian(np.ascontiguousarray(h[:, :L]), logvar), inside


def negative_elbo(
    rec: np.ndarray, q: DiagonalGaussian, beta: float, free_bits: float = 0.0
) -> tuple[float, dict[str, float], float | np.ndarray]:
    """The loss of a batch: ``mean_n rec[n] + beta * term``.

    Args:
        rec: (N,) per-example reconstruction NLL, -log p(x_n | z_n).
        q: the batch's posterior, mu and logvar (N, L).
        beta: the KL weight (1: the negative ELBO; the training loop's KL schedule sets it).
        free_bits: nats per latent dimension granted free (0: the ordinary KL).

    Returns:
        value: the loss;
        parts: "loss", "reconstruction" (mean NLL), "kl" (batch-mean KL), "elbo" (-(rec + kl),
            the unweighted bound), plus "kl_free_bits" when free bits are on;
        dkl: d(beta * term) / d KL[n, l], the weight :func:`negative_elbo_backward` gives the
            KL gradient (a scalar, or (L,) with free bits).
    """
    q = check_posterior(q)
    rec = check_array(rec, "rec", shape=(q.mu.shape[0],), allow_nan=True)  # inf: fit's guard
    kl_mean, term, dkl, extra = kl_loss_term(q.kl_standard_normal(per_dimension=True), beta,
                                             free_bits)
    rec_mean = float(rec.mean())
    value = rec_mean + beta * term
    parts = {"loss": value, "reconstruction": rec_mean, "kl": kl_mean,
             "elbo": -(rec_mean + kl_mean), **extra}
    return value, parts, dkl


def negative_elbo_backward(q: DiagonalGaussian, inside: np.ndarray, dz: np.ndarray,
                           dkl: float | np.ndarray) -> np.ndarray:
    """d loss / d h (N, 2L) for the encoder's backward pass.

    dz: (N, L), the decoder's gradient d loss / d z (the reconstruction term, 1/N included).
    Through z = mu + sigma * eps it reaches mu and logvar, plus the closed-form KL gradient
    weighted by ``dkl`` (:meth:`DiagonalGaussian.elbo_backward`); no gradient passes where the
    log-variance was clamped.
    """
    q = check_posterior(q)
    inside = check_array(inside, "inside", shape=q.mu.shape)
    dmu, dlogvar = q.elbo_backward(dz, dkl)
    return np.concatenate([dmu, dlogvar * inside], axis=1)
