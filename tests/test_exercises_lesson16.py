"""Lesson 16's checkers (the KL of the rho-VAE posterior and its gradient): the library
solution passes, hand-written answers pass, every named mistake is caught with its hint, wrong
shapes are named, and show_solution prints the library's code."""

from __future__ import annotations

import numpy as np
import pytest

from minivae.exercises import (
    EXERCISES,
    SOLUTIONS,
    check_rho_kl,
    check_rho_kl_grad,
    show_solution,
)
from minivae.exercises import lesson16_vae_problems as lesson16
from minivae.objectives.rho_gaussian import RhoGaussian


def my_rho_kl(mu, logvar, rho_raw):
    """Written out from the formula (not the library's code), through the explicit covariance:
    KL = 1/2 [tr(S) + ||mu||^2 - L - log det S]."""
    L = mu.shape[1]
    out = np.empty(len(mu))
    for n in range(len(mu)):
        i = np.arange(L)
        S = np.exp(logvar[n]) * np.tanh(rho_raw[n]) ** np.abs(i[:, None] - i[None, :])
        out[n] = 0.5 * (np.trace(S) + mu[n] @ mu[n] - L - np.linalg.slogdet(S)[1])
    return out


def my_rho_kl_grad(mu, logvar, rho_raw):
    L = mu.shape[1]
    return mu.copy(), 0.5 * L * (np.exp(logvar) - 1.0), (L - 1) * np.tanh(rho_raw)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_library_and_handwritten_solutions_pass(seed):
    assert check_rho_kl(SOLUTIONS["rho_kl"], seed=seed).passed
    assert check_rho_kl_grad(SOLUTIONS["rho_kl_grad"], seed=seed).passed
    assert check_rho_kl(my_rho_kl, seed=seed).passed
    assert check_rho_kl_grad(my_rho_kl_grad, seed=seed).passed


def test_solutions_are_the_library_methods():
    mu, logvar, rho_raw = lesson16._inputs(0)
    q = RhoGaussian(mu, logvar, rho_raw)
    np.testing.assert_array_equal(SOLUTIONS["rho_kl"](mu, logvar, rho_raw),
                                  q.kl_standard_normal())
    for a, b in zip(SOLUTIONS["rho_kl_grad"](mu, logvar, rho_raw), q.kl_standard_normal_grad(),
                    strict=True):
        np.testing.assert_array_equal(a, b)
    assert {EXERCISES["rho_kl"].lesson, EXERCISES["rho_kl_grad"].lesson} == {"16_vae_problems"}


def test_the_mistake_formulas_without_a_mistake_are_the_library():
    for large in (False, True):
        inputs = lesson16._inputs(0, large)
        np.testing.assert_allclose(lesson16._kl_variant(*inputs), lesson16.rho_kl_solution(
            *inputs), rtol=1e-11)
    inputs = lesson16._inputs(0)
    for a, b in zip(lesson16._grad_variant(*inputs), lesson16.rho_kl_grad_solution(*inputs),
                    strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-13)


@pytest.mark.parametrize("mistake", lesson16.KL_MISTAKES, ids=lambda m: m.hint[:30])
def test_every_kl_mistake_is_caught_with_its_hint(mistake):
    result = check_rho_kl(mistake.outputs)
    assert not result.passed and mistake.hint in result.message, result.message


@pytest.mark.parametrize("mistake", lesson16.GRAD_MISTAKES, ids=lambda m: m.hint[:30])
def test_every_gradient_mistake_is_caught_with_its_hint(mistake):
    result = check_rho_kl_grad(mistake.outputs)
    assert not result.passed and mistake.hint in result.message, result.message


def test_wrong_shapes_and_a_missing_return_are_named():
    result = check_rho_kl(lambda mu, lv, r: np.zeros((4, 3)))
    assert not result.passed and "kl has the wrong shape" in result.message
    result = check_rho_kl_grad(lambda mu, lv, r: (mu, lv))
    assert not result.passed and "tuple of 3" in result.message
    result = check_rho_kl_grad(lambda mu, lv, r: (mu, np.zeros((4, 3)), r))
    assert not result.passed and "dlogvar has the wrong shape" in result.message
    assert "dmu" in result.message and "correct" in result.message


def test_show_solution_prints_the_library_code():
    text = show_solution("rho_kl")
    assert "def kl_standard_normal" in text and "def log_one_minus_tanh_sq" in text
    assert "def kl_standard_normal_grad" in show_solution("rho_kl_grad")
