"""Gradient check of a whole model through its training interface.

The model must provide ``parameters()`` (yielding ``(name, param, grad)``), ``zero_grad()``,
``loss(batch, rng=..., eps=...) -> (value, parts)`` and ``backward()``, and keep the noise of
its last stochastic pass in ``model.last_eps`` (``None`` for deterministic models).

Steps: ``zero_grad``; ``loss(batch, rng=rng)``; keep ``eps = model.last_eps``; ``backward()`` ->
analytic gradients; then for each parameter, central differences of ``loss(batch, eps=eps)`` —
the *same* noise on every evaluation, otherwise the difference would measure the change of
noise, not of the parameter.  Finally one more ``loss`` + ``backward`` without ``zero_grad``
must double every gradient (backward accumulates).
"""

from __future__ import annotations

import copy
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from minivae._validation import check_rng, check_scalar
from minivae.gradcheck.checkers import check_gradient, require_float64
from minivae.gradcheck.compare import compare_accumulation
from minivae.gradcheck.numerical import DEFAULT_H, DEFAULT_TOL, scalar_loss
from minivae.gradcheck.result import GradCheckResult


def _require_replay(value: float, again: float) -> None:
    """The loss replayed with the stored noise must equal the loss that drew it."""
    if not abs(again - value) <= 1e-12 * max(1.0, abs(value)):
        raise RuntimeError(
            f"model.loss(batch, eps=model.last_eps) gave {again!r}, but the pass that drew the "
            f"noise gave {value!r}. Finite differences need a deterministic loss: store every "
            "random draw of loss() in self.last_eps and reuse it when eps= is passed"
        )


def _noise_scale(value: float, parts: Mapping[str, Any] | None) -> float:
    """|loss| plus its logged parts: recon + KL may cancel in the total."""
    return abs(value) + sum(abs(float(v)) for v in dict(parts or {}).values()
                            if isinstance(v, numbers.Real) and np.isfinite(float(v)))


def _select_params(model: Any, params: Sequence[str] | None) -> dict[str, np.ndarray]:
    """name -> parameter array of the parameters to check (default: all)."""
    all_params = {name: p for name, p, _ in model.parameters()}
    if params is not None and (isinstance(params, str) or not isinstance(params, Sequence)
                               or not all(isinstance(n, str) for n in params)):
        raise TypeError(f"params must be None or a list of parameter names, got "
                        f"{type(params).__name__} {params!r:.60}")
    names = list(all_params) if params is None else list(params)
    unknown = [n for n in names if n not in all_params]
    if unknown:
        raise ValueError(f"unknown parameter names {unknown}; the model has {list(all_params)}")
    return {n: all_params[n] for n in names}


def check_model(
    model: Any,
    batch: Any,
    *,
    rng: np.random.Generator | int = 0,
    tol: float = DEFAULT_TOL,
    h: float = DEFAULT_H,
    max_entries: int | None = 30,
    params: Sequence[str] | None = None,
    loss_kwargs: Mapping[str, Any] | None = None,
    check_accumulation: bool = True,
) -> list[GradCheckResult]:
    """Gradient check of a model through ``loss(batch, rng, eps)`` / ``backward()`` (module doc).

    Args:
        max_entries: entries checked per parameter (random, from ``rng``); ``None`` = all.
            Each entry costs two full forward passes.
        params: names of the parameters to check (default: all).
        loss_kwargs: extra keyword arguments for every ``loss`` call (e.g. ``{"mask": mask}``).

    Raises:
        RuntimeError: if ``loss(batch, eps=model.last_eps)`` does not reproduce the loss.
    """
    rng = check_rng(rng)
    tol = check_scalar(tol, "tol", low=0.0, low_inclusive=False)
    kwargs = dict(loss_kwargs or {})
    require_float64(model, {})
    targets = _select_params(model, params)

    model.zero_grad()
    value, parts = model.loss(batch, rng=rng, **kwargs)
    eps = copy.deepcopy(getattr(model, "last_eps", None))
    model.backward()
    analytic = {name: g.copy() for name, _, g in model.parameters()}

    def loss() -> float:  # the same noise on every evaluation
        return scalar_loss(model.loss(batch, eps=eps, **kwargs)[0])

    value = scalar_loss(value)
    _require_replay(value, loss())
    f_scale = _noise_scale(value, parts)
    results = [check_gradient(loss, p, analytic[name], name=name, h=h, tol=tol,
                              max_entries=max_entries, rng=rng, f_scale=f_scale)
               for name, p in targets.items()]
    if check_accumulation:
        model.loss(batch, eps=eps, **kwargs)
        model.backward()
        twice = {name: g for name, _, g in model.parameters()}
        results += [compare_accumulation(name, twice[name], analytic[name], tol)
                    for name in targets]
    return results
