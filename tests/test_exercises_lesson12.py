"""Lesson 12's checkers fail on the mistakes a student could plausibly make, name the wrong
output and give the specific hint; a naive (non-log-domain) CS divergence is caught."""

from __future__ import annotations

import numpy as np

from minivae.exercises import (
    SOLUTIONS,
    ExerciseResult,
    check_cs_divergence,
    check_kde_qip,
    check_kde_qip_grad,
)
from minivae.exercises import lesson12_information_measures as lesson12
from minivae.information import kde


def assert_explains(result: ExerciseResult, name: str, *substrings: str) -> None:
    assert not result.passed and "FAILED" in result.message
    assert name in result.message
    for s in substrings:
        assert s in result.message, f"{s!r} not in message:\n{result.message}"


def test_every_named_mistake_is_caught_with_its_hint():
    for checker, mistakes, out in ((check_kde_qip, lesson12.QIP_MISTAKES, "V"),
                                   (check_kde_qip_grad, lesson12.QIP_GRAD_MISTAKES, "dX"),
                                   (check_cs_divergence, lesson12.CS_MISTAKES, "D")):
        for m in mistakes:
            assert_explains(checker(m.outputs), out, m.hint[:40])


def test_a_handwritten_qip_and_gradient_pass():
    def my_qip(X, sigma):
        d2 = np.sum((X[:, None] - X[None]) ** 2, axis=-1)
        D = X.shape[1]
        return float(np.mean((4 * np.pi * sigma**2) ** (-D / 2) * np.exp(-d2 / (4 * sigma**2))))

    def my_qip_grad(X, sigma):
        N, D = X.shape
        diff = X[:, None] - X[None]
        K = (4 * np.pi * sigma**2) ** (-D / 2) * np.exp(-np.sum(diff**2, -1) / (4 * sigma**2))
        return -2.0 / N**2 * np.einsum("ij,ijd->id", K, diff) / (2 * sigma**2)

    assert check_kde_qip(my_qip).passed
    assert check_kde_qip_grad(my_qip_grad).passed


def test_naive_cs_divergence_is_told_to_use_the_log_domain():
    def naive(X, Y, sigma):
        return np.log(kde.qip(X, sigma)) + np.log(kde.qip(Y, sigma)) \
            - 2 * np.log(kde.cip(X, Y, sigma))

    result = check_cs_divergence(naive)
    assert_explains(result, "D", "clouds 60 apart", "log domain")
    assert check_cs_divergence(SOLUTIONS["cs_divergence"]).passed
