"""Reference functions, and the compiled twins that may stand in for them.

The library's code is the reference: NumPy a student can read, the loop the lesson writes on
the board.  A few hot functions (the LSTM over a sequence and its backward through time, one
Adam update, ...) are marked ``@reference``.  For each of them the accelerator package
:mod:`minivae.fast` has a *twin*: a compiled function with the same signature that computes the
same numbers (tested equal to 1e-12 in float64, ``tests/test_fast_parity.py``).

Which one runs is decided in exactly one place, :mod:`minivae.fast.backend`:
``MINIVAE_BACKEND=numpy`` (or ``minivae.set_backend("numpy")``) runs every reference as
written; ``numba`` runs the twins.  Nothing else in the library knows about it: a layer calls
``lstm_forward(...)`` and gets the same answer either way.

How it works (small on purpose)::

    @reference
    def lstm_forward(x, h0, c0, Wx, Wh, b, mask=None):
        ...                     # the reference loop

    lstm_forward(...)           # runs the twin when one is installed, else the code above
    lstm_forward.reference(...) # always the code above (what tests compare twins with)

:func:`install` (called by the backend switch only) sets the table ``name -> twin``; a name is
``"<module>.<function>"`` of the reference, e.g. ``"minivae.nn.lstm.lstm_forward"``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])
C = TypeVar("C")

# name -> twin, or a zero-argument loader that returns the whole table on first use (so that
# selecting the accelerated backend does not import the compiler until a twin is needed).
_twins: Mapping[str, Callable[..., Any]] = {}
_loader: Callable[[], Mapping[str, Callable[..., Any]]] | None = None
# every function marked @reference, by name (tests check that each twin has one)
REFERENCES: dict[str, Callable[..., Any]] = {}


def reference(fn: F) -> F:
    """Mark ``fn`` as a reference implementation that an installed twin may replace."""
    name = f"{fn.__module__}.{fn.__qualname__}"

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        twin = _active().get(name)
        return fn(*args, **kwargs) if twin is None else twin(*args, **kwargs)

    run.reference = fn  # type: ignore[attr-defined]
    run.twin_name = name  # type: ignore[attr-defined]
    REFERENCES[name] = run
    return run  # type: ignore[return-value]


def _active() -> Mapping[str, Callable[..., Any]]:
    global _twins, _loader
    if _loader is not None:  # first call of a marked function since install(loader)
        loader, _loader = _loader, None
        _twins = dict(loader())
    return _twins


def install(twins: Mapping[str, Callable[..., Any]] | Callable[[], Mapping[str, Callable]]
            ) -> None:
    """Replace the installed twins: a mapping ``name -> twin`` ({} = reference only), or a
    function returning one, called on the first call of a marked function."""
    global _twins, _loader
    if callable(twins):
        _twins, _loader = {}, twins
    else:
        _twins, _loader = dict(twins), None


def twin_of(fn: Callable[..., Any]) -> Callable[..., Any] | None:
    """The twin that runs for the marked function ``fn`` now, or None (its reference runs)."""
    return _active().get(getattr(fn, "twin_name", ""))


def own_cache(cache: object, kind: type[C], forward: str) -> C:
    """``cache``, after checking that it is the ``kind`` that the reference ``forward``
    returns: a forward and its backward must run the same code (a compiled twin keeps a cache
    of its own, which the reference cannot read)."""
    if not isinstance(cache, kind):
        raise TypeError(
            f"cache must be the {kind.__name__} that {forward} returned, got "
            f"{type(cache).__name__}: a forward and its backward must run the same code (a "
            "compiled twin's cache cannot be read here, see minivae.twins); run the forward "
            "again before this backward"
        )
    return cache
