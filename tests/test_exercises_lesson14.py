"""Lesson 14's checker (write the GRU step backward): the library solution passes, a hand-written
backward passes, every named mistake is caught with its hint, a wrong shape and a student's own
forward cache are handled, and show_solution prints the library's step functions."""

from __future__ import annotations

import numpy as np
import pytest

from minivae.exercises import EXERCISES, SOLUTIONS, check_gru_step_backward, show_solution
from minivae.exercises import lesson14_sequence_latents as lesson14
from minivae.nn import gru


def assert_explains(result, name: str, *substrings: str) -> None:
    assert not result.passed and "FAILED" in result.message
    assert f"{name} is wrong" in result.message or f"{name} has the wrong shape" in result.message
    for s in substrings:
        assert s in result.message, f"{s!r} not in message:\n{result.message}"


def my_gru_step_backward(dh, cache):
    """Written out again from the equations (not the library's code)."""
    x, h_prev, Wx, Wh, r, z, n, hn = cache
    dn, dz = dh * (1 - z), dh * (h_prev - n)
    dan = dn * (1 - n**2)
    dar, daz, dhn = dan * hn * r * (1 - r), dz * z * (1 - z), dan * r
    dax, dah = np.hstack([dar, daz, dan]), np.hstack([dar, daz, dhn])
    return (dax @ Wx.T, dh * z + dah @ Wh.T, x.T @ dax, h_prev.T @ dah, dax.sum(0),
            dhn.sum(0))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_library_and_a_handwritten_backward_pass(seed):
    assert SOLUTIONS["gru_step_backward"] is gru.gru_step_backward
    assert check_gru_step_backward(gru.gru_step_backward, seed=seed).passed
    assert check_gru_step_backward(my_gru_step_backward, seed=seed).passed


def test_the_mistake_formulas_without_a_mistake_are_the_library():
    inputs = lesson14._step_inputs(0)
    _, cache = gru.gru_step_forward(*inputs[:6])
    for mine, want in zip(lesson14._variant(*inputs), gru.gru_step_backward(inputs[6], cache),
                          strict=True):
        np.testing.assert_allclose(mine, want, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("mistake", lesson14.STEP_BWD_MISTAKES, ids=lambda m: m.hint[:30])
def test_every_named_mistake_is_caught_with_its_hint(mistake):
    inputs = lesson14._step_inputs(0)
    wrong = mistake.outputs(*inputs)
    result = check_gru_step_backward(lambda dh, cache: wrong)
    assert not result.passed and mistake.hint in result.message, result.message


def test_missing_direct_path_names_dh_prev_only():
    def no_direct(dh, cache):
        dx, dh_prev, *rest = gru.gru_step_backward(dh, cache)
        return (dx, dh_prev - dh * cache[5], *rest)

    result = check_gru_step_backward(no_direct)
    assert_explains(result, "dh_prev", "direct path")
    assert "dx, dWx, dWh, db, dbhn: correct" in result.message


def test_transposed_weight_gradient_is_a_shape_error():
    def transposed(dh, cache):
        dx, dh_prev, dWx, *rest = gru.gru_step_backward(dh, cache)
        return (dx, dh_prev, dWx.T, *rest)

    assert_explains(check_gru_step_backward(transposed), "dWx", "expected (4, 6), got (6, 4)")


def test_own_forward_cache_and_bad_forward():
    def my_forward(x, h, Wx, Wh, b, bhn):
        return gru.gru_step_forward(x, h, Wx, Wh, b, bhn)

    assert check_gru_step_backward(gru.gru_step_backward, my_forward).passed
    result = check_gru_step_backward(gru.gru_step_backward, lambda *a: 1.0)
    assert not result.passed and "forward_fn must return (h, cache)" in result.message


def test_show_solution_prints_the_library_step_functions():
    text = show_solution("gru_step_backward")
    assert EXERCISES["gru_step_backward"].lesson == "14_sequence_latents"
    assert "def gru_step_forward" in text and "def gru_step_backward" in text
    assert "dh_prev = dh * z + dah @ Wh.T" in text
