"""The T = 1000 cliff: one LSTM layer's compiled forward + backward (the twins
``minivae.fast.lstm.lstm_forward`` / ``lstm_backward``) against T, with the gradient entering
at the last step only (the encoder: its dL/dh_T decays on the way back and, in float32,
passes through the subnormal range) or at every step, for one or more checkouts alternating
(A, B, A, B, ...) so old and new code see the same machine load.

    python benchmarks/bench_subnormal.py                                   # this checkout
    python benchmarks/bench_subnormal.py --checkout ../old --checkout . --rounds 3

Each measurement is a fresh child process (``PYTHONPATH`` = the checkout, its own warm
``NUMBA_CACHE_DIR``) timing ``--repeats`` calls after one warm-up; reported: median wall ms
and median CPU ms per call over the rounds.  Weights are drawn like the layers' init (U(-1/sqrt(H),
1/sqrt(H)), forget-gate bias 1, seeded), inputs standard normal; N = 64, H = 64, D = 1.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

CHILD = r"""
import json, sys, time
import numpy as np
from minivae.fast import lstm as fl
T, dtype, mode, repeats = int(sys.argv[1]), np.dtype(sys.argv[2]), sys.argv[3], int(sys.argv[4])
N, D, H = 64, 1, 64
rng = np.random.default_rng(0)
x = rng.standard_normal((N, T, D)).astype(dtype)
k = 1 / np.sqrt(H)  # the layers' init (PyTorch's): U(-k, k), forget-gate bias 1
Wx = rng.uniform(-k, k, (D, 4 * H)).astype(dtype)
Wh = rng.uniform(-k, k, (H, 4 * H)).astype(dtype)
b = rng.uniform(-k, k, 4 * H).astype(dtype)
b[H:2 * H] = 1
h0 = np.zeros((N, H), dtype=dtype)
dhT = rng.standard_normal((N, H)).astype(dtype)
dhs = rng.standard_normal((N, T, H)).astype(dtype) if mode == "every" else None
def once():
    hs, hT, cT, cache = fl.lstm_forward(x, h0, h0, Wx, Wh, b)
    return fl.lstm_backward(dhs, dhT, None, cache)
once()
walls, cpus = [], []
for _ in range(repeats):
    t0, c0 = time.perf_counter(), time.process_time()
    once()
    walls.append(time.perf_counter() - t0); cpus.append(time.process_time() - c0)
print(json.dumps({"wall_ms": 1e3 * float(np.median(walls)), "cpu_ms": 1e3 * float(np.median(cpus)),
                  "file": fl.__file__}))
"""


def run(checkout: str, cache: str, T: int, dtype: str, mode: str, repeats: int) -> dict:
    env = dict(os.environ, PYTHONPATH=os.path.abspath(checkout), NUMBA_CACHE_DIR=cache)
    out = subprocess.run([sys.executable, "-c", CHILD, str(T), dtype, mode, str(repeats)],
                         env=env, capture_output=True, text=True, check=True,
                         cwd=cache)  # not the caller's directory: `-c` puts it first on sys.path
    res = json.loads(out.stdout.strip().splitlines()[-1])
    want = os.path.join(os.path.abspath(checkout), "minivae", "fast", "lstm.py")
    if os.path.realpath(res["file"]) != os.path.realpath(want):
        raise RuntimeError(f"child imported {res['file']}, not {want}")
    return res


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--checkout", action="append", help="repository root (repeatable; default .)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--T", default="500,1000,2000")
    p.add_argument("--dtypes", default="float32,float64")
    p.add_argument("--modes", default="last,every", help="last: dhT only (encoder); every: dhs")
    args = p.parse_args(argv)
    checkouts = args.checkout or ["."]
    caches = {co: tempfile.mkdtemp(prefix="nc-subnormal-") for co in checkouts}
    rows: dict[tuple, dict[str, list[float]]] = {}
    for r in range(args.rounds):
        for dtype in args.dtypes.split(","):
            for mode in args.modes.split(","):
                for T in map(int, args.T.split(",")):
                    for co in checkouts if r % 2 == 0 else checkouts[::-1]:
                        res = run(co, caches[co], T, dtype, mode, args.repeats)
                        d = rows.setdefault((dtype, mode, T, co), {"wall": [], "cpu": []})
                        d["wall"].append(res["wall_ms"])
                        d["cpu"].append(res["cpu_ms"])
                        print(f"round {r} {co} {dtype} {mode} T={T}: {res['wall_ms']:.1f} ms "
                              f"(cpu {res['cpu_ms']:.1f})", flush=True)
    head = "| dtype | gradient enters | T | " + " | ".join(
        f"{co}: wall ms (CPU ms)" for co in checkouts) + " |"
    print("\n" + head + "\n|" + "---|" * (3 + len(checkouts)))
    keys = sorted({k[:3] for k in rows}, key=lambda k: (k[0], k[1], k[2]))
    for dtype, mode, T in keys:
        cells = []
        for co in checkouts:
            d = rows[(dtype, mode, T, co)]
            cells.append(f"{statistics.median(d['wall']):.1f} ({statistics.median(d['cpu']):.1f})")
        label = "last step only" if mode == "last" else "every step"
        print(f"| {dtype} | {label} | {T} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
