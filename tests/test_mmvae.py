"""The MMVAE (Shi et al. 2019): the stratified bound written out independently, the mixture
density, the gradient checks, generation, bad input, and the experiment at the test size."""

import json

import numpy as np
import pytest
from fake_mnist import write_fake_mnist
from hypothesis import given, settings
from hypothesis import strategies as st

from minivae.experiments import __main__ as dispatcher
from minivae.gradcheck.checks import conditional_multimodal  # noqa: F401  (registers)
from minivae.gradcheck.registry import REGISTRY
from minivae.models import MMVAE
from minivae.models.base import Model
from minivae.train import fit


def _model(k=1, **kw):
    return MMVAE([4, 3], [5], 2, decoder_variances=[None, 0.5], k=k, rng=1, **kw)


def _batch(rng, n=6):
    return np.concatenate([rng.random((n, 4)), rng.standard_normal((n, 3))], axis=1)


def _log_n(z, mu, lv):
    return np.sum(-0.5 * (np.log(2 * np.pi) + lv + (z - mu) ** 2 / np.exp(lv)), axis=-1)


def _bound_by_hand(model, X, eps):
    """(1/M) sum_m log (1/k) sum_i p(x1, x2, z_mi) / ((q1(z_mi) + q2(z_mi)) / 2)."""
    x1, x2 = X[:, :4], X[:, 4:]
    q = [model.encode(x1, 0), model.encode(x2, 1)]
    per_expert = []
    for m in range(2):
        z = q[m][0] + np.exp(0.5 * q[m][1]) * eps[m]  # (k, N, L)
        p1 = np.stack([model.decode(zi, 0) for zi in z])
        mean2 = np.stack([model.decode(zi, 1) for zi in z])
        ll = (np.sum(x1 * np.log(p1) + (1 - x1) * np.log1p(-p1), axis=-1)
              + _log_n(x2, mean2, np.log(0.5)))
        log_mix = np.log(0.5 * (np.exp(_log_n(z, *q[0])) + np.exp(_log_n(z, *q[1]))))
        log_w = ll + _log_n(z, 0.0, 0.0) - log_mix
        per_expert.append(np.log(np.mean(np.exp(log_w), axis=0)))
    return np.mean(per_expert, axis=0)


@pytest.mark.parametrize("k", [1, 4])
def test_loss_is_the_stratified_bound_written_out(k):
    rng = np.random.default_rng(0)
    X = _batch(rng)
    model = _model(k)
    value, parts = model.loss(X, rng=3)
    want = _bound_by_hand(model, X, model.last_eps)
    assert value == pytest.approx(-want.mean(), rel=1e-10)
    assert parts["bound"] == pytest.approx(want.mean(), rel=1e-10)
    np.testing.assert_allclose(model.per_example_loss(X, eps=model.last_eps)["loss"], -want,
                               rtol=1e-10)


def test_bound_tightens_with_more_samples():
    rng = np.random.default_rng(1)
    X = _batch(rng, 40)
    model = _model()
    b1 = model.stratified_bound(X, 1, rng=0).mean()
    b50 = model.stratified_bound(X, 50, rng=0).mean()
    assert b50 > b1


def test_identical_experts_make_the_mixture_one_expert():
    # same encoder weights and same input: q_mix = q_1 = q_2, so log w is the usual IWAE weight
    model = MMVAE([3, 3], [4], 2, likelihoods=["gaussian", "gaussian"],
                  decoder_variances=[1.0, 1.0], rng=0)
    model.encoders[1].load_state_dict(model.encoders[0].state_dict())
    x = np.random.default_rng(2).standard_normal((5, 3))
    X = np.concatenate([x, x], axis=1)
    model.loss(X, rng=1)
    eps = model.last_eps
    mu, lv = model.encode(x, 0)
    z = mu + np.exp(0.5 * lv) * eps[0, 0]
    ll = _log_n(x, model.decode(z, 0), 0.0) + _log_n(x, model.decode(z, 1), 0.0)
    want0 = ll + _log_n(z, 0.0, 0.0) - _log_n(z, mu, lv)
    got = -model.per_example_loss(X, eps=eps)["loss"]
    z1 = mu + np.exp(0.5 * lv) * eps[1, 0]
    want1 = (_log_n(x, model.decode(z1, 0), 0.0) + _log_n(x, model.decode(z1, 1), 0.0)
             + _log_n(z1, 0.0, 0.0) - _log_n(z1, mu, lv))
    np.testing.assert_allclose(got, 0.5 * (want0 + want1), rtol=1e-10)


def test_gradient_checks_are_registered_and_pass():
    names = [n for n in REGISTRY if n.startswith("multimodal.")]
    assert set(names) == {"multimodal.mmvae.elbo", "multimodal.mmvae.iwae",
                          "multimodal.mmvae.three"}
    for name in names:
        for seed in (0, 1):
            results = REGISTRY[name](np.random.default_rng(seed))
            assert any(r.name.startswith("encoders.1") for r in results)
            assert all(r.passed for r in results), [str(r) for r in results if not r.passed]


def test_training_improves_the_bound_and_cross_generation_shapes():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 200)
    x1 = (rng.random((200, 4)) < np.where(labels[:, None], 0.9, 0.1)) * 1.0
    x2 = labels[:, None] * 2.0 - 1.0 + 0.1 * rng.standard_normal((200, 3))
    model = MMVAE([4, 3], [16], 2, decoder_variances=[None, 0.5], rng=1)
    X = model.join(x1, x2)
    before = model.stratified_bound(X, 5, rng=0).mean()
    fit(model, X, epochs=50, batch_size=50, lr=1e-2, rng=0, verbose=0)
    assert model.stratified_bound(X, 5, rng=0).mean() > before + 1.0
    to2 = model.cross_generate(x1, 0, 1)
    to1 = model.cross_generate(x2, 1, 0, rng=1)
    assert to2.shape == (200, 3) and to1.shape == (200, 4)
    # the cross-generated stroke-like view carries the label of the source
    assert np.mean((to2.mean(axis=1) > 0) == labels) > 0.9
    assert [a.shape for a in model.sample(3, 0)] == [(3, 4), (3, 3)]


def test_split_join_and_checkpoint(tmp_path):
    rng = np.random.default_rng(0)
    X = _batch(rng)
    model = _model(k=2)
    a, b = model.split(X)
    np.testing.assert_array_equal(model.join(a, b), X)
    model.save(tmp_path / "mm.npz")
    again = Model.load(tmp_path / "mm.npz")
    assert again.config() == model.config()
    np.testing.assert_array_equal(again.cross_generate(a, 0, 1), model.cross_generate(a, 0, 1))


@pytest.mark.parametrize("call, word", [
    (lambda m, X: m.loss(X, rng=0, mask=np.ones(X.shape, bool)), "mask"),
    (lambda m, X: m.loss(X[:, :5], rng=0), "X"),
    (lambda m, X: m.loss(X, eps=np.zeros((2, 1, 6, 3))), "eps"),
    (lambda m, X: m.encode(X[:, :4], 2), "modality"),
    (lambda m, X: m.cross_generate(X[:, :4], 0, -1), "target"),
    (lambda m, X: m.join(X[:, :4]), "views"),
    (lambda m, X: m.join(X[:, :4], X[:3, 4:]), "rows"),
    (lambda m, X: MMVAE([4], [5], 2), "input_dims"),
    (lambda m, X: MMVAE([4, 3], [5], 2, likelihoods=["bernoulli"]), "likelihoods"),
    (lambda m, X: MMVAE([4, 3], [5], 2, decoder_variances=[0.5, 1.0]), "decoder_variances"),
])
def test_bad_input_is_refused_with_a_named_argument(call, word):
    X = _batch(np.random.default_rng(0))
    with pytest.raises((ValueError, TypeError), match=word):
        call(_model(), X)


# ----------------------------------------------------------------------- the experiment
@pytest.fixture(scope="module")
def tiny_mnist(tmp_path_factory):
    return write_fake_mnist(tmp_path_factory.mktemp("tiny_mnist_multimodal"), 60, 20,
                            cyclic_labels=True)


@pytest.mark.usefixtures("no_network")
def test_tiny_run_writes_the_table_and_figure(tiny_mnist, tmp_path, capsys):
    argv = ["latent-multimodal", "--tiny", "--data-dir", str(tiny_mnist), "--no-verify",
            "--out", str(tmp_path), "--seeds", "0", "1"]
    assert dispatcher.main(argv) == 0
    out = capsys.readouterr().out
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["seeds"] == [0, 1]
    for label in ("MMVAE", "unimodal VAEs, codes swapped", "chance"):
        assert f"| {label} |" in out and len(results["rows"][label]) == 2
        for row in results["rows"][label]:
            assert all(0.0 <= row[k] <= 1.0 for k in ("image_to_stroke", "stroke_to_image",
                                                      "joint"))
    assert len(results["classifier_accuracy"]) == 2
    assert (tmp_path / "latent_multimodal_cross.png").stat().st_size > 0


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 3), st.integers(1, 3),
       st.integers(1, 5), st.sampled_from([np.float32, np.float64]))
def test_shapes_and_finite_gradients_for_any_sizes(d1, d2, L, k, n, dtype):
    model = MMVAE([d1, d2], [3], L, decoder_variances=[None, 1.0], k=k, rng=0, dtype=dtype)
    rng = np.random.default_rng(0)
    X = model.join(rng.random((n, d1)), rng.standard_normal((n, d2)))
    value, _ = model.loss(X, rng=1)
    assert np.isfinite(value) and model.last_eps.shape == (2, k, n, L)
    model.zero_grad()
    model.backward()
    for name, p, g in model.parameters():
        assert g.shape == p.shape and g.dtype == p.dtype and np.all(np.isfinite(g)), name
    assert model.per_example_loss(X, rng=0)["loss"].shape == (n,)
