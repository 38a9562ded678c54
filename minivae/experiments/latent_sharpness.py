"""``python -m minivae.experiments latent-sharpness``: are the VAE-GAN's digits sharper than the
VAE's?  (Larsen et al. 2016; the review's section 5.1 on the blurriness of VAE samples.)

A plain VAE with Bernoulli pixels decodes to the *mean* image of its likelihood, an average over
the digits its posterior cannot tell apart: soft, grey strokes.  The VAE-GAN
(:class:`~minivae.models.vaegan.VAEGAN`, its recipe in that module's docstring) judges its
reconstructions in a discriminator's feature space and its decoder also tries to fool that
discriminator, which should sharpen them.  The sharpness measure is the mean gradient
magnitude of an image,

    sharpness(x) = mean over (i, j) of sqrt((x[i, j+1] - x[i, j])^2 + (x[i+1, j] - x[i, j])^2)

(forward differences on the 28 x 28 grid), averaged over images: a blurred digit has gentle
edges and strokes of lower peak and scores lower, the test digits themselves are the
reference.  Beside it the mean squared gradient (gradient energy), which also falls when an
edge merely spreads (see :func:`mean_gradient_magnitude`).  It is taken on 1000
prior samples (the decoded probabilities, as the figures show them) and on the reconstructions
of 1000 test digits (decoded at the posterior mean), with the reconstructions' squared error beside
it: a sharp but wrong image is no success.

Models (same sizes): encoder 784-256-16, decoder 16-256-784 (ReLU, Bernoulli); the VAE-GAN's
discriminator 784-1024-128-1 with its first layer as the feature layer, and the module's
defaults (beta 0.05, gamma 20, discriminator lr 1e-4, skipping its step below loss 0.6).
Adam lr 1e-3, batch 64.  Sizes: full (no flag) 10000 training and 1000 test images, 8 epochs,
2 seeds; ``--quick`` 2000 / 500 images, 3 epochs.  Figure ``vaegan_samples.png``: test digits,
then each model's samples and reconstructions.  Options: ``--seed S`` / ``--seeds A B``,
``--out DIR`` (default ``minivae_output/latent-sharpness``), ``--data-dir`` (default
``$MINIVAE_DATA_DIR``; never downloaded here), ``--no-verify``, ``--no-figures``.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from minivae._validation import check_array
from minivae.experiments._cli import (
    add_mnist_options,
    blas_threads_note,
    experiment_parser,
    load_mnist_split,
    resolve_seeds,
    run_and_write,
    say,
    size_mode,
)
from minivae.experiments.latent import format_table, summarise

__all__ = ["SIZES", "Setting", "main", "mean_gradient_magnitude", "run"]


@dataclass(frozen=True)
class Setting:
    """Sizes of a run: images, epochs, batch, the encoder/decoder's hidden width, latent size,
    the discriminator's widths, seeds, and how many samples the sharpness is measured on."""

    n_train: int
    n_test: int
    epochs: int
    batch_size: int
    hidden: int
    latent: int
    disc_hidden: tuple[int, ...]
    n_seeds: int
    n_samples: int


SIZES: dict[str, Setting] = {
    "full": Setting(10000, 1000, 8, 64, 256, 16, (1024, 128), 2, 1000),
    "quick": Setting(2000, 500, 3, 64, 256, 16, (1024, 128), 2, 500),
    "tiny": Setting(60, 10, 1, 20, 16, 2, (32, 8), 1, 10),
}

COLUMNS = (("samples", "samples: mean |grad x|"),
           ("samples_energy", "samples: mean |grad x|²"),
           ("reconstructions", "reconstructions: mean |grad x|"),
           ("reconstructions_energy", "reconstructions: mean |grad x|²"),
           ("squared_error", "reconstruction squared error"),
           ("seconds", "seconds"))


def mean_gradient_magnitude(images: np.ndarray, side: int = 28, *,
                            squared: bool = False) -> float:
    """Mean over images and pixels of the forward-difference gradient's length |grad x|
    (``squared=True``: of its square, the gradient energy).

    images: (N, side * side), grey levels (here in [0, 1]); the last row and column, which
    have no forward neighbour, are left out.  Returns a float >= 0 (0 for a flat image).
    Why both: |grad x| summed across a monotone edge is its height whatever its width (a
    blurred edge 0, 0.5, 1 scores as the sharp 0, 1), so it sees blur only where blurring
    lowers a stroke's peak; the squared gradient also drops when an edge spreads
    (0.5^2 + 0.5^2 < 1).
    """
    if not isinstance(squared, bool):
        raise TypeError(f"squared must be a bool, got {type(squared).__name__}")
    images = check_array(images, "images", shape=(None, side * side))
    if images.shape[0] == 0:
        raise ValueError("images must hold at least one image, got 0 rows")
    x = images.astype(np.float64).reshape(-1, side, side)
    gx = x[:, :-1, 1:] - x[:, :-1, :-1]
    gy = x[:, 1:, :-1] - x[:, :-1, :-1]
    energy = gx ** 2 + gy ** 2
    return float(np.mean(energy if squared else np.sqrt(energy)))


def _sharpness(name: str, images: np.ndarray) -> dict[str, float]:
    return {name: mean_gradient_magnitude(images),
            f"{name}_energy": mean_gradient_magnitude(images, squared=True)}


def _build(kind: str, s: Setting, seed: int):
    from minivae.models import VAE, VAEGAN

    if kind == "vaegan":
        return VAEGAN(784, [s.hidden], s.latent, disc_hidden=s.disc_hidden, rng=seed,
                      dtype=np.float32)
    return VAE(784, [s.hidden], s.latent, rng=seed, dtype=np.float32)


def _run(kind: str, X: np.ndarray, X_te: np.ndarray, s: Setting, seed: int):
    """Train one model; returns (its row, its samples, its reconstructions)."""
    from minivae.train import fit

    model = _build(kind, s, seed)
    t0 = time.perf_counter()
    fit(model, X, epochs=s.epochs, batch_size=s.batch_size, lr=1e-3, rng=seed, verbose=0)
    seconds = time.perf_counter() - t0
    samples = np.asarray(model.sample(s.n_samples, np.random.default_rng([seed, 1])))
    recon = np.asarray(model.reconstruct(X_te))  # decoded at the posterior mean
    row = {**_sharpness("samples", samples), **_sharpness("reconstructions", recon),
           "squared_error": float(np.mean(np.sum((recon - X_te) ** 2, axis=1))),
           "seconds": seconds}
    say(f"  [{kind}, seed {seed}] " + ", ".join(f"{k} {v:.4f}" for k, v in row.items()))
    return row, samples, recon


def plot_samples(rows: dict[str, np.ndarray], path: Path, n: int = 12):
    """One labelled row of n images per entry of ``rows`` (label -> images (M, 784))."""
    from minivae import plots

    plt = plots.plt
    n = min(n, *(len(v) for v in rows.values()))
    canvas = np.concatenate([np.concatenate(list(v[:n].reshape(n, 28, 28)), axis=1)
                             for v in rows.values()], axis=0)
    fig, ax = plt.subplots(figsize=(0.75 * n + 2.5, 0.75 * len(rows) + 0.6))
    ax.imshow(canvas, cmap="gray_r", vmin=0, vmax=1)
    ax.set_yticks(14 + 28 * np.arange(len(rows)))
    ax.set_yticklabels([label.replace(" ", "\n", 1) for label in rows])  # narrow margin
    ax.set_xticks([])
    return plots.finish(fig, path, dpi=90)


def _parser() -> argparse.ArgumentParser:
    p = experiment_parser("latent-sharpness", "VAE-GAN against the plain VAE on MNIST: sample "
                          "grids and the mean gradient magnitude of samples and reconstructions.",
                          "2000 images, 3 epochs")
    add_mnist_options(p)
    return p


def _load(args: argparse.Namespace, s: Setting):
    X, _ = load_mnist_split(args, "train", s.n_train)
    X_te, _ = load_mnist_split(args, "test", s.n_test)
    return X, X_te


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Train the VAE and the VAE-GAN for each seed (sizes and seeds from the parsed ``args`` of
    this experiment's parser, or of the ``latent`` command), draw the grids; returns "tables"
    ({"sharpness": markdown}), "figures" (paths), "rows", "summary", "table", "mode", "seeds",
    "setting"."""
    mode = size_mode(args)
    s = SIZES[mode]
    seeds = resolve_seeds(_parser(), args, s.n_seeds)
    args.out.mkdir(parents=True, exist_ok=True)
    say(f"latent-sharpness ({mode}): {s.n_train} train / {s.n_test} test images, {s.epochs} "
        f"epochs, 784-{s.hidden}-{s.latent}, discriminator 784-"
        f"{'-'.join(map(str, s.disc_hidden))}-1; seeds {list(seeds)}; {blas_threads_note()}")
    X, X_te = _load(args, s)
    # the reference row: the test digits themselves (no training, no reconstruction error)
    data_row = {**_sharpness("samples", X_te), **_sharpness("reconstructions", X_te)}
    rows: dict[str, list[dict[str, Any]]] = {"test digits": [data_row] * len(seeds)}
    grids: dict[str, np.ndarray] = {"test digits": X_te}
    for seed in seeds:
        for kind, label in (("vae", "VAE"), ("vaegan", "VAE-GAN")):
            row, samples, recon = _run(kind, X, X_te, s, seed)
            rows.setdefault(label, []).append(row)
            if seed == seeds[0]:
                grids[f"{label} reconstructions"] = recon
                grids[f"{label} samples"] = samples
    summary = summarise(rows, COLUMNS)
    table = format_table(summary, COLUMNS, {"samples": 4, "reconstructions": 4,
                                            "samples_energy": 4, "reconstructions_energy": 4,
                                            "squared_error": 1, "seconds": 0})
    figures: list[str] = []
    if not args.no_figures:
        from minivae.plots import close

        order = ["test digits", "VAE reconstructions", "VAE-GAN reconstructions",
                 "VAE samples", "VAE-GAN samples"]
        figures = [str(args.out / "vaegan_samples.png")]
        close(plot_samples({k: grids[k] for k in order}, Path(figures[0])))
    return {"tables": {"sharpness": table}, "figures": figures, "rows": rows,
            "summary": summary, "table": table, "mode": mode, "seeds": list(seeds),
            "setting": asdict(s)}


def main(argv: list[str] | None = None) -> int:
    """Parse the options, :func:`run`, print the table, write results.json; returns 0."""
    return run_and_write(_parser(), argv, SIZES, run)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
