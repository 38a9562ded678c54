"""Gradient checks of the learned-conditional-prior CVAE (Sohn et al. 2015) with its baseline,
and of the MMVAE (Shi et al. 2019), through ``model.loss`` / ``model.backward``.

The CVAE's KL between two diagonal Gaussians sends gradients into the recognition *and* the
prior network: both are checked, as is the decoder.  The MMVAE's stratified bound (every
expert's samples scored under the mixture of experts, reconstructing every modality) is checked
with k = 1 (the stratified ELBO) and k > 1 (the stratified IWAE).  Small float64 models with
tanh networks (no ReLU kink): tolerance 1e-7.
"""

from __future__ import annotations

import numpy as np

from minivae.gradcheck.checks._common import randomise_biases, size
from minivae.gradcheck.model_check import check_model
from minivae.gradcheck.registry import register_check
from minivae.models.cvae_prior import ConditionalRegressor, PriorCVAE
from minivae.models.mmvae import MMVAE


def _cvae_case(rng: np.random.Generator, kind: str):
    D, C, H, L, N = size(rng, 2, 5), size(rng, 1, 4), size(rng, 2, 5), size(rng, 1, 3), size(
        rng, 2, 4)
    common = {"activation": "tanh", "rng": rng, "dtype": np.float64}
    c = rng.standard_normal((N, C))
    if kind == "regressor":
        model = ConditionalRegressor(D, C, [H], **common)
    elif kind == "gaussian":
        model = PriorCVAE(D, C, [H], L, likelihood="gaussian", beta=0.7, **common)
    else:
        model = PriorCVAE(D, C, [H], L, prior=kind, prior_hidden=[size(rng, 2, 4)], **common)
    X = rng.standard_normal((N, D)) if kind == "gaussian" else rng.random((N, D))
    randomise_biases(model, rng)
    return model, (X, c)


def _cvae_check(kind: str):
    def check(rng: np.random.Generator):
        model, batch = _cvae_case(rng, kind)
        return check_model(model, batch, rng=rng)

    return check


for _kind in ("learned", "standard", "gaussian", "regressor"):
    register_check(f"conditional.prior_cvae.{_kind}" if _kind != "regressor"
                   else "conditional.regressor", _cvae_check(_kind))


# ------------------------------------------------------------------------------------- MMVAE
def _mmvae_case(rng: np.random.Generator, kind: str):
    """Two modalities (Bernoulli, Gaussian of fixed variance) with k = 1 or 3 samples per
    expert, or three (Bernoulli, fixed and learned-variance Gaussians)."""
    H, L, N = size(rng, 2, 4), size(rng, 1, 3), size(rng, 2, 4)
    dims = [size(rng, 2, 4) for _ in range(3 if kind == "three" else 2)]
    liks = ["bernoulli", "gaussian", "gaussian"][: len(dims)]
    variances = [None, 0.5, None][: len(dims)]
    k = {"elbo": 1, "iwae": 3, "three": 2}[kind]
    model = MMVAE(dims, [H], L, likelihoods=liks, decoder_variances=variances, k=k,
                  activation="tanh", rng=rng, dtype=np.float64)
    randomise_biases(model, rng)
    views = [rng.random((N, dims[0]))] + [rng.standard_normal((N, d)) for d in dims[1:]]
    return model, model.join(*views)


def _mmvae_check(kind: str):
    def check(rng: np.random.Generator):
        model, batch = _mmvae_case(rng, kind)
        return check_model(model, batch, rng=rng)

    return check


for _kind in ("elbo", "iwae", "three"):
    register_check(f"multimodal.mmvae.{_kind}", _mmvae_check(_kind))
