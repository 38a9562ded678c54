"""Gradient checks of the VAE's posterior families (:mod:`minivae.objectives.posteriors`):
the whole :class:`~minivae.models.VAE` through ``loss`` / ``backward`` with each non-default
``posterior=`` (the default "gaussian" is checked in :mod:`.models`).

Networks use tanh (no ReLU kink), the noise is replayed from ``model.last_eps``: every function
is smooth, tolerance 1e-7 in float64.  Biases start random so the encoder's outputs (rho_raw
among them) are general; they stay far inside the rho clip and the log-variance clamp.
"""

from __future__ import annotations

import numpy as np

from minivae.gradcheck.model_check import check_model
from minivae.gradcheck.registry import register_check
from minivae.models import VAE


def posterior_case(rng: np.random.Generator, posterior: str, likelihood: str = "bernoulli"):
    """(model, batch) of a small float64 VAE with ``posterior`` (L >= 2 so rho has a role)."""
    D, H, L, N = (int(rng.integers(lo, hi + 1)) for lo, hi in ((2, 5), (2, 5), (2, 4), (2, 4)))
    model = VAE(D, [H], L, likelihood=likelihood, beta=float(rng.uniform(0.5, 2.0)),
                activation="tanh", posterior=posterior, rng=rng, dtype=np.float64)
    for name, p, _ in model.parameters():
        if name.endswith(".b"):
            p[...] = 0.1 * rng.standard_normal(p.shape)
    batch = rng.random((N, D)) if likelihood == "bernoulli" else rng.standard_normal((N, D))
    return model, batch


def _make(posterior: str, likelihood: str):
    def check(rng: np.random.Generator):
        model, batch = posterior_case(rng, posterior, likelihood)
        return check_model(model, batch, rng=rng)

    return check


for _post in ("rho",):
    for _lik in ("bernoulli", "gaussian"):
        register_check(f"posteriors.vae.{_post}.{_lik}", _make(_post, _lik))
