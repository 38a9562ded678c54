"""``python -m minivae.experiments latent`` end to end at the test suite's size (--tiny) on a tiny
synthetic MNIST-like IDX dataset written to tmp_path (never the real files, never a download),
and the table helpers."""

import json

import numpy as np
import pytest
from fake_mnist import write_fake_mnist

from minivae.experiments import __main__ as dispatcher
from minivae.experiments import latent as exp


@pytest.fixture(scope="module")
def tiny_mnist(tmp_path_factory):
    """60 train and 20 test 'digits': a class-dependent bar plus noise."""
    return write_fake_mnist(tmp_path_factory.mktemp("tiny_mnist_latent"), 60, 20)


pytestmark = pytest.mark.usefixtures("no_network")


def test_tiny_run_writes_both_tables_and_figures(tiny_mnist, tmp_path, capsys):
    argv = ["latent", "--parts", "codes", "--tiny", "--data-dir", str(tiny_mnist),
            "--no-verify", "--out", str(tmp_path), "--seeds", "0", "1"]
    assert dispatcher.main(argv) == 0
    out = capsys.readouterr().out
    results = json.loads((tmp_path / "codes" / "results.json").read_text())
    assert results["seeds"] == [0, 1]
    s = exp.SIZES["tiny"]
    for label, _ in exp.vq_specs():
        rows = results["vq_rows"][label]
        assert len(rows) == 2 and f"| {label} |" in out
        for row in rows:
            assert row["reconstruction"] > 0 and row["seconds"] > 0
            if label.startswith("VQ-VAE"):
                assert 1.0 <= row["perplexity"] <= s.num_codes
                assert 0 <= row["dead_codes"] < s.num_codes
    reseeded = results["vq_rows"]["VQ-VAE, EMA + re-seeding"]
    plain = results["vq_rows"]["VQ-VAE, EMA codebook"]
    assert sum(r["dead_codes"] for r in reseeded) <= sum(r["dead_codes"] for r in plain)
    for label, _ in exp.aae_specs():
        for row in results["aae_rows"][label]:
            assert np.isfinite(row["mmd"]) and row["mmd"] >= 0
    for name in ("latent_aae_codes.png", "latent_vqvae.png"):
        assert (tmp_path / "codes" / name).stat().st_size > 1000


def test_reconstruction_nats_is_the_bernoulli_nll():
    class Echo:
        def reconstruct(self, X):
            return np.full_like(X, 0.5)

    X = np.array([[0.0, 1.0, 1.0]])
    assert exp.reconstruction_nats(Echo(), X) == pytest.approx(3 * np.log(2.0))


def test_table_marks_missing_columns():
    rows = {"a": [{"reconstruction": 1.0, "seconds": 2.0, "perplexity": 3.0, "dead_codes": 1},
                  {"reconstruction": 3.0, "seconds": 2.0, "perplexity": 5.0, "dead_codes": 3}],
            "b": [{"reconstruction": 2.0, "seconds": 1.0}]}
    summary = exp.summarise(rows, exp.VQ_COLUMNS)
    assert summary["a"]["reconstruction"] == [2.0, pytest.approx(np.sqrt(2.0))]
    assert summary["b"]["perplexity"] is None
    table = exp.format_table(summary, exp.VQ_COLUMNS, {})
    assert "| b | 2.0 ± 0.0 | – | – | 1.0 ± 0.0 |" in table
