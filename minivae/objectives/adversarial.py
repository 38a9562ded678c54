r"""GAN losses from discriminator logits (Goodfellow et al. 2014), with their gradients.

The discriminator D outputs a logit a (D(x) = sigmoid(a) = P(x is real)).  Its loss is the
binary cross-entropy with label 1 on real samples and 0 on fake ones, written with the stable
softplus (log(1 + e^a) without overflow; -log sigmoid(a) = softplus(-a)):

    L_D = mean_i softplus(-a_real_i) + mean_j softplus(a_fake_j)
    dL_D/da_real_i = -sigmoid(-a_real_i) / N_real,   dL_D/da_fake_j = sigmoid(a_fake_j) / N_fake

The generator (here: the encoder of an adversarial autoencoder, whose codes are the "fakes")
wants its samples called real.  The minimax loss -L_D restricted to the fake term saturates
when D rejects the fakes confidently (its gradient sigmoid(a) -> 0 as a -> -inf), so the
**non-saturating** loss of Goodfellow et al. is the default:

    non-saturating:  L_G = mean_j softplus(-a_fake_j)    dL_G/da_j = -sigmoid(-a_j) / N
    minimax:         L_G = -mean_j softplus(a_fake_j)    dL_G/da_j = -sigmoid(a_j) / N

Logits have shape (N,) or (N, 1); the discriminator sees as many real samples as fakes (the
two logit arrays have the same shape), so real and fake weigh equally in L_D.
"""

from __future__ import annotations

import numpy as np

from minivae._validation import check_array, check_same_shape
from minivae.nn.functional import sigmoid, softplus

__all__ = ["GENERATOR_LOSSES", "discriminator_loss", "discriminator_loss_grad",
           "generator_loss", "generator_loss_grad"]

GENERATOR_LOSSES = ("non_saturating", "minimax")


def _logits(a: object, name: str) -> np.ndarray:
    a = check_array(a, name, ndim=(1, 2))
    if a.ndim == 2 and a.shape[1] != 1:
        raise ValueError(f"{name} must have shape (N,) or (N, 1), got {a.shape}")
    if a.dtype.kind != "f":
        a = a.astype(np.float64)
    return a


def _kind(kind: object) -> str:
    if kind not in GENERATOR_LOSSES:
        raise ValueError(f"kind must be one of {GENERATOR_LOSSES}, got {kind!r}")
    return str(kind)


def _pair(real_logits: object, fake_logits: object) -> tuple[np.ndarray, np.ndarray]:
    real, fake = _logits(real_logits, "real_logits"), _logits(fake_logits, "fake_logits")
    check_same_shape(real, fake, "real_logits", "fake_logits")
    return real, fake


def discriminator_loss(real_logits: np.ndarray, fake_logits: np.ndarray) -> float:
    """L_D = mean softplus(-a_real) + mean softplus(a_fake) (BCE: real = 1, fake = 0)."""
    real, fake = _pair(real_logits, fake_logits)
    return float(np.mean(softplus(-real)) + np.mean(softplus(fake)))


def discriminator_loss_grad(real_logits: np.ndarray, fake_logits: np.ndarray
                            ) -> tuple[np.ndarray, np.ndarray]:
    """(dL_D/da_real, dL_D/da_fake), each the shape of its logits."""
    real, fake = _pair(real_logits, fake_logits)
    return -sigmoid(-real) / real.shape[0], sigmoid(fake) / fake.shape[0]


def generator_loss(fake_logits: np.ndarray, kind: str = "non_saturating") -> float:
    """L_G: mean softplus(-a) (non-saturating) or -mean softplus(a) (minimax)."""
    fake = _logits(fake_logits, "fake_logits")
    if _kind(kind) == "non_saturating":
        return float(np.mean(softplus(-fake)))
    return float(-np.mean(softplus(fake)))


def generator_loss_grad(fake_logits: np.ndarray, kind: str = "non_saturating") -> np.ndarray:
    """dL_G/da, the shape of the logits."""
    fake = _logits(fake_logits, "fake_logits")
    if _kind(kind) == "non_saturating":
        return -sigmoid(-fake) / fake.shape[0]
    return -sigmoid(fake) / fake.shape[0]
