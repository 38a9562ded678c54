"""Save a fitted :class:`~minivae.timeseries.anomaly.AnomalyDetector` (model + scaler +
thresholds + settings) as ONE ``.npz`` file, and load it back.

The file holds a complete model checkpoint of :mod:`minivae.train.checkpoint` with every key
prefixed by ``model/`` (that module checks and rebuilds the model; it refuses keys it does not
know, so the detector's entries live beside it, not inside it), and the detector's entries:

==============================  ======================================================
key                             content
==============================  ======================================================
``model/<checkpoint key>``      the model checkpoint (format, version, class, config,
                                parameters, training history)
``detector/settings``           0-d str, JSON of the constructor arguments and seeds
``detector/state``              0-d str, JSON of the fitted scalars (thresholds, n_features)
``detector/scaler/<name>``      the fitted StandardScaler's arrays (absent: no scaling)
``detector/<array>``            validation scores; the Mahalanobis mean / covariance
``detector/meta``               0-d str, JSON the caller attaches (column names, ...)
==============================  ======================================================

Loaded with ``np.load(allow_pickle=False)``: reading a file never runs code.
"""

from __future__ import annotations

import json
import os
import tempfile
from os import PathLike
from typing import Any

import numpy as np

from minivae.data.scaling import StandardScaler
from minivae.timeseries.anomaly import AnomalyDetector
from minivae.train.checkpoint import load_checkpoint, save_checkpoint, write_atomically

__all__ = ["save_detector", "load_detector"]

PREFIX = "detector/"
MODEL_PREFIX = "model/"
_SETTINGS = ("score_kind", "threshold_method", "k", "q", "n_samples", "window", "stride",
             "train_stride", "validation_split", "scale", "error_vector", "shrinkage",
             "eval_batch_size", "step_score", "_train_seed", "_score_seed")
_STATE = ("n_features_", "window_threshold_", "step_threshold_")
_ARRAYS = ("val_window_scores_", "val_step_scores_", "error_mean_", "error_cov_")


def save_detector(path: str | PathLike, detector: AnomalyDetector,
                  meta: dict[str, Any] | None = None) -> None:
    """Write a fitted detector to ``path`` (used as given; ``.npz`` is not appended).

    Inputs:
    - detector: a fitted AnomalyDetector whose model is registered (``@register_model``).
    - meta: optional JSON-serialisable dict stored alongside (e.g. the CSV's column names).
    """
    if not isinstance(detector, AnomalyDetector):
        raise TypeError(f"detector must be an AnomalyDetector, got {type(detector).__name__}")
    detector._check_fitted()
    path = os.fspath(path)
    arrays = {MODEL_PREFIX + k: v for k, v in _model_checkpoint_arrays(detector).items()}
    settings = {name: getattr(detector, name) for name in _SETTINGS}
    state = {name: getattr(detector, name) for name in _STATE}
    arrays[PREFIX + "settings"] = np.array(json.dumps(settings))
    arrays[PREFIX + "state"] = np.array(json.dumps(state))
    arrays[PREFIX + "meta"] = np.array(json.dumps(meta or {}))
    for name in _ARRAYS:
        value = getattr(detector, name)
        if value is not None:
            arrays[PREFIX + name] = np.asarray(value)
    if detector.scaler_ is not None:
        for key, value in detector.scaler_.to_dict().items():
            arrays[PREFIX + "scaler/" + key] = np.asarray(value)
    write_atomically(path, arrays)


def _model_checkpoint_arrays(detector: AnomalyDetector) -> dict[str, np.ndarray]:
    """The entries :func:`save_checkpoint` writes for the detector's model."""
    with tempfile.TemporaryDirectory(prefix="minivae-detector-") as tmp:
        file = os.path.join(tmp, "model.npz")
        save_checkpoint(file, detector.model, history=detector.history_)
        with np.load(file, allow_pickle=False) as npz:
            return {key: npz[key] for key in npz.files}


def load_detector(path: str | PathLike) -> tuple[AnomalyDetector, dict[str, Any]]:
    """Read a detector written by :func:`save_detector`.

    Returns:
    - (detector, meta): the fitted detector (its model rebuilt from the checkpoint) and the
      ``meta`` dict stored with it.

    Raises ValueError naming the file if it is not a detector file or is incomplete.
    """
    path = os.fspath(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            contents = {key: npz[key] for key in npz.files}
    except FileNotFoundError:
        raise
    except Exception as exc:  # not an npz archive, corrupt, truncated, needs pickle
        raise ValueError(f"cannot read detector file {path!r} ({type(exc).__name__}: {exc})") \
            from None
    for key in ("settings", "state", "meta"):
        if PREFIX + key not in contents:
            raise ValueError(f"{path!r} is not a saved detector (no {PREFIX + key!r} entry); "
                             "write it with save_detector")
    ckpt = _load_model(path, {k[len(MODEL_PREFIX):]: v for k, v in contents.items()
                              if k.startswith(MODEL_PREFIX)})
    try:
        settings = json.loads(str(contents[PREFIX + "settings"]))
        state = json.loads(str(contents[PREFIX + "state"]))
        detector = AnomalyDetector(
            ckpt.model, score=settings.pop("score_kind"),
            threshold=settings.pop("threshold_method"),
            **{k: v for k, v in settings.items() if not k.startswith("_")},
        )
        detector._train_seed = int(settings["_train_seed"])
        detector._score_seed = int(settings["_score_seed"])
        for name in _STATE:
            setattr(detector, name, state[name])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"detector file {path!r}: malformed detector settings "
                         f"({type(exc).__name__}: {exc})") from None
    for name in _ARRAYS:
        setattr(detector, name, contents.get(PREFIX + name))
    scaler = {k[len(PREFIX + "scaler/"):]: v for k, v in contents.items()
              if k.startswith(PREFIX + "scaler/")}
    detector.scaler_ = StandardScaler.from_dict(scaler) if scaler else None
    detector.history_ = ckpt.history
    detector.fitted_ = True
    return detector, json.loads(str(contents[PREFIX + "meta"]))


def _load_model(path: str, arrays: dict[str, np.ndarray]) -> Any:
    """Rebuild the model through :func:`load_checkpoint` (all its checks), from the
    ``model/`` entries written to a temporary checkpoint file."""
    with tempfile.TemporaryDirectory(prefix="minivae-detector-") as tmp:
        file = os.path.join(tmp, "model.npz")
        with open(file, "wb") as f:
            np.savez(f, **arrays)
        try:
            return load_checkpoint(file)
        except ValueError as exc:
            raise ValueError(f"detector file {path!r}: its model checkpoint is unusable: "
                             f"{exc}") from None
