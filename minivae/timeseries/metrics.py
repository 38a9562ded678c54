"""Metrics for anomaly detection and imputation, written from scratch in NumPy.

Conventions used throughout:

* ``y_true`` / ``y_pred`` are binary labels (``1`` = anomaly), given as bool or as integers /
  floats equal to 0 or 1.  Anything else is refused (no silent ``> 0.5`` rounding).
* ``scores`` are real anomaly scores, *higher = more anomalous*; NaN or inf is refused.
* Point-wise metrics (confusion counts, precision/recall, ROC, PR) accept labels of any shape,
  e.g. a batch ``(N, T)``, and pool all its points.  ``y_true`` and ``scores`` (or ``y_pred``)
  must have the *same* shape: a pair of different shapes is a caller's bug and raises
  ValueError, even when the sizes agree (``(10,)`` against ``(2, 5)``); flatten both yourself
  if that is what you mean.  Segment-based metrics (point adjust, range-based
  precision/recall, ``anomaly_segments``) need a single series ``(T,)``: flattening a batch
  would glue the end of one series to the start of the next and merge segments.
* Segments are half-open ``(start, stop)`` index pairs, like Python slices.
* 0/0 cases (e.g. precision when nothing is predicted positive) return ``zero_division``,
  0.0 by default -- the same convention as scikit-learn's default.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from minivae._validation import check_array, check_no_overflow, check_same_shape, check_scalar
from minivae.timeseries.thresholds import apply_threshold

__all__ = [
    "ConfusionCounts",
    "confusion_counts",
    "precision_recall_f1",
    "roc_auc",
    "roc_curve",
    "pr_curve",
    "pr_auc",
    "anomaly_segments",
    "point_adjust",
    "point_adjusted_f1",
    "range_based_precision_recall",
    "masked_error",
    "mae",
    "mse",
    "mean_std",
]


# ----------------------------------------------------------------------------------------------
# Input checks
# ----------------------------------------------------------------------------------------------


def _check_labels(y: object, name: str, *, one_d: bool = False) -> np.ndarray:
    """Binary labels -> int64 array with values in {0, 1} (same shape)."""
    arr = check_array(y, name, ndim=1 if one_d else None)
    bad = (arr != 0) & (arr != 1)
    if np.any(bad):
        examples = np.unique(arr[bad])[:5].tolist()
        raise ValueError(
            f"{name} must be binary (0/1 or bool), got non-binary value(s) {examples}"
        )
    return arr.astype(np.int64)


def _check_scores(s: object, name: str = "scores", *, one_d: bool = False) -> np.ndarray:
    """Finite real scores -> float64 array (non-finite values raise via ``check_array``)."""
    return check_array(s, name, ndim=1 if one_d else None, dtype=np.float64)


def _check_zero_division(zero_division: float) -> float:
    return check_scalar(zero_division, "zero_division", low=0.0, high=1.0)


def _safe_div(num: float, den: float, zero_division: float) -> float:
    return float(num) / float(den) if den > 0 else float(zero_division)


# ----------------------------------------------------------------------------------------------
# Point-wise classification metrics
# ----------------------------------------------------------------------------------------------


class ConfusionCounts(NamedTuple):
    """Counts of a binary confusion matrix (positive = anomaly)."""

    tp: int
    fp: int
    fn: int
    tn: int


def confusion_counts(y_true: object, y_pred: object) -> ConfusionCounts:
    """Count true/false positives/negatives.

    Inputs:
    - y_true: binary labels, any shape (e.g. (T,) or (N, T)); 1 = anomaly.
    - y_pred: binary predictions, same shape as y_true.

    Returns:
    - ConfusionCounts(tp, fp, fn, tn) of Python ints.
    """
    t = _check_labels(y_true, "y_true")
    p = _check_labels(y_pred, "y_pred")
    check_same_shape(t, p, "y_true", "y_pred")
    tp = int(np.sum((t == 1) & (p == 1)))
    fp = int(np.sum((t == 0) & (p == 1)))
    fn = int(np.sum((t == 1) & (p == 0)))
    tn = int(np.sum((t == 0) & (p == 0)))
    return ConfusionCounts(tp, fp, fn, tn)


def precision_recall_f1(
    y_true: object, y_pred: object, *, zero_division: float = 0.0
) -> tuple[float, float, float]:
    """Point-wise precision, recall and F1 of the positive (anomaly) class.

    precision = tp / (tp + fp), recall = tp / (tp + fn), f1 = 2 p r / (p + r).

    0/0 cases are defined explicitly and return ``zero_division`` (default 0.0, as
    scikit-learn): precision with no predicted positives, recall with no positives in
    ``y_true``, and F1 when there are no positives at all (tp + fp + fn = 0).  F1 is computed
    as 2 tp / (2 tp + fp + fn), so it is 0 (not 0/0) when positives exist but none is hit.
    Predicting nothing on data with no anomalies thus gives (0, 0, 0) unless you pass
    ``zero_division=1.0``.

    Inputs:
    - y_true, y_pred: binary arrays of the same (any) shape.
    - zero_division: value in [0, 1] returned for 0/0.

    Returns:
    - (precision, recall, f1) as floats.
    """
    zd = _check_zero_division(zero_division)
    c = confusion_counts(y_true, y_pred)
    precision = _safe_div(c.tp, c.tp + c.fp, zd)
    recall = _safe_div(c.tp, c.tp + c.fn, zd)
    # 2 tp / (2 tp + fp + fn) equals 2 p r / (p + r) whenever that is defined, and is 0 (not
    # 0/0) when there are positives but no hits; only with no positives at all is it 0/0.
    f1 = _safe_div(2 * c.tp, 2 * c.tp + c.fp + c.fn, zd)
    return precision, recall, float(f1)


def _average_ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks of ``x`` (shape (n,)); tied values all get the mean of their ranks."""
    n = x.shape[0]
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    # Start index of every run of equal values in the sorted array.
    starts = np.flatnonzero(np.concatenate(([True], xs[1:] != xs[:-1])))
    stops = np.concatenate((starts[1:], [n]))
    # Positions start..stop-1 hold ranks start+1..stop; their mean is (start + 1 + stop) / 2.
    run_rank = (starts + 1 + stops) / 2.0
    sorted_ranks = np.repeat(run_rank, stops - starts)
    ranks = np.empty(n, dtype=np.float64)
    ranks[order] = sorted_ranks
    return ranks


def _two_class_inputs(y_true: object, scores: object, name: str
                      ) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Flattened labels and scores of one shape, both classes present (else ``name`` is
    undefined: ValueError); returns (t, s, number of positives, number of negatives)."""
    t = _check_labels(y_true, "y_true")
    s = _check_scores(scores)
    check_same_shape(t, s, "y_true", "scores")  # before pooling: (10,) vs (2, 5) is a bug
    t, s = t.ravel(), s.ravel()
    n_pos = int(t.sum())
    n_neg = t.shape[0] - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError(
            f"{name} is undefined when y_true has only one class; "
            f"got {n_pos} positive(s) and {n_neg} negative(s)"
        )
    return t, s, n_pos, n_neg


def roc_auc(y_true: object, scores: object) -> float:
    """Area under the ROC curve via the Mann-Whitney U statistic.

    AUC = P(score of a random anomaly > score of a random normal point), with ties counted as
    1/2.  Using average ranks r_i of all scores (ties get their mean rank):

        AUC = (sum_{i positive} r_i - n_pos (n_pos + 1) / 2) / (n_pos * n_neg)

    which is exactly the trapezoidal area under ``roc_curve`` (no curve is built).

    Inputs:
    - y_true: binary labels, any shape.
    - scores: finite scores, same shape; higher = more anomalous.

    Returns:
    - AUC in [0, 1].  Raises ValueError if y_true has only one class (AUC undefined).
    """
    t, s, n_pos, n_neg = _two_class_inputs(y_true, scores, "roc_auc")
    ranks = _average_ranks(s)
    u = ranks[t == 1].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def _cumulative_counts(
    t: np.ndarray, s: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """TP and FP counts when predicting ``score >= thr`` for each distinct score, descending.

    Returns (thresholds, tps, fps), each of shape (n_distinct,).
    """
    order = np.argsort(-s, kind="mergesort")
    s_sorted = s[order]
    t_sorted = t[order]
    # Last index of each run of equal scores: a threshold admits a whole tie group at once.
    last = np.flatnonzero(np.concatenate((s_sorted[1:] != s_sorted[:-1], [True])))
    tps = np.cumsum(t_sorted)[last]
    fps = (last + 1) - tps
    return s_sorted[last], tps.astype(np.float64), fps.astype(np.float64)


def roc_curve(y_true: object, scores: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC curve: false/true positive rates when flagging ``score >= threshold``.

    Every distinct score is a threshold (descending); a first point (0, 0) with threshold
    +inf is prepended so the curve starts at the origin.  Unlike scikit-learn, collinear
    intermediate points are kept.

    Inputs:
    - y_true: binary labels, any shape; scores: finite, same shape.

    Returns:
    - fpr: (K + 1,) increasing false positive rates, from 0 to 1.
    - tpr: (K + 1,) increasing true positive rates, from 0 to 1.
    - thresholds: (K + 1,) decreasing, thresholds[0] = +inf.
    Raises ValueError if y_true has only one class.
    """
    t, s, n_pos, n_neg = _two_class_inputs(y_true, scores, "roc_curve")
    thr, tps, fps = _cumulative_counts(t, s)
    fpr = np.concatenate(([0.0], fps / n_neg))
    tpr = np.concatenate(([0.0], tps / n_pos))
    return fpr, tpr, np.concatenate(([np.inf], thr))


def pr_curve(y_true: object, scores: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision-recall curve when flagging ``score >= threshold``.

    Every distinct score is a threshold (descending).  A first point (recall 0, precision 1)
    with threshold +inf is prepended, the usual convention that makes the step-wise area
    below equal to average precision.

    Inputs:
    - y_true: binary labels, any shape, with at least one positive; scores: same shape.

    Returns:
    - precision: (K + 1,), precision[0] = 1.
    - recall: (K + 1,) non-decreasing, recall[0] = 0, recall[-1] = 1.
    - thresholds: (K + 1,) decreasing, thresholds[0] = +inf.
    """
    t = _check_labels(y_true, "y_true")
    s = _check_scores(scores)
    check_same_shape(t, s, "y_true", "scores")  # before pooling: (10,) vs (2, 5) is a bug
    t, s = t.ravel(), s.ravel()
    n_pos = int(t.sum())
    if n_pos == 0:
        raise ValueError("pr_curve needs at least one positive in y_true (recall is 0/0)")
    thr, tps, fps = _cumulative_counts(t, s)
    precision = np.concatenate(([1.0], tps / (tps + fps)))  # tps + fps >= 1 at every threshold
    recall = np.concatenate(([0.0], tps / n_pos))
    return precision, recall, np.concatenate(([np.inf], thr))


def pr_auc(y_true: object, scores: object) -> float:
    """Area under the PR curve as average precision (step-wise, no interpolation).

        AP = sum_k (R_k - R_{k-1}) * P_k

    over the thresholds of ``pr_curve`` in decreasing order (R_0 = 0), i.e. the precision at
    each threshold weighted by the recall it adds.  This is scikit-learn's
    ``average_precision_score``; it is *not* the trapezoidal area, which is optimistic.

    Returns:
    - AP in [0, 1].  Raises ValueError if y_true has no positives.
    """
    precision, recall, _ = pr_curve(y_true, scores)
    return float(np.sum(np.diff(recall) * precision[1:]))


# ----------------------------------------------------------------------------------------------
# Segment-based metrics for time series
# ----------------------------------------------------------------------------------------------


def anomaly_segments(labels: object) -> list[tuple[int, int]]:
    """Maximal runs of 1s in a binary series, as half-open ``(start, stop)`` pairs.

    Example: [0, 1, 1, 0, 1] -> [(1, 3), (4, 5)].

    Inputs:
    - labels: binary array of shape (T,).

    Returns:
    - list of (start, stop) with labels[start:stop] all 1, in increasing order.
    """
    y = _check_labels(labels, "labels", one_d=True)
    padded = np.concatenate(([0], y, [0]))
    change = np.diff(padded)
    starts = np.flatnonzero(change == 1)
    stops = np.flatnonzero(change == -1)
    return [(int(a), int(b)) for a, b in zip(starts, stops)]


def point_adjust(y_true: object, y_pred: object) -> np.ndarray:
    """Apply the point-adjust protocol to binary predictions.

    For every true anomaly segment, if *any* of its points is predicted anomalous the whole
    segment is marked as predicted; predictions outside true segments are left unchanged.

    Inputs:
    - y_true, y_pred: binary arrays of shape (T,).

    Returns:
    - adjusted predictions, int64 array of shape (T,).
    """
    t = _check_labels(y_true, "y_true", one_d=True)
    p = _check_labels(y_pred, "y_pred", one_d=True)
    check_same_shape(t, p, "y_true", "y_pred")
    adjusted = p.copy()
    for start, stop in anomaly_segments(t):
        if np.any(p[start:stop]):
            adjusted[start:stop] = 1
    return adjusted


def point_adjusted_f1(
    y_true: object,
    y_pred: object,
    *,
    threshold: float | None = None,
    zero_division: float = 0.0,
) -> float:
    """Point-wise F1 after point adjustment (the protocol of many deep TSAD papers).

    The predictions are first adjusted by ``point_adjust``: detecting one point of a true
    anomaly segment credits the whole segment as detected; then the ordinary point-wise F1 is
    computed.

    Warning -- this protocol inflates results.  A single hit in a segment of length L turns
    into L true positives, while false positives are not adjusted.  A *random* detector that
    flags each point with probability p hits a segment with probability 1 - (1 - p)^L, which
    is close to 1 for long segments.  E.g. one anomaly segment of 100 points in a series of
    1000 and a detector flagging 5 % of points at random: the segment is hit with probability
    1 - 0.95^100 ~ 0.994, giving recall ~ 1, precision ~ 100 / (100 + 45) ~ 0.69 and
    point-adjusted F1 ~ 0.82, whereas its plain F1 is ~ 0.09.  Report it only next to
    unadjusted / range-based metrics and a random baseline (Kim et al., AAAI 2022, "Towards
    a Rigorous Evaluation of Time-series Anomaly Detection").

    Inputs:
    - y_true: binary labels of shape (T,).
    - y_pred: binary predictions of shape (T,); or, when ``threshold`` is given, finite
      anomaly scores of shape (T,), turned into predictions ``scores > threshold`` (strict,
      as ``minivae.timeseries.thresholds.apply_threshold``).
    - threshold: optional float, see above.
    - zero_division: value returned for 0/0, see ``precision_recall_f1``.

    Returns:
    - point-adjusted F1, a float.
    """
    if threshold is None:
        pred = _check_labels(y_pred, "y_pred", one_d=True)
    else:
        pred = apply_threshold(_check_scores(y_pred, "y_pred (scores)", one_d=True), threshold)
    adjusted = point_adjust(y_true, pred)
    return precision_recall_f1(y_true, adjusted, zero_division=zero_division)[2]


def _segment_reward(
    seg: tuple[int, int],
    others: list[tuple[int, int]],
    alpha: float,
    cardinality: str,
) -> float:
    """Tatbul et al. reward of one range ``seg`` against the list of ranges ``others``.

    reward = alpha * existence + (1 - alpha) * cardinality_factor * overlap, with the flat
    positional bias, so overlap = |seg intersect union(others)| / |seg|.
    """
    start, stop = seg
    overlaps = [
        min(stop, b) - max(start, a) for a, b in others if min(stop, b) > max(start, a)
    ]
    if not overlaps:
        return 0.0  # no existence, no overlap
    existence = 1.0
    overlap = sum(overlaps) / (stop - start)
    if cardinality == "reciprocal" and len(overlaps) > 1:
        # Penalise a range that is split over several ranges of the other kind.
        card = 1.0 / len(overlaps)
    else:
        card = 1.0
    return alpha * existence + (1.0 - alpha) * card * overlap


def range_based_precision_recall(
    y_true: object,
    y_pred: object,
    *,
    alpha: float = 0.0,
    cardinality: str = "one",
    zero_division: float = 0.0,
) -> tuple[float, float]:
    """Range-based precision and recall (Tatbul et al., NeurIPS 2018), simplified.

    Real ranges R_1..R_Nr = anomaly_segments(y_true), predicted ranges P_1..P_Np =
    anomaly_segments(y_pred).

        Recall_T    = mean_i [ alpha * Existence(R_i) + (1 - alpha) * gamma_i * Overlap(R_i) ]
        Precision_T = mean_j [ gamma_j * Overlap(P_j) ]            (no existence term)

    Existence(R_i) = 1 if R_i overlaps any predicted range, else 0.  Overlap(R) is the
    fraction of R's points covered by ranges of the other kind (flat positional bias: every
    position weighs the same).  gamma is the cardinality factor: 1 with ``cardinality="one"``,
    or 1 / (number of overlapping ranges) with ``cardinality="reciprocal"`` (penalises one
    real anomaly being fragmented into many detections).

    With alpha = 0 and ``cardinality="one"`` recall is the mean covered fraction per true
    segment, so short anomalies count as much as long ones (unlike point-wise recall);
    alpha = 1 gives pure segment detection rate.

    Inputs:
    - y_true, y_pred: binary arrays of shape (T,).
    - alpha: weight of the existence reward in recall, in [0, 1].
    - cardinality: "one" or "reciprocal".
    - zero_division: returned for precision with no predicted ranges / recall with no true
      ranges.

    Returns:
    - (precision, recall) as floats in [0, 1].
    """
    a = check_scalar(alpha, "alpha", low=0.0, high=1.0)
    if cardinality not in ("one", "reciprocal"):
        raise ValueError(f"cardinality must be 'one' or 'reciprocal', got {cardinality!r}")
    zd = _check_zero_division(zero_division)
    t = _check_labels(y_true, "y_true", one_d=True)
    p = _check_labels(y_pred, "y_pred", one_d=True)
    check_same_shape(t, p, "y_true", "y_pred")
    real = anomaly_segments(t)
    pred = anomaly_segments(p)
    if real:
        recall = float(np.mean([_segment_reward(r, pred, a, cardinality) for r in real]))
    else:
        recall = zd
    if pred:
        precision = float(np.mean([_segment_reward(q, real, 0.0, cardinality) for q in pred]))
    else:
        precision = zd
    return precision, recall


# ----------------------------------------------------------------------------------------------
# Imputation errors
# ----------------------------------------------------------------------------------------------


def masked_error(
    truth: object, estimate: object, mask: object, *, metric: str = "mae"
) -> float:
    """Mean absolute or squared error over the positions selected by ``mask``.

    Note the mask meaning: here ``mask`` is True at the points to *score* -- for imputation
    that is usually the held-out points, i.e. ``~observed_mask`` of the imputer's input.
    Values outside the mask are ignored and may be NaN.

    Inputs:
    - truth: array of any shape, finite where mask is True.
    - estimate: same shape, finite where mask is True.
    - mask: boolean array of the same shape, with at least one True.
    - metric: "mae" (mean |truth - estimate|) or "mse" (mean (truth - estimate)^2).

    Returns:
    - the error as a float.
    """
    if metric not in ("mae", "mse"):
        raise ValueError(f"metric must be 'mae' or 'mse', got {metric!r}")
    tr = check_array(truth, "truth", dtype=np.float64, allow_nan=True)
    es = check_array(estimate, "estimate", dtype=np.float64, allow_nan=True)
    m = check_array(mask, "mask")
    if m.dtype != np.bool_:
        raise TypeError(f"mask must be a boolean array (True = score this point), got {m.dtype}")
    check_same_shape(tr, es, "truth", "estimate")
    check_same_shape(tr, m, "truth", "mask")
    n = int(m.sum())
    if n == 0:
        raise ValueError("mask selects no points; nothing to score")
    for arr, name in ((tr, "truth"), (es, "estimate")):
        bad = int(np.sum(~np.isfinite(arr[m])))
        if bad:
            raise ValueError(f"{name} has {bad} non-finite value(s) at scored (mask=True) points")
    with np.errstate(over="ignore", invalid="ignore"):
        diff = tr[m] - es[m]
        value = float(np.mean(np.abs(diff)) if metric == "mae" else np.mean(diff * diff))
    check_no_overflow(value, metric, truth=tr[m], estimate=es[m])
    return value


def mae(truth: object, estimate: object, mask: object | None = None) -> float:
    """Mean absolute error, over ``mask`` (True = score) or over all points if None."""
    if mask is None:
        mask = np.ones(np.shape(truth), dtype=bool)
    return masked_error(truth, estimate, mask, metric="mae")


def mse(truth: object, estimate: object, mask: object | None = None) -> float:
    """Mean squared error, over ``mask`` (True = score) or over all points if None."""
    if mask is None:
        mask = np.ones(np.shape(truth), dtype=bool)
    return masked_error(truth, estimate, mask, metric="mse")


# ----------------------------------------------------------------------------------------------
# Summaries over runs
# ----------------------------------------------------------------------------------------------


def mean_std(values: object) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1) of a metric over runs (e.g. seeds); the
    standard deviation of a single run is reported as 0."""
    v = check_array(values, "values", ndim=1, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        mean, std = float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0
    check_no_overflow(np.array([mean, std]), "mean_std", values=v)
    return mean, std
