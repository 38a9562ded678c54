"""``python -m minivae.experiments latent_clustering`` end to end at the test suite's size
(--tiny) on a tiny synthetic MNIST-like IDX dataset (never the real files, never a download)."""

import gzip
import json
import urllib.request

import numpy as np
import pytest

from minivae.experiments import __main__ as dispatcher
from minivae.experiments import latent_clustering as exp


def _idx(arr: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(d).to_bytes(4, "big")
                                                      for d in arr.shape)
    return header + arr.astype(np.uint8).tobytes()


@pytest.fixture(scope="module")
def tiny_mnist(tmp_path_factory):
    """60 train and 20 test 'digits': a class-dependent bar plus noise."""
    d = tmp_path_factory.mktemp("tiny_mnist_clustering")
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


def test_tiny_run_writes_the_table_and_the_figure(tiny_mnist, tmp_path, capsys):
    argv = ["latent_clustering", "--tiny", "--data-dir", str(tiny_mnist), "--no-verify",
            "--out", str(tmp_path), "--seeds", "0", "1"]
    assert dispatcher.main(argv) == 0
    out = capsys.readouterr().out
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["seeds"] == [0, 1]
    for label in exp.ROWS:
        rows = results["rows"][label]
        assert len(rows) == 2 and f"| {label} |" in out
        for row in rows:
            assert 0.0 < row["accuracy"] <= 1.0 and row["seconds"] >= 0
    # the bars are trivially separable in pixel space
    assert min(r["accuracy"] for r in results["rows"]["k-means on pixels"]) > 0.6
    assert (tmp_path / "latent_clustering_samples.png").stat().st_size > 1000


def test_combine_merges_one_process_per_seed(tiny_mnist, tmp_path):
    for seed in (0, 1):
        argv = ["latent_clustering", "--tiny", "--data-dir", str(tiny_mnist), "--no-verify",
                "--out", str(tmp_path / f"s{seed}"), "--seeds", str(seed), "--no-figures"]
        assert dispatcher.main(argv) == 0
    argv = ["latent_clustering", "--tiny", "--out", str(tmp_path / "both"), "--combine",
            str(tmp_path / "s0" / "results.json"), str(tmp_path / "s1" / "results.json")]
    assert dispatcher.main(argv) == 0
    both = json.loads((tmp_path / "both" / "results.json").read_text())
    one = json.loads((tmp_path / "s1" / "results.json").read_text())
    assert both["seeds"] == [0, 1]
    assert both["rows"]["VaDE"][1] == one["rows"]["VaDE"][0]
