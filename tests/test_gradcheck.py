"""The gradient checker itself: numerics, messages on planted bugs, models, registry and CLI."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from minivae.gradcheck import (
    BUILTIN_CHECKS,
    REGISTRY,
    GradCheckResult,
    check_function,
    check_gradient,
    check_layer,
    check_model,
    format_table,
    main,
    numerical_gradient,
    register_check,
    relative_error,
    run_checks,
    sample_indices,
    unregister_check,
)
from minivae.nn import MLP, Dense, Layer, ReLU
from minivae.objectives import losses
from minivae.objectives.distributions import DiagonalGaussian


# =========================================================================== numerical_gradient
def test_numerical_gradient_closure_and_argument_forms():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4))
    expected = 3 * x**2  # d/dx sum(x^3)
    g_closure = numerical_gradient(lambda: np.sum(x**3), x)
    g_arg = numerical_gradient(lambda v: np.sum(v**3), x)
    np.testing.assert_allclose(g_closure, expected, rtol=1e-8, atol=1e-8)
    np.testing.assert_array_equal(g_closure, g_arg)


def test_numerical_gradient_restores_x_bit_for_bit_even_on_error():
    x = np.array([0.1, 1e-300, -3.7, np.pi])
    before = x.copy()
    numerical_gradient(lambda: float(np.sum(np.sin(x))), x)
    assert np.array_equal(x, before) and x.tobytes() == before.tobytes()

    calls = []

    def explode():
        calls.append(x.copy())
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        numerical_gradient(explode, x)
    assert calls[0][0] != before[0]  # it was perturbed ...
    assert x.tobytes() == before.tobytes()  # ... and restored


def test_numerical_gradient_subset_is_seeded_and_nan_elsewhere():
    x = np.random.default_rng(1).standard_normal((10, 10))
    g1 = numerical_gradient(lambda: np.sum(x**2), x, max_entries=7, rng=3)
    g2 = numerical_gradient(lambda: np.sum(x**2), x, max_entries=7, rng=3)
    checked = ~np.isnan(g1)
    assert checked.sum() == 7
    np.testing.assert_array_equal(np.isnan(g1), np.isnan(g2))
    np.testing.assert_allclose(g1[checked], 2 * x[checked], atol=1e-7)  # |f| ~ 100: noise ~1e-8
    assert sample_indices((10, 10), 7, 3) == sample_indices((10, 10), 7, 3)
    assert len(sample_indices((2, 3), None)) == 6


def test_numerical_gradient_explicit_indices():
    x = np.arange(6.0).reshape(2, 3)
    g = numerical_gradient(lambda: np.sum(x**2), x, indices=[(0, 1), 5])
    assert np.isnan(g).sum() == 4
    assert g[0, 1] == pytest.approx(2.0, rel=1e-8) and g[1, 2] == pytest.approx(10.0, rel=1e-8)
    with pytest.raises(ValueError, match="out of range"):
        numerical_gradient(lambda: np.sum(x), x, indices=[(2, 0)])


def test_numerical_gradient_refuses_float32_with_an_explanation():
    x = np.ones((2, 2), dtype=np.float32)
    with pytest.raises(TypeError, match="float64") as info:
        numerical_gradient(lambda: float(np.sum(x)), x)
    assert "rounding" in str(info.value)


def test_numerical_gradient_bad_f():
    x = np.ones(3)
    with pytest.raises(ValueError, match="scalar"):
        numerical_gradient(lambda: x * 2, x)
    with pytest.raises(TypeError, match="tuple"):
        numerical_gradient(lambda: (1.0, {}), x)
    with pytest.raises(TypeError, match="no argument"):
        numerical_gradient(lambda a, b: 0.0, x)
    with pytest.raises(TypeError, match="numpy array"):
        numerical_gradient(lambda: 0.0, [1.0, 2.0])


# =============================================================================== relative_error
def test_relative_error_hand_worked():
    r = relative_error(np.array([1.0, 0.0, 2.0, 1.0]), np.array([1.0, 0.0, -2.0, 3.0]))
    # equal -> 0; both zero -> 0 (the floor avoids 0/0); opposite signs -> 1; |1-3|/(1+3)
    np.testing.assert_array_equal(r, [0.0, 0.0, 1.0, 0.5])
    assert relative_error(0.0, 1e-20) == 1.0  # one exactly zero: completely different
    assert relative_error(1e-9, 0.0, floor=1.0) == pytest.approx(1e-9)  # floor-limited


# ================================================================================ check_gradient
def test_check_gradient_pass_and_str():
    x = np.random.default_rng(2).standard_normal((3, 4))
    res = check_gradient(lambda: np.sum(np.tanh(x)), x, 1 - np.tanh(x) ** 2, name="x")
    assert res.passed and res.max_rel_error < 1e-7 and res.n_checked == 12
    assert str(res).startswith("dx: PASS, max relative error")


def test_check_gradient_wrong_shape_is_a_failed_result_with_a_shape_hint():
    x = np.ones((2, 3))
    res = check_gradient(lambda: np.sum(x), x, np.ones((3, 2)), name="W")
    assert not res.passed and res.max_rel_error == np.inf
    assert "TRANSPOSED" in str(res) and "(2, 3)" in str(res)
    res = check_gradient(lambda: np.sum(x[0]), x[0], np.ones((4, 3)), name="b")
    assert "sum over the batch axis" in str(res)


def test_check_gradient_refuses_small_entries_only_within_noise():
    # The true gradient of 1e-12 * sum(x^2) is tiny everywhere: relative errors of pure
    # finite-difference noise must not fail (the noise floor) ...
    x = np.random.default_rng(3).standard_normal(5)
    f = lambda: 1.0 + 1e-12 * np.sum(x**2)  # noqa: E731
    assert check_gradient(f, x, 2e-12 * x).passed
    # ... a small gradient that is wrong by more than the noise fails, judged absolutely ...
    res = check_gradient(f, x, 2e-12 * x + 1e-6)
    assert not res.passed and "compared absolutely" in str(res)
    # ... and a wrong *large* gradient fails too.
    assert not check_gradient(lambda: np.sum(x**2), x, x).passed


# ============================================================================ planted bugs
class BuggyDense(Dense):
    """Dense with one deliberate mistake in backward."""

    def __init__(self, D: int, M: int, bug: str, rng: int = 0) -> None:
        super().__init__(D, M, rng=rng)
        self.bug = bug
        self.params["b"][...] = np.linspace(-0.5, 0.5, M)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        x = self.cache
        dW = x.T @ dy
        db = dy.sum(axis=0)
        dx = dy @ self.params["W"].T
        if self.bug == "factor2":
            dW = 2.0 * dW
        elif self.bug == "sign":
            db = -db
        elif self.bug == "transpose":
            dW = dW.T  # only silent for a square W
        elif self.bug == "batch_mean":
            dW = dW / x.shape[0]
        elif self.bug == "forget_db":
            db = np.zeros_like(db)
        elif self.bug == "dx_transposed":
            dx = dx.T
        if self.bug == "assign":
            self.grads["W"][...] = dW  # overwrites instead of accumulating
        else:
            self.grads["W"] += dW
        self.grads["b"] += db
        return dx


def _by_name(results: list[GradCheckResult]) -> dict[str, GradCheckResult]:
    return {r.name: r for r in results}


def _x(N: int = 5, D: int = 3, seed: int = 100) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((N, D))


def test_correct_dense_passes():
    results = check_layer(Dense(3, 4, rng=1), _x(), rng=0)
    assert [r.name for r in results] == ["x", "W", "b", "W (accumulates)", "b (accumulates)"]
    assert all(r.passed for r in results), "\n".join(map(str, results))


def test_planted_factor_two_is_caught_with_name_index_and_hint():
    res = _by_name(check_layer(BuggyDense(3, 4, "factor2"), _x(), rng=0))
    assert res["x"].passed and res["b"].passed
    bad = res["W"]
    assert not bad.passed and bad.max_rel_error == pytest.approx(1 / 3, rel=1e-6)
    text = str(bad)
    assert text.startswith("dW: FAIL")
    assert f"at index {bad.worst_index}" in text and "analytic" in text and "numeric" in text
    assert "usually mean a bug in backward" in text
    assert "analytic ≈ 2 × numeric" in text and "factor of 2" in text.lower()
    assert bad.n_failed == bad.n_checked == 12


def test_planted_sign_flip_is_caught():
    bad = _by_name(check_layer(BuggyDense(3, 4, "sign"), _x(), rng=0))["b"]
    assert not bad.passed and bad.max_rel_error == pytest.approx(1.0)
    assert "db: FAIL" in str(bad) and "SIGN is flipped" in str(bad)
    assert "index (" in str(bad)


def test_planted_transpose_is_caught_on_a_square_weight():
    bad = _by_name(check_layer(BuggyDense(3, 3, "transpose"), _x(), rng=0))["W"]
    assert not bad.passed
    assert "TRANSPOSED" in str(bad) and "dW" in str(bad)


def test_planted_batch_mean_names_the_batch_size():
    bad = _by_name(check_layer(BuggyDense(3, 2, "batch_mean"), _x(N=7), rng=0))["W"]
    assert not bad.passed and "Is 7 the batch size" in str(bad)


def test_planted_missing_gradient_and_wrong_dx_shape():
    res = _by_name(check_layer(BuggyDense(3, 4, "forget_db"), _x(), rng=0))
    assert not res["b"].passed and "exactly zero everywhere" in str(res["b"])
    res = _by_name(check_layer(BuggyDense(3, 4, "dx_transposed"), _x(), rng=0))
    assert not res["x"].passed and "TRANSPOSED" in str(res["x"]) and "(5, 3)" in str(res["x"])


def test_missing_accumulation_is_caught():
    res = _by_name(check_layer(BuggyDense(3, 4, "assign"), _x(), rng=0))
    assert res["W"].passed  # a single backward is right ...
    acc = res["W (accumulates)"]
    assert not acc.passed  # ... but a second one must add
    assert "ASSIGNED instead of adding" in str(acc) and "+=" in str(acc)
    assert res["b (accumulates)"].passed


def test_bug_inside_an_mlp_names_the_qualified_parameter():
    mlp = MLP([3, 4, 2], activation="tanh", rng=0)
    bad_layer = BuggyDense(4, 2, "sign", rng=1)
    mlp.layers[2] = bad_layer
    res = _by_name(check_layer(mlp, _x(), rng=0))
    assert res["layers.0.W"].passed  # the bug flips db only, upstream is unaffected
    assert not res["layers.2.b"].passed
    assert str(res["layers.2.b"]).startswith("d(layers.2.b): FAIL")


def test_check_layer_refuses_float32():
    with pytest.raises(TypeError, match="float64"):
        check_layer(Dense(2, 2, dtype=np.float32), _x(D=2), rng=0)
    with pytest.raises(TypeError, match="float64"):
        check_layer(Dense(2, 2), _x(D=2).astype(np.float32), rng=0)


def test_check_layer_warns_on_relu_kink():
    x = np.array([[0.0, 1.0], [-1.0, 2.0]])
    with pytest.warns(UserWarning, match="kink"):
        check_layer(ReLU(), x, rng=0)


def test_check_layer_wrt_dy_and_input_untouched():
    x = _x()
    before = x.copy()
    layer = Dense(3, 2, rng=0)
    dy = np.ones((5, 2))
    res = check_layer(layer, x, dy=dy, wrt=["b"], check_accumulation=False)
    assert [r.name for r in res] == ["b"] and res[0].passed
    assert np.array_equal(x, before)
    with pytest.raises(ValueError, match="dy must match"):
        check_layer(layer, x, dy=np.ones((5, 3)))
    with pytest.raises(KeyError, match="neither inputs"):
        check_layer(layer, x, wrt=["V"])


# ------------------------------------------------------------------------- adapter pattern
class TwoInTwoOut(Layer):
    """LSTM-shaped interface: forward(x, h) -> (y, (s, t)); backward(dy, ds, dt) -> (dx, dh)."""

    def __init__(self, D: int, H: int, rng: int = 0) -> None:
        super().__init__()
        r = np.random.default_rng(rng)
        self.add_param("W", r.standard_normal((D, H)))
        self.add_param("U", r.standard_normal((H, H)))

    def forward(self, x, h):
        a = x @ self.params["W"] + h @ self.params["U"]
        y = np.tanh(a)
        self.cache = (x, h, y)
        return y, (y.sum(axis=1), h * y)

    def backward(self, dy, ds, dt):
        x, h, y = self.cache
        dy_total = dy + ds[:, None] + dt * h
        da = dy_total * (1 - y**2)
        self.grads["W"] += x.T @ da
        self.grads["U"] += h.T @ da
        dh = da @ self.params["U"].T + dt * y
        return da @ self.params["W"].T, dh


def test_multi_input_multi_output_layer_needs_no_adapter():
    rng = np.random.default_rng(5)
    layer = TwoInTwoOut(3, 2)
    results = check_layer(layer, {"x": rng.standard_normal((4, 3)),
                                  "h": rng.standard_normal((4, 2))}, rng=1)
    assert [r.name for r in results][:4] == ["x", "h", "W", "U"]
    assert all(r.passed for r in results), "\n".join(map(str, results))


def test_adapter_for_a_non_differentiated_argument_and_loss_fn():
    rng = np.random.default_rng(6)
    layer = TwoInTwoOut(3, 2)
    h = rng.standard_normal((4, 2))
    results = check_layer(
        layer, {"x": rng.standard_normal((4, 3))},
        forward_fn=lambda x: layer.forward(x, h)[0],
        backward_fn=lambda dy: layer.backward(dy, np.zeros(4), np.zeros((4, 2)))[0],
        rng=0,
    )
    assert all(r.passed for r in results)
    # a custom loss: L = 0.5 * sum(y^2), dL/dy = y
    results = check_layer(
        Dense(3, 2, rng=0), rng.standard_normal((4, 3)),
        loss_fn=lambda ys: (0.5 * float(np.sum(ys[0] ** 2)), [ys[0]]),
    )
    assert all(r.passed for r in results)


# ================================================================================ check_function
def test_check_function_on_a_loss_and_a_planted_wrong_gradient():
    rng = np.random.default_rng(7)
    pred, target = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    ok = check_function(losses.mse, {"pred": pred, "target": target}, losses.mse_grad,
                        wrt=["pred"])
    assert len(ok) == 1 and ok[0].passed
    bad = check_function(
        lambda pred: losses.mse(pred, target),
        {"pred": pred},
        lambda pred: (pred - target) / pred.shape[0],  # forgot d(u^2)/du = 2u
    )[0]
    assert not bad.passed
    assert "dpred" in str(bad) and "0.5 × numeric" in str(bad) and "factor of 2" in str(bad)


def test_check_function_gradient_tuple_dict_and_errors():
    rng = np.random.default_rng(8)
    inputs = {"mu": rng.standard_normal((2, 3)), "logvar": 0.3 * rng.standard_normal((2, 3))}

    def f(mu, logvar):
        return float(np.sum(DiagonalGaussian(mu, logvar).kl_standard_normal()))

    def g_dict(mu, logvar):
        dmu, dlv = DiagonalGaussian(mu, logvar).kl_standard_normal_grad()
        return {"logvar": dlv, "mu": dmu}

    assert all(r.passed for r in check_function(f, inputs, g_dict))
    with pytest.raises(ValueError, match="one gradient per input"):
        check_function(f, inputs, lambda mu, logvar: mu)
    with pytest.raises(KeyError, match="not among the inputs"):
        check_function(f, inputs, g_dict, wrt=["sigma"])


# ================================================================================ check_model
class TinyVAE(Layer):
    """Just enough of the model interface: a Gaussian encoder, a linear decoder, MSE + KL."""

    def __init__(self, D: int = 4, L: int = 2, rng: int = 0, bug: str = "") -> None:
        super().__init__()
        self.encoder = Dense(D, 2 * L, rng=rng)
        self.decoder = Dense(L, D, rng=rng + 1)
        self.L = L
        self.bug = bug
        self.last_eps = None
        self._saved = None

    def loss(self, batch, rng=None, eps=None):
        x = batch
        h = self.encoder.forward(x)
        q = DiagonalGaussian(h[:, : self.L], h[:, self.L :])
        if self.bug == "fresh_noise":
            eps = None  # ignores the noise it was given: finite differences become useless
            rng = np.random.default_rng() if rng is None else rng
        z = q.rsample(rng, eps=eps)
        self.last_eps = q.eps
        out = self.decoder.forward(z)
        rec = losses.mse(out, x)
        kl = float(np.mean(q.kl_standard_normal()))
        self._saved = (q, out, x)
        return rec + kl, {"reconstruction": rec, "kl": kl}

    def backward(self):
        q, out, x = self._saved
        N = x.shape[0]
        dz = self.decoder.backward(losses.mse_grad(out, x))
        dmu, dlogvar = q.rsample_backward(dz)
        kmu, klogvar = q.kl_standard_normal_grad()
        scale = 1.0 if self.bug == "kl_sum" else 1.0 / N
        self.encoder.backward(np.concatenate([dmu + scale * kmu, dlogvar + scale * klogvar],
                                             axis=1))


def test_check_model_passes_on_a_correct_model():
    x = np.random.default_rng(9).standard_normal((5, 4))
    results = check_model(TinyVAE(), x, rng=3, max_entries=None)
    names = [r.name for r in results]
    assert names[:4] == ["encoder.W", "encoder.b", "decoder.W", "decoder.b"]
    assert "encoder.W (accumulates)" in names
    assert all(r.passed for r in results), "\n".join(map(str, results))


def test_check_model_catches_a_backward_bug_and_subsets_entries():
    x = np.random.default_rng(10).standard_normal((5, 4))
    res = _by_name(check_model(TinyVAE(bug="kl_sum"), x, rng=3, max_entries=3))
    assert res["encoder.W"].n_checked == 3
    assert not res["encoder.b"].passed and "d(encoder.b): FAIL" in str(res["encoder.b"])
    assert res["decoder.W"].passed  # the KL does not reach the decoder


def test_check_model_requires_reproducible_noise():
    x = np.random.default_rng(11).standard_normal((3, 4))
    with pytest.raises(RuntimeError, match="last_eps"):
        check_model(TinyVAE(bug="fresh_noise"), x, rng=0)


# ================================================================================= format_table
def test_format_table_lists_every_result():
    results = check_layer(BuggyDense(2, 2, "sign"), _x(D=2), rng=0, check_accumulation=False)
    table = format_table(results)
    lines = table.splitlines()
    assert [c.strip() for c in lines[0].split("|")] == ["name", "shape", "max rel err", "tol",
                                                        "result"]
    assert any(line.startswith("b ") and line.endswith("FAIL") for line in lines)
    assert any(line.startswith("W ") and "2x2" in line and line.endswith("PASS") for line in lines)
    assert lines[-1] == "3 gradients checked, 1 failed"


# ======================================================================== registry and the CLI
def test_cli_passes_on_every_builtin(capsys):
    assert main(["--builtin", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    for name in BUILTIN_CHECKS:
        assert f"{name}: " in out
    for name in ("dense", "dense.time_distributed", "activation.relu", "mlp.relu",
                 "loss.gaussian.masked", "kl.gaussians", "gaussian.rsample", "gaussian.log_prob"):
        assert name in BUILTIN_CHECKS
    assert "all gradients match" in out


def test_python_dash_m_entry_point():
    proc = subprocess.run(
        [sys.executable, "-m", "minivae.gradcheck", "--builtin", "--only", "dense", "--seed", "2"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "dense.time_distributed: W" in proc.stdout and "0 failed" in proc.stdout


def test_cli_passes_on_every_registered_check(capsys):
    # Everything, including the checks that the LSTM and model modules register via the hook.
    assert main([]) == 0, capsys.readouterr().out


def test_cli_only_list_and_no_match(capsys):
    assert main(["--only", "activation.*", "--verbose"]) == 0
    out = capsys.readouterr().out
    assert "activation.tanh: x" in out and "dense" not in out and "PASS, max relative" in out
    assert main(["--list"]) == 0
    assert "loss.bernoulli.masked" in capsys.readouterr().out.split()
    assert main(["--only", "no-such-check"]) == 2


@pytest.fixture
def broken_check():
    name = "zz_test.broken_backward"

    def check(rng):
        return check_layer(BuggyDense(3, 3, "factor2"), rng.standard_normal((4, 3)), rng=rng)

    register_check(name, check)
    try:
        yield name
    finally:
        unregister_check(name)
    assert name not in REGISTRY


def test_cli_fails_when_a_registered_check_fails(broken_check, capsys):
    assert main(["--only", broken_check]) == 1
    out = capsys.readouterr().out
    assert f"{broken_check}: W" in out and "FAIL" in out
    assert f"[{broken_check}] dW: FAIL" in out and "factor of 2" in out.lower()
    assert main(["--only", "zz_test.*"]) == 1  # a glob


def test_crashing_check_is_reported_not_raised(capsys):
    @register_check("zz_test.crash")
    def crash(rng):
        raise ValueError("shape mismatch in my new layer")

    try:
        results = run_checks(only="zz_test.crash")
        assert len(results) == 1 and not results[0].passed and results[0].status == "ERROR"
        assert "shape mismatch in my new layer" in str(results[0])
        assert main(["--only", "zz_test.crash"]) == 1
        assert "ERROR" in capsys.readouterr().out
    finally:
        unregister_check("zz_test.crash")


def test_register_check_refuses_duplicates():
    with pytest.raises(ValueError, match="already registered"):
        register_check("dense", lambda rng: [])
    with pytest.raises(ValueError, match="no gradient check named"):
        unregister_check("zz_test.never_registered")


def test_each_check_draws_the_same_numbers_alone_or_with_others():
    alone = run_checks(seed=4, only="kl.gaussians")
    together = [r for r in run_checks(seed=4, only="kl")
                if r.check == "kl.gaussians"]
    assert [(r.name, r.shape, r.max_rel_error) for r in alone] == [
        (r.name, r.shape, r.max_rel_error) for r in together]
    other_seed = run_checks(seed=5, only="kl.gaussians")
    assert [r.max_rel_error for r in other_seed] != [r.max_rel_error for r in alone]


def test_a_user_registered_check_runs_and_a_crashing_check_fails_with_its_error():
    def ok_check(rng):
        x = rng.standard_normal(3)
        return [check_gradient(lambda: np.sum(x**2), x, 2 * x, name="x")]

    def broken_check(rng):
        raise RuntimeError("half-written check")

    register_check("zz_user.ok", ok_check)
    register_check("zz_user.broken", broken_check)
    try:
        by_check = {r.check: r for r in run_checks(only="zz_")}
        assert by_check["zz_user.ok"].passed
        broken = by_check["zz_user.broken"]
        assert not broken.passed and "half-written check" in str(broken)
    finally:
        REGISTRY.pop("zz_user.ok", None)
        REGISTRY.pop("zz_user.broken", None)
