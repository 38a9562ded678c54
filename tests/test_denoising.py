"""The denoising objective: the sequence models' ``target=`` keyword and the Denoising wrapper
(reproducible corruption per step, replay, masks, fit, checkpoints, gradient checks, bad input),
and that training it actually denoises."""

import json

import numpy as np
import pytest

from minivae.data.corruption import Corruption
from minivae.data.ecg_noise import snr_db
from minivae.gradcheck.registry import REGISTRY, check_rng_for
from minivae.models import LSTMVAE, VAE, Denoising, LSTMAutoencoder
from minivae.objectives.losses import fill_missing

RNG = np.random.default_rng(0)
X = RNG.standard_normal((4, 6, 2))
Y = RNG.standard_normal((4, 6, 2))


def test_target_none_is_x_and_target_scores_the_reconstruction_against_it():
    ae = LSTMAutoencoder(2, 5, 3, rng=0)
    assert ae.loss(X, target=X)[0] == ae.loss(X)[0]
    rec = ae.reconstruct(X)
    expected = np.sum((rec - Y) ** 2, axis=(1, 2))
    np.testing.assert_allclose(ae.per_example_loss(X, target=Y)["loss"], expected, rtol=1e-12)
    assert ae.loss(X, target=Y)[0] == pytest.approx(expected.mean(), rel=1e-12)
    vae = LSTMVAE(2, 5, 3, rng=0)
    a = vae.loss(X, rng=1, target=Y)[0]
    b = vae.loss(X, eps=vae.last_eps, target=Y)[0]
    assert a == b and a != vae.loss(X, eps=vae.last_eps)[0]


def test_target_feeds_teacher_forcing():
    """With teacher forcing 1 the decoder reads the target's previous values, not X's."""
    ae = LSTMAutoencoder(2, 5, 3, decoder="autoregressive", teacher_forcing=1.0, rng=0)
    ae.loss(X, target=Y)
    with_y = ae.loss(X, target=Y)[0]
    # X as input and as fed values, scored against Y: differs from feeding Y
    ae_out = ae._decode(ae._encode(X, None), 6, X=X,
                        feed_true=ae._feed_true(ae._teacher_forcing_draw(4, 6, None, None),
                                                None, 2))
    fed_x = float(np.mean(np.sum((ae_out - Y) ** 2, axis=(1, 2))))
    assert with_y != pytest.approx(fed_x, rel=1e-6)


def test_denoising_corrupts_afresh_reproducibly_and_replays():
    dae = Denoising(LSTMAutoencoder(2, 5, 3, rng=0), Corruption("gaussian", std=0.5))
    a = dae.loss(X, rng=3)[0]
    noisy = dae.last_eps["input"]
    assert noisy.shape == X.shape and not np.allclose(noisy, X)
    assert dae.loss(X, rng=np.random.default_rng(3))[0] == a
    assert dae.loss(X, rng=4)[0] != a
    assert dae.loss(X, eps={"input": noisy, "model": None})[0] == a
    # the wrapped model scored on x~ against the clean X
    assert a == dae.model.loss(noisy, target=X)[0]
    dae.loss(X, rng=3)
    dae.backward()
    with pytest.raises(RuntimeError, match="needs a preceding loss"):
        dae.backward()


def test_denoising_keeps_missing_entries_missing():
    mask = RNG.random(X.shape) < 0.7
    Xm = np.where(mask, X, np.nan)
    dae = Denoising(LSTMVAE(2, 5, 3, rng=0), Corruption("masking", fraction=0.5))
    value, _ = dae.loss(Xm, rng=0, mask=mask)
    noisy = dae.last_eps["input"]
    assert np.isfinite(value)
    np.testing.assert_array_equal(np.isnan(noisy), ~mask)
    hit = mask & (noisy == 0.0)
    assert 0.3 < hit.sum() / mask.sum() < 0.7
    terms = dae.per_example_loss(Xm, rng=0, mask=mask)
    assert terms["loss"].shape == (4,) and np.all(np.isfinite(terms["loss"]))
    np.testing.assert_array_equal(fill_missing(Xm, mask)[~mask], 0.0)


def test_kl_weight_and_free_bits_are_the_wrapped_models():
    vae = LSTMVAE(2, 5, 3, beta=2.0, rng=0)
    dae = Denoising(vae, {"kind": "poisson", "rate": 3.0})
    assert dae.beta == 2.0 and dae.kl_weight == 2.0
    dae.kl_weight = 0.5
    assert vae.kl_weight == 0.5
    dae.free_bits = 0.1
    assert vae.free_bits == 0.1


def test_registered_denoising_gradchecks_pass():
    checks = {n: fn for n, fn in REGISTRY.items() if n.startswith("denoising.")}
    assert len(checks) == 14  # 8 target paths (two through the conditioned decoder), 6 wrappers
    for name, check in checks.items():
        results = check(check_rng_for(1, name))
        assert results, name
        failed = [str(r) for r in results if not r.passed]
        assert not failed, f"{name}: " + "\n".join(failed)


def test_fit_checkpoint_round_trip(tmp_path):
    dae = Denoising(LSTMAutoencoder(2, 5, 3, rng=0),
                    Corruption("process", snr_db=[0.0, 10.0], fs=125.0))
    history = dae.fit(X, epochs=2, batch_size=2, lr=1e-2, verbose=0, validation=0.5, rng=0)
    assert "val_loss" in history.keys()
    json.dumps(dae.config())
    dae.save(tmp_path / "dae")
    back = Denoising.load(tmp_path / "dae")
    assert back.config() == dae.config()
    np.testing.assert_array_equal(back.denoise(X), dae.denoise(X))


def test_training_denoises():
    """A small denoising LSTM-AE on sines: its output is closer to the clean sine than the
    noisy input is (output SNR > input SNR on held-out data)."""
    rng = np.random.default_rng(0)
    t = np.linspace(0, 2 * np.pi, 24)
    clean = np.sin(t[None, :] + rng.uniform(0, 2 * np.pi, (160, 1)))[:, :, None]
    dae = Denoising(LSTMAutoencoder(1, 16, 4, rng=0), Corruption("gaussian", std=0.4))
    dae.fit(clean[:128], epochs=25, batch_size=16, lr=1e-2, verbose=0, rng=0)
    noisy = dae.corrupt(clean[128:], 99)
    before = snr_db(clean[128:], noisy, pooled=True)
    after = snr_db(clean[128:], dae.denoise(noisy), pooled=True)
    assert after > before + 3.0, (before, after)


@pytest.mark.parametrize("call, err, match", [
    (lambda: Denoising(VAE(3, [2], 2, rng=0), Corruption("gaussian")), TypeError, "no target="),
    (lambda: Denoising("model", Corruption("gaussian")), TypeError, "model must be"),
    (lambda: Denoising(LSTMAutoencoder(2, 3, 2), "gaussian"), TypeError, "corruption must be"),
    (lambda: Denoising(LSTMAutoencoder(2, 3, 2), {"kind": "blur"}), ValueError, "kind must"),
    (lambda: Denoising(LSTMAutoencoder(2, 3, 2), Corruption("gaussian")).loss(X), ValueError,
     "pass rng="),
    (lambda: Denoising(LSTMAutoencoder(2, 3, 2), Corruption("gaussian")).loss(X, eps={"z": 1}),
     TypeError, "keys 'input' and 'model'"),
    (lambda: Denoising(LSTMAutoencoder(2, 3, 2), Corruption("gaussian")).loss(
        X, eps={"input": X[:2]}), ValueError, "eps\\['input'\\] must have shape"),
    (lambda: Denoising(LSTMAutoencoder(2, 3, 2), Corruption("gaussian")).loss(X[0], rng=0),
     ValueError, "X must have 3 dimensions"),
    (lambda: LSTMAutoencoder(2, 3, 2).loss(X, target=X[:, :3]), ValueError,
     "target must have shape"),
    (lambda: LSTMVAE(2, 3, 2).loss(X, rng=0, target=np.where(X > 0, np.nan, X)), ValueError,
     "target contains"),
    (lambda: LSTMVAE(2, 3, 2).per_example_loss(X, rng=0, target="y"), TypeError, "target must"),
])
def test_bad_input(call, err, match):
    with pytest.raises(err, match=match):
        call()


def test_vrnn_target():
    from minivae.models.vrnn import VRNN

    vrnn = VRNN(2, 5, 3, rng=0)
    a = vrnn.loss(X, rng=2)[0]
    eps = vrnn.last_eps
    assert vrnn.loss(X, eps=eps, target=X)[0] == a
    assert vrnn.loss(X, eps=eps, target=Y)[0] != a
    terms = vrnn.per_example_loss(X, eps=eps, target=Y)
    assert terms["loss"].mean() == pytest.approx(vrnn.loss(X, eps=eps, target=Y)[0], rel=1e-12)
    dae = Denoising(vrnn, Corruption("gaussian", std=0.2))
    dae.fit(X, epochs=1, batch_size=2, verbose=0, rng=0)
    assert dae.denoise(X).shape == X.shape
    with pytest.raises(ValueError, match="target must have shape"):
        vrnn.loss(X, rng=0, target=Y[:, :2])
