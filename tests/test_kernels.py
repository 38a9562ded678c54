"""Numba kernels against the NumPy reference: LSTM sequence and step kernels, Adam, activations.

Parity is measured like the gradient checks, relative to each array's scale:
``max|kernel - reference| / max|reference|``.  float64 must agree to 1e-12; float32 kernels
(computed entirely in float32) are compared with the float64 reference on the same inputs and
must agree to 1e-5.

Compilation dominates the run time of this file (each kernel compiles once per dtype and is
then cached on disk in ``NUMBA_CACHE_DIR``), so the generated shapes are small.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("numba")

from lstm_reference import reference_sequence, rel_err  # noqa: E402
from numba import njit  # noqa: E402

from minivae.fast import numba_kernels  # noqa: E402
from minivae.fast.activations import exp_nonpos, sigmoid, tanh  # noqa: E402
from minivae.nn.lstm import lstm_step_backward, lstm_step_forward  # noqa: E402
from minivae.train.optim import adam_update as adam_update_reference  # noqa: E402

K = numba_kernels()
TOL = {np.float64: 1e-12, np.float32: 1e-5}
DTYPES = [np.float64, np.float32]


# ----------------------------------------------------------------------------- reference
def make_problem(rng, N, T, D, H, dtype, masked):
    def r(*shape, scale=1.0):
        return (scale * rng.standard_normal(shape)).astype(dtype)

    p = {
        "x": r(N, T, D), "h0": r(N, H, scale=0.5), "c0": r(N, H),
        "Wx": r(D, 4 * H, scale=0.8), "Wh": r(H, 4 * H, scale=1.0 / np.sqrt(H)), "b": r(4 * H),
        "dhs": r(N, T, H), "dhT": r(N, H), "dcT": r(N, H),
    }
    p["valid"] = rng.random((N, T)) < 0.7 if masked else np.ones((N, T), dtype=bool)
    return p


def run_kernels(p, masked, use_dhs=True):
    hs, hT, cT, cache = K.lstm_forward(
        p["x"], p["h0"], p["c0"], p["Wx"], p["Wh"], p["b"], p["valid"] if masked else None
    )
    dx, dh0, dc0, dWx, dWh, db = K.lstm_backward(
        p["dhs"] if use_dhs else None, p["dhT"], p["dcT"], cache, p["Wx"], p["Wh"]
    )
    return {"hs": hs, "hT": hT, "cT": cT, "dx": dx, "dh0": dh0, "dc0": dc0,
            "dWx": dWx, "dWh": dWh, "db": db}


def assert_parity(got, want, dtype):
    for name, w in want.items():
        assert got[name].dtype == dtype, f"{name}: dtype {got[name].dtype}, expected {dtype}"
        assert got[name].shape == w.shape, name
        err = rel_err(got[name], w, floor=0.1 if dtype == np.float32 else 0.0)  # see rel_err
        assert err <= TOL[dtype], f"{name}: relative error {err:.2e} > {TOL[dtype]:.0e}"


# ----------------------------------------------------------------------------- sequence kernels
@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=20, deadline=None)
@given(
    # D >= 32 takes the GEMM input projection, smaller D the rank-1 updates (_SMALL_D)
    N=st.integers(1, 12), T=st.integers(1, 6), D=st.one_of(st.integers(1, 10), st.integers(30, 40)),
    H=st.integers(1, 7), masked=st.booleans(), seed=st.integers(0, 2**16),
)
def test_lstm_sequence_matches_reference(dtype, N, T, D, H, masked, seed):
    p = make_problem(np.random.default_rng(seed), N, T, D, H, dtype, masked)
    want = reference_sequence(p["x"], p["h0"], p["c0"], p["Wx"], p["Wh"], p["b"], p["valid"],
                              p["dhs"], p["dhT"], p["dcT"])
    assert_parity(run_kernels(p, masked), want, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_lstm_sequence_vae_shape_with_lengths(dtype):
    """A realistic case: several threads' chunks, H=32, D=9 (the input projection goes through
    the matrix-product kernel from D=8 on), prefix masks from lengths."""
    rng = np.random.default_rng(1)
    N, T, D, H = 19, 12, 9, 32
    p = make_problem(rng, N, T, D, H, dtype, masked=True)
    lengths = rng.integers(1, T + 1, size=N)
    p["valid"] = np.arange(T)[None, :] < lengths[:, None]
    p["x"][~p["valid"]] = np.nan  # padded inputs are ignored, even NaN
    want = reference_sequence(p["x"], p["h0"], p["c0"], p["Wx"], p["Wh"], p["b"], p["valid"],
                              p["dhs"], p["dhT"], p["dcT"])
    got = run_kernels(p, masked=True)
    assert_parity(got, want, dtype)
    assert np.all(got["hs"][~p["valid"]] == 0.0)
    assert np.all(got["dx"][~p["valid"]] == 0.0)


def test_lstm_backward_without_dhs_equals_zero_dhs():
    p = make_problem(np.random.default_rng(2), 5, 4, 2, 3, np.float64, masked=False)
    got = run_kernels(p, masked=False, use_dhs=False)
    p["dhs"] = np.zeros_like(p["dhs"])
    want = reference_sequence(p["x"], p["h0"], p["c0"], p["Wx"], p["Wh"], p["b"], p["valid"],
                              p["dhs"], p["dhT"], p["dcT"])
    assert_parity(got, want, np.float64)


def test_lstm_all_padded_row_carries_state():
    """A sequence with no valid step: hT = h0, cT = c0, dh0 = dhT, dc0 = dcT, zero dx."""
    p = make_problem(np.random.default_rng(3), 3, 4, 2, 5, np.float64, masked=True)
    p["valid"][1] = False
    got = run_kernels(p, masked=True)
    np.testing.assert_array_equal(got["hT"][1], p["h0"][1])
    np.testing.assert_array_equal(got["cT"][1], p["c0"][1])
    np.testing.assert_array_equal(got["dh0"][1], p["dhT"][1])
    np.testing.assert_array_equal(got["dc0"][1], p["dcT"][1])
    assert np.all(got["dx"][1] == 0.0)


@pytest.mark.parametrize("T,N", [(4, 6), (1, 5), (3, 1)])  # T = 1 / N = 1: transposes are views
def test_lstm_workspace_reuse_never_aliases_returned_arrays(T, N):
    """With a workspace, the internal buffers are reused, but every array handed back (hs, hT,
    cT, dx and the gradients) is fresh: results of an earlier call stay intact, and each call
    equals a call without a workspace."""
    rng = np.random.default_rng(5)
    p1 = make_problem(rng, N, T, 3, 4, np.float64, masked=False)
    p2 = make_problem(rng, N, T, 3, 4, np.float64, masked=False)
    args = ("x", "h0", "c0", "Wx", "Wh", "b")
    ws: dict = {}
    out1 = K.lstm_forward(*(p1[k] for k in args), workspace=ws)
    back1 = K.lstm_backward(p1["dhs"], p1["dhT"], p1["dcT"], out1[3], p1["Wx"], p1["Wh"],
                            workspace=ws)
    saved = [a.copy() for a in out1[:3] + back1]
    out2 = K.lstm_forward(*(p2[k] for k in args), workspace=ws)
    back2 = K.lstm_backward(p2["dhs"], p2["dhT"], p2["dcT"], out2[3], p2["Wx"], p2["Wh"],
                            workspace=ws)
    for kept, now in zip(saved, out1[:3] + back1):
        np.testing.assert_array_equal(now, kept)
    fresh = K.lstm_forward(*(p2[k] for k in args))
    fresh_back = K.lstm_backward(p2["dhs"], p2["dhT"], p2["dcT"], fresh[3], p2["Wx"], p2["Wh"])
    for got, want in zip(out2[:3] + back2, fresh[:3] + fresh_back):
        np.testing.assert_array_equal(got, want)
    assert ws["gates"].shape == (T, N, 16)  # the buffers really were reused


def test_lstm_kernel_rejects_mixed_dtypes_and_bad_shapes():
    p = make_problem(np.random.default_rng(4), 2, 3, 2, 4, np.float64, masked=False)
    with pytest.raises(TypeError, match="Wh must have dtype float64"):
        K.lstm_forward(p["x"], p["h0"], p["c0"], p["Wx"], p["Wh"].astype(np.float32), p["b"])
    with pytest.raises(ValueError, match=r"b must have shape \(4H,\)"):
        K.lstm_forward(p["x"], p["h0"], p["c0"], p["Wx"], p["Wh"], p["b"][:-1])
    with pytest.raises(ValueError, match="valid must have shape"):
        K.lstm_forward(p["x"], p["h0"], p["c0"], p["Wx"], p["Wh"], p["b"], np.ones((2, 2), bool))
    _, _, _, cache = K.lstm_forward(p["x"], p["h0"], p["c0"], p["Wx"], p["Wh"], p["b"])
    with pytest.raises(ValueError, match="dhs must have shape"):
        K.lstm_backward(p["dhs"][:, :2], None, None, cache, p["Wx"], p["Wh"])


# ----------------------------------------------------------------------------- step kernels
@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=10, deadline=None)
@given(N=st.integers(1, 9), D=st.one_of(st.integers(1, 4), st.integers(32, 36)),
       H=st.integers(1, 7),
       seed=st.integers(0, 999))
def test_lstm_step_matches_reference(dtype, N, D, H, seed):
    rng = np.random.default_rng(seed)
    p = make_problem(rng, N, 1, D, H, dtype, masked=False)
    x_t, dh, dc = p["x"][:, 0], p["dhT"], p["dcT"]
    args = (x_t, p["h0"], p["c0"], p["Wx"], p["Wh"], p["b"])
    h, c, cache = K.lstm_step_forward(*args)
    h_ref, c_ref, cache_ref = lstm_step_forward(*(a.astype(np.float64) for a in args))
    assert h.dtype == dtype and c.dtype == dtype
    floor = 0.1 if dtype == np.float32 else 0.0  # see rel_err: tiny (N=1, H=1) results cancel
    assert rel_err(h, h_ref, floor) <= TOL[dtype] and rel_err(c, c_ref, floor) <= TOL[dtype]
    want = lstm_step_backward(dh.astype(np.float64), dc.astype(np.float64), cache_ref)
    # The caches have the same layout: each backward accepts the other's cache.
    for got in (K.lstm_step_backward(dh, dc, cache), lstm_step_backward(dh, dc, cache)):
        for g, w in zip(got, want):
            assert g.dtype == dtype and g.shape == w.shape
            assert rel_err(g, w, floor) <= TOL[dtype]
    got = K.lstm_step_backward(dh.astype(np.float64), dc.astype(np.float64), cache_ref)
    for g, w in zip(got, want):
        assert rel_err(g, w) <= 1e-12
    np.testing.assert_array_equal(dc, p["dcT"])  # the kernel did not write into its input


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
        K.adam_update(p, grad, m, v, *hyper)
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
    K.adam_update(param, grad, m, v, 0.1, 0.9, 0.999, 1e-8, 1, 0.0, False)
    expected = np.array([1.0, -2.0, 0.5]) - 0.1 * grad / (np.abs(grad) + 1e-8)
    np.testing.assert_allclose(param, expected, rtol=1e-12)
    np.testing.assert_allclose(m, 0.1 * grad, rtol=1e-12)
    np.testing.assert_allclose(v, 0.001 * grad**2, rtol=1e-12)


def test_adam_rejects_mismatch_and_non_contiguous():
    p = np.zeros((3, 4))
    with pytest.raises(ValueError, match="grad must match param"):
        K.adam_update(p, np.zeros((3, 4), np.float32), np.zeros_like(p), np.zeros_like(p),
                      1e-3, 0.9, 0.999, 1e-8, 1, 0.0, False)
    q = np.zeros((4, 3)).T
    with pytest.raises(ValueError, match="param must be C-contiguous"):
        K.adam_update(q, np.zeros_like(q), np.zeros((3, 4)), np.zeros((3, 4)),
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
def test_kernels_package_imports_without_numba():
    code = (
        "import sys; sys.modules['numba'] = None\n"
        "import minivae, minivae.fast\n"
        "assert 'numba' not in [m for m in sys.modules if sys.modules[m] is not None]\n"
        "try:\n"
        "    minivae.fast.numba_kernels()\n"
        "except ImportError as exc:\n"
        "    assert 'pip install numba' in str(exc), exc\n"
        "else:\n"
        "    raise AssertionError('expected ImportError')\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


# ----------------------------------------------------------------------------- static input
@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=15, deadline=None)
@given(N=st.integers(1, 9), T=st.integers(1, 6),
       D=st.one_of(st.integers(1, 5), st.integers(32, 34)), H=st.integers(1, 6),
       masked=st.booleans(), seed=st.integers(0, 2**16))
def test_lstm_static_input_equals_repeated_input(dtype, N, T, D, H, masked, seed):
    """x: (N, D) with steps=T is the repeat-vector input x[:, None].repeat(T): same outputs and
    gradients, with dx summed over the steps (what RepeatVector's backward does)."""
    p = make_problem(np.random.default_rng(seed), N, T, D, H, dtype, masked)
    z = p["x"][:, 0]
    valid = p["valid"] if masked else None
    rep = np.ascontiguousarray(np.repeat(z[:, None], T, axis=1))
    hs, hT, cT, cache = K.lstm_forward(z, p["h0"], p["c0"], p["Wx"], p["Wh"], p["b"], valid,
                                       steps=T, workspace={})
    hs_r, hT_r, cT_r, cache_r = K.lstm_forward(rep, p["h0"], p["c0"], p["Wx"], p["Wh"], p["b"],
                                               valid)
    got = K.lstm_backward(p["dhs"], p["dhT"], p["dcT"], cache, p["Wx"], p["Wh"])
    want = K.lstm_backward(p["dhs"], p["dhT"], p["dcT"], cache_r, p["Wx"], p["Wh"])
    tol = 1e-12 if dtype == np.float64 else 1e-5
    floor = 0.1 if dtype == np.float32 else 0.0
    for g, w in zip((hs, hT, cT), (hs_r, hT_r, cT_r)):
        assert rel_err(g, w, floor) <= tol
    assert got[0].shape == (N, D)
    assert rel_err(got[0], want[0].sum(axis=1), floor) <= tol  # dx summed over the steps
    for g, w in zip(got[1:], want[1:]):
        assert g.dtype == dtype and rel_err(g, w, floor) <= tol


def test_lstm_static_input_shape_errors():
    p = make_problem(np.random.default_rng(6), 2, 3, 2, 4, np.float64, masked=False)
    with pytest.raises(ValueError, match=r"with steps=T, x must be \(N, D\)"):
        K.lstm_forward(p["x"], p["h0"], p["c0"], p["Wx"], p["Wh"], p["b"], steps=3)
    with pytest.raises(ValueError, match="steps must be >= 1"):
        K.lstm_forward(p["x"][:, 0], p["h0"], p["c0"], p["Wx"], p["Wh"], p["b"], steps=0)
    with pytest.raises(ValueError, match=r"x must be \(N, T, D\)"):
        K.lstm_forward(p["x"][:, 0], p["h0"], p["c0"], p["Wx"], p["Wh"], p["b"])
