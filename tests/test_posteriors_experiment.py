"""``python -m minivae.experiments posteriors --parts two_stage`` at the test suite's size on a
tiny synthetic MNIST-like IDX dataset (never the real files, never a download) and the part's
helpers.  The dispatcher itself and every part at once: tests/test_experiment_parts.py."""

import json

import numpy as np
import pytest
from fake_mnist import write_fake_mnist

from minivae.experiments import __main__ as dispatcher
from minivae.experiments import posteriors_two_stage as two_stage


@pytest.fixture(scope="module")
def tiny_mnist(tmp_path_factory):
    """60 train and 20 test 'digits': a class-dependent bar plus noise."""
    return write_fake_mnist(tmp_path_factory.mktemp("tiny_mnist_posteriors"), 60, 20)


pytestmark = pytest.mark.usefixtures("no_network")


def test_tiny_two_stage_run_end_to_end(tiny_mnist, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["posteriors", "--tiny", "--parts", "two_stage", "--data-dir", str(tiny_mnist),
            "--no-verify", "--out", str(out), "--seeds", "0", "1"]
    assert dispatcher.main(argv) == 0
    printed = capsys.readouterr().out
    record = json.loads((out / "two_stage" / "results.json").read_text())
    assert record["seeds"] == [0, 1] and record["mode"] == "tiny"
    for label in two_stage.ROWS:
        assert f"| {label} |" in printed
        rows = record["rows"][label]
        assert len(rows) == 2
        assert all(np.isfinite(r["mmd_codes"]) and np.isfinite(r["mmd_images"])
                   and r["seconds"] > 0 for r in rows)
    assert (out / "two_stage" / "two_stage_samples.png").stat().st_size > 0
    assert record["figures"] == [str(out / "two_stage" / "two_stage_samples.png")]
    assert "two_stage" in (out / "tables.md").read_text()


def test_table_helpers():
    rows = {"a": [{"mmd_codes": 0.1, "mmd_images": 0.2, "seconds": 1.0},
                  {"mmd_codes": 0.3, "mmd_images": 0.4, "seconds": 3.0}]}
    s = two_stage.summarise(rows)
    assert s["a"]["mmd_codes"] == pytest.approx([0.2, np.std([0.1, 0.3], ddof=1)])
    table = two_stage.format_table(s)
    assert "| a | 0.2000 ± 0.1414 | 0.3000 ± 0.1414 | 2.0 ± 1.4 |" in table


def test_median_bandwidth():
    x = np.array([[0.0], [1.0], [3.0]])  # squared distances 1, 9, 4: median 4 -> sigma sqrt 2
    assert two_stage.median_bandwidth(x) == pytest.approx(np.sqrt(2.0))
