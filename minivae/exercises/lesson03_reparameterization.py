"""Exercises of lesson 03 (the reparameterization trick): the sample and its backward.

* ``reparameterize(mu, logvar, eps) -> z``; all (N, L), z = mu + exp(0.5 logvar) * eps
* ``reparameterize_backward(dz, mu, logvar, eps) -> (dmu, dlogvar)``: gradients of sum(z * dz)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from minivae.exercises.exercise import Exercise
from minivae.exercises.grader import ExerciseFailed, ExerciseResult, Grader, Mistake, make_rng
from minivae.objectives.distributions import DiagonalGaussian

LESSON = "03_reparameterization"

REPARAM_SIG = ("reparameterize(mu, logvar, eps) -> z;  mu, logvar, eps, z: (N, L), "
               "z = mu + exp(0.5 * logvar) * eps with the GIVEN eps")
REPARAM_BWD_SIG = ("reparameterize_backward(dz, mu, logvar, eps) -> (dmu, dlogvar);  "
                   "all (N, L): the gradients of sum(z * dz)")

_OWN_NOISE = (
    "z is not a function of (mu, logvar, eps): two calls with the same inputs returned "
    "different z, so your function draws its own noise. Use the eps it is given; the "
    "randomness lives outside (eps = rng.standard_normal(shape)), which makes z a "
    "differentiable function of mu and logvar and lets a gradient check reuse the same noise"
)


def _reparam_inputs(seed: int) -> tuple[np.ndarray, ...]:
    rng = make_rng(seed)
    N, L = 4, 3
    return (rng.standard_normal((N, L)), 0.8 * rng.standard_normal((N, L)),
            rng.standard_normal((N, L)), rng.standard_normal((N, L)))


def reparam_solution(mu: np.ndarray, logvar: np.ndarray, eps: np.ndarray) -> np.ndarray:
    """SOLUTIONS["reparameterize"]: :meth:`DiagonalGaussian.rsample` with fixed ``eps``."""
    return DiagonalGaussian(mu, logvar).rsample(None, eps=eps)


def reparam_backward_solution(dz: np.ndarray, mu: np.ndarray, logvar: np.ndarray,
                              eps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """SOLUTIONS["reparameterize_backward"]: :meth:`DiagonalGaussian.rsample_backward` after an
    ``rsample`` with the same ``eps``."""
    q = DiagonalGaussian(mu, logvar)
    q.rsample(None, eps=eps)
    return q.rsample_backward(dz)


REPARAM_MISTAKES = [
    Mistake("the variance exp(logvar) is used where the standard deviation exp(0.5 logvar) "
            "belongs", lambda mu, lv, eps: mu + np.exp(lv) * eps),
    Mistake("logvar is used as the standard deviation; sigma = exp(0.5 * logvar)",
            lambda mu, lv, eps: mu + lv * eps),
    Mistake("the mean mu is missing: z = mu + sigma * eps",
            lambda mu, lv, eps: np.exp(0.5 * lv) * eps),
    Mistake("the noise eps is missing: z = mu + sigma * eps",
            lambda mu, lv, eps: mu + np.exp(0.5 * lv)),
    Mistake("sqrt(logvar) is not the standard deviation (logvar may be negative); "
            "sigma = exp(0.5 * logvar)", lambda mu, lv, eps: mu + np.sqrt(np.abs(lv)) * eps),
]

REPARAM_BWD_MISTAKES = [
    Mistake("the 0.5 is missing in dlogvar: d sigma / d logvar = 0.5 * sigma",
            lambda dz, mu, lv, eps: (None, dz * np.exp(0.5 * lv) * eps)),
    Mistake("sigma is missing in dlogvar: d exp(0.5 logvar) / d logvar = 0.5 exp(0.5 logvar)",
            lambda dz, mu, lv, eps: (None, dz * 0.5 * eps)),
    Mistake("the variance appears in dlogvar; it is dz * 0.5 * exp(0.5 logvar) * eps",
            lambda dz, mu, lv, eps: (None, dz * 0.5 * np.exp(lv) * eps)),
    Mistake("dz/dmu = 1 (mu enters z additively), so dmu = dz",
            lambda dz, mu, lv, eps: (dz * np.exp(0.5 * lv), None)),
    Mistake("the upstream gradient dz is missing",
            lambda dz, mu, lv, eps: (np.ones_like(mu), 0.5 * np.exp(0.5 * lv) * eps)),
    Mistake("eps is missing in dlogvar: z - mu = sigma * eps, so dlogvar = 0.5 * dz * "
            "sigma * eps", lambda dz, mu, lv, eps: (None, dz * 0.5 * np.exp(0.5 * lv))),
]


def check_reparameterize_backward(fn: Callable[..., Any], *, raise_on_fail: bool = False,
                                  seed: int = 0) -> ExerciseResult:
    """Grade ``reparameterize_backward(dz, mu, logvar, eps) -> (dmu, dlogvar)`` against central
    differences of ``sum(z * dz)`` with ``z = mu + exp(0.5 logvar) * eps`` and *fixed* eps."""
    g = Grader("reparameterize_backward", fn, ["dmu", "dlogvar"], REPARAM_BWD_SIG)
    mu, logvar, eps, dz = _reparam_inputs(seed)
    out = g.call({"dz": dz, "mu": mu, "logvar": logvar, "eps": eps})
    if out is not None:
        arrays = {"mu": mu.copy(), "logvar": logvar.copy()}

        def loss() -> float:
            # The same eps on every evaluation: the numeric gradient must measure the change of
            # mu/logvar, not a change of noise.
            return float(np.sum((arrays["mu"] + np.exp(0.5 * arrays["logvar"]) * eps) * dz))

        scale = float(np.sum(np.abs(mu * dz)) + np.sum(np.abs(np.exp(0.5 * logvar) * eps * dz)))
        for k, key in enumerate(("mu", "logvar")):
            g.check_grad(k, out[k], loss, arrays[key], mistakes=REPARAM_BWD_MISTAKES,
                         inputs=(dz, mu, logvar, eps), f_scale=scale)
    return g.result(raise_on_fail, "dmu = dz and dlogvar = 0.5 * dz * sigma * eps match the "
                    "numerical gradient")


def check_reparameterize(fn: Callable[..., Any],
                         backward_fn: Callable[..., Any] | None = None, *,
                         raise_on_fail: bool = False, seed: int = 0) -> ExerciseResult:
    """Grade ``reparameterize(mu, logvar, eps) -> z`` (and, when ``backward_fn`` is given, also
    ``reparameterize_backward`` via :func:`check_reparameterize_backward`).

    Checks z against :meth:`DiagonalGaussian.rsample` with the same eps, and that z is a
    deterministic function of (mu, logvar, eps): the same eps twice gives the same z (the noise
    must come in through ``eps``, never from a fresh random draw, or no gradient check could
    ever work).
    """
    g = Grader("reparameterize", fn, ["z"], REPARAM_SIG)
    mu, logvar, eps, _ = _reparam_inputs(seed)
    args = {"mu": mu, "logvar": logvar, "eps": eps}
    out = g.call(args)
    again = None if out is None else g.call(args, case="second call, same eps")
    if out is not None and again is not None:
        if not np.array_equal(again[0], out[0], equal_nan=True):
            g.fail(_OWN_NOISE)
        else:
            g.check_value(0, out[0], reparam_solution(mu, logvar, eps),
                          mistakes=REPARAM_MISTAKES, inputs=(mu, logvar, eps))
    result = g.result(False, "z = mu + exp(0.5 * logvar) * eps matches DiagonalGaussian.rsample")
    if backward_fn is not None:
        bwd = check_reparameterize_backward(backward_fn, seed=seed)
        result = ExerciseResult("reparameterize", result.passed and bwd.passed,
                                result.message + "\n" + bwd.message, result.checks + bwd.checks)
    if raise_on_fail and not result.passed:
        raise ExerciseFailed(result)
    return result


_GAUSSIAN = "minivae.objectives.distributions:DiagonalGaussian"

EXERCISES = [
    Exercise("reparameterize", LESSON, REPARAM_SIG, check_reparameterize, reparam_solution,
             (f"{_GAUSSIAN}.rsample",),
             "SOLUTIONS['reparameterize'] is DiagonalGaussian(mu, logvar).rsample(None, eps=eps):"
             " the sampling step of every minivae VAE (std = exp(0.5 * logvar))."),
    Exercise("reparameterize_backward", LESSON, REPARAM_BWD_SIG, check_reparameterize_backward,
             reparam_backward_solution, (f"{_GAUSSIAN}.rsample_backward",),
             "SOLUTIONS['reparameterize_backward'] calls DiagonalGaussian(mu, logvar)"
             ".rsample(None, eps=eps), then .rsample_backward(dz)."),
]
