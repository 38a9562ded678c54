"""Exercise of lesson 04 (gradient checking): central differences, written by you.

* ``numerical_gradient(f, x, h) -> grad``: central differences of ``f(x) -> float``, x restored
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from minivae.exercises.exercise import Exercise
from minivae.exercises.grader import ExerciseResult, Grader, Mistake, make_rng
from minivae.gradcheck.numerical import DEFAULT_H, numerical_gradient

LESSON = "04_gradient_checking"

NUMGRAD_SIG = ("numerical_gradient(f, x, h) -> grad;  f(x) -> float, x: float64 array of any "
               "shape, grad[i] = (f(x + h e_i) - f(x - h e_i)) / (2h), same shape as x; x must "
               "be restored exactly")


def numgrad_solution(f: Callable[[np.ndarray], float], x: np.ndarray,
                     h: float = DEFAULT_H) -> np.ndarray:
    """SOLUTIONS["numerical_gradient"]: :func:`minivae.gradcheck.numerical_gradient`."""
    return numerical_gradient(f, x, h=h)


def _one_sided(f: Callable, x: np.ndarray, h: float, kind: str) -> np.ndarray:
    """Per-entry differences with a wrong scheme: "forward", "backward", "over_h" (divides by
    h), "no_restore" (never puts x[i] back)."""
    x = x.copy()
    grad = np.zeros_like(x)
    for idx in np.ndindex(*x.shape):
        old = x[idx]
        x[idx] = old + h
        fp = f(x)
        x[idx] = old - h
        fm = f(x)
        if kind != "no_restore":
            x[idx] = old
        if kind == "forward":
            grad[idx] = (fp - f(x)) / h
        elif kind == "backward":
            grad[idx] = (f(x) - fm) / h
        else:
            grad[idx] = (fp - fm) / (h if kind == "over_h" else 2 * h)
    return grad


def _by_rows(f: Callable, x: np.ndarray, h: float) -> np.ndarray:
    """x[i] perturbed with one index: whole rows of a 2-D x at once."""
    grad = np.zeros_like(x)
    for i in range(x.shape[0]):
        xp, xm = x.copy(), x.copy()
        xp[i] += h
        xm[i] -= h
        grad[i] = (f(xp) - f(xm)) / (2 * h)
    return grad


NUMGRAD_MISTAKES = [
    Mistake("that is the FORWARD difference (f(x+h) - f(x)) / h, whose error is O(h); the "
            "central difference (f(x+h) - f(x-h)) / (2h) has error O(h^2)",
            lambda f, x, h: _one_sided(f, x, h, "forward")),
    Mistake("that is the BACKWARD difference (f(x) - f(x-h)) / h (error O(h)); use the "
            "central difference (f(x+h) - f(x-h)) / (2h)",
            lambda f, x, h: _one_sided(f, x, h, "backward")),
    Mistake("divide by 2h: the two evaluation points x+h and x-h are 2h apart",
            lambda f, x, h: _one_sided(f, x, h, "over_h")),
    Mistake("x[i] is not restored after perturbing it, so every later entry is measured at "
            "a shifted point: put the old value back (x[i] = old)",
            lambda f, x, h: _one_sided(f, x, h, "no_restore")),
    Mistake("all entries were perturbed at once (x + h): perturb ONE entry at a time, "
            "that is what makes grad[i] the partial derivative w.r.t. x[i]",
            lambda f, x, h: np.full_like(x, (f(x + h) - f(x - h)) / (2 * h))),
    Mistake("x[i] with one index selects a whole ROW of a 2-D x: iterate over every entry "
            "(np.ndindex(*x.shape) or np.nditer with multi_index)", _by_rows),
]


def _test_function(B: np.ndarray) -> Callable[[np.ndarray], float]:
    """f(v) = sum(v^3) + sum(sin(v @ B)): curved, so one-sided differences are visibly worse."""
    def f(v: np.ndarray) -> float:
        v = np.asarray(v)
        return float(np.sum(v**3) + np.sum(np.sin(v.reshape(v.shape[0], -1) @ B)))

    return f


def _restored(g: Grader, x_before: np.ndarray, case: str) -> bool:
    """x as your function left it (the copy it received) must equal x before the call."""
    x_own = g.last_args["x"]
    if np.array_equal(x_own, x_before):
        return True
    i = tuple(int(v) for v in np.argwhere(x_own != x_before)[0])
    g.fail(f"x was not restored ({case}): after the call x{list(i)} = {float(x_own[i])!r}, "
           f"before it was {float(x_before[i])!r}. Perturb one entry, evaluate, and put the old "
           "value back (x[i] = old), or work on a copy")
    return False


def check_numerical_gradient(fn: Callable[..., Any], *, raise_on_fail: bool = False,
                             seed: int = 0) -> ExerciseResult:
    """Grade ``numerical_gradient(f, x, h) -> grad``, your central-difference implementation.

    ``f(v) = sum(v^3) + sum(sin(v @ B))`` is differentiated at a random 2-D x of shape (3, 4)
    with h = 1e-3, and at a 1-D x of shape (5,) with h = 1e-5.  Your result must equal what a
    correct central difference gives (:func:`minivae.gradcheck.numerical_gradient` with the same
    h) and x must be restored exactly.
    """
    g = Grader("numerical_gradient", fn, ["grad"], NUMGRAD_SIG)
    rng = make_rng(seed)
    cases = [("2-D x, h = 1e-3", rng.standard_normal((3, 4)), 1e-3, rng.standard_normal((4, 2))),
             ("1-D x, h = 1e-5", rng.standard_normal(5), 1e-5, rng.standard_normal((1, 2)))]
    for case, x, h, B in cases:
        f = _test_function(B)
        out = g.call({"f": f, "x": x, "h": h}, case=case, restore_ok=True)
        if out is None or not _restored(g, x, case):
            break
        want = numgrad_solution(f, x.copy(), h)
        if not g.check_value(0, out[0], want, mistakes=NUMGRAD_MISTAKES, inputs=(f, x, h),
                             case=case):
            break
    return g.result(raise_on_fail, "central differences match minivae.gradcheck"
                    ".numerical_gradient and x is restored")


EXERCISES = [
    Exercise("numerical_gradient", LESSON, NUMGRAD_SIG, check_numerical_gradient,
             numgrad_solution,
             ("minivae.gradcheck.numerical:central_differences",
              "minivae.gradcheck.numerical:numerical_gradient"),
             "SOLUTIONS['numerical_gradient'](f, x, h) calls minivae.gradcheck.numerical_gradient"
             "(f, x, h=h). Its loop, central_differences, is what every gradient check of the "
             "library runs: perturb one entry, evaluate, restore it bit for bit."),
]
