"""The sequence-model comparison of ``python -m minivae.experiments timeseries`` (LSTM-VAE,
LSTM-AE and VRNN on the same beats) at the test suite's size."""

from __future__ import annotations

import json

from minivae.experiments import timeseries as ts


def test_tiny_run_compares_the_sequence_models(tmp_path, capsys):
    argv = ["--tiny", "--seeds", "1", "--skip-imputation", "--no-figures", "--out",
            str(tmp_path)]
    assert ts.main(argv) == 0
    out = capsys.readouterr().out
    assert "Sequence models on the same beats" in out
    run = json.loads((tmp_path / "results.json").read_text())["anomaly"]["runs"][0]
    for name in ts.COMPARED:
        for key in ("win_roc_auc", "win_pr_auc", "step_roc_auc", "step_pr_auc"):
            assert 0.0 <= run["metrics"][name][key] <= 1.0, (name, key)
    assert set(run["fit_seconds"]) == {"LSTM-VAE", "LSTM-AE", "VRNN"}
    assert all(v > 0 for v in run["fit_seconds"].values())
    # the two VRNN scores share one trained model but are different scores
    assert (run["metrics"]["VRNN per-step neg. ELBO"]
            != run["metrics"]["VRNN per-step recon. probability"])


def test_no_compare_keeps_the_lstm_vae_study_alone(tmp_path, capsys):
    argv = ["--tiny", "--skip-imputation", "--no-figures", "--no-compare", "--out",
            str(tmp_path)]
    assert ts.main(argv) == 0
    out = capsys.readouterr().out
    assert "Sequence models on the same beats" not in out and "VRNN" not in out
    run = json.loads((tmp_path / "results.json").read_text())["anomaly"]["runs"][0]
    assert set(run["fit_seconds"]) == {"LSTM-VAE"}
