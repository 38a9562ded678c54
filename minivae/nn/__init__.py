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
from minivae.nn.sequential import MLP, Sequential

__all__ = [
    "ACTIVATIONS",
    "Dense",
    "Identity",
    "Layer",
    "LeakyReLU",
    "MLP",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softplus",
    "Tanh",
    "get_activation",
]
