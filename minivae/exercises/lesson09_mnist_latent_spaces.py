"""Exercise of lesson 09 (MNIST latent spaces): the standard normal quantile function, which
places an equal-probability grid in the latent space.

* ``norm_ppf(p) -> x``; any shape
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from minivae.exercises.exercise import Exercise
from minivae.exercises.grader import ExerciseResult, Grader, Mistake, make_rng
from minivae.objectives import distributions

LESSON = "09_mnist_latent_spaces"

PPF_SIG = ("norm_ppf(p) -> x;  the inverse CDF of N(0, 1): Phi(x) = p, elementwise, for p in "
           "(0, 1) of any shape; Phi(x) = 0.5 * (1 + erf(x / sqrt(2)))")


def library_norm_ppf(p: np.ndarray) -> np.ndarray:
    """:func:`minivae.objectives.distributions.norm_ppf`, looked up now, as a float64 array."""
    return np.asarray(distributions.norm_ppf(p), dtype=np.float64)


def norm_cdf(x: np.ndarray) -> np.ndarray:
    """Phi(x) elementwise (the function whose inverse the exercise asks for)."""
    return 0.5 * (1.0 + np.vectorize(math.erf)(np.asarray(x, float) / math.sqrt(2.0)))


PPF_MISTAKES = [
    Mistake("you computed the CDF Phi(p); the quantile function is its INVERSE: find x with "
            "Phi(x) = p (e.g. by bisection on Phi, which is increasing)", norm_cdf),
    Mistake("the result is mirrored: that is the quantile of 1 - p.  Small p must give "
            "negative x", lambda p: -library_norm_ppf(p)),
    Mistake("the equal-probability grid maps p linearly to z; use the inverse CDF so the grid "
            "is denser where the prior has more mass",
            lambda p: (np.asarray(p, float) - 0.5) * 4.0),
]


def check_norm_ppf(fn: Callable[..., Any], *, raise_on_fail: bool = False,
                   seed: int = 0) -> ExerciseResult:
    """Grade ``norm_ppf(p) -> x`` against :func:`minivae.objectives.distributions.norm_ppf`
    (Wichura's AS 241) on a 1-D array of probabilities from 1e-3 to 0.999 and on a 2-D array
    (relative tolerance 1e-7: bisection to 1e-12 is plenty)."""
    g = Grader("norm_ppf", fn, ["x"], PPF_SIG)
    rng = make_rng(seed)
    p1 = np.array([1e-3, 0.02, 0.05, 0.2, 0.35, 0.62, 0.8, 0.95, 0.999])
    p2 = rng.uniform(0.01, 0.99, size=(2, 3))
    g.check_cases([("1-D p", {"p": p1}), ("2-D p", {"p": p2})], library_norm_ppf,
                  mistakes=PPF_MISTAKES)
    return g.result(raise_on_fail, "matches the normal quantile function")


EXERCISES = [
    Exercise("norm_ppf", LESSON, PPF_SIG, check_norm_ppf,
             "minivae.objectives.distributions:norm_ppf",
             ("minivae.objectives.distributions:norm_ppf",),
             "SOLUTIONS['norm_ppf'] is minivae.objectives.distributions.norm_ppf (Wichura's "
             "AS 241), which the latent-grid plots use."),
]
