"""Fail-safe training: what :func:`~minivae.train.loop.fit` watches, and where it goes back to
when a run goes wrong.

What is watched (by :func:`~minivae.train.loop.train_step`, every step, and by ``fit``):

* the loss and each of its parts must be finite (checked before ``backward``);
* every gradient must be finite (checked before the optimizer step: a NaN gradient never
  reaches the parameters);
* after the step, every parameter must be finite and within ``+-PARAM_LIMIT`` (a parameter
  that large means the updates are exploding, well before they overflow);
* the validation loss at the end of each epoch must be finite.

``fit`` validates the data once, before the first epoch.  So when a check *inside* the model's
forward pass later reports a non-finite value (e.g. ``mu contains 62 non-finite value(s)``), the
model's own numbers went bad, not the data: that is divergence too (:func:`internal_problem`).

Where training goes back to (:class:`LastGoodPoint`): the parameters, the optimizer state (step
count, moments, learning rate), the History's rows and step counts, as they were at the end of
the last completed epoch, or at the start when no epoch completed.  The model then matches the
last row of its History.
This happens when training diverges (:class:`TrainingDiverged` is raised), on Ctrl-C
(``KeyboardInterrupt`` is re-raised, so a sweep script still stops) and on any other exception
from inside the loop (a callback's, say).  The History so far is attached to the exception as
``err.history`` (in an interactive session after Ctrl-C: ``sys.last_value.history``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from minivae._validation import check_positive_int, check_scalar
from minivae.twins import reference

__all__ = ["PARAM_LIMIT", "LastGoodPoint", "TrainingDiverged", "Watch", "first_bad_array"]

#: largest magnitude a parameter may reach before training counts as diverged (weights of a
#: healthy model are O(1); biases follow the scale of the data, which should be O(1) too)
PARAM_LIMIT = 1e6

REMEDIES = (
    "Remedies: lower the learning rate (now lr={lr:g}; try {smaller:g}), clip gradients "
    "(clip_norm=1.0), check the data scaling, or warm the KL weight up "
    "(kl_schedule='linear:1000')"
)

# What a failed check inside the forward pass says when it found NaN/inf or an overflow.
_NONFINITE_WORDS = re.compile(r"non-finite|\bnan\b|\binf\b|overflow", re.IGNORECASE)


class TrainingDiverged(FloatingPointError, RuntimeError):
    """Training produced a non-finite or exploding loss, gradient or parameter.

    It is a FloatingPointError (code written for earlier versions still catches it) and a
    RuntimeError.  Attributes: ``epoch`` and ``batch`` (1-based; ``batch`` is None for the
    end-of-epoch validation), ``quantity`` (e.g. ``"loss part 'reconstruction'"``,
    ``"gradient of 'decoder.layers.0.W'"``, ``"parameter 'encoder.layers.0.b'"``), ``lr`` (the
    learning rate of that step), ``history`` (the History so far, set by ``fit``) and
    ``restored_epoch`` (the epoch whose parameters were put back, 0 = the start).
    """

    def __init__(self, message: str, *, quantity: str, lr: float, epoch: int | None = None,
                 batch: int | None = None) -> None:
        super().__init__(message)
        self.quantity, self.lr, self.epoch, self.batch = quantity, lr, epoch, batch
        self.history: Any = None
        self.restored_epoch: int | None = None


Problem = tuple[str, str, str]  # (quantity, what happened, details)


def diverged(problem: Problem, *, lr: float, where: str, epoch: int | None = None,
             batch: int | None = None) -> TrainingDiverged:
    """The error for ``problem`` at ``where`` ("epoch 2, step 3/10 ..."), with remedies."""
    quantity, what, details = problem
    message = (f"training diverged: {what} at {where}{details}. "
               + REMEDIES.format(lr=lr, smaller=lr / 10))
    return TrainingDiverged(message, quantity=quantity, lr=lr, epoch=epoch, batch=batch)


# ------------------------------------------------------------------------------- the checks
def bad_loss(value: float, parts: Mapping[str, float]) -> Problem | None:
    """The first non-finite part of the loss as (quantity, description), else None."""
    bad = [key for key, v in parts.items() if not math.isfinite(v)]
    if not bad and math.isfinite(value):
        return None
    name = next((key for key in bad if key != "loss"), "loss")
    described = ", ".join(f"{k}={v:.4g}" for k, v in parts.items())
    return (f"loss part {name!r}", "non-finite loss",
            f": {name} = {parts.get(name, value)} (parts: {described})")


def check_limit_args(arrays: object, limit: object) -> float:
    """The arguments of :func:`first_bad_array` (shared with its compiled twin): a list or
    tuple of float arrays, and a limit > 0 (``math.inf`` allowed); returns the limit."""
    if not isinstance(arrays, (list, tuple)):
        raise TypeError(f"arrays must be a list or tuple of numpy arrays, got "
                        f"{type(arrays).__name__}")
    for i, a in enumerate(arrays):
        if not isinstance(a, np.ndarray) or a.dtype.kind != "f":
            kind = a.dtype if isinstance(a, np.ndarray) else type(a).__name__
            raise TypeError(f"arrays[{i}] must be a float numpy array, got {kind}")
    if isinstance(limit, bool) or not isinstance(limit, (int, float, np.integer, np.floating)):
        raise TypeError(f"limit must be a real number > 0 (math.inf allowed), got "
                        f"{type(limit).__name__} {limit!r}")
    if not float(limit) > 0:
        raise ValueError(f"limit must be > 0 (math.inf allowed), got {limit}")
    return float(limit)


@reference
def first_bad_array(arrays: Sequence[np.ndarray], limit: float) -> int:
    """The index of the first array with an entry that is NaN, +-inf or beyond +-``limit``
    (``limit=math.inf``: only NaN and inf count), or -1 when every entry of every array is
    finite and within the limit.  The per-step check of gradients and parameters."""
    limit = check_limit_args(arrays, limit)
    for i, a in enumerate(arrays):
        if a.size == 0:
            continue
        if limit == math.inf:
            ok = np.isfinite(a).all()
        else:  # NaN fails both comparisons, +-inf the limit
            ok = -limit <= float(a.min()) and float(a.max()) <= limit
        if not ok:
            return i
    return -1


def bad_gradient(triples: Iterable[tuple[str, np.ndarray, np.ndarray]]) -> Problem | None:
    """The first parameter whose gradient has a NaN/inf entry, else None."""
    triples = list(triples)
    if first_bad_array([g for _, _, g in triples], math.inf) < 0:
        return None  # the usual case: one pass over every gradient
    bad = [name for name, _, g in triples if not np.isfinite(g).all()]
    more = f" (and {len(bad) - 1} more: {bad[1:4]})" if len(bad) > 1 else ""
    return f"gradient of {bad[0]!r}", "non-finite gradient", f" in parameter {bad[0]!r}{more}"


def bad_parameter(triples: Iterable[tuple[str, np.ndarray, np.ndarray]],
                  limit: float | None = None) -> Problem | None:
    """The first parameter with a NaN/inf entry or one beyond ``+-limit`` (default: the
    module's :data:`PARAM_LIMIT`, read at each call so it can be changed), else None."""
    limit = PARAM_LIMIT if limit is None else limit
    triples = list(triples)
    if first_bad_array([p for _, p, _ in triples], limit) < 0:
        return None  # the usual case: one pass over every parameter
    for name, p, _ in triples:
        if p.size == 0:
            continue
        low, high = float(np.min(p)), float(np.max(p))  # NaN propagates into both
        if not (-limit <= low and high <= limit):
            largest = high if math.isnan(high) or abs(high) >= abs(low) else low
            return (f"parameter {name!r}", "exploding parameter",
                    f": {name!r} reached {largest:.4g} (the limit is +-{limit:g}, "
                    "minivae.train.guard.PARAM_LIMIT)")
    return None


def internal_problem(exc: Exception) -> Problem | None:
    """An error from inside the model's forward/backward on validated data that reports
    NaN/inf or an overflow (a FloatingPointError or OverflowError, or a ValueError saying so),
    as a Problem; None for any other error (a bug is not called divergence)."""
    text = str(exc)
    if not (isinstance(exc, (FloatingPointError, OverflowError))
            or (isinstance(exc, ValueError) and _NONFINITE_WORDS.search(text))):
        return None
    return ("a value inside the model", "non-finite value inside the model",
            f" ({type(exc).__name__} from a check inside the model: {text}; the data were "
            "validated before training, so the model's own numbers went bad)")


class Watch:
    """The checks of one place in training (a step, or an epoch's end): :meth:`check` raises
    TrainingDiverged for a problem; as a context manager it turns an error from inside the
    model that reports NaN/inf (see :func:`internal_problem`) into TrainingDiverged too."""

    def __init__(self, lr: float, where: str, *, epoch: int | None = None,
                 batch: int | None = None) -> None:
        if not isinstance(where, str):
            raise TypeError(f"where must be a str (the place in training, for the message), "
                            f"got {type(where).__name__} {where!r}")
        self.lr = check_scalar(lr, "lr", low=0.0)
        self.where = where
        self.epoch = None if epoch is None else check_positive_int(epoch, "epoch", minimum=0)
        self.batch = None if batch is None else check_positive_int(batch, "batch", minimum=0)

    def check(self, problem: Problem | None) -> None:
        """Raise TrainingDiverged for ``problem`` (from bad_loss, bad_gradient, ...), if any."""
        if problem is not None and not (isinstance(problem, tuple) and len(problem) == 3 and
                                        all(isinstance(p, str) for p in problem)):
            raise TypeError("problem must be None or a (quantity, what, details) tuple of str "
                            f"from bad_loss / bad_gradient / ..., got {problem!r:.80}")
        if problem is not None:
            raise diverged(problem, lr=self.lr, where=self.where, epoch=self.epoch,
                           batch=self.batch)

    def __enter__(self) -> Watch:
        return self

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> bool:
        if isinstance(exc, (ValueError, ArithmeticError)) and not isinstance(
                exc, TrainingDiverged):
            problem = internal_problem(exc)
            if problem is not None:
                raise diverged(problem, lr=self.lr, where=self.where, epoch=self.epoch,
                               batch=self.batch) from exc
        return False


# ---------------------------------------------------------------------- the last good point
class LastGoodPoint:
    """Parameters, optimizer state and step count at the end of the last completed epoch (or
    the start); a context manager that puts them back when its block raises.

    ``fit`` calls :meth:`save` right after appending an epoch's row to the History, so the
    restored model always matches the last row; rows added after the saved point are dropped.
    """

    def __init__(self, model: Any, optimizer: Any, history: Any) -> None:
        for name, obj, methods in (("model", model, ("parameters", "state_dict",
                                                     "load_state_dict")),
                                   ("optimizer", optimizer, ("state_dict", "load_state_dict")),
                                   ("history", history, ("lengths", "rewind"))):
            if not all(callable(getattr(obj, m, None)) for m in methods):
                raise TypeError(f"{name} must have the methods {list(methods)}, got "
                                f"{type(obj).__name__}")
        problem = bad_parameter(model.parameters())
        if problem is not None:
            raise ValueError(f"model: cannot train from these parameters: {problem[0]} is "
                             f"NaN/inf or beyond +-{PARAM_LIMIT:g} before training{problem[2]}")
        self.model, self.optimizer, self.history = model, optimizer, history
        self.save()

    def save(self) -> None:
        """Remember the current point (copies of every array)."""
        point = (self.model.state_dict(), self.optimizer.state_dict(), self.history.lengths(),
                 self.history.steps, self.history.skipped_steps)
        # One assignment: a Ctrl-C arriving while the copies are made leaves the previous
        # point whole, never half of each.
        self.point = point

    @property
    def epochs(self) -> int:
        """The number of completed epochs at the remembered point."""
        return self.point[2].get("epoch", 0)

    def restore(self) -> None:
        """Put the remembered point back: parameters, optimizer state, History."""
        params, optimizer_state, lengths, steps, skipped = self.point
        self.model.load_state_dict(params)
        self.optimizer.load_state_dict(optimizer_state)
        self.history.rewind(lengths)
        self.history.steps, self.history.skipped_steps = steps, skipped

    def __enter__(self) -> LastGoodPoint:
        return self

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> bool:
        if exc is None:
            return False
        self.restore()
        where = f"the end of epoch {self.epochs}" if self.epochs else "the start"
        self.history.stop_reason = (f"{type(exc).__name__} stopped training; parameters and "
                                    f"optimizer state restored to {where}")
        if isinstance(exc, TrainingDiverged):
            exc.restored_epoch = self.epochs
            exc.args = (f"{exc.args[0]}. The parameters and optimizer state were restored to "
                        f"{where}; the History so far is err.history.",)
        try:
            exc.history = self.history  # type: ignore[union-attr]
        except AttributeError:  # an exception type with __slots__: nothing to attach to
            pass
        return False  # the exception propagates
