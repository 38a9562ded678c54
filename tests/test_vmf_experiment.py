"""The S-VAE vs Gaussian VAE comparison (minivae.experiments.posteriors_svae) at its tiny size."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from minivae.experiments import posteriors_svae


def test_svae_comparison_runs_tiny_and_reports_both_families():
    args = argparse.Namespace(tiny=True, quick=False, seed=0, seeds=None, data_dir=None,
                              no_verify=False, latents=None)
    record = posteriors_svae.run(args)
    assert record["latents"] == [2] and record["mode"] == "tiny"
    table = record["tables"]["svae"]
    for label in ("gaussian, R^2", "vmf, S^1 in R^2", "vmf, S^2 in R^3"):
        assert f"| {label} |" in table
        (row,) = record["rows"][label]
        assert all(np.isfinite(v) for v in row.values())
        assert row["kl"] > 0 and row["neg_ll"] <= row["neg_elbo"] + 1e-9
    assert "independent pixels" in table


def test_cli_refuses_a_latent_size_below_two():
    with pytest.raises(SystemExit):
        posteriors_svae.main(["--tiny", "--latents", "1"])
