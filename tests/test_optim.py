"""Tests for minivae.train.optim: hand-computed steps, convergence, clipping, checkpoints,
dtypes."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from minivae.fast import backend
from minivae.nn.dense import Dense
from minivae.train.optim import (
    SGD,
    Adam,
    Momentum,
    Optimizer,
    adam_update,
    clip_grad_norm,
    clip_grad_value,
)


def one_param(values, grad=None, dtype=np.float64):
    """A single (name, param, grad) triple list; returns (triples, param, grad)."""
    p = np.array(values, dtype=dtype)
    g = np.zeros_like(p) if grad is None else np.array(grad, dtype=dtype)
    return [("w", p, g)], p, g


# ---------------------------------------------------------------------------- hand-computed
def test_sgd_step_by_hand():
    triples, p, g = one_param([1.0, -2.0], [0.5, -1.0])
    SGD(triples, lr=0.1).step()
    # p - lr * g = [1 - 0.05, -2 + 0.1]
    np.testing.assert_allclose(p, [0.95, -1.9], rtol=0, atol=1e-15)
    np.testing.assert_array_equal(g, [0.5, -1.0])  # the gradient is only read


def test_sgd_weight_decay_by_hand():
    triples, p, g = one_param([1.0, -2.0], [0.5, -1.0])
    SGD(triples, lr=0.1, weight_decay=0.1).step()
    # g + wd * p = [0.5 + 0.1, -1 - 0.2] = [0.6, -1.2]; p - 0.1 * that = [0.94, -1.88]
    np.testing.assert_allclose(p, [0.94, -1.88], rtol=0, atol=1e-15)


def test_momentum_two_steps_by_hand():
    triples, p, g = one_param([1.0, -2.0], [0.5, -1.0])
    opt = Momentum(triples, lr=0.1, momentum=0.9)
    opt.step()
    # buf = g1 = [0.5, -1]; p = [1, -2] - 0.1 * buf = [0.95, -1.9]
    np.testing.assert_allclose(p, [0.95, -1.9], atol=1e-15)
    g[:] = [0.25, 2.0]
    opt.step()
    # buf = 0.9 * [0.5, -1] + [0.25, 2] = [0.7, 1.1]; p = [0.95 - 0.07, -1.9 - 0.11]
    np.testing.assert_allclose(opt.state["velocity"]["w"], [0.7, 1.1], atol=1e-15)
    np.testing.assert_allclose(p, [0.88, -2.01], atol=1e-14)


def test_nesterov_two_steps_by_hand():
    triples, p, g = one_param([1.0, -2.0], [0.5, -1.0])
    opt = Momentum(triples, lr=0.1, momentum=0.9, nesterov=True)
    opt.step()
    # buf = g1; d = g1 + 0.9 * buf = 1.9 * g1 = [0.95, -1.9]; p = [1 - 0.095, -2 + 0.19]
    np.testing.assert_allclose(p, [0.905, -1.81], atol=1e-15)
    g[:] = [0.25, 2.0]
    opt.step()
    # buf = [0.7, 1.1]; d = [0.25 + 0.63, 2 + 0.99] = [0.88, 2.99]
    # p = [0.905 - 0.088, -1.81 - 0.299]
    np.testing.assert_allclose(p, [0.817, -2.109], atol=1e-14)


def test_adam_first_two_steps_by_hand():
    triples, p, g = one_param([1.0, -2.0], [0.5, -1.0])
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-8
    opt = Adam(triples, lr=lr, betas=(b1, b2), eps=eps)

    opt.step()
    # t = 1: m = 0.1 * g = [0.05, -0.1]; v = 0.001 * g^2 = [0.00025, 0.001]
    # m_hat = m / (1 - 0.9) = [0.5, -1]; v_hat = v / (1 - 0.999) = [0.25, 1]
    # p = p - 0.1 * m_hat / (sqrt(v_hat) + eps)  ~=  [1 - 0.1, -2 + 0.1]
    np.testing.assert_allclose(opt.state["m"]["w"], [0.05, -0.1], atol=1e-15)
    np.testing.assert_allclose(opt.state["v"]["w"], [0.00025, 0.001], atol=1e-15)
    p1 = np.array([1.0 - 0.1 * 0.5 / (0.5 + 1e-8), -2.0 + 0.1 * 1.0 / (1.0 + 1e-8)])
    np.testing.assert_allclose(p, p1, rtol=1e-14)

    g[:] = [0.25, 2.0]
    opt.step()
    # t = 2: m = 0.9 * [0.05, -0.1] + 0.1 * [0.25, 2] = [0.07, 0.11]
    #        v = 0.999 * [0.00025, 0.001] + 0.001 * [0.0625, 4] = [0.00031225, 0.004999]
    # bias corrections: 1 - 0.9^2 = 0.19, 1 - 0.999^2 = 0.001999
    # m_hat = [0.07, 0.11] / 0.19; v_hat = [0.00031225, 0.004999] / 0.001999
    np.testing.assert_allclose(opt.state["m"]["w"], [0.07, 0.11], atol=1e-15)
    np.testing.assert_allclose(opt.state["v"]["w"], [0.00031225, 0.004999], atol=1e-15)
    m_hat = np.array([0.07, 0.11]) / 0.19
    v_hat = np.array([0.00031225, 0.004999]) / 0.001999
    p2 = p1 - 0.1 * m_hat / (np.sqrt(v_hat) + 1e-8)
    np.testing.assert_allclose(p, p2, rtol=1e-13)
    # the same numbers rounded, worked out on paper: steps of 0.093218 and 0.036610
    np.testing.assert_allclose(p, [0.806782, -1.936610], atol=1e-6)
    assert opt.t == 2


def test_adam_update_function_matches_optimizer():
    rng = np.random.default_rng(0)
    p0 = rng.standard_normal((3, 4))
    grads = [rng.standard_normal((3, 4)) for _ in range(3)]
    triples, p, g = one_param(p0)
    opt = Adam(triples, lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1, decoupled=True)
    q, m, v = p0.copy(), np.zeros_like(p0), np.zeros_like(p0)
    for t, grad in enumerate(grads, start=1):
        g[:] = grad
        opt.step()
        adam_update(q, grad, m, v, 0.01, 0.8, 0.99, 1e-6, t, 0.1, True)
    np.testing.assert_array_equal(p, q)
    np.testing.assert_array_equal(opt.state["m"]["w"], m)


# ------------------------------------------------------------------------------- weight decay
def test_adam_l2_equals_adam_on_penalised_gradient():
    """Coupled weight decay is exactly Adam on grad + wd * param."""
    rng = np.random.default_rng(1)
    p0, grad = rng.standard_normal(5), rng.standard_normal(5)
    triples_a, pa, ga = one_param(p0, grad)
    triples_b, pb, gb = one_param(p0)
    opt_a = Adam(triples_a, lr=0.05, weight_decay=0.3)
    opt_b = Adam(triples_b, lr=0.05)
    for _ in range(4):
        gb[:] = grad + 0.3 * pb
        opt_a.step()
        opt_b.step()
    np.testing.assert_allclose(pa, pb, rtol=1e-14)


def test_adamw_and_l2_decay_differ_as_documented():
    # Zero data gradient: only the decay acts.  Parameters of very different size.
    lr, wd = 0.01, 0.1
    triples_w, pw, _ = one_param([1.0, 100.0])
    triples_l, pl, _ = one_param([1.0, 100.0])
    adamw = Adam(triples_w, lr=lr, weight_decay=wd, decoupled=True)
    adam_l2 = Adam(triples_l, lr=lr, weight_decay=wd)
    adamw.step()
    adam_l2.step()
    # AdamW: p * (1 - lr * wd) = p * 0.999, proportional to the parameter
    np.testing.assert_allclose(pw, [0.999, 99.9], rtol=1e-14)
    # L2: the penalty gradient 0.1 * p is normalised by Adam: every entry moves by ~lr = 0.01
    np.testing.assert_allclose(pl, [0.99, 99.99], rtol=1e-7)
    # and AdamW keeps decaying geometrically: after 10 steps p * 0.999^10
    for _ in range(9):
        adamw.step()
    np.testing.assert_allclose(pw, np.array([1.0, 100.0]) * 0.999**10, rtol=1e-13)


# ----------------------------------------------------------------------------- convergence
def rosenbrock_grad(p: np.ndarray, out: np.ndarray) -> None:
    """Gradient of f(x, y) = (1 - x)^2 + 100 (y - x^2)^2, written into out."""
    x, y = p
    out[0] = -2.0 * (1.0 - x) - 400.0 * x * (y - x * x)
    out[1] = 200.0 * (y - x * x)


def test_adam_minimises_rosenbrock():
    triples, p, g = one_param([-1.5, 2.0])
    opt = Adam(triples, lr=0.02)
    for _ in range(4000):
        rosenbrock_grad(p, g)
        opt.step()
    np.testing.assert_allclose(p, [1.0, 1.0], atol=1e-3)


def test_momentum_minimises_quadratic():
    # f(p) = 0.5 * sum(a * p^2) with curvatures a; gradient a * p
    a = np.array([1.0, 10.0])
    for nesterov in (False, True):
        triples, p, g = one_param([3.0, -2.0])
        opt = Momentum(triples, lr=0.05, momentum=0.9, nesterov=nesterov)
        for _ in range(300):
            g[:] = a * p
            opt.step()
        assert np.max(np.abs(p)) < 1e-4, (nesterov, p)


# ------------------------------------------------------------------------------ vs PyTorch
# Importing torch takes several seconds; the numbers are also checked by hand above.
@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("sgd", dict(lr=0.1, weight_decay=0.01)),
        ("momentum", dict(lr=0.1, momentum=0.8, weight_decay=0.01)),
        ("nesterov", dict(lr=0.1, momentum=0.8, nesterov=True)),
        ("adam", dict(lr=0.01, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.05)),
        ("adamw", dict(lr=0.01, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.05)),
    ],
)
def test_matches_torch(name, kwargs):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    p0 = rng.standard_normal((3, 2))
    grads = [rng.standard_normal((3, 2)) for _ in range(5)]
    triples, p, g = one_param(p0)
    tp = torch.tensor(p0, requires_grad=True)
    if name == "sgd":
        ours, theirs = SGD(triples, **kwargs), torch.optim.SGD([tp], **kwargs)
    elif name in ("momentum", "nesterov"):
        ours, theirs = Momentum(triples, **kwargs), torch.optim.SGD([tp], **kwargs)
    elif name == "adam":
        ours, theirs = Adam(triples, **kwargs), torch.optim.Adam([tp], **kwargs)
    else:
        ours = Adam(triples, decoupled=True, **kwargs)
        theirs = torch.optim.AdamW([tp], **kwargs)
    for grad in grads:
        g[:] = grad
        tp.grad = torch.tensor(grad)
        ours.step()
        theirs.step()
    np.testing.assert_allclose(p, tp.detach().numpy(), rtol=1e-12, atol=1e-14)


@settings(max_examples=50, deadline=None)
@given(arrays(np.float64, 6, elements=st.floats(-1e3, 1e3).filter(lambda x: abs(x) > 1e-3)))
def test_adam_first_step_moves_each_entry_by_about_lr(grad):
    # At t = 1, m_hat = g and sqrt(v_hat) = |g|: the step is lr * g / (|g| + eps) ~ lr * sign(g)
    triples, p, g = one_param(np.zeros(6), grad)
    Adam(triples, lr=0.01).step()
    np.testing.assert_allclose(p, -0.01 * np.sign(grad), rtol=1e-4)


# -------------------------------------------------------------------------------- clipping
def test_clip_grad_norm_by_hand():
    a, b = np.zeros(2), np.zeros((1, 2))
    ga, gb = np.array([3.0, 0.0]), np.array([[0.0, 4.0]])
    triples = [("a", a, ga), ("b", b, gb)]
    assert clip_grad_norm(triples, 10.0) == pytest.approx(5.0)  # sqrt(9 + 16)
    np.testing.assert_array_equal(ga, [3.0, 0.0])  # below max_norm: untouched
    total = clip_grad_norm(triples, 1.0)
    assert total == pytest.approx(5.0)  # the norm before clipping
    # scaled by 1 / 5: [0.6, 0], [[0, 0.8]]
    np.testing.assert_allclose(ga, [0.6, 0.0], rtol=1e-15)
    np.testing.assert_allclose(gb, [[0.0, 0.8]], rtol=1e-15)
    assert clip_grad_norm(triples, 1.0) == pytest.approx(1.0)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_clip_grad_norm_non_finite_names_parameter(bad):
    g_ok, g_bad = np.array([1.0, 2.0]), np.array([[0.5, bad]])
    triples = [("enc.W", np.zeros(2), g_ok), ("dec.W", np.zeros((1, 2)), g_bad)]
    with pytest.raises(FloatingPointError, match=r"dec\.W") as info:
        clip_grad_norm(triples, 1.0)
    assert "enc.W" not in str(info.value)
    np.testing.assert_array_equal(g_ok, [1.0, 2.0])  # nothing was scaled


@settings(max_examples=60, deadline=None)
@given(
    arrays(np.float64, (3, 4), elements=st.floats(-1e6, 1e6)),
    arrays(np.float64, 5, elements=st.floats(-1e6, 1e6)),
    st.floats(1e-3, 1e3),
)
def test_clip_grad_norm_properties(g1, g2, max_norm):
    before = np.concatenate([g1.ravel(), g2])
    triples = [("a", np.zeros_like(g1), g1), ("b", np.zeros_like(g2), g2)]
    total = clip_grad_norm(triples, max_norm)
    after = np.concatenate([g1.ravel(), g2])
    assert total == pytest.approx(np.linalg.norm(before), rel=1e-12, abs=1e-300)
    assert np.linalg.norm(after) <= max_norm * (1 + 1e-12)
    if total <= max_norm:
        np.testing.assert_array_equal(after, before)
    else:  # same direction, norm exactly max_norm
        np.testing.assert_allclose(after, before * (max_norm / total), rtol=1e-12)
        assert np.linalg.norm(after) == pytest.approx(max_norm, rel=1e-12)


def test_clip_grad_value():
    g = np.array([-3.0, 0.5, 2.0])
    assert clip_grad_value([("w", np.zeros(3), g)], 1.0) == 3.0
    np.testing.assert_array_equal(g, [-1.0, 0.5, 1.0])
    g_nan = np.array([np.nan, 0.0])
    with pytest.raises(FloatingPointError, match="'x'"):
        clip_grad_value([("x", np.zeros(2), g_nan)], 1.0)


# ---------------------------------------------------------------------- models and checkpoints
def test_optimizer_accepts_layer_and_zero_grad():
    layer = Dense(3, 2, rng=0)
    rng = np.random.default_rng(3)
    x, target = rng.standard_normal((8, 3)), rng.standard_normal((8, 2))
    opt = Adam(layer, lr=0.05)

    def loss():
        return float(np.mean((layer.forward(x) - target) ** 2))

    start = loss()
    for _ in range(50):
        opt.zero_grad()
        y = layer.forward(x)
        layer.backward(2.0 * (y - target) / y.size)
        opt.step()
    assert loss() < 0.5 * start
    assert set(opt.state["m"]) == {"W", "b"}
    opt.zero_grad()
    assert all(np.all(g == 0) for _, _, g in layer.parameters())


def test_optimizer_sees_model_arrays_replaced_after_creation():
    """Given a model, the optimizer looks its grads up at every step (no stale references)."""
    layer = Dense(2, 1, rng=0)
    opt = SGD(layer, lr=1.0)
    layer.grads["b"] = np.ones(1)  # a layer that rebinds instead of accumulating in place
    b_before = layer.params["b"].copy()
    opt.step()
    np.testing.assert_array_equal(layer.params["b"], b_before - 1.0)
    layer.add_param("extra", np.zeros(3))
    with pytest.raises(RuntimeError, match="parameters changed"):
        opt.step()


def _train(opt_factory, n_steps, state=None, params=None):
    """Run n_steps on a fixed sequence of gradients; optionally resume from (params, state)."""
    rng = np.random.default_rng(4)
    w = rng.standard_normal((3, 2)) if params is None else params["w"].copy()
    b = rng.standard_normal(2) if params is None else params["b"].copy()
    gw, gb = np.zeros_like(w), np.zeros_like(b)
    opt = opt_factory([("w", w, gw), ("b", b, gb)])
    if state is not None:
        opt.load_state_dict(state)
    for _ in range(n_steps):
        k = opt.t  # gradients depend on the global step: w^3 - sin(k)
        gw[:] = w**3 - math.sin(k)
        gb[:] = b - math.cos(k)
        opt.step()
    return {"w": w, "b": b}, opt


@pytest.mark.parametrize(
    "factory",
    [
        lambda t: SGD(t, lr=0.05, weight_decay=0.01),
        lambda t: Momentum(t, lr=0.05, momentum=0.9, nesterov=True),
        lambda t: Adam(t, lr=0.05, weight_decay=0.01, decoupled=True),
    ],
)
def test_state_dict_roundtrip_through_npz_resumes_identically(factory):
    full, _ = _train(factory, 20)
    half, opt = _train(factory, 10)
    buf = io.BytesIO()
    np.savez(buf, **{f"param/{k}": v for k, v in half.items()}, **opt.state_dict())
    buf.seek(0)
    with np.load(buf, allow_pickle=False) as f:
        loaded = {k: f[k] for k in f.files}
    params = {k.split("/", 1)[1]: v for k, v in loaded.items() if k.startswith("param/")}
    state = {k: v for k, v in loaded.items() if not k.startswith("param/")}
    resumed, opt2 = _train(factory, 10, state=state, params=params)
    assert opt2.t == 20
    for k in full:
        np.testing.assert_array_equal(resumed[k], full[k])


def test_state_dict_contents_and_load_errors():
    triples, p, g = one_param([1.0, 2.0], [0.1, 0.2])
    opt = Adam(triples, lr=0.01, betas=(0.8, 0.9))
    opt.step()
    sd = opt.state_dict()
    assert sd["class"] == "Adam" and sd["t"] == 1 and sd["beta1"] == 0.8
    assert set(sd) == {"class", "lr", "t", "beta1", "beta2", "eps", "weight_decay",
                       "decoupled", "m/w", "v/w"}
    sd["m/w"][0] = 123.0  # a copy: the optimizer's state is not aliased
    assert opt.state["m"]["w"][0] != 123.0

    other = Adam(one_param([0.0, 0.0])[0], lr=0.5)
    other.load_state_dict(opt.state_dict())
    assert other.lr == 0.01 and other.beta1 == 0.8 and other.t == 1
    with pytest.raises(ValueError, match="Adam optimizer, not SGD"):
        SGD(one_param([0.0, 0.0])[0], lr=0.1).load_state_dict(opt.state_dict())
    with pytest.raises(ValueError, match=r"missing \['m/w', 'v/w'\].*unexpected \['m/z', 'v/z'\]"):
        bad = {k.replace("/w", "/z"): v for k, v in opt.state_dict().items()}
        other.load_state_dict(bad)
    with pytest.raises(ValueError, match=r"m/w: expected shape \(2,\), got \(3,\)"):
        other.load_state_dict({**opt.state_dict(), "m/w": np.zeros(3)})
    bad_beta = {**opt.state_dict(), "beta1": 1.5, "lr": 0.7}
    with pytest.raises(ValueError, match=r"betas\[0\]"):
        other.load_state_dict(bad_beta)
    assert other.lr == 0.01 and other.beta1 == 0.8  # a failed load changes nothing


# ------------------------------------------------------------------------------------ dtypes
class Float32Only(np.ndarray):
    """An array that fails any ufunc seeing a non-float32 array or NumPy scalar (Python floats
    are fine: NumPy treats them as 'weak' and keeps float32).  Catches float64 promotion."""

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        out = kwargs.get("out", ())
        for x in inputs + out:
            if isinstance(x, (np.ndarray, np.generic)):
                assert x.dtype == np.float32, f"{ufunc.__name__} received {x.dtype}"
        inputs = tuple(x.view(np.ndarray) if isinstance(x, Float32Only) else x for x in inputs)
        if out:
            kwargs["out"] = tuple(
                o.view(np.ndarray) if isinstance(o, Float32Only) else o for o in out
            )
        result = getattr(ufunc, method)(*inputs, **kwargs)
        assert result.dtype == np.float32, f"{ufunc.__name__} produced {result.dtype}"
        return out[0] if out else result.view(Float32Only)


@pytest.mark.parametrize(
    "factory",
    [
        lambda t: SGD(t, lr=0.1, weight_decay=0.1),
        lambda t: Momentum(t, lr=0.1, nesterov=True, weight_decay=0.1),
        lambda t: Adam(t, lr=0.1, weight_decay=0.1),
        lambda t: Adam(t, lr=0.1, weight_decay=0.1, decoupled=True),
    ],
)
def test_float32_params_stay_float32_without_promotion(factory):
    rng = np.random.default_rng(5)
    p = rng.standard_normal((4, 3)).astype(np.float32).view(Float32Only)
    g = np.zeros_like(p)
    opt = factory([("w", p, g)])
    opt.lr = np.float64(0.05)  # even a float64 scalar from a schedule must not promote
    for _ in range(3):
        g[...] = rng.standard_normal((4, 3)).astype(np.float32)
        opt.step()
    assert p.dtype == np.float32 and g.dtype == np.float32
    for arrays_ in opt.state.values():
        assert all(a.dtype == np.float32 for a in arrays_.values())
    assert np.all(np.isfinite(p.view(np.ndarray)))


def test_float32_spy_catches_promotion():
    """The spy used above really fails on a float64 constant (so that test can fail)."""
    p = np.ones(2, dtype=np.float32).view(Float32Only)
    with pytest.raises(AssertionError, match="float64"):
        p *= np.float64(0.5)


def test_adam_uses_numpy_reference_on_both_backends():
    triples, p, g = one_param([1.0, -2.0], [0.5, -1.0])
    opt = Adam(triples, lr=0.1)
    for name in backend.BACKENDS:
        if name == "numba" and not backend.numba_available():
            continue
        with backend.use_backend(name):
            p[:] = [1.0, -2.0]
            opt.t = 0
            opt.state["m"]["w"][:] = 0.0
            opt.state["v"]["w"][:] = 0.0
            opt.step()
            np.testing.assert_allclose(p, [0.9, -1.9], rtol=1e-7)


# -------------------------------------------------------------------------------- validation
def test_validation_errors():
    triples, p, g = one_param([1.0])
    with pytest.raises(ValueError, match="lr must be > 0"):
        SGD(triples, lr=0.0)
    with pytest.raises(ValueError, match="lr must be > 0"):
        Adam(triples, lr=-1e-3)
    with pytest.raises(ValueError, match=r"betas\[0\] must be < 1"):
        Adam(triples, betas=(1.0, 0.999))
    with pytest.raises(ValueError, match=r"betas\[1\] must be >= 0"):
        Adam(triples, betas=(0.9, -0.1))
    with pytest.raises(TypeError, match="betas must be a pair"):
        Adam(triples, betas=0.9)
    with pytest.raises(ValueError, match="eps must be > 0"):
        Adam(triples, eps=0.0)
    with pytest.raises(ValueError, match="momentum must be < 1"):
        Momentum(triples, lr=0.1, momentum=1.0)
    with pytest.raises(ValueError, match="nesterov=True needs momentum > 0"):
        Momentum(triples, lr=0.1, momentum=0.0, nesterov=True)
    with pytest.raises(ValueError, match="weight_decay must be >= 0"):
        SGD(triples, lr=0.1, weight_decay=-0.1)
    with pytest.raises(ValueError, match="params is empty"):
        SGD([], lr=0.1)
    with pytest.raises(TypeError, match="name, param, grad"):
        SGD([(p, g)], lr=0.1)
    with pytest.raises(TypeError, match="an object with .parameters"):
        SGD(p, lr=0.1)
    with pytest.raises(ValueError, match=r"'w': grad must match param.*float32"):
        SGD([("w", p, g.astype(np.float32))], lr=0.1)
    with pytest.raises(ValueError, match="duplicate parameter name 'w'"):
        SGD([("w", p, g), ("w", p.copy(), g.copy())], lr=0.1)
    with pytest.raises(ValueError, match="max_norm must be > 0"):
        clip_grad_norm(triples, 0.0)
    opt = SGD(triples, lr=0.1)
    opt.lr = 0.0  # allowed between steps (end of a cosine schedule)
    with pytest.raises(ValueError, match="lr must be >= 0"):
        opt.lr = -0.1
    assert "SGD(lr=0.0" in repr(opt)


def test_shared_parameter_updated_once():
    p, g = np.array([1.0]), np.array([1.0])
    opt = SGD([("enc.w", p, g), ("dec.w", p, g)], lr=0.1)  # weight tying
    opt.step()
    np.testing.assert_allclose(p, [0.9])
    with pytest.raises(ValueError, match="same array but have different grad"):
        SGD([("a", p, g), ("b", p, g.copy())], lr=0.1)


def test_base_optimizer_is_abstract_but_clip_accepts_optimizer():
    triples, p, g = one_param([0.0, 0.0], [3.0, 4.0])
    opt = SGD(triples, lr=1.0)
    assert isinstance(opt, Optimizer)
    assert clip_grad_norm(opt, 1.0) == pytest.approx(5.0)
    np.testing.assert_allclose(g, [0.6, 0.8])
