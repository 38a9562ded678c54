"""Gradient checks of the forecasting model :class:`~minivae.models.LSTMForecaster`: the
free-running rollout (gradient through every fed-back prediction), teacher forcing 0.5 with
missing values, stacked layers with full teacher forcing, and the "mse" output.  Float64,
tolerance 1e-7 (smooth functions); ``max_entries=12`` sampled entries per parameter."""

from __future__ import annotations

import numpy as np

from minivae.gradcheck.checks._common import randomise_biases, sequence_batch
from minivae.gradcheck.model_check import check_model
from minivae.gradcheck.registry import register_check
from minivae.models.lstm_forecaster import LSTMForecaster

_CHECKS = {
    # name: (output, teacher_forcing, masked, num_layers)
    "tf0": ("gaussian", 0.0, False, 1),
    "tf05_masked": ("gaussian", 0.5, True, 1),
    "stacked_tf1": ("gaussian", 1.0, False, 2),
    "mse_tf0": ("mse", 0.0, False, 1),
}


def make(spec):
    output, tf, masked, nl = spec

    def check(rng: np.random.Generator):
        N, W, k, D, H = (int(v) for v in rng.integers(1, 4, size=5))
        model = LSTMForecaster(D, H + 1, k + 1, latent_dim=int(rng.integers(1, 4)),
                               output=output, teacher_forcing=tf, num_layers=nl, rng=rng)
        randomise_biases(model, rng)
        batch, kwargs = sequence_batch(rng, N, W + k + 1, D, masked)
        return check_model(model, batch, rng=rng, loss_kwargs=kwargs, max_entries=12)

    return check


for name, spec in _CHECKS.items():
    register_check(f"models.lstm_forecaster.{name}", make(spec))
