"""The Wasserstein autoencoder with the MMD penalty, WAE-MMD (Tolstikhin, Bousquet, Gelly &
Schoelkopf, 2018), as a loss.

WAE minimises a transport cost between the data and the model, relaxed to

    loss = mean_n c(x_n, G(z_n)) + lambda * MMD^2(q(z), p(z)),

the reconstruction cost of each example plus a penalty pulling the aggregate posterior q(z) (the
batch of codes) to the prior; there is no per-example KL, so the encoder is free to be
deterministic.  Here the cost is the decoder's negative log-likelihood (Bernoulli or Gaussian
NLL, the library's reconstruction loss), the codes are reparameterized samples of the
encoder's Gaussian (a random encoder, which the paper allows; its variance is not pulled
towards 1 by anything and tends to shrink), and the MMD is the unbiased U-statistic with the
inverse multiquadric kernel C / (C + ||z - z'||^2), C = 2 L (the paper's choice for a
standard-normal prior), as in the paper's Algorithm 2.

WAE-MMD is InfoVAE (:mod:`minivae.objectives.infovae`) with alpha = 1 (no KL), lambda the MMD
weight, another kernel and the unbiased estimate.
"""

from __future__ import annotations

import numpy as np

from minivae._validation import check_scalar
from minivae.objectives.distributions import DiagonalGaussian
from minivae.objectives.infovae import latent_mmd


def negative_wae(
    rec: np.ndarray, q: DiagonalGaussian, z: np.ndarray, prior_z: np.ndarray, *,
    lambda_: float, kernel: str, bandwidth: float,
) -> tuple[float, dict[str, float], np.ndarray]:
    """The WAE-MMD loss of a batch.

    Args:
        rec: (N,) reconstruction cost -log p(x_n | z_n);  q: the encoder's Gaussian (N, L),
        for the reported KL only;  z: (N, L) the codes;  prior_z: (N', L) draws of N(0, I);
        lambda_: the MMD weight (>= 0);  kernel, bandwidth: the MMD's kernel.

    Returns:
        value; parts "loss", "reconstruction", "mmd", and "kl", "elbo" (closed-form KL of the
        encoder's Gaussian, reported, not optimised); dz (N, L) = d loss / d z of the penalty.
    """
    lambda_ = check_scalar(lambda_, "lambda_", low=0.0)
    value_mmd, dz = latent_mmd(z, prior_z, kernel, bandwidth, unbiased=True)
    rec_mean = float(rec.mean())
    kl_mean = float(q.kl_standard_normal().mean())
    value = rec_mean + lambda_ * value_mmd
    parts = {"loss": value, "reconstruction": rec_mean, "kl": kl_mean,
             "elbo": -(rec_mean + kl_mean), "mmd": value_mmd}
    return value, parts, lambda_ * dz
