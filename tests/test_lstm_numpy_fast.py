"""The NumPy backend's whole-sequence LSTM (``minivae.nn.lstm._sequence_forward/_backward``,
used by :class:`LSTMLayer`) against a plain loop of the step functions, plus the fast paths it
relies on: the in-place ``sigmoid`` and the cheap per-step checks of :class:`LSTMCell`.

The layer reorganises the step equations (input projection and parameter gradients outside the
time loop, feature-major buffers, tanh of the candidate through a sigmoid), so it must equal
``lstm_step_forward`` / ``lstm_step_backward`` run step by step: to 1e-12 in float64 and to 1e-5
in float32 (against the float64 loop), relative to each array's largest entry.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lstm_reference import reference_sequence, rel_err

from minivae.fast.backend import use_backend
from minivae.nn.functional import sigmoid
from minivae.nn.lstm import LSTM, LSTMCell, LSTMLayer

TOL = {np.float64: 1e-12, np.float32: 1e-5}
NAMES = ("hs", "hT", "cT", "dx", "dh0", "dc0", "dWx", "dWh", "db")


def problem(rng, N, T, D, H, dtype, masking):
    def r(*shape, scale=1.0):
        return (scale * rng.standard_normal(shape)).astype(dtype)

    p = {"x": r(N, T, D, scale=1.5), "h0": r(N, H, scale=0.5), "c0": r(N, H),
         "Wx": r(D, 4 * H), "Wh": r(H, 4 * H, scale=1.0 / np.sqrt(H)), "b": r(4 * H),
         "dhs": r(N, T, H), "dhT": r(N, H), "dcT": r(N, H)}
    p["mask"] = p["lengths"] = None
    if masking == "mask":  # holes anywhere, possibly whole rows padded
        p["mask"] = rng.random((N, T)) < 0.6
        p["valid"] = p["mask"]
    elif masking == "lengths":
        p["lengths"] = rng.integers(1, T + 1, size=N)
        p["valid"] = np.arange(T)[None, :] < p["lengths"][:, None]
    else:
        p["valid"] = np.ones((N, T), dtype=bool)
    return p


def run_layer(p, dtype, use_dhs=True, layer=None):
    D, H = p["Wx"].shape[0], p["Wh"].shape[0]
    if layer is None:
        layer = LSTMLayer(D, H, dtype=dtype)
        for name in ("Wx", "Wh", "b"):
            layer.params[name][...] = p[name]
    layer.zero_grad()
    with use_backend("numpy"):
        hs, (hT, cT) = layer(p["x"], p["h0"], p["c0"], mask=p["mask"], lengths=p["lengths"])
        dx, dh0, dc0 = layer.backward(p["dhs"] if use_dhs else None, p["dhT"], p["dcT"])
    return {"hs": hs, "hT": hT, "cT": cT, "dx": dx, "dh0": dh0, "dc0": dc0,
            "dWx": layer.grads["Wx"].copy(), "dWh": layer.grads["Wh"].copy(),
            "db": layer.grads["b"].copy()}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@settings(max_examples=25, deadline=None)
@given(N=st.integers(1, 5), T=st.integers(1, 6), D=st.integers(1, 4), H=st.integers(1, 5),
       masking=st.sampled_from(["none", "lengths", "mask"]), use_dhs=st.booleans(),
       seed=st.integers(0, 2**16))
def test_layer_equals_loop_of_step_functions(dtype, N, T, D, H, masking, use_dhs, seed):
    p = problem(np.random.default_rng(seed), N, T, D, H, dtype, masking)
    got = run_layer(p, dtype, use_dhs)
    dhs = p["dhs"] if use_dhs else np.zeros_like(p["dhs"])
    want = reference_sequence(p["x"], p["h0"], p["c0"], p["Wx"], p["Wh"], p["b"], p["valid"], dhs,
                     p["dhT"], p["dcT"])
    for name in NAMES:
        assert got[name].dtype == dtype, name
        assert got[name].shape == want[name].shape, name
        err = rel_err(got[name], want[name])
        assert err <= TOL[dtype], f"{name}: relative error {err:.2e} > {TOL[dtype]:.0e}"
    padded = ~p["valid"]
    assert np.all(got["hs"][padded] == 0.0)  # exactly, not just to rounding
    assert np.all(got["dx"][padded] == 0.0)


def test_inputs_are_never_modified_and_outputs_never_alias_them():
    """The loop updates its carried gradients in place; with N = 1 or T = 1 a transpose is a
    view, so a missing copy would write into the caller's dhT (this once happened)."""
    for N, T in [(1, 1), (1, 3), (3, 1), (2, 4)]:
        p = problem(np.random.default_rng(N * 10 + T), N, T, 2, 3, np.float64, "none")
        before = {k: v.copy() for k, v in p.items() if isinstance(v, np.ndarray)}
        got = run_layer(p, np.float64)
        for k, v in before.items():
            np.testing.assert_array_equal(p[k], v, err_msg=k)
        for name in ("hs", "hT", "cT", "dx", "dh0", "dc0"):
            for k, v in p.items():
                if isinstance(v, np.ndarray):
                    assert not np.shares_memory(got[name], v), (name, k)


def test_non_contiguous_inputs_give_the_same_numbers():
    """Views (strided x, column blocks of a wider state as the autoregressive decoder passes
    them, a transposed dhs) are read correctly."""
    rng = np.random.default_rng(3)
    p = problem(rng, 4, 5, 3, 2, np.float64, "mask")
    want = run_layer(p, np.float64)
    wide = rng.normal(size=(4, 7))
    wide[:, 1:3], wide[:, 4:6] = p["h0"], p["c0"]
    x_big = np.zeros((4, 10, 3))
    x_big[:, ::2] = p["x"]
    views = dict(p, x=x_big[:, ::2], h0=wide[:, 1:3], c0=wide[:, 4:6],
                 dhs=np.ascontiguousarray(p["dhs"].transpose(2, 1, 0)).transpose(2, 1, 0))
    assert not views["dhs"].flags.c_contiguous
    got = run_layer(views, np.float64)
    for name in NAMES:
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)


def test_reused_buffers_leave_earlier_results_intact():
    """The layer keeps its (T, ., N) buffers from call to call: arrays returned by an earlier
    call stay as they were, and every call equals one on a fresh layer."""
    rng = np.random.default_rng(0)
    p1 = problem(rng, 4, 5, 3, 2, np.float64, "lengths")
    p2 = problem(rng, 4, 5, 3, 2, np.float64, "none")
    p2.update({k: p1[k] for k in ("Wx", "Wh", "b")})
    layer = LSTMLayer(3, 2)
    for name in ("Wx", "Wh", "b"):
        layer.params[name][...] = p1[name]
    first = run_layer(p1, np.float64, layer=layer)
    saved = {k: v.copy() for k, v in first.items()}
    second = run_layer(p2, np.float64, layer=layer)
    assert layer._workspace, "the NumPy path should keep its buffers"
    for k in NAMES:
        np.testing.assert_array_equal(first[k], saved[k], err_msg=k)
        np.testing.assert_array_equal(second[k], run_layer(p2, np.float64)[k], err_msg=k)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_saturated_gates_are_exact_limits_without_warnings(dtype):
    """Huge pre-activations: every gate saturates to 0 or 1 and the candidate to +-1 (the
    candidate's tanh is computed as 2 sigmoid(2a) - 1, whose exp may overflow); no warning, no
    NaN, and the same numbers as the step functions."""
    p = problem(np.random.default_rng(1), 3, 4, 2, 3, dtype, "none")
    p["x"] = (np.sign(p["x"]) * 1e4).astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = run_layer(p, dtype)
    want = reference_sequence(p["x"], p["h0"], p["c0"], p["Wx"], p["Wh"], p["b"], p["valid"],
                              p["dhs"], p["dhT"], p["dcT"])
    for name in NAMES:
        assert np.all(np.isfinite(got[name])), name
        assert rel_err(got[name], want[name]) <= TOL[dtype], name


def test_stacked_lstm_on_numpy_backend_matches_layer_by_layer_loop():
    """Two layers: the lower layer's hs (0 at padded steps) is the upper layer's input."""
    rng = np.random.default_rng(2)
    N, T, D, H = 3, 5, 2, 4
    lstm = LSTM(D, H, num_layers=2, rng=3)
    x, dhs = rng.normal(size=(N, T, D)), rng.normal(size=(N, T, H))
    lengths = np.array([5, 2, 3])
    valid = np.arange(T)[None, :] < lengths[:, None]
    with use_backend("numpy"):
        hs, (hT, cT) = lstm(x, lengths=lengths)
        dx, _, _ = lstm.backward(dhs)
    z = np.zeros((N, H))
    l0, l1 = (layer.params for layer in lstm.layers)
    low = reference_sequence(x, z, z, l0["Wx"], l0["Wh"], l0["b"], valid, np.zeros((N, T, H)), z, z)
    top = reference_sequence(low["hs"], z, z, l1["Wx"], l1["Wh"], l1["b"], valid, dhs, z, z)
    assert rel_err(hs, top["hs"]) <= 1e-12 and rel_err(hT[1], top["hT"]) <= 1e-12
    # The lower layer's output gradient is the upper layer's input gradient.
    low = reference_sequence(x, z, z, l0["Wx"], l0["Wh"], l0["b"], valid, top["dx"], z, z)
    assert rel_err(dx, low["dx"]) <= 1e-12
    assert rel_err(lstm.layers[0].grads["Wh"], low["dWh"]) <= 1e-12


# ----------------------------------------------------------------------------- sigmoid
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sigmoid_every_input_no_warnings(dtype):
    x = np.array([-1000.0, -100.0, -30.0, -1.0, 0.0, 1e-8, 2.0, 30.0, 100.0, 1000.0,
                  -np.inf, np.inf], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = sigmoid(x)
    assert y.dtype == dtype
    exact = np.array([0.0, 3.720075976020836e-44, 9.357622968839299e-14, 0.2689414213699951,
                      0.5, 0.5000000025, 0.8807970779778823, 1.0 - 9.357622968840175e-14, 1.0,
                      1.0, 0.0, 1.0])
    np.testing.assert_allclose(y, exact, rtol=1e-6 if dtype == np.float32 else 1e-14,
                               atol=1e-38)
    assert np.isnan(sigmoid(np.array([np.nan], dtype=dtype))[0])


def test_sigmoid_out_in_place_ints_and_scalars():
    a = np.linspace(-5.0, 5.0, 12).reshape(3, 4)
    want = 1.0 / (1.0 + np.exp(-a))
    b = a.copy()
    res = sigmoid(b[:, :2], out=b[:, :2])  # in place on a (non-contiguous) slice
    assert np.shares_memory(res, b)
    np.testing.assert_allclose(b[:, :2], want[:, :2], rtol=1e-15)
    np.testing.assert_array_equal(b[:, 2:], a[:, 2:])  # the rest untouched
    np.testing.assert_allclose(sigmoid(np.array([0, 2])), [0.5, 0.8807970779778823])
    np.testing.assert_allclose(sigmoid(np.array([True, False])), [0.7310585786300049, 0.5])
    assert sigmoid(0.0) == 0.5 and np.ndim(sigmoid(0.0)) == 0
    assert sigmoid(np.float32(0.0)).dtype == np.float32


# ----------------------------------------------------------------------------- LSTMCell checks
def test_cell_fast_checks_keep_the_errors_and_conversions():
    cell = LSTMCell(2, 3, rng=0, dtype=np.float32)
    x = np.ones((4, 2), dtype=np.float32)
    h, c = cell(x)
    assert h.dtype == np.float32
    # Not of the cell's dtype / not an array: converted as before.
    h2, _ = cell(np.ones((4, 2)), [[0.0] * 3] * 4, np.zeros((4, 3), dtype=np.float64))
    np.testing.assert_array_equal(h2, h)
    # Finite entries whose sum overflows are accepted (the fast check falls back).
    big = np.full((4, 2), 3e38, dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the overflowing sum itself
        cell(big, h, c)
    for bad, name in [(np.nan, "x_t"), (np.inf, "x_t")]:
        x_bad = x.copy()
        x_bad[1, 1] = bad
        with pytest.raises(ValueError, match=f"{name} contains 1 non-finite"):
            cell(x_bad, h, c)
    h_bad = h.copy()
    h_bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="h_prev contains 1 non-finite"):
        cell(x, h_bad, c)
    with pytest.raises(ValueError, match=r"c_prev must have shape \(4, 3\)"):
        cell(x, h, c[:2])
    with pytest.raises(ValueError, match="input_size=2"):
        cell(np.ones((4, 3), dtype=np.float32), h, c)
    with pytest.raises(ValueError, match="x_t must have 2 dimensions"):
        cell(np.ones(2, dtype=np.float32))
    with pytest.raises(TypeError, match="x_t must hold real numbers"):
        cell(np.ones((4, 2), dtype=complex))
    dh_bad = np.zeros((4, 3), dtype=np.float32)
    dh_bad[2, 2] = -np.inf
    with pytest.raises(ValueError, match="dh contains 1 non-finite"):
        cell.backward(dh_bad)
    with pytest.raises(ValueError, match=r"dh must have shape \(4, 3\)"):
        cell.backward(np.zeros((4, 2), dtype=np.float32))
    with pytest.raises(ValueError, match="dc contains 1 non-finite"):
        cell.backward(np.zeros((4, 3), dtype=np.float32), dh_bad)
