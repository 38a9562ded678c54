"""Small helpers the gradient checks share: random sizes, inputs away from kinks, generic biases,
random observation masks.  Every check draws everything from the ``rng`` it is given."""

from __future__ import annotations

import numpy as np

from minivae.gradcheck.result import GradCheckResult
from minivae.nn import MLP, LeakyReLU, ReLU
from minivae.nn.functional import log_mean_exp
from minivae.nn.layer import Layer

KINK_MARGIN = 1e-2


def size(rng: np.random.Generator, low: int = 1, high: int = 4) -> int:
    return int(rng.integers(low, high + 1))


def away_from_kink(x: np.ndarray, margin: float = KINK_MARGIN) -> np.ndarray:
    """Shift every entry by ``margin`` away from 0, so |x| >= margin (the ReLU kink)."""
    return np.where(x >= 0, x + margin, x - margin)


def random_input(rng: np.random.Generator, features: int, *,
                 sequence: bool | None = None) -> np.ndarray:
    """x: (N, D), or (N, T, D) when ``sequence`` (random choice when None)."""
    if sequence is None:
        sequence = bool(rng.integers(2))
    shape = (size(rng), size(rng), features) if sequence else (size(rng), features)
    return rng.standard_normal(shape)


def kinks_clear(mlp: MLP, x: np.ndarray, margin: float = KINK_MARGIN) -> bool:
    """True if every input of a ReLU/LeakyReLU inside ``mlp`` is at least ``margin`` from 0,
    and every ReLU layer passes something (all units dead would make the check vacuous)."""
    for layer in mlp.layers:
        if isinstance(layer, (ReLU, LeakyReLU)):
            if np.any(np.abs(x) < margin) or not np.any(x > 0):
                return False
        x = layer.forward(x)
    return True


def randomise_biases(layer: Layer, rng: np.random.Generator) -> None:
    """Biases start at 0; a random bias makes the check cover the general case."""
    for name, p, _ in layer.parameters():
        if name.split(".")[-1] == "b":
            p[...] = 0.1 * rng.standard_normal(p.shape)


def renamed(results: list[GradCheckResult], suffix: str) -> list[GradCheckResult]:
    for r in results:
        r.name = f"{r.name} {suffix}"
    return results




def random_sequence_mask(rng: np.random.Generator, N: int, T: int, D: int) -> np.ndarray:
    """A per-entry mask (N, T, D) with every sequence's first step observed and ~30% missing."""
    mask = rng.random((N, T, D)) < 0.7
    mask[:, 0, 0] = True
    return mask


def sequence_batch(rng: np.random.Generator, N: int, T: int, D: int, masked: bool):
    """X: (N, T, D) standard normal, and ``{"mask": ...}`` with NaN at the missing entries."""
    X = rng.standard_normal((N, T, D))
    if not masked:
        return X, {}
    mask = random_sequence_mask(rng, N, T, D)
    return np.where(mask, X, np.nan), {"mask": mask}


def set_free_bits_in_widest_gap(model: object, kl_per_dimension: np.ndarray) -> None:
    """Put ``model.free_bits`` in the middle of the widest gap between the per-dimension KLs, so
    some dimensions sit above it and some below, none near the kink of the max (where a finite
    difference would straddle it).  With one dimension, half its KL (it stays above)."""
    kl = np.sort(np.asarray(kl_per_dimension, dtype=np.float64))
    if kl.size < 2:
        model.free_bits = float(kl[0]) * 0.5  # type: ignore[attr-defined]
        return
    i = int(np.argmax(np.diff(kl)))
    model.free_bits = float(0.5 * (kl[i] + kl[i + 1]))  # type: ignore[attr-defined]


def path_surrogate(kind: str, log_w: np.ndarray, weight0: np.ndarray) -> float:
    """The objective whose exact gradient the STL / DReG estimator is, for a check of it:
    log w (S, N) computed with log q's parameters held at the base point (only z moves), and for
    DReG (``kind="iwae_dreg"``) its per-sample weights ``weight0`` held constant too."""
    if kind == "elbo_stl":
        return float(-log_w.mean())
    if kind == "iwae_stl":
        return float(-log_mean_exp(log_w, axis=0).mean())
    return float(-np.sum(weight0 * log_w))
