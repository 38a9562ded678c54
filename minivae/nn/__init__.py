"""Building blocks: every layer has ``forward``/``backward`` and ``params``/``grads`` dicts."""

from minivae.nn.activations import (
    ACTIVATIONS,
    Identity,
    LeakyReLU,
    ReLU,
    Sigmoid,
    Softplus,
    Tanh,
    get_activation,
)
from minivae.nn.dense import Dense
from minivae.nn.layer import Layer
from minivae.nn.lstm import LSTM, LSTMCell, LSTMLayer, lstm_step_backward, lstm_step_forward
from minivae.nn.sequence import RepeatVector, lengths_to_mask
from minivae.nn.sequential import MLP, Sequential

__all__ = [
    "ACTIVATIONS",
    "Dense",
    "Identity",
    "Layer",
    "LSTM",
    "LSTMCell",
    "LSTMLayer",
    "LeakyReLU",
    "MLP",
    "ReLU",
    "RepeatVector",
    "Sequential",
    "Sigmoid",
    "Softplus",
    "Tanh",
    "get_activation",
    "lengths_to_mask",
    "lstm_step_backward",
    "lstm_step_forward",
]
