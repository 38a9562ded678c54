"""What :func:`~minivae.train.loop.fit` measures besides the training loss: the held-out
(validation) loss and the latent diagnostics, once per epoch.

* :class:`Validation` names validation data: ``fit(model, X, validation=Validation(X_val))``;
* :func:`split_validation` turns fit's ``validation`` argument into checked arrays;
* :func:`evaluate` is the model's mean per-example loss on data, without gradients;
* :func:`latent_diagnostics` is the KL per latent dimension and the number of active units.

Both evaluations run in chunks of :data:`EVAL_CHUNK` rows, so a large validation set never
needs one huge forward pass.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from minivae._validation import check_scalar
from minivae.train.diagnostics import active_units, kl_per_dimension_mean

# Evaluation passes process at most this many rows at once.
# Public: Validation (re-exported by minivae.train).  The rest is fit's plumbing, called with
# data fit has already checked (Data objects from check_data).
__all__ = ["Validation"]

EVAL_CHUNK = 1024
# Latent diagnostics use at most this many rows (plenty for a per-dimension mean and variance,
# and it bounds the extra encoder pass per epoch on large training sets).
DIAGNOSTIC_ROWS = 5000


@dataclass(frozen=True)
class Validation:
    """Validation data for :func:`~minivae.train.loop.fit`, with the training data's
    conventions: ``X`` (N, D) or (N, T, D); ``y`` labels for conditional models (CVAE);
    ``mask`` True = observed (NaN in X only where it is False)."""

    X: Any
    y: Any = None
    mask: Any = None


class Data(NamedTuple):
    """Checked data: X in the model's dtype, labels y and mask (or None), one row per example."""

    X: np.ndarray
    y: Any
    mask: np.ndarray | None

    def rows(self, index: Any) -> Data:
        """The examples at ``index`` (a slice or an integer array)."""
        return Data(self.X[index], None if self.y is None else self.y[index],
                    None if self.mask is None else self.mask[index])

    def chunks(self, size: int = EVAL_CHUNK) -> Iterator[Data]:
        """Consecutive pieces of at most ``size`` rows."""
        for start in range(0, self.X.shape[0], size):
            yield self.rows(slice(start, start + size))


def check_data(model: Any, X: object, y: object, mask: object, name: str = "X") -> Data:
    """X, y and mask validated by the model (shape, dtype, labels, NaN only where masked)."""
    X, mask, y = model.check_inputs(X, mask=mask, y=y, name=name)
    return Data(X, y, mask)


def split_validation(model: Any, data: Data, validation: object) -> tuple[Data, Data | None]:
    """(training data, validation data or None) from fit's ``validation`` argument.

    ``validation`` is None; a fraction in (0, 1) of the rows of ``data`` to hold out (the *last*
    rows, as given: shuffle beforehand if the data are ordered, e.g. by class); an array X_val;
    or a :class:`Validation`.
    """
    if validation is None:
        return data, None
    if isinstance(validation, np.ndarray):
        validation = Validation(validation)
    if isinstance(validation, Validation):
        return data, check_data(model, validation.X, validation.y, validation.mask,
                                name="validation.X")
    if isinstance(validation, bool) or not isinstance(validation, (float, int, np.floating)):
        raise TypeError(
            "validation must be None, a fraction in (0, 1), an array X_val or "
            f"Validation(X, y=None, mask=None); got {type(validation).__name__}"
        )
    fraction = check_scalar(validation, "validation", low=0.0, high=1.0, low_inclusive=False,
                            high_inclusive=False)
    n = data.X.shape[0]
    n_val = int(round(n * fraction))
    if n_val < 1 or n_val >= n:
        raise ValueError(f"validation={fraction} of {n} rows leaves {n_val} validation and "
                         f"{n - n_val} training rows; both need >= 1")
    return data.rows(slice(0, n - n_val)), data.rows(slice(n - n_val, n))


def evaluate(model: Any, data: Data, rng: np.random.Generator) -> dict[str, float]:
    """Means over the data of the model's per-example loss terms (no gradients).

    Returns e.g. ``{"loss": ..., "reconstruction": ..., "kl": ...}``; the noise of a stochastic
    model comes from ``rng``.
    """
    sums: dict[str, float] = {}
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        for chunk in data.chunks():
            terms = model.per_example_loss(model.make_batch(chunk.X, chunk.y), rng=rng,
                                           mask=chunk.mask)
            for key, values in terms.items():
                sums[key] = sums.get(key, 0.0) + float(np.sum(values))
    return {key: total / data.X.shape[0] for key, total in sums.items()}


def latent_diagnostics(model: Any, data: Data) -> dict[str, Any]:
    """``kl_per_dim`` (mean KL of each latent dimension) and ``active_units`` over the first
    :data:`DIAGNOSTIC_ROWS` rows; ``{}`` for a model without a latent posterior."""
    mus, logvars = [], []
    for chunk in data.rows(slice(0, DIAGNOSTIC_ROWS)).chunks():
        post = model.posterior(model.make_batch(chunk.X, chunk.y), mask=chunk.mask)
        if post is None:
            return {}
        mu, logvar = post
        # Sequence models with one latent per time step give (N, T, L): pool the steps.
        mus.append(mu.reshape(-1, mu.shape[-1]))
        logvars.append(logvar.reshape(-1, logvar.shape[-1]))
    mu, logvar = np.concatenate(mus), np.concatenate(logvars)
    return {"kl_per_dim": [float(v) for v in kl_per_dimension_mean(mu, logvar)],
            "active_units": active_units(mu) if mu.shape[0] >= 2 else None}
