"""Training-step benchmarks: minivae (NumPy and Numba backends) side by side with PyTorch CPU.

    python benchmarks/bench_training.py                    # everything, float32, 2 threads
    python benchmarks/bench_training.py --quick            # fewer repeats and cases (a smoke run)
    python benchmarks/bench_training.py --only W2,JIT --dtype float64 --repeats 30
    python benchmarks/bench_training.py --profile          # where minivae's W1/W2/W3 steps spend

Workloads (``--only`` takes any of W1, W2, W3, W4, JIT, MEM):

* W1: MLP VAE 784-400-20 (ReLU, Bernoulli, Adam lr 1e-3), batch 128, random [0, 1] data of
  60,000 rows.  Reported as seconds per 60,000-image epoch = median step time x 469 steps
  (extrapolated from the timed steps; the per-epoch validation / diagnostics passes of ``fit``
  are not included).
* W2: LSTM-VAE (repeat-vector decoder, Gaussian likelihood), batch 64, T = 100, D = 1 and 8,
  H = 64, latent 16, Adam.
* W3: as W2 with the autoregressive decoder and teacher forcing 1.0.  PyTorch: an LSTMCell loop
  (the reference of the ratio) and, for information, the fused ``nn.LSTM`` formulation that
  pure teacher forcing allows.
* W4: W2 (D = 1) at H = 256, and at batch 256.
* JIT: first-call time of the Numba kernels in a fresh process with an empty NUMBA_CACHE_DIR
  (compile), and again with that cache warm, per dtype.
* MEM: peak resident memory (ru_maxrss of a child process) of one W1 epoch for each
  implementation, and of ``python -m minivae.demo --quick``.

A minivae step is exactly what ``minivae.train.loop.fit`` does per mini-batch (its ``train_step``:
zero_grad, loss, finiteness checks, backward, gradient finiteness check, Adam step) on a batch
gathered from a shuffled permutation.  A PyTorch step is ``zero_grad(); loss = model.loss(x);
loss.backward(); opt.step(); loss.item()`` with the equivalent model of ``torch_models.py``.
PyTorch runs twice: in this process (stock), and in a child process started with glibc malloc
tuned (``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_``); ratios use the faster of the two.

All times are medians after warm-up.  Thread counts are fixed before NumPy is imported
(OMP/OPENBLAS/MKL/NUMBA_NUM_THREADS) and with ``torch.set_num_threads``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
GROUPS = ("W1", "W2", "W3", "W4", "JIT", "MEM")
MNIST_ROWS = 60_000


# ================================================================================== cases
@dataclass(frozen=True)
class Case:
    """One workload: ``kind`` is "mlp", "repeat" or "autoregressive"."""

    name: str
    group: str
    kind: str
    B: int
    D: int
    H: int
    L: int
    T: int = 1

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(MNIST_ROWS / self.B)


def build_cases(groups: set[str], quick: bool) -> list[Case]:
    cases = []
    if "W1" in groups:
        cases.append(Case("W1", "W1", "mlp", B=128, D=784, H=400, L=20))
    dims = (1,) if quick else (1, 8)
    for group, kind in (("W2", "repeat"), ("W3", "autoregressive")):
        if group in groups:
            cases += [Case(f"{group} D={D}", group, kind, B=64, D=D, H=64, L=16, T=100)
                      for D in dims]
    if "W4" in groups:
        cases.append(Case("W4 H=256", "W4", "repeat", B=64, D=1, H=256, L=16, T=100))
        cases.append(Case("W4 B=256", "W4", "repeat", B=256, D=1, H=64, L=16, T=100))
    return cases


# ============================================================================ FLOP counts
def dense_flops(rows: int, n_in: int, n_out: int, input_grad: bool = True) -> int:
    """Affine layer on ``rows`` rows: forward x W (2 rows n_in n_out), backward dW = x^T dy
    (same) and, when the input needs a gradient, dx = dy W^T (same)."""
    return 2 * rows * n_in * n_out * (3 if input_grad else 2)


def lstm_flops(B: int, T: int, D: int, H: int, input_grad: bool) -> int:
    """LSTM layer over T steps: forward [x_t, h] [Wx; Wh] (2 B (D+H) 4H per step), backward
    dWx, dWh (same), dh_prev = da Wh^T (2 B H 4H) and, if needed, dx = da Wx^T (2 B D 4H)."""
    per_step = 2 * B * (D + H) * 4 * H * 2 + 2 * B * H * 4 * H
    if input_grad:
        per_step += 2 * B * D * 4 * H
    return T * per_step


def case_flops(c: Case) -> int:
    """Matrix-product FLOPs of one training step that any implementation must do (an input
    gradient is counted only where it is used: not for the data fed to the first layer)."""
    if c.kind == "mlp":
        return (dense_flops(c.B, c.D, c.H, input_grad=False) + dense_flops(c.B, c.H, 2 * c.L)
                + dense_flops(c.B, c.L, c.H) + dense_flops(c.B, c.H, c.D))
    enc = lstm_flops(c.B, c.T, c.D, c.H, input_grad=False) + dense_flops(c.B, c.H, 2 * c.L)
    out = dense_flops(c.B * c.T, c.H, 2 * c.D)
    if c.kind == "repeat":  # decoder input z (repeated) needs its gradient
        return enc + lstm_flops(c.B, c.T, c.L, c.H, input_grad=True) + out
    # autoregressive, teacher forcing 1.0: every input is data, so no input gradient
    init = 2 * dense_flops(c.B, c.L, c.H)
    return enc + init + lstm_flops(c.B, c.T, c.D, c.H, input_grad=False) + out


FLOP_FORMULAS = """\
dense(rows, i, o, dx)  = 2*rows*i*o * (3 if dx else 2)          # fwd, dW, [dx]
lstm(B, T, D, H, dx)   = T * (2*B*(D+H)*4H * 2 + 2*B*H*4H + [2*B*D*4H if dx])
W1  = dense(B,784,400,no dx) + dense(B,400,2L) + dense(B,L,400) + dense(B,400,784)
W2/W4 (repeat) = lstm(B,T,D,H,no dx) + dense(B,H,2L) + lstm(B,T,L,H,dx) + dense(B*T,H,2D)
W3 (autoregr.) = lstm(B,T,D,H,no dx) + dense(B,H,2L) + 2*dense(B,L,H) + lstm(B,T,D,H,no dx)
                 + dense(B*T,H,2D)"""


# ================================================================================== data
def make_data(c: Case, dtype: str):
    """The training set of a case: W1 random pixels in [0, 1] (60000, 784); sequences:
    8 batches of noisy sines (8B, T, D)."""
    import numpy as np

    rng = np.random.default_rng(0)
    if c.kind == "mlp":
        return rng.random((MNIST_ROWS, c.D), dtype=np.float32).astype(dtype, copy=False)
    n = 8 * c.B
    t = np.arange(c.T)[None, :, None]
    freq = rng.uniform(0.02, 0.2, size=(n, 1, c.D))
    phase = rng.uniform(0, 2 * np.pi, size=(n, 1, c.D))
    X = np.sin(2 * np.pi * freq * t + phase) + 0.1 * rng.standard_normal((n, c.T, c.D))
    return X.astype(dtype)


class Batches:
    """Mini-batch indices from a shuffled permutation, reshuffled when used up (like fit)."""

    def __init__(self, n: int, batch: int, seed: int = 0) -> None:
        import numpy as np

        self.rng = np.random.default_rng(seed)
        self.n, self.batch = n, batch
        self.order, self.pos = self.rng.permutation(n), 0

    def next(self):
        if self.pos + self.batch > self.n:
            self.order, self.pos = self.rng.permutation(self.n), 0
        idx = self.order[self.pos:self.pos + self.batch]
        self.pos += self.batch
        return idx


# ======================================================================== step builders
def minivae_step(c: Case, dtype: str, X):
    """A closure running one minivae training step exactly as ``fit`` does, plus the model."""
    import numpy as np

    from minivae.models import LSTMVAE, VAE
    from minivae.train.loop import train_step  # fit's own per-batch step
    from minivae.train.optim import Adam

    if c.kind == "mlp":
        model = VAE(c.D, [c.H], c.L, likelihood="bernoulli", activation="relu", rng=0,
                    dtype=dtype)
    else:
        model = LSTMVAE(c.D, c.H, c.L, decoder=c.kind, likelihood="gaussian",
                        teacher_forcing=1.0, rng=0, dtype=dtype)
    opt = Adam(model, lr=1e-3)  # what fit(optimizer="adam", lr=1e-3) builds
    batches = Batches(X.shape[0], c.B)
    noise = np.random.default_rng(1)
    model.train()
    count = [0]

    def step() -> None:
        count[0] += 1
        batch = model.make_batch(X[batches.next()])
        train_step(model, opt, batch, rng=noise,
                   where=f"epoch 1, step {count[0]}/{c.steps_per_epoch}")

    return step, model, opt


def torch_step(c: Case, dtype: str, X, threads: int, variant: str = ""):
    """A closure running one PyTorch training step of the equivalent model."""
    import torch

    sys.path.insert(0, HERE)
    from torch_models import TorchLSTMVAE, TorchMLPVAE

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    tdtype = getattr(torch, dtype)
    if c.kind == "mlp":
        model = TorchMLPVAE(c.D, c.H, c.L)
    else:
        decoder = "autoregressive_fused" if variant == "fused" else c.kind
        model = TorchLSTMVAE(c.D, c.H, c.L, decoder=decoder, teacher_forcing=1.0)
    model = model.to(tdtype).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    Xt = torch.from_numpy(X)
    batches = Batches(X.shape[0], c.B)

    def step() -> None:
        xb = Xt[torch.from_numpy(batches.next())]
        opt.zero_grad()
        loss = model.loss(xb)
        loss.backward()
        opt.step()
        loss.item()

    return step


def time_case(c: Case, impl: str, dtype: str, X, threads: int, repeats: int,
              warmup: int) -> dict[str, Any]:
    """Median step time of one implementation: impl in numpy, numba, torch, torch_fused."""
    from _common import measure

    if impl in ("numpy", "numba"):
        from minivae.fast import backend
        from minivae.fast.blas import threads_for_training

        backend.set_backend(impl)
        step, model, _ = minivae_step(c, dtype, X)
        # The thread policy fit applies (BLAS limited to one thread while a model trains,
        # see minivae/fast/blas.py); the first Numba call compiles (or loads from the
        # cache): more warm-up.
        with threads_for_training(model):
            res = measure(step, repeats, warmup=warmup + (2 if impl == "numba" else 0))
        if impl == "numba":
            res["kernels_loaded"] = "minivae.fast.lstm" in sys.modules
        backend.set_backend("numpy")
    else:
        step = torch_step(c, dtype, X, threads, variant="fused" if impl == "torch_fused" else "")
        res = measure(step, repeats, warmup=warmup)
    return res


def fit_check(c: Case, dtype: str, X, impl: str, steps: int) -> float:
    """ms per step of ``minivae.train.loop.fit`` itself on ``steps`` batches (one epoch, no
    validation, no diagnostics): cross-checks that the timed step matches what fit does."""
    from minivae.fast import backend
    from minivae.models import VAE

    backend.set_backend(impl)
    model = VAE(c.D, [c.H], c.L, likelihood="bernoulli", activation="relu", rng=0, dtype=dtype)
    Xs = X[: steps * c.B]
    model.fit(Xs[: 2 * c.B], epochs=1, batch_size=c.B, lr=1e-3, rng=0, verbose=0,
              diagnostics=False)  # warm-up
    t0 = time.perf_counter()
    model.fit(Xs, epochs=1, batch_size=c.B, lr=1e-3, rng=0, verbose=0, diagnostics=False)
    backend.set_backend("numpy")
    return 1e3 * (time.perf_counter() - t0) / steps


def check_equivalence() -> float:
    """Largest |minivae loss - PyTorch loss| over small float64 copies of every benchmarked
    model, with minivae's weights copied into the PyTorch model and the same latent noise:
    the PyTorch side computes the same objective (expected ~1e-14)."""
    import numpy as np
    import torch

    sys.path.insert(0, HERE)
    from torch_models import TorchLSTMVAE, TorchMLPVAE

    from minivae.models import LSTMVAE, VAE

    def t64(a):
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float64))

    def dense(tl, layer) -> None:  # minivae y = x W + b; torch y = x W^T + b
        tl.weight.data, tl.bias.data = t64(layer.params["W"].T), t64(layer.params["b"])

    def lstm(tm, layer, suffix: str = "_l0") -> None:  # PyTorch keeps two biases: one is 0
        getattr(tm, "weight_ih" + suffix).data = t64(layer.params["Wx"].T)
        getattr(tm, "weight_hh" + suffix).data = t64(layer.params["Wh"].T)
        getattr(tm, "bias_ih" + suffix).data = t64(layer.params["b"])
        getattr(tm, "bias_hh" + suffix).data.zero_()

    rng = np.random.default_rng(0)
    diffs = []
    m = VAE(12, [7], 3, rng=0)
    t = TorchMLPVAE(12, 7, 3).double()
    for tl, ml in ((t.encoder[0], m.encoder.layers[0]), (t.encoder[2], m.encoder.layers[2]),
                   (t.decoder[0], m.decoder.layers[0]), (t.decoder[2], m.decoder.layers[2])):
        dense(tl, ml)
    X, eps = rng.random((5, 12)), rng.standard_normal((5, 3))
    diffs.append(abs(m.loss(X, eps=eps)[0] - t.loss(t64(X), t64(eps)).item()))
    for kind, tkind in (("repeat", "repeat"), ("autoregressive", "autoregressive"),
                        ("autoregressive", "autoregressive_fused")):
        m = LSTMVAE(2, 5, 3, decoder=kind, rng=0)
        t = TorchLSTMVAE(2, 5, 3, decoder=tkind).double()
        lstm(t.encoder, m.encoder.layers[0])
        dense(t.to_latent, m.to_latent)
        dense(t.out, m.decoder.out_proj)
        if kind == "repeat":
            lstm(t.decoder, m.decoder.lstm.layers[0])
        else:
            dense(t.init_h, m.decoder.init_h)
            dense(t.init_c, m.decoder.init_c)
            if tkind == "autoregressive":
                lstm(t.cell, m.decoder.cells[0], suffix="")
            else:
                lstm(t.decoder, m.decoder.cells[0])
        X, eps = rng.standard_normal((4, 6, 2)), rng.standard_normal((4, 3))
        diffs.append(abs(m.loss(X, eps=eps)[0] - t.loss(t64(X), t64(eps)).item()))
    return max(diffs)


def impls_for(c: Case, with_torch: bool) -> list[str]:
    impls = ["numpy", "numba"]
    if with_torch:
        impls.append("torch")
        if c.kind == "autoregressive":
            impls.append("torch_fused")
    return impls


def repeats_for(c: Case, impl: str, args: argparse.Namespace) -> int:
    if args.repeats:
        return args.repeats
    base = 5 if args.quick else (30 if c.kind == "mlp" else 20)
    if impl == "numpy" and (c.H >= 256 or c.B >= 256):  # slow reference: fewer calls
        base = max(3, base // 2)
    return base


# =============================================================================== children
def child_cmd(args: argparse.Namespace, *extra: str) -> list[str]:
    cmd = [sys.executable, os.path.abspath(__file__), "--threads", str(args.threads),
           "--dtype", args.dtype]
    return cmd + list(extra)


def torch_child(args: argparse.Namespace) -> None:
    """Child mode: time the torch implementations of the selected cases, print JSON."""
    out = []
    for c in build_cases(set(args.only), args.quick):
        X = make_data(c, args.dtype)
        for impl in ("torch", "torch_fused"):
            if impl == "torch_fused" and c.kind != "autoregressive":
                continue
            r = time_case(c, impl, args.dtype, X, args.threads, repeats_for(c, impl, args),
                          args.warmup)
            out.append({"case": c.name, "impl": impl, **r})
    print(json.dumps(out))


def jit_child(args: argparse.Namespace) -> None:
    """Child mode: first (and second) call times of every Numba kernel in one dtype."""
    import numpy as np

    t0 = time.perf_counter()
    from minivae.fast import adam as ka
    from minivae.fast import lstm as k  # imports numba and the kernel module (no compilation yet)

    res: dict[str, Any] = {"import_s": time.perf_counter() - t0, "first": {}, "second": {},
                           "import_cpu_s": time.process_time()}
    dt = args.dtype
    rng = np.random.default_rng(0)
    N, T, D, H = 8, 5, 2, 3

    def arr(*shape):
        return rng.standard_normal(shape).astype(dt)

    x, h0, c0 = arr(N, T, D), arr(N, H), arr(N, H)
    Wx, Wh, b = arr(D, 4 * H), arr(H, 4 * H), arr(4 * H)
    valid = np.ones((N, T), dtype=bool)
    valid[0, -1] = False
    p, g, m, v = arr(5, 3), arr(5, 3), np.zeros((5, 3), dt), np.zeros((5, 3), dt)
    Wout, bout = arr(H, 2 * D), arr(2 * D)  # the autoregressive decoder's output Dense
    feed = rng.random((N, T, D)) < 0.5

    calls = {
        "lstm_forward": lambda: k.lstm_forward(x, h0, c0, Wx, Wh, b),
        "lstm_forward(mask)": lambda: k.lstm_forward(x, h0, c0, Wx, Wh, b, valid),
        "lstm_backward": lambda: k.lstm_backward(arr(N, T, H), arr(N, H), None,
                                                 k.lstm_forward(x, h0, c0, Wx, Wh, b)[3]),
        "lstm_forward_repeated": lambda: k.lstm_forward_repeated(x[:, 0], T, h0, c0, Wx, Wh, b),
        "lstm_backward_repeated": lambda: k.lstm_backward_repeated(
            arr(N, T, H), None, None, k.lstm_forward_repeated(x[:, 0], T, h0, c0, Wx, Wh, b)[3]),
        "lstm_step_forward": lambda: k.lstm_step_forward(x[:, 0], h0, c0, Wx, Wh, b),
        "lstm_step_backward": lambda: k.lstm_step_backward(
            arr(N, H), arr(N, H), k.lstm_step_forward(x[:, 0], h0, c0, Wx, Wh, b)[2]),
        "adam_update": lambda: ka.adam_update(p, g, m, v, 1e-3, 0.9, 0.999, 1e-8, 1, 0.0, False),
        "ar_decoder_forward": lambda: k.ar_decoder_forward(
            h0, c0, (Wx, Wh, b), Wout, bout, T, x, feed),
        "ar_decoder_backward": lambda: k.ar_decoder_backward(
            arr(N, T, 2 * D), k.ar_decoder_forward(h0, c0, (Wx, Wh, b), Wout, bout, T)[1]),
    }
    try:  # the fail-safe check's twin (issue 21; absent from older checkouts)
        from minivae.fast import guard as kg

        calls["first_bad_array"] = lambda: kg.first_bad_array([p, g], 1e6)
    except ImportError:
        pass
    for round_ in ("first", "second"):
        cpu0 = time.process_time()
        for name, fn in calls.items():
            t = time.perf_counter()
            fn()
            res[round_][name] = time.perf_counter() - t
        res[f"{round_}_cpu_s"] = time.process_time() - cpu0
    res["first_total_s"] = sum(res["first"].values())
    res["second_total_s"] = sum(res["second"].values())
    # What a user meets: the first training steps through the layers on the Numba backend
    # (the kernels above are now compiled or loaded, so this is the rest: other signatures
    # the layers use, plus NumPy work).  Tiny shapes: the time is compilation, not arithmetic.
    from minivae.fast import backend

    backend.set_backend("numba")
    tiny = [Case("LSTM-VAE repeat", "JIT", "repeat", B=8, D=2, H=4, L=2, T=6),
            Case("LSTM-VAE autoregressive", "JIT", "autoregressive", B=8, D=2, H=4, L=2, T=6),
            Case("MLP VAE", "JIT", "mlp", B=8, D=6, H=5, L=2)]
    res["train_first"], res["train_second"] = {}, {}
    for c in tiny:
        X = make_data(c, dt)[:64] if c.kind != "mlp" else np.random.default_rng(0).random(
            (64, c.D)).astype(dt)
        step, _, _ = minivae_step(c, dt, X)
        for round_ in ("train_first", "train_second"):
            t = time.perf_counter()
            step()
            res[round_][c.name] = time.perf_counter() - t
    res["train_first_total_s"] = sum(res["train_first"].values())
    res["train_second_total_s"] = sum(res["train_second"].values())
    print(json.dumps(res))


def mem_child(args: argparse.Namespace) -> None:
    """Child mode: run ``--mem-steps`` W1 steps with ``--mem-child`` impl; print RSS numbers."""
    sys.path.insert(0, HERE)
    from _common import current_rss_mb, peak_rss_mb

    impl = args.mem_child
    c = build_cases({"W1"}, quick=True)[0]
    if impl in ("numpy", "numba"):
        from minivae.fast import backend

        backend.set_backend(impl)
        X = make_data(c, args.dtype)
        step, _, _ = minivae_step(c, args.dtype, X)
    else:
        X = make_data(c, args.dtype)
        step = torch_step(c, args.dtype, X, args.threads)
    setup = current_rss_mb()
    for _ in range(args.mem_steps):
        step()
    print(json.dumps({"impl": impl, "rss_setup_mb": setup, "peak_mb": peak_rss_mb(),
                      "data_mb": X.nbytes / 2**20, "steps": args.mem_steps}))


# ========================================================================== main parts
def run_jit(args: argparse.Namespace, log) -> list[dict[str, Any]]:
    from _common import last_json_line, run_child

    rows = []
    for dt in ("float32", "float64"):
        with tempfile.TemporaryDirectory(prefix="minivae-numba-cache-") as cache:
            env = {**os.environ, "NUMBA_CACHE_DIR": cache}
            row: dict[str, Any] = {"dtype": dt}
            for phase in ("cold", "warm"):
                cmd = child_cmd(args, "--jit-child")
                cmd[cmd.index("--dtype") + 1] = dt
                t0 = time.perf_counter()
                rc, out, err = run_child(cmd, env=env)
                wall = time.perf_counter() - t0
                if rc != 0:
                    log(f"JIT child failed ({phase}, {dt}):\n{err[-3000:]}")
                    row[phase] = None
                    continue
                r = last_json_line(out)
                r["process_s"] = wall
                row[phase] = r
                log(f"JIT {dt:7s} {phase}: numba import {r['import_s']:.2f} s, first kernel "
                    f"calls {r['first_total_s']:.2f} s (cpu {r['first_cpu_s']:.2f} s; "
                    + ", ".join(f"{k} {v:.2f}" for k, v in r["first"].items())
                    + f"), second calls {1e3 * r['second_total_s']:.1f} ms; then first "
                    f"training steps {r['train_first_total_s']:.2f} s ("
                    + ", ".join(f"{k} {v:.2f}" for k, v in r["train_first"].items())
                    + f"), second steps {1e3 * r['train_second_total_s']:.1f} ms; "
                    f"whole process {wall:.1f} s")
            rows.append(row)
    return rows


def run_mem(args: argparse.Namespace, with_torch: bool, log) -> list[dict[str, Any]]:
    from _common import MALLOC_ENV, last_json_line, run_child, run_module_peak

    c = build_cases({"W1"}, quick=True)[0]
    steps = args.mem_steps or (40 if args.quick else c.steps_per_epoch)
    rows = []
    impls = [("numpy", {}), ("numba", {})]
    if with_torch:
        impls += [("torch", {}), ("torch tuned", MALLOC_ENV)]
    for name, extra_env in impls:
        cmd = child_cmd(args, "--mem-child", name.split()[0], "--mem-steps", str(steps))
        rc, out, err = run_child(cmd, env={**os.environ, **extra_env})
        if rc != 0:
            log(f"MEM child {name} failed:\n{err[-3000:]}")
            continue
        r = last_json_line(out)
        r["impl"] = name
        peak = r["peak_mb"]
        rows.append(r)
        log(f"MEM W1 {name:12s}: peak RSS {peak:7.1f} MiB over {steps} steps "
            f"(after setup {r['rss_setup_mb']:.1f} MiB; data {r['data_mb']:.1f} MiB)")
    with tempfile.TemporaryDirectory(prefix="minivae-demo-") as outdir:
        for backend_name in ("numpy", "numba"):
            t0 = time.perf_counter()
            rc, _, err, peak = run_module_peak(
                "minivae.demo", ["--quick", "--out", outdir, "--backend", backend_name])
            wall = time.perf_counter() - t0
            if rc != 0 or peak is None:
                log(f"demo --quick ({backend_name}) failed:\n{err[-3000:]}")
                continue
            rows.append({"impl": f"demo --quick ({backend_name})", "peak_mb": peak,
                         "wall_s": wall})
            log(f"MEM python -m minivae.demo --quick --backend {backend_name}: peak RSS "
                f"{peak:.1f} MiB ({wall:.1f} s)")
    return rows


def run_profile(args: argparse.Namespace) -> None:
    """cProfile (CPU time) + targeted timings + float64-promotion trace of minivae's W1, W2 and
    W3 steps (float32, NumPy backend)."""
    import cProfile
    import io
    import pstats

    from _common import measure

    from minivae.fast import backend

    backend.set_backend("numpy")
    dtype = "float32"
    steps = 10 if args.quick else 40
    cases = [Case("W1", "W1", "mlp", B=128, D=784, H=400, L=20),
             Case("W2 D=1", "W2", "repeat", B=64, D=1, H=64, L=16, T=100),
             Case("W3 D=1", "W3", "autoregressive", B=64, D=1, H=64, L=16, T=100)]
    for c in cases:
        X = make_data(c, dtype)
        step, model, opt = minivae_step(c, dtype, X)
        base = measure(step, steps, warmup=3)
        print(f"\n=== profile {c.name} ({dtype}, numpy backend, {args.threads} thread(s)): "
              f"median {base['ms']:.2f} ms/step wall, {base['cpu_ms']:.2f} ms CPU, without the "
              "profiler ===")
        # CPU time, not wall time: on a shared machine waiting for a core is not our cost
        prof = cProfile.Profile(time.process_time)
        prof.enable()
        for _ in range(steps):
            step()
        prof.disable()
        s = io.StringIO()
        st = pstats.Stats(prof, stream=s)
        st.sort_stats("tottime").print_stats(22)
        print(f"-- top functions by own CPU time ({steps} steps; includes profiler overhead)")
        print(_trim_pstats(s.getvalue()))
        _buckets(st, steps)
        _targeted(c, model, opt, X, base["cpu_ms"])
        _promotion_trace(step, model, dtype)


def _trim_pstats(text: str) -> str:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if "ncalls" in line)
    root = os.path.dirname(HERE) + os.sep
    return "\n".join(line.replace(root, "") for line in lines[start:] if line.strip())


def _buckets(st, steps: int) -> None:
    """Cumulative time of groups of functions that are pure overhead candidates."""
    groups = {
        "_validation.check_array/check_* (input validation)": ("_validation.py", None),
        "optim._check_triples (optimizer re-walks + re-validates params each step)":
            ("optim.py", "_check_triples"),
        "Layer.parameters / children (model walks)": ("layer.py", "parameters"),
        "nn.functional.sigmoid": ("functional.py", "sigmoid"),
        "losses._prepare (loss input checks)": ("losses.py", "_prepare"),
    }
    total = sum(v[2] for v in st.stats.values())  # tottime sum = profiled time
    print("-- cumulative time of overhead candidates (share of the profiled step)")
    for label, (fname, func) in groups.items():
        cum = 0.0
        for (f, _, name), (_, _, _, ct, _) in st.stats.items():
            if f.endswith(fname) and (func is None or name == func):
                if func is None and name.startswith("_"):
                    continue
                cum += ct
        print(f"   {label:<75s} {1e3 * cum / steps:7.2f} ms/step ({100 * cum / total:4.1f} %)")


def _targeted(c: Case, model, opt, X, step_ms: float) -> None:
    """Direct timings (no profiler, CPU time) of suspected per-step costs."""
    import numpy as np
    from _common import measure

    from minivae._validation import check_array
    from minivae.nn.functional import sigmoid
    from minivae.nn.lstm import lstm_step_forward
    from minivae.train.optim import _collect

    def cpu(fn, n: int = 50) -> float:
        return measure(fn, n)["cpu_ms"]

    print("-- targeted timings, no profiler (CPU ms per step, share of the step's CPU time)")
    rows = []
    batch = X[: c.B]
    rows.append(("check_array(X batch) at the top of loss (finite check + astype)",
                 cpu(lambda: check_array(batch, "X", ndim=model.input_ndim, dtype=model.dtype))))
    rows.append(("fit's gradient finiteness check (np.isfinite over all grads)",
                 cpu(lambda: [np.all(np.isfinite(g)) for _, _, g in model.parameters()])))
    rows.append(("Optimizer.parameters(): _collect(model) re-walk + re-check",
                 cpu(lambda: _collect(model))))
    rows.append(("model.zero_grad()", cpu(model.zero_grad)))
    n_par = sum(p.size for _, p, _ in model.parameters())
    rows.append((f"opt.step(): NumPy Adam over {n_par} parameters", cpu(opt.step)))
    if c.kind == "mlp":
        W = model.encoder.layers[0].params["W"]  # (784, 400)
        dy = np.ones((c.B, c.H), dtype=W.dtype)
        rows.append(("first Dense: dx = dy @ W.T, computed but never used", cpu(lambda: dy @ W.T)))
        logits = np.zeros((c.B, c.D), dtype=W.dtype)
        rows.append(("sigmoid(logits) (B, 784) in bernoulli_nll_grad",
                     cpu(lambda: sigmoid(logits))))
        rows.append(("   (alternative: 1 / (1 + exp(-x)) in place, overflow ignored)",
                     cpu(lambda: _sigmoid_exp_recip(logits))))
        return _print_rows(rows, step_ms)
    H, T, B = c.H, c.T, c.B
    decoder = (model.decoder.lstm.layers[0] if c.kind == "repeat" else model.decoder.cells[0])
    tot = {"fwd": 0.0, "mm_f": 0.0, "bwd": 0.0, "mm_b": 0.0, "sig": 0.0}
    for layer in (model.encoder.layers[0], decoder):  # T steps each, with their own shapes
        for key, ms in _lstm_step_costs(layer, B, H, cpu).items():
            tot[key] += T * ms
    Wx_enc = model.encoder.layers[0].params["Wx"]
    da = np.ones((B, 4 * H), dtype=Wx_enc.dtype)
    # The step functions: what the reference loops (lstm_forward, the decoders) call T times.
    rows.append(("lstm_step_forward, enc + dec, T steps each",
                 tot["fwd"]))
    rows.append(("   of which the matrix products x Wx + h Wh + b", tot["mm_f"]))
    rows.append(("   of which the 3 gate sigmoids (stable np.where form)", tot["sig"]))
    a = np.zeros((B, 4 * H), dtype=model.dtype)
    rows.append(("   (alternative: one 1 / (1 + exp(-x)) over the (B, 4H) block)",
                 2 * T * cpu(lambda: _sigmoid_exp_recip(a), 200)))
    rows.append(("lstm_step_backward, enc + dec, T steps each",
                 tot["bwd"]))
    rows.append(("   of which the 4 matrix products", tot["mm_b"]))
    rows.append(("   of which encoder dx = da @ Wx.T (never used)",
                 T * cpu(lambda: da @ Wx_enc.T, 200)))
    if c.kind == "autoregressive":
        cell = model.decoder.cells[0]
        x_t = np.ones((B, c.D), dtype=cell.dtype)
        h = np.full((B, H), 0.1, dtype=cell.dtype)
        Wx, Wh, b = cell.params["Wx"], cell.params["Wh"], cell.params["b"]
        fwd = cpu(lambda: lstm_step_forward(x_t, h, h, Wx, Wh, b), 200)

        def cell_fwd() -> None:
            cell.forward(x_t, h, h)
            cell.reset()

        rows.append(("LSTMCell.forward minus lstm_step_forward (validation), x T",
                     T * (cpu(cell_fwd, 200) - fwd)))
    _print_rows(rows, step_ms)


def _sigmoid_exp_recip(x):
    """The cheaper sigmoid suggested by the profile: 4 passes instead of 8 (exp(-x) may
    overflow to inf for x < -88 in float32, and 1 / inf = 0 is then the right answer)."""
    import numpy as np

    with np.errstate(over="ignore"):
        e = np.negative(x)
        np.exp(e, out=e)
        e += 1
        return np.reciprocal(e, out=e)


def _lstm_step_costs(layer, B: int, H: int, cpu) -> dict[str, float]:
    """CPU ms of one NumPy LSTM step of ``layer``'s shapes: the whole forward / backward step
    function, their matrix products alone, and the three gate sigmoids."""
    import numpy as np

    from minivae.nn.functional import sigmoid
    from minivae.nn.lstm import lstm_step_backward, lstm_step_forward

    Wx, Wh, b = layer.params["Wx"], layer.params["Wh"], layer.params["b"]
    dt = Wx.dtype
    x_t = np.ones((B, Wx.shape[0]), dtype=dt)
    h = np.full((B, H), 0.1, dtype=dt)
    da = np.ones((B, 4 * H), dtype=dt)
    _, _, cache = lstm_step_forward(x_t, h, h, Wx, Wh, b)
    return {
        "fwd": cpu(lambda: lstm_step_forward(x_t, h, h, Wx, Wh, b), 200),
        "mm_f": cpu(lambda: x_t @ Wx + h @ Wh + b, 200),
        "bwd": cpu(lambda: lstm_step_backward(h, h, cache), 200),
        "mm_b": cpu(lambda: (da @ Wx.T, da @ Wh.T, x_t.T @ da, h.T @ da), 200),
        "sig": cpu(lambda: [sigmoid(da[:, k * H:(k + 1) * H]) for k in (0, 1, 3)], 200),
    }


def _print_rows(rows: list[tuple[str, float]], step_ms: float) -> None:
    for label, ms in rows:
        print(f"   {label:<66s} {ms:8.3f} ms  ({100 * ms / step_ms:5.1f} %)")


def _promotion_trace(step, model, dtype: str) -> None:
    """Run one step under a profiler hook that reports every minivae function returning, or
    holding in a local variable, a float64 array while the model is float32."""
    import numpy as np

    pkg = os.path.dirname(os.path.abspath(sys.modules["minivae"].__file__))
    found: dict[tuple[str, int, str], set[str]] = {}

    def f64(v) -> bool:
        return isinstance(v, np.ndarray) and v.dtype == np.float64

    def hook(frame, event, arg):
        if event != "return" or not frame.f_code.co_filename.startswith(pkg):
            return
        names = set()
        vals = arg if isinstance(arg, (tuple, list)) else (arg,)
        if any(f64(v) for v in vals):
            names.add("<return>")
        for k, v in frame.f_locals.items():
            if f64(v) or (isinstance(v, (tuple, list)) and any(f64(x) for x in v[:12])):
                names.add(k)
        if names:
            code = frame.f_code
            key = (os.path.relpath(code.co_filename, os.path.dirname(pkg)), code.co_firstlineno,
                   code.co_name)
            found.setdefault(key, set()).update(names)

    sys.setprofile(hook)
    try:
        step()
    finally:
        sys.setprofile(None)
    print(f"-- float64 values seen during one {dtype} step (function, variables)")
    if not found:
        print("   none: the step stays in float32 end to end")
    for (f, line, name), names in sorted(found.items()):
        print(f"   {f}:{line} {name}: {', '.join(sorted(names))}")


# =============================================================================== report
TARGETS = {
    # (case, impl, dtype): (max ratio, the wording).  Checked against the faster of
    # stock and tuned PyTorch, except where the issue names stock PyTorch: then against stock,
    # with the ratio to the faster one shown next to it.
    ("W1", "numba", "float32"): (1.0, "≤ 1.0× tuned PyTorch per epoch"),
    ("W1", "numpy", "float32"): (1.0, "NumPy backend ≤ 1.0×"),
    ("W2 D=1", "numba", "float32"): (1.0, "≤ 1.0× tuned PyTorch (~18 ms; stretch 15 ms)"),
    ("W2 D=8", "numba", "float32"): (1.0, "≤ 1.0× tuned PyTorch"),
    ("W2 D=1", "numpy", "float32"): (1.5, "NumPy backend ≤ 1.5× stock PyTorch"),
    ("W2 D=8", "numpy", "float32"): (1.5, "NumPy backend ≤ 1.5× stock PyTorch"),
    ("W3 D=1", "numba", "float32"): (0.5, "≤ 0.5× PyTorch (LSTMCell loop)"),
    ("W3 D=8", "numba", "float32"): (0.5, "≤ 0.5× PyTorch (LSTMCell loop)"),
    ("W4 B=256", "numba", "float32"): (0.65, "≤ 0.65×"),
    ("W4 H=256", "numba", "float32"): (1.05, "≤ 1.05×"),
    ("W2 D=1", "numba", "float64"): (0.4, "float64 ≤ 0.4× PyTorch float64"),
    ("W2 D=8", "numba", "float64"): (0.4, "float64 ≤ 0.4× PyTorch float64"),
}


def report(results: dict[str, Any]) -> str:
    from _common import fmt_ms, fmt_ratio, markdown_table

    dtype, peak = results["dtype"], results["peak_gflops"]
    lines = []
    info = results["machine"]
    lines.append(
        f"Machine: {info['cpu']}, {info['cores']} cores, {results['threads']} thread(s); "
        f"Python {info['python']}, NumPy {info['numpy']} ({info['numpy_blas']}), "
        f"Numba {info['numba']}, PyTorch {info['torch']}; load average at start "
        f"{info['load_avg']}, at end {results['load_end']}.  dtype {dtype}.  "
        f"GEMM 1024³ peak: {peak:.1f} GFLOP/s "
        f"(NumPy {results['gemm_numpy']:.1f}"
        + (f", PyTorch {results['gemm_torch']:.1f}" if results.get("gemm_torch") else "")
        + ")."
    )
    loaded = max(info["load_avg"][0], results["load_end"][0]) > info["cores"]
    if loaded:
        lines[0] += (f"  **The machine was loaded (load average above its {info['cores']} "
                     "cores): wall times include waiting for a core and are not reliable.**")
    rows, frows, crows = [], [], []
    notes = []
    for cr in results["cases"]:
        r = cr["impls"]

        def ms(impl, r=r):
            return r[impl]["ms"] if impl in r else None

        scale = cr["steps_per_epoch"] if cr["kind"] == "mlp" else 1
        unit = "s/epoch" if cr["kind"] == "mlp" else "ms/step"

        def t(impl, scale=scale, ms=ms):
            v = ms(impl)
            return None if v is None else v * scale

        stock, tuned = ms("torch"), ms("torch_tuned")
        best = min([v for v in (stock, tuned) if v is not None], default=None)

        def ratio(impl, best=best, ms=ms):
            v = ms(impl)
            return None if v is None or best is None else v / best

        rows.append([cr["name"], unit, fmt_ms(t("numpy")), fmt_ms(t("numba")),
                     fmt_ms(t("torch")), fmt_ms(t("torch_tuned")),
                     fmt_ratio(ratio("numpy")), fmt_ratio(ratio("numba"))])
        cpu = {k: r[k]["cpu_ms"] for k in ("numpy", "numba", "torch", "torch_tuned") if k in r}
        best_cpu = min([cpu[k] for k in ("torch", "torch_tuned") if k in cpu], default=None)
        crows.append([cr["name"], *(f"{cpu[k]:.1f}" if k in cpu else "–"
                                    for k in ("numpy", "numba", "torch", "torch_tuned")),
                      *(fmt_ratio(cpu[k] / best_cpu) if k in cpu and best_cpu else "–"
                        for k in ("numpy", "numba"))])
        gf = cr["gflop"]

        def rate(impl, ms=ms, gf=gf):
            v = ms(impl)
            if v is None:
                return "–"
            g = gf / (v / 1e3)
            return f"{g:.1f} ({100 * g / peak:.0f} %)"

        best_impl = None if best is None else ("torch" if best == stock else "torch_tuned")
        frows.append([cr["name"], f"{gf:.3f}", rate("numpy"), rate("numba"),
                      rate(best_impl) if best_impl else "–"])
        for fused in ("torch_fused", "torch_fused_tuned"):
            if fused in r:
                notes.append(f"{cr['name']}: PyTorch fused nn.LSTM formulation "
                             f"({'tuned malloc' if 'tuned' in fused else 'stock'}) "
                             f"{fmt_ms(r[fused]['ms'])}; minivae-numba / it = "
                             f"{fmt_ratio(ms('numba') / r[fused]['ms'] if ms('numba') else None)}")
        if cr["kind"] == "mlp" and cr.get("fit_ms"):
            notes.append("W1 cross-check, ms/step of fit() itself on a subset: " + ", ".join(
                f"{k} {v:.2f}" for k, v in cr["fit_ms"].items()) + " (timed step: " + ", ".join(
                f"{k} {ms(k):.2f}" for k in cr["fit_ms"] if ms(k)) + ")")
        if "numba" in r and not r["numba"].get("kernels_loaded", True):
            notes.append(f"{cr['name']}: the Numba backend did not load minivae.fast "
                         "(kernels not wired into the layers yet): numba = numpy here")
    out = ["", "### Training step times", "", lines[0], "",
           markdown_table(["Workload", "unit", "minivae numpy", "minivae numba", "PyTorch",
                           "PyTorch tuned malloc", "numpy ÷ best PyTorch",
                           "numba ÷ best PyTorch"], rows, align="llrrrrrr")]
    if loaded:
        out += ["", "### Process CPU time per step, ms (all threads; less sensitive to the load "
                "than wall time, but spin-waiting BLAS/OpenMP threads count too)", "",
                markdown_table(["Workload", "minivae numpy", "minivae numba", "PyTorch",
                                "PyTorch tuned malloc", "numpy ÷ best PyTorch",
                                "numba ÷ best PyTorch"], crows)]
    out += ["", "### Achieved matrix-product throughput (GFLOP/s, % of GEMM peak)", "",
            markdown_table(["Workload", "GFLOP/step", "minivae numpy", "minivae numba",
                            "best PyTorch"], frows)]
    if notes:
        out += [""] + [f"* {n}" for n in notes]
    checks = []
    for cr in results["cases"]:
        r = cr["impls"]
        stock = r.get("torch", {}).get("ms")
        tuned = r.get("torch_tuned", {}).get("ms")
        best = min([v for v in (stock, tuned) if v is not None], default=None)
        for impl in ("numpy", "numba"):
            key = (cr["name"], impl, dtype)
            if key in TARGETS and impl in r and best:
                limit, text = TARGETS[key]
                q_best = r[impl]["ms"] / best
                if "stock PyTorch" in text and stock:
                    q = r[impl]["ms"] / stock
                    shown = f"{fmt_ratio(q)} (÷ faster: {fmt_ratio(q_best)})"
                else:
                    q, shown = q_best, fmt_ratio(q_best)
                checks.append([cr["name"], impl, text, shown,
                               "met" if q <= limit else "NOT met"])
    if checks:
        out += ["", "### Targets of the issue (against the faster PyTorch, or stock where the "
                "issue says stock)", "",
                markdown_table(["Workload", "backend", "target", "measured", ""], checks,
                               align="lllrl")]
    if results.get("jit"):
        jrows = []
        for j in results["jit"]:
            for phase in ("cold", "warm"):
                r = j.get(phase)
                if r:
                    jrows.append([j["dtype"], phase, f"{r['import_s']:.2f} s",
                                  f"{r['first_total_s']:.2f} s (cpu {r['first_cpu_s']:.1f} s)",
                                  f"{1e3 * r['second_total_s']:.1f} ms",
                                  f"{r['train_first_total_s']:.2f} s",
                                  f"{1e3 * r['train_second_total_s']:.1f} ms",
                                  f"{r['process_s']:.1f} s"])
        out += ["", "### Numba JIT (all kernels, first call per dtype)", "",
                markdown_table(["dtype", "NUMBA_CACHE_DIR", "import numba + kernels",
                                "first kernel calls (compile / cache load)", "second calls",
                                "then 3 first training steps", "second steps",
                                "whole process"], jrows, align="llrrrrrr"),
                "", "Targets: cold ≤ 20 s per dtype; warm first call < 0.3 s."]
    if results.get("mem"):
        mrows = [[m["impl"], f"{m['peak_mb']:.0f} MiB",
                  f"{m['rss_setup_mb']:.0f} MiB" if "rss_setup_mb" in m else "–",
                  str(m.get("steps", "–"))] for m in results["mem"]]
        out += ["", "### Peak resident memory (VmHWM of a child process)", "",
                markdown_table(["Run", "peak RSS", "RSS after imports + data + model",
                                "W1 steps"], mrows, align="lrrr"),
                "", "W1 runs hold the 60,000 × 784 data set "
                f"({MNIST_ROWS * 784 * (4 if dtype == 'float32' else 8) / 2**20:.0f} MiB) "
                "in every implementation.  Target: minivae ≤ PyTorch's peak."]
    return "\n".join(out)


# ================================================================================== main
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true",
                   help="5 repeats, D=1 only, 40-step memory runs: a smoke test")
    p.add_argument("--only", default=",".join(GROUPS),
                   help=f"comma-separated subset of {','.join(GROUPS)} (default: all)")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=0,
                   help="timed steps per measurement (default: 30 for W1, 20 for LSTMs)")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps before timing")
    p.add_argument("--no-torch", action="store_true", help="skip PyTorch")
    p.add_argument("--json", metavar="PATH", help="also write all results as JSON")
    p.add_argument("--profile", action="store_true",
                   help="profile minivae's W1, W2 and W3 steps (float32, NumPy backend: "
                        "cProfile in CPU time, targeted timings, float64 trace) and exit")
    p.add_argument("--mem-steps", type=int, default=0,
                   help="W1 steps in the memory runs (default: one epoch, 469; 40 with --quick)")
    # child-process modes
    p.add_argument("--torch-child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--jit-child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--mem-child", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.only = [g.strip().upper() for g in args.only.split(",") if g.strip()]
    bad = sorted(set(args.only) - set(GROUPS))
    if bad:
        p.error(f"--only: unknown workload(s) {bad}; choose from {GROUPS}")
    if args.threads < 1:
        p.error("--threads must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, HERE)
    from _common import set_thread_env

    set_thread_env(args.threads)  # before numpy is imported anywhere
    if args.torch_child:
        torch_child(args)
        return 0
    if args.jit_child:
        jit_child(args)
        return 0
    if args.mem_child:
        mem_child(args)
        return 0
    if args.profile:
        run_profile(args)
        return 0

    from _common import (
        MALLOC_ENV,
        gemm_gflops,
        last_json_line,
        machine_info,
        run_child,
        torch_gemm_gflops,
    )

    def log(msg: str) -> None:
        print(msg, flush=True)

    with_torch = not args.no_torch
    if with_torch:
        try:
            import torch  # noqa: F401
        except ImportError:
            log("torch is not installed: PyTorch columns are skipped")
            with_torch = False

    if with_torch:
        diff = check_equivalence()
        log(f"PyTorch models vs minivae, same weights and noise (float64): max |loss difference| "
            f"= {diff:.1e}")
        if diff > 1e-8:
            log("WARNING: the PyTorch models no longer compute minivae's objective")
    info = machine_info(args.threads)
    log(f"{info['cpu']}, {info['cores']} cores; threads {args.threads}; dtype {args.dtype}; "
        f"load average {info['load_avg']}")
    if info["load_avg"][0] > (info["cores"] or 1):
        log("WARNING: the load average exceeds the core count: other processes compete for the "
            "cores, so wall times are inflated and noisy (multi-threaded BLAS suffers most: its "
            "threads wait for each other).  Compare the cpu column, or re-run on a quiet machine.")
    gemm_np = gemm_gflops(args.dtype)
    gemm_t = torch_gemm_gflops(args.dtype) if with_torch else None
    peak = max(gemm_np, gemm_t or 0.0)
    log(f"GEMM 1024^3 {args.dtype}: NumPy {gemm_np:.1f} GFLOP/s"
        + (f", PyTorch {gemm_t:.1f} GFLOP/s" if gemm_t else "") + f" -> peak {peak:.1f}")

    results: dict[str, Any] = {"dtype": args.dtype, "threads": args.threads, "machine": info,
                               "gemm_numpy": gemm_np, "gemm_torch": gemm_t,
                               "peak_gflops": peak, "cases": [], "argv": sys.argv[1:]}
    cases = build_cases(set(args.only), args.quick)
    for c in cases:
        X = make_data(c, args.dtype)
        cr = {**asdict(c), "steps_per_epoch": c.steps_per_epoch, "gflop": case_flops(c) / 1e9,
              "impls": {}}
        for impl in impls_for(c, with_torch):
            r = time_case(c, impl, args.dtype, X, args.threads, repeats_for(c, impl, args),
                          args.warmup)
            cr["impls"][impl] = r
            log(f"{c.name:9s} {impl:12s} {r['ms']:9.2f} ms/step (cpu {r['cpu_ms']:8.2f} ms, "
                f"min {r['min_ms']:8.2f} ms, n={r['n']})"
                + (f" -> {r['ms'] * c.steps_per_epoch / 1e3:.2f} s/epoch (x{c.steps_per_epoch})"
                   if c.kind == "mlp" else ""))
        if c.kind == "mlp":
            steps = 10 if args.quick else 40
            cr["fit_ms"] = {impl: fit_check(c, args.dtype, X, impl, steps)
                            for impl in ("numpy", "numba")}
            log(f"W1 fit() on {steps} batches: " + ", ".join(
                f"{k} {v:.2f} ms/step" for k, v in cr["fit_ms"].items()))
        results["cases"].append(cr)
        del X

    if with_torch and cases:
        only = ",".join(sorted({c.group for c in cases}))
        cmd = child_cmd(args, "--torch-child", "--only", only, "--warmup", str(args.warmup))
        cmd += ["--quick"] if args.quick else []
        cmd += ["--repeats", str(args.repeats)] if args.repeats else []
        rc, out, err = run_child(cmd, env={**os.environ, **MALLOC_ENV})
        if rc != 0:
            log(f"tuned-malloc PyTorch child failed:\n{err[-3000:]}")
        else:
            for r in last_json_line(out):
                cr = next(x for x in results["cases"] if x["name"] == r["case"])
                cr["impls"][r["impl"] + "_tuned"] = r
                log(f"{r['case']:9s} {r['impl'] + ' tuned':18s} {r['ms']:9.2f} ms/step "
                    f"(cpu {r['cpu_ms']:8.2f} ms, min {r['min_ms']:8.2f} ms, n={r['n']})")

    if "JIT" in args.only:
        results["jit"] = run_jit(args, log)
    if "MEM" in args.only:
        results["mem"] = run_mem(args, with_torch, log)
    results["load_end"] = [round(v, 2) for v in os.getloadavg()]

    text = report(results)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
        log(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
