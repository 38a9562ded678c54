"""The VAE-GAN: each network's gradient is that of its own objective (registered checks, and a
broken decoder chain is caught), the discriminator learns only in after_step, training with fit,
checkpoints, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from minivae.gradcheck.registry import run_checks
from minivae.models import VAEGAN, Model
from minivae.train.loop import fit

CHECKS = ["vaegan.encoder", "vaegan.decoder", "vaegan.discriminator"]


def _model(**kw):
    return VAEGAN(6, [8], 2, **{"disc_hidden": [8, 4], "rng": 0, "gamma": 1.0, "beta": 1.0,
                             "disc_min_loss": None, **kw})


def test_registered_checks_pass():
    for seed in (0, 1, 2):
        for r in run_checks(names=CHECKS, seed=seed):
            assert r.passed, str(r)


def test_a_decoder_that_gets_only_the_feature_loss_fails_its_check(monkeypatch):
    """Skipping chain B (gamma L_llike + L_G) leaves the decoder with grad L_llike: caught."""
    original = VAEGAN._image_chain
    calls = []

    def first_chain_only(self, df, dlogit, probs):
        calls.append(1)
        if len(calls) % 2 == 0:
            return np.zeros((len(probs), self.latent_dim))
        return original(self, df, dlogit, probs)

    monkeypatch.setattr(VAEGAN, "_image_chain", first_chain_only)
    assert not all(r.passed for r in run_checks(names=["vaegan.decoder"], seed=0))


def test_discriminator_moves_only_in_after_step():
    rng = np.random.default_rng(0)
    X = rng.random((10, 6))
    model = _model()
    disc = {n: p.copy() for n, p, _ in model.parameters() if n.startswith("disc_")}
    model.loss(X, rng=rng)
    model.backward()
    assert all(np.all(g == 0) for n, _, g in model.parameters() if n.startswith("disc_"))
    assert any(np.any(g != 0) for n, _, g in model.parameters() if n.startswith("decoder"))
    parts = model.after_step()
    assert {"d_loss", "d_accuracy"} <= set(parts)
    now = {n: p for n, p, _ in model.parameters()}
    assert not all(np.array_equal(now[n], p) for n, p in disc.items())
    assert all(np.all(g == 0) for _, _, g in model.parameters())  # left clean


def test_fit_trains_and_checkpoint_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    centres = rng.random((3, 6))
    X = np.clip(centres[rng.integers(0, 3, 300)] + 0.05 * rng.standard_normal((300, 6)), 0, 1)
    model = _model(disc_lr=1e-3)
    history = fit(model, X, epochs=6, batch_size=30, lr=3e-3, verbose=0, rng=0)
    for key in ("loss", "feature_loss", "g_loss", "d_loss", "decoder_objective"):
        assert np.all(np.isfinite(history[key])), key
    # the encoder objective falls (measured 0.60 -> 0.14) and D's loss stays near the
    # equilibrium 2 log 2 ~ 1.386 of a balanced game (measured 1.45 -> 1.39)
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    assert abs(history["d_loss"][-1] - 2 * np.log(2)) < 0.2
    path = tmp_path / "vaegan.npz"
    model.save(path)
    loaded = Model.load(path)
    assert isinstance(loaded, VAEGAN) and loaded.config() == model.config()
    np.testing.assert_array_equal(loaded.reconstruct(X), model.reconstruct(X))
    per = loaded.per_example_loss(X, rng=0)
    assert per["loss"].shape == (300,) and np.all(per["kl"] >= 0)


def test_bad_input():
    with pytest.raises(ValueError, match="gamma must be >= 0"):
        _model(gamma=-1.0)
    with pytest.raises(ValueError, match="gen_loss must be one of"):
        _model(gen_loss="hinge")
    with pytest.raises(ValueError, match="disc_lr must be > 0"):
        _model(disc_lr=0.0)
    with pytest.raises(ValueError, match="disc_hidden must name at least"):
        _model(disc_hidden=[])
    model = _model()
    with pytest.raises(ValueError, match="does not take a mask"):
        model.loss(np.zeros((2, 6)), rng=0, mask=np.ones((2, 6), bool))
    with pytest.raises(TypeError, match="eps must be the pair"):
        model.loss(np.zeros((2, 6)), eps=np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"images must be \(3N, 6\)"):
        model.discriminator_loss(np.zeros((4, 6)))
    with pytest.raises(RuntimeError, match="needs a preceding discriminator_loss"):
        model.discriminator_backward()
    with pytest.raises(RuntimeError, match="needs a preceding loss"):
        model.after_step()


@pytest.mark.parametrize("floor, moved", [(None, True), (0.0, True), (100.0, False)])
def test_the_balancing_floor_skips_the_discriminator_step(floor, moved):
    """disc_min_loss: the discriminator steps only while its loss is at least the floor
    (a loss near 2 log 2 ~ 1.39 here, so 0 always steps and 100 never)."""
    rng = np.random.default_rng(0)
    X = rng.random((10, 6))
    model = _model(disc_min_loss=floor)
    disc = {n: p.copy() for n, p, _ in model.parameters() if n.startswith("disc_")}
    model.loss(X, rng=rng)
    model.backward()
    parts = model.after_step()
    assert parts["d_updated"] == float(moved)
    assert 0.5 < parts["d_loss"] < 3.0
    now = {n: p for n, p, _ in model.parameters()}
    assert moved != all(np.array_equal(now[n], p) for n, p in disc.items())
    assert all(np.all(g == 0) for _, _, g in model.parameters())


def test_the_defaults_are_the_recipe_that_trains_and_round_trip(tmp_path):
    model = VAEGAN(6, [8], 2, disc_hidden=[8, 4], rng=0)
    cfg = model.config()
    assert (cfg["beta"], cfg["gamma"], cfg["disc_min_loss"]) == (0.05, 20.0, 0.6)
    assert list(VAEGAN(6, [8], 2).disc_hidden) == [1024, 128]
    model.save(tmp_path / "m.npz")
    assert Model.load(tmp_path / "m.npz").config() == cfg
    with pytest.raises(ValueError, match="disc_min_loss"):
        VAEGAN(6, [8], 2, disc_min_loss=-1.0)
