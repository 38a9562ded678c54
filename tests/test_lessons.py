"""Execute every lesson notebook (lessons/*.ipynb) and fail with the cell that broke.

Each notebook runs in a fresh ``python3`` kernel with cwd ``lessons/`` and
``MINIVAE_LESSON_SIZE=small`` (the notebooks shrink data and epochs), ``MPLBACKEND=Agg``
(headless plots).  New notebooks are picked up automatically by the glob.  The notebooks assert
what they claim, so "it runs" means "its checks hold".

BLAS threads are limited to one per kernel unless the environment says otherwise: the lessons
use small matrices, and on a shared 2-core machine multi-threaded OpenBLAS spinning against other
processes made a training epoch ~40x slower.

Run one lesson:  ``pytest tests/test_lessons.py -k 03_reparam``;  skip them all: ``-m "not slow"``.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

from nbclient.exceptions import CellExecutionError  # noqa: E402

LESSONS = Path(__file__).resolve().parent.parent / "lessons"
NOTEBOOKS = sorted(LESSONS.glob("*.ipynb"))
CELL_TIMEOUT_S = 300
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _failing_cell(nb) -> tuple[int, object, dict] | None:
    """(index, cell, error output) of the first code cell that recorded an error."""
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                return index, cell, output
    return None


def _report(path: Path, nb, exc: Exception) -> str:
    found = _failing_cell(nb)
    if found is None:  # e.g. a timeout or a dead kernel: no error output was recorded
        return f"{path.name}: execution failed without a cell error output:\n{exc}"
    index, cell, output = found
    traceback = _ANSI.sub("", "\n".join(output.get("traceback", [])))
    return (
        f"{path.name}: code cell #{index} failed with {output.get('ename')}: "
        f"{output.get('evalue')}\n"
        f"----- cell source -----\n{cell.source}\n"
        f"----- traceback -----\n{traceback}"
    )


def test_lessons_exist():
    assert NOTEBOOKS, f"no notebooks found in {LESSONS}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_lesson_is_saved_clean(path: Path) -> None:
    """The .ipynb files are the source: valid nbformat v4, kernel python3, no outputs."""
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3", path.name
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, f"{path.name} has no code cells"
    dirty = [i for i, c in enumerate(nb.cells)
             if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count"))]
    assert not dirty, f"{path.name}: code cells {dirty} were saved with outputs"
    assert "MINIVAE_LESSON_SIZE" in code[0].source, (
        f"{path.name}: the first code cell must read MINIVAE_LESSON_SIZE (SMALL = ...)")


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_lesson_runs(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The kernel is a subprocess started by nbclient: it inherits this process's environment.
    monkeypatch.setenv("MINIVAE_LESSON_SIZE", "small")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.setenv(var, os.environ.get(var, "1"))

    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(LESSONS)}},
    )
    start = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as exc:
        pytest.fail(_report(path, nb, exc), pytrace=False)
    except Exception as exc:  # timeouts, dead kernels
        pytest.fail(f"{path.name}: {type(exc).__name__}: {exc}", pytrace=False)
    elapsed = time.perf_counter() - start
    print(f"{path.name}: executed in {elapsed:.1f} s")
