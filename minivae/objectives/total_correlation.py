r"""The ELBO's KL term decomposed (beta-TCVAE; Chen, Li, Grosse & Duvenaud, NeurIPS 2018), and
its minibatch-weighted-sampling estimate with hand-written gradients.

With the aggregate posterior q(z) = 1/N_data sum_n q(z | x_n), the average KL splits in three:

    E_x KL(q(z|x) || p(z)) = I_q(x; z)                          index-code mutual information
                           + KL(q(z) || prod_l q(z_l))          total correlation (TC)
                           + sum_l KL(q(z_l) || p(z_l))         dimension-wise KL

and beta-TCVAE minimises  E[-log p(x|z)] + alpha * MI + beta * TC + gamma * DWKL
(alpha = gamma = 1, beta > 1 in the paper: penalise only the dependence between latents).

**Minibatch-weighted sampling (MWS).**  For a batch of M examples with one sample
z_i ~ q(z | x_i) each, out of a dataset of size N_data:

    log q(z_i)      ~ logsumexp_j  log q(z_i | x_j)      - log(N_data M)
    log q(z_il)     ~ logsumexp_j  log q(z_il | x_j)     - log(N_data M)     (each dimension l)

and with log q(z_i | x_i) and log p(z_i) exact, per example

    MI_i = log q(z_i|x_i) - log q(z_i),   TC_i = log q(z_i) - sum_l log q(z_il),
    DWKL_i = sum_l log q(z_il) - log p(z_i),

whose batch means are the estimates (the paper's formula, appendix C.1).  Their sum
MI + TC + DWKL = mean_i [log q(z_i|x_i) - log p(z_i)] is the one-sample KL estimate, whatever
the approximation of q(z).  The estimates are biased: -log(N_data M) enters log q(z) once and
sum_l log q(z_il) L times, so TC carries an offset of about (L - 1) log(N_data M) (and MI, DWKL
offsets that cancel it in the sum); constants do not change the gradient, which is what the
objective needs, but compare TC values only at one batch size and dataset size.

**Gradient.**  Write a_ijl = log N(z_il; mu_jl, exp(logvar_jl)).  The regulariser
R = 1/M sum_i [alpha log q(z_i|x_i) + (beta - alpha) log q(z_i) + (gamma - beta) sum_l
log q(z_il) - gamma log p(z_i)] depends on the a_ijl through weights

    Omega_ijl = 1/M [alpha [i = j] + (beta - alpha) W_ij + (gamma - beta) V_ijl],
    W_ij = softmax_j sum_l a_ijl,   V_ijl = softmax_j a_ijl,

and da/dz_il = -(z_il - mu_jl) / var_jl = -da/dmu_jl, da/dlogvar_jl = -1/2 + (z_il -
mu_jl)^2 / (2 var_jl).  :func:`tc_regulariser` returns dR/dz (the path through the sample,
which the caller sends through z = mu + sigma eps together with the decoder's gradient) and the
direct dR/dmu, dR/dlogvar with z held fixed.
"""

from __future__ import annotations

import numpy as np

from minivae._validation import check_array, check_positive_int, check_scalar
from minivae.nn.functional import logsumexp
from minivae.objectives.distributions import (
    LOG_2PI,
    DiagonalGaussian,
    _log_density,
    check_posterior,
)

__all__ = ["pairwise_log_density", "tc_decomposition", "tc_regulariser"]


def _check(z: object, q: object, dataset_size: object) -> tuple[np.ndarray, DiagonalGaussian, int]:
    q = check_posterior(q)
    if q.mu.ndim != 2:
        raise ValueError(f"q must be a batch posterior with mu (M, L), got mu of shape "
                         f"{q.mu.shape}")
    z = check_array(z, "z", shape=q.mu.shape)
    M = z.shape[0]
    dataset_size = check_positive_int(dataset_size, "dataset_size")
    if dataset_size < M:
        raise ValueError(f"dataset_size must be >= the batch size {M} (the batch is drawn from "
                         f"the dataset), got {dataset_size}")
    return z, q, dataset_size


def pairwise_log_density(z: np.ndarray, q: DiagonalGaussian) -> np.ndarray:
    """a[i, j, l] = log q(z_il | x_j) = log N(z_il; mu_jl, exp(logvar_jl)): (M, M, L) for
    z (M, L) and a batch posterior q with mu, logvar (M, L)."""
    q = check_posterior(q)
    z = check_array(z, "z", shape=q.mu.shape if q.mu.ndim == 2 else (None, None))
    return _log_density(z[:, None, :], q.mu[None, :, :], q.logvar[None, :, :])


def tc_decomposition(z: np.ndarray, q: DiagonalGaussian, dataset_size: int
                     ) -> dict[str, np.ndarray]:
    """The per-example log terms of the MWS estimate (module docstring), each (M,):
    "log_qzx" log q(z_i|x_i), "log_qz" log q(z_i), "log_prod_qzl" sum_l log q(z_il),
    "log_pz" log p(z_i) (standard normal prior), and the batch's terms "mi", "tc", "dwkl"
    (M,) = the differences whose means estimate the three parts of the KL.

    z: (M, L) one sample per example; q: the batch posterior (M, L);
    dataset_size: N_data >= M, the number of examples the batch is drawn from.
    """
    z, q, n_data = _check(z, q, dataset_size)
    return _terms(pairwise_log_density(z, q), z, n_data)


def _terms(a: np.ndarray, z: np.ndarray, n_data: int) -> dict[str, np.ndarray]:
    """:func:`tc_decomposition` from the pairwise log-densities a (M, M, L)."""
    log_nm = np.log(float(n_data) * z.shape[0])
    log_qzx = np.einsum("iil->i", a)
    log_qz = logsumexp(a.sum(axis=2), axis=1) - log_nm
    log_prod = (logsumexp(a, axis=1) - log_nm).sum(axis=1)
    log_pz = -0.5 * np.sum(LOG_2PI + z**2, axis=1)
    return {"log_qzx": log_qzx, "log_qz": log_qz, "log_prod_qzl": log_prod, "log_pz": log_pz,
            "mi": log_qzx - log_qz, "tc": log_qz - log_prod, "dwkl": log_prod - log_pz}


def tc_regulariser(z: np.ndarray, q: DiagonalGaussian, dataset_size: int, alpha: float,
                   beta: float, gamma: float):
    """R = alpha * MI + beta * TC + gamma * DWKL (batch means of the MWS estimates).

    Returns (value, parts, dz, dmu, dlogvar): parts "mi", "tc", "dwkl" (floats); dz (M, L) the
    gradient through the sample; dmu, dlogvar (M, L) the direct gradients with z held fixed.
    """
    z, q, n_data = _check(z, q, dataset_size)
    w = [check_scalar(v, name, low=0.0) for v, name in
         ((alpha, "alpha"), (beta, "beta"), (gamma, "gamma"))]
    a = pairwise_log_density(z, q)
    terms = _terms(a, z, n_data)
    parts = {k: float(terms[k].mean()) for k in ("mi", "tc", "dwkl")}
    value = w[0] * parts["mi"] + w[1] * parts["tc"] + w[2] * parts["dwkl"]
    M = z.shape[0]
    omega = (w[1] - w[0]) * _softmax_j(a.sum(axis=2))[:, :, None] \
        + (w[2] - w[1]) * _softmax_j(a)
    omega[np.arange(M), np.arange(M)] += w[0]
    omega /= M
    inv_var = np.exp(-q.logvar)[None, :, :]
    diff = z[:, None, :] - q.mu[None, :, :]  # (i, j, l): z_il - mu_jl
    g = -diff * inv_var  # d a_ijl / d z_il
    dz = np.sum(omega * g, axis=1) + (w[2] / M) * z  # -gamma log p(z): d/dz = gamma z
    dmu = -np.sum(omega * g, axis=0)
    dlogvar = np.sum(omega * (-0.5 + 0.5 * diff**2 * inv_var), axis=0)
    return value, parts, dz, dmu, dlogvar


def _softmax_j(a: np.ndarray) -> np.ndarray:
    """Softmax over axis 1 (the j of log q(z_i | x_j)), computed stably."""
    return np.exp(a - logsumexp(a, axis=1, keepdims=True))
