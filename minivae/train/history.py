"""The record of a training run: one row of numbers per epoch."""

from __future__ import annotations

from typing import Any

import numpy as np


class History:
    """Per-epoch training record.

    ``history["loss"]`` (or ``history.loss``) is a list with one value per epoch.  Keys:

    * ``epoch`` (1-based), ``loss``, ``reconstruction``, ``kl`` and any other part the model's
      ``loss`` reports (e.g. ``elbo``): means over the epoch's training batches, weighted by
      batch size;
    * ``val_loss``, ``val_reconstruction``, ``val_kl`` when there is validation data;
    * ``kl_per_dim`` (a list of L floats: mean KL of each latent dimension over the validation
      set, or the training set without one; at most
      :data:`minivae.train.diagnostics.DIAGNOSTIC_ROWS` rows) and ``active_units`` (Burda et al.,
      2016) for models with a latent posterior (``fit(..., diagnostics=True)``);
    * ``beta`` (KL weight of the epoch's last step), ``lr``, ``time`` (seconds).

    Attributes:
        best_epoch: with early stopping, the epoch with the best monitored value, else None.
        stopped_early: True when early stopping (or another callback) ended training.
        stop_reason: why training ended before ``epochs``, else None.
        steps: number of optimizer steps taken.
        skipped_steps: mini-batches skipped because their mask hid every value.
    """

    def __init__(self) -> None:
        self.metrics: dict[str, list[Any]] = {}
        self.best_epoch: int | None = None
        self.stopped_early = False
        self.stop_reason: str | None = None
        self.steps = 0
        self.skipped_steps = 0

    def append(self, logs: dict[str, Any]) -> None:
        """Add one epoch's values (keys missing in earlier epochs are allowed)."""
        if not isinstance(logs, dict) or not all(isinstance(k, str) for k in logs):
            raise TypeError(f"logs must be a dict of metric name (str) -> value, got "
                            f"{type(logs).__name__} {logs!r:.80}")
        for key, value in logs.items():
            self.metrics.setdefault(key, []).append(value)

    def lengths(self) -> dict[str, int]:
        """How many values each key holds: a mark that :meth:`rewind` goes back to."""
        return {key: len(values) for key, values in self.metrics.items()}

    def rewind(self, lengths: dict[str, int]) -> None:
        """Drop every value recorded after the mark ``lengths`` (from :meth:`lengths`); what
        fit does when it goes back to the end of an earlier epoch."""
        self._check_mark(lengths)
        self.metrics = {key: values[:lengths[key]] for key, values in self.metrics.items()
                        if lengths.get(key, 0) > 0}

    def _check_mark(self, lengths: object) -> None:
        """A mark is a dict key -> count with 0 <= count <= the values held (a key missing
        from it was added after the mark: all its values go)."""
        if not isinstance(lengths, dict):
            raise TypeError(f"lengths must be a dict from History.lengths(), got "
                            f"{type(lengths).__name__}")
        for key, n in lengths.items():
            held = len(self.metrics.get(key, []))
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 0 <= n <= held:
                raise ValueError(f"lengths[{key!r}] must be an integer in [0, {held}] (the "
                                 f"values the history holds for it), got {n!r}")

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
                "steps": self.steps, "skipped_steps": self.skipped_steps}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        """Inverse of :meth:`to_dict`; a ValueError says what is wrong with a malformed ``data``
        (e.g. read from a damaged checkpoint)."""
        problem = _structure_problem(data)
        if problem:
            raise ValueError(f"not a History.to_dict() structure: {problem}")
        h = cls()
        h.metrics = {k: list(v) for k, v in data["metrics"].items()}
        h.best_epoch = data.get("best_epoch")
        h.stopped_early = bool(data.get("stopped_early", False))
        h.stop_reason = data.get("stop_reason")
        h.steps = int(data.get("steps", 0))
        h.skipped_steps = int(data.get("skipped_steps", 0))
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


# The entries of History.to_dict() and the types their values may have.
_ENTRIES = {"metrics": dict, "best_epoch": (int, type(None)), "stopped_early": bool,
            "stop_reason": (str, type(None)), "steps": int, "skipped_steps": int}


def _structure_problem(data: object) -> str | None:
    """What is wrong with a :meth:`History.to_dict` structure, or None."""
    if not isinstance(data, dict) or "metrics" not in data:
        return "expected a dict with a 'metrics' entry"
    for key, value in data.items():
        if key not in _ENTRIES:
            return f"unknown entry {key!r}"
        if not isinstance(value, _ENTRIES[key]) or (
                isinstance(value, bool) and _ENTRIES[key] in (int, (int, type(None)))):
            return f"{key!r} has the wrong type ({type(value).__name__})"
        if key in ("steps", "skipped_steps") and value < 0:
            return f"{key!r} is negative ({value})"
    for name, values in data["metrics"].items():
        if not isinstance(name, str) or not isinstance(values, list):
            return f"metric {name!r} is not a list ({type(values).__name__})"
        bad = next((v for v in values if not _is_value(v)), None)
        if bad is not None:
            return f"metric {name!r} holds {bad!r}, not a number, null or a list of numbers"
    return None


def _is_value(value: object) -> bool:
    """A number, None, or a list of numbers (e.g. ``kl_per_dim``)."""
    if value is None or isinstance(value, (int, float, np.integer, np.floating)):
        return True
    return isinstance(value, (list, tuple)) and all(
        isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
        for v in value)
