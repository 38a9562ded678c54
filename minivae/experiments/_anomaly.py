"""Scores and table cells shared by the image and tabular anomaly benchmarks."""

from __future__ import annotations

from typing import Any

import numpy as np

from minivae.timeseries.metrics import pr_auc, roc_auc


def reconstruction_probability(vae: Any, X: np.ndarray, n_samples: int,
                               rng: np.random.Generator) -> np.ndarray:
    """An & Cho (2015): ``-(1/L) sum_l log p(x | z_l)``, z_l ~ q(z | x), per row (N,)."""
    total = np.zeros(X.shape[0])
    for _ in range(n_samples):
        total += vae.per_example_loss(X, rng=rng)["reconstruction"]
    return total / n_samples


def reconstruction_error(model: Any, X: np.ndarray) -> np.ndarray:
    """Mean squared error of the model's reconstruction (the VAE decodes z = mu), (N,)."""
    diff = np.asarray(X, np.float64) - np.asarray(model.reconstruct(X), np.float64)
    return np.mean(diff * diff, axis=1)


def aucs(y: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    return {"roc_auc": roc_auc(y, scores), "pr_auc": pr_auc(y, scores)}


def cell(values: list[float], digits: int = 3) -> str:
    """``mean ± std`` over seeds (std ddof 0; just the mean for one seed)."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 1:
        return f"{v[0]:.{digits}f}"
    return f"{v.mean():.{digits}f} ± {v.std():.{digits}f}"
