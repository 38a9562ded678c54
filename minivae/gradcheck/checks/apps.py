"""Gradient checks of the applications' models: the source-separation VAE (both likelihoods)
and the pointwise volatility-surface VAE (with and without a mask)."""

from __future__ import annotations

import numpy as np

from minivae.apps.separation import LIKELIHOODS, SourceVAE
from minivae.apps.volatility import PointwiseVAE
from minivae.gradcheck.model_check import check_model
from minivae.gradcheck.registry import register_check


def _check_source_vae(rng: np.random.Generator) -> list:
    """Finite-difference check of :class:`SourceVAE` (both likelihoods) through its loss."""
    results = []
    for likelihood in LIKELIHOODS:
        vae = SourceVAE(5, [6], 3, output_dim=4, likelihood=likelihood, decoder_variance=0.5,
                        activation="tanh", beta=1.5, rng=rng)
        X, Y = rng.uniform(size=(4, 5)), rng.uniform(size=(4, 4))
        for res in check_model(vae, (X, Y), rng=rng):
            res.name = f"{likelihood}:{res.name}"
            results.append(res)
    return results


register_check("separation.source_vae", _check_source_vae)


def _check_pointwise_vae(rng: np.random.Generator) -> list:
    """Finite-difference check of :class:`PointwiseVAE`, with and without an observation mask."""
    coords = rng.uniform(-1.0, 1.0, size=(6, 2))
    model = PointwiseVAE(coords, [5], 3, decoder_hidden=[4], beta=2.0, decoder_variance=0.5,
                         activation="tanh", rng=rng)
    X = rng.standard_normal((3, 6))
    mask = rng.random((3, 6)) < 0.6
    results = check_model(model, X, rng=rng)
    for res in check_model(model, np.where(mask, X, np.nan), rng=rng,
                           loss_kwargs={"mask": mask}):
        res.name = f"masked:{res.name}"
        results.append(res)
    return results


register_check("volatility.pointwise_vae", _check_pointwise_vae)
