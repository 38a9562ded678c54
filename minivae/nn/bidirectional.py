r"""A bidirectional recurrent encoder: read each sequence forwards and backwards, keep both ends.

A unidirectional encoder's final state has read x_1 first and x_T last, so the start of a
sequence has been through the most forget gates by the time it reaches the code.  A
bidirectional encoder (Schuster & Paliwal, 1997) adds a second recurrent stack that reads the
sequence **reversed**, and the code sees both final states::

    h^f_t = RNN_f(x_t, h^f_{t-1}),   t = 1 .. T_n          (the forward stack)
    h^b_t = RNN_b(x_t, h^b_{t+1}),   t = T_n .. 1          (the reverse stack)
    h     = [h^f_{T_n}, h^b_1]                              (N, 2H): the top layers' final h

Variable lengths: sequence n is reversed **within its own length** T_n (the last valid step + 1),
so the reverse stack starts at x_{T_n}, not at the padding after it.  The reversal is the index
map ``t -> T_n - 1 - t`` for ``t < T_n`` (padding stays where it is), its own inverse, so the
same :func:`reverse_within_lengths` maps the reverse stack's input gradient back.  Steps the
mask marks invalid *inside* a sequence (holes) are mirrored with it and skipped by both stacks
(the recurrent layers carry their state over them).

Each direction is a whole stack of ``num_layers`` layers (layer l+1 reads layer l's outputs
*of the same direction*).  PyTorch's ``bidirectional=True`` instead feeds layer l+1 with both
directions' outputs concatenated; with one layer the two are the same model.

Any cell type (``"lstm"``, ``"gru"``, ``"rnn"``) of :mod:`minivae.nn.recurrent`, run through
its tuple-state adapter (``(h, c)`` for the LSTM, ``(h,)`` for the others).

forward(x, *, mask=None) -> h
    x: (N, T, D);  mask: (N, T) bool (True = valid step) or None;  h: (N, 2H)
backward(dh) -> dx
    dh: (N, 2H);  dx: (N, T, D) (0 at invalid steps).  Parameter gradients are *added*.
"""

from __future__ import annotations

import numpy as np

from minivae._validation import check_array, check_positive_int, check_rng
from minivae.nn.inference import chunk_shape, chunks
from minivae.nn.layer import Layer
from minivae.nn.recurrent import check_cell_type, make_recurrent, num_states, run, run_backward


def final_state(rnn: Layer, x: np.ndarray, mask: np.ndarray | None,
                steps: int) -> tuple[np.ndarray, ...]:
    """Run ``rnn`` over x: (N, T, D) in chunks of ``steps`` time steps, carrying the state from
    one chunk to the next (the same numbers as one pass; :mod:`minivae.nn.inference`).

    Returns the final state as a tuple ((h, c) for the LSTM, (h,) otherwise), each entry (N, H)
    for one layer or (num_layers, N, H).  Training must use ``steps = T`` (one pass: backward
    reads its cache)."""
    state = None  # zeros
    for t in chunks(x.shape[1], steps):
        _, state = run(rnn, x[:, t], state, mask=None if mask is None else mask[:, t])
    return state  # type: ignore[return-value]


def _valid_lengths(mask: np.ndarray | None, N: int, T: int) -> np.ndarray:
    """(N,) the last valid step + 1 of each sequence (T without a mask; 0 if none is valid)."""
    if mask is None:
        return np.full(N, T, dtype=np.intp)
    last = T - np.argmax(mask[:, ::-1], axis=1)  # index of the last True, + 1
    return np.where(mask.any(axis=1), last, 0).astype(np.intp)


def reverse_within_lengths(x: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """x: (N, T, ...) -> a copy with x[n, :lengths[n]] reversed and the rest in place.

    lengths: (N,) integers in [0, T].  Its own inverse: reversing twice gives x back (so it
    also maps gradients back)."""
    if not isinstance(x, np.ndarray) or x.ndim < 2:
        raise ValueError(f"x must be an array (N, T, ...) with at least 2 dimensions, got "
                         f"{type(x).__name__} {getattr(x, 'shape', '')}")
    N, T = x.shape[:2]
    lengths = np.asarray(lengths)
    if lengths.dtype.kind not in "iu" or lengths.shape != (N,):
        raise ValueError(f"lengths must be (N,)=({N},) integers, got {lengths.dtype} "
                         f"{lengths.shape}")
    if lengths.size and (lengths.min() < 0 or lengths.max() > T):
        raise ValueError(f"lengths must lie in [0, T={T}], got min {lengths.min()}, max "
                         f"{lengths.max()}")
    t = np.arange(T)[None, :]
    idx = np.where(t < lengths[:, None], lengths[:, None] - 1 - t, t)  # (N, T)
    return x[np.arange(N)[:, None], idx]


class Bidirectional(Layer):
    """Forward and reverse recurrent stacks; their top layers' final h concatenated (module
    docstring).

    Layers (attribute: parameter prefix): ``forward_rnn`` and ``reverse_rnn``, each the layer
    :func:`~minivae.nn.recurrent.make_recurrent` builds (D -> H, ``num_layers``), e.g.
    ``forward_rnn.layers.0.Wx``.
    """

    def __init__(self, cell: str, input_size: int, hidden_size: int, *, num_layers: int = 1,
                 rng: np.random.Generator | int = 0, dtype: object = np.float64) -> None:
        super().__init__(dtype)
        rng = check_rng(rng)
        self.input_size = check_positive_int(input_size, "input_size")
        self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        self.num_layers = check_positive_int(num_layers, "num_layers")
        self.cell = check_cell_type(cell)
        self.forward_rnn = make_recurrent(cell, input_size, hidden_size, num_layers=num_layers,
                                          rng=rng, dtype=dtype)
        self.reverse_rnn = make_recurrent(cell, input_size, hidden_size, num_layers=num_layers,
                                          rng=rng, dtype=dtype)

    def _top(self, state: tuple[np.ndarray, ...]) -> np.ndarray:
        return state[0] if self.num_layers == 1 else state[0][-1]

    def forward(self, x: np.ndarray, *, mask: np.ndarray | None = None) -> np.ndarray:
        x = check_array(x, "x", ndim=3, dtype=self.dtype)
        N, T, _ = x.shape
        if mask is not None:
            mask = check_array(mask, "mask", shape=(N, T))
            if mask.dtype != bool:
                raise TypeError(f"mask must be boolean (True = valid step), got {mask.dtype}")
        lengths = _valid_lengths(mask, N, T)
        x_rev = reverse_within_lengths(x, lengths)
        mask_rev = None if mask is None else reverse_within_lengths(mask, lengths)
        if self.training:  # one pass per direction: backward reads their caches
            self.save_for_backward((lengths, (N, T)))
            return self._both(x, mask, x_rev, mask_rev, T)
        rows, steps = chunk_shape(N, T, self.hidden_size)
        h = np.empty((N, 2 * self.hidden_size), dtype=self.dtype)
        for r in chunks(N, rows):
            h[r] = self._both(x[r], None if mask is None else mask[r], x_rev[r],
                              None if mask_rev is None else mask_rev[r], steps)
        return h

    def _both(self, x, mask, x_rev, mask_rev, steps: int) -> np.ndarray:
        h_f = self._top(final_state(self.forward_rnn, x, mask, steps))
        h_b = self._top(final_state(self.reverse_rnn, x_rev, mask_rev, steps))
        return np.concatenate([h_f, h_b], axis=1)

    def backward(self, dh: np.ndarray) -> np.ndarray:
        lengths, (N, T) = self._need_cache()
        H = self.hidden_size
        dh = self._check_dy(dh, (N, 2 * H), self.dtype)
        grads = []
        for rnn, d in ((self.forward_rnn, dh[:, :H]), (self.reverse_rnn, dh[:, H:])):
            if self.num_layers > 1:  # only the top layer's final h was used
                top, d = d, np.zeros((self.num_layers, N, H), dtype=self.dtype)
                d[-1] = top
            # dhs None: the outputs were not used; nor the final c of an LSTM (None = zeros)
            dstate = (d,) + (None,) * (num_states(self.cell) - 1)
            grads.append(run_backward(rnn, None, dstate)[0])
        return grads[0] + reverse_within_lengths(grads[1], lengths)

    def __repr__(self) -> str:
        return (f"Bidirectional({self.cell!r}, {self.input_size}, {self.hidden_size}, "
                f"num_layers={self.num_layers})")
