"""MNIST as an anomaly benchmark (An & Cho 2015): each digit in turn is the anomaly class.

    python -m minivae.experiments mnist-anomaly [--quick] [--seeds 0 1] [--data-dir DIR]

Protocol: for held-out digit d, the training set is ``n_train`` random MNIST *training* images
of the other nine digits (the normal classes); the test set is the first ``n_test`` MNIST *test*
images, label 1 where the digit is d (about 10 % anomalies).  Scores, higher = more anomalous:

* VAE reconstruction probability (An & Cho 2015): ``-(1/L) sum_l log p(x | z_l)``,
  z_l ~ q(z | x), Bernoulli decoder, L samples;
* VAE reconstruction error: ``mean_d (x - E[x | z = mu])^2``;
* AE reconstruction error: the same with a deterministic autoencoder of the same widths;
* PCA reconstruction error (the baseline): components explaining 90 % of the training variance.

Reported: ROC-AUC per held-out digit (mean ± std over seeds) and the average; PR-AUC in
results.json.  Same networks for every digit: 784-H-L (ReLU), Adam, batch 128, float32.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from minivae.experiments._anomaly import (
    aucs,
    cell,
    reconstruction_error,
    reconstruction_probability,
)
from minivae.experiments._cli import (
    blas_threads_note,
    experiment_parser,
    parse_run,
    run_record,
    say,
    write_results,
)

METHODS = ("VAE recon. probability", "VAE recon. error", "AE recon. error",
           "PCA recon. error (baseline)")


@dataclass(frozen=True)
class Setting:
    n_train: int = 6000
    n_test: int = 5000
    epochs: int = 10
    hidden: int = 400
    latent: int = 20
    n_samples: int = 10
    lr: float = 1e-3
    batch_size: int = 128
    digits: tuple[int, ...] = tuple(range(10))
    n_seeds: int = 2


FULL = Setting()
QUICK = Setting(n_train=2000, n_test=1000, epochs=3, hidden=200, latent=10, n_samples=5)
TINY = Setting(n_train=150, n_test=100, epochs=1, hidden=16, latent=2, n_samples=2,
               digits=(0, 1), n_seeds=1)


def _parser() -> argparse.ArgumentParser:
    p = experiment_parser("mnist-anomaly", __doc__.split("\n")[0],
                          "2000 training / 1000 test images, 3 epochs")
    p.add_argument("--data-dir", default=None, help="folder of the four MNIST IDX files "
                   "(default: MINIVAE_DATA_DIR or the loader's cache)")
    p.add_argument("--no-verify", action="store_true", help="skip the files' MD5 checks")
    return p


def run_digit(d: int, seed: int, data: dict[str, np.ndarray], s: Setting) -> dict[str, Any]:
    """Train on the other nine digits, score the test images; AUCs per method."""
    from minivae.baselines import PCAScorer
    from minivae.models import VAE, Autoencoder

    rng = np.random.default_rng([seed, d])
    normal = np.flatnonzero(data["y_train"] != d)
    X = data["X_train"][rng.choice(normal, min(s.n_train, normal.size), replace=False)]
    Xt, yt = data["X_test"], (data["y_test"] == d).astype(np.int64)
    fit = {"epochs": s.epochs, "batch_size": s.batch_size, "lr": s.lr, "verbose": 0,
           "diagnostics": False, "rng": seed}
    t0 = time.perf_counter()
    vae = VAE(784, [s.hidden], s.latent, rng=seed, dtype=np.float32)
    vae.fit(X, **fit)
    ae = Autoencoder(784, [s.hidden], s.latent, rng=seed, dtype=np.float32)
    ae.fit(X, **fit)
    pca = PCAScorer(explained=0.9).fit(X)
    scores = {
        METHODS[0]: reconstruction_probability(vae, Xt, s.n_samples, rng),
        METHODS[1]: reconstruction_error(vae, Xt),
        METHODS[2]: reconstruction_error(ae, Xt),
        METHODS[3]: pca.score(Xt),
    }
    return {"digit": d, "seed": seed, "seconds": time.perf_counter() - t0,
            "pca_components": pca.n_components_,
            "metrics": {m: aucs(yt, v) for m, v in scores.items()}}


def format_table(runs: list[dict[str, Any]], metric: str = "roc_auc") -> str:
    """Markdown table: one row per held-out digit and the mean, one column per method."""
    digits = sorted({r["digit"] for r in runs})
    short = [m.replace(" (baseline)", "") for m in METHODS]
    lines = ["| anomaly digit | " + " | ".join(short) + " |",
             "|---|" + "---|" * len(METHODS)]
    for d in digits:
        rs = [r for r in runs if r["digit"] == d]
        lines.append(f"| {d} | " + " | ".join(cell([r["metrics"][m][metric] for r in rs])
                                               for m in METHODS) + " |")
    seeds = sorted({r["seed"] for r in runs})
    means = {m: [np.mean([r["metrics"][m][metric] for r in runs if r["seed"] == sd])
                 for sd in seeds] for m in METHODS}
    lines.append("| **mean** | " + " | ".join(f"**{cell(means[m])}**" for m in METHODS) + " |")
    return "\n".join(lines)


def _figure(runs: list[dict[str, Any]], out: Path) -> str:
    from minivae import plots

    plt = plots.plt
    digits = sorted({r["digit"] for r in runs})
    fig, ax = plt.subplots(figsize=(8, 3.2))
    width = 0.8 / len(METHODS)
    for i, m in enumerate(METHODS):
        vals = [np.mean([r["metrics"][m]["roc_auc"] for r in runs if r["digit"] == d])
                for d in digits]
        ax.bar(np.arange(len(digits)) + i * width, vals, width, label=m)
    ax.axhline(0.5, color="grey", lw=0.8, ls=":")
    ax.set_xticks(np.arange(len(digits)) + 0.4 - width / 2, [str(d) for d in digits])
    ax.set_xlabel("anomaly digit (the other nine are normal)")
    ax.set_ylabel("ROC-AUC")
    ax.set_ylim(0.0, 1.0)
    ax.legend(fontsize=7, ncol=2, loc="lower right")
    ax.set_title("MNIST one-vs-rest anomaly detection")
    path = out / "mnist_anomaly_auc.png"
    plots.close(plots.finish(fig, path))
    return str(path)


def main(argv: list[str] | None = None) -> int:
    from minivae.data.mnist import load_mnist

    args, mode, s, seeds = parse_run(_parser(), argv, {"tiny": TINY, "quick": QUICK,
                                                       "full": FULL})
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    say(f"mnist-anomaly ({mode}): seeds {list(seeds)}, digits {list(s.digits)}, "
        f"{s.n_train} training / {s.n_test} test images, {s.epochs} epochs; "
        f"{blas_threads_note()}")
    t_start = time.perf_counter()
    verify = not args.no_verify
    X_tr, y_tr = load_mnist(args.data_dir, split="train", verify=verify, dtype=np.float32)
    X_te, y_te = load_mnist(args.data_dir, split="test", verify=verify, dtype=np.float32,
                            limit=min(s.n_test, 10000))
    data = {"X_train": X_tr, "y_train": y_tr, "X_test": X_te, "y_test": y_te}
    runs = []
    for d in s.digits:
        for seed in seeds:
            r = run_digit(d, seed, data, s)
            runs.append(r)
            say(f"digit {d} seed {seed}: " + ", ".join(
                f"{m.split(' (')[0]} {r['metrics'][m]['roc_auc']:.3f}" for m in METHODS)
                + f" ({r['seconds']:.0f} s)")
    say("\nROC-AUC per anomaly digit (mean ± std over seeds):")
    say(format_table(runs))
    say("\nPR-AUC (about 10 % of the test images are anomalies):")
    say(format_table(runs, "pr_auc"))
    results = run_record(mode, seeds, s, argv)
    results["runs"] = runs
    figures = None if args.no_figures else [_figure(runs, out)]
    write_results(results, out, t_start, figures)
    return 0
