"""The autoregressive decoder's whole-sequence path equals its step loop.

With teacher forcing on every input entry (``teacher_forcing=1.0``, nothing missing before the
last step) every decoder input is known in advance, and ``BaseLSTMAutoencoder`` runs the decoder
as one sequence LSTM per layer (``_decode_teacher_forced``) instead of one ``LSTMCell`` call per
step and layer (``_decode_autoregressive``).  The private switch ``_fuse_known_inputs = False``
forces the step loop, so both paths can be compared on the same model and batch: loss, loss
parts, ``last_eps`` and every gradient must agree to 1e-12 (float64), on both backends.

Where predictions are fed back (teacher forcing < 1, missing inputs, free running), a one-layer
decoder on the Numba backend runs as one compiled loop (``_decode_autoregressive_kernel``);
``_use_decoder_kernel = False`` forces the Python step loop for the same comparison.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minivae.fast import backend
from minivae.models.lstm_autoencoder import LSTMAutoencoder
from minivae.models.lstm_vae import LSTMVAE
from minivae.train.optim import Adam

pytestmark = pytest.mark.usefixtures("each_backend")

TOL = 1e-12


def build(kind, D, H, L, num_layers, output, seed, dtype=np.float64):
    common = {"decoder": "autoregressive", "num_layers": num_layers, "teacher_forcing": 1.0,
              "rng": seed, "dtype": dtype}
    if kind == "ae":
        model = LSTMAutoencoder(D, H, L, output=output, **common)
    else:
        model = LSTMVAE(D, H, L, likelihood=output, **common)
    rng = np.random.default_rng(seed + 1)
    for name, p, _ in model.parameters():  # generic biases (Dense biases start at 0)
        if name.endswith(".b"):
            p += 0.1 * rng.standard_normal(p.shape)
    return model


def run(model, X, fused, kwargs, kernel=False):
    """One loss + backward; returns (value, parts, last_eps, {name: grad copy}, path taken).
    ``kernel``: allow the compiled decoder loop (Numba, one layer) where predictions are fed
    back; off by default so the step loop is what the sequence path is compared with."""
    model._fuse_known_inputs = fused
    model._use_decoder_kernel = kernel
    model.zero_grad()
    value, parts = model.loss(X, rng=7, **kwargs)
    path = model._dec_cache[0]
    model.backward()
    grads = {name: g.copy() for name, _, g in model.parameters()}
    return value, parts, model.last_eps, grads, path


def assert_same(a, b, tol=TOL):
    value_a, parts_a, eps_a, grads_a, _ = a
    value_b, parts_b, eps_b, grads_b, _ = b
    assert abs(value_a - value_b) <= tol * max(1.0, abs(value_b))
    assert parts_a.keys() == parts_b.keys()
    for key in parts_a:
        assert abs(parts_a[key] - parts_b[key]) <= tol * max(1.0, abs(parts_b[key])), key
    assert (eps_a is None) == (eps_b is None)
    if eps_a is not None:
        assert eps_a.keys() == eps_b.keys()
        for key in eps_a:
            np.testing.assert_array_equal(eps_a[key], eps_b[key])
    assert grads_a.keys() == grads_b.keys()
    for name in grads_a:
        scale = max(1.0, float(np.abs(grads_b[name]).max(initial=0.0)))
        err = float(np.abs(grads_a[name] - grads_b[name]).max(initial=0.0))
        assert err <= tol * scale, f"{name}: max |fused - steps| = {err:.3g}"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(N=st.integers(1, 4), T=st.integers(1, 6), D=st.integers(1, 3), H=st.integers(1, 4),
       L=st.integers(1, 3), num_layers=st.sampled_from([1, 2]),
       kind=st.sampled_from(["ae", "vae"]), output=st.sampled_from(["mse", "gaussian"]),
       last_step_missing=st.booleans(), seed=st.integers(0, 2**31 - 1))
def test_sequence_path_equals_step_loop(N, T, D, H, L, num_layers, kind, output,
                                        last_step_missing, seed):
    model = build(kind, D, H, L, num_layers, output, seed)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, T, D))
    kwargs = {}
    if last_step_missing:
        # Missing values at the last step are never fed to the decoder: still the fused path.
        mask = np.ones((N, T, D), dtype=bool)
        mask[:, -1] = rng.random((N, D)) < 0.5
        mask[:, 0, 0] = True
        X = np.where(mask, X, np.nan)
        kwargs["mask"] = mask
    fused = run(model, X, True, kwargs)
    steps = run(model, X, False, kwargs)
    assert fused[4] == "sequence" and steps[4] == "steps"
    assert_same(fused, steps)


@pytest.mark.parametrize("num_layers", [1, 2])
def test_sequence_layers_share_the_cells_parameters_through_training(num_layers):
    """Adam updates the cells' arrays in place; the sequence layers must see every update, and
    the model's parameter list must not know about them."""
    model = build("vae", 2, 3, 2, num_layers, "gaussian", seed=3)
    names = [name for name, _, _ in model.parameters()]
    assert not any("seq" in name for name in names)
    assert sum(name.startswith("decoder_cells.") for name in names) == 3 * num_layers
    X = np.random.default_rng(0).standard_normal((3, 5, 2))
    opt = Adam(model, lr=1e-2)
    for _ in range(3):
        run(model, X, True, {})
        opt.step()
    assert [name for name, _, _ in model.parameters()] == names  # nothing new registered
    for layer, cell in zip(model._seq_layers, model.decoder_cells):
        assert layer.params["Wx"] is cell.params["Wx"] and layer.grads["Wh"] is cell.grads["Wh"]
    assert_same(run(model, X, True, {}), run(model, X, False, {}))


@pytest.mark.parametrize("case", ["tf<1", "missing_input", "inference"])
def test_step_loop_is_kept_where_predictions_are_fed_back(case):
    model = build("ae", 2, 3, 2, 1, "mse", seed=0)
    X = np.random.default_rng(1).standard_normal((2, 4, 2))
    model._use_decoder_kernel = True  # the default
    if case == "tf<1":
        model.teacher_forcing = 0.5
        model.loss(X, rng=0)
    elif case == "missing_input":
        mask = np.ones(X.shape, dtype=bool)
        mask[0, 1, 1] = False  # x_1 missing: step 2 reads the prediction there
        model.loss(np.where(mask, X, np.nan), mask=mask)
    else:
        model.reconstruct(X)  # free running: never takes the sequence path
        assert model._seq_layers is None and model._dec_cache is None
        return
    # one layer on the Numba backend: the compiled decoder loop; otherwise the Python steps
    assert model._dec_cache[0] == ("kernel" if backend.use_numba() else "steps")


def test_float32_sequence_path_matches_step_loop_and_stays_float32():
    model = build("vae", 3, 8, 2, 2, "gaussian", seed=5, dtype=np.float32)
    X = np.random.default_rng(2).standard_normal((6, 12, 3)).astype(np.float32)
    fused = run(model, X, True, {})
    steps = run(model, X, False, {})
    assert fused[4] == "sequence"
    assert all(g.dtype == np.float32 for g in fused[3].values())
    assert_same(fused, steps, tol=1e-5)  # float32: different summation order, ~1e-7 apart


def run_kernel_switch(model, X, use_kernel, kwargs):
    return run(model, X, True, kwargs, kernel=use_kernel)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(N=st.integers(1, 5), T=st.integers(1, 6), D=st.integers(1, 3), H=st.integers(1, 4),
       L=st.integers(1, 3), kind=st.sampled_from(["ae", "vae"]),
       output=st.sampled_from(["mse", "gaussian"]), tf=st.sampled_from([0.0, 0.5, 1.0]),
       missing=st.booleans(), seed=st.integers(0, 2**31 - 1))
def test_decoder_kernel_equals_step_loop(N, T, D, H, L, kind, output, tf, missing, seed):
    """The compiled one-layer decoder loop (Numba backend) against the Python step loop: the
    same loss, parts, last_eps and every gradient to 1e-12, and the same free-running
    reconstruction."""
    if not backend.use_numba():
        return  # the kernel exists on the Numba backend only (the NumPy run checks nothing new)
    model = build(kind, D, H, L, 1, output, seed)
    model.teacher_forcing = tf
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, T, D))
    kwargs = {}
    if missing:
        mask = rng.random((N, T, D)) < 0.7
        mask[:, 0, 0] = True
        X = np.where(mask, X, np.nan)
        kwargs["mask"] = mask
    with_kernel = run_kernel_switch(model, X, True, kwargs)
    steps = run_kernel_switch(model, X, False, kwargs)
    # (a drawn teacher-forcing pattern may still feed every true value: the sequence path)
    assert (with_kernel[4], steps[4]) in (("kernel", "steps"), ("sequence", "sequence"))
    if tf == 0.0 and T > 1:
        assert with_kernel[4] == "kernel"
    assert_same(with_kernel, steps)
    Xf = np.nan_to_num(X)
    model._use_decoder_kernel = True
    rec_kernel = model.reconstruct(Xf)
    model._use_decoder_kernel = False
    np.testing.assert_allclose(rec_kernel, model.reconstruct(Xf), rtol=1e-12, atol=1e-12)


def test_decoder_kernel_float32_and_bug_is_caught():
    if not backend.numba_available():
        pytest.skip("numba not installed")
    with backend.use_backend("numba"):
        model = build("vae", 3, 8, 2, 1, "gaussian", seed=5, dtype=np.float32)
        model.teacher_forcing = 0.5
        X = np.random.default_rng(2).standard_normal((6, 12, 3)).astype(np.float32)
        a = run_kernel_switch(model, X, True, {})
        b = run_kernel_switch(model, X, False, {})
        assert a[4] == "kernel" and all(g.dtype == np.float32 for g in a[3].values())
        assert_same(a, b, tol=1e-5)
        # the comparison can fail: a wrong output-layer gradient is noticed
        bad = dict(a[3])
        bad["out_proj.W"] = bad["out_proj.W"] * 1.001
        with pytest.raises(AssertionError):
            assert_same((a[0], a[1], a[2], bad, a[4]), b, tol=1e-5)
