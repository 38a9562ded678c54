"""Training that fails safe (issue 14, item 2) and fit's rules for masks that hide everything.

* divergence (NaN/inf or an exploding parameter, also when it surfaces as a failed check inside
  the model's forward pass) raises TrainingDiverged naming the step, the quantity and the lr,
  after putting back the parameters and optimizer state of the last completed epoch;
* Ctrl-C (KeyboardInterrupt) leaves the model at the end of the last completed epoch, keeps the
  History so far on the exception and is re-raised;
* optimizer hyper-parameters are checked, also when assigned after construction;
* a mask that hides every value is refused; a batch that hides every value is skipped.
"""

from __future__ import annotations

import _thread
import signal
import threading

import numpy as np
import pytest

import minivae
from minivae.models import VAE, Autoencoder
from minivae.train import guard
from minivae.train import loop as loop_module
from minivae.train.callbacks import Callback
from minivae.train.evaluation import Validation
from minivae.train.guard import TrainingDiverged
from minivae.train.loop import fit
from minivae.train.optim import SGD, Adam, Momentum


def data(n=64, d=6, seed=0):
    return np.random.default_rng(seed).random((n, d))


def params_of(model):
    return {name: p.copy() for name, p, _ in model.parameters()}


def assert_params_equal(model, expected):
    got = params_of(model)
    assert got.keys() == expected.keys()
    for name in got:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)


def assert_optimizer_equal(opt, state):
    now = opt.state_dict()
    assert now.keys() == state.keys()
    for key in now:
        np.testing.assert_array_equal(np.asarray(now[key]), np.asarray(state[key]), err_msg=key)


class Recorder(Callback):
    """Copies of the parameters and optimizer state at the end of every epoch."""

    def __init__(self, opt, act=None):
        self.opt, self.act = opt, act
        self.params, self.opt_states = [], []

    def on_epoch_end(self, epoch, logs, model):
        self.params.append(params_of(model))
        self.opt_states.append(self.opt.state_dict())
        if self.act is not None:
            self.act(epoch, self.opt)


# ------------------------------------------------------------------------------ divergence
def test_absurd_learning_rate_raises_training_diverged_and_restores_the_start():
    """The issue's case: main stops with an input-validation message about mu and leaves the
    parameters at 1e191; now the error names the step, quantity and lr, and nothing moved."""
    X = data()
    model = VAE(6, [8], 2, rng=0)
    before = params_of(model)
    opt = SGD(model, lr=1e6)
    with pytest.raises(TrainingDiverged) as info:
        fit(model, X, optimizer=opt, epochs=3, batch_size=16, verbose=0)
    err = info.value
    assert isinstance(err, RuntimeError) and isinstance(err, FloatingPointError)
    assert minivae.TrainingDiverged is TrainingDiverged
    msg = str(err)
    assert "epoch 1, step 1/4" in msg and "lr=1e+06" in msg
    assert "lower the learning rate" in msg and "clip_norm" in msg
    assert "restored to the start" in msg
    assert "pass missing values as NaN" not in msg  # not an input-validation message
    assert (err.epoch, err.batch, err.lr) == (1, 1, 1e6)
    assert err.quantity.startswith("parameter '") and err.quantity[len("parameter "):] in msg
    assert err.restored_epoch == 0 and len(err.history) == 0 and err.history.steps == 0
    assert_params_equal(model, before)
    assert opt.t == 0 and opt.lr == 1e6
    assert model.training and model.kl_weight == model.beta


def test_divergence_after_good_epochs_restores_the_last_good_epoch():
    """Two good epochs, then the learning rate is thrown up: epoch 3 diverges, and the
    parameters, the Adam moments and step count, and the History are those of epoch 2."""
    X = data(48)
    model = VAE(6, [8], 2, rng=1)
    opt = Adam(model, lr=1e-3)

    def blow_up(epoch, optimizer):
        if epoch == 2:
            optimizer.lr = 1e7

    rec = Recorder(opt, blow_up)
    with pytest.raises(TrainingDiverged) as info:
        fit(model, X, optimizer=opt, epochs=5, batch_size=16, callbacks=[rec], verbose=0)
    err = info.value
    assert err.epoch == 3 and err.batch == 1 and err.lr == 1e7 and err.restored_epoch == 2
    assert "restored to the end of epoch 2" in str(err)
    assert_params_equal(model, rec.params[1])
    assert_optimizer_equal(opt, rec.opt_states[1])
    assert opt.lr == 1e-3 and opt.t == 6
    assert err.history.epoch == [1, 2] and err.history.steps == 6
    assert "TrainingDiverged stopped training" in err.history.stop_reason
    assert "restored to the end of epoch 2" in err.history.stop_reason


def test_nonfinite_value_inside_the_forward_pass_is_divergence_not_bad_input(monkeypatch):
    """Without the parameter limit the overflow surfaces as a failed NaN check inside the
    model ("pred contains ... non-finite"): on validated data that is divergence."""
    monkeypatch.setattr(guard, "PARAM_LIMIT", np.inf)
    X = np.random.default_rng(0).random((256, 10))
    model = VAE(10, [16], 4, rng=0)
    opt = SGD(model, lr=1e6)
    rec = Recorder(opt)
    rec.params.append(params_of(model))  # index 0: the start
    with pytest.raises(TrainingDiverged) as info:
        fit(model, X, optimizer=opt, epochs=3, callbacks=[rec], verbose=0)
    err = info.value
    assert err.quantity == "a value inside the model"
    assert isinstance(err.__cause__, ValueError) and "non-finite" in str(err.__cause__)
    assert "the data were validated before training" in str(err)
    assert_params_equal(model, rec.params[err.restored_epoch])


def test_nonfinite_gradient_names_the_parameter_and_restores():
    X = data(40)
    model = VAE(6, [5], 2, rng=0)
    opt = Adam(model)
    original, calls = model.backward, []

    def poisoned():
        original()
        calls.append(1)
        if len(calls) == 5:  # epoch 2, step 2 (3 steps per epoch)
            model.decoder.layers[0].grads["W"][0, 0] = np.nan

    model.backward = poisoned
    rec = Recorder(opt)
    with pytest.raises(TrainingDiverged, match=r"non-finite gradient at epoch 2, step 2/3 .*"
                                               r"in parameter 'decoder.layers.0.W'") as info:
        fit(model, X, optimizer=opt, epochs=3, batch_size=16, callbacks=[rec], verbose=0)
    assert info.value.quantity == "gradient of 'decoder.layers.0.W'"
    assert_params_equal(model, rec.params[0])
    assert opt.t == 3


def test_nonfinite_validation_loss_is_divergence(monkeypatch):
    X = data(48)
    model = VAE(6, [5], 2, rng=0)
    real, calls = loop_module.evaluate, []

    def evaluate(*args):
        calls.append(1)
        out = real(*args)
        return {**out, "loss": np.inf} if len(calls) == 2 else out

    monkeypatch.setattr(loop_module, "evaluate", evaluate)
    with pytest.raises(TrainingDiverged, match="end of epoch 2 \\(validation\\)") as info:
        fit(model, X, validation=0.25, epochs=3, batch_size=12, verbose=0)
    assert (info.value.epoch, info.value.batch) == (2, None)
    assert len(info.value.history) == 1


def test_other_errors_inside_the_loop_are_not_called_divergence_but_still_restore():
    X = data(48)
    model = VAE(6, [5], 2, rng=0)
    opt = Adam(model)
    original, calls = model.loss, []

    def loss(*args, **kwargs):
        calls.append(1)
        if len(calls) == 4:
            raise ValueError("a bug in a custom model")
        return original(*args, **kwargs)

    model.loss = loss
    rec = Recorder(opt)
    with pytest.raises(ValueError, match="a bug in a custom model") as info:
        fit(model, X, optimizer=opt, epochs=2, batch_size=16, callbacks=[rec], verbose=0)
    assert not isinstance(info.value, TrainingDiverged)
    assert_params_equal(model, rec.params[0])
    assert opt.t == 3 and len(info.value.history) == 1


def test_parameters_that_are_bad_before_training_are_refused():
    model = VAE(6, [5], 2, rng=0)
    model.encoder.layers[0].params["b"][0] = np.nan
    with pytest.raises(ValueError, match="encoder.layers.0.b.*before training"):
        fit(model, data(), epochs=1, verbose=0)


# ---------------------------------------------------------------------------------- Ctrl-C
class InterruptAt(Callback):
    def __init__(self, epoch, batch):
        self.at = (epoch, batch)

    def on_batch_end(self, epoch, batch, n_batches, parts):
        if (epoch, batch) == self.at:
            raise KeyboardInterrupt


def test_ctrl_c_mid_epoch_restores_the_last_completed_epoch_and_reraises():
    X = data(64)
    model = VAE(6, [8], 2, rng=3)
    opt = Adam(model, lr=1e-2)
    rec = Recorder(opt)
    with pytest.raises(KeyboardInterrupt) as info:
        fit(model, X, optimizer=opt, epochs=4, batch_size=16, kl_schedule="linear:100",
            callbacks=[rec, InterruptAt(2, 3)], verbose=0)
    history = info.value.history
    assert history.epoch == [1] and history.steps == 4 and opt.t == 4
    assert history.stop_reason == ("KeyboardInterrupt stopped training; parameters and "
                                   "optimizer state restored to the end of epoch 1")
    assert_params_equal(model, rec.params[0])
    assert_optimizer_equal(opt, rec.opt_states[0])
    assert model.training and model.kl_weight == model.beta  # schedule's beta not left behind
    # the model goes on from there exactly as an uninterrupted run does
    rerun = VAE(6, [8], 2, rng=3)
    fit(rerun, X, optimizer=Adam(rerun, lr=1e-2), epochs=1, batch_size=16,
        kl_schedule="linear:100", verbose=0)
    assert_params_equal(rerun, rec.params[0])


@pytest.fixture
def sigint_raises():
    """Python's own Ctrl-C handler for the test: a shell that starts pytest in the background
    (`cmd &`, as some CI runners do) leaves SIGINT ignored, and then `interrupt_main` would do
    nothing and the 10,000-epoch run below would never stop."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.mark.parametrize("delay", [0.0, 0.013, 0.031, 0.05, 0.077, 0.12])
def test_ctrl_c_at_any_moment_leaves_a_consistent_model(delay, sigint_raises):
    """A real asynchronous interrupt (as Ctrl-C delivers it) at several moments: the model,
    the optimizer and the History always agree on one completed epoch."""
    X = data(96)
    box = {}

    def run(callbacks, epochs):
        model = VAE(6, [16], 3, rng=5)
        opt = box["opt"] = Adam(model, lr=3e-3)
        box["model"] = model
        return fit(model, X, optimizer=opt, epochs=epochs, batch_size=8, callbacks=callbacks,
                   verbose=0)

    started = threading.Event()

    class Started(Callback):
        def on_batch_end(self, epoch, batch, n_batches, parts):
            started.set()

    def interrupt():
        started.wait(10)
        threading.Event().wait(delay)
        _thread.interrupt_main()

    thread = threading.Thread(target=interrupt)
    thread.start()
    try:
        with pytest.raises(KeyboardInterrupt) as info:
            run([Started()], 10_000)
    finally:
        thread.join()
    model, opt, history = box["model"], box["opt"], info.value.history
    done = len(history)
    assert history.metrics.get("epoch", []) == list(range(1, done + 1))
    assert history.steps == 12 * done
    assert opt.t == history.steps
    # the parameters are exactly those of an uninterrupted run of `done` epochs
    if done:
        run([], done)
        expected = params_of(box["model"])
    else:
        expected = params_of(VAE(6, [16], 3, rng=5))
    assert_params_equal(model, expected)


# ------------------------------------------------------------------------- optimizer inputs
@pytest.mark.parametrize("make, match", [
    (lambda m: SGD(m, lr=float("nan")), "lr must be finite"),
    (lambda m: SGD(m, lr=0.0), "lr must be > 0"),
    (lambda m: SGD(m, lr=0.1, weight_decay=-1e-4), "weight_decay must be >= 0"),
    (lambda m: Momentum(m, lr=0.1, momentum=1.0), "momentum must be < 1"),
    (lambda m: Adam(m, betas=(0.9, 1.0)), r"betas\[1\] must be < 1"),
    (lambda m: Adam(m, betas=(-0.1, 0.9)), r"betas\[0\] must be >= 0"),
    (lambda m: Adam(m, eps=0.0), "eps must be > 0"),
    (lambda m: Adam(m, eps=float("inf")), "eps must be finite"),
])
def test_optimizer_hyperparameters_are_checked(make, match):
    with pytest.raises(ValueError, match=match):
        make(VAE(4, [3], 2))


@pytest.mark.parametrize("attr, value, match", [
    ("beta1", 1.5, r"betas\[0\] must be < 1"),
    ("eps", -1.0, "eps must be > 0"),
    ("weight_decay", float("nan"), "weight_decay must be finite"),
])
def test_hyperparameters_assigned_later_are_refused_before_a_step(attr, value, match):
    model = VAE(4, [3], 2, rng=0)
    opt = Adam(model)
    before = params_of(model)
    setattr(opt, attr, value)
    with pytest.raises(ValueError, match=match):
        opt.step()
    assert_params_equal(model, before)
    assert opt.t == 0
    with pytest.raises(ValueError, match="momentum must be < 1"):
        mom = Momentum(model, lr=0.1)
        mom.momentum = 1.0
        mom.step()


def test_optimizer_state_with_nan_or_a_float_step_count_is_refused():
    model = VAE(4, [3], 2, rng=0)
    opt = Adam(model)
    state = opt.state_dict()
    key = "m/" + next(iter(opt.state["m"]))
    bad = state[key].copy()
    bad.flat[0] = np.nan
    with pytest.raises(ValueError, match=f"state {key}: 1 non-finite"):
        opt.load_state_dict({**state, key: bad})
    with pytest.raises(ValueError, match=r"step count\) must be an integer"):
        opt.load_state_dict({**state, "t": 2.5})


# ------------------------------------------------------------------------ masks hiding all
def test_a_mask_hiding_every_value_is_refused():
    """On main this trained and reported loss 0."""
    X = data(32)
    mask = np.zeros(X.shape, dtype=bool)
    for model in (Autoencoder(6, [4], 2, output="mse", rng=0), VAE(6, [4], 2, rng=0)):
        with pytest.raises(ValueError, match="mask hides every value of the training data"):
            fit(model, np.where(mask, X, np.nan), mask=mask, epochs=1, verbose=0)
    # observed values only in the rows held out for validation: nothing to train on
    mask[24:] = True
    with pytest.raises(ValueError, match="hides every value of the training data"):
        fit(VAE(6, [4], 2), X, mask=mask, validation=0.25, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="validation mask hides every value"):
        fit(VAE(6, [4], 2), X, validation=Validation(X[:8], mask=np.zeros((8, 6), bool)),
            epochs=1, verbose=0)


def test_a_batch_hiding_every_value_is_skipped():
    """The rule: no step, not in the epoch's mean, counted in history.skipped_steps.  So the
    run equals, bit for bit, a run without those rows."""
    X = data(64)
    mask = np.ones(X.shape, dtype=bool)
    mask[:16] = False  # the first batch of every epoch (no shuffling)
    Xm = np.where(mask, X, np.nan)
    kw = {"epochs": 3, "batch_size": 16, "shuffle": False, "verbose": 0, "diagnostics": False}
    a, b = VAE(6, [5], 2, rng=0), VAE(6, [5], 2, rng=0)
    ha = fit(a, Xm, mask=mask, **kw)
    hb = fit(b, X[16:], mask=mask[16:], **kw)
    assert ha.skipped_steps == 3 and hb.skipped_steps == 0
    assert ha.steps == hb.steps == 9
    assert ha.loss == hb.loss and all(v > 0 for v in ha.loss)
    assert_params_equal(a, params_of(b))
    assert ha.to_dict()["skipped_steps"] == 3


def test_an_overflow_error_from_inside_the_model_is_divergence():
    X = data(32)
    model = VAE(6, [5], 2, rng=0)
    before = params_of(model)

    def loss(*args, **kwargs):
        raise FloatingPointError("overflow encountered in exp")

    model.loss = loss
    with pytest.raises(TrainingDiverged, match="non-finite value inside the model at epoch 1, "
                                               "step 1/2.*FloatingPointError") as info:
        fit(model, X, epochs=1, batch_size=16, verbose=0)
    assert isinstance(info.value.__cause__, FloatingPointError)
    assert_params_equal(model, before)


def test_history_rewind_drops_what_came_after_the_mark():
    h = minivae.History()
    h.append({"epoch": 1, "loss": 3.0})
    mark = h.lengths()
    h.append({"epoch": 2, "loss": 2.0, "val_loss": 2.5})  # a key that starts later
    h.rewind(mark)
    assert h.to_dict()["metrics"] == {"epoch": [1], "loss": [3.0]}
