"""Gradient checks of the encoder and decoder options of the sequence autoencoders: the
conditioned decoder (reads [x_{t-1}, z] at every step), the decoder started from the encoder's
final state, the bidirectional encoder, and the GRU / vanilla RNN cells in either place -- each
option alone, and the options in pairs (not every combination), for LSTMAutoencoder and
LSTMVAE; and the two layers behind them (:class:`~minivae.nn.conditioned_decoder.
ConditionedDecoder`, :class:`~minivae.nn.bidirectional.Bidirectional`) including their input
and initial-state gradients.  Float64, tolerance 1e-7 (every function here is smooth: the
masks and teacher-forcing draws are fixed, not differentiated); ``max_entries=12`` sampled
entries per parameter keep them quick."""

from __future__ import annotations

import numpy as np

from minivae.gradcheck.checks._common import randomise_biases, sequence_batch
from minivae.gradcheck.layer_check import check_layer
from minivae.gradcheck.model_check import check_model
from minivae.gradcheck.registry import register_check
from minivae.models import LSTMVAE, LSTMAutoencoder
from minivae.nn.bidirectional import Bidirectional
from minivae.nn.conditioned_decoder import ConditionedDecoder
from minivae.nn.recurrent import CELL_TYPES


def _sizes(rng: np.random.Generator) -> tuple[int, int, int, int, int]:
    N, T, D, H, L = (int(v) for v in rng.integers(1, 4, size=5))
    return N + 1, T + 1, D, H + 1, L


# ----------------------------------------------------------------------------------- layers
def check_conditioned_decoder(cell: str, initial: str, num_layers: int, teacher: float | None):
    """The conditioned decoder (reads [x_{t-1}, z]) with this cell and initial state; with
    initial="given" the gradient w.r.t. the given state is checked too."""

    def check(rng: np.random.Generator):
        N, T, D, H, L = _sizes(rng)
        dec = ConditionedDecoder(L, D, H, 2 * D, cell=cell, num_layers=num_layers,
                                 initial=initial, rng=rng)
        randomise_biases(dec, rng)
        x = feed = None
        if teacher is not None:
            x, feed = rng.standard_normal((N, T, D)), rng.random((N, T, D)) < teacher
        inputs = {"z": rng.standard_normal((N, L))}
        if initial != "given":
            return check_layer(dec, inputs, forward_fn=lambda z: dec.forward(z, T, x, feed),
                               rng=rng, max_entries=12)
        names = ("h0", "c0")[:dec.n_state]
        inputs.update({n: 0.5 * rng.standard_normal((num_layers, N, H)) for n in names})

        def backward(dy):
            dz, dstate = dec.backward_state(dy)
            return (dz, *dstate)

        return check_layer(dec, inputs, rng=rng, max_entries=12, backward_fn=backward,
                           forward_fn=lambda z, *s: dec.forward(z, T, x, feed, state=s))

    return check


def check_bidirectional(cell: str, num_layers: int, masked: bool):
    """The bidirectional encoder: its parameters and dx, with a step mask with holes and
    padding when ``masked`` (each sequence reversed within its own length)."""

    def check(rng: np.random.Generator):
        N, T, D, H, _ = _sizes(rng)
        enc = Bidirectional(cell, D, H, num_layers=num_layers, rng=rng)
        randomise_biases(enc, rng)
        mask = None
        if masked:
            mask = rng.random((N, T)) < 0.7
            mask[:, 0] = True  # every sequence has a valid step
        return check_layer(enc, {"x": rng.standard_normal((N, T, D))}, rng=rng,
                           forward_fn=lambda x: enc.forward(x, mask=mask), max_entries=12)

    return check


for _cell in CELL_TYPES:
    register_check(f"conditioned_decoder.{_cell}.tf05",
                   check_conditioned_decoder(_cell, "latent", 1, 0.5))
    register_check(f"conditioned_decoder.{_cell}.given_state_stacked",
                   check_conditioned_decoder(_cell, "given", 2, 0.5))
    register_check(f"bidirectional.{_cell}.masked", check_bidirectional(_cell, 1, True))
register_check("conditioned_decoder.lstm.free", check_conditioned_decoder("lstm", "latent", 2,
                                                                          None))
register_check("bidirectional.lstm.stacked_masked", check_bidirectional("lstm", 2, True))


# ----------------------------------------------------------------------------------- models
#: name: (options, masked, num_layers, teacher_forcing); each option alone, then in pairs
_AE_OPTIONS = {
    "conditioned": ({"decoder": "conditioned"}, True, 1, 0.5),
    "encoder_state": ({"decoder_state": "encoder"}, False, 1, 1.0),
    "bidirectional": ({"bidirectional": True}, True, 1, 1.0),
    "gru": ({"encoder_cell": "gru", "decoder_cell": "gru"}, False, 1, 1.0),
    "rnn": ({"encoder_cell": "rnn", "decoder_cell": "rnn", "decoder": "autoregressive"},
            True, 1, 0.5),
    "pair.conditioned_encoder_state": ({"decoder": "conditioned", "decoder_state": "encoder"},
                                       True, 2, 0.5),
    "pair.bidirectional_conditioned": ({"bidirectional": True, "decoder": "conditioned"},
                                       True, 1, 0.0),
    "pair.bidirectional_gru": ({"bidirectional": True, "encoder_cell": "gru"}, True, 2, 1.0),
    "pair.conditioned_gru": ({"decoder": "conditioned", "decoder_cell": "gru"}, False, 1, 0.5),
    "pair.encoder_state_gru": ({"decoder_state": "encoder", "encoder_cell": "gru",
                                "decoder_cell": "gru"}, True, 2, 1.0),
    "pair.encoder_state_rnn": ({"decoder": "conditioned", "decoder_state": "encoder",
                                "encoder_cell": "rnn", "decoder_cell": "rnn"}, False, 1, 1.0),
}

_VAE_OPTIONS = {
    "conditioned": ({"decoder": "conditioned"}, True, 1, 0.5),
    "bidirectional": ({"bidirectional": True}, True, 1, 1.0),
    "gru": ({"encoder_cell": "gru", "decoder_cell": "gru", "decoder": "autoregressive"},
            False, 1, 0.5),
    "rnn": ({"encoder_cell": "rnn", "decoder_cell": "rnn"}, True, 1, 1.0),
    "pair.bidirectional_conditioned": ({"bidirectional": True, "decoder": "conditioned"},
                                       True, 2, 0.5),
    "pair.conditioned_gru": ({"decoder": "conditioned", "decoder_cell": "gru"}, True, 1, 1.0),
    "pair.bidirectional_rnn": ({"bidirectional": True, "encoder_cell": "rnn"}, False, 1, 1.0),
    "pair.conditioned_rnn_stacked": ({"decoder": "conditioned", "encoder_cell": "gru",
                                      "decoder_cell": "rnn"}, False, 2, 0.0),
}


def check_options(model_class: type, spec: tuple):
    options, masked, num_layers, tf = spec
    options = dict(options)
    if tf != 1.0 and "decoder" not in options:
        raise ValueError("teacher forcing needs a decoder that reads previous values")
    likelihood = {"output": "gaussian"} if model_class is LSTMAutoencoder else {}

    def check(rng: np.random.Generator):
        N, T, D, H, L = _sizes(rng)
        model = model_class(D, H, L, num_layers=num_layers, teacher_forcing=tf, rng=rng,
                            **likelihood, **options)
        randomise_biases(model, rng)
        batch, kwargs = sequence_batch(rng, N, T, D, masked)
        return check_model(model, batch, rng=rng, loss_kwargs=kwargs, max_entries=12)

    return check


for _name, _spec in _AE_OPTIONS.items():
    register_check(f"models.lstm_ae.options.{_name}", check_options(LSTMAutoencoder, _spec))
for _name, _spec in _VAE_OPTIONS.items():
    register_check(f"models.lstm_vae.options.{_name}", check_options(LSTMVAE, _spec))
