"""``python -m minivae detect`` end to end, the detector checkpoint and the detection metrics."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from minivae.detect import detection_metrics
from minivae.models import LSTMAutoencoder
from minivae.timeseries.anomaly import AnomalyDetector
from minivae.timeseries.detector_store import load_detector, save_detector

ROOT = Path(__file__).resolve().parents[1]


def _write_csv(path, T, anomalies=(), labels=False, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(T)
    x = np.sin(2 * np.pi * t / 16) + 0.05 * rng.standard_normal(T)
    lab = np.zeros(T, int)
    for a, b in anomalies:
        x[a:b] += 3.0
        lab[a:b] = 1
    stamps = np.datetime64("2024-01-01T00:00") + t * np.timedelta64(1, "m")
    lines = ["timestamp,value" + (",label" if labels else "")]
    lines += [f"{stamps[i]},{x[i]:.5f}" + (f",{lab[i]}" if labels else "") for i in range(T)]
    path.write_text("\n".join(lines) + "\n")


def _run(*args):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg",
           "MINIVAE_BACKEND": "numpy"}  # no JIT compilation: a small run takes seconds
    return subprocess.run([sys.executable, "-m", "minivae", "detect", *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=300, cwd=ROOT)


def test_detect_end_to_end(tmp_path):
    _write_csv(tmp_path / "train.csv", 240)
    _write_csv(tmp_path / "test.csv", 160, anomalies=[(60, 66), (120, 124)], labels=True, seed=1)
    out = tmp_path / "out"
    r = _run(tmp_path / "train.csv", tmp_path / "test.csv", "--window", 16, "--epochs", 3,
             "--hidden", 8, "--latent", 2, "--out", out, "--quiet")
    assert r.returncode == 0, r.stderr
    for name in ("scores.csv", "intervals.csv", "detection.png", "metrics.json", "detector.npz"):
        assert (out / name).is_file(), name
    rows = (out / "scores.csv").read_text().splitlines()
    assert rows[0] == "timestamp,score,flagged,label" and len(rows) == 161
    assert rows[1].startswith("2024-01-01T00:00:00,")
    scores = np.array([float(r.split(",")[1]) for r in rows[1:]])
    flagged = np.array([int(r.split(",")[2]) for r in rows[1:]])
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) >= {"roc_auc", "pr_auc", "tpr_at_fpr", "window_recall"}
    assert metrics["n_windows"] == 2 and metrics["n_anomalous_steps"] == 10
    # A +3 level shift on a clean sine is obvious even to a barely trained model.
    assert metrics["roc_auc"] > 0.8
    intervals = (out / "intervals.csv").read_text().splitlines()
    assert intervals[0] == "start,end,start_index,end_index,steps,max_score"
    assert sum(int(r.split(",")[4]) for r in intervals[1:]) == flagged.sum()
    # The saved detector scores the same file to the same numbers, with no training.
    r2 = _run("--load", out / "detector.npz", tmp_path / "test.csv", "--out", tmp_path / "o2")
    assert r2.returncode == 0, r2.stderr
    rows2 = (tmp_path / "o2" / "scores.csv").read_text().splitlines()
    np.testing.assert_allclose([float(r.split(",")[1]) for r in rows2[1:]], scores, rtol=1e-5)


def test_detect_reports_bad_files(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("time,v\n1,1\n1,2\n")
    r = _run(bad, "--window", 4, "--epochs", 1, "--out", tmp_path / "o")
    assert r.returncode == 2 and "line 3: duplicate timestamp '1'" in r.stderr


def _fitted_detector(**kwargs):
    rng = np.random.default_rng(0)
    series = np.sin(np.arange(200) / 3.0)[:, None] + 0.05 * rng.standard_normal((200, 1))
    det = AnomalyDetector(LSTMAutoencoder(1, 6, 2, rng=0), window=12, stride=2, rng=0, **kwargs)
    det.fit(series, epochs=2, batch_size=16)
    return det, series


@pytest.mark.parametrize("step_score", ["step", "window"])
def test_detector_checkpoint_round_trip(tmp_path, step_score):
    det, series = _fitted_detector(step_score=step_score, threshold="percentile", q=95.0)
    save_detector(tmp_path / "d.npz", det, meta={"columns": ["v"]})
    back, meta = load_detector(tmp_path / "d.npz")
    assert meta == {"columns": ["v"]}
    assert back.step_threshold_ == det.step_threshold_ and back.window == 12
    assert back.step_score == step_score and back.threshold_method == "percentile"
    np.testing.assert_array_equal(back.scaler_.mean_, det.scaler_.mean_)
    np.testing.assert_array_equal(back.score(series), det.score(series))
    with np.load(tmp_path / "d.npz", allow_pickle=False) as npz:  # no pickle needed
        assert "detector/settings" in npz.files and "model/__config__" in npz.files


def test_detector_checkpoint_errors(tmp_path):
    from minivae.train.checkpoint import save_checkpoint

    save_checkpoint(tmp_path / "model.npz", LSTMAutoencoder(1, 4, 2))
    with pytest.raises(ValueError, match="not a saved detector"):
        load_detector(tmp_path / "model.npz")
    det, _ = _fitted_detector()
    save_detector(tmp_path / "d.npz", det)
    with np.load(tmp_path / "d.npz", allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    broken = {k: v for k, v in arrays.items() if not k.startswith("model/param/")}
    np.savez(tmp_path / "broken.npz", **broken)
    with pytest.raises(ValueError, match="its model checkpoint is unusable"):
        load_detector(tmp_path / "broken.npz")
    arrays["detector/settings"] = np.array("{not json")
    np.savez(tmp_path / "bad_settings.npz", **arrays)
    with pytest.raises(ValueError, match="malformed detector settings"):
        load_detector(tmp_path / "bad_settings.npz")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(ValueError, match="cannot read detector file"):
        load_detector(tmp_path / "text.npz")
    with pytest.raises(RuntimeError, match="not fitted"):
        save_detector(tmp_path / "x.npz", AnomalyDetector(LSTMAutoencoder(1, 4, 2), window=4))
    with pytest.raises(TypeError, match="must be an AnomalyDetector"):
        save_detector(tmp_path / "x.npz", object())


def test_window_step_score_is_mean_of_covering_window_scores():
    det, series = _fitted_detector(step_score="window")
    per_window, starts = det.score_windows(series)
    steps = det.score(series)
    t = 30  # covered by the windows starting in [t - 11, t]
    covering = (starts <= t) & (starts + 12 > t)
    assert steps[t] == pytest.approx(per_window[covering].mean(), rel=1e-12)


def test_detection_metrics_by_hand():
    y = np.array([0, 0, 1, 1, 0, 0, 1, 0, 0, 0])
    s = np.array([0, 1, 9, 8, 2, 3, 4, 0, 0, 0], float)
    f = (s > 5).astype(int)
    m = detection_metrics(y, s, f)
    assert m["window_recall"] == 0.5  # the first window is hit, the second (score 4) is not
    assert m["precision"] == 1.0 and m["recall"] == pytest.approx(2 / 3)
    # Negatives' scores: 0 1 2 3 0 0 0; FPR <= 1% allows none above 3: TPR = 3/3 at thr 4.
    assert m["tpr_at_fpr"] == 1.0 and m["roc_auc"] == 1.0
    with pytest.raises(ValueError, match="same shape"):
        detection_metrics(y, s[:5], f)
