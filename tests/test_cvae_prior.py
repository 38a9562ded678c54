"""The CVAE with a learned conditional prior (Sohn et al. 2015), its deterministic baseline, and
the quadrant experiment at the test suite's size."""

import json

import numpy as np
import pytest
from fake_mnist import write_fake_mnist
from hypothesis import given, settings
from hypothesis import strategies as st

from minivae.experiments import __main__ as dispatcher
from minivae.experiments import latent_conditional as exp
from minivae.gradcheck.checks import conditional_multimodal  # noqa: F401  (registers)
from minivae.gradcheck.registry import REGISTRY
from minivae.models import ConditionalRegressor, PriorCVAE
from minivae.models.base import Model
from minivae.train import fit


def _data(rng, n=12, D=5, C=3):
    return rng.random((n, D)), rng.standard_normal((n, C))


def _bernoulli_ll(p, x):
    return np.sum(x * np.log(p) + (1 - x) * np.log1p(-p), axis=-1)


def test_kl_is_to_the_conditional_prior():
    rng = np.random.default_rng(0)
    X, c = _data(rng)
    model = PriorCVAE(5, 3, [6], 2, rng=1)
    _, parts = model.loss((X, c), rng=2)
    mu_q, lv_q = model.encode(X, c)
    mu_p, lv_p = model.prior_params(c)
    kl = 0.5 * np.sum(lv_p - lv_q + (np.exp(lv_q) + (mu_q - mu_p) ** 2) / np.exp(lv_p) - 1,
                      axis=1)
    assert parts["kl"] == pytest.approx(kl.mean(), rel=1e-12)
    assert np.std(mu_p, axis=0).max() > 0  # the prior does depend on c
    np.testing.assert_allclose(model.kl_per_dimension((X, c)).sum(), kl.mean(), rtol=1e-12)


def test_standard_prior_is_condition_blind_and_has_no_prior_network():
    rng = np.random.default_rng(0)
    X, c = _data(rng)
    model = PriorCVAE(5, 3, [6], 2, prior="standard", rng=1)
    assert model.prior_net is None
    mu_p, lv_p = model.prior_params(c)
    assert np.all(mu_p == 0) and np.all(lv_p == 0)
    _, parts = model.loss((X, c), rng=2)
    mu_q, lv_q = model.encode(X, c)
    kl = 0.5 * np.sum(mu_q**2 + np.exp(lv_q) - 1 - lv_q, axis=1)
    assert parts["kl"] == pytest.approx(kl.mean(), rel=1e-12)


def test_importance_sampled_log_likelihood_matches_a_direct_computation():
    rng = np.random.default_rng(3)
    X, c = _data(rng, n=4)
    model = PriorCVAE(5, 3, [6], 2, rng=1)
    got = model.conditional_log_likelihood(X, c, 7, rng=5)
    # the same estimate written out: z_s ~ q, log mean_s p(x|z_s,c) p(z_s|c) / q(z_s|x,c)
    mu_q, lv_q = model.encode(X, c)
    mu_p, lv_p = model.prior_params(c)
    eps = np.random.default_rng(5).standard_normal((7, 4, 2))
    z = mu_q + np.exp(0.5 * lv_q) * eps

    def log_n(z, mu, lv):
        return np.sum(-0.5 * (np.log(2 * np.pi) + lv + (z - mu) ** 2 / np.exp(lv)), axis=-1)

    p = np.stack([model.decode(zs, c) for zs in z])
    log_w = _bernoulli_ll(p, X[None]) + log_n(z, mu_p, lv_p) - log_n(z, mu_q, lv_q)
    want = np.log(np.mean(np.exp(log_w), axis=0))
    np.testing.assert_allclose(got, want, rtol=1e-9)


def test_bound_is_above_the_elbo_on_average():
    rng = np.random.default_rng(4)
    X, c = _data(rng, n=30)
    model = PriorCVAE(5, 3, [6], 2, rng=1)
    assert (model.conditional_log_likelihood(X, c, 200, rng=1).mean()
            > model.elbo((X, c), 2, n_samples=200).mean())


def test_learned_prior_fits_better_than_the_blind_one_when_c_predicts_x():
    # x is a noisy copy of a function of c: a prior that knows c can explain it cheaply
    rng = np.random.default_rng(0)
    c = rng.standard_normal((400, 2))
    X = (1 / (1 + np.exp(-np.concatenate([c, -c, c[:, :1] * c[:, 1:]], axis=1))) > 0.5) * 1.0
    losses = {}
    for prior in ("learned", "standard"):
        model = PriorCVAE(5, 2, [16], 2, prior=prior, rng=0)
        h = fit(model, X, y=c, epochs=30, batch_size=50, lr=3e-3, rng=0, verbose=0,
                diagnostics=False)
        losses[prior] = h["loss"][-1]
        assert h["loss"][-1] < h["loss"][0]
    assert losses["learned"] <= losses["standard"] + 0.5


def test_regressor_log_likelihood_is_exact_bernoulli():
    rng = np.random.default_rng(1)
    X, c = _data(rng)
    model = ConditionalRegressor(5, 3, [4], rng=0)
    np.testing.assert_allclose(model.conditional_log_likelihood(X, c),
                               _bernoulli_ll(model.predict(c), X), rtol=1e-10)


def test_gradient_checks_are_registered_and_pass():
    names = [n for n in REGISTRY if n.startswith("conditional.")]
    assert set(names) >= {"conditional.prior_cvae.learned", "conditional.prior_cvae.standard",
                          "conditional.prior_cvae.gaussian", "conditional.regressor"}
    for name in names:
        results = REGISTRY[name](np.random.default_rng(7))
        has_prior_net = any("prior_net" in r.name for r in results)
        assert has_prior_net == (name.endswith(("learned", "gaussian")))
        assert all(r.passed for r in results), [str(r) for r in results if not r.passed]


def test_checkpoint_round_trip(tmp_path):
    rng = np.random.default_rng(2)
    X, c = _data(rng)
    model = PriorCVAE(5, 3, [6], 2, prior_hidden=[4], rng=1)
    model.save(tmp_path / "m.npz")
    again = Model.load(tmp_path / "m.npz")
    assert isinstance(again, PriorCVAE) and again.config() == model.config()
    np.testing.assert_array_equal(again.sample(c, 3), model.sample(c, 3))


@pytest.mark.parametrize("call, word", [
    (lambda m, X, c: m.loss(X, rng=0), "batch"),
    (lambda m, X, c: m.loss((X, c[:, :2]), rng=0), "c"),
    (lambda m, X, c: m.loss((X, c[:5]), rng=0), "c"),
    (lambda m, X, c: m.sample(c[:, :1], 0), "c"),
    (lambda m, X, c: PriorCVAE(5, 3, [6], 2, prior="gaussian"), "prior"),
    (lambda m, X, c: fit(m, X, epochs=1, verbose=0), "y"),
])
def test_bad_input_is_refused_with_a_named_argument(call, word):
    rng = np.random.default_rng(0)
    X, c = _data(rng)
    with pytest.raises((ValueError, TypeError), match=word):
        call(PriorCVAE(5, 3, [6], 2, rng=1), X, c)


def test_quadrants_split_and_join_back():
    X = np.arange(2 * 784, dtype=np.float64).reshape(2, 784)
    x, c = exp.quadrant_split(X)
    assert x.shape == (2, 588) and c.shape == (2, 196)
    np.testing.assert_array_equal(c[0], X[0].reshape(28, 28)[14:, :14].ravel())
    np.testing.assert_array_equal(exp.quadrant_join(x, c), X)


# ----------------------------------------------------------------------- the experiment
@pytest.fixture(scope="module")
def tiny_mnist(tmp_path_factory):
    return write_fake_mnist(tmp_path_factory.mktemp("tiny_mnist_conditional"), 60, 20)


@pytest.mark.usefixtures("no_network")
def test_tiny_run_writes_the_table_and_figure(tiny_mnist, tmp_path, capsys):
    argv = ["latent-conditional", "--tiny", "--data-dir", str(tiny_mnist), "--no-verify",
            "--out", str(tmp_path), "--seeds", "0", "1"]
    assert dispatcher.main(argv) == 0
    out = capsys.readouterr().out
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["seeds"] == [0, 1]
    for label, _ in exp.specs():
        assert f"| {label} |" in out and len(results["rows"][label]) == 2
        for row in results["rows"][label]:
            assert row["nll"] > 0 and row["seconds"] > 0
            if label.startswith("NN"):  # no latent: the bound is the likelihood
                assert row["neg_elbo"] == row["nll"]
    assert (tmp_path / "latent_conditional_samples.png").stat().st_size > 0


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 3), st.integers(1, 5),
       st.sampled_from(["learned", "standard"]), st.sampled_from([np.float32, np.float64]))
def test_shapes_and_finite_gradients_for_any_sizes(D, C, L, n, prior, dtype):
    model = PriorCVAE(D, C, [3], L, prior=prior, rng=0, dtype=dtype)
    rng = np.random.default_rng(0)
    batch = (rng.random((n, D)), rng.standard_normal((n, C)))
    value, parts = model.loss(batch, rng=1)
    assert np.isfinite(value) and parts["kl"] >= 0
    model.zero_grad()
    model.backward()
    for name, p, g in model.parameters():
        assert g.shape == p.shape and g.dtype == p.dtype and np.all(np.isfinite(g)), name
    assert model.sample(batch[1], 0).shape == (n, D)
    assert model.conditional_log_likelihood(*batch, 3, rng=0).shape == (n,)
