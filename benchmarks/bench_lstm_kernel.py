"""Microbenchmark: one LSTM layer, forward + backward over a whole sequence.

Compares the NumPy reference (``minivae.nn.lstm.LSTMLayer`` on the NumPy backend: the loop of
``lstm_forward`` / ``lstm_backward``), their compiled twins (``minivae.fast.lstm``) and, when
installed, ``torch.nn.LSTM`` (2 threads; also run in a subprocess with glibc's malloc tuned so
that large buffers are reused instead of mmap'ed and unmapped every call).

Reported per case: median wall time after warm-up, and the median CPU time of the process (on a
shared machine the wall time suffers from other jobs; CPU time shows the work actually done).

    python benchmarks/bench_lstm_kernel.py               # N=64, T=100, D in {1,8}, H in {64,256}
    python benchmarks/bench_lstm_kernel.py --quick         # H=64 only, fewer repeats
    python benchmarks/bench_lstm_kernel.py --only numba    # one implementation
    OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1 python benchmarks/bench_lstm_kernel.py \
        --torch-threads 1                                  # single-threaded work comparison
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable

import numpy as np

MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": "33554432", "MALLOC_TRIM_THRESHOLD_": "10000000000"}


def measure(fn: Callable[[], object], repeat: int, warmup: int = 2) -> tuple[float, float]:
    """(median wall ms, median process-CPU ms) of ``fn`` after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    walls, cpus = [], []
    for _ in range(repeat):
        c0, w0 = time.process_time(), time.perf_counter()
        fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return 1e3 * float(np.median(walls)), 1e3 * float(np.median(cpus))


def problem(N: int, T: int, D: int, H: int, dtype: type, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    k = 1.0 / np.sqrt(H)
    return {
        "x": rng.standard_normal((N, T, D)).astype(dtype),
        "dhs": rng.standard_normal((N, T, H)).astype(dtype),
        "Wx": rng.uniform(-k, k, (D, 4 * H)).astype(dtype),
        "Wh": rng.uniform(-k, k, (H, 4 * H)).astype(dtype),
        "b": rng.uniform(-k, k, 4 * H).astype(dtype),
        "h0": np.zeros((N, H), dtype=dtype),
    }


def bench_numpy(p: dict[str, np.ndarray], repeat: int) -> tuple[float, float]:
    from minivae.fast import backend
    from minivae.nn.lstm import LSTMLayer

    N, T, D = p["x"].shape
    H = p["Wh"].shape[0]
    layer = LSTMLayer(D, H, dtype=p["x"].dtype)
    for name in ("Wx", "Wh", "b"):
        layer.params[name][...] = p[name]

    def step() -> None:
        with backend.use_backend("numpy"):
            layer.forward(p["x"])
            layer.backward(p["dhs"])

    return measure(step, repeat)


def bench_numba(p: dict[str, np.ndarray], repeat: int) -> tuple[float, float]:
    from minivae.fast import lstm as k

    def step() -> None:
        _, _, _, cache = k.lstm_forward(p["x"], p["h0"], p["h0"], p["Wx"], p["Wh"], p["b"])
        k.lstm_backward(p["dhs"], None, None, cache)

    return measure(step, repeat)


TORCH_THREADS = 2  # set from --torch-threads


def bench_torch(p: dict[str, np.ndarray], repeat: int) -> tuple[float, float]:
    import torch

    torch.set_num_threads(TORCH_THREADS)
    N, T, D = p["x"].shape
    H = p["Wh"].shape[0]
    dtype = torch.float64 if p["x"].dtype == np.float64 else torch.float32
    lstm = torch.nn.LSTM(D, H, batch_first=True).to(dtype)
    x = torch.from_numpy(p["x"]).requires_grad_(True)
    dhs = torch.from_numpy(p["dhs"])

    def step() -> None:
        lstm.zero_grad(set_to_none=True)
        x.grad = None
        hs, _ = lstm(x)
        hs.backward(dhs)

    return measure(step, repeat)


def run(impls: list[str], cases: list[tuple[int, int, int, int]], dtypes: list[str],
        repeat: int) -> list[dict[str, object]]:
    funcs = {"numpy": bench_numpy, "numba": bench_numba, "torch": bench_torch}
    rows = []
    for dtype in dtypes:
        for N, T, D, H in cases:
            p = problem(N, T, D, H, np.dtype(dtype).type)
            for impl in impls:
                # the NumPy reference is slow at H=256: fewer repeats keep the run short
                r = max(3, repeat // 3) if impl == "numpy" else repeat
                wall, cpu = funcs[impl](p, r)
                rows.append({"impl": impl, "dtype": dtype, "N": N, "T": T, "D": D, "H": H,
                             "wall_ms": wall, "cpu_ms": cpu})
                print(f"{impl:>13s} {dtype:>7s} N={N} T={T} D={D} H={H:<3d}  "
                      f"wall {wall:8.2f} ms   cpu {cpu:8.2f} ms", flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=["numpy", "numba", "torch"], action="append",
                    help="implementation(s) to run (default: all available)")
    ap.add_argument("--quick", action="store_true", help="H=64 only and 5 repeats")
    ap.add_argument("--repeat", type=int, default=15, help="timed calls per case (default 15)")
    ap.add_argument("--dtype", choices=["float32", "float64"], action="append")
    ap.add_argument("--torch-threads", type=int, default=2, help="torch.set_num_threads (2)")
    ap.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # subprocess mode
    args = ap.parse_args()
    global TORCH_THREADS
    TORCH_THREADS = args.torch_threads

    cases = [(64, 100, 1, 64), (64, 100, 8, 64)]
    if not args.quick:
        cases += [(64, 100, 1, 256), (64, 100, 8, 256)]
    repeat = 5 if args.quick else args.repeat
    dtypes = args.dtype or ["float32", "float64"]
    impls = args.only or ["numpy", "numba", "torch"]
    if "torch" in impls:
        try:
            import torch  # noqa: F401
        except ImportError:
            print("torch not installed: skipping torch.nn.LSTM")
            impls = [i for i in impls if i != "torch"]

    if args.json:  # child process: print machine-readable rows only
        import contextlib
        import io

        with contextlib.redirect_stdout(io.StringIO()):
            rows = run(impls, cases, dtypes, repeat)
        print(json.dumps(rows))
        return

    print(f"threads: numba={os.environ.get('NUMBA_NUM_THREADS', 'default')}, "
          f"cpus={os.cpu_count()}; load average {os.getloadavg()}")
    run(impls, cases, dtypes, repeat)
    if "torch" in impls:
        # torch again, in a fresh process whose malloc keeps big blocks (no mmap/munmap churn)
        cmd = [sys.executable, __file__, "--only", "torch", "--json", "--repeat", str(repeat),
               "--torch-threads", str(args.torch_threads)]
        cmd += ["--quick"] if args.quick else []
        for dt in dtypes:
            cmd += ["--dtype", dt]
        out = subprocess.run(cmd, env={**os.environ, **MALLOC_ENV}, capture_output=True,
                             text=True, check=True)
        for r in json.loads(out.stdout.strip().splitlines()[-1]):
            print(f"{'torch+malloc':>13s} {r['dtype']:>7s} N={r['N']} T={r['T']} D={r['D']} "
                  f"H={r['H']:<3d}  wall {r['wall_ms']:8.2f} ms   cpu {r['cpu_ms']:8.2f} ms")


if __name__ == "__main__":
    main()
