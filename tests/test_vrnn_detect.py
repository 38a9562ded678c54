"""The VRNN in the anomaly detectors (score="nelbo", and the LSTM-VAE's scores) and in
``python -m minivae detect --model vrnn``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from minivae.models import VRNN, LSTMAutoencoder
from minivae.timeseries.anomaly import AnomalyDetector
from minivae.timeseries.detector_store import load_detector, save_detector
from minivae.timeseries.metrics import roc_auc

ROOT = Path(__file__).resolve().parents[1]


def _series(T, seed, shifts=()):
    rng = np.random.default_rng(seed)
    t = np.arange(T)
    x = np.sin(2 * np.pi * t / 16) + 0.05 * rng.standard_normal(T)
    labels = np.zeros(T, int)
    for a, b in shifts:
        x[a:b] += 3.0
        labels[a:b] = 1
    return x, labels


@pytest.fixture(scope="module")
def fitted():
    x, _ = _series(480, 0)
    det = AnomalyDetector(VRNN(1, 12, 2, rng=0), score="nelbo", window=16, stride=4,
                          train_stride=4, n_samples=4, rng=0)
    det.fit(x, epochs=4, batch_size=16, lr=5e-3)
    return det


def test_nelbo_detector_finds_level_shifts(fitted):
    x, labels = _series(240, 1, shifts=[(60, 66), (150, 154)])
    scores = fitted.score(x)
    assert scores.shape == (240,) and np.isfinite(scores).all()
    assert roc_auc(labels, scores) > 0.9
    assert fitted.predict(x)[labels == 1].mean() > 0.5
    steps = fitted.score_steps(np.stack([x[:16], x[56:72]])[:, :, None])
    assert steps.shape == (2, 16)
    assert steps[1].max() > steps[0].max()  # the window holding the shift scores higher


def test_nelbo_scores_are_reproducible(fitted):
    x, _ = _series(100, 2)
    np.testing.assert_array_equal(fitted.score(x), fitted.score(x))


def test_detector_store_round_trip(fitted, tmp_path):
    x, _ = _series(120, 3, shifts=[(40, 44)])
    save_detector(tmp_path / "det.npz", fitted, {"columns": ["value"]})
    loaded, meta = load_detector(tmp_path / "det.npz")
    assert isinstance(loaded.model, VRNN) and loaded.score_kind == "nelbo"
    np.testing.assert_array_equal(loaded.score(x), fitted.score(x))


@pytest.mark.parametrize("score", ["reconstruction_probability", "mse"])
def test_the_other_scores_take_a_vrnn(fitted, score):
    x, labels = _series(240, 1, shifts=[(60, 66), (150, 154)])
    det = AnomalyDetector(fitted.model, score=score, window=16, stride=4, n_samples=4, rng=0)
    det.fit(_series(480, 0)[0], train=False)
    assert roc_auc(labels, det.score(x)) > 0.9


def test_nelbo_needs_per_step_scores():
    with pytest.raises(TypeError, match="per_step_scores"):
        AnomalyDetector(LSTMAutoencoder(1, 4, 2), score="nelbo", window=8)


def _run(*args):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg",
           "MINIVAE_BACKEND": "numpy"}
    return subprocess.run([sys.executable, "-m", "minivae", "detect", *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=300, cwd=ROOT)


def _write_csv(path, x, labels=None):
    head = "value" + (",label" if labels is not None else "")
    rows = [f"{v:.5f}" + (f",{labels[i]}" if labels is not None else "")
            for i, v in enumerate(x)]
    path.write_text(head + "\n" + "\n".join(rows) + "\n")


def test_detect_cli_with_vrnn(tmp_path):
    _write_csv(tmp_path / "train.csv", _series(320, 0)[0])
    x, labels = _series(200, 1, shifts=[(80, 86)])
    _write_csv(tmp_path / "test.csv", x, labels)
    out = tmp_path / "out"
    r = _run(tmp_path / "train.csv", tmp_path / "test.csv", "--model", "vrnn", "--window", 16,
             "--epochs", 3, "--hidden", 8, "--latent", 2, "--out", out, "--quiet")
    assert r.returncode == 0, r.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["roc_auc"] > 0.8
    det, _ = load_detector(out / "detector.npz")
    assert isinstance(det.model, VRNN) and det.score_kind == "nelbo"


def test_detect_cli_refuses_nelbo_without_vrnn(tmp_path):
    _write_csv(tmp_path / "train.csv", _series(200, 0)[0])
    r = _run(tmp_path / "train.csv", "--model", "lstm-ae", "--score", "nelbo", "--window", 16,
             "--epochs", 1, "--out", tmp_path / "out", "--quiet")
    assert r.returncode == 2 and "--score nelbo needs --model vrnn" in r.stderr
