"""Gradient checks of the MLP models (Autoencoder, VAE with every likelihood, beta, free bits,
IWAE, masks; CVAE), through ``model.loss`` / ``model.backward``.

Every check builds a small float64 model at a random shape from the rng it is given; networks use
tanh so no ReLU kink can spoil a finite difference (tolerance 1e-7).
"""

from __future__ import annotations

import numpy as np

from minivae.gradcheck.checks._common import set_free_bits_in_widest_gap
from minivae.gradcheck.model_check import check_model
from minivae.gradcheck.registry import register_check
from minivae.models import CVAE, VAE, Autoencoder


def gradcheck_case(rng, kind: str):
    """(model, batch, loss_kwargs) for one named configuration (imports kept local: numpy only
    is needed to import minivae.models)."""

    D, H, L, N = (int(rng.integers(lo, hi + 1)) for lo, hi in ((2, 5), (2, 5), (2, 4), (2, 4)))
    common = {"activation": "tanh", "rng": rng, "dtype": np.float64}
    X01 = rng.random((N, D))
    Xn = rng.standard_normal((N, D))
    kwargs: dict = {}
    if kind.startswith("autoencoder."):
        output = kind.split(".")[1]
        model = Autoencoder(D, [H], L, output=output, **common)
        batch = X01 if output == "bernoulli" else Xn
    elif kind == "vae.bernoulli":
        model, batch = VAE(D, [H], L, **common), X01
    elif kind == "vae.gaussian":
        model, batch = VAE(D, [H], L, likelihood="gaussian", **common), Xn
    elif kind == "vae.gaussian_fixed_variance":
        model = VAE(D, [H], L, likelihood="gaussian", decoder_variance=0.5, **common)
        batch = Xn
    elif kind == "vae.beta":
        model, batch = VAE(D, [H], L, beta=float(rng.uniform(0.2, 4.0)), **common), X01
    elif kind == "vae.free_bits":
        L = max(L, 3)
        model, batch = VAE(D, [H], L, **common), X01
        set_free_bits_in_widest_gap(model, model.kl_per_dimension(batch))
    elif kind == "vae.iwae":
        model = VAE(D, [H], L, objective="iwae", k=int(rng.integers(2, 6)), **common)
        batch = X01
    elif kind == "vae.iwae_gaussian_beta":
        model = VAE(D, [H], L, objective="iwae", k=3, likelihood="gaussian", beta=0.5, **common)
        batch = Xn
    elif kind == "vae.masked":
        model = VAE(D + 1, [H], L, likelihood="gaussian", **common)
        X = rng.standard_normal((N, D + 1))
        mask = rng.random(X.shape) < 0.7
        batch, kwargs = np.where(mask, X, np.nan), {"mask": mask}
    elif kind in ("cvae", "cvae.iwae"):
        C = int(rng.integers(2, 4))
        objective = "iwae" if kind == "cvae.iwae" else "elbo"
        model = CVAE(D, C, [H], L, objective=objective, k=3, **common)
        batch = (X01, rng.integers(0, C, N))
    else:  # pragma: no cover - names come from GRADCHECK_KINDS
        raise ValueError(kind)
    for name, p, _ in model.parameters():  # biases start at 0: cover the general case
        if name.endswith(".b"):
            p[...] = 0.1 * rng.standard_normal(p.shape)
    return model, batch, kwargs


GRADCHECK_KINDS = (
    "autoencoder.bernoulli", "autoencoder.gaussian", "autoencoder.mse",
    "vae.bernoulli", "vae.gaussian", "vae.gaussian_fixed_variance", "vae.beta", "vae.free_bits",
    "vae.iwae", "vae.iwae_gaussian_beta", "vae.masked", "cvae", "cvae.iwae",
)



def make(kind: str):
    def check(rng):
        model, batch, kwargs = gradcheck_case(rng, kind)
        return check_model(model, batch, rng=rng, loss_kwargs=kwargs)

    return check

for kind in GRADCHECK_KINDS:
    register_check(f"models.{kind}", make(kind))
