"""What a model optimises: likelihoods (reconstruction losses), distributions with their closed-form
KLs and log-densities, and the KL term as it enters a loss (beta, free bits).

* :mod:`~minivae.objectives.losses` — MSE, Bernoulli NLL from logits, Gaussian NLL, each with its
  gradient ("sum over data dimensions, mean over the batch"), and ``reconstruction_nll``, a
  decoder's output read as p(x | z);
* :mod:`~minivae.objectives.distributions` — :class:`DiagonalGaussian` (reparameterized sample,
  closed-form KLs, log-density), the standard-normal prior and its quantile function
  :func:`~minivae.objectives.distributions.norm_ppf`;
* :mod:`~minivae.objectives.kl` — :func:`kl_loss_term` and :func:`free_bits_kl`;
* :mod:`~minivae.objectives.elbo` — the negative ELBO of a Gaussian-latent model from its parts
  (``encoder_posterior``, ``negative_elbo``, ``negative_elbo_backward``);
* :mod:`~minivae.objectives.iwae` — the importance-weighted bound as a loss (``iwae_log_weights``,
  ``negative_iwae``, ``negative_iwae_backward``);
* :mod:`~minivae.objectives.path_gradients` — the STL (ELBO, IWAE) and DReG (IWAE) gradient
  estimators;
* :mod:`~minivae.objectives.renyi` — the variational Renyi bound VR-alpha and VR-max;
* :mod:`~minivae.objectives.infovae` — InfoVAE / MMD-VAE;
* :mod:`~minivae.objectives.wae` — the Wasserstein autoencoder's MMD objective;
* :mod:`~minivae.objectives.rho_gaussian` — the rho-VAE posterior :class:`RhoGaussian` (AR(1)
  covariance: reparameterized sample, closed-form KL, their gradients).
* :mod:`~minivae.objectives.iaf` — the inverse autoregressive flow posterior (VAE-IAF);
* :mod:`~minivae.objectives.posteriors` — the registry of posterior families a VAE can use
  (``VAE(..., posterior=...)``).
* :mod:`~minivae.objectives.vmf` — the S-VAE's von Mises-Fisher posterior
  :class:`VonMisesFisher` (Wood's sampler, reparameterized sample, KL to the uniform prior on
  the sphere) over :mod:`~minivae.objectives.bessel` (log I_v and I_{v+1} / I_v in NumPy).
* :mod:`~minivae.objectives.delta_vae` — the delta-VAE's KL of a diagonal posterior to an AR(1)
  prior, its committed rate delta(alpha) and gradients.
* :mod:`~minivae.objectives.mixture_prior` — the ELBO terms of a learned mixture-of-Gaussians
  prior (VaDE, GMVAE): the mixture KL, the cluster posterior p(c | z), their gradients.
"""

from minivae.objectives import (
    delta_vae,
    distributions,
    elbo,
    iaf,
    infovae,
    iwae,
    kl,
    losses,
    mixture_prior,
    path_gradients,
    posteriors,
    renyi,
    rho_gaussian,
    vmf,
    wae,
)
from minivae.objectives.distributions import DiagonalGaussian
from minivae.objectives.kl import free_bits_kl, kl_loss_term
from minivae.objectives.rho_gaussian import RhoGaussian

__all__ = ["DiagonalGaussian", "distributions", "elbo", "free_bits_kl", "infovae", "iwae", "kl",
           "kl_loss_term", "losses", "path_gradients", "renyi", "rho_gaussian", "wae",
           "RhoGaussian", "iaf", "posteriors", "vmf", "delta_vae", "mixture_prior"]
