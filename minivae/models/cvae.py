"""Conditional VAE (Sohn et al., 2015): encoder and decoder both see a one-hot class label.

    q(z | x, y) = N(mu, diag(exp(logvar))),  [mu, logvar] = enc([x, onehot(y)])
    p(x | z, y) from dec([z, onehot(y)])

Because the decoder is told the label, z is free to encode everything else (style, stroke
width...), and ``sample(labels, rng)`` generates examples of chosen classes.

Batches are tuples ``(X, y)``: X (N, D); y either integer labels (N,) in [0, n_classes) or a
one-hot matrix (N, n_classes).  Everything else (objectives, beta, free bits, IWAE,
likelihoods) is as in :class:`~minivae.models.vae.VAE`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minivae._validation import check_array, check_positive_int
from minivae.models.base import inference_method, register_model
from minivae.models.vae import BaseVAE


def one_hot(y: object, n_classes: int, name: str = "y") -> np.ndarray:
    """Integer labels (N,) -> one-hot (N, n_classes) float64; a valid one-hot (N, n_classes)
    matrix is returned as float64 unchanged."""
    n_classes = check_positive_int(n_classes, "n_classes")
    y = check_array(y, name, ndim=(1, 2))
    if y.ndim == 1:
        if y.dtype.kind == "f":
            if not np.all(y == np.round(y)):
                raise ValueError(f"{name} must hold integer class labels, got non-integer values")
        elif y.dtype.kind == "b":
            raise TypeError(f"{name} must hold integer class labels, got dtype bool")
        labels = y.astype(np.int64)
        if labels.min() < 0 or labels.max() >= n_classes:
            raise ValueError(
                f"{name} labels must lie in [0, {n_classes - 1}], "
                f"got values in [{labels.min()}, {labels.max()}]"
            )
        out = np.zeros((labels.shape[0], n_classes))
        out[np.arange(labels.shape[0]), labels] = 1.0
        return out
    if y.shape[1] != n_classes:
        raise ValueError(f"one-hot {name} must have shape (N, {n_classes}), got {y.shape}")
    if not (np.all((y == 0) | (y == 1)) and np.all(y.sum(axis=1) == 1)):
        raise ValueError(f"{name} of shape {y.shape} is not one-hot (each row one 1, rest 0)")
    return y.astype(np.float64)


@register_model
class CVAE(BaseVAE):
    """Conditional VAE on a one-hot label appended to encoder and decoder inputs.

    Args:
        input_dim: D.
        n_classes: C, number of labels.
        hidden_sizes, latent_dim, beta, likelihood, decoder_variance, activation, free_bits,
        objective, k, alpha, mmd_lambda, kernel, rng, dtype: as for
        :class:`~minivae.models.vae.VAE`.

    Shapes: X (N, D), y (N,) ints or (N, C) one-hot; encoder input (N, D + C), decoder input
    (N, L + C).
    """

    def __init__(
        self,
        input_dim: int,
        n_classes: int,
        hidden_sizes: list[int] | tuple[int, ...],
        latent_dim: int,
        *,
        beta: float = 1.0,
        likelihood: str = "bernoulli",
        decoder_variance: float | None = None,
        activation: str = "relu",
        free_bits: float = 0.0,
        objective: str = "elbo",
        k: int = 5,
        alpha: float | None = None,
        mmd_lambda: float | None = None,
        kernel: str | None = None,
        rng: np.random.Generator | int = 0,
        dtype: object = np.float64,
    ) -> None:
        self.n_classes = check_positive_int(n_classes, "n_classes")
        super().__init__(
            input_dim, hidden_sizes, latent_dim, cond_dim=self.n_classes, beta=beta,
            likelihood=likelihood, decoder_variance=decoder_variance, activation=activation,
            free_bits=free_bits, objective=objective, k=k, rng=rng, dtype=dtype, alpha=alpha,
            mmd_lambda=mmd_lambda, kernel=kernel,
        )

    def config(self) -> dict[str, Any]:
        return {"input_dim": self.input_dim, "n_classes": self.n_classes,
                **self._common_config()}

    # -- batches ----------------------------------------------------------------------------------
    def check_inputs(self, X, *, mask=None, y=None, name="X"):
        """Validate X like any model, and require labels y: returns (X, mask, onehot (N, C))."""
        X, mask, _ = super().check_inputs(X, mask=mask, name=name)
        if y is None:
            raise ValueError("CVAE needs labels: pass y (N,) integer labels or (N, C) one-hot")
        cond = one_hot(y, self.n_classes).astype(self.dtype, copy=False)
        if cond.shape[0] != X.shape[0]:
            raise ValueError(
                f"y must have one label per example of {name}: {name} has {X.shape[0]} rows, "
                f"y has {cond.shape[0]}"
            )
        return X, mask, cond

    def make_batch(self, X: np.ndarray, y: object = None) -> tuple[np.ndarray, Any]:
        if y is None:
            raise ValueError("CVAE needs labels: pass y (N,) integer labels or (N, C) one-hot")
        return (X, y)

    def _split_batch(self, batch, mask):
        if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
            raise TypeError(
                "CVAE takes a batch (X, y): X (N, D) and labels y (N,) or one-hot (N, C); "
                f"got {type(batch).__name__}"
            )
        X, y = batch
        return self.check_inputs(X, mask=mask, y=y)

    # -- public inference --------------------------------------------------------------------
    def encode(self, X: np.ndarray, y: object, *, mask: np.ndarray | None = None):
        """(X (N, D), y) -> (mu, logvar) of q(z | x, y), each (N, L)."""
        return self.posterior((X, y), mask=mask)

    @inference_method
    def decode(self, z: np.ndarray, y: object) -> np.ndarray:
        """(z (N, L), y) -> E[x | z, y] (N, D)."""
        self._pending = None
        z = check_array(z, "z", shape=(None, self.latent_dim), dtype=self.dtype)
        cond = one_hot(y, self.n_classes).astype(self.dtype, copy=False)
        if cond.shape[0] != z.shape[0]:
            raise ValueError(f"y must have {z.shape[0]} labels to match z, got {cond.shape[0]}")
        return self._output_mean(self._decode_out(z, cond))

    def reconstruct(self, X: np.ndarray, y: object, rng: np.random.Generator | int | None = None,
                    *, mask: np.ndarray | None = None) -> np.ndarray:
        """decode(z, y) with z = mu(x, y), or z ~ q(z | x, y) when ``rng`` is given: (N, D)."""
        X, mask, cond = self.check_inputs(X, mask=mask, y=y)
        return self._reconstruct(X, mask, cond, rng)

    def sample(self, labels: object, rng: np.random.Generator | int, *,
               mean: bool = True) -> np.ndarray:
        """One generated example per label: z ~ N(0, I), then E[x | z, y] (``mean=True``) or
        x ~ p(x | z, y).  labels: (n,) ints or (n, C) one-hot -> (n, D)."""
        cond = one_hot(labels, self.n_classes, name="labels").astype(self.dtype, copy=False)
        return self._generate(cond, cond.shape[0], rng, mean)
