"""The grader every exercise checker uses: it calls *your* function, compares, and explains.

A checker builds a :class:`Grader`, calls your function through :meth:`Grader.call` (on copies
of seeded float64 inputs), and compares each output either with the library's value
(:meth:`Grader.check_value`) or with central differences of a loss (:meth:`Grader.check_grad`).
A mismatch becomes a message that says *which* output is wrong, *where* (the index of the worst
entry), *expected vs got*, what the pattern suggests (a flipped sign, a factor of 2, a
transposed matrix, a missing sum over the batch, a wrong shape) and, when one of the checker's
:class:`Mistake` formulas reproduces your output, the mistake by name.

:class:`ExerciseResult` is the verdict (``passed``, ``message``; ``str(result)`` is the message);
with ``raise_on_fail=True`` a failure raises :class:`ExerciseFailed` (an ``AssertionError``).
``NotImplementedError`` raised by your function is *not* caught, so a lesson can tell an
untouched TODO stub apart from a wrong answer.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from minivae.gradcheck.checkers import check_gradient
from minivae.gradcheck.compare import compare
from minivae.gradcheck.diagnosis import ADVICE_ACCUMULATE, ADVICE_GENERIC
from minivae.gradcheck.numerical import DEFAULT_TOL
from minivae.gradcheck.result import GradCheckResult

#: Tolerance on the relative error of forward values (your value vs the library's).
VALUE_TOL = 1e-7
# Values this small (in |got| + |expected|) are compared absolutely: |got - expected| <= 1e-13.
_VALUE_FLOOR = 1e-6
# Generic advice of minivae.gradcheck that adds nothing once a named mistake is recognised.
_GENERIC_ADVICE = (ADVICE_GENERIC, ADVICE_ACCUMULATE)
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


# ====================================================================== test inputs
def make_rng(seed: int) -> np.random.Generator:
    """The generator of a checker's test inputs (``seed`` must be an int)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    return np.random.default_rng(int(seed))


def away_from_zero(x: np.ndarray, margin: float = 0.1) -> np.ndarray:
    """Shift every entry ``margin`` away from 0 (the kink of ReLU)."""
    return np.where(x >= 0, x + margin, x - margin)


# ============================================================ messages that teach
def fmt(v: float) -> str:
    return f"{v:.6g}"


def describe(value: object) -> str:
    """``array of shape (3, 4)``, ``tuple of 2 item(s)``, ``NoneType``, ..."""
    if isinstance(value, np.ndarray):
        return f"array of shape {value.shape}" if value.ndim else f"scalar {float(value):.6g}"
    if isinstance(value, (tuple, list)):
        return f"{type(value).__name__} of {len(value)} item(s)"
    return type(value).__name__


def shape_hint(got: tuple[int, ...], want: tuple[int, ...]) -> str:
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


def _factor_hint(got: np.ndarray, want: np.ndarray) -> str | None:
    """``got = c · want`` for a constant c != 1: the message, else None."""
    ww = float(np.dot(want.ravel(), want.ravel()))
    if ww == 0:
        return None
    c = float(np.dot(got.ravel(), want.ravel())) / ww
    if abs(c - 1) <= 1e-3 or not np.allclose(got, c * want, rtol=1e-6, atol=1e-12):
        return None
    text = f"every entry is {c:.4g} x the expected value: a constant FACTOR is off"
    ratio = abs(c) if abs(c) >= 1 else 1 / abs(c)
    if abs(ratio - 2) < 1e-3:
        return text + " (a forgotten or doubled 0.5 / factor 2?)"
    if abs(ratio - round(ratio)) < 1e-3 * ratio:
        return text + (f" ({round(ratio)} is the size of an axis: a mean where a sum belongs, "
                       "or the other way round?)")
    return text


def value_hints(got: np.ndarray, want: np.ndarray) -> list[str]:
    """Recognise the pattern of a wrong forward value (got vs the expected value)."""
    if not np.all(np.isfinite(got)):
        return ["your output contains NaN or inf where the expected value is finite: an "
                "overflow (exp of a large number) or log(0); use the stable forms in "
                "minivae.nn.functional (softplus, sigmoid, logsumexp)"]
    if np.allclose(got, -want, rtol=1e-6, atol=1e-12):
        return ["every entry has the right size but the opposite SIGN: a negative "
                "log-likelihood / KL is a positive number; look for a dropped minus"]
    factor = _factor_hint(got, want)
    if factor is not None:
        return [factor]
    diff = got - want
    if np.ptp(diff) < 1e-9 * max(1.0, float(np.max(np.abs(want)))):
        return [f"every entry is off by the same constant {float(diff.flat[0]):.6g}: a missing "
                "or extra constant term (like the -1 inside the KL, or 0.5 log 2pi per "
                "dimension)"]
    if (want.ndim == 2 and want.shape[0] == want.shape[1] > 1
            and np.allclose(got, want.T, rtol=1e-6, atol=1e-12)):
        return ["your output is the TRANSPOSE of the expected one"]
    return []


@dataclass(frozen=True)
class Mistake:
    """A named wrong formula: ``outputs(*inputs)`` returns what that mistake produces (one
    value, or a tuple with one entry per output; ``None`` entries are not compared)."""

    hint: str
    outputs: Callable[..., Any]


def _matches(got: np.ndarray, candidate: object) -> bool:
    if candidate is None:
        return False
    cand = np.asarray(candidate, dtype=np.float64)
    if cand.shape != got.shape or not np.all(np.isfinite(cand)):
        return False
    return bool(np.allclose(got, cand, rtol=_MATCH_RTOL, atol=_MATCH_ATOL))


def _silently(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` with NumPy's floating-point warnings off (student code may overflow)."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args)


# ============================================================================= the grader
class Grader:
    """Collects the verdicts of one checker run and builds the message.

    ``outputs`` names what your function returns, in order (``["dx", "dW", "db"]``);
    ``signature`` is printed under a failure, so you see what was expected.
    """

    def __init__(self, exercise: str, fn: Callable[..., Any], outputs: Sequence[str],
                 signature: str) -> None:
        if not callable(fn):
            raise TypeError(f"check_{exercise} expects your function, got {describe(fn)}")
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
        the problem).  NotImplementedError propagates (an untouched TODO stub).

        ``restore_ok``: the function may write into its inputs (if it restores them; the
        checker verifies that itself).  ``array_outputs``: the outputs that must be arrays of
        numbers (default: all), the others (a cache) are passed through as returned.
        """
        copies = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in args.items()}
        self.last_args = copies
        where = f" ({case})" if case else ""
        try:
            out = _silently(self.fn, *copies.values())
        except NotImplementedError:
            raise
        except Exception as exc:  # any bug in student code becomes a message
            shapes = ", ".join(f"{k}: {v.shape}" if isinstance(v, np.ndarray) else k
                               for k, v in args.items())
            self.fail(f"calling {self.fn_name}({shapes}){where} raised "
                      f"{type(exc).__name__}: {exc}")
            return None
        if not restore_ok:
            self._check_inputs_untouched(args, copies, where)
        return self._unpack(out, where, array_outputs)

    def call_forward(self, forward_fn: Callable[..., Any], args: Sequence[np.ndarray]) -> Any:
        """Your ``forward_fn(*args)`` (on copies), for the cache your backward consumes; None
        after recording the problem if it raised."""
        try:
            return forward_fn(*(a.copy() for a in args))
        except NotImplementedError:
            raise
        except Exception as exc:
            self.fail(f"forward_fn raised {type(exc).__name__}: {exc}")
            return None

    def _check_inputs_untouched(self, args: dict[str, Any], copies: dict[str, Any],
                                where: str) -> None:
        for k, v in args.items():
            if isinstance(v, np.ndarray) and not np.array_equal(copies[k], v, equal_nan=True):
                self.fail(
                    f"{self.fn_name} modified its input {k!r} in place{where}. In backprop the "
                    "same array is often used elsewhere (dy feeds several gradients), so "
                    "compute new arrays (dx = dy * mask) instead of writing into inputs "
                    "(dy *= mask)"
                )

    def _unpack(self, out: Any, where: str, array_outputs: Sequence[int] | None
                ) -> list[Any] | None:
        n = len(self.outputs)
        if out is None:
            self.fail(f"{self.fn_name} returned None{where}: did you forget the return "
                      "statement?")
            return None
        if n == 1 and isinstance(out, tuple):  # e.g. (value, cache): only the value was asked
            self.fail(f"{self.fn_name} returned a {describe(out)}{where}, but it must "
                      f"return a single array {self.outputs[0]}")
            return None
        if n > 1 and (not isinstance(out, (tuple, list)) or len(out) != n):
            self.fail(f"{self.fn_name} returned a {describe(out)}{where}, but it must "
                      f"return a tuple of {n}: ({', '.join(self.outputs)})")
            return None
        items = [out] if n == 1 else list(out)
        for i in range(n) if array_outputs is None else array_outputs:
            try:
                items[i] = np.asarray(items[i], dtype=np.float64)
            except (TypeError, ValueError):
                self.fail(f"output {self.outputs[i]} is a {describe(items[i])}{where}, "
                          "not an array of numbers")
                return None
        return items

    # -- verdicts ------------------------------------------------------------------------------
    def fail(self, text: str) -> None:
        self.problems.append(text)

    def _mistake_hints(self, k: int, got: np.ndarray, mistakes: Sequence[Mistake],
                       inputs: Sequence[Any]) -> list[str]:
        """The hints of every mistake whose output number ``k`` equals ``got``."""
        found = []
        for m in mistakes:
            key = (id(m), tuple(id(v) for v in inputs))
            if key not in self._mistake_outputs:  # each formula runs once per set of inputs
                try:
                    outs = _silently(m.outputs, *inputs)
                except Exception:  # a mistake formula that does not apply to these shapes
                    outs = ()
                # Keeping m and inputs alive in the value guarantees their ids are not reused.
                self._mistake_outputs[key] = (outs if isinstance(outs, tuple) else (outs,),
                                              m, inputs)
            outs = self._mistake_outputs[key][0]
            if k < len(outs) and _matches(got, outs[k]) and m.hint not in found:
                found.append(m.hint)
        return found

    def _record(self, name: str, res: GradCheckResult, named: list[str], extra: list[str], *,
                expected_from: str, got_from: str, case: str) -> bool:
        """Keep ``res``; on failure write the message: where, expected vs got, the mistakes
        ``named`` (each explained once, then referred to) and the ``extra`` hints."""
        self.checks.append(res)
        if res.passed:
            self.ok[name] = max(self.ok.get(name, 0.0), res.max_rel_error)
            return True
        where = f" ({case})" if case else ""
        lines = [
            f"{name} is wrong{where} at index {res.worst_index}: expected "
            f"{fmt(res.numeric)} ({expected_from}), got {fmt(res.analytic)} ({got_from}).",
            f"    Max relative error {res.max_rel_error:.1e} (tolerance {res.tol:.0e}); "
            f"{res.n_failed} of {res.n_checked} checked entries are off.",
        ]
        for hint in named:
            if hint in self.shown:
                lines.append(f"    Likely mistake: the same as for {self.shown[hint]} above.")
            else:
                self.shown[hint] = name
                lines.append(f"    Likely mistake: {hint}")
        # When a named mistake explains the failure, the checker's generic advice is noise.
        generic = _GENERIC_ADVICE if named else ()
        lines += [f"    Hint: {h}" for h in [*extra, *res.hints] if h not in generic]
        self.fail("\n".join(lines))
        return False

    def shape_ok(self, name: str, got: np.ndarray, want: tuple[int, ...], named: list[str],
                 case: str = "") -> bool:
        if got.shape == tuple(want):
            return True
        where = f" ({case})" if case else ""
        lines = [f"{name} has the wrong shape{where}: expected {tuple(want)}, got {got.shape}: "
                 f"{shape_hint(got.shape, tuple(want))}."]
        lines += [f"    Likely mistake: {h}" for h in named]
        self.fail("\n".join(lines))
        return False

    def check_value(self, k: int, got: np.ndarray, want: np.ndarray, *,
                    mistakes: Sequence[Mistake] = (), inputs: Sequence[Any] = (),
                    case: str = "", tol: float = VALUE_TOL) -> bool:
        """Compare output number ``k`` with the library's value ``want``."""
        name = self.outputs[k]
        named = self._mistake_hints(k, got, mistakes, inputs)
        if not self.shape_ok(name, got, want.shape, named, case):
            return False
        res = compare(name, got, want, tol=tol, floor=_VALUE_FLOOR)
        res.hints = ()  # the gradient-checker wording does not apply to values
        extra = [] if named else value_hints(got, want)
        return self._record(name, res, named, extra, expected_from="minivae reference",
                            got_from="yours", case=case)

    def check_cases(self, cases: Iterable[tuple[str, dict[str, Any]]],
                    expected: Callable[..., np.ndarray], *,
                    mistakes: Sequence[Mistake] = ()) -> None:
        """For a function with one output: call it on each ``(case, args)`` and compare its
        output with the library's ``expected(*args.values())``; stop at the first failure."""
        for case, args in cases:
            out = self.call(args, case=case)
            inputs = tuple(args.values())
            if out is None or not self.check_value(0, out[0], expected(*inputs),
                                                   mistakes=mistakes, inputs=inputs, case=case):
                return

    def check_grad(self, k: int, got: np.ndarray, loss: Callable[[], float], x: np.ndarray,
                   *, mistakes: Sequence[Mistake] = (), inputs: Sequence[Any] = (),
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
        return self._record(name, res, named, [], expected_from="numerical gradient",
                            got_from="yours: the analytic gradient", case=case)

    def result(self, raise_on_fail: bool, summary: str) -> ExerciseResult:
        """The verdict: PASSED with ``summary``, or every problem and the expected signature."""
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
