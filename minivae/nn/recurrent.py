"""Placeholder for the recurrent-cell chooser (LSTM only until the GRU and RNN layers land;
replaced by the full module of the same name when that branch is merged)."""

from __future__ import annotations

import numpy as np

from minivae.nn.layer import Layer
from minivae.nn.lstm import LSTM, LSTMCell

CELL_TYPES = ("lstm",)


def _check(cell: object) -> None:
    if not isinstance(cell, str) or cell not in CELL_TYPES:
        raise ValueError(f"cell must be one of {CELL_TYPES}, got {cell!r}")
    if cell != "lstm":
        raise NotImplementedError(f"cell={cell!r} is not available yet (LSTM only)")


def make_recurrent(cell: str, input_size: int, hidden_size: int, *, num_layers: int = 1,
                   rng: np.random.Generator | int = 0, dtype: object = np.float64) -> Layer:
    """A recurrent layer over whole sequences by cell name."""
    _check(cell)
    return LSTM(input_size, hidden_size, num_layers=num_layers, rng=rng, dtype=dtype)


def make_cell(cell: str, input_size: int, hidden_size: int, *,
              rng: np.random.Generator | int = 0, dtype: object = np.float64) -> Layer:
    """A single-step recurrent cell by name."""
    _check(cell)
    return LSTMCell(input_size, hidden_size, rng=rng, dtype=dtype)
