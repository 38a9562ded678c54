"""The registry of named gradient checks that ``python -m minivae.gradcheck`` runs.

A *check* is a function ``check(rng) -> list[GradCheckResult]`` that builds something small in
float64 from ``rng`` (a layer at a random shape, a loss, a model) and returns the results of
:func:`~minivae.gradcheck.check_layer`, :func:`~minivae.gradcheck.check_function`, ... on it.

The library's checks live in :mod:`minivae.gradcheck.checks` (one module per area), never in
the modules they check.  Adding one of your own, e.g. in an exercise or a course repository::

    from minivae.gradcheck import register_check

    @register_check("my_layer")
    def _check_my_layer(rng):
        layer = MyLayer(2, 3, rng=rng)
        return check_layer(layer, rng.standard_normal((4, 2)), rng=rng)

Registration happens when that module is imported.  Each check gets its own generator derived
from ``(seed, name)``, so a check draws the same shapes and values whether it runs alone
(``--only``) or with all the others.
"""

from __future__ import annotations

import fnmatch
import time
import traceback
import zlib
from collections.abc import Callable, Iterable

import numpy as np

from minivae._validation import check_positive_int
from minivae.gradcheck.result import GradCheckResult

CheckFn = Callable[[np.random.Generator], list[GradCheckResult]]

#: name -> check function, in registration order.
REGISTRY: dict[str, CheckFn] = {}

def register_check(
    name: str, fn: CheckFn | None = None, *, replace: bool = False
) -> Callable[[CheckFn], CheckFn] | CheckFn:
    """Register ``fn(rng) -> list[GradCheckResult]`` under ``name``.

    Use as ``register_check("dense", fn)`` or as a decorator ``@register_check("dense")``.
    Names must be unique unless ``replace=True`` (a typo should not silently hide a check).
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"check name must be a non-empty string, got {name!r}")

    def decorator(func: CheckFn) -> CheckFn:
        if not callable(func):
            raise TypeError(f"fn (the builder of check {name!r}) must be callable, got "
                            f"{type(func).__name__}")
        if name in REGISTRY and not replace and REGISTRY[name] is not func:
            raise ValueError(
                f"a gradient check named {name!r} is already registered; pick another name "
                "or pass replace=True"
            )
        REGISTRY[name] = func
        return func

    return decorator if fn is None else decorator(fn)


def unregister_check(name: str) -> None:
    """Remove a registered check (tests use this to clean up)."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a check name (str), got {type(name).__name__}")
    if name not in REGISTRY:  # a ValueError: the name is a wrong argument value
        raise ValueError(f"no gradient check named {name!r}; registered: {sorted(REGISTRY)}")
    del REGISTRY[name]


def check_rng_for(seed: int, name: str) -> np.random.Generator:
    """Generator of one check: depends on the seed and the check's name only."""
    seed = check_positive_int(seed, "seed", minimum=0)
    if not isinstance(name, str):
        raise TypeError(f"name must be a check name (str), got {type(name).__name__}")
    return np.random.default_rng([seed, zlib.crc32(name.encode("utf-8"))])


def select(only: str | None = None, names: Iterable[str] | None = None) -> list[str]:
    """Check names matching ``only``: a substring of the name, or a glob such as ``loss.*``."""
    if only is not None and not isinstance(only, str):
        raise TypeError(f"only must be a str (substring or glob), got {type(only).__name__}")
    if names is not None and (isinstance(names, str) or not hasattr(names, "__iter__")):
        raise TypeError(f"names must be an iterable of check names, got {type(names).__name__}")
    names = list(REGISTRY if names is None else names)
    if only is None:
        return names
    return [n for n in names if only in n or fnmatch.fnmatchcase(n, only)]


def _crash_result(name: str, text: str) -> GradCheckResult:
    """A failing result that carries the error of a check that could not run."""
    return GradCheckResult(
        name=name, shape=(), max_rel_error=float("nan"), worst_index=None,
        analytic=float("nan"), numeric=float("nan"), passed=False, tol=float("nan"),
        check=name, error=text or "unknown error",
    )


def run_checks(
    seed: int = 0,
    only: str | None = None,
    *,
    names: Iterable[str] | None = None,
    timings: dict[str, float] | None = None,
) -> list[GradCheckResult]:
    """Run the registered checks (optionally only those matching ``only``); return all results.

    ``names`` restricts the candidates (e.g. ``BUILTIN_CHECKS``).  A check that raises becomes one
    failing result carrying the error message.  Each result's ``check`` field names the check it
    came from.  ``timings`` (if given) receives seconds per check.
    """
    seed = check_positive_int(seed, "seed", minimum=0)
    if timings is not None and not isinstance(timings, dict):
        raise TypeError(f"timings must be None or a dict to fill, got {type(timings).__name__}")
    results: list[GradCheckResult] = []
    for name in select(only, names):
        if name not in REGISTRY:
            raise KeyError(f"no gradient check named {name!r}; registered: {sorted(REGISTRY)}")
        start = time.perf_counter()
        try:
            found = list(REGISTRY[name](check_rng_for(seed, name)))
        except Exception:
            found = [_crash_result(name, traceback.format_exc())]
        for res in found:
            if not isinstance(res, GradCheckResult):
                found = [_crash_result(
                    name, f"check {name!r} must return a list of GradCheckResult, "
                          f"got an item of type {type(res).__name__}")]
                break
            res.check = name
        if timings is not None:
            timings[name] = time.perf_counter() - start
        results.extend(found)
    return results
