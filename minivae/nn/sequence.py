"""Small helpers for sequence models: length masks and repeating a vector over time.

There is no ``TimeDistributed`` wrapper: :class:`~minivae.nn.dense.Dense` (and so ``MLP``)
already accepts ``x: (N, T, D)`` and applies the same weights at every time step, which is all
a time-distributed output projection needs.
"""

from __future__ import annotations

import numpy as np

from minivae._validation import check_array, check_positive_int
from minivae.nn.layer import Layer


def lengths_to_mask(lengths: np.ndarray, T: int, *, name: str = "lengths",
                    N: int | None = None) -> np.ndarray:
    """Turn sequence lengths into a prefix mask.

    Inputs:
        lengths: (N,) integers in [1, T] — sequence n occupies time steps 0 .. lengths[n]-1.
        T: number of time steps of the padded batch.
        name: argument name used in error messages.
        N: the batch size lengths must have (None: any).

    Returns:
        mask: (N, T) bool, ``mask[n, t] = t < lengths[n]`` (True = valid step).

    Example: ``lengths_to_mask([2, 3], 3)`` is ``[[True, True, False], [True, True, True]]``.
    """
    T = check_positive_int(T, "T")
    lengths = np.asarray(lengths)
    if N is not None and lengths.shape != (N,):
        raise ValueError(f"{name} must have shape (N,)=({N},), got {lengths.shape}")
    if lengths.dtype.kind not in "iu":
        # Floats such as 2.5 have no meaning as a length; refuse rather than truncate.
        raise TypeError(f"{name} must hold integers, got dtype {lengths.dtype}")
    lengths = check_array(lengths, name, ndim=1)
    too_short = lengths < 1
    too_long = lengths > T
    if np.any(too_short) or np.any(too_long):
        bad = lengths[too_short | too_long]
        raise ValueError(
            f"{name} must lie in [1, T={T}], got values {bad.tolist()} "
            f"(min {int(lengths.min())}, max {int(lengths.max())})"
        )
    return np.arange(T)[None, :] < lengths[:, None]


class RepeatVector(Layer):
    """Repeat a vector at every time step: the bridge from a latent code to a sequence decoder.

    Shapes:
        x: (N, L) -> y: (N, T, L) with ``y[:, t] = x`` for every t.

    Backward: x was used T times, so its gradient is the sum of the T step gradients,
    ``dx = dy.sum(axis=1)``.
    """

    def __init__(self, T: int, dtype: object = np.float64) -> None:
        super().__init__(dtype)
        self.T = check_positive_int(T, "T")

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = check_array(x, "x", ndim=2, dtype=self.dtype)
        self.save_for_backward(x.shape)
        # np.repeat makes a real copy (broadcast_to would return a read-only view).
        return np.repeat(x[:, None, :], self.T, axis=1)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        N, L = self._need_cache()
        dy = np.asarray(dy, dtype=self.dtype)
        if dy.shape != (N, self.T, L):
            raise ValueError(f"dy must have shape {(N, self.T, L)}, got {dy.shape}")
        return dy.sum(axis=1)

    def __repr__(self) -> str:
        return f"RepeatVector(T={self.T})"


class StackedLayers(Layer):
    """Base of the multi-layer recurrent stacks (:class:`~minivae.nn.lstm.LSTM`,
    :class:`~minivae.nn.rnn.RNN`, :class:`~minivae.nn.gru.GRU`): state shapes follow the depth,
    (N, H) for one layer and (num_layers, N, H) above, index l = layer l (like PyTorch).
    Subclasses set ``num_layers`` and ``hidden_size``."""

    num_layers: int
    hidden_size: int

    def _state_shape(self, N: int) -> tuple[int, ...]:
        H = self.hidden_size
        return (N, H) if self.num_layers == 1 else (self.num_layers, N, H)

    def _per_layer(self, s: np.ndarray) -> list[np.ndarray]:
        """(N, H) or (L, N, H) -> list of L arrays (N, H)."""
        return [s] if self.num_layers == 1 else list(s)

    def _stack(self, states: list[np.ndarray]) -> np.ndarray:
        return states[0] if self.num_layers == 1 else np.stack(states)
