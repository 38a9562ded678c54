"""The autoregressive decoder's whole-sequence path equals its step loop.

With teacher forcing on every input entry (``teacher_forcing=1.0``, nothing missing before the
last step) every decoder input is known in advance, and ``BaseLSTMAutoencoder`` runs the decoder
as one sequence LSTM per layer (``_decode_teacher_forced``) instead of one ``LSTMCell`` call per
step and layer (``_decode_autoregressive``).  The private switch ``_fuse_known_inputs = False``
forces the step loop, so both paths can be compared on the same model and batch: loss, loss
parts, ``last_eps`` and every gradient must agree to 1e-12 (float64), on both backends.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minivae.models.lstm_autoencoder import LSTMAutoencoder
from minivae.models.lstm_vae import LSTMVAE
from minivae.optim import Adam

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


def run(model, X, fused, kwargs):
    """One loss + backward; returns (value, parts, last_eps, {name: grad copy}, path taken)."""
    model._fuse_known_inputs = fused
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
    assert model._dec_cache[0] == "steps"


def test_float32_sequence_path_matches_step_loop_and_stays_float32():
    model = build("vae", 3, 8, 2, 2, "gaussian", seed=5, dtype=np.float32)
    X = np.random.default_rng(2).standard_normal((6, 12, 3)).astype(np.float32)
    fused = run(model, X, True, {})
    steps = run(model, X, False, {})
    assert fused[4] == "sequence"
    assert all(g.dtype == np.float32 for g in fused[3].values())
    assert_same(fused, steps, tol=1e-5)  # float32: different summation order, ~1e-7 apart
