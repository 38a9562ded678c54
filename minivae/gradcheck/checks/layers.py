"""Gradient checks of the layers: Dense (2-D and time-distributed), every activation, MLPs.

ReLU/LeakyReLU inputs (also hidden pre-activations inside an MLP) are kept at least
``KINK_MARGIN`` away from the kink at 0, far more than the ``10*h`` a central difference needs;
everything else is smooth, so every check uses the default tolerance 1e-7.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from minivae.gradcheck.checks._common import (
    away_from_kink,
    kinks_clear,
    random_input,
    randomise_biases,
    size,
)
from minivae.gradcheck.layer_check import check_layer
from minivae.gradcheck.registry import register_check
from minivae.gradcheck.result import GradCheckResult
from minivae.nn import MLP, Dense, Identity, LeakyReLU, ReLU, Sigmoid, Softplus, Tanh
from minivae.nn.layer import Layer


def _dense_check(sequence: bool) -> Callable[[np.random.Generator], list]:
    """Dense on x: (N, D), or on x: (N, T, D) with ``sequence`` (time-distributed)."""
    def check(rng: np.random.Generator) -> list[GradCheckResult]:
        D, M = size(rng), size(rng)
        layer = Dense(D, M, rng=rng)
        randomise_biases(layer, rng)
        return check_layer(layer, random_input(rng, D, sequence=sequence), rng=rng)

    return check


register_check("dense", _dense_check(sequence=False))
register_check("dense.time_distributed", _dense_check(sequence=True))


_ACTIVATIONS: dict[str, Callable[[], Layer]] = {
    "identity": Identity,
    "relu": ReLU,
    "leaky_relu": lambda: LeakyReLU(alpha=0.2),
    "tanh": Tanh,
    "sigmoid": Sigmoid,
    "softplus": Softplus,
}


def _activation_check(make: Callable[[], Layer]) -> Callable[[np.random.Generator], list]:
    def check(rng: np.random.Generator) -> list[GradCheckResult]:
        layer = make()
        x = 2.0 * random_input(rng, size(rng))
        if isinstance(layer, (ReLU, LeakyReLU)):
            x = away_from_kink(x)
        return check_layer(layer, x, rng=rng)

    return check


for _name, _make in _ACTIVATIONS.items():
    register_check(f"activation.{_name}", _activation_check(_make))


def _mlp_check(activation: str, output_activation: str, sequence: bool) -> Callable:
    def check(rng: np.random.Generator) -> list[GradCheckResult]:
        sizes = [size(rng), size(rng, 2, 4), size(rng, 2, 4), size(rng)]
        for _ in range(1000):  # redraw until no hidden unit sits at a kink
            mlp = MLP(sizes, activation=activation, output_activation=output_activation,
                      rng=rng)
            randomise_biases(mlp, rng)
            x = random_input(rng, sizes[0], sequence=sequence)
            if kinks_clear(mlp, x):
                return check_layer(mlp, x, rng=rng)
        raise RuntimeError(  # pragma: no cover - probability ~0 at these sizes
            f"could not draw an MLP {sizes} and input away from the ReLU kinks")

    return check


register_check("mlp.relu", _mlp_check("relu", "identity", False))
register_check("mlp.tanh_sigmoid", _mlp_check("tanh", "sigmoid", False))
register_check("mlp.leaky_relu_softplus_3d", _mlp_check("leaky_relu", "softplus", True))
