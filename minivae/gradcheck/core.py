r"""Finite-difference gradient checking, with messages that say what is probably wrong.

The idea
--------
A backward pass is correct when the gradient it returns (the *analytic* gradient) matches the
slope of the loss measured directly (the *numeric* gradient).  For every entry ``i`` of an array
``x`` the numeric gradient is the **central difference**

    dL/dx_i  ≈  (L(x + h e_i) - L(x - h e_i)) / (2 h),

whose error is O(h²) (the one-sided difference is only O(h)).  Each entry costs two evaluations
of the loss, so big arrays are checked on a seeded random subset of entries (``max_entries``).

How to read the relative error
------------------------------
Entry by entry we report

    rel_i = |a_i - n_i| / max(|a_i| + |n_i|, floor).

* The denominator ``|a| + |n|`` makes the number symmetric in ``a`` and ``n`` and bounded:
  ``rel <= 1``, and ``rel = 1`` exactly when one of them is zero or their signs differ.  For
  nearly equal values it is about half of ``|a - n| / |a|``.
* ``floor`` keeps the ratio defined.  In :func:`relative_error` it defaults to the smallest
  positive float64, so two exact zeros (a dead ReLU unit, a masked entry) give ``0 / tiny = 0``
  instead of ``0 / 0 = NaN``.
* The checkers raise the floor to the level of **finite-difference noise**.  ``L`` is computed in
  floating point, so each difference carries a rounding error of roughly ``eps·|L| / h``
  (``eps ≈ 2.2e-16`` for float64): with ``|L| ≈ 1`` and ``h = 1e-6`` that is ~1e-10 *absolute*
  error on every numeric entry.  An entry whose true value is 1e-4 can then never agree to a
  *relative* 1e-7, although backward may be perfect.  So the checkers use
  ``floor = atol / tol`` with ``atol = NOISE_FACTOR · eps · |L| / h``: entries far above the
  noise are judged by their relative error, entries at noise level by ``|a - n| <= atol``.  A real
  bug (a wrong sign, factor or transpose) moves entries by their own size and is still caught.

Rules of thumb (float64, ``h = 1e-6``): below 1e-7 the backward is correct; between 1e-7 and
1e-4 be suspicious (a kink, see below, or a subtle bug); above 1e-2 it is wrong.

**Kinks.**  ReLU, LeakyReLU, ``abs``, ``max`` and clipping are not differentiable at one point.
A central difference that straddles the kink averages the two slopes and disagrees with either
one, so gradient checks keep every input of such a function at least ``10·h`` away from its kink
(here: ``|x| > 10·h`` for ReLU/LeakyReLU).

**float64 only.**  float32 has about 7 significant digits: the rounding error ``eps·|L|/h``
becomes ~0.1·|L| with h = 1e-6, so a finite difference measures nothing.  Every checker refuses
float32 arrays; build layers and models with ``dtype=np.float64`` to check them.

Entry points
------------
* :func:`numerical_gradient` — central differences of ``f()`` or ``f(x)`` w.r.t. ``x``.
* :func:`relative_error` — the elementwise measure above.
* :func:`check_gradient` — one array: numeric vs a given analytic gradient, as a
  :class:`GradCheckResult`.
* :func:`check_function` — a function of named arrays and its gradient function (losses, KL).
* :func:`check_layer` — a :class:`~minivae.nn.Layer`: its input gradient(s) and every parameter.
* :func:`check_model` — a model with ``loss(batch, rng, eps)``/``backward()``/``parameters()``.
* :func:`format_table` — results as a PASS/FAIL table.
"""

from __future__ import annotations

import copy
import inspect
import numbers
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from minivae._validation import check_positive_int, check_rng, check_scalar
from minivae.nn.activations import LeakyReLU, ReLU

EPS64 = float(np.finfo(np.float64).eps)
TINY = float(np.finfo(np.float64).tiny)
DEFAULT_H = 1e-6
DEFAULT_TOL = 1e-7
# Measured over 1,500 seeds of every built-in check (~35,000 gradients): the finite-difference
# error never exceeded 1.1·eps·|L|/h.  16 leaves a wide margin for deeper computations (LSTM,
# models) and is still only ~4e-9 absolute for |L| ~ 1.
NOISE_FACTOR = 16.0
# Loose tolerance used only to *recognise* a pattern in a failed gradient (e.g. "analytic is
# exactly -numeric"); patterns caused by real bugs are exact up to finite-difference noise.
_PATTERN_TOL = 1e-4

Index = tuple[int, ...]


# =============================================================================== numerics
def _check_float64(x: object, name: str) -> np.ndarray:
    """The array to be perturbed: a writable float64 ndarray, or a TypeError that explains why."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy array (it is perturbed in place), "
                        f"got {type(x).__name__}")
    if x.dtype != np.float64:
        if x.dtype.kind == "f":
            raise TypeError(
                f"{name} has dtype {x.dtype}; gradient checks need float64. With "
                f"{x.dtype} the rounding error of a central difference (about "
                f"eps·|L|/h = {float(np.finfo(x.dtype).eps):.0e}·|L|/{DEFAULT_H:.0e}) swamps "
                "the gradient, so the comparison would be meaningless. Build the layer/model "
                "with dtype=np.float64 (or pass x.astype(np.float64)) for the check."
            )
        raise TypeError(f"{name} must be a float64 array, got dtype {x.dtype}")
    if not x.flags.writeable:
        raise ValueError(f"{name} is read-only; numerical_gradient perturbs it in place")
    return x


def _takes_argument(f: Callable[..., Any]) -> bool:
    """True if ``f`` should be called as ``f(x)``, False for ``f()``."""
    try:
        sig = inspect.signature(f)
    except (TypeError, ValueError):  # some builtins have no signature: assume f(x)
        return True
    for args in ((None,), ()):
        try:
            sig.bind(*args)
            return bool(args)
        except TypeError:
            continue
    raise TypeError(
        "f must take no argument (a closure over x, which is perturbed in place) or exactly one "
        f"(x itself); got signature {sig}"
    )


def _scalar(value: object) -> float:
    """The scalar loss returned by ``f``, or an error explaining what to return instead."""
    if isinstance(value, tuple):
        raise TypeError(
            "f returned a tuple; it must return only the scalar loss "
            "(e.g. lambda: model.loss(batch, eps=eps)[0])"
        )
    arr = np.asarray(value)
    if arr.size != 1:
        raise ValueError(
            f"f must return a scalar loss, got an array of shape {arr.shape}; reduce it first, "
            "e.g. np.sum(y * dy) to check a layer output y against an upstream gradient dy"
        )
    return float(arr.reshape(()))


def sample_indices(
    shape: Sequence[int], max_entries: int | None, rng: np.random.Generator | int = 0
) -> list[Index]:
    """Indices to check: all of them (C order), or ``max_entries`` distinct ones drawn from ``rng``.

    The subset is sorted so that messages list entries in a readable order.
    """
    shape = tuple(int(s) for s in shape)
    size = int(np.prod(shape, dtype=np.int64))
    if max_entries is not None:
        max_entries = check_positive_int(max_entries, "max_entries")
    if max_entries is None or size <= max_entries:
        return [tuple(int(i) for i in idx) for idx in np.ndindex(*shape)]
    flat = np.sort(check_rng(rng).choice(size, size=max_entries, replace=False))
    return [tuple(int(i) for i in np.unravel_index(k, shape)) for k in flat]


def _normalise_indices(indices: Iterable[Any], shape: tuple[int, ...]) -> list[Index]:
    out: list[Index] = []
    size = int(np.prod(shape, dtype=np.int64))
    for item in indices:
        if np.isscalar(item):  # a flat (C-order) index
            k = int(item)  # type: ignore[arg-type]
            if not 0 <= k < size:
                raise IndexError(f"flat index {k} out of range for shape {shape}")
            out.append(tuple(int(i) for i in np.unravel_index(k, shape)))
        else:
            idx = tuple(int(i) for i in item)
            if len(idx) != len(shape) or any(not 0 <= i < s for i, s in zip(idx, shape)):
                raise IndexError(f"index {idx} out of range for shape {shape}")
            out.append(idx)
    return out


def _central_differences(
    f: Callable[..., Any], x: np.ndarray, h: float, indices: list[Index]
) -> tuple[np.ndarray, float]:
    """Numeric gradient at ``indices`` (NaN elsewhere) and the largest |f| seen (noise scale)."""
    takes_x = _takes_argument(f)
    grad = np.full(x.shape, np.nan)
    f_scale = 0.0
    for idx in indices:
        old = x[idx].copy()  # a float64 scalar; writing it back restores x bit for bit
        try:
            x[idx] = old + h
            x_plus = x[idx].copy()
            f_plus = _scalar(f(x) if takes_x else f())
            x[idx] = old - h
            x_minus = x[idx].copy()
            f_minus = _scalar(f(x) if takes_x else f())
        finally:
            x[idx] = old
        # Divide by the step actually taken: old ± h is rounded to float64, and using the stored
        # values instead of 2h removes that (small) error for free.
        grad[idx] = (f_plus - f_minus) / (x_plus - x_minus)
        f_scale = max(f_scale, abs(f_plus), abs(f_minus))
    return grad, f_scale


def numerical_gradient(
    f: Callable[..., Any],
    x: np.ndarray,
    *,
    h: float = DEFAULT_H,
    indices: Iterable[Any] | None = None,
    max_entries: int | None = None,
    rng: np.random.Generator | int = 0,
) -> np.ndarray:
    """Central-difference gradient of a scalar function w.r.t. the float64 array ``x``.

    Args:
        f: the scalar loss, either ``f()`` — a closure that reads ``x`` — or ``f(x)``.  Each entry
            of ``x`` is perturbed *in place* to ``x_i ± h``, ``f`` is evaluated, and ``x_i`` is
            restored exactly (bit for bit, also if ``f`` raises).
        x: float64 array of any shape (float32 is refused: see the module docstring).
        h: the step.  1e-6 balances truncation error (~h²) against rounding (~eps/h) in float64.
        indices: check only these entries (index tuples or flat C-order integers).
        max_entries: with ``indices=None``, check at most this many entries, chosen at random
            by ``rng`` (same seed -> same entries).  ``None`` checks every entry.
        rng: generator or int seed for the subset.

    Returns:
        grad: same shape as ``x``, float64.  Entries that were not checked are NaN, so they can
        never be mistaken for a measured zero.
    """
    x = _check_float64(x, "x")
    h = check_scalar(h, "h", low=0.0, low_inclusive=False)
    if indices is None:
        idx = sample_indices(x.shape, max_entries, rng)
    else:
        idx = _normalise_indices(indices, x.shape)
    grad, _ = _central_differences(f, x, h, idx)
    return grad


def relative_error(
    analytic: np.ndarray | float, numeric: np.ndarray | float, *, floor: float = TINY
) -> np.ndarray:
    """Elementwise ``|a - n| / max(|a| + |n|, floor)``.

    ``|a| + |n|`` (not ``|a|``) keeps the measure symmetric and within [0, 1]; 1 means "one is
    zero or the signs differ".  ``floor`` defaults to the smallest positive float64, which only
    turns the 0/0 of two exact zeros into 0; the checkers pass a larger floor equal to the
    finite-difference noise level divided by the tolerance (see the module docstring).
    """
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numeric, dtype=np.float64)
    floor = check_scalar(floor, "floor", low=0.0, low_inclusive=False)
    return np.abs(a - n) / np.maximum(np.abs(a) + np.abs(n), floor)


def noise_floor(f_scale: float, h: float, tol: float) -> float:
    """Denominator floor ``NOISE_FACTOR·eps·|L|/h / tol`` used by the checkers (see module doc)."""
    atol = NOISE_FACTOR * EPS64 * max(float(f_scale), 0.0) / h
    return max(TINY, atol / tol)


# ================================================================================ results
@dataclass
class GradCheckResult:
    """Outcome of comparing one analytic gradient with its numeric estimate.

    Attributes:
        name: what was differentiated (``"W"``, ``"layers.0.b"``, ``"x"``, ``"logvar"``).
        shape: shape of that array.
        max_rel_error: largest elementwise relative error over the checked entries
            (``inf`` when the shapes do not even match, NaN comparisons count as 1).
        worst_index: index where it occurs (``None`` if nothing could be compared).
        analytic, numeric: the two gradient values at ``worst_index``.
        passed: ``max_rel_error <= tol``.
        tol: the tolerance used.
        n_checked: number of entries compared; n_failed: how many exceeded ``tol``.
        floor: denominator floor used for the relative error (finite-difference noise / tol).
        hints: likely causes, recognised from the pattern of the mismatch (empty when passed).
        check: name of the registered check that produced this result (CLI tables), or "".
        error: traceback text when the check crashed before comparing anything, else "".
    """

    name: str
    shape: tuple[int, ...]
    max_rel_error: float
    worst_index: Index | None
    analytic: float
    numeric: float
    passed: bool
    tol: float
    n_checked: int = 0
    n_failed: int = 0
    floor: float = TINY
    hints: tuple[str, ...] = field(default_factory=tuple)
    check: str = ""
    error: str = ""

    @property
    def label(self) -> str:
        """``dW`` for a plain name, ``d(layers.0.W)`` for a qualified one."""
        base, _, extra = self.name.partition(" ")  # "W (accumulates)" -> "dW (accumulates)"
        label = f"d{base}" if base.isidentifier() else f"d({base})"
        return f"{label} {extra}" if extra else label

    @property
    def full_name(self) -> str:
        """``check: name`` when the result comes from a registered check, else ``name``."""
        return f"{self.check}: {self.name}" if self.check else self.name

    @property
    def status(self) -> str:
        """"PASS", "FAIL", or "ERROR" (the check crashed)."""
        return "ERROR" if self.error else ("PASS" if self.passed else "FAIL")

    def __str__(self) -> str:
        where = f"[{self.check}] " if self.check else ""
        if self.error:
            body = "\n".join("    " + line for line in self.error.rstrip().splitlines())
            return f"{where}{self.name}: ERROR, the check raised before comparing anything:\n{body}"
        status = self.status
        if self.worst_index is None:
            head = f"{where}{self.label}: {status}, max relative error {self.max_rel_error:.1e}"
        else:
            head = (
                f"{where}{self.label}: {status}, max relative error {self.max_rel_error:.1e} "
                f"at index {self.worst_index}: analytic {self.analytic:.6g}, "
                f"numeric {self.numeric:.6g}"
            )
        head += f" (tolerance {self.tol:.0e}"
        if not self.passed and self.n_checked:
            head += f"; {self.n_failed} of {self.n_checked} checked entries exceed it"
        head += ")"
        if self.passed:
            return head
        lines = [
            head,
            f"  Relative errors above {self.tol:.0e} in float64 usually mean a bug in backward "
            "(below 1e-7: correct; 1e-7..1e-4: suspicious, maybe a kink; above 1e-2: wrong).",
        ]
        if (self.worst_index is not None and self.floor > TINY
                and abs(self.analytic) + abs(self.numeric) < self.floor):
            lines.append(
                f"  (Entries this small are within finite-difference noise and are compared "
                f"absolutely: |analytic - numeric| must stay below {self.floor * self.tol:.1e}.)"
            )
        lines += [f"  Hint: {hint}" for hint in self.hints]
        return "\n".join(lines)


# --------------------------------------------------------------------------------- diagnosis
_ADVICE_ACCUMULATE = (
    "if this array is used in several places (every time step, every example, a shared "
    "weight), its gradient is the SUM of all contributions: sum over the batch/time axes and "
    "ADD into grads (self.grads[name] += ...), never assign"
)
_ADVICE_KINK = (
    "the mismatch is confined to a few entries: if the function has a kink (ReLU, LeakyReLU, "
    "abs, max, clip), an input within h of it makes the numeric gradient wrong — keep such "
    "inputs at |x| > 10*h from the kink; otherwise re-derive backward for those entries"
)
_ADVICE_NEAR_MISS = (
    "analytic and numeric agree to about 4 digits or better everywhere: not a wrong formula but "
    "a small inconsistency — an input close to a kink, a value clipped/clamped in forward but "
    "not in backward, float32 somewhere in the computation, or (for a loss made of large terms "
    "that cancel) finite-difference noise: pass f_scale = the size of those terms"
)
_ADVICE_GENERIC = (
    "no simple pattern (sign, constant factor, transpose): print analytic and numeric side by "
    "side for a tiny input (batch of 1, 2 features) and re-derive the entries that differ, "
    "one chain-rule factor at a time"
)


def _max_rel(a: np.ndarray, b: np.ndarray, floor: float) -> float:
    r = relative_error(a, b, floor=floor)
    return float(np.max(r)) if r.size else 0.0


def _factor_hint(c: float) -> str:
    if abs(c + 1.0) < 1e-3:
        return (
            "analytic ≈ -numeric on every checked entry: the SIGN is flipped. Look for a "
            "difference written the wrong way round (pred - target vs target - pred), a "
            "dropped minus in a negative log-likelihood, or d(-u) taken as du"
        )
    text = (
        f"analytic ≈ {c:.4g} × numeric on every checked entry: a constant FACTOR is off"
        + (" (and the sign is flipped)" if c < 0 else "")
        + "."
    )
    mag = abs(c)
    ratio = mag if mag >= 1 else 1.0 / mag
    if abs(ratio - 2.0) < 1e-3:
        text += (
            " A factor of 2 usually comes from d(u²)/du = 2u (forgotten or applied twice), the "
            "0.5 in 0.5*logvar or exp(0.5*logvar), or a term counted twice"
        )
    elif abs(ratio - round(ratio)) < 1e-3 * ratio:
        text += (
            f" Is {round(ratio)} the batch size or the number of time steps? Then forward and "
            "backward disagree about mean vs sum over that axis (divide by N exactly once)"
        )
    else:
        text += (" Compare the scaling (1/N for a mean, beta/KL weights, temperature) in "
                 "forward and backward")
    return text


def diagnose(
    analytic: np.ndarray,
    numeric: np.ndarray,
    checked: np.ndarray,
    floor: float,
    *,
    name: str = "x",
) -> tuple[str, ...]:
    """Recognise common backward bugs from the pattern of a failed comparison.

    ``checked`` is the boolean mask of entries that were compared (NaN-free).  Patterns tried,
    in order: non-finite values, analytic all zero, numeric all zero, sign flip / constant
    factor, transpose (square 2-D arrays), errors confined to a few entries.
    """
    a, n = analytic[checked], numeric[checked]
    hints: list[str] = []
    if not np.all(np.isfinite(a)):
        return (
            "the analytic gradient has NaN/inf entries: backward overflowed or divided by zero "
            "(exp of a large number? use the stable forms in minivae.nn.functional, clamp "
            "logvar)",
        )
    if not np.all(np.isfinite(n)):
        return (
            "the loss itself is not finite near this point, so no numeric gradient exists: "
            "check the inputs (huge logits/logvars) and the forward pass",
        )
    if np.all(a == 0) and np.any(n != 0):
        return (
            f"the analytic gradient of {name} is exactly zero everywhere while the loss does "
            "depend on it: backward never wrote into it. Check that backward ADDS into "
            f"grads[{name!r}] in place (self.grads[name] += ...), not into a local copy, and "
            "that zero_grad() is not called after backward",
            _ADVICE_ACCUMULATE,
        )
    if np.all(n == 0) and np.any(a != 0):
        return (
            f"the numeric gradient is zero everywhere: perturbing {name} does not change the "
            "loss at all, so forward does not use this array (did forward read a copy made "
            "earlier, or is it not on the path to the output?) — or backward writes this "
            "gradient under the wrong name",
        )
    nn_ = float(np.dot(n, n))
    if nn_ > 0:
        c = float(np.dot(a, n)) / nn_
        if abs(c - 1.0) > 1e-3 and _max_rel(a, c * n, floor) < _PATTERN_TOL:
            hints.append(_factor_hint(c))
    if (
        not hints
        and analytic.ndim == 2
        and analytic.shape[0] == analytic.shape[1]
        and analytic.shape[0] > 1
        and np.all(checked)
        and _max_rel(analytic, numeric.T, floor) < _PATTERN_TOL
    ):
        hints.append(
            "analytic equals numeric TRANSPOSED: the gradient was built in the other layout. "
            "For y = x @ W the gradient dW = x.T @ dy has W's shape (D, M); dy.T @ x is its "
            "transpose (a square W hides the shape error)"
        )
    if not hints:
        n_bad = int(np.count_nonzero(relative_error(a, n, floor=floor) > _PATTERN_TOL))
        if n_bad == 0:
            return (_ADVICE_NEAR_MISS,)
        if n_bad <= max(1, a.size // 10) and a.size > 2:
            hints.append(_ADVICE_KINK)
        else:
            hints.append(_ADVICE_GENERIC)
        hints.append(_ADVICE_ACCUMULATE)
    return tuple(hints)


def _shape_mismatch(name: str, a_shape: tuple[int, ...], x_shape: tuple[int, ...],
                    tol: float) -> GradCheckResult:
    hint = (
        f"the gradient must have exactly the shape of {name}, {x_shape}, "
        f"but backward produced {a_shape}"
    )
    if a_shape[::-1] == x_shape:
        hint += ": it is TRANSPOSED (for y = x @ W, dW = x.T @ dy has shape (D, M))"
    elif len(a_shape) == len(x_shape) + 1 and a_shape[1:] == x_shape:
        hint += ": a sum over the batch axis is missing (e.g. db = dy.sum(axis=0))"
    elif int(np.prod(a_shape)) == int(np.prod(x_shape)):
        hint += ": same number of entries, wrong layout (a reshape/transpose of axes)"
    else:
        hint += ": check the matrix products and the axes you summed over"
    return GradCheckResult(
        name=name, shape=x_shape, max_rel_error=float("inf"), worst_index=None,
        analytic=float("nan"), numeric=float("nan"), passed=False, tol=tol,
        hints=(hint,),
    )


def compare(
    name: str,
    analytic: np.ndarray,
    numeric: np.ndarray,
    *,
    tol: float = DEFAULT_TOL,
    floor: float = TINY,
) -> GradCheckResult:
    """Build a :class:`GradCheckResult` from two gradients (NaN in ``numeric`` = not checked)."""
    analytic = np.asarray(analytic, dtype=np.float64)
    numeric = np.asarray(numeric, dtype=np.float64)
    if analytic.shape != numeric.shape:
        return _shape_mismatch(name, analytic.shape, numeric.shape, tol)
    checked = ~np.isnan(numeric)
    with np.errstate(invalid="ignore"):  # inf - inf in a broken analytic gradient
        rel = relative_error(analytic, np.where(checked, numeric, 0.0), floor=floor)
    rel = np.where(checked, rel, -1.0)
    # A NaN/inf analytic entry must count as a failure, not vanish from max().
    rel = np.where(checked & ~np.isfinite(rel), 1.0, rel)
    n_checked = int(np.count_nonzero(checked))
    if n_checked == 0:
        return GradCheckResult(name, numeric.shape, 0.0, None, float("nan"), float("nan"),
                               True, tol, 0, 0, floor)
    flat = int(np.argmax(rel))
    worst = tuple(int(i) for i in np.unravel_index(flat, rel.shape))
    max_rel = float(rel[worst])
    n_failed = int(np.count_nonzero(rel > tol))
    passed = n_failed == 0
    hints = () if passed else diagnose(analytic, numeric, checked, floor, name=name)
    return GradCheckResult(
        name=name, shape=tuple(numeric.shape), max_rel_error=max_rel, worst_index=worst,
        analytic=float(analytic[worst]), numeric=float(numeric[worst]), passed=passed, tol=tol,
        n_checked=n_checked, n_failed=n_failed, floor=floor, hints=hints,
    )


# =============================================================================== checkers
def check_gradient(
    f: Callable[..., Any],
    x: np.ndarray,
    analytic: np.ndarray,
    *,
    name: str = "x",
    h: float = DEFAULT_H,
    tol: float = DEFAULT_TOL,
    max_entries: int | None = None,
    rng: np.random.Generator | int = 0,
    f_scale: float | None = None,
) -> GradCheckResult:
    """Compare ``analytic`` with the numeric gradient of ``f`` (``f()`` or ``f(x)``) w.r.t. ``x``.

    Args:
        f, x, h, max_entries, rng: as in :func:`numerical_gradient`.
        analytic: the gradient your backward computed; must have ``x``'s shape.
        name: used in the message ("dW: ...").
        tol: largest accepted relative error (1e-7 suits smooth functions in float64).
        f_scale: magnitude of the loss's terms, for the noise floor; default: the largest
            |f| seen.  Pass e.g. ``sum(|y * dy|)`` when the loss is a sum of terms that cancel.

    Example::

        x = rng.standard_normal((3, 4))
        res = check_gradient(lambda: np.sum(np.tanh(x)), x, 1 - np.tanh(x) ** 2, name="x")
        assert res.passed, res
    """
    x = _check_float64(x, name)
    h = check_scalar(h, "h", low=0.0, low_inclusive=False)
    tol = check_scalar(tol, "tol", low=0.0, low_inclusive=False)
    analytic = np.asarray(analytic)
    if analytic.shape != x.shape:
        return _shape_mismatch(name, analytic.shape, x.shape, tol)
    idx = sample_indices(x.shape, max_entries, rng)
    numeric, seen = _central_differences(f, x, h, idx)
    scale = seen if f_scale is None else max(float(f_scale), seen)
    return compare(name, analytic, numeric, tol=tol, floor=noise_floor(scale, h, tol))


def _as_grad_dict(grads: object, wrt: Sequence[str], what: str) -> dict[str, np.ndarray]:
    """Match what a gradient function / backward returned to the names in ``wrt``."""
    if isinstance(grads, Mapping):
        missing = [k for k in wrt if k not in grads]
        if missing:
            raise KeyError(f"{what} returned a dict without gradients for {missing}")
        return {k: np.asarray(grads[k]) for k in wrt}
    if not isinstance(grads, (tuple, list)):
        grads = (grads,)
    if len(grads) < len(wrt):
        raise ValueError(
            f"{what} returned {len(grads)} gradient(s) but {len(wrt)} are checked {list(wrt)}; "
            "return one gradient per input, in the same order (or a dict by name)"
        )
    return {k: np.asarray(g) for k, g in zip(wrt, grads)}


def check_function(
    f: Callable[..., Any],
    inputs: Mapping[str, np.ndarray],
    grad_fn: Callable[..., Any],
    *,
    wrt: Sequence[str] | None = None,
    h: float = DEFAULT_H,
    tol: float = DEFAULT_TOL,
    max_entries: int | None = None,
    rng: np.random.Generator | int = 0,
    f_scale: float | None = None,
) -> list[GradCheckResult]:
    """Check a function that comes with its own gradient function (losses, KL, log-densities).

    Both are called with the inputs as keyword arguments: ``f(**inputs)`` returns a scalar,
    ``grad_fn(**inputs)`` returns the gradients w.r.t. ``wrt`` (a single array, a tuple in
    ``wrt`` order, or a dict by name).  The inputs are copied first, so yours are never touched.
    ``f_scale`` is as in :func:`check_gradient` (default: |f| at the inputs); pass the sum of the
    absolute terms when ``f`` is a sum of terms that cancel, such as ``sum(z * dz)``.

    Example (a loss with a target that is not differentiated)::

        check_function(losses.gaussian_nll, {"mean": m, "logvar": lv, "target": x},
                       losses.gaussian_nll_grad, wrt=("mean", "logvar"))
        check_function(lambda logits: losses.bernoulli_nll(logits, x, mask=mask),
                       {"logits": logits},
                       lambda logits: losses.bernoulli_nll_grad(logits, x, mask=mask))
    """
    wrt = list(inputs) if wrt is None else list(wrt)
    unknown = [k for k in wrt if k not in inputs]
    if unknown:
        raise KeyError(f"wrt names {unknown} are not among the inputs {list(inputs)}")
    arrays = {k: (np.array(v, copy=True) if isinstance(v, np.ndarray) else v)
              for k, v in inputs.items()}
    for k in wrt:
        _check_float64(arrays[k], k)
    analytic = _as_grad_dict(grad_fn(**arrays), wrt, "grad_fn")
    scale = abs(_scalar(f(**arrays))) if f_scale is None else float(f_scale)
    return [
        check_gradient(lambda: f(**arrays), arrays[k], analytic[k], name=k, h=h, tol=tol,
                       max_entries=max_entries, rng=rng, f_scale=scale)
        for k in wrt
    ]


# ----------------------------------------------------------------------------------- layers
def _flatten(out: object) -> list[np.ndarray | None]:
    """Leaves of a (nested) tuple/list of arrays, in order: (hs, (hT, cT)) -> [hs, hT, cT]."""
    if isinstance(out, (tuple, list)):
        leaves: list[np.ndarray | None] = []
        for item in out:
            leaves.extend(_flatten(item))
        return leaves
    return [None if out is None else np.asarray(out)]


def _check_dtypes_float64(layer: object, arrays: Mapping[str, np.ndarray]) -> None:
    dtype = getattr(layer, "dtype", np.float64)
    if np.dtype(dtype) != np.float64:
        raise TypeError(
            f"{type(layer).__name__} was built with dtype {np.dtype(dtype)}; gradient checks need "
            "float64 (in float32 the finite-difference rounding error is ~0.1·|L| at h=1e-6). "
            "Build a float64 copy of the layer/model for the check."
        )
    for pname, p, _ in layer.parameters():  # type: ignore[attr-defined]
        _check_float64(p, f"parameter {pname!r}")
    for k, v in arrays.items():
        _check_float64(v, f"input {k!r}")


def _kink_warning(layer: object, arrays: Mapping[str, np.ndarray], h: float) -> None:
    if isinstance(layer, (ReLU, LeakyReLU)):
        for k, v in arrays.items():
            close = int(np.count_nonzero(np.abs(v) <= 10 * h))
            if close:
                warnings.warn(
                    f"{close} entries of input {k!r} lie within 10*h = {10 * h:.0e} of the kink "
                    f"of {type(layer).__name__} at 0; the numeric gradient is meaningless there. "
                    "Move them away (e.g. x[np.abs(x) < 1e-3] += 0.1).",
                    stacklevel=3,
                )


def check_layer(
    layer: Any,
    x: np.ndarray | Mapping[str, np.ndarray],
    *,
    dy: np.ndarray | Sequence[np.ndarray] | None = None,
    rng: np.random.Generator | int = 0,
    tol: float = DEFAULT_TOL,
    h: float = DEFAULT_H,
    wrt: str | Sequence[str] = "all",
    max_entries: int | None = None,
    forward_fn: Callable[..., Any] | None = None,
    backward_fn: Callable[..., Any] | None = None,
    loss_fn: Callable[[list[np.ndarray]], tuple[float, list[np.ndarray]]] | None = None,
    check_accumulation: bool = True,
) -> list[GradCheckResult]:
    """Gradient check of a layer: its input gradient(s) and every parameter gradient.

    The layer is turned into a scalar loss with a random upstream gradient ``dy`` (standard
    normal, from ``rng``)::

        L = sum(y * dy)      so that      dL/dy = dy

    which is exactly what ``backward(dy)`` receives in a network.  Steps: ``zero_grad()``,
    ``forward``, ``backward(dy)`` (the analytic gradients), then central differences of ``L``
    for every entry of every input and parameter (re-running forward each time).

    Args:
        layer: anything with ``forward``, ``backward``, ``parameters()`` and ``zero_grad()``.
        x: the input array, or a dict ``{name: array}`` of several inputs (see below).
            Copied first; must be float64.
        dy: upstream gradient(s), same shape(s) as the output(s); random if None.
        rng: generator or seed for dy (and the entry subsets).
        tol: tolerance on the relative error (1e-7 for smooth functions in float64).
        wrt: "all", "inputs", "params", or a list of input/parameter names.
        max_entries: check at most this many random entries per array (None: all).
        forward_fn, backward_fn, loss_fn: adapters, see below.
        check_accumulation: also verify that a second forward+backward *without* zero_grad
            doubles every parameter gradient (backward must add, not assign).  Adds results
            named ``"<param> (accumulates)"``.

    Returns:
        One :class:`GradCheckResult` per input, per parameter (and per accumulation test).

    Several inputs or outputs — the adapter pattern
    ------------------------------------------------
    The inputs dict is passed to ``forward_fn`` (default ``layer.forward``) *positionally* in
    dict order.  If the output is a (nested) tuple it is flattened into its arrays, each gets its
    own random ``dy``, and ``backward_fn`` (default ``layer.backward``) is called with those
    gradients in the same order.  What backward returns (an array or a tuple) is matched to the
    inputs by position; extra trailing returns are ignored.  So an LSTM with
    ``forward(x, h0, c0) -> (hs, (hT, cT))`` and ``backward(dhs, dhT, dcT) -> (dx, dh0, dc0)``
    needs no adapter at all::

        check_layer(lstm, {"x": x, "h0": h0, "c0": c0})

    Anything else takes a two-line adapter, e.g. a mask that is not differentiated and only the
    sequence output used::

        check_layer(lstm, {"x": x},
                    forward_fn=lambda x: lstm.forward(x, mask=mask)[0],
                    backward_fn=lambda dhs: lstm.backward(dhs)[0])

    ``loss_fn(outputs) -> (loss, douts)`` replaces ``sum(y * dy)`` when backward must see a
    particular loss (``outputs`` is the flattened list; ``douts`` the matching gradients).

    Kinks: keep every input of ReLU/LeakyReLU at ``|x| > 10*h`` from 0 (a warning is issued
    when a ReLU/LeakyReLU layer's input is not).
    """
    rng = check_rng(rng)
    tol = check_scalar(tol, "tol", low=0.0, low_inclusive=False)
    h = check_scalar(h, "h", low=0.0, low_inclusive=False)
    raw = {"x": x} if not isinstance(x, Mapping) else dict(x)
    inputs = {k: (np.array(v, copy=True) if isinstance(v, np.ndarray) else v)
              for k, v in raw.items()}
    arrays = {k: v for k, v in inputs.items() if isinstance(v, np.ndarray)}  # None: not checked
    _check_dtypes_float64(layer, arrays)
    _kink_warning(layer, arrays, h)
    fwd = forward_fn if forward_fn is not None else layer.forward
    bwd = backward_fn if backward_fn is not None else layer.backward
    params = {name: (p, g) for name, p, g in layer.parameters()}

    # Which arrays to check.
    if wrt == "all":
        names = list(arrays) + list(params)
    elif wrt == "inputs":
        names = list(arrays)
    elif wrt == "params":
        names = list(params)
    else:
        names = [wrt] if isinstance(wrt, str) else list(wrt)
        unknown = [n for n in names if n not in arrays and n not in params]
        if unknown:
            raise KeyError(
                f"wrt names {unknown} are neither inputs {list(arrays)} nor parameters "
                f"{list(params)}"
            )

    def run_forward() -> list[np.ndarray | None]:
        return _flatten(fwd(*inputs.values()))

    outs = run_forward()
    if loss_fn is None:
        if dy is None:
            douts = [None if y is None else rng.standard_normal(y.shape) for y in outs]
        else:
            douts = _flatten(dy)
            if len(douts) != len(outs) or any(
                (d is None) != (y is None) or (d is not None and d.shape != y.shape)
                for d, y in zip(douts, outs)
            ):
                raise ValueError(
                    f"dy must match the forward output(s): shapes "
                    f"{[None if y is None else y.shape for y in outs]}, got "
                    f"{[None if d is None else d.shape for d in douts]}"
                )

        def loss_and_grads(ys: list[np.ndarray | None]) -> tuple[float, list[Any]]:
            total = sum(float(np.sum(y * d)) for y, d in zip(ys, douts) if y is not None)
            return total, douts

        f_scale = sum(float(np.sum(np.abs(y * d))) for y, d in zip(outs, douts) if y is not None)
    else:
        loss_and_grads = loss_fn  # type: ignore[assignment]
        f_scale = abs(float(loss_fn(outs)[0]))

    def loss() -> float:
        return float(loss_and_grads(run_forward())[0])

    # Analytic gradients: one clean forward + backward.  The grads are read again through
    # parameters() (not the arrays captured above), so a backward that rebinds
    # self.grads[name] instead of adding in place is seen as it is.
    layer.zero_grad()
    _, grads_out = loss_and_grads(run_forward())
    returned = bwd(*grads_out)
    input_grads = _as_grad_dict(returned, list(inputs), "backward")
    analytic = {k: input_grads[k] for k in arrays}
    analytic.update({name: g.copy() for name, _, g in layer.parameters()})

    results = []
    for name in names:
        target = arrays[name] if name in arrays else params[name][0]
        results.append(check_gradient(loss, target, analytic[name], name=name, h=h, tol=tol,
                                      max_entries=max_entries, rng=rng, f_scale=f_scale))

    if check_accumulation:
        # grads still hold the first backward's values; one more pass must double them.
        _, grads_out = loss_and_grads(run_forward())
        bwd(*grads_out)
        for name, _, g in layer.parameters():
            if name in names:
                results.append(_accumulation_result(name, g, analytic[name], tol))
    return results


def _accumulation_result(name: str, g_twice: np.ndarray, g_once: np.ndarray,
                         tol: float) -> GradCheckResult:
    """Compare the gradient after two backward passes with twice the gradient after one."""
    res = compare(f"{name} (accumulates)", g_twice, 2.0 * g_once, tol=tol)
    if not res.passed:
        if np.allclose(g_twice, g_once, rtol=1e-12, atol=0.0):
            what = "it still equals the first gradient: backward ASSIGNED instead of adding"
        else:
            what = "it is neither: backward changed the gradient in some other way"
        res.hints = (
            f"after a second forward+backward without zero_grad the gradient of {name} should "
            "double (in this line 'analytic' is the gradient after two passes, 'numeric' the "
            f"expected 2 × the first); "
            f"{what}. Write self.grads[{name!r}] += ... so that Sequential chains, shared "
            "weights and time steps can add their contributions",
        )
    return res


# ----------------------------------------------------------------------------------- models
def check_model(
    model: Any,
    batch: Any,
    *,
    rng: np.random.Generator | int = 0,
    tol: float = DEFAULT_TOL,
    h: float = DEFAULT_H,
    max_entries: int | None = 30,
    params: Sequence[str] | None = None,
    loss_kwargs: Mapping[str, Any] | None = None,
    check_accumulation: bool = True,
) -> list[GradCheckResult]:
    """Gradient check of a whole model through its training interface.

    The model must provide ``parameters()`` (yielding ``(name, param, grad)``), ``zero_grad()``,
    ``loss(batch, rng=..., eps=...) -> (value, parts)`` and ``backward()``, and keep the noise
    of its last stochastic pass in ``model.last_eps`` (``None`` for deterministic models).

    Steps: ``zero_grad``; ``loss(batch, rng=rng)``; keep ``eps = model.last_eps``;
    ``backward()`` -> analytic gradients; then for each parameter, central differences of
    ``loss(batch, eps=eps)`` — the *same* noise on every evaluation, otherwise the difference
    would measure the change of noise, not of the parameter.

    Args:
        max_entries: entries checked per parameter (random, from ``rng``); ``None`` = all.
            Each entry costs two full forward passes.
        params: names of the parameters to check (default: all).
        loss_kwargs: extra keyword arguments for every ``loss`` call (e.g. ``{"mask": mask}``).

    Raises:
        RuntimeError: if ``loss(batch, eps=model.last_eps)`` does not reproduce the loss.
    """
    rng = check_rng(rng)
    tol = check_scalar(tol, "tol", low=0.0, low_inclusive=False)
    kwargs = dict(loss_kwargs or {})
    _check_dtypes_float64(model, {})
    all_params = {name: (p, g) for name, p, g in model.parameters()}
    names = list(all_params) if params is None else list(params)
    unknown = [n for n in names if n not in all_params]
    if unknown:
        raise KeyError(f"unknown parameter names {unknown}; the model has {list(all_params)}")

    model.zero_grad()
    value, parts = model.loss(batch, rng=rng, **kwargs)
    eps = copy.deepcopy(getattr(model, "last_eps", None))
    model.backward()
    analytic = {name: g.copy() for name, _, g in model.parameters()}

    def loss() -> float:
        return _scalar(model.loss(batch, eps=eps, **kwargs)[0])

    value = _scalar(value)
    again = loss()
    if not abs(again - value) <= 1e-12 * max(1.0, abs(value)):
        raise RuntimeError(
            f"model.loss(batch, eps=model.last_eps) gave {again!r}, but the pass that drew the "
            f"noise gave {value!r}. Finite differences need a deterministic loss: store every "
            "random draw of loss() in self.last_eps and reuse it when eps= is passed"
        )
    # Noise scale: the loss and its logged parts (recon + KL may cancel in the total).
    f_scale = abs(value) + sum(abs(float(v)) for v in dict(parts or {}).values()
                               if isinstance(v, numbers.Real) and np.isfinite(float(v)))
    results = [
        check_gradient(loss, all_params[name][0], analytic[name], name=name, h=h, tol=tol,
                       max_entries=max_entries, rng=rng, f_scale=f_scale)
        for name in names
    ]
    if check_accumulation:
        model.loss(batch, eps=eps, **kwargs)
        model.backward()
        twice = {name: g for name, _, g in model.parameters()}
        results += [_accumulation_result(name, twice[name], analytic[name], tol)
                    for name in names]
    return results


# ------------------------------------------------------------------------------------ table
def format_table(results: Sequence[GradCheckResult]) -> str:
    """A fixed-width table: name | shape | max rel err | tol | PASS/FAIL, and a summary line."""
    header = ("name", "shape", "max rel err", "tol", "result")
    rows = [
        (
            r.full_name,
            "x".join(str(s) for s in r.shape) if r.shape else "()",
            "-" if r.error else f"{r.max_rel_error:.1e}",
            "-" if r.error else f"{r.tol:.0e}",
            r.status,
        )
        for r in results
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def fmt(row: tuple[str, ...]) -> str:
        return " | ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()

    lines = [fmt(header), "-+-".join("-" * w for w in widths)]
    lines += [fmt(row) for row in rows]
    n_fail = sum(not r.passed for r in results)
    lines.append(f"{len(results)} gradients checked, {n_fail} failed")
    return "\n".join(lines)
