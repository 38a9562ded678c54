"""``python -m minivae.experiments latent`` end to end at the test suite's size (--tiny) on a tiny
synthetic MNIST-like IDX dataset written to tmp_path (never the real files, never a download),
and the table helpers."""

import gzip
import json
import urllib.request

import numpy as np
import pytest

from minivae.experiments import __main__ as dispatcher
from minivae.experiments import latent as exp


def _idx(arr: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(d).to_bytes(4, "big")
                                                      for d in arr.shape)
    return header + arr.astype(np.uint8).tobytes()


@pytest.fixture(scope="module")
def tiny_mnist(tmp_path_factory):
    """60 train and 20 test 'digits': a class-dependent bar and stroke plus noise."""
    d = tmp_path_factory.mktemp("tiny_mnist_latent")
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 60), ("t10k", 20)):
        labels = rng.integers(0, 10, n)
        images = rng.integers(0, 40, (n, 28, 28))
        for i, c in enumerate(labels):
            images[i, 4 + 2 * c: 7 + 2 * c, 6:22] = 255
        (d / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx(images)))
        (d / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(_idx(labels)))
    return d


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("tests must never download")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.setenv("MINIVAE_NO_DOWNLOAD", "1")


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
