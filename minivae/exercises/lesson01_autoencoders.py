"""Exercises of lesson 01 (autoencoders): the dense layer, two activations' backward, and the
numerically stable binary cross-entropy.

* ``dense_forward(x, W, b) -> y``; x: (N, D), W: (D, M), b: (M,), y: (N, M)
* ``dense_backward(dy, x, W, b) -> (dx, dW, db)``
* ``sigmoid_backward(dy, y) -> dx`` with y = sigmoid(x) the cached forward *output*
* ``relu_backward(dy, x) -> dx`` with x the forward *input*
* ``bce_with_logits(logits, target) -> nll``; (N, D) -> (N,), stable at logits of +-1000
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from minivae.exercises.exercise import Exercise
from minivae.exercises.grader import (
    ExerciseResult,
    Grader,
    Mistake,
    away_from_zero,
    fmt,
    make_rng,
)
from minivae.nn.activations import ReLU, Sigmoid
from minivae.nn.dense import Dense
from minivae.nn.functional import sigmoid, softplus
from minivae.objectives import losses

LESSON = "01_autoencoders"

# ================================================================================ dense
DENSE_SIG = ("dense_forward(x, W, b) -> y;  x: (N, D), W: (D, M), b: (M,), y = x @ W + b: "
             "(N, M)")
DENSE_BWD_SIG = ("dense_backward(dy, x, W, b) -> (dx, dW, db);  dy: (N, M), x: (N, D), "
                 "W: (D, M), b: (M,); dx: (N, D), dW: (D, M), db: (M,)")


def _dense_inputs(seed: int) -> tuple[np.ndarray, ...]:
    rng = make_rng(seed)
    N, D, M = 4, 3, 5  # all different, so a transposed product shows up as a wrong shape
    return (rng.standard_normal((N, D)), rng.standard_normal((D, M)),
            rng.standard_normal(M), rng.standard_normal((N, M)))


def _dense_layer(W: np.ndarray, b: np.ndarray) -> Dense:
    layer = Dense(W.shape[0], W.shape[1])
    layer.params["W"][...] = W
    layer.params["b"][...] = b
    return layer


def dense_forward_solution(x: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """SOLUTIONS["dense_forward"]: :meth:`minivae.nn.Dense.forward` with the given W, b."""
    return _dense_layer(W, b).forward(x)


def dense_backward_solution(dy: np.ndarray, x: np.ndarray, W: np.ndarray,
                            b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """SOLUTIONS["dense_backward"]: :meth:`minivae.nn.Dense.backward` (gradients read back from
    ``grads`` after a ``zero_grad``)."""
    layer = _dense_layer(W, b)
    layer.forward(x)
    layer.zero_grad()
    dx = layer.backward(dy)
    return dx, layer.grads["W"].copy(), layer.grads["b"].copy()


DENSE_FWD_MISTAKES = [
    Mistake("the bias is missing: y = x @ W + b", lambda x, W, b: x @ W),
    Mistake("the bias is subtracted instead of added", lambda x, W, b: x @ W - b),
]

DENSE_BWD_MISTAKES = [
    Mistake("dW = dy.T @ x is the transpose of the gradient; dW = x.T @ dy has W's shape",
            lambda dy, x, W, b: (None, dy.T @ x, None)),
    Mistake("db must SUM dy over the batch (b was added to every row), not average it",
            lambda dy, x, W, b: (None, None, dy.mean(axis=0))),
    Mistake("dW must SUM over the batch, not average: dW = x.T @ dy",
            lambda dy, x, W, b: (None, x.T @ dy / x.shape[0], None)),
    Mistake("db = dy keeps one row per example: sum over the batch, db = dy.sum(axis=0)",
            lambda dy, x, W, b: (None, None, dy)),
    Mistake("only the LAST example contributes: inside a loop over examples, accumulate "
            "(dW += np.outer(x[n], dy[n])) instead of assigning (dW = ...)",
            lambda dy, x, W, b: (None, np.outer(x[-1], dy[-1]), dy[-1])),
    Mistake("only the FIRST example contributes: the gradient is the sum over all examples",
            lambda dy, x, W, b: (None, np.outer(x[0], dy[0]), dy[0])),
]


def check_dense_forward(fn: Callable[..., Any], *, raise_on_fail: bool = False,
                        seed: int = 0) -> ExerciseResult:
    """Grade ``dense_forward(x, W, b) -> y`` (y = x @ W + b) against :class:`minivae.nn.Dense`.

    x: (4, 3), W: (3, 5), b: (5,) random float64; y must equal the layer's output (4, 5).
    """
    g = Grader("dense_forward", fn, ["y"], DENSE_SIG)
    x, W, b, _ = _dense_inputs(seed)
    out = g.call({"x": x, "W": W, "b": b})
    if out is not None:
        g.check_value(0, out[0], dense_forward_solution(x, W, b),
                      mistakes=DENSE_FWD_MISTAKES, inputs=(x, W, b))
    return g.result(raise_on_fail, "y = x @ W + b matches minivae.nn.Dense.forward")


def check_dense_backward(fn: Callable[..., Any], *, raise_on_fail: bool = False,
                         seed: int = 0) -> ExerciseResult:
    """Grade ``dense_backward(dy, x, W, b) -> (dx, dW, db)``.

    Each gradient is compared with central differences of ``L = sum((x @ W + b) * dy)``, whose
    gradient w.r.t. the layer output is exactly ``dy`` (what backward receives in a network).
    """
    g = Grader("dense_backward", fn, ["dx", "dW", "db"], DENSE_BWD_SIG)
    x, W, b, dy = _dense_inputs(seed)
    out = g.call({"dy": dy, "x": x, "W": W, "b": b})
    if out is not None:
        arrays = {"x": x.copy(), "W": W.copy(), "b": b.copy()}

        def loss() -> float:
            return float(np.sum((arrays["x"] @ arrays["W"] + arrays["b"]) * dy))

        scale = float(np.sum(np.abs((x @ W + b) * dy)))
        for k, key in enumerate(("x", "W", "b")):
            g.check_grad(k, out[k], loss, arrays[key], mistakes=DENSE_BWD_MISTAKES,
                         inputs=(dy, x, W, b), f_scale=scale)
    return g.result(raise_on_fail, "dx, dW, db match the numerical gradient")


# ============================================================================ activations
SIGMOID_SIG = ("sigmoid_backward(dy, y) -> dx;  y = sigmoid(x) is the forward OUTPUT "
               "(what the layer caches), dy, y, dx: same shape")
RELU_SIG = ("relu_backward(dy, x) -> dx;  x is the forward INPUT, dy, x, dx: same shape; "
            "dx = dy where x > 0, else 0")

SIGMOID_MISTAKES = [
    Mistake("the upstream gradient is missing: dx = dy * y * (1 - y), not y * (1 - y)",
            lambda dy, y: y * (1 - y)),
    Mistake("sigmoid applied a second time: y is already sigmoid(x), so sigmoid'(x) = "
            "y * (1 - y) directly", lambda dy, y: dy * sigmoid(y) * (1 - sigmoid(y))),
    Mistake("that is the derivative of tanh (1 - y^2); sigmoid's is y * (1 - y)",
            lambda dy, y: dy * (1 - y * y)),
    Mistake("the factor (1 - y) is missing: sigmoid'(x) = y * (1 - y)", lambda dy, y: dy * y),
]

RELU_MISTAKES = [
    Mistake("the upstream gradient is missing: dx = dy * (x > 0), not just the mask",
            lambda dy, x: (x > 0).astype(float)),
    Mistake("multiplied by x: the slope of max(x, 0) is 1 for x > 0 (not x) and 0 otherwise",
            lambda dy, x: dy * np.maximum(x, 0)),
    Mistake("the mask is inverted: gradient passes where x > 0 (the unit was active)",
            lambda dy, x: dy * (x < 0)),
    Mistake("masked by the sign of dy; the mask comes from the forward input x",
            lambda dy, x: dy * (dy > 0)),
]


def sigmoid_solution(dy: np.ndarray, y: np.ndarray) -> np.ndarray:
    """SOLUTIONS["sigmoid_backward"]: :meth:`minivae.nn.Sigmoid.backward` with cache y."""
    layer = Sigmoid()
    layer.cache = np.asarray(y, dtype=np.float64)
    return layer.backward(dy)


def relu_solution(dy: np.ndarray, x: np.ndarray) -> np.ndarray:
    """SOLUTIONS["relu_backward"]: :meth:`minivae.nn.ReLU.backward` after ``forward(x)``."""
    layer = ReLU()
    layer.forward(x)
    return layer.backward(dy)


def check_sigmoid_backward(fn: Callable[..., Any], *, raise_on_fail: bool = False,
                           seed: int = 0) -> ExerciseResult:
    """Grade ``sigmoid_backward(dy, y) -> dx`` where ``y = sigmoid(x)``: compared with central
    differences of ``sum(sigmoid(x) * dy)`` w.r.t. x (x: (4, 5), a few entries as large as 8)."""
    g = Grader("sigmoid_backward", fn, ["dx"], SIGMOID_SIG)
    rng = make_rng(seed)
    x = 3.0 * rng.standard_normal((4, 5))
    dy = rng.standard_normal(x.shape)
    y = sigmoid(x)
    out = g.call({"dy": dy, "y": y})
    if out is not None:
        xc = x.copy()
        g.check_grad(0, out[0], lambda: float(np.sum(sigmoid(xc) * dy)), xc,
                     mistakes=SIGMOID_MISTAKES, inputs=(dy, y),
                     f_scale=float(np.sum(np.abs(y * dy))))
    return g.result(raise_on_fail, "dx = dy * y * (1 - y) matches the numerical gradient")


def check_relu_backward(fn: Callable[..., Any], *, raise_on_fail: bool = False,
                        seed: int = 0) -> ExerciseResult:
    """Grade ``relu_backward(dy, x) -> dx`` against central differences of
    ``sum(max(x, 0) * dy)``.  Every x is at least 0.1 away from the kink at 0 (where a central
    difference straddling 0 would measure the average slope 1/2)."""
    g = Grader("relu_backward", fn, ["dx"], RELU_SIG)
    rng = make_rng(seed)
    x = away_from_zero(rng.standard_normal((4, 5)))
    dy = rng.standard_normal(x.shape)
    out = g.call({"dy": dy, "x": x})
    if out is not None:
        xc = x.copy()
        g.check_grad(0, out[0], lambda: float(np.sum(np.maximum(xc, 0.0) * dy)), xc,
                     mistakes=RELU_MISTAKES, inputs=(dy, x),
                     f_scale=float(np.sum(np.abs(np.maximum(x, 0) * dy))))
    return g.result(raise_on_fail, "dx = dy * (x > 0) matches the numerical gradient")


# ========================================================================= BCE from logits
BCE_SIG = ("bce_with_logits(logits, target) -> nll;  logits, target: (N, D), target in "
           "[0, 1]; nll: (N,) = sum_d -[t log sigmoid(l) + (1 - t) log(1 - sigmoid(l))], "
           "finite for every finite logit")


def bce_solution(logits: np.ndarray, target: np.ndarray) -> np.ndarray:
    """SOLUTIONS["bce_with_logits"]: :func:`minivae.objectives.losses.bernoulli_nll`, per
    example."""
    return losses.bernoulli_nll(logits, target, reduction="none")


def _bce_elem(l: np.ndarray, t: np.ndarray) -> np.ndarray:
    return softplus(l) - t * l


BCE_MISTAKES = [
    Mistake("per-element losses returned; sum over the data dimensions (axis=1) to get one "
            "number per example", lambda l, t: _bce_elem(l, t)),
    Mistake("averaged over the data dimensions; minivae sums over them (nats per example)",
            lambda l, t: _bce_elem(l, t).mean(axis=1)),
    Mistake("this is the log-likelihood; the loss is its NEGATIVE",
            lambda l, t: -_bce_elem(l, t).sum(axis=1)),
    Mistake("the (1 - t) log(1 - sigmoid(l)) term is missing",
            lambda l, t: (t * softplus(-l)).sum(axis=1)),
    Mistake("summed over the batch too; return one loss per example, shape (N,)",
            lambda l, t: np.asarray(_bce_elem(l, t).sum())),
]

STABILITY_ADVICE = (
    "In float64 exp(-l) overflows to inf for l < -709, and sigmoid(l) rounds to exactly 1 for "
    "l > 37, so log(1 - sigmoid(l)) = log(0) = -inf and 0 * inf = nan. Never form the "
    "probability: write the loss in terms of the logit, -[t log s(l) + (1-t) log(1-s(l))] = "
    "softplus(l) - t*l, with softplus(l) = max(l, 0) + log1p(exp(-|l|)) (or "
    "np.logaddexp(0, l)), which is finite for every finite l"
)

# One example per row: logits where a naive log(sigmoid(l)) overflows or takes log(0).
_EXTREME_LOGITS = np.array([1000.0, -1000.0, 1000.0, -1000.0, 800.0, -800.0, 40.0, -40.0])[:, None]
_EXTREME_TARGETS = np.array([1.0, 0.0, 0.0, 1.0, 0.25, 0.5, 1.0, 0.0])[:, None]


def _check_extreme_logits(g: Grader) -> None:
    """The second case of :func:`check_bce_with_logits`: report the worst example."""
    case = "extreme logits"
    big, tgt = _EXTREME_LOGITS, _EXTREME_TARGETS
    out = g.call({"logits": big, "target": tgt}, case=case)
    if out is None:
        return
    got, want = out[0], bce_solution(big, tgt)
    if not g.shape_ok("nll", got, want.shape, [], case=case):
        return
    bad = ~np.isclose(got, want, rtol=1e-7, atol=1e-12)
    if not np.any(bad):
        g.ok["nll"] = g.ok.get("nll", 0.0)
        return
    err = np.where(np.isfinite(got), np.abs(got - want), np.inf)  # non-finite: worst
    n = int(np.argmax(np.where(bad, err, -1.0)))
    what = "overflowed to inf/nan" if not np.isfinite(got[n]) else "is finite but wrong"
    clip = ("" if not np.isfinite(got[n]) or got[n] >= want[n] else
            " (clipping probabilities to [eps, 1 - eps] caps the loss at -log(eps) instead of "
            "the true value)")
    g.fail(f"nll is not numerically stable ({case}) at index ({n},): for logit "
           f"{big[n, 0]:g} and target {tgt[n, 0]:g} expected {fmt(want[n])}, got "
           f"{fmt(got[n])} — your value {what}{clip}; {int(bad.sum())} of {bad.size} extreme "
           f"examples are off.\n    Hint: {STABILITY_ADVICE}")


def check_bce_with_logits(fn: Callable[..., Any], *, raise_on_fail: bool = False,
                          seed: int = 0) -> ExerciseResult:
    """Grade ``bce_with_logits(logits, target) -> (N,)`` against
    :func:`minivae.objectives.losses.bernoulli_nll` (``reduction="none"``).

    Two cases: moderate random logits with soft targets in [0, 1], then extreme logits
    (+-1000, +-800, +-40) one per example, where a naive ``log(sigmoid(l))`` overflows or gives
    log(0).  The second case reports the logit, target, expected and returned value.
    """
    g = Grader("bce_with_logits", fn, ["nll"], BCE_SIG)
    rng = make_rng(seed)
    logits = 2.0 * rng.standard_normal((4, 6))
    target = rng.random((4, 6))
    target[0] = (target[0] > 0.5).astype(float)  # some hard 0/1 targets, some grey levels
    out = g.call({"logits": logits, "target": target}, case="moderate logits")
    if out is not None and g.check_value(0, out[0], bce_solution(logits, target),
                                         mistakes=BCE_MISTAKES, inputs=(logits, target),
                                         case="moderate logits"):
        _check_extreme_logits(g)
    return g.result(raise_on_fail, "matches losses.bernoulli_nll and stays exact at logits of "
                    "+-1000")


# ============================================================================== catalogue
_ADAPTER = ("SOLUTIONS[{name!r}] puts the arrays into a {cls} and calls the method below: the "
            "library code that runs in every model.")

EXERCISES = [
    Exercise("dense_forward", LESSON, DENSE_SIG, check_dense_forward, dense_forward_solution,
             ("minivae.nn.dense:Dense.forward",),
             _ADAPTER.format(name="dense_forward", cls="minivae.nn.Dense")),
    Exercise("dense_backward", LESSON, DENSE_BWD_SIG, check_dense_backward,
             dense_backward_solution, ("minivae.nn.dense:Dense.backward",),
             _ADAPTER.format(name="dense_backward", cls="minivae.nn.Dense")
             + " dW and db are read back from layer.grads after a zero_grad()."),
    Exercise("sigmoid_backward", LESSON, SIGMOID_SIG, check_sigmoid_backward, sigmoid_solution,
             ("minivae.nn.activations:Sigmoid.forward", "minivae.nn.activations:Sigmoid.backward"),
             _ADAPTER.format(name="sigmoid_backward", cls="minivae.nn.Sigmoid")
             + " (with y as its cache)."),
    Exercise("relu_backward", LESSON, RELU_SIG, check_relu_backward, relu_solution,
             ("minivae.nn.activations:ReLU.forward", "minivae.nn.activations:ReLU.backward"),
             _ADAPTER.format(name="relu_backward", cls="minivae.nn.ReLU")
             + " (after forward(x), which caches the mask x > 0)."),
    Exercise("bce_with_logits", LESSON, BCE_SIG, check_bce_with_logits, bce_solution,
             ("minivae.objectives.losses:bernoulli_nll",
              "minivae.objectives.losses:_bernoulli_terms"),
             "SOLUTIONS['bce_with_logits'] is minivae.objectives.losses.bernoulli_nll(logits, "
             "target, reduction='none'): the loss every Bernoulli model trains with. "
             "_bernoulli_terms is its stable softplus(l) - t*l."),
]
