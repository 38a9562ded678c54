"""Diagnostics of a VAE's latent space: how many latent dimensions are actually used.

Posterior collapse shows up as latent dimensions whose posterior equals the prior for every
input: their KL is ~0 and their posterior mean does not depend on x.  Two standard measures:

* :func:`kl_per_dimension_mean`: the average KL(q(z_l | x) || N(0, 1)) of each dimension, in
  nats (collapsed dimensions read ~0);
* :func:`active_units` (Burda et al., 2016, "Importance weighted autoencoders"): a dimension is
  active when its posterior mean moves with the input, Var_x(E_q[z_l | x]) > threshold.
"""

from __future__ import annotations

import numpy as np

from minivae._validation import check_array, check_no_overflow, check_scalar
from minivae.objectives.distributions import DiagonalGaussian

__all__ = ["kl_per_dimension_mean", "latent_activity", "active_units"]


def kl_per_dimension_mean(mu: np.ndarray, logvar: np.ndarray) -> np.ndarray:
    """Batch-average KL(N(mu, exp(logvar)) || N(0, 1)) of each latent dimension.

    Args:
        mu, logvar: (N, L) posterior means and log-variances of N inputs.

    Returns:
        (L,) mean over n of 0.5 * (mu^2 + exp(logvar) - 1 - logvar)
        (:meth:`~minivae.objectives.distributions.DiagonalGaussian.kl_standard_normal` per
        dimension), in nats; its sum is the batch-mean KL of the ELBO.
    """
    q = DiagonalGaussian(check_array(mu, "mu", ndim=2), check_array(logvar, "logvar", ndim=2))
    with np.errstate(over="ignore", invalid="ignore"):
        kl = q.kl_standard_normal(per_dimension=True).mean(axis=0)
    check_no_overflow(kl, "kl_per_dimension_mean", mu=q.mu, logvar=q.logvar)
    return kl


def latent_activity(mu: np.ndarray) -> np.ndarray:
    """Variance over the inputs of each posterior-mean dimension, Var_n(mu[n, l]).

    Args:
        mu: (N, L) posterior means E_q[z | x_n] for N >= 2 inputs (use many, e.g. a test set).

    Returns:
        (L,) population variances (divide by N), in float64.
    """
    mu = check_array(mu, "mu", ndim=2)
    if mu.shape[0] < 2:
        raise ValueError(f"mu needs at least 2 rows (inputs) to measure a variance, got {mu.shape}")
    with np.errstate(over="ignore", invalid="ignore"):
        var = np.var(mu.astype(np.float64, copy=False), axis=0)
    check_no_overflow(var, "latent_activity", mu=mu)
    return var


def active_units(mu: np.ndarray, threshold: float = 0.01) -> int:
    """Number of active latent dimensions (Burda et al., 2016): Var_x(E_q[z_l | x]) > threshold.

    Args:
        mu: (N, L) posterior means of N inputs.
        threshold: variance threshold, >= 0 (Burda et al. use 0.01, sensible when the prior is
            N(0, 1)).

    Returns:
        int in [0, L].
    """
    threshold = check_scalar(threshold, "threshold", low=0.0)
    return int(np.count_nonzero(latent_activity(mu) > threshold))
