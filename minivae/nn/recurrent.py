"""Choose the recurrent cell by name: ``"lstm"``, ``"gru"`` or ``"rnn"``.

A model that offers "any cell type" (the LSTM-AE / LSTM-VAE options, the VRNN) builds its
recurrent parts here and runs them through one small adapter, so it never branches on the cell:

* :func:`make_recurrent` — a (stacked) layer over whole sequences:
  :class:`~minivae.nn.lstm.LSTM`, :class:`~minivae.nn.gru.GRU` or :class:`~minivae.nn.rnn.RNN`.
* :func:`make_cell` — one step: :class:`~minivae.nn.lstm.LSTMCell`,
  :class:`~minivae.nn.gru.GRUCell` or :class:`~minivae.nn.rnn.RNNCell`.

The adapter sees the recurrent *state* as a tuple: ``(h, c)`` for the LSTM, ``(h,)`` for the GRU
and the RNN (:func:`num_states` says how many).  Each entry is (N, H), or (num_layers, N, H) for
a stacked layer with num_layers > 1.  ``None`` (the whole state, or one entry) means zeros, for
initial states and for their gradients alike.

* ``run(layer, x, state=None, *, mask=None, lengths=None, steps=None) -> (hs, state_T)``
* ``run_backward(layer, dhs, dstate_T=None) -> (dx, dstate_0)``
* ``step(cell, x_t, state=None) -> state``  (the new state; its output is ``state[0]``)
* ``step_backward(cell, dstate) -> (dx, dstate_prev)``  (LIFO, as the cells)

Example: an encoder that uses its final hidden state, whatever the cell::

    enc = make_recurrent(cell, D, H, rng=rng)
    hs, state = run(enc, x, lengths=lengths)       # state[0] = hT: (N, H)
    ...
    dx, dstate0 = run_backward(enc, None, (dhT,))  # the c entry of an LSTM defaults to zeros
"""

from __future__ import annotations

import numpy as np

from minivae.nn.gru import GRU, GRUCell
from minivae.nn.layer import Layer
from minivae.nn.lstm import LSTM, LSTMCell
from minivae.nn.rnn import RNN, RNNCell

CELL_TYPES = ("lstm", "gru", "rnn")

_LAYERS = {"lstm": LSTM, "gru": GRU, "rnn": RNN}
_CELLS = {"lstm": LSTMCell, "gru": GRUCell, "rnn": RNNCell}
State = tuple[np.ndarray, ...]


def check_cell_type(cell: object, name: str = "cell") -> str:
    """``cell`` is one of :data:`CELL_TYPES` (lower case), else an error naming ``name``."""
    if not isinstance(cell, str) or cell not in CELL_TYPES:
        raise ValueError(f"{name} must be one of {CELL_TYPES}, got {cell!r}")
    return cell


def make_recurrent(cell: str, input_size: int, hidden_size: int, *, num_layers: int = 1,
                   rng: np.random.Generator | int = 0, dtype: object = np.float64) -> Layer:
    """A recurrent layer over whole sequences: ``LSTM``, ``GRU`` or ``RNN`` (tanh) by name.

    Parameters are named ``layers.{l}.<name>`` whatever the cell (``Wx, Wh, b`` and, for the
    GRU, ``bhn``)."""
    cls = _LAYERS[check_cell_type(cell)]
    return cls(input_size, hidden_size, num_layers=num_layers, rng=rng, dtype=dtype)


def make_cell(cell: str, input_size: int, hidden_size: int, *,
              rng: np.random.Generator | int = 0, dtype: object = np.float64) -> Layer:
    """A single-step recurrent cell (LIFO cache stack): ``LSTMCell``, ``GRUCell`` or
    ``RNNCell`` (tanh) by name."""
    return _CELLS[check_cell_type(cell)](input_size, hidden_size, rng=rng, dtype=dtype)


def cell_type(layer: object, name: str = "layer") -> str:
    """The name in :data:`CELL_TYPES` of a layer or cell made here (by its class), else an
    error naming the argument ``name``."""
    for kind, classes in ((n, (_LAYERS[n], _CELLS[n])) for n in CELL_TYPES):
        if isinstance(layer, classes):
            return kind
    raise TypeError(f"{name} must be an LSTM, GRU or RNN layer or cell (minivae.nn), got "
                    f"{type(layer).__name__}")


def num_states(cell: str | Layer) -> int:
    """Entries of the state tuple: 2 for the LSTM (h, c), 1 for the GRU and the RNN (h,)."""
    kind = check_cell_type(cell) if isinstance(cell, str) else cell_type(cell, "cell")
    return 2 if kind == "lstm" else 1


def _state(state: object, n: int, name: str) -> tuple[object, ...]:
    """``None`` -> n Nones; a tuple/list of n entries -> that tuple; else an error."""
    if state is None:
        return (None,) * n
    if not isinstance(state, (tuple, list)) or len(state) != n:
        what = "(h, c)" if n == 2 else "(h,)"
        raise ValueError(f"{name} must be None or a tuple {what} of {n} array(s) for this cell, "
                         f"got {type(state).__name__}"
                         + (f" of length {len(state)}" if isinstance(state, (tuple, list))
                            else ""))
    return tuple(state)


def run(layer: Layer, x: np.ndarray, state: State | None = None, *,
        mask: np.ndarray | None = None, lengths: np.ndarray | None = None,
        steps: int | None = None) -> tuple[np.ndarray, State]:
    """``layer.forward`` with the state as a tuple: returns ``(hs, state_T)``, ``hs: (N, T, H)``,
    ``state_T = (hT, cT)`` (LSTM) or ``(hT,)`` (GRU, RNN)."""
    s = _state(state, num_states(cell_type(layer)), "state")  # (checks layer first)
    hs, final = layer.forward(x, *s, mask=mask, lengths=lengths, steps=steps)
    return hs, (tuple(final) if isinstance(final, tuple) else (final,))


def run_backward(layer: Layer, dhs: np.ndarray | None, dstate_T: State | None = None
                 ) -> tuple[np.ndarray, State]:
    """``layer.backward`` with the state gradient as a tuple: returns ``(dx, dstate_0)``."""
    ds = _state(dstate_T, num_states(cell_type(layer)), "dstate_T")  # (checks layer first)
    dx, *dstate0 = layer.backward(dhs, *ds)
    return dx, tuple(dstate0)


def step(cell: Layer, x_t: np.ndarray, state: State | None = None) -> State:
    """One ``cell.forward`` with the state as a tuple: returns the new state ((h, c) or (h,));
    the step's output is ``state[0]``."""
    s = _state(state, num_states(cell_type(cell, "cell")), "state")  # (checks cell first)
    out = cell.forward(x_t, *s)
    return tuple(out) if isinstance(out, tuple) else (out,)


def step_backward(cell: Layer, dstate: State) -> tuple[np.ndarray, State]:
    """One ``cell.backward`` (LIFO) with the state gradient as a tuple; ``dstate[0]`` is the
    *total* dL/dh of that step.  Returns ``(dx, dstate_prev)``."""
    n = num_states(cell_type(cell, "cell"))
    dh, *rest = _state(dstate, n, "dstate")
    if dh is None:
        raise ValueError("dstate[0] (dL/dh of the step) must be an array, got None")
    dx, *dprev = cell.backward(dh, *rest)
    return dx, tuple(dprev)
