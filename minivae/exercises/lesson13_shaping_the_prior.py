r"""Exercises of lesson 13 (shaping the prior: VQ-VAE, adversarial autoencoder, mixture priors):
write the backward pass of the vector quantizer, the VQ-VAE's bottleneck
(:mod:`minivae.nn.quantizer`):

* ``quantizer_backward(dz_q, z_e, codebook, beta) -> (dz_e, dcodebook)``

with ``z_e: (N, M, d)`` encoder outputs, ``codebook: (K, d)``, ``dz_q = dL/dz_q: (N, M, d)`` from
the decoder and the quantizer's own objective ``codebook loss + beta * commitment loss`` (means
over the N examples, sums over the rest)::

    k = argmin_k ||z_e - e_k||^2,  z_q = z_e + sg[e_k - z_e]           (value e_k)
    dz_e      = dz_q + (2 beta / N) (z_e - e_k)                        (straight through)
    dcodebook[k] = (2 / N) sum over the z_e assigned to k of (e_k - z_e)

The lookup is piecewise constant, so "the gradient" here is the straight-through convention:
the checker compares with central differences of the *surrogate* whose exact derivative it is,
``L = sum(z_q * dz_q) + codebook + beta * commitment`` with the assignments and the values under
sg frozen at the test point (the test points are far from ties, so the frozen and the true
assignments agree).  The solution is a small adapter around the library's
:class:`~minivae.nn.quantizer.VectorQuantizer` (forward, then backward).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from minivae.exercises.exercise import Exercise, library
from minivae.exercises.grader import ExerciseResult, Grader, Mistake, make_rng

LESSON = "13_shaping_the_prior"

_VQ = "minivae.nn.quantizer"
QUANT_BWD_SIG = ("quantizer_backward(dz_q, z_e, codebook, beta) -> (dz_e, dcodebook);  z_e, dz_q: "
                 "(N, M, d); codebook: (K, d); k = the nearest code of each z_e; dz_e = d(L)/d"
                 "(z_e) with the straight-through convention d(z_e) = d(z_q) plus beta times the "
                 "commitment loss's gradient; dcodebook: (K, d), the codebook loss's gradient")


def _inputs(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """dz_q, z_e, codebook, beta: N=3, M=2, d=2, K=4 codes well apart, every z_e near one
    code (no tie within reach of a finite-difference step), some codes chosen twice, one never
    (so a gradient written with ``=`` instead of accumulated shows)."""
    rng = make_rng(seed)
    N, M, d, K = 3, 2, 2, 4
    angles = np.pi / 2 * np.arange(K) + rng.uniform(-0.2, 0.2, K)
    codebook = 2.0 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    idx = np.array([[0, 1], [0, 2], [1, 0]])[: N, : M]  # code 3 never; 0 three times
    z_e = codebook[idx] + 0.2 * rng.standard_normal((N, M, d))
    return rng.standard_normal((N, M, d)), z_e, codebook, 0.4


def _nearest(z_e: np.ndarray, codebook: np.ndarray) -> np.ndarray:
    d2 = np.sum((z_e[..., None, :] - codebook) ** 2, axis=-1)
    return np.argmin(d2, axis=-1)


# ============================================================================ the mistakes
def _variant(dz_q, z_e, codebook, beta, *, straight=True, commit_sign=1.0, commit_beta=True,
             code_sign=1.0, code_beta=False, decoder_to_codes=False, accumulate=True):
    """(dz_e, dcodebook) with a configurable mistake."""
    n = z_e.shape[0]
    idx = _nearest(z_e, codebook)
    e = codebook[idx]
    w = beta if commit_beta else 1.0
    dz_e = (dz_q if straight else 0.0) + commit_sign * (2.0 * w / n) * (z_e - e)
    d_codes = code_sign * (2.0 / n) * (e - z_e) * (beta if code_beta else 1.0)
    if decoder_to_codes:
        d_codes = d_codes + dz_q
    dcode = np.zeros_like(codebook)
    flat_idx, flat = idx.ravel(), d_codes.reshape(-1, codebook.shape[1])
    if accumulate:
        np.add.at(dcode, flat_idx, flat)
    else:
        dcode[flat_idx] = flat  # fancy assignment keeps only the last of repeated codes
    return dz_e, dcode


QUANT_BWD_MISTAKES = [
    Mistake("the straight-through part is missing: the decoder's gradient dz_q must be copied "
            "to z_e unchanged (d(z_e) := d(z_q)); without it the encoder learns only from the "
            "commitment loss", lambda *a: _variant(*a, straight=False)),
    Mistake("the commitment gradient points the wrong way: d/dz_e ||z_e - e_k||^2 = "
            "2 (z_e - e_k), which pulls z_e towards its code", lambda *a: _variant(
                *a, commit_sign=-1.0)),
    Mistake("beta is missing from the commitment gradient: the quantizer's objective is "
            "codebook + beta * commitment", lambda *a: _variant(*a, commit_beta=False)),
    Mistake("the codebook gradient has the wrong sign: d/de_k ||z_e - e_k||^2 = 2 (e_k - z_e)",
            lambda *a: _variant(*a, code_sign=-1.0)),
    Mistake("beta multiplies the commitment loss only, not the codebook loss",
            lambda *a: _variant(*a, code_beta=True)),
    Mistake("the decoder's gradient reached the codebook: z_q = z_e + sg[e_k - z_e] sends "
            "dz_q to z_e only; the codes learn from the codebook loss alone",
            lambda *a: _variant(*a, decoder_to_codes=True)),
    Mistake("the codebook gradient was assigned, not accumulated: a code chosen by several "
            "z_e gets the sum of their gradients (np.add.at; dcodebook[idx] = ... keeps only "
            "the last one)", lambda *a: _variant(*a, accumulate=False)),
]


# ============================================================================ the checker
def check_quantizer_backward(fn: Callable[..., Any], *, raise_on_fail: bool = False,
                             seed: int = 0) -> ExerciseResult:
    """Grade ``quantizer_backward(dz_q, z_e, codebook, beta) -> (dz_e, dcodebook)`` against
    central differences of the straight-through surrogate (module docstring); N=3, M=2, d=2,
    K=4, beta=0.4."""
    g = Grader("quantizer_backward", fn, ["dz_e", "dcodebook"], QUANT_BWD_SIG)
    inputs = _inputs(seed)
    dz_q, z_e, codebook, beta = inputs
    out = g.call({"dz_q": dz_q, "z_e": z_e, "codebook": codebook, "beta": beta})
    if out is not None:
        n, idx = z_e.shape[0], _nearest(z_e, codebook)
        ze0, zq0 = z_e.copy(), codebook[idx].copy()  # the values under sg, frozen
        ze, cb = z_e.copy(), codebook.copy()

        def loss() -> float:
            z_q = ze + (zq0 - ze0)
            codebook_loss = np.sum((ze0 - cb[idx]) ** 2) / n
            commitment = np.sum((ze - zq0) ** 2) / n
            return float(np.sum(z_q * dz_q) + codebook_loss + beta * commitment)

        scale = float(np.sum(np.abs(zq0 * dz_q))) + 1.0
        for k, x in enumerate((ze, cb)):
            g.check_grad(k, out[k], loss, x, mistakes=QUANT_BWD_MISTAKES, inputs=inputs,
                         f_scale=scale)
    return g.result(raise_on_fail, "dz_e and dcodebook match the straight-through gradient")


def quantizer_backward(dz_q: np.ndarray, z_e: np.ndarray, codebook: np.ndarray,
                       beta: float) -> tuple[np.ndarray, np.ndarray]:
    """The solution: the library's VectorQuantizer with this codebook, forward then backward."""
    quantizer = library(f"{_VQ}:VectorQuantizer")(codebook.shape[0], codebook.shape[1],
                                                  beta=beta)
    quantizer.params["codebook"][...] = codebook
    quantizer.zero_grad()
    quantizer.forward(z_e)
    dz_e = quantizer.backward(dz_q)
    return dz_e, quantizer.grads["codebook"].copy()


EXERCISES = [
    Exercise("quantizer_backward", LESSON, QUANT_BWD_SIG, check_quantizer_backward,
             quantizer_backward, (f"{_VQ}:VectorQuantizer.forward",
                                  f"{_VQ}:VectorQuantizer.backward"),
             "SOLUTIONS['quantizer_backward'] builds minivae.nn.quantizer.VectorQuantizer with "
             "your codebook and runs its forward and backward (printed below); dcodebook is "
             "its grads['codebook']."),
]
