"""The NumPy filters against responses known in closed form: a moving average of a constant,
Savitzky-Golay on polynomials of its order, the band-pass FIR's gain in its pass and stop bands,
zero phase (no delay), and bad input."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minivae.timeseries.filters import (
    bandpass,
    bandpass_fir,
    fir_filter,
    frequency_response,
    moving_average,
    savgol_coefficients,
    savgol_filter,
)


@given(c=st.floats(-1e3, 1e3), T=st.integers(5, 60), w=st.sampled_from([1, 3, 5]))
@settings(max_examples=30, deadline=None)
def test_moving_average_of_a_constant_is_the_constant(c, T, w):
    x = np.full((2, T, 3), c)
    # (a subnormal constant, |c| < 2.2e-308, has lost relative digits: an absolute floor)
    np.testing.assert_allclose(moving_average(x, w), x, rtol=1e-12, atol=1e-300)


def test_moving_average_interior_is_the_window_mean_and_1d_works():
    x = np.random.default_rng(0).standard_normal(40)
    y = moving_average(x, 7)
    for t in range(3, 37):
        assert y[t] == pytest.approx(x[t - 3:t + 4].mean(), rel=1e-12, abs=1e-14)
    assert y[0] == pytest.approx((x[3] + x[2] + x[1] + x[0] + x[1] + x[2] + x[3]) / 7)  # reflect


@given(order=st.integers(0, 4), half=st.integers(2, 6), seed=st.integers(0, 10**6))
@settings(max_examples=40, deadline=None)
def test_savgol_preserves_a_polynomial_of_its_order_everywhere(order, half, seed):
    w = 2 * half + 1
    if order >= w:
        return
    rng = np.random.default_rng(seed)
    t = np.linspace(-1.0, 1.0, 41)
    p = np.polyval(rng.standard_normal(order + 1), t)
    np.testing.assert_allclose(savgol_filter(p, w, order), p, rtol=0, atol=1e-10)


def test_savgol_does_not_preserve_a_higher_order_polynomial_and_smooths_noise():
    t = np.linspace(-1.0, 1.0, 41)
    p = t ** 3
    assert np.max(np.abs(savgol_filter(p, 9, 2) - p)) > 1e-4  # the test can fail
    noise = np.random.default_rng(1).standard_normal((50, 200))
    assert savgol_filter(noise, 11, 2)[:, 20:-20].var() < 0.5 * noise.var()


def test_savgol_kernel_known_values():
    # The classic 5-point quadratic smoother (Savitzky & Golay 1964, table I): (-3,12,17,12,-3)/35
    np.testing.assert_allclose(savgol_coefficients(5, 2)[2], np.array([-3, 12, 17, 12, -3]) / 35,
                               rtol=1e-12)
    S = savgol_coefficients(7, 3)
    np.testing.assert_allclose(S @ S, S, atol=1e-12)  # a projection
    np.testing.assert_allclose(savgol_coefficients(5, 0)[2], np.full(5, 0.2))  # = moving average


def test_bandpass_gain_in_pass_and_stop_bands():
    fs = 250.0
    h = bandpass_fir(5.0, 40.0, fs, 201)
    assert np.allclose(h, h[::-1])
    gain = np.abs(frequency_response(h, np.array([0.0, 12.0, 22.5, 30.0, 60.0, 100.0]), fs))
    assert gain[0] < 0.01                          # DC (baseline) removed
    np.testing.assert_allclose(gain[1:4], 1.0, atol=0.01)  # pass band
    assert np.all(gain[4:] < 0.01)                 # powerline and above removed
    cut = np.abs(frequency_response(h, np.array([5.0, 40.0]), fs))
    np.testing.assert_allclose(cut, 0.5, atol=0.02)  # -6 dB at the cut-offs


def test_fir_filter_passes_an_in_band_sine_without_delay_and_removes_out_of_band():
    fs, T = 250.0, 1000
    t = np.arange(T) / fs
    inband, hum = np.sin(2 * np.pi * 15 * t), np.sin(2 * np.pi * 50 * t)
    y = bandpass(inband + hum + 3.0, fs, 5.0, 40.0, 151)
    np.testing.assert_allclose(y[150:-150], inband[150:-150], atol=0.01)  # zero phase, gain 1
    lowpass = bandpass_fir(0.0, 20.0, fs, 101)
    assert abs(frequency_response(lowpass, np.array([0.0]), fs)[0]) == pytest.approx(1.0)


def test_fir_filter_shapes_match_one_series_at_a_time():
    x = np.random.default_rng(2).standard_normal((3, 80, 2))
    h = bandpass_fir(2.0, 30.0, 100.0, 21)
    y = fir_filter(x, h)
    assert y.shape == x.shape
    np.testing.assert_allclose(y[1, :, 0], fir_filter(x[1, :, 0], h), rtol=1e-12)
    np.testing.assert_allclose(moving_average(x, 5)[2, :, 1], moving_average(x[2, :, 1], 5))


@pytest.mark.parametrize("call, match", [
    (lambda: moving_average(np.ones(10), 4), "window must be odd"),
    (lambda: moving_average(np.ones(10), 0), "window must be >= 1"),
    (lambda: moving_average(np.ones((1, 2, 3, 4)), 3), "x must have 1 or 2 or 3 dimensions"),
    (lambda: moving_average(np.array([1.0, np.nan, 2.0]), 3), "non-finite"),
    (lambda: moving_average(np.ones(3), 9), "too short"),
    (lambda: savgol_filter(np.ones(10), 5, 5), "order must be < window"),
    (lambda: savgol_filter(np.ones(10), 11, 2), "window must be <= the series length"),
    (lambda: savgol_filter(np.ones(10), 5, -1), "order must be >= 0"),
    (lambda: bandpass_fir(40.0, 5.0, 250.0, 11), "high_hz must be"),
    (lambda: bandpass_fir(5.0, 200.0, 250.0, 11), "high_hz must be"),
    (lambda: bandpass_fir(5.0, 40.0, 250.0, 10), "numtaps must be odd"),
    (lambda: bandpass_fir(-1.0, 40.0, 250.0, 11), "low_hz must be >= 0"),
    (lambda: fir_filter(np.ones(20), np.array([1.0, 2.0, 3.0])), "symmetric"),
    (lambda: fir_filter(np.ones(20), np.ones(4)), "len\\(taps\\) must be odd"),
    (lambda: fir_filter("abc", np.ones(3)), "x must"),
])
def test_bad_input(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()
