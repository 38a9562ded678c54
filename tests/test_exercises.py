"""The exercise checkers: they accept the library's solutions and explain planted mistakes.

Every planted bug is a function a student could plausibly write.  For each, the checker must
fail and its message must name the wrong output, give the index of the worst entry with the
expected and the returned value (for numeric mismatches), and contain the specific hint.
"""

from __future__ import annotations

import numpy as np
import pytest

from minivae import exercises as ex
from minivae.exercises import (
    EXERCISES,
    SOLUTIONS,
    ExerciseFailed,
    ExerciseResult,
    check_bce_with_logits,
    check_dense_backward,
    check_dense_forward,
    check_gaussian_nll,
    check_gaussian_nll_grad,
    check_kl_grad,
    check_kl_standard_normal,
    check_lstm_backward,
    check_lstm_forward,
    check_lstm_step_backward,
    check_lstm_step_forward,
    check_numerical_gradient,
    check_relu_backward,
    check_reparameterize,
    check_reparameterize_backward,
    check_sigmoid_backward,
    show_solution,
)
from minivae.nn.functional import sigmoid, softplus
from minivae.nn.lstm import lstm_step_backward, lstm_step_forward

REQUIRED = [
    "dense_forward", "dense_backward", "sigmoid_backward", "relu_backward",
    "kl_standard_normal", "kl_grad", "reparameterize", "reparameterize_backward",
    "bce_with_logits", "gaussian_nll", "lstm_step_forward", "lstm_step_backward",
    "numerical_gradient",
]


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


# ===================================================================== the solutions pass
def test_catalogue_has_every_required_exercise_with_checker_and_solution():
    for name in REQUIRED:
        assert name in EXERCISES and name in SOLUTIONS
        assert getattr(ex, f"check_{name}") is EXERCISES[name].checker
    assert set(SOLUTIONS) == set(EXERCISES)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_every_checker_accepts_the_library_solution(name, seed):
    result = EXERCISES[name].checker(SOLUTIONS[name], seed=seed, raise_on_fail=True)
    assert result.passed and bool(result)
    assert result.message.startswith(f"{name}: PASSED")
    assert all(c.passed for c in result.checks) and result.checks


def test_solutions_are_the_library_functions():
    assert SOLUTIONS["lstm_step_forward"] is lstm_step_forward
    assert SOLUTIONS["lstm_step_backward"] is lstm_step_backward
    src = show_solution("dense_backward")
    assert "self.grads[\"W\"] += x2.T @ dy2" in src and "Dense.backward" in src
    assert "def kl_standard_normal" in show_solution("kl_standard_normal")
    with pytest.raises(KeyError, match="unknown exercise"):
        show_solution("nope")


# ========================================================================== dense layer
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


# ========================================================================== activations
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


# ================================================================================== KL
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


# =================================================================== reparameterization
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


# =============================================================================== losses
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


# ================================================================================= LSTM
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


def _bptt(dhs, caches, *, accumulate=True, carry_h=True, carry_c=True):
    N, T, H = dhs.shape
    D = caches[0][0].shape[1]
    dx, dh, dc = np.zeros((N, T, D)), np.zeros((N, H)), np.zeros((N, H))
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


def test_lstm_backward_missing_accumulation_over_time():
    r = check_lstm_backward(lambda dhs, caches: _bptt(dhs, caches, accumulate=False))
    assert_explains(r, "dWx", "ADD every step", "dWx += dWx_t")
    assert_explains(r, "dWh")
    assert "dx, dh0, dc0: correct" in r.message


def test_lstm_backward_missing_carries():
    assert_explains(check_lstm_backward(lambda d, c: _bptt(d, c, carry_h=False)), "dx",
                    "dh_next")
    assert_explains(check_lstm_backward(lambda d, c: _bptt(d, c, carry_c=False)), "dx",
                    "cell-state gradient")


def test_lstm_forward_mistakes():
    def no_carry(x, h0, c0, Wx, Wh, b):
        steps = [lstm_step_forward(x[:, t], h0, c0, Wx, Wh, b) for t in range(x.shape[1])]
        return np.stack([s[0] for s in steps], axis=1), [s[2] for s in steps]

    assert_explains(check_lstm_forward(no_carry), "hs", "not carried")
    hs_ok, caches = SOLUTIONS["lstm_forward"](np.zeros((1, 2, 1)), np.zeros((1, 1)),
                                              np.zeros((1, 1)), np.zeros((1, 4)),
                                              np.zeros((1, 4)), np.zeros(4))
    assert hs_ok.shape == (1, 2, 1) and len(caches) == 2
    r = check_lstm_forward(lambda *a: (SOLUTIONS["lstm_forward"](*a)[0], None))
    assert_explains(r, "caches", "one step cache per time step")


# =================================================================== numerical gradient
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


# ============================================================================ mechanics
def test_not_implemented_propagates_so_lessons_can_detect_a_stub():
    def stub(dy, x, W, b):
        raise NotImplementedError

    with pytest.raises(NotImplementedError):
        check_dense_backward(stub)


def test_exceptions_none_wrong_arity_and_in_place_writes_become_messages():
    def broken(dy, x, W, b):
        return dy @ W, x.T @ dy, dy.sum(0)  # (4, 5) @ (3, 5): ValueError

    r = check_dense_backward(broken)
    assert_explains(r, "dense_backward", "raised ValueError", "dy: (4, 5)", "Expected signature")
    assert_explains(check_dense_backward(lambda dy, x, W, b: None), "return statement")
    assert_explains(check_dense_backward(lambda dy, x, W, b: (dy @ W.T, x.T @ dy)), "dW",
                    "tuple of 3: (dx, dW, db)")
    assert_explains(check_dense_forward(lambda x, W, b: (x @ W + b, 0)), "single array y")

    def in_place(dy, y):
        dy *= y * (1 - y)
        return dy

    assert_explains(check_sigmoid_backward(in_place), "sigmoid_backward",
                    "modified its input 'dy' in place")


def test_raise_on_fail_raises_assertion_with_the_message():
    with pytest.raises(ExerciseFailed) as info:
        check_kl_grad(lambda mu, lv: (mu, np.exp(lv) - 1), raise_on_fail=True)
    assert isinstance(info.value, AssertionError)
    assert str(info.value) == info.value.result.message
    assert "dlogvar" in str(info.value) and not info.value.result.passed


def test_seed_changes_inputs_and_is_reproducible():
    bad = lambda dy, x, W, b: (dy @ W.T, -(x.T @ dy), dy.sum(0))  # noqa: E731
    a, b, c = (check_dense_backward(bad, seed=s).message for s in (0, 0, 1))
    assert a == b and a != c
    with pytest.raises(TypeError, match="seed"):
        check_dense_backward(bad, seed=1.5)
    with pytest.raises(TypeError, match="expects your function"):
        check_dense_backward(None)


def test_result_repr_is_short_and_str_is_the_message():
    r = check_dense_forward(SOLUTIONS["dense_forward"])
    assert repr(r) == "<ExerciseResult dense_forward: PASSED>"
    assert str(r) == r.message
