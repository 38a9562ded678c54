"""The training loop: :func:`fit` and its one step, :func:`train_step`.

Training, as the lesson writes it::

    for epoch in range(epochs):
        shuffle the rows
        for each mini-batch:
            model.kl_weight = kl_schedule(step)          # beta for this step (optional)
            model.zero_grad()
            loss, parts = model.loss(batch, rng=rng)     # forward
            model.backward()                             # grads += d loss / d params
            clip_grad_norm(model, clip_norm)             # optional
            optimizer.step()                             # params -= update(grads)
            model.after_step()                           # optional: EMA codebook, AAE phases
        validation loss, latent diagnostics, one row of the History, callbacks

Around it, :mod:`minivae.train.guard` keeps training safe: the loss, the gradients and the
parameters are checked every step, and on divergence (``TrainingDiverged``), Ctrl-C or any
error the model goes back to the end of the last completed epoch.

Determinism: all randomness (shuffling, the noise of stochastic models, the validation noise)
derives from one seed, so two runs with the same seed give identical histories (apart from the
wall-clock times, see :meth:`History.to_dict`).

The loop needs no model class: any object with the methods of :class:`TrainableModel` (every
:class:`~minivae.models.base.Model` has them) can be trained.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

import numpy as np

from minivae._validation import check_positive_int, check_rng, check_scalar
from minivae.fast.blas import threads_for_training
from minivae.fast.workspace import clear as clear_workspace
from minivae.train.callbacks import Callback, EarlyStopping, as_callback, progress_callbacks
from minivae.train.evaluation import (
    Data,
    check_data,
    evaluate,
    latent_diagnostics,
    split_validation,
)
from minivae.train.guard import LastGoodPoint, Watch, bad_gradient, bad_loss, bad_parameter
from minivae.train.history import History
from minivae.train.optim import SGD, Adam, Momentum, Optimizer, clip_grad_norm
from minivae.train.schedules import get_kl_schedule

OPTIMIZERS: dict[str, type[Optimizer]] = {"sgd": SGD, "momentum": Momentum, "adam": Adam}
DEFAULT_LR = 1e-3


class TrainableModel(Protocol):
    """What :func:`fit` uses of a model (see :class:`minivae.models.base.Model` for the
    contract of each method)."""

    beta: float
    kl_weight: float
    training: bool

    def check_inputs(self, X: Any, *, mask: Any = None, y: Any = None, name: str = "X"
                     ) -> tuple[np.ndarray, np.ndarray | None, Any]: ...
    def make_batch(self, X: np.ndarray, y: Any = None) -> Any: ...
    def loss(self, batch: Any, *, rng: Any = None, mask: Any = None
             ) -> tuple[float, dict[str, float]]: ...
    def backward(self) -> None: ...
    def zero_grad(self) -> None: ...
    def parameters(self) -> Iterator[tuple[str, np.ndarray, np.ndarray]]: ...
    def per_example_loss(self, batch: Any, *, rng: Any = None, mask: Any = None
                         ) -> dict[str, np.ndarray]: ...
    def posterior(self, batch: Any, *, mask: Any = None) -> Any: ...
    def train(self, mode: bool = True) -> Any: ...
    def eval(self) -> Any: ...
    def release_caches(self) -> None: ...
    def state_dict(self) -> dict[str, np.ndarray]: ...
    def load_state_dict(self, state: dict[str, np.ndarray]) -> None: ...


_MODEL_METHODS = ("check_inputs", "make_batch", "loss", "backward", "zero_grad", "parameters",
                  "per_example_loss", "posterior", "train", "eval", "state_dict",
                  "load_state_dict")


def fit(model: TrainableModel, X: np.ndarray, *, y: np.ndarray | None = None,
        mask: np.ndarray | None = None, epochs: int = 10, batch_size: int = 64,
        optimizer: str | Optimizer = "adam", lr: float | None = None,
        clip_norm: float | None = None, kl_schedule: object = None, validation: object = None,
        early_stopping: EarlyStopping | bool | None = None,
        callbacks: Sequence[Callback | Callable[..., Any]] = (),
        rng: np.random.Generator | int | None = None, shuffle: bool = True, verbose: int = 1,
        diagnostics: bool = True) -> History:
    """Train ``model`` on X with mini-batch gradient descent; returns the :class:`History`.

    Args:
        X, y, mask: inputs (N, D) or (N, T, D); labels (N,) for conditional models (CVAE);
            boolean mask, True = observed (X's shape, or (N, T)); NaN in X only where False.
        epochs, batch_size: passes over the data (>= 1); rows per step (the last may be fewer).
        optimizer, lr: "adam", "sgd" or "momentum" with learning rate ``lr`` (default 1e-3),
            or an :class:`~minivae.train.optim.Optimizer` built on this model (then no ``lr``).
        clip_norm: clip the global gradient norm to this value every step (None: no clipping).
        kl_schedule: None keeps ``model.beta``; else 0.5, "linear:1000", a schedule (see
            :func:`~minivae.train.schedules.get_kl_schedule`) setting ``model.kl_weight`` before
            each step; a string ends at the model's ``beta`` unless it names ``beta_max``.
        validation: None; a fraction in (0, 1) of X held out (its *last* rows); an array X_val;
            or :class:`~minivae.train.evaluation.Validation` (X, y, mask).
        early_stopping: None, or :class:`~minivae.train.callbacks.EarlyStopping` (True: the
            defaults, patience 5 on "val_loss" or, without validation, "loss").
        callbacks: :class:`~minivae.train.callbacks.Callback` objects or functions
            ``f(epoch, logs, model)`` run after every epoch; returning True stops training.
        rng: Generator or int seed (default 0) of the shuffling (if ``shuffle``), the model's
            noise and the validation noise (three independent streams derived from it).
        verbose: 0 silent; 1 a line per epoch (and a progress bar on a terminal); 2 line and bar.
        diagnostics: record ``kl_per_dim`` and ``active_units`` every epoch (validation data,
            else training data; at most 5000 rows).

    Masks: a mask that hides every value (of the training or of the validation data) is
    refused.  A mini-batch in which every value is hidden is skipped: no step, not counted in
    the epoch's mean loss, counted in ``history.skipped_steps`` (a row with nothing observed in
    a batch with observed rows adds only its KL term).

    Fail safe (see :mod:`minivae.train.guard`): every step the loss, the gradients and the
    parameters are checked.  When one is NaN/inf or a parameter explodes, when the run is
    interrupted (Ctrl-C) or when anything else raises inside the loop, the parameters and the
    optimizer state go back to the end of the last completed epoch (or the start), so the
    model matches the last row of its History, which is attached to the exception as
    ``err.history``; ``kl_weight`` and the mode are restored too.

    Raises:
        TrainingDiverged: (also a FloatingPointError and a RuntimeError) a NaN/inf loss,
            gradient or parameter, or one beyond ``PARAM_LIMIT``; the message names the epoch,
            the step, the quantity and the learning rate, and says what to try.
        KeyboardInterrupt: re-raised after the restore, so a sweep script still stops.
    """
    _check_model(model)
    epochs = check_positive_int(epochs, "epochs")
    batch_size = check_positive_int(batch_size, "batch_size")
    if clip_norm is not None:
        clip_norm = check_scalar(clip_norm, "clip_norm", low=0.0, low_inclusive=False)
    train, val = split_validation(model, check_data(model, X, y, mask), validation)
    _check_observed(train, "mask")
    _check_observed(val, "validation mask")
    opt = make_optimizer(optimizer, model, lr)
    beta_at = None if kl_schedule is None else get_kl_schedule(
        kl_schedule, default_beta_max=float(getattr(model, "beta", 1.0)))  # ends at the beta
    shuffle_rng, noise_rng, val_seed = random_streams(0 if rng is None else rng)
    hooks = _callbacks(callbacks, early_stopping, verbose, epochs)
    history = History()
    # LastGoodPoint: on divergence, Ctrl-C or any error, the parameters and optimizer state go
    # back to the end of the last completed epoch (see minivae/train/guard.py).
    with _training(model), LastGoodPoint(model, opt, history) as last_good:
        for hook in hooks:
            hook.on_train_begin(model)
        for epoch in range(1, epochs + 1):
            start = time.perf_counter()
            order = shuffle_rng.permutation(len(train.X)) if shuffle else np.arange(len(train.X))
            logs = {"epoch": epoch}
            logs.update(_train_epoch(model, opt, train, order, batch_size, epoch=epoch,
                                     history=history, hooks=hooks, beta_at=beta_at,
                                     rng=noise_rng, clip_norm=clip_norm))
            logs.update(_evaluate_epoch(model, opt, train, val, val_seed, epoch, diagnostics))
            logs["time"] = time.perf_counter() - start
            history.append(logs)
            last_good.save()
            if _stop_requested(hooks, epoch, logs, model, history):
                break
        for hook in hooks:
            hook.on_train_end(model, history)
    return history


def _train_epoch(model: TrainableModel, opt: Optimizer, train: Data, order: np.ndarray,
                 batch_size: int, *, epoch: int, history: History, hooks: list[Callback],
                 beta_at: Callable[[int], float] | None, rng: np.random.Generator,
                 clip_norm: float | None) -> dict[str, float]:
    """One pass over the rows in ``order``, a step per mini-batch; returns the means of the
    loss parts over the epoch (each batch weighted by its size).  A batch in which the mask
    hides every value is skipped (no step; counted in ``history.skipped_steps``)."""
    n_batches = math.ceil(len(order) / batch_size)
    sums: dict[str, float] = {}
    n_rows = 0
    for b in range(n_batches):
        rows = order[b * batch_size:(b + 1) * batch_size]
        batch = train.rows(rows)
        if batch.mask is not None and not batch.mask.any():
            history.skipped_steps += 1  # nothing observed: nothing to learn from
            continue
        if beta_at is not None:
            model.kl_weight = beta_at(history.steps)
        where = f"epoch {epoch}, step {b + 1}/{n_batches} (global step {history.steps})"
        parts = train_step(model, opt, model.make_batch(batch.X, batch.y), batch.mask,
                           rng=rng, clip_norm=clip_norm, where=where, epoch=epoch,
                           batch_index=b + 1)
        history.steps += 1
        n_rows += len(rows)
        for key, value in parts.items():
            sums[key] = sums.get(key, 0.0) + value * len(rows)
        for hook in hooks:
            hook.on_batch_end(epoch, b + 1, n_batches, parts)
    return {key: total / n_rows for key, total in sums.items()}


def train_step(model: TrainableModel, optimizer: Optimizer, batch: Any,
               mask: np.ndarray | None = None, *, rng: np.random.Generator | None = None,
               clip_norm: float | None = None, where: str = "this step",
               epoch: int | None = None, batch_index: int | None = None) -> dict[str, float]:
    """One optimisation step on a mini-batch; returns its loss parts (floats)::

        model.zero_grad()
        loss, parts = model.loss(batch, rng=rng, mask=mask)
        model.backward()
        clip_grad_norm(model, clip_norm)      # when clip_norm is given
        optimizer.step()
        parts |= model.after_step() or {}     # when the model has an after_step hook

    with the checks of :mod:`minivae.train.guard` around it.  ``batch`` and ``mask`` must be
    validated data (``fit`` validates the data once, before training): a failed NaN/inf check
    inside the model's forward pass is then reported as divergence.

    ``model.after_step()`` (optional) is the hook for updates that are not a gradient step of
    this loss and so never run inside ``backward``: the VQ-VAE's EMA codebook update, the
    adversarial autoencoder's discriminator and generator phases.  It may return extra parts
    to log (a dict of floats); the parameter check runs after it.

    Raises:
        TrainingDiverged: (a FloatingPointError) the loss, a part of it or a gradient is NaN or
            inf (the parameters are then unchanged), or after the step a parameter is NaN/inf
            or beyond ``PARAM_LIMIT``; the message names ``where``, the quantity and the lr.
    """
    _check_step_objects(model, optimizer)
    if clip_norm is not None:
        clip_norm = check_scalar(clip_norm, "clip_norm", low=0.0, low_inclusive=False)
    model.zero_grad()
    watch = Watch(optimizer.lr, where, epoch=epoch, batch=batch_index)
    # Overflow warnings are silenced: any inf/NaN that matters is caught by the watch, with a
    # message saying where it happened.
    with np.errstate(all="ignore"), watch:
        value, parts = model.loss(batch, rng=rng, mask=mask)
        watch.check(bad_loss(value, parts))
        model.backward()
        watch.check(bad_gradient(model.parameters()))
    if clip_norm is not None:
        clip_grad_norm(model, clip_norm)
    optimizer.step()
    after_step = getattr(model, "after_step", None)
    if callable(after_step):  # updates that are no gradient of the loss (see the docstring)
        with np.errstate(all="ignore"), watch:
            parts = {**parts, **(after_step() or {})}
    watch.check(bad_parameter(model.parameters()))
    return {key: float(v) for key, v in parts.items()}


def _check_step_objects(model: object, optimizer: object) -> None:
    """``model`` has what one step calls (zero_grad, loss, backward, parameters), ``optimizer``
    has an ``lr`` and a ``step``."""
    needed = ("zero_grad", "loss", "backward", "parameters")
    missing = [m for m in needed if not callable(getattr(model, m, None))]
    if missing:
        raise TypeError(f"model must be a trainable model (with {', '.join(needed)}), got "
                        f"{type(model).__name__} without {', '.join(missing)}")
    if not callable(getattr(optimizer, "step", None)) or not hasattr(optimizer, "lr"):
        raise TypeError("optimizer must be an optimizer with .lr and .step() (e.g. "
                        f"minivae.Adam(model)), got {type(optimizer).__name__}")


def _evaluate_epoch(model: TrainableModel, opt: Optimizer, train: Data, val: Data | None,
                    val_seed: int, epoch: int, diagnostics: bool) -> dict[str, Any]:
    """The end-of-epoch measurements, in eval mode: ``val_*`` (the validation loss parts,
    with the same noise every epoch so epochs compare on equal terms), the latent diagnostics,
    and the ``beta`` and ``lr`` of the epoch's last step."""
    logs: dict[str, Any] = {}
    what = "validation" if val is not None else "diagnostics"
    watch = Watch(opt.lr, f"the end of epoch {epoch} ({what})", epoch=epoch)
    model.eval()
    try:
        with np.errstate(all="ignore"), watch:
            if val is not None:
                values = evaluate(model, val, np.random.default_rng(val_seed))
                watch.check(bad_loss(values["loss"], values))
                logs.update({"val_" + key: value for key, value in values.items()})
            if diagnostics:
                logs.update(latent_diagnostics(model, train if val is None else val))
    finally:
        model.train()
    logs["beta"] = float(model.kl_weight)
    logs["lr"] = float(opt.lr)
    return logs


def _stop_requested(hooks: list[Callback], epoch: int, logs: dict[str, Any],
                    model: TrainableModel, history: History) -> bool:
    """Run every callback's end-of-epoch hook; the first one asking to stop gives the reason."""
    stop = [hook for hook in hooks if hook.on_epoch_end(epoch, logs, model)]
    if stop:
        history.stopped_early = True
        history.stop_reason = stop[0].stop_reason or "callback"
    return bool(stop)


# --------------------------------------------------------------------------------- set-up
def _check_model(model: object) -> None:
    missing = [name for name in _MODEL_METHODS if not callable(getattr(model, name, None))]
    if missing:
        raise TypeError(f"model must be a minivae Model (or have its training methods; "
                        f"missing {missing}), got {type(model).__name__}")


def _check_observed(data: Data | None, name: str) -> None:
    """Training on data whose mask hides every value would report loss 0 and learn nothing."""
    if data is not None and data.mask is not None and not data.mask.any():
        part = "training" if name == "mask" else "validation"
        raise ValueError(f"{name} hides every value of the {part} data (all False, shape "
                         f"{data.mask.shape}; True = observed): there is nothing to train on "
                         "or measure")


def make_optimizer(optimizer: str | Optimizer, model: TrainableModel,
                   lr: float | None) -> Optimizer:
    """``optimizer`` by name ("adam", "sgd", "momentum"; lr default 1e-3) on the model's
    parameters, or an Optimizer instance unchanged (then ``lr`` must be None)."""
    if isinstance(optimizer, str):
        key = optimizer.lower()
        if key not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)} or an Optimizer, "
                             f"got {optimizer!r}")
        lr = DEFAULT_LR if lr is None else check_scalar(lr, "lr", low=0.0, low_inclusive=False)
        return OPTIMIZERS[key](model, lr=lr)
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be a name {sorted(OPTIMIZERS)} or an Optimizer, "
                        f"got {type(optimizer).__name__}")
    if lr is not None:
        raise ValueError("lr was given together with an Optimizer instance; set the learning "
                         "rate when constructing the optimizer (or assign optimizer.lr)")
    return optimizer


def random_streams(rng: object) -> tuple[np.random.Generator, np.random.Generator, int]:
    """Independent generators for the shuffling and the model's noise, and a fixed seed for
    the validation noise, all drawn from ``rng`` (a Generator or an int seed)."""
    base = check_rng(rng, "rng")
    s_shuffle, s_noise, s_val = (int(s) for s in base.integers(0, 2**63 - 1, size=3))
    return np.random.default_rng(s_shuffle), np.random.default_rng(s_noise), s_val


def _callbacks(callbacks: Sequence[object], early_stopping: object, verbose: int,
               epochs: int) -> list[Callback]:
    """Progress output first, then the user's callbacks, then early stopping."""
    if isinstance(callbacks, (Callback, str)) or callable(callbacks) or \
            not isinstance(callbacks, (list, tuple)):
        raise TypeError("callbacks must be a list of callbacks, e.g. callbacks=[my_callback], "
                        f"got {type(callbacks).__name__}")
    hooks = progress_callbacks(verbose, epochs)
    hooks += [as_callback(cb, f"callbacks[{i}]") for i, cb in enumerate(callbacks)]
    if early_stopping is True:
        early_stopping = EarlyStopping()
    if isinstance(early_stopping, EarlyStopping):
        hooks.append(early_stopping)
    elif early_stopping not in (None, False):
        raise TypeError("early_stopping must be None or EarlyStopping(patience=..., ...), "
                        f"got {type(early_stopping).__name__}")
    return hooks


@contextmanager
def _training(model: TrainableModel) -> Iterator[None]:
    """Training mode and the BLAS thread policy while the block runs; afterwards the model's
    own ``kl_weight`` and mode are back, even after an error."""
    saved_kl_weight, was_training = model.kl_weight, model.training
    model.train()
    try:
        # NumPy's BLAS is kept to one thread meanwhile: its products round differently on
        # 1 and 2 threads (same seed, same bits needs one), and spinning BLAS threads steal
        # cores from the LSTM kernels; minivae/fast/blas.py has the measurements.
        with threads_for_training(model):
            yield
    finally:
        model.kl_weight = saved_kl_weight
        model.train(was_training)
        model.release_caches()  # after fit the model holds its parameters (and gradients) only
        clear_workspace()  # and the compiled kernels' buffer pool gives its free buffers back
