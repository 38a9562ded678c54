"""Gradient checks of the variational objectives beyond the ELBO and IWAE: the MMD (both
kernels, biased and unbiased), InfoVAE, WAE-MMD, VR-alpha / VR-max, and the STL and DReG
estimators; then the same objectives through the VAE's ``loss`` / ``backward``.

Objective-level checks use a toy linear-Gaussian decoder, rec_i = 0.5 ||A z_i - x||^2, whose
gradient is known, and differentiate w.r.t. the encoder's (mu, logvar) with the noise fixed.

STL and DReG are *estimators*, not gradients of the loss they are used with: each is the exact
gradient of a surrogate in which some quantities are held constant (the "stop-gradient" of the
papers), and that surrogate is what the finite differences see:

* STL (ELBO and IWAE): log q(z | x) evaluated with the base point's (mu0, logvar0), only z moves;
* DReG: additionally the per-sample weights (1 - beta) w~_i + beta w~_i^2 at the base point.

Through the VAE (``vae_objective.*``) the decoder's gradients of STL / DReG are the ordinary ones
(checked against the loss), and the encoder's are covered by the surrogate checks.  All smooth:
tolerance 1e-7.
"""

from __future__ import annotations

import numpy as np

from minivae.gradcheck.checkers import check_function
from minivae.gradcheck.checks._common import path_surrogate, renamed, size
from minivae.gradcheck.model_check import check_model
from minivae.gradcheck.registry import register_check
from minivae.gradcheck.result import GradCheckResult
from minivae.information import mmd
from minivae.models import VAE
from minivae.objectives.distributions import DiagonalGaussian
from minivae.objectives.elbo import negative_elbo_backward
from minivae.objectives.infovae import negative_infovae
from minivae.objectives.iwae import iwae_log_weights, negative_iwae, negative_iwae_backward
from minivae.objectives.path_gradients import (
    dreg_backward,
    dreg_weights,
    negative_elbo_stl,
    stl_backward,
)
from minivae.objectives.renyi import negative_vr
from minivae.objectives.wae import negative_wae


# ------------------------------------------------------------------------------------ MMD
def _mmd_check(kernel: str):
    def check(rng: np.random.Generator) -> list[GradCheckResult]:
        results: list[GradCheckResult] = []
        L = size(rng, 1, 3)
        x, y = rng.standard_normal((size(rng, 2, 5), L)), rng.standard_normal((size(rng, 2, 5), L))
        bw = float(rng.uniform(0.5, 2.0))
        for unbiased in (False, True):
            def f(x, y, unbiased=unbiased):
                return mmd.mmd(x, y, kernel, bw, unbiased=unbiased)

            def grad(x, y, unbiased=unbiased):
                return mmd.mmd_grad(x, y, kernel, bw, unbiased=unbiased)

            # MMD^2 is a difference of kernel means that nearly cancel: noise floor of the terms.
            scale = 3.0 * float(mmd.kernel_matrix(x, y, kernel, bw).max())
            res = check_function(f, {"x": x, "y": y}, grad, f_scale=scale)
            results += renamed(res, "[unbiased]" if unbiased else "[biased]")
        return results

    return check


for _kernel in mmd.KERNELS:
    register_check(f"mmd.{_kernel}", _mmd_check(_kernel))


# --------------------------------------------------------------- a toy decoder and a batch
def _toy(rng: np.random.Generator, k: int | None):
    """Encoder output (mu, logvar) (N, L), fixed noise, and the toy decoder (A, x)."""
    N, L, D = size(rng, 2, 4), size(rng, 1, 3), size(rng, 1, 3)
    shape = (N, L) if k is None else (k, N, L)
    return {"mu": 0.5 * rng.standard_normal((N, L)), "logvar": 0.3 * rng.standard_normal((N, L)),
            "eps": rng.standard_normal(shape), "A": rng.standard_normal((L, D)),
            "x": rng.standard_normal((N, D))}


def _decode(z: np.ndarray, t: dict) -> tuple[np.ndarray, np.ndarray]:
    """rec = 0.5 ||z A - x||^2 per sample (..., N) and d rec / d z (..., N, L)."""
    r = z @ t["A"] - t["x"]
    return 0.5 * np.sum(r**2, axis=-1), r @ t["A"].T


def _posterior(mu, logvar, t):
    q = DiagonalGaussian(mu, logvar)
    return q, q.rsample(None, n_samples=None if t["eps"].ndim == 2 else t["eps"].shape[0],
                        eps=t["eps"])


def _split(dh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    L = dh.shape[1] // 2
    return dh[:, :L], dh[:, L:]


# ----------------------------------------------------------- k-sample objectives (true grads)
def _sampled_check(kind: str):
    """VR-alpha (random alpha), VR-max: value and gradient of the loss itself."""
    def check(rng: np.random.Generator) -> list[GradCheckResult]:
        t = _toy(rng, size(rng, 2, 4))
        beta = float(rng.uniform(0.5, 1.5))
        alpha = -np.inf if kind == "vr_max" else float(rng.uniform(-1.0, 0.9))

        def f(mu, logvar):
            q, z = _posterior(mu, logvar, t)
            return negative_vr(_decode(z, t)[0], z, q, alpha, beta)[0]

        def grad(mu, logvar):
            q, z = _posterior(mu, logvar, t)
            rec, drec = _decode(z, t)
            _, _, g = negative_vr(rec, z, q, alpha, beta)
            inside = np.ones_like(mu, dtype=bool)
            return _split(negative_iwae_backward(q, inside, z, g[..., None] * drec, g, beta))

        return check_function(f, {"mu": t["mu"], "logvar": t["logvar"]}, grad)

    return check


register_check("objective.vr", _sampled_check("vr"))
register_check("objective.vr_max", _sampled_check("vr_max"))


# ---------------------------------------------------------------- STL and DReG (surrogates)
def _path_check(kind: str):
    """The estimator equals the gradient of its surrogate (module docstring)."""
    def check(rng: np.random.Generator) -> list[GradCheckResult]:
        t = _toy(rng, size(rng, 1, 4) if kind == "elbo_stl" else size(rng, 2, 4))
        beta = 1.0 if rng.integers(2) else float(rng.uniform(0.5, 1.5))
        q0 = DiagonalGaussian(t["mu"].copy(), t["logvar"].copy())
        loss = negative_elbo_stl if kind == "elbo_stl" else negative_iwae
        base_q, base_z = _posterior(t["mu"], t["logvar"], t)
        g0 = loss(_decode(base_z, t)[0], base_z, base_q, beta)[2]
        weight0 = g0 * dreg_weights(g0, beta)  # DReG's per-sample weights, held constant

        def f(mu, logvar):  # log q with the base point's parameters: only z moves
            _, z = _posterior(mu, logvar, t)
            log_w = iwae_log_weights(_decode(z, t)[0], z, q0, beta)
            return path_surrogate(kind, log_w, weight0)

        def grad(mu, logvar):
            q, z = _posterior(mu, logvar, t)
            rec, drec = _decode(z, t)
            _, _, g = loss(rec, z, q, beta)
            backward = dreg_backward if kind == "iwae_dreg" else stl_backward
            inside = np.ones_like(mu, dtype=bool)
            return _split(backward(q, inside, z, g[..., None] * drec, g, beta))

        return check_function(f, {"mu": t["mu"], "logvar": t["logvar"]}, grad)

    return check


for _kind in ("elbo_stl", "iwae_stl", "iwae_dreg"):
    register_check(f"objective.{_kind}", _path_check(_kind))


# ------------------------------------------------------------------------- InfoVAE, WAE
def _mmd_objective_check(kind: str):
    def check(rng: np.random.Generator) -> list[GradCheckResult]:
        t = _toy(rng, None)
        prior_z = rng.standard_normal(t["eps"].shape)
        kernel = str(rng.choice(mmd.KERNELS))
        bw = mmd.default_bandwidth(kernel, t["mu"].shape[1])
        alpha, lam = float(rng.uniform(0.0, 1.0)), float(rng.uniform(1.0, 20.0))

        def run(mu, logvar):
            q, z = _posterior(mu, logvar, t)
            rec, drec = _decode(z, t)
            if kind == "wae":
                value, _, dz = negative_wae(rec, q, z, prior_z, lambda_=lam, kernel=kernel,
                                            bandwidth=bw)
                dkl = 0.0
            else:
                value, _, dkl, dz = negative_infovae(rec, q, z, prior_z, alpha=alpha,
                                                     lambda_=lam, beta=1.0, kernel=kernel,
                                                     bandwidth=bw)
            return value, q, drec / mu.shape[0] + dz, dkl

        def grad(mu, logvar):
            _, q, dz, dkl = run(mu, logvar)
            return _split(negative_elbo_backward(q, np.ones_like(mu, dtype=bool), dz, dkl))

        return check_function(lambda mu, logvar: run(mu, logvar)[0],
                              {"mu": t["mu"], "logvar": t["logvar"]}, grad)

    return check


register_check("objective.infovae", _mmd_objective_check("infovae"))
register_check("objective.wae", _mmd_objective_check("wae"))


# ------------------------------------------------------------------------ through the VAE
def _model_check(objective: str, **options):
    """A tanh VAE trained with ``objective``; STL / DReG: decoder parameters only (their encoder
    gradient is an estimator, checked above against its surrogate)."""
    def check(rng: np.random.Generator) -> list[GradCheckResult]:
        D, H, L, N = (int(rng.integers(lo, hi + 1)) for lo, hi in ((2, 5), (2, 5), (2, 3), (2, 4)))
        model = VAE(D, [H], L, objective=objective, k=3, activation="tanh", rng=rng, **options)
        for name, p, _ in model.parameters():
            if name.endswith(".b"):
                p[...] = 0.1 * rng.standard_normal(p.shape)
        params = None
        if objective in ("elbo_stl", "iwae_stl", "iwae_dreg"):
            params = [name for name, _, _ in model.parameters() if name.startswith("decoder.")]
        return check_model(model, rng.random((N, D)), rng=rng, params=params)

    return check


for _name, _objective, _options in (
    ("vr", "vr", {"alpha": 0.5}), ("vr_max", "vr_max", {}), ("infovae", "infovae", {}),
    ("mmd_vae", "infovae", {"alpha": 1.0, "mmd_lambda": 10.0, "kernel": "imq"}),
    ("wae", "wae", {}), ("elbo_stl", "elbo_stl", {}), ("iwae_stl", "iwae_stl", {}),
    ("iwae_dreg", "iwae_dreg", {}),
):
    register_check(f"vae_objective.{_name}", _model_check(_objective, **_options))
