"""Gradient checks of the mixture-prior VAEs: the mixture-prior KL terms, VaDE's p(c | z), and
the VaDE and GMVAE models (learned or uniform pi).

The log-probability arguments (log gamma, log pi) are checked through unconstrained scores,
log gamma = log_softmax(s), log pi = log_softmax(t), so the finite differences stay on the
simplex; that checks :func:`~minivae.objectives.mixture_prior.log_softmax_backward` too.  The
networks use tanh (no ReLU kinks) and the prior's parameters are random (not the symmetric
initial circle), so every path is exercised; everything is smooth: tolerance 1e-7.
"""

from __future__ import annotations

import numpy as np

from minivae.gradcheck.checkers import check_function
from minivae.gradcheck.checks._common import randomise_biases, size
from minivae.gradcheck.model_check import check_model
from minivae.gradcheck.registry import register_check
from minivae.gradcheck.result import GradCheckResult
from minivae.models.gmvae import GMVAE
from minivae.models.vade import VaDE
from minivae.objectives import mixture_prior as mp
from minivae.objectives.distributions import DiagonalGaussian


def _case(rng: np.random.Generator) -> dict[str, np.ndarray]:
    N, C, L = size(rng, 2, 4), size(rng, 2, 4), size(rng, 1, 3)
    return {"mu": rng.standard_normal((N, L)), "logvar": 0.5 * rng.standard_normal((N, L)),
            "s": rng.standard_normal((N, C)), "t": rng.standard_normal(C),
            "means": rng.standard_normal((C, L)), "logvars": 0.5 * rng.standard_normal((C, L))}


@register_check("mixture_prior.mixture_kl")
def _check_mixture_kl(rng: np.random.Generator) -> list[GradCheckResult]:
    """sum_n w_n * mixture_kl_n w.r.t. mu, logvar, the scores of gamma and pi, means, logvars."""
    inputs = _case(rng)
    w = rng.uniform(0.2, 1.0, inputs["mu"].shape[0])

    def f(mu, logvar, s, t, means, logvars) -> float:
        q = DiagonalGaussian(mu, logvar)
        return float(np.sum(w * mp.mixture_kl(q, mp.log_softmax(s), mp.log_softmax(t), means,
                                              logvars)))

    def grad(mu, logvar, s, t, means, logvars):
        lg, lp = mp.log_softmax(s), mp.log_softmax(t)
        g = mp.mixture_kl_backward(DiagonalGaussian(mu, logvar), lg, lp, means, logvars, w)
        return {"mu": g["mu"], "logvar": g["logvar"], "s": mp.log_softmax_backward(lg, g[
            "log_gamma"]), "t": mp.log_softmax_backward(lp, g["log_pi"]), "means": g["means"],
                "logvars": g["logvars"]}

    return check_function(f, inputs, grad, rng=rng)


@register_check("mixture_prior.cluster_log_posterior")
def _check_cluster_posterior(rng: np.random.Generator) -> list[GradCheckResult]:
    """sum(W * log p(c | z)) w.r.t. z, the scores of pi, means, logvars (W random)."""
    case = _case(rng)
    inputs = {"z": case["mu"], "t": case["t"], "means": case["means"],
              "logvars": case["logvars"]}
    W = rng.standard_normal(case["s"].shape)

    def f(z, t, means, logvars) -> float:
        return float(np.sum(W * mp.cluster_log_posterior(z, mp.log_softmax(t), means, logvars)))

    def grad(z, t, means, logvars):
        lp = mp.log_softmax(t)
        g = mp.cluster_log_posterior_backward(z, lp, means, logvars, W)
        return {"z": g["z"], "t": mp.log_softmax_backward(lp, g["log_pi"]),
                "means": g["means"], "logvars": g["logvars"]}

    # f is a sum of signed terms that may cancel: scale by their absolute sum
    scale = float(np.sum(np.abs(W * mp.cluster_log_posterior(
        inputs["z"], mp.log_softmax(inputs["t"]), inputs["means"], inputs["logvars"])))) + 1.0
    return check_function(f, inputs, grad, rng=rng, f_scale=scale)


def _model_check(cls: type, learn_weights: bool, output: str):
    def check(rng: np.random.Generator) -> list[GradCheckResult]:
        D, C, L = size(rng, 2, 5), size(rng, 2, 4), size(rng, 1, 3)
        model = cls(D, [size(rng, 2, 4)], L, C, learn_weights=learn_weights, activation="tanh",
                    output=output, rng=rng)
        randomise_biases(model, rng)
        model.params["prior_means"][...] = rng.standard_normal((C, L))
        model.params["prior_logvars"][...] = 0.3 * rng.standard_normal((C, L))
        if learn_weights:
            model.params["prior_logits"][...] = rng.standard_normal(C)
        N = size(rng, 2, 4)
        X = rng.random((N, D)) if output == "bernoulli" else rng.standard_normal((N, D))
        return check_model(model, X, rng=rng)

    return check


for _cls, _lw, _out in ((VaDE, True, "bernoulli"), (VaDE, False, "bernoulli"),
                        (VaDE, True, "gaussian"), (GMVAE, False, "bernoulli"),
                        (GMVAE, True, "bernoulli")):
    register_check(f"{_cls.__name__.lower()}.{_out}{'.learned_pi' if _lw else '.uniform_pi'}",
                   _model_check(_cls, _lw, _out))
