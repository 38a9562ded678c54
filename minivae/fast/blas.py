"""How many threads NumPy's BLAS (matrix products) may use, and the policy ``fit`` applies.

The policy: one BLAS thread while a model trains
------------------------------------------------
:func:`minivae.train.loop.fit` runs every model (MLP or LSTM, either backend) with NumPy's BLAS
limited to one thread (:func:`threads_for_training`) and restores the previous count
afterwards.  Three measured reasons:

1. **Same seed, same bits.**  NumPy's OpenBLAS does not give the same bits on one and on two
   threads for products of our shapes: ``x @ W`` at (33, 784) x (784, 512) differs in the last
   bit in float32 and float64 (55 of 288 (shape, product) pairs we tried differ, all of the
   784 x 512 first layer of an MNIST model among them).  A fixed thread count is the only way
   to get results that do not depend on the machine, and one thread is the count every
   machine has.  (minivae's own Numba kernels are independent of their thread count by
   construction, see :mod:`minivae.fast.lstm`.)
2. **Graceful under load.**  After a multi-threaded product OpenBLAS splits the next product
   into equal shares and its threads spin (busy-wait) between products.  When another process
   keeps one of two cores busy, every product waits for the share of the thread that lost its
   core: an MNIST VAE epoch measured 10-30x slower.  With one thread nothing waits for a
   descheduled sibling (numbers in ``benchmarks/README.md``, "BLAS threads under load").
3. **Little to lose on a quiet machine.**  An LSTM model's time goes into minivae's own kernel
   threads (Numba) or into hundreds of small per-step products (NumPy backend) that gain
   nothing from a second BLAS thread (measured 1.0-1.2x *slower* with two); a spinning BLAS
   thread also takes a core from the kernel threads (57 ms vs 33 ms per LSTM-VAE step).  An
   MLP's large products do gain from a second thread on a quiet machine (measured in the
   benchmark README); that speed-up is given up for reasons 1 and 2.

Outside ``fit`` (``model.loss``, ``encode``, a hand-written loop) the BLAS thread count is the
caller's: for results that do not depend on it, run the block under ``limit_blas_threads(1)``
(or start Python with ``OPENBLAS_NUM_THREADS=1``)::

    with limit_blas_threads(1):
        for batch in batches:
            ...

How: ``threadpoolctl``
----------------------
The environment variables ``OPENBLAS_NUM_THREADS`` / ``OMP_NUM_THREADS`` only act when NumPy is
first imported.  At run time these functions go through :mod:`threadpoolctl` (the library
scikit-learn uses), which finds every BLAS library loaded in the process (OpenBLAS, MKL, BLIS,
FlexiBLAS; NumPy's bundled one included) and calls its own thread-count functions.  With no
BLAS library found (a NumPy built without one) the functions do nothing and return ``None``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from threadpoolctl import ThreadpoolController

#: BLAS threads while a model trains (see the module docstring).
TRAINING_BLAS_THREADS = 1


def _blas_libraries() -> list:
    """threadpoolctl's controllers of every BLAS library loaded now.  A fresh look each time
    (0.2 ms): a library loaded after the first call is found too."""
    return ThreadpoolController().select(user_api="blas").lib_controllers


def blas_num_threads() -> int | None:
    """Threads NumPy's BLAS uses now (the largest count if several BLAS libraries are loaded),
    or None if no BLAS library was found."""
    libraries = _blas_libraries()
    return max((lib.num_threads for lib in libraries), default=None)


def _check_n(n: object) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive int (number of BLAS threads), got {n!r}")
    return int(n)


def set_blas_num_threads(n: int) -> int | None:
    """Let NumPy's BLAS use ``n`` threads from now on; returns the previous number (None, and
    nothing changes, if no BLAS library was found)."""
    n = _check_n(n)
    libraries = _blas_libraries()
    if not libraries:
        return None
    previous = max(lib.num_threads for lib in libraries)
    for lib in libraries:
        lib.set_num_threads(n)
    return previous


@contextmanager
def limit_blas_threads(n: int) -> Iterator[None]:
    """Context manager: at most ``n`` BLAS threads inside the block (never more than before),
    each library's old count after it, also after an error.

    Example (a hand-written training loop whose results must not depend on the machine)::

        with limit_blas_threads(1):
            for batch in batches:
                ...
    """
    n = _check_n(n)
    saved = [(lib, lib.num_threads) for lib in _blas_libraries()]
    lowered = [(lib, old) for lib, old in saved if old > n]
    for lib, _ in lowered:
        lib.set_num_threads(n)
    try:
        yield
    finally:
        for lib, old in lowered:
            lib.set_num_threads(old)


@contextmanager
def threads_for_training(model: object) -> Iterator[None]:
    """The thread policy :func:`minivae.train.loop.fit` applies to ``model`` (any model): BLAS
    limited to :data:`TRAINING_BLAS_THREADS` (one) thread while it trains, see the module
    docstring."""
    with limit_blas_threads(TRAINING_BLAS_THREADS):
        yield
