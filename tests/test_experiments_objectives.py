"""``python -m minivae.experiments objectives`` end to end at the test suite's size (--tiny) on a
tiny synthetic MNIST-like IDX dataset written to tmp_path (never the real files, never a
download), and the table helpers."""

import json

import numpy as np
import pytest
from fake_mnist import write_fake_mnist

from minivae.experiments import __main__ as dispatcher
from minivae.experiments import objectives as exp


@pytest.fixture(scope="module")
def tiny_mnist(tmp_path_factory):
    """60 train and 10 test 'digits': a class-dependent bar and stroke plus noise."""
    return write_fake_mnist(tmp_path_factory.mktemp("tiny_mnist_objectives"), 60, 10, stroke=True)


pytestmark = pytest.mark.usefixtures("no_network")


def test_tiny_run_trains_every_model_and_writes_table_and_figures(tiny_mnist, tmp_path, capsys):
    argv = ["objectives", "--tiny", "--data-dir", str(tiny_mnist), "--no-verify",
            "--out", str(tmp_path)]
    assert dispatcher.main(argv) == 0
    out = capsys.readouterr().out
    results = json.loads((tmp_path / "results.json").read_text())
    labels = [label for label, _ in exp.model_specs()]
    assert list(results["summary"]) == labels and len(labels) >= 10
    for label in labels:
        row = results["rows"][label][0]
        for key, _ in exp.COLUMNS:
            assert np.isfinite(row[key]), (label, key)
        assert row["test_ll"] <= 0 and row["kl"] >= 0
        assert f"| {label} |" in out
    # Each model's bounds: log p(x) (k = 20 here) and L_50 are averages over the same images of
    # tighter bounds than the 10-sample ELBO; a tiny model still shows the order on average.
    iwae50 = results["rows"][f"IWAE k={exp.K_LARGE}"][0]
    assert iwae50["iwae_50"] > iwae50["elbo"]
    snr = results["snr"]
    assert set(snr) == {"IWAE", "DReG"}
    for v in snr.values():
        assert len(v["encoder"]) == len(exp.SIZES["tiny"].snr_ks)
        assert all(np.isfinite(x) and x > 0 for x in v["encoder"] + v["decoder"])
        ks = exp.SIZES["tiny"].snr_ks
        assert all(1.0 - 1e-9 <= e <= k + 1e-9 for e, k in zip(v["ess"], ks))
    # The decoder's estimator is the same under both: identical draws give identical SNRs.
    assert snr["IWAE"]["decoder"] == snr["DReG"]["decoder"]
    for name in ("samples.png", "gradient_snr.png"):
        assert (tmp_path / name).stat().st_size > 1000


def test_table_is_mean_and_std_over_seeds():
    rows = {"m": [{"test_ll": -100.0, "iwae_50": -101.0, "elbo": -105.0, "kl": 20.0,
                   "active_units": 10, "seconds_per_epoch": 1.0,
                   "cpu_seconds_per_epoch": 0.5},
                  {"test_ll": -102.0, "iwae_50": -103.0, "elbo": -107.0, "kl": 22.0,
                   "active_units": 12, "seconds_per_epoch": 3.0,
                   "cpu_seconds_per_epoch": 0.7}]}
    summary = exp.summarise(rows)
    assert summary["m"]["test_ll"] == pytest.approx([-101.0, np.sqrt(2.0)])
    table = exp.format_table(summary, exp.SIZES["tiny"])
    assert "| m | -101.00 ± 1.41 |" in table and "11.0/2" in table


def test_missing_data_is_an_error_not_a_download(tmp_path):
    with pytest.raises(FileNotFoundError):
        exp.main(["--tiny", "--data-dir", str(tmp_path), "--out", str(tmp_path / "o")])
