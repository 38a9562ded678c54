"""Synthetic series, ECG, anomaly injectors, missingness masks and source mixtures."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minivae.data import (
    ANOMALY_KINDS,
    BEAT_ANOMALY_KINDS,
    ECG,
    apply_mask,
    ecg,
    ecg_dataset,
    ecg_windows,
    fetal_maternal_mixture,
    harmonic_sources,
    inject_abnormal_beats,
    inject_anomalies,
    inject_flat_line,
    inject_frequency_change,
    inject_level_shift,
    inject_noise_burst,
    inject_spikes,
    mask_gaps,
    mask_mcar,
    multi_sine,
    random_walk,
    regime_series,
    sine_dataset,
)

FS = 250.0


@pytest.fixture(scope="module")
def clean_ecg():
    """20 s of noise-free ECG without baseline wander (so shapes can be checked exactly)."""
    return ecg(duration=20.0, fs=FS, heart_rate=60.0, hrv=0.0, noise_std=0.0,
               baseline_wander=0.0, rng=0)


# ---------------------------------------------------------------------------------------------
# Sines, walks, regimes
# ---------------------------------------------------------------------------------------------


def test_multi_sine_shapes_and_seeding():
    a = multi_sine(4, 50, rng=0)
    assert a.shape == (4, 50) and a.dtype == np.float64
    np.testing.assert_array_equal(a, multi_sine(4, 50, rng=np.random.default_rng(0)))
    assert not np.allclose(a, multi_sine(4, 50, rng=1))
    assert multi_sine(2, 30, n_channels=3, rng=0).shape == (2, 30, 3)
    assert sine_dataset(5, 40, rng=0).shape == (5, 40, 1)


def test_multi_sine_hand_worked_single_component():
    # One component, f = 1/8 cycles per sample, amplitude 2, no noise: x[t] = 2 sin(pi t/4 + phi).
    x = multi_sine(3, 64, n_components=1, freq_range=0.125, amplitude_range=2.0,
                   noise_std=0.0, rng=5)
    np.testing.assert_allclose(x[:, 8:], x[:, :-8], atol=1e-12)  # period 8
    # A quarter period apart, sin^2 + cos^2 = 1: x[t]^2 + x[t+2]^2 = 4.
    np.testing.assert_allclose(x[:, :-2] ** 2 + x[:, 2:] ** 2, 4.0, atol=1e-12)


def test_multi_sine_errors():
    with pytest.raises(ValueError, match=r"freq_range\[1\] must be < 0.5"):
        multi_sine(1, 10, freq_range=(0.1, 0.5), rng=0)
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator or an int seed"):
        multi_sine(1, 10, rng=None)
    with pytest.raises(ValueError, match="length must be >= 1"):
        multi_sine(1, 0, rng=0)
    with pytest.raises(ValueError, match="noise_std must be >= 0"):
        multi_sine(1, 10, noise_std=-1.0, rng=0)


def test_random_walk_statistics():
    x = random_walk(50, 400, step_std=0.5, drift=0.1, start=3.0, rng=0)
    assert x.shape == (50, 400)
    steps = np.diff(x, axis=1)
    assert abs(steps.mean() - 0.1) < 0.01
    assert abs(steps.std() - 0.5) < 0.01
    # x[0] = start + first step.
    assert abs(x[:, 0].mean() - 3.1) < 0.2
    assert random_walk(2, 10, n_channels=2, rng=0).shape == (2, 10, 2)


def test_regime_series_structure():
    regimes = ((0.0, 0.0), (5.0, 0.0), (-3.0, 0.0))
    x, s = regime_series(20, 500, regimes=regimes, mean_duration=25.0, rng=0)
    assert x.shape == s.shape == (20, 500) and s.dtype == np.int64
    assert s.min() >= 0 and s.max() <= 2
    # Zero std: the series is exactly the regime mean.
    np.testing.assert_array_equal(x, np.array([0.0, 5.0, -3.0])[s])
    # Switching probability 1/25 per step -> about 499/25 = 20 switches per series.
    n_switch = (np.diff(s, axis=1) != 0).sum(axis=1)
    assert 15 < n_switch.mean() < 25
    with pytest.raises(ValueError, match="regimes must be >= 2"):
        regime_series(1, 10, regimes=((0.0, 1.0),), rng=0)


def test_regime_series_ar_and_variance():
    x, s = regime_series(200, 200, regimes=((0.0, 1.0), (0.0, 3.0)), mean_duration=1e6,
                         ar=0.8, rng=1)
    # mean_duration huge: no switches, each series stays in its initial regime.
    assert np.all(s == s[:, :1])
    for r, std in ((0, 1.0), (1, 3.0)):
        xr = x[s[:, 0] == r]
        assert abs(xr[:, 50:].std() / std - 1.0) < 0.1
        lag1 = np.mean(xr[:, 1:] * xr[:, :-1]) / np.mean(xr * xr)
        assert abs(lag1 - 0.8) < 0.05


# ---------------------------------------------------------------------------------------------
# ECG
# ---------------------------------------------------------------------------------------------


def test_ecg_beats_and_r_peaks(clean_ecg):
    sig, r, onsets = clean_ecg
    assert isinstance(clean_ecg, ECG)
    assert sig.shape == (int(20 * FS),)
    # 60 bpm without HRV: RR = 1 s = 250 samples (+-1 for rounding), ~20 beats.
    rr = np.diff(r)
    assert np.all(np.abs(rr - 250) <= 1) and 18 <= r.size <= 21
    # Every annotated R peak is the local maximum (within 10 ms) and about 1 mV tall.
    for k in r:
        lo, hi = max(k - 25, 0), min(k + 25, sig.size)
        assert abs(lo + np.argmax(sig[lo:hi]) - k) <= 2
        assert 0.85 < sig[k] < 1.15
    # Onsets precede their R peak by the PR lead: (0.17 + 3 * 0.022) s = 59 samples at 60 bpm.
    assert np.all(np.abs((r - onsets) - 59) <= 1)
    # P wave (small positive bump) lies between onset and R; T wave after R is positive.
    k = r[3]
    assert 0.1 < sig[k - 42] < 0.2  # P peak at R - 0.17 s
    assert 0.25 < sig[k + 68] < 0.35  # T peak at R + 0.27 s
    assert sig[k + 7] < -0.1  # S wave dips below baseline


def test_ecg_heart_rate_and_hrv():
    e = ecg(duration=120.0, fs=FS, heart_rate=75.0, hrv=0.08, rng=3)
    rr = np.diff(e.r_peaks) / FS
    assert abs(rr.mean() - 0.8) < 0.02
    assert 0.04 < rr.std() / rr.mean() < 0.12  # relative RR variability ~ hrv
    e0 = ecg(duration=30.0, fs=FS, heart_rate=75.0, hrv=0.0, rng=3)
    assert np.diff(e0.r_peaks).std() < 1.0  # only rounding jitter


def test_ecg_seeding_amplitude_and_errors():
    kw = dict(fs=FS, heart_rate=80.0, noise_std=0.0, baseline_wander=0.0)
    a = ecg(1000, amplitude=1.0, rng=7, **kw)
    b = ecg(1000, amplitude=2.0, rng=7, **kw)
    np.testing.assert_allclose(b.signal, 2.0 * a.signal, atol=1e-12)
    np.testing.assert_array_equal(a.r_peaks, b.r_peaks)
    c = ecg(1000, rng=7)
    np.testing.assert_array_equal(c.signal, ecg(1000, rng=7).signal)
    with pytest.raises(ValueError, match="exactly one of length"):
        ecg(100, duration=1.0, rng=0)
    with pytest.raises(ValueError, match="exactly one of length"):
        ecg(rng=0)
    with pytest.raises(ValueError, match="fs must be >= 50"):
        ecg(100, fs=20.0, rng=0)
    with pytest.raises(ValueError, match="hrv must be < 0.5"):
        ecg(100, hrv=0.5, rng=0)


def test_ecg_dataset_and_windows():
    d = ecg_dataset(3, 500, heart_rate=(60.0, 100.0), rng=0)
    assert d.shape == (3, 500, 1)
    assert not np.allclose(d[0], d[1])
    w = ecg_windows(5, 100, stride=50, rng=0)
    assert w.shape == (5, 100, 1)
    np.testing.assert_array_equal(w[1:, :50], w[:-1, 50:])  # overlapping halves agree
    assert ecg_windows(4, 64, rng=1).shape == (4, 64, 1)


# ---------------------------------------------------------------------------------------------
# Generic anomaly injectors
# ---------------------------------------------------------------------------------------------

INJECTORS = {
    "spike": inject_spikes,
    "level_shift": inject_level_shift,
    "frequency_change": inject_frequency_change,
    "noise_burst": inject_noise_burst,
    "flat_line": inject_flat_line,
}


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(sorted(INJECTORS)), st.integers(0, 10_000), st.integers(1, 3),
       st.sampled_from([1, 2]))
def test_injectors_change_only_labelled_steps(kind, seed, n, ndim):
    x = multi_sine(1, 200, n_channels=2, rng=seed)[0]
    if ndim == 1:
        x = x[:, 0]
    x_in = x.copy()
    x_new, labels = INJECTORS[kind](x, n=n, rng=seed)
    np.testing.assert_array_equal(x, x_in)  # input untouched
    assert x_new.shape == x.shape and labels.shape == (200,) and labels.dtype == bool
    assert labels.any()
    np.testing.assert_array_equal(x_new[~labels], x[~labels])
    if kind != "flat_line":  # a flat line may coincide with the signal at its first step only
        changed = np.any(x_new != x, axis=-1) if ndim == 2 else x_new != x
        assert changed.any()
    # Same seed -> same result.
    again, labels2 = INJECTORS[kind](x, n=n, rng=seed)
    np.testing.assert_array_equal(again, x_new)
    np.testing.assert_array_equal(labels2, labels)


def test_spikes_and_level_shift_magnitudes():
    x = np.random.default_rng(0).normal(size=500)
    sd = x.std()
    xs, lab = inject_spikes(x, n=4, magnitude=5.0, rng=1)
    assert 1 <= lab.sum() <= 4
    # Each labelled step moved by a multiple of 5 sd (two spikes may land on the same step).
    ratio = np.abs(xs - x)[lab] / (5.0 * sd)
    np.testing.assert_allclose(ratio, np.round(ratio), atol=1e-9)
    assert np.all(np.round(ratio) % 2 == 1) or np.all(ratio > 0.5)
    xl, lab = inject_level_shift(x, length=30, magnitude=3.0, rng=2)
    assert lab.sum() == 30
    d = (xl - x)[lab]
    np.testing.assert_allclose(np.abs(d), 3.0 * sd)
    np.testing.assert_allclose(d, d[0], rtol=1e-12)  # one constant shift over the segment


def test_flat_line_and_noise_burst():
    x = multi_sine(1, 300, noise_std=0.0, rng=0)[0]
    xf, lab = inject_flat_line(x, length=40, rng=3)
    seg = xf[lab]
    assert seg.size == 40 and np.all(seg == seg[0])
    xn, lab = inject_noise_burst(x, length=50, magnitude=2.0, rng=4)
    assert lab.sum() == 50
    assert 1.0 * x.std() < (xn - x)[lab].std() < 3.0 * x.std()


def test_frequency_change_hand_worked():
    # A sine of period 40 sped up by exactly 2 has period 20 inside the segment.
    t = np.arange(400)
    x = np.sin(2 * np.pi * t / 40)
    xc, lab = inject_frequency_change(x, length=60, factor=2.0, rng=0)
    idx = np.flatnonzero(lab)
    assert idx.size == 60 and np.all(np.diff(idx) == 1)
    s = idx[0]
    expected = np.sin(2 * np.pi * (s + 2 * (idx - s)) / 40)
    # Positions past the end are mirrored; compare only where they stay inside.
    inside = s + 2 * (idx - s) <= 399
    np.testing.assert_allclose(xc[idx][inside], expected[inside], atol=1e-12)


def test_multichannel_events_hit_one_channel():
    x = np.zeros((100, 3)) + np.arange(3)
    xn, lab = inject_level_shift(x, n=1, length=10, magnitude=2.0, rng=0)
    changed_channels = np.flatnonzero(np.any(xn != x, axis=0))
    assert changed_channels.size == 1  # zero-std channels fall back to unit scale
    np.testing.assert_allclose(np.abs(xn - x)[lab][:, changed_channels[0]], 2.0)


def test_injector_errors():
    with pytest.raises(ValueError, match="n must be >= 1"):
        inject_spikes(np.zeros(10), n=0, rng=0)
    with pytest.raises(ValueError, match="x must have 1 or 2 dimensions"):
        inject_spikes(np.zeros((2, 3, 4)), rng=0)
    with pytest.raises(ValueError, match="magnitude must be >= 0"):
        inject_level_shift(np.zeros(10), magnitude=-1.0, rng=0)


def test_inject_anomalies_events_match_labels():
    x = multi_sine(1, 600, rng=0)[0]
    xn, lab, events = inject_anomalies(x, n=6, rng=1, return_events=True)
    assert len(events) == 6 and all(k in ANOMALY_KINDS for k, _, _ in events)
    union = np.zeros(600, dtype=bool)
    for _, s, e in events:
        assert 0 <= s < e <= 600
        union[s:e] = True
    np.testing.assert_array_equal(lab, union)
    np.testing.assert_array_equal(xn[~lab], x[~lab])
    xn2, lab2 = inject_anomalies(x, n=6, rng=1)
    np.testing.assert_array_equal(xn2, xn)
    _, _, ev = inject_anomalies(x, kinds=["spike"], n=3, rng=2, return_events=True)
    assert [k for k, _, _ in ev] == ["spike"] * 3
    with pytest.raises(ValueError, match="unknown"):
        inject_anomalies(x, kinds=["earthquake"], rng=0)
    with pytest.raises(ValueError, match="need r_peaks and fs"):
        inject_anomalies(x, kinds=["wide_qrs"], rng=0)


# ---------------------------------------------------------------------------------------------
# Abnormal beats
# ---------------------------------------------------------------------------------------------


def _beat_of(labels, r):
    """Index of the R peak inside the first labelled segment."""
    idx = np.flatnonzero(labels)
    return int(r[(r >= idx[0]) & (r < idx[-1] + 1)][0])


def test_missing_beat(clean_ecg):
    sig, r, _ = clean_ecg
    xn, lab = inject_abnormal_beats(sig, r, fs=FS, kinds=["missing_beat"], rng=0)
    k = _beat_of(lab, r)
    assert sig[k] > 0.8 and np.abs(xn[lab]).max() < 0.05  # no beat left, just baseline
    np.testing.assert_array_equal(xn[~lab], sig[~lab])


def test_inverted_t(clean_ecg):
    sig, r, _ = clean_ecg
    xn, lab = inject_abnormal_beats(sig, r, fs=FS, kinds=["inverted_t"], rng=1)
    # The mirrored stretch runs from R + 0.12 s to R + 0.45 s (RR = 1 s): samples 30..112.
    idx = np.flatnonzero(lab)
    k = idx[0] - 30
    assert k in r and idx[-1] == k + 112
    t_peak = k + 68  # T wave peak at R + 0.27 s
    assert sig[t_peak] > 0.25 and xn[t_peak] < -0.2
    assert xn[k] == sig[k]  # the QRS is untouched


def test_wide_qrs(clean_ecg):
    sig, r, _ = clean_ecg
    xn, lab = inject_abnormal_beats(sig, r, fs=FS, kinds=["wide_qrs"], rng=2)
    k = _beat_of(lab, r)

    def width_above_half(y):
        seg = y[k - 40:k + 40]
        return np.sum(seg > 0.5 * seg.max())

    assert width_above_half(xn) >= 1.8 * width_above_half(sig)
    assert abs(xn[k] - sig[k]) < 0.05  # the peak itself stays


def test_abnormal_beats_distinct_and_combined(clean_ecg):
    sig, r, _ = clean_ecg
    xn, lab, ev = inject_anomalies(sig, kinds=BEAT_ANOMALY_KINDS, n=5, r_peaks=r, fs=FS,
                                   rng=3, return_events=True)
    assert len(ev) == 5 and all(k in BEAT_ANOMALY_KINDS for k, _, _ in ev)
    assert len({s for _, s, _ in ev}) == 5  # five different beats
    xn2, lab2 = inject_abnormal_beats(sig[:, None], r, fs=FS, n=3, rng=4)
    assert xn2.shape == (sig.size, 1) and lab2.sum() > 0
    with pytest.raises(ValueError, match="r_peaks must be strictly increasing"):
        inject_abnormal_beats(sig, r[::-1], fs=FS, rng=0)
    with pytest.raises(ValueError, match="only 3 beats"):
        inject_abnormal_beats(sig, r[:3], fs=FS, n=4, rng=0)
    with pytest.raises(TypeError, match="r_peaks must hold integer"):
        inject_abnormal_beats(sig, r.astype(float), fs=FS, rng=0)


# ---------------------------------------------------------------------------------------------
# Missingness
# ---------------------------------------------------------------------------------------------


def test_mask_mcar():
    m = mask_mcar((100, 50, 2), 0.3, rng=0)
    assert m.shape == (100, 50, 2) and m.dtype == bool
    assert abs((~m).mean() - 0.3) < 0.01
    np.testing.assert_array_equal(m, mask_mcar((100, 50, 2), 0.3, rng=0))
    assert mask_mcar(10, 0.0, rng=0).all() and not mask_mcar(10, 1.0, rng=0).any()
    with pytest.raises(ValueError, match="missing_rate must be <= 1"):
        mask_mcar(10, 1.5, rng=0)


def _runs_of_false(m):
    """Lengths of the runs of False in a 1-D bool array."""
    padded = np.r_[True, m, True].astype(int)
    d = np.diff(padded)
    return np.flatnonzero(d == 1) - np.flatnonzero(d == -1)


@settings(max_examples=80, deadline=None)
@given(st.integers(20, 200), st.integers(1, 10), st.integers(0, 10_000))
def test_mask_gaps_exact_missing_count(T, L, seed):
    n = int(np.random.default_rng(seed).integers(0, T // L + 1))
    m = mask_gaps(T, n_gaps=n, gap_length=L, rng=seed)
    assert m.shape == (T,)
    assert (~m).sum() == n * L  # gaps never overlap
    assert all(run % L == 0 for run in _runs_of_false(m))  # touching gaps merge


def test_mask_gaps_layouts():
    m = mask_gaps((4, 100, 3), n_gaps=2, gap_length=5, rng=0)
    assert m.shape == (4, 100, 3)
    assert np.all(m == m[:, :, :1])  # a gap hides every channel
    assert np.all((~m[:, :, 0]).sum(axis=1) == 10)
    mc = mask_gaps((100, 3), n_gaps=2, gap_length=5, per_channel=True, rng=0)
    assert np.all((~mc).sum(axis=0) == 10)
    assert not np.all(mc == mc[:, :1])  # channels differ
    mr = mask_gaps(200, missing_rate=0.2, gap_length=10, rng=1)
    assert (~mr).sum() == 40
    mv = mask_gaps(500, n_gaps=6, gap_length=(3, 8), rng=2)
    runs = _runs_of_false(mv)
    assert 18 <= (~mv).sum() <= 48 and runs.min() >= 3
    assert mask_gaps(50, n_gaps=0, rng=0).all()


def test_mask_gaps_errors():
    with pytest.raises(ValueError, match="exactly one of n_gaps or missing_rate"):
        mask_gaps(100, rng=0)
    with pytest.raises(ValueError, match="do not fit in a series of T=10"):
        mask_gaps(10, n_gaps=3, gap_length=4, rng=0)
    with pytest.raises(ValueError, match="gap_length must satisfy low <= high"):
        mask_gaps(10, n_gaps=1, gap_length=(4, 2), rng=0)


def test_apply_mask():
    x = np.arange(6).reshape(3, 2)
    m = np.array([[True, False], [True, True], [False, True]])
    out = apply_mask(x, m)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(np.isnan(out), ~m)
    np.testing.assert_array_equal(out[m], x[m])
    x32 = np.ones((3, 2), np.float32)
    assert apply_mask(x32, m).dtype == np.float32 and x32.all()  # copy; input untouched
    with pytest.raises(ValueError, match=r"mask must have shape \(3, 2\) to match x, got \(3, 1\)"):
        apply_mask(x, m[:, :1])
    with pytest.raises(TypeError, match="mask must be boolean"):
        apply_mask(x, m.astype(int))


# ---------------------------------------------------------------------------------------------
# Source separation
# ---------------------------------------------------------------------------------------------


def test_fetal_maternal_mixture():
    mix, mat, fet, info = fetal_maternal_mixture(
        duration=20.0, fs=500.0, maternal_hr=85.0, fetal_hr=140.0, amplitude_ratio=5.0,
        noise_std=0.0, baseline_wander=0.0, return_info=True, rng=0)
    assert mix.shape == mat.shape == fet.shape == (10000,)
    np.testing.assert_allclose(mix, mat + fet, atol=1e-12)
    # Heart rates from the R peaks.
    for key, hr in (("maternal_r_peaks", 85.0), ("fetal_r_peaks", 140.0)):
        rr = np.diff(info[key]) / 500.0
        assert abs(60.0 / rr.mean() - hr) < 3.0
    assert 4.0 < mat.max() / fet.max() < 6.0  # amplitude ratio 5 (+- beat jitter)
    # Ranges are drawn per call and reported.
    _, _, _, info = fetal_maternal_mixture(duration=2.0, return_info=True, rng=1)
    assert 80 <= info["maternal_hr"] <= 90 and 120 <= info["fetal_hr"] <= 160
    assert 2 <= info["amplitude_ratio"] <= 10
    m1 = fetal_maternal_mixture(duration=1.0, rng=3)
    m2 = fetal_maternal_mixture(duration=1.0, rng=3)
    np.testing.assert_array_equal(m1[0], m2[0])
    with pytest.raises(ValueError, match=r"amplitude_ratio\[0\] must be >= 1"):
        fetal_maternal_mixture(duration=1.0, amplitude_ratio=(0.5, 2.0), rng=0)


def test_harmonic_sources_pitch_and_mix():
    fs = 4000.0
    mix, a, b, info = harmonic_sources(duration=1.0, fs=fs, f0_a=200.0, f0_b=330.0,
                                       n_harmonics=1, glide_semitones=0.0, vibrato_depth=0.0,
                                       noise_std=0.0, return_info=True, rng=0)
    assert mix.shape == a.shape == b.shape == (4000,)
    np.testing.assert_allclose(mix, a + b, atol=1e-12)
    np.testing.assert_allclose([np.sqrt(np.mean(a**2)), np.sqrt(np.mean(b**2))], 1.0)
    freqs = np.fft.rfftfreq(4000, 1 / fs)
    assert abs(freqs[np.argmax(np.abs(np.fft.rfft(a)))] - 200.0) <= 1.0
    assert abs(freqs[np.argmax(np.abs(np.fft.rfft(b)))] - 330.0) <= 1.0
    np.testing.assert_allclose(info["f0_a"], 200.0)


def test_harmonic_sources_contours_and_no_aliasing():
    fs = 1000.0
    _, a, b, info = harmonic_sources(duration=2.0, fs=fs, f0_a=(100.0, 120.0), f0_b=200.0,
                                     n_harmonics=6, glide_semitones=4.0, vibrato_depth=0.05,
                                     noise_std=0.0, return_info=True, rng=1)
    ca, cb = info["f0_a"], info["f0_b"]
    # Source A glides monotonically (by at most 4 semitones); B oscillates around 200 Hz.
    assert np.all(np.diff(ca) >= 0) or np.all(np.diff(ca) <= 0)
    assert abs(np.log2(ca[-1] / ca[0]) * 12) <= 4.0
    assert abs(cb.mean() - 200.0) < 2.0 and 9.0 < cb.max() - 200.0 <= 10.0 + 1e-9
    # Harmonics above 0.45 fs = 450 Hz are dropped: almost no energy there.
    spec = np.abs(np.fft.rfft(b)) ** 2
    freqs = np.fft.rfftfreq(b.size, 1 / fs)
    assert spec[freqs > 470].sum() < 1e-3 * spec.sum()
