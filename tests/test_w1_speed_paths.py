"""The speed-motivated paths of the MLP-VAE training step (issue #4, W1) compute what the plain
formulas compute: skipped input gradients, the fused Bernoulli loss, the compiled Adam twin, the
ReLU without np.where; and the training step's guards (gradient finiteness check, the
optimizer's view of the model's parameters) miss nothing."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minivae.fast import backend
from minivae.gradcheck import check_layer
from minivae.models import VAE, Autoencoder
from minivae.nn import MLP, Dense, ReLU, Sequential
from minivae.objectives import losses
from minivae.train.loop import train_step
from minivae.train.optim import SGD, Adam, adam_update, nonfinite_grad_names

SETTINGS = settings(max_examples=25, deadline=None)
seeds = st.integers(0, 2**32 - 1)
DTYPES = [np.float32, np.float64]


def grads_of(layer) -> dict[str, np.ndarray]:
    return {name: g.copy() for name, _, g in layer.parameters()}


def assert_same_grads(a, b) -> None:
    ga, gb = grads_of(a), grads_of(b)
    assert list(ga) == list(gb)
    for name in ga:
        np.testing.assert_array_equal(ga[name], gb[name], err_msg=name)


# ============================================================== input gradients skipped
@pytest.mark.parametrize("shape", [(5, 3), (2, 4, 3)])
def test_dense_without_input_grad_returns_none_and_the_same_parameter_grads(shape):
    rng = np.random.default_rng(0)
    x, dy = rng.standard_normal(shape), rng.standard_normal(shape[:-1] + (4,))
    full, lean = Dense(3, 4, rng=1), Dense(3, 4, rng=1, input_grad=False)
    np.testing.assert_array_equal(lean.forward(x), full.forward(x))
    assert full.backward(dy).shape == shape
    assert lean.backward(dy) is None
    for name, g in grads_of(full).items():
        np.testing.assert_array_equal(lean.grads[name], g)
    assert repr(lean) == "Dense(3, 4, input_grad=False)" and repr(full) == "Dense(3, 4)"
    lean.input_grad = True  # the flag is a plain attribute
    lean.forward(x)
    np.testing.assert_array_equal(lean.backward(dy), full.backward(dy))


def test_dense_input_grad_flag_is_validated():
    with pytest.raises(TypeError, match="input_grad must be a bool"):
        Dense(2, 3, input_grad=0)
    with pytest.raises(TypeError, match="input_grad must be a bool"):
        MLP([2, 3], input_grad="no")


def test_dense_without_input_grad_passes_the_parameter_gradcheck():
    layer = Dense(3, 4, rng=0, input_grad=False)
    x = np.random.default_rng(1).standard_normal((5, 3))
    results = check_layer(layer, x, rng=2, wrt="params")
    assert results and all(r.passed for r in results), "\n".join(map(str, results))


def test_mlp_input_grad_false_skips_only_the_first_layer():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 5))
    full = MLP([5, 4, 3, 2], rng=3)
    lean = MLP([5, 4, 3, 2], rng=3, input_grad=False)
    assert lean.input_grad is False and full.input_grad is True
    assert [layer.input_grad for layer in lean.layers if isinstance(layer, Dense)] == [
        False, True, True]
    dy = rng.standard_normal((6, 2))
    np.testing.assert_array_equal(lean.forward(x), full.forward(x))
    assert lean.backward(dy) is None
    assert full.backward(dy).shape == x.shape
    assert_same_grads(lean, full)
    lean.input_grad = True
    lean.forward(x)
    assert lean.backward(dy).shape == x.shape


def test_sequential_refuses_a_missing_input_gradient_in_the_middle():
    seq = Sequential(Dense(3, 4, rng=0), ReLU(), Dense(4, 2, rng=1, input_grad=False))
    y = seq.forward(np.ones((2, 3)))
    with pytest.raises(RuntimeError, match=r"layer 2 .*input_grad=False.* only the first layer"):
        seq.backward(np.ones_like(y))


@pytest.mark.parametrize("make", [
    lambda: VAE(6, [5], 2, rng=0),
    lambda: VAE(6, [5], 2, likelihood="gaussian", objective="iwae", k=3, rng=0),
    lambda: Autoencoder(6, [5], 2, rng=0),
])
def test_models_skip_the_encoder_input_gradient_and_keep_their_gradients(make):
    X = np.random.default_rng(0).random((7, 6))
    lean, full = make(), make()
    full.encoder.input_grad = True  # what every model did before
    assert lean.encoder.input_grad is False and lean.decoder.input_grad is True
    for model in (lean, full):
        model.zero_grad()
        model.loss(X, rng=5)
        model.backward()
    assert_same_grads(lean, full)


# ======================================================================== ReLU
@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_values_gradient_and_dtype(dtype):
    x = np.array([[-2.0, -0.0, 0.0, 1.5, 3.0]], dtype)
    relu = ReLU(dtype=dtype)
    y = relu.forward(x)
    assert y.dtype == dtype
    np.testing.assert_array_equal(y, [[0.0, 0.0, 0.0, 1.5, 3.0]])
    assert not np.signbit(y).any()  # max(x, 0) gives +0, never -0
    dx = relu.backward(np.full_like(x, 2.0))
    assert dx.dtype == dtype
    np.testing.assert_array_equal(dx, [[0.0, 0.0, 0.0, 2.0, 2.0]])


def test_relu_propagates_nan_instead_of_hiding_it():
    y = ReLU().forward(np.array([[np.nan, -1.0]]))
    assert np.isnan(y[0, 0]) and y[0, 1] == 0.0


# ===================================================================== Bernoulli loss
shapes = st.one_of(
    st.tuples(st.integers(1, 5), st.integers(1, 6)),
    st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)),
)


@SETTINGS
@given(shape=shapes, seed=seeds, masked=st.booleans(),
       reduction=st.sampled_from(["mean", "sum", "none"]),
       dtype=st.sampled_from(DTYPES), scale=st.sampled_from([0.1, 3.0, 60.0]))
def test_bernoulli_nll_and_grad_equals_the_two_functions(shape, seed, masked, reduction,
                                                         dtype, scale):
    rng = np.random.default_rng(seed)
    logits = (scale * rng.standard_normal(shape)).astype(dtype)
    target = rng.random(shape).astype(dtype)
    mask = rng.random(shape) < 0.7 if masked else None
    if masked:
        target[~mask] = np.nan
    kw = {"mask": mask, "reduction": reduction}
    value, grad = losses.bernoulli_nll_and_grad(logits, target, **kw)
    # The same gradient to the last bit; the value to rounding (exp(-|l|) is obtained from
    # exp(-l) there, by a reciprocal).
    np.testing.assert_array_equal(grad, losses.bernoulli_nll_grad(logits, target, **kw))
    assert grad.dtype == dtype
    rtol = 1e-5 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(value, losses.bernoulli_nll(logits, target, **kw), rtol=rtol,
                               atol=rtol)


@pytest.mark.parametrize("dtype", DTYPES)
def test_bernoulli_value_matches_an_extended_precision_reference(dtype):
    """Per-element error of softplus(l) - x*l against long double, including logits where
    exp overflows or underflows in the dtype; no warning, no NaN."""
    rng = np.random.default_rng(0)
    logits = np.concatenate([rng.standard_normal(4000) * s for s in (0.01, 1, 5, 20, 60)]
                            + [np.array([1000.0, -1000, 88.5, -88.5, 103.5, -103.5, 709.5,
                                         -709.5, 745.5, -745.5, 0.0, 1e-30, 36.7, -36.7])])
    target = rng.random(logits.size)
    target[::3], target[1::3] = 0.0, 1.0
    logits, target = logits.astype(dtype)[:, None], target.astype(dtype)[:, None]
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        alone = losses.bernoulli_nll(logits, target, reduction="none")
        fused, _ = losses.bernoulli_nll_and_grad(logits, target, reduction="none")
    ld, xd = logits.astype(np.longdouble)[:, 0], target.astype(np.longdouble)[:, 0]
    exact = np.maximum(ld, 0) + np.log1p(np.exp(-np.abs(ld))) - xd * ld
    # the terms are of size max(|l|, 1): that is what rounding errors are relative to
    size = np.maximum(np.abs(ld), 1)
    eps = np.finfo(dtype).eps
    for value in (alone, fused):
        assert value.dtype == dtype and np.all(np.isfinite(value))
        assert float(np.max(np.abs(value - exact) / size)) < 4 * eps


@pytest.mark.parametrize("dtype", DTYPES)
def test_bernoulli_log1p_part_is_accurate_for_tiny_and_unit_exponentials(dtype):
    """softplus(l) for l < 0 is log1p(exp(l)) alone: relative accuracy where it is tiny."""
    logits = -np.array([0.0, 1e-6, 0.5, 5.0, 15.0, 17.0, 30.0, 40.0, 80.0], dtype)[:, None]
    value = losses.bernoulli_nll(logits, np.zeros_like(logits), reduction="none")
    ld = logits.astype(np.longdouble)[:, 0]
    exact = np.log1p(np.exp(ld))
    rel = np.abs(value - exact) / exact
    assert float(rel.max()) < 4 * np.finfo(dtype).eps


# ========================================================================== Adam
def adam_by_paper(p, g, m, v, lr, b1, b2, eps, t, wd, decoupled):
    """Algorithm 1 of Kingma & Ba (2015), with weight decay, in float64 entry by entry."""
    for k in np.ndindex(p.shape):
        gk = g[k] + wd * p[k] if wd and not decoupled else g[k]
        m[k] = b1 * m[k] + (1 - b1) * gk
        v[k] = b2 * v[k] + (1 - b2) * gk * gk
        m_hat, v_hat = m[k] / (1 - b1**t), v[k] / (1 - b2**t)
        if wd and decoupled:
            p[k] -= lr * wd * p[k]
        p[k] -= lr * m_hat / (math.sqrt(v_hat) + eps)


@pytest.mark.parametrize("wd, decoupled", [(0.0, False), (0.05, False), (0.05, True)])
def test_adam_reference_is_the_paper_algorithm(wd, decoupled):
    rng = np.random.default_rng(1)
    p1 = rng.standard_normal((5, 3))
    p2, m1, v1 = p1.copy(), np.zeros_like(p1), np.zeros_like(p1)
    m2, v2 = m1.copy(), v1.copy()
    for t in range(1, 12):
        g = rng.standard_normal(p1.shape) * 10.0 ** rng.integers(-6, 3, p1.shape)
        g_before = g.copy()
        adam_update.reference(p1, g, m1, v1, 1e-2, 0.9, 0.999, 1e-8, t, wd, decoupled)
        adam_by_paper(p2, g, m2, v2, 1e-2, 0.9, 0.999, 1e-8, t, wd, decoupled)
        np.testing.assert_array_equal(g, g_before)  # the gradient is only read
    for a, b in ((p1, p2), (m1, m2), (v1, v2)):
        np.testing.assert_allclose(a, b, rtol=1e-14, atol=0)


numba_only = pytest.mark.skipif(not backend.numba_available(), reason="needs numba")


@numba_only
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("wd, decoupled", [(0.0, False), (0.05, False), (0.05, True)])
def test_adam_twin_equals_the_reference(dtype, wd, decoupled):
    """The compiled twin against the reference over 30 steps of W1-like gradients (entries of
    1e-6 to 1e2, one weight matrix of each layer shape): float64 to 1e-12 relative (to each
    array's largest entry); float32 to 8 ulps of it.  m and v get the reference's very operations:
    without the L2 term (which reads param) they are equal to the last bit."""
    from minivae.fast.adam import adam_update as twin

    rng = np.random.default_rng(2)
    for shape in ((784, 40), (40,), (3, 5, 7)):
        ref = [rng.standard_normal(shape).astype(dtype), np.zeros(shape, dtype),
               np.zeros(shape, dtype)]
        fast = [a.copy() for a in ref]
        for t in range(1, 31):
            g = (rng.standard_normal(shape) * 10.0 ** rng.integers(-6, 3, shape)).astype(dtype)
            hyper = (3e-3, 0.9, 0.999, 1e-8, t, wd, decoupled)
            adam_update.reference(ref[0], g, ref[1], ref[2], *hyper)
            twin(fast[0], g, fast[1], fast[2], *hyper)
        tol = 1e-12 if dtype == np.float64 else 8 * np.finfo(np.float32).eps
        for got, want, name in zip(fast, ref, ("param", "m", "v")):
            assert got.dtype == dtype
            if name != "param" and not (wd and not decoupled):
                np.testing.assert_array_equal(got, want, err_msg=name)
            err = np.max(np.abs(got - want)) / np.max(np.abs(want))
            assert err <= tol, (name, shape, err)
            assert not np.array_equal(ref[0], rng.standard_normal(shape))


@numba_only
def test_adam_optimizer_runs_the_twin_on_numba_and_the_reference_on_numpy(monkeypatch):
    from minivae.fast import adam as fast_adam

    calls = []
    original = fast_adam.adam_update
    monkeypatch.setattr(fast_adam, "adam_update",
                        lambda *a: (calls.append("twin"), original(*a))[1])
    layer = Dense(3, 2, rng=0)
    layer.grads["W"][...] = 1.0
    for name, expected in (("numpy", []), ("numba", ["twin", "twin"])):
        calls.clear()
        with backend.use_backend(name):
            Adam(layer, lr=0.1).step()
        assert calls == expected, name


# ============================================================== gradient finiteness check
@settings(max_examples=60, deadline=None)
@given(shape=st.one_of(st.just(()), st.tuples(st.integers(1, 40)),
                       st.tuples(st.integers(1, 9), st.integers(1, 9))),
       dtype=st.sampled_from(DTYPES), bad=st.sampled_from([np.nan, np.inf, -np.inf]),
       data=st.data())
def test_nonfinite_grad_names_never_misses_a_nan_or_inf(shape, dtype, bad, data):
    rng = np.random.default_rng(data.draw(seeds))
    g = rng.standard_normal(shape).astype(dtype)
    clean = rng.standard_normal(3).astype(dtype)
    flat_index = data.draw(st.integers(0, max(g.size - 1, 0)))
    g.reshape(-1)[flat_index] = bad
    triples = [("a", clean, clean), ("b", g, g), ("c", clean, clean.copy())]
    assert nonfinite_grad_names(triples) == ["b"]


@pytest.mark.parametrize("dtype", DTYPES)
def test_nonfinite_grad_names_no_false_alarm_when_g_dot_g_overflows(dtype):
    big = np.full(1000, np.finfo(dtype).max / 4, dtype)  # finite; its square overflows
    transposed = np.ones((3, 4), dtype).T  # not contiguous
    empty = np.zeros((0, 3), dtype)
    triples = [("big", big, big), ("t", transposed, transposed), ("e", empty, empty)]
    assert nonfinite_grad_names(triples) == []


def test_train_step_names_a_nonfinite_gradient_and_leaves_the_parameters():
    X = np.random.default_rng(0).random((8, 6))
    model = VAE(6, [5], 2, rng=0)
    opt = Adam(model, lr=1e-3)
    before = {name: p.copy() for name, p, _ in model.parameters()}
    original = model.backward

    def poisoned():
        original()
        model.decoder.layers[0].grads["W"][1, 2] = -np.inf

    model.backward = poisoned
    with pytest.raises(FloatingPointError, match=r"at epoch 1, step 1/1 in parameter "
                                                 r"'decoder.layers.0.W'"):
        train_step(model, opt, X, rng=np.random.default_rng(1), where="epoch 1, step 1/1")
    for name, p, _ in model.parameters():
        np.testing.assert_array_equal(p, before[name])


# =========================================================== optimizer's parameter list
def test_optimizer_sees_every_change_of_the_model_parameters():
    layer = Dense(3, 2, rng=0)
    opt = SGD(layer, lr=0.1)
    first = list(opt.parameters())
    assert [t[1] for t in opt.parameters()] == [t[1] for t in first]
    # a rebound gradient is picked up (and checked)
    layer.grads["W"] = np.ones((3, 2))
    assert next(iter(opt.parameters()))[2] is layer.grads["W"]
    layer.grads["W"] = np.ones((3, 2), np.float32)
    with pytest.raises(ValueError, match="grad must match param"):
        opt.step()
    layer.grads["W"] = np.zeros((3, 2))
    # a parameter made read-only after the optimizer was built: the same clear error as before
    layer.params["b"].flags.writeable = False
    with pytest.raises(ValueError, match="'b': param array is read-only"):
        opt.step()
    layer.params["b"].flags.writeable = True
    opt.step()
    # a new parameter changes the layout
    layer.add_param("extra", np.zeros(2))
    with pytest.raises(RuntimeError, match="parameters changed"):
        opt.step()


# ======================================================================= float32 end to end
def test_w1_step_stays_float32():
    X = np.random.default_rng(0).random((16, 12)).astype(np.float32)
    model = VAE(12, [8], 3, rng=0, dtype=np.float32)
    opt = Adam(model, lr=1e-3)
    train_step(model, opt, X, rng=np.random.default_rng(1))
    value, grad = losses.bernoulli_nll_and_grad(model.decoder.forward(
        np.zeros((16, 3), np.float32)), X, reduction="none")
    assert value.dtype == np.float32 and grad.dtype == np.float32
    for _, p, g in model.parameters():
        assert p.dtype == np.float32 and g.dtype == np.float32
    for arrays in opt.state.values():
        assert all(a.dtype == np.float32 for a in arrays.values())
