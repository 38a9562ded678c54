"""The training loop: learning, determinism, validation, early stopping, NaN guard, inputs."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from minivae.models import CVAE, VAE, Autoencoder, Model
from minivae.nn import Dense
from minivae.train import callbacks as callbacks_module
from minivae.train import guard
from minivae.train.callbacks import Callback, EarlyStopping
from minivae.train.evaluation import Validation
from minivae.train.history import History
from minivae.train.loop import fit, train_step
from minivae.train.optim import SGD, Adam
from minivae.train.schedules import LinearKLWarmup


def make_data(n=240, d=12, seed=0):
    """Binary data from 3 noisy prototypes: a VAE can learn it in a few epochs."""
    rng = np.random.default_rng(seed)
    protos = rng.random((3, d)) > 0.5
    labels = rng.integers(0, 3, n)
    X = (rng.random((n, d)) < np.where(protos[labels], 0.9, 0.1)).astype(float)
    return X, labels


KW = {"epochs": 3, "batch_size": 32, "lr": 3e-3, "verbose": 0}


def test_vae_lowers_its_loss():
    X, _ = make_data()
    model = VAE(12, [16], 3, rng=0)
    before = model.per_example_loss(X, rng=0)["loss"].mean()
    hist = fit(model, X, **{**KW, "epochs": 8}, validation=0.25, rng=0)
    after = model.per_example_loss(X, rng=0)["loss"].mean()
    assert after < before - 1.0
    assert hist["loss"][-1] < hist["loss"][0]
    assert hist["val_loss"][-1] < hist["val_loss"][0]
    assert len(hist) == 8 and hist["epoch"] == list(range(1, 9))
    assert hist.steps == 8 * int(np.ceil(180 / 32))


def test_same_seed_same_history_different_seed_differs():
    X, _ = make_data()
    runs = []
    for seed in (5, 5, 6):
        model = VAE(12, [16], 3, rng=0)
        h = fit(model, X, **KW, validation=0.2, rng=seed, kl_schedule="linear:10")
        runs.append((h.to_dict(include_time=False), model.state_dict()))
    assert runs[0][0] == runs[1][0]
    assert all(np.array_equal(runs[0][1][k], runs[1][1][k]) for k in runs[0][1])
    assert runs[0][0] != runs[2][0]
    # rng= a Generator gives the same run as the same int seed
    model = VAE(12, [16], 3, rng=0)
    h = fit(model, X, **KW, validation=0.2, rng=np.random.default_rng(5),
            kl_schedule="linear:10")
    assert h.to_dict(include_time=False) == runs[0][0]


def test_history_contents_and_json():
    X, _ = make_data()
    model = VAE(12, [16], 3, rng=0)
    h = fit(model, X, **KW, validation=X[:40], rng=0)
    for key in ("epoch", "loss", "reconstruction", "kl", "elbo", "val_loss",
                "val_reconstruction", "val_kl", "kl_per_dim", "active_units", "lr", "beta",
                "time"):
        assert key in h and len(h[key]) == 3, key
    assert all(len(row) == 3 for row in h.kl_per_dim)
    # kl_per_dim is measured on the validation set and sums to its mean KL
    np.testing.assert_allclose(
        sum(h.kl_per_dim[-1]), model.per_example_loss(X[:40], rng=0)["kl"].mean(), rtol=1e-10)
    assert all(0 <= a <= 3 for a in h.active_units)
    assert h.lr == [3e-3] * 3 and h.beta == [1.0] * 3
    for loss, rec, kl in zip(h.loss, h.reconstruction, h.kl):
        assert loss == pytest.approx(rec + kl, rel=1e-12)
    d = h.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert "time" not in h.to_dict(include_time=False)["metrics"]
    assert History.from_dict(d).to_dict() == d
    with pytest.raises(KeyError, match="available"):
        h["nope"]


def test_kl_schedule_sets_beta_and_is_restored():
    X, _ = make_data(n=64)
    model = VAE(12, [8], 2, rng=0, beta=0.7)
    seen = []
    orig = model.loss

    def spy(batch, **kw):
        seen.append(model.kl_weight)
        return orig(batch, **kw)

    model.loss = spy
    h = fit(model, X, epochs=2, batch_size=16, kl_schedule=LinearKLWarmup(1.0, 4), verbose=0)
    assert seen == [0.0, 0.25, 0.5, 0.75, 1.0, 1.0, 1.0, 1.0]
    assert h.beta == [0.75, 1.0]
    assert model.kl_weight == 0.7  # the model's own beta is back after training
    seen.clear()
    fit(model, X, epochs=1, batch_size=16, verbose=0)  # no schedule: the model's beta
    assert seen == [0.7] * 4


def test_autoencoder_and_cvae_train():
    X, labels = make_data()
    ae = Autoencoder(12, [8], 3, rng=0)
    h = fit(ae, X, **KW)
    assert h.loss[-1] < h.loss[0] and "kl_per_dim" not in h
    cvae = CVAE(12, 3, [16], 2, rng=0)
    h = fit(cvae, X, y=labels, **KW, validation=0.2)
    assert h.loss[-1] < h.loss[0] and "val_loss" in h
    with pytest.raises(ValueError, match="needs labels"):
        fit(cvae, X, **KW)
    with pytest.raises(ValueError, match="takes no labels"):
        fit(ae, X, y=labels, **KW)


def test_mask_training_with_missing_values():
    X = np.random.default_rng(0).standard_normal((64, 6))
    mask = np.random.default_rng(1).random(X.shape) < 0.8
    Xnan = np.where(mask, X, np.nan)
    model = VAE(6, [8], 2, likelihood="gaussian", rng=0)
    h = fit(model, Xnan, mask=mask, validation=0.25, epochs=2, batch_size=16, verbose=0)
    assert np.all(np.isfinite(h.loss)) and np.all(np.isfinite(h.val_loss))
    with pytest.raises(ValueError, match="X contains"):
        fit(model, Xnan, epochs=1, verbose=0)  # NaN without a mask


def test_early_stopping_restores_best_parameters():
    X, _ = make_data()
    model = VAE(12, [16], 3, rng=0)
    snapshots = {}

    def remember(epoch, logs, m):
        snapshots[epoch] = m.state_dict()

    # min_delta so large that nothing after epoch 1 counts as an improvement
    h = fit(model, X, **{**KW, "epochs": 10}, validation=0.2,
            early_stopping=EarlyStopping(patience=2, min_delta=1e9), callbacks=[remember])
    assert len(h) == 3 and h.stopped_early and h.best_epoch == 1
    assert "early stopping" in h.stop_reason
    state = model.state_dict()
    assert all(np.array_equal(state[k], snapshots[1][k]) for k in state)
    assert not all(np.array_equal(state[k], snapshots[3][k]) for k in state)


def test_early_stopping_waits_while_improving():
    X, _ = make_data()
    model = VAE(12, [16], 3, rng=0)
    h = fit(model, X, **{**KW, "epochs": 4},
            early_stopping=EarlyStopping(patience=1, monitor="loss"))
    assert len(h) == 4 and not h.stopped_early and h.best_epoch == 4


def test_early_stopping_true_uses_the_defaults_and_an_instance_can_be_reused():
    X, _ = make_data()
    runs = []
    stopper = EarlyStopping(patience=1, min_delta=1e9)
    for _ in range(2):  # the same instance twice: its state is reset when training begins
        h = fit(VAE(12, [16], 3, rng=0), X, **{**KW, "epochs": 5}, validation=0.2,
                early_stopping=stopper)
        runs.append((len(h), h.best_epoch, h.stop_reason))
    assert runs[0] == runs[1] == (2, 1, runs[0][2]) and "val_loss" in runs[0][2]
    h = fit(VAE(12, [16], 3, rng=0), X, **{**KW, "epochs": 2}, early_stopping=True)
    assert h.best_epoch is not None and not h.stopped_early  # patience 5 > 2 epochs
    h = fit(VAE(12, [16], 3, rng=0), X, **{**KW, "epochs": 2})
    assert h.best_epoch is None  # only early stopping tracks the best epoch


@pytest.mark.parametrize("kwargs, err, match", [
    ({"patience": 0}, ValueError, "patience must be >= 1"),
    ({"min_delta": -1.0}, ValueError, "min_delta"),
    ({"monitor": 3}, TypeError, "monitor must be a history key"),
])
def test_bad_early_stopping_arguments(kwargs, err, match):
    with pytest.raises(err, match=match):
        EarlyStopping(**kwargs)


def test_validation_fraction_holds_out_the_last_rows():
    """validation=0.25 trains and evaluates exactly as the explicit split of the last rows."""
    X, labels = make_data(n=80)
    a = fit(CVAE(12, 3, [8], 2, rng=0), X, y=labels, **KW, validation=0.25, rng=1)
    b = fit(CVAE(12, 3, [8], 2, rng=0), X[:60], y=labels[:60], **KW, rng=1,
            validation=Validation(X[60:], y=labels[60:]))
    assert a.to_dict(include_time=False) == b.to_dict(include_time=False)
    c = fit(VAE(12, [8], 2, rng=0), X[:60], **KW, rng=1, validation=X[60:])
    d = fit(VAE(12, [8], 2, rng=0), X[:60], **KW, rng=1, validation=Validation(X[60:]))
    assert c.to_dict(include_time=False) == d.to_dict(include_time=False)
    with pytest.raises(ValueError, match="needs labels"):
        fit(CVAE(12, 3, [8], 2), X[:60], y=labels[:60], **KW, validation=X[60:])


class Recorder(Callback):
    def __init__(self):
        self.events = []

    def on_train_begin(self, model):
        self.events.append("begin")

    def on_batch_end(self, epoch, batch, n_batches, parts):
        self.events.append((epoch, batch, n_batches, round(parts["loss"], 12)))

    def on_epoch_end(self, epoch, logs, model):
        self.events.append(("epoch", epoch, logs["epoch"]))

    def on_train_end(self, model, history):
        self.events.append(("end", len(history)))


def test_callback_hooks_run_in_order():
    X, _ = make_data(n=40)
    rec = Recorder()
    h = fit(VAE(12, [4], 2, rng=0), X, epochs=2, batch_size=16, verbose=0, callbacks=[rec])
    batches = [e for e in rec.events if isinstance(e[0], int)]
    assert rec.events[0] == "begin" and rec.events[-1] == ("end", 2)
    assert [e[:3] for e in batches] == [(1, 1, 3), (1, 2, 3), (1, 3, 3),
                                        (2, 1, 3), (2, 2, 3), (2, 3, 3)]
    assert rec.events[4] == ("epoch", 1, 1) and rec.events[8] == ("epoch", 2, 2)
    # the epoch's loss is the size-weighted mean of its batches' losses (16, 16 and 8 rows)
    first = [e[3] for e in batches[:3]]
    assert h.loss[0] == pytest.approx((16 * first[0] + 16 * first[1] + 8 * first[2]) / 40)


def test_callback_can_stop():
    X, _ = make_data(n=64)
    model = VAE(12, [8], 2, rng=0)
    h = fit(model, X, epochs=5, verbose=0, callbacks=[lambda e, logs, m: e == 2])
    assert len(h) == 2 and h.stop_reason == "callback"


def test_optimizer_instance_and_clipping():
    X, _ = make_data(n=64)
    model = VAE(12, [8], 2, rng=0)
    opt = SGD(model, lr=0.05)
    h = fit(model, X, epochs=2, batch_size=16, optimizer=opt, clip_norm=1.0, verbose=0)
    assert h.lr == [0.05, 0.05] and opt.t == 2 * 4
    with pytest.raises(ValueError, match="lr was given"):
        fit(model, X, epochs=1, optimizer=Adam(model), lr=0.1, verbose=0)
    with pytest.raises(ValueError, match="optimizer must be one of"):
        fit(model, X, epochs=1, optimizer="rmsprop", verbose=0)


# ------------------------------------------------------------------------------ NaN guard
def test_nan_guard_absurd_learning_rate(monkeypatch):
    X = np.random.default_rng(0).standard_normal((64, 5))
    model = VAE(5, [8], 2, likelihood="gaussian", rng=0)
    with pytest.raises(FloatingPointError) as info:
        fit(model, X, epochs=5, batch_size=16, optimizer="sgd", lr=1e6, verbose=0)
    msg = str(info.value)
    # the first step already throws a parameter past the limit
    assert "exploding parameter at epoch 1, step 1/4" in msg
    assert "lower the learning rate" in msg and "lr=1e+06" in msg and "clip_norm" in msg
    # without the limit the loss overflows two steps later, and the part is named
    monkeypatch.setattr(guard, "PARAM_LIMIT", np.inf)
    model = VAE(5, [8], 2, likelihood="gaussian", rng=0)
    with pytest.raises(FloatingPointError) as info:
        fit(model, X, epochs=5, batch_size=16, optimizer="sgd", lr=1e6, verbose=0)
    msg = str(info.value)
    assert "epoch 1, step 3/4" in msg
    assert "reconstruction = inf" in msg  # names the offending part


class BrokenGradModel(Model):
    """A minimal Model (linear map, squared error) whose backward poisons one gradient at a
    given step: exercises the generic interface and the gradient part of the guard."""

    input_ndim = (2,)

    def __init__(self, bad_step):
        super().__init__()
        self.input_dim = 3
        self.lin = Dense(3, 3, rng=0)
        self.bad_step, self.calls = bad_step, 0

    def config(self):
        return {"bad_step": self.bad_step}

    def loss(self, batch, *, rng=None, eps=None, mask=None):
        X, _, _ = self.check_inputs(batch)
        out = self.lin.forward(X)
        self._pending = {"d": 2 * (out - X) / len(X)}
        value = float(np.mean(np.sum((out - X) ** 2, axis=1)))
        return value, {"loss": value, "reconstruction": value, "kl": 0.0}

    def backward(self):
        self.lin.backward(self._take_pending()["d"])
        self.calls += 1
        if self.calls == self.bad_step:
            self.lin.grads["b"][1] = np.nan

    def per_example_loss(self, batch, *, rng=None, mask=None):
        out = self.lin.forward(batch)
        rec = np.sum((out - batch) ** 2, axis=1)
        return {"loss": rec, "reconstruction": rec, "kl": np.zeros(len(batch))}


def test_nan_guard_names_the_parameter():
    X = np.random.default_rng(0).standard_normal((20, 3))
    with pytest.raises(FloatingPointError, match=r"epoch 2, step 2/3 .*parameter 'lin.b'"):
        fit(BrokenGradModel(bad_step=5), X, epochs=3, batch_size=8, verbose=0)


# ---------------------------------------------------------------------------- bad inputs
@pytest.mark.parametrize("kwargs, err, match", [
    ({"epochs": 0}, ValueError, "epochs must be >= 1"),
    ({"epochs": 1.5}, TypeError, "epochs must be an integer"),
    ({"batch_size": 0}, ValueError, "batch_size must be >= 1"),
    ({"batch_size": -4}, ValueError, "batch_size"),
    ({"validation": 1.0}, ValueError, "validation must be <"),
    ({"validation": 0.0}, ValueError, "validation must be >"),
    ({"validation": 0.001}, ValueError, "validation=0.001"),
    ({"validation": (np.zeros((3, 12)), None)}, TypeError, r"Validation\(X, y=None"),
    ({"validation": np.zeros((3, 11))}, ValueError, "validation.X must have 12 features"),
    ({"validation": Validation(np.zeros((3, 12)), y=np.zeros(3))}, ValueError, "takes no labels"),
    ({"clip_norm": 0.0}, ValueError, "clip_norm"),
    ({"early_stopping": "yes"}, TypeError, "early_stopping must be None or EarlyStopping"),
    ({"kl_schedule": "warp:3"}, ValueError, "unknown name"),
    ({"seed": 0}, TypeError, "seed"),
    ({"rng": "abc"}, TypeError, "rng must be"),
    ({"early_stopping": EarlyStopping(monitor="val_loss")}, ValueError, "monitor='val_loss'"),
    ({"callbacks": [3]}, TypeError, r"callbacks\[0\]"),
    ({"callbacks": lambda e, logs, m: False}, TypeError, "list of callbacks"),
    ({"verbose": 3}, ValueError, "verbose must be 0, 1 or 2"),
])
def test_bad_fit_arguments(kwargs, err, match):
    X, _ = make_data(n=40)
    with pytest.raises(err, match=match):
        fit(VAE(12, [4], 2), X, **{"epochs": 1, "verbose": 0, **kwargs})


@pytest.mark.parametrize("X, err, match", [
    (np.zeros((10, 5)), ValueError, r"X must have 12 features .* got shape \(10, 5\)"),
    (np.zeros(12), ValueError, "X must have 2 dimensions"),
    (np.zeros((0, 12)), ValueError, "X is empty"),
    (np.array([["x"] * 12]), TypeError, "X must hold real numbers"),
    ({"a": 1}, TypeError, "X must be a numpy array"),
    (np.full((4, 12), np.nan), ValueError, "X contains 48 non-finite"),
])
def test_bad_data(X, err, match):
    with pytest.raises(err, match=match):
        fit(VAE(12, [4], 2), X, epochs=1, verbose=0)


def test_not_a_model():
    with pytest.raises(TypeError, match="model must be a minivae Model"):
        fit(object(), np.zeros((3, 3)))


# ------------------------------------------------------------------------------- progress
class FakeTTY(io.StringIO):
    def isatty(self):
        return True


def test_progress_output(monkeypatch):
    X, _ = make_data(n=64)
    out = io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    fit(VAE(12, [4], 2), X, epochs=2, batch_size=16, verbose=1)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and lines[0].startswith("epoch 1/2") and "\r" not in out.getvalue()
    assert "loss" in lines[0] and "val" not in lines[0] and lines[1].endswith("s")
    tty = FakeTTY()
    monkeypatch.setattr("sys.stdout", tty)
    monkeypatch.setattr(callbacks_module, "PROGRESS_DELAY_S", 0.0)
    fit(VAE(12, [4], 2), X, epochs=1, batch_size=16, verbose=1)
    assert "\repoch 1/1:" in tty.getvalue() and "/4 [" in tty.getvalue()  # the tqdm bar
    quiet = io.StringIO()
    monkeypatch.setattr("sys.stdout", quiet)
    fit(VAE(12, [4], 2), X, epochs=1, verbose=0)
    assert quiet.getvalue() == ""
    fit(VAE(12, [4], 2), X, epochs=1, batch_size=16, verbose=2)
    assert "\r" in quiet.getvalue()  # verbose=2: the bar even off a terminal
    assert quiet.getvalue().rstrip().splitlines()[-1].startswith("epoch 1/1")


def test_training_mode_is_restored():
    X, _ = make_data(n=32)
    model = VAE(12, [4], 2)
    model.eval()
    fit(model, X, epochs=1, verbose=0)
    assert model.training is False
    model.train()
    fit(model, X, epochs=1, verbose=0)
    assert model.training is True


def test_model_fit_delegates():
    X, _ = make_data(n=64)
    a, b = VAE(12, [8], 2, rng=0), VAE(12, [8], 2, rng=0)
    ha = a.fit(X, epochs=2, verbose=0, rng=3)
    hb = fit(b, X, epochs=2, verbose=0, rng=3)
    assert ha.to_dict(False) == hb.to_dict(False)


# --------------------------------------------------------------- sequences with (N, T) masks
class TinySeqModel(Model):
    """A per-time-step linear autoencoder on (N, T, D) with a masked squared error: stands in
    for the sequence models to check that fit() passes (N, T) mask batches along with X."""

    input_ndim = (3,)

    def __init__(self):
        super().__init__()
        self.input_dim = 2
        self.lin = Dense(2, 2, rng=0)
        self.mask_shapes = []

    def config(self):
        return {}

    def _terms(self, batch, mask):
        X, mask, _ = self.check_inputs(batch, mask=mask)
        self.mask_shapes.append(None if mask is None else mask.shape)
        m = np.ones(X.shape, bool) if mask is None else np.broadcast_to(mask[..., None], X.shape)
        X0 = np.where(m, X, 0.0)
        out = self.lin.forward(X0)
        return X0, out, m

    def loss(self, batch, *, rng=None, eps=None, mask=None):
        X0, out, m = self._terms(batch, mask)
        self._pending = {"d": 2 * (out - X0) * m / len(X0)}
        value = float(np.sum((out - X0) ** 2 * m) / len(X0))
        return value, {"loss": value, "reconstruction": value, "kl": 0.0}

    def backward(self):
        self.lin.backward(self._take_pending()["d"])

    def per_example_loss(self, batch, *, rng=None, mask=None):
        X0, out, m = self._terms(batch, mask)
        rec = np.sum((out - X0) ** 2 * m, axis=(1, 2))
        return {"loss": rec, "reconstruction": rec, "kl": np.zeros(len(rec))}


def test_sequence_model_with_time_step_mask():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((24, 5, 2))
    mask = rng.random((24, 5)) < 0.7
    Xnan = np.where(mask[..., None], X, np.nan)
    model = TinySeqModel()
    h = fit(model, Xnan, mask=mask, epochs=3, batch_size=8, validation=0.25, lr=0.05,
            verbose=0)
    assert h.loss[-1] < h.loss[0]
    assert (8, 5) in model.mask_shapes and (6, 5) in model.mask_shapes  # train and val masks
    bad = Xnan.copy()
    bad[0, 0, 0] = np.nan
    mask_bad = mask.copy()
    mask_bad[0, 0] = True
    with pytest.raises(ValueError, match="mask marks observed"):
        fit(TinySeqModel(), bad, mask=mask_bad, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"mask must have shape \(24, 5, 2\) or \(24, 5\)"):
        fit(TinySeqModel(), Xnan, mask=np.ones((24, 2), bool), epochs=1, verbose=0)


def test_string_kl_schedule_warms_up_to_the_model_beta():
    """'linear:N' on a beta-VAE ends at the model's beta, not at 1 (unless beta_max is named)."""
    from minivae.models import VAE

    X = np.random.default_rng(0).random((16, 5))
    vae = VAE(5, [4], 2, beta=3.0, rng=0)
    h = vae.fit(X, epochs=3, batch_size=8, kl_schedule="linear:2", verbose=0)
    assert h["beta"][-1] == pytest.approx(3.0)
    h = vae.fit(X, epochs=3, batch_size=8, kl_schedule="linear:2,beta_max=0.5", verbose=0)
    assert h["beta"][-1] == pytest.approx(0.5)


def test_train_step_is_zero_grad_loss_backward_step():
    """One train_step with SGD moves every parameter by -lr * (its gradient of this batch's
    loss) and returns that loss's parts; the same noise is drawn as by model.loss."""
    X, _ = make_data(n=16)
    model, twin = VAE(12, [4], 2, rng=0), VAE(12, [4], 2, rng=0)
    for _, _, g in model.parameters():
        g += 1.0  # stale gradients: the step must clear them first
    twin.zero_grad()
    value, parts = twin.loss(X, rng=np.random.default_rng(3))
    twin.backward()
    got = train_step(model, SGD(model, lr=0.1), X, rng=np.random.default_rng(3))
    assert got == {k: float(v) for k, v in parts.items()} and got["loss"] == value
    for (name, p, _), (_, p0, g0) in zip(model.parameters(), twin.parameters()):
        np.testing.assert_allclose(p, p0 - 0.1 * g0, rtol=1e-13, atol=1e-15, err_msg=name)
