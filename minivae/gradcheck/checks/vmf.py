"""Gradient checks of the S-VAE's von Mises-Fisher posterior (:mod:`minivae.objectives.vmf`) and
of the Bessel functions under it (:mod:`minivae.objectives.bessel`):

* the reparameterized sample z = U(mu) (h(eps, kappa), sqrt(1 - h^2) v) with the accepted
  eps and the tangent direction v held fixed (the paper's g_rep), w.r.t. mu and kappa, one and
  K samples;
* the closed-form KL to the uniform prior on the sphere, w.r.t. kappa;
* their sum as an ELBO's backward uses it, and the same from an encoder's output h (through
  mu = h_mu / ||h_mu|| and kappa = softplus(h_k) + 1);
* d/dkappa log I_v(kappa) = I_{v+1}/I_v + v / kappa: the log-Bessel function against its own
  ratio (the two are computed by the same code, so this ties them together in both regimes);
* the whole ``VAE(posterior="vmf")`` through ``loss`` / ``backward`` (Bernoulli and Gaussian
  likelihoods; the small tanh networks of :mod:`.posteriors`).

All smooth: tolerance 1e-7 in float64.  mu is perturbed off the sphere by the finite
differences (1e-6, inside MU_NORM_TOL = 1e-5): the formulas are differentiable there.  kappa is
drawn log-uniformly in [0.3, 60], across the switch from the series to the asymptotic
expansion at kappa = 10 (where the two agree to ~1e-13 in log I_v: a difference straddling the
switch would be off by ~1e-13 / 2e-6, and the chance of drawing kappa within 1e-6 of it is
~1e-7).  The KL is kappa A - log S, two terms of size ~kappa that cancel to ~log kappa, so its
checks pass its terms' size as ``f_scale`` (the finite differences' noise floor).
"""

from __future__ import annotations

import numpy as np

from minivae.gradcheck.checkers import check_function
from minivae.gradcheck.checks._common import renamed, size
from minivae.gradcheck.checks.posteriors import posterior_case
from minivae.gradcheck.model_check import check_model
from minivae.gradcheck.registry import register_check
from minivae.gradcheck.result import GradCheckResult
from minivae.objectives.bessel import bessel_iv_ratio, bessel_parts, log_bessel_iv
from minivae.objectives.vmf import VonMisesFisher, vmf_encoder_backward, vmf_encoder_posterior


def _params(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """mu: (N, m) unit rows, kappa: (N, 1), m in 2..6."""
    N, m = size(rng, 1, 4), size(rng, 2, 6)
    mu = rng.standard_normal((N, m))
    return {"mu": mu / np.linalg.norm(mu, axis=1, keepdims=True),
            "kappa": np.exp(rng.uniform(np.log(0.3), np.log(60.0), (N, 1)))}


def _kl_scale(q: VonMisesFisher) -> float:
    """The size of the KL's terms, log S - kappa and kappa (1 - A)."""
    _, log_s_minus_kappa, _, complement = bessel_parts(q.order, q.kappa)
    return float(np.sum(np.abs(log_s_minus_kappa) + q.kappa * complement))


@register_check("vmf.rsample")
def _check_rsample(rng: np.random.Generator) -> list[GradCheckResult]:
    """z with the accepted eps and v fixed, w.r.t. mu and kappa; 1 and K samples."""
    results: list[GradCheckResult] = []
    params = _params(rng)
    for K in (None, size(rng, 2, 3)):
        q = VonMisesFisher(**params)
        z = q.rsample(rng, K)
        eps, dz = q.eps, rng.standard_normal(z.shape)

        def f(mu, kappa, eps=eps, dz=dz, K=K):
            return float(np.sum(VonMisesFisher(mu, kappa).rsample(None, K, eps) * dz))

        def grad(mu, kappa, eps=eps, dz=dz, K=K):
            q = VonMisesFisher(mu, kappa)
            q.rsample(None, K, eps)
            return q.rsample_backward(dz)

        res = check_function(f, params, grad, f_scale=float(np.sum(np.abs(z * dz))))
        results += res if K is None else renamed(res, f"(K={K})")
    return results


@register_check("vmf.kl_uniform")
def _check_kl(rng: np.random.Generator) -> list[GradCheckResult]:
    params = _params(rng)
    mu = params["mu"]
    return check_function(
        lambda kappa: float(np.sum(VonMisesFisher(mu, kappa).kl_uniform())),
        {"kappa": params["kappa"]},
        lambda kappa: VonMisesFisher(mu, kappa).kl_uniform_grad(),
        f_scale=_kl_scale(VonMisesFisher(**params)),
    )


@register_check("vmf.elbo_backward")
def _check_elbo_backward(rng: np.random.Generator) -> list[GradCheckResult]:
    """f(z) + beta/N * sum KL with f(z) = 0.5 * sum((z - x)^2), the shape of a VAE's loss."""
    params = _params(rng)
    q = VonMisesFisher(**params)
    z0 = q.rsample(rng)
    eps, x = q.eps, rng.standard_normal(z0.shape)
    weight = float(rng.uniform(0.5, 2.0)) / z0.shape[0]

    def f(mu, kappa):
        q = VonMisesFisher(mu, kappa)
        z = q.rsample(None, eps=eps)
        return 0.5 * float(np.sum((z - x) ** 2)) + weight * float(np.sum(q.kl_uniform()))

    def grad(mu, kappa):
        q = VonMisesFisher(mu, kappa)
        z = q.rsample(None, eps=eps)
        return q.elbo_backward(z - x, weight)

    scale = float(np.sum((z0 - x) ** 2)) + weight * _kl_scale(q)
    return check_function(f, params, grad, f_scale=scale)


@register_check("vmf.encoder")
def _check_encoder(rng: np.random.Generator) -> list[GradCheckResult]:
    """d/dh of 0.5 * sum((z - x)^2) / N + beta/N * sum KL, h: (N, m + 1) an encoder's output."""
    N, m = size(rng, 1, 4), size(rng, 2, 6)
    h = np.concatenate([rng.standard_normal((N, m)), rng.uniform(-2.0, 3.0, (N, 1))], axis=1)
    q, _ = vmf_encoder_posterior(h)
    z0 = q.rsample(rng)
    eps, x = q.eps, rng.standard_normal((N, m))
    weight = float(rng.uniform(0.5, 2.0)) / N

    def f(h):
        q, _ = vmf_encoder_posterior(h)
        z = q.rsample(None, eps=eps)
        return 0.5 * float(np.sum((z - x) ** 2)) / N + weight * float(np.sum(q.kl_uniform()))

    def grad(h):
        q, inside = vmf_encoder_posterior(h)
        z = q.rsample(None, eps=eps)
        return vmf_encoder_backward(q, inside, (z - x) / N, weight)

    scale = float(np.sum((z0 - x) ** 2)) / N + weight * _kl_scale(q)
    return check_function(f, {"h": h}, grad, f_scale=scale)


@register_check("bessel.log_bessel_iv")
def _check_log_bessel(rng: np.random.Generator) -> list[GradCheckResult]:
    """d/dkappa log I_v(kappa) = I_{v+1}(kappa) / I_v(kappa) + v / kappa, v in {0, 1/2, ..., 10}
    (both regimes: kappa log-uniform in [1e-2, 300])."""
    v = 0.5 * float(rng.integers(0, 21))
    kappa = np.exp(rng.uniform(np.log(1e-2), np.log(300.0), size(rng, 2, 6)))
    return renamed(check_function(
        lambda kappa: float(np.sum(log_bessel_iv(v, kappa))),
        {"kappa": kappa},
        lambda kappa: bessel_iv_ratio(v, kappa) + v / kappa,
        f_scale=float(np.sum(np.abs(log_bessel_iv(v, kappa)))),
    ), f"(v={v:g})")


def _make_vae_check(likelihood: str):
    def check(rng: np.random.Generator) -> list[GradCheckResult]:
        """The whole VAE(posterior="vmf") through loss / backward, the noise replayed."""
        model, batch = posterior_case(rng, "vmf", likelihood)
        return check_model(model, batch, rng=rng)

    return check


for _lik in ("bernoulli", "gaussian"):
    register_check(f"vmf.vae.{_lik}", _make_vae_check(_lik))
