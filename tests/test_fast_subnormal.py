"""The backward twins on long sequences whose gradient decays to nothing (an encoder: dL/dh_T
only), where float32 passes through the subnormal range (minivae.fast.lstm, "The subnormal
cliff"): float64 stays equal to the reference; float32 differs from the float32 reference only
by gradients below FLUSH32 and contains no subnormal number; the early stop is exact."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("numba")

import minivae.nn  # noqa: E402,F401  (registers the nn references)
from minivae import twins  # noqa: E402
from minivae.fast import lstm as fl  # noqa: E402
from minivae.fast.backend import use_backend  # noqa: E402

TINY32 = np.finfo(np.float32).tiny
TOL = 1e-5  # float32, as tests/test_fast_parity.py


def encoder_problem(N, T, D, H, dtype, seed=0):
    """The layers' init (U(-1/sqrt(H), 1/sqrt(H)), forget-gate bias 1) and a gradient that
    enters at the last step only."""
    rng = np.random.default_rng(seed)
    k = 1 / np.sqrt(H)
    x = rng.standard_normal((N, T, D)).astype(dtype)
    Wx = rng.uniform(-k, k, (D, 4 * H)).astype(dtype)
    Wh = rng.uniform(-k, k, (H, 4 * H)).astype(dtype)
    b = rng.uniform(-k, k, 4 * H).astype(dtype)
    b[H:2 * H] = 1
    h0 = np.zeros((N, H), dtype=dtype)
    dhT = rng.standard_normal((N, H)).astype(dtype)
    return (x, h0, h0.copy(), Wx, Wh, b), dhT


def run(fargs, grads, backend, forward="lstm_forward", backward="lstm_backward"):
    fwd = twins.REFERENCES["minivae.nn.lstm." + forward]
    bwd = twins.REFERENCES["minivae.nn.lstm." + backward]
    with use_backend(backend):
        if backend == "numpy":
            out = fwd.reference(*fargs)
            return bwd.reference(*grads, out[-1])
        out = getattr(fl, forward)(*fargs)
        return getattr(fl, backward)(*grads, out[-1])


@pytest.fixture(scope="module")
def float32_encoder():
    fargs, dhT = encoder_problem(8, 700, 2, 32, np.float32)
    with np.errstate(under="ignore"):
        want = run(fargs, (None, dhT, None), "numpy")
    got = run(fargs, (None, dhT, None), "numba")
    return got, want


def test_the_float32_reference_reaches_the_subnormal_range(float32_encoder):
    """Else the tests below would not test the flush: the reference's dx has subnormals."""
    _, want = float32_encoder
    dx = np.abs(want[0])
    assert np.any((dx > 0) & (dx < TINY32))


def test_float32_twin_has_no_subnormals_and_differs_only_below_the_flush(float32_encoder):
    got, want = float32_encoder
    names = ["dx", "dh0", "dc0", "dWx", "dWh", "db"]
    for name, g, w in zip(names, got, want):
        assert g.dtype == np.float32
        a = np.abs(g)
        assert not np.any((a > 0) & (a < TINY32)), f"{name} has subnormal numbers"
        # within float32 rounding of the reference's scale (per time step for dx, whose
        # entries span 30 decades; per array otherwise), plus an absolute term for what the
        # reference computes from gradients that were flushed here
        w64 = w.astype(np.float64)
        scale = np.abs(w64).max(axis=(0, 2), keepdims=True) if name == "dx" else np.abs(w64).max()
        err = np.abs(g.astype(np.float64) - w64)
        ok = err <= TOL * scale + 1e3 * fl.FLUSH32
        assert ok.all(), f"{name}: {err[~ok].max():.3g} off"
    # the flushed steps: the reference's dx there is tiny but not all zero, the twin's is 0
    dx_got, dx_want = got[0], want[0]
    # (steps well below the flush level: dx = da Wx^T may be a little below it while da is not)
    ref_t = np.abs(dx_want).max(axis=(0, 2))
    early = ref_t < 1e-3 * fl.FLUSH32
    assert np.any(early & (ref_t > 0)) and np.all(dx_got[:, early] == 0)


def test_the_comparison_can_fail(float32_encoder):
    """The tolerance above is not vacuous: a relative change of 1e-3 in dWh is caught."""
    got, want = float32_encoder
    w64 = want[4].astype(np.float64)
    err = np.abs(got[4].astype(np.float64) * (1 + 1e-3) - w64)
    assert not (err <= TOL * np.abs(w64).max() + 1e3 * fl.FLUSH32).all()


@pytest.mark.parametrize("repeated", [False, True])
def test_float64_long_encoder_equals_the_reference(repeated):
    """float64 flushes nothing: the twin equals the reference to 1e-12 on a long sequence."""
    fargs, dhT = encoder_problem(8, 400, 2, 16, np.float64, seed=1)
    if repeated:
        x, *rest = fargs
        fargs = (x[:, 0], 400, *rest)
        names = ("lstm_forward_repeated", "lstm_backward_repeated")
    else:
        names = ("lstm_forward", "lstm_backward")
    want = run(fargs, (None, dhT, None), "numpy", *names)
    got = run(fargs, (None, dhT, None), "numba", *names)
    for g, w in zip(got, want):
        scale = max(float(np.abs(w).max()), 1e-3)
        assert float(np.abs(g - w).max()) <= 1e-12 * scale


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_early_stop_with_no_gradient_is_exact(dtype):
    """No gradient at all (dhs, dhT, dcT None): the loop stops at once; every output is 0,
    as the reference computes."""
    fargs, _ = encoder_problem(4, 50, 3, 8, dtype)
    want = run(fargs, (None, None, None), "numpy")
    got = run(fargs, (None, None, None), "numba")
    for g, w in zip(got, want):
        assert g.shape == w.shape and np.all(w == 0) and np.all(g == 0)


def test_flush_threshold_per_dtype():
    assert fl._flush_threshold(np.dtype(np.float64)) == 0
    t32 = fl._flush_threshold(np.dtype(np.float32))
    assert t32.dtype == np.float32 and t32 == np.float32(2.0**-102) and t32 > TINY32
