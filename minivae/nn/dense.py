"""Fully connected (affine) layer, also applied per time step on sequences."""

from __future__ import annotations

import numpy as np

from minivae._validation import check_array, check_positive_int, check_rng
from minivae.nn.layer import Layer


class Dense(Layer):
    """Affine map ``y = x @ W + b``.

    Shapes:
        x: (N, D) or (N, T, D) — on sequences the same weights act at every time step
           ("time-distributed"), so it also serves as the per-step output projection.
        W: (D, M), b: (M,)
        y: (N, M) or (N, T, M)

    Initialisation: Glorot/Xavier uniform by default (``init="glorot"``), or He
    (``init="he"``, for ReLU stacks); biases start at zero.

    ``input_grad=False`` tells the layer that nobody needs d(loss)/dx, typically because x is
    the data (the first layer of an encoder): :meth:`backward` then still accumulates the
    parameter gradients but skips the product ``dy @ W.T`` and returns ``None``.  That product
    costs as much as the forward pass (for the 784 -> 400 layer of the MNIST VAE on a batch of
    128, about a tenth of the training step).  The flag is the attribute ``input_grad`` and may
    be changed at any time.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        rng: np.random.Generator | int = 0,
        init: str = "glorot",
        dtype: object = np.float64,
        input_grad: bool = True,
    ) -> None:
        super().__init__(dtype)
        if not isinstance(input_grad, (bool, np.bool_)):
            raise TypeError(f"input_grad must be a bool, got {type(input_grad).__name__}")
        self.input_grad = bool(input_grad)
        self.in_features = check_positive_int(in_features, "in_features")
        self.out_features = check_positive_int(out_features, "out_features")
        rng = check_rng(rng)
        if init == "glorot":
            limit = np.sqrt(6.0 / (in_features + out_features))
        elif init == "he":
            limit = np.sqrt(6.0 / in_features)
        else:
            raise ValueError(f"init must be 'glorot' or 'he', got {init!r}")
        self.add_param("W", rng.uniform(-limit, limit, size=(in_features, out_features)))
        self.add_param("b", np.zeros(out_features))

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = check_array(x, "x", ndim=(2, 3), dtype=self.dtype)
        if x.shape[-1] != self.in_features:
            raise ValueError(
                f"x must have {self.in_features} features on its last axis, got shape {x.shape}"
            )
        self.save_for_backward(x)
        y = x @ self.params["W"]
        y += self.params["b"]  # in place: one (N, M) array instead of two
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray | None:
        """dy: like the output -> dx: like x, or ``None`` when ``input_grad`` is False.

        Adds x^T dy to ``grads["W"]`` and the column sums of dy to ``grads["b"]``.
        """
        x = self._need_cache()
        dy = np.asarray(dy, dtype=self.dtype)
        expected = x.shape[:-1] + (self.out_features,)
        if dy.shape != expected:
            raise ValueError(f"dy must have shape {expected}, got {dy.shape}")
        # Flatten (N, T) into one batch axis: every step contributes to the shared W and b.
        x2 = x.reshape(-1, self.in_features)
        dy2 = dy.reshape(-1, self.out_features)
        self.grads["W"] += x2.T @ dy2
        self.grads["b"] += dy2.sum(axis=0)
        if not self.input_grad:
            return None  # the caller does not use dx: skip a product as large as the forward
        return dy @ self.params["W"].T

    def __repr__(self) -> str:
        extra = "" if self.input_grad else ", input_grad=False"
        return f"Dense({self.in_features}, {self.out_features}{extra})"
