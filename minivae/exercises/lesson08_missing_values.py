"""Exercise of lesson 08 (missing values): the Gaussian-process posterior used for imputation.

* ``gp_posterior(t_train, y_train, t_test, lengthscale, signal_var, noise_var) -> (mean, var)``;
  (n,), (n,), (m,) -> (m,), (m,)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from minivae.exercises.exercise import Exercise
from minivae.exercises.grader import ExerciseResult, Grader, Mistake, make_rng
from minivae.timeseries.impute import gp_posterior

LESSON = "08_missing_values"

GP_SIG = (
    "gp_posterior(t_train, y_train, t_test, lengthscale, signal_var, noise_var) -> (mean, var);"
    "  k(t, t') = signal_var * exp(-(t - t')^2 / (2 lengthscale^2)), noise_var on the diagonal "
    "of the training covariance; mean = K_*^T (K + s^2 I)^-1 y, var = k(t*, t*) - K_*^T "
    "(K + s^2 I)^-1 K_* (the latent function's variance, without noise); t_train, y_train: "
    "(n,), t_test: (m,); mean, var: (m,)"
)


def gp_solution(t_train, y_train, t_test, lengthscale, signal_var, noise_var
                ) -> tuple[np.ndarray, np.ndarray]:
    """SOLUTIONS["gp_posterior"]: :func:`minivae.timeseries.impute.gp_posterior` (std squared)."""
    params = {"lengthscale": lengthscale, "signal_var": signal_var, "noise_var": noise_var}
    mean, std = gp_posterior(np.asarray(t_train, float), np.asarray(y_train, float),
                             np.asarray(t_test, float), params, return_std=True)
    return mean, std**2


def gp_variant(t, y, ts, ell, sv, nv, *, noise=True, noisy_var=False, std=False, ls_sq=True):
    """The posterior by the textbook formula (``np.linalg.solve``), optionally with a mistake."""
    def k(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return sv * np.exp(-0.5 * (a[:, None] - b[None, :]) ** 2 / (ell**2 if ls_sq else ell))

    K = k(t, t) + (nv if noise else 1e-10) * np.eye(t.size)
    Ks = k(t, ts)
    mean = Ks.T @ np.linalg.solve(K, y)
    var = sv - np.sum(Ks * np.linalg.solve(K, Ks), axis=0) + (nv if noisy_var else 0.0)
    return mean, np.sqrt(np.maximum(var, 0.0)) if std else var


GP_MISTAKES = [
    Mistake("the noise variance is missing from the training covariance: invert "
            "K + noise_var * I (observations are noisy; without it the mean interpolates the "
            "noise exactly)", lambda *a: gp_variant(*a, noise=False)),
    Mistake("var includes the observation noise; the exercise asks for the variance of the "
            "latent function f(t*), k(t*, t*) - K_*^T (K + s^2 I)^-1 K_*",
            lambda *a: gp_variant(*a, noisy_var=True)),
    Mistake("you returned the standard deviation; return the variance",
            lambda *a: gp_variant(*a, std=True)),
    Mistake("the kernel divides by 2 * lengthscale^2 (squared), not 2 * lengthscale",
            lambda *a: gp_variant(*a, ls_sq=False)),
]


def check_gp_posterior(fn: Callable[..., Any], *, raise_on_fail: bool = False,
                       seed: int = 0) -> ExerciseResult:
    """Grade ``gp_posterior(t_train, y_train, t_test, lengthscale, signal_var, noise_var) ->
    (mean, var)`` against :func:`minivae.timeseries.impute.gp_posterior` (n=8 noisy training
    points, m=6 test times inside and outside the data)."""
    g = Grader("gp_posterior", fn, ["mean", "var"], GP_SIG)
    rng = make_rng(seed)
    t = np.sort(rng.choice(np.arange(0, 30), size=8, replace=False)).astype(np.float64)
    y = np.sin(t / 4.0) + 0.1 * rng.standard_normal(8)
    ts = np.array([t[0] + 0.5, t[2] + 1.0, t[4], 0.5 * (t[5] + t[6]), t[-1] + 2.0, 40.0])
    ell, sv, nv = 3.0, 1.3, 0.05
    out = g.call({"t_train": t, "y_train": y, "t_test": ts, "lengthscale": ell,
                  "signal_var": sv, "noise_var": nv})
    if out is not None:
        want = gp_solution(t, y, ts, ell, sv, nv)
        for k in (0, 1):
            g.check_value(k, out[k], want[k], mistakes=GP_MISTAKES,
                          inputs=(t, y, ts, ell, sv, nv))
    return g.result(raise_on_fail, "mean and var match minivae.timeseries.impute.gp_posterior")


EXERCISES = [
    Exercise("gp_posterior", LESSON, GP_SIG, check_gp_posterior, gp_solution,
             ("minivae.timeseries.impute:gp_posterior",),
             "SOLUTIONS['gp_posterior'] calls minivae.timeseries.impute.gp_posterior(t_train, "
             "y_train, t_test, params, return_std=True) and squares the std: the posterior "
             "impute_gp fills gaps with."),
]
