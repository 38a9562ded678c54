"""Disentanglement measured by MIG on the shapes factor dataset (issue #17, item 4).

Models, each an MLP VAE (Bernoulli pixels, encoder D-H-2L, decoder mirrored) trained on every
image of the factor grid (:class:`minivae.data.shapes.Shapes`: shape, scale, rotation, x, y):

* ``VAE``          -- the ELBO;
* ``beta-VAE``     -- KL weight beta (Higgins et al., 2017);
* ``beta-TCVAE``   -- total-correlation weight beta, alpha = gamma = 1 (Chen et al., 2018;
  minibatch-weighted sampling, :class:`minivae.models.BetaTCVAE`);
* ``AnnealedVAE``  -- gamma |KL - C| with C ramped linearly to C_max over training (Burgess et
  al., 2018, :class:`minivae.models.AnnealedVAE`);

next to two baselines without training: ``PCA`` (the first L principal components of the
images as codes) and ``random encoder`` (the posterior means of an untrained VAE).

Score: the Mutual Information Gap of the posterior means over the whole grid
(:mod:`minivae.information.mig`: means discretised into 20 bins, plug-in MI, normalised by the
factor entropies), with the per-factor gaps, the ELBO terms (nats per image) and seconds.
Figures: a latent traversal per model (``traversals_<model>.png``: one row per latent, ordered
by KL, each latent swept over [-2.5, 2.5] from the code of one image, the others held).

``python -m minivae.experiments.posteriors_disentangle [--quick]``; the ``posteriors``
command calls :func:`run` with its parsed arguments.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from minivae.data.shapes import FACTOR_NAMES, Shapes
from minivae.experiments._cli import (
    blas_threads_note,
    experiment_parser,
    run_record,
    say,
    size_mode,
    write_results,
)
from minivae.experiments._parts import part_seeds
from minivae.information.mig import mig_details
from minivae.models import VAE, AnnealedVAE, BetaTCVAE
from minivae.train import fit

NAME = "posteriors_disentangle"
MODELS = ("VAE", "beta-VAE", "beta-TCVAE", "AnnealedVAE")
BASELINES = ("PCA", "random encoder")
TRAVERSAL = np.linspace(-2.5, 2.5, 7)


@dataclass(frozen=True)
class Setting:
    size: int = 24
    n_scales: int = 3
    n_rotations: int = 4
    n_positions: int = 6
    latent_dim: int = 6
    hidden: int = 256
    epochs: int = 60
    batch_size: int = 64
    lr: float = 3e-3
    beta_vae: float = 4.0        # beta-VAE's KL weight
    beta_tc: float = 6.0         # beta-TCVAE's TC weight (alpha = gamma = 1)
    gamma: float = 20.0          # AnnealedVAE's weight of |KL - C|
    capacity_max: float = 8.0    # AnnealedVAE's final capacity C, nats
    n_seeds: int = 2


SIZES = {
    "full": Setting(),
    "quick": Setting(size=16, n_scales=2, n_rotations=3, n_positions=4, hidden=64, epochs=8),
    "tiny": Setting(size=16, n_scales=2, n_rotations=2, n_positions=3, latent_dim=3, hidden=16,
                    epochs=1, batch_size=32, n_seeds=1),
}


def build(label: str, s: Setting, n_data: int, seed: int):
    """A fresh model of the table (weights from ``seed``)."""
    D, H, L = s.size * s.size, [s.hidden], s.latent_dim
    if label == "beta-VAE":
        return VAE(D, H, L, beta=s.beta_vae, rng=seed)
    if label == "beta-TCVAE":
        return BetaTCVAE(D, H, L, dataset_size=n_data, beta=s.beta_tc, rng=seed)
    if label == "AnnealedVAE":
        steps = s.epochs * int(np.ceil(n_data / s.batch_size))
        return AnnealedVAE(D, H, L, gamma=s.gamma, capacity_max=s.capacity_max,
                           capacity_steps=steps, rng=seed)
    return VAE(D, H, L, rng=seed)  # "VAE" and the untrained "random encoder"


def pca_codes(X: np.ndarray, n_components: int) -> np.ndarray:
    """The first principal components of X (N, D): (N, n_components)."""
    Xc = X - X.mean(axis=0)
    _, _, vt = np.linalg.svd(Xc, full_matrices=False)
    return Xc @ vt[:n_components].T


def _score(codes: np.ndarray, factors: np.ndarray) -> dict[str, Any]:
    d = mig_details(codes, factors)
    return {"mig": d["mig"], **{f"gap_{k}": float(g) for k, g in zip(FACTOR_NAMES, d["gap"])}}


def run_model(label: str, s: Setting, X: np.ndarray, factors: np.ndarray, seed: int):
    """Train (or not, for the baselines) and score one model: (row, model or None)."""
    t0 = time.perf_counter()
    if label == "PCA":
        return {**_score(pca_codes(X, s.latent_dim), factors), "seconds": 0.0}, None
    model = build(label, s, len(X), seed)
    if label != "random encoder":
        fit(model, X, epochs=s.epochs, batch_size=s.batch_size, lr=s.lr, rng=seed, verbose=0)
    mu, _ = model.encode(X)
    elbo = model.elbo(X, rng=seed)
    row = {**_score(mu, factors), "elbo": float(elbo.mean()),
           "kl": float(np.sum(model.kl_per_dimension(X))),
           "seconds": time.perf_counter() - t0}
    return row, model


def summarise(rows: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, list[float]]]:
    """Per model and column: [mean, std over seeds]."""
    return {label: {k: [float(np.mean([r[k] for r in rs])), float(np.std([r[k] for r in rs]))]
                    for k in rs[0]} for label, rs in rows.items()}


def format_table(summary: dict[str, dict[str, list[float]]], n_seeds: int) -> str:
    """The MIG table in Markdown: mean +- std over seeds."""
    cols = ["mig", *[f"gap_{k}" for k in FACTOR_NAMES], "elbo", "kl", "seconds"]
    head = ["model", "MIG", *FACTOR_NAMES, "ELBO (nats)", "KL (nats)", "seconds"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, row in summary.items():
        cells = []
        for c in cols:
            if c not in row:
                cells.append("-")
                continue
            m, sd = row[c]
            digits = 3 if c.startswith(("mig", "gap")) else 1
            cells.append(f"{m:.{digits}f}" + (f" ± {sd:.{digits}f}" if n_seeds > 1 else ""))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def traversal_figure(model, X: np.ndarray, factors: np.ndarray, s: Setting, label: str,
                     path: Path) -> str:
    """Rows: latents by decreasing KL, labelled by the factor they inform most; columns: the
    latent swept over TRAVERSAL from the code of the grid's middle image."""
    from minivae.plots import plot_image_grid, save

    mu, _ = model.encode(X)
    order = np.argsort(-model.kl_per_dimension(X))
    top = mig_details(mu, factors)["mi"].argmax(axis=1)  # the factor each latent informs most
    base = mu[len(X) // 2]
    images = []
    for j in order:
        z = np.repeat(base[None], len(TRAVERSAL), axis=0)
        z[:, j] = TRAVERSAL
        images.append(model.decode(z))
    names = ", ".join(f"z{j}:{FACTOR_NAMES[top[j]]}" for j in order)
    fig = plot_image_grid(np.concatenate(images), None, image_shape=(s.size, s.size),
                          ncols=len(TRAVERSAL), title=f"{label} traversals\n{names}")
    return save(fig, path)


def _args(args: argparse.Namespace) -> tuple[str, Setting, Path]:
    mode = size_mode(argparse.Namespace(tiny=getattr(args, "tiny", False),
                                        quick=getattr(args, "quick", False)))
    out = Path(getattr(args, "out", Path("minivae_output") / NAME))
    s = SIZES[mode]
    if getattr(args, "epochs", None) is not None:
        s = replace(s, epochs=int(args.epochs))
    return mode, s, out


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Train and score every model for every seed; return the table (printed by :func:`main`
    and the ``posteriors`` command).

    ``args``: a namespace with (any of) ``quick``, ``tiny``, ``seed``, ``seeds``, ``out``,
    ``no_figures``, ``epochs`` (overrides the size's epochs).  Returns a dict with "table"
    (Markdown), "tables" ({"mig": table}), "summary", "rows", "figures" (paths), "setting",
    "seeds", "seconds".
    """
    t_start = time.perf_counter()
    mode, s, out = _args(args)
    seeds = part_seeds(args, s.n_seeds)
    shapes = Shapes(s.size, n_scales=s.n_scales, n_rotations=s.n_rotations,
                    n_positions=s.n_positions)
    X, factors = shapes.grid()
    say(f"{NAME} ({mode}): {len(X)} shapes images {s.size}x{s.size}, MLP {s.size ** 2}-"
        f"{s.hidden}-{s.latent_dim}, {s.epochs} epochs, batch {s.batch_size}; seeds "
        f"{list(seeds)}; {blas_threads_note()}")
    rows: dict[str, list[dict[str, Any]]] = {label: [] for label in BASELINES + MODELS}
    kept: dict[str, Any] = {}
    for seed in seeds:
        for label in rows:
            row, model = run_model(label, s, X, factors, seed)
            rows[label].append(row)
            say(f"  seed {seed} {label}: MIG {row['mig']:.3f} ({row['seconds']:.0f} s)")
            if seed == seeds[0] and label in MODELS:
                kept[label] = model
    summary = summarise(rows)
    table = format_table(summary, len(seeds))
    figures = []
    if not getattr(args, "no_figures", False):
        for label, model in kept.items():
            slug = label.lower().replace("-", "")
            figures.append(traversal_figure(model, X, factors, s, label,
                                            out / f"traversals_{slug}.png"))
    return {"name": NAME, "mode": mode, "setting": asdict(s), "seeds": list(seeds), "rows": rows,
            "summary": summary, "table": table, "tables": {"mig": table}, "figures": figures,
            "seconds": time.perf_counter() - t_start}


def main(argv: list[str] | None = None) -> int:
    """Command line: run, print, write results.json (and the figures) to ``--out``."""
    parser = experiment_parser(NAME, "Disentanglement (MIG) of VAE, beta-VAE, beta-TCVAE and "
                               "AnnealedVAE on the shapes factor dataset.",
                               "a smaller grid (16x16 images), 8 epochs")
    parser.add_argument("--epochs", type=int, default=None,
                        help="training epochs (default: 60, quick 8)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    result = run(args)
    say("\n" + result["table"])
    record = {**run_record(result["mode"], tuple(result["seeds"]), _args(args)[1], argv),
              **{k: v for k, v in result.items() if k not in ("figures", "seconds")}}
    write_results(record, args.out, t_start, result["figures"] or None)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
