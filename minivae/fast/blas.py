"""How many threads NumPy's BLAS (matrix products) may use, changed at run time.

Why minivae needs this
----------------------
The Numba backend runs each LSTM sequence on its own threads (one slice of the batch per
thread, see :mod:`minivae.fast.lstm`).  NumPy's OpenBLAS has a second thread pool for the
dense layers, and after every multi-threaded product its worker threads keep *spinning* (busy
waiting for more work) for a while before they sleep.  In an LSTM model the next LSTM kernel
starts long before that, so on a 2-core laptop the spinning BLAS thread takes one of the two
cores away from the kernel.  Measured on the LSTM-VAE training step of ``benchmarks/``
(batch 64, T = 100, H = 64, float32, 2 cores): 57 ms with 2 BLAS threads, 33 ms with BLAS
pinned to one thread; the dense layers of such a model are tiny and lose nothing.

On the NumPy backend an LSTM model's time goes into hundreds of small per-step products
((64 x 64) @ (64 x 256) at H = 64), too small to gain from a second BLAS thread: measured on the
same step, 2 threads were 1.0-1.2x *slower* than one (also at H = 256 and at batch 256).

So :func:`minivae.train.loop.fit` pins BLAS to one thread while it trains a model with LSTM layers
or cells, on either backend (:func:`threads_for_training`), and restores it afterwards; an
MLP model, whose time is all large BLAS products, keeps every thread.  A hand-written training
loop can do the same with ``with limit_blas_threads(1): ...``.

The environment variables ``OPENBLAS_NUM_THREADS`` / ``OMP_NUM_THREADS`` only act when NumPy is
first imported; these functions talk to the BLAS library NumPy actually loaded, through
``ctypes``.  Supported: the OpenBLAS bundled in NumPy's wheels (``scipy_openblas`` symbols), a
system OpenBLAS, and MKL.  With any other BLAS the functions do nothing and return ``None``.
"""

from __future__ import annotations

import ctypes
import glob
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

# (get, set) symbol pairs, tried in this order in every candidate library.
_SYMBOLS = (
    ("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
    ("scipy_openblas_get_num_threads", "scipy_openblas_set_num_threads"),
    ("openblas_get_num_threads64_", "openblas_set_num_threads64_"),
    ("openblas_get_num_threads", "openblas_set_num_threads"),
    ("MKL_Get_Max_Threads", "MKL_Set_Num_Threads"),
)

_controller: tuple[Any, Any] | None = None
_searched = False


def _candidate_libraries() -> list[str]:
    """Paths of BLAS libraries that may be loaded in this process (NumPy's bundled ones first,
    then every openblas/mkl library mapped into the process on Linux)."""
    root = os.path.dirname(os.path.dirname(np.__file__))
    paths = []
    for folder in ("numpy.libs", os.path.join("numpy", ".dylibs")):
        paths += sorted(glob.glob(os.path.join(root, folder, "*openblas*")))
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.rsplit(" ", 1)[-1].strip()
                name = os.path.basename(path).lower()
                if ("openblas" in name or "mkl_rt" in name) and path not in paths:
                    paths.append(path)
    except OSError:  # not Linux: the bundled library above is all we look for
        pass
    return paths


def _find_controller() -> tuple[Any, Any] | None:
    """The (get, set) ctypes functions of the loaded BLAS, or None; searched once."""
    global _controller, _searched
    if _searched:
        return _controller
    _searched = True
    for path in _candidate_libraries():
        try:
            lib = ctypes.CDLL(path)  # already loaded by NumPy: this only returns its handle
        except OSError:
            continue
        for get_name, set_name in _SYMBOLS:
            get_fn, set_fn = getattr(lib, get_name, None), getattr(lib, set_name, None)
            if get_fn is not None and set_fn is not None:
                get_fn.restype = ctypes.c_int
                get_fn.argtypes = []
                set_fn.restype = None
                set_fn.argtypes = [ctypes.c_int]
                _controller = (get_fn, set_fn)
                return _controller
    return None


def blas_num_threads() -> int | None:
    """Threads NumPy's BLAS uses now, or None if its library was not recognised."""
    controller = _find_controller()
    return None if controller is None else int(controller[0]())


def set_blas_num_threads(n: int) -> int | None:
    """Let NumPy's BLAS use ``n`` threads from now on; returns the previous number (None, and
    nothing changes, if the BLAS library was not recognised)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive int (number of BLAS threads), got {n!r}")
    controller = _find_controller()
    if controller is None:
        return None
    previous = int(controller[0]())
    controller[1](int(n))
    return previous


@contextmanager
def limit_blas_threads(n: int) -> Iterator[None]:
    """Context manager: at most ``n`` BLAS threads inside the block, the old number after it.

    Example (a hand-written training loop of an LSTM model on the Numba backend)::

        with limit_blas_threads(1):
            for batch in batches:
                ...
    """
    current = blas_num_threads()
    if current is None or current <= n:
        yield
        return
    set_blas_num_threads(n)
    try:
        yield
    finally:
        set_blas_num_threads(current)


def is_recurrent(model: object) -> bool:
    """True when ``model`` (a Layer) contains LSTM layers or cells: then its time is spent in
    minivae's own kernel threads (Numba) or in small per-step products (NumPy), not in large
    BLAS products."""
    from minivae.nn.layer import Layer
    from minivae.nn.lstm import LSTMCell, LSTMLayer

    if not isinstance(model, Layer):
        return False
    stack = [model]
    while stack:
        layer = stack.pop()
        if isinstance(layer, (LSTMLayer, LSTMCell)):
            return True
        stack.extend(layer.children().values())
    return False


@contextmanager
def threads_for_training(model: object) -> Iterator[None]:
    """The thread policy :func:`minivae.train.loop.fit` applies: BLAS pinned to one thread while
    a recurrent model trains (see the module docstring), else unchanged."""
    if is_recurrent(model):
        with limit_blas_threads(1):
            yield
    else:
        yield
