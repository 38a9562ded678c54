"""Gradient checks of the LSTM: one layer, stacked, with lengths and with a mask, and one cell
step (float64, small random sizes, tolerance 1e-7: everything is smooth)."""

from __future__ import annotations

import numpy as np

from minivae.gradcheck.layer_check import check_layer
from minivae.gradcheck.registry import register_check
from minivae.nn.lstm import LSTM, LSTMCell


def sizes(rng: np.random.Generator) -> tuple[int, int, int, int]:
    N, T, D, H = (int(v) for v in rng.integers(1, 4, size=4))
    return N, T + 1, D, H

def check_lstm(num_layers: int, masking: str | None):
    def check(rng: np.random.Generator):
        N, T, D, H = sizes(rng)
        lstm = LSTM(D, H, num_layers=num_layers, rng=rng)
        state = (N, H) if num_layers == 1 else (num_layers, N, H)
        x = rng.standard_normal((N, T, D))
        h0, c0 = rng.standard_normal(state), rng.standard_normal(state)
        mask = lengths = None
        if masking == "lengths":
            lengths = rng.integers(1, T + 1, size=N)
        elif masking == "mask":
            mask = rng.random((N, T)) < 0.6

        def forward(x, h0, c0):
            return lstm.forward(x, h0, c0, mask=mask, lengths=lengths)

        return check_layer(lstm, {"x": x, "h0": h0, "c0": c0}, forward_fn=forward, rng=rng)

    return check

def check_cell(rng: np.random.Generator):
    N, _, D, H = sizes(rng)
    cell = LSTMCell(D, H, rng=rng)

    def forward(x_t, h, c):
        cell.reset()  # each finite-difference evaluation is a fresh single step
        return cell.forward(x_t, h, c)

    inputs = {"x_t": rng.standard_normal((N, D)), "h_prev": rng.standard_normal((N, H)),
              "c_prev": rng.standard_normal((N, H))}
    return check_layer(cell, inputs, forward_fn=forward, rng=rng)

register_check("lstm", check_lstm(1, None))
register_check("lstm.stacked", check_lstm(2, None))
register_check("lstm.lengths", check_lstm(1, "lengths"))
register_check("lstm.stacked_mask", check_lstm(2, "mask"))
register_check("lstm_cell", check_cell)
