"""Image VAEs on MNIST: the reference experiments and their figures.

Run one configuration with::

    python -m minivae.experiments mnist --config NAME [--epochs E] [--seed S] [--out DIR]
        [--quick] [--data-dir D] [--no-verify] [--train-size N] [--test-size N] [--no-figures]

Configurations (``--quick``: 5000 train / 1000 test images, 2 epochs, well under a minute):

* ``seed``: encoder 784-256-128-2 (ReLU), mirrored decoder, Bernoulli output, Adam, batch 64, 10
  epochs.  Figures: the test set in the 2-D latent space coloured by digit, the decoded manifold
  over an inverse-normal spaced grid
  (:func:`~minivae.objectives.distributions.norm_ppf`), the image decoded at z = (-3, 1).
* ``pytorch-example``: the VAE of PyTorch's ``examples/vae``: 784-400-20 (ReLU), Bernoulli
  output on grey-level targets, Adam lr 1e-3, batch 128, 10 epochs.  PyTorch sums the loss over
  the batch; minivae averages it.  Adam is invariant to that scale except through eps, so we use
  eps = 1e-8 / 128, which makes the two updates identical (see :func:`adam_eps_for_mean_loss`;
  only the last, smaller batch of an epoch differs slightly), and the weights start from
  PyTorch's default ``nn.Linear`` initialisation.
* ``iwae``: VAE vs IWAE (Burda et al., 2016), 784-200-200-50 (tanh), on stochastically
  binarized MNIST: ELBO <= L_5 <= L_50 <= L_k ~ log p(x) (k = 5000, or 1000 with --quick) on a
  test subset.
* ``beta``: beta in {0.5, 1, 4}, 784-256-32: reconstruction vs KL, active units, latent
  traversals.
* ``cvae``: a VAE conditioned on the digit label; a 10 x n grid of generated digits (one row per
  class, one latent draw per column).

Each run prints the per-epoch train and test loss (nats per image; the test loss is the
training objective on the test set, one posterior sample per image) and the seconds per epoch,
and writes its figures and a ``results.json`` to ``--out`` (default
``minivae_output/mnist/<config>``).  Images are float32 unless ``--dtype float64``.

Threads: the networks are plain NumPy matmuls.  ``fit`` keeps BLAS to one thread while it
trains (see :mod:`minivae.fast.blas`); for the evaluation outside ``fit`` on a machine shared
with other jobs, set ``OPENBLAS_NUM_THREADS=1`` (or ``OMP_NUM_THREADS=1``) before starting
Python: oversubscribed BLAS threads were ~5x slower than one thread in our measurements.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from minivae._validation import check_rng
from minivae.data.mnist import load_mnist
from minivae.experiments._cli import blas_threads_note, write_results
from minivae.objectives.distributions import norm_ppf

__all__ = [
    "CONFIGS",
    "adam_eps_for_mean_loss",
    "main",
    "manifold_grid",
    "torch_default_init",
]

def manifold_grid(n: int, low: float = 0.05, high: float = 0.95) -> np.ndarray:
    """``n`` latent coordinates spaced by equal prior probability: norm_ppf(linspace(low, high)).

    Equal steps in probability put more grid points where the N(0, 1) prior has more mass, so
    every tile of the decoded manifold covers the same share of the prior.  Returns (n,)
    increasing.
    """
    if not 0.0 < low < high < 1.0:
        raise ValueError(f"need 0 < low < high < 1, got low={low}, high={high}")
    return norm_ppf(np.linspace(low, high, n))


# ----------------------------------------------------------------------------------------------
# Matching PyTorch's example
# ----------------------------------------------------------------------------------------------


def adam_eps_for_mean_loss(eps_sum: float, batch_size: int) -> float:
    """The Adam eps that makes a mean-over-batch loss train exactly like a summed loss.

    With g_sum = B * g_mean, Adam's moments scale as m_sum = B m_mean and sqrt(v_sum) =
    B sqrt(v_mean), so the step m_sum / (sqrt(v_sum) + eps) equals m_mean / (sqrt(v_mean) +
    eps / B): the learning rate carries over unchanged and only eps is divided by B.
    """
    return float(eps_sum) / int(batch_size)


def torch_default_init(model: Any, rng: np.random.Generator | int) -> None:
    """Re-draw every Dense layer of ``model`` like PyTorch's default ``nn.Linear`` init.

    PyTorch uses kaiming_uniform(a=sqrt(5)) for W and U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for b;
    both come out as U(-1/sqrt(fan_in), 1/sqrt(fan_in)).  Modifies the parameters in place.
    """
    from minivae.nn.dense import Dense

    rng = check_rng(rng)
    for net in (model.encoder, model.decoder):
        for layer in net.layers:
            if isinstance(layer, Dense):
                bound = 1.0 / math.sqrt(layer.in_features)
                for name in ("W", "b"):
                    p = layer.params[name]
                    p[...] = rng.uniform(-bound, bound, size=p.shape)


# ----------------------------------------------------------------------------------------------
# Settings
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    """Training set-up of one configuration: epochs, batch size and data subset sizes (None =
    the whole split)."""

    epochs: int
    batch_size: int
    n_train: int | None
    n_test: int | None


QUICK_TRAIN, QUICK_TEST, QUICK_EPOCHS = 5000, 1000, 2

_FULL: dict[str, Setting] = {
    "seed": Setting(10, 64, None, None),
    "pytorch-example": Setting(10, 128, None, None),
    "iwae": Setting(10, 100, None, None),
    "beta": Setting(10, 128, None, None),
    "cvae": Setting(10, 128, None, None),
}

BETAS = (0.5, 1.0, 4.0)
BETA_LATENT_DIM = 32  # roomy enough that a large beta switches units off


def _setting(args: argparse.Namespace) -> Setting:
    base = _FULL[args.config]
    if args.quick:
        base = Setting(QUICK_EPOCHS, base.batch_size, QUICK_TRAIN, QUICK_TEST)
    return Setting(
        epochs=base.epochs if args.epochs is None else args.epochs,
        batch_size=base.batch_size,
        n_train=base.n_train if args.train_size is None else args.train_size,
        n_test=base.n_test if args.test_size is None else args.test_size,
    )


# ----------------------------------------------------------------------------------------------
# Shared machinery
# ----------------------------------------------------------------------------------------------


def _load(args: argparse.Namespace, s: Setting, *, binarize: bool = False):
    """(X_train, y_train, X_test, y_test): images (N, 784) in [0, 1] of dtype ``args.dtype``,
    labels (N,).  ``binarize``: one Bernoulli(pixel) draw per pixel, fixed by the seed (static
    stochastic binarization), so the Bernoulli likelihood is a proper discrete likelihood."""
    dtype = np.dtype(args.dtype)
    verify = not args.no_verify
    t0 = time.perf_counter()
    X_tr, y_tr = load_mnist(args.data_dir, split="train", verify=verify, dtype=dtype,
                            limit=s.n_train)
    X_te, y_te = load_mnist(args.data_dir, split="test", verify=verify, dtype=dtype,
                            limit=s.n_test)
    if binarize:
        rng = np.random.default_rng([args.seed, 1])
        X_tr = (rng.random(X_tr.shape, dtype=dtype) < X_tr).astype(dtype)
        X_te = (rng.random(X_te.shape, dtype=dtype) < X_te).astype(dtype)
    print(f"data: {X_tr.shape[0]} train / {X_te.shape[0]} test images "
          f"({'binarized' if binarize else 'grey levels'}, {dtype.name}), "
          f"loaded in {time.perf_counter() - t0:.1f} s", flush=True)
    return X_tr, y_tr, X_te, y_te


class _EpochPrinter:
    """Training callback printing one line per epoch (losses in nats per image).

    Besides the wall-clock seconds of the epoch (training plus the test evaluation) it prints
    the process CPU seconds, which stay meaningful on a machine shared with other jobs (with one
    BLAS thread, CPU time is the time the epoch would take on an idle core).
    """

    def __init__(self, label: str, epochs: int) -> None:
        self.label, self.epochs = label, epochs
        self.cpu_times: list[float] = []
        self._last_cpu = time.process_time()

    def __call__(self, epoch: int, logs: dict[str, Any], model: Any) -> None:
        cpu = time.process_time()
        self.cpu_times.append(cpu - self._last_cpu)
        self._last_cpu = cpu
        line = (f"[{self.label}] epoch {epoch:>{len(str(self.epochs))}}/{self.epochs}  "
                f"train {logs['loss']:8.3f}  test {logs['val_loss']:8.3f} nats/image  "
                f"(test rec {logs['val_reconstruction']:.2f} kl {logs['val_kl']:.2f})")
        if logs.get("active_units") is not None:
            line += f"  active {logs['active_units']}/{len(logs['kl_per_dim'])}"
        print(line + f"  {logs['time']:.1f} s/epoch (CPU {self.cpu_times[-1]:.1f} s)",
              flush=True)


def _train(label: str, model: Any, args: argparse.Namespace, s: Setting, X, X_val, *, y=None,
           y_val=None, optimizer: Any = "adam", lr: float | None = 1e-3):
    """fit() with per-epoch printing; returns the History."""
    from minivae.train import Validation, fit

    print(f"[{label}] {model!r}: {model.num_parameters()} parameters; "
          f"{s.epochs} epochs, batch {s.batch_size}", flush=True)
    printer = _EpochPrinter(label, s.epochs)
    history = fit(model, X, y=y, validation=Validation(X_val, y=y_val), epochs=s.epochs,
                  batch_size=s.batch_size, optimizer=optimizer,
                  lr=lr if isinstance(optimizer, str) else None, rng=args.seed, verbose=0,
                  callbacks=[printer])
    # The History is filled before callbacks run, so the CPU times are added here.
    history.metrics["cpu_time"] = list(printer.cpu_times)
    return history


def _summary(history: Any) -> dict[str, Any]:
    """Final-epoch numbers and timings of a History, JSON-able."""
    times = [float(t) for t in history["time"]]
    out = {
        "final_train_loss": float(history["loss"][-1]),
        "final_test_loss": float(history["val_loss"][-1]),
        "final_test_reconstruction": float(history["val_reconstruction"][-1]),
        "final_test_kl": float(history["val_kl"][-1]),
        "seconds_per_epoch": float(np.mean(times)),
        "cpu_seconds_per_epoch": float(np.mean(history["cpu_time"])),
        "seconds_total": float(np.sum(times)),
        "history": history.to_dict(),
    }
    if "active_units" in history and history["active_units"][-1] is not None:
        out["active_units"] = int(history["active_units"][-1])
    return out


def _pyplot():
    """matplotlib.pyplot, imported after minivae.plots has chosen a headless-safe backend."""
    from minivae import plots

    return plots.plt


def _finish(fig: Any, path: Path) -> Any:
    """Lay out and write one of this module's figures (:func:`minivae.plots.finish`)."""
    from minivae import plots

    return plots.finish(fig, path, dpi=100)


def _compact_png(path: Path) -> None:
    """Re-encode a PNG so figures stay small in a repository: 8-bit grey, losslessly, when every
    pixel is grey (R = G = B: digit images and black text), otherwise an adaptive 256-colour
    palette (visually unchanged).  Either is 2-4x smaller than matplotlib's RGBA output."""
    try:
        from PIL import Image  # Pillow is a required dependency of matplotlib
    except ImportError:  # pragma: no cover - keep the original file
        return
    with Image.open(path) as im:
        rgb = im.convert("RGB")
    pixels = np.asarray(rgb)
    if np.array_equal(pixels[..., 0], pixels[..., 1]) and np.array_equal(pixels[..., 1],
                                                                          pixels[..., 2]):
        small = rgb.convert("L")
    else:
        small = rgb.quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)


class _Figures:
    """Draws figures into one directory (nothing with --no-figures) and lists what it wrote."""

    def __init__(self, out: Path, enabled: bool) -> None:
        self.out, self.enabled = out, enabled
        self.written: list[str] = []

    def draw(self, name: str, make: Callable[[Path], Any]) -> None:
        """``make(path)`` draws and saves one figure (returning it); it is closed afterwards."""
        if not self.enabled:
            return
        from minivae import plots

        path = self.out / name
        plots.close(make(path))
        _compact_png(path)
        self.written.append(str(path))

    def history(self, name: str, histories: dict[str, Any], title: str) -> None:
        """Train/test loss, reconstruction and KL per epoch of one or more runs."""
        from minivae import plots

        keys = ("loss", "val_loss", "reconstruction", "val_reconstruction", "kl", "val_kl")
        curves = {}
        for label, h in histories.items():
            for k in keys:
                if k in h:
                    curves[k if len(histories) == 1 else f"{k} ({label})"] = h[k]
        self.draw(name, lambda path: plots.plot_history(curves, path, title=title))


# ----------------------------------------------------------------------------------------------
# Configurations
# ----------------------------------------------------------------------------------------------


def _run_seed(args: argparse.Namespace, s: Setting, figs: _Figures) -> dict[str, Any]:
    """784-256-128-2 VAE: latent scatter, inverse-normal manifold, decoded z = (-3, 1)."""
    from minivae import plots
    from minivae.models import VAE

    X, _, X_te, y_te = _load(args, s)
    model = VAE(784, [256, 128], 2, likelihood="bernoulli", activation="relu", rng=args.seed,
                dtype=args.dtype)
    history = _train("seed", model, args, s, X, X_te)
    mu, _ = model.encode(X_te)
    figs.draw("latent_scatter.png", lambda path: plots.plot_latent_scatter(
        mu, y_te, path, title="test set: posterior means", label_name="digit"))
    grid = manifold_grid(20)
    # Rows: z[1] decreasing down the figure; columns: z[0] increasing (plot_manifold's layout).
    z = np.array([[z0, z1] for z1 in grid[::-1] for z0 in grid])
    figs.draw("manifold.png", lambda path: plots.plot_manifold(model.decode(z), grid, path))
    point = np.array([[-3.0, 1.0]])
    figs.draw("decoded_-3_1.png", lambda path: plots.plot_image_grid(
        model.decode(point), path, title="z = (-3, 1)"))
    figs.draw("reconstructions.png", lambda path: plots.plot_image_reconstructions(
        X_te[:10], model.reconstruct(X_te[:10]), path))
    figs.history("history.png", {"seed": history}, "seed: 784-256-128-2 VAE")
    # How well the digits separate in 2-D: mean distance between class centres over the mean
    # within-class standard deviation (scale-free; larger = better separated clusters).
    classes = np.unique(y_te)
    centers = np.stack([mu[y_te == c].mean(axis=0) for c in classes])
    spread = float(np.mean([mu[y_te == c].std(axis=0).mean() for c in classes]))
    d = np.sqrt(((centers[:, None] - centers[None]) ** 2).sum(-1))
    sep = float(d[np.triu_indices(len(classes), 1)].mean() / spread) if len(classes) > 1 else 0.0
    print(f"latent: mean distance between digit centres / mean within-digit std = {sep:.2f}")
    return {"model": _summary(history), "cluster_separation": sep,
            "decoded_-3_1_mean_intensity": float(model.decode(point).mean())}


def _run_pytorch_example(args: argparse.Namespace, s: Setting, figs: _Figures) -> dict[str, Any]:
    """PyTorch examples/vae: 784-400-20, grey-level BCE, Adam lr 1e-3 on the summed loss."""
    from minivae import plots
    from minivae.models import VAE
    from minivae.train.optim import Adam

    X, _, X_te, _ = _load(args, s)
    model = VAE(784, [400], 20, likelihood="bernoulli", activation="relu", rng=args.seed,
                dtype=args.dtype)
    torch_default_init(model, args.seed)
    eps = adam_eps_for_mean_loss(1e-8, s.batch_size)
    opt = Adam(model, lr=1e-3, eps=eps)
    print(f"Adam lr 1e-3, eps 1e-8 / {s.batch_size} = {eps:.3g} (PyTorch's summed-loss "
          "update on our mean loss); PyTorch default Linear init")
    history = _train("pytorch-example", model, args, s, X, X_te, optimizer=opt)
    samples = model.sample(64, np.random.default_rng([args.seed, 2]))
    figs.draw("samples.png", lambda path: plots.plot_image_grid(
        samples, path, ncols=8, title="samples (pixel means)"))
    figs.draw("reconstructions.png", lambda path: plots.plot_image_reconstructions(
        X_te[:8], model.reconstruct(X_te[:8]), path, n=8))
    figs.history("history.png", {"pytorch-example": history}, "pytorch-example: 784-400-20 VAE")
    summary = _summary(history)
    print(f"test loss after {s.epochs} epochs: {summary['final_test_loss']:.2f} nats/image "
          f"(PyTorch's example: ~105.6 after 10 epochs; target <= 106.5)")
    return {"model": summary, "adam_eps": eps}


def _bounds(model: Any, X: np.ndarray, k_ll: int, seed: int, chunk: int = 100) -> dict[str, Any]:
    """Mean test ELBO, L_5, L_50 and L_{k_ll} (nats per image) on X, in chunks of rows, with
    standard errors over the images."""
    rng = np.random.default_rng(seed)
    ks = [("elbo", None), ("iwae_5", 5), ("iwae_50", 50), (f"ll_{k_ll}", k_ll)]
    values: dict[str, list[np.ndarray]] = {name: [] for name, _ in ks}
    t0 = time.perf_counter()
    for start in range(0, X.shape[0], chunk):
        xb = X[start:start + chunk]
        for name, k in ks:
            if k is None:  # E_q[log p(x|z)] from 10 draws (less noise than 1), KL exact
                values[name].append(model.elbo(xb, rng, n_samples=10))
            else:
                values[name].append(model.iwae_bound(xb, k, rng))
    result: dict[str, Any] = {}
    for name, _ in ks:
        v = np.concatenate(values[name]).astype(np.float64)
        result[name] = float(v.mean())
        result[name + "_sem"] = float(v.std(ddof=1) / math.sqrt(v.size)) if v.size > 1 else 0.0
    result["eval_seconds"] = time.perf_counter() - t0
    return result


def _run_iwae(args: argparse.Namespace, s: Setting, figs: _Figures) -> dict[str, Any]:
    """VAE vs IWAE on binarized MNIST, 784-200-200-50 (tanh), and the bound ordering."""
    from minivae.models import VAE

    X, _, X_te, _ = _load(args, s, binarize=True)
    k_ll = args.ll_k if args.ll_k is not None else (1000 if args.quick else 5000)
    n_ll = min(args.ll_size if args.ll_size is not None else (100 if args.quick else 1000),
               X_te.shape[0])
    train_ks = args.iwae_k if args.iwae_k is not None else ([5] if args.quick else [5, 50])
    runs = [("VAE", "elbo", 1)] + [(f"IWAE k={k}", "iwae", k) for k in train_ks]
    results: dict[str, Any] = {"ll_k": k_ll, "ll_test_images": n_ll, "models": {}}
    histories = {}
    for label, objective, k in runs:
        model = VAE(784, [200, 200], 50, likelihood="bernoulli", activation="tanh",
                    objective=objective, k=k, rng=args.seed, dtype=args.dtype)
        histories[label] = _train(label, model, args, s, X, X_te)
        print(f"[{label}] evaluating bounds on {n_ll} test images (k up to {k_ll}) ...",
              flush=True)
        bounds = _bounds(model, X_te[:n_ll], k_ll, seed=args.seed + 7)
        print(f"[{label}] bounds evaluated in {bounds['eval_seconds']:.1f} s", flush=True)
        results["models"][label] = {**_summary(histories[label]), "bounds": bounds}
    names = ["elbo", "iwae_5", "iwae_50", f"ll_{k_ll}"]
    labels = ["ELBO", "L_5", "L_50", f"L_{k_ll}"]
    print(f"\ntest bounds in nats per image (mean over {n_ll} test images +- standard error; "
          "the training loss is -ELBO for the VAE, -L_k for IWAE k)")
    print(f"{'model':<12}" + "".join(f"{n:>17}" for n in labels) + "  ordering")
    for label, r in results["models"].items():
        b = r["bounds"]
        vals = [b[n] for n in names]
        # Each column is a Monte Carlo estimate; only their expectations are ordered exactly.
        ok = all(a <= c for a, c in zip(vals[:-1], vals[1:]))
        b["ordered"] = ok
        print(f"{label:<12}" + "".join(f"{b[n]:>10.2f} +-{b[n + '_sem']:5.2f}" for n in names)
              + f"  {'ELBO <= L_5 <= L_50 <= L_k' if ok else 'NOT ordered'}")
    figs.draw("bounds.png", lambda path: _plot_bounds(results["models"], names, labels, path))
    figs.history("history.png", histories, "VAE vs IWAE (784-200-200-50, binarized)")
    return results


def _plot_bounds(models: dict[str, Any], keys: list[str], labels: list[str], path: Path):
    """One line per model: the test bounds ELBO, L_5, L_50, L_k (higher is tighter)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for name, r in models.items():
        b = r["bounds"]
        ax.errorbar(range(len(keys)), [b[k] for k in keys], yerr=[b[k + "_sem"] for k in keys],
                    marker="o", capsize=3, label=name)
    ax.set_xticks(range(len(keys)), labels)
    ax.set_ylabel("nats per image (higher = tighter)")
    ax.set_title("test bounds on log p(x)")
    ax.legend(fontsize=8)
    return _finish(fig, path)


def _traversal_canvas(model: Any, x: np.ndarray, dims: np.ndarray, values: np.ndarray):
    """Decode mu(x) with one latent coordinate at a time swept over ``values``.

    x: (1, 784); dims: (R,) latent indices; values: (C,).  Returns an (R*28, C*28) canvas: row
    r varies dimension dims[r], column c sets it to values[c], the other coordinates stay mu.
    """
    mu, _ = model.encode(x)
    z = np.repeat(mu, len(dims) * len(values), axis=0)
    for r, d in enumerate(dims):
        z[r * len(values):(r + 1) * len(values), d] = values
    images = model.decode(z).reshape(len(dims), len(values), 28, 28)
    return images.transpose(0, 2, 1, 3).reshape(len(dims) * 28, len(values) * 28)


def _plot_traversals(panels: list[np.ndarray], titles: list[str], values: np.ndarray,
                     path: Path):
    """Traversal canvases side by side, one panel per model."""
    plt = _pyplot()
    rows, cols = panels[0].shape
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.2 * rows / cols + 1.1))
    axes = np.atleast_1d(axes)
    for ax, canvas, title in zip(axes, panels, titles):
        ax.imshow(canvas, cmap="gray", vmin=0, vmax=1)
        ax.set_title(title, fontsize=9)
        ax.set_xticks([28 * i + 13.5 for i in range(len(values))],
                      [f"{v:g}" for v in values], fontsize=6)
        ax.set_yticks([])
        ax.set_xlabel("value of the swept coordinate", fontsize=7)
    axes[0].set_ylabel("latent dims, by KL (high to low)", fontsize=7)
    return _finish(fig, path)


def _plot_rate_distortion(rows: list[dict[str, Any]], path: Path):
    """Reconstruction (distortion) against KL (rate), one point per beta."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.5, 3.4))
    ax.plot([r["test_kl"] for r in rows], [r["test_reconstruction"] for r in rows], "o-")
    for r in rows:
        ax.annotate(f"beta={r['beta']:g}, {r['active_units']} active",
                    (r["test_kl"], r["test_reconstruction"]), fontsize=7,
                    textcoords="offset points", xytext=(4, 4))
    ax.margins(x=0.35, y=0.12)  # room for the labels next to the points
    ax.set_xlabel("KL(q(z|x) || p(z))  [nats]")
    ax.set_ylabel("-E log p(x|z)  [nats]")
    ax.set_title("test reconstruction vs KL")
    return _finish(fig, path)


def _run_beta(args: argparse.Namespace, s: Setting, figs: _Figures) -> dict[str, Any]:
    """beta-VAE sweep on a 784-256-32 VAE: rate vs distortion, active units, traversals."""
    from minivae.models import VAE
    from minivae.train.diagnostics import active_units

    X, _, X_te, _ = _load(args, s)
    values = np.linspace(-3.0, 3.0, 7)
    n_dims = 5
    rows, panels, titles, histories = [], [], [], {}
    for beta in BETAS:
        label = f"beta={beta:g}"
        model = VAE(784, [256], BETA_LATENT_DIM, beta=beta, likelihood="bernoulli",
                    activation="relu", rng=args.seed, dtype=args.dtype)
        histories[label] = history = _train(label, model, args, s, X, X_te)
        mu, _ = model.encode(X_te)
        kl_dims = model.kl_per_dimension(X_te)
        units = active_units(mu) if mu.shape[0] >= 2 else 0
        summary = _summary(history)
        rec, kl = summary["final_test_reconstruction"], summary["final_test_kl"]
        rows.append({"beta": beta, "test_reconstruction": rec, "test_kl": kl,
                     "test_neg_elbo": rec + kl, "active_units": units,
                     # A stricter count: dimensions carrying more than 0.1 nats of KL.
                     "dims_kl_above_0.1": int(np.count_nonzero(kl_dims > 0.1)),
                     "kl_per_dim": [float(v) for v in kl_dims], "training": summary})
        # Traverse the most informative dimensions of the first test image's code.
        dims = np.argsort(kl_dims)[::-1][:n_dims]
        panels.append(_traversal_canvas(model, X_te[:1], dims, values))
        titles.append(f"beta = {beta:g}: {units}/{BETA_LATENT_DIM} active units\n"
                      f"KL {kl:.1f}, rec {rec:.1f} nats")
    print("\nbeta   test rec   test KL   -ELBO   active (var mu > 0.01)   KL > 0.1 nats   "
          "KL per latent dim (sorted)")
    for r in rows:
        kls = " ".join(f"{v:.2f}" for v in sorted(r["kl_per_dim"], reverse=True))
        print(f"{r['beta']:<5g}{r['test_reconstruction']:10.2f}{r['test_kl']:10.2f}"
              f"{r['test_neg_elbo']:8.2f}{r['active_units']:>12}/{BETA_LATENT_DIM}"
              f"{r['dims_kl_above_0.1']:>17}/{BETA_LATENT_DIM}   {kls}")
    figs.draw("traversals.png", lambda path: _plot_traversals(panels, titles, values, path))
    figs.draw("rate_distortion.png", lambda path: _plot_rate_distortion(rows, path))
    figs.history("history.png", histories, f"beta-VAE, 784-256-{BETA_LATENT_DIM}")
    return {"betas": rows}


def _run_cvae(args: argparse.Namespace, s: Setting, figs: _Figures) -> dict[str, Any]:
    """Conditional VAE on the digit label: a (10 classes) x (n draws) grid of generated digits."""
    from minivae import plots
    from minivae.models import CVAE

    X, y, X_te, y_te = _load(args, s)
    model = CVAE(784, 10, [400], 2, likelihood="bernoulli", activation="relu", rng=args.seed,
                 dtype=args.dtype)
    history = _train("cvae", model, args, s, X, X_te, y=y, y_val=y_te)
    n = 10
    # One latent draw per column shared by all ten rows: the label sets the digit, z the style.
    z = np.random.default_rng([args.seed, 3]).standard_normal((n, model.latent_dim))
    images = model.decode(np.tile(z, (10, 1)), np.repeat(np.arange(10), n))
    figs.draw("cvae_grid.png", lambda path: plots.plot_image_grid(
        images, path, ncols=n, title="CVAE: one row per digit, one z per column"))
    figs.history("history.png", {"cvae": history}, "cvae: 784-400-2 conditional VAE")
    return {"model": _summary(history)}


CONFIGS: dict[str, Callable[[argparse.Namespace, Setting, _Figures], dict[str, Any]]] = {
    "seed": _run_seed,
    "pytorch-example": _run_pytorch_example,
    "iwae": _run_iwae,
    "beta": _run_beta,
    "cvae": _run_cvae,
}


# ----------------------------------------------------------------------------------------------
# Command line
# ----------------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m minivae.experiments mnist",
        description="Image VAEs on MNIST (see the module docstring of minivae.experiments.mnist).",
    )
    p.add_argument("--config", required=True, choices=sorted(CONFIGS))
    p.add_argument("--epochs", type=int, default=None, help="override the config's epochs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=None,
                   help="output directory (default minivae_output/mnist/<config>)")
    p.add_argument("--quick", action="store_true",
                   help=f"{QUICK_TRAIN} train / {QUICK_TEST} test images, {QUICK_EPOCHS} epochs")
    p.add_argument("--data-dir", default=None,
                   help="directory with the MNIST IDX files (default $MINIVAE_DATA_DIR, then the "
                        "user cache)")
    p.add_argument("--no-verify", action="store_true",
                   help="skip the MD5/example-count checks (custom or tiny IDX files)")
    p.add_argument("--train-size", type=int, default=None, help="use the first N train images")
    p.add_argument("--test-size", type=int, default=None, help="use the first N test images")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    p.add_argument("--no-figures", action="store_true", help="train and report, draw nothing")
    g = p.add_argument_group("iwae")
    g.add_argument("--iwae-k", type=int, nargs="+", default=None,
                   help="k of the IWAE models to train (default 5 50; 5 with --quick)")
    g.add_argument("--ll-k", type=int, default=None,
                   help="importance samples of the log-likelihood estimate (5000; 1000 quick)")
    g.add_argument("--ll-size", type=int, default=None,
                   help="test images for the bounds (1000; 100 quick)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run one MNIST configuration; returns 0 on success (2 for a usage error)."""
    parser = _parser()
    args = parser.parse_args(argv)
    for name in ("epochs", "train_size", "test_size", "ll_k", "ll_size"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    if args.iwae_k is not None and min(args.iwae_k) < 1:
        parser.error(f"--iwae-k values must be >= 1, got {args.iwae_k}")
    s = _setting(args)
    out = args.out if args.out is not None else Path("minivae_output") / "mnist" / args.config
    out.mkdir(parents=True, exist_ok=True)
    print(f"mnist --config {args.config}: {s.epochs} epochs, batch {s.batch_size}, seed "
          f"{args.seed}{' (quick)' if args.quick else ''}; {blas_threads_note()}", flush=True)
    t0 = time.perf_counter()
    figs = _Figures(out, enabled=not args.no_figures)
    results = CONFIGS[args.config](args, s, figs)
    results = {"config": args.config, "quick": args.quick, "seed": args.seed,
               "setting": asdict(s), "argv": list(sys.argv[1:] if argv is None else argv),
               **results, "figures": figs.written}
    write_results(results, out, t0)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
