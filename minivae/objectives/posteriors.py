"""Posterior families a VAE can use for q(z | x): a small registry, name -> family.

``VAE(..., posterior="gaussian" | "rho" | "iaf" | ...)`` picks one.  The encoder ends with
``family.width`` numbers per example (the family's parameters of q), and every path of the
model (training loss and backward, ELBO, importance-sampled bounds, reconstruction, sampling)
asks the family, never a particular distribution:

* ``"gaussian"``: q = N(mu, diag(exp(logvar))), h = [mu, logvar] (N, 2L), closed-form KL
  (:func:`~minivae.objectives.elbo.encoder_posterior`, Kingma & Welling 2014);
* ``"rho"``: the rho-VAE's AR(1) covariance N(mu, s T(rho)), h = [mu, log s, rho_raw]
  (N, L + 2), closed-form KL (:mod:`~minivae.objectives.rho_gaussian`);
* ``"iaf"``: a diagonal Gaussian followed by inverse autoregressive flow steps (Kingma et al.
  2016), h = [mu, logvar, context] (N, 3L), KL estimated from the sample
  (:mod:`~minivae.objectives.iaf`);
* ``"vmf"``: the S-VAE's von Mises-Fisher posterior on the sphere S^{L-1} with a uniform prior,
  h = [direction, kappa_raw] (N, L + 1), closed-form KL (:mod:`~minivae.objectives.vmf`).

The family protocol (what a registered factory must return; see :class:`GaussianFamily`):

* ``name`` (str), ``width`` (int, encoder outputs per example), ``objectives`` (the model
  objectives it supports: "gaussian" all of them, the others ``("elbo",)``);
* ``make(h) -> (q, inside)``: h (N, width) -> the posterior object q and whatever mask
  ``backward`` needs (where clamps pass gradients);
* ``backward(q, inside, dz, dkl) -> dh``: d loss / d h (N, width) for the loss
  ``f(z) + dkl * sum_n kl(q)[n]``, dz = df/dz (N, L) at the last ``q.rsample`` (1/N included),
  dkl a float (e.g. beta / N);
* ``kl(q) -> (N,)``: KL(q(z|x) || p(z)) to the family's own prior: in closed form where there
  is one, else the one-sample Monte Carlo estimate log q(z) - log p(z) at the last rsample;
* ``analytic_kl`` (bool): whether ``kl`` is closed form (the ELBO estimate then uses it);
* ``log_prior(z) -> (..., N)`` and ``sample_prior(rng, n) -> (n, L)``: the prior p(z);
* ``code(q) -> (N, L)``: the point code reconstruct() decodes (the posterior's location);
* ``summary(q) -> (mu, logvar) | None``: per-dimension Gaussian marginals for the KL-per-
  dimension diagnostics, or None where q has none (the diagnostics are then skipped).

A family that holds trainable parameters (IAF's MADE networks) is itself a
:class:`~minivae.nn.layer.Layer`; the model keeps it as a child so its parameters train and are
saved with the rest.  ``rng`` and ``dtype`` go to its factory.

The posterior object q must provide ``rsample(rng, n_samples=None, eps=None) -> z`` ((N, L), or
(K, N, L) with K samples) keeping its noise in ``q.eps`` (so ``eps=q.eps`` replays the same
pass), ``sample(rng, n_samples=None)`` (the same draw without keeping the noise) and
``log_prob(z) -> (..., N)``.  Anything else (KL, gradients) goes through the family's functions.

Register a new family with :func:`register_posterior` (``name -> factory(latent_dim, *, rng,
dtype)``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from minivae._validation import (
    as_dtype,
    check_array,
    check_positive_int,
    check_rng,
    check_scalar,
)
from minivae.objectives.distributions import (
    DiagonalGaussian,
    check_posterior,
    standard_normal_log_prob,
)
from minivae.objectives.elbo import encoder_posterior, negative_elbo_backward
from minivae.objectives.iaf import IAFFamily
from minivae.objectives.rho_gaussian import (
    RhoGaussian,
    rho_encoder_backward,
    rho_encoder_posterior,
)
from minivae.objectives.vmf import VMFFamily


class StandardNormalPrior:
    """p(z) = N(0, I) over L dimensions, shared by the Gaussian-prior families."""

    def __init__(self, latent_dim: int, dtype: object = np.float64) -> None:
        self.latent_dim = check_positive_int(latent_dim, "latent_dim")
        self.dtype = as_dtype(dtype)

    def log_prior(self, z: np.ndarray) -> np.ndarray:
        """log N(z; 0, I) summed over the last axis: (..., N, L) -> (..., N)."""
        return standard_normal_log_prob(z)

    def sample_prior(self, rng: np.random.Generator | int, n: int) -> np.ndarray:
        """n draws of N(0, I): (n, L)."""
        n = check_positive_int(n, "n")
        return check_rng(rng).standard_normal((n, self.latent_dim)).astype(self.dtype)


class GaussianFamily(StandardNormalPrior):
    """q = N(mu, diag(exp(logvar))), h = [mu, logvar] (N, 2L); KL to N(0, I) in closed form."""

    name = "gaussian"
    analytic_kl = True
    objectives = None  # every objective of the model

    @property
    def width(self) -> int:
        return 2 * self.latent_dim

    def make(self, h: np.ndarray) -> tuple[DiagonalGaussian, np.ndarray]:
        return encoder_posterior(h)

    def backward(self, q: DiagonalGaussian, inside: np.ndarray, dz: np.ndarray,
                 dkl: float) -> np.ndarray:
        return negative_elbo_backward(q, inside, dz, dkl)

    def kl(self, q: DiagonalGaussian) -> np.ndarray:
        return check_posterior(q).kl_standard_normal()

    def code(self, q: DiagonalGaussian) -> np.ndarray:
        return check_posterior(q).mu

    def summary(self, q: DiagonalGaussian) -> tuple[np.ndarray, np.ndarray]:
        q = check_posterior(q)
        return q.mu, q.logvar


class RhoFamily(StandardNormalPrior):
    """The rho-VAE: q = N(mu, s T(rho)), h = [mu, log s, rho_raw] (N, L + 2); closed-form KL.
    Its marginals are N(mu_l, s) exactly, so the diagnostics see (mu, log s repeated)."""

    name = "rho"
    analytic_kl = True
    objectives = ("elbo",)

    @property
    def width(self) -> int:
        return self.latent_dim + 2

    def make(self, h: np.ndarray) -> tuple[RhoGaussian, np.ndarray]:
        return rho_encoder_posterior(h)

    def backward(self, q: RhoGaussian, inside: np.ndarray, dz: np.ndarray,
                 dkl: float) -> np.ndarray:
        return rho_encoder_backward(q, inside, dz, dkl)

    def kl(self, q: RhoGaussian) -> np.ndarray:
        return _check_rho(q).kl_standard_normal()

    def code(self, q: RhoGaussian) -> np.ndarray:
        return _check_rho(q).mu

    def summary(self, q: RhoGaussian) -> tuple[np.ndarray, np.ndarray]:
        q = _check_rho(q)
        return q.mu, np.repeat(q.logvar[:, None], q.latent_dim, axis=1)


def _check_rho(q: object) -> RhoGaussian:
    if not isinstance(q, RhoGaussian):
        raise TypeError(f"q must be a RhoGaussian (from rho_encoder_posterior), got "
                        f"{type(q).__name__}")
    return q


#: name -> factory(latent_dim, *, rng, dtype) returning a family object (module docstring).
POSTERIORS: dict[str, Callable[..., Any]] = {}


def register_posterior(name: str, factory: Callable[..., Any]) -> None:
    """Add a posterior family under ``name`` (a new name; ``factory(latent_dim, *, rng, dtype)``
    returns an object following the family protocol of this module)."""
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty str, got {name!r}")
    if not callable(factory):
        raise TypeError(f"factory must be callable, got {type(factory).__name__}")
    if name in POSTERIORS:
        raise ValueError(f"name {name!r} is registered already as a posterior family")
    POSTERIORS[name] = factory


def check_posterior_name(posterior: object) -> str:
    """``posterior`` must be a registered family name; returns it."""
    if not isinstance(posterior, str) or posterior not in POSTERIORS:
        raise ValueError(f"posterior must be one of {tuple(POSTERIORS)}, got {posterior!r}")
    return posterior


def build_posterior(posterior: str, latent_dim: int, *, rng: np.random.Generator | int = 0,
                    dtype: object = np.float64) -> Any:
    """The family object named ``posterior`` for ``latent_dim`` latent dimensions (its
    parameters, if any, initialised from ``rng``)."""
    factory = POSTERIORS[check_posterior_name(posterior)]
    return factory(check_positive_int(latent_dim, "latent_dim"), rng=check_rng(rng),
                   dtype=as_dtype(dtype))


def family_negative_elbo(rec: np.ndarray, kl: np.ndarray,
                         beta: float) -> tuple[float, dict[str, float], float]:
    """The loss ``mean_n rec[n] + beta * mean_n kl[n]`` of a family's KL (no free bits).

    rec: (N,) -log p(x_n | z_n);  kl: (N,) the family's ``kl(q)``.  Returns (value, parts, dkl)
    like :func:`~minivae.objectives.elbo.negative_elbo`, dkl = beta / N the weight of
    ``sum_n kl[n]`` that the family's ``backward`` takes.
    """
    rec = check_array(rec, "rec", ndim=1, allow_nan=True)  # inf: fit's guard reports it
    kl = check_array(kl, "kl", shape=rec.shape, allow_nan=True)
    beta = check_scalar(beta, "beta", low=0.0)
    rec_mean, kl_mean = float(rec.mean()), float(kl.mean())
    value = rec_mean + beta * kl_mean
    parts = {"loss": value, "reconstruction": rec_mean, "kl": kl_mean,
             "elbo": -(rec_mean + kl_mean)}
    return value, parts, beta / rec.shape[0]


def family_log_weights(family: Any, rec: np.ndarray, z: np.ndarray, q: Any) -> np.ndarray:
    """log w = -rec + log p(z) - log q(z | x) of K samples under ``family``'s prior: rec (K, N)
    the reconstruction NLL -log p(x | z_i), z (K, N, L) -> (K, N).  (For "gaussian" this is
    :func:`~minivae.objectives.iwae.iwae_log_weights` with beta = 1.)"""
    z = check_array(z, "z", ndim=3, allow_nan=True)
    rec = check_array(rec, "rec", shape=z.shape[:2], allow_nan=True)
    return -rec + family.log_prior(z) - q.log_prob(z)


register_posterior("gaussian", lambda latent_dim, *, rng, dtype: GaussianFamily(latent_dim,
                                                                                   dtype))
register_posterior("rho", lambda latent_dim, *, rng, dtype: RhoFamily(latent_dim, dtype))
register_posterior("iaf", IAFFamily)
register_posterior("vmf", lambda latent_dim, *, rng, dtype: VMFFamily(latent_dim, dtype))
