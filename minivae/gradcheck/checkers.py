"""Check one array's gradient (:func:`check_gradient`) or a function that comes with its own
gradient function (:func:`check_function`: losses, KLs, log-densities).

Layers and whole models have their own checkers built on these:
:func:`~minivae.gradcheck.layer_check.check_layer` and
:func:`~minivae.gradcheck.model_check.check_model`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from minivae._validation import check_array, check_callable, check_rng, check_scalar
from minivae.gradcheck.compare import compare, shape_mismatch
from minivae.gradcheck.numerical import (
    DEFAULT_H,
    DEFAULT_TOL,
    central_differences,
    check_float64,
    noise_floor,
    sample_indices,
    scalar_loss,
)
from minivae.gradcheck.result import GradCheckResult


def check_gradient(
    f: Callable[..., Any],
    x: np.ndarray,
    analytic: np.ndarray,
    *,
    name: str = "x",
    h: float = DEFAULT_H,
    tol: float = DEFAULT_TOL,
    max_entries: int | None = None,
    rng: np.random.Generator | int = 0,
    f_scale: float | None = None,
) -> GradCheckResult:
    """Compare ``analytic`` with the numeric gradient of ``f`` (``f()`` or ``f(x)``) w.r.t. ``x``.

    Args:
        f, x, h, max_entries, rng: as in :func:`~minivae.gradcheck.numerical_gradient`.
        analytic: the gradient your backward computed; must have ``x``'s shape.
        name: used in the message ("dW: ...").
        tol: largest accepted relative error (1e-7 suits smooth functions in float64).
        f_scale: magnitude of the loss's terms, for the noise floor; default: the largest
            |f| seen.  Pass e.g. ``sum(|y * dy|)`` when the loss is a sum of terms that cancel.

    Example::

        x = rng.standard_normal((3, 4))
        res = check_gradient(lambda: np.sum(np.tanh(x)), x, 1 - np.tanh(x) ** 2, name="x")
        assert res.passed, res
    """
    x = check_float64(x, name)
    h = check_scalar(h, "h", low=0.0, low_inclusive=False)
    tol = check_scalar(tol, "tol", low=0.0, low_inclusive=False)
    analytic = check_array(analytic, "analytic", allow_nan=True, allow_empty=True)
    rng = check_rng(rng)
    if analytic.shape != x.shape:
        return shape_mismatch(name, analytic.shape, x.shape, tol)
    idx = sample_indices(x.shape, max_entries, rng)
    numeric, seen = central_differences(f, x, h, idx)
    scale = seen if f_scale is None else max(check_scalar(f_scale, "f_scale"), seen)
    return compare(name, analytic, numeric, tol=tol, floor=noise_floor(scale, h, tol))


def as_grad_dict(grads: object, wrt: Sequence[str], what: str) -> dict[str, np.ndarray]:
    """Match what a gradient function / backward returned to the names in ``wrt``: a dict by
    name, or one gradient per name in order (extra trailing returns are ignored)."""
    if isinstance(grads, Mapping):
        missing = [k for k in wrt if k not in grads]
        if missing:
            raise KeyError(f"{what} returned a dict without gradients for {missing}")
        return {k: np.asarray(grads[k]) for k in wrt}
    if not isinstance(grads, (tuple, list)):
        grads = (grads,)
    if len(grads) < len(wrt):
        raise ValueError(
            f"{what} returned {len(grads)} gradient(s) but {len(wrt)} are checked {list(wrt)}; "
            "return one gradient per input, in the same order (or a dict by name)"
        )
    return {k: np.asarray(g) for k, g in zip(wrt, grads)}


def copy_inputs(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """A private copy of every array input (the check perturbs them in place); others as given."""
    _check_mapping(inputs, "inputs")
    return {k: (np.array(v, copy=True) if isinstance(v, np.ndarray) else v)
            for k, v in inputs.items()}


def require_float64(layer: Any, arrays: Mapping[str, np.ndarray]) -> None:
    """Refuse a layer/model built in another dtype, or a non-float64 parameter or input."""
    if not callable(getattr(layer, "parameters", None)):
        raise TypeError(f"layer must be a Layer or model (with parameters()), got "
                        f"{type(layer).__name__}")
    _check_mapping(arrays, "arrays")
    dtype = getattr(layer, "dtype", np.float64)
    if np.dtype(dtype) != np.float64:
        raise TypeError(
            f"{type(layer).__name__} was built with dtype {np.dtype(dtype)}; gradient checks need "
            "float64 (in float32 the finite-difference rounding error is ~0.1·|L| at h=1e-6). "
            "Build a float64 copy of the layer/model for the check."
        )
    for pname, p, _ in layer.parameters():
        check_float64(p, f"parameter {pname!r}")
    for k, v in arrays.items():
        check_float64(v, f"input {k!r}")


def check_function(
    f: Callable[..., Any],
    inputs: Mapping[str, np.ndarray],
    grad_fn: Callable[..., Any],
    *,
    wrt: Sequence[str] | None = None,
    h: float = DEFAULT_H,
    tol: float = DEFAULT_TOL,
    max_entries: int | None = None,
    rng: np.random.Generator | int = 0,
    f_scale: float | None = None,
) -> list[GradCheckResult]:
    """Check a function that comes with its own gradient function (losses, KL, log-densities).

    Both are called with the inputs as keyword arguments: ``f(**inputs)`` returns a scalar,
    ``grad_fn(**inputs)`` returns the gradients w.r.t. ``wrt`` (a single array, a tuple in
    ``wrt`` order, or a dict by name).  The inputs are copied first, so yours are never touched.
    ``f_scale`` is as in :func:`check_gradient` (default: |f| at the inputs); pass the sum of the
    absolute terms when ``f`` is a sum of terms that cancel, such as ``sum(z * dz)``.

    Example (a loss with a target that is not differentiated)::

        check_function(losses.gaussian_nll, {"mean": m, "logvar": lv, "target": x},
                       losses.gaussian_nll_grad, wrt=("mean", "logvar"))
        check_function(lambda logits: losses.bernoulli_nll(logits, x, mask=mask),
                       {"logits": logits},
                       lambda logits: losses.bernoulli_nll_grad(logits, x, mask=mask))
    """
    _check_mapping(inputs, "inputs")
    check_callable(f, "f")
    check_callable(grad_fn, "grad_fn")
    wrt = list(inputs) if wrt is None else list(wrt)
    unknown = [k for k in wrt if k not in inputs]
    if unknown:
        raise KeyError(f"wrt names {unknown} are not among the inputs {list(inputs)}")
    arrays = copy_inputs(inputs)
    for k in wrt:
        check_float64(arrays[k], k)
    analytic = as_grad_dict(grad_fn(**arrays), wrt, "grad_fn")
    scale = abs(scalar_loss(f(**arrays))) if f_scale is None else float(f_scale)
    return [
        check_gradient(lambda: f(**arrays), arrays[k], analytic[k], name=k, h=h, tol=tol,
                       max_entries=max_entries, rng=rng, f_scale=scale)
        for k in wrt
    ]


def _check_mapping(value: object, name: str) -> None:
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a dict of named inputs, got {type(value).__name__}")
