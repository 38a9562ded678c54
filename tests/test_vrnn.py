"""The VRNN (minivae.models.vrnn): gradients, masks, determinism, inference without caches,
checkpoints, bad input, and that the model learns and finds an injected anomaly."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minivae.data.synthetic import sine_dataset
from minivae.gradcheck.model_check import check_model
from minivae.gradcheck.registry import REGISTRY
from minivae.models import VRNN, get_model_class
from minivae.models.vrnn_step import vrnn_step_forward


def small(likelihood="gaussian", **kw):
    return VRNN(2, 4, 3, feature_size=5, likelihood=likelihood, rng=0, **kw)


def data(N=3, T=6, D=2, seed=1):
    return np.random.default_rng(seed).standard_normal((N, T, D))


def grads(model):
    return {name: g.copy() for name, _, g in model.parameters()}


# ----------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("name", sorted(n for n in REGISTRY if n.startswith("models.vrnn.")))
@pytest.mark.parametrize("seed", [0, 1])
def test_registered_gradient_checks_pass(name, seed):
    results = REGISTRY[name](np.random.default_rng(seed))
    assert results and all(r.passed for r in results), [str(r) for r in results if not r.passed]


def test_every_parameter_is_checked_and_gets_a_gradient():
    model = small()
    results = check_model(model, data(), rng=0, max_entries=4)
    checked = {r.name for r in results}
    assert {name for name, _, _ in model.parameters()} <= checked
    assert all(r.passed for r in results)
    model.zero_grad()
    model.loss(data(), rng=0)
    model.backward()
    assert all(np.abs(g).sum() > 0 for _, _, g in model.parameters())


@pytest.mark.parametrize("likelihood, missing", [("gaussian", "entries"), ("mse", "steps")])
def test_every_entry_of_every_parameter(likelihood, missing):
    """The registered checks sample 12 entries per parameter; here all of them, once."""
    rng = np.random.default_rng(7)
    model = VRNN(2, 3, 2, feature_size=2, likelihood=likelihood, rng=1)
    X = rng.standard_normal((3, 5, 2))
    mask = rng.random((3, 5, 2)) < 0.7 if missing == "entries" else \
        np.repeat((rng.random((3, 5)) < 0.6)[:, :, None], 2, axis=2)
    mask[:, 0] = True
    results = check_model(model, np.where(mask, X, np.nan), rng=rng, max_entries=None,
                          loss_kwargs={"mask": mask})
    assert all(r.passed for r in results), [str(r) for r in results if not r.passed]


def test_a_planted_backward_bug_is_caught():
    """The check can fail: drop the KL gradient into the prior and it does."""
    model = small()
    model.kl_weight = 1.0
    original = model.backward

    def broken():
        original()
        for name, _, g in model.parameters():
            if name.startswith("prior_out"):
                g *= 0.5

    model.backward = broken
    results = check_model(model, data(), rng=0, max_entries=4, check_accumulation=False,
                          params=["prior_out.W", "prior_out.b", "enc_out.W"])
    failed = {r.name.split()[0] for r in results if not r.passed}
    assert failed == {"prior_out.W", "prior_out.b"}


# ---------------------------------------------------------------------------------- masks
@pytest.mark.parametrize("likelihood", ["gaussian", "mse"])
def test_a_padded_sequence_equals_the_shorter_one(likelihood):
    model = small(likelihood)
    X = data(N=3, T=7)
    eps = np.random.default_rng(2).standard_normal((3, 7, 3))
    lengths = np.array([7, 4, 2])
    padded = X.copy()
    padded[1, 4:] = np.nan
    padded[2, 2:] = np.nan
    loss_pad = model.per_example_loss(padded, lengths=lengths, eps=eps)
    for n, length in enumerate(lengths):
        alone = model.per_example_loss(X[n : n + 1, :length], eps=eps[n : n + 1, :length])
        for key in ("loss", "reconstruction", "kl"):
            assert loss_pad[key][n] == pytest.approx(alone[key][0], rel=1e-12, abs=1e-12)
    # gradients: the padded batch of one sequence equals the sequence alone
    model.zero_grad()
    model.loss(padded[1:2], eps=eps[1:2], lengths=lengths[1:2])
    model.backward()
    g_pad = grads(model)
    model.zero_grad()
    model.loss(X[1:2, :4], eps=eps[1:2, :4])
    model.backward()
    for name, g in grads(model).items():
        np.testing.assert_allclose(g_pad[name], g, rtol=1e-12, atol=1e-15)


def test_lengths_equal_a_step_mask_and_skipped_steps_score_nan():
    model = small()
    X = data(N=2, T=5)
    lengths = np.array([5, 3])
    mask = np.arange(5)[None, :] < lengths[:, None]
    a = model.per_step_scores(X, rng=0, n_samples=3, lengths=lengths)
    b = model.per_step_scores(X, rng=0, n_samples=3, mask=mask)
    np.testing.assert_array_equal(a, b)
    assert np.isnan(a[1, 3:]).all() and np.isfinite(a[0]).all() and np.isfinite(a[1, :3]).all()


def test_a_missing_step_in_the_middle_carries_the_state():
    """Step 2 missing: the state after it is the state after step 1, so step 3 sees h_1."""
    model = small()
    X = data(N=1, T=4)
    mask = np.array([[True, True, False, True]])
    eps = np.random.default_rng(3).standard_normal((1, 4, 3))
    full = model.per_example_loss(np.where(mask[..., None], X, np.nan), mask=mask, eps=eps)
    skipped = model.per_example_loss(X[:, [0, 1, 3]], eps=eps[:, [0, 1, 3]])
    assert full["loss"][0] == pytest.approx(skipped["loss"][0], rel=1e-12)


def test_missing_entries_drop_out_of_the_reconstruction():
    model = small()
    X = data(N=2, T=4)
    mask = np.ones(X.shape, bool)
    mask[0, 1, 0] = False
    eps = np.random.default_rng(0).standard_normal((2, 4, 3))
    Xm = np.where(mask, X, np.nan)
    out = model.per_example_loss(Xm, mask=mask, eps=eps)
    assert np.isfinite(out["loss"]).all()
    other = Xm.copy()
    other[0, 1, 0] = np.nan  # still NaN: the value at a missing entry is never read
    X2 = np.where(mask, X, 123.0)
    np.testing.assert_array_equal(out["loss"],
                                  model.per_example_loss(X2, mask=mask, eps=eps)["loss"])


# ------------------------------------------------------------------- consistency of parts
def test_scores_are_the_per_step_terms_of_the_loss():
    """One sample path drawn from the same seed: the per-step negative ELBO sums to the
    per-sequence loss (beta 1), the reconstruction score to the reconstruction term."""
    model = small()
    X = data()
    per_seq = model.per_example_loss(X, rng=5)
    nelbo = model.per_step_scores(X, rng=5, n_samples=1, kind="nelbo")
    recon = model.per_step_scores(X, rng=5, n_samples=1, kind="recon_prob")
    np.testing.assert_allclose(nelbo.sum(axis=1), per_seq["loss"], rtol=1e-12)
    np.testing.assert_allclose(recon.sum(axis=1), per_seq["reconstruction"], rtol=1e-12)
    lp = model.reconstruction_log_prob(X, rng=5, n_samples=1, per_step=False)
    np.testing.assert_allclose(-lp, per_seq["reconstruction"], rtol=1e-12)


def test_loss_parts_and_beta():
    model = small(beta=0.25)
    X = data()
    value, parts = model.loss(X, rng=0)
    assert value == pytest.approx(parts["reconstruction"] + 0.25 * parts["kl"], rel=1e-12)
    assert parts["elbo"] == pytest.approx(-(parts["reconstruction"] + parts["kl"]), rel=1e-12)
    assert parts["kl"] > 0
    _, parts_mse = small("mse").loss(X, rng=0)
    assert "elbo" not in parts_mse


def test_mse_recon_prob_is_the_density_of_variance_one_half():
    model = small("mse")
    X = data()
    lp = model.reconstruction_log_prob(X, rng=1, n_samples=1)
    rec = model.per_step_scores(X, rng=1, n_samples=1, kind="recon_prob")
    np.testing.assert_allclose(-lp, rec, rtol=1e-12)
    se = model.per_example_loss(X, rng=1)["reconstruction"]  # sum of squared errors
    np.testing.assert_allclose(-lp.sum(axis=1), se + 0.5 * np.log(np.pi) * 6 * 2, rtol=1e-12)


def test_posterior_and_reconstruct_follow_the_mean_path():
    model = small()
    X = data()
    mu, logvar = model.posterior(X)
    assert mu.shape == logvar.shape == (3, 6, 3)
    P = model._weights()[0]
    h = c = np.zeros((3, 4))
    means = []
    for t in range(6):  # the step function by hand, z_t = mu_t
        h, c, out, q, _, _ = vrnn_step_forward(X[:, t], np.zeros((3, 3)), h, c, P)
        np.testing.assert_allclose(q.mu, mu[:, t], rtol=1e-13)
        means.append(out[:, :2])
    np.testing.assert_allclose(model.reconstruct(X), np.stack(means, axis=1), rtol=1e-13)


# ---------------------------------------------------------------- determinism, inference
def test_same_seed_same_bits():
    a, b = small(), small()
    for (_, pa, _), (_, pb, _) in zip(a.parameters(), b.parameters(), strict=True):
        np.testing.assert_array_equal(pa, pb)
    X = data()
    assert a.loss(X, rng=3)[0] == b.loss(X, rng=3)[0]
    np.testing.assert_array_equal(a.per_step_scores(X, rng=4), b.per_step_scores(X, rng=4))
    np.testing.assert_array_equal(a.forecast(X, 3, 5, n_samples=4),
                                  b.forecast(X, 3, 5, n_samples=4))
    np.testing.assert_array_equal(a.sample(2, 5, 6), b.sample(2, 5, 6))
    assert not np.array_equal(a.sample(2, 5, 6), a.sample(2, 5, 7))
    a.zero_grad()
    a.loss(X, rng=3)
    a.backward()
    b.zero_grad()
    b.loss(X, eps=a.last_eps)
    b.backward()
    for (_, _, ga), (_, _, gb) in zip(a.parameters(), b.parameters(), strict=True):
        np.testing.assert_array_equal(ga, gb)


def test_inference_keeps_no_cache_and_drops_a_pending_backward():
    model = small()
    X = data()
    model.loss(X, rng=0)
    assert model._pending is not None
    model.per_step_scores(X, rng=0, n_samples=2)
    assert model._pending is None
    with pytest.raises(RuntimeError, match="needs a preceding loss"):
        model.backward()
    for call in (lambda: model.forecast(X, 2, 0, n_samples=2), lambda: model.sample(2, 3, 0),
                 lambda: model.per_example_loss(X, rng=0), lambda: model.posterior(X),
                 lambda: model.reconstruct(X),
                 lambda: model.reconstruction_log_prob(X, rng=0, n_samples=2)):
        call()
        assert model._pending is None
        assert all(layer.cache is None for layer in model.sublayers())
        assert model.training  # the mode is restored


def test_backward_runs_once_per_loss():
    model = small()
    model.loss(data(), rng=0)
    model.backward()
    with pytest.raises(RuntimeError):
        model.backward()


def test_float32_runs_in_float32():
    model = VRNN(1, 4, 2, rng=0, dtype=np.float32)
    X = data(D=1).astype(np.float32)
    value, _ = model.loss(X, rng=0)
    model.backward()
    assert np.isfinite(value)
    assert all(g.dtype == np.float32 for _, _, g in model.parameters())
    assert model.per_step_scores(X, rng=0, n_samples=2).dtype == np.float32
    assert model.forecast(X, 2, 0, n_samples=2).dtype == np.float32


# -------------------------------------------------------------------- sample, forecast
def test_sample_and_forecast_shapes_and_context():
    model = small()
    X = data(N=2, T=5)
    assert model.sample(4, 7, 0).shape == (4, 7, 2)
    paths = model.forecast(X, 3, 0, n_samples=6)
    assert paths.shape == (6, 2, 3, 2) and np.isfinite(paths).all()
    # the forecast depends on the context (through the final state)
    other = model.forecast(X + 3.0, 3, 0, n_samples=6)
    assert not np.allclose(paths, other)
    # padded context (NaN after each sequence's length) is fine
    padded = np.concatenate([X, np.full((2, 2, 2), np.nan)], axis=1)
    assert np.isfinite(model.forecast(padded, 3, 0, n_samples=6, lengths=[5, 4])).all()


@settings(max_examples=15, deadline=None)
@given(N=st.integers(1, 3), T=st.integers(1, 5), D=st.integers(1, 3), L=st.integers(1, 3),
       k=st.integers(1, 3), horizon=st.integers(1, 3))
def test_shapes(N, T, D, L, k, horizon):
    model = VRNN(D, 3, L, rng=0)
    X = np.random.default_rng(0).standard_normal((N, T, D))
    assert model.per_step_scores(X, rng=0, n_samples=k).shape == (N, T)
    assert model.forecast(X, horizon, 0, n_samples=k).shape == (k, N, horizon, D)
    assert model.posterior(X)[0].shape == (N, T, L)
    assert model.per_example_loss(X, rng=0)["loss"].shape == (N,)


# ------------------------------------------------------------------------ checkpoints
def test_checkpoint_round_trip(tmp_path):
    model = VRNN(2, 4, 3, feature_size=6, likelihood="mse", beta=0.5, rng=3)
    model.fit(data(N=8), epochs=1, batch_size=4, lr=1e-2, rng=0, verbose=0)
    path = tmp_path / "vrnn.npz"
    model.save(path)
    loaded = VRNN.load(path)
    assert loaded.config() == model.config()
    assert get_model_class("VRNN") is VRNN
    X = data()
    np.testing.assert_array_equal(loaded.per_step_scores(X, rng=0),
                                  model.per_step_scores(X, rng=0))
    np.testing.assert_array_equal(loaded.forecast(X, 2, 1, n_samples=3),
                                  model.forecast(X, 2, 1, n_samples=3))


# ---------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("call, err, match", [
    (lambda m: m.loss(np.zeros((3, 2)), rng=0), ValueError, r"X\[\.\.\., None\]"),
    (lambda m: m.loss(np.zeros((2, 3, 5)), rng=0), ValueError, "2 features"),
    (lambda m: m.loss(np.full((2, 3, 2), np.nan), rng=0), ValueError, "X"),
    (lambda m: m.loss(np.zeros((2, 3, 2))), ValueError, "rng="),
    (lambda m: m.loss(np.zeros((2, 3, 2)), eps=np.zeros((2, 3, 1))), ValueError, "eps"),
    (lambda m: m.loss(np.zeros((2, 3, 2)), eps={"x": 1}), ValueError, "'z'"),
    (lambda m: m.loss(np.zeros((2, 3, 2)), rng=0, lengths=[4, 1]), ValueError, "lengths"),
    (lambda m: m.loss(np.zeros((2, 3, 2)), rng=0, mask=np.ones((2, 3))), TypeError, "mask"),
    (lambda m: m.per_step_scores(np.zeros((2, 3, 2)), rng=0, kind="x"), ValueError, "kind"),
    (lambda m: m.per_step_scores(np.zeros((2, 3, 2)), rng=0, n_samples=0), ValueError,
     "n_samples"),
    (lambda m: m.per_step_scores(np.zeros((2, 3, 2)), rng="a"), TypeError, "rng"),
    (lambda m: m.forecast(np.zeros((2, 3, 2)), 0, 0), ValueError, "horizon"),
    (lambda m: m.forecast(np.zeros((2, 3, 2)), 2, 0, n_samples=0), ValueError, "n_samples"),
    (lambda m: m.sample(0, 3, 0), ValueError, "n"),
    (lambda m: m.sample(2, 0, 0), ValueError, "T"),
    (lambda m: m.reconstruction_log_prob(np.zeros((2, 3, 2)), rng=0, average="max"),
     ValueError, "average"),
])
def test_bad_input_is_a_clear_error(call, err, match):
    with pytest.raises(err, match=match):
        call(small())


@pytest.mark.parametrize("kwargs, match", [
    ({"input_dim": 0}, "input_dim"), ({"hidden_size": 0}, "hidden_size"),
    ({"latent_dim": -1}, "latent_dim"), ({"feature_size": 0}, "feature_size"),
    ({"likelihood": "bernoulli"}, "likelihood"), ({"beta": -1.0}, "beta"),
])
def test_bad_constructor_arguments(kwargs, match):
    args = {"input_dim": 1, "hidden_size": 2, "latent_dim": 1, **kwargs}
    with pytest.raises((ValueError, TypeError), match=match):
        VRNN(**args)


def test_free_bits_are_refused():
    model = small()
    model.free_bits = 0.5
    with pytest.raises(ValueError, match="free bits"):
        model.loss(data(), rng=0)


# ----------------------------------------------------------------------- it learns
def test_training_improves_the_elbo_on_sines():
    X = sine_dataset(96, 30, rng=0, noise_std=0.05)
    train, test = X[:64], X[64:]
    model = VRNN(1, 16, 2, rng=0)
    before = model.per_example_loss(test, rng=0)["loss"].mean()
    model.fit(train, epochs=6, batch_size=16, lr=5e-3, rng=0, verbose=0)
    after = model.per_example_loss(test, rng=0)["loss"].mean()
    assert after < before - 20.0, (before, after)


def test_per_step_scores_find_an_injected_spike():
    rng = np.random.default_rng(0)
    X = sine_dataset(96, 30, rng=1, noise_std=0.05)
    model = VRNN(1, 16, 2, rng=0)
    model.fit(X[:80], epochs=8, batch_size=16, lr=5e-3, rng=0, verbose=0)
    test = X[80:].copy()
    where = rng.integers(5, 25, size=test.shape[0])
    test[np.arange(test.shape[0]), where, 0] += 4.0
    for kind in ("nelbo", "recon_prob"):
        scores = model.per_step_scores(test, rng=0, n_samples=8, kind=kind)
        hits = np.mean(np.argmax(scores, axis=1) == where)
        assert hits >= 0.9, (kind, hits)


# ------------------------------------------------------- the step functions' own checks
def _step_args():
    model = small()
    P, G = model._weights()
    rng = np.random.default_rng(0)
    x, eps = rng.standard_normal((3, 2)), rng.standard_normal((3, 3))
    h = c = np.zeros((3, 4))
    return model, P, G, x, eps, h, c


def test_step_functions_name_a_bad_argument():
    from minivae.models.vrnn_step import (
        vrnn_backward,
        vrnn_forward,
        vrnn_generate,
        vrnn_step_backward,
    )

    model, P, G, x, eps, h, c = _step_args()
    with pytest.raises(TypeError, match="P must be a dict"):
        vrnn_step_forward(x, eps, h, c, [1, 2])
    with pytest.raises(ValueError, match=r"P lacks the weights \['rnn.b'\]"):
        vrnn_step_forward(x, eps, h, c, {k: v for k, v in P.items() if k != "rnn.b"})
    with pytest.raises(ValueError, match=r"P\['enc_out.W'\] must have shape"):
        vrnn_step_forward(x, eps, h, c, {**P, "enc_out.W": P["enc_out.W"][:, :-1]})
    with pytest.raises(ValueError, match="eps_t must have shape"):
        vrnn_step_forward(x, eps[:, :2], h, c, P)
    with pytest.raises(TypeError, match="h_prev must be a float64"):
        vrnn_step_forward(x, eps, h.astype(np.float32), c, P)
    _, _, out, _, _, cache = vrnn_step_forward(x, eps, h, c, P)
    with pytest.raises(ValueError, match="dout must have shape"):
        vrnn_step_backward(h, c, out[:, :1], np.ones((3, 1)), cache, P, G)
    with pytest.raises(TypeError, match="cache must be the StepCache"):
        vrnn_step_backward(h, c, out, np.ones((3, 1)), (1, 2), P, G)
    with pytest.raises(ValueError, match=r"G\['phi_x.W'\]"):
        vrnn_step_backward(h, c, out, np.ones((3, 1)), cache, P, {**G, "phi_x.W": None})
    X = data(N=3, T=4)
    with pytest.raises(ValueError, match="no mask"):
        vrnn_forward(np.where(X > 1, np.nan, X), np.zeros((3, 4, 3)), None, P, "gaussian",
                     need_grad=False)
    with pytest.raises(ValueError, match="kind"):
        vrnn_forward(X, np.zeros((3, 4, 3)), None, P, "bernoulli", need_grad=False)
    with pytest.raises(TypeError, match="caches"):
        vrnn_backward([], [], 1.0, np.zeros((3, 0)), None, P, G)
    with pytest.raises(ValueError, match="T"):
        vrnn_generate((h, c), 0, 0, P, "gaussian")
    with pytest.raises(TypeError, match="state"):
        vrnn_generate(h, 2, 0, P, "gaussian")


def test_forecast_of_a_trained_model_beats_last_value_and_covers():
    """Sines of period 12 with random phase and amplitude: after reading 24 steps the rollout
    should track the next 12 far better than repeating the last value, and its 90% sample
    interval should hold most of the truth (a generous bar: the test is that it can fail)."""
    rng = np.random.default_rng(0)
    N, T = 112, 36
    t = np.arange(T)
    X = (rng.uniform(0.5, 1.5, (N, 1)) * np.sin(2 * np.pi * t / 12 + rng.uniform(0, 7, (N, 1)))
         + 0.05 * rng.standard_normal((N, T)))[..., None]
    model = VRNN(1, 16, 2, rng=0)
    model.fit(X[:96], epochs=8, batch_size=16, lr=5e-3, rng=0, verbose=0)
    context, future = X[96:, :24], X[96:, 24:]
    paths = model.forecast(context, 12, 0, n_samples=50)
    mae = np.abs(paths.mean(axis=0) - future).mean()
    last_value = np.abs(context[:, -1:] - future).mean()
    lo, hi = np.quantile(paths, [0.05, 0.95], axis=0)
    coverage = ((future >= lo) & (future <= hi)).mean()
    assert mae < 0.5 * last_value and coverage > 0.7, (mae, last_value, coverage)
