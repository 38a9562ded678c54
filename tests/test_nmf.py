"""Supervised NMF (minivae.apps.nmf): monotone objective, separation of known sources, seeds."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minivae.apps.nmf import NMFSeparator, nmf, nmf_objective
from minivae.apps.signal import bss_eval


@settings(max_examples=15, deadline=None)
@given(
    F=st.integers(2, 12), N=st.integers(1, 15), R=st.integers(1, 5),
    divergence=st.sampled_from(["kl", "euclidean"]), seed=st.integers(0, 10_000),
    sparse=st.booleans(),
)
def test_objective_never_increases(F, N, R, divergence, seed, sparse):
    rng = np.random.default_rng(seed)
    V = rng.random((F, N))
    if sparse:  # exact zeros exercise the 0 log 0 convention
        V[rng.random((F, N)) < 0.4] = 0.0
    res = nmf(V, R, divergence=divergence, n_iter=60, tol=0.0, rng=seed)
    steps = np.diff(res.objective)
    # Lee & Seung's updates never increase D; allow round-off relative to the objective's size.
    assert np.all(steps <= 1e-10 * (1.0 + res.objective[:-1])), steps.max()
    assert res.objective[-1] < res.objective[0] or res.objective[0] < 1e-12
    assert np.all(res.W >= 0) and np.all(res.H >= 0)
    assert np.isclose(res.objective[-1], nmf_objective(V, res.W @ res.H, divergence))


@pytest.mark.parametrize("divergence", ["kl", "euclidean"])
def test_fixed_dictionary_objective_never_increases_and_W_untouched(divergence):
    rng = np.random.default_rng(3)
    W = rng.random((10, 4))
    V = W @ rng.random((4, 20)) + 0.01 * rng.random((10, 20))
    res = nmf(V, W=W, divergence=divergence, n_iter=100, tol=0.0, rng=0)
    assert np.array_equal(res.W, W)
    assert np.all(np.diff(res.objective) <= 1e-10 * (1.0 + res.objective[:-1]))
    assert res.objective[-1] < 0.05 * res.objective[0]


def _disjoint_dictionaries(rng, F=24, R=3):
    """Source 1 lives on bins [0, F/2), source 2 on [F/2, F): known, disjoint templates."""
    W1, W2 = np.zeros((F, R)), np.zeros((F, R))
    W1[: F // 2] = rng.random((F // 2, R)) + 0.1
    W2[F // 2 :] = rng.random((F - F // 2, R)) + 0.1
    return W1, W2


@pytest.mark.parametrize("divergence", ["kl", "euclidean"])
def test_separates_mixture_of_known_disjoint_dictionaries(divergence):
    rng = np.random.default_rng(11)
    W1, W2 = _disjoint_dictionaries(rng)
    # Learn each dictionary from that source's own "training spectrogram" ...
    learned = [nmf(W @ rng.random((3, 200)), 3, divergence=divergence, n_iter=500, tol=1e-9,
                   rng=1).W for W in (W1, W2)]
    # ... then, on a fresh mixture, fix the stacked dictionary and learn the activations.
    V1, V2 = W1 @ rng.random((3, 40)), W2 @ rng.random((3, 40))
    res = nmf(V1 + V2, W=np.concatenate(learned, axis=1), divergence=divergence,
              n_iter=500, tol=1e-12, rng=2)
    est1, est2 = learned[0] @ res.H[:3], learned[1] @ res.H[3:]
    for est, true in ((est1, V1), (est2, V2)):
        assert np.linalg.norm(est - true) / np.linalg.norm(true) < 1e-2
    # An untrained split (the mixture halved) is far worse: the test can fail.
    assert np.linalg.norm((V1 + V2) / 2 - V1) / np.linalg.norm(V1) > 0.3


def _band_sources(rng, fs=8000.0, T=8000):
    """A low source (tones in 200-800 Hz) and a high one (2-3.5 kHz), amplitude-modulated."""
    t = np.arange(T) / fs

    def band(lo, hi):
        x = sum(rng.uniform(0.5, 1.0) * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
                for f in rng.uniform(lo, hi, 3))
        return x * (1.0 + 0.8 * np.sin(2 * np.pi * rng.uniform(1, 3) * t))

    return np.stack([band(200, 800), band(2000, 3500)])


def test_separator_separates_signals_with_disjoint_spectra():
    rng = np.random.default_rng(0)
    train = np.stack([_band_sources(rng) for _ in range(4)])
    test = _band_sources(rng)
    sep = NMFSeparator(8000.0, window_ms=32.0, n_components=8, n_iter=100, rng=0).fit(train)
    est = sep.separate(test.sum(axis=0))
    assert est.shape == test.shape
    np.testing.assert_allclose(est.sum(axis=0), test.sum(axis=0), atol=1e-9)  # masks sum to 1
    scores = bss_eval(est, test)
    assert np.all(scores.sdr > 20.0), scores
    # The same separator with the dictionaries swapped separates into the wrong slots.
    sep.dictionaries = sep.dictionaries[::-1]
    assert np.all(bss_eval(sep.separate(test.sum(axis=0)), test).sdr < 0.0)


def test_reproducible_by_seed():
    V = np.random.default_rng(5).random((15, 30))
    a = nmf(V, 4, n_iter=50, rng=7)
    b = nmf(V, 4, n_iter=50, rng=np.random.default_rng(7))
    c = nmf(V, 4, n_iter=50, rng=8)
    assert np.array_equal(a.W, b.W) and np.array_equal(a.H, b.H)
    assert not np.allclose(a.W, c.W)
    train = _band_sources(np.random.default_rng(1))[None]
    d1 = NMFSeparator(8000.0, window_ms=32.0, n_components=4, n_iter=30, rng=3).fit(train)
    d2 = NMFSeparator(8000.0, window_ms=32.0, n_components=4, n_iter=30, rng=3).fit(train)
    for w1, w2 in zip(d1.dictionaries, d2.dictionaries):
        assert np.array_equal(w1, w2)


def test_tolerance_stops_early_and_n_iter_caps():
    V = np.random.default_rng(2).random((10, 10))
    assert len(nmf(V, 3, n_iter=1000, tol=1e-2, rng=0).objective) < 1001
    assert len(nmf(V, 3, n_iter=7, tol=0.0, rng=0).objective) == 8


def test_bad_inputs_are_named():
    V = np.ones((4, 5))
    with pytest.raises(ValueError, match="V must be non-negative"):
        nmf(-V, 2)
    with pytest.raises(ValueError, match="n_components"):
        nmf(V)
    with pytest.raises(ValueError, match="divergence"):
        nmf(V, 2, divergence="is")
    with pytest.raises(ValueError, match="W must have shape"):
        nmf(V, W=np.ones((3, 2)))
    with pytest.raises(ValueError, match="W must be non-negative"):
        nmf(V, W=-np.ones((4, 2)))
    with pytest.raises(RuntimeError, match="fit"):
        NMFSeparator(8000.0).separate(np.ones(4000))
    with pytest.raises(ValueError, match="mixture"):
        NMFSeparator(8000.0).separate(np.ones((2, 4000)))
