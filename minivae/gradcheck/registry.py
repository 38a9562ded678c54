"""The registry of named gradient checks that ``python -m minivae.gradcheck`` runs.

A *check* is a function ``check(rng) -> list[GradCheckResult]`` that builds something small in
float64 from ``rng`` (a layer at a random shape, a loss, a model) and returns the results of
:func:`~minivae.gradcheck.check_layer`, :func:`~minivae.gradcheck.check_function`, ... on it.

Adding a check
--------------
Anywhere, with the decorator::

    from minivae.gradcheck import register_check

    @register_check("lstm.masked")
    def _check_masked_lstm(rng):
        lstm = LSTM(2, 3, rng=rng)
        ...
        return check_layer(lstm, {"x": x}, forward_fn=..., backward_fn=...)

Registration happens when that module is imported.  So that the CLI finds checks of modules
nobody imported yet, without a hard-coded import list in the library core, a module may instead
define the **hook**::

    def _register_gradchecks(register):
        register("lstm.masked", _check_masked_lstm)

:func:`load_plugins` imports every module in :data:`PLUGIN_MODULES` and every module of the
packages in :data:`PLUGIN_PACKAGES` that exists, and calls its ``_register_gradchecks`` (once
per process) with :func:`register_check`.  A module that exists but fails to import is reported
as a failing check ``import:<module>`` rather than silently skipped.

Each check gets its own generator derived from ``(seed, name)``, so a check draws the same
shapes and values whether it runs alone (``--only``) or with all the others.
"""

from __future__ import annotations

import fnmatch
import importlib
import pkgutil
import time
import traceback
import zlib
from collections.abc import Callable, Iterable

import numpy as np

from minivae.gradcheck.core import GradCheckResult

CheckFn = Callable[[np.random.Generator], list[GradCheckResult]]

#: name -> check function, in registration order.
REGISTRY: dict[str, CheckFn] = {}

#: Modules imported (if they exist) to let them register checks through the hook.
PLUGIN_MODULES: list[str] = [
    "minivae.nn.lstm", "minivae.models", "minivae.kernels", "minivae.separation",
    "minivae.volatility",
]
#: Packages whose direct submodules are imported for the same reason.
PLUGIN_PACKAGES: list[str] = ["minivae.nn", "minivae.models"]

HOOK_NAME = "_register_gradchecks"

_loaded_modules: set[str] = set()
_import_errors: dict[str, str] = {}


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
            raise TypeError(f"check {name!r} must be callable, got {type(func).__name__}")
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
    if name not in REGISTRY:
        raise KeyError(f"no gradient check named {name!r}; registered: {sorted(REGISTRY)}")
    del REGISTRY[name]


def _candidate_modules() -> list[str]:
    names = list(PLUGIN_MODULES)
    for package in PLUGIN_PACKAGES:
        try:
            pkg = importlib.import_module(package)
        except ImportError:
            continue
        for info in pkgutil.iter_modules(getattr(pkg, "__path__", [])):
            names.append(f"{package}.{info.name}")
    return list(dict.fromkeys(names))  # unique, in order


def load_plugins() -> dict[str, str]:
    """Import the plugin modules and call their ``_register_gradchecks(register)`` hook.

    Returns the modules that exist but failed to import (name -> error text).
    """
    for module_name in _candidate_modules():
        if module_name in _loaded_modules or module_name in _import_errors:
            continue
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name or module_name.startswith(f"{exc.name}."):
                continue  # the module simply does not exist (yet): nothing to register
            _import_errors[module_name] = traceback.format_exc()
            continue
        except Exception:  # a module that exists but is broken must not pass silently
            _import_errors[module_name] = traceback.format_exc()
            continue
        _loaded_modules.add(module_name)
        hook = getattr(module, HOOK_NAME, None)
        if callable(hook):
            try:
                hook(register_check)
            except Exception:  # e.g. a duplicate name: report it as a failing check
                _import_errors[module_name] = traceback.format_exc()
    return dict(_import_errors)


def check_rng_for(seed: int, name: str) -> np.random.Generator:
    """Generator of one check: depends on the seed and the check's name only."""
    return np.random.default_rng([int(seed), zlib.crc32(name.encode("utf-8"))])


def select(only: str | None = None, names: Iterable[str] | None = None) -> list[str]:
    """Check names matching ``only``: a substring of the name, or a glob such as ``loss.*``."""
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
    plugins: bool = True,
    timings: dict[str, float] | None = None,
) -> list[GradCheckResult]:
    """Run the registered checks (optionally only those matching ``only``); return all results.

    ``names`` restricts the candidates (e.g. ``BUILTIN_CHECKS``); ``plugins=False`` skips
    importing plugin modules.  A check that raises becomes one failing result carrying the
    error message.  Each result's ``check`` field names the check it came from.  ``timings``
    (if given) receives seconds per check.
    """
    errors = load_plugins() if plugins else {}
    results: list[GradCheckResult] = []
    for module_name, text in errors.items():
        check_name = f"import:{module_name}"
        if not select(only, [check_name]):
            continue
        results.append(_crash_result(check_name, text))
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
