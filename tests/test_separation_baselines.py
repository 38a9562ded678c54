"""The separation baselines' metric and ceiling: plain SNR, and the oracle's mask power."""

import numpy as np
import pytest

from minivae.apps.separation import oracle_separation
from minivae.apps.signal import MAX_DB, bss_eval, sdr, snr

FS = 8000.0


def test_snr_values_and_what_it_does_not_forgive():
    rng = np.random.default_rng(0)
    s = rng.standard_normal((2, 1000))
    assert snr(s, s).tolist() == [MAX_DB, MAX_DB]
    # ||s - s/2||^2 = ||s||^2 / 4: 10 log10(4) dB.
    assert snr(0.5 * s[0], s[0]) == pytest.approx(10 * np.log10(4.0), abs=1e-12)
    noise = 0.1 * rng.standard_normal(1000)
    expected = 10 * np.log10(np.sum(s[0] ** 2) / np.sum(noise**2))
    assert snr(s[0] + noise, s[0]) == pytest.approx(expected, abs=1e-12)
    # A gain error is free for SI-SDR / BSS-Eval but costs SNR.
    assert sdr(0.5 * s[0], s[0]) == MAX_DB
    assert bss_eval(0.5 * s, s).sdr.min() > 200.0


def test_snr_bad_inputs():
    with pytest.raises(ValueError, match="reference"):
        snr(np.ones(5), np.zeros(5))
    with pytest.raises(ValueError, match="estimate"):
        snr(np.ones(5), np.ones(6))


def _two_tones(T=4000):
    t = np.arange(T) / FS
    return np.stack([np.sin(2 * np.pi * 440.0 * t), 0.5 * np.sin(2 * np.pi * 470.0 * t)])


def test_oracle_power_changes_masks_and_defaults_to_wiener():
    src = _two_tones()  # close tones: their spectra overlap at 32 ms, so the masks matter
    mix = src.sum(axis=0)
    wiener = oracle_separation(mix, src, FS, window_ms=32.0, overlap=0.75)
    np.testing.assert_array_equal(
        wiener, oracle_separation(mix, src, FS, window_ms=32.0, overlap=0.75, power=2.0))
    ratio = oracle_separation(mix, src, FS, window_ms=32.0, overlap=0.75, power=1.0)
    assert not np.allclose(ratio, wiener)
    # A sharper mask (larger power) leaks less of the other source.
    assert np.all(bss_eval(wiener, src).sir > bss_eval(ratio, src).sir)
    with pytest.raises(ValueError, match="power"):
        oracle_separation(mix, src, FS, window_ms=32.0, overlap=0.75, power=0.0)


def test_experiment_reports_nmf_and_snr(tmp_path, capsys):
    import json

    from minivae.experiments.__main__ import main as dispatch

    assert dispatch(["separation", "--tiny", "--seeds", "4", "--case", "audio",
                     "--no-figures", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "SNR" in out and "nmf" in out
    run = json.loads((tmp_path / "results.json").read_text())["audio"]["runs"][0]
    for method in ("nmf", "oracle", "refine"):
        assert set(run["scores"][method]) == {"sdr", "sir", "sar", "snr"}
        assert np.asarray(run["scores"][method]["snr"]).shape == (1, 2)
    # The ceiling beats the baseline on these sources (finite, ordered numbers).
    assert np.mean(run["scores"]["oracle"]["sdr"]) > np.mean(run["scores"]["nmf"]["sdr"])
