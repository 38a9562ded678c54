"""Gradient checks of the VAE's posterior families (:mod:`minivae.objectives.posteriors`):
the whole :class:`~minivae.models.VAE` through ``loss`` / ``backward`` with each non-default
``posterior=`` (the default "gaussian" is checked in :mod:`.models`); the IAF's parts: the
masked dense layer, MADE (two inputs, two heads), and the flow posterior from an encoder's
output h with eps fixed (:mod:`minivae.objectives.iaf`).

Networks use tanh (no ReLU kink), the noise is replayed from ``model.last_eps``: every function
is smooth, tolerance 1e-7 in float64.  Biases start random so the encoder's outputs (rho_raw
among them) are general; they stay far inside the rho clip and the log-variance clamp.
"""

from __future__ import annotations

import numpy as np

from minivae.gradcheck.checkers import check_function
from minivae.gradcheck.layer_check import check_layer
from minivae.gradcheck.model_check import check_model
from minivae.gradcheck.registry import register_check
from minivae.models import VAE
from minivae.nn.masked_dense import MADE, MaskedDense, made_masks, made_order
from minivae.objectives.iaf import IAFFamily


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


for _post in ("rho", "iaf"):
    for _lik in ("bernoulli", "gaussian"):
        register_check(f"posteriors.vae.{_post}.{_lik}", _make(_post, _lik))


def _size(rng: np.random.Generator, lo: int, hi: int) -> int:
    return int(rng.integers(lo, hi + 1))


@register_check("masked_dense")
def _check_masked_dense(rng: np.random.Generator):
    """y = x @ (W * M) + b with a MADE mask; masked entries get exactly zero gradient."""
    L, H, N = _size(rng, 2, 5), _size(rng, 2, 6), _size(rng, 1, 4)
    m_in, _ = made_masks(made_order(L, int(rng.integers(100))), H)
    layer = MaskedDense(m_in, rng=rng)
    layer.params["b"][...] = 0.1 * rng.standard_normal(H)
    return check_layer(layer, rng.standard_normal((N, L)), rng=rng)


@register_check("made")
def _check_made(rng: np.random.Generator):
    """MADE: (z, context) -> (m, s), both inputs and every parameter (tanh: smooth)."""
    L, H, N = _size(rng, 1, 5), _size(rng, 2, 8), _size(rng, 1, 4)
    C = _size(rng, 1, 3)
    made = MADE(made_order(L, int(rng.integers(100))), C, H, rng=rng)
    return check_layer(made, {"z": rng.standard_normal((N, L)),
                              "c": rng.standard_normal((N, C))}, rng=rng)


@register_check("iaf.posterior")
def _check_iaf(rng: np.random.Generator):
    """d/dh and d/d(MADE params) of 0.5 sum((z_K - x)^2) / N + dkl * sum(log q(z_K) - log p(z_K))
    with eps fixed: the flow, its log-determinant and the Monte Carlo KL estimate together."""
    L, N = _size(rng, 1, 4), _size(rng, 1, 4)
    fam = IAFFamily(L, rng=rng, n_steps=_size(rng, 1, 3), hidden_size=_size(rng, 2, 6))
    for _, p, _ in fam.parameters():
        p[...] += 0.1 * rng.standard_normal(p.shape)  # biases too: a general point
    h = np.concatenate([rng.standard_normal((N, L)), rng.uniform(-1.5, 1.0, (N, L)),
                        rng.standard_normal((N, L))], axis=1)
    eps, x = rng.standard_normal((N, L)), rng.standard_normal((N, L))
    dkl = float(rng.uniform(0.5, 2.0)) / N
    params = {name: p for name, p, _ in fam.parameters()}

    def f(h, **theta):
        for name, value in theta.items():
            params[name][...] = value
        q, _ = fam.make(h)
        z = q.rsample(None, eps=eps)
        return 0.5 * float(np.sum((z - x) ** 2)) / N + dkl * float(np.sum(fam.kl(q)))

    def grad(h, **theta):
        for name, value in theta.items():
            params[name][...] = value
        fam.zero_grad()
        q, inside = fam.make(h)
        z = q.rsample(None, eps=eps)
        dh = fam.backward(q, inside, (z - x) / N, dkl)
        return (dh, *(g.copy() for _, _, g in fam.parameters()))

    inputs = {"h": h, **{name: p.copy() for name, p in params.items()}}
    return check_function(f, inputs, grad)
