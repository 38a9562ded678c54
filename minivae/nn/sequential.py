"""Containers: a chain of layers, and the multilayer perceptron built from it."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from minivae._validation import check_positive_int, check_rng
from minivae.nn.activations import get_activation
from minivae.nn.dense import Dense
from minivae.nn.layer import Layer


class Sequential(Layer):
    """Apply layers in order; backward runs them in reverse (the chain rule)."""

    def __init__(self, *layers: Layer, dtype: object = np.float64) -> None:
        super().__init__(dtype)
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"layer {i} must be a Layer, got {type(layer).__name__}")
        self.layers = list(layers)

    def forward(self, x: np.ndarray) -> np.ndarray:
        for layer in self.layers:
            x = layer.forward(x)
        self.cache = True
        return x

    def backward(self, dy: np.ndarray) -> np.ndarray:
        self._need_cache()
        for layer in reversed(self.layers):
            dy = layer.backward(dy)
        return dy

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, i: int) -> Layer:
        return self.layers[i]

    def __repr__(self) -> str:
        inner = ", ".join(repr(layer) for layer in self.layers)
        return f"{type(self).__name__}({inner})"


class MLP(Sequential):
    """Dense layers with an activation between them.

    ``MLP([784, 400, 20], activation="relu")`` is Dense(784, 400) -> ReLU -> Dense(400, 20);
    ``output_activation`` (default identity) follows the last Dense.
    x: (N, sizes[0]) or (N, T, sizes[0]) -> y: (N, sizes[-1]) or (N, T, sizes[-1]).
    """

    def __init__(
        self,
        sizes: Sequence[int],
        *,
        activation: str = "relu",
        output_activation: str = "identity",
        rng: np.random.Generator | int = 0,
        dtype: object = np.float64,
    ) -> None:
        sizes = [check_positive_int(s, f"sizes[{i}]") for i, s in enumerate(sizes)]
        if len(sizes) < 2:
            raise ValueError(f"sizes needs at least input and output sizes, got {sizes}")
        rng = check_rng(rng)
        init = "he" if activation in ("relu", "leaky_relu") else "glorot"
        layers: list[Layer] = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            last = i == len(sizes) - 2
            layers.append(Dense(a, b, rng=rng, init="glorot" if last else init, dtype=dtype))
            act = output_activation if last else activation
            if act not in ("identity", "linear"):
                layers.append(get_activation(act, dtype=dtype))
        super().__init__(*layers, dtype=dtype)
        self.sizes = sizes
