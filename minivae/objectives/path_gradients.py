"""Path-derivative gradient estimators: STL (Roeder, Wu & Duvenaud, 2017) for the ELBO and the
IWAE bound, and DReG (Tucker, Lawson, Gu & Maddison, 2019) for the IWAE bound.

With reparameterized samples z_i = mu + sigma * eps_i, the log weight
``log w_i = log p(x | z_i) + beta * (log p(z_i) - log q(z_i | x))`` depends on the encoder's
(mu, logvar) twice: *through* z_i (the path derivative) and *directly* through the density
log q(z; mu, logvar) (the score function, d log q / d(mu, logvar) at fixed z).  The score term
has expectation zero under q, yet it is noise in every sample.

* **STL** ("sticking the landing") drops the score term: every log q is taken with mu, logvar
  held fixed, its gradient flows only through z.  For the ELBO this is unbiased (the dropped
  term has mean zero), and when q equals the true posterior log w_i is constant in z, so every
  sample's gradient is exactly zero (zero variance at the optimum).  For the IWAE bound the
  score term is weighted by the normalized weights w~_i, which depend on z_i, so its mean is NOT
  zero: STL-IWAE is biased (Tucker et al., 2019, section 3).
* **DReG** ("doubly reparameterized") rewrites that score term by a second reparameterization,
  E[w~_i d log q / d phi] = E[d w~_i / d z_i  d z_i / d phi], which gives the unbiased encoder
  gradient  sum_i ((1 - beta) w~_i + beta w~_i^2) * (path derivative of log w_i)  (beta = 1:
  the paper's w~_i^2).  The decoder's gradient is the ordinary IWAE one.

Functions (shapes: k samples, N examples, L latent dimensions; the loss is the batch mean):

* :func:`negative_elbo_stl`: per-sample reconstruction NLL (k, N) -> the Monte Carlo -ELBO
  averaged over the k samples, its parts, and the weight 1 / (kN) of every sample;
* :func:`stl_backward`: the decoder's gradient dz (k, N, L) -> d loss / d h (N, 2L), score
  term dropped (both STL estimators: pass the weights g of the loss used);
* :func:`dreg_backward`: the same for DReG, from the IWAE weights g = w~ / N.
"""

from __future__ import annotations

import numpy as np

from minivae._validation import check_array, check_same_shape, check_scalar
from minivae.objectives.distributions import DiagonalGaussian
from minivae.objectives.iwae import iwae_log_weights


def negative_elbo_stl(
    rec: np.ndarray, z: np.ndarray, q: DiagonalGaussian, beta: float
) -> tuple[float, dict[str, float], np.ndarray]:
    """The k-sample Monte Carlo -ELBO ``mean_{i,n} -log w_i[n]`` (KL estimated by the samples,
    not in closed form: STL needs log q(z | x) as a function of z).

    Args: rec (k, N) -log p(x | z_i);  z (k, N, L);  q: posterior (N, L);  beta: KL weight.
    Returns: value; parts "loss", "reconstruction", "kl" and "elbo" (closed-form KL, for
    reporting); g (k, N) = 1 / (kN), the weight of each sample's gradient.
    """
    k, n = rec.shape
    log_w = iwae_log_weights(rec, z, q, beta)
    value = float(-log_w.mean())
    rec_mean = float(rec.mean())
    kl_mean = float(q.kl_standard_normal().mean())
    parts = {"loss": value, "reconstruction": rec_mean, "kl": kl_mean,
             "elbo": -(rec_mean + kl_mean)}
    return value, parts, np.full((k, n), 1.0 / (k * n), dtype=q.mu.dtype)


def stl_backward(q: DiagonalGaussian, inside: np.ndarray, z: np.ndarray, dz: np.ndarray,
                 g: np.ndarray, beta: float) -> np.ndarray:
    """d loss / d h (N, 2L) of ``sum_{i,n} g[i, n] * (-log w_i[n])`` with log q's parameters
    held fixed: the path derivative only.

    dz: (k, N, L) the decoder's gradient d loss / d z_i (reconstruction terms, weighted by g);
    g: (k, N) the weights of the loss (1/(kN) for the ELBO, w~ / N for IWAE).  The density
    terms add  g_i * beta * d(log q(z_i) - log p(z_i)) / d z_i
    = g_i * beta * (z_i - (z_i - mu) / var)  (log q's mu and var constants).
    """
    inside, z, dz, g, beta = _check_backward_args(q, inside, z, dz, g, beta)
    dz_density = beta * g[..., None] * (z - (z - q.mu) * np.exp(-q.logvar))
    dmu, dlogvar = q.rsample_backward(dz + dz_density)
    return np.concatenate([dmu, dlogvar * inside], axis=1)


def _check_backward_args(q: object, inside: object, z: object, dz: object, g: object,
                         beta: object) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                                float]:
    """q: a DiagonalGaussian (N, L); inside: (N, L); z, dz: (k, N, L); g: (k, N); beta >= 0."""
    if not isinstance(q, DiagonalGaussian):
        raise TypeError(f"q must be the posterior DiagonalGaussian, got {type(q).__name__}")
    dt = q.mu.dtype
    inside = check_array(inside, "inside", dtype=dt)
    check_same_shape(inside, q.mu, "inside", "q.mu")
    z = check_array(z, "z", ndim=3, dtype=dt)
    if z.shape[1:] != q.mu.shape:
        raise ValueError(f"z must have shape (k, *{q.mu.shape}) to match q, got {z.shape}")
    dz = check_array(dz, "dz", dtype=dt)
    check_same_shape(dz, z, "dz", "z")
    g = check_array(g, "g", shape=z.shape[:2], dtype=dt)
    return inside, z, dz, g, check_scalar(beta, "beta", low=0.0)


def dreg_weights(g: np.ndarray, beta: float) -> np.ndarray:
    """The factor c_i = (1 - beta) + beta * w~_i by which DReG multiplies the IWAE weight
    g_i = w~_i / N of each sample's path derivative (beta = 1: w~_i, so g_i c_i = w~_i^2 / N).
    g: (k, N) from :func:`~minivae.objectives.iwae.negative_iwae`."""
    g = check_array(g, "g", ndim=2)
    beta = check_scalar(beta, "beta", low=0.0)
    w_norm = g * g.shape[1]  # g = w~ / N
    return (1.0 - beta) + beta * w_norm


def dreg_backward(q: DiagonalGaussian, inside: np.ndarray, z: np.ndarray, dz: np.ndarray,
                  g: np.ndarray, beta: float) -> np.ndarray:
    """DReG's encoder gradient d loss / d h (N, 2L) of the IWAE loss.

    dz: (k, N, L) the decoder's gradient (reconstruction terms weighted by g = w~ / N, as the
    decoder's own parameters need them); g: (k, N) from
    :func:`~minivae.objectives.iwae.negative_iwae`.  Each sample's whole path derivative is
    re-weighted from g_i to g_i * c_i (:func:`dreg_weights`), then STL's backward runs.
    """
    c = dreg_weights(g, beta)
    return stl_backward(q, inside, z, dz * c[..., None], g * c, beta)
