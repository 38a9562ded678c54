"""``python -m minivae.experiments forecast`` end to end at the test suite's size (--tiny)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from minivae.experiments import forecast as fc
from minivae.experiments.__main__ import main as dispatch


def test_tiny_run_prints_the_table_and_writes_the_figure(tmp_path, capsys):
    assert dispatch(["forecast", "--tiny", "--seeds", "2", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Forecasting the next k=" in out
    for method in ("LSTM forecaster", "last value", "seasonal naive (m=24)",
                   "seasonal naive (m=40)"):
        assert method in out
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["seeds"] == [2] and results["mode"] == "tiny"
    metrics = results["runs"][0]["metrics"]
    assert set(metrics) == set(fc.DATASETS)
    assert "seasonal naive (m=24)" not in str(metrics["regime_series"])  # no season there
    for rows in metrics.values():
        for row in rows.values():
            assert row["mae"] >= 0 and row["seconds"] >= 0
            for key in ("cov_80", "cov_95"):
                assert 0.0 <= row[key] <= 1.0
            assert row["cov_95"] >= row["cov_80"]  # nested intervals
    assert (tmp_path / "forecast_bands.png").stat().st_size > 1000


def test_quick_flag_parses_and_no_figures(tmp_path, capsys, monkeypatch):
    # --quick with its real sizes takes a minute; here its parsing and the wiring, on TINY sizes
    monkeypatch.setattr(fc, "QUICK", fc.TINY)
    assert fc.main(["--quick", "--no-figures", "--no-vrnn", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "forecast (quick)" in out and "VRNN" not in out
    assert not list(tmp_path.glob("*.png"))
    with pytest.raises(SystemExit) as exc:
        fc.main(["--tiny", "--seeds", "1", "1"])
    assert exc.value.code == 2


def test_series_are_seeded_and_standardised_on_the_training_part():
    for name in fc.DATASETS:
        a = fc.make_series(name, 300, 4)
        np.testing.assert_array_equal(a, fc.make_series(name, 300, 4))
        assert not np.array_equal(a, fc.make_series(name, 300, 5))
    d = fc.make_data("multi_sine", fc.TINY, 0)
    W, k = fc.TINY.context, fc.TINY.horizon
    assert d["train"].shape[1:] == (W + k, 1)
    assert d["context"].shape[1:] == (W, 1) and d["truth"].shape[1:] == (k, 1)
    x = fc.make_series("multi_sine", fc.TINY.train_length + fc.TINY.test_length, 0)
    train = x[: fc.TINY.train_length]
    np.testing.assert_allclose(d["train"][0, :, 0], ((train - train.mean()) / train.std())[:W + k])
    with pytest.raises(ValueError, match="unknown series"):
        fc.make_series("stock", 10, 0)
