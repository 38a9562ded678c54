"""Callbacks: code that :func:`~minivae.train.loop.fit` runs around the training loop.

The interface (every method optional; override what you need)::

    class Callback:
        def on_train_begin(self, model): ...
        def on_batch_end(self, epoch, batch, n_batches, parts): ...   # after each step
        def on_epoch_end(self, epoch, logs, model) -> bool | None: ...  # True stops training
        def on_train_end(self, model, history): ...

``logs`` is the epoch's row of the :class:`~minivae.train.history.History` (``loss``,
``val_loss``, ``beta``, ...); ``parts`` the batch's loss parts.  A plain function
``f(epoch, logs, model)`` also works as a callback: it is called as ``on_epoch_end``.

Built in: :class:`EarlyStopping`, and the progress output of ``fit(verbose=...)``:
:class:`PrintEpochs` (one line per epoch) and :class:`ProgressBar` (a ``tqdm.auto`` bar).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from minivae._validation import check_positive_int, check_scalar

# A progress bar appears only once an epoch has run this long (short epochs get just the line).
PROGRESS_DELAY_S = 0.5


class Callback:
    """Base class: every hook does nothing (see the module docstring for when each runs)."""

    #: why this callback stopped training (set by callbacks that stop), else None
    stop_reason: str | None = None

    def on_train_begin(self, model: Any) -> None:
        """Before the first epoch."""

    def on_batch_end(self, epoch: int, batch: int, n_batches: int,
                     parts: dict[str, float]) -> None:
        """After optimizer step ``batch`` (1-based) of ``n_batches`` in ``epoch``."""

    def on_epoch_end(self, epoch: int, logs: dict[str, Any], model: Any) -> bool | None:
        """After the epoch's row ``logs`` is recorded; return True to stop training."""
        return None

    def on_train_end(self, model: Any, history: Any) -> None:
        """After the last epoch or a stop (not after an exception); ``history`` is complete."""


class FunctionCallback(Callback):
    """A plain function ``f(epoch, logs, model) -> stop?`` run at the end of every epoch."""

    def __init__(self, fn: Callable[[int, dict[str, Any], Any], Any]) -> None:
        if not callable(fn):
            raise TypeError(f"fn must be a function f(epoch, logs, model), got {type(fn).__name__}")
        self.fn = fn
        self.stop_reason = "callback"

    def on_epoch_end(self, epoch: int, logs: dict[str, Any], model: Any) -> bool:
        return bool(self.fn(epoch, logs, model))


def as_callback(cb: object, name: str = "callback") -> Callback:
    """A :class:`Callback` unchanged; a function wrapped in :class:`FunctionCallback`."""
    if isinstance(cb, Callback):
        return cb
    if callable(cb):
        return FunctionCallback(cb)
    raise TypeError(f"{name} must be a Callback or a function f(epoch, logs, model), "
                    f"got {type(cb).__name__}")


# ------------------------------------------------------------------------------ early stopping
class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience``
    epochs; with ``restore_best`` the parameters of the best epoch are put back at the end.

    Args:
        patience: epochs without improvement before stopping, >= 1.
        min_delta: an improvement must lower the monitored value by more than this, >= 0.
        monitor: the history key to minimise; None means "val_loss" when fit has validation
            data, else "loss".
        restore_best: load the best epoch's parameters when training ends.

    After training, ``best_epoch`` and ``best_value`` say where the minimum was.
    """

    def __init__(self, patience: int = 5, min_delta: float = 0.0, monitor: str | None = None,
                 restore_best: bool = True) -> None:
        self.patience = check_positive_int(patience, "patience")
        self.min_delta = check_scalar(min_delta, "min_delta", low=0.0)
        if monitor is not None and not isinstance(monitor, str):
            raise TypeError(f"monitor must be a history key (str) or None, got {monitor!r}")
        self.monitor = monitor
        self.restore_best = bool(restore_best)
        self.on_train_begin(None)

    def on_train_begin(self, model: Any) -> None:
        self.best_value, self.best_epoch, self.wait = math.inf, None, 0
        self.best_state: dict[str, Any] | None = None
        self.stop_reason = None

    def on_epoch_end(self, epoch: int, logs: dict[str, Any], model: Any) -> bool:
        monitor = self.monitor or ("val_loss" if "val_loss" in logs else "loss")
        if monitor not in logs:
            raise ValueError(f"EarlyStopping(monitor={monitor!r}): not a recorded value; "
                             f"available: {sorted(logs)}")
        value = float(logs[monitor])
        if value < self.best_value - self.min_delta:
            self.best_value, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best:
                self.best_state = model.state_dict()
            return False
        self.wait += 1
        if self.wait < self.patience:
            return False
        self.stop_reason = (f"early stopping: {monitor} did not improve by more than "
                            f"{self.min_delta} for {self.patience} epoch(s); best epoch "
                            f"{self.best_epoch}")
        return True

    def on_train_end(self, model: Any, history: Any) -> None:
        history.best_epoch = self.best_epoch
        if self.restore_best and self.best_state is not None:
            model.load_state_dict(self.best_state)

    def __repr__(self) -> str:
        return (f"EarlyStopping(patience={self.patience}, min_delta={self.min_delta}, "
                f"monitor={self.monitor!r}, restore_best={self.restore_best})")


# ------------------------------------------------------------------------------------ progress
class PrintEpochs(Callback):
    """One line per epoch: losses (KL parts for latent models), active units, beta, lr, time;
    and why training stopped early, if it did."""

    def __init__(self, epochs: int) -> None:
        self.epochs = check_positive_int(epochs, "epochs")

    def on_epoch_end(self, epoch: int, logs: dict[str, Any], model: Any) -> None:
        print(format_epoch(logs, self.epochs), file=sys.stdout, flush=True)

    def on_train_end(self, model: Any, history: Any) -> None:
        if history.stopped_early:
            print(history.stop_reason, file=sys.stdout, flush=True)


def format_epoch(logs: dict[str, Any], epochs: int) -> str:
    """``epoch 3/10  loss 101.2 (rec 95.1 kl 6.1)  val 103.0 (...)  active 5/8  beta 1  ...``"""
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


class ProgressBar(Callback):
    """A ``tqdm`` bar over each epoch's steps (``tqdm.auto``: a widget in a notebook with
    ipywidgets, a text bar in a terminal), shown only once the epoch has lasted ``delay``
    seconds (default :data:`PROGRESS_DELAY_S`; short epochs would just flicker) and removed at
    its end.  ``disable=None`` (the default) draws it only when stdout is a terminal; False
    draws it anyway (e.g. ``fit(verbose=2)``)."""

    def __init__(self, epochs: int, delay: float | None = None,
                 disable: bool | None = None) -> None:
        self.epochs, self.disable = check_positive_int(epochs, "epochs"), disable
        self.delay = PROGRESS_DELAY_S if delay is None else check_scalar(delay, "delay", low=0.0)
        self.bar: Any = None

    def on_batch_end(self, epoch: int, batch: int, n_batches: int,
                     parts: dict[str, float]) -> None:
        if batch == 1:  # the first step of the epoch opens the bar
            self._close()
            self.bar = tqdm(total=n_batches, desc=f"epoch {epoch}/{self.epochs}", leave=False,
                            file=sys.stdout, delay=self.delay, disable=self.disable,
                            dynamic_ncols=True)
        if self.bar is not None:
            self.bar.set_postfix_str(f"loss {parts['loss']:.4f}", refresh=False)
            self.bar.update(1)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any], model: Any) -> None:
        self._close()

    def on_train_end(self, model: Any, history: Any) -> None:
        self._close()

    def _close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def progress_callbacks(verbose: int | bool, epochs: int) -> list[Callback]:
    """What ``fit(verbose=...)`` prints: 0 nothing; 1 one line per epoch (and a progress bar
    when stdout is a terminal); 2 the line and always the bar (e.g. in a notebook)."""
    if not isinstance(verbose, (bool, int, np.integer)) or verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 0, 1 or 2, got {verbose!r}")
    epochs = check_positive_int(epochs, "epochs")
    if not verbose:
        return []
    # verbose=1: tqdm decides (disable=None: a bar only on a terminal); 2: always a bar.
    return [ProgressBar(epochs, disable=None if verbose == 1 else False), PrintEpochs(epochs)]
