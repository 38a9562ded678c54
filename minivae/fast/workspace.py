"""Scratch buffers for the compiled twins, reused from call to call, and safely.

Why: an LSTM forward keeps (T, N, 4H) arrays for its backward, several MB.  Memory the process
has not touched yet costs a page fault per 4 KiB page on first use.  With one fixed batch shape
glibc's allocator hands the same heap blocks back call after call, so fresh arrays cost nothing
(measured, W2 training step: 1 page fault per step with or without this pool).  But a real
training run mixes shapes — a smaller last batch every epoch, validation and ``reconstruct``
passes — and then the freed blocks no longer fit: measured on an LSTM-VAE (H = 64, T = 100)
alternating batches of 64 and 50 and a 200-sequence reconstruct, about 4,000 page faults and
16 ms of kernel time per iteration (10% of it) without the pool, 130 faults and 1 ms with it.
(The per-layer workspaces this replaces were re-allocated at every shape change: 3,500 faults.)

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
