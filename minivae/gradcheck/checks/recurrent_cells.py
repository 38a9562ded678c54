"""Gradient checks of the vanilla RNN (tanh and relu) and the GRU: one layer, stacked, with
lengths and with a mask, a repeated input, one cell step; and the cell-type factory's LSTM/GRU/RNN
run through its tuple-state adapter (float64, small random sizes, tolerance 1e-7: everything is
smooth; the relu RNN's pre-activations are checked to stay away from the kink at 0)."""

from __future__ import annotations

import numpy as np

from minivae.gradcheck.checks._common import randomise_biases
from minivae.gradcheck.checks.lstm import sizes
from minivae.gradcheck.layer_check import check_layer
from minivae.gradcheck.registry import register_check
from minivae.nn.gru import GRU, GRUCell
from minivae.nn.recurrent import CELL_TYPES, make_recurrent, run, run_backward
from minivae.nn.rnn import RNN, RNNCell

# relu: a central difference with step h is exact only if no pre-activation is within ~h of 0
KINK_MARGIN = 1e-3


def _make(kind: str, D: int, H: int, num_layers: int, rng: np.random.Generator):
    if kind == "gru":
        layer = GRU(D, H, num_layers=num_layers, rng=rng)
    else:
        layer = RNN(D, H, num_layers=num_layers, nonlinearity=kind, rng=rng)
    randomise_biases(layer, rng)
    return layer


def _relu_clear(layer, x: np.ndarray, h0: np.ndarray, mask: np.ndarray | None) -> bool:
    """True when no relu pre-activation of the forward sits within KINK_MARGIN of 0."""
    layer.forward(x, h0, mask=mask)
    for sub in layer.layers:
        for step in sub.cache[0].steps:
            x_t, h_prev, Wx, Wh = step[:4]
            if np.min(np.abs(x_t @ Wx + h_prev @ Wh + sub.params["b"])) < KINK_MARGIN:
                return False
    return True


def check_one_state(kind: str, num_layers: int, masking: str | None):
    def check(rng: np.random.Generator):
        for _ in range(1000):  # redraw (relu only) until no pre-activation sits at the kink
            N, T, D, H = sizes(rng)
            layer = _make(kind, D, H, num_layers, rng)
            state = (N, H) if num_layers == 1 else (num_layers, N, H)
            x, h0 = rng.standard_normal((N, T, D)), rng.standard_normal(state)
            mask = None
            if masking == "lengths":
                mask = np.arange(T) < rng.integers(1, T + 1, size=N)[:, None]
            elif masking == "mask":
                mask = rng.random((N, T)) < 0.6
            if kind != "relu" or _relu_clear(layer, x, h0, mask):
                break

        def forward(x, h0):
            return layer.forward(x, h0, mask=mask)

        return check_layer(layer, {"x": x, "h0": h0}, forward_fn=forward, rng=rng)

    return check


def check_repeated(kind: str):
    """z: (N, D) fed at each of T steps of a 2-layer stack, with lengths: dz sums the steps."""
    def check(rng: np.random.Generator):
        N, T, D, H = sizes(rng)
        layer = _make(kind, D, H, 2, rng)
        lengths = rng.integers(1, T + 1, size=N)
        return check_layer(layer, {"z": rng.standard_normal((N, D))},
                           forward_fn=lambda z: layer.forward(z, lengths=lengths, steps=T),
                           rng=rng)

    return check


def check_cell(cls: type):
    def check(rng: np.random.Generator):
        N, _, D, H = sizes(rng)
        cell = cls(D, H, rng=rng)
        randomise_biases(cell, rng)

        def forward(x_t, h):
            cell.reset()  # each finite-difference evaluation is a fresh single step
            return cell.forward(x_t, h)

        inputs = {"x_t": rng.standard_normal((N, D)), "h_prev": rng.standard_normal((N, H))}
        return check_layer(cell, inputs, forward_fn=forward, rng=rng)

    return check


def check_factory(cell: str):
    """``make_recurrent(cell, ...)`` run through ``run`` / ``run_backward`` (tuple states)."""
    def check(rng: np.random.Generator):
        N, T, D, H = sizes(rng)
        layer = make_recurrent(cell, D, H, num_layers=2, rng=rng)
        lengths = rng.integers(1, T + 1, size=N)
        h0 = rng.standard_normal((2, N, H))
        return check_layer(
            layer, {"x": rng.standard_normal((N, T, D)), "h0": h0},
            forward_fn=lambda x, h0: run(layer, x, (h0,) + (None,) * (cell == "lstm"),
                                         lengths=lengths),
            backward_fn=lambda dhs, *dstate: _first_two(run_backward(layer, dhs, dstate)),
            rng=rng)

    return check


def _first_two(out: tuple) -> tuple:
    """(dx, (dh0, ...)) -> (dx, dh0): the inputs the factory check perturbs."""
    return out[0], out[1][0]


for _kind in ("tanh", "relu", "gru"):
    _name = "gru" if _kind == "gru" else f"rnn.{_kind}"
    register_check(_name, check_one_state(_kind, 1, None))
    register_check(f"{_name}.stacked", check_one_state(_kind, 2, None))
    register_check(f"{_name}.lengths", check_one_state(_kind, 1, "lengths"))
    register_check(f"{_name}.stacked_mask", check_one_state(_kind, 2, "mask"))
    register_check(f"{_name}.repeated", check_repeated(_kind))
register_check("rnn_cell", check_cell(RNNCell))
register_check("gru_cell", check_cell(GRUCell))
for _cell in CELL_TYPES:
    register_check(f"recurrent.make_recurrent.{_cell}", check_factory(_cell))
