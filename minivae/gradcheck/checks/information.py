"""Gradient checks of the Parzen (KDE) information measures w.r.t. the samples, and of the
ITL autoencoder (CS and Euclidean divergence, every prior) through ``loss`` / ``backward``.

All smooth (Gaussian kernels, tanh networks): tolerance 1e-7.  The divergences are differences
of terms that may nearly cancel, so the noise floor is given the size of the terms (f_scale).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from minivae.gradcheck.checkers import check_function
from minivae.gradcheck.checks._common import size
from minivae.gradcheck.model_check import check_model
from minivae.gradcheck.registry import register_check
from minivae.gradcheck.result import GradCheckResult
from minivae.information import kde
from minivae.models import ITLAutoencoder
from minivae.objectives.priors import PRIORS


def _samples(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, float]:
    """X: (N, D), Y: (M, D) with different N, M and a shift; sigma of the order of the spread
    so the kernels are neither all ~1 nor all underflowing."""
    D = size(rng, 1, 3)
    X = rng.standard_normal((size(rng, 2, 6), D))
    Y = 0.7 * rng.standard_normal((size(rng, 2, 6), D)) + 0.5
    return X, Y, float(rng.uniform(0.5, 1.5))


def _one(value: Callable, grad: Callable) -> Callable[[np.random.Generator], list]:
    """Check of a measure of one sample set X."""
    def check(rng: np.random.Generator) -> list[GradCheckResult]:
        X, _, sigma = _samples(rng)
        return check_function(lambda X: value(X, sigma), {"X": X}, lambda X: grad(X, sigma))

    return check


def _two(value: Callable, grad: Callable, terms: Callable | None = None
         ) -> Callable[[np.random.Generator], list]:
    """Check of a measure of two sample sets X, Y (both gradients)."""
    def check(rng: np.random.Generator) -> list[GradCheckResult]:
        X, Y, sigma = _samples(rng)
        scale = None if terms is None else terms(X, Y, sigma)
        return check_function(lambda X, Y: value(X, Y, sigma), {"X": X, "Y": Y},
                              lambda X, Y: grad(X, Y, sigma), f_scale=scale)

    return check


def _ed_terms(X: np.ndarray, Y: np.ndarray, sigma: float) -> float:
    return kde.qip(X, sigma) + kde.qip(Y, sigma) + 2.0 * kde.cip(X, Y, sigma)


def _cs_terms(X: np.ndarray, Y: np.ndarray, sigma: float) -> float:
    return (abs(kde.log_qip(X, sigma)) + abs(kde.log_qip(Y, sigma))
            + 2.0 * abs(kde.log_cip(X, Y, sigma)))


register_check("kde.qip", _one(kde.qip, kde.qip_grad))
register_check("kde.log_qip", _one(kde.log_qip, kde.log_qip_grad))
register_check("kde.renyi_quadratic_entropy",
               _one(kde.renyi_quadratic_entropy, kde.renyi_quadratic_entropy_grad))
register_check("kde.cip", _two(kde.cip, kde.cip_grad))
register_check("kde.log_cip", _two(kde.log_cip, kde.log_cip_grad))
register_check("kde.euclidean_divergence",
               _two(kde.euclidean_divergence, kde.euclidean_divergence_grad, _ed_terms))
register_check("kde.cs_divergence",
               _two(kde.cs_divergence, kde.cs_divergence_grad, _cs_terms))


def _itl_check(divergence: str, prior: str) -> Callable[[np.random.Generator], list]:
    def check(rng: np.random.Generator) -> list[GradCheckResult]:
        D, H, N = size(rng, 2, 5), size(rng, 2, 5), size(rng, 3, 6)
        L = 2 if prior == "swiss_roll" else size(rng, 1, 3)
        model = ITLAutoencoder(D, [H], L, divergence=divergence, prior=prior,
                               sigma=float(rng.uniform(0.5, 1.5)), lam=float(rng.uniform(0.5, 3)),
                               prior_samples=size(rng, 2, 7), activation="tanh", rng=rng)
        for name, p, _ in model.parameters():  # biases start at 0: cover the general case
            if name.endswith(".b"):
                p[...] = 0.1 * rng.standard_normal(p.shape)
        return check_model(model, rng.random((N, D)), rng=rng)

    return check


for _div in ("cs", "euclidean"):
    for _prior in PRIORS:
        register_check(f"itl_autoencoder.{_div}.{_prior}", _itl_check(_div, _prior))
