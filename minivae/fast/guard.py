"""Compiled twin of the fail-safe check :func:`minivae.train.guard.first_bad_array`.

``fit`` checks after every backward pass that each gradient is finite, and after every
optimizer step that each parameter is finite and within ``+-PARAM_LIMIT``.  The reference does
this with NumPy reductions (``np.isfinite(g).all()``: a pass that writes a bool array and a
pass over it; ``min`` and ``max``: two passes).  The twin reads each array once, in one
compiled, vectorized loop with no temporary: ``|x| <= bound`` is false exactly for an entry
that is NaN or beyond the bound, and with ``bound`` the largest finite number of the dtype
exactly for NaN and +-inf.

The comparison runs in the array's dtype with the bound rounded *down* to that dtype: for x in
that dtype, ``x <= limit`` (compared in float64, as the reference does) holds exactly when
``x <= bound``.  So the answer is the reference's for every input (``tests/test_fast_guard.py``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numba import njit

from minivae.train.guard import check_limit_args
from minivae.train.guard import first_bad_array as _marked

_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


@njit(cache=True, error_model="numpy", boundscheck=False, nogil=True)
def _all_within(a, bound):  # type: ignore[no-untyped-def]
    """True when every entry of the flat array ``a`` satisfies |x| <= bound (NaN does not).
    (No early exit: the branch-free loop vectorizes; a bad array is the rare case.)"""
    ok = True
    for k in range(a.shape[0]):
        ok &= abs(a[k]) <= bound
    return ok


def _bound(dtype: np.dtype, limit: float) -> np.floating:
    """The largest number of ``dtype`` that is <= limit (finite: inf -> the largest finite)."""
    if limit == math.inf:
        return dtype.type(np.finfo(dtype).max)
    with np.errstate(over="ignore"):
        bound = dtype.type(limit)  # the nearest; may round up (or overflow to inf)
    if float(bound) > limit:
        bound = np.nextafter(bound, dtype.type(0))
    return bound


def first_bad_array(arrays: Sequence[np.ndarray], limit: float) -> int:
    """Twin of :func:`minivae.train.guard.first_bad_array` (same arguments and result)."""
    limit = check_limit_args(arrays, limit)
    for i, a in enumerate(arrays):
        if a.size == 0:
            continue
        if a.dtype in _DTYPES and a.flags.c_contiguous:
            bad = not _all_within(a.reshape(-1), _bound(a.dtype, limit))
        else:  # another float type (float16), or a strided view: the reference's test
            bad = _marked.reference([a], limit) == 0
        if bad:
            return i
    return -1
