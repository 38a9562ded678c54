"""The encoder/decoder options of LSTMAutoencoder and LSTMVAE (issue 18, item 3): the
conditioned decoder, the decoder state from the encoder, the bidirectional encoder and the cell
types.  Masks and lengths, config and checkpoint round trips, inference without caches (and
chunked inference = one pass), bad option values, the equivalences with the default decoders,
and the registered gradient checks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minivae.nn.inference as inf
from minivae.gradcheck.registry import REGISTRY, check_rng_for
from minivae.models import LSTMVAE, LSTMAutoencoder
from minivae.nn.bidirectional import Bidirectional, _valid_lengths, reverse_within_lengths
from minivae.nn.conditioned_decoder import ConditionedDecoder
from minivae.nn.decoders import AutoregressiveDecoder, RepeatDecoder
from minivae.nn.recurrent import CELL_TYPES
from minivae.train.checkpoint import load_checkpoint, save_checkpoint

OTHER_CELLS = [c for c in CELL_TYPES if c != "lstm"]

#: option sets (each alone and some pairs); name -> (kwargs, vae allowed)
OPTIONS = {
    "conditioned": ({"decoder": "conditioned", "teacher_forcing": 0.5}, True),
    "encoder_state": ({"decoder_state": "encoder"}, False),
    "conditioned_encoder_state": ({"decoder": "conditioned", "decoder_state": "encoder"}, False),
    "bidirectional": ({"bidirectional": True}, True),
    "bidirectional_conditioned": ({"bidirectional": True, "decoder": "conditioned"}, True),
    **{f"{c}_cells": ({"encoder_cell": c, "decoder_cell": c}, True) for c in OTHER_CELLS},
    **{f"{c}_autoregressive": ({"decoder_cell": c, "decoder": "autoregressive"}, True)
       for c in OTHER_CELLS},
    **{f"{c}_encoder_state": ({"encoder_cell": c, "decoder_cell": c, "decoder": "conditioned",
                               "decoder_state": "encoder"}, False) for c in OTHER_CELLS},
}
CASES = [(name, kind) for name, (_, vae_ok) in OPTIONS.items()
         for kind in (("ae", "vae") if vae_ok else ("ae",))]


def build(name: str, kind: str, *, D: int = 2, H: int = 5, L: int = 3, **extra):
    kwargs = {**OPTIONS[name][0], **extra}
    cls = LSTMAutoencoder if kind == "ae" else LSTMVAE
    return cls(D, H, L, rng=0, **kwargs)


def data(N=7, T=9, D=2, seed=0):
    return np.random.default_rng(seed).standard_normal((N, T, D))


# ------------------------------------------------------------------------ config, checkpoints
def test_default_configs_are_unchanged():
    """Old checkpoints keep loading: a model without options has exactly the old config keys."""
    old_ae = {"input_dim", "hidden_size", "latent_dim", "decoder", "num_layers",
              "teacher_forcing", "mask_input", "dtype", "output"}
    assert set(LSTMAutoencoder(1, 4, 2).config()) == old_ae
    assert not {"bidirectional", "decoder_state", "encoder_cell",
                "decoder_cell"} & set(LSTMVAE(1, 4, 2).config())


@pytest.mark.parametrize("name,kind", CASES)
def test_config_and_checkpoint_round_trip(name, kind, tmp_path):
    model = build(name, kind)
    config = model.config()
    for key, value in OPTIONS[name][0].items():
        assert config[key] == value
    rebuilt = type(model)(**config)
    X = data()
    for (n1, p1, _), (n2, p2, _) in zip(model.parameters(), rebuilt.parameters()):
        assert n1 == n2 and np.array_equal(p1, p2)
    model.fit(X, epochs=1, batch_size=4, lr=1e-2, rng=0, verbose=False)
    path = tmp_path / "m.npz"
    save_checkpoint(path, model)
    loaded = load_checkpoint(path).model
    assert loaded.config() == config
    np.testing.assert_array_equal(loaded.reconstruct(X), model.reconstruct(X))
    assert not np.allclose(model.reconstruct(X), rebuilt.reconstruct(X))  # training moved it


# --------------------------------------------------------------------------- bad values
@pytest.mark.parametrize("kwargs,match", [
    ({"decoder": "attention"}, "decoder must be one of"),
    ({"bidirectional": 1}, "bidirectional must be a bool"),
    ({"bidirectional": "yes"}, "bidirectional must be a bool"),
    ({"encoder_cell": "LSTM"}, "encoder_cell must be one of"),
    ({"decoder_cell": None}, "decoder_cell must be one of"),
    ({"decoder_state": "h"}, "decoder_state must be one of"),
    ({"decoder_state": "encoder", "decoder": "autoregressive"}, "z would be unused"),
    ({"decoder_state": "encoder", "bidirectional": True}, "bidirectional=False"),
    ({"decoder_state": "encoder", "decoder_cell": "gru"}, "one cell type"),
    ({"teacher_forcing": 0.5}, "only applies to decoder='autoregressive' or 'conditioned'"),
])
def test_bad_option_values_name_the_argument(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        LSTMAutoencoder(1, 4, 2, **kwargs)


def test_the_vae_refuses_the_encoder_state_and_says_why():
    with pytest.raises(ValueError, match="decoder_state='encoder' is not offered by LSTMVAE"):
        LSTMVAE(1, 4, 2, decoder="conditioned", decoder_state="encoder")
    with pytest.raises(ValueError, match="decoder_state must be one of"):
        LSTMVAE(1, 4, 2, decoder_state="zz")


def test_decode_from_z_alone_is_refused_with_the_encoder_state():
    model = build("encoder_state", "ae")
    with pytest.raises(ValueError, match="decoder_state='encoder'.*reconstruct"):
        model.decode(np.zeros((2, 3)), 4)


def test_layer_bad_arguments():
    with pytest.raises(ValueError, match="initial must be one of"):
        ConditionedDecoder(2, 1, 3, 1, initial="encoder")
    with pytest.raises(ValueError, match="cell must be one of"):
        ConditionedDecoder(2, 1, 3, 1, cell="lstm2")
    with pytest.raises(ValueError, match="read nothing"):
        ConditionedDecoder(2, 1, 3, 1, reads_previous=False, reads_latent=False)
    dec = ConditionedDecoder(2, 1, 3, 1, initial="given")
    with pytest.raises(TypeError, match="state must be a tuple of 2 arrays"):
        dec.forward(np.zeros((4, 2)), 3)
    with pytest.raises(ValueError, match=r"state\[1\] must have shape"):
        dec.forward(np.zeros((4, 2)), 3, state=(np.zeros((1, 4, 3)), np.zeros((4, 3))))
    with pytest.raises(ValueError, match="state is read only with initial='given'"):
        ConditionedDecoder(2, 1, 3, 1).forward(np.zeros((4, 2)), 3,
                                               state=(np.zeros((1, 4, 3)),) * 2)
    with pytest.raises(ValueError, match="reads z only"):
        ConditionedDecoder(2, 1, 3, 1, reads_previous=False, initial="zeros").forward(
            np.zeros((4, 2)), 3, np.zeros((4, 3, 1)), np.ones((4, 3, 1), dtype=bool))
    with pytest.raises(TypeError, match="mask must be boolean"):
        Bidirectional("lstm", 1, 3).forward(np.zeros((2, 3, 1)), mask=np.ones((2, 3)))


# ------------------------------------------------------------------ equivalences, layers
@pytest.mark.parametrize("num_layers", [1, 2])
def test_conditioned_decoder_without_z_input_is_the_autoregressive_decoder(num_layers):
    rng = np.random.default_rng(1)
    N, T, D, H, L = 3, 6, 2, 4, 3
    ar = AutoregressiveDecoder(L, D, H, 2 * D, num_layers=num_layers, rng=1)
    cd = ConditionedDecoder(L, D, H, 2 * D, num_layers=num_layers, reads_latent=False, rng=2)
    cd.load_state_dict(ar.state_dict())
    z, x = rng.standard_normal((N, L)), rng.standard_normal((N, T, D))
    feed = rng.random((N, T, D)) < 0.5
    np.testing.assert_allclose(cd.forward(z, T, x, feed), ar.forward(z, T, x, feed),
                               rtol=1e-12, atol=1e-14)
    dy = rng.standard_normal((N, T, 2 * D))
    np.testing.assert_allclose(cd.backward(dy), ar.backward(dy), rtol=1e-11, atol=1e-13)
    for (name, _, g1), (_, _, g2) in zip(cd.parameters(), ar.parameters()):
        np.testing.assert_allclose(g1, g2, rtol=1e-11, atol=1e-13, err_msg=name)


def test_conditioned_decoder_reading_z_only_is_the_repeat_decoder():
    rng = np.random.default_rng(2)
    N, T, H, L = 3, 5, 4, 2
    rep = RepeatDecoder(L, H, 3, num_layers=2, rng=1)
    cd = ConditionedDecoder(L, 1, H, 3, num_layers=2, reads_previous=False, initial="zeros",
                            rng=2)
    cd.load_state_dict({k.replace("lstm.layers.", "cells."): v
                        for k, v in rep.state_dict().items()})
    z = rng.standard_normal((N, L))
    np.testing.assert_allclose(cd.forward(z, T), rep.forward(z, T), rtol=1e-12, atol=1e-14)
    dy = rng.standard_normal((N, T, 3))
    np.testing.assert_allclose(cd.backward(dy), rep.backward(dy), rtol=1e-11, atol=1e-13)


def test_the_default_models_keep_the_default_decoders():
    assert type(LSTMAutoencoder(1, 4, 2).decoder) is RepeatDecoder
    assert type(LSTMVAE(1, 4, 2, decoder="autoregressive").decoder) is AutoregressiveDecoder
    assert type(LSTMVAE(1, 4, 2, decoder="conditioned").decoder) is ConditionedDecoder
    assert type(LSTMAutoencoder(1, 4, 2, decoder_state="encoder").decoder) is ConditionedDecoder
    enc = LSTMAutoencoder(1, 4, 2, bidirectional=True).encoder
    assert type(enc) is Bidirectional
    assert LSTMAutoencoder(1, 4, 2, bidirectional=True).to_latent.in_features == 8


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 6), min_size=1, max_size=5), st.integers(0, 2**31 - 1))
def test_reverse_within_lengths_is_its_own_inverse(lengths, seed):
    T = 6
    lengths = np.asarray(lengths)
    x = np.random.default_rng(seed).standard_normal((len(lengths), T, 2))
    r = reverse_within_lengths(x, lengths)
    np.testing.assert_array_equal(reverse_within_lengths(r, lengths), x)
    for n, ln in enumerate(lengths):
        np.testing.assert_array_equal(r[n, :ln], x[n, :ln][::-1])
        np.testing.assert_array_equal(r[n, ln:], x[n, ln:])


def test_valid_lengths_is_the_last_valid_step_plus_one():
    mask = np.array([[1, 1, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0], [1, 1, 1, 1]], dtype=bool)
    np.testing.assert_array_equal(_valid_lengths(mask, 4, 4), [2, 3, 0, 4])
    np.testing.assert_array_equal(_valid_lengths(None, 2, 5), [5, 5])


@pytest.mark.parametrize("cell", CELL_TYPES)
def test_bidirectional_reverse_stack_reads_the_valid_steps_backwards(cell):
    """Padding after a sequence changes neither direction: each sequence's code equals the
    code of the same sequence alone and unpadded, and the reverse stack's final state is
    the forward run of the reversed sequence."""
    rng = np.random.default_rng(3)
    enc = Bidirectional(cell, 2, 4, num_layers=2, rng=0)
    x = rng.standard_normal((3, 7, 2))
    lengths = np.array([7, 4, 1])
    mask = np.arange(7)[None] < lengths[:, None]
    h = enc.forward(np.where(mask[..., None], x, 99.0), mask=mask)
    for n, ln in enumerate(lengths):
        alone = enc.forward(x[n:n + 1, :ln])
        np.testing.assert_allclose(h[n:n + 1], alone, rtol=1e-12, atol=1e-14)
        fwd_on_reversed = Bidirectional(cell, 2, 4, num_layers=2, rng=0)
        fwd_on_reversed.forward_rnn = enc.reverse_rnn
        np.testing.assert_allclose(fwd_on_reversed.forward(x[n:n + 1, :ln][:, ::-1])[:, :4],
                                   alone[:, 4:], rtol=1e-12, atol=1e-14)


# -------------------------------------------------------------------- masks and lengths
@pytest.mark.parametrize("name,kind", CASES)
def test_padding_does_not_change_the_reconstruction(name, kind):
    """lengths= with junk (NaN) after each sequence's end gives the numbers of the sequence run
    alone at its own length, and the loss ignores the padding."""
    model = build(name, kind)
    X = data(N=3, T=8)
    lengths = np.array([8, 5, 3])
    padded = X.copy()
    for n, ln in enumerate(lengths):
        padded[n, ln:] = np.nan
    rec = model.reconstruct(padded, lengths=lengths)
    for n, ln in enumerate(lengths):
        alone = model.reconstruct(X[n:n + 1, :ln])
        np.testing.assert_allclose(rec[n:n + 1, :ln], alone, rtol=1e-10, atol=1e-12)
    value, _ = model.loss(padded, lengths=lengths, rng=0)
    model.backward()
    assert np.isfinite(value)
    assert all(np.all(np.isfinite(g)) for _, _, g in model.parameters())


# ----------------------------------------------------------------------------- inference
def _calls(model, X):
    mask = np.ones(X.shape, dtype=bool)
    mask[0, 5:] = False
    mask[1, ::3] = False
    out = {"rec": model.reconstruct(X), "rec_masked": model.reconstruct(X, mask=mask)}
    out.update(model.per_example_loss(X, rng=2, mask=mask))
    if isinstance(model, LSTMVAE):
        out["sample"] = model.sample(4, 11, rng=5)
        out["rlp"] = model.reconstruction_log_prob(X, n_samples=2, rng=6, per_step=False)
    elif model.decoder_state != "encoder":
        out["dec"] = model.decode(np.ones((3, model.latent_dim)), 10)
    return out


@pytest.mark.parametrize("name,kind", CASES)
def test_inference_keeps_no_cache_and_chunks_give_the_same_numbers(name, kind, monkeypatch):
    X = data(N=11, T=13)
    monkeypatch.setattr(inf, "BATCH_ROWS", 10**9)
    monkeypatch.setattr(inf, "CHUNK_ELEMENTS", 10**12)
    model = build(name, kind)
    whole = _calls(model, X)
    holders = [type(s).__name__ for s in model.sublayers()
               if not (s.cache is None or (isinstance(s.cache, list) and not s.cache))]
    assert holders == []
    assert all(s.training for s in model.sublayers())
    monkeypatch.setattr(inf, "BATCH_ROWS", 2)
    monkeypatch.setattr(inf, "CHUNK_ELEMENTS", 2 * 5 * 3)  # 2 rows, 3 steps of width 5
    chunked = _calls(build(name, kind), X)
    for key in whole:
        np.testing.assert_allclose(chunked[key], whole[key], rtol=1e-12, atol=1e-12,
                                   err_msg=key)


def test_training_runs_in_float32_with_every_option():
    X = data(N=8, T=6).astype(np.float32)
    model = LSTMAutoencoder(2, 4, 2, decoder="conditioned", decoder_state="encoder",
                            teacher_forcing=0.5, dtype=np.float32, rng=0)
    history = model.fit(X, epochs=3, batch_size=4, lr=1e-2, rng=0, verbose=False)
    assert model.reconstruct(X).dtype == np.float32
    assert np.isfinite(history["loss"]).all()


@pytest.mark.parametrize("decoder", ["repeat", "conditioned"])
def test_the_encoder_state_reaches_the_decoder(decoder):
    """With the code z made constant (to_latent weights 0), the default model reconstructs every
    sequence alike; with decoder_state="encoder" the reconstructions still differ (the encoder's
    final state carries them), and the encoder gets gradient through that path alone."""
    X = data(N=4, T=6)
    for state, differ in (("z", False), ("encoder", True)):
        model = LSTMAutoencoder(2, 5, 3, decoder=decoder, decoder_state=state, rng=0)
        model.to_latent.params["W"][:] = 0.0
        rec = model.reconstruct(X)
        assert np.allclose(rec, rec[:1]) != differ
        model.zero_grad()
        model.loss(X)
        model.backward()
        enc = [np.abs(g).sum() for n, _, g in model.parameters() if n.startswith("encoder.")]
        assert (min(enc) > 0) == differ


# -------------------------------------------------------------------------- gradient checks
OPTION_CHECKS = sorted(n for n in REGISTRY
                       if ".options." in n or n.startswith(("conditioned_decoder.",
                                                            "bidirectional.")))


def test_the_option_checks_are_registered():
    assert len([n for n in OPTION_CHECKS if n.startswith("models.lstm_ae.options.pair.")]) >= 2
    assert len([n for n in OPTION_CHECKS if n.startswith("models.lstm_vae.options.pair.")]) >= 2
    for cell in CELL_TYPES:
        assert f"conditioned_decoder.{cell}.given_state_stacked" in OPTION_CHECKS
        assert f"bidirectional.{cell}.masked" in OPTION_CHECKS


@pytest.mark.parametrize("name", [n for n in OPTION_CHECKS if not n.startswith("models.")])
def test_layer_gradient_checks_pass(name):
    results = REGISTRY[name](check_rng_for(0, name))
    assert results and all(r.passed for r in results), [str(r) for r in results if not r.passed]
