"""Commands made of parts (minivae.experiments._parts): the dispatcher once, with stand-in parts;
then ``latent`` and ``posteriors`` at the test suite's size over every part of this version, on
a tiny synthetic MNIST-like IDX dataset (never the real files, never a download)."""

import argparse
import json
import pathlib

import pytest
from fake_mnist import write_fake_mnist

from minivae.experiments import EXPERIMENTS, latent, posteriors
from minivae.experiments import __main__ as dispatcher
from minivae.experiments._parts import PartsCommand, part_mode, part_seeds


@pytest.fixture(scope="module")
def tiny_mnist(tmp_path_factory):
    """60 train and 20 test 'digits': a class-dependent bar plus noise."""
    return write_fake_mnist(tmp_path_factory.mktemp("tiny_mnist_parts"), 60, 20)


pytestmark = pytest.mark.usefixtures("no_network")


# ------------------------------------------------------------------- the dispatcher, once
PART_SRC = (
    "import json\n"
    "def run(args):\n"
    "    print('progress of', {name!r})\n"
    "    path = args.out / 'seen.json'\n"
    "    path.write_text(json.dumps({{k: str(v) for k, v in vars(args).items()}}))\n"
    "    return {{'tables': {{'table of {name}': '| a |\\n|---|\\n| {value} |'}},\n"
    "            'figures': [str(path)], 'extra': [1, 2], '_private': object()}}\n")


@pytest.fixture
def command(tmp_path, monkeypatch):
    """A command of two stand-in parts that record the options they were given, and a third
    whose module this version does not have."""
    src = tmp_path / "src"
    src.mkdir()
    for name, value in (("one", 11), ("two", 22)):
        (src / f"fake_part_{name}.py").write_text(PART_SRC.format(name=name, value=value))
    monkeypatch.syspath_prepend(str(src))
    parts = {"one": "fake_part_one", "ghost": "no_such_module_here_x", "two": "fake_part_two"}
    return PartsCommand("fake", parts, "a test command", "small")


def test_parse_parts(command):
    assert command.available_parts() == ["one", "two"]
    assert command.parse_parts(None) == ["one", "two"]
    assert command.parse_parts("two, one, two") == ["two", "one"]
    with pytest.raises(ValueError, match="unknown: \\['nope'\\]"):
        command.parse_parts("one,nope")
    with pytest.raises(ValueError, match="--parts"):
        command.parse_parts(",")
    with pytest.raises(ValueError, match="ghost"):
        command.parse_parts("ghost")


@pytest.mark.parametrize("argv", [["--parts", "nope"], ["--parts", "ghost"], ["--seed", "-1"],
                                  ["--seeds", "0", "-2"]])
def test_bad_options_end_with_the_usage_message(command, argv, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        command.main(argv + ["--out", str(tmp_path / "o")])
    assert exc.value.code == 2
    assert "usage: python -m minivae.experiments fake" in capsys.readouterr().err


def test_runs_each_part_once_with_the_documented_options(command, tmp_path, capsys):
    out = tmp_path / "out"
    assert command.main(["--quick", "--seeds", "3", "4", "--out", str(out),
                         "--no-figures"]) == 0
    printed = capsys.readouterr().out
    assert "not in this version: ['ghost']" in printed
    for name, value in (("one", 11), ("two", 22)):
        seen = json.loads((out / name / "seen.json").read_text())
        assert seen["quick"] == "True" and seen["tiny"] == "False" and seen["seeds"] == "[3, 4]"
        assert seen["out"] == str(out / name) and seen["no_figures"] == "True"
        assert {"seed", "data_dir", "no_verify"} <= set(seen)
        assert printed.count(f"table of {name}") == 1 and printed.count(f"| {value} |") == 1
        assert printed.count(f"progress of {name}") == 1
        assert f"## {name}: table of {name}" in (out / "tables.md").read_text()
        record = json.loads((out / name / "results.json").read_text())
        assert record["extra"] == [1, 2] and record["seconds"] >= 0
        assert "_private" not in record
    summary = json.loads((out / "results.json").read_text())
    assert list(summary["parts"]) == ["one", "two"] and summary["seconds"] >= 0
    assert summary["parts"]["one"]["figures"] == [str(out / "one" / "seen.json")]


def test_a_part_returning_no_tables_is_refused(command, tmp_path, monkeypatch):
    src = tmp_path / "src"
    (src / "bad_part_here.py").write_text("def run(args):\n    return {'figures': []}\n")
    monkeypatch.setitem(command.parts, "bad", "bad_part_here")
    with pytest.raises(TypeError, match="part 'bad'.*'tables'"):
        command.main(["--parts", "bad", "--out", str(tmp_path / "o")])


def test_part_mode_and_seeds():
    ns = argparse.Namespace
    assert part_mode(ns()) == "full" and part_mode(ns(quick=True)) == "quick"
    assert part_mode(ns(quick=True, tiny=True)) == "tiny"
    assert part_seeds(ns(), 2) == (0, 1) and part_seeds(ns(seed=5, seeds=None), 3) == (5, 6, 7)
    assert part_seeds(ns(seed=5, seeds=[9, 2]), 3) == (9, 2)


# ----------------------------------------------------------------- the two real commands
def test_registered_with_their_parts():
    assert EXPERIMENTS["latent"] == "minivae.experiments.latent"
    assert EXPERIMENTS["posteriors"] == "minivae.experiments.posteriors"
    assert list(latent.PARTS) == ["codes", "sharpness", "conditional", "multimodal",
                                  "clustering"]
    assert set(posteriors.PARTS) >= {"families", "svae", "collapse", "disentangle", "two_stage"}
    for module in (latent, posteriors):
        assert module.COMMAND.available_parts() == list(module.PARTS)  # all in this version
    for name in ("latent-sharpness", "latent-conditional", "latent-multimodal",
                 "latent-clustering"):  # the parts stay commands of their own
        assert name in EXPERIMENTS


@pytest.mark.parametrize("module", [latent, posteriors], ids=["latent", "posteriors"])
def test_unknown_part_is_an_error(module, tmp_path, capsys):
    first = next(iter(module.PARTS))
    with pytest.raises(SystemExit) as exc:
        dispatcher.main([module.COMMAND.name, "--parts", f"{first},nope", "--out",
                         str(tmp_path)])
    assert exc.value.code == 2
    assert "unknown: ['nope']" in capsys.readouterr().err


@pytest.mark.parametrize("module", [latent, posteriors], ids=["latent", "posteriors"])
def test_tiny_run_of_every_part(module, tiny_mnist, tmp_path, capsys):
    """The whole command at the test suite's size: every part runs, each of its tables is
    printed exactly once and lands in tables.md, its record and figures in its folder."""
    out = tmp_path / "all"
    argv = [module.COMMAND.name, "--tiny", "--data-dir", str(tiny_mnist), "--no-verify",
            "--out", str(out)]
    assert dispatcher.main(argv) == 0
    printed = capsys.readouterr().out
    summary = json.loads((out / "results.json").read_text())
    assert list(summary["parts"]) == list(module.PARTS)
    tables = (out / "tables.md").read_text()
    for name in module.PARTS:
        record = json.loads((out / name / "results.json").read_text())
        assert record["tables"] and record["figures"] is not None
        for title, text in record["tables"].items():
            assert f"## {name}: {title}" in tables
            assert printed.count(text) == 1, (name, title)
        assert all((out / name / pathlib.Path(f).name).stat().st_size > 0
                   for f in record["figures"])
