r"""Compiled twins of the LSTM: one step, a whole sequence (forward + backprop through time), a
repeated input, and the one-layer autoregressive decoder loop.

Every public function here is the *twin* of a ``@reference`` function of :mod:`minivae.nn`
(the table is :data:`minivae.fast.backend.TWINS`): same signature, same numbers — held to the
reference within 1e-12 (float64) by ``tests/test_fast_parity.py``:

====================================  ===============================================
twin (here)                           reference
====================================  ===============================================
:func:`lstm_step_forward`             :func:`minivae.nn.lstm.lstm_step_forward`
:func:`lstm_step_backward`            :func:`minivae.nn.lstm.lstm_step_backward`
:func:`lstm_forward`                  :func:`minivae.nn.lstm.lstm_forward`
:func:`lstm_backward`                 :func:`minivae.nn.lstm.lstm_backward`
:func:`lstm_forward_repeated`         :func:`minivae.nn.lstm.lstm_forward_repeated`
:func:`lstm_backward_repeated`        :func:`minivae.nn.lstm.lstm_backward_repeated`
:func:`ar_decoder_forward` (kernel)   used by :mod:`minivae.fast.decoders` (one layer)
====================================  ===============================================

The step twins return the reference's own step-cache tuple (so either backward reads either
cache).  The sequence twins return a :class:`SeqCache` that only their own backward reads; the
reference backward refuses it, and these backwards refuse the reference's cache (switching
the backend between a forward and its backward raises instead of mixing caches).

Where the time goes, and what these kernels do about it
-------------------------------------------------------
For the LSTM-VAE shapes (N=64, T=100, H=64) one forward+backward is ~0.6 GFLOP of small matrix
products plus ~3 million sigmoid/tanh evaluations, spread over 100 dependent time steps.

* **Threads over the batch, for all T steps.**  Rows of the batch never interact, so the batch
  is cut into contiguous chunks and each chunk runs the whole time loop on its rows: no
  synchronisation per step (a per-step parallel loop would pay a barrier 100 times per
  sequence).  The chunk kernels release the GIL and run on a small Python thread pool
  (``NUMBA_NUM_THREADS`` threads, default: the number of CPUs).
* **A hand-written matrix product.**  ``np.dot`` inside Numba needs SciPy's BLAS, which is not a
  dependency of minivae, so the per-step ``x_t Wx + h_{t-1} Wh`` (forward) and ``da_t Wh^T``
  (backward) are computed by :func:`_gemm_nt`, a register-tiled dot-product kernel that LLVM
  vectorizes (measured: as fast as single-threaded OpenBLAS at these sizes).
* **Parameter gradients per chunk.**  Each chunk accumulates its own copy of ``dWx``, ``dWh``
  and ``db`` inside the time loop (``_gemm_tn``, a sum of outer products over its rows) and the
  caller adds the copies; no two threads ever write the same memory.
* **Reused buffers.**  The (T, N, 4H) cache arrays are several MB, and in a training run whose
  batch shapes vary, fresh ones cost page faults (measured: 10% of the run time, see
  :mod:`minivae.fast.workspace`).  They come from a pool that takes a buffer back after the
  backward that consumed its cache (so the next forward writes into cache-warm memory).
* **BLAS kept out of the way.**  After a multi-threaded matrix product OpenBLAS's worker threads
  spin for a while, taking a core from these kernels; :mod:`minivae.fast.blas` explains why ``fit``
  limits BLAS to one thread while a model trains (measured 1.7x per LSTM-VAE step).
* **A repeated input is projected once** (:func:`lstm_forward_repeated`: ``z Wx + b`` is the
  same at every step, and its gradients need only ``sum_t da_t``), and the autoregressive
  decoder's feedback loop (prediction fed back as the next input) is one compiled call per
  batch chunk (:func:`ar_decoder_forward` / :func:`ar_decoder_backward`).
* **Vectorizable activations.**  ``math.exp``/``math.tanh`` are scalar C calls in Numba (no SVML
  here): :mod:`minivae.fast.activations` has branch-free versions accurate to a few ulp.
  The gate math works on one batch row at a time through 1-D contiguous views (the same loops
  over 2-D blocks measured ~6x slower: LLVM did not vectorize them).

Same bits whatever the thread count
-----------------------------------
A floating-point sum depends on the order of its terms, so a result may depend on the number
of threads only through *how the work is cut*.  Here the cut depends on N alone:

* **Fixed chunks.**  :func:`_n_chunks` gives 1, 2, 4 or 8 chunks (the largest power of two
  with at least 8 rows a chunk, at most 8 chunks); :func:`_chunk_bounds` gives their rows.
  A chunk's rows meet the same 4-row tiles of the matrix products, and its partial parameter
  gradients sum the same rows over the same steps in the same order, however many threads run.
* **Threads only execute chunks.**  With P threads, thread p runs chunks p, p + P, ... one after
  the other, in one compiled call (:func:`_run_chunks`); each chunk writes its own output rows
  and its own slot of the partial gradients.
* **A fixed combination order.**  The partial gradients are added in chunk order 0, 1, 2, ...
  (:func:`_sum_chunks`), after every chunk has finished.

So ``NUMBA_NUM_THREADS=1`` and ``=4`` give the same bits (``tests/test_thread_determinism.py``
trains every model with 1, 2 and 4 threads and compares hashes).  A power of two keeps 2, 4 or 8
threads evenly loaded; the cap of 8 chunks bounds the memory of the partial gradients
(8 x (D + H + 1) x 4H numbers) and the useful thread count (8).  Smaller chunks cost little,
since the products stream Wh once per 4-row tile whatever the chunk size: 8 chunks instead of 1
measured 0-5% more CPU time per LSTM layer on one thread (``benchmarks/README.md``, issue 14).
Different N (another batch size, or a batch cut into pieces) may still round differently,
as would any change of the summation order.  The step twins run on one thread; NumPy's BLAS,
used by the dense layers, has its own thread policy (:mod:`minivae.fast.blas`).

The kernels take grouped arrays: :class:`Weights` (one layer's parameters, with the transposes
the products read), :class:`SeqArrays` (what a forward keeps for its backward), and a few small
NamedTuples for gradients and the decoder's inputs.

Compilation is lazy (the first call with a given dtype compiles that version) and cached on
disk (``cache=True``; ``NUMBA_CACHE_DIR`` chooses where).  float32 inputs are computed in
float32 throughout: every constant is created in the array's dtype.  Numba invalidates a
cached function only when *its own* source file changes: after editing
:mod:`minivae.fast.activations`, clear the cache (or this file's cached kernels keep the old
activations).  (For the same reason every kernel lives in this one file.)

The subnormal cliff (float32 backward)
-------------------------------------
An encoder's gradient enters only at its last step (dL/dh_T) and decays on its way back through
time, roughly geometrically.  In float32 it passes through the subnormal range (below 1.2e-38)
before it reaches 0, and x86 arithmetic on subnormal operands or results is 10-100x slower: a
T = 1000 encoder backward took ten times its T = 500 time.  So :func:`_seq_backward_chunks`

* in **float32** sets every dL/dh, dL/dc and dL/da with ``|v| < FLUSH32 = 2**-102`` (~2e-31)
  to 0 after each step (2**24 times the smallest normal number, so that the products of the next
  step, a value times a weight or gate derivative, stay normal too).  The results then differ
  from the reference only by the contributions of gradients below 2e-31: absolutely, by far less
  than one float32 rounding of any gradient that is not itself that small
  (``tests/test_fast_subnormal.py``);
* in **float64** flushes nothing (its gradients would need ~8x longer sequences to get there):
  results unchanged;
* with **no output gradient** (``dhs`` None) **stops** once dL/dh and dL/dc are exactly 0 in
  every row of the chunk (each earlier step would add only zeros; exact in both dtypes).

Sequence cache layout (:class:`SeqArrays`)
------------------------------------------
Time-major, so that one step's rows of one chunk form a contiguous block:

* ``x: (T, N, D)``: the input, padded steps set to 0 (``(1, N, D)`` for a repeated input),
* ``valid: (T, N) bool`` (all True when no mask was given),
* ``gates: (T, N, 4H)``: activated gates ``[i | f | g | o]`` (0 at padded steps),
* ``h_prev, c_prev: (T, N, H)``: the state *entering* each step,
* ``tanh_c: (T, N, H)``: ``tanh(c_t)`` after each step (0 at padded steps).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numba
import numpy as np
from numba import njit

from minivae.fast.activations import sigmoid, tanh
from minivae.fast.workspace import Lease, LeasedCache
from minivae.nn.lstm import check_loop_args, check_repeated_args, check_step_args

_FAST_REDUCE = {"reassoc", "contract", "nsz"}
_FAST_ELEMENTWISE = {"contract", "nsz"}
_JIT = dict(cache=True, error_model="numpy", boundscheck=False, nogil=True)


# ============================================================================ matrix product
@njit(fastmath=_FAST_REDUCE, **_JIT)
def _gemm_nt(A, BT, C):  # type: ignore[no-untyped-def]
    """``C += A @ BT.T`` for ``A: (M, K)``, ``BT: (J, K)`` (both C-contiguous), ``C: (M, J)``.

    Every output is a dot product of two contiguous rows, which LLVM vectorizes along K.  A tile
    of 4 rows of A times 2 rows of BT keeps 8 accumulators in vector registers and loads 6
    vectors for 8 fused multiply-adds, so the loop is bound by arithmetic rather than by loads.
    (Measured at the LSTM's sizes: as fast as single-threaded OpenBLAS; 6x2, 4x3 and 3x3 tiles
    were no faster, 2x2 and 8x1 slower.)  Leftover rows and an odd last column use smaller tiles.
    """
    M, K = A.shape
    J = BT.shape[0]
    zero = A.dtype.type(0.0)
    m = 0
    while m + 4 <= M:
        for j in range(0, J - 1, 2):
            s00 = s01 = s10 = s11 = s20 = s21 = s30 = s31 = zero
            for k in range(K):
                b0 = BT[j, k]
                b1 = BT[j + 1, k]
                x0 = A[m, k]
                x1 = A[m + 1, k]
                x2 = A[m + 2, k]
                x3 = A[m + 3, k]
                s00 += x0 * b0
                s01 += x0 * b1
                s10 += x1 * b0
                s11 += x1 * b1
                s20 += x2 * b0
                s21 += x2 * b1
                s30 += x3 * b0
                s31 += x3 * b1
            C[m, j] += s00
            C[m, j + 1] += s01
            C[m + 1, j] += s10
            C[m + 1, j + 1] += s11
            C[m + 2, j] += s20
            C[m + 2, j + 1] += s21
            C[m + 3, j] += s30
            C[m + 3, j + 1] += s31
        if J % 2 == 1:  # odd J: the last column
            s0 = s1 = s2 = s3 = zero
            for k in range(K):
                b0 = BT[J - 1, k]
                s0 += A[m, k] * b0
                s1 += A[m + 1, k] * b0
                s2 += A[m + 2, k] * b0
                s3 += A[m + 3, k] * b0
            C[m, J - 1] += s0
            C[m + 1, J - 1] += s1
            C[m + 2, J - 1] += s2
            C[m + 3, J - 1] += s3
        m += 4
    while m < M:  # leftover rows, one at a time
        for j in range(J):
            acc = zero
            for k in range(K):
                acc += A[m, k] * BT[j, k]
            C[m, j] += acc
        m += 1


@njit(fastmath=_FAST_REDUCE, **_JIT)
def _gemm_tn(A, B, C):  # type: ignore[no-untyped-def]
    """``C += A.T @ B`` for ``A: (R, K)``, ``B: (R, J)`` (both C-contiguous), ``C: (K, J)``.

    The weight-gradient product (a sum of outer products over the rows r): four rows at a time
    are folded into one pass over each row of C, vectorized along J.
    """
    R, K = A.shape
    J = B.shape[1]
    r = 0
    while r + 4 <= R:
        for k in range(K):
            a0 = A[r, k]
            a1 = A[r + 1, k]
            a2 = A[r + 2, k]
            a3 = A[r + 3, k]
            for j in range(J):
                C[k, j] += a0 * B[r, j] + a1 * B[r + 1, j] + a2 * B[r + 2, j] + a3 * B[r + 3, j]
        r += 4
    while r < R:
        for k in range(K):
            a0 = A[r, k]
            for j in range(J):
                C[k, j] += a0 * B[r, j]
        r += 1


# ============================================================================ gate math
# One batch row at a time, on 1-D contiguous views: LLVM vectorizes these loops (the same loops
# written with 2-D indexing over a block of rows measured ~6x slower: they fell back to scalar
# code).
@njit(fastmath=_FAST_ELEMENTWISE, **_JIT)
def _gates_forward_row(a, c_prev, gates, tanh_c, c, h):  # type: ignore[no-untyped-def]
    """a: (4H,) pre-activations, c_prev: (H,) -> gates: (4H,) = [i | f | g | o],
    tanh_c: (H,), and the new state c, h: (H,)."""
    H = c_prev.shape[0]
    for k in range(H):
        ig = sigmoid(a[k])
        fg = sigmoid(a[H + k])
        gg = tanh(a[2 * H + k])
        og = sigmoid(a[3 * H + k])
        cn = fg * c_prev[k] + ig * gg
        tc = tanh(cn)
        gates[k] = ig
        gates[H + k] = fg
        gates[2 * H + k] = gg
        gates[3 * H + k] = og
        tanh_c[k] = tc
        c[k] = cn
        h[k] = og * tc




@njit(fastmath=_FAST_ELEMENTWISE, **_JIT)
def _gates_backward_row(dh, dhs, use_dhs, dc, gates, c_prev, tanh_c, da):  # type: ignore[no-untyped-def]  # noqa: E501
    """dh: (H,) dL/dh_t from the next step (plus dhs: (H,) from this step's output when
    ``use_dhs``); dc: (H,) dL/dc_t, overwritten with dL/dc_{t-1}; gates: (4H,), c_prev,
    tanh_c: (H,) from the forward -> da: (4H,) gradient wrt the pre-activations."""
    H = dh.shape[0]
    one = da.dtype.type(1.0)
    for k in range(H):
        dhk = dh[k] + dhs[k] if use_dhs else dh[k]
        ig = gates[k]
        fg = gates[H + k]
        gg = gates[2 * H + k]
        og = gates[3 * H + k]
        tc = tanh_c[k]
        # h = o tanh(c): c also receives gradient through tanh;  c = f c_prev + i g
        dck = dc[k] + dhk * og * (one - tc * tc)
        # through the nonlinearities, reusing their outputs: s' = s(1 - s), tanh' = 1 - tanh^2
        da[k] = dck * gg * ig * (one - ig)
        da[H + k] = dck * c_prev[k] * fg * (one - fg)
        da[2 * H + k] = dck * ig * (one - gg * gg)
        da[3 * H + k] = dhk * tc * og * (one - og)
        dc[k] = dck * fg


@njit(**_JIT)
def _copy(dst, src):  # type: ignore[no-untyped-def]
    """dst[...] = src for two 2-D arrays of the same shape.  (A plain loop: ``dst[:] = src`` or
    a reshape would each compile one more library function on a cold cache.)"""
    for m in range(dst.shape[0]):
        for k in range(dst.shape[1]):
            dst[m, k] = src[m, k]


@njit(fastmath=_FAST_ELEMENTWISE, **_JIT)
def _flush(a, tiny):  # type: ignore[no-untyped-def]
    """a[...] = 0 where |a| < tiny, for a 2-D array (branch-free: a select, vectorized).
    NaN compares false and is kept."""
    zero = a.dtype.type(0.0)
    for m in range(a.shape[0]):
        for k in range(a.shape[1]):
            v = a[m, k]
            a[m, k] = zero if abs(v) < tiny else v


@njit(**_JIT)
def _all_zero(a):  # type: ignore[no-untyped-def]
    """True when every element of the 2-D array a is exactly 0 (NaN is not)."""
    for m in range(a.shape[0]):
        for k in range(a.shape[1]):
            if a[m, k] != 0:
                return False
    return True


@njit(**_JIT)
def _add_rows(acc, part):  # type: ignore[no-untyped-def]
    """acc[j] += sum_m part[m, j] (the bias gradient of one step of one chunk)."""
    for m in range(part.shape[0]):
        for j in range(part.shape[1]):
            acc[j] += part[m, j]




# ============================================================================ grouped arrays
class Weights(NamedTuple):
    """One LSTM layer's parameters as the kernels read them (all C-contiguous).  The transposes
    make every matrix product a dot product of contiguous rows (:func:`_gemm_nt`)."""

    Wx: np.ndarray  # (D, 4H)
    WxT: np.ndarray  # (4H, D)
    Wh: np.ndarray  # (H, 4H)
    WhT: np.ndarray  # (4H, H)
    b: np.ndarray  # (4H,)


class SeqArrays(NamedTuple):
    """What a sequence forward keeps for its backward, time-major (module docstring)."""

    x: np.ndarray  # (T, N, D) input, padded steps 0; (1, N, D) for a repeated input
    valid: np.ndarray  # (T, N) bool
    gates: np.ndarray  # (T, N, 4H) activated [i | f | g | o], 0 at padded steps
    h_prev: np.ndarray  # (T, N, H) hidden state entering each step
    c_prev: np.ndarray  # (T, N, H) cell state entering each step
    tanh_c: np.ndarray  # (T, N, H) tanh of the cell state after each step (0 at padded steps)


class ParamGrads(NamedTuple):
    """One private copy of each parameter gradient per batch chunk (zero on entry); the caller
    sums over the first axis."""

    dWx: np.ndarray  # (chunks, D, 4H)
    dWh: np.ndarray  # (chunks, H, 4H)
    db: np.ndarray  # (chunks, 4H)


def _weights(Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray) -> Weights:
    c = np.ascontiguousarray
    return Weights(c(Wx), c(Wx.T), c(Wh), c(Wh.T), c(b))


# ============================================================================ sequence kernels
# Time-major layout inside the kernels: (T, N, ...) makes the rows of one step for one chunk of
# the batch a contiguous block, which the matrix product and the gate math read without a copy.

# Below this input width the input projection is done as D rank-1 updates (vectorized along 4H);
# a dot-product GEMM over such a short axis spends its time in horizontal sums.  Measured for
# 32 rows x 4H = 256 (float32): D = 8: 9.6 vs 16.7 us, D = 16: 17 vs 37 us, D = 32: 42 vs 42 us.
_SMALL_D = 32

# float32 backward: gradients below this are set to 0 (module docstring, "The subnormal cliff").
# 2**-102 = 2**24 x float32's smallest normal number: a flushed-at-this-level value times any
# factor >= 2**-24 (every weight, gate derivative or state that matters) stays a normal number,
# so the products of the next steps never enter the subnormal range either.
FLUSH32 = 2.0**-102


@njit(fastmath=_FAST_ELEMENTWISE, **_JIT)
def _input_projection(x, w, a):  # type: ignore[no-untyped-def]
    """a = x @ Wx + b for one step of one chunk when D < _SMALL_D (x: (M, D), w: :class:`Weights`);
    for wider inputs only a = b, and the caller adds ``_gemm_nt(x, w.WxT, a)``.

    (The caller, not this function, calls :func:`_gemm_nt`: a compiled function's whole call
    tree is re-optimized by LLVM at every level that links it, so each kernel calls its helpers
    directly and no helper calls another; measured ~0.3 s of cold compilation per level.)
    """
    M, D = x.shape
    G = a.shape[1]
    for m in range(M):
        for j in range(G):
            a[m, j] = w.b[j]
    if D < _SMALL_D:
        for m in range(M):
            for d in range(D):
                xv = x[m, d]
                for j in range(G):
                    a[m, j] += xv * w.Wx[d, j]


# One call per thread: each runs its share of the chunks (first, first + stride, ...) inside
# compiled code, so a step pays one Python-to-Numba dispatch (~30 us) per thread, not per chunk.
# (The chunk loop is part of the kernel rather than a wrapper around a per-chunk kernel: one
# level fewer of compiled functions, ~0.7 s less cold compilation per kernel.)
@njit(fastmath=_FAST_ELEMENTWISE, **_JIT)
def _seq_forward_chunks(first, stride, bounds, w, s, h0, c0, hs, hT, cT):  # type: ignore[no-untyped-def]  # noqa: E501
    """All T steps for the batch rows n0:n1 = bounds[ci] of chunks ci = first, first + stride, ...

    w: :class:`Weights`; s: :class:`SeqArrays` with s.x and s.valid filled (s.x: (1, N, D) is
    the same input at every step, whose projection x Wx + b is then computed once), the other
    fields written here; h0, c0: (N, H).  Writes hs: (N, T, H), hT, cT: (N, H) for these rows.
    """
    T = s.valid.shape[0]
    repeated = s.x.shape[0] == 1
    wide = s.x.shape[2] >= _SMALL_D
    H = w.Wh.shape[0]
    dt = s.x.dtype
    zero = dt.type(0.0)
    for ci in range(first, bounds.shape[0], stride):
        n0, n1 = bounds[ci, 0], bounds[ci, 1]
        nc = n1 - n0
        h = np.empty((nc, H), dtype=dt)  # running state of this chunk
        c = np.empty((nc, H), dtype=dt)
        _copy(h, h0[n0:n1])
        _copy(c, c0[n0:n1])
        a = np.empty((nc, 4 * H), dtype=dt)  # pre-activations of one step
        a_x = np.empty((nc, 4 * H), dtype=dt)  # x Wx + b of a repeated input
        if repeated:
            _input_projection(s.x[0, n0:n1], w, a_x)
            if wide:
                _gemm_nt(s.x[0, n0:n1], w.WxT, a_x)
        for t in range(T):
            if repeated:
                _copy(a, a_x)
            else:
                _input_projection(s.x[t, n0:n1], w, a)  # a = x_t Wx + b
                if wide:
                    _gemm_nt(s.x[t, n0:n1], w.WxT, a)
            _gemm_nt(h, w.WhT, a)  # a += h_{t-1} Wh
            _copy(s.h_prev[t, n0:n1], h)
            _copy(s.c_prev[t, n0:n1], c)
            for m in range(nc):
                n = n0 + m
                if s.valid[t, n]:  # the gate math; padded rows keep their state
                    _gates_forward_row(a[m], s.c_prev[t, n], s.gates[t, n], s.tanh_c[t, n],
                                       c[m], h[m])
                    for k in range(H):
                        hs[n, t, k] = h[m, k]
                else:  # zero gates and tanh_c (so zero gradient later), zero output
                    for k in range(4 * H):
                        s.gates[t, n, k] = zero
                    for k in range(H):
                        s.tanh_c[t, n, k] = zero
                        hs[n, t, k] = zero
        _copy(hT[n0:n1], h)
        _copy(cT[n0:n1], c)


@njit(fastmath=_FAST_ELEMENTWISE, **_JIT)
def _seq_backward_chunks(first, stride, bounds, w, s, dhs, dhT, dcT, dx, dh0, dc0, g, tiny):  # type: ignore[no-untyped-def]  # noqa: E501
    """Backprop through time for the batch rows n0:n1 = bounds[ci] of chunks ci = first,
    first + stride, ...

    w, s: the forward's :class:`Weights` and :class:`SeqArrays`; dhs: (N, T, H), or (0, 0, 0)
    when there is no output gradient; dhT, dcT: (N, H).  Writes, for these rows, dx: shaped like
    s.x (zero on entry), dh0, dc0: (N, H), and each chunk's share of the parameter gradients
    into ``g[...][ci]`` (:class:`ParamGrads`).

    tiny: the flush threshold (:func:`_flush_threshold`): when > 0, every dL/dh, dL/dc and
    dL/da with ``|v| < tiny`` is set to 0 after each step (float32: no subnormal arithmetic).
    Without an output gradient (no dhs), the loop stops once dL/dh and dL/dc are exactly 0 for
    every row of the chunk: nothing enters any more, so every earlier step would only add zeros
    (see "The subnormal cliff" in the module docstring).
    """
    T = s.gates.shape[0]
    repeated = s.x.shape[0] == 1
    use_dhs = dhs.shape[0] > 0
    H = w.Wh.shape[0]
    G = 4 * H
    dt = s.gates.dtype
    zero = dt.type(0.0)
    flush = tiny > zero
    for ci in range(first, bounds.shape[0], stride):
        n0, n1 = bounds[ci, 0], bounds[ci, 1]
        nc = n1 - n0
        dh = np.empty((nc, H), dtype=dt)  # dL/dh_t arriving from step t+1 (plus hs[:, t]'s)
        dc = np.empty((nc, H), dtype=dt)
        _copy(dh, dhT[n0:n1])
        _copy(dc, dcT[n0:n1])
        dhn = np.empty((nc, H), dtype=dt)
        da = np.empty((nc, G), dtype=dt)  # gradient wrt this step's pre-activations
        da_sum = np.empty((nc, G), dtype=dt)  # repeated input: sum over t of da_t
        for m in range(nc):
            for j in range(G):
                da_sum[m, j] = zero
        dWx, dWh, db = g.dWx[ci], g.dWh[ci], g.db[ci]
        for t in range(T - 1, -1, -1):
            for m in range(nc):
                n = n0 + m
                if s.valid[t, n]:  # (plus this step's own output gradient dhs[:, t])
                    dhs_row = dhs[n, t] if use_dhs else dh[m]
                    _gates_backward_row(dh[m], dhs_row, use_dhs, dc[m], s.gates[t, n],
                                        s.c_prev[t, n], s.tanh_c[t, n], da[m])
                else:  # a padded row passes dh and dc through unchanged
                    for j in range(G):
                        da[m, j] = zero
            if flush:
                _flush(da, tiny)
                _flush(dc, tiny)
            # a_t = x_t Wx + h_{t-1} Wh + b: gradients wrt everything a_t was computed from
            _gemm_tn(s.h_prev[t, n0:n1], da, dWh)  # dWh += h_{t-1}^T da_t
            if repeated:  # x Wx + b is the same at every step: its gradients need sum_t da_t
                for m in range(nc):
                    for j in range(G):
                        da_sum[m, j] += da[m, j]
            else:
                _gemm_tn(s.x[t, n0:n1], da, dWx)  # dWx += x_t^T da_t
                _add_rows(db, da)
                _gemm_nt(da, w.Wx, dx[t, n0:n1])  # dx_t = da_t Wx^T
            for m in range(nc):
                for k in range(H):
                    dhn[m, k] = zero
            _gemm_nt(da, w.Wh, dhn)  # dL/dh_{t-1} = da_t Wh^T
            for m in range(nc):
                if s.valid[t, n0 + m]:  # padded rows keep dh (the state was carried)
                    for k in range(H):
                        dh[m, k] = dhn[m, k]
            if flush:
                _flush(dh, tiny)
            if not use_dhs and _all_zero(dh) and _all_zero(dc):
                break  # no gradient left and none enters: earlier steps would add only zeros
        if repeated:
            _gemm_tn(s.x[0, n0:n1], da_sum, dWx)  # dWx = x^T sum_t da_t
            _add_rows(db, da_sum)
            _gemm_nt(da_sum, w.Wx, dx[0, n0:n1])  # dx = (sum_t da_t) Wx^T
        _copy(dh0[n0:n1], dh)
        _copy(dc0[n0:n1], dc)


# ============================================================================ threads
_POOL: ThreadPoolExecutor | None = None
_POOL_SIZE = 0

# The batch is cut into a number of chunks that depends on N only (never on the thread count),
# so the same rows meet the same 4-row tiles and each chunk's partial parameter gradients sum
# the same rows in the same order whatever the number of threads; the partial sums are then
# added in chunk order.  A power of two (1, 2, 4, 8) so that 2, 4 or 8 threads get equal shares;
# at least _MIN_CHUNK_ROWS rows a chunk (each chunk adds a little fixed work: its partial
# gradients to zero and add, its per-step calls); at most _MAX_CHUNKS chunks, which bounds both
# the useful thread count and the memory of the partial gradients
# (_MAX_CHUNKS x (D + H + 1) x 4H numbers).
_MIN_CHUNK_ROWS = 8
_MAX_CHUNKS = 8


def _n_threads() -> int:
    """Threads for the sequence kernels: ``NUMBA_NUM_THREADS`` (default: the number of CPUs).

    Read from Numba's config rather than ``numba.get_num_threads()``, which would start Numba's
    own (here unused) parallel thread pool.
    """
    return max(1, int(numba.config.NUMBA_NUM_THREADS))


def _n_chunks(N: int) -> int:
    """Batch chunks for N rows: the largest power of two <= min(_MAX_CHUNKS, N // _MIN_CHUNK_ROWS)
    (1 for small N).  A function of N alone: the thread count must not change any bit."""
    n = 1
    while 2 * n <= min(_MAX_CHUNKS, N // _MIN_CHUNK_ROWS):
        n *= 2
    return n


def _chunk_bounds(N: int, n_chunks: int) -> list[tuple[int, int]]:
    """Contiguous row ranges (n0, n1) of the chunks, sizes differing by at most one row."""
    return [(ci * N // n_chunks, (ci + 1) * N // n_chunks) for ci in range(n_chunks)]


def _run_chunks(kernel: Callable[..., None], N: int, n_chunks: int, *args: object) -> None:
    """Run the chunks of N batch rows: ``kernel(p, P, bounds, *args)`` is a compiled loop that
    runs chunks p, p + P, p + 2P, ... (``bounds[ci] = (n0, n1)``, the rows of chunk ci).

    Threads only *execute* chunks: thread p of P runs its chunks one after the other.  Whatever
    P is, each chunk does the same arithmetic on the same rows and writes its results (rows of
    outputs, its own slot of partial gradients) to memory no other chunk writes, so the results
    do not depend on P.  The kernels release the GIL (``nogil=True``), so plain Python threads
    run them in parallel; this compiles much faster than ``parallel=True`` with ``prange``, and
    with whole sequences per call the thread hand-off (tens of microseconds) is negligible.
    """
    global _POOL, _POOL_SIZE
    bounds = np.array(_chunk_bounds(N, n_chunks), dtype=np.int64)
    n_workers = min(_n_threads(), n_chunks)
    if n_workers == 1:
        kernel(0, 1, bounds, *args)
        return
    if _POOL is None or _POOL_SIZE < n_workers - 1:
        _POOL = ThreadPoolExecutor(max_workers=n_workers - 1, thread_name_prefix="minivae-lstm")
        _POOL_SIZE = n_workers - 1
    futures = [_POOL.submit(kernel, p, n_workers, bounds, *args) for p in range(1, n_workers)]
    kernel(0, n_workers, bounds, *args)  # the calling thread is worker 0
    for fut in futures:
        fut.result()


def _sum_chunks(parts: np.ndarray) -> np.ndarray:
    """parts: (chunks, ...) partial sums -> their total, added in chunk order 0, 1, 2, ...
    (a fixed order: the total is the same bits whatever thread computed which part)."""
    total = parts[0].copy()
    for part in parts[1:]:
        total += part
    return total


# ============================================================================ checks
def _same_dtype(dtype: np.dtype, **arrays: np.ndarray) -> None:
    for name, arr in arrays.items():
        if arr.dtype != dtype:
            raise TypeError(
                f"{name} must have dtype {dtype} like the other arrays (kernels never cast "
                f"silently), got {arr.dtype}"
            )


def _float_dtype(arr: np.ndarray, name: str) -> np.dtype:
    if arr.dtype not in (np.float32, np.float64):
        raise TypeError(f"{name} must be float32 or float64, got {arr.dtype}")
    return arr.dtype


def _check_shape(arr: np.ndarray, name: str, shape: tuple[int, ...], desc: str) -> None:
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape {desc}={shape}, got {arr.shape}")


def _check_lstm_params(D: int, H: int, Wx: np.ndarray, Wh: np.ndarray,
                       b: np.ndarray | None = None) -> None:
    """Wx: (D, 4H), Wh: (H, 4H) and (unless None) b: (4H,), as every kernel expects them."""
    _check_shape(Wx, "Wx", (D, 4 * H), "(D, 4H)")
    _check_shape(Wh, "Wh", (H, 4 * H), "(H, 4H)")
    if b is not None:
        _check_shape(b, "b", (4 * H,), "(4H,)")


def _check_mask(mask: np.ndarray | None, N: int, T: int) -> np.ndarray:
    """The (T, N) time-major validity array of a (N, T) bool mask (None: every step valid)."""
    if mask is None:
        return np.ones((T, N), dtype=np.bool_)
    if mask.dtype != np.bool_:
        raise TypeError(f"mask must be a bool array, got dtype {mask.dtype}")
    _check_shape(mask, "mask", (N, T), "(N, T)")
    return np.ascontiguousarray(mask.T)


def _cache_error(fn: str, cache: object, want: str) -> TypeError:
    return TypeError(
        f"{fn} (compiled twin) needs the {want} its own forward returned, got "
        f"{type(cache).__name__}: the forward ran another implementation (was the backend "
        "switched between a forward and its backward? run the forward again)"
    )


# ============================================================================ sequence twins
class SeqCache(LeasedCache):
    """What :func:`lstm_forward` / :func:`lstm_forward_repeated` hand to their backward: the
    kernel arrays (:class:`SeqArrays`, on lease from :mod:`minivae.fast.workspace`: one backward
    reads them), the weights, and whether the input was repeated."""

    __slots__ = ("weights", "repeated")

    def __init__(self, arrays: SeqArrays, weights: Weights, repeated: bool, lease: Lease) -> None:
        super().__init__(arrays, lease)
        self.weights, self.repeated = weights, repeated


def _sequence_forward(x_tm: np.ndarray, T: int, h0: np.ndarray, c0: np.ndarray, Wx: np.ndarray,
                      Wh: np.ndarray, b: np.ndarray, mask: np.ndarray | None, lease: Lease,
                      repeated: bool):
    """The shared part of the two forward twins: x_tm is the time-major input, (T, N, D) or
    (1, N, D) when ``repeated``, a leased buffer already filled."""
    _, N, D = x_tm.shape
    dtype = x_tm.dtype
    H = Wh.shape[0]
    _same_dtype(dtype, h0=h0, c0=c0, Wx=Wx, Wh=Wh, b=b)
    _check_lstm_params(D, H, Wx, Wh, b)
    _check_shape(h0, "h0", (N, H), "(N, H)")
    _check_shape(c0, "c0", (N, H), "(N, H)")
    valid = _check_mask(mask, N, T)
    if mask is not None and not repeated:
        x_tm[~valid] = 0  # padded inputs may hold anything (even NaN): keep them out of dWx
    arrays = SeqArrays(x_tm, valid, lease.take((T, N, 4 * H), dtype),
                       *(lease.take((T, N, H), dtype) for _ in range(3)))
    w = _weights(Wx, Wh, b)
    hs = np.empty((N, T, H), dtype=dtype)
    hT = np.empty((N, H), dtype=dtype)
    cT = np.empty((N, H), dtype=dtype)
    _run_chunks(_seq_forward_chunks, N, _n_chunks(N), w, arrays, np.ascontiguousarray(h0),
                np.ascontiguousarray(c0), hs, hT, cT)
    return hs, hT, cT, SeqCache(arrays, w, repeated, lease)


def lstm_forward(
    x: np.ndarray,
    h0: np.ndarray,
    c0: np.ndarray,
    Wx: np.ndarray,
    Wh: np.ndarray,
    b: np.ndarray,
    mask: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, SeqCache]:
    """Twin of :func:`minivae.nn.lstm.lstm_forward` (same inputs and returns; the cache is a
    :class:`SeqCache`).  x: (N, T, D); h0, c0: (N, H); Wx: (D, 4H), Wh: (H, 4H), b: (4H,);
    mask: (N, T) bool or None.  All arrays float32 or all float64; x at padded steps is
    ignored (may be NaN).  Returns hs: (N, T, H), hT, cT: (N, H) and the cache."""
    check_loop_args(x, h0, c0, Wx, Wh, b, mask)  # the reference's own type checks
    N, T, D = x.shape
    lease = Lease()
    x_tm = lease.take((T, N, D), _float_dtype(x, "x"))
    x_tm[...] = x.transpose(1, 0, 2)
    return _sequence_forward(x_tm, T, h0, c0, Wx, Wh, b, mask, lease, False)


def lstm_forward_repeated(
    z: np.ndarray,
    T: int,
    h0: np.ndarray,
    c0: np.ndarray,
    Wx: np.ndarray,
    Wh: np.ndarray,
    b: np.ndarray,
    mask: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, SeqCache]:
    """Twin of :func:`minivae.nn.lstm.lstm_forward_repeated`: z: (N, D) fed at each of T steps.
    ``z Wx + b`` is computed once per sequence (it is the same at every step)."""
    check_repeated_args(z, T, h0, c0, Wx, Wh, b, mask)  # the reference's own checks
    lease = Lease()
    x_tm = lease.take((1,) + z.shape, _float_dtype(z, "z"))
    x_tm[0] = z
    return _sequence_forward(x_tm, int(T), h0, c0, Wx, Wh, b, mask, lease, True)


def _flush_threshold(dtype: np.dtype):  # type: ignore[no-untyped-def]
    """The backward kernels' flush threshold in ``dtype``: FLUSH32 = 2**-102 (~2e-31) for
    float32, 0 (no flushing: float64 results unchanged) for float64."""
    if dtype == np.float32:
        return np.float32(FLUSH32)
    return dtype.type(0.0)


def _sequence_backward(dhs: np.ndarray | None, dhT: np.ndarray | None, dcT: np.ndarray | None,
                       cache: SeqCache, name: str):
    """The shared part of the two backward twins -> (dx time-major, dh0, dc0, dWx, dWh, db).
    Releases the cache's buffers when done."""
    s, w = cache.take(name), cache.weights
    T, N, H = s.h_prev.shape
    D = s.x.shape[2]
    dtype = s.gates.dtype
    zeros = np.zeros((N, H), dtype=dtype)
    dhT = zeros if dhT is None else np.ascontiguousarray(dhT)
    dcT = zeros if dcT is None else np.ascontiguousarray(dcT)
    _same_dtype(dtype, dhT=dhT, dcT=dcT)
    _check_shape(dhT, "dhT", (N, H), "(N, H)")
    _check_shape(dcT, "dcT", (N, H), "(N, H)")
    if dhs is None:
        dhs = np.zeros((0, 0, 0), dtype=dtype)  # never read: a typed placeholder
    else:
        _same_dtype(dtype, dhs=dhs)
        _check_shape(dhs, "dhs", (N, T, H), "(N, T, H)")
        dhs = np.ascontiguousarray(dhs)
    n_chunks = _n_chunks(N)
    dx_tm = np.zeros(s.x.shape, dtype=dtype)
    dh0 = np.empty((N, H), dtype=dtype)
    dc0 = np.empty((N, H), dtype=dtype)
    g = ParamGrads(np.zeros((n_chunks, D, 4 * H), dtype=dtype),
                   np.zeros((n_chunks, H, 4 * H), dtype=dtype),
                   np.zeros((n_chunks, 4 * H), dtype=dtype))
    _run_chunks(_seq_backward_chunks, N, n_chunks, w, s, dhs, dhT, dcT, dx_tm, dh0, dc0, g,
                _flush_threshold(dtype))
    cache.release()
    return dx_tm, dh0, dc0, _sum_chunks(g.dWx), _sum_chunks(g.dWh), _sum_chunks(g.db)


def lstm_backward(
    dhs: np.ndarray | None,
    dhT: np.ndarray | None,
    dcT: np.ndarray | None,
    cache: SeqCache,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Twin of :func:`minivae.nn.lstm.lstm_backward`: dhs: (N, T, H) or None, dhT, dcT: (N, H)
    or None, the cache of :func:`lstm_forward` -> dx: (N, T, D), dh0, dc0: (N, H),
    dWx: (D, 4H), dWh: (H, 4H), db: (4H,) (fresh arrays)."""
    if not isinstance(cache, SeqCache) or cache.repeated:
        raise _cache_error("lstm_backward", cache, "SeqCache of lstm_forward")
    dx_tm, *rest = _sequence_backward(dhs, dhT, dcT, cache, "lstm_backward")
    return (dx_tm.transpose(1, 0, 2).copy(), *rest)  # type: ignore[return-value]


def lstm_backward_repeated(
    dhs: np.ndarray | None,
    dhT: np.ndarray | None,
    dcT: np.ndarray | None,
    cache: SeqCache,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Twin of :func:`minivae.nn.lstm.lstm_backward_repeated`: as :func:`lstm_backward`, with
    dz: (N, D), the sum over the steps."""
    if not isinstance(cache, SeqCache) or not cache.repeated:
        raise _cache_error("lstm_backward_repeated", cache, "SeqCache of lstm_forward_repeated")
    dx_tm, *rest = _sequence_backward(dhs, dhT, dcT, cache, "lstm_backward_repeated")
    return (dx_tm[0], *rest)  # type: ignore[return-value]


# ============================================================================ one step
class StepGrads(NamedTuple):
    """What :func:`_step_backward` writes (all zero on entry)."""

    dx: np.ndarray  # (N, D)
    dh_prev: np.ndarray  # (N, H)
    dWx: np.ndarray  # (D, 4H)
    dWh: np.ndarray  # (H, 4H)
    db: np.ndarray  # (4H,)


@njit(fastmath=_FAST_ELEMENTWISE, **_JIT)
def _step_forward(x, h_prev, c_prev, w, gates, tanh_c, c, h):  # type: ignore[no-untyped-def]
    """One step for all N rows: a = x Wx + h_prev Wh + b, then the gate math.

    x: (N, D); h_prev, c_prev: (N, H); w: :class:`Weights`.
    Writes gates: (N, 4H), tanh_c, c, h: (N, H).
    """
    N = x.shape[0]
    a = np.empty((N, w.b.shape[0]), dtype=x.dtype)
    _input_projection(x, w, a)
    if x.shape[1] >= _SMALL_D:
        _gemm_nt(x, w.WxT, a)
    _gemm_nt(h_prev, w.WhT, a)
    for m in range(N):
        _gates_forward_row(a[m], c_prev[m], gates[m], tanh_c[m], c[m], h[m])


class StepArrays(NamedTuple):
    """A step's forward values as :func:`_step_backward` reads them (C-contiguous)."""

    x: np.ndarray  # (N, D)
    h_prev: np.ndarray  # (N, H)
    c_prev: np.ndarray  # (N, H)
    gates: np.ndarray  # (N, 4H) [i | f | g | o]
    tanh_c: np.ndarray  # (N, H)


@njit(fastmath=_FAST_ELEMENTWISE, **_JIT)
def _step_backward(dh, dc, s, Wx, Wh, g):  # type: ignore[no-untyped-def]
    """Backward of one step.  dh: (N, H); dc: (N, H) holds dL/dc_t on entry and dL/dc_{t-1} on
    exit; s: :class:`StepArrays`; Wx: (D, 4H), Wh: (H, 4H); g: :class:`StepGrads`, zero on
    entry."""
    N, H = dh.shape
    da = np.empty((N, 4 * H), dtype=dh.dtype)
    for m in range(N):
        _gates_backward_row(dh[m], dh[m], False, dc[m], s.gates[m], s.c_prev[m], s.tanh_c[m],
                            da[m])
    _gemm_nt(da, Wx, g.dx)  # dx = da Wx^T
    _gemm_nt(da, Wh, g.dh_prev)  # dh_prev = da Wh^T
    _gemm_tn(s.x, da, g.dWx)  # dWx = x^T da
    _gemm_tn(s.h_prev, da, g.dWh)  # dWh = h_prev^T da
    _add_rows(g.db, da)


def _c(arr: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(arr)


def lstm_step_forward(
    x_t: np.ndarray,
    h_prev: np.ndarray,
    c_prev: np.ndarray,
    Wx: np.ndarray,
    Wh: np.ndarray,
    b: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, ...]]:
    """Twin of :func:`minivae.nn.lstm.lstm_step_forward` (same signature and the same cache
    tuple ``(x_t, h_prev, c_prev, Wx, Wh, i, f, g, o, tanh_c)``, so caches from either
    implementation work with either backward).

    x_t: (N, D), h_prev, c_prev: (N, H), Wx: (D, 4H), Wh: (H, 4H), b: (4H,)
    -> h, c: (N, H) and the cache (i, f, g, o are column blocks of one (N, 4H) array).

    Single-threaded (one step is too little work to split), and without BLAS calls.
    """
    check_step_args(x_t, h_prev, c_prev, Wx, Wh, b)  # the reference's own type checks
    dtype = h_prev.dtype
    N, H = h_prev.shape
    D = x_t.shape[1]
    _check_shape(x_t, "x_t", (N, D), "(N, D)")
    _check_shape(c_prev, "c_prev", (N, H), "(N, H)")
    _check_lstm_params(D, H, Wx, Wh, b)
    gates = np.empty((N, 4 * H), dtype=dtype)
    tanh_c = np.empty((N, H), dtype=dtype)
    c = np.empty((N, H), dtype=dtype)
    h = np.empty((N, H), dtype=dtype)
    _step_forward(_c(x_t), _c(h_prev), _c(c_prev), _weights(Wx, Wh, b), gates, tanh_c, c, h)
    i, f, g, o = (gates[:, k * H : (k + 1) * H] for k in range(4))
    return h, c, (x_t, h_prev, c_prev, Wx, Wh, i, f, g, o, tanh_c)


def lstm_step_backward(
    dh: np.ndarray, dc: np.ndarray, cache: tuple[np.ndarray, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Twin of :func:`minivae.nn.lstm.lstm_step_backward`.

    dh: (N, H) total dL/dh_t, dc: (N, H) dL/dc_t from the next step, cache from a step forward
    -> dx (N, D), dh_prev (N, H), dc_prev (N, H), dWx (D, 4H), dWh (H, 4H), db (4H,)
    (this step's contribution only).
    """
    x_t, h_prev, c_prev, Wx, Wh, i, f, g, o, tanh_c = cache
    dtype = h_prev.dtype
    _same_dtype(dtype, dh=dh, dc=dc)
    N, H = h_prev.shape
    D = x_t.shape[1]
    _check_shape(dh, "dh", (N, H), "(N, H)")
    _check_shape(dc, "dc", (N, H), "(N, H)")
    gates = np.concatenate([i, f, g, o], axis=1)  # (N, 4H) in the kernels' layout
    dc_prev = np.array(dc, dtype=dtype, order="C")  # a copy: the kernel updates it in place
    grads = StepGrads(np.zeros((N, D), dtype=dtype), np.zeros((N, H), dtype=dtype),
                      np.zeros((D, 4 * H), dtype=dtype), np.zeros((H, 4 * H), dtype=dtype),
                      np.zeros(4 * H, dtype=dtype))
    arrays = StepArrays(_c(x_t), _c(h_prev), _c(c_prev), gates, _c(tanh_c))
    _step_backward(_c(dh), dc_prev, arrays, _c(Wx), _c(Wh), grads)
    return grads.dx, grads.dh_prev, dc_prev, grads.dWx, grads.dWh, grads.db


# ======================================================================= autoregressive decoder
# One LSTM layer whose output Dense feeds its predicted mean back as the next step's input: the
# whole loop in one compiled call per batch chunk, instead of T step-kernel calls from Python.
# Same math as minivae.nn.decoders.autoregressive_forward with one layer; the twin of that
# function (minivae.fast.decoders) calls it.
class OutWeights(NamedTuple):
    """The output Dense y = h W + b as the decoder kernels read it (C-contiguous)."""

    W: np.ndarray  # (H, O)
    WT: np.ndarray  # (O, H)
    b: np.ndarray  # (O,)


class DecoderArrays(NamedTuple):
    """What :func:`ar_decoder_forward` keeps for :func:`ar_decoder_backward` (time-major)."""

    xs: np.ndarray  # (T, N, D) the inputs actually read
    feed: np.ndarray  # (T, N, D) bool, True = the true value was read; (0, 0, 0): free running
    gates: np.ndarray  # (T, N, 4H)
    h_prev: np.ndarray  # (T, N, H)
    c_prev: np.ndarray  # (T, N, H)
    tanh_c: np.ndarray  # (T, N, H)
    tops: np.ndarray  # (T, N, H) h_t, the output Dense's input


class DecoderGrads(NamedTuple):
    """Per-chunk parameter gradients of the decoder (zero on entry; summed by the caller)."""

    cell: ParamGrads
    dW: np.ndarray  # (chunks, H, O)
    db: np.ndarray  # (chunks, O)


@njit(fastmath=_FAST_ELEMENTWISE, **_JIT)
def _ar_forward_chunks(first, stride, bounds, w, ow, x, h0, c0, s, y):  # type: ignore[no-untyped-def]  # noqa: E501
    """All T steps for the batch rows n0:n1 = bounds[ci] of chunks ci = first, first + stride, ...

    w: :class:`Weights` of the cell; ow: :class:`OutWeights` (O >= D: the first D outputs are
    the predicted mean fed back); x: (T, N, D) true values, read where s.feed is True (unused
    when s.feed is (0, 0, 0)); h0, c0: (N, H); s: :class:`DecoderArrays`, feed filled,
    the rest written here; y: (T, N, O) the outputs y_t = h_t W + b.
    """
    for ci in range(first, bounds.shape[0], stride):
        n0, n1 = bounds[ci, 0], bounds[ci, 1]
        T, _, D = s.xs.shape
        H = w.Wh.shape[0]
        O = ow.b.shape[0]
        use_feed = s.feed.shape[0] > 0
        nc = n1 - n0
        dt = s.xs.dtype
        zero = dt.type(0.0)
        h = np.empty((nc, H), dtype=dt)
        c = np.empty((nc, H), dtype=dt)
        _copy(h, h0[n0:n1])
        _copy(c, c0[n0:n1])
        a = np.empty((nc, 4 * H), dtype=dt)
        for t in range(T):
            u = s.xs[t, n0:n1]
            for m in range(nc):  # the start token, then the true value or the last prediction
                for d in range(D):
                    if t == 0:
                        u[m, d] = zero
                    elif use_feed and s.feed[t, n0 + m, d]:
                        u[m, d] = x[t - 1, n0 + m, d]
                    else:
                        u[m, d] = y[t - 1, n0 + m, d]
            _input_projection(u, w, a)  # a = u_t Wx + b
            if D >= _SMALL_D:
                _gemm_nt(u, w.WxT, a)
            _gemm_nt(h, w.WhT, a)  # a += h_{t-1} Wh
            _copy(s.h_prev[t, n0:n1], h)
            _copy(s.c_prev[t, n0:n1], c)
            for m in range(nc):
                n = n0 + m
                _gates_forward_row(a[m], s.c_prev[t, n], s.gates[t, n], s.tanh_c[t, n], c[m],
                                   h[m])
            _copy(s.tops[t, n0:n1], h)
            y_t = y[t, n0:n1]
            for m in range(nc):
                for o in range(O):
                    y_t[m, o] = ow.b[o]
            _gemm_nt(h, ow.WT, y_t)  # y_t = h_t W + b


@njit(fastmath=_FAST_ELEMENTWISE, **_JIT)
def _ar_backward_chunks(first, stride, bounds, w, ow, s, dy, dh0, dc0, g):  # type: ignore[no-untyped-def]  # noqa: E501
    """Backprop through time and through every fed-back prediction, for the rows of chunks
    first, first + stride, ... (as in :func:`_ar_forward_chunks`).

    w, ow, s: as in :func:`_ar_forward_chunks`; dy: (T, N, O) dL/dy.  Writes dh0, dc0: (N, H)
    for these rows and each chunk's parameter gradients into ``g``'s arrays at index ``ci``
    (:class:`DecoderGrads`).
    """
    for ci in range(first, bounds.shape[0], stride):
        n0, n1 = bounds[ci, 0], bounds[ci, 1]
        T, _, D = s.xs.shape
        H = w.Wh.shape[0]
        G = 4 * H
        O = dy.shape[2]
        use_feed = s.feed.shape[0] > 0
        nc = n1 - n0
        dt = s.xs.dtype
        zero = dt.type(0.0)
        dh = np.zeros((nc, H), dtype=dt)  # dL/dh_t from the later steps
        dc = np.zeros((nc, H), dtype=dt)
        dhn = np.empty((nc, H), dtype=dt)
        da = np.empty((nc, G), dtype=dt)
        dy_t = np.empty((nc, O), dtype=dt)
        du = np.zeros((nc, D), dtype=dt)  # dL/d(y_t[:, :D]) through step t+1's input
        du_in = np.empty((nc, D), dtype=dt)
        dWx, dWh, db = g.cell.dWx[ci], g.cell.dWh[ci], g.cell.db[ci]
        dW, dbo = g.dW[ci], g.db[ci]
        for t in range(T - 1, -1, -1):
            # y_t feeds the loss and (its mean part) step t+1's input
            for m in range(nc):
                for o in range(O):
                    dy_t[m, o] = dy[t, n0 + m, o]
                for d in range(D):
                    dy_t[m, d] += du[m, d]
            _gemm_tn(s.tops[t, n0:n1], dy_t, dW)  # dW += h_t^T dy_t
            _add_rows(dbo, dy_t)
            _gemm_nt(dy_t, ow.W, dh)  # dh_t += dy_t W^T
            for m in range(nc):  # (the output gradient is already in dh)
                n = n0 + m
                _gates_backward_row(dh[m], dh[m], False, dc[m], s.gates[t, n], s.c_prev[t, n],
                                    s.tanh_c[t, n], da[m])
            _gemm_tn(s.h_prev[t, n0:n1], da, dWh)  # dWh += h_{t-1}^T da_t
            _gemm_tn(s.xs[t, n0:n1], da, dWx)  # dWx += u_t^T da_t
            _add_rows(db, da)
            for m in range(nc):
                for d in range(D):
                    du_in[m, d] = zero
                for k in range(H):
                    dhn[m, k] = zero
            _gemm_nt(da, w.Wx, du_in)  # dL/d(input of step t)
            _gemm_nt(da, w.Wh, dhn)  # dL/dh_{t-1}
            _copy(dh, dhn)
            # step t's input reached the previous prediction only where it was not the true value
            for m in range(nc):
                for d in range(D):
                    fed_true = use_feed and s.feed[t, n0 + m, d]
                    du[m, d] = zero if (t == 0 or fed_true) else du_in[m, d]
        _copy(dh0[n0:n1], dh)
        _copy(dc0[n0:n1], dc)


class DecoderCache(LeasedCache):
    """What :func:`ar_decoder_forward` hands to :func:`ar_decoder_backward` (the arrays are on
    lease: one backward reads them)."""

    __slots__ = ("weights", "out_weights")

    def __init__(self, arrays: DecoderArrays, weights: Weights, out_weights: OutWeights,
                 lease: Lease) -> None:
        super().__init__(arrays, lease)
        self.weights, self.out_weights = weights, out_weights


def ar_decoder_forward(
    h0: np.ndarray,
    c0: np.ndarray,
    cell: tuple[np.ndarray, np.ndarray, np.ndarray],
    W: np.ndarray,
    b: np.ndarray,
    T: int,
    x: np.ndarray | None = None,
    feed_true: np.ndarray | None = None,
) -> tuple[np.ndarray, DecoderCache]:
    """A one-layer autoregressive LSTM decoder over T steps in one compiled loop: the computation
    of :func:`minivae.nn.decoders.autoregressive_forward` with ``h0s = [h0]``, ``c0s = [c0]``,
    ``cells = [cell]`` (same meaning of every argument).  Returns y: (N, T, O) and the cache
    for :func:`ar_decoder_backward`."""
    N, H = h0.shape
    Wx, Wh, bc = cell
    D = Wx.shape[0]
    O = W.shape[1]
    dtype = _float_dtype(h0, "h0")
    _same_dtype(dtype, c0=c0, Wx=Wx, Wh=Wh, b_cell=bc, W=W, b=b)
    _check_shape(c0, "c0", (N, H), "(N, H)")
    _check_lstm_params(D, H, Wx, Wh, bc)
    _check_shape(W, "W", (H, O), "(H, O)")
    _check_shape(b, "b", (O,), "(O,)")
    if O < D:
        raise ValueError(f"W must emit at least D={D} outputs (the fed-back mean), got {O}")
    if feed_true is None:  # typed placeholders, never read
        x_tm, feed_tm = np.zeros((0, 0, 0), dtype=dtype), np.zeros((0, 0, 0), dtype=np.bool_)
    else:
        if x is None:
            raise ValueError("feed_true given without x: the true values to feed are missing")
        _same_dtype(dtype, x=x)
        _check_shape(x, "x", (N, T, D), "(N, T, D)")
        _check_shape(feed_true, "feed_true", (N, T, D), "(N, T, D)")
        x_tm = np.ascontiguousarray(x.transpose(1, 0, 2))
        feed_tm = np.ascontiguousarray(feed_true.transpose(1, 0, 2), dtype=np.bool_)
    lease = Lease()
    s = DecoderArrays(lease.take((T, N, D), dtype), feed_tm, lease.take((T, N, 4 * H), dtype),
                      *(lease.take((T, N, H), dtype) for _ in range(4)))
    w, ow = _weights(Wx, Wh, bc), OutWeights(_c(W), _c(W.T), _c(b))
    y_tm = np.empty((T, N, O), dtype=dtype)
    _run_chunks(_ar_forward_chunks, N, _n_chunks(N), w, ow, x_tm, _c(h0), _c(c0), s, y_tm)
    return y_tm.transpose(1, 0, 2).copy(), DecoderCache(s, w, ow, lease)


def ar_decoder_backward(
    dy: np.ndarray, cache: DecoderCache
) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray], np.ndarray,
           np.ndarray]:
    """Backward of :func:`ar_decoder_forward`: dy: (N, T, O) -> dh0, dc0: (N, H),
    (dWx, dWh, db) of the cell, dW: (H, O), db: (O,) (fresh arrays)."""
    s, w, ow = cache.take("ar_decoder_backward"), cache.weights, cache.out_weights
    T, N, D = s.xs.shape
    H, O = ow.W.shape
    dtype = s.xs.dtype
    _same_dtype(dtype, dy=dy)
    _check_shape(dy, "dy", (N, T, O), "(N, T, O)")
    n_chunks = _n_chunks(N)
    dh0 = np.empty((N, H), dtype=dtype)
    dc0 = np.empty((N, H), dtype=dtype)
    g = DecoderGrads(ParamGrads(*(np.zeros((n_chunks,) + shape, dtype=dtype)
                                  for shape in ((D, 4 * H), (H, 4 * H), (4 * H,)))),
                     np.zeros((n_chunks, H, O), dtype=dtype), np.zeros((n_chunks, O), dtype=dtype))
    _run_chunks(_ar_backward_chunks, N, n_chunks, w, ow, s, _c(dy.transpose(1, 0, 2)), dh0, dc0, g)
    cache.release()
    cell = (_sum_chunks(g.cell.dWx), _sum_chunks(g.cell.dWh), _sum_chunks(g.cell.db))
    return dh0, dc0, cell, _sum_chunks(g.dW), _sum_chunks(g.db)
