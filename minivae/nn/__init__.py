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
from minivae.nn.bidirectional import Bidirectional
from minivae.nn.conditioned_decoder import ConditionedDecoder
from minivae.nn.decoders import (
    AutoregressiveDecoder,
    RepeatDecoder,
    autoregressive_backward,
    autoregressive_forward,
)
from minivae.nn.dense import Dense
from minivae.nn.gru import GRU, GRUCell, GRULayer, gru_backward, gru_forward
from minivae.nn.layer import Layer
from minivae.nn.lstm import (
    LSTM,
    LSTMCell,
    LSTMLayer,
    lstm_backward,
    lstm_backward_repeated,
    lstm_forward,
    lstm_forward_repeated,
    lstm_step_backward,
    lstm_step_forward,
)
from minivae.nn.masked_dense import MADE, MaskedDense, made_masks, made_order
from minivae.nn.recurrent import CELL_TYPES, make_cell, make_recurrent
from minivae.nn.rnn import RNN, RNNCell, RNNLayer, rnn_backward, rnn_forward
from minivae.nn.row_lstm_decoder import RowLSTMDecoder
from minivae.nn.sequence import RepeatVector, lengths_to_mask
from minivae.nn.sequential import MLP, Sequential

__all__ = [
    "ACTIVATIONS",
    "AutoregressiveDecoder",
    "Dense",
    "Identity",
    "Layer",
    "LSTM",
    "LSTMCell",
    "LSTMLayer",
    "LeakyReLU",
    "MLP",
    "ReLU",
    "RepeatDecoder",
    "RepeatVector",
    "Sequential",
    "Sigmoid",
    "Softplus",
    "Tanh",
    "autoregressive_backward",
    "autoregressive_forward",
    "get_activation",
    "lengths_to_mask",
    "lstm_backward",
    "lstm_backward_repeated",
    "lstm_forward",
    "lstm_forward_repeated",
    "lstm_step_backward",
    "lstm_step_forward",
    "CELL_TYPES", "GRU", "GRUCell", "GRULayer", "RNN", "RNNCell", "RNNLayer",
    "gru_backward", "gru_forward", "make_cell", "make_recurrent", "rnn_backward", "rnn_forward",
    "Bidirectional", "ConditionedDecoder",
    "MADE", "MaskedDense", "made_masks", "made_order",
    "RowLSTMDecoder",
]
