"""Exercises of lesson 14 (sequence latents: one z per step, the VRNN's recurrence): write the
backward pass of one GRU step, the cell a per-step latent model may run on.  The signature is
that of the library's :mod:`minivae.nn.gru`, so the solution *is* the library's function:

* ``gru_step_backward(dh, cache) -> (dx, dh_prev, dWx, dWh, db, dbhn)``

with ``cache = (x_t, h_prev, Wx, Wh, r, z, n, hn)`` as returned by
:func:`minivae.nn.gru.gru_step_forward` (PyTorch's GRU: blocks (r, z, n) along 3H,
``hn = h_prev Wh[:, 2H:] + bhn``, ``n = tanh(x_t Wx[:, 2H:] + b[2H:] + r * hn)``,
``h = (1 - z) * n + z * h_prev``).  The checker compares every gradient with central
differences of ``L = sum(h * dh)`` and recognises the usual mistakes by name.  The library's
function is looked up when the checker runs (not when this module is imported).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from minivae.exercises.exercise import Exercise, library
from minivae.exercises.grader import ExerciseResult, Grader, Mistake, make_rng
from minivae.nn.functional import sigmoid

LESSON = "14_sequence_latents"

_GRU = "minivae.nn.gru"
STEP_BWD_SIG = ("gru_step_backward(dh, cache) -> (dx, dh_prev, dWx, dWh, db, dbhn);  dh: (N, H) "
                "= dL/dh_t; cache = (x_t, h_prev, Wx, Wh, r, z, n, hn) as returned by "
                "minivae.nn.gru.gru_step_forward (x_t: (N, D), Wx: (D, 3H), Wh: (H, 3H), gate "
                "blocks (r, z, n), hn = h_prev @ Wh[:, 2H:] + bhn); dWx: (D, 3H), dWh: (H, 3H), "
                "db: (3H,), dbhn: (H,)")
_ARGS = ("x_t", "h_prev", "Wx", "Wh", "b", "bhn")


def _step_inputs(seed: int) -> tuple[np.ndarray, ...]:
    """x_t, h_prev, Wx, Wh, b, bhn, dh with N=3, D=4, H=2 (D, H, 3H all different, so a
    transpose shows up as a wrong shape)."""
    rng = make_rng(seed)
    N, D, H = 3, 4, 2
    return (rng.standard_normal((N, D)), rng.standard_normal((N, H)),
            0.6 * rng.standard_normal((D, 3 * H)), 0.6 * rng.standard_normal((H, 3 * H)),
            0.3 * rng.standard_normal(3 * H), 0.3 * rng.standard_normal(H),
            rng.standard_normal((N, H)))


# ============================================================================ the mistakes
def _variant(x, h_prev, Wx, Wh, b, bhn, dh, *, direct=True, z_swapped=False, tanh_sq=True,
             r_in_dhn=True, bhn_in_dr=True, dz_sign=1.0):
    """The step's six gradients (from the inputs, not a cache) with a configurable mistake."""
    H = h_prev.shape[1]
    ax, ah = x @ Wx + b, h_prev @ Wh
    r = sigmoid(ax[:, :H] + ah[:, :H])
    z = sigmoid(ax[:, H:2 * H] + ah[:, H:2 * H])
    hn = ah[:, 2 * H:] + bhn
    n = np.tanh(ax[:, 2 * H:] + r * hn)
    dn = dh * (z if z_swapped else 1.0 - z)
    dz = dz_sign * dh * (h_prev - n)
    dan = dn * ((1.0 - n * n) if tanh_sq else (1.0 - n))
    dr = dan * (hn if bhn_in_dr else ah[:, 2 * H:])
    dhn = dan * r if r_in_dhn else dan
    dax = np.concatenate([dr * r * (1 - r), dz * z * (1 - z), dan], axis=1)
    dah = np.concatenate([dr * r * (1 - r), dz * z * (1 - z), dhn], axis=1)
    direct_path = dh * ((1.0 - z) if z_swapped else z) if direct else 0.0
    return (dax @ Wx.T, direct_path + dah @ Wh.T, x.T @ dax, h_prev.T @ dah, dax.sum(axis=0),
            dhn.sum(axis=0))


STEP_BWD_MISTAKES = [
    Mistake("dh_prev misses the direct path: h = (1 - z) * n + z * h_prev uses h_prev "
            "directly, so dh_prev = dh * z + (the gradient through the gates) @ Wh.T; this "
            "path (no matrix, no squashing) is why a GRU remembers",
            lambda *a: _variant(*a, direct=False)),
    Mistake("the roles of z are swapped: minivae (like PyTorch) computes h = (1 - z) * n + "
            "z * h_prev (z = 1 keeps the old state); Cho et al.'s paper writes it the other "
            "way round", lambda *a: _variant(*a, z_swapped=True)),
    Mistake("the sign of dz: dL/dz = dh * (h_prev - n), since h = n + z * (h_prev - n)",
            lambda *a: _variant(*a, dz_sign=-1.0)),
    Mistake("tanh'(a) = 1 - tanh(a)^2 = 1 - n^2 (squared), not 1 - n",
            lambda *a: _variant(*a, tanh_sq=False)),
    Mistake("the hidden part of the candidate is multiplied by r: n = tanh(... + r * hn), so "
            "d(hn) = dan * r (this reaches dWh[:, 2H:], dbhn and dh_prev)",
            lambda *a: _variant(*a, r_in_dhn=False)),
    Mistake("dr = dan * hn with hn = h_prev @ Wh[:, 2H:] + bhn: the bias bhn sits inside "
            "r * (...) (PyTorch's b_hn), use the cached hn",
            lambda *a: _variant(*a, bhn_in_dr=False)),
]


# ============================================================================ the checker
def check_gru_step_backward(fn: Callable[..., Any],
                            forward_fn: Callable[..., Any] | None = None, *,
                            raise_on_fail: bool = False, seed: int = 0) -> ExerciseResult:
    """Grade ``gru_step_backward(dh, cache) -> (dx, dh_prev, dWx, dWh, db, dbhn)``.

    The cache comes from the library's :func:`~minivae.nn.gru.gru_step_forward` (layout
    ``(x_t, h_prev, Wx, Wh, r, z, n, hn)``), or from your ``forward_fn`` with the same
    signature ``(x_t, h_prev, Wx, Wh, b, bhn) -> (h, cache)`` if you give one.  Every gradient
    is compared with central differences of ``L = sum(h * dh)`` (N=3, D=4, H=2).
    """
    g = Grader("gru_step_backward", fn, ["dx", "dh_prev", "dWx", "dWh", "db", "dbhn"],
               STEP_BWD_SIG)
    inputs = _step_inputs(seed)
    dh = inputs[6]
    step = library(f"{_GRU}:gru_step_forward")
    fwd = g.call_forward(step if forward_fn is None else forward_fn, inputs[:6])
    if fwd is not None and (not isinstance(fwd, (tuple, list)) or len(fwd) != 2):
        g.fail("forward_fn must return (h, cache)")
        fwd = None
    out = None if fwd is None else g.call({"dh": dh, "cache": fwd[-1]})
    if out is not None:
        arrays = dict(zip(_ARGS, (a.copy() for a in inputs[:6])))

        def loss() -> float:
            return float(np.sum(step(*arrays.values())[0] * dh))

        scale = float(np.sum(np.abs(step(*inputs[:6])[0] * dh)))
        for k, key in enumerate(arrays):
            g.check_grad(k, out[k], loss, arrays[key], mistakes=STEP_BWD_MISTAKES,
                         inputs=inputs, f_scale=scale)
    return g.result(raise_on_fail, "all six gradients match the numerical gradient")


EXERCISES = [
    Exercise("gru_step_backward", LESSON, STEP_BWD_SIG, check_gru_step_backward,
             f"{_GRU}:gru_step_backward", (f"{_GRU}:gru_step_forward",
                                           f"{_GRU}:gru_step_backward"),
             "SOLUTIONS['gru_step_backward'] is minivae.nn.gru.gru_step_backward, the step "
             "GRULayer and GRUCell run; the forward it inverts and its code are printed below."),
]
