"""Sliding windows and re-aggregation onto the time axis."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minivae.data import sliding_windows, window_starts, windows_at, windows_to_series


@st.composite
def t_window_stride(draw, covering=True):
    """(T, window, stride); with ``covering`` the stride is <= window so windows cover all."""
    T = draw(st.integers(1, 60))
    window = draw(st.integers(1, T))
    stride = draw(st.integers(1, window if covering else 12))
    return T, window, stride


# ---------------------------------------------------------------------------------------------
# window_starts
# ---------------------------------------------------------------------------------------------


def test_window_starts_hand_worked():
    # Regular grid fits exactly: 0, 2, 4, 6 with window 4 covers T = 10.
    np.testing.assert_array_equal(window_starts(10, 4, 2), [0, 2, 4, 6])
    # Tail not on the grid: 0, 3 cover 0..6; the end-aligned window 5 covers 5..9.
    np.testing.assert_array_equal(window_starts(10, 5, 3), [0, 3, 5])
    np.testing.assert_array_equal(window_starts(10, 10, 1), [0])
    np.testing.assert_array_equal(window_starts(5, 1, 1), [0, 1, 2, 3, 4])
    np.testing.assert_array_equal(window_starts(7, 3, 10), [0, 4])


@settings(max_examples=200, deadline=None)
@given(t_window_stride(covering=False))
def test_window_starts_properties(args):
    T, window, stride = args
    starts = window_starts(T, window, stride)
    assert starts.dtype == np.int64
    assert starts[0] == 0 and starts[-1] == T - window
    assert np.all(np.diff(starts) > 0)
    # All gaps are `stride` except possibly the last (the end-aligned window, closer).
    gaps = np.diff(starts)
    if gaps.size:
        assert np.all(gaps[:-1] == stride) and 1 <= gaps[-1] <= stride
    covered = np.zeros(T, dtype=bool)
    for s in starts:
        covered[s:s + window] = True
    # The tail is always covered; with stride <= window every step is.
    assert covered[-window:].all()
    if stride <= window:
        assert covered.all()


def test_stride_larger_than_window_skips_steps():
    starts = window_starts(10, 2, 4)
    np.testing.assert_array_equal(starts, [0, 4, 8])
    x = np.arange(10.0)
    back = windows_to_series(sliding_windows(x, 2, 4)[:, :, 0], starts, 10)
    np.testing.assert_array_equal(np.isnan(back), [0, 0, 1, 1, 0, 0, 1, 1, 0, 0])
    np.testing.assert_array_equal(back[~np.isnan(back)], [0, 1, 4, 5, 8, 9])


def test_window_starts_errors():
    with pytest.raises(ValueError, match="window must be <= the series length T=5"):
        window_starts(5, 6, 1)
    with pytest.raises(ValueError, match="stride must be >= 1"):
        window_starts(5, 2, 0)
    with pytest.raises(ValueError, match="window must be >= 1"):
        window_starts(5, 0, 1)
    with pytest.raises(TypeError, match="T must be an integer"):
        window_starts(5.0, 2, 1)


# ---------------------------------------------------------------------------------------------
# sliding_windows
# ---------------------------------------------------------------------------------------------


def test_sliding_windows_hand_worked_1d():
    x = np.arange(7.0)
    w = sliding_windows(x, 3, 2)
    assert w.shape == (3, 3, 1)
    np.testing.assert_array_equal(w[:, :, 0], [[0, 1, 2], [2, 3, 4], [4, 5, 6]])
    w = sliding_windows(x, 4, 2)  # grid 0, 2 then the end-aligned window 3
    np.testing.assert_array_equal(w[:, :, 0], [[0, 1, 2, 3], [2, 3, 4, 5], [3, 4, 5, 6]])


def test_sliding_windows_2d_copy_and_nan():
    x = np.arange(20.0).reshape(10, 2)
    x[3, 1] = np.nan
    w = sliding_windows(x, 4, 3)
    assert w.shape == (3, 4, 2)
    np.testing.assert_array_equal(w[1], x[3:7])
    assert np.isnan(w[0, 3, 1]) and np.isnan(w[1, 0, 1])
    w[0, 0, 0] = 99.0  # the result is a copy: x is untouched
    assert x[0, 0] == 0.0


@settings(max_examples=100, deadline=None)
@given(t_window_stride(covering=False), st.integers(1, 3))
def test_sliding_windows_match_starts(args, D):
    T, window, stride = args
    x = np.random.default_rng(T * 100 + window).normal(size=(T, D))
    w = sliding_windows(x, window, stride)
    starts = window_starts(T, window, stride)
    assert w.shape == (starts.size, window, D)
    for i, s in enumerate(starts):
        np.testing.assert_array_equal(w[i], x[s:s + window])


def test_sliding_windows_errors():
    with pytest.raises(ValueError, match=r"window must be <= the series length T=4 .*\(4, 2\)"):
        sliding_windows(np.zeros((4, 2)), 5)
    with pytest.raises(ValueError, match="x must have 1 or 2 dimensions"):
        sliding_windows(np.zeros((2, 3, 4)), 2)
    with pytest.raises(ValueError, match="x is empty"):
        sliding_windows(np.zeros(0), 1)
    with pytest.raises(TypeError, match="x must hold real numbers"):
        sliding_windows(np.array(["a", "b"]), 1)


# ---------------------------------------------------------------------------------------------
# windows_to_series
# ---------------------------------------------------------------------------------------------


def test_windows_at_given_starts_hand_worked_and_errors():
    x = np.arange(10.0)
    w = windows_at(x, np.array([0, 4, 7]), 3)
    assert w.shape == (3, 3, 1)
    np.testing.assert_array_equal(w[:, :, 0], [[0, 1, 2], [4, 5, 6], [7, 8, 9]])
    w[0, 0, 0] = -1.0
    assert x[0] == 0.0  # a copy
    assert windows_at(x, np.array([], dtype=int), 3).shape == (0, 3, 1)
    with pytest.raises(ValueError, match=r"starts must lie in \[0, T - window\] = \[0, 7\]"):
        windows_at(x, np.array([8]), 3)
    with pytest.raises(TypeError, match="starts must hold integers"):
        windows_at(x, np.array([1.0]), 3)


@settings(max_examples=200, deadline=None)
@given(t_window_stride(), st.integers(1, 3))
def test_windows_roundtrip_reproduces_series(args, D):
    """Averaging the windows of x back onto the time axis gives x (every step is covered)."""
    T, window, stride = args
    x = np.random.default_rng(T + 7 * window).normal(size=(T, D))
    starts = window_starts(T, window, stride)
    back = windows_to_series(sliding_windows(x, window, stride), starts, T)
    assert back.shape == (T, D)
    np.testing.assert_allclose(back, x, rtol=0, atol=1e-12)
    # Per-step scores (N, window) of a 1-D series: same identity, (T,) output.
    back1 = windows_to_series(sliding_windows(x[:, 0], window, stride)[:, :, 0], starts, T)
    np.testing.assert_allclose(back1, x[:, 0], rtol=0, atol=1e-12)


@settings(max_examples=100, deadline=None)
@given(t_window_stride(), st.floats(-5, 5))
def test_constant_per_window_scores_give_constant_series(args, c):
    T, window, stride = args
    starts = window_starts(T, window, stride)
    out = windows_to_series(np.full(starts.size, c), starts, T, window=window)
    np.testing.assert_allclose(out, np.full(T, c), atol=1e-12)


def test_windows_to_series_hand_worked_overlap_average():
    # T = 5, window 3, starts 0 and 2: step 2 is covered by both windows.
    starts = np.array([0, 2])
    scores = np.array([[1.0, 2.0, 3.0], [5.0, 7.0, 9.0]])
    np.testing.assert_allclose(windows_to_series(scores, starts, 5), [1, 2, 4, 7, 9])
    # One score per window: steps 0-1 -> 10, step 2 -> mean(10, 20), steps 3-4 -> 20.
    out = windows_to_series(np.array([10.0, 20.0]), starts, 5, window=3)
    np.testing.assert_allclose(out, [10, 10, 15, 20, 20])
    # Uncovered steps are NaN; NaN scores are ignored in the average.
    out = windows_to_series(np.array([[1.0, np.nan], [3.0, 5.0]]), np.array([0, 1]), 4)
    np.testing.assert_allclose(out, [1.0, 3.0, 5.0, np.nan])
    # Duplicate starts are accumulated, not overwritten.
    out = windows_to_series(np.array([[1.0, 1.0], [3.0, 3.0]]), np.array([0, 0]), 2)
    np.testing.assert_allclose(out, [2.0, 2.0])


def test_windows_to_series_errors():
    starts = np.array([0, 2])
    with pytest.raises(ValueError, match="window must be given"):
        windows_to_series(np.ones(2), starts, 5)
    with pytest.raises(ValueError, match="one entry per window"):
        windows_to_series(np.ones((3, 3)), starts, 5)
    with pytest.raises(ValueError, match=r"starts must lie in \[0, T - window\] = \[0, 2\]"):
        windows_to_series(np.ones((2, 3)), np.array([0, 3]), 5)
    with pytest.raises(TypeError, match="starts must hold integers"):
        windows_to_series(np.ones((2, 3)), np.array([0.0, 2.0]), 5)
    with pytest.raises(ValueError, match=r"window=4 does not match scores.shape\[1\]=3"):
        windows_to_series(np.ones((2, 3)), starts, 5, window=4)
    with pytest.raises(ValueError, match="longer than the series"):
        windows_to_series(np.ones((2, 6)), starts, 5)
