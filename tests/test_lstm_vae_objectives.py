"""The LSTM-VAE's objectives (``objective=``): validation, replay, checkpoints, masks, values
computed independently, the relations between objectives, gradients (the registered checks)
and a short training run."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minivae.gradcheck.registry import REGISTRY, run_checks
from minivae.models import LSTMVAE, Model
from minivae.models.objective_choice import OBJECTIVES, SAMPLED_BACKWARD
from minivae.nn.functional import log_mean_exp
from minivae.objectives.distributions import gaussian_log_density

ALL = OBJECTIVES
#: Every objective with a likelihood that suits it (the weighted ones need "gaussian").
LIKELIHOOD_OK = {o: ("gaussian", "mse") if o in ("elbo", "elbo_stl", "infovae", "wae")
                 else ("gaussian",) for o in ALL}


def _data(rng, N=4, T=6, D=2, masked=False):
    X = np.sin(np.linspace(0, 3, T))[None, :, None] + 0.3 * rng.standard_normal((N, T, D))
    if not masked:
        return X, None
    mask = rng.random((N, T, D)) > 0.3
    mask[:, 0] = True
    return np.where(mask, X, np.nan), mask


def _model(objective, decoder="repeat", likelihood="gaussian", tf=1.0, k=3, **kw):
    return LSTMVAE(2, 5, 3, decoder=decoder, likelihood=likelihood, teacher_forcing=tf,
                   objective=objective, k=k, rng=0, **kw)


# ------------------------------------------------------------------------------ validation
def test_default_objective_is_the_elbo():
    model = LSTMVAE(2, 5, 3, rng=0)
    assert model.objective == "elbo" and model.config()["objective"] == "elbo"
    X, _ = _data(np.random.default_rng(0))
    a = model.loss(X, rng=1)[0]
    b = _model("elbo").loss(X, rng=1)[0]
    assert a == b


@pytest.mark.parametrize("kwargs, words", [
    ({"objective": "itl"}, ["objective must be one of", "'itl'"]),
    ({"objective": "elbo", "alpha": 0.5}, ["objective='elbo' takes no alpha"]),
    ({"objective": "iwae", "kernel": "rbf"}, ["takes no kernel"]),
    ({"objective": "wae", "kernel": "laplace"}, ["kernel must be one of", "laplace"]),
    ({"objective": "infovae", "alpha": 0.0, "mmd_lambda": 0.5}, ["MMD weight"]),
    ({"objective": "vr", "alpha": "a"}, ["alpha"]),
    ({"objective": "iwae", "k": 0}, ["k"]),
    ({"objective": "iwae", "free_bits": 0.5}, ["free_bits > 0", "objective='iwae'"]),
    ({"objective": "iwae", "likelihood": "mse"}, ["likelihood='gaussian'", "'mse'"]),
    ({"objective": "vr_max", "likelihood": "mse"}, ["likelihood='gaussian'"]),
])
def test_bad_options_name_the_argument(kwargs, words):
    kw = {"likelihood": "gaussian", **kwargs}
    with pytest.raises((ValueError, TypeError)) as info:
        LSTMVAE(2, 4, 2, rng=0, **kw)
    for w in words:
        assert w in str(info.value)


@pytest.mark.parametrize("objective", ["elbo_stl", "infovae", "wae"])
def test_mse_is_accepted_where_no_weights_are_needed(objective):
    model = _model(objective, likelihood="mse")
    value, parts = model.loss(_data(np.random.default_rng(0))[0], rng=0)
    assert np.isfinite(value) and "elbo" not in parts  # a squared error is no likelihood


# ------------------------------------------------------------------ replay and checkpoints
@pytest.mark.parametrize("objective", ALL)
@pytest.mark.parametrize("decoder, tf", [("repeat", 1.0), ("autoregressive", 0.5)])
def test_last_eps_replays_the_pass_and_backward_runs(objective, decoder, tf):
    model = _model(objective, decoder=decoder, tf=tf)
    X, mask = _data(np.random.default_rng(1), masked=True)
    value, parts = model.loss(X, rng=2, mask=mask)
    eps = model.last_eps
    k = model.k if objective in SAMPLED_BACKWARD else None
    assert eps["z"].shape == ((4, 3) if k is None else (k, 4, 3))
    assert ("prior" in eps) == (objective in ("infovae", "wae"))
    again, parts2 = model.loss(X, eps=eps, mask=mask)
    assert again == value and parts2 == parts
    model.zero_grad()
    model.backward()
    grads = np.concatenate([g.ravel() for _, _, g in model.parameters()])
    assert np.all(np.isfinite(grads)) and np.any(grads != 0)
    with pytest.raises(RuntimeError):
        model.backward()  # once per loss


def test_mmd_objectives_refuse_a_bad_prior_draw():
    model = _model("wae")
    X, _ = _data(np.random.default_rng(0))
    model.loss(X, rng=0)
    eps = {**model.last_eps, "prior": np.zeros((3, 3))}
    with pytest.raises(ValueError, match="prior"):
        model.loss(X, eps=eps)


@pytest.mark.parametrize("objective, options", [
    ("iwae", {}), ("vr", {"alpha": 0.3}), ("infovae", {"alpha": 0.5, "mmd_lambda": 20.0,
                                                        "kernel": "imq"}),
    ("wae", {"mmd_lambda": 3.0}), ("iwae_dreg", {}),
])
def test_checkpoint_round_trip_keeps_the_objective(tmp_path, objective, options):
    model = _model(objective, k=4, **options)
    path = tmp_path / "m.npz"
    model.save(path)
    loaded = Model.load(path)
    assert loaded.config() == model.config()
    assert (loaded.objective, loaded.k, loaded.options) == (objective, 4, model.options)
    X, _ = _data(np.random.default_rng(0))
    assert loaded.loss(X, rng=5)[0] == model.loss(X, rng=5)[0]


# ----------------------------------------------------------------------------------- masks
@pytest.mark.parametrize("objective", ALL)
def test_missing_entries_do_not_matter(objective):
    model = _model(objective, decoder="autoregressive", tf=0.5)
    X, mask = _data(np.random.default_rng(3), masked=True)
    value = model.loss(X, rng=4, mask=mask)[0]
    eps = model.last_eps
    other = np.where(mask, X, 1e3)  # any value where nothing is observed
    assert model.loss(other, eps=eps, mask=mask)[0] == pytest.approx(value, rel=1e-12)
    X[0, 2, 0] = X[0, 2, 0] + 1.0 if mask[0, 2, 0] else X[0, 2, 0]
    if mask[0, 2, 0]:  # an observed entry does matter
        assert model.loss(np.where(mask, X, 0.0), eps=eps, mask=mask)[0] != value


# ------------------------------------------------------------------ values, independently
def _log_weights_by_hand(model, X, z):
    """log p(x, z_i) - log q(z_i | x) for z: (k, N, L), from the public API (repeat decoder:
    training and free running decode alike)."""
    mu, logvar = model.encode(X)
    out = []
    for zi in z:
        mean, std = model.decode(zi, X.shape[1], return_std=True)
        log_px = gaussian_log_density(X, mean, 2 * np.log(std)).sum(axis=(1, 2))
        log_pz = gaussian_log_density(zi, 0 * zi, 0 * zi).sum(axis=1)
        log_q = gaussian_log_density(zi, mu, logvar).sum(axis=1)
        out.append(log_px + log_pz - log_q)
    return np.array(out)


@pytest.mark.parametrize("objective, alpha", [("iwae", 0.0), ("iwae_dreg", 0.0),
                                              ("vr", 0.5), ("vr_max", None),
                                              ("elbo_stl", 1.0)])
def test_k_sample_bounds_match_a_computation_by_hand(objective, alpha):
    model = _model(objective, k=5, **({"alpha": 0.5} if objective == "vr" else {}))
    X, _ = _data(np.random.default_rng(6))
    value, parts = model.loss(X, rng=7)
    mu, logvar = model.encode(X)
    z = mu + np.exp(0.5 * logvar) * model.last_eps["z"]
    log_w = _log_weights_by_hand(model, X, z)
    if alpha is None:
        bound = log_w.max(axis=0)
    elif alpha == 1.0:
        bound = log_w.mean(axis=0)
    else:
        bound = log_mean_exp((1 - alpha) * log_w, axis=0) / (1 - alpha)
    assert value == pytest.approx(-bound.mean(), rel=1e-10)
    per = model.per_example_loss(X, eps=model.last_eps)["loss"]
    np.testing.assert_allclose(per, -bound, rtol=1e-10)


def test_iwae_bound_is_tighter_than_the_elbo_of_the_same_samples():
    model = _model("iwae", k=20)
    X, _ = _data(np.random.default_rng(8), N=6)
    model.loss(X, rng=9)
    mu, logvar = model.encode(X)
    z = mu + np.exp(0.5 * logvar) * model.last_eps["z"]
    log_w = _log_weights_by_hand(model, X, z)
    iwae = model.per_example_loss(X, eps=model.last_eps)["loss"]
    assert np.all(-iwae >= log_w.mean(axis=0))  # Jensen, sample by sample
    assert np.mean(-iwae - log_w.mean(axis=0)) > 1e-3


def test_infovae_without_mmd_is_the_elbo_and_wae_adds_lambda_mmd():
    X, _ = _data(np.random.default_rng(10))
    elbo = _model("elbo")
    value = elbo.loss(X, rng=11)[0]
    info = _model("infovae", alpha=0.0, mmd_lambda=1.0)  # MMD weight alpha + lambda - 1 = 0
    assert info.loss(X, eps={"z": elbo.last_eps["z"], "teacher_forcing": None,
                             "prior": np.zeros((4, 3))})[0] == pytest.approx(value, rel=1e-12)
    wae = _model("wae", mmd_lambda=7.0)
    v, parts = wae.loss(X, rng=12)
    # the MMD estimate is unbiased, so it may be negative; it is never exactly zero here
    assert parts["mmd"] != 0
    assert v == pytest.approx(parts["reconstruction"] + 7.0 * parts["mmd"], rel=1e-12)


def test_stl_and_dreg_change_the_encoder_gradient_only():
    X, _ = _data(np.random.default_rng(13))
    grads = {}
    for objective in ("iwae", "iwae_stl", "iwae_dreg"):
        model = _model(objective, k=4)
        model.loss(X, rng=14)
        model.zero_grad()
        model.backward()
        grads[objective] = {n: g.copy() for n, _, g in model.parameters()}
    for name, g in grads["iwae"].items():
        for other in ("iwae_stl", "iwae_dreg"):
            if name.startswith("decoder."):
                np.testing.assert_allclose(grads[other][name], g, rtol=1e-12, atol=1e-15)
    enc = [n for n in grads["iwae"] if not n.startswith("decoder.")]
    for other in ("iwae_stl", "iwae_dreg"):
        assert any(np.abs(grads[other][n] - grads["iwae"][n]).max() > 1e-8 for n in enc)


# ------------------------------------------------------------------------------- gradients
def test_registered_gradient_checks_pass():
    names = {f"models.lstm_vae.objective.{o}" for o in ("iwae", "vr", "vr_max", "infovae",
                                                         "wae", "elbo_stl", "iwae_stl",
                                                         "iwae_dreg")}
    names |= {f"models.lstm_vae.path.{o}" for o in ("elbo_stl", "iwae_stl", "iwae_dreg")}
    assert names <= set(REGISTRY)  # visible in python -m minivae.gradcheck
    results = run_checks(only="models.lstm_vae.objective.*") + run_checks(
        only="models.lstm_vae.path.*")
    assert len(results) > 100
    assert all(r.passed for r in results), [r for r in results if not r.passed]


@settings(max_examples=8, deadline=None)
@given(objective=st.sampled_from(ALL), seed=st.integers(0, 2**16))
def test_gradients_of_random_shapes(objective, seed):
    from minivae.gradcheck.model_check import check_model

    rng = np.random.default_rng(seed)
    N, T, D, L, k = (int(v) for v in rng.integers(1, 4, size=5))
    model = LSTMVAE(D, 3, L, objective=objective, k=k, rng=seed)
    X = rng.standard_normal((N + 1, T + 1, D))
    params = None
    if objective in ("elbo_stl", "iwae_stl", "iwae_dreg"):
        params = [n for n, _, _ in model.parameters() if n.startswith("decoder.")]
    results = check_model(model, X, rng=rng, params=params, max_entries=6)
    assert all(r.passed for r in results)


# -------------------------------------------------------------------------------- training
@pytest.mark.parametrize("objective", ["iwae", "wae"])
def test_training_lowers_the_loss(objective):
    rng = np.random.default_rng(0)
    t = np.linspace(0, 2 * np.pi, 12)
    X = np.sin(t[None, :] + rng.uniform(0, 2 * np.pi, (48, 1)))[..., None]
    model = LSTMVAE(1, 8, 2, objective=objective, k=3, rng=0)
    history = model.fit(X, epochs=6, batch_size=16, lr=1e-2, rng=0, verbose=0,
                        diagnostics=False)
    assert history["loss"][-1] < history["loss"][0]
