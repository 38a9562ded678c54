"""The Layer interface every building block and model shares.

A layer owns two dicts with the same keys:

* ``params[name]``: the trainable array,
* ``grads[name]``: d(loss)/d(params[name]), same shape and dtype.

``forward(x)`` computes the output and keeps in ``self.cache`` what ``backward`` needs
(:meth:`Layer.save_for_backward`; only in training mode: a layer in eval mode keeps nothing, so
inference holds no memory for a backward pass that will not come, see :mod:`minivae.nn.inference`);
``backward(dy)`` returns d(loss)/dx and *adds* the parameter gradients into ``grads``
(accumulation lets one parameter be used several times, e.g. a weight shared over time steps).
``zero_grad()`` clears them.  An optimizer and the gradient checker only use
:meth:`Layer.parameters`, which walks this layer and every child layer generically.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
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
        """Switch to inference mode (here and in children): forwards keep no cache."""
        return self.train(False)

    def sublayers(self) -> Iterator[Layer]:
        """This layer and every layer below it, depth first."""
        yield self
        for child in self.children().values():
            yield from child.sublayers()

    def release_caches(self) -> None:
        """Drop what the last forward kept for backward (here and in children), e.g. at the end
        of training: afterwards the layer holds its parameters and gradients only."""
        for layer in self.sublayers():
            layer.clear_cache()

    def clear_cache(self) -> None:
        """Drop this layer's own cache (a layer whose cache is not a single value overrides
        this)."""
        self.cache = None

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter by qualified name (what a checkpoint stores)."""
        return {name: p.copy() for name, p, _ in self.parameters()}

    def load_state_dict(self, state: Mapping[str, np.ndarray], *, cast: bool = False) -> None:
        """Copy arrays into the parameters in place; names and shapes must match exactly.

        Every array must be finite and have its parameter's dtype: a float32 array is refused
        by a float64 layer (and the other way round) unless ``cast=True``, which converts it
        to the layer's dtype (an entry that overflows the layer's dtype is then refused as
        non-finite).  Everything is checked before anything is copied, so a refused state
        leaves the layer unchanged.  Errors name the parameter.
        """
        if not isinstance(state, Mapping):
            raise TypeError(f"state must be a dict of arrays by parameter name, got "
                            f"{type(state).__name__}")
        own = {name: p for name, p, _ in self.parameters()}
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        if missing or unexpected:
            raise ValueError(
                f"state does not match this {type(self).__name__}: "
                f"missing {missing}, unexpected {unexpected}"
            )
        values = {name: _checked_value(name, state[name], p, cast) for name, p in own.items()}
        for name, p in own.items():
            p[...] = values[name]

    # -- computation --------------------------------------------------------------------------
    def forward(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def backward(self, dy: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """``layer(...)`` is ``layer.forward(...)``, with whatever arguments it takes."""
        return self.forward(*args, **kwargs)

    def save_for_backward(self, value: object) -> None:
        """Keep ``value`` in ``self.cache`` for :meth:`backward`, in training mode only: in eval
        mode (inference) nothing is kept, so no memory outlives the forward pass."""
        self.cache = value if self.training else None

    def _need_cache(self) -> object:
        if self.cache is None:
            if not self.training:
                raise RuntimeError(
                    f"{type(self).__name__}.backward called in eval mode: a layer in eval mode "
                    "keeps no cache; call train() before the forward you want to backpropagate"
                )
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


def _checked_value(name: str, value: object, param: np.ndarray, cast: bool) -> np.ndarray:
    """``value`` for parameter ``name``: the param's shape, finite, its dtype (or cast to it)."""
    if not isinstance(value, np.ndarray):
        raise TypeError(f"parameter {name!r}: expected a numpy array, got {type(value).__name__}")
    if value.shape != param.shape:
        raise ValueError(f"parameter {name!r}: expected shape {param.shape}, got {value.shape}")
    if value.dtype.kind == "f" and not np.isfinite(value).all():
        n_bad = int(value.size - np.count_nonzero(np.isfinite(value)))
        raise ValueError(f"parameter {name!r}: {n_bad} non-finite value(s) (NaN or inf); a "
                         "model's parameters must be finite")
    if value.dtype != param.dtype:
        if not cast or value.dtype.kind not in "fiu":
            raise TypeError(
                f"parameter {name!r}: expected dtype {param.dtype}, got {value.dtype}"
                + ("; pass cast=True to convert it" if value.dtype.kind in "fiu" else "")
            )
        with np.errstate(over="ignore"):
            value = value.astype(param.dtype)
        if not np.isfinite(value).all():
            n_bad = int(value.size - np.count_nonzero(np.isfinite(value)))
            raise ValueError(f"parameter {name!r}: {n_bad} value(s) overflow {param.dtype} "
                             "when cast=True converts them")
    return value
