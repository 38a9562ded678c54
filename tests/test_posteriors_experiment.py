"""``python -m minivae.experiments posteriors``: the dispatcher over its parts (with a stand-in
part and with the real ``two_stage`` part at the test suite's size on a tiny synthetic
MNIST-like IDX dataset; never the real files, never a download)."""

import gzip
import json
import pathlib
import urllib.request

import numpy as np
import pytest

from minivae.experiments import EXPERIMENTS
from minivae.experiments import __main__ as dispatcher
from minivae.experiments import posteriors as exp
from minivae.experiments import posteriors_two_stage as two_stage


def _idx(arr: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(d).to_bytes(4, "big")
                                                      for d in arr.shape)
    return header + arr.astype(np.uint8).tobytes()


@pytest.fixture(scope="module")
def tiny_mnist(tmp_path_factory):
    """60 train and 20 test 'digits': a class-dependent bar plus noise."""
    d = tmp_path_factory.mktemp("tiny_mnist_posteriors")
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


@pytest.fixture
def fake_part(tmp_path, monkeypatch):
    """A stand-in part module that records the options it was given."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "fake_posteriors_part.py").write_text(
        "import json\n"
        "def run(args):\n"
        "    path = args.out / 'seen.json'\n"
        "    path.write_text(json.dumps({k: str(v) for k, v in vars(args).items()}))\n"
        "    return {'tables': {'fake table': '| a |\\n|---|\\n| 1 |'}, 'figures': [str(path)],"
        " 'extra': [1, 2]}\n")
    monkeypatch.syspath_prepend(str(src))
    monkeypatch.setitem(exp.PARTS, "fake", "fake_posteriors_part")
    return "fake"


def test_registered_with_the_experiments():
    assert EXPERIMENTS["posteriors"] == "minivae.experiments.posteriors"
    assert set(exp.PARTS) >= {"families", "collapse", "disentangle", "two_stage"}
    assert "two_stage" in exp.available_parts()


def test_parse_parts():
    assert exp.parse_parts(None) == exp.available_parts()
    assert exp.parse_parts("two_stage, two_stage") == ["two_stage"]
    with pytest.raises(ValueError, match="unknown: \\['nope'\\]"):
        exp.parse_parts("two_stage,nope")
    with pytest.raises(ValueError, match="--parts"):
        exp.parse_parts(",")


def test_a_named_part_missing_from_this_version_is_an_error(monkeypatch, capsys):
    monkeypatch.setitem(exp.PARTS, "ghost", "minivae.experiments.no_such_module_here")
    with pytest.raises(ValueError, match="ghost"):
        exp.parse_parts("ghost")
    assert "ghost" not in exp.available_parts()
    with pytest.raises(SystemExit):
        dispatcher.main(["posteriors", "--parts", "ghost"])
    assert "ghost" in capsys.readouterr().err


def test_dispatcher_runs_a_part_with_the_documented_options(fake_part, tmp_path, capsys):
    out = tmp_path / "out"
    assert dispatcher.main(["posteriors", "--parts", fake_part, "--quick", "--seeds", "3", "4",
                            "--out", str(out), "--no-figures"]) == 0
    seen = json.loads((out / fake_part / "seen.json").read_text())
    assert seen["quick"] == "True" and seen["tiny"] == "False" and seen["seeds"] == "[3, 4]"
    assert seen["out"] == str(out / fake_part) and seen["no_figures"] == "True"
    assert {"seed", "data_dir", "no_verify"} <= set(seen)
    printed = capsys.readouterr().out
    assert "fake table" in printed and "| 1 |" in printed
    assert "## fake: fake table" in (out / "tables.md").read_text()
    record = json.loads((out / fake_part / "results.json").read_text())
    assert record["extra"] == [1, 2] and record["seconds"] >= 0
    summary = json.loads((out / "results.json").read_text())
    assert list(summary["parts"]) == [fake_part]


def test_a_part_returning_no_tables_is_refused(tmp_path, monkeypatch):
    src = tmp_path / "src"
    src.mkdir()
    (src / "bad_posteriors_part.py").write_text("def run(args):\n    return {'figures': []}\n")
    monkeypatch.syspath_prepend(str(src))
    monkeypatch.setitem(exp.PARTS, "bad", "bad_posteriors_part")
    with pytest.raises(TypeError, match="part 'bad'.*'tables'"):
        dispatcher.main(["posteriors", "--parts", "bad", "--out", str(tmp_path / "o")])


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


def test_tiny_run_of_every_part(tiny_mnist, tmp_path):
    """The whole command at the test suite's size: every part of this version runs, its tables
    land in tables.md and its record in its folder."""
    out = tmp_path / "all"
    argv = ["posteriors", "--tiny", "--data-dir", str(tiny_mnist), "--no-verify",
            "--out", str(out)]
    assert dispatcher.main(argv) == 0
    summary = json.loads((out / "results.json").read_text())
    parts = exp.available_parts()
    assert list(summary["parts"]) == parts and len(parts) >= 1
    tables = (out / "tables.md").read_text()
    for name in parts:
        record = json.loads((out / name / "results.json").read_text())
        assert record["tables"] and all(f"## {name}: {t}" in tables for t in record["tables"])
        assert all((out / name / pathlib.Path(f).name).exists() for f in record["figures"])
