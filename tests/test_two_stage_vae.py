"""TwoStageVAE: composition of two library VAEs, both stages trained, the sampler's pipeline,
and the checkpoint of the pair."""

import numpy as np
import pytest

from minivae.models import VAE, TwoStageVAE
from minivae.train.checkpoint import CheckpointError


def _data(n=80, d=12, seed=0):
    """Binary-ish data from 2 hidden factors (so a VAE has something to learn)."""
    rng = np.random.default_rng(seed)
    f = rng.standard_normal((n, 2))
    W = rng.standard_normal((2, d)) * 2.0
    return (1.0 / (1.0 + np.exp(-(f @ W)))).astype(np.float64)


@pytest.fixture(scope="module")
def fitted():
    model = TwoStageVAE(12, [16], 3, stage2_hidden=(16,), rng=0)
    hist = model.fit(_data(), epochs=3, stage2_epochs=4, batch_size=20, rng=1)
    return model, hist


def test_the_stages_are_library_vaes_with_the_paper_sizes():
    m = TwoStageVAE(12, [16], 3, stage2_hidden=(8, 8), rng=0)
    assert type(m.stage1) is VAE and type(m.stage2) is VAE
    assert (m.stage1.input_dim, m.stage1.latent_dim, m.stage1.likelihood) == (12, 3, "bernoulli")
    # stage 2 reads stage 1's codes; latent size the same by default (Dai & Wipf)
    assert (m.stage2.input_dim, m.stage2.latent_dim) == (3, 3)
    assert m.stage2.likelihood == "gaussian" and m.stage2.learned_variance
    assert TwoStageVAE(12, [16], 3, stage2_latent=5).stage2.latent_dim == 5
    names = [n for n, _, _ in m.parameters()]
    assert any(n.startswith("stage1.encoder") for n in names)
    assert any(n.startswith("stage2.decoder") for n in names)
    assert len(names) == len(list(m.stage1.parameters())) + len(list(m.stage2.parameters()))


def test_fit_trains_both_stages_and_stage2_on_stage1_means(fitted):
    model, hist = fitted
    assert set(hist) == {"stage1", "stage2"}
    assert len(hist["stage1"].metrics["loss"]) == 3 and len(hist["stage2"].metrics["loss"]) == 4
    X = _data()
    codes = model.codes(X)
    np.testing.assert_array_equal(codes, model.stage1.encode(X)[0])
    # stage 2 was fitted on exactly these codes: refitting it from the same state on them
    # with fit_stage2 or on stage2.fit(codes) gives the same parameters
    a = TwoStageVAE(12, [16], 3, stage2_hidden=(16,), rng=0)
    a.load_state_dict(model.state_dict())
    b = TwoStageVAE(12, [16], 3, stage2_hidden=(16,), rng=0)
    b.load_state_dict(model.state_dict())
    a.fit_stage2(X, epochs=1, batch_size=20, rng=5)
    b.stage2.fit(codes, epochs=1, batch_size=20, rng=np.random.default_rng(5), verbose=0)
    for (n, p, _), (_, q, _) in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(p, q, err_msg=n)


def test_fit_stage2_leaves_stage1_unchanged(fitted):
    model, _ = fitted
    m = TwoStageVAE(12, [16], 3, stage2_hidden=(16,), rng=0)
    m.load_state_dict(model.state_dict())
    before = m.stage1.state_dict()
    m.fit_stage2(_data(), epochs=2, batch_size=20, rng=3)
    after = m.stage1.state_dict()
    assert all(np.array_equal(before[k], after[k]) for k in before)
    s2_old, s2_new = model.stage2.state_dict(), m.stage2.state_dict()
    assert not all(np.array_equal(s2_old[k], s2_new[k]) for k in s2_old)  # stage 2 did move


def test_sample_is_stage2_codes_through_stage1_decoder(fitted):
    model, _ = fitted
    z = model.sample_codes(7, 4)
    assert z.shape == (7, 3) and np.isfinite(z).all()
    np.testing.assert_array_equal(z, model.stage2.sample(7, 4, mean=False))
    zm = model.sample_codes(7, 4, mean=True)
    np.testing.assert_array_equal(zm, model.stage2.sample(7, 4, mean=True))
    assert not np.allclose(z, zm)  # the decoder's noise is drawn
    x = model.sample(7, 4)
    np.testing.assert_array_equal(x, model.stage1.decode(z))
    assert x.shape == (7, 12) and (x >= 0).all() and (x <= 1).all()
    np.testing.assert_array_equal(x, model.sample(7, np.random.default_rng(4)))
    assert not np.array_equal(x, model.sample(7, 5))


def test_checkpoint_round_trip_is_bit_exact(fitted, tmp_path):
    model, _ = fitted
    path = tmp_path / "pair.npz"
    model.save(path)
    loaded = TwoStageVAE.load(path)
    assert loaded.config() == model.config()
    for (n, p, _), (m, q, _) in zip(model.parameters(), loaded.parameters()):
        assert n == m and p.dtype == q.dtype
        np.testing.assert_array_equal(p, q)
    np.testing.assert_array_equal(loaded.sample(5, 9), model.sample(5, 9))
    with np.load(path, allow_pickle=False) as f:  # one file, both stages, no pickle
        keys = list(f.keys())
    assert any(k.startswith("param/stage1.") for k in keys)
    assert any(k.startswith("param/stage2.") for k in keys)


def test_load_refuses_another_model(tmp_path):
    path = tmp_path / "vae.npz"
    VAE(12, [4], 3, rng=0).save(path)
    with pytest.raises(CheckpointError, match="not a TwoStageVAE"):
        TwoStageVAE.load(path)


def test_float32_pair():
    m = TwoStageVAE(12, [8], 2, stage2_hidden=(8,), rng=0, dtype=np.float32)
    m.fit(_data(40), epochs=1, batch_size=20, rng=0)
    assert m.codes(_data(5)).dtype == np.float32 and m.sample(3, 0).dtype == np.float32


@pytest.mark.parametrize("kwargs, match", [
    ({"latent_dim": 0}, "latent_dim"),
    ({"stage2_latent": 0}, "stage2_latent"),
    ({"stage2_hidden": [0]}, "stage2_hidden"),
    ({"likelihood": "poisson"}, "likelihood"),
    ({"beta": -1.0}, "beta"),
    ({"rng": "x"}, "rng"),
])
def test_bad_constructor_arguments_are_named(kwargs, match):
    args = {"input_dim": 12, "hidden_sizes": [4], "latent_dim": 2, **kwargs}
    with pytest.raises((ValueError, TypeError), match=match):
        TwoStageVAE(**args)


def test_bad_call_arguments_are_named(fitted):
    model, _ = fitted
    with pytest.raises(ValueError, match="n"):
        model.sample(0, 0)
    with pytest.raises(TypeError, match="rng"):
        model.sample_codes(3, "seed")
    with pytest.raises(ValueError, match="X"):
        model.codes(np.zeros((4, 5)))
    with pytest.raises(ValueError, match="X"):
        model.fit(np.full((4, 12), np.nan), epochs=1)


def test_bad_stage2_epochs_is_refused_before_stage1_trains():
    m = TwoStageVAE(12, [4], 2, stage2_hidden=(4,), rng=0)
    before = m.stage1.state_dict()
    with pytest.raises(ValueError, match="stage2_epochs"):
        m.fit(_data(20), epochs=1, stage2_epochs=0)
    assert all(np.array_equal(before[k], v) for k, v in m.stage1.state_dict().items())
