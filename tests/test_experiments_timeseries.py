"""Smoke tests of ``python -m minivae.experiments timeseries`` at a tiny size."""

from __future__ import annotations

import json

import numpy as np
import pytest

from minivae.experiments import timeseries as ts
from minivae.experiments.__main__ import main as dispatch


def test_tiny_run_prints_tables_and_writes_figures(tmp_path, capsys):
    assert dispatch(["timeseries", "--tiny", "--seeds", "3", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Anomaly detection on ECG beats" in out
    assert "rolling z-score (baseline)" in out
    assert "point-adjusted F1" in out  # the caveat line
    assert "MAE on the removed points" in out and "MSE on the removed points" in out
    for method in ("mean", "linear", "gp", "lstm_vae", "linear+model"):
        assert method in out
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["seeds"] == [3] and results["mode"] == "tiny"
    run = results["anomaly"]["runs"][0]
    for name, metrics in run["metrics"].items():
        for key, value in metrics.items():
            assert 0.0 <= value <= 1.0, (name, key)
    assert {r["method"] for r in results["imputation"]["records"]} >= {"mean", "lstm_vae"}
    for fig in results["figures"]:
        assert (tmp_path / fig).stat().st_size > 1000


def test_partial_runs_and_bad_arguments(tmp_path, capsys):
    assert ts.main(["--tiny", "--skip-anomaly", "--no-figures", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Anomaly detection" not in out and "MAE on the removed points" in out
    assert not list(tmp_path.glob("*.png"))
    with pytest.raises(SystemExit) as exc:
        ts.main(["--tiny", "--seeds", "1", "1"])
    assert exc.value.code == 2


def test_anomaly_data_labels_stay_inside_their_beat_windows():
    d = ts.make_anomaly_data(ts.TINY, seed=5)
    W = ts.TINY.window
    starts, labels = d["test_starts"], d["window_labels"]
    assert d["test_windows"].shape == (starts.size, W, 1)
    assert labels.sum() == round(ts.TINY.anomaly_fraction * starts.size)
    # Every labelled step lies in an anomalous window; normal windows hold no labelled step.
    for i, a in enumerate(starts):
        assert d["step_labels"][a:a + W].any() == labels[i]
    assert set(d["window_kinds"][labels]) <= set(ts.ANOMALY_KINDS)
    # Seeded.
    again = ts.make_anomaly_data(ts.TINY, seed=5)
    np.testing.assert_array_equal(again["test_signal"], d["test_signal"])


def test_seasonal_series_has_the_stated_periods():
    T = 48 * 17  # both periods fit a whole number of times: no spectral leakage
    x = ts.seasonal_series(3, T, 0, noise_std=0.0)
    spec = np.abs(np.fft.rfft(x, axis=1))
    for row in spec:
        assert set(np.argsort(row)[-2:]) == {T // 48, T // 17}
        assert np.sort(row)[-3] < 1e-6 * row.max()  # nothing else
