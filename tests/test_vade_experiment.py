"""``python -m minivae.experiments latent-clustering`` end to end at the test suite's size
(--tiny) on a tiny synthetic MNIST-like IDX dataset (never the real files, never a download)."""

import json

import pytest
from fake_mnist import write_fake_mnist

from minivae.experiments import __main__ as dispatcher
from minivae.experiments import latent_clustering as exp


@pytest.fixture(scope="module")
def tiny_mnist(tmp_path_factory):
    """60 train and 20 test 'digits': a class-dependent bar plus noise."""
    return write_fake_mnist(tmp_path_factory.mktemp("tiny_mnist_clustering"), 60, 20)


pytestmark = pytest.mark.usefixtures("no_network")


def test_tiny_run_writes_the_table_and_the_figure(tiny_mnist, tmp_path, capsys):
    argv = ["latent-clustering", "--tiny", "--data-dir", str(tiny_mnist), "--no-verify",
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
        argv = ["latent-clustering", "--tiny", "--data-dir", str(tiny_mnist), "--no-verify",
                "--out", str(tmp_path / f"s{seed}"), "--seeds", str(seed), "--no-figures"]
        assert dispatcher.main(argv) == 0
    argv = ["latent-clustering", "--tiny", "--out", str(tmp_path / "both"), "--combine",
            str(tmp_path / "s0" / "results.json"), str(tmp_path / "s1" / "results.json")]
    assert dispatcher.main(argv) == 0
    both = json.loads((tmp_path / "both" / "results.json").read_text())
    one = json.loads((tmp_path / "s1" / "results.json").read_text())
    assert both["seeds"] == [0, 1]
    assert both["rows"]["VaDE"][1] == one["rows"]["VaDE"][0]
