"""The compiled twin of the autoregressive decoder loop.

:func:`autoregressive_forward` / :func:`autoregressive_backward` are the twins of
:func:`minivae.nn.decoders.autoregressive_forward` / ``autoregressive_backward`` (same
signatures, the same numbers to 1e-12 in float64: ``tests/test_fast_parity.py``).  The forward
picks the fastest computation that equals the reference loop for its inputs:

* **every input teacher forced** (``feed_true[:, 1:]`` all True, or T = 1): no prediction is
  fed back, so all T inputs — the start token, then ``x[:, :-1]`` — are known before the first
  step and the decoder is an ordinary stacked LSTM over them: one compiled sequence call per
  layer (:func:`minivae.fast.lstm.lstm_forward`) and one matrix product for all N*T outputs;
* **one layer**, predictions fed back: the whole feedback loop in one compiled call per batch
  chunk (:func:`minivae.fast.lstm.ar_decoder_forward`);
* **otherwise** (stacked layers with predictions fed back): the reference loop itself, whose
  step functions run their compiled twins.

The backward consumes the forward's own cache (:class:`TwinDecoderCache`, which records the
path); it refuses a cache made by the reference, and the reference refuses this one.
"""

from __future__ import annotations

import numpy as np

from minivae.fast import lstm
from minivae.nn import decoders as reference

CellParams = tuple[np.ndarray, np.ndarray, np.ndarray]


class TwinDecoderCache:
    """The path the forward took (``"sequence"``, ``"kernel"`` or ``"reference"``) and its
    cache."""

    __slots__ = ("path", "data")

    def __init__(self, path: str, data: object) -> None:
        self.path, self.data = path, data


def autoregressive_forward(
    h0s: list[np.ndarray],
    c0s: list[np.ndarray],
    cells: list[CellParams],
    W: np.ndarray,
    b: np.ndarray,
    T: int,
    x: np.ndarray | None = None,
    feed_true: np.ndarray | None = None,
) -> tuple[np.ndarray, TwinDecoderCache]:
    """Twin of :func:`minivae.nn.decoders.autoregressive_forward` (see there and the module
    docstring for the paths)."""
    reference.check_decoder_args(h0s, c0s, cells, W, b, x, feed_true)  # the reference's checks
    if feed_true is not None and bool(feed_true[:, 1:].all()):
        return _teacher_forced_forward(h0s, c0s, cells, W, b, x)  # type: ignore[arg-type]
    if len(cells) == 1:
        y, cache = lstm.ar_decoder_forward(h0s[0], c0s[0], cells[0], W, b, T, x, feed_true)
        return y, TwinDecoderCache("kernel", cache)
    y, cache = reference.autoregressive_forward.reference(h0s, c0s, cells, W, b, T, x, feed_true)
    return y, TwinDecoderCache("reference", cache)


def autoregressive_backward(
    dy: np.ndarray, cache: TwinDecoderCache
) -> tuple[list[np.ndarray], list[np.ndarray], list[CellParams], np.ndarray, np.ndarray]:
    """Twin of :func:`minivae.nn.decoders.autoregressive_backward`."""
    if not isinstance(cache, TwinDecoderCache):
        raise lstm._cache_error("autoregressive_backward", cache,
                                "TwinDecoderCache of autoregressive_forward")
    if cache.path == "sequence":
        return _teacher_forced_backward(dy, *cache.data)
    if cache.path == "kernel":
        dh0, dc0, dcell, dW, db = lstm.ar_decoder_backward(dy, cache.data)
        return [dh0], [dc0], [dcell], dW, db
    return reference.autoregressive_backward.reference(dy, cache.data)


def _teacher_forced_forward(h0s, c0s, cells, W, b, x):  # type: ignore[no-untyped-def]
    """Every input known in advance: a stacked LSTM over [start token, x_0 .. x_{T-2}]."""
    N, T, _ = x.shape
    u = np.empty_like(x)
    u[:, 0] = 0.0  # the start token
    u[:, 1:] = x[:, :-1]
    caches = []
    hs = u
    for (Wx, Wh, bl), h0, c0 in zip(cells, h0s, c0s):
        hs, _, _, layer_cache = lstm.lstm_forward(hs, h0, c0, Wx, Wh, bl)
        caches.append(layer_cache)
    H = hs.shape[2]
    y = hs.reshape(N * T, H) @ W  # one product for every step
    y += b
    return y.reshape(N, T, -1), TwinDecoderCache("sequence", (caches, hs, W))


def _teacher_forced_backward(dy, caches, top, W):  # type: ignore[no-untyped-def]
    N, T, H = top.shape
    dy2 = dy.reshape(N * T, -1)
    dW = top.reshape(N * T, H).T @ dy2
    db = dy2.sum(axis=0)
    d = (dy2 @ W.T).reshape(N, T, H)
    dh0s, dc0s, dcells = [], [], []
    for layer_cache in reversed(caches):
        # layer l's input gradient is layer l-1's output gradient; the bottom layer's (w.r.t.
        # the data fed in) is not needed but comes with the call
        d, dh0, dc0, dWx, dWh, dbl = lstm.lstm_backward(d, None, None, layer_cache)
        dh0s.insert(0, dh0)
        dc0s.insert(0, dc0)
        dcells.insert(0, (dWx, dWh, dbl))
    return dh0s, dc0s, dcells, dW, db
