"""Scratch buffers a layer lends to its compute functions and gets back at the next call."""

from __future__ import annotations

import numpy as np


def buffer(
    workspace: dict[str, np.ndarray] | None, name: str, shape: tuple[int, ...], dtype: object
) -> np.ndarray:
    """An uninitialised array, reused from ``workspace`` when one of that name, shape and dtype is
    there (else allocated and stored under ``name``); a fresh array when ``workspace`` is None.

    Why: an LSTM's per-sequence caches, (T, N, 4H) arrays, are several MB.  Allocated afresh at
    every call, every first touch of one of their 4 KiB pages is a page fault, which measured
    as much time as the arithmetic of the forward pass.  Only ever use it for arrays that stay
    inside the owner (caches, scratch), never for arrays handed back to a caller, who could
    otherwise see them overwritten by the next call.
    """
    if workspace is None:
        return np.empty(shape, dtype=dtype)
    buf = workspace.get(name)
    if buf is None or buf.shape != shape or buf.dtype != dtype:
        buf = workspace[name] = np.empty(shape, dtype=dtype)
    return buf
