"""Planted mistakes, lesson by lesson: every checker fails on a function a student could
plausibly write, and its message names the wrong output, gives the index of the worst entry with
the expected and the returned value (for numeric mismatches), and contains the specific hint.
"""

from __future__ import annotations

import numpy as np
import pytest

from minivae.exercises import (
    SOLUTIONS,
    ExerciseFailed,
    ExerciseResult,
    check_bce_with_logits,
    check_dense_backward,
    check_dense_forward,
    check_free_bits_kl,
    check_free_running_decode,
    check_gaussian_nll,
    check_gaussian_nll_grad,
    check_gp_posterior,
    check_iwae_bound,
    check_kl_grad,
    check_kl_standard_normal,
    check_lstm_backward,
    check_lstm_forward,
    check_lstm_step_backward,
    check_lstm_step_forward,
    check_norm_ppf,
    check_numerical_gradient,
    check_point_adjust,
    check_relu_backward,
    check_reparameterize,
    check_reparameterize_backward,
    check_repeat_vector_backward,
    check_sigmoid_backward,
)
from minivae.exercises import lesson06_lstm_autoencoder_decoders as lesson06
from minivae.exercises import lesson07_lstm_vae_anomaly_detection as lesson07
from minivae.exercises import lesson08_missing_values as lesson08
from minivae.exercises import lesson09_mnist_latent_spaces as lesson09
from minivae.nn.functional import log_mean_exp, sigmoid, softplus
from minivae.nn.lstm import lstm_step_backward, lstm_step_forward
from minivae.objectives.kl import free_bits_kl


def _fmt(v: float) -> str:
    return f"{v:.6g}"


def assert_explains(result: ExerciseResult, name: str, *substrings: str) -> None:
    """The result failed, names ``name``, and (for a numeric mismatch of ``name``) gives the index,
    expected and returned values of the worst entry; plus every substring."""
    assert isinstance(result, ExerciseResult)
    assert not result.passed and not bool(result)
    msg = result.message
    assert str(result) == msg
    assert "FAILED" in msg
    assert name in msg, msg
    failed = [c for c in result.checks if not c.passed and c.name == name]
    for c in failed:  # numeric mismatches: where, expected, got
        assert f"at index {c.worst_index}" in msg, msg
        assert f"expected {_fmt(c.numeric)}" in msg, msg
        assert f"got {_fmt(c.analytic)}" in msg, msg
    for s in substrings:
        assert s in msg, f"{s!r} not in message:\n{msg}"


# ============================================================ lesson 01: dense layer
def test_dense_forward_missing_bias():
    r = check_dense_forward(lambda x, W, b: x @ W)
    assert_explains(r, "y", "bias is missing")


def test_dense_backward_sign_flip_of_dW():
    r = check_dense_backward(lambda dy, x, W, b: (dy @ W.T, -(x.T @ dy), dy.sum(0)))
    assert_explains(r, "dW", "SIGN")
    assert "dx, db: correct" in r.message  # the right ones are acknowledged


def test_dense_backward_factor_two_in_dx():
    r = check_dense_backward(lambda dy, x, W, b: (2 * dy @ W.T, x.T @ dy, dy.sum(0)))
    assert_explains(r, "dx", "FACTOR", "2 ×")


def test_dense_backward_transposed_dW():
    r = check_dense_backward(lambda dy, x, W, b: (dy @ W.T, dy.T @ x, dy.sum(0)))
    assert_explains(r, "dW", "wrong shape", "expected (3, 5), got (5, 3)", "TRANSPOSED")


def test_dense_backward_db_not_summed_over_batch():
    r = check_dense_backward(lambda dy, x, W, b: (dy @ W.T, x.T @ dy, dy))
    assert_explains(r, "db", "expected (5,), got (4, 5)", "sum over the batch")


def test_dense_backward_db_mean_instead_of_sum():
    r = check_dense_backward(lambda dy, x, W, b: (dy @ W.T, x.T @ dy, dy.mean(0)))
    assert_explains(r, "db", "SUM dy over the batch", "batch size")


def test_dense_backward_missing_accumulation_over_examples():
    def loop(dy, x, W, b):
        for n in range(x.shape[0]):
            dW = np.outer(x[n], dy[n])  # assigned: only the last example survives
            db = dy[n]
        return dy @ W.T, dW, db

    r = check_dense_backward(loop)
    assert_explains(r, "dW", "LAST example", "accumulate")
    assert_explains(r, "db")


# ============================================================ lesson 01: activations
def test_sigmoid_backward_mistakes():
    assert_explains(check_sigmoid_backward(lambda dy, y: y * (1 - y)), "dx", "upstream gradient")
    assert_explains(check_sigmoid_backward(lambda dy, y: dy * sigmoid(y) * (1 - sigmoid(y))),
                    "dx", "second time")
    assert_explains(check_sigmoid_backward(lambda dy, y: dy * (1 - y**2)), "dx", "tanh")
    assert_explains(check_sigmoid_backward(lambda dy, y: -dy * y * (1 - y)), "dx", "SIGN")


def test_relu_backward_mistakes():
    assert_explains(check_relu_backward(lambda dy, x: (x > 0) * 1.0), "dx", "upstream gradient")
    assert_explains(check_relu_backward(lambda dy, x: dy * (x < 0)), "dx", "inverted")
    assert_explains(check_relu_backward(lambda dy, x: dy * np.maximum(x, 0)), "dx", "slope")
    assert_explains(check_relu_backward(lambda dy, x: dy * (dy > 0)), "dx", "sign of dy")


# ============================================================ lesson 02: KL
def _kl_terms(mu, lv):
    return 0.5 * (mu**2 + np.exp(lv) - 1 - lv)


def test_kl_missing_minus_one_term():
    r = check_kl_standard_normal(lambda mu, lv: 0.5 * (mu**2 + np.exp(lv) - lv).sum(1))
    assert_explains(r, "kl", "-1 term is missing")


def test_kl_per_dimension_not_summed_is_a_shape_error():
    r = check_kl_standard_normal(_kl_terms)
    assert_explains(r, "kl", "wrong shape", "expected (4,), got (4, 3)", "axis=1")


def test_kl_summed_over_wrong_axis():
    r = check_kl_standard_normal(lambda mu, lv: _kl_terms(mu, lv).sum(axis=0))
    assert_explains(r, "kl", "expected (4,), got (3,)", "batch axis (axis=0)")


def test_kl_factor_two_and_std_instead_of_variance_and_reverse_direction():
    assert_explains(check_kl_standard_normal(lambda mu, lv: 2 * _kl_terms(mu, lv).sum(1)),
                    "kl", "0.5 in front is missing")
    assert_explains(check_kl_standard_normal(
        lambda mu, lv: 0.5 * (mu**2 + np.exp(0.5 * lv) - 1 - lv).sum(1)), "kl",
        "standard deviation")
    assert_explains(check_kl_standard_normal(
        lambda mu, lv: 0.5 * (lv + (1 + mu**2) * np.exp(-lv) - 1).sum(1)), "kl", "reverse")


def test_kl_unrecognised_mistake_still_gets_pattern_hint():
    # A constant offset that is none of the named mistakes.
    r = check_kl_standard_normal(lambda mu, lv: _kl_terms(mu, lv).sum(1) + 0.123)
    assert_explains(r, "kl", "same constant 0.123")


def test_kl_grad_mistakes():
    assert_explains(check_kl_grad(lambda mu, lv: (mu, np.exp(lv) - 1)), "dlogvar",
                    "0.5 is missing", "FACTOR")
    assert_explains(check_kl_grad(lambda mu, lv: (mu, 0.5 * np.exp(lv))), "dlogvar",
                    "-logvar term")
    assert_explains(check_kl_grad(lambda mu, lv: (-mu, 0.5 * (np.exp(lv) - 1))), "dmu", "SIGN")
    r = check_kl_grad(lambda mu, lv: (mu / 4, 0.5 * (np.exp(lv) - 1) / 4))
    assert_explains(r, "dmu", "SUM over examples")
    assert_explains(r, "dlogvar")


# ============================================================ lesson 03: reparameterization
def test_reparameterize_mistakes():
    assert_explains(check_reparameterize(lambda mu, lv, eps: mu + np.exp(lv) * eps), "z",
                    "variance exp(logvar) is used")
    assert_explains(check_reparameterize(lambda mu, lv, eps: mu + np.exp(0.5 * lv)), "z",
                    "noise eps is missing")
    rng = np.random.default_rng(0)
    r = check_reparameterize(lambda mu, lv, eps: mu + np.exp(0.5 * lv)
                             * rng.standard_normal(mu.shape))
    assert_explains(r, "z", "draws its own noise")


def test_reparameterize_backward_mistakes():
    r = check_reparameterize_backward(
        lambda dz, mu, lv, eps: (dz, dz * np.exp(0.5 * lv) * eps))
    assert_explains(r, "dlogvar", "0.5 is missing", "FACTOR")
    assert "dmu: correct" in r.message
    r = check_reparameterize_backward(
        lambda dz, mu, lv, eps: (dz * np.exp(0.5 * lv), 0.5 * dz * np.exp(0.5 * lv) * eps))
    assert_explains(r, "dmu", "dz/dmu = 1")


def test_reparameterize_with_backward_combines_both_verdicts():
    good = check_reparameterize(SOLUTIONS["reparameterize"],
                                SOLUTIONS["reparameterize_backward"])
    assert good.passed and "reparameterize_backward: PASSED" in good.message
    bad = check_reparameterize(SOLUTIONS["reparameterize"],
                               lambda dz, mu, lv, eps: (dz, dz * 0.5 * eps))
    assert_explains(bad, "dlogvar", "sigma is missing")
    with pytest.raises(ExerciseFailed):
        check_reparameterize(SOLUTIONS["reparameterize"],
                             lambda dz, mu, lv, eps: (dz, dz * 0.5 * eps), raise_on_fail=True)


# ============================================================ lesson 01 and 02: losses
def _naive_bce(l, t):
    p = 1.0 / (1.0 + np.exp(-l))
    return -(t * np.log(p) + (1 - t) * np.log(1 - p)).sum(axis=1)


def test_bce_naive_formula_overflows_at_extreme_logits():
    r = check_bce_with_logits(_naive_bce)
    assert_explains(r, "nll", "not numerically stable", "index (0,)", "logit 1000",
                    "expected 0", "got nan", "softplus")


def test_bce_log1p_exp_overflows_to_inf():
    r = check_bce_with_logits(lambda l, t: (np.log1p(np.exp(l)) - t * l).sum(axis=1))
    assert_explains(r, "nll", "not numerically stable", "got inf", "logaddexp")


def test_bce_clipped_probabilities_are_finite_but_wrong():
    def clipped(l, t):
        p = np.clip(sigmoid(l), 1e-7, 1 - 1e-7)
        return -(t * np.log(p) + (1 - t) * np.log(1 - p)).sum(axis=1)

    r = check_bce_with_logits(clipped)
    assert_explains(r, "nll", "finite but wrong", "clipping", "expected 1000")


def test_bce_shape_and_sign_mistakes():
    assert_explains(check_bce_with_logits(lambda l, t: softplus(l) - t * l), "nll",
                    "expected (4,), got (4, 6)", "sum over the data dimensions")
    assert_explains(check_bce_with_logits(lambda l, t: (t * l - softplus(l)).sum(1)), "nll",
                    "NEGATIVE")


def test_gaussian_nll_mistakes():
    assert_explains(check_gaussian_nll(
        lambda m, lv, x: (0.5 * (lv + (x - m) ** 2 * np.exp(-lv))).sum(1)), "nll",
        "0.5 * log(2 pi)")
    assert_explains(check_gaussian_nll(
        lambda m, lv, x: (0.5 * (np.log(2 * np.pi) + lv + (x - m) ** 2 * np.exp(lv))).sum(1)),
        "nll", "MULTIPLIED")
    assert_explains(check_gaussian_nll(
        lambda m, lv, x: (0.5 * (np.log(2 * np.pi) + (x - m) ** 2 * np.exp(-lv))).sum(1)),
        "nll", "normaliser")


def test_gaussian_nll_grad_mistakes():
    r = check_gaussian_nll_grad(lambda m, lv, x: (m - x, 0.5 * (1 - (x - m) ** 2 * np.exp(-lv))))
    assert_explains(r, "dmean", "inverse variance")
    r = check_gaussian_nll_grad(
        lambda m, lv, x: ((m - x) * np.exp(-lv), -0.5 * (1 - (x - m) ** 2 * np.exp(-lv))))
    assert_explains(r, "dlogvar", "SIGN")


# ============================================================ lesson 05: LSTM
def _step(x, h, c, Wx, Wh, b, order=("i", "f", "g", "o"), cell_tanh=True):
    H = h.shape[1]
    a = x @ Wx + h @ Wh + b
    blk = {k: a[:, n * H:(n + 1) * H] for n, k in enumerate(order)}
    i, f, o, g = sigmoid(blk["i"]), sigmoid(blk["f"]), sigmoid(blk["o"]), np.tanh(blk["g"])
    c_new = f * c + i * g
    return o * (np.tanh(c_new) if cell_tanh else c_new), c_new, None


def test_lstm_step_forward_wrong_gate_order_is_named():
    r = check_lstm_step_forward(lambda *a: _step(*a, order=("i", "f", "o", "g")))
    assert_explains(r, "h", "order (i, f, o, g)", "(i, f, g, o)")
    assert_explains(r, "c")


def test_lstm_step_forward_other_mistakes():
    assert_explains(check_lstm_step_forward(lambda *a: _step(*a, cell_tanh=False)), "h",
                    "tanh on the cell is missing")
    assert "c: correct" in check_lstm_step_forward(lambda *a: _step(*a, cell_tanh=False)).message
    r = check_lstm_step_forward(lambda *a: (_step(*a)[1], _step(*a)[0], None))
    assert_explains(r, "h", "swapped")
    r = check_lstm_step_forward(lambda *a: _step(*a)[:2])
    assert_explains(r, "lstm_step_forward", "tuple of 3: (h, c, cache)")


def _step_backward(dh, dc, cache, *, h_path=True, transpose_dWx=False, sum_db=True,
                   flip_dh_prev=False):
    x, hp, cp, Wx, Wh, i, f, g, o, tc = cache
    do = dh * tc
    dc = dc + dh * o * (1 - tc**2) if h_path else dc
    da = np.concatenate([dc * g * i * (1 - i), dc * cp * f * (1 - f), dc * i * (1 - g * g),
                         do * o * (1 - o)], axis=1)
    dWx = da.T @ x if transpose_dWx else x.T @ da
    dh_prev = -(da @ Wh.T) if flip_dh_prev else da @ Wh.T
    return da @ Wx.T, dh_prev, dc * f, dWx, hp.T @ da, da.sum(0) if sum_db else da


def test_lstm_step_backward_missing_output_path_into_the_cell():
    r = check_lstm_step_backward(lambda dh, dc, cache: _step_backward(dh, dc, cache,
                                                                      h_path=False))
    assert_explains(r, "dx", "1 - tanh(c)^2")
    assert_explains(r, "dc_prev", "the same as for dx above")


def test_lstm_step_backward_shapes_and_sign():
    r = check_lstm_step_backward(lambda *a: _step_backward(*a, transpose_dWx=True))
    assert_explains(r, "dWx", "expected (4, 8), got (8, 4)", "TRANSPOSED")
    r = check_lstm_step_backward(lambda *a: _step_backward(*a, sum_db=False))
    assert_explains(r, "db", "expected (8,), got (3, 8)", "sum over the batch")
    r = check_lstm_step_backward(lambda *a: _step_backward(*a, flip_dh_prev=True))
    assert_explains(r, "dh_prev", "SIGN")
    assert "dx, dc_prev, dWx, dWh, db: correct" in r.message


def test_lstm_step_backward_with_students_own_forward():
    r = check_lstm_step_backward(lstm_step_backward, forward_fn=lstm_step_forward)
    assert r.passed


def test_lstm_step_backward_forward_fn_that_returns_something_else():
    r = check_lstm_step_backward(lstm_step_backward,
                                 forward_fn=lambda *a: lstm_step_forward(*a)[:2])
    assert_explains(r, "lstm_step_backward", "forward_fn must return (h, c, cache)")


# A student's sequence forward and backward, written as the lesson does: a loop over t of the
# step functions, the cache a list of the T step caches.
def _forward(x, h0, c0, Wx, Wh, b, mask=None, *, carry=True):
    h, c, hs, caches = h0, c0, [], []
    for t in range(x.shape[1]):
        h, c, cache = lstm_step_forward(x[:, t], h if carry else h0, c if carry else c0, Wx,
                                        Wh, b)
        hs.append(h)
        caches.append(cache)
    return np.stack(hs, axis=1), h, c, caches


def _backward(dhs, dhT, dcT, caches, *, accumulate=True, carry_h=True, carry_c=True,
              final=True):
    N, T, H = dhs.shape
    dx = np.zeros((N, T, caches[0][0].shape[1]))
    dh, dc = (dhT, dcT) if final else (np.zeros((N, H)), np.zeros((N, H)))
    dWx = dWh = db = 0.0
    for t in reversed(range(T)):
        dx[:, t], dh_prev, dc_prev, a, b_, c = lstm_step_backward(
            dhs[:, t] + (dh if carry_h else 0.0), dc if carry_c else np.zeros((N, H)), caches[t])
        dh, dc = dh_prev, dc_prev
        if accumulate:
            dWx, dWh, db = dWx + a, dWh + b_, db + c
        else:
            dWx, dWh, db = a, b_, c
    return dx, dh, dc, dWx, dWh, db


def _check_backward(**mistake):
    return check_lstm_backward(lambda dhs, dhT, dcT, cache: _backward(dhs, dhT, dcT, cache,
                                                                      **mistake),
                               forward_fn=_forward)


def test_lstm_forward_and_backward_written_the_lesson_way_pass():
    assert check_lstm_forward(_forward).passed
    assert check_lstm_forward(lambda x, h0, c0, Wx, Wh, b: _forward(x, h0, c0, Wx, Wh, b)).passed
    assert _check_backward().passed


def test_lstm_forward_mistakes():
    assert_explains(check_lstm_forward(lambda *a: _forward(*a, carry=False)), "hs",
                    "not carried")
    r = check_lstm_forward(lambda *a: (lambda hs, h, c, k: (hs, c, h, k))(*_forward(*a)))
    assert_explains(r, "hT", "swapped")
    assert "hs: correct" in r.message
    r = check_lstm_forward(lambda x, h0, c0, *p: (_forward(x, h0, c0, *p)[0], h0, c0, None))
    assert_explains(r, "cT", "LAST step")
    r = check_lstm_forward(lambda *a: _forward(*a)[:2])
    assert_explains(r, "lstm_forward", "tuple of 4: (hs, hT, cT, cache)")


def test_lstm_backward_missing_accumulation_over_time():
    r = _check_backward(accumulate=False)
    assert_explains(r, "dWx", "ADD every step", "dWx += dWx_t")
    assert_explains(r, "dWh")
    assert "dx, dh0, dc0: correct" in r.message


def test_lstm_backward_missing_carries_and_final_state():
    assert_explains(_check_backward(carry_h=False), "dx", "dh_next")
    assert_explains(_check_backward(carry_c=False), "dx", "cell-state gradient")
    assert_explains(_check_backward(final=False), "dh0", "dh = dhT, dc = dcT")


def test_lstm_backward_on_the_library_cache():
    """The default cache is minivae.nn.lstm.lstm_forward's; the library's backward reads it."""
    assert check_lstm_backward(SOLUTIONS["lstm_backward"]).passed
    r = check_lstm_backward(lambda dhs, dhT, dcT, cache: SOLUTIONS["lstm_backward"](
        dhs, dhT, dcT, cache)[:5] + (np.zeros(8),))
    assert_explains(r, "db")
    assert "dx, dh0, dc0, dWx, dWh: correct" in r.message


def test_lstm_backward_forward_fn_that_returns_the_old_contract():
    r = check_lstm_backward(lambda dhs, dhT, dcT, cache: None,
                            forward_fn=lambda *a: (_forward(*a)[0], _forward(*a)[3]))
    assert_explains(r, "lstm_backward", "forward_fn must return (hs, hT, cT, cache)")


# ============================================================ lesson 04: numerical gradient
def _fd(f, x, h, kind="central"):
    g = np.zeros_like(x)
    f0 = f(x)
    for idx in np.ndindex(*x.shape):
        old = x[idx]
        x[idx] = old + h
        fp = f(x)
        x[idx] = old - h
        fm = f(x)
        if kind != "no_restore":
            x[idx] = old
        if kind == "forward":
            g[idx] = (fp - f0) / h
        elif kind == "over_h":
            g[idx] = (fp - fm) / h
        else:
            g[idx] = (fp - fm) / (2 * h)
    return g


def test_numerical_gradient_student_central_difference_passes():
    assert check_numerical_gradient(_fd).passed


def test_numerical_gradient_mistakes():
    assert_explains(check_numerical_gradient(lambda f, x, h: _fd(f, x, h, "forward")), "grad",
                    "FORWARD difference", "O(h^2)")
    assert_explains(check_numerical_gradient(lambda f, x, h: _fd(f, x, h, "over_h")), "grad",
                    "2h")
    assert_explains(check_numerical_gradient(lambda f, x, h: _fd(f, x, h, "no_restore")),
                    "numerical_gradient", "x was not restored", "x[0, 0]")

    def rows(f, x, h):
        g = np.zeros_like(x)
        for i in range(len(x)):
            old = x[i].copy()
            x[i] = old + h
            fp = f(x)
            x[i] = old - h
            fm = f(x)
            x[i] = old
            g[i] = (fp - fm) / (2 * h)
        return g

    assert_explains(check_numerical_gradient(rows), "grad", "ROW")
    assert_explains(check_numerical_gradient(
        lambda f, x, h: np.full_like(x, (f(x + h) - f(x - h)) / (2 * h))), "grad",
        "ONE entry at a time")


# ============================================================ lesson 06: decoders
def test_repeat_vector_mistakes():
    assert_explains(check_repeat_vector_backward(lambda dy: dy.mean(axis=1)), "dx",
                    "SUM of the T")
    assert_explains(check_repeat_vector_backward(lambda dy: dy[:, -1]), "dx", "LAST step")
    assert_explains(check_repeat_vector_backward(lambda dy: dy.sum(axis=0)), "dx", "BATCH axis")


def test_free_running_decode_mistakes():
    variant = lesson06.decode_variant
    assert_explains(check_free_running_decode(lambda m, z, T: variant(m, z, T, feed="zeros")),
                    "mean", "nothing is fed back")
    assert_explains(check_free_running_decode(lambda m, z, T: variant(m, z, T, tanh_h0=False)),
                    "mean", "tanh(init_h(z))")
    assert_explains(check_free_running_decode(lambda m, z, T: variant(m, z, T, feed="lag")),
                    "mean", "off by one")


def test_free_running_decode_hand_loop_passes():
    # The reference loop written from the pure step functions equals model.decode.
    assert check_free_running_decode(lambda m, z, T: lesson06.decode_variant(m, z, T)).passed


# ============================================================ lesson 07: point adjust
def test_point_adjust_mistakes():
    assert_explains(check_point_adjust(lambda t, p: np.asarray(p)), "adjusted", "unchanged")
    assert_explains(check_point_adjust(lambda t, p: np.asarray(t)), "adjusted",
                    "returned y_true")
    assert_explains(check_point_adjust(lesson07.drop_false_positives), "adjusted",
                    "OUTSIDE true segments")


def test_point_adjust_hand_case_by_hand():
    # Segment [0, 2) hit at 1 -> filled; [4, 7) missed; false positive at 3 kept.
    y_true = np.array([1, 1, 0, 0, 1, 1, 1, 0])
    y_pred = np.array([0, 1, 0, 1, 0, 0, 0, 0])
    np.testing.assert_array_equal(SOLUTIONS["point_adjust"](y_true, y_pred),
                                  [1, 1, 0, 1, 0, 0, 0, 0])


# ============================================================ lesson 08: GP posterior
def test_gp_posterior_mistakes():
    variant = lesson08.gp_variant
    assert_explains(check_gp_posterior(lambda *a: variant(*a, noise=False)), "mean",
                    "noise variance is missing")
    assert_explains(check_gp_posterior(lambda *a: variant(*a, noisy_var=True)), "var",
                    "includes the observation noise")
    assert_explains(check_gp_posterior(lambda *a: variant(*a, std=True)), "var",
                    "standard deviation")


def test_gp_posterior_plain_formula_passes():
    assert check_gp_posterior(lambda *a: lesson08.gp_variant(*a)).passed


def test_gp_posterior_hand_case():
    # One training point, no distance: mean = sv / (sv + nv) * y, var = sv - sv^2 / (sv + nv).
    mean, var = SOLUTIONS["gp_posterior"](np.array([0.0]), np.array([2.0]), np.array([0.0]),
                                          1.0, 1.0, 1.0)
    np.testing.assert_allclose(mean, [1.0])
    np.testing.assert_allclose(var, [0.5])


# ============================================================ lesson 09: norm_ppf
def test_norm_ppf_mistakes_and_bisection():
    assert_explains(check_norm_ppf(lambda p: -SOLUTIONS["norm_ppf"](p)), "x", "mirrored")
    assert_explains(check_norm_ppf(lesson09.norm_cdf), "x", "INVERSE")

    def bisection(p):
        p = np.asarray(p, dtype=float)
        lo, hi = np.full(p.shape, -10.0), np.full(p.shape, 10.0)
        for _ in range(80):
            mid = 0.5 * (lo + hi)
            below = lesson09.norm_cdf(mid) < p
            lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
        return 0.5 * (lo + hi)

    assert check_norm_ppf(bisection).passed


# ============================================================ lesson 10: IWAE, free bits
def test_iwae_bound_mistakes_and_stability():
    assert_explains(check_iwae_bound(lambda lw: lw.mean(axis=0)), "bound", "ELBO")
    assert_explains(check_iwae_bound(
        lambda lw: log_mean_exp(lw, axis=0) + np.log(lw.shape[0])), "bound", "1/k is missing")
    naive = check_iwae_bound(lambda lw: np.log(np.mean(np.exp(lw), axis=0)))
    assert_explains(naive, "bound", "subtract the max")


def test_iwae_bound_hand_case():
    log_w = np.log(np.array([[1.0], [3.0]]))  # mean weight 2
    np.testing.assert_allclose(SOLUTIONS["iwae_bound"](log_w), [np.log(2.0)])


def test_free_bits_mistakes():
    from minivae.exercises.lesson10_vae_variants import fb_per_example, fb_total

    assert_explains(check_free_bits_kl(fb_per_example), "value", "per EXAMPLE")
    assert_explains(check_free_bits_kl(fb_total), "value", "TOTAL KL")
    inverted = check_free_bits_kl(
        lambda kl, lam: (free_bits_kl(kl, lam)[0], 1.0 - free_bits_kl(kl, lam)[1]))
    assert_explains(inverted, "grad_weights", "inverted")
    assert "value: correct" in inverted.message


def test_wrong_return_type_is_explained():
    assert_explains(check_free_bits_kl(lambda kl, lam: 1.0), "free_bits_kl", "tuple of 2")
    assert_explains(check_repeat_vector_backward(lambda dy: None), "repeat_vector_backward",
                    "returned None")
