"""Gradient checks of the PixelVAE pieces: the row-LSTM decoder (w.r.t. z and every parameter,
teacher forcing on a fixed binary image), the delta-VAE KL to the AR(1) prior (its chain-rule
terms weighted by a scalar or per term, as free bits weight them), its ELBO backward, and the
whole model (plain, free bits, delta, delta with free bits).

All smooth (LSTM gates, exp, squares): tolerance 1e-7 in float64.  Free bits are put in the
widest gap between the dimensions' KLs, away from the max's kink; the encoder's ReLU inputs are
not steered away from 0, but a finite difference of h = 1e-6 crosses a kink only when an input
is within 1e-6 of it, which random weights and data make a ~1e-5 event per check.
"""

from __future__ import annotations

import numpy as np

from minivae.gradcheck.checkers import check_function
from minivae.gradcheck.checks._common import (
    randomise_biases,
    renamed,
    set_free_bits_in_widest_gap,
    size,
)
from minivae.gradcheck.layer_check import check_layer
from minivae.gradcheck.model_check import check_model
from minivae.gradcheck.registry import register_check
from minivae.gradcheck.result import GradCheckResult
from minivae.models.pixel_vae import PixelVAE
from minivae.nn.row_lstm_decoder import Z_INPUTS, RowLSTMDecoder
from minivae.objectives.delta_vae import delta_elbo_backward, delta_kl, delta_kl_grad
from minivae.objectives.distributions import DiagonalGaussian


def _image(rng: np.random.Generator, N: int, R: int, C: int) -> np.ndarray:
    return (rng.random((N, R, C)) < 0.5).astype(np.float64)


@register_check("pixel_vae.row_lstm_decoder")
def _check_decoder(rng: np.random.Generator) -> list[GradCheckResult]:
    """logits(z; x) with x a fixed image (teacher forcing): d/dz and every parameter, z read at
    every row and through the initial state."""
    results: list[GradCheckResult] = []
    for z_input in Z_INPUTS:
        N, R, C, L, H = size(rng, 1, 3), size(rng, 2, 4), size(rng, 1, 3), size(rng, 1, 3), \
            size(rng, 2, 4)
        dec = RowLSTMDecoder(L, (R, C), H, z_input=z_input, rng=rng)
        randomise_biases(dec, rng)
        x = _image(rng, N, R, C)
        results += renamed(check_layer(dec, {"z": rng.standard_normal((N, L))},
                                       forward_fn=lambda z, dec=dec, x=x: dec.forward(z, x)),
                           f"(z_input={z_input})")
    return results


def _posterior_params(rng: np.random.Generator) -> dict[str, np.ndarray]:
    N, L = size(rng, 1, 4), size(rng, 1, 6)
    return {"mu": rng.standard_normal((N, L)), "logvar": rng.uniform(-1.5, 1.0, (N, L))}


@register_check("delta_vae.kl")
def _check_kl(rng: np.random.Generator) -> list[GradCheckResult]:
    """sum_{n, i} w_i KL_i(q || N(0, T(alpha))): w = 1 and w random per term."""
    results: list[GradCheckResult] = []
    alpha = float(rng.uniform(0.0, 0.95))
    params = _posterior_params(rng)
    for w in (1.0, rng.uniform(0.0, 2.0, params["mu"].shape[1])):
        res = check_function(
            lambda mu, logvar, w=w: float(np.sum(
                w * delta_kl(DiagonalGaussian(mu, logvar), alpha, per_dimension=True))),
            params,
            lambda mu, logvar, w=w: delta_kl_grad(DiagonalGaussian(mu, logvar), alpha, w))
        results += res if np.ndim(w) == 0 else renamed(res, "(weights per term)")
    return results


@register_check("delta_vae.elbo_backward")
def _check_elbo_backward(rng: np.random.Generator) -> list[GradCheckResult]:
    """0.5 * sum((z - x)^2) + beta/N * sum KL, z = mu + sigma * eps (eps fixed)."""
    params, alpha = _posterior_params(rng), float(rng.uniform(0.0, 0.95))
    eps, x = rng.standard_normal(params["mu"].shape), rng.standard_normal(params["mu"].shape)
    weight = float(rng.uniform(0.5, 2.0)) / params["mu"].shape[0]

    def f(mu, logvar):
        q = DiagonalGaussian(mu, logvar)
        z = q.rsample(None, eps=eps)
        return 0.5 * float(np.sum((z - x) ** 2)) + weight * float(np.sum(delta_kl(q, alpha)))

    def grad(mu, logvar):
        q = DiagonalGaussian(mu, logvar)
        z = q.rsample(None, eps=eps)
        return delta_elbo_backward(q, alpha, z - x, weight)

    return check_function(f, params, grad)


def _model_check(rng: np.random.Generator, delta: float | None,
                 free_bits: bool, z_input: str = "every_row") -> list[GradCheckResult]:
    N, R, C, H = size(rng, 2, 3), size(rng, 2, 4), size(rng, 2, 3), size(rng, 2, 4)
    L = size(rng, 2, 3) if not free_bits else 3
    model = PixelVAE((R, C), H, L, delta=delta, z_input=z_input, rng=rng)
    randomise_biases(model, rng)
    X = _image(rng, N, R, C)
    if free_bits:
        set_free_bits_in_widest_gap(model, model.kl_per_dimension(X))
    return check_model(model, X, rng=rng)


@register_check("pixel_vae.model")
def _check_model(rng: np.random.Generator) -> list[GradCheckResult]:
    return _model_check(rng, None, False)


@register_check("pixel_vae.model.initial_state")
def _check_model_initial(rng: np.random.Generator) -> list[GradCheckResult]:
    return _model_check(rng, float(rng.uniform(0.2, 2.0)), False, "initial")


@register_check("pixel_vae.model.free_bits")
def _check_model_free_bits(rng: np.random.Generator) -> list[GradCheckResult]:
    return _model_check(rng, None, True)


@register_check("pixel_vae.model.delta")
def _check_model_delta(rng: np.random.Generator) -> list[GradCheckResult]:
    return _model_check(rng, float(rng.uniform(0.2, 2.0)), False)


@register_check("pixel_vae.model.delta_free_bits")
def _check_model_delta_free_bits(rng: np.random.Generator) -> list[GradCheckResult]:
    return _model_check(rng, float(rng.uniform(0.2, 2.0)), True)
