"""Tests for minivae.apps.volatility: SSVI surfaces, arbitrage checks, VAEs and completion."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minivae.apps.volatility import (
    DEFAULT_LOG_MONEYNESS,
    DEFAULT_MATURITIES,
    PointwiseVAE,
    SSVIParams,
    VolSurfaceVAE,
    butterfly_ok,
    calendar_arbitrage_free,
    durrleman_g,
    fit_ssvi,
    generate_surfaces,
    interpolate_surface,
    mask_random_points,
    rmse_vol_points,
    sample_ssvi_params,
    ssvi_surface,
)

T, K = DEFAULT_MATURITIES, DEFAULT_LOG_MONEYNESS


def _rel_err(a, n, f_scale: float = 1.0, h: float = 1e-6, tol: float = 1e-7) -> float:
    """max |a - n| / max(|a| + |n|, floor), floor = finite-difference noise 16 eps |f| / h / tol
    (entries below the noise level are judged by absolute error, as in minivae.gradcheck)."""
    a, n = np.asarray(a), np.asarray(n)
    floor = max(16 * np.finfo(float).eps * abs(f_scale) / h / tol, 1e-300)
    return float(np.max(np.abs(a - n) / np.maximum(np.abs(a) + np.abs(n), floor)))


def _central_diff(f, x: np.ndarray, indices, h: float = 1e-6) -> np.ndarray:
    out = []
    for idx in indices:
        old = x[idx]
        x[idx] = old + h
        fp = f()
        x[idx] = old - h
        fm = f()
        x[idx] = old
        out.append((fp - fm) / (2 * h))
    return np.array(out)


# --------------------------------------------------------------------------- SSVI + arbitrage
@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**20))
def test_generated_surfaces_are_arbitrage_free(seed):
    iv, p = generate_surfaces(8, seed)
    assert iv.shape == (8, T.size, K.size)
    assert np.all(p.eta * (1 + np.abs(p.rho)) <= 2.0) and np.all(p.gamma <= 0.5)
    for s in iv:
        assert calendar_arbitrage_free(s)
        assert butterfly_ok(s)
        assert np.all((s > 0.05) & (s < 1.0))  # plausible equity vols


def test_ssvi_at_the_money_total_variance_is_theta():
    # k = 0: w = theta/2 (1 + sqrt(rho^2 + 1 - rho^2)) = theta, whatever rho and phi are.
    p = SSVIParams(0.04, 0.04, 1.0, -0.5, 1.0, 0.4)  # flat variance curve: theta_t = 0.04 t
    iv = ssvi_surface(p, T, np.array([-0.1, 0.0, 0.1]))
    np.testing.assert_allclose(iv[:, 1], 0.2, rtol=1e-12)
    assert np.all(iv[:, 0] > iv[:, 2])  # rho < 0: downward skew


def test_durrleman_g_of_a_flat_smile_is_one():
    # w constant in k: w' = w'' = 0, so g = (1 - 0)^2 - 0 + 0 = 1 exactly.
    np.testing.assert_allclose(durrleman_g(np.full((T.size, K.size), 0.2)), 1.0, atol=1e-12)


def test_checks_reject_planted_arbitrage():
    iv, _ = generate_surfaces(1, 4)
    s = iv[0]
    assert calendar_arbitrage_free(s) and butterfly_ok(s)
    # calendar: the 1-year slice gets 90 % of the 9-month total variance
    bad = s.copy()
    bad[5] = s[4] * np.sqrt(0.9 * T[4] / T[5])
    assert not calendar_arbitrage_free(bad)
    # butterfly: a 5-vol-point spike at one strike makes w'' strongly negative there
    bad = s.copy()
    bad[3, 5] += 0.05
    assert not butterfly_ok(bad)
    assert durrleman_g(bad)[3, 5] < 0


# --------------------------------------------------------------------------- baselines
def test_rmse_vol_points_hand_worked():
    truth = np.full((2, 3), 0.2)
    est = truth + np.array([[0.01, -0.01, 0.0], [0.0, 0.0, 0.0]])
    assert rmse_vol_points(est, truth) == pytest.approx(100 * np.sqrt(2e-4 / 6))
    where = np.array([[True, True, False], [False, False, False]])
    assert rmse_vol_points(est, truth, where) == pytest.approx(1.0)


def test_interpolations_reproduce_what_they_should():
    tt, kk = np.meshgrid(T, K, indexing="ij")
    plane = 0.2 + 0.03 * tt - 0.1 * kk
    mask = mask_random_points(plane.shape, 0.2, 0)
    obs = np.where(mask, plane, np.nan)
    # thin plate (second differences) reproduces planes, also beyond the quotes
    np.testing.assert_allclose(interpolate_surface(obs, mask, method="thin_plate"), plane,
                               atol=1e-10)
    # membrane ("linear") reproduces constants; nearest and both keep the observed values
    const = np.where(mask, 0.25, np.nan)
    np.testing.assert_allclose(interpolate_surface(const, mask, method="linear"), 0.25)
    for method in ("nearest", "linear", "thin_plate"):
        out = interpolate_surface(obs, mask, method=method)
        np.testing.assert_allclose(out[mask], plane[mask], atol=1e-12)
    # along one fully observed line, membrane interpolation is plain linear interpolation
    row_mask = np.zeros((1, 11), dtype=bool)
    row_mask[0, [0, 4, 10]] = True
    y = np.where(row_mask, np.array([[1.0, 0, 0, 0, 3.0, 0, 0, 0, 0, 0, 0.0]]), np.nan)
    out = interpolate_surface(y, row_mask, T[:1], K, method="linear")
    np.testing.assert_allclose(out[0], np.interp(K, K[[0, 4, 10]], [1.0, 3.0, 0.0]),
                               atol=1e-12)


def test_fit_ssvi_recovers_a_surface_from_20_percent():
    iv, _ = generate_surfaces(2, 11)
    mask = mask_random_points(iv.shape, 0.2, 1)
    fitted, params = fit_ssvi(np.where(mask, iv, np.nan), mask, n_starts=4, n_iter=40)
    assert len(params) == 2
    assert rmse_vol_points(fitted, iv, ~mask) < 0.05
    for s in fitted:  # the parameter map keeps every fit inside the arbitrage-free region
        assert calendar_arbitrage_free(s) and butterfly_ok(s)


# --------------------------------------------------------------------------- pointwise VAE
@pytest.mark.parametrize("masked", [False, True])
def test_pointwise_vae_gradient_check(masked):
    rng = np.random.default_rng(0)
    coords = rng.uniform(-1, 1, size=(7, 2))
    model = PointwiseVAE(coords, [6], 3, decoder_hidden=[5, 4], beta=2.0,
                         decoder_variance=0.4, activation="tanh", rng=1)
    X = rng.standard_normal((4, 7))
    mask = rng.random((4, 7)) < 0.6 if masked else None
    if masked:
        X = np.where(mask, X, np.nan)
    model.zero_grad()
    value, _ = model.loss(X, rng=3, mask=mask)
    eps = model.last_eps.copy()
    model.backward()
    n_checked = 0
    for name, p, g in model.parameters():
        idx = list(np.ndindex(p.shape))
        num = _central_diff(lambda: model.loss(X, eps=eps, mask=mask)[0], p, idx)
        err = _rel_err(np.array([g[i] for i in idx]), num, f_scale=value)
        assert err <= 1e-7, (name, err)
        n_checked += len(idx)
    assert n_checked == model.num_parameters()


@pytest.mark.parametrize("masked", [False, True])
def test_pointwise_vae_free_bits_act_through_the_library_kl_term(masked):
    """A free-bits floor above every dimension's KL: the value is rec + beta * L * lambda and
    the KL leaves the gradient (equal to the beta = 0 gradients); below every KL the gradients
    are the ordinary ones."""
    rng = np.random.default_rng(6)
    coords = rng.uniform(-1, 1, size=(7, 2))
    X = rng.standard_normal((5, 7))
    mask = rng.random((5, 7)) < 0.6 if masked else None

    def run(beta, free_bits):
        model = PointwiseVAE(coords, [6], 3, decoder_hidden=[4], beta=beta, free_bits=free_bits,
                             decoder_variance=0.4, activation="tanh", rng=1)
        model.zero_grad()
        _, parts = model.loss(X, rng=3, mask=mask)
        model.backward()
        return model, parts, {name: g.copy() for name, _, g in model.parameters()}

    model, _, g_plain = run(2.0, 0.0)
    mu, logvar = model.posterior(X, mask=mask)
    kl_dims = 0.5 * np.mean(mu**2 + np.exp(logvar) - 1.0 - logvar, axis=0)
    _, parts, g_high = run(2.0, 2.0 * kl_dims.max() + 1.0)
    assert parts["loss"] == pytest.approx(
        parts["reconstruction"] + 2.0 * 3 * (2.0 * kl_dims.max() + 1.0), rel=1e-12)
    _, _, g_beta0 = run(0.0, 0.0)
    _, _, g_low = run(2.0, 0.5 * kl_dims.min())
    for name in g_plain:
        np.testing.assert_allclose(g_high[name], g_beta0[name], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(g_low[name], g_plain[name], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("form", ["grid", "pointwise"])
def test_surface_vae_trains_with_free_bits(form):
    train, _ = generate_surfaces(30, 4)
    v = VolSurfaceVAE(form=form, hidden_sizes=(6,), latent_dim=2, decoder_hidden=(4,),
                      free_bits=0.25, rng=0).fit(train, epochs=2)
    assert v.model.free_bits == 0.25
    assert len(v.history["kl_free_bits"]) == 2 and min(v.history["kl_free_bits"]) >= 0.5


def test_pointwise_point_decoder_matches_grid_decoder_and_its_gradient():
    rng = np.random.default_rng(2)
    coords = rng.uniform(-1, 1, size=(5, 2))
    model = PointwiseVAE(coords, [6], 2, decoder_hidden=[4], rng=0)
    z = rng.standard_normal((3, 2))
    full = model.decode(z)
    rows, cols = np.array([0, 0, 2, 1]), np.array([4, 1, 3, 0])
    vals, vjp = model.decode_points_with_grad(z, rows, coords[cols])
    np.testing.assert_allclose(vals, full[rows, cols], atol=1e-14)
    w = rng.standard_normal(4)
    dz = vjp(w)
    num = _central_diff(lambda: float(w @ model.decode_points_with_grad(z, rows,
                                                                        coords[cols])[0]),
                        z, list(np.ndindex(z.shape)))
    assert _rel_err(dz.ravel(), num) <= 1e-7
    assert np.any(dz[2] != 0)  # every code that has a point gets a gradient


# --------------------------------------------------------------------------- completion
@pytest.fixture(scope="module")
def surfaces():
    train, _ = generate_surfaces(800, 0)
    test, _ = generate_surfaces(12, 1)
    return train, test


@pytest.mark.parametrize("form", ["grid", "pointwise"])
def test_completion_objective_gradient(form, surfaces):
    train, _ = surfaces
    v = VolSurfaceVAE(form=form, hidden_sizes=(8,), latent_dim=3, activation="tanh",
                      decoder_hidden=(6,), rng=0).fit(train[:50], epochs=1)
    rng = np.random.default_rng(5)
    D = T.size * K.size
    z = rng.standard_normal((3, 3))
    y = rng.standard_normal((3, D))
    mask = rng.random((3, D)) < 0.25
    J, g = v.completion_objective(z, y, mask, 0.3)
    num = _central_diff(lambda: float(v.completion_objective(z, y, mask, 0.3)[0].sum()), z,
                        list(np.ndindex(z.shape)))
    assert _rel_err(g.ravel(), num, f_scale=J.sum()) <= 1e-7
    # J is the data term plus the prior: at least ||z||^2 / 2 per surface
    assert np.all(J >= 0.5 * np.sum(z * z, axis=1))


def test_vae_completion_beats_interpolation(surfaces):
    train, test = surfaces
    v = VolSurfaceVAE(form="grid", latent_dim=4, rng=0).fit(train, epochs=25, rng=0)
    mask = mask_random_points(test.shape, 0.2, 3)
    obs = np.where(mask, test, np.nan)
    vae = v.complete(obs, mask, n_steps=150, n_restarts=3, rng=0)
    assert vae.shape == test.shape
    err_vae = rmse_vol_points(vae, test, ~mask)
    err_lin = rmse_vol_points(interpolate_surface(obs, mask, method="linear"), test, ~mask)
    err_near = rmse_vol_points(interpolate_surface(obs, mask, method="nearest"), test, ~mask)
    assert err_vae < err_lin and err_vae < err_near, (err_vae, err_lin, err_near)
    # one surface alone gives the same shape back
    assert v.complete(obs[0], mask[0], n_steps=5, n_restarts=1).shape == test.shape[1:]


def test_pointwise_decodes_off_grid(surfaces):
    train, _ = surfaces
    v = VolSurfaceVAE(form="pointwise", hidden_sizes=(8,), latent_dim=2,
                      decoder_hidden=(6,), rng=0).fit(train[:40], epochs=1)
    z = np.zeros((1, 2))
    on_grid = v.decode(z)[0]
    at = v.decode_at(z, np.array([T[2], 0.3]), np.array([K[4], 0.05]))[0]
    assert at[0] == pytest.approx(on_grid[2, 4], abs=1e-12)
    assert np.isfinite(at[1])
    g = VolSurfaceVAE(form="grid", hidden_sizes=(4,), latent_dim=2).fit(train[:20], epochs=1)
    with pytest.raises(ValueError, match="pointwise"):
        g.decode_at(z, T[:1], K[:1])


# --------------------------------------------------------------------------- bad inputs
def test_bad_inputs_raise_clear_errors(surfaces):
    train, test = surfaces
    v = VolSurfaceVAE(form="grid", hidden_sizes=(4,), latent_dim=2)
    with pytest.raises(RuntimeError, match="fit"):
        v.complete(test[0], np.ones(test[0].shape, dtype=bool))
    v.fit(train[:20], epochs=1)
    mask = mask_random_points(test.shape, 0.2, 0)
    obs = np.where(mask, test, np.nan)
    with pytest.raises(ValueError, match="mask must have shape .* to match observed"):
        v.complete(obs, mask[:, :, :-1])
    with pytest.raises(TypeError, match="boolean"):
        v.complete(obs, mask.astype(int))
    few = np.zeros_like(mask)
    few[:, 0, 0] = True
    with pytest.raises(ValueError, match="too few observed points"):
        v.complete(np.where(few, test, np.nan), few)
    with pytest.raises(ValueError, match="too few observed points: need at least 6"):
        fit_ssvi(np.where(few, test, np.nan), few)
    with pytest.raises(ValueError, match="observed has .* non-finite value.*mask marks observed"):
        v.complete(test * np.nan, mask)
    with pytest.raises(ValueError, match="shape"):
        v.fit(train[:, :, :5])
    with pytest.raises(ValueError, match="shape"):
        calendar_arbitrage_free(test[0][:, :4])
    with pytest.raises(ValueError, match="strictly increasing"):
        butterfly_ok(test[0], T[::-1], K)
    with pytest.raises(ValueError, match="> 0"):
        butterfly_ok(-test[0])
    with pytest.raises(ValueError, match="rho range"):
        sample_ssvi_params(3, 0, rho=(-0.5, 1.0))
    with pytest.raises(ValueError, match="form"):
        VolSurfaceVAE(form="cubes")
    with pytest.raises(ValueError, match="method"):
        interpolate_surface(obs, mask, method="cubic")


def test_registered_gradcheck_passes():
    from minivae.gradcheck.registry import REGISTRY, check_rng_for

    results = REGISTRY["volatility.pointwise_vae"](check_rng_for(4, "volatility.pointwise_vae"))
    assert results and all(r.passed for r in results), [str(r) for r in results if not r.passed]


def test_experiment_tiny_run_writes_table_figures_and_json(tmp_path, capsys):
    import json

    from minivae.experiments.__main__ import main as dispatch

    assert dispatch(["volatility", "--tiny", "--seeds", "2", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Surface completion" in out and "SSVI least squares" in out
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["seeds"] == [2] and results["runs"][0]["train_arbitrage_free"] == 1.0
    for name in ("vol_completion_heatmaps.png", "vol_smiles.png"):
        assert (tmp_path / name).stat().st_size > 1000
    with pytest.raises(SystemExit):
        dispatch(["volatility", "--tiny", "--fraction", "0"])
