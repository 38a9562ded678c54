"""Execute every lesson notebook (lessons/*.ipynb) and fail with the cell that broke.

Each notebook runs in a fresh ``python3`` kernel with cwd ``lessons/`` and ``MPLBACKEND=Agg``
(headless plots).  New notebooks are picked up automatically by the glob.  The notebooks assert
what they claim, so "it runs" means "its checks hold".

* ``test_lesson_runs`` (the default run and CI): ``MINIVAE_LESSON_SIZE=small`` (the notebooks
  shrink data and epochs), with whatever MNIST the environment provides; the image lessons fall
  back to a synthetic stand-in without it.
* ``test_lesson_runs_full_on_mnist`` (marked ``slow``, deselected by default through
  ``addopts = -m "not slow"``; run it with ``pytest -m slow tests/test_lessons.py``): every lesson
  at its default (full) size on the real MNIST files, from ``$MINIVAE_DATA_DIR`` or
  ``../shared/data/mnist`` beside the repository; skipped when they are absent.  About 11 minutes
  on a 2-core machine (measured 11 min 12 s, the lessons on the numpy backend).

BLAS threads are limited to one per kernel unless the environment says otherwise: the lessons
use small matrices, and on a shared 2-core machine multi-threaded OpenBLAS spinning against other
processes made a training epoch ~40x slower.

Run one lesson:  ``pytest tests/test_lessons.py -k 03_reparam``.
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

from minivae.data import mnist_available  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
LESSONS = REPO / "lessons"
NOTEBOOKS = sorted(LESSONS.glob("*.ipynb"))
CELL_TIMEOUT_S = 300
FULL_CELL_TIMEOUT_S = 1800  # a full-size cell trains for minutes (lesson 09: 60000 images)
# Lessons about speed use both backends; every other lesson runs the numpy reference it shows.
SPEED_LESSONS = {"11_numpy_vs_numba"}
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
    if path.stem not in SPEED_LESSONS:
        assert 'set_backend("numpy")' in code[0].source, (
            f"{path.name}: the first code cell must select the numpy backend (the reference code "
            "the lesson shows): minivae.set_backend(\"numpy\")")
        assert "`numpy` backend" in nb.cells[0].source, (
            f"{path.name}: the first cell must say that the lesson runs on the `numpy` backend")


def _keep_for_site(path: Path, nb) -> None:
    """Store the executed small-setting lesson where the site build looks for it
    (docs/lesson_cache.py), so CI runs each lesson once for the tests and the site."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "minivae_docs_lesson_cache", LESSONS.parent / "docs" / "lesson_cache.py")
    if spec is None:  # pragma: no cover - a checkout without the docs folder
        return
    cache = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cache)
    out = cache.cached_path(path, cache.sources_hash())
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".partial")
    nbformat.write(nb, str(tmp))
    tmp.replace(out)


def _execute(path: Path, monkeypatch: pytest.MonkeyPatch, timeout: int,
             keep_for_site: bool = False) -> float:
    """Run the notebook in a fresh kernel (it inherits this process's environment); seconds.
    With ``keep_for_site`` the executed notebook is kept for the documentation site."""
    monkeypatch.setenv("MPLBACKEND", "Agg")
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.setenv(var, os.environ.get(var, "1"))
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=timeout,
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
    if keep_for_site:
        _keep_for_site(path, nb)
    return elapsed


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_lesson_runs(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINIVAE_LESSON_SIZE", "small")
    elapsed = _execute(path, monkeypatch, CELL_TIMEOUT_S, keep_for_site=True)
    print(f"{path.name} (small): executed in {elapsed:.1f} s")


def _real_mnist_dir() -> Path | None:
    """$MINIVAE_DATA_DIR, else ../shared/data/mnist beside the repository, if MNIST is there."""
    candidates = [os.environ.get("MINIVAE_DATA_DIR", "").strip(), REPO.parent / "shared/data/mnist"]
    for candidate in candidates:
        if candidate and mnist_available(candidate):
            return Path(candidate).resolve()
    return None


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_lesson_runs_full_on_mnist(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The lesson at its default size on the real MNIST files: its assertions must hold there too
    (the small CI run sees fewer epochs, and without MNIST a synthetic stand-in)."""
    data_dir = _real_mnist_dir()
    if data_dir is None:
        pytest.skip("the real MNIST files are not available: set MINIVAE_DATA_DIR to the folder "
                    "with the four IDX files (or put them in ../shared/data/mnist)")
    monkeypatch.delenv("MINIVAE_LESSON_SIZE", raising=False)
    monkeypatch.setenv("MINIVAE_DATA_DIR", str(data_dir))
    elapsed = _execute(path, monkeypatch, FULL_CELL_TIMEOUT_S)
    print(f"{path.name} (full, MNIST from {data_dir}): executed in {elapsed:.1f} s")
