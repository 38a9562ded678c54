"""Tests for minivae.timeseries.metrics: hand-worked cases, brute-force cross-checks and bad
inputs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minivae.timeseries import metrics as M

# ------------------------------------------------------------------------------------------
# Confusion counts, precision / recall / F1
# ------------------------------------------------------------------------------------------


def test_confusion_counts_hand_case():
    c = M.confusion_counts([0, 1, 1, 0, 1], [0, 1, 0, 1, 1])
    assert c == M.ConfusionCounts(tp=2, fp=1, fn=1, tn=1)


def test_confusion_counts_accepts_bool_and_2d():
    t = np.array([[True, False], [True, True]])
    p = np.array([[1, 1], [0, 1]])
    assert M.confusion_counts(t, p) == (2, 1, 1, 0)


def test_precision_recall_f1_hand_cases():
    assert M.precision_recall_f1([0, 1, 1, 0, 1], [0, 1, 0, 1, 1]) == pytest.approx(
        (2 / 3, 2 / 3, 2 / 3)
    )
    # p = 1, r = 1/3 -> F1 = 2 * 1 * 1/3 / (4/3) = 0.5
    assert M.precision_recall_f1([1, 1, 1, 0], [1, 0, 0, 0]) == pytest.approx((1.0, 1 / 3, 0.5))


def test_precision_recall_f1_zero_division_conventions():
    # No positives anywhere: everything is 0/0 -> zero_division.
    assert M.precision_recall_f1([0, 0], [0, 0]) == (0.0, 0.0, 0.0)
    assert M.precision_recall_f1([0, 0], [0, 0], zero_division=1.0) == (1.0, 1.0, 1.0)
    # Anomalies exist but nothing is predicted: precision is 0/0, recall and F1 are 0.
    assert M.precision_recall_f1([1, 0], [0, 0], zero_division=1.0) == (1.0, 0.0, 0.0)
    # Predictions but all wrong: p = r = 0 and F1 = 0 (not 0/0).
    assert M.precision_recall_f1([1, 0], [0, 1], zero_division=1.0) == (0.0, 0.0, 0.0)


# ------------------------------------------------------------------------------------------
# ROC
# ------------------------------------------------------------------------------------------


def test_roc_auc_hand_cases():
    # Pairs (pos, neg): 0.35>0.1 yes, 0.35>0.4 no, 0.8>both -> 3 of 4.
    assert M.roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    # A tie counts 1/2.
    assert M.roc_auc([0, 1], [0.5, 0.5]) == pytest.approx(0.5)
    # pos 1 vs negs {1, 0}: 0.5 + 1; pos 2 beats both: 2 -> 3.5 / 4.
    assert M.roc_auc([0, 1, 1, 0], [1, 1, 2, 0]) == pytest.approx(0.875)
    assert M.roc_auc([0, 0, 1], [0.0, 0.1, 0.2]) == 1.0
    assert M.roc_auc([1, 0, 0], [0.0, 0.1, 0.2]) == 0.0


def _brute_force_auc(y: np.ndarray, s: np.ndarray) -> float:
    pos, neg = s[y == 1], s[y == 0]
    total = 0.0
    for a in pos:
        for b in neg:
            total += 1.0 if a > b else (0.5 if a == b else 0.0)
    return total / (len(pos) * len(neg))


labelled_scores = st.lists(
    st.tuples(st.integers(0, 1), st.integers(-3, 3)), min_size=2, max_size=40
).filter(lambda pairs: len({p[0] for p in pairs}) == 2)


@settings(max_examples=60, deadline=None)
@given(labelled_scores)
def test_roc_auc_matches_pairwise_count(pairs):
    y = np.array([p[0] for p in pairs])
    s = np.array([p[1] for p in pairs], dtype=float) / 2.0  # small grid -> many ties
    assert M.roc_auc(y, s) == pytest.approx(_brute_force_auc(y, s), abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(labelled_scores)
def test_roc_auc_is_trapezoid_area_of_roc_curve(pairs):
    y = np.array([p[0] for p in pairs])
    s = np.array([p[1] for p in pairs], dtype=float)
    fpr, tpr, thr = M.roc_curve(y, s)
    area = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))
    assert M.roc_auc(y, s) == pytest.approx(area, abs=1e-12)
    assert fpr[0] == tpr[0] == 0.0 and fpr[-1] == tpr[-1] == 1.0
    assert np.all(np.diff(thr) < 0)


def test_roc_curve_hand_case():
    fpr, tpr, thr = M.roc_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    np.testing.assert_allclose(thr, [np.inf, 0.8, 0.4, 0.35, 0.1])
    np.testing.assert_allclose(tpr, [0, 0.5, 0.5, 1, 1])
    np.testing.assert_allclose(fpr, [0, 0, 0.5, 0.5, 1])


def test_roc_needs_both_classes():
    with pytest.raises(ValueError, match="only one class"):
        M.roc_auc([1, 1, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="only one class"):
        M.roc_curve([0, 0], [0.1, 0.2])


# ------------------------------------------------------------------------------------------
# Precision-recall
# ------------------------------------------------------------------------------------------


def test_pr_curve_and_average_precision_hand_case():
    # Descending scores: 0.8 (pos), 0.4 (neg), 0.35 (pos), 0.1 (neg).
    p, r, thr = M.pr_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    np.testing.assert_allclose(thr, [np.inf, 0.8, 0.4, 0.35, 0.1])
    np.testing.assert_allclose(p, [1, 1, 1 / 2, 2 / 3, 1 / 2])
    np.testing.assert_allclose(r, [0, 0.5, 0.5, 1, 1])
    # AP = 0.5 * 1 + 0 * 1/2 + 0.5 * 2/3 + 0 * 1/2 = 5/6 (scikit-learn's documented example
    # for average_precision_score gives 0.83 on these inputs).
    assert M.pr_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(5 / 6)


def test_pr_auc_ties_enter_together():
    # Threshold 1 admits a tie (one pos, one neg): P = 1/2 at R = 1/2; then P = 2/3 at R = 1.
    assert M.pr_auc([1, 0, 1], [1.0, 1.0, 0.0]) == pytest.approx(0.5 * 0.5 + 0.5 * 2 / 3)


def test_pr_auc_extremes():
    assert M.pr_auc([0, 1, 0, 1], [0.1, 0.9, 0.2, 0.8]) == 1.0
    assert M.pr_auc([1, 1], [0.3, 0.1]) == 1.0
    # Worst ranking: the positive comes last -> AP = precision at full recall = 1/3.
    assert M.pr_auc([1, 0, 0], [0.0, 0.5, 0.9]) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="at least one positive"):
        M.pr_auc([0, 0], [0.1, 0.2])


# ------------------------------------------------------------------------------------------
# Segments, point adjust, range-based metrics
# ------------------------------------------------------------------------------------------


def test_anomaly_segments():
    assert M.anomaly_segments([0, 1, 1, 0, 1]) == [(1, 3), (4, 5)]
    assert M.anomaly_segments([1, 1]) == [(0, 2)]
    assert M.anomaly_segments([0, 0, 0]) == []
    assert M.anomaly_segments(np.array([True, False, True])) == [(0, 1), (2, 3)]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 1), min_size=1, max_size=50))
def test_anomaly_segments_reconstruct_labels(labels):
    rebuilt = np.zeros(len(labels), dtype=int)
    for a, b in M.anomaly_segments(labels):
        assert b > a
        rebuilt[a:b] = 1
    np.testing.assert_array_equal(rebuilt, labels)


def test_point_adjust_hand_case():
    y_true = np.array([0, 1, 1, 1, 0, 0, 1, 1, 0, 0])
    y_pred = np.array([0, 0, 1, 0, 0, 0, 0, 0, 0, 1])
    adjusted = M.point_adjust(y_true, y_pred)
    np.testing.assert_array_equal(adjusted, [0, 1, 1, 1, 0, 0, 0, 0, 0, 1])
    # Raw: tp=1, fp=1, fn=4 -> F1 = 2/7.  Adjusted: tp=3, fp=1, fn=2 -> F1 = 6/9.
    assert M.precision_recall_f1(y_true, y_pred)[2] == pytest.approx(2 / 7)
    assert M.point_adjusted_f1(y_true, y_pred) == pytest.approx(2 / 3)


def test_point_adjusted_f1_inflates_a_random_detector():
    """One 100-point anomaly in 1000 points; a detector flagging 5 % of points at random."""
    rng = np.random.default_rng(0)
    y_true = np.zeros(1000, dtype=int)
    y_true[400:500] = 1
    scores = rng.random(1000)  # pure noise: no information about the anomaly
    y_pred = (scores > 0.95).astype(int)
    raw_f1 = M.precision_recall_f1(y_true, y_pred)[2]
    pa_f1 = M.point_adjusted_f1(y_true, y_pred)
    assert raw_f1 < 0.15  # what a random detector deserves
    assert pa_f1 > 0.7  # what point adjust reports (docstring estimate ~0.82)
    # Scores plus a threshold give the same as the thresholded predictions (strict >).
    assert M.point_adjusted_f1(y_true, scores, threshold=0.95) == pa_f1


def test_range_based_precision_recall_hand_case():
    y_true = [1, 1, 1, 1, 0, 0, 1, 1, 0, 0]  # R1 = [0, 4), R2 = [6, 8)
    y_pred = [0, 0, 1, 1, 1, 0, 0, 0, 0, 1]  # P1 = [2, 5), P2 = [9, 10)
    # R1: existence 1, overlap 2/4; R2: nothing.  P1: overlap 2/3; P2: nothing.
    p, r = M.range_based_precision_recall(y_true, y_pred, alpha=0.0)
    assert p == pytest.approx((2 / 3 + 0) / 2)
    assert r == pytest.approx((0.5 + 0) / 2)
    assert M.range_based_precision_recall(y_true, y_pred, alpha=1.0)[1] == pytest.approx(0.5)
    r_half = M.range_based_precision_recall(y_true, y_pred, alpha=0.5)[1]
    assert r_half == pytest.approx((0.5 * 1 + 0.5 * 0.5 + 0) / 2)


def test_range_based_cardinality_penalises_fragmentation():
    y_true = [1, 1, 1, 1, 1, 1]
    y_pred = [1, 1, 0, 1, 1, 0]  # two detections inside one anomaly, covering 4 of 6 points
    p1, r1 = M.range_based_precision_recall(y_true, y_pred, cardinality="one")
    p2, r2 = M.range_based_precision_recall(y_true, y_pred, cardinality="reciprocal")
    assert (p1, r1) == pytest.approx((1.0, 4 / 6))
    assert (p2, r2) == pytest.approx((1.0, 4 / 6 / 2))


def test_range_based_perfect_and_empty():
    y = [0, 1, 1, 0, 1]
    assert M.range_based_precision_recall(y, y) == (1.0, 1.0)
    assert M.range_based_precision_recall(y, [0] * 5) == (0.0, 0.0)
    with pytest.raises(ValueError, match="alpha"):
        M.range_based_precision_recall(y, y, alpha=1.5)
    with pytest.raises(ValueError, match="cardinality"):
        M.range_based_precision_recall(y, y, cardinality="flat")


# ------------------------------------------------------------------------------------------
# Masked errors
# ------------------------------------------------------------------------------------------


def test_masked_error_hand_case():
    truth = np.array([1.0, 2.0, 3.0, np.nan])
    est = np.array([1.0, 4.0, 0.0, 5.0])
    mask = np.array([False, True, True, False])
    assert M.masked_error(truth, est, mask) == pytest.approx(2.5)  # (2 + 3) / 2
    assert M.masked_error(truth, est, mask, metric="mse") == pytest.approx(6.5)  # (4 + 9) / 2
    assert M.mae(truth, est, mask) == pytest.approx(2.5)
    assert M.mse(truth, est, mask) == pytest.approx(6.5)
    assert M.mae([1.0, 2.0], [2.0, 0.0]) == pytest.approx(1.5)
    assert M.mse([1.0, 2.0], [2.0, 0.0]) == pytest.approx(2.5)


def test_masked_error_bad_inputs():
    t = np.array([1.0, np.nan])
    with pytest.raises(ValueError, match="truth has 1 non-finite"):
        M.masked_error(t, [1.0, 1.0], np.array([True, True]))
    with pytest.raises(ValueError, match="no points"):
        M.masked_error(t, [1.0, 1.0], np.array([False, False]))
    with pytest.raises(TypeError, match="boolean"):
        M.masked_error(t, [1.0, 1.0], np.array([1, 0]))
    with pytest.raises(ValueError, match="same shape"):
        M.masked_error(t, [1.0, 1.0, 1.0], np.array([True, False]))
    with pytest.raises(ValueError, match="metric"):
        M.masked_error(t, [1.0, 1.0], np.array([True, False]), metric="rmse")


# ------------------------------------------------------------------------------------------
# Input validation
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("fn", [M.roc_auc, M.roc_curve, M.pr_curve, M.pr_auc])
def test_non_finite_scores_rejected(fn, bad):
    with pytest.raises(ValueError, match="scores contains 1 non-finite"):
        fn([0, 1, 1], [0.1, bad, 0.3])


def test_non_finite_scores_rejected_in_point_adjust():
    with pytest.raises(ValueError, match="non-finite"):
        M.point_adjusted_f1([0, 1], [0.1, np.nan], threshold=0.5)


@pytest.mark.parametrize(
    "call",
    [
        lambda: M.confusion_counts([0, 1, 1], [0, 1]),
        lambda: M.roc_auc([0, 1, 1], [0.1, 0.2]),
        lambda: M.pr_auc([0, 1], [0.1, 0.2, 0.3]),
        lambda: M.point_adjusted_f1([0, 1, 1], [0, 1]),
        lambda: M.range_based_precision_recall([0, 1, 1], [0, 1]),
    ],
)
def test_shape_mismatch_rejected(call):
    with pytest.raises(ValueError, match="same shape"):
        call()


@pytest.mark.parametrize(
    "call",
    [
        lambda: M.confusion_counts([0, 2, 1], [0, 1, 1]),
        lambda: M.precision_recall_f1([0, 1, 1], [0, 0.5, 1]),
        lambda: M.roc_auc([0, -1, 1], [0.1, 0.2, 0.3]),
        lambda: M.anomaly_segments([0, 3]),
        lambda: M.point_adjusted_f1([0, 1], [0.2, 0.7]),  # scores without threshold
    ],
)
def test_non_binary_labels_rejected(call):
    with pytest.raises(ValueError, match="binary"):
        call()


def test_segment_metrics_need_1d():
    with pytest.raises(ValueError, match="1 dimensions"):
        M.anomaly_segments(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="1 dimensions"):
        M.point_adjusted_f1(np.zeros((2, 3)), np.zeros((2, 3)))


def test_mean_std_over_runs():
    assert M.mean_std([1.0, 2.0, 4.0]) == pytest.approx((7 / 3, np.std([1.0, 2.0, 4.0], ddof=1)))
    assert M.mean_std([0.5]) == (0.5, 0.0)
    with pytest.raises(ValueError, match="values is empty"):
        M.mean_std([])
