"""The compiled kernels' own edge cases: dtype mixing, bad shapes, float32, buffer reuse, the
activations, the Adam kernel, and importing minivae without Numba.

(Their parity with the reference functions, on every path, is ``tests/test_fast_parity.py``.)
Compilation dominates the run time of this file (each kernel compiles once per dtype and is
then cached on disk in ``NUMBA_CACHE_DIR``), so the shapes are small.
"""

from __future__ import annotations

import gc
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("numba")

from numba import njit  # noqa: E402

from minivae.fast import lstm as K  # noqa: E402
from minivae.fast import workspace  # noqa: E402
from minivae.fast.activations import exp_nonpos, sigmoid, tanh  # noqa: E402
from minivae.fast.adam import adam_update  # noqa: E402
from minivae.train.optim import adam_update as adam_update_reference  # noqa: E402

DTYPES = [np.float64, np.float32]


def problem(rng, N, T, D, H, dtype=np.float64):
    def r(*shape, scale=1.0):
        return (scale * rng.standard_normal(shape)).astype(dtype)

    return {"x": r(N, T, D), "h0": r(N, H, scale=0.5), "c0": r(N, H),
            "Wx": r(D, 4 * H, scale=0.8), "Wh": r(H, 4 * H, scale=1.0 / np.sqrt(H)),
            "b": r(4 * H), "dhs": r(N, T, H), "dhT": r(N, H), "dcT": r(N, H)}


ARGS = ("x", "h0", "c0", "Wx", "Wh", "b")


# ----------------------------------------------------------------------------- sequence kernels
def test_all_padded_row_carries_state_exactly():
    """A sequence with no valid step: hT = h0, cT = c0, dh0 = dhT, dc0 = dcT, zero dx."""
    p = problem(np.random.default_rng(3), 3, 4, 2, 5)
    mask = np.random.default_rng(0).random((3, 4)) < 0.7
    mask[1] = False
    hs, hT, cT, cache = K.lstm_forward(*(p[k] for k in ARGS), mask)
    dx, dh0, dc0, *_ = K.lstm_backward(p["dhs"], p["dhT"], p["dcT"], cache)
    np.testing.assert_array_equal(hT[1], p["h0"][1])
    np.testing.assert_array_equal(cT[1], p["c0"][1])
    np.testing.assert_array_equal(dh0[1], p["dhT"][1])
    np.testing.assert_array_equal(dc0[1], p["dcT"][1])
    assert np.all(dx[1] == 0.0) and np.all(hs[1] == 0.0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sequence_kernels_stay_in_their_dtype_and_never_write_inputs(dtype):
    p = problem(np.random.default_rng(1), 5, 4, 3, 6, dtype)
    before = {k: v.copy() for k, v in p.items()}
    hs, hT, cT, cache = K.lstm_forward(*(p[k] for k in ARGS))
    out = K.lstm_backward(p["dhs"], p["dhT"], p["dcT"], cache)
    for a in (hs, hT, cT, *out):
        assert a.dtype == dtype
        for k, v in p.items():
            assert not np.shares_memory(a, v), k
    for k, v in before.items():
        np.testing.assert_array_equal(p[k], v, err_msg=k)


def test_sequence_kernel_rejects_mixed_dtypes_and_bad_shapes():
    p = problem(np.random.default_rng(4), 2, 3, 2, 4)
    x, h0, c0, Wx, Wh, b = (p[k] for k in ARGS)
    with pytest.raises(TypeError, match="Wh must have dtype float64"):
        K.lstm_forward(x, h0, c0, Wx, Wh.astype(np.float32), b)
    with pytest.raises(TypeError, match="x must be float32 or float64"):
        K.lstm_forward(x.astype(np.int64), h0, c0, Wx, Wh, b)
    with pytest.raises(ValueError, match=r"b must have shape \(4H,\)"):
        K.lstm_forward(x, h0, c0, Wx, Wh, b[:-1])
    with pytest.raises(ValueError, match=r"h0 must have shape \(N, H\)"):
        K.lstm_forward(x, h0[:1], c0, Wx, Wh, b)
    with pytest.raises(ValueError, match="mask must have shape"):
        K.lstm_forward(x, h0, c0, Wx, Wh, b, np.ones((2, 2), bool))
    with pytest.raises(TypeError, match="mask must be a bool array"):
        K.lstm_forward(x, h0, c0, Wx, Wh, b, np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"x must be \(N, T, D\)"):
        K.lstm_forward(x[:, 0], h0, c0, Wx, Wh, b)
    _, _, _, cache = K.lstm_forward(x, h0, c0, Wx, Wh, b)
    with pytest.raises(ValueError, match="dhs must have shape"):
        K.lstm_backward(p["dhs"][:, :2], None, None, cache)
    with pytest.raises(TypeError, match="dhT must have dtype"):
        K.lstm_backward(None, p["dhT"].astype(np.float32), None, cache)
    with pytest.raises(ValueError, match=r"z must be \(N, D\)"):
        K.lstm_forward_repeated(x, 3, h0, c0, Wx, Wh, b)
    with pytest.raises(ValueError, match="T must be >= 1"):
        K.lstm_forward_repeated(x[:, 0], 0, h0, c0, Wx, Wh, b)


def test_step_kernels_reject_mixed_dtypes_and_bad_shapes():
    p = problem(np.random.default_rng(4), 2, 1, 2, 4)
    x, h0, c0, Wx, Wh, b = (p[k] for k in ARGS)
    with pytest.raises(TypeError, match="c_prev must have dtype float64"):
        K.lstm_step_forward(x[:, 0], h0, c0.astype(np.float32), Wx, Wh, b)
    with pytest.raises(ValueError, match=r"Wx must have shape \(D, 4H\)"):
        K.lstm_step_forward(x[:, 0], h0, c0, Wx[:, :-1], Wh, b)
    _, _, cache = K.lstm_step_forward(x[:, 0], h0, c0, Wx, Wh, b)
    with pytest.raises(ValueError, match=r"dc must have shape \(N, H\)"):
        K.lstm_step_backward(p["dhT"], p["dcT"][:, :2], cache)


def test_decoder_kernel_rejects_bad_arguments():
    rng = np.random.default_rng(2)
    N, T, D, H = 3, 4, 2, 5
    p = problem(rng, N, T, D, H)
    cell = (p["Wx"], p["Wh"], p["b"])
    W, b = rng.standard_normal((H, 3)), np.zeros(3)
    with pytest.raises(ValueError, match="at least D=2 outputs"):
        K.ar_decoder_forward(p["h0"], p["c0"], cell, W[:, :1], b[:1], T)
    with pytest.raises(ValueError, match="without x"):
        K.ar_decoder_forward(p["h0"], p["c0"], cell, W, b, T, None, np.ones((N, T, D), bool))
    with pytest.raises(ValueError, match=r"feed_true must have shape"):
        K.ar_decoder_forward(p["h0"], p["c0"], cell, W, b, T, p["x"], np.ones((N, 2, D), bool))
    with pytest.raises(TypeError, match="W must have dtype float64"):
        K.ar_decoder_forward(p["h0"], p["c0"], cell, W.astype(np.float32), b, T)
    y, cache = K.ar_decoder_forward(p["h0"], p["c0"], cell, W, b, T)
    assert y.shape == (N, T, 3)
    with pytest.raises(ValueError, match=r"dy must have shape"):
        K.ar_decoder_backward(np.ones((N, T, 2)), cache)


# ----------------------------------------------------------------------------- buffer pool
@pytest.mark.parametrize("T,N", [(4, 6), (1, 5), (3, 1)])  # T = 1 / N = 1: transposes are views
def test_pooled_buffers_never_alias_returned_arrays(T, N):
    """The caches' buffers are reused from call to call, but every array handed back (hs, hT,
    cT, dx and the gradients) is fresh: results of an earlier call stay intact, and each call
    equals a call on fresh buffers."""
    rng = np.random.default_rng(5)
    p1, p2 = problem(rng, N, T, 3, 4), problem(rng, N, T, 3, 4)

    def run(p):
        hs, hT, cT, cache = K.lstm_forward(*(p[k] for k in ARGS))
        return [hs, hT, cT, *K.lstm_backward(p["dhs"], p["dhT"], p["dcT"], cache)]

    first = run(p1)
    saved = [a.copy() for a in first]
    second = run(p2)  # the first call's cache is gone: its buffers are reused now
    for kept, now in zip(saved, first):
        np.testing.assert_array_equal(now, kept)
    workspace.clear()
    for got, want in zip(second, run(p2)):
        np.testing.assert_array_equal(got, want)


def test_a_buffer_is_reused_only_after_the_backward_that_consumed_its_cache():
    p = problem(np.random.default_rng(6), 4, 5, 2, 3)
    workspace.clear()

    def leased(cache):
        return {id(a) for a in cache.take("test")[2:]}  # gates, h_prev, c_prev, tanh_c

    *_, cache1 = K.lstm_forward(*(p[k] for k in ARGS))
    *_, cache2 = K.lstm_forward(*(p[k] for k in ARGS))  # cache1 not backpropagated yet
    ids1, ids2 = leased(cache1), leased(cache2)
    assert ids1.isdisjoint(ids2)
    want = K.lstm_backward(p["dhs"], None, None, cache1)  # consumes cache1: buffers back
    # a second backward right away takes them back out of the pool: the same numbers
    for got, w in zip(K.lstm_backward(p["dhs"], None, None, cache1), want):
        np.testing.assert_array_equal(got, w)
    *_, cache3 = K.lstm_forward(*(p[k] for k in ARGS))
    assert leased(cache3) == ids1  # the most recently released buffers, reused
    with pytest.raises(RuntimeError, match="reused by a later forward"):
        K.lstm_backward(p["dhs"], None, None, cache1)  # cache3 holds its buffers now
    for got, w in zip(K.lstm_backward(p["dhs"], None, None, cache3), want):
        np.testing.assert_array_equal(got, w)
    pooled = workspace.free_bytes()
    del cache2  # never backpropagated (an inference pass): its own buffers are freed, not pooled
    gc.collect()
    assert workspace.free_bytes() == pooled
    *_, cache4 = K.lstm_forward(*(p[k] for k in ARGS))
    assert leased(cache4) == ids1  # from the pool


def test_a_decoder_cache_is_released_by_its_backward_too():
    rng = np.random.default_rng(7)
    p = problem(rng, 5, 4, 2, 3)
    W, b = rng.standard_normal((3, 2)), np.zeros(2)
    workspace.clear()
    y, cache = K.ar_decoder_forward(p["h0"], p["c0"], (p["Wx"], p["Wh"], p["b"]), W, b, 4)
    assert workspace.free_bytes() == 0
    want = K.ar_decoder_backward(np.ones_like(y), cache)
    assert workspace.free_bytes() > 0
    again = K.ar_decoder_backward(np.ones_like(y), cache)  # reclaimed: nothing reused it
    for g, w in zip(again[:2] + again[3:], want[:2] + want[3:]):  # dh0, dc0, dW, db
        np.testing.assert_array_equal(g, w)
    K.ar_decoder_forward(p["h0"], p["c0"], (p["Wx"], p["Wh"], p["b"]), W, b, 4)
    with pytest.raises(RuntimeError, match="reused by a later forward"):
        K.ar_decoder_backward(np.ones_like(y), cache)


def test_pool_is_bounded(monkeypatch):
    monkeypatch.setattr(workspace, "MAX_POOLED_BYTES", 10_000)
    workspace.clear()
    lease = workspace.Lease()
    for n in range(1, 6):
        lease.take((n, 100), np.float64)  # 0.8 kB .. 4 kB: 12 kB in all
    lease.release()  # (what the backward that consumed a cache does)
    assert 7_000 <= workspace.free_bytes() <= 10_000  # the oldest shapes went first
    assert (5, 100) in {key[0] for key in workspace._free}
    workspace.clear()
    assert workspace.free_bytes() == 0


# ----------------------------------------------------------------------------- Adam
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weight_decay,decoupled", [(0.0, False), (0.05, False), (0.05, True)])
def test_adam_matches_reference_over_steps(dtype, weight_decay, decoupled):
    rng = np.random.default_rng(5)
    shape = (6, 7)
    p_ref = rng.standard_normal(shape).astype(dtype)
    m_ref, v_ref = np.zeros_like(p_ref), np.zeros_like(p_ref)
    p, m, v = p_ref.copy(), m_ref.copy(), v_ref.copy()
    for t in range(1, 8):
        grad = rng.standard_normal(shape).astype(dtype)
        grad_before = grad.copy()
        hyper = (3e-2, 0.9, 0.999, 1e-8, t, weight_decay, decoupled)
        adam_update_reference(p_ref, grad, m_ref, v_ref, *hyper)
        adam_update(p, grad, m, v, *hyper)
        np.testing.assert_array_equal(grad, grad_before)  # grad is only read
    tol = 1e-12 if dtype == np.float64 else 1e-6
    for got, want in ((p, p_ref), (m, m_ref), (v, v_ref)):
        assert got.dtype == dtype
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.max(np.abs(want)))
    assert not np.allclose(p, rng.standard_normal(shape))  # sanity: something was updated


def test_adam_hand_worked_first_step():
    """Step 1 with m = v = 0: m_hat = g, v_hat = g^2, so param moves by lr * g / (|g| + eps)."""
    param = np.array([1.0, -2.0, 0.5])
    grad = np.array([0.5, -4.0, 0.0])
    m, v = np.zeros(3), np.zeros(3)
    adam_update(param, grad, m, v, 0.1, 0.9, 0.999, 1e-8, 1, 0.0, False)
    expected = np.array([1.0, -2.0, 0.5]) - 0.1 * grad / (np.abs(grad) + 1e-8)
    np.testing.assert_allclose(param, expected, rtol=1e-12)
    np.testing.assert_allclose(m, 0.1 * grad, rtol=1e-12)
    np.testing.assert_allclose(v, 0.001 * grad**2, rtol=1e-12)


def test_adam_rejects_mismatch_and_non_contiguous():
    p = np.zeros((3, 4))
    with pytest.raises(ValueError, match="grad must match param"):
        adam_update(p, np.zeros((3, 4), np.float32), np.zeros_like(p), np.zeros_like(p),
                      1e-3, 0.9, 0.999, 1e-8, 1, 0.0, False)
    q = np.zeros((4, 3)).T
    with pytest.raises(ValueError, match="param must be C-contiguous"):
        adam_update(q, np.zeros_like(q), np.zeros((3, 4)), np.zeros((3, 4)),
                      1e-3, 0.9, 0.999, 1e-8, 1, 0.0, False)


# ----------------------------------------------------------------------------- activations
@njit(cache=True)
def _apply(x, which):  # type: ignore[no-untyped-def]
    out = np.empty_like(x)
    for k in range(x.shape[0]):
        if which == 0:
            out[k] = sigmoid(x[k])
        elif which == 1:
            out[k] = tanh(x[k])
        else:
            out[k] = exp_nonpos(-abs(x[k]))
    return out


@pytest.mark.parametrize("dtype", DTYPES)
def test_activations_accuracy_and_dtype(dtype):
    rng = np.random.default_rng(6)
    x = np.concatenate([
        rng.standard_normal(2000) * 4, rng.uniform(-100, 100, 500),
        [0.0, -0.0, 1e-30, -1e-30, 20.0, -20.0, 80.0, -80.0, 700.0, -700.0, 1e30, -1e30],
    ]).astype(dtype)
    xd = x.astype(np.float64)
    e = np.exp(-np.abs(xd))
    references = {
        0: np.where(xd >= 0, 1.0 / (1.0 + e), e / (1.0 + e)),
        1: np.tanh(xd),
        2: e,
    }
    eps = np.finfo(dtype).eps
    for which, want in references.items():
        got = _apply(x, which)
        assert got.dtype == dtype  # no silent promotion to float64
        assert np.all(np.abs(got - want) <= 4 * eps), which  # absolute: a few ulp of 1
        if which in (0, 2):  # sigmoid and exp are also relatively accurate (until underflow)
            ok = want > (1e-300 if dtype == np.float64 else 1e-37)
            assert np.all(np.abs(got - want)[ok] <= 8 * eps * want[ok]), which
    assert np.all(_apply(x, 0) >= 0) and np.all(_apply(x, 0) <= 1)
    assert np.all(np.abs(_apply(x, 1)) <= 1)
    special = np.array([np.nan, np.inf, -np.inf], dtype=dtype)
    for which, want in ((0, [np.nan, 1.0, 0.0]), (1, [np.nan, 1.0, -1.0]), (2, [np.nan, 0, 0])):
        got = _apply(special, which)
        assert np.isnan(got[0]), which  # NaN propagates (a diverged model is not hidden)
        np.testing.assert_allclose(got[1:], want[1:], atol=2e-38 if which != 1 else 0)


# ----------------------------------------------------------------------------- packaging
def test_minivae_imports_and_runs_without_numba():
    code = (
        "import sys; sys.modules['numba'] = None\n"
        "import numpy as np\n"
        "import minivae, minivae.fast, minivae.fast.backend\n"
        "from minivae.models import LSTMVAE\n"
        "assert 'numba' not in [m for m in sys.modules if sys.modules[m] is not None]\n"
        "assert minivae.get_backend() == 'numpy'\n"
        "m = LSTMVAE(1, 3, 2, decoder='autoregressive', teacher_forcing=0.5)\n"
        "m.loss(np.ones((2, 4, 1)), rng=0); m.backward()\n"
        "try:\n"
        "    minivae.set_backend('numba')\n"
        "except ImportError as exc:\n"
        "    assert 'pip install numba' in str(exc), exc\n"
        "else:\n"
        "    raise AssertionError('expected ImportError')\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
