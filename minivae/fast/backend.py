"""Backend selection: the readable NumPy reference, or Numba-jitted kernels.

One switch picks the path every accelerated layer takes:

* the environment variable ``MINIVAE_BACKEND`` (``numpy`` or ``numba``) read at import, or
* :func:`set_backend` at run time.

The default is ``numba`` when it can be imported and ``numpy`` otherwise, so ``import minivae``
works on a machine without Numba.  The NumPy code is always the reference: every Numba kernel in
:mod:`minivae.fast` is tested against it.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from contextlib import contextmanager

BACKENDS = ("numpy", "numba")

_NUMBA_AVAILABLE = importlib.util.find_spec("numba") is not None


def numba_available() -> bool:
    """True when the ``numba`` package can be imported."""
    return _NUMBA_AVAILABLE


def _initial_backend() -> str:
    requested = os.environ.get("MINIVAE_BACKEND", "").strip().lower()
    if requested == "":
        return "numba" if _NUMBA_AVAILABLE else "numpy"
    if requested not in BACKENDS:
        raise ValueError(
            f"MINIVAE_BACKEND must be one of {BACKENDS}, got {requested!r}"
        )
    if requested == "numba" and not _NUMBA_AVAILABLE:
        raise ImportError("MINIVAE_BACKEND=numba but numba is not installed (pip install numba)")
    return requested


_backend = _initial_backend()


def get_backend() -> str:
    """The active backend name: ``"numpy"`` or ``"numba"``."""
    return _backend


def set_backend(name: str) -> None:
    """Select the backend for every layer from now on (``"numpy"`` or ``"numba"``)."""
    global _backend
    name = str(name).strip().lower()
    if name not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {name!r}")
    if name == "numba" and not _NUMBA_AVAILABLE:
        raise ImportError(
            "backend 'numba' requested but numba is not installed (pip install numba)"
        )
    _backend = name


@contextmanager
def use_backend(name: str) -> Iterator[None]:
    """Context manager: run a block with another backend, then restore the previous one."""
    previous = get_backend()
    set_backend(name)
    try:
        yield
    finally:
        set_backend(previous)


def use_numba() -> bool:
    """True when the active backend is Numba (what layers ask before dispatching)."""
    return _backend == "numba"
