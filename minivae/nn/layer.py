"""The Layer interface every building block and model shares.

A layer owns two dicts with the same keys:

* ``params[name]``: the trainable array,
* ``grads[name]``: d(loss)/d(params[name]), same shape and dtype.

``forward(x)`` computes the output and keeps in ``self.cache`` what ``backward`` needs;
``backward(dy)`` returns d(loss)/dx and *adds* the parameter gradients into ``grads``
(accumulation lets one parameter be used several times, e.g. a weight shared over time steps).
``zero_grad()`` clears them.  An optimizer and the gradient checker only use
:meth:`Layer.parameters`, which walks this layer and every child layer generically.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from minivae._validation import as_dtype, check_array


class Layer:
    """Base class: parameters, gradients, children and the forward/backward contract."""

    def __init__(self, dtype: object = np.float64) -> None:
        self.dtype = as_dtype(dtype)
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.cache: object = None
        self.training = True

    # -- parameters ---------------------------------------------------------------------------
    def add_param(self, name: str, value: np.ndarray) -> np.ndarray:
        """Register a trainable array and its zero gradient under ``name``."""
        if not isinstance(name, str) or not name or "." in name:
            raise ValueError(f"parameter name must be a non-empty str without '.', got {name!r}")
        value = check_array(value, "value", dtype=self.dtype)  # finite, real, no silent cast
        value = np.ascontiguousarray(value)
        self.params[name] = value
        self.grads[name] = np.zeros_like(value)
        return value

    def children(self) -> dict[str, Layer]:
        """Sub-layers by name (attributes that are Layers, and Layers inside lists/tuples)."""
        found: dict[str, Layer] = {}
        for attr, value in vars(self).items():
            if attr.startswith("_") or attr == "cache":
                continue
            if isinstance(value, Layer):
                found[attr] = value
            elif isinstance(value, (list, tuple)):
                for i, item in enumerate(value):
                    if isinstance(item, Layer):
                        found[f"{attr}.{i}"] = item
        return found

    def parameters(self, prefix: str = "") -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
        """Yield ``(qualified_name, param, grad)`` for this layer and all children, in order."""
        for name, value in self.params.items():
            yield prefix + name, value, self.grads[name]
        for child_name, child in self.children().items():
            yield from child.parameters(prefix + child_name + ".")

    def num_parameters(self) -> int:
        """Total number of trainable scalars."""
        return int(sum(p.size for _, p, _ in self.parameters()))

    def zero_grad(self) -> None:
        """Set every gradient (here and in children) to zero, in place."""
        for _, _, g in self.parameters():
            g.fill(0.0)

    def train(self, mode: bool = True) -> Layer:
        """Switch training mode (here and in children); returns self."""
        self.training = mode
        for child in self.children().values():
            child.train(mode)
        return self

    def eval(self) -> Layer:
        """Switch to inference mode."""
        return self.train(False)

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter by qualified name (what a checkpoint stores)."""
        return {name: p.copy() for name, p, _ in self.parameters()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Copy arrays into the parameters in place; names, shapes and dtypes must match exactly."""
        own = {name: p for name, p, _ in self.parameters()}
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        if missing or unexpected:
            raise ValueError(
                f"state does not match this {type(self).__name__}: "
                f"missing {missing}, unexpected {unexpected}"
            )
        for name, p in own.items():
            value = np.asarray(state[name])
            if value.shape != p.shape:
                raise ValueError(
                    f"parameter {name!r}: expected shape {p.shape}, got {value.shape}"
                )
            p[...] = value.astype(p.dtype, copy=False)

    # -- computation --------------------------------------------------------------------------
    def forward(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def backward(self, dy: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """``layer(...)`` is ``layer.forward(...)``, with whatever arguments it takes."""
        return self.forward(*args, **kwargs)

    def _need_cache(self) -> object:
        if self.cache is None:
            raise RuntimeError(
                f"{type(self).__name__}.backward called before forward: run forward first "
                "(backward uses the values forward cached)"
            )
        return self.cache

    def _input(self, x: object, name: str = "x") -> np.ndarray:
        """x as an array of the layer's dtype; complex, strings, None and objects are refused
        (no pass over the values: a layer runs inside a model that validated its data)."""
        x = np.asarray(x)
        if x.dtype.kind not in "fiub":
            raise TypeError(f"{name} must hold real numbers, got dtype {x.dtype}")
        return x.astype(self.dtype, copy=False)

    @staticmethod
    def _check_dy(dy: object, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """The upstream gradient must have the output's shape exactly (no broadcasting)."""
        dy = np.asarray(dy, dtype=dtype)
        if dy.shape != shape:
            raise ValueError(f"dy must have the output's shape {shape}, got {dy.shape}")
        return dy

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
