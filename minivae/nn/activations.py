"""Activation layers (no parameters), each with a numerically stable forward and its backward."""

from __future__ import annotations

import numpy as np

from minivae._validation import check_scalar
from minivae.nn.functional import sigmoid, softplus
from minivae.nn.layer import Layer


class Identity(Layer):
    """y = x."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = self._input(x)
        self.save_for_backward(x.shape)
        return x

    def backward(self, dy: np.ndarray) -> np.ndarray:
        shape = self._need_cache()
        return self._check_dy(dy, shape, self.dtype)


class ReLU(Layer):
    """y = max(x, 0).  The derivative at exactly 0 is taken as 0 (a kink: finite differences
    straddling 0 disagree there, so gradient checks keep inputs away from it).

    Written with ``np.maximum`` and a multiplication by the 0/1 mask rather than ``np.where``,
    which is several times slower with a scalar branch and a random mask (this layer runs twice
    per MLP step on every hidden activation).  A NaN input gives NaN (not 0), so it is not
    hidden from the checks downstream.
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = self._input(x)
        self.save_for_backward(x > 0)
        # The maximum against an array of zeros, not the scalar 0: NumPy vectorises only the
        # array-array loop of np.maximum (the scalar one took 4x as long).
        y = np.zeros_like(x)
        return np.maximum(x, y, out=y)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        positive = self._need_cache()
        dy = self._check_dy(dy, positive.shape, self.dtype)
        return np.multiply(dy, positive, dtype=self.dtype)  # dy where x > 0, else 0


class LeakyReLU(Layer):
    """y = x if x > 0 else alpha * x."""

    def __init__(self, alpha: float = 0.01, dtype: object = np.float64) -> None:
        super().__init__(dtype)
        self.alpha = check_scalar(alpha, "alpha", low=0.0)

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = self._input(x)
        positive = x > 0
        self.save_for_backward(positive)
        return np.where(positive, x, self.alpha * x).astype(self.dtype, copy=False)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        positive = self._need_cache()
        dy = self._check_dy(dy, positive.shape, self.dtype)
        return np.where(positive, dy, self.alpha * dy).astype(self.dtype, copy=False)

    def __repr__(self) -> str:
        return f"LeakyReLU(alpha={self.alpha})"


class Tanh(Layer):
    """y = tanh(x); dy/dx = 1 - y^2 (reuses the output, no second tanh)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        y = np.tanh(self._input(x))
        self.save_for_backward(y)
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        y = self._need_cache()
        dy = self._check_dy(dy, y.shape, self.dtype)
        return dy * (1.0 - y * y)


class Sigmoid(Layer):
    """y = 1 / (1 + exp(-x)) in the overflow-free form; dy/dx = y (1 - y)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        y = sigmoid(self._input(x)).astype(self.dtype, copy=False)
        self.save_for_backward(y)
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        y = self._need_cache()
        dy = self._check_dy(dy, y.shape, self.dtype)
        return dy * y * (1.0 - y)


class Softplus(Layer):
    """y = log(1 + exp(x)) in the stable form; dy/dx = sigmoid(x)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = self._input(x)
        self.save_for_backward(x)
        return softplus(x).astype(self.dtype, copy=False)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        x = self._need_cache()
        dy = self._check_dy(dy, x.shape, self.dtype)
        return (dy * sigmoid(x)).astype(self.dtype, copy=False)


ACTIVATIONS: dict[str, type[Layer]] = {
    "identity": Identity,
    "linear": Identity,
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "tanh": Tanh,
    "sigmoid": Sigmoid,
    "softplus": Softplus,
}


def get_activation(name: str, dtype: object = np.float64) -> Layer:
    """Build an activation layer by name (one of :data:`ACTIVATIONS`)."""
    key = str(name).lower()
    if key not in ACTIVATIONS:
        raise ValueError(f"name: activation must be one of {sorted(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[key](dtype=dtype)
