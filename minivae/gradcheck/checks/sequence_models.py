"""Gradient checks of the sequence models: LSTMAutoencoder and LSTMVAE with both decoders,
teacher forcing 0 / 0.5 / 1, stacked layers, masks, mask channels, free bits and beta
(float64, tolerance 1e-7; ``max_entries=12`` sampled entries per parameter keep them quick)."""

from __future__ import annotations

from minivae.gradcheck.checks._common import (
    randomise_biases,
    sequence_batch,
    set_free_bits_in_widest_gap,
)
from minivae.gradcheck.model_check import check_model
from minivae.gradcheck.registry import register_check
from minivae.models import LSTMVAE, LSTMAutoencoder

_AE_CHECKS = {
    # name: (decoder, output, teacher_forcing, masked, num_layers, mask_input)
    "repeat": ("repeat", "mse", 1.0, False, 1, False),
    "repeat.gaussian_masked": ("repeat", "gaussian", 1.0, True, 1, True),
    "repeat.stacked": ("repeat", "mse", 1.0, False, 2, False),
    "autoregressive.tf0": ("autoregressive", "mse", 0.0, False, 1, False),
    "autoregressive.tf05_masked": ("autoregressive", "gaussian", 0.5, True, 1, False),
    "autoregressive.tf1": ("autoregressive", "mse", 1.0, False, 1, False),
    "autoregressive.stacked_tf05": ("autoregressive", "mse", 0.5, False, 2, True),
    # tf1 without missing values: every decoder input known in advance (on the numba backend
    # the decoder's twin then runs one sequence LSTM per layer).
    "autoregressive.stacked_tf1": ("autoregressive", "gaussian", 1.0, False, 2, False),
}



def make(spec):
    decoder, output, tf, masked, nl, mask_input = spec

    def check(rng):
        N, T, D, H, L = (int(v) for v in rng.integers(1, 4, size=5))
        model = LSTMAutoencoder(D, H + 1, L, decoder=decoder, output=output,
                                teacher_forcing=tf, num_layers=nl, mask_input=mask_input,
                                rng=rng)
        randomise_biases(model, rng)
        batch, kwargs = sequence_batch(rng, N, T + 1, D, masked)
        return check_model(model, batch, rng=rng, loss_kwargs=kwargs, max_entries=12)

    return check

for name, spec in _AE_CHECKS.items():
    register_check(f"models.lstm_ae.{name}", make(spec))


_VAE_CHECKS = {
    # name: (decoder, likelihood, teacher_forcing, masked, num_layers, free_bits, beta)
    "repeat.gaussian": ("repeat", "gaussian", 1.0, False, 1, False, 1.0),
    "repeat.mse_masked": ("repeat", "mse", 1.0, True, 1, False, 1.0),
    "repeat.stacked_beta": ("repeat", "gaussian", 1.0, False, 2, False, 2.5),
    "repeat.free_bits": ("repeat", "gaussian", 1.0, False, 1, True, 1.0),
    "autoregressive.tf0": ("autoregressive", "gaussian", 0.0, False, 1, False, 1.0),
    "autoregressive.tf05_masked": ("autoregressive", "mse", 0.5, True, 1, False, 0.5),
    "autoregressive.tf1": ("autoregressive", "gaussian", 1.0, False, 1, False, 1.0),
    "autoregressive.stacked_tf05": ("autoregressive", "gaussian", 0.5, True, 2, False, 1.0),
    "autoregressive.stacked_tf1": ("autoregressive", "mse", 1.0, False, 2, False, 1.0),
}



def make(spec):
    decoder, likelihood, tf, masked, nl, free_bits, beta = spec

    def check(rng):
        N, T, D, H, L = (int(v) for v in rng.integers(1, 4, size=5))
        if free_bits:
            N, L = N + 1, L + 1
        model = LSTMVAE(D, H + 1, L, decoder=decoder, likelihood=likelihood,
                        teacher_forcing=tf, num_layers=nl, beta=beta, rng=rng)
        randomise_biases(model, rng)
        batch, kwargs = sequence_batch(rng, N, T + 1, D, masked)
        if free_bits:
            kl = model.kl_per_dimension(batch, mask=kwargs.get("mask"))
            set_free_bits_in_widest_gap(model, kl)
        return check_model(model, batch, rng=rng, loss_kwargs=kwargs, max_entries=12)

    return check

for name, spec in _VAE_CHECKS.items():
    register_check(f"models.lstm_vae.{name}", make(spec))
