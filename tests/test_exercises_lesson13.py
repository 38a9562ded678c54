"""Lesson 13's checker (write the vector quantizer's straight-through backward): the library
solution and a hand-written backward pass, every named mistake is caught with its hint, the
mistake formulas without a mistake equal the library, a wrong shape is reported, and
show_solution prints the quantizer's forward and backward."""

from __future__ import annotations

import numpy as np
import pytest

from minivae.exercises import SOLUTIONS, check_quantizer_backward, show_solution
from minivae.exercises import lesson13_shaping_the_prior as lesson13


def my_quantizer_backward(dz_q, z_e, codebook, beta):
    """Written out again from the equations (not the library's code)."""
    n = z_e.shape[0]
    idx = np.argmin(((z_e[..., None, :] - codebook) ** 2).sum(-1), axis=-1)
    e = codebook[idx]
    dcode = np.zeros_like(codebook)
    np.add.at(dcode, idx.ravel(), (2.0 / n * (e - z_e)).reshape(-1, codebook.shape[1]))
    return dz_q + 2.0 * beta / n * (z_e - e), dcode


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_library_and_a_handwritten_backward_pass(seed):
    assert check_quantizer_backward(SOLUTIONS["quantizer_backward"], seed=seed).passed
    assert check_quantizer_backward(my_quantizer_backward, seed=seed).passed


def test_the_mistake_formulas_without_a_mistake_are_the_library():
    inputs = lesson13._inputs(0)
    for mine, want in zip(lesson13._variant(*inputs), SOLUTIONS["quantizer_backward"](*inputs),
                          strict=True):
        np.testing.assert_allclose(mine, want, rtol=1e-13, atol=1e-15)


def test_the_test_point_has_repeated_and_unused_codes():
    _, z_e, codebook, _ = lesson13._inputs(0)
    counts = np.bincount(lesson13._nearest(z_e, codebook).ravel(), minlength=len(codebook))
    assert counts.max() >= 2 and counts.min() == 0


@pytest.mark.parametrize("mistake", lesson13.QUANT_BWD_MISTAKES, ids=lambda m: m.hint[:30])
def test_every_named_mistake_is_caught_with_its_hint(mistake):
    def wrong(dz_q, z_e, codebook, beta):
        return mistake.outputs(dz_q, z_e, codebook, beta)

    result = check_quantizer_backward(wrong)
    assert not result.passed
    assert mistake.hint in result.message


def test_a_wrong_shape_and_a_stub():
    def transposed(dz_q, z_e, codebook, beta):
        dz_e, dcode = SOLUTIONS["quantizer_backward"](dz_q, z_e, codebook, beta)
        return dz_e, dcode.T

    result = check_quantizer_backward(transposed)
    assert not result.passed and "dcodebook has the wrong shape" in result.message

    def stub(dz_q, z_e, codebook, beta):
        raise NotImplementedError

    with pytest.raises(NotImplementedError):
        check_quantizer_backward(stub)


def test_show_solution_prints_the_quantizer():
    text = show_solution("quantizer_backward")
    assert "def forward(self, z_e" in text and "def backward(self, dz_q" in text
    assert "np.add.at" in text
