"""Gradient checking: compare a hand-written backward pass with finite differences.

Quick use::

    from minivae.gradcheck import check_layer, format_table
    results = check_layer(Dense(3, 4), rng.standard_normal((5, 3)), rng=0)
    print(format_table(results))
    assert all(r.passed for r in results), "\\n".join(str(r) for r in results)

From the shell, every built-in check (and every registered one)::

    python -m minivae.gradcheck [--seed N] [--only NAME] [--builtin] [--verbose] [--list]

Modules:

* :mod:`~minivae.gradcheck.core` — numerical gradients, relative error, the checkers and
  :class:`GradCheckResult` (how to read the numbers is explained there);
* :mod:`~minivae.gradcheck.registry` — named checks (:func:`register_check`) and
  :func:`run_checks`;
* :mod:`~minivae.gradcheck.checks` — every check of the library, one module per area (importing
  this package registers them);
* :mod:`~minivae.gradcheck.cli` — the command line.
"""

from minivae.gradcheck.checks import BUILTIN_CHECKS  # importing it registers every check
from minivae.gradcheck.cli import main
from minivae.gradcheck.core import (
    DEFAULT_H,
    DEFAULT_TOL,
    GradCheckResult,
    check_function,
    check_gradient,
    check_layer,
    check_model,
    compare,
    diagnose,
    format_table,
    noise_floor,
    numerical_gradient,
    relative_error,
    sample_indices,
)
from minivae.gradcheck.registry import (
    REGISTRY,
    register_check,
    run_checks,
    unregister_check,
)

__all__ = [
    "BUILTIN_CHECKS",
    "DEFAULT_H",
    "DEFAULT_TOL",
    "GradCheckResult",
    "REGISTRY",
    "check_function",
    "check_gradient",
    "check_layer",
    "check_model",
    "compare",
    "diagnose",
    "format_table",
    "main",
    "noise_floor",
    "numerical_gradient",
    "register_check",
    "relative_error",
    "run_checks",
    "sample_indices",
    "unregister_check",
]
