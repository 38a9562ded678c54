"""Exercise of lesson 07 (anomaly detection with an LSTM-VAE): the point-adjust protocol.

* ``point_adjust(y_true, y_pred) -> adjusted``; all (T,) 0/1
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from minivae.exercises.exercise import Exercise
from minivae.exercises.grader import ExerciseResult, Grader, Mistake, make_rng
from minivae.timeseries.metrics import anomaly_segments, point_adjust

LESSON = "07_lstm_vae_anomaly_detection"

PA_SIG = ("point_adjust(y_true, y_pred) -> adjusted;  all (T,) of 0/1: inside every true "
          "anomaly segment hit by at least one prediction, mark the whole segment predicted; "
          "leave everything else as predicted")


def expand_predictions(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Mistake: also grows predicted segments that hit nothing."""
    out = point_adjust(y_true, y_pred).copy()
    for a, b in anomaly_segments(y_pred.astype(np.int64)):
        out[a:b] = 1
    return out


def drop_false_positives(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Mistake: false positives outside true segments are removed."""
    return point_adjust(y_true, y_pred) * y_true.astype(np.int64)


PA_MISTAKES = [
    Mistake("predictions OUTSIDE true segments must be left as they are (false positives "
            "stay false positives; only detected true segments are filled in)",
            drop_false_positives),
    Mistake("you returned y_true: a segment is credited only if at least one of its points "
            "was predicted", lambda y_true, y_pred: y_true.astype(np.int64)),
    Mistake("you returned the predictions unchanged: fill in every true segment that has at "
            "least one predicted point", lambda y_true, y_pred: y_pred.astype(np.int64)),
    Mistake("you filled every true segment, also the ones no prediction touched",
            lambda y_true, y_pred: np.maximum(y_true, y_pred).astype(np.int64)),
    Mistake("predicted segments that hit nothing were grown too; only true segments are "
            "adjusted", expand_predictions),
]

# A detected segment, a missed one, a false positive, segments touching both ends.
_HAND_TRUE = np.array([1, 1, 0, 0, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0, 0, 0, 1, 1])
_HAND_PRED = np.array([0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 1, 0, 1])


def _random_case(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """60 steps, 4 true segments of 2-5 steps, ~15 % random predictions."""
    rng = make_rng(seed)
    labels = np.zeros(60, dtype=np.int64)
    for start in rng.choice(np.arange(0, 55, 6), size=4, replace=False):
        labels[start:start + int(rng.integers(2, 6))] = 1
    return labels, (rng.random(60) < 0.15).astype(np.int64)


def check_point_adjust(fn: Callable[..., Any], *, raise_on_fail: bool = False,
                       seed: int = 0) -> ExerciseResult:
    """Grade ``point_adjust(y_true, y_pred) -> adjusted`` against
    :func:`minivae.timeseries.metrics.point_adjust`: a hand-made case (a detected segment, a
    missed one, a false positive, segments touching the ends) and a random one."""
    g = Grader("point_adjust", fn, ["adjusted"], PA_SIG)
    cases = [(case, {"y_true": t, "y_pred": p})
             for case, (t, p) in (("hand-made example", (_HAND_TRUE, _HAND_PRED)),
                                  ("random example", _random_case(seed)))]
    g.check_cases(cases, lambda t, p: point_adjust(t, p).astype(np.float64),
                  mistakes=PA_MISTAKES)
    return g.result(raise_on_fail, "matches minivae.timeseries.metrics.point_adjust")


EXERCISES = [
    Exercise("point_adjust", LESSON, PA_SIG, check_point_adjust,
             "minivae.timeseries.metrics:point_adjust",
             ("minivae.timeseries.metrics:point_adjust",),
             "SOLUTIONS['point_adjust'] is minivae.timeseries.metrics.point_adjust, which "
             "point_adjusted_f1 uses."),
]
