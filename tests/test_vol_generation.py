"""Tests for minivae.apps.vol_generation: sampling surfaces from a trained VolSurfaceVAE and
the share of them free of static arbitrage."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minivae.apps.vol_generation import (
    arbitrage_shares,
    generate_vol_surfaces,
    kde_sample,
    scott_factor,
    training_codes,
)
from minivae.apps.volatility import (
    DEFAULT_LOG_MONEYNESS,
    DEFAULT_MATURITIES,
    VolSurfaceVAE,
    butterfly_ok,
    calendar_arbitrage_free,
    generate_surfaces,
)

T, K = DEFAULT_MATURITIES, DEFAULT_LOG_MONEYNESS


@pytest.fixture(scope="module")
def trained():
    train, _ = generate_surfaces(120, 0)
    vae = VolSurfaceVAE(hidden_sizes=(16,), latent_dim=3, rng=0).fit(train, epochs=2, rng=0)
    return vae, train


# ---------------------------------------------------------------- arbitrage checks catch violations
def test_calendar_violation_is_caught():
    good, _ = generate_surfaces(1, 1)
    bad = good[0].copy()
    # Total variance w = iv^2 t must not fall with t: make the 4th maturity's total variance
    # at the middle strike 20 % below the 3rd's.
    j = 5
    bad[3, j] = np.sqrt(0.8 * bad[2, j] ** 2 * T[2] / T[3])
    assert calendar_arbitrage_free(good[0])
    assert not calendar_arbitrage_free(bad)
    shares = arbitrage_shares(np.stack([good[0], bad]))
    assert shares["calendar"] == 0.5 and shares["n"] == 2
    assert shares["both"] <= 0.5


def test_butterfly_violation_is_caught():
    # A smile with a sharp spike at one strike: w'' is hugely negative beside it, so
    # Durrleman's g < 0 there (a negative call-price density) while total variance still
    # grows in t (the spike is on every slice, scaled with t).
    good, _ = generate_surfaces(1, 2)
    bad = good[0].copy()
    bad[:, 5] += 0.15
    assert butterfly_ok(good[0])
    assert calendar_arbitrage_free(bad)
    assert not butterfly_ok(bad)
    shares = arbitrage_shares(np.stack([good[0], bad, bad]))
    assert shares["calendar"] == 1.0
    assert shares["butterfly"] == pytest.approx(1 / 3)
    assert shares["both"] == pytest.approx(1 / 3)


def test_non_surfaces_fail_both_checks():
    good, _ = generate_surfaces(1, 3)
    neg = good[0].copy()
    neg[0, 0] = -0.1
    nan = good[0].copy()
    nan[2, 2] = np.nan
    shares = arbitrage_shares(np.stack([good[0], neg, nan]))
    assert shares == {"calendar": pytest.approx(1 / 3), "butterfly": pytest.approx(1 / 3),
                      "both": pytest.approx(1 / 3), "n": 3}


# ---------------------------------------------------------------- KDE sampler
def test_scott_factor():
    assert scott_factor(1000, 4) == pytest.approx(1000 ** (-1 / 8))
    assert scott_factor(1, 3) == 1.0


def test_kde_sample_moments_match_the_codes():
    rng = np.random.default_rng(0)
    A = np.array([[1.0, 0.0, 0.0], [0.6, 0.5, 0.0], [-0.3, 0.2, 0.2]])
    codes = rng.standard_normal((400, 3)) @ A.T + np.array([1.0, -2.0, 0.5])
    draws = kde_sample(codes, 200_000, 1)
    h = scott_factor(400, 3)
    S = np.cov(codes, rowvar=False)
    assert draws.shape == (200_000, 3)
    # Mean: the codes' mean (standard error ~ 1/sqrt(2e5) of a unit scale, so 0.01 is ~4 se).
    np.testing.assert_allclose(draws.mean(0), codes.mean(0), atol=0.01)
    # Covariance: the codes' covariance widened by the kernel, (1 + h^2) S.
    np.testing.assert_allclose(np.cov(draws, rowvar=False), (1 + h**2) * S, atol=0.02)
    # and is not just the codes re-drawn: the kernel noise is there.
    assert not np.isin(draws[:, 0], codes[:, 0]).any()


def test_kde_sample_factor_zero_resamples_codes_and_singular_cov_is_fine():
    codes = np.column_stack([np.arange(5.0), np.zeros(5)])  # second dimension collapsed
    draws = kde_sample(codes, 50, 0, factor=0.0)
    assert np.isin(draws[:, 0], codes[:, 0]).all()
    wide = kde_sample(codes, 50, 0)
    assert np.all(np.isfinite(wide)) and np.all(wide[:, 1] == 0.0)


@settings(max_examples=20, deadline=None)
@given(m=st.integers(2, 30), d=st.integers(1, 5), n=st.integers(1, 40), seed=st.integers(0, 99))
def test_kde_sample_shapes_and_seed(m, d, n, seed):
    codes = np.random.default_rng(seed).standard_normal((m, d))
    a = kde_sample(codes, n, seed)
    assert a.shape == (n, d)
    np.testing.assert_array_equal(a, kde_sample(codes, n, np.random.default_rng(seed)))


# ---------------------------------------------------------------- generation
@pytest.mark.parametrize("source", ["prior", "kde"])
def test_generation_shapes_and_reproducibility(trained, source):
    vae, train = trained
    codes = training_codes(vae, train) if source == "kde" else None
    assert codes is None or codes.shape == (len(train), vae.latent_dim)
    a = generate_vol_surfaces(vae, 7, 5, source=source, codes=codes)
    b = generate_vol_surfaces(vae, 7, np.random.default_rng(5), source=source, codes=codes)
    c = generate_vol_surfaces(vae, 7, 6, source=source, codes=codes)
    assert a.shape == (7, len(T), len(K))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    shares = arbitrage_shares(a)
    assert shares["n"] == 7 and 0.0 <= shares["both"] <= min(shares["calendar"],
                                                              shares["butterfly"])


def test_prior_generation_decodes_standard_normal_codes(trained):
    vae, _ = trained
    z = np.random.default_rng(11).standard_normal((4, vae.latent_dim))
    np.testing.assert_allclose(generate_vol_surfaces(vae, 4, 11), vae.decode(z))


# ---------------------------------------------------------------- bad input
def test_bad_input(trained):
    vae, train = trained
    codes = training_codes(vae, train)
    with pytest.raises(TypeError, match="vae"):
        generate_vol_surfaces("model", 3, 0)
    with pytest.raises(ValueError, match="source"):
        generate_vol_surfaces(vae, 3, 0, source="uniform")
    with pytest.raises(ValueError, match="codes"):
        generate_vol_surfaces(vae, 3, 0, source="kde")
    with pytest.raises(ValueError, match="codes"):
        generate_vol_surfaces(vae, 3, 0, source="prior", codes=codes)
    with pytest.raises(ValueError, match="codes"):
        generate_vol_surfaces(vae, 3, 0, source="kde", codes=codes[:, :2])
    with pytest.raises(ValueError, match="n must be >= 1"):
        generate_vol_surfaces(vae, 0, 0)
    with pytest.raises(TypeError, match="n must be an integer"):
        kde_sample(codes, 2.5, 0)
    with pytest.raises(ValueError, match="at least 2 samples"):
        kde_sample(codes[:1], 3, 0)
    with pytest.raises(ValueError, match="codes"):
        kde_sample(codes[:, 0], 3, 0)
    with pytest.raises(ValueError, match="factor"):
        kde_sample(codes, 3, 0, factor=-1.0)
    with pytest.raises(ValueError, match="non-finite"):
        kde_sample(np.full((3, 2), np.nan), 3, 0)
    with pytest.raises(ValueError, match="surfaces must have shape"):
        arbitrage_shares(train[:, :, :5])
    with pytest.raises(ValueError, match="surfaces must have 3"):
        arbitrage_shares(train[0])
    with pytest.raises(ValueError, match="calendar_tol"):
        arbitrage_shares(train[:2], calendar_tol=-1.0)
    with pytest.raises(RuntimeError, match="not trained"):
        generate_vol_surfaces(VolSurfaceVAE(hidden_sizes=(4,), latent_dim=2), 3, 0)
    with pytest.raises(RuntimeError, match="not trained"):
        training_codes(VolSurfaceVAE(hidden_sizes=(4,), latent_dim=2), train)
