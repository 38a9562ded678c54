"""Inference mode: no backward caches, and long inputs processed in bounded chunks.

Training needs every intermediate value of a forward pass for the backward pass: an LSTM over
T steps keeps about eight numbers per hidden unit and step (gates, states, tanh(c)), which for
4096 sequences of 5000 steps and H = 64 is 40 GB in float32.  Encoding, reconstructing,
sampling and scoring need none of it, so they run in *inference mode*:

* every layer is in eval mode (``layer.training`` is False), in which
  :meth:`~minivae.nn.layer.Layer.save_for_backward` keeps nothing;
* the sequence layers work on chunks of at most :data:`BATCH_ROWS` sequences and, for long
  sequences, on chunks of time steps, carrying the LSTM state ``(h, c)`` from one chunk to the
  next.  Step t of a chunk computes exactly what step t of the whole sequence computes, so the
  results are the same numbers (the tests hold them to 1e-12), and the memory a chunk needs is
  bounded by :data:`CHUNK_ELEMENTS` whatever N and T are.

``with inference(model): ...`` runs a block this way and then restores each layer's previous
mode; the models' public inference methods (``encode``, ``reconstruct``, ``sample``,
``per_example_loss``, ...) run under it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from minivae._validation import check_positive_int
from minivae.nn.layer import Layer

#: at most this many rows (sequences, or examples) go through a sequence layer at a time
BATCH_ROWS = 1024
#: a chunk of ``rows`` sequences and ``steps`` time steps of a layer of width H keeps about
#: 8 * rows * steps * H numbers; rows * steps * H stays at most this.  512K: 16 MB of float32 per
#: chunk, its largest array (the gates, 4 * 512K numbers) 8 MB in float32 and 16 MB in float64,
#: under glibc's largest mmap threshold (32 MiB), so freed chunk buffers are reused by the next
#: chunk instead of being mapped afresh (measured, N = 1024, T = 500, H = 64: 2.3x fewer page
#: faults than with 2M, and a fifth of the system time)
CHUNK_ELEMENTS = 1 << 19


@contextmanager
def inference(layer: Layer) -> Iterator[Layer]:
    """Run a block with ``layer`` (and every layer below it) in eval mode, then put each layer
    back in the mode it was in (so a model in the middle of training stays in training mode)."""
    previous = [(sub, sub.training) for sub in layer.sublayers()]
    layer.eval()
    try:
        yield layer
    finally:
        for sub, mode in previous:
            sub.training = mode


def chunk_shape(N: int, T: int, width: int) -> tuple[int, int]:
    """(rows, steps) of the chunks in which to run N sequences of T steps through a layer of
    ``width`` hidden units: up to :data:`BATCH_ROWS` rows, and as many steps as
    :data:`CHUNK_ELEMENTS` allows (at least 1)."""
    N, T, width = _sizes(N, T, width)
    rows = max(1, min(N, BATCH_ROWS))
    steps = max(1, min(T, CHUNK_ELEMENTS // (rows * width)))
    return rows, steps


def _sizes(N: int, T: int, width: int) -> tuple[int, int, int]:
    """N >= 0 sequences (an empty batch is fine), T >= 1 steps, width >= 1 units."""
    return (check_positive_int(N, "N", minimum=0), check_positive_int(T, "T"),
            check_positive_int(width, "width"))


def whole_sequence_rows(N: int, T: int, width: int) -> int:
    """Rows per chunk for a layer that must see all T steps at once (the autoregressive decoder):
    as many as :data:`CHUNK_ELEMENTS` allows, at least 1, at most :data:`BATCH_ROWS`."""
    N, T, width = _sizes(N, T, width)
    return max(1, min(N, BATCH_ROWS, CHUNK_ELEMENTS // (T * width)))


def chunks(n: int, size: int) -> Iterator[slice]:
    """Consecutive slices of length ``size`` (the last may be shorter) covering range(n)."""
    # checked here, at the call, not lazily at the first ``next``
    n = check_positive_int(n, "n", minimum=0)
    size = check_positive_int(size, "size")
    return _slices(n, size)


def _slices(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))
