"""beta-TCVAE and the capacity-annealed VAE: the minibatch-weighted-sampling estimator against a
brute-force computation, the decomposition's identities, training with fit, checkpoints."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minivae.models import VAE, AnnealedVAE, BetaTCVAE
from minivae.objectives.distributions import DiagonalGaussian
from minivae.objectives.total_correlation import tc_decomposition, tc_regulariser
from minivae.train import fit


def _log_normal(x: float, m: float, lv: float) -> float:
    return -0.5 * (math.log(2 * math.pi) + lv + (x - m) ** 2 / math.exp(lv))


def _brute_force(z, mu, lv, n_data):
    """MI, TC, DWKL by the MWS formulas with plain loops and math.log / math.exp."""
    M, L = z.shape
    mi = tc = dw = 0.0
    for i in range(M):
        log_qzx = sum(_log_normal(z[i, l], mu[i, l], lv[i, l]) for l in range(L))
        joint = [math.exp(sum(_log_normal(z[i, l], mu[j, l], lv[j, l]) for l in range(L)))
                 for j in range(M)]
        log_qz = math.log(sum(joint) / (n_data * M))
        log_prod = sum(math.log(sum(math.exp(_log_normal(z[i, l], mu[j, l], lv[j, l]))
                                    for j in range(M)) / (n_data * M)) for l in range(L))
        log_pz = sum(_log_normal(z[i, l], 0.0, 0.0) for l in range(L))
        mi += (log_qzx - log_qz) / M
        tc += (log_qz - log_prod) / M
        dw += (log_prod - log_pz) / M
    return mi, tc, dw


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**16), M=st.integers(1, 5), L=st.integers(1, 4),
       extra=st.integers(0, 1000))
def test_mws_estimate_matches_brute_force(seed, M, L, extra):
    rng = np.random.default_rng(seed)
    mu, lv = rng.standard_normal((M, L)), rng.uniform(-2, 1, (M, L))
    q = DiagonalGaussian(mu, lv)
    z = q.rsample(rng)
    t = tc_decomposition(z, q, M + extra)
    expected = _brute_force(z, mu, lv, M + extra)
    got = [t[k].mean() for k in ("mi", "tc", "dwkl")]
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)


def test_parts_sum_to_the_sampled_kl_and_weights_combine():
    rng = np.random.default_rng(0)
    q = DiagonalGaussian(rng.standard_normal((6, 3)), rng.uniform(-1, 1, (6, 3)))
    z = q.rsample(rng)
    value, parts, *_ = tc_regulariser(z, q, 100, 1.0, 1.0, 1.0)
    sampled_kl = np.mean(q.log_prob(z) + 0.5 * np.sum(np.log(2 * np.pi) + z**2, axis=1))
    assert value == pytest.approx(sampled_kl, rel=1e-12)
    v2, p2, *_ = tc_regulariser(z, q, 100, 0.5, 7.0, 2.0)
    assert v2 == pytest.approx(0.5 * p2["mi"] + 7.0 * p2["tc"] + 2.0 * p2["dwkl"], rel=1e-12)
    # latents that share their means (strongly dependent) have a larger TC than independent
    # ones (MWS values carry the offset (L - 1) log(N_data M) of the paper's formula)
    mu = rng.standard_normal((400, 3))
    indep = DiagonalGaussian(mu, np.full((400, 3), -2.0))
    corr = DiagonalGaussian(np.repeat(mu[:, :1], 3, axis=1), np.full((400, 3), -2.0))
    tc_indep = tc_decomposition(indep.rsample(rng), indep, 400)["tc"].mean()
    tc_corr = tc_decomposition(corr.rsample(rng), corr, 400)["tc"].mean()
    assert tc_corr > tc_indep + 1.0


def test_bad_inputs_name_the_argument():
    rng = np.random.default_rng(1)
    q = DiagonalGaussian(rng.standard_normal((4, 2)), np.zeros((4, 2)))
    z = q.rsample(rng)
    with pytest.raises(ValueError, match="dataset_size"):
        tc_regulariser(z, q, 3, 1, 1, 1)
    with pytest.raises(ValueError, match="z"):
        tc_regulariser(z[:, :1], q, 10, 1, 1, 1)
    with pytest.raises(ValueError, match="beta"):
        tc_regulariser(z, q, 10, 1, -1, 1)
    with pytest.raises(TypeError, match="q"):
        tc_decomposition(z, (q.mu, q.logvar), 10)
    with pytest.raises(ValueError, match="dataset_size"):
        BetaTCVAE(4, [3], 2, dataset_size=0)
    with pytest.raises(ValueError, match="gamma"):
        AnnealedVAE(4, [3], 2, gamma=0.0)
    with pytest.raises(ValueError, match="capacity_steps"):
        AnnealedVAE(4, [3], 2, capacity_steps=0)
    m = BetaTCVAE(4, [3], 2, dataset_size=3)
    with pytest.raises(ValueError, match="dataset_size"):
        m.loss(rng.random((5, 4)), rng=0)


def test_all_weights_one_is_the_vae_loss():
    """alpha = beta = gamma = 1: the loss is the VAE's with the KL estimated by one sample;
    with the same weights and noise, its gradient is that sampled-KL ELBO's."""
    X = np.random.default_rng(2).random((8, 6))
    tc = BetaTCVAE(6, [5], 3, dataset_size=8, alpha=1, beta=1, gamma=1, rng=3)
    vae = VAE(6, [5], 3, rng=3)
    v_tc, parts = tc.loss(X, rng=4)
    _, vparts = vae.loss(X, eps=tc.last_eps)
    assert parts["reconstruction"] == pytest.approx(vparts["reconstruction"], rel=1e-12)
    q = DiagonalGaussian(*tc.encode(X))
    z = q.rsample(None, eps=tc.last_eps)
    sampled_kl = np.mean(q.log_prob(z) + 0.5 * np.sum(np.log(2 * np.pi) + z**2, axis=1))
    assert v_tc == pytest.approx(parts["reconstruction"] + sampled_kl, rel=1e-12)


@pytest.mark.parametrize("cls", [BetaTCVAE, AnnealedVAE])
def test_trains_with_fit_and_round_trips_a_checkpoint(cls, tmp_path):
    rng = np.random.default_rng(5)
    X = (rng.random((64, 12)) < 0.3).astype(float)
    kw = {"dataset_size": 64} if cls is BetaTCVAE else {"capacity_max": 2.0,
                                                         "capacity_steps": 20, "gamma": 5.0}
    model = cls(12, [8], 3, rng=0, **kw)
    before = model.loss(X, rng=0)[0]
    hist = fit(model, X, epochs=5, batch_size=16, lr=1e-2, rng=0, verbose=0)
    assert model.loss(X, rng=0)[0] < before and len(hist.metrics["loss"]) == 5
    if cls is AnnealedVAE:
        assert model.capacity_step == 20 and model.capacity == pytest.approx(2.0)
    path = tmp_path / "m.npz"
    model.save(path)
    loaded = cls.load(path)
    assert loaded.config() == model.config()
    np.testing.assert_array_equal(loaded.encode(X)[0], model.encode(X)[0])
    assert loaded.loss(X, rng=1)[0] == pytest.approx(model.loss(X, rng=1)[0], rel=1e-12)


def test_capacity_ramps_and_pulls_the_kl_towards_it():
    rng = np.random.default_rng(6)
    X = (rng.random((128, 16)) < 0.3).astype(float)
    model = AnnealedVAE(16, [16], 4, gamma=50.0, capacity_max=3.0, capacity_steps=40, rng=0)
    assert model.capacity == 0.0
    model.capacity_step = 20
    assert model.capacity == pytest.approx(1.5)
    model.capacity_step = 40
    fit(model, X, epochs=30, batch_size=32, lr=1e-2, rng=0, verbose=0)
    kl = float(np.sum(model.kl_per_dimension(X)))
    assert abs(kl - 3.0) < 0.5


def test_disentangle_experiment_end_to_end_tiny(tmp_path):
    import argparse
    import json
    import os

    from minivae.experiments import posteriors_disentangle as exp

    result = exp.run(argparse.Namespace(tiny=True, quick=False, seed=0, seeds=None,
                                        out=tmp_path, no_figures=False))
    labels = [*exp.BASELINES, *exp.MODELS]
    assert list(result["summary"]) == labels
    for label in labels:
        assert 0.0 <= result["summary"][label]["mig"][0] <= 1.0
        assert f"| {label} |" in result["tables"]["mig"]
    assert len(result["figures"]) == len(exp.MODELS)
    assert all(os.path.getsize(p) > 1000 for p in result["figures"])
    # the command line writes results.json with the same table
    assert exp.main(["--tiny", "--out", str(tmp_path / "cli"), "--no-figures"]) == 0
    saved = json.loads((tmp_path / "cli" / "results.json").read_text())
    assert saved["summary"]["VAE"]["mig"] == result["summary"]["VAE"]["mig"]  # seeded


@pytest.mark.parametrize("name", ["total_correlation.tc_regulariser", "beta_tcvae",
                                  "annealed_vae"])
def test_registered_gradient_checks_pass(name):
    from minivae.gradcheck.registry import REGISTRY, run_checks

    assert name in REGISTRY  # listed by python -m minivae.gradcheck
    for seed in (0, 1):
        results = [r for r in run_checks(seed=seed, only=name) if r.check == name]
        assert results and all(r.passed for r in results), [str(r) for r in results]
