r"""Gradient check of a layer: its input gradient(s) and every parameter gradient.

The layer is turned into a scalar loss with a random upstream gradient ``dy`` (standard normal)::

    L = sum(y * dy)      so that      dL/dy = dy

which is exactly what ``backward(dy)`` receives in a network.  Steps: ``zero_grad()``,
``forward``, ``backward(dy)`` (the analytic gradients), then central differences of ``L`` for
every entry of every input and parameter (re-running forward each time), and finally a second
forward+backward *without* ``zero_grad``, which must double every parameter gradient (backward
accumulates).

Several inputs or outputs — the adapter pattern
-----------------------------------------------
The inputs dict is passed to ``forward_fn`` (default ``layer.forward``) *positionally* in dict
order.  If the output is a (nested) tuple it is flattened into its arrays, each gets its own
random ``dy``, and ``backward_fn`` (default ``layer.backward``) is called with those gradients in
the same order.  What backward returns (an array or a tuple) is matched to the inputs by
position; extra trailing returns are ignored.  So an LSTM with
``forward(x, h0, c0) -> (hs, (hT, cT))`` and ``backward(dhs, dhT, dcT) -> (dx, dh0, dc0)`` needs
no adapter at all::

    check_layer(lstm, {"x": x, "h0": h0, "c0": c0})

Anything else takes a two-line adapter, e.g. a mask that is not differentiated and only the
sequence output used::

    check_layer(lstm, {"x": x},
                forward_fn=lambda x: lstm.forward(x, mask=mask)[0],
                backward_fn=lambda dhs: lstm.backward(dhs)[0])

``loss_fn(outputs) -> (loss, douts)`` replaces ``sum(y * dy)`` when backward must see a
particular loss (``outputs`` is the flattened list; ``douts`` the matching gradients).

Kinks: keep every input of ReLU/LeakyReLU at ``|x| > 10*h`` from 0 (a warning is issued when a
ReLU/LeakyReLU layer's input is not).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from minivae._validation import check_rng, check_scalar
from minivae.gradcheck.checkers import as_grad_dict, check_gradient, copy_inputs, require_float64
from minivae.gradcheck.compare import compare_accumulation
from minivae.gradcheck.numerical import DEFAULT_H, DEFAULT_TOL
from minivae.gradcheck.result import GradCheckResult
from minivae.nn.activations import LeakyReLU, ReLU

Outputs = list[np.ndarray | None]


def flatten(out: object) -> Outputs:
    """Leaves of a (nested) tuple/list of arrays, in order: (hs, (hT, cT)) -> [hs, hT, cT]."""
    if isinstance(out, (tuple, list)):
        leaves: Outputs = []
        for item in out:
            leaves.extend(flatten(item))
        return leaves
    return [None if out is None else np.asarray(out)]


def _warn_near_kink(layer: object, arrays: Mapping[str, np.ndarray], h: float) -> None:
    if not isinstance(layer, (ReLU, LeakyReLU)):
        return
    for k, v in arrays.items():
        close = int(np.count_nonzero(np.abs(v) <= 10 * h))
        if close:
            warnings.warn(
                f"{close} entries of input {k!r} lie within 10*h = {10 * h:.0e} of the kink "
                f"of {type(layer).__name__} at 0; the numeric gradient is meaningless there. "
                "Move them away (e.g. x[np.abs(x) < 1e-3] += 0.1).",
                stacklevel=3,
            )


def _names_to_check(wrt: str | Sequence[str], inputs: Sequence[str],
                    params: Sequence[str]) -> list[str]:
    """The arrays ``wrt`` selects: "all", "inputs", "params", or a list of names."""
    if wrt == "all":
        return [*inputs, *params]
    if wrt == "inputs":
        return list(inputs)
    if wrt == "params":
        return list(params)
    names = [wrt] if isinstance(wrt, str) else list(wrt)
    unknown = [n for n in names if n not in inputs and n not in params]
    if unknown:
        raise KeyError(f"wrt names {unknown} are neither inputs {list(inputs)} nor parameters "
                       f"{list(params)}")
    return names


def _upstream(outs: Outputs, dy: object, rng: np.random.Generator) -> Outputs:
    """One upstream gradient per output: the given ``dy`` (checked) or standard normal."""
    if dy is None:
        return [None if y is None else rng.standard_normal(y.shape) for y in outs]
    douts = flatten(dy)
    if len(douts) != len(outs) or any(
        (d is None) != (y is None) or (d is not None and d.shape != y.shape)
        for d, y in zip(douts, outs)
    ):
        raise ValueError(
            f"dy must match the forward output(s): shapes "
            f"{[None if y is None else y.shape for y in outs]}, got "
            f"{[None if d is None else d.shape for d in douts]}"
        )
    return douts


@dataclass
class _Objective:
    """The scalar a layer's outputs are turned into, its gradients, and its noise scale."""

    value_and_grads: Callable[[Outputs], tuple[float, Outputs]]
    f_scale: float


def _objective(outs: Outputs, dy: object, loss_fn: Callable[..., Any] | None,
               rng: np.random.Generator) -> _Objective:
    """``L = sum(y * dy)`` over the outputs (noise scale ``sum|y * dy|``), or ``loss_fn``."""
    if loss_fn is not None:
        return _Objective(loss_fn, abs(float(loss_fn(outs)[0])))
    douts = _upstream(outs, dy, rng)

    def value_and_grads(ys: Outputs) -> tuple[float, Outputs]:
        return sum(float(np.sum(y * d)) for y, d in zip(ys, douts) if y is not None), douts

    scale = sum(float(np.sum(np.abs(y * d))) for y, d in zip(outs, douts) if y is not None)
    return _Objective(value_and_grads, scale)


def _backward_pass(objective: _Objective, run_forward: Callable[[], Outputs],
                   backward: Callable[..., Any]) -> Any:
    """One forward + backward of ``objective``; returns what backward returned."""
    _, douts = objective.value_and_grads(run_forward())
    return backward(*douts)


def check_layer(
    layer: Any,
    x: np.ndarray | Mapping[str, np.ndarray],
    *,
    dy: np.ndarray | Sequence[np.ndarray] | None = None,
    rng: np.random.Generator | int = 0,
    tol: float = DEFAULT_TOL,
    h: float = DEFAULT_H,
    wrt: str | Sequence[str] = "all",
    max_entries: int | None = None,
    forward_fn: Callable[..., Any] | None = None,
    backward_fn: Callable[..., Any] | None = None,
    loss_fn: Callable[[list[np.ndarray]], tuple[float, list[np.ndarray]]] | None = None,
    check_accumulation: bool = True,
) -> list[GradCheckResult]:
    """Gradient check of ``layer`` (``forward``, ``backward``, ``parameters()``, ``zero_grad()``)
    through ``L = sum(y * dy)``; see the module docstring for the steps and the adapters.

    Args:
        x: the input array, or a dict ``{name: array}`` of several inputs.  Copied; float64.
        dy: upstream gradient(s), same shape(s) as the output(s); random (from ``rng``) if None.
        rng: generator or seed for dy (and the entry subsets).
        tol: tolerance on the relative error (1e-7 for smooth functions in float64).
        wrt: "all", "inputs", "params", or a list of input/parameter names.
        max_entries: check at most this many random entries per array (None: all).
        forward_fn, backward_fn, loss_fn: adapters (module docstring).
        check_accumulation: also verify that a second forward+backward *without* zero_grad
            doubles every parameter gradient; adds results named ``"<param> (accumulates)"``.

    Returns:
        One :class:`GradCheckResult` per input, per parameter (and per accumulation test).
    """
    rng = check_rng(rng)
    tol = check_scalar(tol, "tol", low=0.0, low_inclusive=False)
    h = check_scalar(h, "h", low=0.0, low_inclusive=False)
    inputs = copy_inputs({"x": x} if not isinstance(x, Mapping) else x)
    arrays = {k: v for k, v in inputs.items() if isinstance(v, np.ndarray)}  # None: not checked
    require_float64(layer, arrays)
    _warn_near_kink(layer, arrays, h)
    params = {name: p for name, p, _ in layer.parameters()}
    names = _names_to_check(wrt, list(arrays), list(params))
    backward = backward_fn if backward_fn is not None else layer.backward
    forward = forward_fn if forward_fn is not None else layer.forward

    def run_forward() -> Outputs:
        return flatten(forward(*inputs.values()))

    objective = _objective(run_forward(), dy, loss_fn, rng)
    # Analytic gradients: one clean forward + backward.  The grads are read again through
    # parameters() (not arrays captured earlier), so a backward that rebinds self.grads[name]
    # instead of adding in place is seen as it is.
    layer.zero_grad()
    returned = _backward_pass(objective, run_forward, backward)
    analytic = {k: g for k, g in as_grad_dict(returned, list(inputs), "backward").items()
                if k in arrays}
    analytic.update({name: g.copy() for name, _, g in layer.parameters()})

    def loss() -> float:
        return float(objective.value_and_grads(run_forward())[0])

    results = [check_gradient(loss, arrays[n] if n in arrays else params[n], analytic[n],
                              name=n, h=h, tol=tol, max_entries=max_entries, rng=rng,
                              f_scale=objective.f_scale)
               for n in names]
    if check_accumulation:  # grads still hold the first pass; one more must double them
        _backward_pass(objective, run_forward, backward)
        results += [compare_accumulation(name, g, analytic[name], tol)
                    for name, _, g in layer.parameters() if name in names]
    return results
