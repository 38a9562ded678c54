"""Tests for the separation sweep (minivae.experiments.separation_sweep) and the voice generator
(minivae.data.voices)."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from minivae.apps.separation import SpectrogramVAESeparator
from minivae.apps.signal import stft
from minivae.data.voices import HIGH_RANGE, LOW_RANGE, pitch_bounds, voice, voice_pair
from minivae.experiments import EXPERIMENTS
from minivae.experiments import separation_sweep as ss

FS = 8000.0


# ------------------------------------------------------------------------------ voices
def _autocorr_pitch(x: np.ndarray, fs: float, lo: float = 60.0, hi: float = 400.0) -> float:
    """Pitch [Hz] of a voiced stretch by the autocorrelation peak between 1/hi and 1/lo s."""
    x = x - x.mean()
    r = np.correlate(x, x, mode="full")[x.size - 1:]
    lags = np.arange(int(fs / hi), int(fs / lo) + 1)
    return fs / lags[np.argmax(r[lags])]


@pytest.mark.parametrize("f0_range,scale", [(LOW_RANGE, 1.0), (HIGH_RANGE, 1.17)])
def test_voice_pitch_stays_in_its_range(f0_range, scale):
    """The contour stays within pitch_bounds, and the pitch measured from the waveform of each
    syllable (autocorrelation) matches the contour's median there."""
    lo, hi = pitch_bounds(f0_range, 2.0, 0.02)
    for seed in range(3):
        x, info = voice(2.0, FS, f0_range=f0_range, formant_scale=scale, rng=seed,
                        return_info=True)
        f0 = info["f0"][info["voiced"]]
        assert f0.size > 0.3 * x.size
        assert lo <= f0.min() and f0.max() <= hi
        # measured on the middle of the voiced stretch
        idx = np.flatnonzero(info["voiced"])
        mid = idx[idx.size // 2]
        seg = slice(mid - 400, mid + 400)
        if info["voiced"][seg].all():
            assert _autocorr_pitch(x[seg], FS) == pytest.approx(np.median(info["f0"][seg]),
                                                                rel=0.08)


def test_voice_pair_low_voice_below_high_voice():
    """The two voices' pitch ranges do not overlap: every contour of the low voice lies below
    every contour of the high one; the mixture is their sum plus small noise."""
    for seed in range(3):
        mix, low, high = voice_pair(1.0, FS, noise_std=0.0, rng=seed)
        np.testing.assert_allclose(mix, low + high, atol=1e-12)
        assert np.sqrt(np.mean(low**2)) == pytest.approx(1.0)
    assert pitch_bounds(LOW_RANGE, 2.0, 0.02)[1] < 200 < pitch_bounds(HIGH_RANGE, 2.0, 0.02)[1]


def test_voice_formants_shape_the_spectrum():
    """A voice held on one vowel has spectral peaks near that vowel's F2 (scaled): /i/ has much
    more energy around 2.3 kHz than /u/ (F2 870 Hz)."""
    def band_energy(vowel: str) -> float:
        import minivae.data.voices as v

        orig = dict(v.VOWELS)
        try:
            v.VOWELS.clear()
            v.VOWELS[vowel] = orig[vowel]
            x = voice(1.0, FS, rng=0)
        finally:
            v.VOWELS.clear()
            v.VOWELS.update(orig)
        S = np.abs(stft(x, FS, window_ms=32, hop_ms=16)) ** 2
        f = np.linspace(0, FS / 2, S.shape[1])
        return S[:, (f > 2000) & (f < 2600)].sum() / S.sum()

    assert band_energy("i") > 10 * band_energy("u")


def test_voice_is_seeded():
    a = voice_pair(0.5, FS, rng=3)
    b = voice_pair(0.5, FS, rng=np.random.default_rng(3))
    c = voice_pair(0.5, FS, rng=4)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert not np.allclose(a[1], c[1])


@pytest.mark.parametrize("kwargs,match", [
    ({"duration": -1.0}, "duration"),
    ({"duration": 0.05}, "duration"),
    ({"f0_range": (300.0, 100.0)}, r"f0_range\[1\]"),
    ({"f0_range": 100.0}, "f0_range"),
    ({"f0_range": (100.0, 5000.0)}, r"f0_range\[1\]"),
    ({"formant_scale": 0.0}, "formant_scale"),
    ({"vibrato_depth": 0.9}, "vibrato_depth"),
    ({"syllable_s": (0.3, 0.1)}, r"syllable_s\[1\]"),
    ({"fs": float("nan")}, "fs"),
])
def test_voice_bad_input(kwargs, match):
    args = {"duration": 1.0, "fs": FS, "rng": 0, **kwargs}
    with pytest.raises((ValueError, TypeError), match=match):
        voice(**args)


# ------------------------------------------------------------------------------ the sweep
def test_sweep_variants_follow_the_review():
    """The STFT sweep has the eight settings A-H with encoder [M, 256, 256, 128]; the latent
    sweep uses a 256-sample window (M = 129) with hidden 128."""
    v = ss.sweep_variants("stft", ss.FULL)
    assert [(x["window_ms"], round(x["overlap"] * x["window_ms"], 6)) for x in v] == [
        (64, 16), (64, 32), (32, 8), (32, 16), (16, 8), (16, 4), (8, 4), (8, 2)]
    assert all(x["hidden"] == (256, 256) and x["latent"] == 128 for x in v)
    lat = ss.sweep_variants("latent", ss.FULL)
    n_freq = stft(np.zeros(4000), ss.FULL.fs, window_ms=lat[0]["window_ms"],
                  hop_ms=lat[0]["window_ms"] / 2).shape[1]
    assert n_freq == 129 and all(x["hidden"] == (128,) for x in lat)
    assert [x["batch_size"] for x in ss.sweep_variants("batch", ss.FULL)] == [1, 17, 34, 70]
    assert [x["latent"] for x in ss.sweep_variants("itl", ss.FULL)] == [32, 64, 128, 256]
    assert [x["model"] for x in ss.sweep_variants("final", ss.FULL)] == ["vae", "vae", "itl"]
    assert all(len(ss.sweep_variants(n, ss.QUICK)) == 2 for n in ss.SWEEPS)
    with pytest.raises(ValueError, match="name"):
        ss.sweep_variants("nope", ss.FULL)


def test_command_dispatch_tiny_writes_tables_and_violins(tmp_path, capsys):
    """``separation-sweep --tiny --sweep beta itl`` is registered, runs both sweeps, prints a
    table per sweep and writes one violin figure each plus results.json with per-mixture
    scores of the model, the ideal ratio mask and the mixture."""
    assert EXPERIMENTS["separation-sweep"] == "minivae.experiments.separation_sweep"
    from minivae.experiments.__main__ import main

    assert main(["separation-sweep", "--tiny", "--sweep", "beta", "itl",
                 "--out", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "| beta | SDR | SIR | SAR |" in text and "| itl | SDR |" in text
    for name in ("beta", "itl"):
        png = tmp_path / f"separation_sweep_{name}.png"
        assert png.exists() and png.stat().st_size > 5000
    assert not (tmp_path / "separation_sweep_stft.png").exists()
    res = json.loads((tmp_path / "results.json").read_text())
    runs = res["sweeps"]["itl"]
    assert [r["model"] for r in runs] == ["itl", "itl"]
    for r in runs:
        for method in ("model", "irm", "mixture"):
            sdr = np.asarray(r["scores"][method]["sdr"])
            assert sdr.shape == (ss.TINY.n_test, 2) and np.isfinite(sdr).all()
        # the ideal ratio mask is the ceiling: above the mixture
        assert np.median(r["scores"]["irm"]["sdr"]) > np.median(r["scores"]["mixture"]["sdr"])


def test_itl_separator_plugs_into_the_refinement():
    """fit_itl_separator installs one ITL-AE per source; refinement runs with its decoder and
    lowers the latent objective."""
    s = replace(ss.TINY, epochs=3)
    mix, src, test = ss.voice_data(s, 0)
    sep = SpectrogramVAESeparator(s.fs, window_ms=32.0, overlap=0.5, hidden_sizes=(16,),
                                  latent_dim=4, encoder_input="source", rng=0)
    ss.fit_itl_separator(sep, mix, src, epochs=3, max_examples=100, rng=0)
    assert len(sep.vaes) == 2 and all(isinstance(v, ss.ITLSourcePrior) for v in sep.vaes)
    res = sep.separate(test[0][0], method="refine", n_steps=20, step_size=0.05)
    assert res.sources.shape == test[0][1].shape and np.isfinite(res.sources).all()
    assert res.objective[-1] < res.objective[0]


def test_violin_figure(tmp_path):
    rng = np.random.default_rng(0)
    runs = [{"label": f"v{i}", "scores": {m: {k: rng.normal(size=(4, 2)).tolist()
                                              for k in ss.METRICS}
                                          for m in ("model", "irm", "mixture")}}
            for i in range(3)]
    path = ss.violin_figure("demo", runs, tmp_path / "v.png")
    assert (tmp_path / "v.png").stat().st_size > 5000 and path.endswith("v.png")
    with pytest.raises(ValueError, match="runs"):
        ss.violin_figure("demo", [], tmp_path / "w.png")


def test_sweep_bad_input():
    mix, src, _ = ss.voice_data(ss.TINY, 0)
    sep = SpectrogramVAESeparator(ss.TINY.fs, encoder_input="mixture", window_ms=32.0)
    with pytest.raises(ValueError, match="encoder_input"):
        ss.fit_itl_separator(sep, mix, src, epochs=1)
    sep = SpectrogramVAESeparator(ss.TINY.fs, encoder_input="source", window_ms=32.0)
    with pytest.raises(TypeError, match="sep"):
        ss.fit_itl_separator("sep", mix, src, epochs=1)
    with pytest.raises(ValueError, match="sources"):
        ss.fit_itl_separator(sep, mix, src[:1], epochs=1)
    with pytest.raises(ValueError, match="epochs"):
        ss.fit_itl_separator(sep, mix, src, epochs=0)
    with pytest.raises(TypeError, match="model"):
        ss.ITLSourcePrior("not a model")
