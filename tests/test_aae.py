"""The GAN losses, the mixture prior, the adversarial autoencoder (three phases, each stepping
only its own parameters; training moves the codes towards the prior), and fit's ``after_step``
hook."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minivae.gradcheck.registry import run_checks
from minivae.information.mmd import mmd
from minivae.models import AdversarialAutoencoder, Autoencoder, Model
from minivae.objectives import adversarial as gan
from minivae.objectives.priors import MixturePrior, make_prior
from minivae.train.loop import fit


# ============================================================================ GAN losses
@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(-800, 800), st.floats(-800, 800)), min_size=1, max_size=6))
def test_gan_losses_are_finite_and_match_the_bce(pairs):
    real, fake = np.array(pairs).T
    value = gan.discriminator_loss(real, fake)
    assert np.isfinite(value) and value >= 0
    # the BCE written naively, where it keeps its digits: 1 - sigmoid(x) cancels, losing about
    # log10(e^|x|) digits (at |x| = 17 the naive value is off by 1e-10 relative; at 10 by 1e-12)
    if np.all(np.abs(np.concatenate([real, fake])) < 10):
        p_r, p_f = 1 / (1 + np.exp(-real)), 1 / (1 + np.exp(-fake))
        naive = -np.mean(np.log(p_r)) - np.mean(np.log(1 - p_f))
        assert value == pytest.approx(naive, rel=1e-10, abs=1e-12)
        assert gan.generator_loss(fake) == pytest.approx(-np.mean(np.log(p_f)), rel=1e-10,
                                                         abs=1e-12)
    for g in (*gan.discriminator_loss_grad(real, fake), gan.generator_loss_grad(fake),
              gan.generator_loss_grad(fake, "minimax")):
        assert np.all(np.isfinite(g))


def test_non_saturating_does_not_vanish_where_minimax_does():
    fake = np.array([-20.0])  # D confidently rejects the fake
    assert abs(gan.generator_loss_grad(fake, "minimax")[0]) < 1e-8
    assert gan.generator_loss_grad(fake)[0] == pytest.approx(-1.0)


def test_registered_checks_pass():
    names = [n for n in ("adversarial.discriminator_loss",
                         "adversarial.generator_loss.non_saturating",
                         "adversarial.generator_loss.minimax")]
    names += [f"aae.{p}.{ph}" for p in ("gaussian", "mixture", "swiss_roll")
              for ph in ("reconstruction", "discriminator", "generator")]
    for seed in (0, 1):
        for r in run_checks(names=names, seed=seed):
            assert r.passed, str(r)


def test_a_wrong_gan_gradient_fails_the_check(monkeypatch):
    monkeypatch.setattr(gan, "generator_loss_grad",
                        lambda fake, kind="non_saturating": -gan.sigmoid(fake) / len(fake))
    assert not all(r.passed for r in run_checks(names=["aae.gaussian.generator"],
                                                seed=0))


def test_gan_bad_input():
    with pytest.raises(ValueError, match=r"real_logits must have shape \(N,\) or \(N, 1\)"):
        gan.discriminator_loss(np.zeros((3, 2)), np.zeros(3))
    with pytest.raises(ValueError, match="must have the same shape"):
        gan.discriminator_loss(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="fake_logits contains 1 non-finite"):
        gan.generator_loss(np.array([0.0, np.nan]))
    with pytest.raises(ValueError, match="kind must be one of"):
        gan.generator_loss(np.zeros(2), "wasserstein")


# ============================================================================ mixture prior
def test_mixture_prior_density_and_samples():
    prior = MixturePrior(2, scale=2.0, n_components=10, std=0.3)
    g = np.linspace(-4, 4, 401)
    grid = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
    assert np.exp(prior.log_prob(grid)).sum() * (g[1] - g[0]) ** 2 == pytest.approx(1, abs=1e-6)
    z, c = prior.sample_with_labels(20_000, 0)
    np.testing.assert_allclose(np.bincount(c) / 20_000, 0.1, atol=0.01)
    np.testing.assert_allclose(np.linalg.norm(prior.means, axis=1), 2.0)
    assert np.std(z - prior.means[c]) == pytest.approx(0.3, rel=0.02)
    far = np.array([[1e3, 0.0]])  # log-sum-exp: finite far from every mean
    assert np.isfinite(prior.log_prob(far)[0])
    assert make_prior(**prior.config()).config() == prior.config()
    line = MixturePrior(1, n_components=3)
    np.testing.assert_allclose(line.means[:, 0], [-2.0, 0.0, 2.0])
    with pytest.raises(ValueError, match="n_components must be >= 1"):
        MixturePrior(2, n_components=0)
    with pytest.raises(ValueError, match="std must be > 0"):
        MixturePrior(2, std=0.0)


# ============================================================================ AAE
def _aae(**kw):
    return AdversarialAutoencoder(6, [16], 2, disc_hidden=[16], rng=0, **kw)


def test_each_phase_steps_only_its_own_parameters():
    rng = np.random.default_rng(0)
    X = rng.random((16, 6))
    model = _aae(prior="mixture")
    groups = {g: {n: p.copy() for n, p, _ in model.parameters() if n.startswith(g)}
              for g in ("encoder", "decoder", "discriminator")}
    model.loss(X, rng=rng)
    model.backward()
    assert all(np.all(g == 0) for n, _, g in model.parameters() if n.startswith("disc"))
    # phase 2 alone: only the discriminator moves
    model.zero_grad()
    model.phase_loss("discriminator", X, model.last_eps)
    model.phase_backward()
    assert all(np.all(g == 0) for n, _, g in model.parameters() if not n.startswith("disc"))
    model._optimizer("discriminator").step()
    now = {n: p for n, p, _ in model.parameters()}
    assert all(np.array_equal(now[n], p) for n, p in groups["encoder"].items())
    assert not all(np.array_equal(now[n], p) for n, p in groups["discriminator"].items())
    # phase 3 alone: only the encoder moves
    model.zero_grad()
    model.phase_loss("generator", X, model.last_eps)
    model.phase_backward()
    disc = {n: p.copy() for n, p, _ in model.parameters() if n.startswith("disc")}
    model._optimizer("generator").step()
    now = {n: p for n, p, _ in model.parameters()}
    assert all(np.array_equal(now[n], p) for n, p in disc.items())
    assert all(np.array_equal(now[n], p) for n, p in groups["decoder"].items())
    assert not all(np.array_equal(now[n], p) for n, p in groups["encoder"].items())


def test_training_pulls_the_codes_to_the_prior_and_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.random((600, 6))
    model = _aae(prior="gaussian", reg_lr=2e-3)
    z_prior = model.prior.sample(600, 1)
    history = fit(model, X, epochs=30, batch_size=50, lr=2e-3, verbose=0, rng=0)
    assert {"d_loss", "g_loss", "d_accuracy"} <= set(history.metrics)
    plain = Autoencoder(6, [16], 2, rng=0)  # the same autoencoder without the discriminator
    fit(plain, X, epochs=30, batch_size=50, lr=2e-3, verbose=0, rng=0)
    # measured: AAE 0.010, plain 0.159
    assert mmd(model.encode(X), z_prior) < 0.25 * mmd(plain.encode(X), z_prior)
    np.testing.assert_allclose(model.encode(X).std(axis=0), 1.0, atol=0.2)  # N(0, I) spread
    again = _aae(prior="gaussian", reg_lr=2e-3)
    fit(again, X, epochs=30, batch_size=50, lr=2e-3, verbose=0, rng=0)
    np.testing.assert_array_equal(again.encode(X), model.encode(X))  # reproducible
    path = tmp_path / "aae.npz"
    model.save(path)
    loaded = Model.load(path)
    assert isinstance(loaded, AdversarialAutoencoder) and loaded.config() == model.config()
    np.testing.assert_array_equal(loaded.encode(X), model.encode(X))


def test_aae_bad_input():
    with pytest.raises(ValueError, match="prior must be one of"):
        _aae(prior="cauchy")
    with pytest.raises(ValueError, match="gen_loss must be one of"):
        _aae(gen_loss="hinge")
    with pytest.raises(ValueError, match="reg_lr must be > 0"):
        _aae(reg_lr=0.0)
    with pytest.raises(TypeError, match="prior_kwargs must be a dict"):
        _aae(prior_kwargs=[1])
    model = _aae()
    with pytest.raises(ValueError, match="phase must be one of"):
        model.phase_loss("critic", np.zeros((2, 6)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"z_prior must have shape \(2, 2\)"):
        model.phase_loss("discriminator", np.zeros((2, 6)), np.zeros((2, 3)))
    with pytest.raises(RuntimeError, match="needs a preceding phase_loss"):
        model.phase_backward()
    with pytest.raises(RuntimeError, match="needs a preceding loss"):
        model.after_step()
    with pytest.raises(ValueError, match="draws noise: pass rng="):
        model.loss(np.zeros((2, 6)))


# ============================================================================ fit's hook
class _Counting(Autoencoder):
    """An autoencoder whose after_step records the parameters it sees and returns a part."""

    def after_step(self):
        self.seen.append(self.encoder.layers[0].params["W"].copy())
        return {"extra": float(len(self.seen))}


def test_fit_calls_after_step_after_each_optimizer_step():
    rng = np.random.default_rng(0)
    X = rng.random((40, 5))
    model = _Counting(5, [4], 2, rng=0)
    model.seen = []
    w0 = model.encoder.layers[0].params["W"].copy()
    history = fit(model, X, epochs=2, batch_size=10, verbose=0)
    assert len(model.seen) == 8  # one call per step
    assert not np.array_equal(model.seen[0], w0)  # after the step, not before
    assert history["extra"] == [2.5, 6.5]  # its parts are logged like the loss's
    plain = Autoencoder(5, [4], 2, rng=0)
    plain_history = fit(plain, X, epochs=2, batch_size=10, verbose=0)
    assert "extra" not in plain_history.metrics
    np.testing.assert_array_equal(plain.encoder.layers[0].params["W"],
                                  model.encoder.layers[0].params["W"])
