"""Gradient checks of the Parzen (KDE) information measures w.r.t. the samples (kde: QIP/CIP
family; kde_entropy: Shannon/Renyi plug-in measures at several alpha), and of the
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
from minivae.information import kde, kde_entropy
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


def _paired(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, float]:
    """Paired X: (N, Dx), Y: (N, Dy) with Y correlated with X (a non-trivial MI)."""
    N = size(rng, 2, 6)
    X = rng.standard_normal((N, size(rng, 1, 2)))
    Y = X[:, :1] + 0.5 * rng.standard_normal((N, size(rng, 1, 2)))
    return X, Y, float(rng.uniform(0.5, 1.5))


def _mi_check(rng: np.random.Generator) -> list[GradCheckResult]:
    X, Y, sigma = _paired(rng)
    scale = sum(abs(kde_entropy.entropy(Z, sigma)) for Z in (X, Y, np.hstack([X, Y])))
    return check_function(lambda X, Y: kde_entropy.mutual_information(X, Y, sigma),
                          {"X": X, "Y": Y},
                          lambda X, Y: kde_entropy.mutual_information_grad(X, Y, sigma),
                          f_scale=scale)


def _h_terms(X: np.ndarray, Y: np.ndarray, sigma: float) -> float:
    """|H(X; Y)| + |H(X)|: the size of the terms of KL and JS-like differences."""
    return abs(kde_entropy.cross_entropy(X, Y, sigma)) + abs(kde_entropy.entropy(X, sigma))


_ke = kde_entropy
register_check("kde_entropy.entropy", _one(_ke.entropy, _ke.entropy_grad))
register_check("kde_entropy.cross_entropy", _two(_ke.cross_entropy, _ke.cross_entropy_grad))
register_check("kde_entropy.kl_divergence",
               _two(_ke.kl_divergence, _ke.kl_divergence_grad, _h_terms))
register_check("kde_entropy.js_divergence",
               _two(_ke.js_divergence, _ke.js_divergence_grad, _h_terms))
register_check("kde_entropy.mutual_information", _mi_check)
for _a in (0.5, 2.0, 3.0):
    register_check(f"kde_entropy.renyi_entropy.alpha{_a:g}",
                   _one(lambda X, s, a=_a: _ke.renyi_entropy(X, a, s),
                        lambda X, s, a=_a: _ke.renyi_entropy_grad(X, a, s)))
    register_check(f"kde_entropy.renyi_cross_entropy.alpha{_a:g}",
                   _two(lambda X, Y, s, a=_a: _ke.renyi_cross_entropy(X, Y, a, s),
                        lambda X, Y, s, a=_a: _ke.renyi_cross_entropy_grad(X, Y, a, s)))
    register_check(f"kde_entropy.renyi_divergence.alpha{_a:g}",
                   _two(lambda X, Y, s, a=_a: _ke.renyi_divergence(X, Y, a, s),
                        lambda X, Y, s, a=_a: _ke.renyi_divergence_grad(X, Y, a, s), _h_terms))


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
