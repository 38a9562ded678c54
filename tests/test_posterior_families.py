"""The VAE's posterior families (minivae.objectives.posteriors): the plug point
``VAE(..., posterior=...)``, each family end to end at a tiny size, checkpoints, bad names."""

from __future__ import annotations

import numpy as np
import pytest

from minivae.models import VAE
from minivae.objectives import posteriors
from minivae.objectives.distributions import DiagonalGaussian
from minivae.objectives.rho_gaussian import RhoGaussian

FAMILIES = tuple(posteriors.POSTERIORS)


def _data(n: int = 12, d: int = 6, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random((n, d)) < 0.4).astype(np.float64)


def test_registry_lists_the_families_and_their_widths():
    assert {"gaussian", "rho"} <= set(FAMILIES)
    for name in FAMILIES:
        fam = posteriors.build_posterior(name, 4, rng=0)
        assert fam.name == name
        model = VAE(6, [5], 4, posterior=name, rng=0)
        # the encoder's last layer has the family's width
        assert model.encoder.layers[-1].params["W"].shape[1] == fam.width
    assert posteriors.build_posterior("gaussian", 4).width == 8
    assert posteriors.build_posterior("rho", 4).width == 6


def test_default_is_gaussian_and_bit_identical_to_an_explicit_gaussian():
    X = _data()
    a, b = VAE(6, [5], 3, rng=1), VAE(6, [5], 3, rng=1, posterior="gaussian")
    assert a.posterior_name == "gaussian" and a.config()["posterior"] == "gaussian"
    va, _ = a.loss(X, rng=2)
    vb, _ = b.loss(X, rng=2)
    assert va == vb
    a.backward()
    b.backward()
    for (na, _, ga), (nb, _, gb) in zip(a.parameters(), b.parameters()):
        assert na == nb and np.array_equal(ga, gb)


def test_rho_family_uses_the_rho_posterior_and_its_closed_form_kl():
    X = _data()
    model = VAE(6, [5], 3, posterior="rho", rng=0)
    q, _ = model._posterior(X, None, None)
    assert isinstance(q, RhoGaussian)
    _, parts = model.loss(X, rng=0)
    np.testing.assert_allclose(parts["kl"], q.kl_standard_normal().mean(), rtol=1e-12)
    # elbo() uses that closed form: -E[rec] - KL, never the Gaussian one
    per = model.per_example_loss(X, rng=0)
    np.testing.assert_allclose(per["kl"], q.kl_standard_normal(), rtol=1e-12)
    g, _ = VAE(6, [5], 3, rng=0)._posterior(X, None, None)
    assert isinstance(g, DiagonalGaussian)


@pytest.mark.parametrize("name", FAMILIES)
def test_family_trains_and_evaluates_end_to_end(name):
    X = _data(40)
    model = VAE(6, [8], 2, posterior=name, rng=0)
    before = model.elbo(X, 0, 20).mean()
    model.fit(X, epochs=30, batch_size=10, lr=1e-2, rng=0, verbose=0)
    after = model.elbo(X, 0, 20).mean()
    assert np.isfinite(after) and after > before + 0.2
    ll = model.log_likelihood(X, k=50, rng=0)
    elbo = model.elbo(X, 0, 50)
    assert ll.shape == (40,) and np.all(np.isfinite(ll))
    # the importance-sampled log-likelihood is a tighter bound than the ELBO (on average)
    assert ll.mean() >= elbo.mean() - 1e-9
    assert model.sample(3, 0).shape == (3, 6)
    assert model.reconstruct(X[:4]).shape == (4, 6)
    assert model.reconstruct(X[:4], rng=0).shape == (4, 6)


@pytest.mark.parametrize("name", FAMILIES)
def test_checkpoint_round_trip_per_family(name, tmp_path):
    X = _data()
    model = VAE(6, [5], 3, posterior=name, rng=3)
    model.fit(X, epochs=2, batch_size=6, rng=0, verbose=0)
    path = tmp_path / f"{name}.npz"
    model.save(path)
    loaded = VAE.load(path)
    assert loaded.posterior_name == name and loaded.config() == model.config()
    np.testing.assert_array_equal(loaded.iwae_bound(X, 7, 1), model.iwae_bound(X, 7, 1))
    np.testing.assert_array_equal(loaded.per_example_loss(X, rng=2)["loss"],
                                  model.per_example_loss(X, rng=2)["loss"])


@pytest.mark.parametrize("bad", ["gausian", "", 3, None, "IAF"])
def test_unknown_posterior_name_is_a_clear_error(bad):
    with pytest.raises(ValueError, match="posterior must be one of .*gaussian"):
        VAE(6, [5], 3, posterior=bad)


@pytest.mark.parametrize("name", [n for n in FAMILIES if n != "gaussian"])
def test_non_gaussian_families_refuse_other_objectives_and_free_bits(name):
    with pytest.raises(ValueError, match="objective"):
        VAE(6, [5], 3, posterior=name, objective="iwae")
    with pytest.raises(ValueError, match="free_bits"):
        VAE(6, [5], 3, posterior=name, free_bits=0.1)


def test_register_posterior_refuses_duplicates_and_non_callables():
    with pytest.raises(ValueError, match="name 'gaussian' is registered already"):
        posteriors.register_posterior("gaussian", posteriors.GaussianFamily)
    with pytest.raises(TypeError, match="factory"):
        posteriors.register_posterior("new_family_x", 3)
    assert "new_family_x" not in posteriors.POSTERIORS


def test_family_negative_elbo_matches_the_gaussian_elbo():
    from minivae.objectives.elbo import negative_elbo

    rng = np.random.default_rng(0)
    q = DiagonalGaussian(rng.standard_normal((5, 3)), rng.standard_normal((5, 3)))
    rec = rng.random(5)
    v1, p1, d1 = negative_elbo(rec, q, 0.7)
    v2, p2, d2 = posteriors.family_negative_elbo(rec, q.kl_standard_normal(), 0.7)
    assert v1 == pytest.approx(v2, rel=1e-14) and p1["kl"] == pytest.approx(p2["kl"], rel=1e-14)
    assert d2 == pytest.approx(0.7 / 5)
    with pytest.raises(ValueError, match="kl"):
        posteriors.family_negative_elbo(rec, np.ones(4), 1.0)


def test_families_experiment_runs_tiny_and_reports_every_family(tmp_path):
    import argparse

    from minivae.experiments import posteriors_families as pf

    args = argparse.Namespace(tiny=True, quick=False, seed=0, seeds=None, out=tmp_path,
                              no_figures=True, data_dir=None, no_verify=False)
    record = pf.run(args)
    table = record["tables"]["families"]
    for name in FAMILIES:
        if name in pf.FAMILIES:
            assert f"| {name} |" in table
            (row,) = record["rows"][name]
            assert all(np.isfinite(v) for v in row.values())
            # the gap is -ELBO minus -log p(x): the IWAE bound is at least as tight on average
            assert row["gap"] == pytest.approx(row["neg_elbo"] - row["neg_ll"])
    assert pf.BASELINE in table and record["figures"] == []


def test_pixel_baseline_is_the_exact_independent_bernoulli_nll():
    from minivae.experiments.posteriors_families import generated_images, pixel_baseline_nll

    X = generated_images(30, 5, 0)
    assert set(np.unique(X)) <= {0.0, 1.0}
    p = (X.sum(0) + 1) / (len(X) + 2)
    expected = -np.mean([np.sum(np.where(x == 1, np.log(p), np.log(1 - p))) for x in X])
    assert pixel_baseline_nll(X, X) == pytest.approx(expected, rel=1e-12)
