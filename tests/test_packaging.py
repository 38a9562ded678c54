"""Release metadata stays consistent: one version (minivae.__version__, read by the build and
repeated in CITATION.cff and the CHANGELOG), py.typed shipped, a valid CITATION.cff, the release
extra equal to what the smoke script installs, and CI running that script.

The build itself (wheel + sdist, twine check, the installed wheel run outside the tree) is
``.ci/smoke_wheel.sh``, run by ``.ci/run``; ``pytest -m slow tests/test_packaging.py`` runs it too.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import minivae

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11 (the checks need only to run once)

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
SMOKE = ROOT / ".ci" / "smoke_wheel.sh"


def test_version_has_one_source():
    assert "version" not in PROJECT, "pyproject.toml must not repeat the version"
    assert "version" in PROJECT["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "minivae.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+([ab]|rc)?\d*", minivae.__version__), minivae.__version__


def test_changelog_has_an_entry_for_this_version():
    text = (ROOT / "CHANGELOG.md").read_text()
    headings = re.findall(r"^## \[([^\]]+)\]", text, flags=re.M)
    assert headings and headings[0] == minivae.__version__, headings


def test_py_typed_is_shipped():
    assert (ROOT / "minivae" / "py.typed").is_file()
    assert "py.typed" in PYPROJECT["tool"]["setuptools"]["package-data"]["minivae"]
    assert "Typing :: Typed" in PROJECT["classifiers"]


def test_classifiers_match_requires_python():
    low = tuple(int(v) for v in re.search(r">=\s*(\d+)\.(\d+)",
                                          PROJECT["requires-python"]).groups())
    listed = [tuple(int(v) for v in m.groups()) for c in PROJECT["classifiers"]
              if (m := re.fullmatch(r"Programming Language :: Python :: (\d+)\.(\d+)", c))]
    assert listed and min(listed) == low, (listed, low)


def test_citation_cff_is_valid_1_2_0():
    yaml = pytest.importorskip("yaml")
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    # The fields CFF 1.2.0 requires, with their types (validated once in full against the
    # schema with `cffconvert --validate`).
    assert cff["cff-version"] == "1.2.0"
    assert isinstance(cff["message"], str) and cff["message"].strip()
    assert isinstance(cff["title"], str) and cff["title"].strip()
    assert cff["authors"] and all(isinstance(a, dict) and ({"name", "family-names"} & set(a))
                                  for a in cff["authors"])
    assert cff.get("type", "software") in ("software", "dataset")
    assert str(cff["version"]) == minivae.__version__
    assert cff["license"] == PROJECT["license"]


def test_release_extra_is_what_the_smoke_script_installs():
    script = SMOKE.read_text()
    installed = re.search(r'pip install --quiet ((?:"[^"]+" ?)+)', script).group(1)
    assert sorted(re.findall(r'"([^"]+)"', installed)) == sorted(
        PROJECT["optional-dependencies"]["release"])


def test_ci_runs_the_smoke_script():
    assert "bash .ci/smoke_wheel.sh" in (ROOT / ".ci" / "run").read_text()


@pytest.mark.slow
def test_smoke_wheel_script_passes():
    """Builds, twine-checks and runs the installed wheel (minutes; installs build and twine
    into this interpreter's environment)."""
    done = subprocess.run(["bash", str(SMOKE), sys.executable], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "smoke_wheel: passed" in done.stdout
