"""``python -m minivae.experiments latent-clustering``: unsupervised clustering of MNIST with
mixture-prior VAEs (VaDE, Jiang et al. 2017; GMVAE, after Dilokthanakul et al. 2016) against
k-means.

Every model is trained on the first ``n_train`` training images without labels; the table is
the clustering accuracy on the first ``n_test`` *test* images (best one-to-one map of the 10
clusters to the 10 digits, :func:`minivae.information.clustering.clustering_accuracy`), mean
+- std over the seeds, with the seconds of training (k-means: of fitting):

* **k-means on pixels**: k-means++ then Lloyd on the 784 training pixels (best of 2 starts),
  test images assigned to the nearest center;
* **k-means on VAE codes**: a plain VAE (784-H-L, prior N(0, I)) trained for as many epochs as
  VaDE's pre-training and training together; k-means on the posterior means;
* **k-means on AE codes**: the autoencoder of VaDE's pre-training, k-means on its codes;
* **GMM on AE codes** (VaDE's starting point): the diagonal Gaussian mixture that initialises
  VaDE's prior, fitted by EM on the autoencoder's training codes;
* **GMVAE** (categorical q(c|x) network, uniform p(c); see :mod:`minivae.models.gmvae`):
  started from the same pre-training (encoder, decoder and prior copied), trained ``epochs``;
* **VaDE**: pre-training (autoencoder ``ae_epochs``, then the GMM), then ``epochs`` of the
  VaDE objective; cluster = argmax_c p(c | z = mu(x)).

Architecture: MLP encoder 784-H-2L (ReLU), decoder L-H-784 (mirrored, Bernoulli pixels),
L = 10, C = 10; the paper's is H = 500-500-2000 with 300 pre-training epochs on all 70000
images; the sizes here fit a shared 2-core machine (:data:`SIZES`).  Adam, batch 100.

Sizes: full (no flag) 40000 training / 10000 test images, H = 256-256, 10 pre-training and 10
training epochs, 2 seeds; ``--quick`` 2000 / 1000 images, H = 128, 2 + 2 epochs.  Options:
``--seed S`` / ``--seeds A B``, ``--out DIR`` (default ``minivae_output/latent-clustering``),
``--data-dir`` (default ``$MINIVAE_DATA_DIR``; never downloaded here), ``--no-verify``,
``--no-figures``; ``--combine A/results.json B/results.json`` merges runs of one setting (one
process per seed) into one table.  Figure ``latent_clustering_samples.png``: for VaDE and
GMVAE, one row per mixture component of decoded samples z ~ p(z | c) (first seed).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from minivae.experiments._cli import (
    add_mnist_options,
    blas_threads_note,
    experiment_parser,
    load_mnist_split,
    parse_run,
    resolve_seeds,
    run_and_write,
    say,
    size_mode,
    write_results,
)

__all__ = ["COLUMNS", "ROWS", "SIZES", "Setting", "combine", "main", "run"]


@dataclass(frozen=True)
class Setting:
    """Sizes of a run: images, hidden widths, latent size, clusters, epochs of pre-training
    and of training, batch, learning rate, seeds, k-means starts."""

    n_train: int
    n_test: int
    hidden: tuple[int, ...]
    latent: int
    n_clusters: int
    ae_epochs: int
    epochs: int
    batch_size: int
    lr: float
    n_seeds: int
    kmeans_starts: int


SIZES: dict[str, Setting] = {
    "full": Setting(40000, 10000, (256, 256), 10, 10, 10, 10, 100, 1e-3, 2, 2),
    "quick": Setting(2000, 1000, (128,), 10, 10, 2, 2, 100, 1e-3, 2, 2),
    "tiny": Setting(60, 20, (16,), 2, 10, 1, 1, 20, 1e-3, 1, 1),
}

ROWS = ("k-means on pixels", "k-means on VAE codes", "k-means on AE codes", "GMM on AE codes",
        "GMVAE", "VaDE")
COLUMNS = (("accuracy", "test clustering accuracy"), ("seconds", "seconds"))


def _kmeans_row(X: np.ndarray, X_te: np.ndarray, y_te: np.ndarray, s: Setting, seed: int,
                extra_seconds: float = 0.0) -> dict[str, float]:
    from minivae.information.clustering import clustering_accuracy, kmeans

    t0 = time.perf_counter()
    fit = kmeans(X.astype(np.float64), s.n_clusters, rng=seed, n_init=s.kmeans_starts)
    seconds = time.perf_counter() - t0 + extra_seconds
    d = (np.sum(X_te.astype(np.float64) ** 2, axis=1)[:, None] - 2.0 * X_te @ fit.centers.T
         + np.sum(fit.centers ** 2, axis=1)[None])
    return {"accuracy": clustering_accuracy(y_te, np.argmin(d, axis=1)), "seconds": seconds}


def _fit(model: Any, X: np.ndarray, epochs: int, s: Setting, seed: int) -> float:
    t0 = time.perf_counter()
    model.fit(X, epochs=epochs, batch_size=s.batch_size, lr=s.lr, rng=seed, verbose=0,
              diagnostics=False)
    return time.perf_counter() - t0


def _copy_matching(src: Any, dst: Any) -> None:
    """Copy every parameter of ``src`` into the parameter of ``dst`` with the same name."""
    theirs = {name: p for name, p, _ in src.parameters()}
    for name, p, _ in dst.parameters():
        if name in theirs:
            p[...] = theirs[name]


def _seed_rows(X, X_te, y_te, s: Setting, seed: int) -> tuple[dict[str, dict], dict[str, Any]]:
    """Every row of the table for one seed; the two mixture models kept for the figure."""
    from minivae.information.clustering import clustering_accuracy
    from minivae.models import VAE
    from minivae.models.gmvae import GMVAE
    from minivae.models.vade import VaDE, pretrain

    H, L, C, f32 = list(s.hidden), s.latent, s.n_clusters, np.float32
    rows = {"k-means on pixels": _kmeans_row(X, X_te, y_te, s, seed)}
    vae = VAE(784, H, L, rng=seed, dtype=f32)
    sec = _fit(vae, X, s.ae_epochs + s.epochs, s, seed)
    rows["k-means on VAE codes"] = _kmeans_row(vae.encode(X)[0], vae.encode(X_te)[0], y_te, s,
                                               seed, sec)
    vade = VaDE(784, H, L, C, rng=seed, dtype=f32)
    t0 = time.perf_counter()
    ae, _ = pretrain(vade, X, epochs=s.ae_epochs, batch_size=s.batch_size, lr=s.lr, rng=seed)
    pre = time.perf_counter() - t0
    rows["k-means on AE codes"] = _kmeans_row(ae.encode(X), ae.encode(X_te), y_te, s, seed, pre)
    rows["GMM on AE codes"] = {"accuracy": clustering_accuracy(y_te, vade.predict(X_te)),
                               "seconds": pre}
    gmvae = GMVAE(784, H, L, C, rng=seed, dtype=f32)
    _copy_matching(vade, gmvae)  # the same pre-training (pi stays uniform: not learned)
    rows["GMVAE"] = {"seconds": pre + _fit(gmvae, X, s.epochs, s, seed),
                     "accuracy": clustering_accuracy(y_te, gmvae.predict(X_te))}
    rows["VaDE"] = {"seconds": pre + _fit(vade, X, s.epochs, s, seed),
                    "accuracy": clustering_accuracy(y_te, vade.predict(X_te))}
    for label in ROWS:
        say(f"  [{label}, seed {seed}] accuracy {rows[label]['accuracy']:.4f}, "
            f"{rows[label]['seconds']:.0f} s")
    return rows, {"VaDE": vade, "GMVAE": gmvae}


def _std(v: np.ndarray) -> float:
    return float(v.std(ddof=1)) if v.size > 1 else 0.0


def format_table(per_seed: dict[str, list[dict[str, float]]]) -> str:
    """Markdown table: accuracy (%) and seconds, mean ± std over the seeds."""
    lines = ["| method | test clustering accuracy (%) | seconds |", "|---|---|---|"]
    for label in ROWS:
        acc = 100 * np.array([r["accuracy"] for r in per_seed[label]])
        sec = np.array([r["seconds"] for r in per_seed[label]])
        lines.append(f"| {label} | {acc.mean():.1f} ± {_std(acc):.1f} | "
                     f"{sec.mean():.0f} ± {_std(sec):.0f} |")
    return "\n".join(lines)


def plot_cluster_samples(models: dict[str, Any], seed: int, path: Path, n: int = 10):
    """For each model, a grid: row c = n decoded samples z ~ p(z | c)."""
    from minivae import plots

    plt = plots.plt
    fig, axes = plt.subplots(1, len(models), figsize=(4.2 * len(models), 4.6), squeeze=False)
    for ax, (label, model) in zip(axes[0], models.items()):
        rows = [np.asarray(model.sample(n, np.random.default_rng([seed, c]), cluster=c))
                for c in range(model.n_clusters)]
        canvas = np.concatenate([np.concatenate([x.reshape(28, 28) for x in r], axis=1)
                                 for r in rows], axis=0)
        ax.imshow(canvas, cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(f"{label}: one row per component c")
        ax.set_xticks([])
        ax.set_yticks(14 + 28 * np.arange(model.n_clusters))
        ax.set_yticklabels(range(model.n_clusters))
    return plots.finish(fig, path, dpi=90)


def _parser() -> argparse.ArgumentParser:
    p = experiment_parser("latent-clustering", "Unsupervised clustering accuracy on MNIST: "
                          "VaDE and GMVAE against k-means on pixels, VAE and AE codes.",
                          "2000 images, 2 + 2 epochs, H = 128 (about 35 s; a smoke test)")
    add_mnist_options(p)
    p.add_argument("--combine", type=Path, nargs="+", default=None, metavar="RESULTS_JSON",
                   help="train nothing: merge the rows of these results.json files (e.g. one "
                        "process per seed) into one table, written to --out")
    return p


def combine(paths: list[Path], out: Path) -> dict[str, Any]:
    """Merge the per-seed rows of several runs' results.json into one table (results.json in
    ``out``); the runs must have the same setting."""
    import json

    runs = [json.loads(Path(p).read_text()) for p in paths]
    if any(r["setting"] != runs[0]["setting"] for r in runs):
        raise ValueError("the runs to combine have different settings")
    rows = {label: [row for r in runs for row in r["rows"][label]] for label in ROWS}
    seeds = [seed for r in runs for seed in r["seeds"]]
    table = format_table(rows)
    say(table)
    results = {"mode": runs[0]["mode"], "seeds": seeds, "setting": runs[0]["setting"],
               "combined_from": [str(p) for p in paths], "rows": rows, "table": table,
               "run_seconds": [r["seconds"] for r in runs]}
    out.mkdir(parents=True, exist_ok=True)
    write_results(results, out, time.perf_counter())
    return results


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Train and score every row for every seed (sizes and seeds from the parsed ``args`` of
    this experiment's parser or of the ``latent`` command), draw the figure; returns "tables"
    ({"clustering accuracy": markdown}), "figures" (paths), "rows", "table", "mode", "seeds",
    "setting".  Prints no table (:func:`main` and the ``latent`` command do)."""
    mode = size_mode(args)
    s = SIZES[mode]
    seeds = resolve_seeds(_parser(), args, s.n_seeds)
    args.out.mkdir(parents=True, exist_ok=True)
    say(f"latent_clustering ({mode}): {s.n_train} train / {s.n_test} test images, MLP "
        f"784-{'-'.join(map(str, s.hidden))}-{s.latent}, C = {s.n_clusters}, "
        f"{s.ae_epochs} pre-training + {s.epochs} epochs, batch {s.batch_size}; seeds "
        f"{list(seeds)}; {blas_threads_note()}")
    X, _ = load_mnist_split(args, "train", s.n_train)
    X_te, y_te = load_mnist_split(args, "test", s.n_test)
    per_seed: dict[str, list[dict[str, float]]] = {label: [] for label in ROWS}
    kept: dict[str, Any] = {}
    for seed in seeds:
        say(f"seed {seed}")
        rows, models = _seed_rows(X, X_te, y_te, s, seed)
        for label in ROWS:
            per_seed[label].append(rows[label])
        kept = kept or models
    table = format_table(per_seed)
    figures: list[str] = []
    if not args.no_figures:
        from minivae.plots import close

        figures = [str(args.out / "latent_clustering_samples.png")]
        close(plot_cluster_samples(kept, seeds[0], Path(figures[0])))
    return {"tables": {"clustering accuracy": table}, "figures": figures, "rows": per_seed,
            "table": table, "mode": mode, "seeds": list(seeds), "setting": asdict(s)}


def main(argv: list[str] | None = None) -> int:
    """Run the comparison, print the table, write results.json and the figure; returns 0."""
    parser = _parser()
    args = parse_run(parser, argv, SIZES)[0]
    if args.combine:
        combine(args.combine, args.out)
        return 0
    return run_and_write(parser, argv, SIZES, run)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
