"""MLP models: Autoencoder, VAE (beta, free bits, IWAE, Bernoulli/Gaussian), CVAE."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minivae.gradcheck import check_model, format_table
from minivae.gradcheck.checks.models import GRADCHECK_KINDS, gradcheck_case
from minivae.gradcheck.registry import REGISTRY, check_rng_for
from minivae.models import (
    CVAE,
    MODEL_REGISTRY,
    VAE,
    Autoencoder,
    Model,
    get_model_class,
    one_hot,
    register_model,
)

TOL = 1e-7


def assert_grads_ok(model, batch, **kw):
    results = check_model(model, batch, tol=TOL, **kw)
    assert results, "no gradient was checked"
    assert all(r.passed for r in results), format_table(results)
    assert max(r.max_rel_error for r in results) <= TOL


def randomise_biases(model, rng):
    for name, p, _ in model.parameters():
        if name.endswith(".b"):
            p[...] = 0.1 * rng.standard_normal(p.shape)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


# ------------------------------------------------------------------------- gradient checks
@pytest.mark.parametrize("output", ["bernoulli", "gaussian", "mse"])
def test_autoencoder_gradients(rng, output):
    model = Autoencoder(5, [4, 3], 2, activation="tanh", output=output, rng=rng)
    randomise_biases(model, rng)
    X = rng.random((4, 5)) if output == "bernoulli" else rng.standard_normal((4, 5))
    assert_grads_ok(model, X, max_entries=None)
    assert model.last_eps is None


@pytest.mark.parametrize("kw", [
    {},
    {"beta": 0.3},
    {"beta": 3.0},
    {"likelihood": "gaussian"},
    {"likelihood": "gaussian", "decoder_variance": 0.25, "beta": 2.0},
], ids=["bernoulli", "beta0.3", "beta3", "gaussian_learned", "gaussian_fixed_beta2"])
def test_vae_gradients(rng, kw):
    model = VAE(6, [5], 3, activation="tanh", rng=rng, **kw)
    randomise_biases(model, rng)
    X = rng.random((5, 6)) if model.likelihood == "bernoulli" else rng.standard_normal((5, 6))
    assert_grads_ok(model, X, max_entries=None)


def test_vae_free_bits_gradients_dims_above_and_below_lambda(rng):
    model = VAE(6, [5], 4, activation="tanh", rng=rng)
    randomise_biases(model, rng)
    X = rng.random((6, 6))
    kl = model.kl_per_dimension(X)
    s = np.sort(kl)
    i = int(np.argmax(np.diff(s)))
    lam = 0.5 * (s[i] + s[i + 1])
    model.free_bits = lam
    assert np.any(kl > lam + 1e-3) and np.any(kl < lam - 1e-3)  # both regimes are exercised
    assert_grads_ok(model, X, max_entries=None)
    # the objective really is sum_l max(lambda, mean KL_l)
    value, parts = model.loss(X, rng=0)
    assert parts["kl_free_bits"] == pytest.approx(np.maximum(kl, lam).sum(), rel=1e-12)
    assert value == pytest.approx(parts["reconstruction"] + parts["kl_free_bits"], rel=1e-12)


def test_free_bits_gradient_ignores_dimensions_below_lambda(rng):
    """With lambda above every dimension's KL, the KL contributes no gradient at all: the
    encoder gradient equals that of a beta = 0 model with the same noise."""
    X = rng.random((5, 6))
    a = VAE(6, [5], 3, activation="tanh", rng=7, free_bits=1e3)
    b = VAE(6, [5], 3, activation="tanh", rng=7, beta=0.0)
    a.loss(X, rng=3)
    a.backward()
    b.loss(X, eps=a.last_eps)
    b.backward()
    for (name, _, ga), (_, _, gb) in zip(a.parameters(), b.parameters()):
        np.testing.assert_allclose(ga, gb, rtol=1e-12, atol=1e-15, err_msg=name)


@pytest.mark.parametrize("kw", [
    {"k": 4},
    {"k": 3, "likelihood": "gaussian", "beta": 0.5},
    {"k": 1},
], ids=["bernoulli_k4", "gaussian_beta_k3", "k1"])
def test_iwae_objective_gradients(rng, kw):
    model = VAE(5, [4], 3, activation="tanh", objective="iwae", rng=rng, **kw)
    randomise_biases(model, rng)
    X = rng.random((4, 5)) if model.likelihood == "bernoulli" else rng.standard_normal((4, 5))
    assert_grads_ok(model, X, max_entries=None)
    assert model.last_eps.shape == (kw["k"], 4, 3)


def test_iwae_objective_k1_equals_single_sample_elbo(rng):
    """With k = 1 the IWAE objective is -[log p(x|z) + log p(z) - log q(z|x)]: the ELBO with a
    Monte Carlo KL.  Check the value by hand from the same noise."""
    model = VAE(5, [4], 2, activation="tanh", objective="iwae", k=1, rng=rng)
    X = rng.random((3, 5))
    value, parts = model.loss(X, rng=5)
    eps = model.last_eps[0]
    mu, logvar = model.encode(X)
    z = mu + np.exp(0.5 * logvar) * eps
    probs = model.decode(z)
    log_px = np.sum(X * np.log(probs) + (1 - X) * np.log1p(-probs), axis=1)
    log_pz = -0.5 * np.sum(np.log(2 * np.pi) + z**2, axis=1)
    log_qz = -0.5 * np.sum(np.log(2 * np.pi) + logvar + eps**2, axis=1)
    assert value == pytest.approx(-np.mean(log_px + log_pz - log_qz), rel=1e-10)
    assert parts["iwae_bound"] == pytest.approx(-value, rel=1e-12)


def test_cvae_gradients(rng):
    model = CVAE(5, 3, [4], 2, activation="tanh", rng=rng)
    randomise_biases(model, rng)
    X, y = rng.random((6, 5)), rng.integers(0, 3, 6)
    assert_grads_ok(model, (X, y), max_entries=None)
    iw = CVAE(5, 3, [4], 2, activation="tanh", objective="iwae", k=3, rng=rng)
    assert_grads_ok(iw, (X, one_hot(y, 3)), max_entries=None)


def test_masked_vae_gradients_and_missing_entries_are_ignored(rng):
    model = VAE(6, [5], 3, activation="tanh", likelihood="gaussian", rng=rng)
    X = rng.standard_normal((5, 6))
    mask = rng.random(X.shape) < 0.6
    Xnan = np.where(mask, X, np.nan)
    assert_grads_ok(model, Xnan, max_entries=None, loss_kwargs={"mask": mask})
    # values at missing positions never matter
    v1, _ = model.loss(Xnan, rng=0, mask=mask)
    v2, _ = model.loss(np.where(mask, X, 123.0), rng=0, mask=mask)
    assert v1 == v2


def test_clamped_logvars_pass_no_gradient(rng):
    """Log-variances beyond the clamp bounds are constant in the loss: their gradient is 0
    (encoder logvar pushed below -30, decoder logvar above 20)."""
    model = VAE(4, [3], 2, activation="tanh", likelihood="gaussian", rng=rng)
    model.encoder.layers[-1].params["b"][2:] = -40.0
    model.decoder.layers[-1].params["b"][4:] = 25.0
    X = rng.standard_normal((3, 4))
    assert_grads_ok(model, X, max_entries=None)
    model.zero_grad()
    model.loss(X, rng=0)
    model.backward()
    np.testing.assert_array_equal(model.encoder.layers[-1].grads["b"][2:], 0.0)
    np.testing.assert_array_equal(model.decoder.layers[-1].grads["b"][4:], 0.0)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(1, 4),
    d=st.integers(1, 4),
    h=st.integers(1, 4),
    latent=st.integers(1, 3),
    likelihood=st.sampled_from(["bernoulli", "gaussian"]),
    objective=st.sampled_from(["elbo", "iwae"]),
    seed=st.integers(0, 2**16),
)
def test_vae_gradients_hypothesis(n, d, h, latent, likelihood, objective, seed):
    rng = np.random.default_rng(seed)
    model = VAE(d, [h], latent, likelihood=likelihood, objective=objective, k=2,
                activation="tanh", beta=float(rng.uniform(0.1, 2.0)), rng=rng)
    randomise_biases(model, rng)
    X = rng.random((n, d)) if likelihood == "bernoulli" else rng.standard_normal((n, d))
    assert_grads_ok(model, X, max_entries=6, rng=seed)


def test_registered_gradchecks_pass():
    """The checks `python -m minivae.gradcheck` runs for the models (one seed, all kinds)."""
    found = {n: fn for n, fn in REGISTRY.items() if n.startswith("models.")
             and not n.startswith(("models.lstm_ae.", "models.lstm_vae.", "models.vrnn."))}
    assert sorted(found) == sorted(f"models.{k}" for k in GRADCHECK_KINDS)
    for name, fn in found.items():
        results = fn(check_rng_for(0, name))
        assert all(r.passed for r in results), (name, format_table(results))


def test_gradcheck_case_free_bits_straddles_lambda():
    model, X, _ = gradcheck_case(np.random.default_rng(0), "vae.free_bits")
    kl = model.kl_per_dimension(X)
    assert np.any(kl > model.free_bits) and np.any(kl < model.free_bits)


# ---------------------------------------------------------------------- hand-worked values
def zero_weights(model):
    for _, p, _ in model.parameters():
        p[...] = 0.0


def test_vae_zero_weights_bernoulli_loss_is_d_log2(rng):
    """All weights 0: mu = 0, logvar = 0 (KL = 0) and logits 0 (p = 1/2 for every pixel), so
    -log p(x|z) = D log 2 whatever x and z."""
    model = VAE(7, [3], 2, rng=rng)
    zero_weights(model)
    X = (rng.random((4, 7)) > 0.5).astype(float)
    value, parts = model.loss(X, rng=0)
    assert parts["kl"] == 0.0
    assert value == pytest.approx(7 * np.log(2.0), rel=1e-14)
    assert parts["elbo"] == pytest.approx(-7 * np.log(2.0), rel=1e-14)
    per = model.per_example_loss(X, rng=0)
    np.testing.assert_allclose(per["loss"], 7 * np.log(2.0), rtol=1e-14)
    # every importance weight is p(x|z) = 2^-D exactly, so every bound is -D log 2
    np.testing.assert_allclose(model.iwae_bound(X, 10, rng=0), -7 * np.log(2.0), rtol=1e-12)


def test_vae_kl_hand_worked(rng):
    """Encoder bias sets mu = 1, logvar = log 2 for all dims: KL per dim =
    0.5 (1 + 2 - 1 - log 2) = 1 - 0.5 log 2."""
    model = VAE(3, [], 2, rng=rng, beta=2.0)
    zero_weights(model)
    model.encoder.layers[-1].params["b"][...] = [1.0, 1.0, np.log(2.0), np.log(2.0)]
    X = rng.random((5, 3))
    per_dim = 1.0 - 0.5 * np.log(2.0)
    np.testing.assert_allclose(model.kl_per_dimension(X), per_dim, rtol=1e-14)
    value, parts = model.loss(X, rng=0)
    assert parts["kl"] == pytest.approx(2 * per_dim, rel=1e-14)
    assert value == pytest.approx(3 * np.log(2.0) + 2.0 * 2 * per_dim, rel=1e-14)


def test_gaussian_fixed_variance_hand_worked(rng):
    model = VAE(3, [2], 2, likelihood="gaussian", decoder_variance=2.0, rng=rng)
    zero_weights(model)
    X = rng.standard_normal((4, 3))
    per = model.per_example_loss(X, rng=0)
    expected = 0.5 * np.sum(np.log(2 * np.pi * 2.0) + X**2 / 2.0, axis=1)
    np.testing.assert_allclose(per["reconstruction"], expected, rtol=1e-14)
    np.testing.assert_allclose(per["kl"], 0.0, atol=0)


def test_autoencoder_hand_worked(rng):
    model = Autoencoder(4, [3], 2, output="mse", rng=rng)
    zero_weights(model)
    X = rng.standard_normal((3, 4))
    value, parts = model.loss(X)
    assert value == pytest.approx(np.mean(np.sum(X**2, axis=1)), rel=1e-14)
    assert parts["kl"] == 0.0
    np.testing.assert_array_equal(model.reconstruct(X), np.zeros_like(X))


# ------------------------------------------------------------------------------ IWAE bounds
def test_iwae_bounds_increase_with_k():
    rng = np.random.default_rng(0)
    protos = rng.random((3, 12)) > 0.5
    X = (rng.random((300, 12)) < np.where(protos[rng.integers(0, 3, 300)], 0.85, 0.15)) * 1.0
    model = VAE(12, [16], 3, rng=0)
    model.fit(X, epochs=3, batch_size=32, lr=3e-3, verbose=0, rng=0)
    elbo = model.elbo(X, rng=1).mean()
    b5 = model.iwae_bound(X, 5, rng=2).mean()
    b50 = model.iwae_bound(X, 50, rng=3).mean()
    assert b50 >= b5 >= elbo
    ll = model.log_likelihood(X[:50], k=200, rng=4)
    assert ll.shape == (50,) and np.all(np.isfinite(ll))


def test_elbo_matches_negative_loss_for_same_seed(rng):
    model = VAE(5, [4], 2, rng=rng)
    X = rng.random((6, 5))
    per = model.per_example_loss(X, rng=9)
    np.testing.assert_allclose(model.elbo(X, rng=9), -per["loss"], rtol=1e-12)
    # several samples: the estimate averages them (and stays finite)
    assert model.elbo(X, rng=9, n_samples=4).shape == (6,)


# ------------------------------------------------------------------ interface and behaviour
def test_loss_reproducible_with_eps_and_last_eps_shapes(rng):
    model = VAE(5, [4], 3, rng=rng)
    X = rng.random((4, 5))
    v1, _ = model.loss(X, rng=0)
    eps = model.last_eps
    assert eps.shape == (4, 3)
    v2, _ = model.loss(X, eps=eps)
    v3, _ = model.loss(X, rng=0)
    v4, _ = model.loss(X, rng=1)
    assert v1 == v2 == v3 and v4 != v1


def test_backward_needs_a_loss_and_runs_once(rng):
    model = VAE(5, [4], 2, rng=rng)
    X = rng.random((3, 5))
    with pytest.raises(RuntimeError, match="loss"):
        model.backward()
    model.loss(X, rng=0)
    model.backward()
    with pytest.raises(RuntimeError, match="loss"):
        model.backward()
    model.loss(X, rng=0)
    model.encode(X)  # another forward pass invalidates the cached state
    with pytest.raises(RuntimeError):
        model.backward()


def test_loss_requires_noise_source(rng):
    model = VAE(5, [4], 2, rng=rng)
    with pytest.raises(ValueError, match="rng"):
        model.loss(rng.random((3, 5)))


def test_inference_methods_shapes_and_determinism(rng):
    model = VAE(6, [5], 2, rng=rng)
    X = rng.random((4, 6))
    mu, logvar = model.encode(X)
    assert mu.shape == logvar.shape == (4, 2)
    r1, r2 = model.reconstruct(X), model.reconstruct(X)
    np.testing.assert_array_equal(r1, r2)  # uses mu: deterministic
    np.testing.assert_array_equal(r1, model.decode(mu))
    assert not np.array_equal(model.reconstruct(X, rng=0), r1)
    s = model.sample(7, rng=3)
    assert s.shape == (7, 6) and np.all((s > 0) & (s < 1))
    np.testing.assert_array_equal(s, model.sample(7, rng=3))
    xb = model.sample(7, rng=3, mean=False)
    assert set(np.unique(xb)) <= {0.0, 1.0}
    kl = model.kl_per_dimension(X)
    assert kl.shape == (2,)
    assert kl.sum() == pytest.approx(model.per_example_loss(X, rng=0)["kl"].mean(), rel=1e-12)


def test_gaussian_vae_sample_and_posterior_clamp(rng):
    model = VAE(4, [3], 2, likelihood="gaussian", rng=rng)
    assert model.decoder.sizes[-1] == 8  # mean and log-variance per feature
    assert model.sample(5, rng=0, mean=False).shape == (5, 4)
    model.encoder.layers[-1].params["b"][2:] = 100.0  # huge logvar is clamped to 20
    _, logvar = model.encode(rng.random((2, 4)))
    assert np.all(logvar <= 20.0)


def test_cvae_conditioning(rng):
    model = CVAE(5, 3, [6], 2, rng=rng)
    X = rng.random((6, 5))
    y = np.array([0, 1, 2, 0, 1, 2])
    v1, _ = model.loss((X, y), rng=0)
    v2, _ = model.loss((X, one_hot(y, 3)), rng=0)
    assert v1 == v2  # integer labels and one-hot are the same batch
    v3, _ = model.loss((X, (y + 1) % 3), rng=0)
    assert v3 != v1  # the label matters
    s = model.sample(np.array([0, 0, 2]), rng=0)
    assert s.shape == (3, 5)
    z = np.zeros((2, 2))
    assert not np.allclose(model.decode(z, np.array([0, 1]))[0],
                           model.decode(z, np.array([0, 1]))[1])
    assert model.encode(X, y)[0].shape == (6, 2)
    assert model.reconstruct(X, y).shape == (6, 5)
    assert model.iwae_bound((X, y), 4, rng=0).shape == (6,)


def test_float32_models_stay_float32(rng):
    model = VAE(5, [4], 2, rng=rng, dtype=np.float32)
    X = rng.random((3, 5))
    model.loss(X, rng=0)
    model.backward()
    assert all(p.dtype == np.float32 and g.dtype == np.float32 for _, p, g in model.parameters())
    assert model.sample(2, rng=0).dtype == np.float32
    assert model.encode(X)[0].dtype == np.float32


def test_config_is_json_and_rebuilds_same_architecture(rng):
    for model in (Autoencoder(4, [3], 2, output="mse"),
                  VAE(4, (3, 2), 2, beta=2.0, likelihood="gaussian", decoder_variance=0.5),
                  CVAE(4, 3, [5], 2, objective="iwae", k=7)):
        cfg = json.loads(json.dumps(model.config()))
        clone = type(model).from_config(cfg)
        assert clone.config() == model.config()
        assert [(n, p.shape) for n, p, _ in clone.parameters()] == \
               [(n, p.shape) for n, p, _ in model.parameters()]


def test_registry():
    assert get_model_class("VAE") is VAE and MODEL_REGISTRY["CVAE"] is CVAE
    with pytest.raises(ValueError, match="unknown model class 'Nope'"):
        get_model_class("Nope")
    with pytest.raises(ValueError, match="already registered"):
        register_model(type("VAE", (Model,), {}))
    with pytest.raises(TypeError):
        register_model(int)


# ------------------------------------------------------------------------------ bad inputs
@pytest.mark.parametrize("make, match", [
    (lambda: VAE(0, [3], 2), "input_dim"),
    (lambda: VAE(4, [3], -1), "latent_dim"),
    (lambda: VAE(4, [-3], 2), r"hidden_sizes\[0\]"),
    (lambda: VAE(4, [3], 2, beta=-0.5), "beta"),
    (lambda: VAE(4, [3], 2, free_bits=-1.0), "free_bits"),
    (lambda: VAE(4, [3], 2, likelihood="poisson"), "likelihood"),
    (lambda: VAE(4, [3], 2, decoder_variance=1.0), "decoder_variance"),
    (lambda: VAE(4, [3], 2, likelihood="gaussian", decoder_variance=0.0), "decoder_variance"),
    (lambda: VAE(4, [3], 2, objective="iwae", free_bits=0.5), "free_bits"),
    (lambda: VAE(4, [3], 2, objective="vi"), "objective"),
    (lambda: VAE(4, [3], 2, k=0), "k must be"),
    (lambda: Autoencoder(4, [3], 2, output="huber"), "output"),
    (lambda: CVAE(4, 0, [3], 2), "n_classes"),
    (lambda: VAE(4, [3], 2, activation="gelu"), "activation"),
])
def test_bad_constructor_arguments(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_bad_kl_weight():
    model = VAE(4, [3], 2)
    with pytest.raises(ValueError, match="kl_weight"):
        model.kl_weight = -1.0


def test_bad_batches(rng):
    model = VAE(4, [3], 2, rng=rng)
    with pytest.raises(ValueError, match=r"X must have 4 features.*\(3, 5\)"):
        model.loss(rng.random((3, 5)), rng=0)
    with pytest.raises(ValueError, match="X must have 2 dimensions"):
        model.loss(rng.random((3, 2, 4)), rng=0)
    with pytest.raises(TypeError, match="X must hold real numbers"):
        model.loss(np.array([["a"] * 4]), rng=0)
    X = rng.random((3, 4))
    X[1, 2] = np.nan
    with pytest.raises(ValueError, match="X contains 1 non-finite"):
        model.loss(X, rng=0)
    with pytest.raises(ValueError, match="X is empty"):
        model.loss(np.zeros((0, 4)), rng=0)
    with pytest.raises(ValueError, match="Bernoulli"):
        model.loss(rng.random((3, 4)) * 3, rng=0)
    with pytest.raises(TypeError, match="CVAE"):
        model.loss((rng.random((3, 4)), np.zeros(3, int)), rng=0)
    with pytest.raises(ValueError, match="eps must have shape"):
        model.loss(rng.random((3, 4)), eps=np.zeros((3, 5)))
    ok = rng.random((3, 4))
    with pytest.raises(ValueError, match="mask must have shape"):
        model.loss(ok, rng=0, mask=np.ones((3, 3), bool))
    with pytest.raises(TypeError, match="mask must be boolean"):
        model.loss(ok, rng=0, mask=np.ones((3, 4)))
    X[1, 2] = np.nan
    mask = np.ones((3, 4), bool)
    with pytest.raises(ValueError, match="mask marks observed"):
        model.loss(X, rng=0, mask=mask)


def test_bad_cvae_labels(rng):
    model = CVAE(4, 3, [3], 2, rng=rng)
    X = rng.random((3, 4))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\]"):
        model.loss((X, np.array([0, 1, 3])), rng=0)
    with pytest.raises(ValueError, match="one label per example"):
        model.loss((X, np.array([0, 1])), rng=0)
    with pytest.raises(ValueError, match="not one-hot"):
        model.loss((X, np.full((3, 3), 1.0)), rng=0)
    with pytest.raises(ValueError, match="integer class labels"):
        model.loss((X, np.array([0.5, 1.0, 2.0])), rng=0)
    with pytest.raises(TypeError, match=r"batch \(X, y\)"):
        model.loss(X, rng=0)
    with pytest.raises(ValueError, match="needs labels"):
        model.make_batch(X)
