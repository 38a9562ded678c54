"""The sequence decoders (minivae.nn.decoders): gradients, teacher-forcing semantics, inputs.

Gradient checks: central differences in float64, tolerance 1e-7 (everything is smooth).  Every
test runs on both backends (tests/conftest.py); the twins' parity with the reference loop is
tests/test_fast_parity.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minivae.gradcheck import check_layer
from minivae.models import LSTMVAE, LSTMAutoencoder
from minivae.nn import LSTM, AutoregressiveDecoder, RepeatDecoder

pytestmark = pytest.mark.usefixtures("each_backend")


def randomise(layer, seed):
    rng = np.random.default_rng(seed)
    for name, p, _ in layer.parameters():
        if name.endswith("b"):
            p += 0.3 * rng.standard_normal(p.shape)


def feeding(kind, rng, N, T, D):
    """(x, feed_true) for a teacher-forcing pattern."""
    x = rng.standard_normal((N, T, D))
    if kind == "free":
        return None, None
    feed = {"tf0": np.zeros((N, T, D), bool), "tf1": np.ones((N, T, D), bool),
            "tf05": rng.random((N, T, D)) < 0.5}[kind]
    return x, feed


# ----------------------------------------------------------------------------- gradients
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(N=st.integers(1, 3), T=st.integers(1, 4), L=st.integers(1, 3), H=st.integers(1, 3),
       O=st.integers(1, 3), layers=st.integers(1, 2), seed=st.integers(0, 2**16))
def test_repeat_decoder_gradcheck(N, T, L, H, O, layers, seed):
    rng = np.random.default_rng(seed)
    dec = RepeatDecoder(L, H, O, num_layers=layers, rng=seed)
    randomise(dec, seed)
    results = check_layer(dec, {"z": rng.standard_normal((N, L))},
                          forward_fn=lambda z: dec.forward(z, T), rng=rng)
    assert {r.name for r in results} >= {"z", "lstm.layers.0.Wx", "out_proj.W"}
    assert all(r.passed for r in results), "\n".join(map(str, results))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(N=st.integers(1, 3), T=st.integers(1, 5), L=st.integers(1, 3), D=st.integers(1, 2),
       H=st.integers(1, 3), extra=st.integers(0, 2), layers=st.integers(1, 2),
       kind=st.sampled_from(["free", "tf0", "tf05", "tf1"]), seed=st.integers(0, 2**16))
def test_autoregressive_decoder_gradcheck(N, T, L, D, H, extra, layers, kind, seed):
    """Backprop through time and through every fed-back prediction."""
    rng = np.random.default_rng(seed)
    dec = AutoregressiveDecoder(L, D, H, D + extra, num_layers=layers, rng=seed)
    randomise(dec, seed)
    x, feed = feeding(kind, rng, N, T, D)
    results = check_layer(dec, {"z": rng.standard_normal((N, L))},
                          forward_fn=lambda z: dec.forward(z, T, x, feed), rng=rng)
    names = {r.name for r in results}
    assert {"z", "init_h.W", "init_c.b", "cells.0.Wh", "out_proj.W"} <= names
    assert all(r.passed for r in results), "\n".join(map(str, results))


# ----------------------------------------------------------------------------- semantics
def test_full_teacher_forcing_is_an_lstm_over_the_shifted_sequence():
    """Every input fed true: the decoder is a stacked LSTM over [0, x_0, .., x_{T-2}] started
    from (tanh(z W_h + b_h), z W_c + b_c), then the output Dense at every step."""
    rng = np.random.default_rng(0)
    N, T, L, D, H = 3, 6, 2, 2, 4
    dec = AutoregressiveDecoder(L, D, H, 2 * D, num_layers=2, rng=1)
    randomise(dec, 1)
    z, x = rng.standard_normal((N, L)), rng.standard_normal((N, T, D))
    y = dec(z, T, x, np.ones((N, T, D), bool))
    lstm = LSTM(D, H, num_layers=2)
    for layer, cell in zip(lstm.layers, dec.cells):
        for name in ("Wx", "Wh", "b"):
            layer.params[name][...] = cell.params[name]
    h0 = np.tanh(z @ dec.init_h.params["W"] + dec.init_h.params["b"])
    c0 = z @ dec.init_c.params["W"] + dec.init_c.params["b"]
    shifted = np.concatenate([np.zeros((N, 1, D)), x[:, :-1]], axis=1)
    hs, _ = lstm(shifted, np.stack([h0[:, :H], h0[:, H:]]), np.stack([c0[:, :H], c0[:, H:]]))
    want = hs @ dec.out_proj.params["W"] + dec.out_proj.params["b"]
    np.testing.assert_allclose(y, want, rtol=1e-12, atol=1e-13)


def test_free_running_feeds_back_the_predicted_mean():
    """Free running equals teacher forcing with its own predicted means as the 'true' values;
    decoding is causal (a longer decode extends a shorter one)."""
    rng = np.random.default_rng(1)
    N, T, L, D, H = 4, 7, 3, 2, 5
    dec = AutoregressiveDecoder(L, D, H, 2 * D, num_layers=2, rng=2)
    randomise(dec, 2)
    z = rng.standard_normal((N, L))
    y = dec(z, T)
    y_tf = dec(z, T, y[..., :D].copy(), np.ones((N, T, D), bool))
    np.testing.assert_allclose(y_tf, y, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(dec(z, 3), y[:, :3], rtol=0, atol=1e-14)


def test_entries_not_fed_are_never_read():
    """x may be NaN wherever feed_true is False; teacher forcing 0 with x equals free running;
    changing a fed value changes only later steps."""
    rng = np.random.default_rng(2)
    N, T, L, D, H = 3, 5, 2, 2, 3
    dec = AutoregressiveDecoder(L, D, H, D, rng=3)
    z, x = rng.standard_normal((N, L)), rng.standard_normal((N, T, D))
    feed = rng.random((N, T, D)) < 0.5
    feed[0, 2, 1] = True
    x_nan = x.copy()
    x_nan[:, :-1][~feed[:, 1:]] = np.nan
    x_nan[:, -1] = np.nan  # the last value is never an input
    np.testing.assert_array_equal(dec(z, T, x_nan, feed), dec(z, T, x, feed))
    np.testing.assert_array_equal(dec(z, T, x_nan, np.zeros_like(feed)), dec(z, T))
    x2 = x.copy()
    x2[0, 1, 1] += 1.0  # read by step 2 only
    y, y2 = dec(z, T, x, feed), dec(z, T, x2, feed)
    np.testing.assert_array_equal(y[:, :2], y2[:, :2])
    assert not np.allclose(y[0, 2:], y2[0, 2:])
    np.testing.assert_array_equal(y[1:], y2[1:])


@pytest.mark.parametrize("cls", ["repeat", "autoregressive"])
def test_float32_stays_float32(cls):
    rng = np.random.default_rng(3)
    if cls == "repeat":
        dec = RepeatDecoder(2, 4, 3, num_layers=2, rng=0, dtype=np.float32)
        y = dec(rng.standard_normal((5, 2)), 6)
    else:
        dec = AutoregressiveDecoder(2, 3, 4, 3, num_layers=2, rng=0, dtype=np.float32)
        feed = rng.random((5, 6, 3)) < 0.5
        y = dec(rng.standard_normal((5, 2)), 6, rng.standard_normal((5, 6, 3)), feed)
    assert y.dtype == np.float32 and y.shape == (5, 6, 3)
    dz = dec.backward(np.ones_like(y))
    assert dz.dtype == np.float32 and dz.shape == (5, 2)
    assert all(g.dtype == np.float32 for _, _, g in dec.parameters())


def test_backward_accumulates():
    rng = np.random.default_rng(4)
    dec = AutoregressiveDecoder(2, 1, 3, 2, rng=0)
    z = rng.standard_normal((3, 2))
    dy = rng.standard_normal((3, 4, 2))
    dec(z, 4)
    dz1 = dec.backward(dy)
    once = {n: g.copy() for n, _, g in dec.parameters()}
    dec(z, 4)
    dz2 = dec.backward(dy)
    np.testing.assert_array_equal(dz1, dz2)
    for n, _, g in dec.parameters():
        np.testing.assert_allclose(g, 2 * once[n], rtol=1e-15, err_msg=n)


# ----------------------------------------------------------------------------- in the models
@pytest.mark.parametrize("cls", [LSTMAutoencoder, LSTMVAE])
def test_models_compose_the_decoder_layers(cls):
    rep = cls(2, 4, 3, num_layers=2, rng=0)
    ar = cls(2, 4, 3, decoder="autoregressive", teacher_forcing=0.5, rng=0)
    assert isinstance(rep.decoder, RepeatDecoder) and isinstance(ar.decoder, AutoregressiveDecoder)
    names = [n for n, _, _ in ar.parameters()]
    assert [n for n in names if n.startswith("decoder.")] == [
        "decoder.init_h.W", "decoder.init_h.b", "decoder.init_c.W", "decoder.init_c.b",
        "decoder.cells.0.Wx", "decoder.cells.0.Wh", "decoder.cells.0.b",
        "decoder.out_proj.W", "decoder.out_proj.b"]
    assert "decoder.lstm.layers.1.Wh" in [n for n, _, _ in rep.parameters()]
    for model in (rep, ar):  # no private switches: the layers decide nothing about speed
        assert not [a for a in dir(model)
                    if a.startswith(("_fuse", "_use_", "_dec_cache", "_seq_layers", "_ar_"))]


# ----------------------------------------------------------------------------- bad input
def test_bad_arguments_raise_clear_errors():
    dec = AutoregressiveDecoder(2, 3, 4, 3, rng=0)
    z = np.zeros((2, 2))
    x = np.zeros((2, 5, 3))
    with pytest.raises(ValueError, match="output_dim must be >= input_dim=3"):
        AutoregressiveDecoder(2, 3, 4, 2)
    with pytest.raises(ValueError, match="x is read only where feed_true"):
        dec(z, 5, x)
    with pytest.raises(ValueError, match="feed_true given without x"):
        dec(z, 5, None, np.ones((2, 5, 3), bool))
    with pytest.raises(ValueError, match=r"feed_true must be a bool array of shape \(N, T, D\)"):
        dec(z, 5, x, np.ones((2, 5, 3)))
    with pytest.raises(ValueError, match=r"feed_true must be a bool array of shape \(N, T, D\)"):
        dec(z, 5, x, np.ones((2, 4, 3), bool))
    with pytest.raises(ValueError, match=r"x must have shape"):
        dec(z, 5, x[:, :4], np.ones((2, 5, 3), bool))
    bad = x.copy()
    bad[1, 2, 0] = np.nan
    with pytest.raises(ValueError, match="x must be finite wherever feed_true feeds it"):
        dec(z, 5, bad, np.ones((2, 5, 3), bool))
    with pytest.raises(ValueError, match="z must have shape"):
        dec(np.zeros((2, 3)), 5)
    with pytest.raises(ValueError, match="T must be >= 1"):
        dec(z, 0)
    with pytest.raises(RuntimeError, match="before forward"):
        AutoregressiveDecoder(2, 3, 4, 3).backward(np.zeros((2, 5, 3)))
    y = dec(z, 5)
    with pytest.raises(ValueError, match="dy must have the output's shape"):
        dec.backward(y[:, :4])
    rep = RepeatDecoder(2, 3, 1)
    with pytest.raises(ValueError, match="T must be >= 1"):
        rep(z, 0)
    with pytest.raises(ValueError, match="x must have input_size=2"):
        rep(np.zeros((2, 3)), 4)
