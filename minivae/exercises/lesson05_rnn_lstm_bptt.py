"""Exercises of lesson 05 (RNNs, the LSTM, backpropagation through time): one LSTM step, its
backward, and a whole sequence forward and backward.  The signatures are those of the library's
:mod:`minivae.nn.lstm`, so the solutions *are* the library's functions:

* ``lstm_step_forward(x_t, h_prev, c_prev, Wx, Wh, b) -> (h, c, cache)``
* ``lstm_step_backward(dh, dc, cache) -> (dx, dh_prev, dc_prev, dWx, dWh, db)``
* ``lstm_forward(x, h0, c0, Wx, Wh, b, mask=None) -> (hs, hT, cT, cache)``
* ``lstm_backward(dhs, dhT, dcT, cache) -> (dx, dh0, dc0, dWx, dWh, db)``

The sequence checkers never pass a mask, so your ``lstm_forward`` may leave it out.  The library's
functions are looked up when a checker runs (not when this module is imported), always their
NumPy reference (``fn.reference``): the code ``show_solution`` prints, whatever backend is on.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

from minivae.exercises.exercise import Exercise
from minivae.exercises.grader import ExerciseResult, Grader, Mistake, describe, make_rng
from minivae.nn import lstm as lstm_module
from minivae.nn.functional import sigmoid

LESSON = "05_rnn_lstm_bptt"

STEP_FWD_SIG = ("lstm_step_forward(x_t, h_prev, c_prev, Wx, Wh, b) -> (h, c, cache);  "
                "x_t: (N, D), h_prev, c_prev: (N, H), Wx: (D, 4H), Wh: (H, 4H), b: (4H,), "
                "gate blocks along 4H in the order (i, f, g, o)")
STEP_BWD_SIG = ("lstm_step_backward(dh, dc, cache) -> (dx, dh_prev, dc_prev, dWx, dWh, db);  "
                "dh, dc: (N, H); cache = (x_t, h_prev, c_prev, Wx, Wh, i, f, g, o, tanh_c) as "
                "returned by minivae.nn.lstm.lstm_step_forward")
SEQ_FWD_SIG = ("lstm_forward(x, h0, c0, Wx, Wh, b, mask=None) -> (hs, hT, cT, cache);  "
               "x: (N, T, D), h0, c0: (N, H); hs: (N, T, H) the state h_t after every step, "
               "hT, cT: (N, H) the final state; cache: what your lstm_backward needs (the "
               "checker passes no mask)")
SEQ_BWD_SIG = ("lstm_backward(dhs, dhT, dcT, cache) -> (dx, dh0, dc0, dWx, dWh, db);  "
               "dhs: (N, T, H) = dL/dhs, dhT, dcT: (N, H) = dL/dhT, dL/dcT; cache from "
               "minivae.nn.lstm.lstm_forward (or from your forward_fn)")
GATES = ("i", "f", "g", "o")
_SEQ_ARGS = ("x", "h0", "c0", "Wx", "Wh", "b")


def library(name: str) -> Callable[..., Any]:
    """``minivae.nn.lstm.<name>`` as written (its NumPy reference), looked up now."""
    fn = getattr(lstm_module, name)
    return getattr(fn, "reference", fn)


def _forward_outputs(g: Grader, forward: Callable[..., Any], inputs: tuple[np.ndarray, ...],
                     returns: tuple[str, ...]) -> tuple | None:
    """What a forward returns (its last output is the cache backward consumes); None after
    recording a problem."""
    out = g.call_forward(forward, inputs)
    if out is not None and (not isinstance(out, (tuple, list)) or len(out) != len(returns)):
        g.fail(f"forward_fn must return ({', '.join(returns)}), got a {describe(out)}")
        return None
    return None if out is None else tuple(out)


# ============================================================================ test inputs
def _lstm_params(rng: np.random.Generator, D: int, H: int) -> tuple[np.ndarray, ...]:
    return (0.5 * rng.standard_normal((D, 4 * H)), 0.5 * rng.standard_normal((H, 4 * H)),
            0.3 * rng.standard_normal(4 * H))


def _step_inputs(seed: int) -> tuple[np.ndarray, ...]:
    """x_t, h_prev, c_prev, Wx, Wh, b, dh, dc with N=3, D=4, H=2."""
    rng = make_rng(seed)
    N, D, H = 3, 4, 2  # D, H and 4H all different: transposes show up as wrong shapes
    Wx, Wh, b = _lstm_params(rng, D, H)
    x, h, c = (rng.standard_normal((N, D)), rng.standard_normal((N, H)),
               rng.standard_normal((N, H)))
    dh, dc = rng.standard_normal((N, H)), rng.standard_normal((N, H))
    return x, h, c, Wx, Wh, b, dh, dc


def _seq_inputs(seed: int) -> tuple[np.ndarray, ...]:
    """x, h0, c0, Wx, Wh, b, dhs, dhT, dcT with N=3, T=5, D=4, H=2."""
    rng = make_rng(seed)
    N, T, D, H = 3, 5, 4, 2
    Wx, Wh, b = _lstm_params(rng, D, H)
    x = rng.standard_normal((N, T, D))
    h0, c0 = rng.standard_normal((N, H)), rng.standard_normal((N, H))
    dhs = rng.standard_normal((N, T, H))
    dhT, dcT = rng.standard_normal((N, H)), rng.standard_normal((N, H))
    return x, h0, c0, Wx, Wh, b, dhs, dhT, dcT


# ======================================================================= one step: forward
def _step_variant(x, h_prev, c_prev, Wx, Wh, b, *, order=GATES, g_act=np.tanh,
                  cell_tanh=True, use_i=True, use_f=True, old_cell=False):
    """One LSTM step written with a configurable mistake (for recognising them)."""
    H = h_prev.shape[1]
    a = x @ Wx + h_prev @ Wh + b
    blocks = {name: a[:, k * H:(k + 1) * H] for k, name in enumerate(order)}
    i, f, o = sigmoid(blocks["i"]), sigmoid(blocks["f"]), sigmoid(blocks["o"])
    g = g_act(blocks["g"])
    c = (f if use_f else 1.0) * c_prev + (i if use_i else 1.0) * g
    h = o * (np.tanh(c_prev if old_cell else c) if cell_tanh else c)
    return h, c


def _gate_order_mistakes() -> list[Mistake]:
    return [
        Mistake(f"your (h, c) match an LSTM that reads the 4H blocks in the order "
                f"({', '.join(order)}); minivae (like PyTorch) uses (i, f, g, o): "
                "a[:, 0:H] input gate, a[:, H:2H] forget gate, a[:, 2H:3H] candidate g (tanh), "
                "a[:, 3H:4H] output gate",
                lambda *a, order=order: _step_variant(*a, order=order))
        for order in itertools.permutations(GATES) if order != GATES
    ]


STEP_FWD_MISTAKES = _gate_order_mistakes() + [
    Mistake("tanh on the cell is missing: h = o * tanh(c)",
            lambda *a: _step_variant(*a, cell_tanh=False)),
    Mistake("the candidate g uses sigmoid; it uses tanh (values in (-1, 1), so the cell "
            "can also decrease)", lambda *a: _step_variant(*a, g_act=sigmoid)),
    Mistake("the input gate is missing: c = f * c_prev + i * g",
            lambda *a: _step_variant(*a, use_i=False)),
    Mistake("the forget gate is missing: c = f * c_prev + i * g",
            lambda *a: _step_variant(*a, use_f=False)),
    Mistake("h uses the OLD cell state; h = o * tanh(c) with the new c",
            lambda *a: _step_variant(*a, old_cell=True)),
    Mistake("h and c are swapped: return (h, c, cache)", lambda *a: _step_variant(*a)[::-1]),
]


def check_lstm_step_forward(fn: Callable[..., Any], *, raise_on_fail: bool = False,
                            seed: int = 0) -> ExerciseResult:
    """Grade ``lstm_step_forward(x_t, h_prev, c_prev, Wx, Wh, b) -> (h, c, cache)`` against
    :func:`minivae.nn.lstm.lstm_step_forward` (N=3, D=4, H=2).  The cache is yours (not graded);
    a wrong gate order is recognised and named."""
    g = Grader("lstm_step_forward", fn, ["h", "c", "cache"], STEP_FWD_SIG)
    x, h, c, Wx, Wh, b, _, _ = _step_inputs(seed)
    args = {"x_t": x, "h_prev": h, "c_prev": c, "Wx": Wx, "Wh": Wh, "b": b}
    out = g.call(args, array_outputs=(0, 1))
    if out is not None:
        h_ref, c_ref, _ = library("lstm_step_forward")(x, h, c, Wx, Wh, b)
        for k, want in ((0, h_ref), (1, c_ref)):
            g.check_value(k, out[k], want, mistakes=STEP_FWD_MISTAKES,
                          inputs=(x, h, c, Wx, Wh, b))
    g.outputs = ["h", "c"]
    return g.result(raise_on_fail, "h and c match minivae.nn.lstm.lstm_step_forward")


# ====================================================================== one step: backward
def _step_backward_variant(x, h_prev, c_prev, Wx, Wh, b, dh, dc, *, h_path=True, forget=True,
                           tanh_sq=True):
    """The step's six gradients (from the inputs, not a cache) with a configurable mistake."""
    H = h_prev.shape[1]
    a = x @ Wx + h_prev @ Wh + b
    i, f, o = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H]), sigmoid(a[:, 3 * H:])
    g = np.tanh(a[:, 2 * H:3 * H])
    tanh_c = np.tanh(f * c_prev + i * g)
    dtanh = (1.0 - tanh_c * tanh_c) if tanh_sq else (1.0 - tanh_c)
    dc = dc + dh * o * dtanh if h_path else dc
    da = np.concatenate([dc * g * i * (1 - i), dc * c_prev * f * (1 - f),
                         dc * i * (1 - g * g), dh * tanh_c * o * (1 - o)], axis=1)
    return (da @ Wx.T, da @ Wh.T, dc * f if forget else dc, x.T @ da, h_prev.T @ da,
            da.sum(axis=0))


STEP_BWD_MISTAKES = [
    Mistake("c_t also receives gradient through h_t = o * tanh(c_t): the total is "
            "dc + dh * o * (1 - tanh(c)^2) before it flows into the gates and c_prev",
            lambda *a: _step_backward_variant(*a, h_path=False)),
    Mistake("dc_prev = dc * f: the old cell enters c = f * c_prev + i * g multiplied by f",
            lambda *a: _step_backward_variant(*a, forget=False)),
    Mistake("tanh'(c) = 1 - tanh(c)^2 (squared), not 1 - tanh(c)",
            lambda *a: _step_backward_variant(*a, tanh_sq=False)),
]


def check_lstm_step_backward(fn: Callable[..., Any],
                             forward_fn: Callable[..., Any] | None = None, *,
                             raise_on_fail: bool = False, seed: int = 0) -> ExerciseResult:
    """Grade ``lstm_step_backward(dh, dc, cache) -> (dx, dh_prev, dc_prev, dWx, dWh, db)``.

    The cache comes from the library's :func:`~minivae.nn.lstm.lstm_step_forward` (layout
    ``(x_t, h_prev, c_prev, Wx, Wh, i, f, g, o, tanh_c)``), or from your ``forward_fn`` with the
    same signature if you give one.  Every gradient is compared with central differences of
    ``L = sum(h * dh) + sum(c * dc)``.
    """
    g = Grader("lstm_step_backward", fn, ["dx", "dh_prev", "dc_prev", "dWx", "dWh", "db"],
               STEP_BWD_SIG)
    inputs = _step_inputs(seed)
    x, h, c, Wx, Wh, b, dh, dc = inputs
    step = library("lstm_step_forward")
    fwd = _forward_outputs(g, step if forward_fn is None else forward_fn, inputs[:6],
                           ("h", "c", "cache"))
    out = None if fwd is None else g.call({"dh": dh, "dc": dc, "cache": fwd[-1]})
    if out is not None:
        arrays = dict(zip(("x_t", "h_prev", "c_prev", "Wx", "Wh", "b"),
                          (a.copy() for a in inputs[:6])))

        def loss() -> float:
            h_new, c_new, _ = step(*arrays.values())
            return float(np.sum(h_new * dh) + np.sum(c_new * dc))

        h_ref, c_ref, _ = step(x, h, c, Wx, Wh, b)
        scale = float(np.sum(np.abs(h_ref * dh)) + np.sum(np.abs(c_ref * dc)))
        for k, key in enumerate(arrays):
            g.check_grad(k, out[k], loss, arrays[key], mistakes=STEP_BWD_MISTAKES,
                         inputs=inputs, f_scale=scale)
    return g.result(raise_on_fail, "all six gradients match the numerical gradient")


# ===================================================================== a sequence: forward
def _step_loop(x, h0, c0, Wx, Wh, b, *, carry=True):
    """hs, hT, cT and the step caches of the library's step function run over t (``carry=False``
    restarts every step from (h0, c0): a mistake)."""
    step = library("lstm_step_forward")
    h, c, hs, caches = h0, c0, [], []
    for t in range(x.shape[1]):
        h, c, cache = step(x[:, t], h if carry else h0, c if carry else c0, Wx, Wh, b)
        hs.append(h)
        caches.append(cache)
    return np.stack(hs, axis=1), h, c, caches


def _off_by_one(x, h0, c0, Wx, Wh, b):
    hs = _step_loop(x, h0, c0, Wx, Wh, b)[0]
    return np.concatenate([h0[:, None], hs[:, :-1]], axis=1), None, None


SEQ_FWD_MISTAKES = [
    Mistake("the state is not carried: every step restarts from h0, c0; pass each step's "
            "(h, c) into the next", lambda *a: _step_loop(*a, carry=False)[:1] + (None, None)),
    Mistake("off by one: hs[:, t] must be the state AFTER step t (h_t), not the state "
            "entering it (h_{t-1})", _off_by_one),
    Mistake("hT and cT are swapped: return (hs, hT, cT, cache)",
            lambda *a: (None, *_step_loop(*a)[2:0:-1])),
    Mistake("the initial state was returned: hT, cT are the state after the LAST step",
            lambda x, h0, c0, *p: (None, h0, c0)),
]


def check_lstm_forward(fn: Callable[..., Any], *, raise_on_fail: bool = False,
                       seed: int = 0) -> ExerciseResult:
    """Grade ``lstm_forward(x, h0, c0, Wx, Wh, b) -> (hs, hT, cT, cache)`` over a whole sequence
    (N=3, T=5, D=4, H=2) against :func:`minivae.nn.lstm.lstm_forward`.  The cache is yours (not
    graded: :func:`check_lstm_backward` with ``forward_fn`` uses it)."""
    g = Grader("lstm_forward", fn, ["hs", "hT", "cT", "cache"], SEQ_FWD_SIG)
    inputs = _seq_inputs(seed)[:6]
    out = g.call(dict(zip(_SEQ_ARGS, inputs)), array_outputs=(0, 1, 2))
    if out is not None:
        want = library("lstm_forward")(*inputs)
        for k in range(3):
            g.check_value(k, out[k], want[k], mistakes=SEQ_FWD_MISTAKES, inputs=inputs)
    g.outputs = ["hs", "hT", "cT"]
    return g.result(raise_on_fail, "hs, hT and cT match minivae.nn.lstm.lstm_forward")


# ==================================================================== a sequence: backward
def _bptt_variant(x, h0, c0, Wx, Wh, b, dhs, dhT, dcT, *, carry_h=True, carry_c=True,
                  accumulate=True, use_dhs=True, use_final=True):
    """Backprop through time over the library's step functions, optionally with one classic
    mistake."""
    _, _, _, caches = _step_loop(x, h0, c0, Wx, Wh, b)
    backward = library("lstm_step_backward")
    zeros = np.zeros_like(h0)
    dx = np.zeros_like(x)
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
    dh, dc = (dhT, dcT) if use_final else (zeros, zeros)
    for t in reversed(range(x.shape[1])):
        dh_step = (dh if carry_h else zeros) + (dhs[:, t] if use_dhs else zeros)
        dx[:, t], dh, dc, dWx_t, dWh_t, db_t = backward(dh_step, dc if carry_c else zeros,
                                                        caches[t])
        if accumulate:
            dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
        else:
            dWx, dWh, db = dWx_t, dWh_t, db_t
    return dx, dh, dc, dWx, dWh, db


SEQ_BWD_MISTAKES = [
    Mistake("the parameter gradients hold only ONE step's contribution (the last one your "
            "loop visited): Wx, Wh and b are shared by all T steps, so ADD every step's "
            "gradient (dWx += dWx_t), never assign",
            lambda *a: _bptt_variant(*a, accumulate=False)),
    Mistake("the gradient flowing back from the next step is missing: h_t feeds both "
            "hs[:, t] and step t+1, so the step's dh is dhs[:, t] + dh_next",
            lambda *a: _bptt_variant(*a, carry_h=False)),
    Mistake("the cell-state gradient is not carried back in time: pass dc_prev of step t+1 "
            "as dc into step t (the cell is the LSTM's long-term memory path)",
            lambda *a: _bptt_variant(*a, carry_c=False)),
    Mistake("the gradient of the step's own output dhs[:, t] is missing: dh = dhs[:, t] + "
            "dh_next", lambda *a: _bptt_variant(*a, use_dhs=False)),
    Mistake("the gradients of the final state are missing: the reversed loop starts from "
            "dh = dhT, dc = dcT (not zeros)", lambda *a: _bptt_variant(*a, use_final=False)),
]


def _sequence_loss(arrays: dict[str, np.ndarray], dhs: np.ndarray, dhT: np.ndarray,
                   dcT: np.ndarray) -> tuple[float, float]:
    """L = sum(hs * dhs) + sum(hT * dhT) + sum(cT * dcT) and the sum of its terms' sizes."""
    hs, hT, cT, _ = library("lstm_forward")(*arrays.values())
    terms = (hs * dhs, hT * dhT, cT * dcT)
    return float(sum(np.sum(t) for t in terms)), float(sum(np.sum(np.abs(t)) for t in terms))


def check_lstm_backward(fn: Callable[..., Any],
                        forward_fn: Callable[..., Any] | None = None, *,
                        raise_on_fail: bool = False, seed: int = 0) -> ExerciseResult:
    """Grade ``lstm_backward(dhs, dhT, dcT, cache) -> (dx, dh0, dc0, dWx, dWh, db)``
    (backpropagation through time) against central differences of
    ``L = sum(hs * dhs) + sum(hT * dhT) + sum(cT * dcT)`` computed with
    :func:`minivae.nn.lstm.lstm_forward`.  The cache comes from that function, unless you pass
    your own ``forward_fn`` (your ``lstm_forward``)."""
    g = Grader("lstm_backward", fn, ["dx", "dh0", "dc0", "dWx", "dWh", "db"], SEQ_BWD_SIG)
    inputs = _seq_inputs(seed)
    dhs, dhT, dcT = inputs[6:]
    forward = library("lstm_forward") if forward_fn is None else forward_fn
    fwd = _forward_outputs(g, forward, inputs[:6], ("hs", "hT", "cT", "cache"))
    out = None if fwd is None else g.call({"dhs": dhs, "dhT": dhT, "dcT": dcT,
                                           "cache": fwd[-1]})
    if out is not None:
        arrays = dict(zip(_SEQ_ARGS, (a.copy() for a in inputs[:6])))
        scale = _sequence_loss(arrays, dhs, dhT, dcT)[1]
        for k, key in enumerate(arrays):
            g.check_grad(k, out[k], lambda: _sequence_loss(arrays, dhs, dhT, dcT)[0],
                         arrays[key], mistakes=SEQ_BWD_MISTAKES, inputs=inputs, f_scale=scale)
    return g.result(raise_on_fail, "all six BPTT gradients match the numerical gradient")


# ============================================================================== catalogue
_LSTM = "minivae.nn.lstm"

EXERCISES = [
    Exercise("lstm_step_forward", LESSON, STEP_FWD_SIG, check_lstm_step_forward,
             f"{_LSTM}:lstm_step_forward", (f"{_LSTM}:lstm_step_forward",),
             "SOLUTIONS['lstm_step_forward'] is minivae.nn.lstm.lstm_step_forward, the step "
             "LSTMLayer and LSTMCell run; its NumPy reference is printed below."),
    Exercise("lstm_step_backward", LESSON, STEP_BWD_SIG, check_lstm_step_backward,
             f"{_LSTM}:lstm_step_backward", (f"{_LSTM}:lstm_step_backward",),
             "SOLUTIONS['lstm_step_backward'] is minivae.nn.lstm.lstm_step_backward; its NumPy "
             "reference is printed below."),
    Exercise("lstm_forward", LESSON, SEQ_FWD_SIG, check_lstm_forward,
             f"{_LSTM}:lstm_forward.reference", (f"{_LSTM}:lstm_forward",),
             "SOLUTIONS['lstm_forward'] is minivae.nn.lstm.lstm_forward.reference: the loop over "
             "t that LSTMLayer.forward runs on the numpy backend, printed below."),
    Exercise("lstm_backward", LESSON, SEQ_BWD_SIG, check_lstm_backward,
             f"{_LSTM}:lstm_backward.reference", (f"{_LSTM}:lstm_backward",),
             "SOLUTIONS['lstm_backward'] is minivae.nn.lstm.lstm_backward.reference: the "
             "reversed loop over t that LSTMLayer.backward runs on the numpy backend, printed "
             "below (it consumes the cache of lstm_forward.reference)."),
]
