"""Exercises of lesson 12 (information measures and divergences): the Parzen (KDE) quadratic
information potential, its gradient, and the Cauchy-Schwarz divergence.

* ``kde_qip(X, sigma) -> V``; X: (N, D), V = 1/N^2 sum_ij G_{sigma sqrt 2}(x_i - x_j), a float
* ``kde_qip_grad(X, sigma) -> dX``; (N, D), the gradient of V
* ``cs_divergence(X, Y, sigma) -> D``; X: (N, D), Y: (M, D),
  D = log V(X) + log V(Y) - 2 log V(X, Y), a float, stable when every kernel underflows
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from minivae.exercises.exercise import Exercise
from minivae.exercises.grader import ExerciseResult, Grader, Mistake, make_rng
from minivae.information import kde

LESSON = "12_information_measures"

QIP_SIG = ("kde_qip(X, sigma) -> V;  X: (N, D) samples, sigma > 0 the Parzen bandwidth; V (a "
           "float) = 1/N^2 sum_i sum_j G(x_i - x_j) with the Gaussian kernel of variance "
           "2 sigma^2: G(u) = (4 pi sigma^2)^(-D/2) exp(-|u|^2 / (4 sigma^2))")
QIP_GRAD_SIG = ("kde_qip_grad(X, sigma) -> dX;  X, dX: (N, D): the gradient of kde_qip(X, sigma)"
                " with respect to every sample")
CS_SIG = ("cs_divergence(X, Y, sigma) -> D;  X: (N, D), Y: (M, D); D (a float) = log V(X) + "
          "log V(Y) - 2 log V(X, Y) with the QIPs V(X), V(Y) and the CIP V(X, Y) = 1/(NM) "
          "sum_ij G(x_i - y_j); finite even when every kernel value underflows to 0")


# ------------------------------------------------------------------------------ the wrong formulas
def _pair_sq(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    return np.sum((X[:, None, :] - Y[None, :, :]) ** 2, axis=-1)


def _qip_with(X: np.ndarray, var: float, norm: float, exclude_diagonal: bool = False,
              denom: float | None = None) -> float:
    """Sum of norm * exp(-|x_i - x_j|^2 / (2 var)) over pairs, divided by denom (N^2)."""
    K = norm * np.exp(-_pair_sq(X, X) / (2.0 * var))
    if exclude_diagonal:
        np.fill_diagonal(K, 0.0)
    return float(K.sum() / (X.shape[0] ** 2 if denom is None else denom))


def _c(D: int, var: float) -> float:
    return (2.0 * np.pi * var) ** (-D / 2)


QIP_MISTAKES = [
    Mistake("the kernel of the PRODUCT of two Parzen estimates has variance 2 sigma^2 (two "
            "Gaussians of variance sigma^2 convolved); you used variance sigma^2",
            lambda X, s: _qip_with(X, s**2, _c(X.shape[1], s**2))),
    Mistake("the normalisation constant (4 pi sigma^2)^(-D/2) of the kernel is missing; "
            "without it V is not an estimate of int p^2",
            lambda X, s: _qip_with(X, 2 * s**2, 1.0)),
    Mistake("the constant is raised to -1/2 instead of -D/2: a D-dimensional Gaussian has "
            "(2 pi var)^(-D/2)", lambda X, s: _qip_with(X, 2 * s**2, _c(1, 2 * s**2))),
    Mistake("divided by N instead of N^2: V averages over all N^2 pairs (i, j)",
            lambda X, s: _qip_with(X, 2 * s**2, _c(X.shape[1], 2 * s**2), denom=X.shape[0])),
    Mistake("the pairs i = j were left out: the estimator of the lesson (the integral of the "
            "squared Parzen estimate) includes them",
            lambda X, s: _qip_with(X, 2 * s**2, _c(X.shape[1], 2 * s**2), True)),
]

QIP_GRAD_MISTAKES = [
    Mistake("the factor 2 is missing: x_i appears in row i AND column i of the double sum, "
            "so both terms contribute (equally, by symmetry)",
            lambda X, s: kde.cip_grad(X, X, s)[0]),
    Mistake("the sign is flipped: moving x_i towards its neighbours raises V, so dV/dx_i "
            "points towards them: -(x_i - x_j) K_ij", lambda X, s: -kde.qip_grad(X, s)),
]


def _log_qip_naive(X: np.ndarray, s: float) -> float:
    with np.errstate(divide="ignore"):
        return float(np.log(kde.qip(X, s)))


CS_MISTAKES = [
    Mistake("the sign is flipped: D_CS = log V(X) + log V(Y) - 2 log V(X, Y) >= 0 "
            "(Cauchy-Schwarz: V(X, Y)^2 <= V(X) V(Y))",
            lambda X, Y, s: -kde.cs_divergence(X, Y, s)),
    Mistake("the factor 2 on log V(X, Y) is missing (the CIP appears squared: "
            "-log(V(X, Y)^2 / (V(X) V(Y))))",
            lambda X, Y, s: kde.log_qip(X, s) + kde.log_qip(Y, s) - kde.log_cip(X, Y, s)),
    Mistake("that is the ratio V(X, Y)^2 / (V(X) V(Y)) itself; D_CS is minus its logarithm",
            lambda X, Y, s: np.exp(-kde.cs_divergence(X, Y, s))),
    Mistake("that is the Euclidean divergence V(X) + V(Y) - 2 V(X, Y); the Cauchy-Schwarz "
            "divergence takes logarithms", lambda X, Y, s: kde.euclidean_divergence(X, Y, s)),
]


# ------------------------------------------------------------------------------ checkers
def _samples(seed: int) -> tuple[np.ndarray, np.ndarray, float]:
    rng = make_rng(seed)
    return rng.standard_normal((5, 2)), 0.8 * rng.standard_normal((4, 2)) + 0.7, 0.6


def check_kde_qip(fn: Callable[..., Any], *, raise_on_fail: bool = False,
                  seed: int = 0) -> ExerciseResult:
    """Grade ``kde_qip(X, sigma) -> V`` against :func:`minivae.information.kde.qip` on 2-D
    samples (N=5) and on 3-D samples (N=4, where a wrong power of the constant shows)."""
    g = Grader("kde_qip", fn, ["V"], QIP_SIG)
    X, _, sigma = _samples(seed)
    X3 = make_rng(seed + 1).standard_normal((4, 3))
    g.check_cases([("N=5, D=2", {"X": X, "sigma": sigma}),
                   ("N=4, D=3", {"X": X3, "sigma": 1.3})],
                  lambda X, s: np.asarray(kde.qip(X, s)), mistakes=QIP_MISTAKES)
    return g.result(raise_on_fail, "matches minivae.information.kde.qip")


def check_kde_qip_grad(fn: Callable[..., Any], *, raise_on_fail: bool = False,
                       seed: int = 0) -> ExerciseResult:
    """Grade ``kde_qip_grad(X, sigma) -> dX`` against central differences of
    :func:`minivae.information.kde.qip` (N=5, D=2)."""
    g = Grader("kde_qip_grad", fn, ["dX"], QIP_GRAD_SIG)
    X, _, sigma = _samples(seed)
    out = g.call({"X": X, "sigma": sigma})
    if out is not None:
        x = X.copy()
        g.check_grad(0, out[0], lambda: kde.qip(x, sigma), x, mistakes=QIP_GRAD_MISTAKES,
                     inputs=(X, sigma))
    return g.result(raise_on_fail, "dV/dX matches the numerical gradient")


def check_cs_divergence(fn: Callable[..., Any], *, raise_on_fail: bool = False,
                        seed: int = 0) -> ExerciseResult:
    """Grade ``cs_divergence(X, Y, sigma) -> D`` against
    :func:`minivae.information.kde.cs_divergence`: overlapping samples (N=5, M=4), and two
    clouds 60 units apart with sigma = 0.5, where every cross kernel underflows to 0 and
    log V(X, Y) must be computed as a log-sum-exp."""
    g = Grader("cs_divergence", fn, ["D"], CS_SIG)
    X, Y, sigma = _samples(seed)
    cases = [("overlapping samples", {"X": X, "Y": Y, "sigma": sigma}),
             ("clouds 60 apart, sigma=0.5", {"X": X, "Y": Y + 60.0, "sigma": 0.5})]
    for case, args in cases:
        out = g.call(args, case=case)
        if out is None:
            break
        want = np.asarray(kde.cs_divergence(*args.values()))
        if not g.check_value(0, out[0], want, mistakes=CS_MISTAKES,
                             inputs=tuple(args.values()), case=case):
            if not np.all(np.isfinite(out[0])):
                g.fail("log V(X, Y) of a sum of underflowing kernels: compute it in the log "
                       "domain, log mean exp(a_ij) = m + log mean exp(a_ij - m), m = max a_ij, "
                       "with a_ij = log G(x_i - y_j) = -|x_i - y_j|^2/(4 sigma^2) - D/2 log(4 "
                       "pi sigma^2)")
            break
    return g.result(raise_on_fail, "matches minivae.information.kde.cs_divergence")


_KDE = "minivae.information.kde"

EXERCISES = [
    Exercise("kde_qip", LESSON, QIP_SIG, check_kde_qip, f"{_KDE}:qip",
             (f"{_KDE}:qip", f"{_KDE}:cip", f"{_KDE}:log_kernel_matrix"),
             "SOLUTIONS['kde_qip'] is minivae.information.kde.qip: the CIP of X with itself, "
             "from the log-kernel matrix of all pairs."),
    Exercise("kde_qip_grad", LESSON, QIP_GRAD_SIG, check_kde_qip_grad, f"{_KDE}:qip_grad",
             (f"{_KDE}:qip_grad", f"{_KDE}:cip_grad", f"{_KDE}:_pull"),
             "SOLUTIONS['kde_qip_grad'] is minivae.information.kde.qip_grad: the two gradients "
             "of the CIP with Y = X, added."),
    Exercise("cs_divergence", LESSON, CS_SIG, check_cs_divergence, f"{_KDE}:cs_divergence",
             (f"{_KDE}:cs_divergence", f"{_KDE}:log_qip", f"{_KDE}:log_cip"),
             "SOLUTIONS['cs_divergence'] is minivae.information.kde.cs_divergence, the "
             "regulariser of the ITL autoencoder (minivae.models.ITLAutoencoder)."),
]
