"""Shared test helpers: the LSTM over a sequence as a plain loop of the step functions, and the
relative-error measure the LSTM parity tests use (imported by test_kernels.py and
test_lstm_numpy_fast.py; pytest puts this folder on sys.path)."""

from __future__ import annotations

import numpy as np

from minivae.nn.lstm import lstm_step_backward, lstm_step_forward


def rel_err(got: np.ndarray, want: np.ndarray, floor: float = 0.0) -> float:
    """max|got - want| relative to the largest entry of want (exact zeros compare exactly).

    ``floor`` bounds the scale from below: a float32 result that cancels to ~1e-4 from O(1)
    terms carries their absolute rounding error (~1e-7 sqrt(D)), so relative to itself it is
    legitimately off by more than 1e-5.
    """
    scale = max(float(np.max(np.abs(want), initial=0.0)), floor)
    diff = float(np.max(np.abs(got.astype(np.float64) - want), initial=0.0))
    return diff if scale == 0.0 else diff / scale


def reference_sequence(x, h0, c0, Wx, Wh, b, valid, dhs, dhT, dcT) -> dict[str, np.ndarray]:
    """Forward + backprop through time with the NumPy step functions of minivae.nn.lstm, in
    float64, with the padding convention (carried state, zero output, zero gradient).

    x: (N, T, D), valid: (N, T) bool, dhs: (N, T, H), dhT/dcT: (N, H) -> dict of hs, hT, cT,
    dx, dh0, dc0, dWx, dWh, db.
    """
    x, h0, c0, Wx, Wh, b, dhs, dhT, dcT = (
        np.asarray(a, dtype=np.float64) for a in (x, h0, c0, Wx, Wh, b, dhs, dhT, dcT)
    )
    N, T, _ = x.shape
    x = np.where(valid[:, :, None], x, 0.0)
    h, c = h0, c0
    hs = np.zeros((N, T, h0.shape[1]))
    caches = []
    for t in range(T):
        h_new, c_new, cache = lstm_step_forward(x[:, t], h, c, Wx, Wh, b)
        caches.append(cache)
        m = valid[:, t, None]
        h, c = np.where(m, h_new, h), np.where(m, c_new, c)
        hs[:, t] = np.where(m, h_new, 0.0)
    hT, cT = h, c
    dx = np.zeros_like(x)
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
    dh, dc = dhT, dcT
    for t in reversed(range(T)):
        m = valid[:, t, None]
        dx[:, t], dh_prev, dc_prev, dWx_t, dWh_t, db_t = lstm_step_backward(
            np.where(m, dh + dhs[:, t], 0.0), np.where(m, dc, 0.0), caches[t]
        )
        dh, dc = np.where(m, dh_prev, dh), np.where(m, dc_prev, dc)
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
    return {"hs": hs, "hT": hT, "cT": cT, "dx": dx, "dh0": dh, "dc0": dc,
            "dWx": dWx, "dWh": dWh, "db": db}
