"""The one switch between the reference NumPy code and its compiled twins.

* the environment variable ``MINIVAE_BACKEND`` (``numpy`` or ``numba``), read at import, or
* :func:`set_backend` / :func:`use_backend` at run time (re-exported as ``minivae.set_backend``).

``numpy`` runs every function of the library as written (the reference a lesson shows).
``numba`` runs, for each function marked :func:`minivae.twins.reference`, the compiled twin
that :data:`TWINS` names for it; everything else is the same code on both backends.  The
default is ``numba`` when it can be imported and ``numpy`` otherwise, so ``import minivae``
works on a machine without Numba.  Numba itself is imported only when a twin is first called.

This module is the only place that decides which code runs.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from minivae import twins

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


#: reference (the marked function's name) -> its compiled twin ("module:function" in minivae.fast)
TWINS: dict[str, str] = {
    "minivae.nn.lstm.lstm_step_forward": "minivae.fast.lstm:lstm_step_forward",
    "minivae.nn.lstm.lstm_step_backward": "minivae.fast.lstm:lstm_step_backward",
    "minivae.nn.lstm.lstm_forward": "minivae.fast.lstm:lstm_forward",
    "minivae.nn.lstm.lstm_backward": "minivae.fast.lstm:lstm_backward",
    "minivae.nn.lstm.lstm_forward_repeated": "minivae.fast.lstm:lstm_forward_repeated",
    "minivae.nn.lstm.lstm_backward_repeated": "minivae.fast.lstm:lstm_backward_repeated",
    "minivae.nn.decoders.autoregressive_forward": "minivae.fast.decoders:autoregressive_forward",
    "minivae.nn.decoders.autoregressive_backward":
        "minivae.fast.decoders:autoregressive_backward",
    "minivae.train.optim.adam_update": "minivae.fast.adam:adam_update",
    "minivae.train.guard.first_bad_array": "minivae.fast.guard:first_bad_array",
}


def numba_twins() -> dict[str, Callable[..., Any]]:
    """Import the compiled twins (and Numba): the table :func:`minivae.twins.install` takes."""
    if not _NUMBA_AVAILABLE:
        raise ImportError("the numba backend needs numba (pip install numba), or select "
                          "MINIVAE_BACKEND=numpy / minivae.set_backend('numpy')")
    table = {}
    for name, target in TWINS.items():
        module, function = target.split(":")
        table[name] = getattr(importlib.import_module(module), function)
    return table


def _select(name: str) -> None:
    global _backend
    twins.install(numba_twins if name == "numba" else {})
    _backend = name


_backend = ""
_select(_initial_backend())


def get_backend() -> str:
    """The active backend name: ``"numpy"`` or ``"numba"``."""
    return _backend


def set_backend(name: str) -> None:
    """Select the backend for every layer from now on (``"numpy"`` or ``"numba"``)."""
    name = str(name).strip().lower()
    if name not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {name!r}")
    if name == "numba" and not _NUMBA_AVAILABLE:
        raise ImportError(
            "backend 'numba' requested but numba is not installed (pip install numba)"
        )
    _select(name)


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
    """True when the active backend is Numba.  (Transitional: the sequence LSTM and the decoder
    still ask; they move behind :mod:`minivae.twins` next.)"""
    return _backend == "numba"
