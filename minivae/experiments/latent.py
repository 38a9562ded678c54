"""``python -m minivae.experiments latent``: shaping the latent space and the prior on MNIST
(issue: priors and discrete latents), one part at a time.

Parts (a command of parts, :mod:`minivae.experiments._parts`: options ``--quick``,
``--parts a,b``, ``--seed S`` / ``--seeds A B``, ``--out DIR`` (default
``minivae_output/latent``; each part writes into ``<out>/<part>/``), ``--data-dir`` (default
``$MINIVAE_DATA_DIR``; never downloaded here), ``--no-verify``, ``--no-figures``; every table
printed once and gathered in ``<out>/tables.md``):

* ``codes``: VQ-VAE and adversarial autoencoders (this module's :func:`run`, below);
* ``sharpness``: VAE-GAN against the plain VAE (:mod:`.latent_sharpness`);
* ``conditional``: the CVAE with a learned conditional prior (:mod:`.latent_conditional`);
* ``multimodal``: the MMVAE's cross-modal coherence (:mod:`.latent_multimodal`);
* ``clustering``: VaDE and GMVAE clustering accuracy (:mod:`.latent_clustering`).

Each of the last four is also a command of its own (``latent-sharpness``,
``latent-conditional``, ``latent-multimodal``, ``latent-clustering``).

Part ``codes``: two tables, each with a baseline of the same size, mean +- std over the
seeds:

* **VQ-VAE** (van den Oord et al. 2017): an MLP encoder 784-H-(M d) whose output is cut into M
  slots of size d, each replaced by its nearest code of one codebook of K codes; decoder
  (M d)-H-784, Bernoulli pixels.  Trained with the codebook loss or the EMA codebook, each
  without and with dead-code re-seeding (every epoch, codes unused on 2000 training images
  move onto encoder outputs).  Against an autoencoder and a VAE of the same sizes
  (latent M d).  Columns: test reconstruction (Bernoulli negative log-likelihood of the test
  image under the decoded code, nats per image; the VAE decodes its posterior mean), codebook
  perplexity on the test set (exp of the entropy of the code frequencies; K at most), dead
  codes (never chosen on the test set), and seconds of training.
* **Adversarial autoencoder** (Makhzani et al. 2016): 784-H1-H2-2 (ReLU), a discriminator
  2-64-64-1 on the codes, three phases per batch (reconstruction, discriminator, generator) with
  the prior N(0, I), a mixture of 10 Gaussians on a circle of radius 2 (std 0.3) or the swiss
  roll; against a VAE (posterior means, prior N(0, I)) and a plain autoencoder of the same
  size.  Columns: test reconstruction, MMD^2 between the test codes and as many prior samples
  (RBF kernel, bandwidth 1: the scale of the priors' structure; the VAE and AE rows against
  N(0, I)), and seconds of training.  Figure ``latent_aae_codes.png``: the test codes of each
  model coloured by digit, prior samples beside.  Figure ``latent_vqvae.png``: test digits and
  their reconstructions, and the code usage of each VQ-VAE.

Sizes: full (no flag) 20000 training and 2000 test images, 10 epochs, batch 100, K = 64,
d = 4, M = 8, 2 seeds; ``--quick`` 2000 / 500 images, 2 epochs, smaller networks (about 20 s).
Images are float32 grey levels.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from minivae.experiments._cli import public, say
from minivae.experiments._parts import PartsCommand, part_mode, part_seeds

__all__ = ["COMMAND", "PARTS", "SIZES", "Setting", "aae_specs", "main", "reconstruction_nats",
           "run", "vq_specs"]

#: part name -> module with ``run(args) -> dict`` (imported only when the part runs)
PARTS: dict[str, str] = {
    "codes": "minivae.experiments.latent",
    "sharpness": "minivae.experiments.latent_sharpness",
    "conditional": "minivae.experiments.latent_conditional",
    "multimodal": "minivae.experiments.latent_multimodal",
    "clustering": "minivae.experiments.latent_clustering",
}

COMMAND = PartsCommand(
    "latent", PARTS,
    "Shaping the latent space on MNIST: VQ-VAE and adversarial autoencoders, VAE-GAN "
    "sharpness, a learned conditional prior, the MMVAE, mixture-prior clustering.",
    "small sizes (about a minute a part)")


@dataclass(frozen=True)
class Setting:
    """Sizes of a run: images, epochs, batch, the VQ-VAE's hidden width / K / d / M, the AAE's
    hidden widths, seeds, and how many test codes the MMD compares."""

    n_train: int
    n_test: int
    epochs: int
    batch_size: int
    hidden: int
    num_codes: int
    code_dim: int
    groups: int
    aae_hidden: tuple[int, ...]
    n_seeds: int
    n_reseed: int


SIZES: dict[str, Setting] = {
    "full": Setting(20000, 2000, 10, 100, 256, 64, 4, 8, (256, 128), 2, 2000),
    "quick": Setting(2000, 500, 2, 100, 128, 32, 4, 4, (128, 64), 2, 500),
    "tiny": Setting(60, 10, 1, 20, 16, 8, 2, 2, (16, 8), 1, 20),
}

MMD_BANDWIDTH = 1.0
MIXTURE = {"scale": 2.0, "n_components": 10, "std": 0.3}


def vq_specs() -> list[tuple[str, dict[str, Any]]]:
    """(label, spec) of the VQ-VAE table's rows."""
    return [("VQ-VAE", {"kind": "vqvae", "ema": False}),
            ("VQ-VAE + re-seeding", {"kind": "vqvae", "ema": False, "reseed": True}),
            ("VQ-VAE, EMA codebook", {"kind": "vqvae", "ema": True}),
            ("VQ-VAE, EMA + re-seeding", {"kind": "vqvae", "ema": True, "reseed": True}),
            ("AE, latent M d", {"kind": "ae"}),
            ("VAE, latent M d", {"kind": "vae"})]


def aae_specs() -> list[tuple[str, dict[str, Any]]]:
    """(label, spec) of the AAE table's rows."""
    return [("AAE, N(0, I)", {"kind": "aae", "prior": "gaussian"}),
            ("AAE, mixture of 10", {"kind": "aae", "prior": "mixture"}),
            ("AAE, swiss roll", {"kind": "aae", "prior": "swiss_roll"}),
            ("VAE", {"kind": "vae"}),
            ("AE", {"kind": "ae"})]


def _build(spec: dict[str, Any], hidden: list[int], latent: int, s: Setting, seed: int):
    from minivae.models import VAE, VQVAE, AdversarialAutoencoder, Autoencoder

    common = {"rng": seed, "dtype": np.float32}
    kind = spec["kind"]
    if kind == "vqvae":
        return VQVAE(784, hidden, s.num_codes, s.code_dim, groups=s.groups, ema=spec["ema"],
                     **common)
    if kind == "aae":
        kwargs = MIXTURE if spec["prior"] == "mixture" else {}
        return AdversarialAutoencoder(784, hidden, latent, prior=spec["prior"],
                                      prior_kwargs=dict(kwargs), **common)
    if kind == "vae":
        return VAE(784, hidden, latent, **common)
    return Autoencoder(784, hidden, latent, **common)


def reconstruction_nats(model: Any, X: np.ndarray) -> float:
    """Mean over images of -sum_pixels [x log p + (1 - x) log(1 - p)], p = the decoded
    probabilities of ``model.reconstruct(X)`` (the VAE's at its posterior mean), clipped to
    [1e-7, 1 - 1e-7]."""
    p = np.clip(np.asarray(model.reconstruct(X), dtype=np.float64), 1e-7, 1 - 1e-7)
    x = X.astype(np.float64)
    return float(np.mean(-np.sum(x * np.log(p) + (1 - x) * np.log1p(-p), axis=1)))


def _codes(model: Any, X: np.ndarray) -> np.ndarray:
    z = model.encode(X)
    return np.asarray(z[0] if isinstance(z, tuple) else z, dtype=np.float64)  # VAE: the mean


def _prior_for(model: Any):
    from minivae.objectives.priors import GaussianPrior

    return getattr(model, "prior", None) or GaussianPrior(2)


def _train(model: Any, spec: dict[str, Any], X: np.ndarray, s: Setting, seed: int) -> float:
    """Fit ``model``; returns the seconds it took."""
    from minivae.models.vqvae import ReseedDeadCodes
    from minivae.train import fit

    callbacks = [ReseedDeadCodes(X[: s.n_reseed], rng=seed)] if spec.get("reseed") else []
    t0 = time.perf_counter()
    fit(model, X, epochs=s.epochs, batch_size=s.batch_size, lr=1e-3, rng=seed, verbose=0,
        callbacks=callbacks)
    return time.perf_counter() - t0


def _run_vq(label, spec, X, X_te, s: Setting, seed: int) -> tuple[dict[str, Any], Any]:
    model = _build(spec, [s.hidden], s.groups * s.code_dim, s, seed)
    seconds = _train(model, spec, X, s, seed)
    row = {"reconstruction": reconstruction_nats(model, X_te), "seconds": seconds}
    if spec["kind"] == "vqvae":
        stats = model.code_statistics(X_te)
        row.update(perplexity=stats["perplexity"], dead_codes=stats["dead_codes"],
                   _counts=stats["counts"])
    say(f"  [{label}, seed {seed}] " + ", ".join(f"{k} {v:.2f}" for k, v in row.items()
                                                    if not k.startswith("_")))
    return row, model


def _run_aae(label, spec, X, X_te, s: Setting, seed: int) -> tuple[dict[str, Any], Any]:
    from minivae.information.mmd import mmd

    model = _build(spec, list(s.aae_hidden), 2, s, seed)
    seconds = _train(model, spec, X, s, seed)
    z = _codes(model, X_te)
    z_prior = _prior_for(model).sample(len(z), np.random.default_rng([seed, 7]))
    row = {"reconstruction": reconstruction_nats(model, X_te),
           "mmd": mmd(z, z_prior, "rbf", MMD_BANDWIDTH), "seconds": seconds}
    say(f"  [{label}, seed {seed}] " + ", ".join(f"{k} {v:.4f}" for k, v in row.items()))
    return row, model


# ---------------------------------------------------------------------------------- tables
VQ_COLUMNS = (("reconstruction", "test reconstruction (nats/image)"),
              ("perplexity", "perplexity"), ("dead_codes", "dead codes"),
              ("seconds", "seconds"))
AAE_COLUMNS = (("reconstruction", "test reconstruction (nats/image)"),
               ("mmd", "MMD² to the prior"), ("seconds", "seconds"))


def summarise(rows: dict[str, list[dict[str, Any]]], columns) -> dict[str, dict[str, list]]:
    """label -> column -> [mean, std over seeds] (None where the model has no such value)."""
    out: dict[str, dict[str, list]] = {}
    for label, per_seed in rows.items():
        out[label] = {}
        for key, _ in columns:
            if key not in per_seed[0]:
                out[label][key] = None
                continue
            v = np.array([r[key] for r in per_seed], dtype=np.float64)
            out[label][key] = [float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0]
    return out


def format_table(summary: dict[str, dict[str, list]], columns, digits: dict[str, int]) -> str:
    """Markdown table, mean ± std over seeds ("–" where a model has no such value)."""
    lines = ["| model | " + " | ".join(name for _, name in columns) + " |",
             "|---" * (len(columns) + 1) + "|"]
    for label, cols in summary.items():
        cells = []
        for key, _ in columns:
            if cols[key] is None:
                cells.append("–")
            else:
                m, sd = cols[key]
                cells.append(f"{m:.{digits.get(key, 1)}f} ± {sd:.{digits.get(key, 1)}f}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------- figures
def plot_aae_codes(codes: dict[str, tuple[np.ndarray, Any]], y: np.ndarray, seed: int,
                   path: Path):
    """One row per model: its test codes coloured by digit | samples of its prior."""
    from minivae import plots

    plt = plots.plt
    fig, axes = plt.subplots(len(codes), 2, figsize=(8, 3.6 * len(codes)), squeeze=False)
    for row, (label, (z, prior)) in enumerate(codes.items()):
        ax = axes[row, 0]
        sc = ax.scatter(z[:, 0], z[:, 1], c=y, cmap="tab10", s=3, alpha=0.7, vmin=-0.5,
                        vmax=9.5)
        ax.set_title(f"{label}: test codes")
        fig.colorbar(sc, ax=ax, ticks=range(10), label="digit")
        zp = prior.sample(len(z), np.random.default_rng([seed, 7]))
        axes[row, 1].scatter(zp[:, 0], zp[:, 1], s=3, alpha=0.5, color="0.3")
        axes[row, 1].set_title(f"samples of its prior ({prior.name})")
        lim = max(np.abs(z).max(), np.abs(zp).max()) * 1.05
        for ax in axes[row]:
            ax.set_xlim(-lim, lim)
            ax.set_ylim(-lim, lim)
            ax.set_aspect("equal")
    return plots.finish(fig, path, dpi=90)


def plot_vq(models: dict[str, Any], counts: dict[str, np.ndarray], X: np.ndarray, path: Path):
    """Left: test digits (top row) and each model's reconstructions; right: code usage."""
    from minivae import plots

    plt = plots.plt
    n = min(10, len(X))
    rows = [X[:n]] + [np.asarray(m.reconstruct(X[:n])) for m in models.values()]
    fig, (ax_img, ax_use) = plt.subplots(1, 2, figsize=(13, 0.9 * len(rows) + 1.5),
                                         gridspec_kw={"width_ratios": [1.6, 1]})
    canvas = np.concatenate([np.concatenate([r.reshape(28, 28) for r in row], axis=1)
                             for row in rows], axis=0)
    ax_img.imshow(canvas, cmap="gray_r", vmin=0, vmax=1)
    ax_img.set_yticks(14 + 28 * np.arange(len(rows)))
    ax_img.set_yticklabels(["test digits", *models])
    ax_img.set_xticks([])
    for label, c in counts.items():
        ax_use.plot(np.sort(c)[::-1] / c.sum(), marker=".", label=label)
    ax_use.set_xlabel("code (sorted by use)")
    ax_use.set_ylabel("fraction of test assignments")
    ax_use.set_title("codebook usage")
    ax_use.legend(fontsize=8)
    return plots.finish(fig, path, dpi=90)


# ---------------------------------------------------------------------------- command line
def _load(args: argparse.Namespace, s: Setting):
    from minivae.data.mnist import load_mnist

    kw = {"verify": not args.no_verify, "dtype": np.float32, "download": False}
    X, _ = load_mnist(args.data_dir, split="train", limit=s.n_train, **kw)
    X_te, y_te = load_mnist(args.data_dir, split="test", limit=s.n_test, **kw)
    return X, X_te, y_te


def _run_all(s: Setting, seeds, X, X_te):
    """Every model of both tables for every seed; the first seed's models kept for figures."""
    vq_rows: dict[str, list] = {}
    aae_rows: dict[str, list] = {}
    kept: dict[str, Any] = {}
    for seed in seeds:
        say(f"seed {seed}: VQ-VAE table")
        for label, spec in vq_specs():
            row, model = _run_vq(label, spec, X, X_te, s, seed)
            vq_rows.setdefault(label, []).append(row)
            if seed == seeds[0]:
                kept["vq:" + label] = (model, row.get("_counts"))
        say(f"seed {seed}: adversarial autoencoder table")
        for label, spec in aae_specs():
            row, model = _run_aae(label, spec, X, X_te, s, seed)
            aae_rows.setdefault(label, []).append(row)
            if seed == seeds[0]:
                kept["aae:" + label] = (model, None)
    return vq_rows, aae_rows, kept


def _figures(args, kept: dict[str, Any], X_te, y_te, seed: int) -> list[str]:
    from minivae.plots import close

    out = [str(args.out / "latent_aae_codes.png"), str(args.out / "latent_vqvae.png")]
    codes = {k[4:]: (_codes(m, X_te), _prior_for(m)) for k, (m, _) in kept.items()
             if k.startswith("aae:") and k[4:] != "AE"}
    close(plot_aae_codes(codes, y_te, seed, Path(out[0])))
    vq = {k[3:]: m for k, (m, _) in kept.items()
          if k.startswith("vq:") and not k[3:].startswith("VAE")}  # the VAE: no code images
    counts = {k[3:]: c for k, (_, c) in kept.items() if c is not None}
    close(plot_vq(vq, counts, X_te, Path(out[1])))
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Part ``codes`` of this command: both comparisons with the command's options (``quick``,
    ``tiny``, ``seed`` / ``seeds``, ``out``, ``no_figures``, ``data_dir``, ``no_verify``).
    Returns "tables" ("VQ-VAE", "adversarial autoencoder": markdown), "figures" (paths), the
    per-seed rows and their summaries, "mode", "seeds", "setting"."""
    mode = part_mode(args)
    s = SIZES[mode]
    seeds = part_seeds(args, s.n_seeds)
    say(f"codes ({mode}): {s.n_train} train / {s.n_test} test images, {s.epochs} epochs, "
        f"batch {s.batch_size}; VQ-VAE 784-{s.hidden}-{s.groups}x{s.code_dim}, K = "
        f"{s.num_codes}; AAE 784-{'-'.join(map(str, s.aae_hidden))}-2; seeds {list(seeds)}")
    X, X_te, y_te = _load(args, s)
    vq_rows, aae_rows, kept = _run_all(s, seeds, X, X_te)
    vq_summary, aae_summary = summarise(vq_rows, VQ_COLUMNS), summarise(aae_rows, AAE_COLUMNS)
    vq_table = format_table(vq_summary, VQ_COLUMNS, {"perplexity": 1, "dead_codes": 1})
    aae_table = format_table(aae_summary, AAE_COLUMNS, {"mmd": 4})
    figures = [] if args.no_figures else _figures(args, kept, X_te, y_te, seeds[0])
    return {"tables": {"VQ-VAE": vq_table, "adversarial autoencoder": aae_table},
            "figures": figures, "mode": mode, "seeds": list(seeds), "setting": asdict(s),
            "vq_rows": {k: [public(r) for r in v] for k, v in vq_rows.items()},
            "aae_rows": aae_rows, "vq_summary": vq_summary, "aae_summary": aae_summary}


def main(argv: list[str] | None = None) -> int:
    """Run the chosen parts (default: all) in turn; returns 0."""
    return COMMAND.main(argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
