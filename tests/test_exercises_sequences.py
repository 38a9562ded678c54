"""Tests of the checkers in minivae.exercises.sequences: the library's solution passes, classic
mistakes fail with a message naming them, untouched TODO stubs are recognisable."""

from __future__ import annotations

import numpy as np
import pytest

from minivae.exercises import ExerciseFailed, ExerciseResult
from minivae.exercises import sequences as ex
from minivae.nn.functional import log_mean_exp


@pytest.mark.parametrize("name", sorted(ex.EXERCISES))
def test_solution_passes(name):
    exercise = ex.EXERCISES[name]
    result = exercise.checker(ex.SOLUTIONS[name])
    assert isinstance(result, ExerciseResult)
    assert result.passed, result.message
    assert bool(result) and "PASSED" in str(result)


@pytest.mark.parametrize("name", sorted(ex.EXERCISES))
def test_other_seed_passes(name):
    assert ex.EXERCISES[name].checker(ex.SOLUTIONS[name], seed=3).passed


@pytest.mark.parametrize("name", sorted(ex.EXERCISES))
def test_todo_stub_raises_not_implemented(name):
    def stub(*args):
        raise NotImplementedError("TODO")

    with pytest.raises(NotImplementedError):
        ex.EXERCISES[name].checker(stub)


@pytest.mark.parametrize("name", sorted(ex.EXERCISES))
def test_crashing_function_becomes_a_message(name):
    def broken(*args):
        raise ZeroDivisionError("oops")

    result = ex.EXERCISES[name].checker(broken)
    assert not result.passed
    assert "ZeroDivisionError" in result.message
    with pytest.raises(ExerciseFailed):
        ex.EXERCISES[name].checker(broken, raise_on_fail=True)


@pytest.mark.parametrize("name", sorted(ex.EXERCISES))
def test_show_solution_prints_library_source(name):
    text = ex.show_solution(name)
    assert text.startswith(f"# Exercise {name}:")
    assert "def " in text


def test_show_solution_unknown_name():
    with pytest.raises(KeyError, match="unknown exercise"):
        ex.show_solution("nope")


def _fails_with(result: ExerciseResult, fragment: str) -> None:
    assert not result.passed
    assert fragment in result.message, result.message


# ----------------------------------------------------------------------------- per exercise
def test_repeat_vector_mistakes():
    _fails_with(ex.check_repeat_vector_backward(lambda dy: dy.mean(axis=1)), "SUM of the T")
    _fails_with(ex.check_repeat_vector_backward(lambda dy: dy[:, -1]), "LAST step")
    _fails_with(ex.check_repeat_vector_backward(lambda dy: dy.sum(axis=0)), "BATCH axis")


def test_free_running_decode_mistakes():
    _fails_with(ex.check_free_running_decode(
        lambda m, z, T: ex._decode_variant(m, z, T, feed="zeros")), "nothing is fed back")
    _fails_with(ex.check_free_running_decode(
        lambda m, z, T: ex._decode_variant(m, z, T, tanh_h0=False)), "tanh(init_h(z))")
    _fails_with(ex.check_free_running_decode(
        lambda m, z, T: ex._decode_variant(m, z, T, feed="lag")), "off by one")


def test_free_running_decode_hand_loop_passes():
    # The reference loop written from the pure step functions equals model.decode.
    assert ex.check_free_running_decode(lambda m, z, T: ex._decode_variant(m, z, T)).passed


def test_point_adjust_mistakes():
    _fails_with(ex.check_point_adjust(lambda t, p: np.asarray(p)), "unchanged")
    _fails_with(ex.check_point_adjust(lambda t, p: np.asarray(t)), "returned y_true")
    _fails_with(ex.check_point_adjust(ex._pa_drop_false_positives), "OUTSIDE true segments")


def test_point_adjust_hand_case_by_hand():
    # Segment [0, 2) hit at 1 -> filled; [4, 7) missed; false positive at 3 kept.
    y_true = np.array([1, 1, 0, 0, 1, 1, 1, 0])
    y_pred = np.array([0, 1, 0, 1, 0, 0, 0, 0])
    got = ex.SOLUTIONS["point_adjust"](y_true, y_pred)
    np.testing.assert_array_equal(got, [1, 1, 0, 1, 0, 0, 0, 0])


def test_gp_posterior_mistakes():
    _fails_with(ex.check_gp_posterior(lambda *a: ex._gp_variant(*a, noise=False)),
                "noise variance is missing")
    _fails_with(ex.check_gp_posterior(lambda *a: ex._gp_variant(*a, noisy_var=True)),
                "includes the observation noise")
    _fails_with(ex.check_gp_posterior(lambda *a: ex._gp_variant(*a, std=True)),
                "standard deviation")


def test_gp_posterior_plain_formula_passes():
    assert ex.check_gp_posterior(lambda *a: ex._gp_variant(*a)).passed


def test_gp_posterior_hand_case():
    # One training point, no distance: mean = sv / (sv + nv) * y, var = sv - sv^2 / (sv + nv).
    mean, var = ex.SOLUTIONS["gp_posterior"](np.array([0.0]), np.array([2.0]), np.array([0.0]),
                                            1.0, 1.0, 1.0)
    np.testing.assert_allclose(mean, [1.0])
    np.testing.assert_allclose(var, [0.5])


def test_norm_ppf_mistakes_and_bisection():
    _fails_with(ex.check_norm_ppf(lambda p: -ex._norm_ppf_reference(p)), "mirrored")
    _fails_with(ex.check_norm_ppf(ex._norm_cdf), "INVERSE")

    def bisection(p):
        p = np.asarray(p, dtype=float)
        lo, hi = np.full(p.shape, -10.0), np.full(p.shape, 10.0)
        for _ in range(80):
            mid = 0.5 * (lo + hi)
            below = ex._norm_cdf(mid) < p
            lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
        return 0.5 * (lo + hi)

    assert ex.check_norm_ppf(bisection).passed


def test_iwae_bound_mistakes_and_stability():
    _fails_with(ex.check_iwae_bound(lambda lw: lw.mean(axis=0)), "ELBO")
    _fails_with(ex.check_iwae_bound(
        lambda lw: log_mean_exp(lw, axis=0) + np.log(lw.shape[0])), "1/k is missing")
    naive = ex.check_iwae_bound(lambda lw: np.log(np.mean(np.exp(lw), axis=0)))
    _fails_with(naive, "subtract the max")


def test_iwae_bound_hand_case():
    log_w = np.log(np.array([[1.0], [3.0]]))  # mean weight 2
    np.testing.assert_allclose(ex.SOLUTIONS["iwae_bound"](log_w), [np.log(2.0)])


def test_free_bits_mistakes():
    _fails_with(ex.check_free_bits_kl(ex._fb_per_example), "per EXAMPLE")
    _fails_with(ex.check_free_bits_kl(ex._fb_total), "TOTAL KL")
    inverted = ex.check_free_bits_kl(
        lambda kl, lam: (ex._free_bits_kl_reference(kl, lam)[0],
                         1.0 - ex._free_bits_kl_reference(kl, lam)[1]))
    _fails_with(inverted, "inverted")
    assert "value: correct" in inverted.message


def test_wrong_return_type_is_explained():
    result = ex.check_free_bits_kl(lambda kl, lam: 1.0)
    _fails_with(result, "tuple of 2")
    result = ex.check_repeat_vector_backward(lambda dy: None)
    _fails_with(result, "returned None")
