"""LSTM sequence models: LSTMAutoencoder and LSTMVAE (both decoders, masks, teacher forcing).

Gradient checks use :func:`minivae.gradcheck.check_model` in float64 (central differences,
h = 1e-6, max relative error <= 1e-7 with a finite-difference noise floor); the latent noise and
the teacher-forcing decisions of the first pass are kept in ``last_eps`` and reused, so every
finite-difference evaluation sees the same draws.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from minivae.data.synthetic import sine_dataset
from minivae.gradcheck import check_model, format_table
from minivae.gradcheck.checks._common import set_free_bits_in_widest_gap
from minivae.gradcheck.registry import REGISTRY, check_rng_for
from minivae.models.base import Model, get_model_class
from minivae.models.lstm_autoencoder import HALF_LOG_PI, MSE_STD, LSTMAutoencoder
from minivae.models.lstm_vae import LSTMVAE
from minivae.nn.sequence import lengths_to_mask
from minivae.train.checkpoint import load_checkpoint

# Every test here runs on the NumPy reference and on the Numba kernels (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("each_backend")

TOL = 1e-7


# ----------------------------------------------------------------------------- helpers
def randomise_biases(model, rng):
    for name, p, _ in model.parameters():
        if name.endswith(".b"):
            p += 0.1 * rng.standard_normal(p.shape)


def assert_grads_ok(model, X, kwargs, seed, max_entries=5):
    results = check_model(model, X, rng=seed, loss_kwargs=kwargs, max_entries=max_entries,
                          tol=TOL)  # also checks that backward adds into grads
    assert len(results) == 2 * len(list(model.parameters()))
    assert all(r.passed for r in results), format_table(results)
    assert max(r.max_rel_error for r in results) <= TOL


def make_masked(rng, X, kind):
    """kind: None, "entries" (N, T, D), "steps" (N, T) or "lengths"; returns (X, loss kwargs)."""
    N, T, D = X.shape
    if kind is None:
        return X, {}
    if kind == "lengths":
        lengths = rng.integers(1, T + 1, size=N)
        steps = lengths_to_mask(lengths, T)
        return np.where(steps[:, :, None], X, np.nan), {"lengths": lengths}
    shape = (N, T, D) if kind == "entries" else (N, T)
    mask = rng.random(shape) < 0.7
    mask[:, 0] = True
    full = mask if kind == "entries" else mask[:, :, None]
    return np.where(full, X, np.nan), {"mask": mask}


def sequences(seed=0, N=4, T=5, D=2):
    return np.random.default_rng(seed).standard_normal((N, T, D))


def build(kind, D=2, H=4, L=3, **kw):
    cls = LSTMAutoencoder if kind == "ae" else LSTMVAE
    return cls(D, H, L, rng=0, **kw)


# ------------------------------------------------------------------- gradient checks: sweep
DECODER_TF = [("repeat", 1.0), ("autoregressive", 0.0), ("autoregressive", 0.5),
              ("autoregressive", 1.0)]


@pytest.mark.parametrize("masked", [False, True], ids=["full", "masked"])
@pytest.mark.parametrize("output", ["mse", "gaussian"])
@pytest.mark.parametrize("decoder,tf", DECODER_TF, ids=["repeat", "ar-tf0", "ar-tf0.5", "ar-tf1"])
def test_autoencoder_gradients_every_configuration(decoder, tf, output, masked):
    rng = np.random.default_rng(11)
    model = LSTMAutoencoder(2, 3, 2, decoder=decoder, teacher_forcing=tf, output=output, rng=rng)
    randomise_biases(model, rng)
    X, kw = make_masked(rng, rng.standard_normal((3, 4, 2)), "entries" if masked else None)
    assert_grads_ok(model, X, kw, seed=3)
    if decoder == "autoregressive":
        tf_draw = model.last_eps["teacher_forcing"]
        assert tf_draw.shape == (3, 4) and not tf_draw[:, 0].any()
    else:
        assert model.last_eps is None


@pytest.mark.parametrize("masked", [False, True], ids=["full", "masked"])
@pytest.mark.parametrize("likelihood", ["gaussian", "mse"])
@pytest.mark.parametrize("decoder,tf", DECODER_TF, ids=["repeat", "ar-tf0", "ar-tf0.5", "ar-tf1"])
def test_vae_gradients_every_configuration(decoder, tf, likelihood, masked):
    rng = np.random.default_rng(12)
    model = LSTMVAE(2, 3, 2, decoder=decoder, teacher_forcing=tf, likelihood=likelihood,
                    beta=0.7, rng=rng)
    randomise_biases(model, rng)
    X, kw = make_masked(rng, rng.standard_normal((3, 4, 2)), "entries" if masked else None)
    assert_grads_ok(model, X, kw, seed=4)
    assert model.last_eps["z"].shape == (3, 2)


# ------------------------------------------------------------ gradient checks: hypothesis
dims = st.integers(1, 3)
configs = st.fixed_dictionaries({
    "decoder_tf": st.sampled_from(DECODER_TF),
    "output": st.sampled_from(["mse", "gaussian"]),
    "masking": st.sampled_from([None, "entries", "steps", "lengths"]),
    "num_layers": st.sampled_from([1, 2]),
    "mask_input": st.booleans(),
})
SETTINGS = settings(max_examples=6, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(N=dims, T=st.integers(1, 4), D=dims, H=dims, L=dims, cfg=configs,
       seed=st.integers(0, 2**31 - 1))
@example(N=1, T=1, D=1, H=1, L=1, seed=0,
         cfg={"decoder_tf": ("autoregressive", 0.5), "output": "gaussian", "masking": None,
              "num_layers": 1, "mask_input": False})
@example(N=1, T=1, D=2, H=2, L=1, seed=1,
         cfg={"decoder_tf": ("repeat", 1.0), "output": "mse", "masking": "entries",
              "num_layers": 2, "mask_input": True})
def test_autoencoder_gradients_hypothesis(N, T, D, H, L, cfg, seed):
    rng = np.random.default_rng(seed)
    decoder, tf = cfg["decoder_tf"]
    model = LSTMAutoencoder(D, H, L, decoder=decoder, teacher_forcing=tf, output=cfg["output"],
                            num_layers=cfg["num_layers"], mask_input=cfg["mask_input"], rng=rng)
    randomise_biases(model, rng)
    X, kw = make_masked(rng, rng.standard_normal((N, T, D)), cfg["masking"])
    assert_grads_ok(model, X, kw, seed=seed, max_entries=4)


@SETTINGS
@given(N=dims, T=st.integers(1, 4), D=dims, H=dims, L=dims, cfg=configs,
       beta=st.sampled_from([1.0, 0.3, 2.0]), free_bits=st.booleans(),
       seed=st.integers(0, 2**31 - 1))
@example(N=1, T=1, D=1, H=1, L=1, beta=1.0, free_bits=False, seed=0,
         cfg={"decoder_tf": ("autoregressive", 1.0), "output": "gaussian", "masking": None,
              "num_layers": 1, "mask_input": False})
@example(N=1, T=3, D=2, H=2, L=2, beta=0.3, free_bits=True, seed=2,
         cfg={"decoder_tf": ("autoregressive", 0.5), "output": "mse", "masking": "lengths",
              "num_layers": 2, "mask_input": True})
def test_vae_gradients_hypothesis(N, T, D, H, L, cfg, beta, free_bits, seed):
    rng = np.random.default_rng(seed)
    decoder, tf = cfg["decoder_tf"]
    model = LSTMVAE(D, H, L, decoder=decoder, teacher_forcing=tf, likelihood=cfg["output"],
                    num_layers=cfg["num_layers"], mask_input=cfg["mask_input"], beta=beta,
                    rng=rng)
    randomise_biases(model, rng)
    X, kw = make_masked(rng, rng.standard_normal((N, T, D)), cfg["masking"])
    if free_bits:
        mask = kw.get("mask")
        if "lengths" in kw:
            mask = lengths_to_mask(kw["lengths"], T)
        set_free_bits_in_widest_gap(model, model.kl_per_dimension(X, mask=mask))
        assert model.free_bits > 0
    assert_grads_ok(model, X, kw, seed=seed, max_entries=4)


def test_free_bits_gradient_skips_dimensions_below_lambda():
    rng = np.random.default_rng(5)
    model = LSTMVAE(2, 4, 4, rng=rng)
    X = rng.standard_normal((6, 5, 2))
    set_free_bits_in_widest_gap(model, model.kl_per_dimension(X))
    kl = model.kl_per_dimension(X)
    below = kl < model.free_bits
    assert below.any() and (~below).any()
    value, parts = model.loss(X, rng=0)
    assert parts["kl_free_bits"] == pytest.approx(np.sum(np.maximum(kl, model.free_bits)))
    assert value == pytest.approx(parts["reconstruction"] + parts["kl_free_bits"])
    assert_grads_ok(model, X, {}, seed=1)


def test_registered_gradchecks_exist_and_one_of_each_passes():
    ae = [n for n in REGISTRY if n.startswith("models.lstm_ae.")]
    vae = [n for n in REGISTRY if n.startswith("models.lstm_vae.")]
    assert len(ae) >= 5 and len(vae) >= 6
    for name in ("models.lstm_ae.autoregressive.tf05_masked",
                 "models.lstm_vae.autoregressive.tf05_masked"):
        results = REGISTRY[name](check_rng_for(0, name))
        assert results and all(r.passed for r in results), format_table(results)


# ------------------------------------------------------------ noise / teacher forcing draws
def test_last_eps_reuse_is_exact_and_teacher_forcing_is_drawn_per_sequence_and_step():
    X = sequences(N=40, T=30, D=1)
    model = LSTMVAE(1, 4, 2, decoder="autoregressive", teacher_forcing=0.5, rng=0)
    v1, _ = model.loss(X, rng=7)
    eps = model.last_eps
    tf = eps["teacher_forcing"]
    assert tf.shape == (40, 30) and tf.dtype == bool and not tf[:, 0].any()
    assert 0.4 < tf[:, 1:].mean() < 0.6  # a Bernoulli(0.5) per (sequence, step)
    assert tf[:, 1:].any(axis=0).all() and (~tf[:, 1:]).any(axis=0).all()  # mixed per step
    v2, _ = model.loss(X, eps=eps)
    assert v2 == v1
    v3, _ = model.loss(X, rng=7)
    assert v3 == v1 and np.array_equal(model.last_eps["teacher_forcing"], tf)
    v4, _ = model.loss(X, rng=8)
    assert v4 != v1
    # Flipping the teacher-forcing decisions alone (same latent noise) changes the loss.
    v5, _ = model.loss(X, eps={"z": eps["z"], "teacher_forcing": ~tf & (np.arange(30) > 0)})
    assert v5 != v1


@pytest.mark.parametrize("tf", [0.0, 1.0])
def test_teacher_forcing_0_and_1_are_deterministic_without_rng(tf):
    X = sequences(N=3, T=6)
    model = LSTMAutoencoder(2, 4, 3, decoder="autoregressive", teacher_forcing=tf, rng=0)
    v1, _ = model.loss(X)
    v2, _ = model.loss(X, rng=123)
    assert v1 == v2
    draw = model.last_eps["teacher_forcing"]
    assert not draw[:, 0].any()
    assert np.all(draw[:, 1:] == (tf == 1.0))


def test_teacher_forced_loss_reads_true_previous_values_inference_reads_only_z():
    X = sequences(N=2, T=6)
    model = LSTMAutoencoder(2, 4, 3, decoder="autoregressive", teacher_forcing=1.0, rng=0)
    z = model.encode(X)
    out = model.decode(z, 6)
    # Change x[:, 2] and keep the code fixed: the teacher-forced decoder sees the change (step
    # 3 is fed x[:, 2]), the free-running decoder cannot (it reads z only).
    X2 = X.copy()
    X2[:, 2] += 1.0
    tf_out = {}
    for name, data in (("X", X), ("X2", X2)):
        model.loss(data)
        tf_out[name] = model._decode(z, 6, X=data, feed_true=model._feed_true(
            model.last_eps["teacher_forcing"], None, 2))[..., :2]
    np.testing.assert_array_equal(tf_out["X"][:, :3], tf_out["X2"][:, :3])
    assert not np.allclose(tf_out["X"][:, 3:], tf_out["X2"][:, 3:])
    np.testing.assert_array_equal(model.decode(z, 6), out)


# ----------------------------------------------------------------- inference never peeks
@pytest.mark.parametrize("kind", ["ae", "vae"])
@pytest.mark.parametrize("decoder,tf", [("repeat", 1.0), ("autoregressive", 1.0),
                                        ("autoregressive", 0.5)])
def test_reconstruct_equals_decode_of_the_code_and_decoding_is_causal(kind, decoder, tf):
    X = sequences(N=3, T=7)
    model = build(kind, decoder=decoder, teacher_forcing=tf, num_layers=2)
    code = model.encode(X)
    z = code if kind == "ae" else code[0]
    R = model.reconstruct(X)
    assert R.shape == X.shape
    np.testing.assert_array_equal(R, model.decode(z, 7))
    # The decoder's step t depends on z and the steps before it only: a longer decode extends
    # a shorter one.
    np.testing.assert_allclose(model.decode(z, 4), model.decode(z, 7)[:, :4], rtol=0,
                               atol=1e-14)


def test_teacher_forcing_zero_loss_equals_inference_score():
    """With teacher_forcing=0 training is free running, so the training loss equals the mean
    of the evaluation losses, and the MSE of reconstruct()."""
    X = sequences(N=4, T=6)
    model = LSTMAutoencoder(2, 4, 3, decoder="autoregressive", teacher_forcing=0.0, rng=0)
    value, _ = model.loss(X)
    per = model.per_example_loss(X)
    assert value == pytest.approx(per["loss"].mean(), rel=1e-13)
    R = model.reconstruct(X)
    np.testing.assert_allclose(per["reconstruction"], ((R - X) ** 2).sum(axis=(1, 2)),
                               rtol=1e-12)


# -------------------------------------------------------------------- masks and lengths
@pytest.mark.parametrize("kind", ["ae", "vae"])
@pytest.mark.parametrize("decoder,tf", [("repeat", 1.0), ("autoregressive", 1.0)])
def test_missing_values_are_ignored(kind, decoder, tf):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((4, 6, 2))
    mask = rng.random(X.shape) < 0.6
    model = build(kind, decoder=decoder, teacher_forcing=tf, output="gaussian") if kind == "ae" \
        else build(kind, decoder=decoder, teacher_forcing=tf)
    grads = []
    values = []
    for fill in (np.nan, 100.0, -3.0):
        model.zero_grad()
        values.append(model.loss(np.where(mask, X, fill), rng=0, mask=mask)[0])
        model.backward()
        grads.append([g.copy() for _, _, g in model.parameters()])
    assert values[0] == values[1] == values[2]
    for g1, g2 in zip(grads[0], grads[1]):
        np.testing.assert_array_equal(g1, g2)
    # Not a vacuous test: the same change at observed entries does change the loss.
    assert model.loss(np.where(mask, X + 0.5, np.nan), rng=0, mask=mask)[0] != values[0]


def test_step_mask_equals_broadcast_entry_mask_and_lengths_equal_prefix_mask():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((3, 5, 2))
    model = LSTMVAE(2, 4, 3, decoder="autoregressive", teacher_forcing=0.5, mask_input=True,
                    rng=0)
    steps = rng.random((3, 5)) < 0.6
    steps[:, 0] = True
    a = model.loss(X, rng=1, mask=steps)[0]
    b = model.loss(X, rng=1, mask=np.repeat(steps[:, :, None], 2, axis=2))[0]
    assert a == b
    lengths = np.array([5, 2, 3])
    c = model.loss(X, rng=1, lengths=lengths)[0]
    d = model.loss(X, rng=1, mask=lengths_to_mask(lengths, 5))[0]
    assert c == d
    # mask and lengths combine with AND
    e = model.loss(X, rng=1, mask=steps, lengths=lengths)[0]
    f = model.loss(X, rng=1, mask=steps & lengths_to_mask(lengths, 5))[0]
    assert e == f


@pytest.mark.parametrize("kind", ["ae", "vae"])
def test_encoder_respects_lengths(kind):
    """The code of a padded sequence equals the code of the unpadded one (padding, even NaN,
    never reaches the encoder state)."""
    rng = np.random.default_rng(6)
    X = rng.standard_normal((3, 6, 2))
    lengths = np.array([6, 1, 4])
    Xp = np.where(lengths_to_mask(lengths, 6)[:, :, None], X, np.nan)
    model = build(kind, num_layers=2)

    def code(data, **kw):
        out = model.encode(data, **kw)
        return out if kind == "ae" else np.concatenate(out, axis=1)  # [mu, logvar]

    padded = code(Xp, lengths=lengths)
    for n, length in enumerate(lengths):
        np.testing.assert_allclose(padded[n], code(X[n:n + 1, :length])[0], rtol=0, atol=1e-14)
    assert not np.allclose(padded[2], code(X[2:3])[0])  # the padding would have mattered


def test_mask_input_adds_encoder_channels():
    model = LSTMAutoencoder(3, 4, 2, mask_input=True, rng=0)
    assert model.encoder.layers[0].params["Wx"].shape == (6, 16)
    X = sequences(N=2, T=4, D=3)
    mask = np.ones(X.shape, dtype=bool)
    mask[0, 1, 2] = False
    z_masked = model.encode(np.where(mask, X, 0.0), mask=mask)
    z_zero = model.encode(np.where(mask, X, 0.0))
    # Same numbers, but the mask channel tells the encoder the 0 is missing.
    assert not np.allclose(z_masked[0], z_zero[0])
    np.testing.assert_array_equal(z_masked[1], z_zero[1])


# ---------------------------------------------------------------- VAE: scores and sampling
def test_reconstruction_log_prob_hand_worked_single_sample():
    rng = np.random.default_rng(8)
    X = rng.standard_normal((3, 4, 2))
    model = LSTMVAE(2, 4, 3, rng=0)
    mu, logvar = model.encode(X)
    eps = np.random.default_rng(99).standard_normal((1, 3, 3))
    z = mu + np.exp(0.5 * logvar) * eps[0]
    mean, std = model.decode(z, 4, return_std=True)
    manual = (-0.5 * np.log(2 * np.pi) - np.log(std) - 0.5 * ((X - mean) / std) ** 2).sum(axis=2)
    got = model.reconstruction_log_prob(X, n_samples=1, rng=99)
    np.testing.assert_allclose(got, manual, rtol=1e-12)
    seq = model.reconstruction_log_prob(X, n_samples=1, rng=99, per_step=False)
    np.testing.assert_allclose(seq, manual.sum(axis=1), rtol=1e-12)


def test_reconstruction_log_prob_mse_uses_variance_one_half():
    X = sequences(N=2, T=3)
    model = LSTMVAE(2, 4, 3, likelihood="mse", rng=0)
    mu, logvar = model.encode(X)
    eps = np.random.default_rng(5).standard_normal((1, 2, 3))
    mean, std = model.decode(mu + np.exp(0.5 * logvar) * eps[0], 3, return_std=True)
    assert np.all(std == MSE_STD)
    manual = (-HALF_LOG_PI - (X - mean) ** 2).sum(axis=2)
    np.testing.assert_allclose(model.reconstruction_log_prob(X, n_samples=1, rng=5), manual,
                               rtol=1e-12)


def test_reconstruction_log_prob_averages_masks_and_determinism():
    rng = np.random.default_rng(9)
    X = rng.standard_normal((3, 5, 2))
    model = LSTMVAE(2, 4, 3, decoder="autoregressive", rng=0)
    step = model.reconstruction_log_prob(X, n_samples=6, rng=1)
    seq = model.reconstruction_log_prob(X, n_samples=6, rng=1, per_step=False)
    assert step.shape == (3, 5) and seq.shape == (3,)
    np.testing.assert_allclose(seq, step.sum(axis=1), rtol=1e-12)  # mean of sums = sum of means
    lme = model.reconstruction_log_prob(X, n_samples=6, rng=1, average="logmeanexp")
    assert np.all(lme >= step - 1e-12)  # Jensen
    np.testing.assert_array_equal(step, model.reconstruction_log_prob(X, n_samples=6, rng=1))
    assert not np.array_equal(step, model.reconstruction_log_prob(X, n_samples=6, rng=2))
    lengths = np.array([5, 3, 1])
    masked = model.reconstruction_log_prob(X, n_samples=6, rng=1, lengths=lengths)
    valid = lengths_to_mask(lengths, 5)
    assert np.all(np.isnan(masked[~valid])) and np.all(np.isfinite(masked[valid]))
    per_seq = model.reconstruction_log_prob(X, n_samples=6, rng=1, lengths=lengths,
                                            per_step=False)
    np.testing.assert_allclose(per_seq, np.nansum(masked, axis=1), rtol=1e-12)


@pytest.mark.parametrize("likelihood", ["gaussian", "mse"])
def test_sample_decode_posterior_shapes_and_determinism(likelihood):
    model = LSTMVAE(2, 4, 3, decoder="autoregressive", likelihood=likelihood, rng=0)
    s1 = model.sample(5, 7, rng=3)
    assert s1.shape == (5, 7, 2)
    np.testing.assert_array_equal(s1, model.sample(5, 7, rng=3))
    noisy = model.sample(5, 7, rng=3, mean=False)
    assert noisy.shape == (5, 7, 2) and not np.allclose(noisy, s1)
    mean, std = model.decode(np.zeros((2, 3)), 4, return_std=True)
    assert mean.shape == std.shape == (2, 4, 2) and np.all(std > 0)
    X = sequences(N=4, T=5)
    mu, logvar = model.posterior(X)
    assert mu.shape == logvar.shape == (4, 3)
    assert model.kl_per_dimension(X).shape == (3,)
    r1 = model.reconstruct(X, rng=4)
    assert not np.allclose(r1, model.reconstruct(X))  # z ~ q instead of z = mu


def test_vae_loss_parts_use_kl_weight_and_per_example_terms():
    X = sequences(N=4, T=5)
    model = LSTMVAE(2, 4, 3, rng=0)
    model.kl_weight = 0.25
    value, parts = model.loss(X, rng=0)
    assert value == pytest.approx(parts["reconstruction"] + 0.25 * parts["kl"], rel=1e-14)
    assert parts["elbo"] == pytest.approx(-(parts["reconstruction"] + parts["kl"]))
    # The repeat decoder never reads X, so the evaluation pass with the same z matches exactly.
    per = model.per_example_loss(X, eps=model.last_eps)
    assert per["reconstruction"].mean() == pytest.approx(parts["reconstruction"], rel=1e-13)
    assert per["kl"].mean() == pytest.approx(parts["kl"], rel=1e-13)
    np.testing.assert_allclose(per["loss"], per["reconstruction"] + 0.25 * per["kl"])


def test_float32_models_stay_float32():
    X = sequences(N=4, T=5).astype(np.float32)
    for model in (LSTMAutoencoder(2, 4, 3, decoder="autoregressive", teacher_forcing=0.5,
                                  dtype=np.float32, rng=0),
                  LSTMVAE(2, 4, 3, dtype=np.float32, rng=0)):
        value, _ = model.loss(X, rng=0)
        model.backward()
        assert np.isfinite(value)
        assert all(g.dtype == np.float32 for _, _, g in model.parameters())
        assert model.reconstruct(X).dtype == np.float32


# ------------------------------------------------------------------------------- training
T_TRAIN = 12


def sine_data():
    kw = dict(n_components=2, freq_range=(0.02, 0.08), noise_std=0.05)
    return sine_dataset(96, T_TRAIN, rng=0, **kw), sine_dataset(64, T_TRAIN, rng=1, **kw)


def mean_baseline_mse(X):
    """Predicting each series by its own mean."""
    return float(np.mean((X - X.mean(axis=1, keepdims=True)) ** 2))


TRAIN = {
    "ae": (lambda: LSTMAutoencoder(1, 16, 6, rng=0), dict(epochs=30, lr=0.02)),
    "vae": (lambda: LSTMVAE(1, 16, 6, rng=0),
            dict(epochs=40, lr=0.02, kl_schedule="linear:300")),
}


def train(kind):
    make, kw = TRAIN[kind]
    model = make()
    X, _ = sine_data()
    history = model.fit(X, batch_size=16, clip_norm=5.0, rng=0, verbose=0, **kw)
    return model, history


@pytest.fixture(scope="module")
def trained():
    return {kind: train(kind) for kind in TRAIN}


@pytest.mark.parametrize("kind", ["ae", "vae"])
def test_training_beats_per_series_mean_by_far(trained, kind):
    model, history = trained[kind]
    X, X_test = sine_data()
    ratio_test = np.mean((model.reconstruct(X_test) - X_test) ** 2) / mean_baseline_mse(X_test)
    ratio_train = np.mean((model.reconstruct(X) - X) ** 2) / mean_baseline_mse(X)
    print(f"{kind}: held-out MSE / per-series-mean MSE = {ratio_test:.3f} "
          f"(train {ratio_train:.3f})")
    assert ratio_test < 0.3 and ratio_train < 0.3
    rec = history.reconstruction
    assert rec[-1] < 0.5 * rec[0]


@pytest.mark.parametrize("cls", [LSTMAutoencoder, LSTMVAE])
def test_training_is_deterministic_for_a_seed(cls):
    """Shuffling, latent noise and teacher-forcing draws all come from fit's seed."""
    X, _ = sine_data()
    runs = []
    for seed in (0, 0, 1):
        model = cls(1, 6, 3, decoder="autoregressive", teacher_forcing=0.5, rng=0)
        history = model.fit(X[:32], epochs=2, batch_size=16, lr=0.01, rng=seed, verbose=0)
        runs.append((history.to_dict(include_time=False), model.state_dict()))
    (h0, p0), (h1, p1), (h2, _) = runs
    assert h0 == h1
    for name in p0:
        assert p0[name].tobytes() == p1[name].tobytes(), name
    assert h2 != h0  # another seed: other shuffles and draws


def test_teacher_forcing_one_vs_zero_changes_training():
    X, _ = sine_data()
    losses, params = {}, {}
    for tf in (1.0, 0.0):
        model = LSTMAutoencoder(1, 8, 4, decoder="autoregressive", teacher_forcing=tf, rng=0)
        h = model.fit(X[:48], epochs=4, batch_size=16, lr=0.02, rng=0, verbose=0,
                      diagnostics=False)
        losses[tf] = np.array(h.loss)
        params[tf] = model.state_dict()
    rel = np.abs(losses[1.0] - losses[0.0]) / losses[0.0]
    print("teacher forcing 1.0 vs 0.0 training loss per epoch:", losses[1.0], losses[0.0])
    assert rel.max() > 0.05
    assert any(not np.allclose(params[1.0][k], params[0.0][k]) for k in params[1.0])


# ----------------------------------------------------------------------------- checkpoints
@pytest.mark.parametrize("kind,kw", [
    ("ae", {"decoder": "repeat", "output": "gaussian", "mask_input": True}),
    ("ae", {"decoder": "autoregressive", "teacher_forcing": 0.5, "num_layers": 2}),
    ("vae", {"decoder": "repeat", "likelihood": "mse", "beta": 0.5, "free_bits": 0.1}),
    ("vae", {"decoder": "autoregressive", "teacher_forcing": 0.25}),
])
def test_checkpoint_round_trip_is_bit_exact(tmp_path, kind, kw):
    model = build(kind, **kw)
    rng = np.random.default_rng(0)
    for _, p, _ in model.parameters():
        p += rng.standard_normal(p.shape)  # not the constructor's weights
    path = tmp_path / "model.npz"
    model.save(path)
    loaded = Model.load(path)
    assert type(loaded) is type(model)
    assert loaded.config() == model.config()
    assert get_model_class(type(model).__name__) is type(model)
    for (n1, p1, _), (n2, p2, _) in zip(model.parameters(), loaded.parameters()):
        assert n1 == n2 and p1.dtype == p2.dtype
        assert p1.tobytes() == p2.tobytes()
    X = sequences(N=2, T=4)
    assert model.reconstruct(X).tobytes() == loaded.reconstruct(X).tobytes()
    assert type(model).load(path).config() == model.config()
    # Loading into a model of another architecture is refused.
    other = type(model).from_config(dict(model.config(), hidden_size=5))
    with pytest.raises(ValueError, match="hidden_size"):
        load_checkpoint(path, model=other)


# ------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize("kind", ["ae", "vae"])
def test_bad_inputs_raise_clear_errors(kind):
    model = build(kind, decoder="autoregressive", teacher_forcing=0.5)
    X = sequences(N=3, T=4)
    with pytest.raises(ValueError, match=r"3 dimensions.*X\[\.\.\., None\]"):
        model.loss(X[..., 0], rng=0)
    with pytest.raises(ValueError, match="3 dimensions"):
        model.encode(X[None])
    with pytest.raises(ValueError, match="2 features"):
        model.loss(sequences(N=3, T=4, D=3), rng=0)
    with pytest.raises(ValueError, match=r"lengths must lie in \[1, T=4\]"):
        model.loss(X, rng=0, lengths=np.array([4, 5, 2]))
    with pytest.raises(ValueError, match=r"lengths must lie in \[1, T=4\]"):
        model.encode(X, lengths=np.array([0, 2, 2]))
    with pytest.raises(ValueError, match="lengths must have shape"):
        model.reconstruct(X, lengths=np.array([2, 2]))
    with pytest.raises(TypeError, match="integers"):
        model.loss(X, rng=0, lengths=np.array([2.0, 2.0, 2.0]))
    Xnan = X.copy()
    Xnan[1, 2, 0] = np.nan
    with pytest.raises(ValueError, match="non-finite.*mask"):
        model.loss(Xnan, rng=0)
    with pytest.raises(ValueError, match="non-finite.*mask"):
        model.reconstruct(Xnan)
    mask = np.ones(X.shape, dtype=bool)
    with pytest.raises(ValueError, match="non-finite value"):
        model.loss(Xnan, rng=0, mask=mask)  # NaN at an entry marked observed
    with pytest.raises(ValueError, match="mask must have shape"):
        model.loss(X, rng=0, mask=np.ones((3, 5), dtype=bool))
    with pytest.raises(TypeError, match="boolean"):
        model.loss(X, rng=0, mask=np.ones(X.shape))
    with pytest.raises(ValueError, match="teacher_forcing"):
        model.loss(X, eps={"teacher_forcing": np.ones((3, 5), dtype=bool),
                           **({"z": np.zeros((3, 3))} if kind == "vae" else {})})
    with pytest.raises(ValueError, match="rng="):  # noise (or teacher_forcing=0.5) needs rng
        model.loss(X)
    with pytest.raises(ValueError, match="z must have shape"):
        model.decode(np.zeros((2, 4)), 3)
    with pytest.raises(ValueError, match="T must be >= 1"):
        model.decode(np.zeros((2, 3)), 0)
    with pytest.raises(RuntimeError, match="preceding loss"):
        model.backward()


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="decoder must be one of"):
        LSTMAutoencoder(1, 4, 2, decoder="attention")
    with pytest.raises(ValueError, match="teacher_forcing must be <= 1"):
        LSTMAutoencoder(1, 4, 2, decoder="autoregressive", teacher_forcing=1.5)
    with pytest.raises(ValueError, match="only applies to decoder='autoregressive'"):
        LSTMAutoencoder(1, 4, 2, teacher_forcing=0.5)
    with pytest.raises(ValueError, match="output must be one of"):
        LSTMAutoencoder(1, 4, 2, output="bernoulli")
    with pytest.raises(ValueError, match="likelihood must be one of"):
        LSTMVAE(1, 4, 2, likelihood="bernoulli")
    with pytest.raises(ValueError, match="hidden_size must be >= 1"):
        LSTMVAE(1, 0, 2)
    with pytest.raises(ValueError, match="beta must be >= 0"):
        LSTMVAE(1, 4, 2, beta=-1.0)
    with pytest.raises(ValueError, match="free_bits must be >= 0"):
        LSTMVAE(1, 4, 2, free_bits=-0.1)
    with pytest.raises(TypeError, match="mask_input must be a bool"):
        LSTMVAE(1, 4, 2, mask_input=1)
    with pytest.raises(ValueError, match="n_samples must be >= 1"):
        LSTMVAE(1, 4, 2).reconstruction_log_prob(sequences(D=1), n_samples=0, rng=0)
    with pytest.raises(ValueError, match="average must be one of"):
        LSTMVAE(1, 4, 2).reconstruction_log_prob(sequences(D=1), rng=0, average="max")


def test_config_lists_every_combination_and_rebuilds():
    for cls, extra in ((LSTMAutoencoder, {"output": "gaussian"}),
                       (LSTMVAE, {"likelihood": "mse", "beta": 2.0, "free_bits": 0.5})):
        for decoder, layers in itertools.product(("repeat", "autoregressive"), (1, 2)):
            model = cls(3, 5, 2, decoder=decoder, num_layers=layers, rng=0, **extra)
            rebuilt = cls.from_config(model.config())
            assert rebuilt.config() == model.config()
            assert [n for n, _, _ in rebuilt.parameters()] == \
                [n for n, _, _ in model.parameters()]
