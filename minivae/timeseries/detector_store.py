"""Save a fitted :class:`~minivae.timeseries.anomaly.AnomalyDetector` (model + scaler +
thresholds + settings) as ONE ``.npz`` file, and load it back.

The file is a model checkpoint of :mod:`minivae.train.checkpoint` (so ``load_checkpoint`` reads
its model) with extra entries under ``detector/``:

==============================  ======================================================
key                             content
==============================  ======================================================
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
from minivae.train.checkpoint import load_checkpoint, save_checkpoint

__all__ = ["save_detector", "load_detector"]

PREFIX = "detector/"
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
    # The model part is written by the checkpoint module, then extended with our entries.
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-detector-", suffix=".npz", dir=directory)
    os.close(fd)
    try:
        save_checkpoint(tmp, detector.model, history=detector.history_)
        with np.load(tmp, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
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
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load_detector(path: str | PathLike) -> tuple[AnomalyDetector, dict[str, Any]]:
    """Read a detector written by :func:`save_detector`.

    Returns:
    - (detector, meta): the fitted detector (its model rebuilt from the checkpoint) and the
      ``meta`` dict stored with it.

    Raises ValueError naming the file if it is not a detector file or is incomplete.
    """
    path = os.fspath(path)
    ckpt = load_checkpoint(path)  # validates the file and rebuilds the model
    with np.load(path, allow_pickle=False) as npz:
        contents = {key: npz[key] for key in npz.files if key.startswith(PREFIX)}
    for key in ("settings", "state", "meta"):
        if PREFIX + key not in contents:
            raise ValueError(f"{path!r} is a model checkpoint but not a saved detector (no "
                             f"{PREFIX + key!r} entry); write it with save_detector")
    settings = json.loads(str(contents[PREFIX + "settings"]))
    state = json.loads(str(contents[PREFIX + "state"]))
    detector = AnomalyDetector(
        ckpt.model, score=settings.pop("score_kind"),
        threshold=settings.pop("threshold_method"),
        **{k: v for k, v in settings.items() if not k.startswith("_")},
    )
    detector._train_seed, detector._score_seed = settings["_train_seed"], settings["_score_seed"]
    for name, value in state.items():
        setattr(detector, name, value)
    for name in _ARRAYS:
        setattr(detector, name, contents.get(PREFIX + name))
    scaler = {k[len(PREFIX + "scaler/"):]: v for k, v in contents.items()
              if k.startswith(PREFIX + "scaler/")}
    detector.scaler_ = StandardScaler.from_dict(scaler) if scaler else None
    detector.history_ = ckpt.history
    detector.fitted_ = True
    return detector, json.loads(str(contents[PREFIX + "meta"]))
