"""Vanilla RNN and GRU layers and cells, and the cell-type factory (minivae.nn.recurrent):
finite-difference gradient checks of every parameter and input (the library's gradcheck, float64,
relative error <= 1e-7), padding semantics, repeated input, cells against layers, eval mode and
input validation.  Parity with PyTorch is in tests/test_rnn_gru_torch.py."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minivae.gradcheck.layer_check import check_layer
from minivae.gradcheck.registry import REGISTRY
from minivae.nn import CELL_TYPES, GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell, make_recurrent
from minivae.nn.gru import gru_backward, gru_forward, gru_step_backward, gru_step_forward
from minivae.nn.recurrent import (
    cell_type,
    make_cell,
    num_states,
    run,
    run_backward,
    step,
    step_backward,
)
from minivae.nn.rnn import rnn_forward, rnn_step_backward, rnn_step_forward

TOL = 1e-7
KINDS = ["tanh", "relu", "gru"]


def make(kind: str, D: int, H: int, num_layers: int = 1, seed: int = 0, **kw):
    if kind == "gru":
        return GRU(D, H, num_layers=num_layers, rng=seed, **kw)
    return RNN(D, H, num_layers=num_layers, nonlinearity=kind, rng=seed, **kw)


def make_single_cell(kind: str, D: int, H: int, seed: int = 0):
    return GRUCell(D, H, rng=seed) if kind == "gru" else RNNCell(D, H, nonlinearity=kind,
                                                                   rng=seed)


def assert_gradcheck(results) -> None:
    bad = [r for r in results if not r.passed]
    assert results and not bad, "\n".join(str(r) for r in bad)


def relu_clear(layer, x, h0, mask) -> bool:
    """No relu pre-activation within 1e-3 of the kink (where central differences are wrong)."""
    layer.forward(x, h0, mask=mask)
    return all(np.min(np.abs(s[0] @ s[2] + s[1] @ s[3] + sub.params["b"])) > 1e-3
               for sub in layer.layers for s in sub.cache[0].steps)


# ============================================================================ gradient checks
@settings(max_examples=25, deadline=None)
@given(kind=st.sampled_from(KINDS), N=st.integers(1, 3), T=st.integers(1, 5),
       D=st.integers(1, 3), H=st.integers(1, 3), num_layers=st.integers(1, 3),
       masking=st.sampled_from([None, "lengths", "mask"]), seed=st.integers(0, 2**16))
def test_gradcheck_every_parameter_and_input(kind, N, T, D, H, num_layers, masking, seed):
    rng = np.random.default_rng(seed)
    state = (N, H) if num_layers == 1 else (num_layers, N, H)
    for _ in range(200):  # (relu only) redraw until no pre-activation sits at the kink
        layer = make(kind, D, H, num_layers, seed)
        for _, p, _ in layer.parameters():
            p[...] = 0.7 * rng.standard_normal(p.shape)  # not only the small init range
        x, h0 = rng.standard_normal((N, T, D)), rng.standard_normal(state)
        mask = None
        if masking == "lengths":
            mask = np.arange(T) < rng.integers(1, T + 1, size=N)[:, None]
        elif masking == "mask":
            mask = rng.random((N, T)) < 0.6
        if kind != "relu" or relu_clear(layer, x, h0, mask):
            break
    results = check_layer(layer, {"x": x, "h0": h0},
                          forward_fn=lambda x, h0: layer.forward(x, h0, mask=mask), rng=rng)
    assert_gradcheck(results)
    assert {r.name.split(" ")[0] for r in results} >= {"x", "h0"} | {
        name for name, _, _ in layer.parameters()}


@settings(max_examples=10, deadline=None)
@given(kind=st.sampled_from(["tanh", "gru"]), N=st.integers(1, 3), T=st.integers(1, 4),
       D=st.integers(1, 3), H=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_gradcheck_repeated_input(kind, N, T, D, H, seed):
    rng = np.random.default_rng(seed)
    layer = make(kind, D, H, 2, seed)
    lengths = rng.integers(1, T + 1, size=N)
    results = check_layer(layer, {"z": rng.standard_normal((N, D))},
                          forward_fn=lambda z: layer.forward(z, lengths=lengths, steps=T),
                          rng=rng)
    assert_gradcheck(results)


@pytest.mark.parametrize("kind", ["tanh", "gru"])
def test_gradcheck_cell_over_several_steps_lifo(kind):
    """T steps of the cell, then T backward calls in reverse order (what autoregressive decoding
    does), checked as one function of (x, h0)."""
    rng = np.random.default_rng(3)
    N, T, D, H = 2, 4, 3, 2
    cell = make_single_cell(kind, D, H, 1)

    def forward(x, h0):
        cell.reset()
        hs, h = [], h0
        for t in range(T):
            h = cell(x[:, t], h)
            hs.append(h)
        return np.stack(hs, axis=1)

    def backward(dhs):
        dx, dh = np.zeros((N, T, D)), np.zeros((N, H))
        for t in reversed(range(T)):
            dx[:, t], dh = cell.backward(dhs[:, t] + dh)
        assert cell.depth == 0
        return dx, dh

    results = check_layer(cell, {"x": rng.standard_normal((N, T, D)),
                                 "h0": rng.standard_normal((N, H))},
                          forward_fn=forward, backward_fn=backward, rng=rng)
    assert_gradcheck(results)


def test_registered_checks_exist_and_pass():
    names = [n for n in REGISTRY if n.startswith(("rnn", "gru", "recurrent."))]
    assert {"rnn.tanh", "rnn.relu.stacked_mask", "gru.lengths", "gru.repeated", "gru_cell",
            "rnn_cell", "recurrent.make_recurrent.lstm"} <= set(names)
    for name in names:
        assert_gradcheck(REGISTRY[name](np.random.default_rng(1)))


# ============================================================================ hand-worked values
def test_rnn_step_hand_worked():
    x, h = np.array([[1.0, 2.0]]), np.array([[0.5]])
    Wx, Wh, b = np.array([[0.1], [0.2]]), np.array([[-1.0]]), np.array([0.3])
    h_new, _ = rnn_step_forward(x, h, Wx, Wh, b)
    np.testing.assert_allclose(h_new, np.tanh([[0.1 + 0.4 - 0.5 + 0.3]]), rtol=1e-15)
    h_relu, cache = rnn_step_forward(x, h, Wx, -Wh, b, "relu")
    np.testing.assert_allclose(h_relu, [[0.1 + 0.4 + 0.5 + 0.3]], rtol=1e-15)
    dx, dh_prev, dWx, dWh, db = rnn_step_backward(np.array([[2.0]]), cache)
    np.testing.assert_allclose(dx, [[0.2, 0.4]])
    np.testing.assert_allclose(dh_prev, [[2.0]])
    np.testing.assert_allclose(dWx, [[2.0], [4.0]])
    np.testing.assert_allclose(dWh, [[1.0]])
    np.testing.assert_allclose(db, [2.0])


def test_gru_step_hand_worked():
    """H = 1, D = 1 written out by hand with the torch equations (b_hn inside r * (...))."""
    x, h = np.array([[0.5]]), np.array([[-0.4]])
    Wx, Wh = np.array([[0.3, -0.2, 0.7]]), np.array([[0.1, 0.4, -0.6]])
    b, bhn = np.array([0.05, -0.1, 0.2]), np.array([0.25])
    s = lambda a: 1.0 / (1.0 + np.exp(-a))  # noqa: E731
    r = s(0.5 * 0.3 + 0.05 + -0.4 * 0.1)
    z = s(0.5 * -0.2 - 0.1 + -0.4 * 0.4)
    n = np.tanh(0.5 * 0.7 + 0.2 + r * (-0.4 * -0.6 + 0.25))
    h_new, _ = gru_step_forward(x, h, Wx, Wh, b, bhn)
    np.testing.assert_allclose(h_new, [[(1 - z) * n + z * -0.4]], rtol=1e-14)


@pytest.mark.parametrize("kind", KINDS)
def test_step_backward_matches_finite_differences(kind):
    rng = np.random.default_rng(5)
    N, D, H = 3, 4, 2
    G = 3 if kind == "gru" else 1
    params = [rng.standard_normal((D, G * H)), rng.standard_normal((H, G * H)),
              rng.standard_normal(G * H)] + ([rng.standard_normal(H)] if kind == "gru" else [])
    x, h, dh = rng.standard_normal((N, D)), rng.standard_normal((N, H)), rng.standard_normal((N, H))

    def f(x, h, *p):
        out = gru_step_forward(x, h, *p)[0] if kind == "gru" else rnn_step_forward(
            x, h, *p, kind)[0]
        return float((out * dh).sum())

    _, cache = (gru_step_forward(x, h, *params) if kind == "gru"
                else rnn_step_forward(x, h, *params, kind))
    grads = (gru_step_backward if kind == "gru" else rnn_step_backward)(dh, cache)
    arrays = [x, h, *params]
    for a, g in zip(arrays, grads, strict=True):
        num = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            old = a[idx]
            a[idx] = old + 1e-6
            fp = f(*arrays)
            a[idx] = old - 1e-6
            fm = f(*arrays)
            a[idx] = old
            num[idx] = (fp - fm) / 2e-6
        assert np.max(np.abs(num - g)) <= 1e-7 * max(1.0, np.max(np.abs(num)))


# ============================================================================ padding semantics
@settings(max_examples=20, deadline=None)
@given(kind=st.sampled_from(KINDS), N=st.integers(1, 4), T=st.integers(1, 6),
       num_layers=st.integers(1, 2), seed=st.integers(0, 2**16))
def test_padded_batch_equals_sequences_run_alone(kind, N, T, num_layers, seed):
    """hs on the valid prefix and hT equal each sequence run alone; padded entries may be NaN,
    their outputs are 0 and their input gradients exactly 0."""
    rng = np.random.default_rng(seed)
    D, H = 2, 3
    layer = make(kind, D, H, num_layers, seed)
    x = rng.standard_normal((N, T, D))
    lengths = rng.integers(1, T + 1, size=N)
    padded = np.arange(T)[None, :] >= lengths[:, None]
    x[padded] = np.nan
    hs, hT = layer(x, lengths=lengths)
    dhs = rng.standard_normal(hs.shape)
    dx, _ = layer.backward(dhs)
    assert np.all(hs[padded] == 0.0)
    assert np.all(dx[padded] == 0.0)
    hT = hT if num_layers > 1 else hT[None]
    for n in range(N):
        alone = make(kind, D, H, num_layers, seed)
        hs_n, hT_n = alone(x[n : n + 1, : lengths[n]])
        np.testing.assert_allclose(hs[n, : lengths[n]], hs_n[0], rtol=0, atol=1e-14)
        np.testing.assert_allclose(hT[:, n], (hT_n if num_layers > 1 else hT_n[None])[:, 0],
                                   rtol=0, atol=1e-14)


@pytest.mark.parametrize("kind", KINDS)
def test_mask_with_holes_and_fully_masked_row(kind):
    rng = np.random.default_rng(2)
    layer = make(kind, 2, 3, 1, 0)
    x, h0 = rng.standard_normal((2, 5, 2)), rng.standard_normal((2, 3))
    mask = np.array([[True, False, True, False, True], [False] * 5])
    hs, hT = layer(x, h0, mask=mask)
    np.testing.assert_array_equal(hT[1], h0[1])  # nothing observed: the initial state
    assert np.all(hs[1] == 0.0)
    alone, hT0 = make(kind, 2, 3, 1, 0)(x[:1, [0, 2, 4]], h0[:1])
    np.testing.assert_allclose(hs[0, [0, 2, 4]], alone[0], atol=1e-14)
    np.testing.assert_allclose(hT[0], hT0[0], atol=1e-14)
    dx, dh0 = layer.backward(None, np.ones((2, 3)))
    np.testing.assert_array_equal(dh0[1], np.ones(3))  # passed straight through
    assert np.all(dx[1] == 0.0) and np.all(dx[0, [1, 3]] == 0.0)


@pytest.mark.parametrize("kind", KINDS)
def test_lengths_equal_prefix_mask(kind):
    rng = np.random.default_rng(4)
    x, lengths = rng.standard_normal((3, 4, 2)), np.array([4, 1, 2])
    a, b = make(kind, 2, 3), make(kind, 2, 3)
    hs_a, hT_a = a(x, lengths=lengths)
    hs_b, hT_b = b(x, mask=np.arange(4) < lengths[:, None])
    np.testing.assert_array_equal(hs_a, hs_b)
    np.testing.assert_array_equal(hT_a, hT_b)


@pytest.mark.parametrize("kind", KINDS)
def test_repeated_input_equals_tiled_input(kind):
    rng = np.random.default_rng(6)
    z, T = rng.standard_normal((3, 2)), 5
    a, b = make(kind, 2, 3, 2), make(kind, 2, 3, 2)
    hs_a, hT_a = a(z, steps=T)
    hs_b, hT_b = b(np.repeat(z[:, None], T, axis=1))
    np.testing.assert_allclose(hs_a, hs_b, atol=1e-15)
    dhs = rng.standard_normal(hs_a.shape)
    dz, _ = a.backward(dhs)
    dx, _ = b.backward(dhs)
    assert dz.shape == z.shape
    np.testing.assert_allclose(dz, dx.sum(axis=1), atol=1e-14)


# ============================================================================ cells, stacking
@pytest.mark.parametrize("kind", KINDS)
def test_cell_equals_layer_forward_and_backward(kind):
    rng = np.random.default_rng(8)
    N, T, D, H = 2, 4, 3, 2
    layer, cell = make(kind, D, H, 1, 9), make_single_cell(kind, D, H, 9)
    for (name, p, _), q in zip(layer.parameters(), cell.params.values(), strict=True):
        np.testing.assert_array_equal(p, q, err_msg=name)  # same init from the same seed
    x, h0, dhs = (rng.standard_normal((N, T, D)), rng.standard_normal((N, H)),
                  rng.standard_normal((N, T, H)))
    hs, hT = layer(x, h0)
    dx, dh0 = layer.backward(dhs)
    h = h0
    for t in range(T):
        h = cell(x[:, t], h)
        np.testing.assert_allclose(h, hs[:, t], atol=1e-15)
    dh = np.zeros((N, H))
    for t in reversed(range(T)):
        dx_t, dh = cell.backward(dhs[:, t] + dh)
        np.testing.assert_allclose(dx_t, dx[:, t], atol=1e-14)
    np.testing.assert_allclose(dh, dh0, atol=1e-14)
    for (name, _, g), gc in zip(layer.parameters(), cell.grads.values(), strict=True):
        np.testing.assert_allclose(g, gc, atol=1e-13, err_msg=name)


@pytest.mark.parametrize("kind", KINDS)
def test_stack_is_layers_in_order(kind):
    rng = np.random.default_rng(10)
    stack = make(kind, 2, 3, 3, 1)
    x, h0 = rng.standard_normal((2, 4, 2)), rng.standard_normal((3, 2, 3))
    hs, hT = stack(x, h0)
    assert hT.shape == (3, 2, 3)
    inner = x
    for l, sub in enumerate(stack.layers):
        inner, hT_l = sub(inner, h0[l])
        np.testing.assert_array_equal(hT_l, hT[l])
    np.testing.assert_array_equal(inner, hs)


@pytest.mark.parametrize("kind", KINDS)
def test_backward_accumulates_and_none_means_zero(kind):
    rng = np.random.default_rng(12)
    layer = make(kind, 2, 3)
    x = rng.standard_normal((2, 3, 2))
    hs, _ = layer(x)
    dhs = rng.standard_normal(hs.shape)
    layer.backward(dhs)
    first = {k: g.copy() for k, _, g in layer.parameters()}
    layer.backward(dhs, None)
    for k, _, g in layer.parameters():
        np.testing.assert_allclose(g, 2 * first[k], atol=1e-14)
    dx_none, dh0_none = layer.backward(None, None)
    dx_zero, dh0_zero = layer.backward(np.zeros_like(hs), np.zeros((2, 3)))
    np.testing.assert_array_equal(dx_none, dx_zero)
    np.testing.assert_array_equal(dh0_none, dh0_zero)


@pytest.mark.parametrize("kind", KINDS)
def test_eval_mode_keeps_no_cache(kind):
    layer, cell = make(kind, 2, 3, 2), make_single_cell(kind, 2, 3)
    x = np.random.default_rng(0).standard_normal((2, 3, 2))
    layer.eval()
    cell.eval()
    hs, _ = layer(x)
    cell(x[:, 0])
    assert all(sub.cache is None for sub in layer.sublayers()) and cell.depth == 0
    with pytest.raises(RuntimeError, match="eval mode"):
        layer.backward(hs)
    layer.train()
    layer(x)
    layer.release_caches()
    assert all(sub.cache is None for sub in layer.sublayers())


@pytest.mark.parametrize("kind", KINDS)
def test_float32_runs_in_float32(kind):
    layer = make(kind, 2, 3, 2, dtype=np.float32)
    hs, hT = layer(np.ones((2, 3, 2), dtype=np.float32))
    dx, dh0 = layer.backward(np.ones_like(hs))
    assert {hs.dtype, hT.dtype, dx.dtype, dh0.dtype} == {np.dtype(np.float32)}
    assert all(g.dtype == np.float32 for _, _, g in layer.parameters())


def test_parameter_names_shapes_and_init():
    gru, rnn = GRU(4, 3, num_layers=2, rng=0), RNN(4, 3, rng=0)
    shapes = {k: p.shape for k, p, _ in gru.parameters()}
    assert shapes == {"layers.0.Wx": (4, 9), "layers.0.Wh": (3, 9), "layers.0.b": (9,),
                      "layers.0.bhn": (3,), "layers.1.Wx": (3, 9), "layers.1.Wh": (3, 9),
                      "layers.1.b": (9,), "layers.1.bhn": (3,)}
    assert {k: p.shape for k, p, _ in rnn.parameters()} == {
        "layers.0.Wx": (4, 3), "layers.0.Wh": (3, 3), "layers.0.b": (3,)}
    k = 1 / np.sqrt(3)
    assert all(np.abs(p).max() <= k for _, p, _ in gru.parameters())
    # the same seed gives the same parameters; another seed others
    again, other = GRU(4, 3, num_layers=2, rng=0), GRU(4, 3, num_layers=2, rng=1)
    for (_, p, _), (_, q, _), (_, o, _) in zip(gru.parameters(), again.parameters(),
                                               other.parameters()):
        np.testing.assert_array_equal(p, q)
        assert not np.array_equal(p, o)


def test_state_dict_round_trip():
    a, b = GRU(2, 3, num_layers=2, rng=0), GRU(2, 3, num_layers=2, rng=5)
    b.load_state_dict(a.state_dict())
    x = np.ones((1, 2, 2))
    np.testing.assert_array_equal(a(x)[0], b(x)[0])


# ============================================================================ the factory
@pytest.mark.parametrize("cell", CELL_TYPES)
def test_make_recurrent_and_adapter_equal_direct_calls(cell):
    rng = np.random.default_rng(14)
    N, T, D, H = 2, 4, 3, 2
    layer = make_recurrent(cell, D, H, num_layers=2, rng=3)
    assert isinstance(layer, {"lstm": LSTM, "gru": GRU, "rnn": RNN}[cell])
    assert cell_type(layer) == cell
    assert num_states(cell) == num_states(layer) == (2 if cell == "lstm" else 1)
    x, lengths = rng.standard_normal((N, T, D)), np.array([4, 2])
    state0 = tuple(rng.standard_normal((2, N, H)) for _ in range(num_states(cell)))
    hs, stateT = run(layer, x, state0, lengths=lengths)
    assert isinstance(stateT, tuple) and len(stateT) == num_states(cell)
    dhs = rng.standard_normal(hs.shape)
    dstate = tuple(rng.standard_normal((2, N, H)) for _ in stateT)
    dx, dstate0 = run_backward(layer, dhs, dstate)
    direct = make_recurrent(cell, D, H, num_layers=2, rng=3)
    hs2, final2 = direct.forward(x, *state0, lengths=lengths)
    out2 = direct.backward(dhs, *dstate)
    np.testing.assert_array_equal(hs, hs2)
    np.testing.assert_array_equal(stateT[0], final2[0] if cell == "lstm" else final2)
    np.testing.assert_array_equal(dx, out2[0])
    np.testing.assert_array_equal(dstate0[0], out2[1])


@pytest.mark.parametrize("cell", CELL_TYPES)
def test_make_cell_and_step_adapter(cell):
    rng = np.random.default_rng(15)
    c = make_cell(cell, 3, 2, rng=0)
    assert isinstance(c, {"lstm": LSTMCell, "gru": GRUCell, "rnn": RNNCell}[cell])
    x1, x2 = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    s1 = step(c, x1)
    s2 = step(c, x2, s1)
    assert len(s2) == num_states(cell) and s2[0].shape == (4, 2)
    dx2, ds1 = step_backward(c, (np.ones((4, 2)),) + (None,) * (len(s2) - 1))
    dx1, ds0 = step_backward(c, ds1)
    assert dx1.shape == dx2.shape == (4, 3) and len(ds0) == len(s2) and c.depth == 0


def test_factory_bad_input():
    with pytest.raises(ValueError,
                       match=r"cell must be one of \('lstm', 'gru', 'rnn'\), got 'GRU'"):
        make_recurrent("GRU", 2, 3)
    with pytest.raises(ValueError, match="cell must be one of"):
        make_cell(None, 2, 3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="layer must be an LSTM, GRU or RNN"):
        run("gru", np.ones((1, 2, 2)))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"state must be None or a tuple \(h, c\)"):
        run(make_recurrent("lstm", 2, 3), np.ones((1, 2, 2)), (np.zeros((1, 3)),))
    with pytest.raises(ValueError, match=r"dstate_T must be None or a tuple \(h,\)"):
        layer = make_recurrent("gru", 2, 3)
        run(layer, np.ones((1, 2, 2)))
        run_backward(layer, None, np.zeros((1, 3)))  # an array, not a tuple
    with pytest.raises(ValueError, match=r"dstate\[0\]"):
        c = make_cell("rnn", 2, 3)
        step(c, np.ones((1, 2)))
        step_backward(c, (None,))


# ============================================================================ bad input
BAD = [
    (dict(x=np.ones((2, 3, 5))), ValueError, "x must have input_size=2 features"),
    (dict(x=np.ones((2, 3))), ValueError, "x must be a 3-d array|x must have 3 dimension|ndim"),
    (dict(x=np.full((2, 3, 2), np.nan)), ValueError, "non-finite"),
    (dict(x=np.ones((2, 3, 2)), mask=np.ones((2, 4), bool)), ValueError, r"mask must have shape"),
    (dict(x=np.ones((2, 3, 2)), mask=np.ones((2, 3))), TypeError, "mask must be a bool array"),
    (dict(x=np.ones((2, 3, 2)), mask=np.ones((2, 3), bool), lengths=np.array([1, 2])),
     ValueError, "either mask or lengths"),
    (dict(x=np.ones((2, 3, 2)), lengths=np.array([0, 2])), ValueError, "lengths"),
    (dict(x=np.ones((2, 3, 2)), h0=np.ones((2, 4))), ValueError, "h0"),
    (dict(x=np.ones((2, 3, 2)), h0=np.ones((2, 2, 3))), ValueError, "h0"),
    (dict(x=np.ones((2, 2)), steps=0), ValueError, "steps"),
    (dict(x=np.ones((2, 3, 2), dtype=complex)), TypeError, "x"),
    (dict(x="abc"), (TypeError, ValueError), "x"),
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("kwargs", "error", "match"), BAD)
def test_bad_inputs_raise_clear_errors(kind, kwargs, error, match):
    layer = make(kind, 2, 3)
    with pytest.raises(error, match=match):
        layer.forward(**kwargs)


@pytest.mark.parametrize("kind", KINDS)
def test_bad_constructor_backward_and_cell_arguments(kind):
    with pytest.raises(ValueError, match="hidden_size"):
        make(kind, 2, 0)
    with pytest.raises((TypeError, ValueError), match="num_layers"):
        make(kind, 2, 3, 1.5)
    layer = make(kind, 2, 3)
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(np.ones((1, 2, 3)))
    layer(np.ones((1, 2, 2)))
    with pytest.raises(ValueError, match="dhs"):
        layer.backward(np.ones((1, 3, 3)))
    with pytest.raises(ValueError, match="dhT"):
        layer.backward(None, np.ones((1, 2)))
    cell = make_single_cell(kind, 2, 3)
    with pytest.raises(RuntimeError, match="empty cache stack"):
        cell.backward(np.ones((1, 3)))
    with pytest.raises(ValueError, match="x_t must have input_size=2"):
        cell(np.ones((1, 3)))
    with pytest.raises(ValueError, match="h_prev"):
        cell(np.ones((1, 2)), np.ones((2, 3)))
    cell(np.ones((1, 2)))
    with pytest.raises(ValueError, match="dh"):
        cell.backward(np.ones((2, 3)))
    cell.reset()
    assert cell.depth == 0


def test_bad_nonlinearity_and_step_function_shapes():
    with pytest.raises(ValueError, match=r"nonlinearity must be one of \('tanh', 'relu'\)"):
        RNN(2, 3, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="nonlinearity"):
        RNNCell(2, 3, nonlinearity="Tanh")
    x, h = np.ones((2, 3)), np.ones((2, 4))
    with pytest.raises(ValueError, match=r"Wx must have shape \(D, 3H\)=\(3, 12\)"):
        gru_step_forward(x, h, np.ones((3, 4)), np.ones((4, 12)), np.ones(12), np.ones(4))
    with pytest.raises(ValueError, match=r"bhn must have shape \(H,\)"):
        gru_step_forward(x, h, np.ones((3, 12)), np.ones((4, 12)), np.ones(12), np.ones(12))
    with pytest.raises(ValueError, match=r"Wh must have shape \(H, H\)"):
        rnn_step_forward(x, h, np.ones((3, 4)), np.ones((4, 12)), np.ones(4))
    with pytest.raises(TypeError, match="h0 must have dtype float32 like the other arrays"):
        rnn_forward(np.ones((2, 3, 3), dtype=np.float32), h, np.ones((3, 4)), np.ones((4, 4)),
                    np.ones(4))
    with pytest.raises(TypeError, match="cache must be the GRUCache"):
        _, _, cache = rnn_forward(np.ones((2, 3, 3)), h, np.ones((3, 4)), np.ones((4, 4)),
                                  np.ones(4))
        gru_backward(None, None, cache)  # type: ignore[arg-type]


def test_loop_functions_are_what_the_layer_runs():
    """GRU.forward returns gru_forward's numbers on the layer's parameters (no other code)."""
    rng = np.random.default_rng(20)
    layer = GRU(2, 3, rng=1)
    x, h0 = rng.standard_normal((2, 4, 2)), rng.standard_normal((2, 3))
    hs, hT = layer(x, h0)
    hs2, hT2, cache = gru_forward(x, h0, *layer.layers[0].params.values())
    np.testing.assert_array_equal(hs, hs2)
    np.testing.assert_array_equal(hT, hT2)
    dhs = rng.standard_normal(hs.shape)
    dx, dh0 = layer.backward(dhs)
    out = gru_backward(dhs, None, cache)
    np.testing.assert_array_equal(dx, out[0])
    np.testing.assert_array_equal(dh0, out[1])
