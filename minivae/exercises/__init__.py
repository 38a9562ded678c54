r"""Self-grading exercises: checkers that run *your* function and explain what is wrong.

Every lesson in ``lessons/`` ends with exercises of the form "write ``dense_backward``", and the
checkers here grade them.  A checker calls your function on small, seeded float64 inputs and
compares what it returns with

* the **numerical gradient** (central differences, :mod:`minivae.gradcheck`) for every
  gradient you compute, or
* the **library's own implementation** for forward values,

then tells you *which* output is wrong, *where* (the index of the worst entry), *expected vs
got*, and what the pattern of the mismatch suggests: a flipped sign, a factor of 2, a transposed
matrix, a missing sum over the batch, a missing term, a wrong shape.  Common mistakes are also
recognised by name (e.g. "you used the variance where the standard deviation belongs").

Usage::

    from minivae.exercises import check_dense_backward

    def dense_backward(dy, x, W, b):
        dx = dy @ W.T
        dW = x.T @ dy
        db = dy.sum(axis=0)
        return dx, dW, db

    result = check_dense_backward(dense_backward)
    print(result)              # the teaching message
    assert result.passed, result

Every checker returns an :class:`ExerciseResult` (``passed``, ``message``; ``str(result)`` is the
message).  With ``raise_on_fail=True`` a failure raises :class:`ExerciseFailed` (an
``AssertionError``) carrying the same message.  ``seed`` changes the random test inputs.
``NotImplementedError`` raised by your function is *not* caught, so a lesson can tell an
untouched TODO stub apart from a wrong answer.

Solutions are the library's own code: ``SOLUTIONS[name]`` is the library function (or a thin
adapter around it) with the exercise's signature, so ``check_X(SOLUTIONS["X"])`` passes, and
:func:`show_solution` prints the library source it comes from.  :data:`EXERCISES` lists every
exercise with its signature.

Exercises (name: signature; shapes)
-----------------------------------
* ``dense_forward(x, W, b) -> y``; x: (N, D), W: (D, M), b: (M,), y: (N, M)
* ``dense_backward(dy, x, W, b) -> (dx, dW, db)``
* ``sigmoid_backward(dy, y) -> dx`` with y = sigmoid(x) the cached forward *output*
* ``relu_backward(dy, x) -> dx`` with x the forward *input*
* ``kl_standard_normal(mu, logvar) -> kl``; mu, logvar: (N, L), kl: (N,) = KL(q || N(0, I))
* ``kl_grad(mu, logvar) -> (dmu, dlogvar)``: gradient of ``sum(kl)`` over the batch
* ``reparameterize(mu, logvar, eps) -> z`` and
  ``reparameterize_backward(dz, mu, logvar, eps) -> (dmu, dlogvar)``
* ``bce_with_logits(logits, target) -> nll``; (N, D) -> (N,), stable at logits of +-1000
* ``gaussian_nll(mean, logvar, target) -> nll``; (N, D) -> (N,);
  ``gaussian_nll_grad(mean, logvar, target) -> (dmean, dlogvar)`` of ``sum(nll)``
* ``lstm_step_forward(x_t, h_prev, c_prev, Wx, Wh, b) -> (h, c, cache)`` and
  ``lstm_step_backward(dh, dc, cache) -> (dx, dh_prev, dc_prev, dWx, dWh, db)``: the signatures
  of :func:`minivae.nn.lstm.lstm_step_forward` / :func:`~minivae.nn.lstm.lstm_step_backward`
* ``lstm_forward(x, h0, c0, Wx, Wh, b) -> (hs, caches)`` and
  ``lstm_backward(dhs, caches) -> (dx, dh0, dc0, dWx, dWh, db)``: a whole sequence (BPTT)
* ``numerical_gradient(f, x, h) -> grad``: central differences of ``f(x) -> float``
"""

from __future__ import annotations

import inspect
import itertools
import textwrap
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from minivae.gradcheck import GradCheckResult, check_gradient, compare, numerical_gradient
from minivae.gradcheck.core import DEFAULT_H, DEFAULT_TOL, _central_differences
from minivae.nn.activations import ReLU, Sigmoid
from minivae.nn.dense import Dense
from minivae.nn.functional import sigmoid, softplus
from minivae.nn.lstm import (
    LSTMLayer,
    lstm_backward,
    lstm_forward,
    lstm_step_backward,
    lstm_step_forward,
)
from minivae.objectives import losses
from minivae.objectives.distributions import DiagonalGaussian

__all__ = [
    "EXERCISES",
    "SOLUTIONS",
    "Exercise",
    "ExerciseFailed",
    "ExerciseResult",
    "check_bce_with_logits",
    "check_dense_backward",
    "check_dense_forward",
    "check_gaussian_nll",
    "check_gaussian_nll_grad",
    "check_kl_grad",
    "check_kl_standard_normal",
    "check_lstm_backward",
    "check_lstm_forward",
    "check_lstm_step_backward",
    "check_lstm_step_forward",
    "check_numerical_gradient",
    "check_relu_backward",
    "check_reparameterize",
    "check_reparameterize_backward",
    "check_sigmoid_backward",
    "show_solution",
]

#: Tolerance on the relative error of forward values (your value vs the library's).
VALUE_TOL = 1e-7
# Values this small (in |got| + |expected|) are compared absolutely: |got - expected| <= 1e-13.
_VALUE_FLOOR = 1e-6
# Generic advice of minivae.gradcheck that adds nothing once a named mistake is recognised.
_GENERIC_ADVICE = ("no simple pattern", "if this array is used in several places")
# A named mistake "matches" when your output equals the mistaken formula to this precision.
_MATCH_RTOL, _MATCH_ATOL = 1e-6, 1e-10


# =============================================================================== results
@dataclass
class ExerciseResult:
    """The verdict of a checker.

    Attributes:
        exercise: the exercise name (``"dense_backward"``).
        passed: True when every output matched.
        message: the explanation; ``print(result)`` shows it.
        checks: the :class:`~minivae.gradcheck.GradCheckResult` of every comparison made (one
            per output and test case), for those who want the raw numbers.
    """

    exercise: str
    passed: bool
    message: str
    checks: list[GradCheckResult] = field(default_factory=list)

    def __str__(self) -> str:
        return self.message

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        status = "PASSED" if self.passed else "FAILED"
        return f"<ExerciseResult {self.exercise}: {status}>"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:  # IPython shows the message
        p.text(self.message)


class ExerciseFailed(AssertionError):
    """Raised by a checker with ``raise_on_fail=True``; ``.result`` is the ExerciseResult."""

    def __init__(self, result: ExerciseResult) -> None:
        super().__init__(result.message)
        self.result = result


# ============================================================================ the grader
def _fmt(v: float) -> str:
    return f"{v:.6g}"


def _describe(value: object) -> str:
    if isinstance(value, np.ndarray):
        return f"array of shape {value.shape}" if value.ndim else f"scalar {float(value):.6g}"
    if isinstance(value, (tuple, list)):
        return f"{type(value).__name__} of {len(value)} item(s)"
    return type(value).__name__


def _shape_hint(got: tuple[int, ...], want: tuple[int, ...]) -> str:
    """Why an output can have the shape ``got`` when ``want`` was expected."""
    if len(got) == len(want) and got[::-1] == want:
        return ("it is TRANSPOSED: build it in the layout of the array it belongs to "
                "(for y = x @ W, dW = x.T @ dy has W's shape (D, M))")
    if len(got) == len(want) + 1 and got[1:] == want:
        return ("there is an extra leading axis: a sum over the batch axis is missing "
                "(every example contributed, e.g. db = dy.sum(axis=0))")
    if len(got) == len(want) + 1 and got[:-1] == want:
        return ("there is an extra trailing axis: sum over the last axis (the data or latent "
                "dimensions) to get one number per example")
    if got == () and want != ():
        return "you reduced everything to a scalar; keep one value per example (no batch sum)"
    if len(got) + 1 == len(want) and got == want[1:]:
        return ("the batch axis is missing: you summed over the examples (axis 0) where you "
                "should have summed over the other axis")
    if int(np.prod(got)) == int(np.prod(want)):
        return "same number of entries, wrong layout (a reshape or a transpose of axes)"
    return "check the matrix products and the axes you summed over"


def _value_hints(got: np.ndarray, want: np.ndarray) -> list[str]:
    """Recognise the pattern of a wrong forward value (got vs the expected value)."""
    if not np.all(np.isfinite(got)):
        return ["your output contains NaN or inf where the expected value is finite: an "
                "overflow (exp of a large number) or log(0); use the stable forms in "
                "minivae.nn.functional (softplus, sigmoid, logsumexp)"]
    hints = []
    if np.allclose(got, -want, rtol=1e-6, atol=1e-12):
        return ["every entry has the right size but the opposite SIGN: a negative "
                "log-likelihood / KL is a positive number; look for a dropped minus"]
    ww = float(np.dot(want.ravel(), want.ravel()))
    if ww > 0:
        c = float(np.dot(got.ravel(), want.ravel())) / ww
        if abs(c - 1) > 1e-3 and np.allclose(got, c * want, rtol=1e-6, atol=1e-12):
            text = f"every entry is {c:.4g} x the expected value: a constant FACTOR is off"
            ratio = abs(c) if abs(c) >= 1 else 1 / abs(c)
            if abs(ratio - 2) < 1e-3:
                text += " (a forgotten or doubled 0.5 / factor 2?)"
            elif abs(ratio - round(ratio)) < 1e-3 * ratio:
                text += (f" ({round(ratio)} is the size of an axis: a mean where a sum belongs, "
                         "or the other way round?)")
            hints.append(text)
    diff = got - want
    if not hints and np.ptp(diff) < 1e-9 * max(1.0, float(np.max(np.abs(want)))):
        hints.append(
            f"every entry is off by the same constant {float(diff.flat[0]):.6g}: a missing or "
            "extra constant term (like the -1 inside the KL, or 0.5 log 2pi per dimension)"
        )
    if (not hints and want.ndim == 2 and want.shape[0] == want.shape[1] > 1
            and np.allclose(got, want.T, rtol=1e-6, atol=1e-12)):
        hints.append("your output is the TRANSPOSE of the expected one")
    return hints


class _Mistake:
    """A named wrong formula: ``outputs(*inputs)`` returns what that mistake produces."""

    def __init__(self, hint: str, outputs: Callable[..., Any]) -> None:
        self.hint = hint
        self.outputs = outputs


def _matches(got: np.ndarray, candidate: object) -> bool:
    if candidate is None:
        return False
    cand = np.asarray(candidate, dtype=np.float64)
    if cand.shape != got.shape or not np.all(np.isfinite(cand)):
        return False
    return bool(np.allclose(got, cand, rtol=_MATCH_RTOL, atol=_MATCH_ATOL))


class _Grader:
    """Collects the verdicts of one checker run and builds the message."""

    def __init__(self, exercise: str, fn: Callable[..., Any], outputs: Sequence[str],
                 signature: str) -> None:
        if not callable(fn):
            raise TypeError(f"check_{exercise} expects your function, got {_describe(fn)}")
        self.exercise = exercise
        self.fn = fn
        self.fn_name = getattr(fn, "__name__", exercise)
        if self.fn_name == "<lambda>":
            self.fn_name = "your function"
        self.outputs = list(outputs)
        self.signature = signature
        self.problems: list[str] = []
        self.ok: dict[str, float] = {}  # output name -> max relative error, when correct
        self.checks: list[GradCheckResult] = []
        self.last_args: dict[str, Any] = {}  # the copies the last call received
        self.shown: dict[str, str] = {}  # named-mistake text -> output it was first shown for
        self._mistake_outputs: dict[tuple, tuple] = {}

    # -- calling the student's function --------------------------------------------------------
    def call(self, args: dict[str, Any], *, case: str = "",
             restore_ok: bool = False, array_outputs: Sequence[int] | None = None
             ) -> list[Any] | None:
        """Call the function on copies of ``args``; returns its outputs or None (after recording
        the problem).  NotImplementedError propagates (an untouched TODO stub)."""
        copies = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in args.items()}
        self.last_args = copies
        call_text = (f"{self.fn_name}("
                     + ", ".join(f"{k}: {v.shape}" if isinstance(v, np.ndarray) else k
                                 for k, v in args.items()) + ")")
        where = f" ({case})" if case else ""
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                out = self.fn(*copies.values())
            except NotImplementedError:
                raise
            except Exception as exc:  # any bug in student code becomes a message
                self.fail(f"calling {call_text}{where} raised {type(exc).__name__}: {exc}")
                return None
        for k, v in args.items():
            if isinstance(v, np.ndarray) and not np.array_equal(copies[k], v, equal_nan=True):
                if restore_ok:
                    continue
                self.fail(
                    f"{self.fn_name} modified its input {k!r} in place{where}. In backprop the "
                    "same array is often used elsewhere (dy feeds several gradients), so "
                    "compute new arrays (dx = dy * mask) instead of writing into inputs "
                    "(dy *= mask)"
                )
        return self._unpack(out, where, array_outputs)

    def _unpack(self, out: Any, where: str, array_outputs: Sequence[int] | None
                ) -> list[Any] | None:
        n = len(self.outputs)
        if out is None:
            self.fail(f"{self.fn_name} returned None{where}: did you forget the return "
                      "statement?")
            return None
        if n == 1:
            if isinstance(out, tuple):  # e.g. (value, cache): only the value was asked for
                self.fail(f"{self.fn_name} returned a {_describe(out)}{where}, but it must "
                          f"return a single array {self.outputs[0]}")
                return None
            items = [out]
        else:
            if not isinstance(out, (tuple, list)) or len(out) != n:
                self.fail(f"{self.fn_name} returned a {_describe(out)}{where}, but it must "
                          f"return a tuple of {n}: ({', '.join(self.outputs)})")
                return None
            items = list(out)
        idx = range(n) if array_outputs is None else array_outputs
        for i in idx:
            try:
                arr = np.asarray(items[i], dtype=np.float64)
            except (TypeError, ValueError):
                self.fail(f"output {self.outputs[i]} is a {_describe(items[i])}{where}, "
                          "not an array of numbers")
                return None
            items[i] = arr
        return items

    # -- verdicts ------------------------------------------------------------------------------
    def fail(self, text: str) -> None:
        self.problems.append(text)

    def _mistake_hints(self, k: int, got: np.ndarray, mistakes: Sequence[_Mistake],
                       inputs: Sequence[Any]) -> list[str]:
        found = []
        for m in mistakes:
            key = (id(m), tuple(id(v) for v in inputs))
            if key not in self._mistake_outputs:  # each formula runs once per set of inputs
                with np.errstate(all="ignore"), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    try:
                        outs = m.outputs(*inputs)
                    except Exception:  # a mistake formula that does not apply to these shapes
                        outs = ()
                # Keeping m and inputs alive in the value guarantees their ids are not reused.
                self._mistake_outputs[key] = (outs if isinstance(outs, tuple) else (outs,),
                                              m, inputs)
            outs = self._mistake_outputs[key][0]
            if k < len(outs) and _matches(got, outs[k]) and m.hint not in found:
                found.append(m.hint)
        return found

    def _record(self, name: str, res: GradCheckResult, extra: list[str], *,
                expected_from: str, got_from: str, case: str) -> bool:
        self.checks.append(res)
        if res.passed:
            self.ok[name] = max(self.ok.get(name, 0.0), res.max_rel_error)
            return True
        where = f" ({case})" if case else ""
        lines = [
            f"{name} is wrong{where} at index {res.worst_index}: expected "
            f"{_fmt(res.numeric)} ({expected_from}), got {_fmt(res.analytic)} ({got_from}).",
            f"    Max relative error {res.max_rel_error:.1e} (tolerance {res.tol:.0e}); "
            f"{res.n_failed} of {res.n_checked} checked entries are off.",
        ]
        named = [h for h in extra if h.startswith("Likely mistake: ")]
        # When a named mistake explains the failure, the checker's generic advice is noise.
        hints = [h for h in res.hints if not (named and h.startswith(_GENERIC_ADVICE))]
        for h in named:
            if h in self.shown:
                lines.append(f"    Likely mistake: the same as for {self.shown[h]} above.")
            else:
                self.shown[h] = name
                lines.append(f"    {h}")
        lines += [f"    Hint: {h}" for h in [*extra, *hints] if h not in named]
        self.fail("\n".join(lines))
        return False

    def shape_ok(self, name: str, got: np.ndarray, want: tuple[int, ...], extra: list[str],
                 case: str = "") -> bool:
        if got.shape == tuple(want):
            return True
        where = f" ({case})" if case else ""
        lines = [f"{name} has the wrong shape{where}: expected {tuple(want)}, got {got.shape}: "
                 f"{_shape_hint(got.shape, tuple(want))}."]
        lines += [f"    Likely mistake: {h}" for h in extra]
        self.fail("\n".join(lines))
        return False

    def check_value(self, k: int, got: np.ndarray, want: np.ndarray, *,
                    mistakes: Sequence[_Mistake] = (), inputs: Sequence[Any] = (),
                    case: str = "", tol: float = VALUE_TOL) -> bool:
        """Compare output number ``k`` with the library's value."""
        name = self.outputs[k]
        named = self._mistake_hints(k, got, mistakes, inputs)
        if not self.shape_ok(name, got, want.shape, named, case):
            return False
        res = compare(name, got, want, tol=tol, floor=_VALUE_FLOOR)
        res.hints = ()  # the gradient-checker wording does not apply to values
        extra = [f"Likely mistake: {h}" for h in named] + (
            [] if named else _value_hints(got, want))
        return self._record(name, res, extra, expected_from="minivae reference",
                            got_from="yours", case=case)

    def check_grad(self, k: int, got: np.ndarray, loss: Callable[[], float], x: np.ndarray,
                   *, mistakes: Sequence[_Mistake] = (), inputs: Sequence[Any] = (),
                   f_scale: float | None = None, case: str = "") -> bool:
        """Compare output number ``k`` (a gradient w.r.t. ``x``) with central differences of
        ``loss()`` (a closure reading ``x``, which is perturbed in place and restored)."""
        name = self.outputs[k]
        named = self._mistake_hints(k, got, mistakes, inputs)
        if not self.shape_ok(name, got, x.shape, named, case):
            return False
        res = check_gradient(loss, x, got, name=name[1:] if name.startswith("d") else name,
                             f_scale=f_scale)
        res.name = name
        extra = [f"Likely mistake: {h}" for h in named]
        return self._record(name, res, extra, expected_from="numerical gradient",
                            got_from="yours: the analytic gradient", case=case)

    def result(self, raise_on_fail: bool, summary: str) -> ExerciseResult:
        passed = not self.problems
        if passed:
            worst = max(self.ok.values(), default=0.0)
            message = (f"{self.exercise}: PASSED. {summary} "
                       f"(max relative error {worst:.1e}, tolerance {DEFAULT_TOL:.0e}).")
        else:
            n = len(self.problems)
            lines = [f"{self.exercise}: FAILED ({n} problem{'s' * (n != 1)})."]
            lines += [f"  \u2717 {p}" for p in self.problems]
            correct = [name for name in self.outputs if name in self.ok
                       and not any(p.startswith(f"{name} ") for p in self.problems)]
            if correct:
                lines.append(f"  \u2713 {', '.join(correct)}: correct.")
            lines.append(f"  Expected signature: {self.signature}")
            message = "\n".join(lines)
        result = ExerciseResult(self.exercise, passed, message, list(self.checks))
        if raise_on_fail and not passed:
            raise ExerciseFailed(result)
        return result


def _rng(seed: int) -> np.random.Generator:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    return np.random.default_rng(int(seed))


def _away_from_zero(x: np.ndarray, margin: float = 0.1) -> np.ndarray:
    return np.where(x >= 0, x + margin, x - margin)


# ================================================================================ dense
_DENSE_SIG = ("dense_forward(x, W, b) -> y;  x: (N, D), W: (D, M), b: (M,), y = x @ W + b: "
              "(N, M)")
_DENSE_BWD_SIG = ("dense_backward(dy, x, W, b) -> (dx, dW, db);  dy: (N, M), x: (N, D), "
                  "W: (D, M), b: (M,); dx: (N, D), dW: (D, M), db: (M,)")


def _dense_inputs(seed: int) -> tuple[np.ndarray, ...]:
    rng = _rng(seed)
    N, D, M = 4, 3, 5  # all different, so a transposed product shows up as a wrong shape
    return (rng.standard_normal((N, D)), rng.standard_normal((D, M)),
            rng.standard_normal(M), rng.standard_normal((N, M)))


def _dense_forward_solution(x: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """SOLUTIONS["dense_forward"]: :meth:`minivae.nn.Dense.forward` with the given W, b."""
    layer = Dense(W.shape[0], W.shape[1])
    layer.params["W"][...] = W
    layer.params["b"][...] = b
    return layer.forward(x)


def _dense_backward_solution(dy: np.ndarray, x: np.ndarray, W: np.ndarray,
                             b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """SOLUTIONS["dense_backward"]: :meth:`minivae.nn.Dense.backward` (gradients read back from
    ``grads`` after a ``zero_grad``)."""
    layer = Dense(W.shape[0], W.shape[1])
    layer.params["W"][...] = W
    layer.params["b"][...] = b
    layer.forward(x)
    layer.zero_grad()
    dx = layer.backward(dy)
    return dx, layer.grads["W"].copy(), layer.grads["b"].copy()


_DENSE_FWD_MISTAKES = [
    _Mistake("the bias is missing: y = x @ W + b", lambda x, W, b: x @ W),
    _Mistake("the bias is subtracted instead of added", lambda x, W, b: x @ W - b),
]

_DENSE_BWD_MISTAKES = [
    _Mistake("dW = dy.T @ x is the transpose of the gradient; dW = x.T @ dy has W's shape",
             lambda dy, x, W, b: (None, dy.T @ x, None)),
    _Mistake("db must SUM dy over the batch (b was added to every row), not average it",
             lambda dy, x, W, b: (None, None, dy.mean(axis=0))),
    _Mistake("dW must SUM over the batch, not average: dW = x.T @ dy",
             lambda dy, x, W, b: (None, x.T @ dy / x.shape[0], None)),
    _Mistake("db = dy keeps one row per example: sum over the batch, db = dy.sum(axis=0)",
             lambda dy, x, W, b: (None, None, dy)),
    _Mistake("only the LAST example contributes: inside a loop over examples, accumulate "
             "(dW += np.outer(x[n], dy[n])) instead of assigning (dW = ...)",
             lambda dy, x, W, b: (None, np.outer(x[-1], dy[-1]), dy[-1])),
    _Mistake("only the FIRST example contributes: the gradient is the sum over all examples",
             lambda dy, x, W, b: (None, np.outer(x[0], dy[0]), dy[0])),
]


def check_dense_forward(fn: Callable[..., Any], *, raise_on_fail: bool = False,
                        seed: int = 0) -> ExerciseResult:
    """Grade ``dense_forward(x, W, b) -> y`` (y = x @ W + b) against :class:`minivae.nn.Dense`.

    x: (4, 3), W: (3, 5), b: (5,) random float64; y must equal the layer's output (4, 5).
    """
    g = _Grader("dense_forward", fn, ["y"], _DENSE_SIG)
    x, W, b, _ = _dense_inputs(seed)
    out = g.call({"x": x, "W": W, "b": b})
    if out is not None:
        g.check_value(0, out[0], _dense_forward_solution(x, W, b),
                      mistakes=_DENSE_FWD_MISTAKES, inputs=(x, W, b))
    return g.result(raise_on_fail, "y = x @ W + b matches minivae.nn.Dense.forward")


def check_dense_backward(fn: Callable[..., Any], *, raise_on_fail: bool = False,
                         seed: int = 0) -> ExerciseResult:
    """Grade ``dense_backward(dy, x, W, b) -> (dx, dW, db)``.

    Each gradient is compared with central differences of ``L = sum((x @ W + b) * dy)``, whose
    gradient w.r.t. the layer output is exactly ``dy`` (what backward receives in a network).
    """
    g = _Grader("dense_backward", fn, ["dx", "dW", "db"], _DENSE_BWD_SIG)
    x, W, b, dy = _dense_inputs(seed)
    out = g.call({"dy": dy, "x": x, "W": W, "b": b})
    if out is not None:
        arrays = {"x": x.copy(), "W": W.copy(), "b": b.copy()}

        def loss() -> float:
            return float(np.sum((arrays["x"] @ arrays["W"] + arrays["b"]) * dy))

        scale = float(np.sum(np.abs((x @ W + b) * dy)))
        for k, key in enumerate(("x", "W", "b")):
            g.check_grad(k, out[k], loss, arrays[key], mistakes=_DENSE_BWD_MISTAKES,
                         inputs=(dy, x, W, b), f_scale=scale)
    return g.result(raise_on_fail, "dx, dW, db match the numerical gradient")


# ============================================================================ activations
_SIGMOID_SIG = ("sigmoid_backward(dy, y) -> dx;  y = sigmoid(x) is the forward OUTPUT "
                "(what the layer caches), dy, y, dx: same shape")
_RELU_SIG = ("relu_backward(dy, x) -> dx;  x is the forward INPUT, dy, x, dx: same shape; "
             "dx = dy where x > 0, else 0")

_SIGMOID_MISTAKES = [
    _Mistake("the upstream gradient is missing: dx = dy * y * (1 - y), not y * (1 - y)",
             lambda dy, y: y * (1 - y)),
    _Mistake("sigmoid applied a second time: y is already sigmoid(x), so sigmoid'(x) = "
             "y * (1 - y) directly", lambda dy, y: dy * sigmoid(y) * (1 - sigmoid(y))),
    _Mistake("that is the derivative of tanh (1 - y^2); sigmoid's is y * (1 - y)",
             lambda dy, y: dy * (1 - y * y)),
    _Mistake("the factor (1 - y) is missing: sigmoid'(x) = y * (1 - y)", lambda dy, y: dy * y),
]

_RELU_MISTAKES = [
    _Mistake("the upstream gradient is missing: dx = dy * (x > 0), not just the mask",
             lambda dy, x: (x > 0).astype(float)),
    _Mistake("multiplied by x: the slope of max(x, 0) is 1 for x > 0 (not x) and 0 otherwise",
             lambda dy, x: dy * np.maximum(x, 0)),
    _Mistake("the mask is inverted: gradient passes where x > 0 (the unit was active)",
             lambda dy, x: dy * (x < 0)),
    _Mistake("masked by the sign of dy; the mask comes from the forward input x",
             lambda dy, x: dy * (dy > 0)),
]


def _sigmoid_solution(dy: np.ndarray, y: np.ndarray) -> np.ndarray:
    """SOLUTIONS["sigmoid_backward"]: :meth:`minivae.nn.Sigmoid.backward` with cache y."""
    layer = Sigmoid()
    layer.cache = np.asarray(y, dtype=np.float64)
    return layer.backward(dy)


def _relu_solution(dy: np.ndarray, x: np.ndarray) -> np.ndarray:
    """SOLUTIONS["relu_backward"]: :meth:`minivae.nn.ReLU.backward` after ``forward(x)``."""
    layer = ReLU()
    layer.forward(x)
    return layer.backward(dy)


def check_sigmoid_backward(fn: Callable[..., Any], *, raise_on_fail: bool = False,
                           seed: int = 0) -> ExerciseResult:
    """Grade ``sigmoid_backward(dy, y) -> dx`` where ``y = sigmoid(x)``: compared with central
    differences of ``sum(sigmoid(x) * dy)`` w.r.t. x (x: (4, 5), a few entries as large as 8)."""
    g = _Grader("sigmoid_backward", fn, ["dx"], _SIGMOID_SIG)
    rng = _rng(seed)
    x = 3.0 * rng.standard_normal((4, 5))
    dy = rng.standard_normal(x.shape)
    y = sigmoid(x)
    out = g.call({"dy": dy, "y": y})
    if out is not None:
        xc = x.copy()
        g.check_grad(0, out[0], lambda: float(np.sum(sigmoid(xc) * dy)), xc,
                     mistakes=_SIGMOID_MISTAKES, inputs=(dy, y),
                     f_scale=float(np.sum(np.abs(y * dy))))
    return g.result(raise_on_fail, "dx = dy * y * (1 - y) matches the numerical gradient")


def check_relu_backward(fn: Callable[..., Any], *, raise_on_fail: bool = False,
                        seed: int = 0) -> ExerciseResult:
    """Grade ``relu_backward(dy, x) -> dx`` against central differences of
    ``sum(max(x, 0) * dy)``.  Every x is at least 0.1 away from the kink at 0 (where a central
    difference straddling 0 would measure the average slope 1/2)."""
    g = _Grader("relu_backward", fn, ["dx"], _RELU_SIG)
    rng = _rng(seed)
    x = _away_from_zero(rng.standard_normal((4, 5)))
    dy = rng.standard_normal(x.shape)
    out = g.call({"dy": dy, "x": x})
    if out is not None:
        xc = x.copy()
        g.check_grad(0, out[0], lambda: float(np.sum(np.maximum(xc, 0.0) * dy)), xc,
                     mistakes=_RELU_MISTAKES, inputs=(dy, x),
                     f_scale=float(np.sum(np.abs(np.maximum(x, 0) * dy))))
    return g.result(raise_on_fail, "dx = dy * (x > 0) matches the numerical gradient")


# =================================================================================== KL
_KL_SIG = ("kl_standard_normal(mu, logvar) -> kl;  mu, logvar: (N, L); kl: (N,) with "
           "kl[n] = 0.5 * sum_l (mu^2 + exp(logvar) - 1 - logvar)")
_KL_GRAD_SIG = ("kl_grad(mu, logvar) -> (dmu, dlogvar);  gradients of sum_n kl[n] "
                "(the sum over the batch), each (N, L)")


def _kl_inputs(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = _rng(seed)
    N, L = 4, 3  # N != L: summing over the wrong axis gives a wrong shape
    return rng.standard_normal((N, L)), 0.8 * rng.standard_normal((N, L))


def _kl_solution(mu: np.ndarray, logvar: np.ndarray) -> np.ndarray:
    """SOLUTIONS["kl_standard_normal"]: :meth:`DiagonalGaussian.kl_standard_normal`."""
    return DiagonalGaussian(mu, logvar).kl_standard_normal()


def _kl_grad_solution(mu: np.ndarray, logvar: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """SOLUTIONS["kl_grad"]: :meth:`DiagonalGaussian.kl_standard_normal_grad`."""
    return DiagonalGaussian(mu, logvar).kl_standard_normal_grad()


def _kl_terms(mu: np.ndarray, logvar: np.ndarray) -> np.ndarray:
    return 0.5 * (mu**2 + np.exp(logvar) - 1.0 - logvar)


_KL_MISTAKES = [
    _Mistake("per-dimension terms returned; sum them over the latent axis (axis=1)",
             lambda mu, lv: _kl_terms(mu, lv)),
    _Mistake("summed over the batch axis (axis=0); the KL of example n sums over its L "
             "latent dimensions (axis=1)", lambda mu, lv: _kl_terms(mu, lv).sum(axis=0)),
    _Mistake("summed over the batch too; return one KL per example, shape (N,)",
             lambda mu, lv: np.asarray(_kl_terms(mu, lv).sum())),
    _Mistake("the factor 0.5 in front is missing",
             lambda mu, lv: (mu**2 + np.exp(lv) - 1 - lv).sum(axis=1)),
    _Mistake("the -1 term is missing (it makes KL(N(0,1) || N(0,1)) = 0)",
             lambda mu, lv: 0.5 * (mu**2 + np.exp(lv) - lv).sum(axis=1)),
    _Mistake("the standard deviation exp(0.5 logvar) is used where the variance exp(logvar) "
             "belongs", lambda mu, lv: 0.5 * (mu**2 + np.exp(0.5 * lv) - 1 - lv).sum(axis=1)),
    _Mistake("the log-variance term has the wrong sign: it is -logvar (from -log sigma^2)",
             lambda mu, lv: 0.5 * (mu**2 + np.exp(lv) - 1 + lv).sum(axis=1)),
    _Mistake("the mu^2 term is missing (moving the mean away from 0 costs KL)",
             lambda mu, lv: 0.5 * (np.exp(lv) - 1 - lv).sum(axis=1)),
    _Mistake("averaged over the latent dimensions; the KL of independent dimensions is their "
             "SUM", lambda mu, lv: _kl_terms(mu, lv).mean(axis=1)),
    _Mistake("KL(N(0, I) || q) computed, the reverse direction; the VAE uses KL(q || N(0, I))",
             lambda mu, lv: 0.5 * (lv + (1 + mu**2) * np.exp(-lv) - 1).sum(axis=1)),
]

_KL_GRAD_MISTAKES = [
    _Mistake("dlogvar misses the derivative of the -logvar term: "
             "d/dlogvar 0.5 (exp(logvar) - logvar) = 0.5 (exp(logvar) - 1)",
             lambda mu, lv: (None, 0.5 * np.exp(lv))),
    _Mistake("the 0.5 is missing in dlogvar: 0.5 * (exp(logvar) - 1)",
             lambda mu, lv: (None, np.exp(lv) - 1)),
    _Mistake("dmu = 2 mu: the 0.5 in 0.5 mu^2 cancels the 2, so dmu = mu",
             lambda mu, lv: (2 * mu, None)),
    _Mistake("that is the derivative w.r.t. the VARIANCE; the chain rule through "
             "var = exp(logvar) multiplies by var: dlogvar = 0.5 (exp(logvar) - 1)",
             lambda mu, lv: (None, 0.5 * (1 - np.exp(-lv)))),
    _Mistake("the KL terms themselves were returned, not their derivative",
             lambda mu, lv: (0.5 * mu**2, _kl_terms(np.zeros_like(mu), lv))),
    _Mistake("divided by the batch size: kl_grad is the gradient of the SUM over examples",
             lambda mu, lv: (mu / mu.shape[0], 0.5 * (np.exp(lv) - 1) / mu.shape[0])),
]


def check_kl_standard_normal(fn: Callable[..., Any], *, raise_on_fail: bool = False,
                             seed: int = 0) -> ExerciseResult:
    """Grade ``kl_standard_normal(mu, logvar) -> (N,)``, KL(N(mu, diag exp(logvar)) || N(0, I))
    per example, against
    :meth:`minivae.objectives.distributions.DiagonalGaussian.kl_standard_normal`.

    Two cases: random (mu, logvar) of shape (4, 3), and mu = logvar = 0 where the KL must be 0.
    """
    g = _Grader("kl_standard_normal", fn, ["kl"], _KL_SIG)
    mu, logvar = _kl_inputs(seed)
    for case, (m, lv) in (("random mu, logvar", (mu, logvar)),
                          ("mu = 0, logvar = 0: q equals the prior", (np.zeros_like(mu),
                                                                      np.zeros_like(mu)))):
        out = g.call({"mu": m, "logvar": lv}, case=case)
        if out is None or not g.check_value(0, out[0], _kl_solution(m, lv),
                                            mistakes=_KL_MISTAKES, inputs=(m, lv), case=case):
            break
    return g.result(raise_on_fail, "the closed-form KL matches DiagonalGaussian"
                    ".kl_standard_normal")


def check_kl_grad(fn: Callable[..., Any], *, raise_on_fail: bool = False,
                  seed: int = 0) -> ExerciseResult:
    """Grade ``kl_grad(mu, logvar) -> (dmu, dlogvar)``, the gradient of ``sum_n KL_n``, against
    central differences of the closed-form KL."""
    g = _Grader("kl_grad", fn, ["dmu", "dlogvar"], _KL_GRAD_SIG)
    mu, logvar = _kl_inputs(seed)
    out = g.call({"mu": mu, "logvar": logvar})
    if out is not None:
        arrays = {"mu": mu.copy(), "logvar": logvar.copy()}

        def loss() -> float:
            return float(np.sum(_kl_terms(arrays["mu"], arrays["logvar"])))

        scale = float(np.sum(np.abs(_kl_terms(mu, logvar))))
        for k, key in enumerate(("mu", "logvar")):
            g.check_grad(k, out[k], loss, arrays[key], mistakes=_KL_GRAD_MISTAKES,
                         inputs=(mu, logvar), f_scale=scale)
    return g.result(raise_on_fail, "dmu = mu and dlogvar = 0.5 (exp(logvar) - 1) match the "
                    "numerical gradient")


# ===================================================================== reparameterization
_REPARAM_SIG = ("reparameterize(mu, logvar, eps) -> z;  mu, logvar, eps, z: (N, L), "
                "z = mu + exp(0.5 * logvar) * eps with the GIVEN eps")
_REPARAM_BWD_SIG = ("reparameterize_backward(dz, mu, logvar, eps) -> (dmu, dlogvar);  "
                    "all (N, L): the gradients of sum(z * dz)")


def _reparam_inputs(seed: int) -> tuple[np.ndarray, ...]:
    rng = _rng(seed)
    N, L = 4, 3
    return (rng.standard_normal((N, L)), 0.8 * rng.standard_normal((N, L)),
            rng.standard_normal((N, L)), rng.standard_normal((N, L)))


def _reparam_solution(mu: np.ndarray, logvar: np.ndarray, eps: np.ndarray) -> np.ndarray:
    """SOLUTIONS["reparameterize"]: :meth:`DiagonalGaussian.rsample` with fixed ``eps``."""
    return DiagonalGaussian(mu, logvar).rsample(None, eps=eps)


def _reparam_backward_solution(dz: np.ndarray, mu: np.ndarray, logvar: np.ndarray,
                               eps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """SOLUTIONS["reparameterize_backward"]: :meth:`DiagonalGaussian.rsample_backward` after an
    ``rsample`` with the same ``eps``."""
    q = DiagonalGaussian(mu, logvar)
    q.rsample(None, eps=eps)
    return q.rsample_backward(dz)


_REPARAM_MISTAKES = [
    _Mistake("the variance exp(logvar) is used where the standard deviation exp(0.5 logvar) "
             "belongs", lambda mu, lv, eps: mu + np.exp(lv) * eps),
    _Mistake("logvar is used as the standard deviation; sigma = exp(0.5 * logvar)",
             lambda mu, lv, eps: mu + lv * eps),
    _Mistake("the mean mu is missing: z = mu + sigma * eps",
             lambda mu, lv, eps: np.exp(0.5 * lv) * eps),
    _Mistake("the noise eps is missing: z = mu + sigma * eps",
             lambda mu, lv, eps: mu + np.exp(0.5 * lv)),
    _Mistake("sqrt(logvar) is not the standard deviation (logvar may be negative); "
             "sigma = exp(0.5 * logvar)", lambda mu, lv, eps: mu + np.sqrt(np.abs(lv)) * eps),
]

_REPARAM_BWD_MISTAKES = [
    _Mistake("the 0.5 is missing in dlogvar: d sigma / d logvar = 0.5 * sigma",
             lambda dz, mu, lv, eps: (None, dz * np.exp(0.5 * lv) * eps)),
    _Mistake("sigma is missing in dlogvar: d exp(0.5 logvar) / d logvar = 0.5 exp(0.5 logvar)",
             lambda dz, mu, lv, eps: (None, dz * 0.5 * eps)),
    _Mistake("the variance appears in dlogvar; it is dz * 0.5 * exp(0.5 logvar) * eps",
             lambda dz, mu, lv, eps: (None, dz * 0.5 * np.exp(lv) * eps)),
    _Mistake("dz/dmu = 1 (mu enters z additively), so dmu = dz",
             lambda dz, mu, lv, eps: (dz * np.exp(0.5 * lv), None)),
    _Mistake("the upstream gradient dz is missing",
             lambda dz, mu, lv, eps: (np.ones_like(mu), 0.5 * np.exp(0.5 * lv) * eps)),
    _Mistake("eps is missing in dlogvar: z - mu = sigma * eps, so dlogvar = 0.5 * dz * "
             "sigma * eps", lambda dz, mu, lv, eps: (None, dz * 0.5 * np.exp(0.5 * lv))),
]


def check_reparameterize_backward(fn: Callable[..., Any], *, raise_on_fail: bool = False,
                                  seed: int = 0) -> ExerciseResult:
    """Grade ``reparameterize_backward(dz, mu, logvar, eps) -> (dmu, dlogvar)`` against central
    differences of ``sum(z * dz)`` with ``z = mu + exp(0.5 logvar) * eps`` and *fixed* eps."""
    g = _Grader("reparameterize_backward", fn, ["dmu", "dlogvar"], _REPARAM_BWD_SIG)
    mu, logvar, eps, dz = _reparam_inputs(seed)
    out = g.call({"dz": dz, "mu": mu, "logvar": logvar, "eps": eps})
    if out is not None:
        arrays = {"mu": mu.copy(), "logvar": logvar.copy()}

        def loss() -> float:
            # The same eps on every evaluation: the numeric gradient must measure the change of
            # mu/logvar, not a change of noise.
            return float(np.sum((arrays["mu"] + np.exp(0.5 * arrays["logvar"]) * eps) * dz))

        scale = float(np.sum(np.abs(mu * dz)) + np.sum(np.abs(np.exp(0.5 * logvar) * eps * dz)))
        for k, key in enumerate(("mu", "logvar")):
            g.check_grad(k, out[k], loss, arrays[key], mistakes=_REPARAM_BWD_MISTAKES,
                         inputs=(dz, mu, logvar, eps), f_scale=scale)
    return g.result(raise_on_fail, "dmu = dz and dlogvar = 0.5 * dz * sigma * eps match the "
                    "numerical gradient")


def check_reparameterize(fn: Callable[..., Any],
                         backward_fn: Callable[..., Any] | None = None, *,
                         raise_on_fail: bool = False, seed: int = 0) -> ExerciseResult:
    """Grade ``reparameterize(mu, logvar, eps) -> z`` (and, when ``backward_fn`` is given, also
    ``reparameterize_backward`` via :func:`check_reparameterize_backward`).

    Checks z against :meth:`DiagonalGaussian.rsample` with the same eps, and that z is a
    deterministic function of (mu, logvar, eps): the same eps twice gives the same z, and a
    different eps a different z (the noise must come in through ``eps``, never from a fresh
    random draw, or no gradient check could ever work).
    """
    g = _Grader("reparameterize", fn, ["z"], _REPARAM_SIG)
    mu, logvar, eps, _ = _reparam_inputs(seed)
    args = {"mu": mu, "logvar": logvar, "eps": eps}
    out = g.call(args)
    again = None if out is None else g.call(args, case="second call, same eps")
    if out is not None and again is not None:
        if not np.array_equal(again[0], out[0], equal_nan=True):
            g.fail("z is not a function of (mu, logvar, eps): two calls with the same inputs "
                   "returned different z, so your function draws its own noise. Use the eps it "
                   "is given; the randomness lives outside (eps = rng.standard_normal(shape)), "
                   "which makes z a differentiable function of mu and logvar and lets a "
                   "gradient check reuse the same noise")
        else:
            g.check_value(0, out[0], _reparam_solution(mu, logvar, eps),
                          mistakes=_REPARAM_MISTAKES, inputs=(mu, logvar, eps))
    result = g.result(False, "z = mu + exp(0.5 * logvar) * eps matches DiagonalGaussian.rsample")
    if backward_fn is not None:
        bwd = check_reparameterize_backward(backward_fn, seed=seed)
        passed = result.passed and bwd.passed
        result = ExerciseResult("reparameterize", passed,
                                result.message + "\n" + bwd.message,
                                result.checks + bwd.checks)
    if raise_on_fail and not result.passed:
        raise ExerciseFailed(result)
    return result


# ================================================================================ losses
_BCE_SIG = ("bce_with_logits(logits, target) -> nll;  logits, target: (N, D), target in "
            "[0, 1]; nll: (N,) = sum_d -[t log sigmoid(l) + (1 - t) log(1 - sigmoid(l))], "
            "finite for every finite logit")
_GNLL_SIG = ("gaussian_nll(mean, logvar, target) -> nll;  all (N, D); nll: (N,) = "
             "sum_d 0.5 * (log 2pi + logvar + (target - mean)^2 / exp(logvar))")
_GNLL_GRAD_SIG = ("gaussian_nll_grad(mean, logvar, target) -> (dmean, dlogvar);  gradients of "
                  "sum_n nll[n], each (N, D)")


def _bce_solution(logits: np.ndarray, target: np.ndarray) -> np.ndarray:
    """SOLUTIONS["bce_with_logits"]: :func:`minivae.objectives.losses.bernoulli_nll`, per
    example."""
    return losses.bernoulli_nll(logits, target, reduction="none")


def _gnll_solution(mean: np.ndarray, logvar: np.ndarray, target: np.ndarray) -> np.ndarray:
    """SOLUTIONS["gaussian_nll"]: :func:`minivae.objectives.losses.gaussian_nll`, per example."""
    return losses.gaussian_nll(mean, logvar, target, reduction="none")


def _gnll_grad_solution(mean: np.ndarray, logvar: np.ndarray, target: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray]:
    """SOLUTIONS["gaussian_nll_grad"]: :func:`minivae.objectives.losses.gaussian_nll_grad` of the
    sum."""
    return losses.gaussian_nll_grad(mean, logvar, target, reduction="sum")


def _bce_elem(l: np.ndarray, t: np.ndarray) -> np.ndarray:
    return softplus(l) - t * l


_BCE_MISTAKES = [
    _Mistake("per-element losses returned; sum over the data dimensions (axis=1) to get one "
             "number per example", lambda l, t: _bce_elem(l, t)),
    _Mistake("averaged over the data dimensions; minivae sums over them (nats per example)",
             lambda l, t: _bce_elem(l, t).mean(axis=1)),
    _Mistake("this is the log-likelihood; the loss is its NEGATIVE",
             lambda l, t: -_bce_elem(l, t).sum(axis=1)),
    _Mistake("the (1 - t) log(1 - sigmoid(l)) term is missing",
             lambda l, t: (t * softplus(-l)).sum(axis=1)),
    _Mistake("summed over the batch too; return one loss per example, shape (N,)",
             lambda l, t: np.asarray(_bce_elem(l, t).sum())),
]

_STABILITY_ADVICE = (
    "In float64 exp(-l) overflows to inf for l < -709, and sigmoid(l) rounds to exactly 1 for "
    "l > 37, so log(1 - sigmoid(l)) = log(0) = -inf and 0 * inf = nan. Never form the "
    "probability: write the loss in terms of the logit, -[t log s(l) + (1-t) log(1-s(l))] = "
    "softplus(l) - t*l, with softplus(l) = max(l, 0) + log1p(exp(-|l|)) (or "
    "np.logaddexp(0, l)), which is finite for every finite l"
)


def check_bce_with_logits(fn: Callable[..., Any], *, raise_on_fail: bool = False,
                          seed: int = 0) -> ExerciseResult:
    """Grade ``bce_with_logits(logits, target) -> (N,)`` against
    :func:`minivae.objectives.losses.bernoulli_nll` (``reduction="none"``).

    Two cases: moderate random logits with soft targets in [0, 1], then extreme logits
    (+-1000, +-800, +-40) one per example, where a naive ``log(sigmoid(l))`` overflows or gives
    log(0).  The second case reports the logit, target, expected and returned value.
    """
    g = _Grader("bce_with_logits", fn, ["nll"], _BCE_SIG)
    rng = _rng(seed)
    logits = 2.0 * rng.standard_normal((4, 6))
    target = rng.random((4, 6))
    target[0] = (target[0] > 0.5).astype(float)  # some hard 0/1 targets, some grey levels
    out = g.call({"logits": logits, "target": target}, case="moderate logits")
    if out is not None and g.check_value(0, out[0], _bce_solution(logits, target),
                                         mistakes=_BCE_MISTAKES, inputs=(logits, target),
                                         case="moderate logits"):
        big = np.array([1000.0, -1000.0, 1000.0, -1000.0, 800.0, -800.0, 40.0, -40.0])[:, None]
        tgt = np.array([1.0, 0.0, 0.0, 1.0, 0.25, 0.5, 1.0, 0.0])[:, None]
        out = g.call({"logits": big, "target": tgt}, case="extreme logits")
        if out is not None:
            got, want = out[0], _bce_solution(big, tgt)
            if g.shape_ok("nll", got, want.shape, [], case="extreme logits"):
                bad = ~np.isclose(got, want, rtol=1e-7, atol=1e-12)
                if np.any(bad):
                    # Report the worst example (non-finite counts as infinitely wrong).
                    err = np.where(np.isfinite(got), np.abs(got - want), np.inf)
                    n = int(np.argmax(np.where(bad, err, -1.0)))
                    what = ("overflowed to inf/nan" if not np.isfinite(got[n])
                            else "is finite but wrong")
                    clip = ("" if not np.isfinite(got[n]) or got[n] >= want[n] else
                            " (clipping probabilities to [eps, 1 - eps] caps the loss at "
                            "-log(eps) instead of the true value)")
                    g.fail(
                        f"nll is not numerically stable (extreme logits) at index ({n},): "
                        f"for logit {big[n, 0]:g} and target {tgt[n, 0]:g} expected "
                        f"{_fmt(want[n])}, got {_fmt(got[n])} — your value {what}{clip}; "
                        f"{int(bad.sum())} of {bad.size} extreme examples are off.\n"
                        f"    Hint: {_STABILITY_ADVICE}"
                    )
                else:
                    g.ok["nll"] = g.ok.get("nll", 0.0)
    return g.result(raise_on_fail, "matches losses.bernoulli_nll and stays exact at logits of "
                    "+-1000")


def _gnll_elem(m: np.ndarray, lv: np.ndarray, x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.log(2 * np.pi) + lv + (x - m) ** 2 * np.exp(-lv))


_GNLL_MISTAKES = [
    _Mistake("the constant 0.5 * log(2 pi) per dimension is missing: it does not change "
             "gradients, but the value is a negative log-DENSITY and is compared across models",
             lambda m, lv, x: (0.5 * (lv + (x - m) ** 2 * np.exp(-lv))).sum(axis=1)),
    _Mistake("the factor 0.5 in front is missing",
             lambda m, lv, x: (2 * _gnll_elem(m, lv, x)).sum(axis=1)),
    _Mistake("(x - mean)^2 is MULTIPLIED by the variance; divide by it: * exp(-logvar)",
             lambda m, lv, x: (0.5 * (np.log(2 * np.pi) + lv + (x - m) ** 2 * np.exp(lv)))
             .sum(axis=1)),
    _Mistake("the logvar term (the normaliser) is missing: without it a model lowers the loss "
             "for free by inflating the variance",
             lambda m, lv, x: (0.5 * (np.log(2 * np.pi) + (x - m) ** 2 * np.exp(-lv)))
             .sum(axis=1)),
    _Mistake("(x - mean)^2 is divided by the standard deviation exp(0.5 logvar); it must be "
             "divided by the variance exp(logvar)",
             lambda m, lv, x: (0.5 * (np.log(2 * np.pi) + lv + (x - m) ** 2 * np.exp(-0.5 * lv)))
             .sum(axis=1)),
    _Mistake("per-element losses returned; sum over the data dimensions (axis=1)",
             lambda m, lv, x: _gnll_elem(m, lv, x)),
    _Mistake("averaged over the data dimensions; minivae sums over them",
             lambda m, lv, x: _gnll_elem(m, lv, x).mean(axis=1)),
    _Mistake("this is the log-likelihood; the loss is its NEGATIVE",
             lambda m, lv, x: -_gnll_elem(m, lv, x).sum(axis=1)),
]

_GNLL_GRAD_MISTAKES = [
    _Mistake("the inverse variance is missing in dmean: (mean - x) / exp(logvar)",
             lambda m, lv, x: (m - x, None)),
    _Mistake("dlogvar misses the 0.5: d/dlogvar 0.5 (logvar + r^2 exp(-logvar)) = "
             "0.5 (1 - r^2 exp(-logvar))", lambda m, lv, x: (None, 1 - (x - m) ** 2 * np.exp(-lv))),
    _Mistake("dlogvar misses the +0.5 from the logvar term itself",
             lambda m, lv, x: (None, -0.5 * (x - m) ** 2 * np.exp(-lv))),
    _Mistake("dlogvar treats exp(-logvar) as a constant: d exp(-logvar)/dlogvar = -exp(-logvar)",
             lambda m, lv, x: (None, 0.5 * np.ones_like(lv))),
]


def check_gaussian_nll(fn: Callable[..., Any], *, raise_on_fail: bool = False,
                       seed: int = 0) -> ExerciseResult:
    """Grade ``gaussian_nll(mean, logvar, target) -> (N,)`` against
    :func:`minivae.objectives.losses.gaussian_nll` (``reduction="none"``); (mean, logvar, target):
    (4, 6)."""
    g = _Grader("gaussian_nll", fn, ["nll"], _GNLL_SIG)
    rng = _rng(seed)
    mean, logvar, target = (rng.standard_normal((4, 6)), rng.standard_normal((4, 6)),
                            rng.standard_normal((4, 6)))
    out = g.call({"mean": mean, "logvar": logvar, "target": target})
    if out is not None:
        g.check_value(0, out[0], _gnll_solution(mean, logvar, target), mistakes=_GNLL_MISTAKES,
                      inputs=(mean, logvar, target))
    return g.result(raise_on_fail, "matches losses.gaussian_nll")


def check_gaussian_nll_grad(fn: Callable[..., Any], *, raise_on_fail: bool = False,
                            seed: int = 0) -> ExerciseResult:
    """Grade ``gaussian_nll_grad(mean, logvar, target) -> (dmean, dlogvar)`` (gradients of the
    sum over the batch) against central differences of the Gaussian NLL."""
    g = _Grader("gaussian_nll_grad", fn, ["dmean", "dlogvar"], _GNLL_GRAD_SIG)
    rng = _rng(seed)
    mean, logvar, target = (rng.standard_normal((4, 6)), rng.standard_normal((4, 6)),
                            rng.standard_normal((4, 6)))
    out = g.call({"mean": mean, "logvar": logvar, "target": target})
    if out is not None:
        arrays = {"mean": mean.copy(), "logvar": logvar.copy()}

        def loss() -> float:
            return float(np.sum(_gnll_elem(arrays["mean"], arrays["logvar"], target)))

        scale = float(np.sum(np.abs(_gnll_elem(mean, logvar, target))))
        for k, key in enumerate(("mean", "logvar")):
            g.check_grad(k, out[k], loss, arrays[key], mistakes=_GNLL_GRAD_MISTAKES,
                         inputs=(mean, logvar, target), f_scale=scale)
    return g.result(raise_on_fail, "dmean and dlogvar match the numerical gradient")


# ================================================================================= LSTM
_STEP_FWD_SIG = ("lstm_step_forward(x_t, h_prev, c_prev, Wx, Wh, b) -> (h, c, cache);  "
                 "x_t: (N, D), h_prev, c_prev: (N, H), Wx: (D, 4H), Wh: (H, 4H), b: (4H,), "
                 "gate blocks along 4H in the order (i, f, g, o)")
_STEP_BWD_SIG = ("lstm_step_backward(dh, dc, cache) -> (dx, dh_prev, dc_prev, dWx, dWh, db);  "
                 "dh, dc: (N, H); cache = (x_t, h_prev, c_prev, Wx, Wh, i, f, g, o, tanh_c) as "
                 "returned by minivae.nn.lstm.lstm_step_forward")
_SEQ_FWD_SIG = ("lstm_forward(x, h0, c0, Wx, Wh, b) -> (hs, caches);  x: (N, T, D), "
                "h0, c0: (N, H); hs: (N, T, H); caches: list of the T step caches")
_SEQ_BWD_SIG = ("lstm_backward(dhs, caches) -> (dx, dh0, dc0, dWx, dWh, db);  dhs: (N, T, H) "
                "= dL/dhs; caches from lstm_forward (the library's step caches by default)")
_GATES = ("i", "f", "g", "o")


def _lstm_params(rng: np.random.Generator, D: int, H: int) -> tuple[np.ndarray, ...]:
    return (0.5 * rng.standard_normal((D, 4 * H)), 0.5 * rng.standard_normal((H, 4 * H)),
            0.3 * rng.standard_normal(4 * H))


def _step_inputs(seed: int) -> tuple[np.ndarray, ...]:
    rng = _rng(seed)
    N, D, H = 3, 4, 2  # D, H and 4H all different: transposes show up as wrong shapes
    Wx, Wh, b = _lstm_params(rng, D, H)
    x, h, c = (rng.standard_normal((N, D)), rng.standard_normal((N, H)),
               rng.standard_normal((N, H)))
    dh, dc = rng.standard_normal((N, H)), rng.standard_normal((N, H))
    return x, h, c, Wx, Wh, b, dh, dc


def _step_variant(x, h_prev, c_prev, Wx, Wh, b, *, order=_GATES, g_act=np.tanh,
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


def _step_forward_mistakes() -> list[_Mistake]:
    out = []
    for order in itertools.permutations(_GATES):
        if order != _GATES:
            out.append(_Mistake(
                f"your (h, c) match an LSTM that reads the 4H blocks in the order "
                f"({', '.join(order)}); minivae (like PyTorch) uses (i, f, g, o): "
                "a[:, 0:H] input gate, a[:, H:2H] forget gate, a[:, 2H:3H] candidate g (tanh), "
                "a[:, 3H:4H] output gate",
                lambda *a, order=order: _step_variant(*a, order=order)))
    out += [
        _Mistake("tanh on the cell is missing: h = o * tanh(c)",
                 lambda *a: _step_variant(*a, cell_tanh=False)),
        _Mistake("the candidate g uses sigmoid; it uses tanh (values in (-1, 1), so the cell "
                 "can also decrease)", lambda *a: _step_variant(*a, g_act=sigmoid)),
        _Mistake("the input gate is missing: c = f * c_prev + i * g",
                 lambda *a: _step_variant(*a, use_i=False)),
        _Mistake("the forget gate is missing: c = f * c_prev + i * g",
                 lambda *a: _step_variant(*a, use_f=False)),
        _Mistake("h uses the OLD cell state; h = o * tanh(c) with the new c",
                 lambda *a: _step_variant(*a, old_cell=True)),
        _Mistake("h and c are swapped: return (h, c, cache)",
                 lambda *a: _step_variant(*a)[::-1]),
    ]
    return out


_STEP_FWD_MISTAKES = _step_forward_mistakes()


def _step_backward_variant(dh, dc, cache, *, h_path=True, forget=True, tanh_sq=True):
    """lstm_step_backward with a configurable mistake."""
    x_t, h_prev, c_prev, Wx, Wh, i, f, g, o, tanh_c = cache
    do = dh * tanh_c
    dtanh = (1.0 - tanh_c * tanh_c) if tanh_sq else (1.0 - tanh_c)
    dc = dc + dh * o * dtanh if h_path else dc
    da = np.concatenate([dc * g * i * (1 - i), dc * c_prev * f * (1 - f),
                         dc * i * (1 - g * g), do * o * (1 - o)], axis=1)
    return (da @ Wx.T, da @ Wh.T, dc * f if forget else dc, x_t.T @ da, h_prev.T @ da,
            da.sum(axis=0))


_STEP_BWD_MISTAKES = [
    _Mistake("c_t also receives gradient through h_t = o * tanh(c_t): the total is "
             "dc + dh * o * (1 - tanh(c)^2) before it flows into the gates and c_prev",
             lambda dh, dc, cache: _step_backward_variant(dh, dc, cache, h_path=False)),
    _Mistake("dc_prev = dc * f: the old cell enters c = f * c_prev + i * g multiplied by f",
             lambda dh, dc, cache: _step_backward_variant(dh, dc, cache, forget=False)),
    _Mistake("tanh'(c) = 1 - tanh(c)^2 (squared), not 1 - tanh(c)",
             lambda dh, dc, cache: _step_backward_variant(dh, dc, cache, tanh_sq=False)),
]


def check_lstm_step_forward(fn: Callable[..., Any], *, raise_on_fail: bool = False,
                            seed: int = 0) -> ExerciseResult:
    """Grade ``lstm_step_forward(x_t, h_prev, c_prev, Wx, Wh, b) -> (h, c, cache)`` against
    :func:`minivae.nn.lstm.lstm_step_forward` (N=3, D=4, H=2).  The cache is yours (not graded);
    a wrong gate order is recognised and named."""
    g = _Grader("lstm_step_forward", fn, ["h", "c", "cache"], _STEP_FWD_SIG)
    x, h, c, Wx, Wh, b, _, _ = _step_inputs(seed)
    args = {"x_t": x, "h_prev": h, "c_prev": c, "Wx": Wx, "Wh": Wh, "b": b}
    out = g.call(args, array_outputs=(0, 1))
    if out is not None:
        h_ref, c_ref, _ = lstm_step_forward(x, h, c, Wx, Wh, b)
        for k, want in ((0, h_ref), (1, c_ref)):
            g.check_value(k, out[k], want, mistakes=_STEP_FWD_MISTAKES,
                          inputs=(x, h, c, Wx, Wh, b))
    g.outputs = ["h", "c"]
    return g.result(raise_on_fail, "h and c match minivae.nn.lstm.lstm_step_forward")


def _step_loss(arrays: dict[str, np.ndarray], dh: np.ndarray, dc: np.ndarray) -> float:
    h, c, _ = lstm_step_forward(arrays["x_t"], arrays["h_prev"], arrays["c_prev"],
                                arrays["Wx"], arrays["Wh"], arrays["b"])
    return float(np.sum(h * dh) + np.sum(c * dc))


def check_lstm_step_backward(fn: Callable[..., Any],
                             forward_fn: Callable[..., Any] | None = None, *,
                             raise_on_fail: bool = False, seed: int = 0) -> ExerciseResult:
    """Grade ``lstm_step_backward(dh, dc, cache) -> (dx, dh_prev, dc_prev, dWx, dWh, db)``.

    The cache comes from the library's :func:`~minivae.nn.lstm.lstm_step_forward` (layout
    ``(x_t, h_prev, c_prev, Wx, Wh, i, f, g, o, tanh_c)``), or from your ``forward_fn`` with the
    same signature if you give one.  Every gradient is compared with central differences of
    ``L = sum(h * dh) + sum(c * dc)``.
    """
    g = _Grader("lstm_step_backward", fn, ["dx", "dh_prev", "dc_prev", "dWx", "dWh", "db"],
                _STEP_BWD_SIG)
    x, h, c, Wx, Wh, b, dh, dc = _step_inputs(seed)
    fwd = lstm_step_forward if forward_fn is None else forward_fn
    try:
        cache = fwd(x.copy(), h.copy(), c.copy(), Wx.copy(), Wh.copy(), b.copy())[2]
    except NotImplementedError:
        raise
    except Exception as exc:
        g.fail(f"forward_fn raised {type(exc).__name__}: {exc}")
        return g.result(raise_on_fail, "")
    lib_cache = lstm_step_forward(x, h, c, Wx, Wh, b)[2]
    out = g.call({"dh": dh, "dc": dc, "cache": cache})
    if out is not None:
        arrays = {"x_t": x.copy(), "h_prev": h.copy(), "c_prev": c.copy(), "Wx": Wx.copy(),
                  "Wh": Wh.copy(), "b": b.copy()}
        h_ref, c_ref, _ = lstm_step_forward(x, h, c, Wx, Wh, b)
        scale = float(np.sum(np.abs(h_ref * dh)) + np.sum(np.abs(c_ref * dc)))
        for k, key in enumerate(arrays):
            g.check_grad(k, out[k], lambda: _step_loss(arrays, dh, dc), arrays[key],
                         mistakes=_STEP_BWD_MISTAKES, inputs=(dh, dc, lib_cache), f_scale=scale)
    return g.result(raise_on_fail, "all six gradients match the numerical gradient")


def _seq_inputs(seed: int) -> tuple[np.ndarray, ...]:
    rng = _rng(seed)
    N, T, D, H = 3, 5, 4, 2
    Wx, Wh, b = _lstm_params(rng, D, H)
    x = rng.standard_normal((N, T, D))
    h0, c0 = rng.standard_normal((N, H)), rng.standard_normal((N, H))
    dhs = rng.standard_normal((N, T, H))
    return x, h0, c0, Wx, Wh, b, dhs


def _lstm_forward_solution(x: np.ndarray, h0: np.ndarray, c0: np.ndarray, Wx: np.ndarray,
                           Wh: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, list]:
    """SOLUTIONS["lstm_forward"]: the equations of :meth:`minivae.nn.lstm.LSTMLayer._forward`
    (without masks) as a plain loop: one :func:`lstm_step_forward` per time step, h and c
    carried along.  (The layer computes the same thing reorganised for speed, in
    ``minivae.nn.lstm._sequence_forward``.)"""
    N, T, _ = x.shape
    hs = np.zeros((N, T, h0.shape[1]))
    h, c, caches = h0, c0, []
    for t in range(T):
        h, c, cache = lstm_step_forward(x[:, t], h, c, Wx, Wh, b)
        hs[:, t] = h
        caches.append(cache)
    return hs, caches


def _lstm_backward_solution(dhs: np.ndarray, caches: Sequence[tuple]) -> tuple[np.ndarray, ...]:
    """SOLUTIONS["lstm_backward"]: the equations of :meth:`minivae.nn.lstm.LSTMLayer.backward`
    (without masks) as a plain loop: :func:`lstm_step_backward` from the last step to the first,
    carrying dh and dc back in time and SUMMING the parameter gradients of all steps.  (The
    layer's reorganised version is ``minivae.nn.lstm._sequence_backward``.)"""
    return _bptt_variant(dhs, caches)


def _bptt_variant(dhs, caches, *, carry_h=True, carry_c=True, accumulate=True, use_dhs=True):
    """BPTT over library step caches, optionally with one classic mistake."""
    x0, h0 = caches[0][0], caches[0][1]
    N, D = x0.shape
    T, H = len(caches), h0.shape[1]
    dx = np.zeros((N, T, D))
    dWx, dWh, db = (np.zeros_like(caches[0][3]), np.zeros_like(caches[0][4]),
                    np.zeros(4 * H))
    dh, dc = np.zeros((N, H)), np.zeros((N, H))
    for t in reversed(range(T)):
        dh_step = (dh if carry_h else 0.0) + (dhs[:, t] if use_dhs else 0.0)
        dx[:, t], dh, dc_new, dWx_t, dWh_t, db_t = lstm_step_backward(
            np.asarray(dh_step, dtype=np.float64) + np.zeros((N, H)),
            dc if carry_c else np.zeros((N, H)), caches[t])
        dc = dc_new
        if accumulate:
            dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
        else:
            dWx, dWh, db = dWx_t, dWh_t, db_t
    return dx, dh, dc, dWx, dWh, db


_SEQ_BWD_MISTAKES = [
    _Mistake("the parameter gradients hold only ONE step's contribution (the last one your "
             "loop visited): Wx, Wh and b are shared by all T steps, so ADD every step's "
             "gradient (dWx += dWx_t), never assign",
             lambda dhs, caches: _bptt_variant(dhs, caches, accumulate=False)),
    _Mistake("the gradient flowing back from the next step is missing: h_t feeds both "
             "hs[:, t] and step t+1, so the step's dh is dhs[:, t] + dh_next",
             lambda dhs, caches: _bptt_variant(dhs, caches, carry_h=False)),
    _Mistake("the cell-state gradient is not carried back in time: pass dc_prev of step t+1 "
             "as dc into step t (the cell is the LSTM's long-term memory path)",
             lambda dhs, caches: _bptt_variant(dhs, caches, carry_c=False)),
    _Mistake("the gradient of the step's own output dhs[:, t] is missing: dh = dhs[:, t] + "
             "dh_next", lambda dhs, caches: _bptt_variant(dhs, caches, use_dhs=False)),
]

_SEQ_FWD_MISTAKES = [
    _Mistake("the state is not carried: every step restarts from h0, c0; pass each step's "
             "(h, c) into the next",
             lambda x, h0, c0, Wx, Wh, b: (np.stack(
                 [lstm_step_forward(x[:, t], h0, c0, Wx, Wh, b)[0]
                  for t in range(x.shape[1])], axis=1),)),
    _Mistake("off by one: hs[:, t] must be the state AFTER step t (h_t), not the state "
             "entering it (h_{t-1})",
             lambda x, h0, c0, Wx, Wh, b: (np.concatenate(
                 [h0[:, None], _lstm_forward_solution(x, h0, c0, Wx, Wh, b)[0][:, :-1]],
                 axis=1),)),
]


def _seq_reference(x, h0, c0, Wx, Wh, b) -> np.ndarray:
    """hs from the public LSTMLayer (the graded reference for sequences)."""
    layer = LSTMLayer(Wx.shape[0], h0.shape[1])
    layer.params["Wx"][...], layer.params["Wh"][...], layer.params["b"][...] = Wx, Wh, b
    return layer.forward(x, h0, c0)[0]


def check_lstm_forward(fn: Callable[..., Any], *, raise_on_fail: bool = False,
                       seed: int = 0) -> ExerciseResult:
    """Grade ``lstm_forward(x, h0, c0, Wx, Wh, b) -> (hs, caches)`` over a whole sequence
    (N=3, T=5, D=4, H=2) against :class:`minivae.nn.LSTMLayer`; caches must hold T entries."""
    g = _Grader("lstm_forward", fn, ["hs", "caches"], _SEQ_FWD_SIG)
    x, h0, c0, Wx, Wh, b, _ = _seq_inputs(seed)
    out = g.call({"x": x, "h0": h0, "c0": c0, "Wx": Wx, "Wh": Wh, "b": b}, array_outputs=(0,))
    if out is not None:
        g.check_value(0, out[0], _seq_reference(x, h0, c0, Wx, Wh, b),
                      mistakes=_SEQ_FWD_MISTAKES, inputs=(x, h0, c0, Wx, Wh, b))
        caches = out[1]
        if not isinstance(caches, (list, tuple)) or len(caches) != x.shape[1]:
            g.fail(f"caches must be a list with one step cache per time step (T={x.shape[1]}), "
                   f"got a {_describe(caches)}")
    g.outputs = ["hs"]
    return g.result(raise_on_fail, "hs matches minivae.nn.LSTMLayer over all time steps")


def check_lstm_backward(fn: Callable[..., Any],
                        forward_fn: Callable[..., Any] | None = None, *,
                        raise_on_fail: bool = False, seed: int = 0) -> ExerciseResult:
    """Grade ``lstm_backward(dhs, caches) -> (dx, dh0, dc0, dWx, dWh, db)`` (backprop through
    time) against central differences of ``L = sum(hs * dhs)`` computed with
    :class:`minivae.nn.LSTMLayer`.  The caches come from the library's step forward (a list of
    :func:`lstm_step_forward` caches) unless you pass your own ``forward_fn`` (lstm_forward)."""
    g = _Grader("lstm_backward", fn, ["dx", "dh0", "dc0", "dWx", "dWh", "db"], _SEQ_BWD_SIG)
    x, h0, c0, Wx, Wh, b, dhs = _seq_inputs(seed)
    fwd = _lstm_forward_solution if forward_fn is None else forward_fn
    try:
        caches = fwd(x.copy(), h0.copy(), c0.copy(), Wx.copy(), Wh.copy(), b.copy())[1]
    except NotImplementedError:
        raise
    except Exception as exc:
        g.fail(f"forward_fn raised {type(exc).__name__}: {exc}")
        return g.result(raise_on_fail, "")
    lib_caches = _lstm_forward_solution(x, h0, c0, Wx, Wh, b)[1]
    out = g.call({"dhs": dhs, "caches": caches})
    if out is not None:
        arrays = {"x": x.copy(), "h0": h0.copy(), "c0": c0.copy(), "Wx": Wx.copy(),
                  "Wh": Wh.copy(), "b": b.copy()}

        def loss() -> float:
            # The step loop (what LSTMLayer runs, minus its input validation): fast enough to
            # be evaluated twice per checked entry.
            return float(np.sum(_lstm_forward_solution(**arrays)[0] * dhs))

        scale = float(np.sum(np.abs(_seq_reference(x, h0, c0, Wx, Wh, b) * dhs)))
        for k, key in enumerate(arrays):
            g.check_grad(k, out[k], loss, arrays[key], mistakes=_SEQ_BWD_MISTAKES,
                         inputs=(dhs, lib_caches), f_scale=scale)
    return g.result(raise_on_fail, "all six BPTT gradients match the numerical gradient")


# ===================================================================== numerical gradient
_NUMGRAD_SIG = ("numerical_gradient(f, x, h) -> grad;  f(x) -> float, x: float64 array of any "
                "shape, grad[i] = (f(x + h e_i) - f(x - h e_i)) / (2h), same shape as x; x must "
                "be restored exactly")


def _numgrad_solution(f: Callable[[np.ndarray], float], x: np.ndarray,
                      h: float = DEFAULT_H) -> np.ndarray:
    """SOLUTIONS["numerical_gradient"]: :func:`minivae.gradcheck.numerical_gradient`."""
    return numerical_gradient(f, x, h=h)


def _numgrad_variant(f, x, h, kind):
    """A wrong finite-difference scheme, for recognising it."""
    x = x.copy()
    grad = np.zeros_like(x)
    if kind == "all_at_once":
        return np.full_like(x, (f(x + h) - f(x - h)) / (2 * h))
    if kind == "rows":
        grad = np.zeros_like(x)
        for i in range(x.shape[0]):
            xp, xm = x.copy(), x.copy()
            xp[i] += h
            xm[i] -= h
            grad[i] = (f(xp) - f(xm)) / (2 * h)
        return grad
    for idx in np.ndindex(*x.shape):
        old = x[idx]
        x[idx] = old + h
        fp = f(x)
        x[idx] = old - h
        fm = f(x)
        if kind != "no_restore":
            x[idx] = old
        f0 = f(x) if kind in ("forward", "backward") else None
        if kind == "forward":
            grad[idx] = (fp - f0) / h
        elif kind == "backward":
            grad[idx] = (f0 - fm) / h
        elif kind == "over_h":
            grad[idx] = (fp - fm) / h
        else:  # no_restore
            grad[idx] = (fp - fm) / (2 * h)
    return grad


_NUMGRAD_KINDS = {
    "forward": "that is the FORWARD difference (f(x+h) - f(x)) / h, whose error is O(h); the "
               "central difference (f(x+h) - f(x-h)) / (2h) has error O(h^2)",
    "backward": "that is the BACKWARD difference (f(x) - f(x-h)) / h (error O(h)); use the "
                "central difference (f(x+h) - f(x-h)) / (2h)",
    "over_h": "divide by 2h: the two evaluation points x+h and x-h are 2h apart",
    "no_restore": "x[i] is not restored after perturbing it, so every later entry is measured at "
                  "a shifted point: put the old value back (x[i] = old)",
    "all_at_once": "all entries were perturbed at once (x + h): perturb ONE entry at a time, "
                   "that is what makes grad[i] the partial derivative w.r.t. x[i]",
    "rows": "x[i] with one index selects a whole ROW of a 2-D x: iterate over every entry "
            "(np.ndindex(*x.shape) or np.nditer with multi_index)",
}


def _numgrad_test_fn(B: np.ndarray) -> Callable[[np.ndarray], float]:
    def f(v: np.ndarray) -> float:
        v = np.asarray(v)
        return float(np.sum(v**3) + np.sum(np.sin(v.reshape(v.shape[0], -1) @ B)))

    return f


def check_numerical_gradient(fn: Callable[..., Any], *, raise_on_fail: bool = False,
                             seed: int = 0) -> ExerciseResult:
    """Grade ``numerical_gradient(f, x, h) -> grad``, your central-difference implementation.

    ``f(v) = sum(v^3) + sum(sin(v @ B))`` (curved on purpose, so one-sided differences are
    visibly worse) is differentiated at a random 2-D x of shape (3, 4) with h = 1e-3, and at a 1-D
    x of shape (5,) with h = 1e-5.  Your result must equal what a correct central difference gives
    (:func:`minivae.gradcheck.numerical_gradient` with the same h) and x must be restored exactly.
    """
    g = _Grader("numerical_gradient", fn, ["grad"], _NUMGRAD_SIG)
    rng = _rng(seed)
    cases = [("2-D x, h = 1e-3", rng.standard_normal((3, 4)), 1e-3, rng.standard_normal((4, 2))),
             ("1-D x, h = 1e-5", rng.standard_normal(5), 1e-5, rng.standard_normal((1, 2)))]
    for case, x, h, B in cases:
        f = _numgrad_test_fn(B)
        x_before = x.copy()
        out = g.call({"f": f, "x": x, "h": h}, case=case, restore_ok=True)
        if out is None:
            break
        x_own = g.last_args["x"]  # the array the function received and should have restored
        if not np.array_equal(x_own, x_before):
            i = tuple(int(v) for v in np.argwhere(x_own != x_before)[0])
            g.fail(f"x was not restored ({case}): after the call x{list(i)} = "
                   f"{float(x_own[i])!r}, before it was {float(x_before[i])!r}. Perturb one "
                   "entry, evaluate, and put the old value back (x[i] = old), or work on a copy")
            break
        want = _numgrad_solution(f, x.copy(), h)
        mistakes = [_Mistake(hint, lambda f_, x_, h_, kind=kind: _numgrad_variant(f_, x_, h_,
                                                                                  kind))
                    for kind, hint in _NUMGRAD_KINDS.items()]
        if not g.check_value(0, out[0], want, mistakes=mistakes, inputs=(f, x, h), case=case):
            break
    return g.result(raise_on_fail, "central differences match minivae.gradcheck"
                    ".numerical_gradient and x is restored")


# ============================================================================ catalogue
@dataclass(frozen=True)
class Exercise:
    """One exercise: its name, the signature you implement, the checker and the solution."""

    name: str
    signature: str
    checker: Callable[..., ExerciseResult]
    solution: Callable[..., Any]
    library_source: tuple[Any, ...]
    lesson: str


_CATALOGUE = [
    ("dense_forward", _DENSE_SIG, check_dense_forward, _dense_forward_solution,
     (Dense.forward,), "01_autoencoders"),
    ("dense_backward", _DENSE_BWD_SIG, check_dense_backward, _dense_backward_solution,
     (Dense.backward,), "01_autoencoders"),
    ("sigmoid_backward", _SIGMOID_SIG, check_sigmoid_backward, _sigmoid_solution,
     (Sigmoid.backward,), "01_autoencoders"),
    ("relu_backward", _RELU_SIG, check_relu_backward, _relu_solution, (ReLU.forward,
                                                                       ReLU.backward),
     "01_autoencoders"),
    ("bce_with_logits", _BCE_SIG, check_bce_with_logits, _bce_solution,
     (softplus, losses.bernoulli_nll), "01_autoencoders"),
    ("kl_standard_normal", _KL_SIG, check_kl_standard_normal, _kl_solution,
     (DiagonalGaussian.kl_standard_normal,), "02_vae_elbo_kl"),
    ("kl_grad", _KL_GRAD_SIG, check_kl_grad, _kl_grad_solution,
     (DiagonalGaussian.kl_standard_normal_grad,), "02_vae_elbo_kl"),
    ("gaussian_nll", _GNLL_SIG, check_gaussian_nll, _gnll_solution, (losses.gaussian_nll,),
     "02_vae_elbo_kl"),
    ("gaussian_nll_grad", _GNLL_GRAD_SIG, check_gaussian_nll_grad, _gnll_grad_solution,
     (losses.gaussian_nll_grad,), "02_vae_elbo_kl"),
    ("reparameterize", _REPARAM_SIG, check_reparameterize, _reparam_solution,
     (DiagonalGaussian.rsample,), "03_reparameterization"),
    ("reparameterize_backward", _REPARAM_BWD_SIG, check_reparameterize_backward,
     _reparam_backward_solution, (DiagonalGaussian.rsample_backward,), "03_reparameterization"),
    ("numerical_gradient", _NUMGRAD_SIG, check_numerical_gradient, _numgrad_solution,
     (numerical_gradient, _central_differences), "04_gradient_checking"),
    ("lstm_step_forward", _STEP_FWD_SIG, check_lstm_step_forward, lstm_step_forward,
     (lstm_step_forward,), "05_rnn_lstm_bptt"),
    ("lstm_step_backward", _STEP_BWD_SIG, check_lstm_step_backward, lstm_step_backward,
     (lstm_step_backward,), "05_rnn_lstm_bptt"),
    ("lstm_forward", _SEQ_FWD_SIG, check_lstm_forward, _lstm_forward_solution,
     (LSTMLayer._forward, lstm_forward), "05_rnn_lstm_bptt"),
    ("lstm_backward", _SEQ_BWD_SIG, check_lstm_backward, _lstm_backward_solution,
     (LSTMLayer.backward, lstm_backward), "05_rnn_lstm_bptt"),
]

#: name -> :class:`Exercise` (signature, checker, solution, library source, lesson).
EXERCISES: dict[str, Exercise] = {row[0]: Exercise(*row) for row in _CATALOGUE}

#: name -> the library's implementation with the exercise's signature:
#: ``EXERCISES[name].checker(SOLUTIONS[name])`` passes.
SOLUTIONS: dict[str, Callable[..., Any]] = {name: ex.solution for name, ex in EXERCISES.items()}


def show_solution(name: str) -> str:
    """The library source code that solves exercise ``name`` (the functions/methods it is built
    on), as a string ready to print."""
    if name not in EXERCISES:
        raise KeyError(f"unknown exercise {name!r}; known: {sorted(EXERCISES)}")
    ex = EXERCISES[name]
    parts = [f"# Exercise {name}: {ex.signature}"]
    for obj in ex.library_source:
        module = getattr(obj, "__module__", "?")
        parts.append(f"# --- from {module}: {obj.__qualname__}")
        parts.append(textwrap.dedent(inspect.getsource(obj)).rstrip())
    return "\n".join(parts)
