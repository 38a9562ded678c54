"""BLAS threads under load: one MNIST VAE epoch with the old and the new thread policy of ``fit``,
on a quiet machine and with another process keeping a core busy.

The model is the 2-D MNIST VAE of ``python -m minivae.experiments mnist`` (784-256-128-2,
Bernoulli likelihood, Adam lr 1e-3, batch 128).  Policies (``minivae.fast.blas``):

* ``old``: an MLP trains with every BLAS thread (main before the threadpoolctl change: only
  LSTM models were limited to one);
* ``new``: every model trains with one BLAS thread (``TRAINING_BLAS_THREADS = 1``).

Each measurement is a fresh child process running ``fit`` for one epoch on ``--images`` images
(default 12,000; the table also gives the time scaled to a 60,000-image epoch), once on the
machine as found ("as found": quiet only if nobody else is using it; the load average is in the
table) and once with ``--load`` extra processes ``python -c "while True: pass"`` (not pinned;
``--pin`` pins them to CPU 0) started before the child and killed after it.  Runs are
interleaved (as found / loaded x old / new per round) and repeated ``--rounds`` times; the
table gives the median and the range, and the load average seen before each run.

    python benchmarks/bench_blas_load.py                      # 3 rounds, 12,000 images
    python benchmarks/bench_blas_load.py --rounds 5 --images 6000 --pin

MNIST comes from ``MINIVAE_DATA_DIR`` when set (else random [0, 1] images of the same shape:
the timing does not depend on the pixel values).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BUSY = "while True: pass"


def child(policy: str, images: int) -> None:
    """Child mode: one epoch of fit under ``policy``; prints JSON."""
    import numpy as np

    from minivae.fast import blas
    from minivae.models import VAE

    if policy == "old":
        blas.TRAINING_BLAS_THREADS = os.cpu_count() or 1  # limit never raises: all threads
    from minivae.data.mnist import load_mnist, mnist_available

    if mnist_available():
        X = load_mnist(split="train", download=False, dtype=np.float32, limit=images)[0]
    else:  # no MNIST files: random images of the same shape
        X = np.random.default_rng(0).random((images, 784), dtype=np.float32)
    model = VAE(784, [256, 128], 2, likelihood="bernoulli", rng=0, dtype=np.float32)
    model.fit(X[:256], epochs=1, batch_size=128, verbose=0, diagnostics=False)  # warm-up
    seen = []
    t0 = time.perf_counter()
    history = model.fit(X, epochs=1, batch_size=128, lr=1e-3, verbose=0, diagnostics=False,
                        callbacks=[lambda e, logs, m: seen.append(blas.blas_num_threads())])
    seconds = time.perf_counter() - t0
    print(json.dumps({"seconds": seconds, "blas_threads": seen[0],
                      "loss": float(history["loss"][-1])}))


def run_child(policy: str, images: int, load: int, pin: bool) -> dict:
    busy = []
    try:
        for _ in range(load):
            p = subprocess.Popen([sys.executable, "-c", BUSY])
            if pin:
                os.sched_setaffinity(p.pid, {0})
            busy.append(p)
        time.sleep(0.5 if load else 0.0)
        loadavg = os.getloadavg()[0]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]))
        done = subprocess.run([sys.executable, __file__, "--child", policy, "--images",
                               str(images)], env=env, capture_output=True, text=True,
                              check=True)
        result = json.loads(done.stdout.strip().splitlines()[-1])
        result["loadavg"] = loadavg
        return result
    finally:
        for p in busy:
            p.kill()
            p.wait()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--images", type=int, default=12000)
    ap.add_argument("--load", type=int, default=1, help="busy processes when loaded (1)")
    ap.add_argument("--pin", action="store_true", help="pin the busy processes to CPU 0")
    ap.add_argument("--child", choices=["old", "new"], help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(args.child, args.images)
        return
    runs: dict[tuple[str, str], list[dict]] = {}
    for r in range(args.rounds):
        for state, load in (("as found", 0), (f"+{args.load} busy", args.load)):
            for policy in ("old", "new"):
                res = run_child(policy, args.images, load, args.pin)
                runs.setdefault((state, policy), []).append(res)
                print(f"round {r + 1} {state:8s} {policy}: {res['seconds']:6.2f} s "
                      f"(BLAS threads {res['blas_threads']}, load avg {res['loadavg']:.1f}, "
                      f"loss {res['loss']:.4f})", flush=True)
    scale = 60000 / args.images
    print(f"\n{args.images} images per epoch, {args.rounds} rounds, {os.cpu_count()} CPUs, "
          f"busy processes when loaded: {args.load}{' (pinned to CPU 0)' if args.pin else ''}")
    print("| machine | policy | BLAS threads | epoch s (median, range) | per 60k images s "
          "| load avg before runs |")
    print("| --- | --- | --- | --- | --- | --- |")
    for (state, policy), rs in runs.items():
        s = [x["seconds"] for x in rs]
        la = [x["loadavg"] for x in rs]
        print(f"| {state} | {policy} | {rs[0]['blas_threads']} | {statistics.median(s):.2f} "
              f"({min(s):.2f}-{max(s):.2f}) | {scale * statistics.median(s):.1f} | "
              f"{min(la):.1f}-{max(la):.1f} |")


if __name__ == "__main__":
    main()
