"""The posterior-collapse experiment end to end at the test suite's size (``--tiny``) on a tiny
synthetic MNIST-like IDX dataset written to tmp_path (never the real files, never a download):
the four rows, their per-epoch KL and active units, the figure, and the KL floor of the
delta-VAE row; plus the binarization helper."""

from types import SimpleNamespace

import numpy as np
import pytest
from fake_mnist import write_fake_mnist

from minivae.experiments import posteriors_collapse as exp


@pytest.fixture(scope="module")
def tiny_mnist(tmp_path_factory):
    """60 train and 30 test 'digits': a class-dependent bar (4 rows) plus noise."""
    return write_fake_mnist(tmp_path_factory.mktemp("tiny_mnist_collapse"), 60, 30, bar_height=4)


pytestmark = pytest.mark.usefixtures("no_network")


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
