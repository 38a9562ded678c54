"""The 2-Stage VAE (Dai & Wipf 2019) against the one-stage VAE on MNIST: does a second VAE on
the first one's codes make the samples come from where the data's codes are?

Part ``two_stage`` of ``python -m minivae.experiments posteriors`` (see
:mod:`minivae.experiments.posteriors`); :func:`run` takes that command's options.

Per seed: stage 1 is a VAE 784-H-L (Bernoulli pixels) trained on the training images; stage 2 a
Gaussian VAE L-256-256-L with a learned variance, trained on stage 1's posterior means of the
same images (:class:`~minivae.models.two_stage_vae.TwoStageVAE`).  Both samplers share stage 1's
decoder and differ only in where their codes come from:

* one-stage: z ~ N(0, I), the VAE's prior;
* two-stage: u ~ N(0, I), z ~ p(z | u) through stage 2's decoder;
* (reference) the stage-1 codes of the *training* images: what a sampler that had memorised
  the training codes would give.

Columns (mean +- std over the seeds; unbiased MMD^2, RBF kernel, lower is better):

* MMD^2 between the sampler's codes and the held-out codes (stage 1's posterior means of the
  test images), bandwidth sigma from the median heuristic on the held-out codes
  (2 sigma^2 = median squared distance);
* MMD^2 between the decoded samples and the held-out *reconstructions* (stage 1's decoder at
  the held-out codes): both are decoder means, so blur is the same on both sides and the
  number measures where the samples are, not how sharp they are; median-heuristic bandwidth
  on the reconstructions;
* seconds of training (stage 1, then stage 2 on top of it for the two-stage row).

Figure ``two_stage_samples.png``: test digits, one-stage samples and two-stage samples (first
seed), one grid each.

Sizes: full 10000 training / 2000 test images, stage 1 10 epochs, stage 2 60 epochs, L = 16,
H = 256, 2 seeds; ``--quick`` 2000 / 500 images, 3 and 15 epochs, H = 128 (about 20 s).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from minivae.experiments._cli import say

__all__ = ["COLUMNS", "SIZES", "Setting", "format_table", "median_bandwidth", "run",
           "sampler_codes", "summarise"]


@dataclass(frozen=True)
class Setting:
    """Sizes of a run."""

    n_train: int
    n_test: int
    epochs1: int
    epochs2: int
    hidden: int
    latent: int
    stage2_hidden: tuple[int, ...]
    batch_size: int
    n_seeds: int


SIZES: dict[str, Setting] = {
    "full": Setting(10000, 2000, 10, 60, 256, 16, (256, 256), 100, 2),
    "quick": Setting(2000, 500, 3, 15, 128, 16, (128, 128), 100, 2),
    "tiny": Setting(60, 20, 1, 1, 8, 2, (8,), 20, 1),
}

ROWS = ("one-stage VAE, z ~ N(0, I)", "2-Stage VAE, z from stage 2",
        "(reference) training codes")
COLUMNS = (("mmd_codes", "MMD² codes vs held-out codes"),
           ("mmd_images", "MMD² samples vs held-out reconstructions"),
           ("seconds", "seconds"))


def median_bandwidth(x: np.ndarray) -> float:
    """The RBF bandwidth sigma of the median heuristic on x (n, L): 2 sigma^2 = the median of
    the squared distances between distinct rows."""
    from minivae.information.mmd import squared_distances

    d = squared_distances(x, x)
    return float(np.sqrt(np.median(d[~np.eye(len(x), dtype=bool)]) / 2.0))


def sampler_codes(model: Any, n: int, seed: int) -> dict[str, np.ndarray]:
    """The codes (n, L) of the one-stage and the two-stage sampler, by row label."""
    rng = np.random.default_rng([seed, 11])
    prior = rng.standard_normal((n, model.stage1.latent_dim)).astype(model.dtype)
    return {ROWS[0]: prior, ROWS[1]: model.sample_codes(n, rng)}


def _unbiased_mmd(a: np.ndarray, b: np.ndarray, bandwidth: float) -> float:
    from minivae.information.mmd import mmd

    return mmd(a.astype(np.float64), b.astype(np.float64), "rbf", bandwidth, unbiased=True)


def _one_seed(s: Setting, seed: int, X: np.ndarray, X_te: np.ndarray):
    """Train the pair; returns (rows by label, the model, the samples by label)."""
    from minivae.models.two_stage_vae import TwoStageVAE

    model = TwoStageVAE(784, [s.hidden], s.latent, stage2_hidden=s.stage2_hidden, rng=seed,
                        dtype=np.float32)
    t0 = time.perf_counter()
    model.fit_stage1(X, epochs=s.epochs1, batch_size=s.batch_size, rng=seed)
    t1 = time.perf_counter()
    model.fit_stage2(X, epochs=s.epochs2, batch_size=s.batch_size, rng=seed)
    t2 = time.perf_counter()
    held = model.codes(X_te)
    recon = model.stage1.decode(held)
    bw_z, bw_x = median_bandwidth(held), median_bandwidth(recon)
    codes = sampler_codes(model, len(held), seed)
    codes[ROWS[2]] = model.codes(X[: len(held)])
    seconds = {ROWS[0]: t1 - t0, ROWS[1]: t2 - t0, ROWS[2]: t1 - t0}
    rows, samples = {}, {}
    for label, z in codes.items():
        samples[label] = model.stage1.decode(z)
        rows[label] = {"mmd_codes": _unbiased_mmd(z, held, bw_z),
                       "mmd_images": _unbiased_mmd(samples[label], recon, bw_x),
                       "seconds": seconds[label]}
        say(f"  [{label}, seed {seed}] " + ", ".join(f"{k} {v:.4f}"
                                                      for k, v in rows[label].items()))
    return rows, model, samples


def summarise(rows: dict[str, list[dict[str, float]]]) -> dict[str, dict[str, list[float]]]:
    """label -> column -> [mean, std over seeds (0 for one seed)]."""
    out: dict[str, dict[str, list[float]]] = {}
    for label, per_seed in rows.items():
        out[label] = {}
        for key, _ in COLUMNS:
            v = np.array([r[key] for r in per_seed], dtype=np.float64)
            out[label][key] = [float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0]
    return out


def format_table(summary: dict[str, dict[str, list[float]]]) -> str:
    """Markdown table, mean ± std over seeds."""
    digits = {"mmd_codes": 4, "mmd_images": 4, "seconds": 1}
    lines = ["| sampler | " + " | ".join(name for _, name in COLUMNS) + " |",
             "|---" * (len(COLUMNS) + 1) + "|"]
    for label, cols in summary.items():
        cells = [f"{cols[k][0]:.{digits[k]}f} ± {cols[k][1]:.{digits[k]}f}" for k, _ in COLUMNS]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_samples(X_te: np.ndarray, samples: dict[str, np.ndarray], path: Path):
    """Three 8 x 8 grids side by side: test digits, one-stage samples, two-stage samples."""
    from minivae import plots

    plt = plots.plt
    panels = {"test digits": X_te, "one-stage VAE samples": samples[ROWS[0]],
              "2-Stage VAE samples": samples[ROWS[1]]}
    fig, axes = plt.subplots(1, 3, figsize=(12, 4.3))
    for ax, (title, imgs) in zip(axes, panels.items()):
        k = min(8, int(np.sqrt(len(imgs))))
        grid = np.asarray(imgs[: k * k], dtype=np.float64).reshape(k, k, 28, 28)
        ax.imshow(grid.transpose(0, 2, 1, 3).reshape(28 * k, 28 * k), cmap="gray_r",
                  vmin=0, vmax=1)
        ax.set_title(title)
        ax.set_axis_off()
    return plots.finish(fig, path, dpi=90)


def _mode(args: argparse.Namespace) -> str:
    return "tiny" if getattr(args, "tiny", False) else \
        "quick" if getattr(args, "quick", False) else "full"


def _seeds(args: argparse.Namespace, n_seeds: int) -> tuple[int, ...]:
    seeds = getattr(args, "seeds", None)
    if seeds:
        return tuple(int(v) for v in seeds)
    first = int(getattr(args, "seed", 0))
    return tuple(range(first, first + n_seeds))


def _load(args: argparse.Namespace, s: Setting):
    from minivae.data.mnist import load_mnist

    kw = {"verify": not getattr(args, "no_verify", False), "dtype": np.float32,
          "download": False}
    data_dir = getattr(args, "data_dir", None)
    X, _ = load_mnist(data_dir, split="train", limit=s.n_train, **kw)
    X_te, _ = load_mnist(data_dir, split="test", limit=s.n_test, **kw)
    return X, X_te


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the comparison with the options of ``python -m minivae.experiments posteriors``
    (``quick``, ``tiny``, ``seed`` / ``seeds``, ``out``, ``no_figures``, ``data_dir``,
    ``no_verify``; missing ones take their defaults).  Returns the record: "tables" (name ->
    markdown), "figures" (paths), "rows", "summary", "setting", "seeds", "seconds"."""
    t_start = time.perf_counter()
    mode = _mode(args)
    s = SIZES[mode]
    seeds = _seeds(args, s.n_seeds)
    say(f"two_stage ({mode}): {s.n_train} train / {s.n_test} test images; stage 1 784-"
        f"{s.hidden}-{s.latent}, {s.epochs1} epochs; stage 2 {s.latent}-"
        f"{'-'.join(map(str, s.stage2_hidden))}-{s.latent}, {s.epochs2} epochs; "
        f"seeds {list(seeds)}")
    X, X_te = _load(args, s)
    rows: dict[str, list[dict[str, float]]] = {}
    kept = None
    for seed in seeds:
        per_label, model, samples = _one_seed(s, seed, X, X_te)
        for label, row in per_label.items():
            rows.setdefault(label, []).append(row)
        kept = kept or samples
    summary = summarise(rows)
    table = format_table(summary)
    figures: list[str] = []
    if not getattr(args, "no_figures", False):
        out = Path(getattr(args, "out", Path("minivae_output") / "posteriors"))
        out.mkdir(parents=True, exist_ok=True)
        path = out / "two_stage_samples.png"
        _close(plot_samples(X_te, kept, path))
        figures.append(str(path))
    return {"tables": {"two_stage": table}, "figures": figures, "rows": rows,
            "summary": summary, "setting": asdict(s), "mode": mode, "seeds": list(seeds),
            "seconds": time.perf_counter() - t_start}


def _close(fig: Any) -> None:
    """Close a finished figure (frees its memory in long runs)."""
    from minivae.plots import close

    close(fig)
