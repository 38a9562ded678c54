"""The vector quantizer and the VQ-VAE: nearest-code lookup, straight-through backward, the
codebook/commitment gradients, EMA updates (only after the optimizer step), perplexity, dead-code
re-seeding, training with fit, checkpoints, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minivae.gradcheck.registry import run_checks
from minivae.models import VQVAE, Model
from minivae.models.vqvae import ReseedDeadCodes
from minivae.nn.quantizer import VectorQuantizer, code_perplexity, code_usage


def _quantizer(K=4, d=2, **kw):
    q = VectorQuantizer(K, d, **kw)
    q.params["codebook"][...] = np.arange(K * d, dtype=float).reshape(K, d)
    return q


# ============================================================================ quantizer
@settings(max_examples=30, deadline=None)
@given(st.integers(1, 6), st.integers(1, 4), st.integers(1, 5), st.integers(0, 2**31))
def test_nearest_code_matches_brute_force(K, d, N, seed):
    rng = np.random.default_rng(seed)
    q = VectorQuantizer(K, d, rng=rng)
    q.params["codebook"][...] = rng.standard_normal((K, d))
    z = rng.standard_normal((N, 3, d))
    dist = np.sum((z[:, :, None, :] - q.params["codebook"]) ** 2, axis=-1)
    np.testing.assert_array_equal(q.nearest(z), np.argmin(dist, axis=-1))
    z_q = q.forward(z)
    np.testing.assert_allclose(z_q, q.params["codebook"][np.argmin(dist, axis=-1)], atol=1e-12)


def test_straight_through_backward_and_loss_gradients():
    q = _quantizer(beta=0.25)
    z = np.array([[0.2, 1.1], [5.8, 7.3]])  # nearest codes 0 and 3
    z_q = q.forward(z)
    np.testing.assert_array_equal(q.last_indices, [0, 3])
    E = q.params["codebook"]
    sq = np.sum((z - z_q) ** 2)
    assert q.losses["codebook"] == pytest.approx(sq / 2) == q.losses["commitment"]
    assert q.aux_loss == pytest.approx(1.25 * sq / 2)
    dy = np.array([[1.0, -2.0], [0.5, 0.0]])
    dz = q.backward(dy)
    # d(z_e) = d(z_q) (straight through) + beta * 2/n (z_e - e_k)
    np.testing.assert_allclose(dz, dy + 0.25 * (z - z_q), rtol=1e-14)
    want = np.zeros_like(E)
    want[0], want[3] = (E[0] - z[0]), (E[3] - z[1])  # 2/n (e_k - z_e), n = 2
    np.testing.assert_allclose(q.grads["codebook"], want, rtol=1e-14)


def test_registered_checks_pass():
    names = ["quantizer.piecewise", "quantizer.straight_through", "vqvae.bernoulli",
             "vqvae.gaussian", "vqvae.bernoulli.ema"]
    for seed in (0, 1):
        for r in run_checks(names=names, seed=seed):
            assert r.passed, str(r)


def test_a_wrong_straight_through_fails_the_check(monkeypatch):
    """The check can fail: dropping the commitment gradient is caught."""
    def bad(self, dz_q):
        return np.asarray(dz_q)

    monkeypatch.setattr(VectorQuantizer, "backward", lambda self, dz_q: bad(self, dz_q))
    results = run_checks(names=["quantizer.straight_through"], seed=0)
    assert not all(r.passed for r in results)


def test_perplexity_and_usage():
    assert code_perplexity([0, 1, 2, 3], 4) == pytest.approx(4.0)
    assert code_perplexity([2, 2, 2], 4) == pytest.approx(1.0)
    assert code_perplexity([0, 0, 1, 1], 8) == pytest.approx(2.0)
    np.testing.assert_array_equal(code_usage(np.array([[0, 2], [2, 2]]), 3), [1, 0, 3])
    with pytest.raises(ValueError, match=r"indices must lie in \[0, 3\)"):
        code_usage([0, 3], 3)
    with pytest.raises(TypeError, match="indices must be integer"):
        code_usage([0.5], 3)


def test_ema_update_moves_codes_to_assigned_means():
    q = _quantizer(K=2, d=1, ema=True, decay=0.5, epsilon=1e-12)
    q.params["codebook"][...] = [[0.0], [10.0]]
    q.ema_count[...] = [1.0, 1.0]
    q.ema_sum[...] = [[0.0], [10.0]]
    q.forward(np.array([[1.0], [2.0], [9.0]]))
    q.backward(np.zeros((3, 1)))
    assert np.all(q.grads["codebook"] == 0)  # the EMA codebook gets no gradient
    q.ema_update()
    # counts: 0.5 + 0.5 * (2, 1) = (1.5, 1.0); sums: 0.5 * (0, 10) + 0.5 * (3, 9) = (1.5, 9.5)
    np.testing.assert_allclose(q.params["codebook"][:, 0], [1.0, 9.5], rtol=1e-9)
    with pytest.raises(RuntimeError, match="needs a training forward"):
        q.ema_update()


def test_ema_runs_after_the_optimizer_step_not_in_backward():
    rng = np.random.default_rng(0)
    X = rng.random((32, 6))
    model = VQVAE(6, [8], 4, 2, ema=True, rng=0)
    before = model.quantizer.params["codebook"].copy()
    model.loss(X)
    model.backward()
    np.testing.assert_array_equal(model.quantizer.params["codebook"], before)
    model.after_step()
    assert not np.array_equal(model.quantizer.params["codebook"], before)


def test_reseed_moves_dead_codes_onto_encoder_outputs():
    rng = np.random.default_rng(0)
    X = rng.random((50, 6))
    model = VQVAE(6, [8], 16, 2, groups=2, rng=0)
    model.quantizer.params["codebook"][1:] = 100.0  # every code but 0 is dead
    assert model.code_statistics(X)["dead_codes"] == 15
    moved = model.reseed_dead_codes(X, rng=1)
    assert moved == 15
    z_e = model.encode_z_e(X).reshape(-1, 2)
    for code in model.quantizer.params["codebook"][1:]:
        assert np.min(np.sum((z_e - code) ** 2, axis=1)) < 1e-20  # an encoder output
    again = VQVAE(6, [8], 16, 2, groups=2, rng=0)
    again.quantizer.params["codebook"][1:] = 100.0
    again.reseed_dead_codes(X, rng=1)
    np.testing.assert_array_equal(again.quantizer.params["codebook"],
                                  model.quantizer.params["codebook"])  # same rng, same codes
    assert model.code_statistics(X)["dead_codes"] < 15


@pytest.mark.parametrize("ema", [False, True])
def test_fit_trains_and_checkpoint_round_trips(tmp_path, ema):
    rng = np.random.default_rng(0)
    centres = rng.random((4, 10))
    X = np.clip(centres[rng.integers(0, 4, 400)] + 0.05 * rng.standard_normal((400, 10)), 0, 1)
    model = VQVAE(10, [32], 8, 3, groups=2, ema=ema, rng=0)
    cb = ReseedDeadCodes(X[:200], rng=0)
    history = model.fit(X, epochs=8, batch_size=32, lr=3e-3, verbose=0, callbacks=[cb])
    assert history["loss"][-1] < history["loss"][0]
    assert {"codebook", "commitment", "perplexity"} <= set(history.metrics)
    assert len(cb.moved) == 8
    stats = model.code_statistics(X)
    assert 1.0 <= stats["perplexity"] <= 8.0 and stats["counts"].sum() == 800
    path = tmp_path / "vq.npz"
    model.save(path)
    loaded = Model.load(path)
    assert isinstance(loaded, VQVAE) and loaded.config() == model.config()
    np.testing.assert_array_equal(loaded.encode_indices(X), model.encode_indices(X))
    np.testing.assert_array_equal(loaded.reconstruct(X), model.reconstruct(X))


def test_decode_indices_and_per_example_loss():
    rng = np.random.default_rng(0)
    X = rng.random((5, 6))
    model = VQVAE(6, [8], 4, 2, groups=3, rng=0)
    idx = model.encode_indices(X)
    assert idx.shape == (5, 3)
    np.testing.assert_allclose(model.decode_indices(idx), model.reconstruct(X), rtol=1e-12)
    per = model.per_example_loss(X)
    value, parts = model.loss(X)
    assert per["loss"].mean() == pytest.approx(value, rel=1e-12)
    assert per["reconstruction"].mean() == pytest.approx(parts["reconstruction"], rel=1e-12)


def test_bad_input():
    with pytest.raises(ValueError, match="num_codes must be >= 1"):
        VectorQuantizer(0, 2)
    with pytest.raises(ValueError, match="beta must be >= 0"):
        VectorQuantizer(3, 2, beta=-1.0)
    with pytest.raises(ValueError, match="decay must be < 1"):
        VectorQuantizer(3, 2, decay=1.0)
    with pytest.raises(TypeError, match="ema must be a bool"):
        VectorQuantizer(3, 2, ema="yes")
    q = VectorQuantizer(3, 2)
    with pytest.raises(ValueError, match=r"z_e must have shape \(N, ..., 2\)"):
        q.forward(np.zeros((4, 3)))
    with pytest.raises(RuntimeError, match="before forward"):
        q.backward(np.zeros((4, 2)))
    with pytest.raises(RuntimeError, match="ema=False"):
        q.ema_update()
    model = VQVAE(6, [8], 4, 2, groups=3, rng=0)
    with pytest.raises(ValueError, match=r"indices must have shape \(N, 3\)"):
        model.decode_indices(np.zeros((2, 2), dtype=int))
    with pytest.raises(ValueError, match=r"indices must lie in \[0, 4\)"):
        model.decode_indices(np.full((2, 3), 4))
    with pytest.raises(TypeError, match="eps must be None or model.last_eps"):
        model.loss(np.zeros((2, 6)), eps=np.zeros(3))
    with pytest.raises(ValueError, match="X must have 6 features"):
        model.loss(np.zeros((2, 5)))
    with pytest.raises(TypeError, match="ReseedDeadCodes needs a VQVAE"):
        ReseedDeadCodes(np.zeros((2, 6)), 0).on_epoch_end(1, {}, object())
