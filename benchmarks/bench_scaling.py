"""How the LSTM-VAE training step scales with T, H and N, minivae (Numba backend) next to
PyTorch in one run, and how many sequences per second inference scores.

    python benchmarks/bench_scaling.py                      # all three sweeps + inference, float32
    python benchmarks/bench_scaling.py --quick              # fewer points and repeats (smoke test)
    python benchmarks/bench_scaling.py --only T --json t.json
    python benchmarks/bench_scaling.py --plot scaling.json --out figures/scaling_lstm_vae.png

Base shape: W2 of ``bench_training.py``, ``LSTMVAE(1, H=64, L=16, decoder="repeat",
likelihood="gaussian")``, batch N = 64, T = 100; each sweep varies one of T (50..2000),
H (16..512) and N (1..1024) with the other two at the base value.  A step is ``fit``'s
``train_step`` under ``fit``'s BLAS thread policy for minivae and ``zero_grad; loss; backward;
Adam step`` for PyTorch (``torch_models.TorchLSTMVAE``), exactly as in ``bench_training.py``; the
two alternate point by point (minivae, PyTorch, next point), so both see the same machine load.
GFLOP/s counts the matrix-product FLOPs of ``bench_training.case_flops``; "% of peak" divides by
the best 1024^3 matrix product of NumPy and PyTorch measured at the start of the run.

Inference: sequences scored per second by the reconstruction log-probability with one latent
sample (minivae ``reconstruction_log_prob(X, n_samples=1, rng=..., per_step=False)``; PyTorch the
same computation under ``torch.inference_mode()``), N = 256 sequences per call, T = 140 and 1000.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
SWEEPS = {
    "T": [50, 100, 200, 500, 1000, 2000],
    "H": [16, 32, 64, 128, 256, 512],
    "N": [1, 4, 16, 64, 256, 1024],
}
QUICK = {"T": [50, 200, 1000], "H": [16, 64, 256], "N": [1, 64, 512]}
BASE = {"T": 100, "H": 64, "N": 64}
INFER_T = (140, 1000)
INFER_N = 256


def _case(T: int, H: int, N: int):
    from bench_training import Case

    return Case(f"T={T} H={H} N={N}", "scaling", "repeat", B=N, D=1, H=H, L=16, T=T)


def _data(c, dtype: str):
    """8 batches of noisy sines (at least 64 sequences), as bench_training.make_data."""
    import numpy as np

    rng = np.random.default_rng(0)
    n = max(8 * c.B, 64)
    t = np.arange(c.T)[None, :, None]
    freq = rng.uniform(0.02, 0.2, size=(n, 1, c.D))
    phase = rng.uniform(0, 2 * np.pi, size=(n, 1, c.D))
    return (np.sin(2 * np.pi * freq * t + phase)
            + 0.1 * rng.standard_normal((n, c.T, c.D))).astype(dtype)


def _repeats(step, budget_s: float, most: int) -> int:
    """Timed repeats for a step: one untimed call to estimate, then about ``budget_s`` seconds
    of steps (at least 3)."""
    t0 = time.perf_counter()
    step()
    return max(3, min(most, int(budget_s / max(time.perf_counter() - t0, 1e-4))))


def time_point(c, dtype: str, threads: int, budget_s: float, with_torch: bool) -> dict[str, Any]:
    """minivae (numba) then PyTorch on one shape: median ms, CPU ms and GFLOP/s of each."""
    from _common import measure
    from bench_training import case_flops, minivae_step, torch_step

    from minivae.fast import backend
    from minivae.fast.blas import threads_for_training

    X = _data(c, dtype)
    flops = case_flops(c)
    out: dict[str, Any] = {"T": c.T, "H": c.H, "N": c.B, "gflop": flops / 1e9}
    backend.set_backend("numba")
    step, model, _ = minivae_step(c, dtype, X)
    with threads_for_training(model):
        step()  # compiles (or loads) on the first call
        res = measure(step, _repeats(step, budget_s, 30), warmup=1)
    out["minivae"] = res
    if with_torch:
        tstep = torch_step(c, dtype, X, threads)
        tstep()
        out["torch"] = measure(tstep, _repeats(tstep, budget_s, 30), warmup=1)
    for impl in ("minivae", "torch"):
        if impl in out:
            out[impl]["gflops"] = flops / (out[impl]["ms"] / 1e3) / 1e9
    return out


def time_inference(T: int, dtype: str, threads: int, budget_s: float,
                   with_torch: bool) -> dict[str, Any]:
    """Sequences per second of one-sample reconstruction log-probability scoring."""
    import numpy as np
    from _common import measure

    from minivae.fast import backend
    from minivae.models import LSTMVAE

    c = _case(T, 64, INFER_N)
    X = _data(c, dtype)[:INFER_N]
    backend.set_backend("numba")
    model = LSTMVAE(1, 64, 16, decoder="repeat", likelihood="gaussian", rng=0, dtype=dtype)
    seed = iter(range(10**9))

    def score() -> None:
        model.reconstruction_log_prob(X, n_samples=1, rng=next(seed), per_step=False)

    score()
    out: dict[str, Any] = {"T": T, "N": INFER_N,
                           "minivae": measure(score, _repeats(score, budget_s, 50), warmup=1)}
    if with_torch:
        import torch

        sys.path.insert(0, HERE)
        from torch_models import TorchLSTMVAE

        torch.set_num_threads(threads)
        torch.manual_seed(0)
        tmodel = TorchLSTMVAE(1, 64, 16, decoder="repeat").to(getattr(torch, dtype)).eval()
        Xt = torch.from_numpy(np.ascontiguousarray(X))

        def tscore() -> None:
            tmodel.reconstruction_log_prob(Xt)

        tscore()
        out["torch"] = measure(tscore, _repeats(tscore, budget_s, 50), warmup=1)
    for impl in ("minivae", "torch"):
        if impl in out:
            out[impl]["seq_per_s"] = INFER_N / (out[impl]["ms"] / 1e3)
    return out


# ------------------------------------------------------------------------------ report
def report(results: dict[str, Any]) -> str:
    from _common import markdown_table

    peak = results["peak_gflops"]
    lines = [f"Machine: {results['machine']['cpu']}, {results['machine']['cores']} cores, "
             f"{results['threads']} thread(s), {results['dtype']}; load average at start "
             f"{results['load_start']}, at end {results['load_end']}.  GEMM 1024^3 peak "
             f"{peak:.1f} GFLOP/s.", ""]
    for sweep, points in results["sweeps"].items():
        rows = []
        for p in points:
            m, t = p["minivae"], p.get("torch")
            rows.append([p[sweep], f"{p['gflop']:.3g}", f"{m['ms']:.1f}", f"{m['cpu_ms']:.1f}",
                         f"{100 * m['gflops'] / peak:.0f} %",
                         "–" if t is None else f"{t['ms']:.1f}",
                         "–" if t is None else f"{100 * t['gflops'] / peak:.0f} %",
                         "–" if t is None else f"{m['ms'] / t['ms']:.2f}×"])
        lines += [f"**Sweep over {sweep}** (others at the base: T = {BASE['T']}, "
                  f"H = {BASE['H']}, N = {BASE['N']})", "",
                  markdown_table([sweep, "GFLOP/step", "minivae ms", "minivae CPU ms",
                                  "minivae % peak", "PyTorch ms", "PyTorch % peak",
                                  "minivae ÷ PyTorch"], rows), ""]
    if results.get("inference"):
        rows = []
        for p in results["inference"]:
            m, t = p["minivae"], p.get("torch")
            rows.append([p["T"], p["N"], f"{m['seq_per_s']:.0f}",
                         "–" if t is None else f"{t['seq_per_s']:.0f}",
                         "–" if t is None else f"{m['seq_per_s'] / t['seq_per_s']:.2f}×"])
        lines += ["**Inference** (sequences scored per second, one latent sample)", "",
                  markdown_table(["T", "N per call", "minivae seq/s", "PyTorch seq/s",
                                  "minivae ÷ PyTorch (throughput)"], rows), ""]
    return "\n".join(lines)


def plot(results: dict[str, Any], path: str) -> None:
    """Step time (top, log-log) and % of GEMM peak (bottom) against T, H and N."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    sweeps = results["sweeps"]
    fig, axes = plt.subplots(2, len(sweeps), figsize=(4.2 * len(sweeps), 6.5), squeeze=False)
    peak = results["peak_gflops"]
    for col, (sweep, points) in enumerate(sweeps.items()):
        xs = [p[sweep] for p in points]
        for impl, style in (("minivae", "o-"), ("torch", "s--")):
            if not all(impl in p for p in points):
                continue
            label = "minivae (Numba)" if impl == "minivae" else "PyTorch"
            axes[0, col].plot(xs, [p[impl]["ms"] for p in points], style, label=label)
            axes[1, col].plot(xs, [100 * p[impl]["gflops"] / peak for p in points], style,
                              label=label)
        axes[0, col].set_yscale("log")
        for row in (0, 1):  # log x, ticks at the measured values only (no crowded minor labels)
            axes[row, col].set_xscale("log")
            axes[row, col].set_xticks(xs, [str(x) for x in xs])
            axes[row, col].xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        axes[0, col].set_title(f"step time vs {sweep}")
        axes[1, col].set_xlabel(sweep)
        axes[0, col].set_ylabel("ms per training step")
        axes[1, col].set_ylabel("% of GEMM peak")
        axes[0, col].legend(fontsize=8)
        axes[0, col].grid(True, which="both", alpha=0.3)
        axes[1, col].grid(True, alpha=0.3)
    fig.suptitle(f"LSTM-VAE step ({results['dtype']}, {results['threads']} threads,\n"
                 f"base T={BASE['T']} H={BASE['H']} N={BASE['N']})", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--only", default="T,H,N,INF",
                   help="comma-separated subset of T, H, N (sweeps) and INF (inference)")
    p.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--budget", type=float, default=1.5,
                   help="seconds of timed steps per point and implementation (>= 3 steps)")
    p.add_argument("--quick", action="store_true", help="3 points per sweep, budget 0.5 s")
    p.add_argument("--points", default=None,
                   help="comma-separated values to use for every selected sweep (smoke tests)")
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--json", default=None, help="write every number here")
    p.add_argument("--plot", default=None, metavar="JSON",
                   help="only draw the figure from a saved JSON (no measurement)")
    p.add_argument("--out", default=None, help="figure path (default: next to --json, or "
                                               "figures/scaling_lstm_vae.png with --plot)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.plot:
        with open(args.plot) as f:
            results = json.load(f)
        out = args.out or os.path.join(HERE, "..", "figures", "scaling_lstm_vae.png")
        plot(results, out)
        print(f"figure written to {out}")
        return 0
    sys.path.insert(0, HERE)
    from _common import set_thread_env

    set_thread_env(args.threads)  # before NumPy is imported
    from _common import gemm_gflops, machine_info, torch_gemm_gflops

    only = {s.strip().upper() for s in args.only.split(",") if s.strip()}
    with_torch = not args.no_torch
    if with_torch:
        try:
            import torch  # noqa: F401
        except ImportError:
            with_torch = False
    budget = 0.5 if args.quick else args.budget
    peaks = [gemm_gflops(args.dtype)] + ([torch_gemm_gflops(args.dtype)] if with_torch else [])
    results: dict[str, Any] = {
        "machine": machine_info(args.threads), "dtype": args.dtype, "threads": args.threads,
        "peak_gflops": max(p for p in peaks if p), "load_start": list(os.getloadavg()),
        "sweeps": {}, "inference": []}
    for sweep, points in (QUICK if args.quick else SWEEPS).items():
        if sweep not in only:
            continue
        results["sweeps"][sweep] = []
        if args.points:
            points = [int(v) for v in args.points.split(",")]
        for value in points:
            shape = dict(BASE, **{sweep: value})
            c = _case(shape["T"], shape["H"], shape["N"])
            r = time_point(c, args.dtype, args.threads, budget, with_torch)
            results["sweeps"][sweep].append(r)
            t = r.get("torch", {}).get("ms")
            print(f"{sweep}={value:5d}: minivae {r['minivae']['ms']:9.1f} ms (cpu "
                  f"{r['minivae']['cpu_ms']:.1f})" + ("" if t is None else
                                                       f"  PyTorch {t:9.1f} ms"), flush=True)
    if "INF" in only:
        for T in INFER_T:
            r = time_inference(T, args.dtype, args.threads, budget, with_torch)
            results["inference"].append(r)
            t = r.get("torch", {}).get("seq_per_s")
            print(f"inference T={T}: minivae {r['minivae']['seq_per_s']:.0f} seq/s"
                  + ("" if t is None else f"  PyTorch {t:.0f} seq/s"), flush=True)
    results["load_end"] = list(os.getloadavg())
    print()
    print(report(results))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
        if results["sweeps"]:
            out = args.out or os.path.splitext(args.json)[0] + ".png"
            plot(results, out)
            print(f"figure written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
