"""The mixture-prior objective, VaDE and GMVAE: the terms against direct formulas, replayed
noise, pre-training, clustering of well-separated data, checkpoints."""

from __future__ import annotations

import numpy as np
import pytest

import minivae.gradcheck.checks  # noqa: F401 - registers the checks
from minivae.gradcheck.registry import run_checks
from minivae.information.clustering import clustering_accuracy
from minivae.models import get_model_class
from minivae.models.gmvae import GMVAE
from minivae.models.vade import VaDE, pretrain
from minivae.objectives import mixture_prior as mp
from minivae.objectives.distributions import DiagonalGaussian


def _case(seed: int, N: int = 4, C: int = 3, L: int = 2):
    rng = np.random.default_rng(seed)
    q = DiagonalGaussian(rng.standard_normal((N, L)), 0.5 * rng.standard_normal((N, L)))
    return (q, mp.log_softmax(rng.standard_normal((N, C))), mp.log_softmax(rng.standard_normal(C)),
            rng.standard_normal((C, L)), 0.5 * rng.standard_normal((C, L)))


def _kl_direct(mu, lv, m, s):
    return 0.5 * np.sum(s - lv + (np.exp(lv) + (mu - m) ** 2) / np.exp(s) - 1.0)


def test_mixture_kl_against_a_loop_over_components():
    q, lg, lp, means, logvars = _case(0)
    out = mp.mixture_kl(q, lg, lp, means, logvars)
    for n in range(q.mu.shape[0]):
        want = sum(np.exp(lg[n, c]) * (_kl_direct(q.mu[n], q.logvar[n], means[c], logvars[c])
                                       + lg[n, c] - lp[c]) for c in range(means.shape[0]))
        assert out[n] == pytest.approx(want, rel=1e-12)


def test_mixture_kl_is_minimised_by_the_optimal_gamma():
    """min over gamma of sum_c gamma_c (a_c + log gamma_c - log pi_c) = -log sum_c pi_c e^-a_c,
    reached at gamma = softmax(log pi - a); any other gamma gives more."""
    q, lg, lp, means, logvars = _case(1)
    a = mp.component_kl(q, means, logvars)
    best = mp.log_softmax(lp[None] - a)
    at_best = mp.mixture_kl(q, best, lp, means, logvars)
    np.testing.assert_allclose(at_best, -np.log(np.sum(np.exp(lp[None] - a), axis=1)),
                               rtol=1e-12)
    assert np.all(mp.mixture_kl(q, lg, lp, means, logvars) > at_best)


def test_cluster_log_posterior_is_bayes_rule():
    q, _, lp, means, logvars = _case(2)
    z = q.mu
    out = mp.cluster_log_posterior(z, lp, means, logvars)
    joint = np.array([[lp[c] - 0.5 * np.sum(np.log(2 * np.pi) + logvars[c]
                                           + (z[n] - means[c]) ** 2 / np.exp(logvars[c]))
                       for c in range(3)] for n in range(z.shape[0])])
    want = joint - np.log(np.exp(joint).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(out, want, rtol=1e-12)
    np.testing.assert_allclose(mp.mixture_log_prob(z, lp, means, logvars),
                               np.log(np.exp(joint).sum(axis=1)), rtol=1e-12)


def test_log_probabilities_are_checked():
    q, lg, lp, means, logvars = _case(3)
    with pytest.raises(ValueError, match="log_gamma"):
        mp.mixture_kl(q, lg + 0.1, lp, means, logvars)
    with pytest.raises(ValueError, match="log_pi"):
        mp.mixture_kl(q, lg, lp[:2], means, logvars)
    with pytest.raises(ValueError, match="logvars"):
        mp.component_kl(q, means, logvars[:, :1])


def test_registered_gradient_checks_pass():
    results = run_checks(0, "mixture_prior*") + run_checks(1, "vade*") \
        + run_checks(2, "gmvae*")
    assert len(results) > 20
    assert all(r.passed for r in results), [str(r) for r in results if not r.passed]


@pytest.mark.parametrize("cls", [VaDE, GMVAE])
def test_loss_replays_its_noise_and_backward_fills_every_gradient(cls):
    rng = np.random.default_rng(0)
    model = cls(6, [5], 2, 3, rng=0)
    X = rng.random((4, 6))
    v1, parts = model.loss(X, rng=1)
    assert parts["elbo"] == pytest.approx(-(parts["reconstruction"] + parts["kl"]))
    model.zero_grad()
    model.backward()
    v2, _ = model.loss(X, eps=model.last_eps)
    assert v1 == v2
    assert all(np.any(g != 0) for name, _, g in model.parameters() if "prior" in name)
    with pytest.raises(RuntimeError):
        model.backward(), model.backward()
    per = model.per_example_loss(X, rng=0)
    assert per["loss"].shape == (4,) and np.all(per["kl"] > 0)


def _prototypes(seed: int, n_per: int = 60, D: int = 24, C: int = 3):
    """C random binary prototypes, each pixel flipped with probability 0.05."""
    rng = np.random.default_rng(seed)
    protos = (rng.random((C, D)) < 0.5).astype(float)
    y = np.repeat(np.arange(C), n_per)
    flip = rng.random((len(y), D)) < 0.05
    return np.abs(protos[y] - flip), y


@pytest.mark.parametrize("cls", [VaDE, GMVAE])
def test_pretrained_model_clusters_separated_prototypes(cls):
    X, y = _prototypes(0)
    model = cls(X.shape[1], [16], 2, 3, rng=0)
    ae, gmm = pretrain(model, X, epochs=30, batch_size=30, lr=3e-3, rng=0)
    np.testing.assert_allclose(model.prior()[1], gmm.means)
    np.testing.assert_allclose(model.encode(X), ae.encode(X), atol=1e-12)  # the mean head
    model.fit(X, epochs=20, batch_size=30, lr=2e-3, rng=0, verbose=0, diagnostics=False)
    assert clustering_accuracy(y, model.predict(X)) > 0.95
    probs = model.cluster_probabilities(X)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-12)
    assert model.sample(5, rng=0).shape == (5, X.shape[1])
    assert model.sample(2, rng=0, cluster=1).shape == (2, X.shape[1])
    with pytest.raises(ValueError, match="cluster"):
        model.sample(2, rng=0, cluster=3)


@pytest.mark.parametrize("cls", [VaDE, GMVAE])
def test_checkpoint_round_trip(cls, tmp_path):
    model = cls(5, [4], 2, 3, rng=0)
    model.params["prior_means"][...] += 0.5
    path = tmp_path / "m.npz"
    model.save(path)
    again = get_model_class(cls.__name__).load(path)
    assert again.config() == model.config()
    X = np.random.default_rng(0).random((3, 5))
    np.testing.assert_array_equal(again.cluster_probabilities(X), model.cluster_probabilities(X))


def test_uniform_prior_has_no_weights_and_set_prior_validates():
    model = GMVAE(5, [4], 2, 3, rng=0)
    assert "prior_logits" not in model.params
    np.testing.assert_allclose(np.exp(model.prior()[0]), 1 / 3)
    with pytest.raises(ValueError, match="variances"):
        model.set_prior(np.ones(3) / 3, np.zeros((3, 2)), np.ones((3, 3)))
    with pytest.raises(ValueError, match="> 0"):
        model.set_prior(np.ones(3) / 3, np.zeros((3, 2)), np.zeros((3, 2)))
    with pytest.raises(TypeError, match="model"):
        pretrain(object(), np.zeros((3, 5)))
