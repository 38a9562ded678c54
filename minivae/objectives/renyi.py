"""The variational Renyi bound VR-alpha and VR-max (Li & Turner, 2016) as a loss.

With k reparameterized samples z_i ~ q(z | x) and log weights
``log w_i = log p(x | z_i) + beta * (log p(z_i) - log q(z_i | x))`` (as for IWAE,
:func:`~minivae.objectives.iwae.iwae_log_weights`), the k-sample Renyi bound of one example is

    L_alpha = 1 / (1 - alpha) * log (1/k) sum_i w_i^(1 - alpha).

* alpha = 0: the IWAE bound L_k (exactly);
* alpha -> 1: the k-sample ELBO estimate (1/k) sum_i log w_i; near 1,
  L_alpha = mean log w + (1 - alpha) / 2 * var(log w) + O((1 - alpha)^2);
* alpha -> -inf: VR-max, log max_i w_i (the largest weight only).

Its gradient is  sum_i w~_i^(alpha) * grad(log w_i)  with the alpha-normalized weights
``w~^(alpha) = softmax_i((1 - alpha) log w_i)`` (uniform at alpha = 1, one-hot on the largest
weight for VR-max), each grad(log w_i) through the reparameterized z_i: the IWAE gradient with
other weights, so :func:`~minivae.objectives.iwae.negative_iwae_backward` carries it back.
"""

from __future__ import annotations

import numpy as np

from minivae._validation import check_array, check_scalar
from minivae.nn.functional import log_mean_exp, logsumexp
from minivae.objectives.distributions import DiagonalGaussian
from minivae.objectives.iwae import iwae_log_weights


def _check_alpha(alpha: float) -> float:
    """A finite alpha, or -inf for VR-max."""
    if isinstance(alpha, (int, float, np.floating)) and not isinstance(alpha, bool) \
            and float(alpha) == -np.inf:
        return -np.inf
    return check_scalar(alpha, "alpha")


def renyi_bound(log_w: np.ndarray, alpha: float) -> np.ndarray:
    """L_alpha per example, (N,), from log weights (k, N) (module docstring; alpha = -inf is
    VR-max, alpha = 1 the average of log w)."""
    log_w = check_array(log_w, "log_w", ndim=2)
    alpha = _check_alpha(alpha)
    if alpha == 1.0:
        return log_w.mean(axis=0)
    if alpha == -np.inf:
        return log_w.max(axis=0)
    return log_mean_exp((1.0 - alpha) * log_w, axis=0) / (1.0 - alpha)


def renyi_weights(log_w: np.ndarray, alpha: float) -> np.ndarray:
    """w~^(alpha) (k, N): d L_alpha / d log w_i, each column summing to 1."""
    log_w = check_array(log_w, "log_w", ndim=2)
    alpha = _check_alpha(alpha)
    if alpha == -np.inf:  # VR-max: all the weight on the largest log w (the first, on ties)
        w = np.zeros_like(log_w)
        w[np.argmax(log_w, axis=0), np.arange(log_w.shape[1])] = 1.0
        return w
    scaled = (1.0 - alpha) * log_w
    return np.exp(scaled - logsumexp(scaled, axis=0, keepdims=True))


def negative_vr(
    rec: np.ndarray, z: np.ndarray, q: DiagonalGaussian, alpha: float, beta: float = 1.0
) -> tuple[float, dict[str, float], np.ndarray]:
    """The loss of a batch: ``-mean_n L_alpha[n]``.

    Args:
        rec: (k, N) -log p(x_n | z_in);  z: (k, N, L);  q: posterior (N, L);
        alpha: the Renyi order (0: IWAE; 0.5: the paper's VR-0.5; -inf: VR-max);
        beta: the weight of log p(z) - log q(z | x), as in IWAE.

    Returns:
        value; parts "loss", "reconstruction", "kl", "elbo" (closed-form KL) and "vr_bound"
        (the batch-mean L_alpha); g (k, N) = w~^(alpha) / N, the weight of each sample's gradient
        (:func:`~minivae.objectives.iwae.negative_iwae_backward` takes it).
    """
    log_w = iwae_log_weights(rec, z, q, beta)  # checks rec (k, N), z (k, N, L), q, beta
    n = log_w.shape[1]
    bound = renyi_bound(log_w, alpha)
    value = float(-bound.mean())
    g = (renyi_weights(log_w, alpha) / n).astype(q.mu.dtype, copy=False)
    rec_mean = float(rec.mean())
    kl_mean = float(q.kl_standard_normal().mean())
    parts = {"loss": value, "reconstruction": rec_mean, "kl": kl_mean,
             "elbo": -(rec_mean + kl_mean), "vr_bound": float(bound.mean())}
    return value, parts, g
