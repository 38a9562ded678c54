"""Reconstruction losses as negative log-likelihoods, each with its analytic gradient.

Reduction convention (used everywhere in minivae):
    **sum over the data dimensions of one example, mean over the batch.**
So on MNIST a Bernoulli loss reads in *nats per image*, and on sequences (N, T, D) in nats per
sequence.  Every function takes ``reduction``:

* ``"mean"`` (default): the scalar above;
* ``"sum"``: summed over the batch too;
* ``"none"``: the per-example vector (N,).

The matching ``*_grad`` function returns the gradient of the *reduced* value for
``"mean"``/``"sum"`` (for ``"none"``, of the sum).  An optional boolean ``mask`` (same shape as the
target, True = observed) drops missing entries from both value and gradient, which is how models
train on series with NaN gaps: the target's NaN entries are never read.
"""

from __future__ import annotations

import numpy as np

from minivae._validation import (
    check_array,
    check_mask,
    check_no_overflow,
    check_same_shape,
    check_scalar,
    overflow_to_caller,
)
from minivae.objectives.distributions import LOG_2PI, _log_density, clamp_logvar

REDUCTIONS = ("mean", "sum", "none")


def _prepare(pred: np.ndarray, target: np.ndarray, mask: np.ndarray | None, reduction: str,
             name: str = "pred"):
    """Validated (pred, target, mask); ``name`` is the prediction's argument name (logits,
    mean, pred) for the error messages."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    pred = check_array(pred, name, ndim=(1, 2, 3))
    target = check_array(target, "target", allow_nan=mask is not None)
    check_same_shape(pred, target, name, "target")
    if mask is None:
        return pred, target, None
    mask = check_mask(mask, target, data="target")
    # Missing targets are replaced by 0 so that NaN never enters arithmetic; their terms are
    # multiplied by the mask (0) below, so the choice of fill value has no effect.
    return pred, fill_missing(target, mask), mask


def fill_missing(X: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """X with its missing entries (mask False, possibly NaN) replaced by 0, in X's dtype.

    What an encoder reads, and what the losses compute with: the masked terms are dropped,
    so the network learns to reconstruct from what is observed.  ``mask``: X's shape, or None
    (all observed: X itself is returned).
    """
    if mask is None:
        return X
    # Cheap checks only (this runs on every batch): real float data, a bool mask of its shape.
    if not isinstance(X, np.ndarray) or X.dtype.kind != "f":
        raise TypeError(f"X must be a float numpy array, got {type(X).__name__} "
                        f"{getattr(X, 'dtype', '')}")
    if not isinstance(mask, np.ndarray) or mask.dtype != bool or mask.shape != X.shape:
        raise ValueError(f"mask must be a bool array of X's shape {X.shape}, got "
                         f"{type(mask).__name__} {getattr(mask, 'dtype', '')} "
                         f"{getattr(mask, 'shape', '')}")
    filled = np.where(mask, X, 0.0).astype(X.dtype, copy=False)
    # one pass over the batch (cheap next to the forward pass): an observed inf is refused
    if not np.isfinite(filled).all():
        n_bad = int(filled.size - np.count_nonzero(np.isfinite(filled)))
        raise ValueError(f"X has {n_bad} non-finite value(s) at positions mask marks observed; "
                         "NaN/inf are only allowed where the mask is False")
    return filled


def _reduce(per_element: np.ndarray, reduction: str) -> np.ndarray | float:
    n = per_element.shape[0]
    per_example = per_element.reshape(n, -1).sum(axis=1)
    if reduction == "none":
        return per_example
    if reduction == "sum":
        return float(per_example.sum())
    return float(per_example.mean())


def _scale(n: int, reduction: str) -> float:
    return 1.0 / n if reduction == "mean" else 1.0


# ------------------------------------------------------------------------------------ MSE
def mse(pred, target, *, mask=None, reduction: str = "mean"):
    """Squared error sum_d (pred - target)^2 per example.  pred, target: (N, ...)."""
    pred, target, mask = _prepare(pred, target, mask, reduction)
    with np.errstate(over="ignore", invalid="ignore"):  # reported below, naming the input
        sq = (pred - target) ** 2
    if mask is not None:
        sq = sq * mask
    value = _reduce(sq, reduction)
    check_no_overflow(value, "mse", pred=pred, target=target)
    return value


def mse_grad(pred, target, *, mask=None, reduction: str = "mean") -> np.ndarray:
    """d mse / d pred = 2 (pred - target), scaled by the reduction."""
    pred, target, mask = _prepare(pred, target, mask, reduction)
    with np.errstate(over="ignore", invalid="ignore"):
        g = 2.0 * (pred - target) * _scale(pred.shape[0], reduction)
    g = g * mask if mask is not None else g
    check_no_overflow(g, "mse_grad", pred=pred, target=target)
    return g


# ------------------------------------------------------------------------------ Bernoulli
def bernoulli_nll(logits, target, *, mask=None, reduction: str = "mean"):
    """Binary cross-entropy from logits: -[x log s(l) + (1-x) log(1-s(l))].

    Written as softplus(l) - x*l, which never evaluates log(0) and accepts targets in [0, 1]
    (grey-level MNIST pixels), not only {0, 1}.  logits, target: (N, ...).
    """
    logits, target, mask = _prepare_bernoulli(logits, target, mask, reduction)
    e = np.abs(logits)
    np.negative(e, out=e)
    np.exp(e, out=e)  # exp(-|l|)
    return _reduce(_bernoulli_terms(logits, target, mask, e), reduction)


def bernoulli_nll_grad(logits, target, *, mask=None, reduction: str = "mean") -> np.ndarray:
    """d/dlogits = sigmoid(l) - x, scaled by the reduction."""
    logits, target, mask = _prepare_bernoulli(logits, target, mask, reduction)
    return _bernoulli_grad(_exp_neg(logits), target, mask, _scale(logits.shape[0], reduction))


def bernoulli_nll_and_grad(logits, target, *, mask=None, reduction: str = "mean"):
    """``(bernoulli_nll(...), bernoulli_nll_grad(...))`` with the same arguments, cheaper than
    the two calls: the inputs are validated once, and both use one exponential, exp(-l)
    (the value needs exp(-|l|) = min(exp(-l), 1 / exp(-l)))."""
    logits, target, mask = _prepare_bernoulli(logits, target, mask, reduction)
    exp_neg = _exp_neg(logits)
    # exp(-l) tiny or 0 for large l (e.g. l > 87 in float32): 1 / exp(-l) overflows to inf,
    # and the minimum takes exp(-l) itself, as it should.
    with np.errstate(over="ignore", divide="ignore"):
        e = np.reciprocal(exp_neg)
    np.minimum(exp_neg, e, out=e)  # exp(-|l|)
    value = _reduce(_bernoulli_terms(logits, target, mask, e), reduction)
    return value, _bernoulli_grad(exp_neg, target, mask, _scale(logits.shape[0], reduction))


def _prepare_bernoulli(logits, target, mask, reduction: str):
    """Validate like every loss, check targets in [0, 1], and give logits and target one dtype
    (the helpers below work in place in buffers of that floating dtype)."""
    logits, target, mask = _prepare(logits, target, mask, reduction, "logits")
    _check_unit_interval(target, mask)
    dtype = np.result_type(logits, target, 1.0)  # a Python float: ints -> float64, f32 stays
    return logits.astype(dtype, copy=False), target.astype(dtype, copy=False), mask


def _exp_neg(logits: np.ndarray) -> np.ndarray:
    """exp(-l) in a new array.  It overflows to inf for l < -88 (float32) or -709 (float64);
    the warning is silenced because every use below has the right limit there."""
    with np.errstate(over="ignore"):
        out = np.negative(logits)
        return np.exp(out, out=out)


def _bernoulli_terms(logits: np.ndarray, target: np.ndarray, mask: np.ndarray | None,
                     e: np.ndarray) -> np.ndarray:
    """Per-element softplus(l) - x*l (times the mask), given ``e`` = exp(-|l|) (overwritten).

    softplus(l) = max(l, 0) + log1p(e) with e in [0, 1]: nothing overflows, even for logits of
    +-1000.  log1p(e) is evaluated as

        log(u) + (e - (u - 1)) / u,        u = 1 + e rounded to the dtype,

    where u - 1 is exact, so e - (u - 1) is exactly what the rounding of 1 + e lost and the
    second term puts it back (to first order: a few ulp; when e is below the rounding of 1 the
    result is e itself, as log1p's).  Why not ``np.log1p``: NumPy has no vectorised loop for it
    on common CPUs (one libm call per element); on a (128, 784) float32 batch this function
    took 2.6x as long with it.  ``np.log`` is vectorised.  Every step is done in place: at this
    size temporaries cost as much as the arithmetic.
    """
    nll = np.add(e, 1.0)  # u
    lost = np.subtract(nll, 1.0)
    np.subtract(e, lost, out=lost)  # e - (u - 1)
    lost /= nll
    np.log(nll, out=nll)
    nll += lost  # log1p(e)
    e.fill(0.0)  # np.maximum against an array (vectorised), not against the scalar 0 (not)
    nll += np.maximum(logits, e, out=e)  # softplus(l)
    nll -= np.multiply(target, logits, out=e)  # softplus(l) - x*l
    if mask is not None:
        nll *= mask
    return nll


def _bernoulli_grad(exp_neg: np.ndarray, target: np.ndarray, mask: np.ndarray | None,
                    scale: float) -> np.ndarray:
    """(sigmoid(l) - x) * scale (times the mask), computed in place in ``exp_neg`` = exp(-l).

    sigmoid(l) = 1 / (1 + exp(-l)): where exp(-l) overflowed to inf, 1 / (1 + inf) = 0 is the
    correct limit, so no NaN can arise.
    """
    g = exp_neg
    g += 1.0
    np.reciprocal(g, out=g)  # sigmoid(l)
    g -= target
    if scale != 1.0:
        g *= scale
    if mask is not None:
        g *= mask
    return g


def _check_unit_interval(target: np.ndarray, mask: np.ndarray | None,
                         name: str = "target") -> None:
    values = target if mask is None else target[mask]
    if values.size and (values.min() < 0.0 or values.max() > 1.0):
        raise ValueError(
            f"{name} for a Bernoulli likelihood must lie in [0, 1], "
            f"got values in [{values.min():.4g}, {values.max():.4g}]"
        )


# ------------------------------------------------------------------------------- Gaussian
def gaussian_nll(mean, logvar, target, *, mask=None, reduction: str = "mean"):
    """Gaussian negative log-likelihood with a predicted log-variance, per element

        0.5 * (log 2pi + logvar + (x - mean)^2 / exp(logvar)),

    summed over data dimensions.  mean, logvar, target: (N, ...), all the same shape.
    """
    mean, target, mask = _prepare(mean, target, mask, reduction, "mean")
    logvar = check_array(logvar, "logvar")
    check_same_shape(mean, logvar, "mean", "logvar")
    with np.errstate(over="ignore", invalid="ignore"):
        nll = -_log_density(target, mean, logvar)
    if mask is not None:
        nll = nll * mask
    value = _reduce(nll, reduction)
    check_no_overflow(value, "gaussian_nll", mean=mean, logvar=logvar, target=target)
    return value


def gaussian_nll_grad(mean, logvar, target, *, mask=None, reduction: str = "mean"):
    """Returns (d/dmean, d/dlogvar) of :func:`gaussian_nll`.

    d/dmean = (mean - x) / var;  d/dlogvar = 0.5 * (1 - (x - mean)^2 / var).
    """
    mean, target, mask = _prepare(mean, target, mask, reduction, "mean")
    logvar = check_array(logvar, "logvar")
    check_same_shape(mean, logvar, "mean", "logvar")
    with np.errstate(over="ignore", invalid="ignore"):
        inv_var = np.exp(-logvar)
        s = _scale(mean.shape[0], reduction)
        dmean = (mean - target) * inv_var * s
        dlogvar = 0.5 * (1.0 - (target - mean) ** 2 * inv_var) * s
    if mask is not None:
        dmean, dlogvar = dmean * mask, dlogvar * mask
    for g in (dmean, dlogvar):
        check_no_overflow(g, "gaussian_nll_grad", mean=mean, logvar=logvar, target=target)
    return dmean, dlogvar


def gaussian_nll_fixed_variance(mean, target, *, variance: float = 1.0, mask=None,
                                reduction: str = "mean"):
    """Gaussian NLL with a fixed scalar variance: 0.5*(log 2pi var + (x-mean)^2/var) per element."""
    variance = check_scalar(variance, "variance", low=0.0, low_inclusive=False)
    mean, target, mask = _prepare(mean, target, mask, reduction, "mean")
    with np.errstate(over="ignore", invalid="ignore"):
        nll = 0.5 * (LOG_2PI + np.log(variance) + (target - mean) ** 2 / variance)
    if mask is not None:
        nll = nll * mask
    value = _reduce(nll, reduction)
    check_no_overflow(value, "gaussian_nll_fixed_variance", mean=mean, target=target)
    return value


def gaussian_nll_fixed_variance_grad(mean, target, *, variance: float = 1.0, mask=None,
                                     reduction: str = "mean") -> np.ndarray:
    """d/dmean = (mean - x) / var, scaled by the reduction."""
    variance = check_scalar(variance, "variance", low=0.0, low_inclusive=False)
    mean, target, mask = _prepare(mean, target, mask, reduction, "mean")
    with np.errstate(over="ignore", invalid="ignore"):
        g = (mean - target) / variance * _scale(mean.shape[0], reduction)
    g = g * mask if mask is not None else g
    check_no_overflow(g, "gaussian_nll_fixed_variance_grad", mean=mean, target=target)
    return g


# ---------------------------------------------------------------- categorical (classifiers)
def _prepare_categorical(logits, labels, reduction: str):
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    logits = check_array(logits, "logits", ndim=2)
    labels = np.asarray(labels)
    if labels.dtype.kind not in "iu" or labels.shape != logits.shape[:1]:
        raise ValueError(f"labels must be integer class indices of shape ({logits.shape[0]},), "
                         f"got dtype {labels.dtype} and shape {labels.shape}")
    K = logits.shape[1]
    if labels.size and (labels.min() < 0 or labels.max() >= K):
        raise ValueError(f"labels must lie in [0, {K - 1}] for {K} classes (logits' columns), "
                         f"got values from {labels.min()} to {labels.max()}")
    # log softmax, shifted by the row max so exp never overflows (the log-sum-exp trick).
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return log_p, labels.astype(np.intp)


def softmax_cross_entropy(logits, labels, *, reduction: str = "mean"):
    """Categorical negative log-likelihood of class ``labels`` under softmax(logits).

    loss_n = -log softmax(l_n)[y_n] = logsumexp(l_n) - l_n[y_n], computed with the max shift.
    logits: (N, K) real; labels: (N,) ints in [0, K).
    """
    log_p, labels = _prepare_categorical(logits, labels, reduction)
    return _reduce(-log_p[np.arange(labels.size), labels], reduction)


def softmax_cross_entropy_grad(logits, labels, *, reduction: str = "mean") -> np.ndarray:
    """d/dlogits = softmax(l) - onehot(y), scaled by the reduction.  (N, K)."""
    log_p, labels = _prepare_categorical(logits, labels, reduction)
    g = np.exp(log_p)
    g[np.arange(labels.size), labels] -= 1.0
    return g * _scale(g.shape[0], reduction)


# ------------------------------------------------------------- a decoder's output as p(x | z)
def reconstruction_nll(
    kind: str, out: np.ndarray, X: np.ndarray, mask: np.ndarray | None, *, need_grad: bool,
    variance: float | None = 1.0,
) -> tuple[np.ndarray, np.ndarray | None]:
    """-log p(x | z) per example (M,) of a decoder output ``out`` for targets ``X: (M, ...)``,
    and (when ``need_grad``) the gradient of their *sum* w.r.t. ``out`` (the caller scales it).

    ``kind``:

    * ``"bernoulli"``: out = logits (X's shape), :func:`bernoulli_nll`;
    * ``"gaussian"``: out = the mean (X's shape) of a Gaussian of fixed ``variance``; with
      ``variance=None`` (learned) out = [mean, log-variance] side by side on the last axis
      (twice X's last size), the log-variance clamped by
      :func:`~minivae.objectives.distributions.clamp_logvar` (no gradient where it clamps);
    * ``"mse"``: out = the prediction, squared error :func:`mse`.
    """
    # A model's loss: inf/NaN goes back to the training loop, whose guard names the step.
    with overflow_to_caller():
        if kind == "bernoulli":
            if isinstance(X, np.ndarray) and X.dtype.kind == "f":  # name the data, not "target"
                _check_unit_interval(X, mask if isinstance(mask, np.ndarray) else None, "X")
            if need_grad:  # one call: the inputs are validated once, not twice
                return bernoulli_nll_and_grad(out, X, mask=mask, reduction="none")
            return bernoulli_nll(out, X, mask=mask, reduction="none"), None
        if kind == "gaussian" and variance is None:
            return _gaussian_learned_variance_nll(out, X, mask, need_grad)
        if kind == "gaussian":
            value = gaussian_nll_fixed_variance(out, X, variance=variance, mask=mask,
                                                reduction="none")
            grad = gaussian_nll_fixed_variance_grad(
                out, X, variance=variance, mask=mask, reduction="none") if need_grad else None
            return value, grad
        if kind == "mse":
            value = mse(out, X, mask=mask, reduction="none")
            return value, mse_grad(out, X, mask=mask, reduction="none") if need_grad else None
    raise ValueError(f"unknown reconstruction kind {kind!r}")


def _gaussian_learned_variance_nll(out: np.ndarray, X: np.ndarray, mask: np.ndarray | None,
                                   need_grad: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`reconstruction_nll` of a Gaussian whose log-variance the decoder outputs."""
    D = X.shape[-1]
    mean = out[..., :D]
    logvar, inside = clamp_logvar(out[..., D:])
    value = gaussian_nll(mean, logvar, X, mask=mask, reduction="none")
    if not need_grad:
        return value, None
    dmean, dlogvar = gaussian_nll_grad(mean, logvar, X, mask=mask, reduction="none")
    return value, np.concatenate([dmean, dlogvar * inside], axis=-1)
