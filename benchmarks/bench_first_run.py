"""A student's first minute: cold-cache Numba compilation, the first warm call, and
``python -m minivae.demo``, each in a fresh child process, for one or more checkouts
alternating (A, B, A, B, ...) so that old and new code see the same machine load.

    python benchmarks/bench_first_run.py                         # this checkout, 3 rounds
    python benchmarks/bench_first_run.py --checkout ../old --checkout . --rounds 3
    python benchmarks/bench_first_run.py --no-demo --dtypes float32,float64

Per round and checkout:

* **first fit, cold**: a child with an empty ``NUMBA_CACHE_DIR`` imports minivae and trains the
  demo's model (``LSTMVAE(1, 32, 8, likelihood="gaussian")`` on 150 masked sequences of 48
  steps, one epoch, batch 32) in the given dtype: the compilation a run pays, for what it uses;
* **first fit, warm**: the same child again with that cache now filled: import, cache loading
  and Numba's own start-up (the "first warm call"), then one more epoch;
* **demo, cold / warm**: ``python -m minivae.demo`` with an empty, then the filled cache
  (float64, the demo's dtype): wall and CPU seconds, and its printed table, which must be the
  same for every checkout.

Reported: wall seconds (what the student waits) and CPU seconds of the child (the work done,
the cleaner number on a loaded machine), medians over the rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

CHILD = r"""
import json, sys, time
t0, c0 = time.perf_counter(), time.process_time()
import numpy as np
import minivae
from minivae.models import LSTMVAE
t1, c1 = time.perf_counter(), time.process_time()
dtype = np.dtype(sys.argv[1])
rng = np.random.default_rng(0)
X = rng.standard_normal((150, 48, 1)).astype(dtype)
mask = rng.random(X.shape) > 0.05
model = LSTMVAE(1, 32, 8, likelihood="gaussian", free_bits=0.25, rng=0, dtype=dtype)
t2, c2 = time.perf_counter(), time.process_time()
model.loss(X[:32], rng=0, mask=mask[:32]); model.backward()
t3, c3 = time.perf_counter(), time.process_time()
model.fit(X, mask=mask, epochs=1, batch_size=32, lr=5e-3, rng=0, diagnostics=False, verbose=0)
t4, c4 = time.perf_counter(), time.process_time()
model.fit(X, mask=mask, epochs=1, batch_size=32, lr=5e-3, rng=0, diagnostics=False, verbose=0)
t5, c5 = time.perf_counter(), time.process_time()
print(json.dumps({"import_s": t1 - t0, "import_cpu_s": c1 - c0,
                  "first_step_s": t3 - t2, "first_step_cpu_s": c3 - c2,
                  "first_fit_s": t4 - t2, "first_fit_cpu_s": c4 - c2,
                  "second_fit_s": t5 - t4, "second_fit_cpu_s": c5 - c4,
                  "file": minivae.__file__}))
"""


def _child(checkout: str, cache: str, args: list[str], module: bool = False
           ) -> tuple[float, float, str]:
    """Run a child Python in ``checkout`` with NUMBA_CACHE_DIR=cache: (wall s, CPU s, stdout)."""
    env = dict(os.environ, PYTHONPATH=os.path.abspath(checkout), NUMBA_CACHE_DIR=cache,
               MPLBACKEND="Agg", MINIVAE_BACKEND="numba")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", *args] if module else [sys.executable, "-c", CHILD, *args]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True,
                          cwd=os.path.abspath(checkout))
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise RuntimeError(f"child failed in {checkout}:\n{proc.stderr[-3000:]}")
    return wall, cpu, proc.stdout


def _table(text: str) -> str:
    """The demo's printed table (the lines from 'anomaly detection' to the last MAE)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if "anomaly detection" in line)
    end = next(i for i, line in enumerate(lines) if line.startswith("figures written"))
    return "\n".join(lines[start:end]).strip()


def one_round(checkout: str, dtypes: list[str], demo: bool) -> dict:
    out: dict = {}
    for dt in dtypes:
        cache = tempfile.mkdtemp(prefix="minivae_nc_")
        try:
            for state in ("cold", "warm"):
                wall, cpu, stdout = _child(checkout, cache, [dt])
                res = json.loads(stdout.strip().splitlines()[-1])
                res.update(process_s=wall, process_cpu_s=cpu)
                out[f"fit {dt} {state}"] = res
        finally:
            shutil.rmtree(cache, ignore_errors=True)
    if demo:
        cache = tempfile.mkdtemp(prefix="minivae_nc_")
        outdir = tempfile.mkdtemp(prefix="minivae_demo_")
        try:
            for state in ("cold", "warm"):
                wall, cpu, stdout = _child(checkout, cache, ["minivae.demo", "--out", outdir],
                                           module=True)
                out[f"demo {state}"] = {"process_s": wall, "process_cpu_s": cpu,
                                        "table": _table(stdout)}
        finally:
            shutil.rmtree(cache, ignore_errors=True)
            shutil.rmtree(outdir, ignore_errors=True)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--checkout", action="append", default=None,
                   help="a minivae checkout (repeat for several; default: this one)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--dtypes", default="float64,float32")
    p.add_argument("--no-demo", action="store_true")
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    checkouts = args.checkout or [os.path.join(os.path.dirname(__file__), "..")]
    dtypes = [d.strip() for d in args.dtypes.split(",") if d.strip()]
    import numpy as np

    runs: dict[str, list[dict]] = {c: [] for c in checkouts}
    loads = [os.getloadavg()[0]]
    for r in range(args.rounds):
        for c in checkouts:
            runs[c].append(one_round(c, dtypes, not args.no_demo))
            loads.append(os.getloadavg()[0])
            print(f"round {r + 1} {c}: " + ", ".join(
                f"{k} {v['process_s']:.1f} s (cpu {v['process_cpu_s']:.1f})"
                for k, v in runs[c][-1].items()), flush=True)
    print(f"\nload average (1 min) during the runs: {min(loads):.1f}-{max(loads):.1f} on "
          f"{os.cpu_count()} cores\n")
    keys = list(runs[checkouts[0]][0])
    print("| measurement | " + " | ".join(checkouts) + " |")
    print("|---|" + "---|" * len(checkouts))
    for key in keys:
        fields = [("process_s", "process_cpu_s", "whole process")]
        if key.startswith("fit"):
            fields += [("first_fit_s", "first_fit_cpu_s", "first epoch (compile/load + train)"),
                       ("first_step_s", "first_step_cpu_s", "first step")]
        for wall_k, cpu_k, what in fields:
            cells = []
            for c in checkouts:
                walls = [run[key][wall_k] for run in runs[c]]
                cpus = [run[key][cpu_k] for run in runs[c]]
                cells.append(f"{np.median(walls):.2f} s (cpu {np.median(cpus):.2f})")
            print(f"| {key}: {what} | " + " | ".join(cells) + " |")
    if not args.no_demo:
        tables = {run["demo cold"]["table"] for c in checkouts for run in runs[c]}
        tables |= {run["demo warm"]["table"] for c in checkouts for run in runs[c]}
        print(f"\ndemo tables identical across checkouts and runs: {len(tables) == 1}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"runs": runs, "loads": loads}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
