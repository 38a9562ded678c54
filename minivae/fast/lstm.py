r"""Numba kernels for the LSTM: a whole sequence (forward + backprop through time) and one step.

They compute what the NumPy reference :mod:`minivae.nn.lstm` computes (same fused parameters
``Wx (D, 4H)``, ``Wh (H, 4H)``, ``b (4H,)``, gate order ``(i, f, g, o)``, same padding
convention) and are tested against it in ``tests/test_kernels.py``: float64 to 1e-12 and
float32 to 1e-5, relative to each array's largest entry.

Where the time goes, and what these kernels do about it
-------------------------------------------------------
For the LSTM-VAE shapes (N=64, T=100, H=64) one forward+backward is ~0.6 GFLOP of small matrix
products plus ~3 million sigmoid/tanh evaluations, spread over 100 dependent time steps.

* **Threads over the batch, for all T steps.**  Rows of the batch never interact, so the batch
  is cut into one contiguous chunk per thread and each thread runs the whole time loop on its
  chunk: no synchronisation per step (a per-step parallel loop would pay a barrier 100 times
  per sequence).  The chunk kernels release the GIL and run on a small Python thread pool
  (``NUMBA_NUM_THREADS`` threads, default: the number of CPUs).
* **A hand-written matrix product.**  ``np.dot`` inside Numba needs SciPy's BLAS, which is not a
  dependency of minivae, so the per-step ``x_t Wx + h_{t-1} Wh`` (forward) and ``da_t Wh^T``
  (backward) are computed by :func:`_gemm_nt`, a register-tiled dot-product kernel that LLVM
  vectorizes (measured: as fast as single-threaded OpenBLAS at these sizes).
* **Parameter gradients per chunk.**  Each thread accumulates its own copy of ``dWx``, ``dWh``
  and ``db`` inside the time loop (``_gemm_tn``, a sum of outer products over its rows) and the
  caller adds the copies; no two threads ever write the same memory.
* **Reused buffers.**  The (T, N, 4H) cache arrays are several MB; allocated afresh every call,
  each first touch of a 4 KiB page is a page fault (measured: the forward pass took 2x as
  long).  A layer passes a ``workspace`` dict that keeps them from call to call.
* **BLAS kept out of the way.**  After a multi-threaded matrix product OpenBLAS's worker threads
  spin for a while, taking a core from these kernels; :mod:`minivae.fast.blas` explains how ``fit``
  pins BLAS to one thread while an LSTM model trains on this backend (measured 1.7x per step).
* **A repeat-vector input is projected once** (``steps=T`` with x: (N, D)), and a decoder that
  feeds its own predicted mean back as the next input (autoregressive, teacher forcing < 1,
  free running) has its own one-layer kernel pair, :func:`ar_decoder_forward` /
  :func:`ar_decoder_backward`: the whole feedback loop in one compiled call per batch chunk.
* **Vectorizable activations.**  ``math.exp``/``math.tanh`` are scalar C calls in Numba (no SVML
  here): :mod:`minivae.fast.activations` has branch-free versions accurate to a few ulp.
  The gate math works on one batch row at a time through 1-D contiguous views (the same loops
  over 2-D blocks measured ~6x slower: LLVM did not vectorize them).

Compilation is lazy (the first call with a given dtype compiles that version) and cached on
disk (``cache=True``; ``NUMBA_CACHE_DIR`` chooses where).  float32 inputs are computed in
float32 throughout: every constant is created in the array's dtype.  Numba invalidates a
cached function only when *its own* source file changes: after editing
:mod:`minivae.fast.activations`, clear the cache (or this file's cached kernels keep the old
activations).

Sequence cache layout (what :func:`lstm_forward` returns for :func:`lstm_backward`)
-----------------------------------------------------------------------------------
Time-major, so that one step's rows of one chunk form a contiguous block;
:class:`LSTMSeqCache` ``(x, valid, gates, h_prev, c_prev, tanh_c, static)``:

* ``x: (T, N, D)``: the input, padded steps set to 0 (``(1, N, D)`` for a static input),
* ``valid: (N, T) bool`` (all True when no mask was given),
* ``gates: (T, N, 4H)``: activated gates ``[i | f | g | o]`` (0 at padded steps),
* ``h_prev, c_prev: (T, N, H)``: the state *entering* each step,
* ``tanh_c: (T, N, H)``: ``tanh(c_t)`` after each step (0 at padded steps),
* ``static``: True when the forward was given one (N, D) input for every step (``steps=T``).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numba
import numpy as np
from numba import njit

from minivae.fast.activations import sigmoid, tanh
from minivae.fast.workspace import buffer

# Reassociation lets LLVM vectorize the dot-product reductions of the matrix product; it is not
# used for the gate math (the activations' range reduction must be evaluated as written).
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
def _gates_forward(a, c_prev, valid, gates, tanh_c, c, h):  # type: ignore[no-untyped-def]
    """Gate math of one step for a block of M batch rows (all C-contiguous, distinct arrays).

    a: (M, 4H) pre-activations; c_prev: (M, H) cell state entering the step; valid: (M,) bool.
    Writes gates: (M, 4H), tanh_c: (M, H) and, for valid rows only, the new state c, h: (M, H).
    Padded rows get zero gates and tanh_c (so zero gradient later) and keep their state.
    """
    zero = a.dtype.type(0.0)
    for m in range(a.shape[0]):
        if valid[m]:
            _gates_forward_row(a[m], c_prev[m], gates[m], tanh_c[m], c[m], h[m])
        else:
            gates[m, :] = zero
            tanh_c[m, :] = zero


@njit(**_JIT)
def _gates_backward(dh, dhs, n0, t, use_dhs, dc, gates, c_prev, tanh_c, valid, da):  # type: ignore[no-untyped-def]  # noqa: E501
    """Backward gate math of one step for a block of M batch rows.

    dh: (M, H) dL/dh_t from the next step, plus ``dhs[n0 + m, t]`` (dhs: (N, T, H)) from this
    step's output when ``use_dhs``; dc: (M, H) dL/dc_t, overwritten with dL/dc_{t-1} for valid
    rows; gates: (M, 4H), c_prev, tanh_c: (M, H) from the forward; valid: (M,) bool.
    Writes da: (M, 4H), the gradient wrt the pre-activations (0 for padded rows, whose carried
    state passes dh and dc through unchanged).
    """
    zero = da.dtype.type(0.0)
    for m in range(dh.shape[0]):
        if valid[m]:
            dhs_row = dhs[n0 + m, t] if use_dhs else dh[m]
            _gates_backward_row(dh[m], dhs_row, use_dhs, dc[m], gates[m], c_prev[m], tanh_c[m],
                                da[m])
        else:
            da[m, :] = zero


@njit(**_JIT)
def _copy(dst, src):  # type: ignore[no-untyped-def]
    """dst[...] = src for two C-contiguous arrays of the same size."""
    d = dst.reshape(-1)
    s = src.reshape(-1)
    for k in range(d.shape[0]):
        d[k] = s[k]


# ============================================================================ sequence kernels
# Time-major layout inside the kernels: (T, N, ...) makes the rows of one step for one chunk of
# the batch a contiguous block, which the matrix product and the gate math read without a copy.

# Below this input width the input projection is done as D rank-1 updates (vectorized along 4H);
# a dot-product GEMM over such a short axis spends its time in horizontal sums.  Measured for
# 32 rows x 4H = 256 (float32): D = 8: 9.6 vs 16.7 us, D = 16: 17 vs 37 us, D = 32: 42 vs 42 us.
_SMALL_D = 32


@njit(fastmath=_FAST_ELEMENTWISE, **_JIT)
def _input_projection(x, Wx, WxT, b, a):  # type: ignore[no-untyped-def]
    """a = x @ Wx + b for one step of one chunk: x: (M, D), Wx: (D, 4H), WxT: (4H, D)."""
    M, D = x.shape
    G = a.shape[1]
    for m in range(M):
        for j in range(G):
            a[m, j] = b[j]
    if D < _SMALL_D:
        for m in range(M):
            for d in range(D):
                xv = x[m, d]
                for j in range(G):
                    a[m, j] += xv * Wx[d, j]
    else:
        _gemm_nt(x, WxT, a)


@njit(fastmath=_FAST_ELEMENTWISE, **_JIT)
def _seq_forward_chunk(ci, n0, n1, x, Wx, WxT, b, h0, c0, WhT, valid_tm, hs, gates, h_prev, c_prev, tanh_c, hT, cT):  # type: ignore[no-untyped-def]  # noqa: E501
    """All T steps for batch rows n0:n1 (chunk number ``ci``, unused here).

    x: (T, N, D) time-major input, or (1, N, D): the same input at every step (a repeat-vector
    decoder), whose projection x Wx + b is then computed once; Wx: (D, 4H), WxT: (4H, D) = Wx.T,
    b: (4H,); h0, c0: (N, H); WhT: (4H, H) = Wh.T; valid_tm: (T, N) bool.  Writes hs: (N, T, H),
    gates: (T, N, 4H), h_prev, c_prev, tanh_c: (T, N, H) and hT, cT: (N, H) for these rows.
    """
    T = valid_tm.shape[0]
    static = x.shape[0] == 1
    H = WhT.shape[1]
    nc = n1 - n0
    zero = x.dtype.type(0.0)
    h = np.empty((nc, H), dtype=x.dtype)  # running state of this chunk
    c = np.empty((nc, H), dtype=x.dtype)
    _copy(h, h0[n0:n1])
    _copy(c, c0[n0:n1])
    a = np.empty((nc, 4 * H), dtype=x.dtype)  # pre-activations of one step
    a_x = np.empty((nc, 4 * H), dtype=x.dtype)  # x Wx + b of a static input
    if static:
        _input_projection(x[0, n0:n1], Wx, WxT, b, a_x)
    for t in range(T):
        if static:
            _copy(a, a_x)
        else:
            _input_projection(x[t, n0:n1], Wx, WxT, b, a)  # a = x_t Wx + b
        _gemm_nt(h, WhT, a)  # a += h_{t-1} Wh
        _copy(h_prev[t, n0:n1], h)
        _copy(c_prev[t, n0:n1], c)
        _gates_forward(a, c_prev[t, n0:n1], valid_tm[t, n0:n1], gates[t, n0:n1],
                       tanh_c[t, n0:n1], c, h)
        for m in range(nc):
            ok = valid_tm[t, n0 + m]
            for k in range(H):
                hs[n0 + m, t, k] = h[m, k] if ok else zero
    _copy(hT[n0:n1], h)
    _copy(cT[n0:n1], c)


@njit(fastmath=_FAST_ELEMENTWISE, **_JIT)
def _seq_backward_chunk(ci, n0, n1, dhs, use_dhs, dhT, dcT, x, gates, h_prev, c_prev, tanh_c, Wx, Wh, valid_tm, dx, dh0, dc0, dWx_parts, dWh_parts, db_parts):  # type: ignore[no-untyped-def]  # noqa: E501
    """Backprop through time for batch rows n0:n1, chunk number ``ci``.

    dhs: (N, T, H) (ignored unless ``use_dhs``); dhT, dcT: (N, H); the forward's x: (T, N, D)
    or (1, N, D) (static input), gates: (T, N, 4H), h_prev, c_prev, tanh_c: (T, N, H);
    Wx: (D, 4H), Wh: (H, 4H); valid_tm: (T, N).  Writes, for these rows, dx: shaped like x
    (must be zero on entry), dh0, dc0: (N, H), and this chunk's share of the parameter gradients
    into dWx_parts[ci]: (D, 4H), dWh_parts[ci]: (H, 4H), db_parts[ci]: (4H,) (zero on entry;
    the caller sums the chunks).
    """
    T = gates.shape[0]
    static = x.shape[0] == 1
    H = Wh.shape[0]
    G = 4 * H
    nc = n1 - n0
    zero = gates.dtype.type(0.0)
    dh = np.empty((nc, H), dtype=gates.dtype)  # dL/dh_t arriving from step t+1
    dc = np.empty((nc, H), dtype=gates.dtype)
    _copy(dh, dhT[n0:n1])
    _copy(dc, dcT[n0:n1])
    dhn = np.empty((nc, H), dtype=gates.dtype)
    da = np.empty((nc, G), dtype=gates.dtype)  # gradient wrt this step's pre-activations
    dWx = dWx_parts[ci]
    dWh = dWh_parts[ci]
    db = db_parts[ci]
    da_sum = np.zeros((nc, G), dtype=gates.dtype)  # static input: sum over t of da_t
    for t in range(T - 1, -1, -1):
        _gates_backward(dh, dhs, n0, t, use_dhs, dc, gates[t, n0:n1], c_prev[t, n0:n1],
                        tanh_c[t, n0:n1], valid_tm[t, n0:n1], da)
        # a_t = x_t Wx + h_{t-1} Wh + b: gradients wrt everything a_t was computed from
        _gemm_tn(h_prev[t, n0:n1], da, dWh)  # dWh += h_{t-1}^T da_t
        if static:  # x Wx + b is the same term at every step: its gradients need only sum_t da_t
            for m in range(nc):
                for j in range(G):
                    da_sum[m, j] += da[m, j]
        else:
            _gemm_tn(x[t, n0:n1], da, dWx)  # dWx += x_t^T da_t
            for m in range(nc):
                for j in range(G):
                    db[j] += da[m, j]
            _gemm_nt(da, Wx, dx[t, n0:n1])  # dx_t = da_t Wx^T
        for m in range(nc):
            for k in range(H):
                dhn[m, k] = zero
        _gemm_nt(da, Wh, dhn)  # dL/dh_{t-1} = da_t Wh^T
        for m in range(nc):
            if valid_tm[t, n0 + m]:  # padded rows keep dh (the state was carried)
                for k in range(H):
                    dh[m, k] = dhn[m, k]
    if static:
        _gemm_tn(x[0, n0:n1], da_sum, dWx)  # dWx = x^T sum_t da_t
        for m in range(nc):
            for j in range(G):
                db[j] += da_sum[m, j]
        _gemm_nt(da_sum, Wx, dx[0, n0:n1])  # dx = (sum_t da_t) Wx^T
    _copy(dh0[n0:n1], dh)
    _copy(dc0[n0:n1], dc)


_POOL: ThreadPoolExecutor | None = None
_POOL_SIZE = 0


def _n_threads() -> int:
    """Threads for the sequence kernels: ``NUMBA_NUM_THREADS`` (default: the number of CPUs).

    Read from Numba's config rather than ``numba.get_num_threads()``, which would start Numba's
    own (here unused) parallel thread pool.
    """
    return max(1, int(numba.config.NUMBA_NUM_THREADS))


def _n_chunks(N: int) -> int:
    """Batch chunks (= threads) for N rows: one per thread, each with at least 4 rows (the
    matrix products work on 4-row tiles)."""
    return max(1, min(_n_threads(), N // 4))


def _run_chunks(kernel: Callable[..., None], N: int, n_chunks: int, *args: object) -> None:
    """Run ``kernel(ci, n0, n1, *args)`` for each chunk ``ci`` of contiguous batch rows n0:n1.

    The kernels release the GIL (``nogil=True``), so plain Python threads run them in parallel;
    this compiles much faster than ``parallel=True`` with ``prange``, and with a whole sequence
    per call the thread hand-off (tens of microseconds) is negligible.
    """
    global _POOL, _POOL_SIZE
    bounds = [(ci * N // n_chunks, (ci + 1) * N // n_chunks) for ci in range(n_chunks)]
    if n_chunks == 1:
        kernel(0, 0, N, *args)
        return
    if _POOL is None or _POOL_SIZE < n_chunks - 1:
        _POOL = ThreadPoolExecutor(max_workers=n_chunks - 1, thread_name_prefix="minivae-lstm")
        _POOL_SIZE = n_chunks - 1
    futures = [
        _POOL.submit(kernel, ci, n0, n1, *args) for ci, (n0, n1) in enumerate(bounds) if ci > 0
    ]
    kernel(0, bounds[0][0], bounds[0][1], *args)  # the calling thread takes the first chunk
    for fut in futures:
        fut.result()


class LSTMSeqCache(NamedTuple):
    """What :func:`lstm_forward` keeps for :func:`lstm_backward` (time-major, see the module
    docstring)."""

    x: np.ndarray  # (T, N, D) input, padded steps zeroed
    valid: np.ndarray  # (N, T) bool
    gates: np.ndarray  # (T, N, 4H) activated [i | f | g | o], 0 at padded steps
    h_prev: np.ndarray  # (T, N, H) hidden state entering each step
    c_prev: np.ndarray  # (T, N, H) cell state entering each step
    tanh_c: np.ndarray  # (T, N, H) tanh of the cell state after each step (0 at padded steps)
    static: bool = False  # x was (N, D), the same input at every step (x is then (1, N, D))


def _same_dtype(dtype: np.dtype, **arrays: np.ndarray) -> None:
    for name, arr in arrays.items():
        if arr.dtype != dtype:
            raise TypeError(
                f"{name} must have dtype {dtype} like the other arrays (kernels never cast "
                f"silently), got {arr.dtype}"
            )


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


def lstm_forward(
    x: np.ndarray,
    h0: np.ndarray,
    c0: np.ndarray,
    Wx: np.ndarray,
    Wh: np.ndarray,
    b: np.ndarray,
    valid: np.ndarray | None = None,
    workspace: dict[str, np.ndarray] | None = None,
    steps: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, LSTMSeqCache]:
    """LSTM over a whole sequence (Numba kernel, same math as ``minivae.nn.lstm``).

    Inputs (all float32 or all float64; only shapes and dtypes are checked here, the layer
    validates values):
        x: (N, T, D), or (N, D) with ``steps=T``: the same input at every one of T steps (what
            a repeat-vector decoder feeds; its projection x Wx + b is computed once, and the
            backward returns dx: (N, D) summed over the steps)
        h0, c0: (N, H); Wx: (D, 4H); Wh: (H, 4H); b: (4H,)
        valid: (N, T) bool or None (= every step valid).  At a padded step the state is carried,
            the output is 0 and no gradient flows through it; x there is ignored (may be NaN).
        workspace: a dict the caller keeps between calls (see
            :func:`minivae.fast.workspace.buffer`); the returned cache then lives in it and stays
            valid only until the next call with the same dict.

    Returns:
        hs: (N, T, H) hidden state per step (0 at padded steps),
        hT, cT: (N, H) state after each sequence's last valid step,
        cache: :class:`LSTMSeqCache` for :func:`lstm_backward`.
    """
    static = steps is not None
    if static:
        if x.ndim != 2:
            raise ValueError(f"with steps=T, x must be (N, D) (one input for every step), got "
                             f"shape {x.shape}")
        if int(steps) < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        (N, D), T = x.shape, int(steps)
    else:
        if x.ndim != 3:
            raise ValueError(f"x must be (N, T, D), got shape {x.shape}")
        N, T, D = x.shape
    H = Wh.shape[0]
    dtype = x.dtype
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"x must be float32 or float64, got {dtype}")
    _same_dtype(dtype, h0=h0, c0=c0, Wx=Wx, Wh=Wh, b=b)
    _check_lstm_params(D, H, Wx, Wh, b)
    _check_shape(h0, "h0", (N, H), "(N, H)")
    _check_shape(c0, "c0", (N, H), "(N, H)")
    x_tm = buffer(workspace, "x", (1 if static else T, N, D), dtype)
    x_tm[...] = x[None] if static else x.transpose(1, 0, 2)  # padded entries are zeroed below
    if valid is None:
        valid = np.ones((N, T), dtype=np.bool_)
    else:
        if valid.dtype != np.bool_:
            raise TypeError(f"valid must be a bool array, got dtype {valid.dtype}")
        _check_shape(valid, "valid", (N, T), "(N, T)")
        valid = np.ascontiguousarray(valid)
        # Padded inputs may hold anything (even NaN): keep them out of x Wx and dWx = x^T da.
        if not static:
            x_tm[~valid.T] = 0
    gates = buffer(workspace, "gates", (T, N, 4 * H), dtype)
    hs = np.empty((N, T, H), dtype=dtype)
    h_prev = buffer(workspace, "h_prev", (T, N, H), dtype)
    c_prev = buffer(workspace, "c_prev", (T, N, H), dtype)
    tanh_c = buffer(workspace, "tanh_c", (T, N, H), dtype)
    hT = np.empty((N, H), dtype=dtype)
    cT = np.empty((N, H), dtype=dtype)
    # Transposed weights: their rows are the columns of Wx, Wh, so the kernel's matrix products
    # are dot products of contiguous rows.
    WhT = np.ascontiguousarray(Wh.T)
    WxT = np.ascontiguousarray(Wx.T)
    valid_tm = np.ascontiguousarray(valid.T)
    _run_chunks(
        _seq_forward_chunk, N, _n_chunks(N),
        x_tm, np.ascontiguousarray(Wx), WxT, np.ascontiguousarray(b),
        np.ascontiguousarray(h0), np.ascontiguousarray(c0), WhT, valid_tm,
        hs, gates, h_prev, c_prev, tanh_c, hT, cT,
    )
    return hs, hT, cT, LSTMSeqCache(x_tm, valid, gates, h_prev, c_prev, tanh_c, static)


def lstm_backward(
    dhs: np.ndarray | None,
    dhT: np.ndarray | None,
    dcT: np.ndarray | None,
    cache: LSTMSeqCache,
    Wx: np.ndarray,
    Wh: np.ndarray,
    workspace: dict[str, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Backprop through time for :func:`lstm_forward`.

    Inputs:
        dhs: (N, T, H) dL/dhs or None (zeros); entries at padded steps are ignored
        dhT, dcT: (N, H) dL/dhT, dL/dcT or None (zeros)
        cache: from :func:`lstm_forward`; Wx: (D, 4H), Wh: (H, 4H) (the same parameters)
        workspace: scratch buffers reused between calls (may be the forward's dict)

    Returns fresh arrays (the caller accumulates the parameter gradients):
        dx: (N, T, D) (0 at padded steps), or (N, D) for a static input (``steps=T`` in the
        forward), dh0: (N, H), dc0: (N, H),
        dWx: (D, 4H), dWh: (H, 4H), db: (4H,)
    """
    x_tm, valid, gates, h_prev, c_prev, tanh_c, static = cache
    T, N, H = h_prev.shape
    D = x_tm.shape[2]
    dtype = gates.dtype
    _same_dtype(dtype, Wx=Wx, Wh=Wh)
    _check_lstm_params(D, H, Wx, Wh)
    zeros = np.zeros((N, H), dtype=dtype)
    dhT = zeros if dhT is None else np.ascontiguousarray(dhT)
    dcT = zeros if dcT is None else np.ascontiguousarray(dcT)
    _same_dtype(dtype, dhT=dhT, dcT=dcT)
    _check_shape(dhT, "dhT", (N, H), "(N, H)")
    _check_shape(dcT, "dcT", (N, H), "(N, H)")
    use_dhs = dhs is not None
    if use_dhs:
        _same_dtype(dtype, dhs=dhs)
        _check_shape(dhs, "dhs", (N, T, H), "(N, T, H)")
        dhs = np.ascontiguousarray(dhs)
    else:
        dhs = np.zeros((N, 1, H), dtype=dtype)  # never read (use_dhs=False): a typed placeholder
    n_chunks = _n_chunks(N)
    dx_tm = buffer(workspace, "dx", x_tm.shape, dtype)
    dx_tm.fill(0)
    dh0 = np.empty((N, H), dtype=dtype)
    dc0 = np.empty((N, H), dtype=dtype)
    # One private copy of each parameter gradient per chunk (no two threads write the same
    # memory), summed below: a few small arrays.
    dWx_parts = np.zeros((n_chunks, D, 4 * H), dtype=dtype)
    dWh_parts = np.zeros((n_chunks, H, 4 * H), dtype=dtype)
    db_parts = np.zeros((n_chunks, 4 * H), dtype=dtype)
    _run_chunks(
        _seq_backward_chunk, N, n_chunks,
        dhs, use_dhs, dhT, dcT, x_tm, gates, h_prev, c_prev, tanh_c,
        np.ascontiguousarray(Wx), np.ascontiguousarray(Wh), np.ascontiguousarray(valid.T),
        dx_tm, dh0, dc0, dWx_parts, dWh_parts, db_parts,
    )
    dWx = dWx_parts.sum(axis=0)
    dWh = dWh_parts.sum(axis=0)
    db = db_parts.sum(axis=0)
    # always a copy: dx_tm may be a workspace buffer
    dx = dx_tm[0].copy() if static else dx_tm.transpose(1, 0, 2).copy()
    return dx, dh0, dc0, dWx, dWh, db


# ============================================================================ one step
@njit(fastmath=_FAST_ELEMENTWISE, **_JIT)
def _step_forward(x, h_prev, c_prev, Wx, WxT, WhT, b, gates, tanh_c, c, h):  # type: ignore[no-untyped-def]  # noqa: E501
    """One step for all N rows: a = x Wx + h_prev Wh + b, then the gate math.

    x: (N, D); h_prev, c_prev: (N, H); Wx: (D, 4H), WxT: (4H, D), WhT: (4H, H), b: (4H,).
    Writes gates: (N, 4H), tanh_c, c, h: (N, H).
    """
    N = x.shape[0]
    a = np.empty((N, b.shape[0]), dtype=x.dtype)
    _input_projection(x, Wx, WxT, b, a)
    _gemm_nt(h_prev, WhT, a)
    _gates_forward(a, c_prev, np.ones(N, dtype=np.bool_), gates, tanh_c, c, h)


@njit(fastmath=_FAST_ELEMENTWISE, **_JIT)
def _step_backward(dh, dc, gates, c_prev, tanh_c, x, h_prev, Wx, Wh, dx, dh_prev, dWx, dWh, db):  # type: ignore[no-untyped-def]  # noqa: E501
    """Backward of one step.  dc: (N, H) holds dL/dc_t on entry and dL/dc_{t-1} on exit;
    dx, dh_prev, dWx, dWh, db must be zero on entry."""
    N, H = dh.shape
    da = np.empty((N, 4 * H), dtype=dh.dtype)
    no_dhs = np.zeros((1, 1, 1), dtype=dh.dtype)  # this step's output gradient is already in dh
    _gates_backward(dh, no_dhs, 0, 0, False, dc, gates, c_prev, tanh_c,
                    np.ones(N, dtype=np.bool_), da)
    _gemm_nt(da, Wx, dx)  # dx = da Wx^T
    _gemm_nt(da, Wh, dh_prev)  # dh_prev = da Wh^T
    _gemm_tn(x, da, dWx)  # dWx = x^T da
    _gemm_tn(h_prev, da, dWh)  # dWh = h_prev^T da
    for n in range(N):
        for j in range(4 * H):
            db[j] += da[n, j]


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
    """One LSTM step; drop-in for :func:`minivae.nn.lstm.lstm_step_forward` (same signature and
    the same cache tuple ``(x_t, h_prev, c_prev, Wx, Wh, i, f, g, o, tanh_c)``, so caches from
    either implementation work with either backward).

    x_t: (N, D), h_prev, c_prev: (N, H), Wx: (D, 4H), Wh: (H, 4H), b: (4H,)
    -> h, c: (N, H) and the cache (i, f, g, o are column blocks of one (N, 4H) array).

    Single-threaded (one step is too little work to split), and without BLAS calls.
    """
    dtype = h_prev.dtype
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"h_prev must be float32 or float64, got {dtype}")
    _same_dtype(dtype, x_t=x_t, c_prev=c_prev, Wx=Wx, Wh=Wh, b=b)
    N, H = h_prev.shape
    D = x_t.shape[1]
    _check_shape(x_t, "x_t", (N, D), "(N, D)")
    _check_shape(c_prev, "c_prev", (N, H), "(N, H)")
    _check_lstm_params(D, H, Wx, Wh, b)
    gates = np.empty((N, 4 * H), dtype=dtype)
    tanh_c = np.empty((N, H), dtype=dtype)
    c = np.empty((N, H), dtype=dtype)
    h = np.empty((N, H), dtype=dtype)
    _step_forward(_c(x_t), _c(h_prev), _c(c_prev), _c(Wx), _c(Wx.T), _c(Wh.T), _c(b),
                  gates, tanh_c, c, h)
    i, f, g, o = (gates[:, k * H : (k + 1) * H] for k in range(4))
    return h, c, (x_t, h_prev, c_prev, Wx, Wh, i, f, g, o, tanh_c)


def lstm_step_backward(
    dh: np.ndarray, dc: np.ndarray, cache: tuple[np.ndarray, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Backward of one step; drop-in for :func:`minivae.nn.lstm.lstm_step_backward`.

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
    dx = np.zeros((N, D), dtype=dtype)
    dh_prev = np.zeros((N, H), dtype=dtype)
    dWx = np.zeros((D, 4 * H), dtype=dtype)
    dWh = np.zeros((H, 4 * H), dtype=dtype)
    db = np.zeros(4 * H, dtype=dtype)
    _step_backward(_c(dh), dc_prev, gates, _c(c_prev), _c(tanh_c), _c(x_t), _c(h_prev), _c(Wx),
                   _c(Wh), dx, dh_prev, dWx, dWh, db)
    return dx, dh_prev, dc_prev, dWx, dWh, db


# ======================================================================= autoregressive decoder
# One LSTM layer whose output Dense feeds its predicted mean back as the next step's input
# (teacher forcing < 1, missing values, free running): the whole loop in one compiled call per
# batch chunk, instead of T step-kernel calls from Python.  Same math as the step loop of
# minivae.models.lstm_autoencoder (BaseLSTMAutoencoder._decode_autoregressive).
@njit(fastmath=_FAST_ELEMENTWISE, **_JIT)
def _ar_forward_chunk(ci, n0, n1, X, feed, use_feed, Wx, WxT, b, h0, c0, WhT, WoutT, bout, valid_tm, xs, gates, h_prev, c_prev, tanh_c, tops, out):  # type: ignore[no-untyped-def]  # noqa: E501
    """All T steps for batch rows n0:n1.

    X: (T, N, D) true values (read only where ``use_feed`` and feed is True; may hold NaN
    elsewhere); feed: (T, N, D) bool, True = step t's input entry is the true X[t-1] (row 0
    unused: step 0 reads a zero start token); Wx: (D, 4H), WxT: (4H, D), b: (4H,); h0, c0:
    (N, H); WhT: (4H, H); WoutT: (O, H) = Wout.T, bout: (O,) with O >= D (the first D outputs
    are the predicted mean that is fed back); valid_tm: (T, N) all True.
    Writes xs: (T, N, D) the inputs actually read, gates: (T, N, 4H), h_prev, c_prev, tanh_c,
    tops: (T, N, H) (tops[t] = h_t), and out: (T, N, O) = h_t Wout + bout.
    """
    T = xs.shape[0]
    D = xs.shape[2]
    H = WhT.shape[1]
    O = bout.shape[0]
    nc = n1 - n0
    zero = xs.dtype.type(0.0)
    h = np.empty((nc, H), dtype=xs.dtype)
    c = np.empty((nc, H), dtype=xs.dtype)
    _copy(h, h0[n0:n1])
    _copy(c, c0[n0:n1])
    a = np.empty((nc, 4 * H), dtype=xs.dtype)
    for t in range(T):
        x_in = xs[t, n0:n1]
        for m in range(nc):  # the start token, then the true value or the previous prediction
            for d in range(D):
                if t == 0:
                    x_in[m, d] = zero
                elif use_feed and feed[t, n0 + m, d]:
                    x_in[m, d] = X[t - 1, n0 + m, d]
                else:
                    x_in[m, d] = out[t - 1, n0 + m, d]
        _input_projection(x_in, Wx, WxT, b, a)  # a = x_t Wx + b
        _gemm_nt(h, WhT, a)  # a += h_{t-1} Wh
        _copy(h_prev[t, n0:n1], h)
        _copy(c_prev[t, n0:n1], c)
        _gates_forward(a, c_prev[t, n0:n1], valid_tm[t, n0:n1], gates[t, n0:n1],
                       tanh_c[t, n0:n1], c, h)
        _copy(tops[t, n0:n1], h)
        y = out[t, n0:n1]
        for m in range(nc):
            for o in range(O):
                y[m, o] = bout[o]
        _gemm_nt(h, WoutT, y)  # y_t = h_t Wout + bout


@njit(fastmath=_FAST_ELEMENTWISE, **_JIT)
def _ar_backward_chunk(ci, n0, n1, dout, feed, use_feed, xs, gates, h_prev, c_prev, tanh_c, tops, Wx, Wh, Wout, valid_tm, dh0, dc0, dWx_parts, dWh_parts, db_parts, dWout_parts, dbout_parts):  # type: ignore[no-untyped-def]  # noqa: E501
    """Backprop through time and through every fed-back prediction, rows n0:n1.

    dout: (T, N, O) dL/d out; the rest as written by :func:`_ar_forward_chunk`; Wout: (H, O).
    Writes dh0, dc0: (N, H) for these rows and this chunk's parameter gradients into the
    ``*_parts[ci]`` arrays (zero on entry).
    """
    T = xs.shape[0]
    D = xs.shape[2]
    H = Wh.shape[0]
    G = 4 * H
    O = dout.shape[2]
    nc = n1 - n0
    dt = xs.dtype
    zero = dt.type(0.0)
    dh = np.zeros((nc, H), dtype=dt)  # dL/dh_t from the later steps
    dc = np.zeros((nc, H), dtype=dt)
    dhn = np.empty((nc, H), dtype=dt)
    da = np.empty((nc, G), dtype=dt)
    dy = np.empty((nc, O), dtype=dt)
    dpred = np.zeros((nc, D), dtype=dt)  # dL/d(y_t[:, :D]) through step t+1's input
    dx_in = np.empty((nc, D), dtype=dt)
    no_dhs = np.zeros((1, 1, 1), dtype=dt)
    dWx = dWx_parts[ci]
    dWh = dWh_parts[ci]
    db = db_parts[ci]
    dWout = dWout_parts[ci]
    dbout = dbout_parts[ci]
    for t in range(T - 1, -1, -1):
        # y_t feeds the loss and (its mean part) step t+1's input
        for m in range(nc):
            for o in range(O):
                dy[m, o] = dout[t, n0 + m, o]
            for d in range(D):
                dy[m, d] += dpred[m, d]
        _gemm_tn(tops[t, n0:n1], dy, dWout)  # dWout += h_t^T dy_t
        for m in range(nc):
            for o in range(O):
                dbout[o] += dy[m, o]
        _gemm_nt(dy, Wout, dh)  # dh_t += dy_t Wout^T
        _gates_backward(dh, no_dhs, n0, t, False, dc, gates[t, n0:n1], c_prev[t, n0:n1],
                        tanh_c[t, n0:n1], valid_tm[t, n0:n1], da)
        _gemm_tn(h_prev[t, n0:n1], da, dWh)  # dWh += h_{t-1}^T da_t
        _gemm_tn(xs[t, n0:n1], da, dWx)  # dWx += x_t^T da_t
        for m in range(nc):
            for j in range(G):
                db[j] += da[m, j]
        for m in range(nc):
            for d in range(D):
                dx_in[m, d] = zero
            for k in range(H):
                dhn[m, k] = zero
        _gemm_nt(da, Wx, dx_in)  # dL/d(input of step t)
        _gemm_nt(da, Wh, dhn)  # dL/dh_{t-1}
        _copy(dh, dhn)
        # step t's input reached the previous prediction only where it was not the true value
        for m in range(nc):
            for d in range(D):
                fed_true = use_feed and feed[t, n0 + m, d]
                dpred[m, d] = zero if (t == 0 or fed_true) else dx_in[m, d]
    _copy(dh0[n0:n1], dh)
    _copy(dc0[n0:n1], dc)


class ARDecoderCache(NamedTuple):
    """What :func:`ar_decoder_forward` keeps for :func:`ar_decoder_backward` (time-major)."""

    feed: np.ndarray  # (T, N, D) bool (unused when use_feed is False)
    use_feed: bool
    xs: np.ndarray  # (T, N, D) the inputs actually read
    gates: np.ndarray  # (T, N, 4H)
    h_prev: np.ndarray  # (T, N, H)
    c_prev: np.ndarray  # (T, N, H)
    tanh_c: np.ndarray  # (T, N, H)
    tops: np.ndarray  # (T, N, H) h_t, the output Dense's input
    valid: np.ndarray  # (T, N) all True (the gate kernels' padding argument)


def ar_decoder_forward(
    X: np.ndarray | None,
    feed: np.ndarray | None,
    h0: np.ndarray,
    c0: np.ndarray,
    Wx: np.ndarray,
    Wh: np.ndarray,
    b: np.ndarray,
    Wout: np.ndarray,
    bout: np.ndarray,
    T: int,
    workspace: dict[str, np.ndarray] | None = None,
) -> tuple[np.ndarray, ARDecoderCache]:
    """One-layer autoregressive LSTM decoder over T steps (Numba kernel).

    Step t reads x_t (a zero start token at t = 0; then the true ``X[:, t-1]`` where ``feed``
    is True, else the previous step's predicted mean ``y_{t-1}[:, :D]``), runs one LSTM step
    and emits ``y_t = h_t Wout + bout``.

    Inputs (one float dtype): X: (N, T, D) or None (free running: every input is the previous
    prediction); feed: (N, T, D) bool or None (= free running); h0, c0: (N, H); Wx: (D, 4H),
    Wh: (H, 4H), b: (4H,) the cell; Wout: (H, O), bout: (O,) the output Dense, O >= D.
    Returns out: (N, T, O) (a fresh array) and the cache for :func:`ar_decoder_backward`.
    """
    N, H = h0.shape
    D = Wx.shape[0]
    O = Wout.shape[1]
    dtype = h0.dtype
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"h0 must be float32 or float64, got {dtype}")
    _same_dtype(dtype, c0=c0, Wx=Wx, Wh=Wh, b=b, Wout=Wout, bout=bout)
    _check_shape(c0, "c0", (N, H), "(N, H)")
    _check_lstm_params(D, H, Wx, Wh, b)
    _check_shape(Wout, "Wout", (H, O), "(H, O)")
    _check_shape(bout, "bout", (O,), "(O,)")
    if O < D:
        raise ValueError(f"Wout must emit at least D={D} outputs (the fed-back mean), got {O}")
    use_feed = feed is not None
    if use_feed:
        if X is None:
            raise ValueError("feed given without X: the true values to feed are missing")
        _same_dtype(dtype, X=X)
        _check_shape(X, "X", (N, T, D), "(N, T, D)")
        _check_shape(feed, "feed", (N, T, D), "(N, T, D)")
        X_tm = np.ascontiguousarray(X.transpose(1, 0, 2))
        feed_tm = np.ascontiguousarray(feed.transpose(1, 0, 2), dtype=np.bool_)
    else:  # typed placeholders, never read
        X_tm = np.zeros((1, 1, 1), dtype=dtype)
        feed_tm = np.zeros((1, 1, 1), dtype=np.bool_)
    xs = buffer(workspace, "ar_x", (T, N, D), dtype)
    gates = buffer(workspace, "ar_gates", (T, N, 4 * H), dtype)
    h_prev = buffer(workspace, "ar_h_prev", (T, N, H), dtype)
    c_prev = buffer(workspace, "ar_c_prev", (T, N, H), dtype)
    tanh_c = buffer(workspace, "ar_tanh_c", (T, N, H), dtype)
    tops = buffer(workspace, "ar_tops", (T, N, H), dtype)
    out_tm = np.empty((T, N, O), dtype=dtype)
    valid = np.ones((T, N), dtype=np.bool_)
    _run_chunks(
        _ar_forward_chunk, N, _n_chunks(N),
        X_tm, feed_tm, use_feed, np.ascontiguousarray(Wx), np.ascontiguousarray(Wx.T),
        np.ascontiguousarray(b), np.ascontiguousarray(h0), np.ascontiguousarray(c0),
        np.ascontiguousarray(Wh.T), np.ascontiguousarray(Wout.T), np.ascontiguousarray(bout),
        valid, xs, gates, h_prev, c_prev, tanh_c, tops, out_tm,
    )
    cache = ARDecoderCache(feed_tm, use_feed, xs, gates, h_prev, c_prev, tanh_c, tops, valid)
    return out_tm.transpose(1, 0, 2).copy(), cache


def ar_decoder_backward(
    dout: np.ndarray, cache: ARDecoderCache, Wx: np.ndarray, Wh: np.ndarray, Wout: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Backward of :func:`ar_decoder_forward`.  dout: (N, T, O) dL/d out ->
    dh0, dc0: (N, H), dWx: (D, 4H), dWh: (H, 4H), db: (4H,), dWout: (H, O), dbout: (O,)
    (fresh arrays; the caller accumulates the parameter gradients)."""
    feed_tm, use_feed, xs, gates, h_prev, c_prev, tanh_c, tops, valid = cache
    T, N, D = xs.shape
    H = h_prev.shape[2]
    O = Wout.shape[1]
    dtype = xs.dtype
    _same_dtype(dtype, dout=dout, Wx=Wx, Wh=Wh, Wout=Wout)
    _check_shape(dout, "dout", (N, T, O), "(N, T, O)")
    _check_lstm_params(D, H, Wx, Wh)
    n_chunks = _n_chunks(N)
    dh0 = np.empty((N, H), dtype=dtype)
    dc0 = np.empty((N, H), dtype=dtype)
    parts = [np.zeros((n_chunks,) + shape, dtype=dtype)
             for shape in ((D, 4 * H), (H, 4 * H), (4 * H,), (H, O), (O,))]
    _run_chunks(
        _ar_backward_chunk, N, n_chunks,
        np.ascontiguousarray(dout.transpose(1, 0, 2)), feed_tm, use_feed, xs, gates, h_prev,
        c_prev, tanh_c, tops, np.ascontiguousarray(Wx), np.ascontiguousarray(Wh),
        np.ascontiguousarray(Wout), valid, dh0, dc0, *parts,
    )
    dWx, dWh, db, dWout, dbout = (p.sum(axis=0) for p in parts)
    return dh0, dc0, dWx, dWh, db, dWout, dbout
