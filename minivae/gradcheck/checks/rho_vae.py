"""Gradient checks of the rho-VAE posterior (:mod:`minivae.objectives.rho_gaussian`): the
reparameterized AR(1) sample (one and K samples, noise held fixed), the closed-form KL to
N(0, I), their sum as an ELBO's backward uses it, and the same from an encoder's output h
(the log-variance clamp and the rho_raw clip included, inputs drawn inside both).

All smooth (tanh, exp, products): tolerance 1e-7 in float64.  rho_raw is drawn inside
(-3, 3), away from the clip at RHO_RAW_MAX = 5, where the gradient has a kink.
"""

from __future__ import annotations

import numpy as np

from minivae.gradcheck.checkers import check_function
from minivae.gradcheck.checks._common import renamed, size
from minivae.gradcheck.registry import register_check
from minivae.gradcheck.result import GradCheckResult
from minivae.objectives.rho_gaussian import (
    RhoGaussian,
    rho_encoder_backward,
    rho_encoder_posterior,
)


def _params(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """mu: (N, L), logvar: (N,), rho_raw: (N,) with L >= 2 (L = 1 has no rho to check)."""
    N, L = size(rng, 1, 4), size(rng, 2, 6)
    return {"mu": rng.standard_normal((N, L)), "logvar": rng.uniform(-1.5, 1.0, N),
            "rho_raw": rng.uniform(-3.0, 3.0, N)}


@register_check("rho_gaussian.rsample")
def _check_rsample(rng: np.random.Generator) -> list[GradCheckResult]:
    """z by the AR(1) recursion with eps fixed, w.r.t. mu, logvar, rho_raw; 1 and K samples."""
    results: list[GradCheckResult] = []
    params = _params(rng)
    for K in (None, size(rng, 2, 3)):
        shape = params["mu"].shape if K is None else (K, *params["mu"].shape)
        eps, dz = rng.standard_normal(shape), rng.standard_normal(shape)

        def f(mu, logvar, rho_raw, eps=eps, dz=dz, K=K):
            return float(np.sum(RhoGaussian(mu, logvar, rho_raw).rsample(None, K, eps) * dz))

        def grad(mu, logvar, rho_raw, eps=eps, dz=dz, K=K):
            q = RhoGaussian(mu, logvar, rho_raw)
            q.rsample(None, K, eps)
            return q.rsample_backward(dz)

        # sum(z * dz) is a sum of terms of both signs: give the noise floor their size.
        z = RhoGaussian(**params).rsample(None, K, eps)
        res = check_function(f, params, grad, f_scale=float(np.sum(np.abs(z * dz))))
        results += res if K is None else renamed(res, f"(K={K})")
    return results


@register_check("rho_gaussian.kl_standard_normal")
def _check_kl(rng: np.random.Generator) -> list[GradCheckResult]:
    return check_function(
        lambda mu, logvar, rho_raw: float(np.sum(
            RhoGaussian(mu, logvar, rho_raw).kl_standard_normal())),
        _params(rng),
        lambda mu, logvar, rho_raw: RhoGaussian(mu, logvar, rho_raw).kl_standard_normal_grad(),
    )


@register_check("rho_gaussian.elbo_backward")
def _check_elbo_backward(rng: np.random.Generator) -> list[GradCheckResult]:
    """f(z) + beta/N * sum KL with f(z) = 0.5 * sum((z - x)^2), the shape of a VAE's loss."""
    params = _params(rng)
    eps = rng.standard_normal(params["mu"].shape)
    x = rng.standard_normal(params["mu"].shape)
    weight = float(rng.uniform(0.5, 2.0)) / params["mu"].shape[0]

    def f(mu, logvar, rho_raw):
        q = RhoGaussian(mu, logvar, rho_raw)
        z = q.rsample(None, eps=eps)
        return 0.5 * float(np.sum((z - x) ** 2)) + weight * float(np.sum(q.kl_standard_normal()))

    def grad(mu, logvar, rho_raw):
        q = RhoGaussian(mu, logvar, rho_raw)
        z = q.rsample(None, eps=eps)
        return q.elbo_backward(z - x, weight)

    return check_function(f, params, grad)


@register_check("rho_gaussian.encoder")
def _check_encoder(rng: np.random.Generator) -> list[GradCheckResult]:
    """d/dh of 0.5 * sum((z - x)^2) / N + beta/N * sum KL, h: (N, L + 2) an encoder's output."""
    p = _params(rng)
    h = np.concatenate([p["mu"], p["logvar"][:, None], p["rho_raw"][:, None]], axis=1)
    N, L = p["mu"].shape
    eps, x = rng.standard_normal((N, L)), rng.standard_normal((N, L))
    weight = float(rng.uniform(0.5, 2.0)) / N

    def f(h):
        q, _ = rho_encoder_posterior(h)
        z = q.rsample(None, eps=eps)
        kl = float(np.sum(q.kl_standard_normal()))
        return 0.5 * float(np.sum((z - x) ** 2)) / N + weight * kl

    def grad(h):
        q, inside = rho_encoder_posterior(h)
        z = q.rsample(None, eps=eps)
        return rho_encoder_backward(q, inside, (z - x) / N, weight)

    return check_function(f, {"h": h}, grad)
