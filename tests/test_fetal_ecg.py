"""The R-peak detector, the fetal/maternal generator as the fetal ECG study uses it, the study's
scoring, and the experiment at tiny size."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minivae.apps.rpeaks import bandpass, detect_r_peaks, heart_rate, match_peaks
from minivae.data.synthetic import ecg, fetal_maternal_mixture
from minivae.experiments import fetal_ecg


@settings(max_examples=12, deadline=None, derandomize=True)
@given(hr=st.floats(50.0, 170.0), seed=st.integers(0, 10_000),
       fs=st.sampled_from([250.0, 500.0]))
def test_detector_finds_generated_beats(hr, seed, fs):
    """Every generated beat is found within 20 ms, at most one extra (an edge beat whose P wave
    started before t = 0 is not in the true list), and the rate is right to 2 %."""
    rec = ecg(duration=15.0, fs=fs, heart_rate=hr, noise_std=0.03, baseline_wander=0.3, rng=seed)
    peaks = detect_r_peaks(rec.signal, fs)
    m = match_peaks(peaks, rec.r_peaks, fs, tolerance=0.02)
    assert m.sensitivity == 1.0
    assert peaks.size - m.true_positives <= 1
    assert heart_rate(peaks, fs) == pytest.approx(heart_rate(rec.r_peaks, fs), rel=0.02)


def test_detector_on_fetal_source_and_not_on_mixture():
    """On the clean fetal source the detector gets the fetal rate; on the mixture it locks on
    to the larger maternal beats: the separation is what makes the fetal rate measurable."""
    mix, _, fet, info = fetal_maternal_mixture(20.0, 250.0, amplitude_ratio=5.0,
                                               return_info=True, rng=4)
    true_hr = heart_rate(info["fetal_r_peaks"], 250.0)
    assert heart_rate(detect_r_peaks(fet, 250.0), 250.0) == pytest.approx(true_hr, rel=0.02)
    assert abs(heart_rate(detect_r_peaks(mix, 250.0), 250.0) - info["maternal_hr"]) < 5.0


def test_detector_refractory_and_flat_signal():
    fs = 200.0
    x = np.zeros(2000)
    x[[300, 330, 900]] = 1.0  # 330 is 0.15 s after 300: within the 0.25 s refractory period
    peaks = detect_r_peaks(x, fs, band=(1.0, 60.0))
    assert len(peaks) == 2 and abs(peaks[1] - 900) <= 2
    assert detect_r_peaks(np.zeros(500), fs).size == 0


def test_bandpass_keeps_band_and_removes_the_rest():
    fs, t = 250.0, np.arange(2500) / 250.0
    inband, slow, fast = (np.sin(2 * np.pi * f * t) for f in (15.0, 0.3, 80.0))
    np.testing.assert_allclose(bandpass(inband + slow + fast, fs), inband, atol=1e-9)


def test_heart_rate_and_match_peaks():
    assert heart_rate(np.array([0, 100, 200, 300]), 100.0) == pytest.approx(60.0)
    assert np.isnan(heart_rate(np.array([5]), 100.0))
    m = match_peaks(np.array([10, 52, 300]), np.array([12, 50, 200]), 100.0, tolerance=0.05)
    assert m.true_positives == 2
    assert m.sensitivity == pytest.approx(2 / 3) and m.ppv == pytest.approx(2 / 3)


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="fs"):
        detect_r_peaks(np.ones(100), -1.0)
    with pytest.raises(ValueError, match="threshold"):
        detect_r_peaks(np.ones(100), 100.0, threshold=1.5)
    with pytest.raises(ValueError, match="x"):
        detect_r_peaks(np.ones((3, 4)), 100.0)
    with pytest.raises(ValueError, match="band"):
        bandpass(np.ones(100), 100.0, (5.0, 80.0))  # above Nyquist
    with pytest.raises(ValueError, match="peaks"):
        heart_rate(np.array([3, 3, 5]), 100.0)


def test_study_recordings_rates_ratio_and_respiration():
    """The study's recordings: fetal 120-160 bpm, maternal 2-10x larger, and the mixture holds
    the respiratory sinusoids (its slow part) on top of the two sources."""
    s = fetal_ecg.TINY
    recs = fetal_ecg.recordings(s, seed=3, n=4, part=0)
    for r in recs:
        assert 120.0 <= r["fetal_hr"] <= 160.0
        assert 2.0 <= r["ratio"] <= 10.0
        mat, fet = r["sources"]
        assert np.max(mat) / np.max(fet) == pytest.approx(r["ratio"], rel=0.15)
        resp = r["mix"] - mat - fet
        slow = bandpass(resp, s.fs, (0.05, 1.0), edge=0.05)
        assert np.std(slow) > 0.5 * s.resp_rms  # the breathing is there ...
        assert np.std(resp - slow) < 0.05  # ... plus the 0.02 mV white noise only
    # train and test streams differ
    test = fetal_ecg.recordings(s, seed=3, n=1, part=1)
    assert not np.allclose(test[0]["mix"], recs[0]["mix"])


def test_window_errors_are_relative_to_the_fetal_peak():
    truth = np.zeros(8)
    truth[[1, 5]] = [2.0, 4.0]
    est = truth.copy()
    est[0] = 1.0  # error 1 in the first window (peak 2)
    err = fetal_ecg.window_errors(est, truth, 4)
    np.testing.assert_allclose(err, [[0.125, 0.25, 0.5], [0.0, 0.0, 0.0]])


def test_template_subtraction_recovers_the_fetal_beats():
    mix, mat, fet, info = fetal_maternal_mixture(20.0, 250.0, amplitude_ratio=4.0,
                                                 return_info=True, rng=7)
    est = fetal_ecg.template_subtraction(mix, 250.0)
    m = match_peaks(detect_r_peaks(est, 250.0), info["fetal_r_peaks"], 250.0)
    assert m.sensitivity > 0.8


def test_cass_step_trains_its_discriminator():
    """A CASS step moves the discriminator toward real = the source, fake = the other one."""
    s = fetal_ecg.TINY
    rng = np.random.default_rng(0)
    net = fetal_ecg.SourceNet("CASS", s, rng)
    y = np.tile(np.sin(np.linspace(0, 6, s.window)), (16, 1))
    other = -y
    for _ in range(30):
        net.step(y + 0.1 * rng.standard_normal(y.shape), y, other, rng)
    assert np.mean(net.disc.forward(y)) > np.mean(net.disc.forward(other))


def test_experiment_tiny(tmp_path, capsys):
    assert fetal_ecg.main(["--tiny", "--out", str(tmp_path)]) == 0
    res = json.loads((tmp_path / "results.json").read_text())
    metrics = res["runs"][0]["metrics"]
    assert set(metrics) == set(fetal_ecg.METHODS)
    for m in fetal_ecg.METHODS:
        assert all(np.isfinite(metrics[m][k]) for k in ("L1", "L2", "Linf"))
    assert metrics["zero"]["Linf"] == pytest.approx(1.0)  # the estimate 0 misses the full peak
    assert (tmp_path / "fetal_ecg_example.png").exists()
    assert "0.498 / 0.574 / 0.807" in capsys.readouterr().out
