"""Memory of inference: peak and held resident memory of ``encode`` + ``reconstruct``.

Each measurement runs in a fresh child process (so one measurement's heap cannot lend memory to
the next), which:

1. builds ``LSTMVAE(1, H, 8, decoder=..., likelihood="gaussian", dtype=float32)`` and the input
   X: (N, T, 1) float32, and warms the backend up on a tiny batch (Numba compiles there);
2. resets the kernel's peak-RSS counter (``echo 5 > /proc/self/clear_refs``) and reads VmRSS;
3. runs ``model.encode(X)`` and ``model.reconstruct(X)`` and keeps only their results;
4. reads VmHWM (peak RSS since the reset) and, after ``gc.collect()``, VmRSS again.

Reported: ``peak`` = VmHWM - VmRSS before (MiB), ``held`` = VmRSS after - VmRSS before, minus
the results the caller asked for (mu, logvar: N x 8 x 2; the reconstruction: N x T x 1),
``held, trimmed`` the same after glibc's ``malloc_trim(0)`` (freed memory that the C allocator
keeps for reuse is part of RSS until then; what the process still *uses* is the trimmed
number), and the wall time.  The input X is allocated (and touched) before step 2, so it is not
counted.

Usage::

    python benchmarks/bench_memory.py                        # the default grid, both backends
    python benchmarks/bench_memory.py --sizes 4096x5000 --backends numba
    python benchmarks/bench_memory.py --json after.json      # every number, for the figure
    python benchmarks/bench_memory.py --plot before.json after.json --out figures/x.png

Run it from a checkout (``PYTHONPATH=.``): it measures the ``minivae`` that Python imports, so
pointing PYTHONPATH at another checkout measures that one (the README's "before" column is
main before the inference-mode change).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

DEFAULT_SIZES = "64x1000,256x1000,256x2000,1024x500,1024x2000"
MIB = 2**20


def _status(field: str) -> int:
    """A field of /proc/self/status in bytes (VmRSS, VmHWM)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def child(N: int, T: int, H: int, decoder: str) -> dict[str, float]:
    """One measurement, in this (fresh) process."""
    import ctypes
    import gc

    import numpy as np

    from minivae.models import LSTMVAE

    model = LSTMVAE(1, H, 8, decoder=decoder, likelihood="gaussian", rng=0, dtype=np.float32)
    X = np.random.default_rng(0).standard_normal((N, T, 1)).astype(np.float32)
    model.encode(X[:2, :10])  # warm-up (the Numba backend compiles its kernels here)
    model.reconstruct(X[:2, :10])
    gc.collect()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM to the current RSS
    before = _status("VmRSS")
    t0 = time.perf_counter()
    mu, logvar = model.encode(X)
    X_hat = model.reconstruct(X)
    seconds = time.perf_counter() - t0
    peak = _status("VmHWM") - before
    gc.collect()
    results = mu.nbytes + logvar.nbytes + X_hat.nbytes
    held = _status("VmRSS") - before - results
    # Freed memory the C allocator keeps for reuse counts in RSS; glibc gives it back on request
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    trimmed = _status("VmRSS") - before - results
    return {"N": N, "T": T, "H": H, "decoder": decoder, "peak_mib": peak / MIB,
            "held_mib": held / MIB, "held_trimmed_mib": trimmed / MIB,
            "results_mib": results / MIB, "seconds": seconds}


def run(N: int, T: int, H: int, decoder: str, backend: str, threads: int) -> dict:
    """Start a child process for one measurement and return its numbers."""
    env = dict(os.environ, MINIVAE_BACKEND=backend, NUMBA_NUM_THREADS=str(threads),
               OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
    code = (f"import json, sys; sys.path.insert(0, {os.path.dirname(__file__)!r}); "
            f"import bench_memory as b; print(json.dumps(b.child({N}, {T}, {H}, {decoder!r})))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    if out.returncode != 0:
        return {"N": N, "T": T, "H": H, "decoder": decoder, "backend": backend,
                "error": out.stderr.strip().splitlines()[-1] if out.stderr else "failed"}
    return {**json.loads(out.stdout.strip().splitlines()[-1]), "backend": backend}


def table(rows: list[dict]) -> str:
    lines = ["| backend | decoder | N | T | N*T | peak MiB | held MiB | held, trimmed | seconds |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['backend']} | {r['decoder']} | {r['N']} | {r['T']} | "
                         f"{r['N'] * r['T']:,} | {r['error']} | | | |")
            continue
        lines.append(f"| {r['backend']} | {r['decoder']} | {r['N']} | {r['T']} | "
                     f"{r['N'] * r['T']:,} | {r['peak_mib']:.0f} | {r['held_mib']:.0f} | "
                     f"{r.get('held_trimmed_mib', float('nan')):.0f} | {r['seconds']:.1f} |")
    return "\n".join(lines)


def plot(before_path: str, after_path: str, out: str) -> None:
    """Peak MiB against N*T, before and after, per backend (log-log)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for path, label, style in ((before_path, "before (main)", "o--"),
                               (after_path, "after (inference mode)", "s-")):
        with open(path) as f:
            rows = [r for r in json.load(f) if "error" not in r]
        for backend in ("numpy", "numba"):
            pts = sorted((r["N"] * r["T"], r["peak_mib"]) for r in rows
                         if r["backend"] == backend)
            if pts:
                ax.plot(*zip(*pts), style, label=f"{label}, {backend}")
    ax.axhline(1536, color="grey", lw=0.8, ls=":")
    ax.text(1, 1650, "1.5 GiB target (N * T = 20.5M)", color="grey", fontsize=8,
            transform=ax.get_yaxis_transform(), ha="right")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("N * T (sequence-steps), D = 1, H = 64, float32")
    ax.set_ylabel("peak RSS above baseline (MiB)")
    ax.set_title("LSTMVAE encode + reconstruct: peak memory")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    print(f"wrote {out}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default=DEFAULT_SIZES, help="NxT,NxT,...")
    p.add_argument("--backends", default="numpy,numba")
    p.add_argument("--decoder", default="repeat", choices=("repeat", "autoregressive"))
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", help="write every number to this file")
    p.add_argument("--plot", nargs=2, metavar=("BEFORE", "AFTER"), help="draw the figure")
    p.add_argument("--out", default="figures/inference_memory.png")
    args = p.parse_args()
    if args.plot:
        plot(*args.plot, args.out)
        return
    rows = []
    for backend in args.backends.split(","):
        for size in args.sizes.split(","):
            N, T = (int(v) for v in size.lower().split("x"))
            rows.append(run(N, T, args.hidden, args.decoder, backend, args.threads))
            print(table(rows[-1:]).splitlines()[-1], flush=True)
    print(table(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
