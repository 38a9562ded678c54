"""The fail-safe check ``first_bad_array`` (minivae.train.guard) and its compiled twin
(minivae.fast.guard) give the same answer on every input, at and around the limit, for NaN,
+-inf, float32 / float64 and arrays the twin hands back to the reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minivae.train import guard

pytest.importorskip("numba")

from minivae.fast import guard as fast_guard  # noqa: E402

REFERENCE = guard.first_bad_array.reference
TWIN = fast_guard.first_bad_array
SPECIALS = [0.0, -0.0, 1.0, 1e6, -1e6, np.nextafter(1e6, 2e6), -np.nextafter(1e6, 2e6),
            1e6 + 0.3, 3e38, 1e300, math.inf, -math.inf, math.nan]


def both(arrays, limit):
    want = REFERENCE(arrays, limit)
    assert TWIN(arrays, limit) == want
    return want


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["float32", "float64", "float16"]),
                          st.integers(0, 40), st.lists(st.sampled_from(SPECIALS), max_size=3),
                          st.booleans()), min_size=0, max_size=5),
       st.sampled_from([1e6, 1e6 + 0.3, 1e6 - 0.03, 0.5, 1e300, math.inf]),
       st.integers(0, 2**32 - 1))
def test_twin_equals_reference(specs, limit, seed):
    rng = np.random.default_rng(seed)
    arrays = []
    for dtype, n, specials, strided in specs:
        with np.errstate(over="ignore"):
            a = (rng.standard_normal(n + len(specials)) * 10).astype(dtype)
            for value in specials:
                a[rng.integers(0, len(a))] = np.asarray(value).astype(dtype)
        arrays.append(a[::2] if strided else a.reshape(-1, 1) if n % 2 else a)
    both(arrays, limit)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_answers(dtype):
    ok = np.ones((3, 4), dtype=dtype)
    for value, limit, want in [(1.0, math.inf, -1), (math.nan, math.inf, 1),
                               (math.inf, math.inf, 1), (-math.inf, 1e6, 1), (1e6, 1e6, -1),
                               (-1e6, 1e6, -1), (2e6, 1e6, 1), (math.nan, 1e6, 1),
                               (3e38, math.inf, -1)]:
        bad = ok.copy()
        bad[1, 2] = value
        assert both([ok, bad, bad], limit) == want, (value, limit)
    assert both([], 1e6) == -1
    assert both([np.zeros(0, dtype=dtype), ok], 1e6) == -1


def test_the_limit_is_compared_exactly_in_float32():
    # 1e6 + 0.3 is not a float32: the float32 just above it is beyond the limit, the one below
    # is within; the twin compares in float32 with the limit rounded down, the reference in
    # float64, and they agree.
    above = np.float32(1e6 + 0.3)
    if float(above) < 1e6 + 0.3:
        above = np.nextafter(above, np.float32(2e6))
    below = np.nextafter(above, np.float32(0))
    assert both([np.array([above])], 1e6 + 0.3) == 0
    assert both([np.array([below])], 1e6 + 0.3) == -1


@pytest.mark.parametrize("fn", [REFERENCE, TWIN])
def test_bad_arguments(fn):
    with pytest.raises(TypeError, match="arrays must be a list or tuple"):
        fn(np.ones(3), 1.0)
    with pytest.raises(TypeError, match=r"arrays\[1\] must be a float numpy array"):
        fn([np.ones(3), np.ones(3, dtype=int)], 1.0)
    with pytest.raises(TypeError, match=r"arrays\[0\] must be a float numpy array"):
        fn([[1.0, 2.0]], 1.0)
    with pytest.raises(ValueError, match="limit must be > 0"):
        fn([np.ones(3)], 0.0)
    with pytest.raises(ValueError, match="limit must be > 0"):
        fn([np.ones(3)], math.nan)
    with pytest.raises(TypeError, match="limit must be a real number"):
        fn([np.ones(3)], "1e6")


def test_training_reports_the_same_problems_on_both_backends():
    from minivae.fast.backend import use_backend
    triples = [("a", np.ones(3), np.ones(3)), ("b", np.array([1.0, 2e6]), np.array([np.nan, 1.0])),
               ("c", np.array([np.inf]), np.array([np.inf]))]
    results = []
    for backend in ("numpy", "numba"):
        with use_backend(backend):
            results.append((guard.bad_gradient(triples), guard.bad_parameter(triples)))
    assert results[0] == results[1]
    assert results[0][0][0] == "gradient of 'b'" and "1 more" in results[0][0][2]
    assert results[0][1][0] == "parameter 'b'" and "2e+06" in results[0][1][2]
