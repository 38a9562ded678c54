"""Numba kernels for the hot loops (LSTM over a sequence, one LSTM step, the Adam update).

Importing this package never imports Numba: the kernels live in submodules that are loaded on
first use through :func:`numba_kernels`, which layers call only when the Numba backend is
selected (``minivae.fast.backend.use_numba()``).  So ``import minivae`` works without Numba, and a
NumPy-only run never pays Numba's import or compile time.

Usage from a layer::

    from minivae.fast import backend
    from minivae.fast import numba_kernels

    if backend.use_numba():
        k = numba_kernels()
        hs, hT, cT, cache = k.lstm_forward(x, h0, c0, Wx, Wh, b, valid)
        dx, dh0, dc0, dWx, dWh, db = k.lstm_backward(dhs, dhT, dcT, cache, Wx, Wh)

Each kernel compiles lazily per dtype on its first call (float32 and float64 both supported)
and is cached on disk (``NUMBA_CACHE_DIR``), so later processes load it in well under a second.
"""

from __future__ import annotations

from types import SimpleNamespace

_KERNELS: SimpleNamespace | None = None


def numba_kernels() -> SimpleNamespace:
    """The Numba kernels, imported on first call.

    Returns a namespace with:

    * ``lstm_forward(x, h0, c0, Wx, Wh, b, valid=None, workspace=None) -> (hs, hT, cT, cache)``
    * ``lstm_backward(dhs, dhT, dcT, cache, Wx, Wh, workspace=None)``
      ``-> (dx, dh0, dc0, dWx, dWh, db)``
      (``workspace``: a dict the caller keeps, so the large internal buffers are reused)
    * ``lstm_step_forward(x_t, h_prev, c_prev, Wx, Wh, b) -> (h, c, cache)``
    * ``lstm_step_backward(dh, dc, cache) -> (dx, dh_prev, dc_prev, dWx, dWh, db)``
    * ``ar_decoder_forward(X, feed, h0, c0, Wx, Wh, b, Wout, bout, T, workspace=None)``
      ``-> (out, cache)`` and ``ar_decoder_backward(dout, cache, Wx, Wh, Wout)``
      ``-> (dh0, dc0, dWx, dWh, db, dWout, dbout)``: a one-layer autoregressive decoder
      (prediction fed back) in one call
    * ``adam_update(param, grad, m, v, lr, beta1, beta2, eps, t, weight_decay, decoupled)``
    * ``LSTMSeqCache`` (the cache type of the sequence kernels)

    Raises ImportError with an install hint when Numba is missing.
    """
    global _KERNELS
    if _KERNELS is None:
        try:
            from minivae.fast import adam, lstm
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                "the Numba kernels need numba (pip install numba), or select the NumPy backend: "
                "MINIVAE_BACKEND=numpy / minivae.fast.backend.set_backend('numpy')"
            ) from exc
        _KERNELS = SimpleNamespace(
            lstm_forward=lstm.lstm_forward,
            lstm_backward=lstm.lstm_backward,
            lstm_step_forward=lstm.lstm_step_forward,
            lstm_step_backward=lstm.lstm_step_backward,
            ar_decoder_forward=lstm.ar_decoder_forward,
            ar_decoder_backward=lstm.ar_decoder_backward,
            adam_update=adam.adam_update,
            LSTMSeqCache=lstm.LSTMSeqCache,
        )
    return _KERNELS


__all__ = ["numba_kernels"]
