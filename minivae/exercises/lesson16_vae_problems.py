"""Exercises of lesson 16 (the VAE's problems): the KL of the rho-VAE posterior, a fix for the
diagonal posterior's independence assumption with only one extra number, and its gradient.

The posterior (Ferdowsi et al. 2019; :mod:`minivae.objectives.rho_gaussian`) is
q(z | x) = N(mu, s T(rho)) with T(rho)_ij = rho^|i-j|, s = exp(logvar), rho = tanh(rho_raw):

* ``rho_kl(mu, logvar, rho_raw) -> kl``; mu: (N, L), logvar and rho_raw: (N,), kl: (N,) =
  1/2 [L s + ||mu||^2 - L - L log s - (L - 1) log(1 - rho^2)]
* ``rho_kl_grad(mu, logvar, rho_raw) -> (dmu, dlogvar, drho_raw)``: the gradient of sum_n kl[n]
  with respect to the *unconstrained* encoder outputs (shapes of the inputs)

The solutions are :meth:`RhoGaussian.kl_standard_normal` and
:meth:`RhoGaussian.kl_standard_normal_grad` behind a two-line adapter (the library takes the
three arrays as a distribution object).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from minivae.exercises.exercise import Exercise
from minivae.exercises.grader import ExerciseResult, Grader, Mistake, make_rng
from minivae.objectives.rho_gaussian import RhoGaussian

LESSON = "16_vae_problems"
_RHO = "minivae.objectives.rho_gaussian"

KL_SIG = ("rho_kl(mu, logvar, rho_raw) -> kl;  mu: (N, L), logvar: (N,) = log s, rho_raw: (N,) "
          "with rho = tanh(rho_raw); kl: (N,) = KL(N(mu, s T(rho)) || N(0, I)) = 0.5 * (L s + "
          "||mu||^2 - L - L log s - (L - 1) log(1 - rho^2)), T(rho)_ij = rho^|i-j|")
GRAD_SIG = ("rho_kl_grad(mu, logvar, rho_raw) -> (dmu, dlogvar, drho_raw);  the gradient of "
            "sum_n kl[n] with respect to mu (N, L), logvar (N,) and rho_raw (N,) (not rho)")


def _inputs(seed: int, large_rho: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """mu (N=4, L=3), logvar (4,), rho_raw (4,); N != L so a wrong axis shows as a shape.
    ``large_rho``: |rho_raw| near 4 (|rho| about 0.9993, inside the library's clip at 5),
    where 1 - rho^2 is small."""
    rng = make_rng(seed)
    mu, logvar = rng.standard_normal((4, 3)), 0.6 * rng.standard_normal(4)
    rho_raw = (4.0 + 0.2 * rng.standard_normal(4)) * np.array([1, -1, 1, -1]) if large_rho \
        else 0.8 * rng.standard_normal(4)
    return mu, logvar, rho_raw


def rho_kl_solution(mu: np.ndarray, logvar: np.ndarray, rho_raw: np.ndarray) -> np.ndarray:
    """SOLUTIONS["rho_kl"]: :meth:`RhoGaussian.kl_standard_normal`."""
    return RhoGaussian(mu, logvar, rho_raw).kl_standard_normal()


def rho_kl_grad_solution(mu: np.ndarray, logvar: np.ndarray, rho_raw: np.ndarray
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """SOLUTIONS["rho_kl_grad"]: :meth:`RhoGaussian.kl_standard_normal_grad`."""
    return RhoGaussian(mu, logvar, rho_raw).kl_standard_normal_grad()


# ============================================================================ the mistakes
def _kl_variant(mu, logvar, rho_raw, *, trace_L=True, logdet_L=True, rho_power=None,
                use_raw=False, half=0.5):
    """The KL with a configurable mistake (rho_power: the multiplier of log(1 - rho^2),
    default the right one, L - 1)."""
    L = mu.shape[1]
    rho_power = L - 1 if rho_power is None else rho_power
    rho = rho_raw if use_raw else np.tanh(rho_raw)
    s = np.exp(logvar)
    with np.errstate(invalid="ignore", divide="ignore"):
        log_c2 = np.log(1.0 - rho**2)
    return half * ((L if trace_L else 1) * s + np.sum(mu**2, axis=1) - L
                   - (L if logdet_L else 1) * logvar - rho_power * log_c2)


def _grad_variant(mu, logvar, rho_raw, *, chain=True, L_factor=True, half_mu=False):
    L = mu.shape[1]
    rho = np.tanh(rho_raw)
    drho = (L - 1) * rho if chain else (L - 1) * rho / (1.0 - rho**2)
    dlogvar = 0.5 * (L if L_factor else 1) * (np.exp(logvar) - 1.0)
    return (0.5 * mu if half_mu else mu.copy()), dlogvar, drho


KL_MISTAKES = [
    Mistake("the log-determinant term: det T(rho) = (1 - rho^2)^(L-1) (the AR(1) recursion has "
            "L - 1 innovations of variance s (1 - rho^2)), so the term is (L - 1) log(1 - rho^2)"
            ", not L log(1 - rho^2)", lambda m, v, r: _kl_variant(m, v, r, rho_power=m.shape[1])),
    Mistake("the sign of the correlation term: KL = 1/2 [... - log det(s T)] and log det T = "
            "(L - 1) log(1 - rho^2) < 0, so correlation *adds* to the KL",
            lambda m, v, r: _kl_variant(m, v, r, rho_power=-(m.shape[1] - 1))),
    Mistake("the trace: trace(s T(rho)) = L s (T has ones on its diagonal), not s",
            lambda m, v, r: _kl_variant(m, v, r, trace_L=False)),
    Mistake("log det(s T) = L log s + log det T: s scales all L dimensions",
            lambda m, v, r: _kl_variant(m, v, r, logdet_L=False)),
    Mistake("rho_raw was used as rho: the encoder's output is unconstrained, rho = "
            "tanh(rho_raw) keeps |rho| < 1",
            lambda m, v, r: _kl_variant(m, v, r, use_raw=True)),
    Mistake("the factor 1/2 in front is missing",
            lambda m, v, r: _kl_variant(m, v, r, half=1.0)),
]

GRAD_MISTAKES = [
    Mistake("that is d/d rho; the encoder outputs rho_raw, and d rho / d rho_raw = 1 - rho^2, "
            "which cancels the 1/(1 - rho^2): drho_raw = (L - 1) rho",
            lambda m, v, r: _grad_variant(m, v, r, chain=False)),
    Mistake("d/d logvar of 1/2 (L s - L log s) is L (s - 1) / 2: the single variance s is "
            "shared by all L dimensions", lambda m, v, r: _grad_variant(m, v, r, L_factor=False)),
    Mistake("d/d mu of 1/2 ||mu||^2 is mu (the 1/2 cancels the square's 2)",
            lambda m, v, r: _grad_variant(m, v, r, half_mu=True)),
]


# ============================================================================ the checkers
def check_rho_kl(fn: Callable[..., Any], *, raise_on_fail: bool = False,
                 seed: int = 0) -> ExerciseResult:
    """Grade ``rho_kl(mu, logvar, rho_raw) -> kl`` against
    :meth:`minivae.objectives.rho_gaussian.RhoGaussian.kl_standard_normal` (N=4, L=3), with
    moderate correlations and with |rho| about 0.9993, where 1 - rho^2 is small."""
    g = Grader("rho_kl", fn, ["kl"], KL_SIG)
    cases = []
    for case, large in (("moderate rho", False), ("|rho| near 1", True)):
        mu, logvar, rho_raw = _inputs(seed, large)
        cases.append((case, {"mu": mu, "logvar": logvar, "rho_raw": rho_raw}))
    g.check_cases(cases, rho_kl_solution, mistakes=KL_MISTAKES)
    return g.result(raise_on_fail, "matches RhoGaussian.kl_standard_normal")


def check_rho_kl_grad(fn: Callable[..., Any], *, raise_on_fail: bool = False,
                      seed: int = 0) -> ExerciseResult:
    """Grade ``rho_kl_grad(mu, logvar, rho_raw) -> (dmu, dlogvar, drho_raw)`` with central
    differences of sum_n KL[n] (the library's KL), N=4, L=3."""
    g = Grader("rho_kl_grad", fn, ["dmu", "dlogvar", "drho_raw"], GRAD_SIG)
    inputs = _inputs(seed)
    out = g.call(dict(zip(("mu", "logvar", "rho_raw"), inputs)))
    if out is not None:
        arrays = [a.copy() for a in inputs]

        def loss() -> float:
            return float(np.sum(rho_kl_solution(*arrays)))

        for k in range(3):
            g.check_grad(k, out[k], loss, arrays[k], mistakes=GRAD_MISTAKES, inputs=inputs)
    return g.result(raise_on_fail, "all three gradients match the numerical gradient")


EXERCISES = [
    Exercise("rho_kl", LESSON, KL_SIG, check_rho_kl, rho_kl_solution,
             (f"{_RHO}:RhoGaussian.kl_standard_normal", f"{_RHO}:log_one_minus_tanh_sq"),
             "SOLUTIONS['rho_kl'] builds RhoGaussian(mu, logvar, rho_raw) and calls its "
             "kl_standard_normal, the KL the rho-VAE trains with; log(1 - rho^2) is computed "
             "from rho_raw, stably."),
    Exercise("rho_kl_grad", LESSON, GRAD_SIG, check_rho_kl_grad, rho_kl_grad_solution,
             (f"{_RHO}:RhoGaussian.kl_standard_normal_grad",),
             "SOLUTIONS['rho_kl_grad'] builds RhoGaussian(mu, logvar, rho_raw) and calls its "
             "kl_standard_normal_grad, the KL part of the rho-VAE encoder's backward pass."),
]
