"""Tests for minivae.apps.heston: Heston prices, Black-Scholes implied vols, calibration."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minivae.apps.heston import (
    PRICE_FLOOR,
    HestonParams,
    black_price,
    black_scholes_price,
    calibrate_heston,
    heston_charfn,
    heston_forward_price,
    heston_implied_vols,
    heston_price,
    implied_volatility,
    implied_volatility_forward,
)
from minivae.apps.volatility import DEFAULT_LOG_MONEYNESS, DEFAULT_MATURITIES, mask_random_points

T, K = DEFAULT_MATURITIES, DEFAULT_LOG_MONEYNESS
# The test case of Fang & Oosterlee (2008, "A novel pricing method for European options based
# on Fourier-cosine series expansions", SIAM J. Sci. Comput. 31(2), section 5.3, Heston model),
# also used by Albrecher et al. (2007, "The little Heston trap"): S = K = 100, T = 1, r = q = 0.
FO_PARAMS = HestonParams(v0=0.0175, theta=0.0398, kappa=1.5768, sigma=0.5751, rho=-0.5711)
FO_CALL = 5.785155450  # their reference value
PARAMS = HestonParams(v0=0.03, theta=0.06, kappa=2.0, sigma=0.5, rho=-0.6)


def test_reference_price_fang_oosterlee():
    price = float(heston_price(100.0, 100.0, 1.0, FO_PARAMS))
    assert abs(price - FO_CALL) < 1e-6
    # and converged in the number of quadrature nodes (the default is not at the edge)
    assert abs(price - float(heston_price(100.0, 100.0, 1.0, FO_PARAMS, n_nodes=96))) < 1e-10


def test_put_call_parity():
    strikes = np.array([50.0, 80.0, 100.0, 120.0, 200.0])
    t = np.array([[0.05], [0.5], [2.0], [10.0]])
    r, q = 0.04, 0.015
    call = heston_price(100.0, strikes, t, PARAMS, rate=r, dividend=q, kind="call")
    put = heston_price(100.0, strikes, t, PARAMS, rate=r, dividend=q, kind="put")
    assert call.shape == put.shape == (4, 5)
    parity = 100.0 * np.exp(-q * t) - strikes * np.exp(-r * t)
    np.testing.assert_allclose(call - put, parity, rtol=0, atol=1e-10)


def test_call_prices_are_arbitrage_free_in_strike():
    """Decreasing and convex in the strike, within the bounds max(F - K, 0) <= C <= F."""
    k = np.linspace(-0.8, 0.8, 41)
    for t in (0.1, 1.0, 5.0):
        c = heston_forward_price(k, t, PARAMS)
        assert np.all(c >= np.maximum(1.0 - np.exp(k), 0.0) - 1e-13) and np.all(c < 1.0)
        strikes = np.exp(k)
        slope = np.diff(c) / np.diff(strikes)
        # non-increasing and convex up to the pricer's ~1e-15 absolute rounding
        assert np.all(slope < 1e-12) and np.all(np.diff(slope) > -1e-9)
        assert np.all(slope[:20] < -1e-6)  # strictly decreasing in the money


def test_characteristic_function_is_a_martingale():
    t = np.array([0.1, 1.0, 7.0])
    np.testing.assert_allclose(heston_charfn(np.array([[0.0], [-1j]]), t, PARAMS), 1.0,
                               rtol=0, atol=1e-13)
    # |phi(u)| <= 1 for real u (a characteristic function)
    u = np.linspace(0.0, 200.0, 101)
    assert np.all(np.abs(heston_charfn(u, 1.0, PARAMS)) <= 1.0 + 1e-14)


def _bs_with_mean_variance(p: HestonParams, t: np.ndarray, strikes: np.ndarray, r: float,
                           q: float) -> np.ndarray:
    w = p.theta * t + (p.v0 - p.theta) * (1.0 - np.exp(-p.kappa * t)) / p.kappa
    return black_scholes_price(100.0, strikes, t, np.sqrt(w / t), rate=r, dividend=q)


def test_small_vol_of_vol_approaches_black_scholes():
    """sigma -> 0: v_t is deterministic, so Heston is Black-Scholes with the integrated
    variance; the difference is first order in sigma (through rho)."""
    strikes = np.array([70.0, 100.0, 140.0])
    t = np.array([[0.1], [1.0], [3.0]])
    errors = []
    for sigma in (1e-3, 1e-4, 1e-5):
        p = HestonParams(0.04, 0.09, 2.0, sigma, -0.5)
        h = heston_price(100.0, strikes, t, p, rate=0.03, dividend=0.01)
        errors.append(np.max(np.abs(h - _bs_with_mean_variance(p, t, strikes, 0.03, 0.01))))
    assert errors[-1] < 5e-5
    for a, b in zip(errors, errors[1:]):
        assert 5.0 < a / b < 20.0  # linear convergence: x10 smaller sigma, ~x10 smaller error


@settings(max_examples=40, deadline=None)
@given(vol=st.floats(0.03, 1.5), k=st.floats(-1.0, 1.0), t=st.floats(0.02, 5.0),
       kind=st.sampled_from(["call", "put"]))
def test_implied_vol_round_trip(vol, k, t, kind):
    price = black_price(k, vol**2 * t, kind=kind)
    otm = price if (k >= 0) == (kind == "call") else black_price(
        k, vol**2 * t, kind="put" if kind == "call" else "call")
    # An out-of-the-money price below 1e-10 carries too few digits; an in-the-money price
    # holds the option's time value only in its last digits (vol error ~ eps * price / vega).
    in_the_money = (k >= 0) != (kind == "call")
    if otm < (1e-4 if in_the_money else 1e-10):
        return
    iv = implied_volatility_forward(price, k, t, kind=kind)
    assert abs(float(iv) - vol) < 1e-10


def test_implied_vol_round_trip_with_spot_rates_and_arrays():
    rng = np.random.default_rng(0)
    vol = rng.uniform(0.05, 0.8, (6, 7))
    vol[0, 0] = 0.5  # at the money below: strike 100, t 1
    t = rng.uniform(0.1, 3.0, (6, 1))
    strikes = rng.uniform(60.0, 150.0, (6, 7))
    strikes[0, 0], t[0, 0] = 100.0 * np.exp(0.03), 1.0
    # Where the out-of-the-money option is worth < 1e-6 of the forward, the in-the-money price
    # holds its value only in its last digits: compare only where both prices carry them.
    call = black_scholes_price(100.0, strikes, t, vol, rate=0.05, dividend=0.02, kind="call")
    put = black_scholes_price(100.0, strikes, t, vol, rate=0.05, dividend=0.02, kind="put")
    ok = np.minimum(call, put) > 1e-4
    assert ok.sum() >= 30
    for kind, price in (("call", call), ("put", put)):
        iv = implied_volatility(price, 100.0, strikes, t, rate=0.05, dividend=0.02, kind=kind,
                                invalid="nan")
        np.testing.assert_allclose(iv[ok], vol[ok], rtol=0, atol=1e-10)
    np.testing.assert_allclose(implied_volatility(call[0, 0], 100.0, strikes[0, 0], 1.0,
                                                  rate=0.05, dividend=0.02), 0.5, atol=1e-14)


def test_heston_implied_vols_match_the_pricer():
    iv = heston_implied_vols(PARAMS)
    ok = np.isfinite(iv)
    assert iv.shape == (T.shape[0], K.shape[0]) and ok.sum() >= 80  # NaN: 1-month wings
    # re-pricing the vols with Black gives the Heston prices back
    c = heston_forward_price(K[None, :], T[:, None], PARAMS)
    kk, tt = np.broadcast_arrays(K[None, :], T[:, None])
    np.testing.assert_allclose(black_price(kk[ok], iv[ok] ** 2 * tt[ok]), c[ok], rtol=0,
                               atol=1e-13)
    # a batch of parameter sets (S, 1, 1) -> (S, n_t, n_k), each row as computed alone
    p2 = HestonParams(*(np.array([a, b])[:, None, None] for a, b in zip(PARAMS, FO_PARAMS)))
    both = heston_implied_vols(p2)
    assert both.shape == (2, T.shape[0], K.shape[0])
    np.testing.assert_allclose(both[0], iv, rtol=1e-12)
    np.testing.assert_allclose(both[1], heston_implied_vols(FO_PARAMS), rtol=1e-12)


def test_heston_implied_vols_nan_below_the_price_floor():
    p = HestonParams(0.01, 0.01, 2.0, 0.2, -0.3)  # 10 % vol: deep OTM 1-month prices ~ 1e-30
    iv = heston_implied_vols(p)
    q = heston_forward_price(K[None, :], T[:, None], p)
    otm = np.where(K[None, :] >= 0, q, q - 1.0 + np.exp(K[None, :]))
    assert np.isnan(iv[0, -1]) and np.isnan(iv[0, 0])
    np.testing.assert_array_equal(np.isnan(iv), otm < PRICE_FLOOR)


def test_implied_vol_outside_the_bounds():
    k = np.array([0.0, 0.1, -0.1])
    below_intrinsic = np.array([0.01, 0.02, 1.0 - np.exp(-0.1) - 1e-3])  # 3rd: < intrinsic
    with pytest.raises(ValueError, match="no-arbitrage bounds"):
        implied_volatility_forward(below_intrinsic, k, 1.0)
    iv = implied_volatility_forward(below_intrinsic, k, 1.0, invalid="nan")
    assert np.isnan(iv[2]) and np.all(np.isfinite(iv[:2]))
    with pytest.raises(ValueError, match="no-arbitrage bounds"):
        implied_volatility_forward(1.0, 0.0, 1.0)  # a call worth the whole forward
    with pytest.raises(ValueError, match="no-arbitrage bounds"):
        implied_volatility_forward(0.0, 0.0, 1.0)


@pytest.mark.parametrize("call, match", [
    (lambda: heston_price(100.0, 100.0, 1.0, (0.04, 0.04, 1.0, 0.5, -0.5)), "HestonParams"),
    (lambda: heston_price(100.0, 100.0, 1.0, PARAMS._replace(v0=-0.01)), "params.v0"),
    (lambda: heston_price(100.0, 100.0, 1.0, PARAMS._replace(rho=1.0)), "params.rho"),
    (lambda: heston_price(100.0, 100.0, 1.0, PARAMS._replace(sigma=0.0)), "params.sigma"),
    (lambda: heston_price(100.0, 100.0, 0.0, PARAMS), "t \\(maturities in years\\) must be in"),
    (lambda: heston_price(100.0, -5.0, 1.0, PARAMS), "strike"),
    (lambda: heston_price(100.0, 100.0, 1.0, PARAMS, kind="straddle"), "kind"),
    (lambda: heston_price(100.0, 100.0, 1.0, PARAMS, n_nodes=2), "n_nodes"),
    (lambda: heston_price(100.0, np.array([np.nan]), 1.0, PARAMS), "non-finite"),
    (lambda: heston_price(100.0, 100.0, 1.0, PARAMS, rate=np.inf), "rate"),
    (lambda: implied_volatility_forward(0.1, 0.0, 1.0, invalid="zero"), "invalid"),
    (lambda: black_price(0.0, -1.0), "total variance"),
    (lambda: black_scholes_price(100.0, 100.0, 1.0, 0.0), "vol"),
    (lambda: heston_charfn(1.0, -1.0, PARAMS), "t \\(maturities in years\\) must be in"),
    (lambda: heston_charfn("abc", 1.0, PARAMS), "u must"),
    (lambda: black_price(np.zeros(3), np.ones(2)), "k, w must broadcast"),
    (lambda: black_price(80.0, 1.0), "k \\(log-moneyness"),
    (lambda: heston_forward_price(np.zeros(3), np.ones(2), PARAMS), "k, t, v0"),
    (lambda: heston_price(100.0, 1e40, 1.0, PARAMS), "strike / spot"),
    (lambda: heston_price(100.0, 100.0, 1.0, PARAMS, rate=5.0), "rate"),
    (lambda: black_scholes_price(100.0, 100.0, 1.0, 1e6), "vol must be in"),
    (lambda: heston_implied_vols(PARAMS, n_nodes=0), "n_nodes"),
    (lambda: calibrate_heston(np.full((8,), 0.2), np.ones(8, dtype=bool)), "observed_iv"),
])
def test_bad_input(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_calibration_recovers_known_parameters():
    iv = heston_implied_vols(PARAMS)
    mask = mask_random_points(iv.shape, 0.25, 3) & np.isfinite(iv)
    observed = np.where(mask, iv, np.nan)
    completed, fitted = calibrate_heston(observed, mask, rng=0)
    assert completed.shape == iv.shape and len(fitted) == 1
    got = np.array(fitted[0])
    np.testing.assert_allclose(got, np.array(PARAMS), rtol=1e-4)
    np.testing.assert_allclose(completed, iv, rtol=0, atol=1e-6)  # NaN at the same places
    assert bool(fitted[0].feller) is (2 * 2.0 * 0.06 >= 0.5**2)  # reported, not enforced: False


def test_calibration_batch_and_bad_input():
    iv = np.stack([heston_implied_vols(PARAMS), heston_implied_vols(FO_PARAMS)])
    mask = mask_random_points(iv.shape, 0.3, 1) & np.isfinite(iv)
    completed, fitted = calibrate_heston(np.where(mask, iv, np.nan), mask, n_starts=2,
                                         n_iter=15, rng=1)
    assert completed.shape == iv.shape and len(fitted) == 2
    assert all(isinstance(f, HestonParams) for f in fitted)
    # the fit matches the observed points (in vol, to well under a tenth of a vol point)
    err = np.abs(completed - iv)[mask]
    assert np.max(err) < 1e-3
    few = np.zeros(iv.shape[1:], dtype=bool)
    few[0, :4] = True
    with pytest.raises(ValueError, match="too few observed"):
        calibrate_heston(np.where(few, iv[0], np.nan), few)
    with pytest.raises(ValueError, match="n_starts"):
        calibrate_heston(np.nan_to_num(iv[0], nan=0.2), mask[0], n_starts=0)
    with pytest.raises(ValueError, match="mask"):
        calibrate_heston(iv[0], np.ones((3, 3), dtype=bool))


def test_volatility_experiment_has_the_heston_row(tmp_path, capsys):
    import json

    from minivae.experiments.__main__ import main as dispatch

    assert dispatch(["volatility", "--tiny", "--seeds", "1", "--no-figures",
                     "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Heston least squares" in out and "covered" in out and "Feller" in out
    m = json.loads((tmp_path / "results.json").read_text())["runs"][0]["metrics"]
    heston = m["Heston least squares"]
    assert 0.0 < heston["covered"] <= 1.0 and np.isfinite(heston["rmse"])
    assert 0.0 <= heston["feller_share"] <= 1.0
    assert m["SSVI least squares"]["covered"] == 1.0
