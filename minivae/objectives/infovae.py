"""InfoVAE / MMD-VAE (Zhao, Song & Ermon, 2019) as a loss.

InfoVAE maximises, per example,

    E_q[log p(x | z)] - (1 - alpha) KL(q(z | x) || p(z)) - (alpha + lambda - 1) D(q(z) || p(z))

where q(z) = E_x q(z | x) is the aggregate posterior and D a divergence between it and the prior:
here the MMD (:mod:`minivae.information.mmd`) between the batch of reparameterized codes
z_n ~ q(z | x_n) (N, L) and N draws from p(z) = N(0, I).  alpha = 0, lambda = 1: the ELBO;
alpha = 1: the MMD-VAE (no per-example KL, only the aggregate posterior is pulled to the prior),
which keeps the code informative (no posterior collapse) for any lambda > 0.  The loss is

    loss = mean_n rec[n] + (1 - alpha) * beta * mean_n KL[n] + (alpha + lambda - 1) * MMD^2,

beta the training loop's KL weight (1 unless a schedule sets it).  The MMD is the biased
(V-statistic) estimate, always >= 0, as in the paper's code.

* :func:`latent_mmd`: MMD^2 between codes and prior draws, and its gradient w.r.t. the codes
  (also used by :mod:`minivae.objectives.wae`);
* :func:`negative_infovae`: -> the loss, its parts, the KL gradient weight and d loss / d z;
* the backward pass is :func:`~minivae.objectives.elbo.negative_elbo_backward` with the MMD's
  dz added to the decoder's.
"""

from __future__ import annotations

import numpy as np

from minivae._validation import check_scalar
from minivae.information.mmd import mmd, mmd_grad
from minivae.objectives.distributions import DiagonalGaussian


def latent_mmd(z: np.ndarray, prior_z: np.ndarray, kernel: str, bandwidth: float, *,
               unbiased: bool) -> tuple[float, np.ndarray]:
    """MMD^2(codes, prior draws) and its gradient w.r.t. the codes, (N, L); the prior draws are
    constants (they do not depend on any parameter)."""
    value = mmd(z, prior_z, kernel, bandwidth, unbiased=unbiased)
    dz, _ = mmd_grad(z, prior_z, kernel, bandwidth, unbiased=unbiased)
    return value, dz


def infovae_weights(alpha: float, lambda_: float) -> tuple[float, float]:
    """(KL weight 1 - alpha, MMD weight alpha + lambda - 1), both required >= 0 (otherwise the
    objective rewards a larger divergence)."""
    alpha = check_scalar(alpha, "alpha", high=1.0)
    lambda_ = check_scalar(lambda_, "lambda_")
    if alpha + lambda_ - 1.0 < 0.0:
        raise ValueError(f"alpha + lambda_ - 1 (the MMD weight) must be >= 0, got alpha={alpha}, "
                         f"lambda_={lambda_}")
    return 1.0 - alpha, alpha + lambda_ - 1.0


def negative_infovae(
    rec: np.ndarray, q: DiagonalGaussian, z: np.ndarray, prior_z: np.ndarray, *,
    alpha: float, lambda_: float, beta: float, kernel: str, bandwidth: float,
) -> tuple[float, dict[str, float], float, np.ndarray]:
    """The InfoVAE loss of a batch (module docstring).

    Args:
        rec: (N,) -log p(x_n | z_n);  q: the posterior (N, L);  z: (N, L) its reparameterized
        samples;  prior_z: (N', L) draws from N(0, I);  alpha, lambda_: InfoVAE's weights;
        beta: the KL weight of the training loop;  kernel, bandwidth: the MMD's kernel.

    Returns:
        value; parts "loss", "reconstruction", "kl", "elbo", "mmd"; dkl = (1 - alpha) beta / N,
        the weight of the closed-form KL gradient; dz_mmd (N, L) = d loss / d z of the MMD term.
    """
    w_kl, w_mmd = infovae_weights(alpha, lambda_)
    n = rec.shape[0]
    value_mmd, dz = latent_mmd(z, prior_z, kernel, bandwidth, unbiased=False)
    rec_mean = float(rec.mean())
    kl_mean = float(q.kl_standard_normal().mean())
    value = rec_mean + w_kl * beta * kl_mean + w_mmd * value_mmd
    parts = {"loss": value, "reconstruction": rec_mean, "kl": kl_mean,
             "elbo": -(rec_mean + kl_mean), "mmd": value_mmd}
    return value, parts, w_kl * beta / n, w_mmd * dz
