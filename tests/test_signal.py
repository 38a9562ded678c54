"""Tests for minivae.apps.signal: STFT round trips, masks, and BSS-Eval metrics on hand-built
cases."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minivae.apps.signal import (
    MAX_DB,
    apply_masks,
    bss_eval,
    denormalize_spectrogram,
    frame_sizes,
    from_magnitude_phase,
    istft,
    magnitude_phase,
    normalize_spectrogram,
    oracle_masks,
    sdr,
    stft,
    wiener_masks,
)


def _orthonormal(n_vectors: int, T: int, seed: int = 0) -> np.ndarray:
    """(n_vectors, T) rows that are orthonormal to round-off (QR of a random matrix)."""
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((T, n_vectors)))
    return q.T


# ----------------------------------------------------------------------------- STFT
@settings(max_examples=60, deadline=None)
@given(
    length=st.integers(64, 400),
    n_fft=st.integers(2, 64),
    hop_frac=st.floats(0.01, 1.0),
    window=st.sampled_from(["hann", "sqrt_hann", "rect"]),
    seed=st.integers(0, 2**16),
)
def test_round_trip_is_exact_for_any_nola_hop(length, n_fft, hop_frac, window, seed):
    # Hann-type windows are zero only at n = 0, so NOLA holds for every hop < n_fft;
    # the rectangular window allows hop == n_fft as well.
    max_hop = n_fft if window == "rect" else n_fft - 1
    hop = max(1, min(max_hop, int(round(hop_frac * n_fft))))
    x = np.random.default_rng(seed).standard_normal(length)
    X = stft(x, n_fft=n_fft, hop=hop, window=window)
    assert X.shape == ((length + n_fft - hop - 1) // hop + 1, n_fft // 2 + 1)
    y = istft(X, n_fft=n_fft, hop=hop, window=window, length=length)
    assert y.shape == x.shape
    assert np.max(np.abs(y - x)) < 1e-10


@pytest.mark.parametrize(
    "fs, window_ms, hop_ms, expected",
    [(16000, 32, 8, (512, 128)), (8000, 25, 10, (200, 80)), (22050, 46.44, 11.61, (1024, 256))],
)
def test_millisecond_frames_round_trip(fs, window_ms, hop_ms, expected):
    assert frame_sizes(fs, window_ms=window_ms, hop_ms=hop_ms) == expected
    x = np.random.default_rng(1).standard_normal(3001)
    X = stft(x, fs, window_ms=window_ms, hop_ms=hop_ms)
    assert X.shape[1] == expected[0] // 2 + 1
    # the ms and sample spellings give the same transform
    np.testing.assert_array_equal(X, stft(x, n_fft=expected[0], hop=expected[1]))
    y = istft(X, fs, window_ms=window_ms, hop_ms=hop_ms, length=x.size)
    assert np.max(np.abs(y - x)) < 1e-12


def test_edges_reconstruct_exactly():
    # Energy right at the first and last sample, where an unpadded STFT would lose it.
    x = np.zeros(100)
    x[0], x[-1] = 1.0, -2.0
    y = istft(stft(x, n_fft=32, hop=8), n_fft=32, hop=8, length=100)
    np.testing.assert_allclose(y, x, atol=1e-14)


def test_parseval_with_constant_overlap_add():
    # Periodic Hann with hop = n_fft / 4: sum_t w^2[n - t hop] = 4 * 3/8 = 1.5 for every n.
    # Parseval per frame (sum_k |X_t[k]|^2 = n_fft * ||w x_t||^2, full two-sided spectrum)
    # summed over frames gives n_fft * 1.5 * ||x||^2.
    n_fft, hop = 64, 16
    x = np.random.default_rng(2).standard_normal(500)
    X = stft(x, n_fft=n_fft, hop=hop)
    power = np.abs(X) ** 2
    # one-sided -> two-sided: every bin except DC and Nyquist appears twice
    two_sided = power[:, 0].sum() + power[:, -1].sum() + 2 * power[:, 1:-1].sum()
    np.testing.assert_allclose(two_sided, n_fft * 1.5 * np.sum(x**2), rtol=1e-12)


@pytest.mark.parametrize("freq", [625.0, 1000.0, 2437.5])
def test_pure_tone_peaks_at_its_bin(freq):
    fs, n_fft, hop = 8000, 256, 64
    t = np.arange(4000) / fs
    X = stft(np.sin(2 * np.pi * freq * t + 0.3), fs, n_fft=n_fft, hop=hop)
    mag = np.abs(X)[5:-5]  # interior frames (edge frames see zero padding)
    expected_bin = int(round(freq * n_fft / fs))
    assert np.all(np.argmax(mag, axis=1) == expected_bin)
    # a bin-centred tone of amplitude 1 under a Hann window peaks at sum(w) / 2 = n_fft / 4
    if freq * n_fft / fs == expected_bin:
        np.testing.assert_allclose(mag[:, expected_bin], n_fft / 4, rtol=1e-10)


def test_magnitude_phase_round_trip():
    X = stft(np.random.default_rng(3).standard_normal(300), n_fft=32, hop=8)
    mag, phase = magnitude_phase(X)
    assert np.all(mag >= 0) and np.all(np.abs(phase) <= np.pi)
    np.testing.assert_allclose(from_magnitude_phase(mag, phase), X, atol=1e-12)
    with pytest.raises(ValueError, match="mag must be >= 0"):
        from_magnitude_phase(-mag, phase)
    with pytest.raises(ValueError, match="same shape"):
        from_magnitude_phase(mag, phase[:, :-1])


# --------------------------------------------------------------------- bad STFT input
x300 = np.random.default_rng(4).standard_normal(300)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_fft=400, hop=100), r"window \(n_fft=400\) is longer than the signal x"),
        (dict(n_fft=64, hop=65), "hop must not exceed the window"),
        (dict(n_fft=64, hop=0), "hop must be >= 1"),
        (dict(n_fft=64, hop=-4), "hop must be >= 1"),
        (dict(n_fft=64, hop=64), "NOLA"),  # Hann is zero at n = 0: that sample is never seen
        (dict(n_fft=64, hop=64, window="sqrt_hann"), "NOLA"),
        (dict(n_fft=64, hop=16, window="blackman"), "window must be one of"),
        (dict(n_fft=64, hop=16, window=np.ones(32)), "window must have length n_fft=64"),
        (dict(n_fft=64, hop=16, window=np.zeros(64)), "NOLA"),
        (dict(n_fft=64), "n_fft and hop must be given together"),
        (dict(n_fft=64, hop=16, window_ms=8, hop_ms=2), "not both"),
        (dict(window_ms=32, hop_ms=8), "fs .* is required"),
        (dict(), "frame is missing"),
    ],
)
def test_stft_refuses_bad_frames(kwargs, match):
    with pytest.raises(ValueError, match=match):
        stft(x300, **kwargs)


def test_stft_refuses_bad_millisecond_frames():
    with pytest.raises(ValueError, match="hop_ms must be > 0"):
        stft(x300, 8000, window_ms=8, hop_ms=0)
    with pytest.raises(ValueError, match="hop_ms=0.01 .* shorter than one sample"):
        stft(x300, 8000, window_ms=8, hop_ms=0.01)
    with pytest.raises(ValueError, match=r"hop_ms=10 \(80 samples.*window_ms=8 \(64 samples"):
        stft(x300, 8000, window_ms=8, hop_ms=10)
    with pytest.raises(ValueError, match=r"window_ms=100 \(800 samples.*longer than the signal"):
        stft(x300, 8000, window_ms=100, hop_ms=10)
    with pytest.raises(ValueError, match="fs must be > 0"):
        stft(x300, -8000, window_ms=8, hop_ms=2)


def test_stft_refuses_bad_signals():
    with pytest.raises(ValueError, match="x must have 1 dimensions"):
        stft(np.zeros((2, 300)), n_fft=32, hop=8)
    with pytest.raises(ValueError, match="x contains 1 non-finite"):
        stft(np.r_[x300[:-1], np.nan], n_fft=32, hop=8)
    with pytest.raises(TypeError, match="x must hold real numbers"):
        stft(x300.astype(complex), n_fft=32, hop=8)


def test_istft_refuses_mismatched_shapes():
    X = stft(x300, n_fft=32, hop=8)
    with pytest.raises(ValueError, match="X has 41 frames but length=200 .* gives 28"):
        istft(X, n_fft=32, hop=8, length=200)
    with pytest.raises(ValueError, match="17 frequency bins for n_fft=32"):
        istft(X[:, :-1], n_fft=32, hop=8, length=300)
    with pytest.raises(ValueError, match="X must have 2 dimensions"):
        istft(X[0], n_fft=32, hop=8, length=300)
    with pytest.raises(ValueError, match="length must be >= 1"):
        istft(X, n_fft=32, hop=8, length=0)
    with pytest.raises(ValueError, match="longer than the signal length"):
        istft(X, n_fft=32, hop=8, length=20)


# ---------------------------------------------------------------- normalisation
@pytest.mark.parametrize("method", ["max", "log"])
def test_normalize_spectrogram_round_trip(method):
    mag = np.abs(stft(x300, n_fft=32, hop=8))
    mag[0, 0] = 0.0  # make sure exact silence is representable
    normed, stats = normalize_spectrogram(mag, method=method, eps=1e-3)
    assert normed.shape == mag.shape
    assert normed.min() >= 0 and normed.max() == pytest.approx(1.0, abs=1e-12)
    assert normed[0, 0] == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(denormalize_spectrogram(normed, stats), mag, atol=1e-12)


def test_log_normalisation_hand_case():
    # scale = 10, eps = 1e-2: bin 1.0 -> (log(0.1 + 0.01) - log(0.01)) / (log(1.01) - log(0.01))
    mag = np.array([[0.0, 1.0, 10.0]])
    normed, stats = normalize_spectrogram(mag, method="log", eps=1e-2)
    expected = (np.log(0.11) - np.log(0.01)) / (np.log(1.01) - np.log(0.01))
    np.testing.assert_allclose(normed, [[0.0, expected, 1.0]], atol=1e-12)
    assert stats == {"method": "log", "scale": 10.0, "eps": 1e-2}
    np.testing.assert_allclose(normalize_spectrogram(mag)[0], [[0.0, 0.1, 1.0]])


def test_normalize_spectrogram_refuses_bad_input():
    with pytest.raises(ValueError, match="all zeros"):
        normalize_spectrogram(np.zeros((4, 5)))
    with pytest.raises(ValueError, match="all zeros"):
        normalize_spectrogram(np.zeros((4, 5)), method="log")
    with pytest.raises(ValueError, match="mag must be >= 0"):
        normalize_spectrogram(-np.ones((4, 5)))
    with pytest.raises(ValueError, match="method must be one of"):
        normalize_spectrogram(np.ones((4, 5)), method="db")
    with pytest.raises(ValueError, match="eps must be > 0"):
        normalize_spectrogram(np.ones((4, 5)), method="log", eps=0.0)
    with pytest.raises(ValueError, match="stats must be the dict"):
        denormalize_spectrogram(np.ones((4, 5)), {"scale": 1.0})


# ------------------------------------------------------------------------------ masks
def test_wiener_masks_hand_case():
    a, b = np.array([[1.0, 0.0, 3.0]]), np.array([[2.0, 0.0, 0.0]])
    m2 = wiener_masks([a, b])  # |S|^2 ratios
    np.testing.assert_allclose(m2, [[[0.2, 0.5, 1.0]], [[0.8, 0.5, 0.0]]])  # silent bin: 1/2
    m1 = wiener_masks(np.stack([a, b]), power=1)
    np.testing.assert_allclose(m1[:, 0, 0], [1 / 3, 2 / 3])
    # eps widens "silence": bin 0 (max 2) is now treated as silent too
    np.testing.assert_allclose(wiener_masks([a, b], eps=2.5)[:, 0, 0], [0.5, 0.5])


@settings(max_examples=30, deadline=None)
@given(
    k=st.integers(1, 4),
    power=st.floats(0.5, 50.0),
    seed=st.integers(0, 2**16),
)
def test_wiener_masks_sum_to_one(k, power, seed):
    rng = np.random.default_rng(seed)
    mags = np.abs(rng.standard_normal((k, 6, 7))) * 10.0 ** rng.uniform(-150, 150, (k, 6, 7))
    mags[:, 0, :] = 0.0  # a silent frame
    m = wiener_masks(list(mags), power=power)
    assert m.shape == (k, 6, 7)
    assert np.all((m >= 0) & (m <= 1)) and np.all(np.isfinite(m))
    np.testing.assert_allclose(m.sum(axis=0), 1.0, atol=1e-12)


def test_wiener_masks_refuse_bad_input():
    with pytest.raises(ValueError, match="estimates must be magnitudes >= 0"):
        wiener_masks([np.ones((2, 3)), -np.ones((2, 3))])
    with pytest.raises(ValueError, match=r"estimates\[0\] and estimates\[1\] must have the same"):
        wiener_masks([np.ones((2, 3)), np.ones((2, 4))])
    with pytest.raises(ValueError, match="estimates is empty"):
        wiener_masks([])
    with pytest.raises(ValueError, match="power must be > 0"):
        wiener_masks([np.ones((2, 3))], power=0)


def _two_tones(fs=8000, T=4000):
    t = np.arange(T) / fs
    s1 = np.sin(2 * np.pi * 440 * t)
    s2 = 0.5 * np.sin(2 * np.pi * 2000 * t + 1.0) * np.hanning(T)
    return np.stack([s1, s2])


def test_masks_reconstruct_the_mixture_exactly():
    rng = np.random.default_rng(5)
    fs, frame = 8000, dict(window_ms=32, hop_ms=8)
    mix = rng.standard_normal(2000)
    X = stft(mix, fs, **frame)
    guesses = [np.abs(rng.standard_normal(X.shape)) for _ in range(3)]  # arbitrary estimates
    est = apply_masks(X, wiener_masks(guesses), fs, length=mix.size, **frame)
    assert est.shape == (3, mix.size)
    assert np.max(np.abs(est.sum(axis=0) - mix)) < 1e-10


def test_oracle_masks_separate_two_tones():
    fs, frame = 8000, dict(n_fft=256, hop=64)
    src = _two_tones(fs)
    mix = src.sum(axis=0)
    masks = oracle_masks(src, fs, **frame)
    est = apply_masks(stft(mix, fs, **frame), masks, fs, length=mix.size, **frame)
    assert np.max(np.abs(est.sum(axis=0) - mix)) < 1e-10
    # tones 1.5 kHz apart hardly overlap in frequency: the ideal masks separate them well
    assert np.all(bss_eval(est, src).sdr > 30.0)


def test_apply_masks_refuses_wrong_mask_shape():
    X = stft(x300, n_fft=32, hop=8)
    with pytest.raises(ValueError, match="each mask must have the mixture_stft shape"):
        apply_masks(X, np.ones((2, X.shape[0], 5)), n_fft=32, hop=8, length=300)


# ---------------------------------------------------------------------------- metrics
T = 256


def test_perfect_estimate_hits_the_cap():
    refs = np.random.default_rng(6).standard_normal((2, T))
    res = bss_eval(refs.copy(), refs)
    for v in res:
        assert np.all(v >= 250.0) and np.all(v <= MAX_DB)
    assert sdr(refs[0], refs[0]) == MAX_DB


def test_known_orthogonal_interference_gives_exact_sir():
    s1, s2, _ = _orthonormal(3, T) * np.array([[3.0], [2.0], [1.0]])
    a = 0.1
    res = bss_eval(np.stack([s1 + a * s2, s2]), np.stack([s1, s2]))
    expected = 10 * np.log10(9.0 / (a**2 * 4.0))  # ||s1||^2 / ||a s2||^2
    np.testing.assert_allclose(res.sir[0], expected, atol=1e-9)
    np.testing.assert_allclose(res.sdr[0], expected, atol=1e-9)  # no artifact
    assert res.sar[0] > 250.0


def test_known_orthogonal_artifact_gives_exact_sar():
    s1, s2, e = _orthonormal(3, T) * np.array([[3.0], [2.0], [1.0]])
    b = 0.5
    res = bss_eval(np.stack([s1 + b * e, s2]), np.stack([s1, s2]))
    expected = 10 * np.log10(9.0 / b**2)  # ||s1||^2 / ||b e||^2
    np.testing.assert_allclose(res.sar[0], expected, atol=1e-9)
    np.testing.assert_allclose(res.sdr[0], expected, atol=1e-9)
    assert res.sir[0] > 250.0


def test_interference_and_artifact_together():
    s1, s2, e = _orthonormal(3, T, seed=7)
    a, b = 0.3, 0.2
    res = bss_eval(np.stack([s1 + a * s2 + b * e, s2 - a * s1]), np.stack([s1, s2]))
    np.testing.assert_allclose(res.sdr[0], 10 * np.log10(1 / (a**2 + b**2)), atol=1e-9)
    np.testing.assert_allclose(res.sir[0], 10 * np.log10(1 / a**2), atol=1e-9)
    np.testing.assert_allclose(res.sar[0], 10 * np.log10((1 + a**2) / b**2), atol=1e-9)
    # source 2: interference only, same ratio
    np.testing.assert_allclose(res.sir[1], 10 * np.log10(1 / a**2), atol=1e-9)


def test_estimate_equal_to_the_mixture_of_two_orthogonal_sources():
    s1, s2 = _orthonormal(2, T, seed=8) * np.array([[1.0], [0.5]])
    mix = s1 + s2
    res = bss_eval(np.stack([mix, mix]), np.stack([s1, s2]))
    # source 1 target energy 1 vs interference 0.25; source 2 the reverse
    np.testing.assert_allclose(res.sir, [10 * np.log10(4.0), 10 * np.log10(0.25)], atol=1e-9)
    np.testing.assert_allclose(res.sdr, res.sir, atol=1e-9)
    assert np.all(res.sar > 250.0)


@pytest.mark.parametrize("L", [1, 8])
def test_metrics_are_scale_invariant(L):
    rng = np.random.default_rng(9)
    refs = rng.standard_normal((3, T))
    est = refs + 0.3 * rng.standard_normal((3, T)) + 0.2 * refs[[1, 2, 0]]
    base = bss_eval(est, refs, distortion_filter_length=L)
    for c in (-3.0, 1e-3, 250.0):
        scaled = bss_eval(c * est, refs, distortion_filter_length=L)
        for v, w in zip(base, scaled):
            np.testing.assert_allclose(v, w, atol=1e-8)
    np.testing.assert_allclose(sdr(-3.0 * est, refs), sdr(est, refs), atol=1e-10)


def test_si_sdr_hand_case_and_agreement_with_bss_eval():
    s, n = _orthonormal(2, T, seed=10)
    # ||s||^2 = 1, ||n||^2 = 0.01 -> 20 dB; the factor 2 is a gain and does not count
    assert sdr(2.0 * (s + 0.1 * n), s) == pytest.approx(20.0, abs=1e-9)
    rng = np.random.default_rng(11)
    refs = rng.standard_normal((2, T))
    est = refs + 0.5 * rng.standard_normal((2, T)) + 0.3 * refs[::-1]
    np.testing.assert_allclose(bss_eval(est, refs).sdr, sdr(est, refs), atol=1e-9)


def test_filtered_projection_matches_explicit_least_squares():
    # Reference implementation: build the delayed-reference basis explicitly and call lstsq.
    rng = np.random.default_rng(12)
    K, n, L = 2, 120, 5
    refs = rng.standard_normal((K, n))
    est = rng.standard_normal((K, n)) + refs
    res = bss_eval(est, refs, distortion_filter_length=L)

    def delayed(s):  # (n + L - 1, L): column a is s delayed by a samples
        return np.stack([np.r_[np.zeros(a), s, np.zeros(L - 1 - a)] for a in range(L)], axis=1)

    def project(basis, y):
        return basis @ np.linalg.lstsq(basis, y, rcond=None)[0]

    A_all = np.concatenate([delayed(r) for r in refs], axis=1)
    for k in range(K):
        y = np.r_[est[k], np.zeros(L - 1)]
        target = project(delayed(refs[k]), y)
        p_all = project(A_all, y)
        interf, artif = p_all - target, y - p_all
        db = lambda a, b: 10 * np.log10(np.sum(a**2) / np.sum(b**2))  # noqa: E731
        np.testing.assert_allclose(res.sdr[k], db(target, interf + artif), atol=1e-8)
        np.testing.assert_allclose(res.sir[k], db(target, interf), atol=1e-8)
        np.testing.assert_allclose(res.sar[k], db(target + interf, artif), atol=1e-8)


def test_filter_length_allows_short_filters_as_distortion():
    rng = np.random.default_rng(13)
    refs = rng.standard_normal((2, 1000))
    h = np.array([0.5, -0.3, 0.2, 0.1])  # an FIR filter of length 4
    est = np.stack([np.convolve(r, h)[:1000] for r in refs])
    # The filtered signal's 3-sample tail is cut off, so the estimate is not exactly in the
    # span (the cut tail counts as artifact): SDR is good but finite (~32 dB here).  With L = 1
    # the filter itself is an error.
    assert np.all(bss_eval(est, refs, distortion_filter_length=4).sdr > 25.0)
    assert np.all(bss_eval(est, refs, distortion_filter_length=1).sdr < 10.0)
    # With the tail kept (references padded by 3 zeros) the estimate is exactly in the span.
    padded = np.pad(refs, ((0, 0), (0, 3)))
    est_full = np.stack([np.convolve(r, h)[:1003] for r in padded])
    assert np.all(bss_eval(est_full, padded, distortion_filter_length=4).sdr > 150.0)


def test_metrics_refuse_bad_input():
    refs = np.random.default_rng(14).standard_normal((2, T))
    zero = refs.copy()
    zero[1] = 0.0
    with pytest.raises(ValueError, match=r"references\[1\] is all zeros"):
        bss_eval(refs, zero)
    with pytest.raises(ValueError, match=r"estimates\[1\] is all zeros"):
        bss_eval(zero, refs)
    with pytest.raises(ValueError, match="same shape"):
        bss_eval(refs[:, :-1], refs)
    with pytest.raises(ValueError, match="estimates must have 2 dimensions"):
        bss_eval(refs[0], refs)
    with pytest.raises(ValueError, match="distortion_filter_length must be < the signal length"):
        bss_eval(refs, refs, distortion_filter_length=T)
    with pytest.raises(ValueError, match="distortion_filter_length must be >= 1"):
        bss_eval(refs, refs, distortion_filter_length=0)
    with pytest.raises(ValueError, match=r"reference\[0\] is all zeros"):
        sdr(refs[0], np.zeros(T))
    with pytest.raises(ValueError, match=r"estimate\[0\] is all zeros"):
        sdr(np.zeros(T), refs[0])
    with pytest.raises(ValueError, match="same shape"):
        sdr(refs[0], refs[0, :-1])


def test_estimate_orthogonal_to_every_reference():
    s1, s2, e = _orthonormal(3, T, seed=15)
    res = bss_eval(np.stack([e, s2]), np.stack([s1, s2]))
    # no target at all (up to round-off): the scores sit at or near the -MAX_DB floor
    assert -MAX_DB <= res.sdr[0] < -250.0
    assert -MAX_DB <= res.sar[0] < -250.0
    assert res.sdr[1] > 250.0


@pytest.mark.parametrize("L", [1, 4])
def test_linearly_dependent_references_still_project(L):
    # Two identical references make the Gram matrix singular; the pseudo-inverse still finds
    # the projection, so the scores stay finite and correct.
    s, n = _orthonormal(2, T, seed=16)
    res = bss_eval(np.stack([s + 0.1 * n, 2.0 * s]), np.stack([s, s]), distortion_filter_length=L)
    assert np.all(np.isfinite(res.sdr))
    assert res.sdr[0] == pytest.approx(20.0, abs=0.5 if L > 1 else 1e-9)
    assert res.sdr[1] > 250.0
