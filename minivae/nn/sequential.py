"""Containers: a chain of layers, and the multilayer perceptron built from it."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from minivae._validation import check_positive_int, check_rng
from minivae.nn import inference
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
        x = self._input(x)
        if not self.training and np.ndim(x) > 0 and len(x) > inference.BATCH_ROWS:
            # Inference (eval mode): rows go through in bounded chunks (every layer here acts
            # row by row), so the hidden activations of a large batch never exist all at once.
            return np.concatenate([self.forward(x[r])
                                   for r in inference.chunks(len(x), inference.BATCH_ROWS)])
        for layer in self.layers:
            x = layer.forward(x)
        self.save_for_backward(True)
        return x

    def backward(self, dy: np.ndarray) -> np.ndarray | None:
        """Chain rule in reverse order.  Returns d(loss)/dx, or ``None`` when the first layer
        skips its input gradient (``Dense(..., input_grad=False)``)."""
        self._need_cache()
        for i in range(len(self.layers) - 1, -1, -1):
            dy = self.layers[i].backward(dy)
            if dy is None and i > 0:
                raise RuntimeError(
                    f"layer {i} ({self.layers[i]!r}) returned no input gradient "
                    "(input_grad=False) but the layers before it need one; only the first "
                    "layer of a Sequential may skip it"
                )
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

    ``input_grad=False`` is for an MLP whose input is data (an encoder): the first Dense skips
    the product for d(loss)/dx and :meth:`backward` returns ``None`` (see :class:`Dense`).
    The attribute ``input_grad`` reads and sets that flag.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        *,
        activation: str = "relu",
        output_activation: str = "identity",
        rng: np.random.Generator | int = 0,
        dtype: object = np.float64,
        input_grad: bool = True,
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
        self.input_grad = input_grad

    @property
    def input_grad(self) -> bool:
        """Whether :meth:`backward` computes d(loss)/dx (the first Dense's flag)."""
        return self.layers[0].input_grad

    @input_grad.setter
    def input_grad(self, value: bool) -> None:
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"input_grad must be a bool, got {type(value).__name__}")
        self.layers[0].input_grad = bool(value)
