"""Every compiled twin equals its reference (``minivae.fast.backend.TWINS``).

For each entry of ``TWINS`` the twin (run with the ``numba`` backend selected) and the reference
``fn.reference`` (run with the ``numpy`` backend, so that the functions it calls are references
too) get the same inputs; every returned array must agree:

* float64: ``max|twin - reference| <= 1e-12 * max(max|reference|, 1e-3)`` per array (relative to
  the array's largest entry; the floor makes it absolute, 1e-15, for arrays that are all near
  zero), on every path: masks / lengths / holes / fully padded rows, repeated input, stacked
  layers, the decoder with teacher forcing 0 / 0.5 / 1, free running, missing values;
* float32: both are compared with the float64 reference on the same inputs, within
  ``1e-5 * max(max|reference|, 0.1)``: T steps of float32 rounding (~6e-8 each), accumulated
  over sums of up to T*N terms, stay well inside it; the floor covers results that cancel to
  ~1e-3 from O(1) terms.

Then whole models: loss and every gradient equal on both backends for LSTMAutoencoder and
LSTMVAE in several configurations.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("numba")

import minivae.nn  # noqa: E402,F401  (registers the nn references)
import minivae.train.guard  # noqa: E402,F401  (registers first_bad_array)
import minivae.train.optim  # noqa: E402,F401  (registers adam_update)
from minivae import twins  # noqa: E402
from minivae.fast.backend import TWINS, use_backend  # noqa: E402
from minivae.models import LSTMVAE, LSTMAutoencoder  # noqa: E402
from minivae.nn import decoders, lstm  # noqa: E402

TOL64, FLOOR64 = 1e-12, 1e-3
TOL32, FLOOR32 = 1e-5, 0.1
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def twin(name: str) -> Callable:
    module, function = TWINS[name].split(":")
    return getattr(importlib.import_module(module), function)


def arrays_of(value: object) -> list[np.ndarray]:
    """The arrays in a return value (nested tuples/lists), caches left out."""
    if isinstance(value, np.ndarray):
        return [value]
    if isinstance(value, (tuple, list)) and not hasattr(value, "_fields"):
        return [a for item in value for a in arrays_of(item)]
    return []  # a cache object: each implementation reads only its own


def assert_equal_arrays(got: object, want: object, tol: float, floor: float, what: str) -> None:
    got_arrays, want_arrays = arrays_of(got), arrays_of(want)
    assert len(got_arrays) == len(want_arrays), what
    for k, (g, w) in enumerate(zip(got_arrays, want_arrays)):
        assert g.shape == w.shape, f"{what}[{k}]: shape {g.shape} vs {w.shape}"
        scale = max(float(np.max(np.abs(w), initial=0.0)), floor)
        err = float(np.max(np.abs(g.astype(np.float64) - w), initial=0.0))
        assert err <= tol * scale, (
            f"{what}[{k}]: max|twin - reference| {err:.3g} > {tol:g} * {scale:.3g}")


def both(name: str, *args: object, **kwargs: object) -> tuple[object, object]:
    """(twin result, reference result) of one TWINS entry on the same arguments."""
    with use_backend("numpy"):
        want = twins.REFERENCES[name].reference(*args, **kwargs)
    with use_backend("numba"):
        got = twin(name)(*args, **kwargs)
    return got, want


def as64(value: object) -> object:
    if isinstance(value, np.ndarray):
        return value.astype(np.float64) if value.dtype == np.float32 else value
    if isinstance(value, list):
        return [as64(v) for v in value]
    if isinstance(value, tuple):
        return tuple(as64(v) for v in value)
    return value


# ----------------------------------------------------------------------------- the table
def test_every_twin_names_a_reference_with_its_signature():
    assert TWINS, "the table is empty"
    for name in TWINS:
        assert name in twins.REFERENCES, f"TWINS key {name!r} is not a @reference function"
        ref = twins.REFERENCES[name]
        fn = twin(name)
        assert list(inspect.signature(fn).parameters) == list(
            inspect.signature(ref.reference).parameters), name
        assert name in (fn.__doc__ or ""), f"{TWINS[name]}'s docstring must name {name}"
        assert ref.twin_name == name
    # and every twin has a parity case below
    assert set(TWINS) <= set(CASES), sorted(set(TWINS) - set(CASES))


def test_mixing_caches_across_backends_raises():
    rng = np.random.default_rng(0)
    x, h = rng.standard_normal((4, 3, 2)), np.zeros((4, 5))
    W = (rng.standard_normal((2, 20)), rng.standard_normal((5, 20)), np.zeros(20))
    with use_backend("numba"):
        *_, twin_cache = lstm.lstm_forward(x, h, h, *W)
    with use_backend("numpy"):
        *_, ref_cache = lstm.lstm_forward(x, h, h, *W)
        with pytest.raises(TypeError, match="same code"):
            lstm.lstm_backward(None, None, None, twin_cache)
    with use_backend("numba"):
        with pytest.raises(TypeError, match="backend"):
            lstm.lstm_backward(None, None, None, ref_cache)
        with pytest.raises(TypeError, match="backend"):  # a sequence cache is not a repeated one
            lstm.lstm_backward_repeated(None, None, None, twin_cache)
    cells = [W]
    with use_backend("numba"):
        _, twin_dcache = decoders.autoregressive_forward([h], [h], cells, np.ones((5, 2)),
                                                         np.zeros(2), 3)
    with use_backend("numpy"):
        with pytest.raises(TypeError, match="same code"):
            decoders.autoregressive_backward(np.ones((4, 3, 2)), twin_dcache)
        _, ref_dcache = decoders.autoregressive_forward([h], [h], cells, np.ones((5, 2)),
                                                        np.zeros(2), 3)
    with use_backend("numba"), pytest.raises(TypeError, match="backend"):
        decoders.autoregressive_backward(np.ones((4, 3, 2)), ref_dcache)


# ----------------------------------------------------------------------------- problems
def lstm_params(rng, D, H, dtype):
    return ((0.8 * rng.standard_normal((D, 4 * H))).astype(dtype),
            (rng.standard_normal((H, 4 * H)) / np.sqrt(H)).astype(dtype),
            rng.standard_normal(4 * H).astype(dtype))


def make_mask(rng, kind, N, T):
    if kind == "none":
        return None
    if kind == "lengths":
        return np.arange(T)[None, :] < rng.integers(1, T + 1, size=N)[:, None]
    mask = rng.random((N, T)) < 0.6  # holes anywhere
    if kind == "padded_row":
        mask[0] = False  # a sequence with no valid step: its state is carried throughout
    return mask


def sequence_problem(rng, N, T, D, H, dtype, mask_kind, dhs, dstate):
    def r(*shape):
        return rng.standard_normal(shape).astype(dtype)

    x, h0, c0 = r(N, T, D), (0.5 * r(N, H)).astype(dtype), r(N, H)
    mask = make_mask(rng, mask_kind, N, T)
    if mask is not None:
        x[~mask] = 0.0  # what the layer hands the function (x at padded steps is ignored)
    grads = (r(N, T, H) if dhs else None, r(N, H) if dstate else None,
             r(N, H) if dstate else None)
    return (x, h0, c0, *lstm_params(rng, D, H, dtype), mask), grads


def check_pair(forward: str, backward: str, fargs: tuple, grads: tuple, dtype) -> None:
    """Forward and backward of a twin pair against the reference pair (each backward reads
    its own forward's cache)."""
    with use_backend("numpy"):
        ref_f = twins.REFERENCES[forward].reference(*fargs)
        ref_b = twins.REFERENCES[backward].reference(*grads, ref_f[-1])
    with use_backend("numba"):
        got_f = twin(forward)(*fargs)
        got_b = twin(backward)(*grads, got_f[-1])
    if dtype == np.float64:
        assert_equal_arrays(got_f, ref_f, TOL64, FLOOR64, forward)
        assert_equal_arrays(got_b, ref_b, TOL64, FLOOR64, backward)
        return
    for got in (got_f + got_b, ref_f + ref_b):  # twin and reference in float32 vs float64
        assert all(a.dtype == np.float32 for a in arrays_of(got))
    with use_backend("numpy"):
        f64 = twins.REFERENCES[forward].reference(*as64(fargs))
        b64 = twins.REFERENCES[backward].reference(*as64(grads), f64[-1])
    for got in (got_f, ref_f):
        assert_equal_arrays(got, f64, TOL32, FLOOR32, forward + " float32")
    for got in (got_b, ref_b):
        assert_equal_arrays(got, b64, TOL32, FLOOR32, backward + " float32")


DTYPES = [np.float64, np.float32]
MASKS = st.sampled_from(["none", "lengths", "holes", "padded_row"])
WIDTHS = st.one_of(st.integers(1, 6), st.integers(32, 35))  # rank-1 and GEMM input projection


# ----------------------------------------------------------------------------- step twins
@pytest.mark.parametrize("dtype", DTYPES)
@SETTINGS
@given(N=st.integers(1, 9), D=WIDTHS, H=st.integers(1, 7), seed=st.integers(0, 2**16))
def test_step_twins(dtype, N, D, H, seed):
    rng = np.random.default_rng(seed)
    (x, h0, c0, Wx, Wh, b, _), (_, dh, dc) = sequence_problem(rng, N, 1, D, H, dtype, "none",
                                                              False, True)
    check_pair("minivae.nn.lstm.lstm_step_forward", "minivae.nn.lstm.lstm_step_backward",
               (x[:, 0], h0, c0, Wx, Wh, b), (dh, dc), dtype)
    # the step caches have one layout: each backward reads the other's cache
    with use_backend("numba"):
        h, c, cache = lstm.lstm_step_forward(x[:, 0], h0, c0, Wx, Wh, b)
    got, want = both("minivae.nn.lstm.lstm_step_backward", dh, dc, cache)
    tol, floor = (TOL64, FLOOR64) if dtype == np.float64 else (TOL32, FLOOR32)
    assert_equal_arrays(got, want, tol, floor, "step backward on the twin's cache")
    dc_before = dc.copy()
    with use_backend("numba"):
        lstm.lstm_step_backward(dh, dc, cache)
    np.testing.assert_array_equal(dc, dc_before)  # inputs are only read


# ----------------------------------------------------------------------------- sequence twins
@pytest.mark.parametrize("dtype", DTYPES)
@SETTINGS
@given(N=st.integers(1, 12), T=st.integers(1, 7), D=WIDTHS, H=st.integers(1, 7), mask=MASKS,
       dhs=st.booleans(), dstate=st.booleans(), seed=st.integers(0, 2**16))
def test_sequence_twins(dtype, N, T, D, H, mask, dhs, dstate, seed):
    fargs, grads = sequence_problem(np.random.default_rng(seed), N, T, D, H, dtype, mask, dhs,
                                    dstate)
    check_pair("minivae.nn.lstm.lstm_forward", "minivae.nn.lstm.lstm_backward", fargs, grads,
               dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@SETTINGS
@given(N=st.integers(1, 12), T=st.integers(1, 7), D=WIDTHS, H=st.integers(1, 7), mask=MASKS,
       dhs=st.booleans(), dstate=st.booleans(), seed=st.integers(0, 2**16))
def test_repeated_input_twins(dtype, N, T, D, H, mask, dhs, dstate, seed):
    (x, *rest), grads = sequence_problem(np.random.default_rng(seed), N, T, D, H, dtype, mask,
                                         dhs, dstate)
    z = np.random.default_rng(seed + 1).standard_normal((N, D)).astype(dtype)
    check_pair("minivae.nn.lstm.lstm_forward_repeated", "minivae.nn.lstm.lstm_backward_repeated",
               (z, T, *rest), grads, dtype)


def test_sequence_twin_on_a_realistic_size_with_nan_padding():
    """Several threads' chunks, H = 32, D = 9, lengths; the twin ignores NaN at padded steps."""
    rng = np.random.default_rng(1)
    (x, *rest), grads = sequence_problem(rng, 19, 12, 9, 32, np.float64, "lengths", True, True)
    mask = rest[-1]
    x_nan = np.where(mask[:, :, None], x, np.nan)
    with use_backend("numba"):
        hs, hT, cT, cache = lstm.lstm_forward(x_nan, *rest)
        dx, *dparams = lstm.lstm_backward(*grads, cache)
    assert np.all(hs[~mask] == 0.0) and np.all(dx[~mask] == 0.0)
    got_f, want_f = both("minivae.nn.lstm.lstm_forward", x, *rest)
    assert_equal_arrays((hs, hT, cT), want_f[:3], TOL64, FLOOR64, "forward with NaN padding")


# ----------------------------------------------------------------------------- decoder twin
def decoder_problem(rng, N, T, D, H, layers, O, feeding, dtype):
    cells = [lstm_params(rng, D if l == 0 else H, H, dtype) for l in range(layers)]
    h0s = [np.tanh(rng.standard_normal((N, H))).astype(dtype) for _ in range(layers)]
    c0s = [rng.standard_normal((N, H)).astype(dtype) for _ in range(layers)]
    W = (rng.standard_normal((H, O)) / np.sqrt(H)).astype(dtype)
    b = rng.standard_normal(O).astype(dtype)
    x = rng.standard_normal((N, T, D)).astype(dtype)
    feed = {"free": None, "tf0": np.zeros((N, T, D), dtype=bool),
            "tf1": np.ones((N, T, D), dtype=bool),
            "tf05": rng.random((N, T, D)) < 0.5}.get(feeding)
    if feeding == "missing":  # teacher forced except at missing values (NaN in x there)
        observed = rng.random((N, T, D)) < 0.7
        feed = np.ones((N, T, D), dtype=bool)
        feed[:, 1:] = observed[:, :-1]
        x = np.where(observed, x, np.nan).astype(dtype)  # never read where not fed
    if feed is None:
        x = None
    return (h0s, c0s, cells, W, b, T, x, feed)


FEEDING = st.sampled_from(["free", "tf0", "tf05", "tf1", "missing"])


@pytest.mark.parametrize("dtype", DTYPES)
@SETTINGS
@given(N=st.integers(1, 10), T=st.integers(1, 7), D=st.integers(1, 3), H=st.integers(1, 6),
       layers=st.integers(1, 3), extra_out=st.integers(0, 3), feeding=FEEDING,
       seed=st.integers(0, 2**16))
def test_decoder_twins(dtype, N, T, D, H, layers, extra_out, feeding, seed):
    rng = np.random.default_rng(seed)
    fargs = decoder_problem(rng, N, T, D, H, layers, D + extra_out, feeding, dtype)
    dy = rng.standard_normal((N, T, D + extra_out)).astype(dtype)
    check_pair("minivae.nn.decoders.autoregressive_forward",
               "minivae.nn.decoders.autoregressive_backward", fargs, (dy,), dtype)


@pytest.mark.parametrize("layers,feeding,path", [
    (1, "tf1", "sequence"), (2, "tf1", "sequence"), (1, "missing", "kernel"),
    (3, "missing", "reference"),
    (1, "free", "kernel"), (1, "tf05", "kernel"), (1, "tf0", "kernel"),
    (2, "free", "reference"), (2, "tf05", "reference")])
def test_decoder_twin_takes_each_path_and_equals_the_reference(layers, feeding, path):
    rng = np.random.default_rng(layers)
    fargs = decoder_problem(rng, 6, 5, 2, 4, layers, 4, feeding, np.float64)
    with use_backend("numba"):
        _, cache = decoders.autoregressive_forward(*fargs)
    assert cache.path == path
    dy = rng.standard_normal((6, 5, 4))
    check_pair("minivae.nn.decoders.autoregressive_forward",
               "minivae.nn.decoders.autoregressive_backward", fargs, (dy,), np.float64)


# ----------------------------------------------------------------------------- Adam twin
def test_adam_twin():
    rng = np.random.default_rng(5)
    for dtype, tol in ((np.float64, TOL64), (np.float32, 1e-6)):
        for weight_decay, decoupled in ((0.0, False), (0.05, False), (0.05, True)):
            arrays = [rng.standard_normal((6, 7)).astype(dtype) for _ in range(2)]
            state = [np.abs(rng.standard_normal((6, 7))).astype(dtype) for _ in range(2)]
            mine = [a.copy() for a in arrays[:1] + state]
            theirs = [a.copy() for a in arrays[:1] + state]
            hyper = (3e-2, 0.9, 0.999, 1e-8, 3, weight_decay, decoupled)
            with use_backend("numpy"):
                twins.REFERENCES["minivae.train.optim.adam_update"].reference(
                    theirs[0], arrays[1], theirs[1], theirs[2], *hyper)
            twin("minivae.train.optim.adam_update")(mine[0], arrays[1], mine[1], mine[2], *hyper)
            for got, want in zip(mine, theirs):
                assert_equal_arrays(got, want, tol, FLOOR64, "adam_update")


# ----------------------------------------------------------------------------- guard twin
def test_first_bad_array_twin():
    # more cases (every dtype, NaN/inf, exactly at the limit): tests/test_fast_guard.py
    rng = np.random.default_rng(6)
    reference = twins.REFERENCES["minivae.train.guard.first_bad_array"].reference
    for dtype in (np.float64, np.float32):
        arrays = [rng.standard_normal(shape).astype(dtype) for shape in ((5, 3), (7,), (0,))]
        for value in (None, np.nan, np.inf, 2e6):
            if value is not None:
                arrays[1][3] = value
            for limit in (1e6, np.inf):
                assert (twin("minivae.train.guard.first_bad_array")(arrays, limit)
                        == reference(arrays, limit))


CASES = {
    "minivae.nn.lstm.lstm_step_forward": test_step_twins,
    "minivae.nn.lstm.lstm_step_backward": test_step_twins,
    "minivae.nn.lstm.lstm_forward": test_sequence_twins,
    "minivae.nn.lstm.lstm_backward": test_sequence_twins,
    "minivae.nn.lstm.lstm_forward_repeated": test_repeated_input_twins,
    "minivae.nn.lstm.lstm_backward_repeated": test_repeated_input_twins,
    "minivae.nn.decoders.autoregressive_forward": test_decoder_twins,
    "minivae.nn.decoders.autoregressive_backward": test_decoder_twins,
    "minivae.train.optim.adam_update": test_adam_twin,
    "minivae.train.guard.first_bad_array": test_first_bad_array_twin,
}


# ----------------------------------------------------------------------------- whole models
def model_run(model, X, kwargs, backend):
    with use_backend(backend):
        model.zero_grad()
        value, parts = model.loss(X, rng=11, **kwargs)
        model.backward()
        R = model.reconstruct(np.nan_to_num(X))
    grads = {name: g.copy() for name, _, g in model.parameters()}
    return value, parts, grads, R


MODEL_CONFIGS = [
    ("ae", {"decoder": "repeat"}, False),
    ("ae", {"decoder": "repeat", "num_layers": 2, "output": "gaussian", "mask_input": True}, True),
    ("ae", {"decoder": "autoregressive", "teacher_forcing": 0.0}, False),
    ("ae", {"decoder": "autoregressive", "teacher_forcing": 0.5, "num_layers": 2}, True),
    ("ae", {"decoder": "autoregressive", "teacher_forcing": 1.0, "num_layers": 3}, False),
    ("vae", {"decoder": "repeat", "likelihood": "mse", "num_layers": 2}, True),
    ("vae", {"decoder": "autoregressive", "teacher_forcing": 1.0}, False),
    ("vae", {"decoder": "autoregressive", "teacher_forcing": 1.0}, True),  # missing: kernel
    ("vae", {"decoder": "autoregressive", "teacher_forcing": 0.5}, True),
    ("vae", {"decoder": "autoregressive", "teacher_forcing": 0.0, "num_layers": 2,
             "free_bits": 0.05}, False),
]


@pytest.mark.parametrize("kind,config,masked", MODEL_CONFIGS)
def test_models_equal_on_both_backends(kind, config, masked):
    cls = LSTMAutoencoder if kind == "ae" else LSTMVAE
    model = cls(2, 5, 3, rng=4, **config)
    rng = np.random.default_rng(9)
    for name, p, _ in model.parameters():
        if name.endswith(".b"):
            p += 0.1 * rng.standard_normal(p.shape)
    X = rng.standard_normal((13, 9, 2))
    kwargs = {}
    if masked:
        mask = rng.random(X.shape) < 0.75
        mask[:, 0] = True
        X = np.where(mask, X, np.nan)
        kwargs["mask"] = mask
    v_np, parts_np, g_np, R_np = model_run(model, X, kwargs, "numpy")
    v_nb, parts_nb, g_nb, R_nb = model_run(model, X, kwargs, "numba")
    assert abs(v_nb - v_np) <= TOL64 * max(abs(v_np), 1.0)
    for key in parts_np:
        assert abs(parts_nb[key] - parts_np[key]) <= TOL64 * max(abs(parts_np[key]), 1.0), key
    for name in g_np:
        assert_equal_arrays(g_nb[name], g_np[name], TOL64, FLOOR64, name)
    assert_equal_arrays(R_nb, R_np, TOL64, FLOOR64, "reconstruct")


def test_the_comparison_can_fail():
    """A wrong twin result is noticed: the tolerance is not vacuous."""
    want = np.array([1.0, -2.0, 0.5])
    assert_equal_arrays(want * (1 + 1e-13), want, TOL64, FLOOR64, "ok")
    with pytest.raises(AssertionError):
        assert_equal_arrays(want * (1 + 1e-11), want, TOL64, FLOOR64, "off by 1e-11")
    with pytest.raises(AssertionError):
        assert_equal_arrays((want, want), (want,), TOL64, FLOOR64, "a missing array")
