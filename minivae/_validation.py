"""Argument checks that fail loudly and say what was expected.

Every public entry point validates its inputs with these helpers, so a wrong shape, dtype or
value raises an error that names the argument, the expected and the actual value.  Nothing is
silently broadcast, cast across precision, or truncated.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np


def check_array(
    x: object,
    name: str,
    *,
    ndim: int | Sequence[int] | None = None,
    shape: Sequence[int | None] | None = None,
    dtype: np.dtype | None = None,
    allow_nan: bool = False,
    allow_empty: bool = False,
) -> np.ndarray:
    """Validate an array argument and return it as an ``ndarray``.

    ``shape`` may contain ``None`` for "any size" along that axis.  With ``dtype`` given the array
    must be floating point and is converted to that dtype (ints/bools are accepted, since their
    conversion is exact; a float of another precision is converted too, the model's dtype wins).
    """
    if not isinstance(x, np.ndarray):
        if isinstance(x, (list, tuple)) or np.isscalar(x):
            x = np.asarray(x)
        else:
            raise TypeError(f"{name} must be a numpy array, got {type(x).__name__}")
    arr = x
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            want = " or ".join(str(a) for a in allowed)
            raise ValueError(f"{name} must have {want} dimensions, got shape {arr.shape}")
    if shape is not None:
        if arr.ndim != len(shape) or any(
            s is not None and s != a for s, a in zip(shape, arr.shape)
        ):
            want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"
            raise ValueError(f"{name} must have shape {want}, got {arr.shape}")
    if not allow_empty and arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}); need at least one element")
    if dtype is not None:
        arr = _cast(arr, np.dtype(dtype), name)
    if not allow_nan and arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        n_bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(
            f"{name} contains {n_bad} non-finite value(s) (NaN or inf); "
            "pass missing values as NaN together with an explicit mask where supported"
        )
    return arr


def _cast(arr: np.ndarray, dtype: np.dtype, name: str) -> np.ndarray:
    """``arr.astype(dtype)``, refusing finite values that the cast would turn into inf (e.g.
    1e300 into float32): an overflow is reported as one, with the largest magnitude."""
    with np.errstate(over="ignore"):
        out = arr.astype(dtype, copy=False)
    if out is arr or dtype.kind != "f" or arr.dtype.kind not in "fiu":
        return out
    overflowed = np.isinf(out) & ~np.isinf(arr)
    if np.any(overflowed):
        biggest = float(np.max(np.abs(arr[overflowed])))
        raise ValueError(
            f"{name} overflows {dtype}: {int(np.count_nonzero(overflowed))} value(s) exceed its "
            f"largest magnitude {float(np.finfo(dtype).max):.4g} (largest |{name}| = "
            f"{biggest:.4g}); rescale the data or use float64"
        )
    return out


class NumericalOverflowError(ValueError, FloatingPointError):
    """A computation on finite inputs overflowed to inf or NaN.

    A ValueError (the input is out of the range the computation can handle) and a
    FloatingPointError (what a training loop watches for when a model diverges), so either
    ``except`` clause catches it.
    """


def check_magnitude(x: np.ndarray, name: str) -> None:
    """Refuse values so large that their square overflows ``x``'s float dtype (|x| above
    sqrt(max), ~1.3e154 in float64, ~1.8e19 in float32): every likelihood squares the data,
    so the forward pass would return inf.  NaN (missing values) is ignored."""
    if x.dtype.kind != "f" or x.size == 0:
        return
    limit = float(np.sqrt(np.finfo(x.dtype).max))
    biggest = float(np.max(np.abs(x), initial=0.0, where=~np.isnan(x)))
    if biggest > limit:
        raise NumericalOverflowError(
            f"{name} has values too large for {x.dtype} (largest |{name}| = {biggest:.4g} > "
            f"{limit:.4g}, whose square overflows): the forward pass would return inf; rescale "
            "the data (e.g. minivae.data.StandardScaler)"
        )


# Inside a model's loss a non-finite value is a diverging model, not a bad input: the training
# loop's guard reports it (step, quantity, learning rate).  See :func:`overflow_to_caller`.
_REPORT_OVERFLOW: contextvars.ContextVar[bool] = contextvars.ContextVar("report_overflow",
                                                                        default=True)


@contextlib.contextmanager
def overflow_to_caller() -> Iterator[None]:
    """Within this block :func:`check_no_overflow` lets inf/NaN through to the caller (a
    model's loss, whose caller -- the training loop -- checks every value it gets)."""
    token = _REPORT_OVERFLOW.set(False)
    try:
        yield
    finally:
        _REPORT_OVERFLOW.reset(token)


def check_no_overflow(value: object, what: str, **inputs: object) -> None:
    """Refuse a non-finite ``value`` computed from ``inputs`` (name -> array): report it as an
    overflow naming the input of largest magnitude, instead of returning inf.

    Inputs that are not finite arrays are ignored when picking the culprit (NaN where a mask
    hides entries is the caller's business: pass ``value`` already masked).
    """
    v = np.asarray(value)
    if not _REPORT_OVERFLOW.get() or v.dtype.kind not in "fc" or np.all(np.isfinite(v)):
        return
    sizes = {}
    for name, arr in inputs.items():
        a = np.asarray(arr)
        if a.dtype.kind in "fiu" and a.size:
            finite = a[np.isfinite(a)] if a.dtype.kind == "f" else a
            if finite.size:
                sizes[name] = float(np.max(np.abs(finite)))
    culprit = max(sizes, key=sizes.get) if sizes else None
    dt = v.dtype if v.dtype.kind == "f" else np.dtype(np.float64)
    blame = (f"{culprit} is too large (largest |{culprit}| = {sizes[culprit]:.4g})"
             if culprit else "the inputs are too large")
    raise NumericalOverflowError(
        f"{what} overflowed {dt} (largest finite {float(np.finfo(dt).max):.4g}): {blame}; "
        "rescale the data (e.g. minivae.data.StandardScaler)"
    )


def check_positive_int(value: object, name: str, *, minimum: int = 1) -> int:
    """An integer >= ``minimum`` (bools are refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_scalar(
    value: object,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> float:
    """A finite real number within optional bounds."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    v = float(value)
    if not np.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v}")
    if low is not None and (v < low or (v == low and not low_inclusive)):
        op = ">=" if low_inclusive else ">"
        raise ValueError(f"{name} must be {op} {low}, got {v}")
    if high is not None and (v > high or (v == high and not high_inclusive)):
        op = "<=" if high_inclusive else "<"
        raise ValueError(f"{name} must be {op} {high}, got {v}")
    return v


def check_no_inf(x: np.ndarray, name: str) -> np.ndarray:
    """Refuse +-inf in ``x`` where NaN (a missing value) is allowed; returns ``x``."""
    if x.dtype.kind == "f" and x.size and np.isinf(x).any():
        raise ValueError(f"{name} contains {int(np.count_nonzero(np.isinf(x)))} infinite "
                         "value(s); only NaN (a missing value) is allowed besides finite numbers")
    return x


def check_float_arrays(**arrays: object) -> np.dtype:
    """Every argument (name=value) is a float32 or float64 ``ndarray``, all of one dtype (the
    first one's, returned).  A cheap per-call type check for the
    functions that trust their caller for shapes (the LSTM step and loops, and their compiled
    twins, which share it so both refuse the same inputs with the same message)."""
    dtype = None
    for name, arr in arrays.items():
        if not isinstance(arr, np.ndarray):
            raise TypeError(f"{name} must be a float32 or float64 numpy array, got "
                            f"{type(arr).__name__}")
        if dtype is None:
            if arr.dtype not in DTYPES:
                raise TypeError(f"{name} must be float32 or float64, got dtype {arr.dtype}")
            dtype = arr.dtype
        elif arr.dtype != dtype:
            raise TypeError(f"{name} must have dtype {dtype} like the other arrays (no silent "
                            f"casts), got {arr.dtype}")
    return dtype if dtype is not None else np.dtype(np.float64)


def check_same_shape(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    """Refuse arrays whose shapes differ (no silent broadcasting)."""
    if a.shape != b.shape:
        raise ValueError(
            f"{name_a} and {name_b} must have the same shape, got {a.shape} and {b.shape}"
        )


def check_mask(
    mask: object,
    x: np.ndarray,
    name: str = "mask",
    *,
    data: str = "X",
    per_step: bool = False,
    finite: bool = True,
) -> np.ndarray:
    """An observation mask for the data ``x`` (True = observed), returned unchanged.

    ``mask`` must be a boolean numpy array of x's shape; with ``per_step`` and series
    ``x: (N, T, D)`` also ``(N, T)`` (a whole time step observed or missing).  With ``finite``,
    every entry of x the mask marks observed must be finite: NaN only where the mask is False.
    ``name`` and ``data`` are the names of the mask and of x in the error messages.
    """
    if not isinstance(mask, np.ndarray):
        raise TypeError(f"{name} must be a boolean numpy array (True = observed), got "
                        f"{type(mask).__name__}")
    if mask.dtype != bool:
        raise TypeError(f"{name} must be boolean (True = observed), got dtype {mask.dtype}")
    steps = per_step and x.ndim == 3
    if mask.shape != x.shape and not (steps and mask.shape == x.shape[:2]):
        allowed = f"{x.shape}" + (f" or {x.shape[:2]}" if steps else "")
        raise ValueError(f"{name} must have shape {allowed} to match {data}, got {mask.shape}")
    if finite:
        full = mask if mask.shape == x.shape else np.broadcast_to(mask[..., None], x.shape)
        n_bad = int(np.count_nonzero(~np.isfinite(x[full])))
        if n_bad:
            raise ValueError(
                f"{data} has {n_bad} non-finite value(s) at positions {name} marks observed; "
                "NaN is only allowed where the mask is False"
            )
    return mask


def check_callable(f: object, name: str) -> None:
    """``f`` must be a function (or other callable)."""
    if not callable(f):
        raise TypeError(f"{name} must be callable (a function), got {type(f).__name__}")


def check_path(path: object, name: str = "path") -> Path:
    """A filesystem path given as ``str`` or ``os.PathLike``, returned as a ``Path``."""
    if isinstance(path, bool) or not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a str or os.PathLike path, got {type(path).__name__}")
    return Path(path)


def check_rng(rng: object, name: str = "rng") -> np.random.Generator:
    """Accept a ``numpy.random.Generator`` or an integer seed; refuse anything else."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        if rng < 0:
            raise ValueError(f"{name} seed must be a non-negative integer, got {int(rng)}")
        return np.random.default_rng(int(rng))
    raise TypeError(
        f"{name} must be a numpy.random.Generator or an int seed, got {type(rng).__name__}; "
        "use numpy.random.default_rng(seed)"
    )


# ----------------------------------------------------------------------------- dtypes
DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def as_dtype(dtype: object) -> np.dtype:
    """Normalise a dtype argument to ``float32`` or ``float64`` with a clear error otherwise."""
    try:
        dt = np.dtype(dtype)  # type: ignore[arg-type]
    except TypeError as exc:
        raise TypeError(f"dtype must be float32 or float64, got {dtype!r}") from exc
    if dt not in DTYPES:
        raise TypeError(f"dtype must be float32 or float64, got {dt}")
    return dt
