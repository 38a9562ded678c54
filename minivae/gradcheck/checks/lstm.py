"""Gradient checks of the LSTM: one layer, stacked, with lengths and with a mask, a repeated
input, one cell step, and the two sequence decoders (float64, small random sizes, tolerance
1e-7: everything is smooth)."""

from __future__ import annotations

import numpy as np

from minivae.gradcheck.checks._common import randomise_biases
from minivae.gradcheck.layer_check import check_layer
from minivae.gradcheck.registry import register_check
from minivae.nn.decoders import AutoregressiveDecoder, RepeatDecoder
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


def check_repeated(rng: np.random.Generator):
    """z: (N, D) fed at each of T steps of a 2-layer LSTM, with lengths: dz sums the steps."""
    N, T, D, H = sizes(rng)
    lstm = LSTM(D, H, num_layers=2, rng=rng)
    lengths = rng.integers(1, T + 1, size=N)
    return check_layer(lstm, {"z": rng.standard_normal((N, D))},
                       forward_fn=lambda z: lstm.forward(z, lengths=lengths, steps=T), rng=rng)


def check_cell(rng: np.random.Generator):
    N, _, D, H = sizes(rng)
    cell = LSTMCell(D, H, rng=rng)

    def forward(x_t, h, c):
        cell.reset()  # each finite-difference evaluation is a fresh single step
        return cell.forward(x_t, h, c)

    inputs = {"x_t": rng.standard_normal((N, D)), "h_prev": rng.standard_normal((N, H)),
              "c_prev": rng.standard_normal((N, H))}
    return check_layer(cell, inputs, forward_fn=forward, rng=rng)


def check_repeat_decoder(rng: np.random.Generator):
    N, T, L, H = sizes(rng)
    decoder = RepeatDecoder(L, H, 2, num_layers=2, rng=rng)
    randomise_biases(decoder, rng)
    return check_layer(decoder, {"z": rng.standard_normal((N, L))},
                       forward_fn=lambda z: decoder.forward(z, T), rng=rng)


def check_ar_decoder(num_layers: int, teacher_forcing: float | None):
    """The autoregressive decoder: free running (None) or the true value fed with this
    probability per entry (the gradient flows through every fed-back prediction)."""

    def check(rng: np.random.Generator):
        N, T, D, H = sizes(rng)
        L = int(rng.integers(1, 4))
        decoder = AutoregressiveDecoder(L, D, H, 2 * D, num_layers=num_layers, rng=rng)
        randomise_biases(decoder, rng)
        x = feed = None
        if teacher_forcing is not None:
            x = rng.standard_normal((N, T, D))
            feed = rng.random((N, T, D)) < teacher_forcing
        return check_layer(decoder, {"z": rng.standard_normal((N, L))},
                           forward_fn=lambda z: decoder.forward(z, T, x, feed), rng=rng)

    return check


register_check("lstm", check_lstm(1, None))
register_check("lstm.stacked", check_lstm(2, None))
register_check("lstm.lengths", check_lstm(1, "lengths"))
register_check("lstm.stacked_mask", check_lstm(2, "mask"))
register_check("lstm.repeated", check_repeated)
register_check("lstm_cell", check_cell)
register_check("lstm_decoder.repeat", check_repeat_decoder)
register_check("lstm_decoder.autoregressive.free", check_ar_decoder(1, None))
register_check("lstm_decoder.autoregressive.tf05", check_ar_decoder(1, 0.5))
register_check("lstm_decoder.autoregressive.stacked_tf05", check_ar_decoder(2, 0.5))
register_check("lstm_decoder.autoregressive.stacked_tf1", check_ar_decoder(2, 1.0))
