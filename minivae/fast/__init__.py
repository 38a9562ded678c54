"""The accelerators: compiled twins of the library's ``@reference`` functions, and the switch.

* :mod:`minivae.fast.backend` — THE switch (``MINIVAE_BACKEND``, :func:`set_backend`) and the
  table :data:`~minivae.fast.backend.TWINS` naming, for each reference, the twin that replaces
  it on the ``numba`` backend.  The only place that decides which code runs.
* :mod:`minivae.fast.lstm` — the LSTM twins (one step, a sequence, a repeated input) and the
  one-layer autoregressive decoder kernel.
* :mod:`minivae.fast.decoders` — the twin of the autoregressive decoder loop.
* :mod:`minivae.fast.adam` — the Adam update twin.
* :mod:`minivae.fast.guard` — the twin of ``fit``'s per-step check of gradients and parameters
  (:func:`minivae.train.guard.first_bad_array`): one pass over each array.
* :mod:`minivae.fast.activations` — vectorizable exp / sigmoid / tanh for the kernels.
* :mod:`minivae.fast.workspace` — the pool of scratch buffers the twins' caches borrow.
* :mod:`minivae.fast.blas` — how many threads NumPy's BLAS uses (threadpoolctl); one while a model
  trains.

Importing this package (or :mod:`~minivae.fast.backend`) never imports Numba: the twins'
modules are imported on the first call of a ``@reference`` function with the ``numba`` backend
selected, so ``import minivae`` works without Numba and a NumPy-only run never pays Numba's
import or compile time.  Each kernel compiles lazily per dtype on its first call (float32 and
float64) and is cached on disk (``NUMBA_CACHE_DIR``).
"""
