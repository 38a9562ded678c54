"""The posterior-collapse experiment end to end at the test suite's size (``--tiny``) on a tiny
synthetic MNIST-like IDX dataset written to tmp_path (never the real files, never a download):
the four rows, their per-epoch KL and active units, the figure, and the KL floor of the
delta-VAE row; plus the binarization helper."""

import gzip
import urllib.request
from types import SimpleNamespace

import numpy as np
import pytest

from minivae.experiments import posteriors_collapse as exp


def _idx(arr: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(d).to_bytes(4, "big")
                                                      for d in arr.shape)
    return header + arr.astype(np.uint8).tobytes()


@pytest.fixture(scope="module")
def tiny_mnist(tmp_path_factory):
    """60 train and 30 test 'digits': a class-dependent bar plus noise."""
    d = tmp_path_factory.mktemp("tiny_mnist_collapse")
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 60), ("t10k", 30)):
        labels = rng.integers(0, 10, n)
        images = rng.integers(0, 40, (n, 28, 28))
        for i, c in enumerate(labels):
            images[i, 4 + 2 * c: 8 + 2 * c, 6:22] = 255
        (d / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx(images)))
        (d / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(_idx(labels)))
    return d


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("tests must never download")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.setenv("MINIVAE_NO_DOWNLOAD", "1")


def test_binarized_14():
    X = np.zeros((2, 784))
    X[0, :28] = 1.0  # the first image row: pooled with the (blank) second row -> 0.5, not > 0.5
    X[1, :56] = 1.0  # the first two rows -> pooled row 0 is all ones
    B = exp.binarized_14(X)
    assert B.shape == (2, 14, 14) and set(np.unique(B)) <= {0.0, 1.0}
    assert B[0].sum() == 0 and B[1, 0].sum() == 14 and B[1, 1:].sum() == 0
    with pytest.raises(ValueError, match="X"):
        exp.binarized_14(np.zeros((2, 196)))


def test_tiny_run(tiny_mnist, tmp_path):
    args = SimpleNamespace(tiny=True, seeds=[0, 1], out=tmp_path, data_dir=str(tiny_mnist),
                           no_verify=True)
    record = exp.run(args)
    s = exp.SIZES["tiny"]
    labels = [label for label, _ in exp.model_specs(s)]
    assert list(record["rows"]) == labels and record["seeds"] == [0, 1]
    table = record["tables"]["collapse"]
    for label in labels:
        assert f"| {label} |" in table
        for row in record["rows"][label]:
            assert len(row["kl_per_epoch"]) == s.epochs == len(row["active_per_epoch"])
            assert 0 <= row["active_units"] <= s.latent
            assert row["nll_bound"] > 0 and row["seconds"] > 0 and row["kl"] >= 0
    # the delta-VAE's KL can never fall below its committed rate, whatever it learned
    delta_rows = record["rows"][labels[-1]]
    assert all(min(r["kl_per_epoch"]) >= s.delta - 1e-9 and r["kl"] >= s.delta - 1e-9
               for r in delta_rows)
    (fig,) = record["figures"]
    assert fig.endswith("posterior_collapse.png") and (tmp_path / "posterior_collapse.png").stat(
    ).st_size > 1000
