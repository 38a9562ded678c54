"""Timing helpers shared by the benchmark scripts (not part of the minivae package).

Import this module only *after* :func:`set_thread_env` has run: OpenBLAS, OpenMP and Numba read
their thread counts from the environment when they are first loaded, so the variables must be
set before ``numpy`` (or ``torch``) is imported anywhere in the process.  This module therefore
imports NumPy lazily, inside the functions that need it.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

#: glibc malloc tuning for PyTorch: keep freed blocks up to 32 MiB in the heap (no mmap/munmap
#: per large tensor) and never trim it.  Read at process start, so it needs a fresh process.
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": "33554432", "MALLOC_TRIM_THRESHOLD_": "10000000000"}

#: environment variables that fix the thread count of every library we load
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


def set_thread_env(threads: int) -> None:
    """Pin OpenBLAS / OpenMP / MKL / Numba to ``threads`` threads (call before importing numpy)."""
    if "numpy" in sys.modules:
        raise RuntimeError("set_thread_env must run before numpy is imported")
    for var in THREAD_VARS:
        os.environ[var] = str(threads)


def thread_env(threads: int) -> dict[str, str]:
    """The thread variables for a child process."""
    return {var: str(threads) for var in THREAD_VARS}


# ----------------------------------------------------------------------------------- timing
def measure(fn: Callable[[], object], repeats: int, warmup: int = 2) -> dict[str, Any]:
    """Run ``fn`` ``warmup`` times untimed, then ``repeats`` times timed.

    Returns ``{"ms": median wall ms, "cpu_ms": median process-CPU ms, "min_ms": fastest wall ms,
    "n": repeats}``.  On a loaded machine the wall time includes waiting for a core; the CPU time
    (all threads of this process) shows the work actually done.
    """
    import numpy as np

    for _ in range(warmup):
        fn()
    walls, cpus = [], []
    for _ in range(repeats):
        c0, w0 = time.process_time(), time.perf_counter()
        fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return {
        "ms": 1e3 * float(np.median(walls)),
        "cpu_ms": 1e3 * float(np.median(cpus)),
        "min_ms": 1e3 * float(np.min(walls)),
        "n": repeats,
    }


def gemm_gflops(dtype: str, n: int = 1024, repeats: int = 5) -> float:
    """Best GFLOP/s of an (n, n) @ (n, n) NumPy matmul (2 n^3 flops) in ``dtype``."""
    import numpy as np

    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    c = np.empty((n, n), dtype=dtype)
    for _ in range(2):
        np.matmul(a, b, out=c)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.matmul(a, b, out=c)
        best = min(best, time.perf_counter() - t0)
    return 2.0 * n**3 / best / 1e9


def torch_gemm_gflops(dtype: str, n: int = 1024, repeats: int = 5) -> float | None:
    """Best GFLOP/s of the same product with torch (None when torch is missing)."""
    try:
        import torch
    except ImportError:
        return None
    tdt = getattr(torch, dtype)
    g = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=g, dtype=tdt)
    b = torch.randn(n, n, generator=g, dtype=tdt)
    c = torch.empty(n, n, dtype=tdt)
    for _ in range(2):
        torch.matmul(a, b, out=c)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        torch.matmul(a, b, out=c)
        best = min(best, time.perf_counter() - t0)
    return 2.0 * n**3 / best / 1e9


# ---------------------------------------------------------------------------- subprocesses
def run_child(cmd: Sequence[str], env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Run ``cmd`` to completion; returns (returncode, stdout, stderr)."""
    proc = subprocess.run(list(cmd), env=dict(os.environ if env is None else env),
                          capture_output=True, text=True)
    return proc.returncode, proc.stdout, proc.stderr


# Runs ``python -m MODULE ARGS...`` in this interpreter and, at exit, prints the process's peak
# resident memory as a JSON line on stderr.
_PEAK_WRAPPER = (
    "import atexit, json, runpy, sys\n"
    "def _peak():\n"
    "    with open('/proc/self/status') as f:\n"
    "        kb = next(int(l.split()[1]) for l in f if l.startswith('VmHWM:'))\n"
    "    print(json.dumps({'vmhwm_mb': kb / 1024.0}), file=sys.stderr, flush=True)\n"
    "atexit.register(_peak)\n"
    "sys.argv = sys.argv[1:]\n"
    "runpy.run_module(sys.argv[0], run_name='__main__', alter_sys=True)\n"
)


def run_module_peak(module: str, args: Sequence[str],
                    env: dict[str, str] | None = None) -> tuple[int, str, str, float | None]:
    """``python -m module args`` in a child; returns (returncode, stdout, stderr, peak MiB).

    The peak is the child's ``VmHWM`` (high-water mark of its resident set), read by the child
    itself at exit.  Not ``ru_maxrss`` from ``wait4``: Linux carries the RSS high-water mark of
    the address space a process had *before* ``exec`` into ``ru_maxrss``, and Python's
    subprocess starts children by vfork/fork from this (large) benchmark process, so every
    child would report at least this process's own RSS.
    """
    rc, out, err = run_child([sys.executable, "-c", _PEAK_WRAPPER, module, *args], env=env)
    peak = None
    for line in reversed(err.strip().splitlines()):
        if line.startswith('{"vmhwm_mb"'):
            peak = json.loads(line)["vmhwm_mb"]
            break
    return rc, out, err, peak


def last_json_line(text: str) -> Any:
    """The JSON document on the last line of a child's stdout that parses as JSON."""
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith(("{", "[")):
            return json.loads(line)
    raise ValueError(f"no JSON line in child output:\n{text[-2000:]}")


def current_rss_mb() -> float:
    """Resident set size of this process now, in MiB (from /proc/self/statm)."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (``VmHWM``), in MiB.

    ``VmHWM`` belongs to the current address space, which ``exec`` replaces, so in a child it
    counts the child alone (``ru_maxrss`` would include the parent's RSS at fork time).
    """
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    raise OSError("no VmHWM in /proc/self/status")


# ------------------------------------------------------------------------------- machine
def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info(threads: int) -> dict[str, Any]:
    """CPU model, core count, load and library versions (for the README)."""
    import numpy as np

    info: dict[str, Any] = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "threads": threads,
        "load_avg": [round(v, 2) for v in os.getloadavg()],
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
    try:
        import numba

        info["numba"] = numba.__version__
    except ImportError:
        info["numba"] = None
    try:
        import torch

        info["torch"] = torch.__version__
    except ImportError:
        info["torch"] = None
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        info["numpy_blas"] = f"{blas.get('name')} {blas.get('version')}"
    except Exception:  # older NumPy: no dict mode
        info["numpy_blas"] = "unknown"
    return info


# ------------------------------------------------------------------------------ markdown
def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]],
                   align: str | None = None) -> str:
    """A GitHub-flavoured Markdown table; ``align`` is one char per column ('l' or 'r')."""
    align = align or "l" + "r" * (len(headers) - 1)
    cells = [[str(c) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h)
              for i, h in enumerate(headers)]

    def fmt(row: Sequence[str]) -> str:
        return "| " + " | ".join(
            c.ljust(w) if a == "l" else c.rjust(w) for c, w, a in zip(row, widths, align)
        ) + " |"

    sep = "|" + "|".join(
        ("-" * (w + 1) + ":" if a == "r" else ":" + "-" * (w + 1)) for w, a in zip(widths, align)
    ) + "|"
    return "\n".join([fmt(headers), sep, *(fmt(r) for r in cells)])


def fmt_ms(ms: float | None) -> str:
    if ms is None:
        return "–"
    return f"{ms:.1f} ms" if ms < 1000 else f"{ms / 1e3:.2f} s"


def fmt_ratio(r: float | None) -> str:
    return "–" if r is None else f"{r:.2f}×"
