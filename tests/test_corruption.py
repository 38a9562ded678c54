"""Corruptions for denoising and the ECG noise generators: reproducible by seed, the statistics
each one promises, SNR mixing exact to 1e-9, and bad input."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minivae.data.corruption import (
    CORRUPTIONS,
    Corruption,
    gaussian_noise,
    masking_noise,
    poisson_noise,
    process_noise,
    salt_and_pepper,
)
from minivae.data.ecg_noise import (
    baseline_wander,
    ecg_noise,
    mix_at_snr,
    muscle_noise,
    powerline,
    snr_db,
)

X = np.random.default_rng(0).standard_normal((200, 50, 2))


@pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
def test_every_corruption_is_reproducible_by_seed_and_keeps_shape_and_dtype(kind):
    c = Corruption(kind)
    a, b = c(X, np.random.default_rng(5)), c(X, 5)
    np.testing.assert_array_equal(a, b)
    assert a.shape == X.shape and a.dtype == X.dtype
    assert not np.array_equal(a, c(X, 6))
    assert not np.array_equal(a, X)
    x32 = X.astype(np.float32)
    assert c(x32, 0).dtype == np.float32
    assert Corruption.from_config(json.loads(json.dumps(c.config()))).config() == c.config()


def test_gaussian_noise_statistics():
    e = gaussian_noise(np.zeros((400, 500)), 0.3, 1)
    assert e.mean() == pytest.approx(0.0, abs=0.003)
    assert e.std() == pytest.approx(0.3, rel=0.01)
    np.testing.assert_array_equal(gaussian_noise(X, 0.0, 1), X)


@given(fraction=st.floats(0.05, 0.95))
@settings(max_examples=15, deadline=None)
def test_masking_fraction(fraction):
    x = np.ones((100, 400))
    out = masking_noise(x, fraction, 3, fill=-2.0)
    hit = out == -2.0
    assert np.all((out == 1.0) | hit)
    # binomial sd of the fraction: sqrt(f (1 - f) / 40000) <= 0.0025; 5 sd
    assert hit.mean() == pytest.approx(fraction, abs=0.0125)


def test_salt_and_pepper_fraction_and_values():
    out = salt_and_pepper(X, 0.2, 4)
    hit = out != X
    assert hit.mean() == pytest.approx(0.2, abs=0.01)
    assert set(np.unique(out[hit])) <= {X.min(), X.max()}
    assert np.mean(out[hit] == X.max()) == pytest.approx(0.5, abs=0.02)
    out = salt_and_pepper(X, 1.0, 4, low=-7.0, high=7.0)
    assert set(np.unique(out)) == {-7.0, 7.0}


def test_poisson_noise_is_unbiased_with_variance_x_minus_min_over_rate():
    x = np.tile(np.array([0.0, 1.0, 3.0]), (20000, 1))  # min per series: 0
    out = poisson_noise(x, 4.0, 7)
    np.testing.assert_allclose(out.mean(axis=0), x[0], atol=0.02)
    np.testing.assert_allclose(out.var(axis=0), x[0] / 4.0, rtol=0.05, atol=1e-12)
    assert np.all(out[:, 0] == 0.0)  # the minimum itself is noiseless


def test_process_noise_gives_the_requested_snr_per_series():
    clean = np.sin(np.linspace(0, 20, 300))[None, :, None] * np.ones((6, 1, 1))
    out = process_noise(clean, 0, snr_db=7.5, fs=125.0)
    np.testing.assert_allclose(snr_db(clean, out)[:, 0], 7.5, atol=1e-9)
    ranged = process_noise(clean, 0, snr_db=(0.0, 10.0), fs=125.0)
    s = snr_db(clean, ranged)[:, 0]
    assert np.all((s >= 0.0) & (s <= 10.0)) and np.ptp(s) > 0.5


@given(snr=st.floats(-20, 40), seed=st.integers(0, 10**6))
@settings(max_examples=30, deadline=None)
def test_mix_at_snr_is_exact(snr, seed):
    rng = np.random.default_rng(seed)
    clean = rng.standard_normal((3, 64, 2)) + 0.5
    noise = ecg_noise(clean.shape, 250.0, rng)
    np.testing.assert_allclose(snr_db(clean, mix_at_snr(clean, noise, snr)), snr, atol=1e-9)
    one = mix_at_snr(clean[0, :, 0], noise[0, :, 0], snr)
    assert float(snr_db(clean[0, :, 0], one)) == pytest.approx(snr, abs=1e-9)


def test_noise_generators_unit_rms_reproducible_and_in_their_bands():
    fs, T = 250.0, 5000
    freqs = np.fft.rfftfreq(T, 1 / fs)
    for gen in (baseline_wander, muscle_noise, powerline):
        n = gen(T, fs, 3)
        assert np.sqrt(np.mean(n**2)) == pytest.approx(1.0, rel=1e-12)
        np.testing.assert_array_equal(n, gen(T, fs, np.random.default_rng(3)))
    power = {g.__name__: np.abs(np.fft.rfft(g(T, fs, 1))) ** 2 for g in
             (baseline_wander, muscle_noise, powerline)}
    share = {k: p[freqs <= 0.6].sum() / p.sum() for k, p in power.items()}
    assert share["baseline_wander"] > 0.95
    hum = power["powerline"]
    assert hum[np.abs(freqs - 50) < 1].sum() / hum.sum() > 0.9
    hum60 = np.abs(np.fft.rfft(powerline(T, fs, 1, freq=60.0))) ** 2
    assert hum60[np.abs(freqs - 60) < 1].sum() / hum60.sum() > 0.9
    emg = power["muscle_noise"]
    assert emg[freqs > 40].sum() / emg.sum() > 0.5  # broadband: most power above the ECG band


def test_ecg_noise_shapes_and_unit_rms_per_series():
    n = ecg_noise((4, 100, 3), 250.0, 0)
    assert n.shape == (4, 100, 3)
    np.testing.assert_allclose(np.sqrt(np.mean(n**2, axis=1)), 1.0, rtol=1e-12)
    assert not np.allclose(n[:, :, 0], n[:, :, 1])
    assert ecg_noise(100, 250.0, 0).shape == (100,)
    only_hum = ecg_noise((2, 500), 250.0, 0, weights={"powerline": 1.0}, powerline_freq=60.0)
    np.testing.assert_array_equal(only_hum[0], powerline(500, 250.0, np.random.default_rng(0),
                                                         freq=60.0))


@pytest.mark.parametrize("call, err, match", [
    (lambda: Corruption("blur"), ValueError, "kind must be one of"),
    (lambda: Corruption("gaussian", sigma=1.0), TypeError, "unknown \\['sigma'\\]"),
    (lambda: Corruption("gaussian", std=-1.0), ValueError, "std must be >= 0"),
    (lambda: Corruption("masking", fraction=1.5), ValueError, "fraction must be <= 1"),
    (lambda: Corruption("poisson", rate=0.0), ValueError, "rate must be > 0"),
    (lambda: Corruption("process", snr_db=(5.0,)), ValueError, "snr_db must be a number or"),
    (lambda: Corruption("process", snr_db=(5.0, 1.0)), ValueError, "snr_db\\[1\\] must be >="),
    (lambda: Corruption("process", powerline_freq=200.0), ValueError, "powerline_freq must be <"),
    (lambda: Corruption("process", weights={"hum": 1.0}), ValueError, "weights must be"),
    (lambda: Corruption.from_config({"std": 1.0}), ValueError, "'kind'"),
    (lambda: gaussian_noise(np.array([1.0, np.nan]), 0.1, 0), ValueError, "non-finite"),
    (lambda: gaussian_noise(X, 0.1, 1.5), TypeError, "rng must be"),
    (lambda: mix_at_snr(np.ones(5), np.ones(6), 3.0), ValueError, "same shape"),
    (lambda: mix_at_snr(np.ones(5), np.zeros(5), 3.0), ValueError, "nonzero power"),
    (lambda: mix_at_snr(np.ones(5), np.ones(5), np.inf), ValueError, "snr_db must be finite"),
    (lambda: ecg_noise((2, 3, 4, 5), 250.0, 0), ValueError, "shape must be"),
    (lambda: ecg_noise((2, 0), 250.0, 0), ValueError, "shape\\[1\\] must be >= 1"),
    (lambda: powerline(100, 250.0, 0, freq=125.0), ValueError, "freq must be < 125"),
    (lambda: baseline_wander(1, 250.0, 0), ValueError, "T must be >= 2"),
    (lambda: snr_db(np.ones(3), np.ones(4)), ValueError, "same shape"),
])
def test_bad_input(call, err, match):
    with pytest.raises(err, match=match):
        call()
