"""Exercises of lesson 02 (the VAE, the ELBO and the KL): the closed-form KL to N(0, I) and its
gradient, the Gaussian negative log-likelihood and its gradient.

* ``kl_standard_normal(mu, logvar) -> kl``; mu, logvar: (N, L), kl: (N,) = KL(q || N(0, I))
* ``kl_grad(mu, logvar) -> (dmu, dlogvar)``: gradient of ``sum(kl)`` over the batch
* ``gaussian_nll(mean, logvar, target) -> nll``; (N, D) -> (N,)
* ``gaussian_nll_grad(mean, logvar, target) -> (dmean, dlogvar)`` of ``sum(nll)``
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from minivae.exercises.exercise import Exercise
from minivae.exercises.grader import ExerciseResult, Grader, Mistake, make_rng
from minivae.objectives import losses
from minivae.objectives.distributions import DiagonalGaussian

LESSON = "02_vae_elbo_kl"

# =================================================================================== KL
KL_SIG = ("kl_standard_normal(mu, logvar) -> kl;  mu, logvar: (N, L); kl: (N,) with "
          "kl[n] = 0.5 * sum_l (mu^2 + exp(logvar) - 1 - logvar)")
KL_GRAD_SIG = ("kl_grad(mu, logvar) -> (dmu, dlogvar);  gradients of sum_n kl[n] "
               "(the sum over the batch), each (N, L)")


def _kl_inputs(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = make_rng(seed)
    N, L = 4, 3  # N != L: summing over the wrong axis gives a wrong shape
    return rng.standard_normal((N, L)), 0.8 * rng.standard_normal((N, L))


def kl_solution(mu: np.ndarray, logvar: np.ndarray) -> np.ndarray:
    """SOLUTIONS["kl_standard_normal"]: :meth:`DiagonalGaussian.kl_standard_normal`."""
    return DiagonalGaussian(mu, logvar).kl_standard_normal()


def kl_grad_solution(mu: np.ndarray, logvar: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """SOLUTIONS["kl_grad"]: :meth:`DiagonalGaussian.kl_standard_normal_grad`."""
    return DiagonalGaussian(mu, logvar).kl_standard_normal_grad()


def _kl_terms(mu: np.ndarray, logvar: np.ndarray) -> np.ndarray:
    return 0.5 * (mu**2 + np.exp(logvar) - 1.0 - logvar)


KL_MISTAKES = [
    Mistake("per-dimension terms returned; sum them over the latent axis (axis=1)",
            lambda mu, lv: _kl_terms(mu, lv)),
    Mistake("summed over the batch axis (axis=0); the KL of example n sums over its L "
            "latent dimensions (axis=1)", lambda mu, lv: _kl_terms(mu, lv).sum(axis=0)),
    Mistake("summed over the batch too; return one KL per example, shape (N,)",
            lambda mu, lv: np.asarray(_kl_terms(mu, lv).sum())),
    Mistake("the factor 0.5 in front is missing",
            lambda mu, lv: (mu**2 + np.exp(lv) - 1 - lv).sum(axis=1)),
    Mistake("the -1 term is missing (it makes KL(N(0,1) || N(0,1)) = 0)",
            lambda mu, lv: 0.5 * (mu**2 + np.exp(lv) - lv).sum(axis=1)),
    Mistake("the standard deviation exp(0.5 logvar) is used where the variance exp(logvar) "
            "belongs", lambda mu, lv: 0.5 * (mu**2 + np.exp(0.5 * lv) - 1 - lv).sum(axis=1)),
    Mistake("the log-variance term has the wrong sign: it is -logvar (from -log sigma^2)",
            lambda mu, lv: 0.5 * (mu**2 + np.exp(lv) - 1 + lv).sum(axis=1)),
    Mistake("the mu^2 term is missing (moving the mean away from 0 costs KL)",
            lambda mu, lv: 0.5 * (np.exp(lv) - 1 - lv).sum(axis=1)),
    Mistake("averaged over the latent dimensions; the KL of independent dimensions is their "
            "SUM", lambda mu, lv: _kl_terms(mu, lv).mean(axis=1)),
    Mistake("KL(N(0, I) || q) computed, the reverse direction; the VAE uses KL(q || N(0, I))",
            lambda mu, lv: 0.5 * (lv + (1 + mu**2) * np.exp(-lv) - 1).sum(axis=1)),
]

KL_GRAD_MISTAKES = [
    Mistake("dlogvar misses the derivative of the -logvar term: "
            "d/dlogvar 0.5 (exp(logvar) - logvar) = 0.5 (exp(logvar) - 1)",
            lambda mu, lv: (None, 0.5 * np.exp(lv))),
    Mistake("the 0.5 is missing in dlogvar: 0.5 * (exp(logvar) - 1)",
            lambda mu, lv: (None, np.exp(lv) - 1)),
    Mistake("dmu = 2 mu: the 0.5 in 0.5 mu^2 cancels the 2, so dmu = mu",
            lambda mu, lv: (2 * mu, None)),
    Mistake("that is the derivative w.r.t. the VARIANCE; the chain rule through "
            "var = exp(logvar) multiplies by var: dlogvar = 0.5 (exp(logvar) - 1)",
            lambda mu, lv: (None, 0.5 * (1 - np.exp(-lv)))),
    Mistake("the KL terms themselves were returned, not their derivative",
            lambda mu, lv: (0.5 * mu**2, _kl_terms(np.zeros_like(mu), lv))),
    Mistake("divided by the batch size: kl_grad is the gradient of the SUM over examples",
            lambda mu, lv: (mu / mu.shape[0], 0.5 * (np.exp(lv) - 1) / mu.shape[0])),
]


def check_kl_standard_normal(fn: Callable[..., Any], *, raise_on_fail: bool = False,
                             seed: int = 0) -> ExerciseResult:
    """Grade ``kl_standard_normal(mu, logvar) -> (N,)``, KL(N(mu, diag exp(logvar)) || N(0, I))
    per example, against
    :meth:`minivae.objectives.distributions.DiagonalGaussian.kl_standard_normal`.

    Two cases: random (mu, logvar) of shape (4, 3), and mu = logvar = 0 where the KL must be 0.
    """
    g = Grader("kl_standard_normal", fn, ["kl"], KL_SIG)
    mu, logvar = _kl_inputs(seed)
    zeros = np.zeros_like(mu)
    g.check_cases([("random mu, logvar", {"mu": mu, "logvar": logvar}),
                   ("mu = 0, logvar = 0: q equals the prior", {"mu": zeros, "logvar": zeros})],
                  kl_solution, mistakes=KL_MISTAKES)
    return g.result(raise_on_fail, "the closed-form KL matches DiagonalGaussian"
                    ".kl_standard_normal")


def check_kl_grad(fn: Callable[..., Any], *, raise_on_fail: bool = False,
                  seed: int = 0) -> ExerciseResult:
    """Grade ``kl_grad(mu, logvar) -> (dmu, dlogvar)``, the gradient of ``sum_n KL_n``, against
    central differences of the closed-form KL."""
    g = Grader("kl_grad", fn, ["dmu", "dlogvar"], KL_GRAD_SIG)
    mu, logvar = _kl_inputs(seed)
    out = g.call({"mu": mu, "logvar": logvar})
    if out is not None:
        arrays = {"mu": mu.copy(), "logvar": logvar.copy()}

        def loss() -> float:
            return float(np.sum(_kl_terms(arrays["mu"], arrays["logvar"])))

        scale = float(np.sum(np.abs(_kl_terms(mu, logvar))))
        for k, key in enumerate(("mu", "logvar")):
            g.check_grad(k, out[k], loss, arrays[key], mistakes=KL_GRAD_MISTAKES,
                         inputs=(mu, logvar), f_scale=scale)
    return g.result(raise_on_fail, "dmu = mu and dlogvar = 0.5 (exp(logvar) - 1) match the "
                    "numerical gradient")


# ========================================================================= Gaussian NLL
GNLL_SIG = ("gaussian_nll(mean, logvar, target) -> nll;  all (N, D); nll: (N,) = "
            "sum_d 0.5 * (log 2pi + logvar + (target - mean)^2 / exp(logvar))")
GNLL_GRAD_SIG = ("gaussian_nll_grad(mean, logvar, target) -> (dmean, dlogvar);  gradients of "
                 "sum_n nll[n], each (N, D)")


def gnll_solution(mean: np.ndarray, logvar: np.ndarray, target: np.ndarray) -> np.ndarray:
    """SOLUTIONS["gaussian_nll"]: :func:`minivae.objectives.losses.gaussian_nll`, per example."""
    return losses.gaussian_nll(mean, logvar, target, reduction="none")


def gnll_grad_solution(mean: np.ndarray, logvar: np.ndarray, target: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray]:
    """SOLUTIONS["gaussian_nll_grad"]: :func:`minivae.objectives.losses.gaussian_nll_grad` of the
    sum."""
    return losses.gaussian_nll_grad(mean, logvar, target, reduction="sum")


def _gnll_elem(m: np.ndarray, lv: np.ndarray, x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.log(2 * np.pi) + lv + (x - m) ** 2 * np.exp(-lv))


def _gnll_with(m: np.ndarray, lv: np.ndarray, x: np.ndarray, *, log2pi: bool = True,
               logvar_term: bool = True,
               inv_scale: Callable[[np.ndarray], np.ndarray] = lambda lv: np.exp(-lv)
               ) -> np.ndarray:
    """The Gaussian NLL per example with one term changed (for recognising mistakes);
    ``inv_scale(logvar)`` multiplies the squared error (correct: 1 / variance)."""
    scale = inv_scale(lv)
    elem = ((np.log(2 * np.pi) if log2pi else 0.0) + (lv if logvar_term else 0.0)
            + (x - m) ** 2 * scale)
    return (0.5 * elem).sum(axis=1)


GNLL_MISTAKES = [
    Mistake("the constant 0.5 * log(2 pi) per dimension is missing: it does not change "
            "gradients, but the value is a negative log-DENSITY and is compared across models",
            lambda m, lv, x: _gnll_with(m, lv, x, log2pi=False)),
    Mistake("the factor 0.5 in front is missing",
            lambda m, lv, x: (2 * _gnll_elem(m, lv, x)).sum(axis=1)),
    Mistake("(x - mean)^2 is MULTIPLIED by the variance; divide by it: * exp(-logvar)",
            lambda m, lv, x: _gnll_with(m, lv, x, inv_scale=np.exp)),
    Mistake("the logvar term (the normaliser) is missing: without it a model lowers the loss "
            "for free by inflating the variance",
            lambda m, lv, x: _gnll_with(m, lv, x, logvar_term=False)),
    Mistake("(x - mean)^2 is divided by the standard deviation exp(0.5 logvar); it must be "
            "divided by the variance exp(logvar)",
            lambda m, lv, x: _gnll_with(m, lv, x, inv_scale=lambda v: np.exp(-0.5 * v))),
    Mistake("per-element losses returned; sum over the data dimensions (axis=1)",
            lambda m, lv, x: _gnll_elem(m, lv, x)),
    Mistake("averaged over the data dimensions; minivae sums over them",
            lambda m, lv, x: _gnll_elem(m, lv, x).mean(axis=1)),
    Mistake("this is the log-likelihood; the loss is its NEGATIVE",
            lambda m, lv, x: -_gnll_elem(m, lv, x).sum(axis=1)),
]

GNLL_GRAD_MISTAKES = [
    Mistake("the inverse variance is missing in dmean: (mean - x) / exp(logvar)",
            lambda m, lv, x: (m - x, None)),
    Mistake("dlogvar misses the 0.5: d/dlogvar 0.5 (logvar + r^2 exp(-logvar)) = "
            "0.5 (1 - r^2 exp(-logvar))", lambda m, lv, x: (None, 1 - (x - m) ** 2 * np.exp(-lv))),
    Mistake("dlogvar misses the +0.5 from the logvar term itself",
            lambda m, lv, x: (None, -0.5 * (x - m) ** 2 * np.exp(-lv))),
    Mistake("dlogvar treats exp(-logvar) as a constant: d exp(-logvar)/dlogvar = -exp(-logvar)",
            lambda m, lv, x: (None, 0.5 * np.ones_like(lv))),
]


def _gnll_inputs(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = make_rng(seed)
    return (rng.standard_normal((4, 6)), rng.standard_normal((4, 6)),
            rng.standard_normal((4, 6)))


def check_gaussian_nll(fn: Callable[..., Any], *, raise_on_fail: bool = False,
                       seed: int = 0) -> ExerciseResult:
    """Grade ``gaussian_nll(mean, logvar, target) -> (N,)`` against
    :func:`minivae.objectives.losses.gaussian_nll` (``reduction="none"``); (mean, logvar, target):
    (4, 6)."""
    g = Grader("gaussian_nll", fn, ["nll"], GNLL_SIG)
    mean, logvar, target = _gnll_inputs(seed)
    out = g.call({"mean": mean, "logvar": logvar, "target": target})
    if out is not None:
        g.check_value(0, out[0], gnll_solution(mean, logvar, target), mistakes=GNLL_MISTAKES,
                      inputs=(mean, logvar, target))
    return g.result(raise_on_fail, "matches losses.gaussian_nll")


def check_gaussian_nll_grad(fn: Callable[..., Any], *, raise_on_fail: bool = False,
                            seed: int = 0) -> ExerciseResult:
    """Grade ``gaussian_nll_grad(mean, logvar, target) -> (dmean, dlogvar)`` (gradients of the
    sum over the batch) against central differences of the Gaussian NLL."""
    g = Grader("gaussian_nll_grad", fn, ["dmean", "dlogvar"], GNLL_GRAD_SIG)
    mean, logvar, target = _gnll_inputs(seed)
    out = g.call({"mean": mean, "logvar": logvar, "target": target})
    if out is not None:
        arrays = {"mean": mean.copy(), "logvar": logvar.copy()}

        def loss() -> float:
            return float(np.sum(_gnll_elem(arrays["mean"], arrays["logvar"], target)))

        scale = float(np.sum(np.abs(_gnll_elem(mean, logvar, target))))
        for k, key in enumerate(("mean", "logvar")):
            g.check_grad(k, out[k], loss, arrays[key], mistakes=GNLL_GRAD_MISTAKES,
                         inputs=(mean, logvar, target), f_scale=scale)
    return g.result(raise_on_fail, "dmean and dlogvar match the numerical gradient")


# ============================================================================== catalogue
_GAUSSIAN = "minivae.objectives.distributions:DiagonalGaussian"

EXERCISES = [
    Exercise("kl_standard_normal", LESSON, KL_SIG, check_kl_standard_normal, kl_solution,
             (f"{_GAUSSIAN}.kl_standard_normal",),
             "SOLUTIONS['kl_standard_normal'] is DiagonalGaussian(mu, logvar)"
             ".kl_standard_normal(): the KL every minivae VAE puts in its loss."),
    Exercise("kl_grad", LESSON, KL_GRAD_SIG, check_kl_grad, kl_grad_solution,
             (f"{_GAUSSIAN}.kl_standard_normal_grad",),
             "SOLUTIONS['kl_grad'] is DiagonalGaussian(mu, logvar).kl_standard_normal_grad(): "
             "the KL gradient every minivae VAE backpropagates."),
    Exercise("gaussian_nll", LESSON, GNLL_SIG, check_gaussian_nll, gnll_solution,
             ("minivae.objectives.losses:gaussian_nll",
              "minivae.objectives.distributions:_log_density"),
             "SOLUTIONS['gaussian_nll'] is minivae.objectives.losses.gaussian_nll(mean, logvar, "
             "target, reduction='none'): the loss of every Gaussian-likelihood model."),
    Exercise("gaussian_nll_grad", LESSON, GNLL_GRAD_SIG, check_gaussian_nll_grad,
             gnll_grad_solution, ("minivae.objectives.losses:gaussian_nll_grad",),
             "SOLUTIONS['gaussian_nll_grad'] is minivae.objectives.losses.gaussian_nll_grad("
             "mean, logvar, target, reduction='sum')."),
]
