"""Gradient checking: compare a hand-written backward pass with finite differences.

Quick use::

    from minivae.gradcheck import check_layer, format_table
    results = check_layer(Dense(3, 4), rng.standard_normal((5, 3)), rng=0)
    print(format_table(results))
    assert all(r.passed for r in results), "\\n".join(str(r) for r in results)

From the shell, every built-in check (and every registered one)::

    python -m minivae.gradcheck [--seed N] [--only NAME] [--builtin] [--verbose] [--list]

Modules, one concept each:

* :mod:`~minivae.gradcheck.numerical` — central differences and the relative error (how to read
  the numbers, kinks, why float64, is explained there);
* :mod:`~minivae.gradcheck.result` — :class:`GradCheckResult` (the message) and the table;
* :mod:`~minivae.gradcheck.diagnosis` — the patterns of common backward bugs, in words;
* :mod:`~minivae.gradcheck.compare` — two gradients -> a result;
* :mod:`~minivae.gradcheck.checkers` — :func:`check_gradient` (one array) and
  :func:`check_function` (a function and its gradient function);
* :mod:`~minivae.gradcheck.layer_check` — :func:`check_layer`;
* :mod:`~minivae.gradcheck.model_check` — :func:`check_model`;
* :mod:`~minivae.gradcheck.registry` — named checks (:func:`register_check`) and
  :func:`run_checks`;
* :mod:`~minivae.gradcheck.checks` — every check of the library, one module per area (importing
  this package registers them);
* :mod:`~minivae.gradcheck.cli` — the command line.
"""

from minivae.gradcheck.checkers import check_function, check_gradient
from minivae.gradcheck.checks import BUILTIN_CHECKS  # importing it registers every check
from minivae.gradcheck.cli import main
from minivae.gradcheck.compare import compare
from minivae.gradcheck.diagnosis import diagnose
from minivae.gradcheck.layer_check import check_layer
from minivae.gradcheck.model_check import check_model
from minivae.gradcheck.numerical import (
    DEFAULT_H,
    DEFAULT_TOL,
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
from minivae.gradcheck.result import GradCheckResult, format_table

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
