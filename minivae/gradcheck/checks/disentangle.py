"""Gradient checks of the disentangling objectives and models: the beta-TCVAE regulariser
(minibatch-weighted sampling of MI, TC and dimension-wise KL,
:mod:`minivae.objectives.total_correlation`) through the reparameterized sample with the noise
held fixed, and the :class:`~minivae.models.BetaTCVAE` and :class:`~minivae.models.AnnealedVAE`
models through ``loss`` / ``backward``.

All smooth (log-sum-exp, exp, products; tanh networks): tolerance 1e-7 in float64.  The
AnnealedVAE's |KL - C| has a kink at KL = C: its check puts C 0.5 nats away from the batch KL.
"""

from __future__ import annotations

import numpy as np

from minivae.gradcheck.checkers import check_function
from minivae.gradcheck.checks._common import renamed, size
from minivae.gradcheck.model_check import check_model
from minivae.gradcheck.registry import register_check
from minivae.gradcheck.result import GradCheckResult
from minivae.models import AnnealedVAE, BetaTCVAE
from minivae.objectives.distributions import DiagonalGaussian
from minivae.objectives.total_correlation import tc_regulariser


@register_check("total_correlation.tc_regulariser")
def _check_tc_regulariser(rng: np.random.Generator) -> list[GradCheckResult]:
    """alpha MI + beta TC + gamma DWKL + 0.5 sum((z - x)^2) / M w.r.t. mu and logvar, with
    z = mu + sigma * eps (eps fixed): the sample path and the direct path together."""
    M, L = size(rng, 2, 5), size(rng, 1, 4)
    params = {"mu": rng.standard_normal((M, L)), "logvar": rng.uniform(-1.5, 1.0, (M, L))}
    eps, x = rng.standard_normal((M, L)), rng.standard_normal((M, L))
    weights = tuple(float(w) for w in rng.uniform(0.2, 5.0, 3))
    n_data = M + size(rng, 0, 100)

    def f(mu, logvar):
        q = DiagonalGaussian(mu, logvar)
        z = q.rsample(None, eps=eps)
        return tc_regulariser(z, q, n_data, *weights)[0] + 0.5 * float(np.sum((z - x) ** 2)) / M

    def grad(mu, logvar):
        q = DiagonalGaussian(mu, logvar)
        z = q.rsample(None, eps=eps)
        _, _, dz, dmu, dlogvar = tc_regulariser(z, q, n_data, *weights)
        smu, slogvar = q.rsample_backward(dz + (z - x) / M)
        return smu + dmu, slogvar + dlogvar

    return check_function(f, params, grad)


def _tanh_model(model, rng: np.random.Generator):
    for name, p, _ in model.parameters():  # biases start at 0: cover the general case
        if name.endswith(".b"):
            p[...] = 0.1 * rng.standard_normal(p.shape)
    return model


@register_check("beta_tcvae")
def _check_beta_tcvae(rng: np.random.Generator) -> list[GradCheckResult]:
    """Bernoulli and Gaussian likelihoods, random (alpha, beta, gamma) and KL weight."""
    results: list[GradCheckResult] = []
    for likelihood in ("bernoulli", "gaussian"):
        D, H, L, N = size(rng, 2, 5), size(rng, 2, 5), size(rng, 2, 4), size(rng, 2, 5)
        a, b, g = rng.uniform(0.2, 6.0, 3)
        model = _tanh_model(BetaTCVAE(D, [H], L, dataset_size=N + 50, alpha=a, beta=b, gamma=g,
                                      likelihood=likelihood, activation="tanh", rng=rng), rng)
        model.kl_weight = float(rng.uniform(0.5, 1.5))
        X = rng.random((N, D)) if likelihood == "bernoulli" else rng.standard_normal((N, D))
        results += renamed(check_model(model, X, rng=rng), f"({likelihood})")
    return results


@register_check("annealed_vae")
def _check_annealed_vae(rng: np.random.Generator) -> list[GradCheckResult]:
    """KL above and below the capacity C (C set 0.5 nats from the batch KL, off the kink)."""
    results: list[GradCheckResult] = []
    for side in (-1.0, 1.0):
        D, H, L, N = size(rng, 2, 5), size(rng, 2, 5), size(rng, 2, 4), size(rng, 2, 5)
        X = rng.random((N, D))
        probe = _tanh_model(AnnealedVAE(D, [H], L, activation="tanh", rng=rng), rng)
        kl = float(np.sum(probe.kl_per_dimension(X)))
        if side < 0 and kl < 1.0:  # KL too small to sit above a C >= 0: move the means out
            probe.encoder.layers[-1].params["b"][:L] += 2.0
            kl = float(np.sum(probe.kl_per_dimension(X)))
        capacity = kl + 0.5 * side
        model = AnnealedVAE(D, [H], L, gamma=float(rng.uniform(0.5, 5.0)),
                            capacity_max=capacity, capacity_steps=1, capacity_step=1,
                            activation="tanh", rng=0)
        model.load_state_dict(probe.state_dict())
        name = "KL < C" if side > 0 else "KL > C"
        results += renamed(check_model(model, X, rng=rng), f"({name})")
    return results
