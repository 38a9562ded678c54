"""What a failed gradient comparison probably means: patterns of common backward bugs.

A wrong backward rarely produces random numbers.  A flipped sign gives ``analytic = -numeric``,
a mean-vs-sum mix-up a constant factor equal to the batch size, a transposed product the
transpose, a forgotten ``+=`` a gradient that does not double after a second pass.  The
functions here recognise those patterns and say, in words, where to look.
"""

from __future__ import annotations

import numpy as np

from minivae._validation import check_array, check_scalar
from minivae.gradcheck.numerical import relative_error

# Loose tolerance used only to *recognise* a pattern in a failed gradient (e.g. "analytic is
# exactly -numeric"); patterns caused by real bugs are exact up to finite-difference noise.
PATTERN_TOL = 1e-4

ADVICE_ACCUMULATE = (
    "if this array is used in several places (every time step, every example, a shared "
    "weight), its gradient is the SUM of all contributions: sum over the batch/time axes and "
    "ADD into grads (self.grads[name] += ...), never assign"
)
ADVICE_KINK = (
    "the mismatch is confined to a few entries: if the function has a kink (ReLU, LeakyReLU, "
    "abs, max, clip), an input within h of it makes the numeric gradient wrong — keep such "
    "inputs at |x| > 10*h from the kink; otherwise re-derive backward for those entries"
)
ADVICE_NEAR_MISS = (
    "analytic and numeric agree to about 4 digits or better everywhere: not a wrong formula but "
    "a small inconsistency — an input close to a kink, a value clipped/clamped in forward but "
    "not in backward, float32 somewhere in the computation, or (for a loss made of large terms "
    "that cancel) finite-difference noise: pass f_scale = the size of those terms"
)
ADVICE_GENERIC = (
    "no simple pattern (sign, constant factor, transpose): print analytic and numeric side by "
    "side for a tiny input (batch of 1, 2 features) and re-derive the entries that differ, "
    "one chain-rule factor at a time"
)


def _max_rel(a: np.ndarray, b: np.ndarray, floor: float) -> float:
    r = relative_error(a, b, floor=floor)
    return float(np.max(r)) if r.size else 0.0


def factor_hint(c: float) -> str:
    """The message for ``analytic = c · numeric`` on every entry (c != 1)."""
    c = check_scalar(c, "c")
    if c == 0.0:
        raise ValueError("c must be a nonzero factor (analytic = c * numeric), got 0.0")
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
    ratio = abs(c) if abs(c) >= 1 else 1.0 / abs(c)
    if abs(ratio - 2.0) < 1e-3:
        return text + (
            " A factor of 2 usually comes from d(u²)/du = 2u (forgotten or applied twice), the "
            "0.5 in 0.5*logvar or exp(0.5*logvar), or a term counted twice"
        )
    if abs(ratio - round(ratio)) < 1e-3 * ratio:
        return text + (
            f" Is {round(ratio)} the batch size or the number of time steps? Then forward and "
            "backward disagree about mean vs sum over that axis (divide by N exactly once)"
        )
    return text + (" Compare the scaling (1/N for a mean, beta/KL weights, temperature) in "
                   "forward and backward")


def _degenerate_hints(a: np.ndarray, n: np.ndarray, name: str) -> tuple[str, ...]:
    """Hints when one side is not finite or identically zero; () when neither is."""
    if not np.all(np.isfinite(a)):
        return ("the analytic gradient has NaN/inf entries: backward overflowed or divided by "
                "zero (exp of a large number? use the stable forms in minivae.nn.functional, "
                "clamp logvar)",)
    if not np.all(np.isfinite(n)):
        return ("the loss itself is not finite near this point, so no numeric gradient exists: "
                "check the inputs (huge logits/logvars) and the forward pass",)
    if np.all(a == 0) and np.any(n != 0):
        return (
            f"the analytic gradient of {name} is exactly zero everywhere while the loss does "
            "depend on it: backward never wrote into it. Check that backward ADDS into "
            f"grads[{name!r}] in place (self.grads[name] += ...), not into a local copy, and "
            "that zero_grad() is not called after backward",
            ADVICE_ACCUMULATE,
        )
    if np.all(n == 0) and np.any(a != 0):
        return (
            f"the numeric gradient is zero everywhere: perturbing {name} does not change the "
            "loss at all, so forward does not use this array (did forward read a copy made "
            "earlier, or is it not on the path to the output?) — or backward writes this "
            "gradient under the wrong name",
        )
    return ()


def _is_transpose(analytic: np.ndarray, numeric: np.ndarray, checked: np.ndarray,
                  floor: float) -> bool:
    """True if a square 2-D gradient (every entry checked) equals the numeric one transposed."""
    return bool(analytic.ndim == 2 and analytic.shape[0] == analytic.shape[1] > 1
                and np.all(checked) and _max_rel(analytic, numeric.T, floor) < PATTERN_TOL)


def _check_gradients(name: str, **arrays: object) -> list[np.ndarray]:
    """Real float64 gradients (NaN/inf allowed: they are what gets diagnosed) of one shape."""
    out = [check_array(a, key, dtype=np.float64, allow_nan=True, allow_empty=True)
           for key, a in arrays.items()]
    if any(o.shape != out[0].shape for o in out):
        raise ValueError(f"{' and '.join(arrays)} of {name!r} must have the same shape, got "
                         f"{', '.join(str(o.shape) for o in out)}")
    return out


def _check_diagnose_args(analytic: object, numeric: object, checked: object, name: object
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not isinstance(name, str):
        raise TypeError(f"name must be the gradient's name (str), got {type(name).__name__}")
    analytic, numeric = _check_gradients(name, analytic=analytic, numeric=numeric)
    if isinstance(checked, np.bool_):  # the mask of a 0-d gradient
        checked = np.asarray(checked)
    if not isinstance(checked, np.ndarray) or checked.dtype != bool or \
            checked.shape != numeric.shape:
        raise ValueError(f"checked must be a boolean mask of shape {numeric.shape} (the "
                         f"entries compared), got {type(checked).__name__} "
                         f"{getattr(checked, 'dtype', '')} {getattr(checked, 'shape', '')}")
    return analytic, numeric, checked


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
    analytic, numeric, checked = _check_diagnose_args(analytic, numeric, checked, name)
    floor = check_scalar(floor, "floor", low=0.0, low_inclusive=False)
    a, n = analytic[checked], numeric[checked]
    degenerate = _degenerate_hints(a, n, name)
    if degenerate:
        return degenerate
    nn_ = float(np.dot(n, n))
    if nn_ > 0:
        c = float(np.dot(a, n)) / nn_  # least-squares factor: a ≈ c·n
        if abs(c - 1.0) > 1e-3 and _max_rel(a, c * n, floor) < PATTERN_TOL:
            return (factor_hint(c),)
    if _is_transpose(analytic, numeric, checked, floor):
        return ("analytic equals numeric TRANSPOSED: the gradient was built in the other layout. "
                "For y = x @ W the gradient dW = x.T @ dy has W's shape (D, M); dy.T @ x is its "
                "transpose (a square W hides the shape error)",)
    n_bad = int(np.count_nonzero(relative_error(a, n, floor=floor) > PATTERN_TOL))
    if n_bad == 0:
        return (ADVICE_NEAR_MISS,)
    confined = n_bad <= max(1, a.size // 10) and a.size > 2
    return (ADVICE_KINK if confined else ADVICE_GENERIC, ADVICE_ACCUMULATE)


def shape_hint(name: str, got: tuple[int, ...], want: tuple[int, ...]) -> str:
    """Why a gradient of ``name`` can come out with shape ``got`` instead of ``want``."""
    hint = (f"the gradient must have exactly the shape of {name}, {want}, "
            f"but backward produced {got}")
    if got[::-1] == want:
        return hint + ": it is TRANSPOSED (for y = x @ W, dW = x.T @ dy has shape (D, M))"
    if len(got) == len(want) + 1 and got[1:] == want:
        return hint + ": a sum over the batch axis is missing (e.g. db = dy.sum(axis=0))"
    if int(np.prod(got)) == int(np.prod(want)):
        return hint + ": same number of entries, wrong layout (a reshape/transpose of axes)"
    return hint + ": check the matrix products and the axes you summed over"


def accumulation_hint(name: str, g_twice: np.ndarray, g_once: np.ndarray) -> str:
    """The message when the gradient after two backward passes is not twice the first."""
    g_twice, g_once = _check_gradients(str(name), g_twice=g_twice, g_once=g_once)
    if np.allclose(g_twice, g_once, rtol=1e-12, atol=0.0):
        what = "it still equals the first gradient: backward ASSIGNED instead of adding"
    else:
        what = "it is neither: backward changed the gradient in some other way"
    return (
        f"after a second forward+backward without zero_grad the gradient of {name} should "
        "double (in this line 'analytic' is the gradient after two passes, 'numeric' the "
        f"expected 2 × the first); {what}. Write self.grads[{name!r}] += ... so that "
        "Sequential chains, shared weights and time steps can add their contributions"
    )
