"""Scratch buffers for the compiled twins, reused from call to call, and safely.

Why: an LSTM forward keeps (T, N, 4H) arrays for its backward, several MB.  Allocated afresh at
every call, every first touch of one of their 4 KiB pages is a page fault, which measured as
much time as the arithmetic of the forward pass.  So the twins take these arrays from a pool.

When a buffer may be reused: a forward takes its buffers through a :class:`Lease` that it stores
in the cache it returns; the lease gives them back to the pool when it is garbage, i.e. when
nothing can read that cache any more (its backward has run and its owner dropped it, or it was
never going to be backpropagated).  So a buffer is never handed out while a cache that holds it
is alive.  Only arrays that stay inside a cache may be leased, never arrays returned to a
caller.

The pool keeps at most :data:`MAX_POOLED_BYTES` of free buffers (the most recently returned).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

#: upper bound on the bytes of free buffers the pool keeps
MAX_POOLED_BYTES = 256 * 2**20

_Key = tuple[tuple[int, ...], str]
_free: OrderedDict[_Key, list[np.ndarray]] = OrderedDict()
_free_bytes = 0
_lock = threading.RLock()  # a cache may die in any thread (re-entrant: or inside the gc)


class Lease:
    """Buffers borrowed from the pool for one cache; returned when the lease is garbage."""

    __slots__ = ("_arrays",)

    def __init__(self) -> None:
        self._arrays: list[np.ndarray] = []

    def take(self, shape: tuple[int, ...], dtype: object) -> np.ndarray:
        """An uninitialised C-contiguous array of ``shape`` and ``dtype`` for this lease."""
        global _free_bytes
        key = (tuple(int(s) for s in shape), np.dtype(dtype).str)
        with _lock:
            stack = _free.get(key)
            buf = stack.pop() if stack else None
            if buf is not None:
                _free_bytes -= buf.nbytes
        if buf is None:
            buf = np.empty(key[0], dtype=dtype)
        self._arrays.append(buf)
        return buf

    def __del__(self) -> None:
        try:
            _give_back(self._arrays)
        except Exception:  # pragma: no cover - interpreter shutdown: nothing left to reuse
            pass


def _give_back(arrays: list[np.ndarray]) -> None:
    global _free_bytes
    with _lock:
        for buf in arrays:
            key = (buf.shape, buf.dtype.str)
            _free.setdefault(key, []).append(buf)
            _free.move_to_end(key)
            _free_bytes += buf.nbytes
        while _free_bytes > MAX_POOLED_BYTES and _free:
            _, stack = _free.popitem(last=False)  # the least recently returned shape goes first
            _free_bytes -= sum(b.nbytes for b in stack)


def clear() -> None:
    """Drop every free buffer (their memory goes back to the allocator)."""
    global _free_bytes
    with _lock:
        _free.clear()
        _free_bytes = 0
