"""The training loop: mini-batches, seeded shuffling, validation, history, progress, NaN guard.

One step, for any :class:`~minivae.models.Model`::

    model.kl_weight = kl_schedule(step)          # beta for this step
    model.zero_grad()
    loss, parts = model.loss(batch, rng=rng, mask=mask_batch)
    model.backward()                             # grads += d loss / d params
    clip_grad_norm(model, clip_norm)             # optional
    optimizer.step()

At the end of every epoch the loop evaluates the validation set (if any), measures the latent
space (KL per dimension, active units) and appends one row to the :class:`History`.

Determinism: all randomness (shuffling, the noise of stochastic models, the validation noise)
derives from one seed, so two runs with the same seed give identical histories (apart from the
wall-clock times, see :meth:`History.to_dict`).
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from typing import Any

import numpy as np

from minivae._validation import check_positive_int, check_rng, check_scalar
from minivae.fast.blas import threads_for_training
from minivae.models.base import Model
from minivae.train.diagnostics import active_units, kl_per_dimension_mean
from minivae.train.optim import SGD, Adam, Momentum, Optimizer, clip_grad_norm, nonfinite_grad_names
from minivae.train.schedules import get_kl_schedule

OPTIMIZERS: dict[str, type[Optimizer]] = {"sgd": SGD, "momentum": Momentum, "adam": Adam}
DEFAULT_LR = 1e-3
# Evaluation passes (validation, latent diagnostics) process at most this many rows at once.
EVAL_CHUNK = 1024
# Latent diagnostics use at most this many rows (plenty for a per-dimension mean and variance,
# and it bounds the extra encoder pass per epoch on large training sets).
DIAGNOSTIC_ROWS = 5000
# A progress bar appears only once an epoch has run this long (short epochs get just the line).
PROGRESS_DELAY_S = 0.5

Callback = Callable[[int, dict[str, Any], Model], Any]


class History:
    """Per-epoch training record.

    ``history["loss"]`` (or ``history.loss``) is a list with one value per epoch.  Keys:

    * ``epoch`` (1-based), ``loss``, ``reconstruction``, ``kl`` and any other part the model's
      ``loss`` reports (e.g. ``elbo``): means over the epoch's training batches, weighted by
      batch size;
    * ``val_loss``, ``val_reconstruction``, ``val_kl`` when there is validation data;
    * ``kl_per_dim`` (a list of L floats: mean KL of each latent dimension over the validation
      set, or the training set without one; at most DIAGNOSTIC_ROWS rows) and ``active_units``
      (Burda et al., 2016) for models with a latent posterior;
    * ``beta`` (KL weight of the epoch's last step), ``lr``, ``time`` (seconds).

    Attributes:
        best_epoch: epoch with the best monitored value (early stopping), else None.
        stopped_early: True when early stopping (or a callback) ended training.
        stop_reason: why training ended before ``epochs``, else None.
        steps: number of optimizer steps taken.
    """

    def __init__(self) -> None:
        self.metrics: dict[str, list[Any]] = {}
        self.best_epoch: int | None = None
        self.stopped_early = False
        self.stop_reason: str | None = None
        self.steps = 0

    def append(self, logs: dict[str, Any]) -> None:
        """Add one epoch's values (keys missing in earlier epochs are allowed)."""
        for key, value in logs.items():
            self.metrics.setdefault(key, []).append(value)

    def __getitem__(self, key: str) -> list[Any]:
        if key not in self.metrics:
            raise KeyError(f"history has no {key!r}; available: {sorted(self.metrics)}")
        return self.metrics[key]

    def __getattr__(self, name: str) -> list[Any]:
        metrics = self.__dict__.get("metrics")
        if metrics is not None and name in metrics:
            return metrics[name]
        raise AttributeError(f"History has no attribute or metric {name!r}")

    def __contains__(self, key: object) -> bool:
        return key in self.metrics

    def __len__(self) -> int:
        return len(self.metrics.get("epoch", []))

    def keys(self) -> list[str]:
        return list(self.metrics)

    def to_dict(self, include_time: bool = True) -> dict[str, Any]:
        """A JSON-able copy.  ``include_time=False`` drops the wall-clock ``time`` column, leaving
        exactly what a seeded run determines (two runs with one seed compare equal)."""
        metrics = {k: [_plain(v) for v in vals] for k, vals in self.metrics.items()
                   if include_time or k != "time"}
        return {"metrics": metrics, "best_epoch": self.best_epoch,
                "stopped_early": self.stopped_early, "stop_reason": self.stop_reason,
                "steps": self.steps}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        """Inverse of :meth:`to_dict`."""
        h = cls()
        h.metrics = {k: list(v) for k, v in data["metrics"].items()}
        h.best_epoch = data.get("best_epoch")
        h.stopped_early = bool(data.get("stopped_early", False))
        h.stop_reason = data.get("stop_reason")
        h.steps = int(data.get("steps", 0))
        return h

    def __repr__(self) -> str:
        return f"History(epochs={len(self)}, keys={sorted(self.metrics)})"


def _plain(value: Any) -> Any:
    """numpy scalars/arrays -> Python floats/lists (JSON-able)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


# ---------------------------------------------------------------------------------- the loop
def fit(
    model: Model,
    X: np.ndarray,
    *,
    y: np.ndarray | None = None,
    mask: np.ndarray | None = None,
    X_val: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
    mask_val: np.ndarray | None = None,
    validation_split: float = 0.0,
    epochs: int = 10,
    batch_size: int = 64,
    optimizer: str | Optimizer = "adam",
    lr: float | None = None,
    kl_schedule: object = None,
    clip_norm: float | None = None,
    early_stopping: bool = False,
    patience: int = 5,
    min_delta: float = 0.0,
    restore_best: bool = True,
    monitor: str | None = None,
    rng: np.random.Generator | int | None = None,
    seed: int | None = None,
    shuffle: bool = True,
    verbose: int | bool = 1,
    progress: bool | None = None,
    callbacks: Sequence[Callback] = (),
    diagnostics: bool = True,
) -> History:
    """Train ``model`` with mini-batch gradient descent.

    Args:
        model: any :class:`~minivae.models.Model`.
        X: training inputs, (N, D) or (N, T, D) as the model expects.
        y: labels (N,) for conditional models (CVAE), else None.
        mask: boolean, X's shape (or (N, T) for sequences), True = observed; NaN in X is only
            allowed where the mask is False.
        X_val, y_val, mask_val: validation data (same conventions).
        validation_split: instead of X_val, hold out this fraction (in [0, 1)) of X: the *last*
            rows, as given (shuffle beforehand if X is ordered, e.g. by class).
        epochs: passes over the training data, >= 1.
        batch_size: >= 1; the last batch of an epoch may be smaller.
        optimizer: "adam", "sgd", "momentum", or an :class:`~minivae.train.optim.Optimizer` built on
            this model's parameters.
        lr: learning rate for a named optimizer (default 1e-3); must be None for an instance.
        kl_schedule: None (keep ``model.beta``) or anything :func:`minivae.train.schedules.
            get_kl_schedule` accepts (0.5, "linear:1000", a schedule object); it sets
            ``model.kl_weight`` before every step from the global step count (a string
            schedule without ``beta_max`` ends at the model's ``beta``).  The model's
            ``kl_weight`` is restored when fit returns.
        clip_norm: if given, clip the global gradient norm to this value every step.
        early_stopping: stop when ``monitor`` has not improved by more than ``min_delta`` for
            ``patience`` epochs; with ``restore_best`` the best epoch's parameters are put back.
        monitor: the history key to minimise (default "val_loss" with validation data, else
            "loss").
        rng, seed: a Generator or int seed (give at most one; default seed 0).  It drives the
            shuffling, the model's noise and the validation noise.
        shuffle: reshuffle the training rows every epoch.
        verbose: 0 silent; 1 one line per epoch (time included).
        progress: a progress bar (redrawn with carriage returns) during epochs lasting more
            than half a second: None (default) shows it when ``verbose`` and stdout is a
            terminal, True always, False never.
        callbacks: callables ``cb(epoch, logs, model)`` run after every epoch; returning True
            stops training.
        diagnostics: record ``kl_per_dim`` and ``active_units`` (one encoder pass per epoch
            over the first DIAGNOSTIC_ROWS rows of the validation data, else of the training
            data).

    Returns:
        The :class:`History`.

    Raises:
        FloatingPointError: when the loss, a part of it or a gradient becomes NaN/inf, naming
            the epoch, the step and the offending part or parameter.
    """
    if not isinstance(model, Model):
        raise TypeError(f"model must be a minivae Model, got {type(model).__name__}")
    epochs = check_positive_int(epochs, "epochs")
    batch_size = check_positive_int(batch_size, "batch_size")
    patience = check_positive_int(patience, "patience")
    min_delta = check_scalar(min_delta, "min_delta", low=0.0)
    if clip_norm is not None:
        clip_norm = check_scalar(clip_norm, "clip_norm", low=0.0, low_inclusive=False)
    validation_split = check_scalar(validation_split, "validation_split", low=0.0, high=1.0,
                                    high_inclusive=False)
    callbacks = list(callbacks)
    for i, cb in enumerate(callbacks):
        if not callable(cb):
            raise TypeError(f"callbacks[{i}] must be callable, got {type(cb).__name__}")

    X, mask, y = model.check_inputs(X, mask=mask, y=y, name="X")
    if X_val is not None:
        if validation_split > 0:
            raise ValueError("give either X_val or validation_split, not both")
        X_val, mask_val, y_val = model.check_inputs(X_val, mask=mask_val, y=y_val, name="X_val")
    elif y_val is not None or mask_val is not None:
        raise ValueError("y_val / mask_val were given without X_val")
    elif validation_split > 0:
        n_val = int(round(X.shape[0] * validation_split))
        if n_val < 1 or n_val >= X.shape[0]:
            raise ValueError(
                f"validation_split={validation_split} of {X.shape[0]} rows leaves "
                f"{n_val} validation and {X.shape[0] - n_val} training rows; both need >= 1"
            )
        cut = X.shape[0] - n_val
        X, X_val = X[:cut], X[cut:]
        mask, mask_val = (None, None) if mask is None else (mask[:cut], mask[cut:])
        y, y_val = (None, None) if y is None else (y[:cut], y[cut:])

    shuffle_rng, noise_rng, val_seed = _streams(rng, seed)
    opt = _make_optimizer(optimizer, model, lr)
    # A string schedule warms up to the model's own beta ("linear:1000" on a beta-VAE with
    # beta=4 ends at 4), unless the string names beta_max itself.
    schedule = None if kl_schedule is None else get_kl_schedule(
        kl_schedule, default_beta_max=float(getattr(model, "beta", 1.0)))
    if monitor is None:
        monitor = "val_loss" if X_val is not None else "loss"

    n = X.shape[0]
    n_batches = math.ceil(n / batch_size)
    history = History()
    saved_kl_weight, was_training = model.kl_weight, model.training
    show_bar = bool(verbose) and _is_tty() if progress is None else bool(progress)
    best_value, best_state, wait = math.inf, None, 0
    step = 0
    model.train()
    # An LSTM model runs its own kernel threads (Numba) or tiny per-step products (NumPy): keep
    # NumPy's BLAS to one thread meanwhile, or its spinning workers steal a core
    # (minivae/blas.py; measured 1.7x per step on the Numba backend).
    thread_policy = ExitStack()
    thread_policy.enter_context(threads_for_training(model))
    try:
        for epoch in range(1, epochs + 1):
            t0 = time.perf_counter()
            order = shuffle_rng.permutation(n) if shuffle else np.arange(n)
            sums: dict[str, float] = {}
            bar = _Progress(epoch, epochs, n_batches, enabled=show_bar)
            for b in range(n_batches):
                idx = order[b * batch_size:(b + 1) * batch_size]
                batch = model.make_batch(X[idx], None if y is None else y[idx])
                mb = None if mask is None else mask[idx]
                if schedule is not None:
                    model.kl_weight = schedule(step)
                parts = _train_step(model, opt, batch, mb, noise_rng, clip_norm,
                                    epoch=epoch, step_in_epoch=b + 1, n_batches=n_batches,
                                    global_step=step)
                step += 1
                for key, value in parts.items():
                    sums[key] = sums.get(key, 0.0) + value * len(idx)
                bar.update(b + 1, parts["loss"])
            bar.close()

            logs: dict[str, Any] = {"epoch": epoch}
            logs.update({key: total / n for key, total in sums.items()})
            model.eval()
            if X_val is not None:
                val = _evaluate(model, X_val, y_val, mask_val, np.random.default_rng(val_seed))
                for key, value in val.items():
                    if not math.isfinite(value):
                        raise FloatingPointError(
                            f"validation {key} is {value} after epoch {epoch}" + _REMEDIES
                            .format(lr=opt.lr)
                        )
                    logs["val_" + key] = value
            if diagnostics:
                logs.update(_latent_diagnostics(model, X_val if X_val is not None else X,
                                                y_val if X_val is not None else y,
                                                mask_val if X_val is not None else mask))
            model.train()
            logs["beta"] = float(model.kl_weight)
            logs["lr"] = float(opt.lr)
            logs["time"] = time.perf_counter() - t0
            history.append(logs)
            history.steps = step
            if verbose:
                print(_format_line(logs, epochs), file=sys.stdout, flush=True)

            if monitor not in logs:
                raise ValueError(
                    f"monitor={monitor!r} is not a recorded value; available: {sorted(logs)}"
                )
            current = float(logs[monitor])
            if current < best_value - min_delta:
                best_value, wait = current, 0
                history.best_epoch = epoch
                if early_stopping and restore_best:
                    best_state = model.state_dict()
            else:
                wait += 1
            stop = any(bool(cb(epoch, logs, model)) for cb in callbacks)
            if stop:
                history.stopped_early, history.stop_reason = True, "callback"
                break
            if early_stopping and wait >= patience:
                history.stopped_early = True
                history.stop_reason = (
                    f"early stopping: {monitor} did not improve by more than {min_delta} for "
                    f"{patience} epoch(s); best epoch {history.best_epoch}"
                )
                if verbose:
                    print(history.stop_reason, file=sys.stdout, flush=True)
                break
        if early_stopping and restore_best and best_state is not None:
            model.load_state_dict(best_state)
    finally:
        thread_policy.close()
        model.kl_weight = saved_kl_weight
        model.train(was_training)
    return history


_REMEDIES = (
    ". Remedies: lower the learning rate (now lr={lr:g}), clip gradients (clip_norm=...), "
    "check the data scaling, or warm the KL weight up (kl_schedule='linear:1000')"
)


def _train_step(model: Model, opt: Optimizer, batch: Any, mask: np.ndarray | None,
                rng: np.random.Generator, clip_norm: float | None, *, epoch: int,
                step_in_epoch: int, n_batches: int, global_step: int) -> dict[str, float]:
    """One optimisation step; raises FloatingPointError on any non-finite loss or gradient."""
    where = f"epoch {epoch}, step {step_in_epoch}/{n_batches} (global step {global_step})"
    model.zero_grad()
    # Overflow warnings are silenced: any inf/NaN that matters is caught right below with a
    # message saying where it happened.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        value, parts = model.loss(batch, rng=rng, mask=mask)
        bad = [k for k, v in parts.items() if not math.isfinite(v)]
        if not math.isfinite(value) or bad:
            name = next((k for k in bad if k != "loss"), "loss")
            raise FloatingPointError(
                f"non-finite training loss at {where}: {name} = {parts.get(name, value)} "
                f"(parts: {_fmt_parts(parts)})" + _REMEDIES.format(lr=opt.lr)
            )
        model.backward()
    bad_grads = nonfinite_grad_names(model.parameters())  # a fast check that misses nothing
    if bad_grads:
        raise FloatingPointError(
            f"non-finite gradient at {where} in parameter {bad_grads[0]!r}"
            + (f" (and {len(bad_grads) - 1} more: {bad_grads[1:4]})" if len(bad_grads) > 1
               else "")
            + f"; loss = {value:.6g}" + _REMEDIES.format(lr=opt.lr)
        )
    if clip_norm is not None:
        clip_grad_norm(model, clip_norm)
    opt.step()
    return {k: float(v) for k, v in parts.items()}


def _fmt_parts(parts: dict[str, float]) -> str:
    return ", ".join(f"{k}={v:.4g}" for k, v in parts.items())


def _chunks(n: int, size: int = EVAL_CHUNK):
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


def _evaluate(model: Model, X: np.ndarray, y: Any, mask: np.ndarray | None,
              rng: np.random.Generator) -> dict[str, float]:
    """Means over the data of the model's per-example loss terms (no gradients)."""
    sums: dict[str, float] = {}
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        for s in _chunks(X.shape[0]):
            batch = model.make_batch(X[s], None if y is None else y[s])
            terms = model.per_example_loss(batch, rng=rng,
                                           mask=None if mask is None else mask[s])
            for key, values in terms.items():
                sums[key] = sums.get(key, 0.0) + float(np.sum(values))
    return {key: total / X.shape[0] for key, total in sums.items()}


def _latent_diagnostics(model: Model, X: np.ndarray, y: Any,
                        mask: np.ndarray | None) -> dict[str, Any]:
    """KL per latent dimension (mean over the data) and active units, for latent models."""
    X = X[:DIAGNOSTIC_ROWS]
    mus, logvars = [], []
    for s in _chunks(X.shape[0]):
        batch = model.make_batch(X[s], None if y is None else y[s])
        post = model.posterior(batch, mask=None if mask is None else mask[s])
        if post is None:
            return {}
        mu, logvar = post
        # Sequence models with one latent per time step give (N, T, L): pool the steps.
        mus.append(mu.reshape(-1, mu.shape[-1]))
        logvars.append(logvar.reshape(-1, logvar.shape[-1]))
    mu, logvar = np.concatenate(mus), np.concatenate(logvars)
    out: dict[str, Any] = {"kl_per_dim": [float(v) for v in kl_per_dimension_mean(mu, logvar)]}
    out["active_units"] = active_units(mu) if mu.shape[0] >= 2 else None
    return out


def _streams(rng: object, seed: object) -> tuple[np.random.Generator, np.random.Generator, int]:
    """Independent generators for shuffling and model noise, and a fixed validation seed (the
    same validation noise every epoch, so epochs compare on equal terms)."""
    if rng is not None and seed is not None:
        raise ValueError("give rng or seed, not both")
    base = check_rng(seed if seed is not None else (0 if rng is None else rng),
                     "seed" if seed is not None else "rng")
    s_shuffle, s_noise, s_val = (int(s) for s in base.integers(0, 2**63 - 1, size=3))
    return np.random.default_rng(s_shuffle), np.random.default_rng(s_noise), s_val


def _make_optimizer(optimizer: object, model: Model, lr: float | None) -> Optimizer:
    if isinstance(optimizer, str):
        key = optimizer.lower()
        if key not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)} or an Optimizer, "
                             f"got {optimizer!r}")
        lr = DEFAULT_LR if lr is None else check_scalar(lr, "lr", low=0.0, low_inclusive=False)
        return OPTIMIZERS[key](model, lr=lr)
    if isinstance(optimizer, Optimizer):
        if lr is not None:
            raise ValueError(
                "lr was given together with an Optimizer instance; set the learning rate when "
                "constructing the optimizer (or assign optimizer.lr)"
            )
        return optimizer
    raise TypeError(
        f"optimizer must be a name {sorted(OPTIMIZERS)} or an Optimizer, "
        f"got {type(optimizer).__name__}"
    )


# ------------------------------------------------------------------------------ progress
def _format_line(logs: dict[str, Any], epochs: int) -> str:
    width = len(str(epochs))
    items = [f"epoch {logs['epoch']:>{width}}/{epochs}"]
    # The KL is shown for latent-variable models only (a plain autoencoder reports 0).
    show_kl = "kl_per_dim" in logs or logs.get("kl", 0.0) != 0.0
    for prefix, label in (("", "loss"), ("val_", "val")):
        if prefix + "loss" not in logs:
            continue
        text = f"{label} {logs[prefix + 'loss']:.4f}"
        if prefix + "reconstruction" in logs and show_kl:
            text += f" (rec {logs[prefix + 'reconstruction']:.4f}"
            text += f" kl {logs[prefix + 'kl']:.4f})" if prefix + "kl" in logs else ")"
        items.append(text)
    if logs.get("active_units") is not None:
        items.append(f"active {logs['active_units']}/{len(logs['kl_per_dim'])}")
    items.append(f"beta {logs['beta']:.3g}")
    items.append(f"lr {logs['lr']:.3g}")
    items.append(f"{logs['time']:.2f}s")
    return "  ".join(items)


def _is_tty() -> bool:
    isatty = getattr(sys.stdout, "isatty", None)
    return bool(isatty and isatty())


class _Progress:
    """A one-line progress bar redrawn with carriage returns, drawn only once the epoch has
    lasted PROGRESS_DELAY_S (short epochs would just flicker)."""

    def __init__(self, epoch: int, epochs: int, n_batches: int, enabled: bool) -> None:
        self.enabled = enabled and n_batches > 1
        self.epoch, self.epochs, self.n = epoch, epochs, n_batches
        self.start = self.last = time.perf_counter()
        self.drawn = False

    def update(self, done: int, loss: float) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self.start < PROGRESS_DELAY_S or (now - self.last < 0.1 and done < self.n):
            return
        self.last = now
        width = 30
        filled = int(width * done / self.n)
        bar = "=" * filled + ">" * (filled < width) + "." * (width - filled - 1)
        eta = (now - self.start) / done * (self.n - done)
        sys.stdout.write(f"\repoch {self.epoch}/{self.epochs} [{bar}] {done}/{self.n} "
                         f"loss {loss:.4f} eta {eta:.1f}s ")
        sys.stdout.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            sys.stdout.write("\r" + " " * 100 + "\r")
            sys.stdout.flush()
