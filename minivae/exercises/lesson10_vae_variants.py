"""Exercises of lesson 10 (VAE variants): the importance-weighted bound and free bits.

* ``iwae_bound(log_w) -> bound``; log_w: (k, N) -> (N,)
* ``free_bits_kl(kl_per_dim, lambda_) -> (value, grad_weights)``; (N, L) -> float, (L,)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from minivae.exercises.exercise import Exercise
from minivae.exercises.grader import ExerciseResult, Grader, Mistake, make_rng
from minivae.nn.functional import log_mean_exp
from minivae.objectives.kl import free_bits_kl

LESSON = "10_vae_variants"

# ================================================================================ IWAE bound
IWAE_SIG = ("iwae_bound(log_w) -> bound;  log_w: (k, N) log importance weights log p(x, z_i) - "
            "log q(z_i | x) of k samples per example; bound: (N,) = log (1/k) sum_i w_i, "
            "computed stably (log_w may be around -1000)")

IWAE_MISTAKES = [
    Mistake("that is the mean of the log-weights, (1/k) sum_i log w_i: the ELBO estimate.  "
            "The IWAE bound takes the log of the MEAN WEIGHT, log (1/k) sum_i w_i (>= by "
            "Jensen)", lambda log_w: log_w.mean(axis=0)),
    Mistake("the 1/k is missing: log (1/k) sum_i w_i = logsumexp(log_w) - log k",
            lambda log_w: log_mean_exp(log_w, axis=0) + np.log(log_w.shape[0])),
    Mistake("that is the largest log-weight only: add log (1/k) sum_i exp(log_w_i - max)",
            lambda log_w: log_w.max(axis=0)),
]


def iwae_solution(log_w: np.ndarray) -> np.ndarray:
    """SOLUTIONS["iwae_bound"]: :func:`minivae.nn.functional.log_mean_exp` over the samples."""
    return log_mean_exp(np.asarray(log_w, dtype=np.float64), axis=0)


def check_iwae_bound(fn: Callable[..., Any], *, raise_on_fail: bool = False,
                     seed: int = 0) -> ExerciseResult:
    """Grade ``iwae_bound(log_w) -> bound`` against :func:`minivae.nn.functional.log_mean_exp`
    on moderate log-weights (k=5, N=3) and on log-weights near -1000, where exp underflows to 0
    unless the maximum is subtracted first."""
    g = Grader("iwae_bound", fn, ["bound"], IWAE_SIG)
    rng = make_rng(seed)
    moderate = 2.0 * rng.standard_normal((5, 3))
    extreme = -1000.0 + 3.0 * rng.standard_normal((50, 4))
    for case, log_w in (("k=5, moderate log-weights", moderate),
                        ("k=50, log-weights near -1000", extreme)):
        out = g.call({"log_w": log_w}, case=case)
        if out is None:
            break
        if not g.check_value(0, out[0], iwae_solution(log_w), mistakes=IWAE_MISTAKES,
                             inputs=(log_w,), case=case):
            if not np.all(np.isfinite(out[0])):
                g.fail("log of a sum of exponentials underflows: subtract the max first, "
                       "log mean exp(a) = m + log mean exp(a - m) with m = max(a)")
            break
    return g.result(raise_on_fail, "log (1/k) sum_i w_i is right and stable")


# ================================================================================= free bits
FB_SIG = ("free_bits_kl(kl_per_dim, lambda_) -> (value, grad_weights);  kl_per_dim: (N, L) "
          "per-example, per-dimension KL; value = sum_l max(lambda_, mean_n kl_per_dim[n, l]) "
          "(a float); grad_weights: (L,), 1.0 where the batch-mean KL of dimension l exceeds "
          "lambda_ (the gradient flows), else 0.0")


def fb_per_example(kl: np.ndarray, lam: float) -> tuple[float, np.ndarray]:
    """Mistake: the max taken per example, before the batch mean."""
    return float(np.mean(np.sum(np.maximum(kl, lam), axis=1))), (kl.mean(0) > lam) * 1.0


def fb_total(kl: np.ndarray, lam: float) -> tuple[float, np.ndarray]:
    """Mistake: the floor applied to the total KL."""
    total = float(kl.mean(axis=0).sum())
    return max(total, lam * kl.shape[1]), (kl.mean(0) > lam) * 1.0


FB_MISTAKES = [
    Mistake("the max is taken per EXAMPLE; free bits average the KL over the batch first and "
            "then apply max(lambda, .) per dimension", fb_per_example),
    Mistake("the floor is applied to the TOTAL KL (max(L * lambda, sum_l KL_l)); free bits "
            "apply it to every dimension separately", fb_total),
    Mistake("grad_weights is inverted: the gradient flows (weight 1) where the KL is ABOVE "
            "the floor; below it the term is the constant lambda",
            lambda kl, lam: (free_bits_kl(kl, lam)[0], 1.0 - free_bits_kl(kl, lam)[1])),
    Mistake("that is min(lambda, KL) per dimension; free bits use max",
            lambda kl, lam: (float(np.sum(np.minimum(kl.mean(0), lam))),
                             (kl.mean(0) > lam) * 1.0)),
]


def check_free_bits_kl(fn: Callable[..., Any], *, raise_on_fail: bool = False,
                       seed: int = 0) -> ExerciseResult:
    """Grade ``free_bits_kl(kl_per_dim, lambda_) -> (value, grad_weights)`` against
    :func:`minivae.objectives.kl.free_bits_kl` (N=6, L=5, some dimensions above and some below
    lambda)."""
    g = Grader("free_bits_kl", fn, ["value", "grad_weights"], FB_SIG)
    rng = make_rng(seed)
    kl = rng.exponential(1.0, size=(6, 5)) * np.array([0.02, 0.9, 0.1, 2.0, 0.4])
    lam = 0.25
    out = g.call({"kl_per_dim": kl, "lambda_": lam})
    if out is not None:
        value, weights = free_bits_kl(kl, lam)
        g.check_value(0, out[0], np.asarray(value), mistakes=FB_MISTAKES, inputs=(kl, lam))
        g.check_value(1, out[1], np.asarray(weights, dtype=np.float64), mistakes=FB_MISTAKES,
                      inputs=(kl, lam))
    return g.result(raise_on_fail, "matches minivae.objectives.kl.free_bits_kl")


EXERCISES = [
    Exercise("iwae_bound", LESSON, IWAE_SIG, check_iwae_bound, iwae_solution,
             ("minivae.nn.functional:log_mean_exp", "minivae.nn.functional:logsumexp"),
             "SOLUTIONS['iwae_bound'] is minivae.nn.functional.log_mean_exp(log_w, axis=0), the "
             "average minivae.models.VAE computes its IWAE bound with; logsumexp subtracts the "
             "max first."),
    Exercise("free_bits_kl", LESSON, FB_SIG, check_free_bits_kl,
             "minivae.objectives.kl:free_bits_kl", ("minivae.objectives.kl:free_bits_kl",),
             "SOLUTIONS['free_bits_kl'] is minivae.objectives.kl.free_bits_kl, which "
             "kl_loss_term applies in every model with a KL term."),
]
