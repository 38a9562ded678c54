"""``python -m minivae.experiments latent-conditional``: the learned conditional prior on the MNIST
quadrant task of Sohn, Lee & Yan (2015).

Task: given one quadrant of a test digit (the condition c, 14 x 14 = 196 grey levels; here the
bottom-left one), generate the other three (x, 588 grey levels, Bernoulli likelihood).  Three
models with the same MLP sizes, mean +- std over the seeds:

* **NN baseline** (the paper's deterministic network): an MLP c -> x trained on -log p(x | c)
  (:class:`~minivae.models.cvae_prior.ConditionalRegressor`); its log p(x | c) is exact.
* **CVAE, prior N(0, I)**: recognition q(z | x, c) and generation p(x | z, c), the prior blind
  to c (:class:`~minivae.models.cvae_prior.PriorCVAE` with ``prior="standard"``).
* **CVAE, learned prior p(z | c)**: the same with a prior network (Sohn et al.'s CGM).

Columns: test negative conditional log-likelihood -log p(x | c) in nats per image (for the
CVAEs importance-sampled with S samples of q, as the paper evaluates it), the test negative
conditional ELBO, and seconds of training.  Figure ``latent_conditional_samples.png``: for test
digits, the given quadrant, the truth, the NN's prediction and several samples of each CVAE (z
from its prior, then the mean of p(x | z, c)); the given quadrant is pasted back in every panel.

Sizes: full (no flag) 20000 training and 2000 test images, 10 epochs, batch 100, hidden 400,
latent 32, S = 100, 2 seeds; ``--quick`` 2000 / 500 images, 3 epochs, hidden 128, S = 20.
Options: ``--seed S`` / ``--seeds A B``, ``--out DIR`` (default
``minivae_output/latent-conditional``), ``--data-dir`` (default ``$MINIVAE_DATA_DIR``; never
downloaded here), ``--no-verify``, ``--no-figures``.  Images are float32 grey levels in [0, 1].
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

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

__all__ = ["GIVEN", "SIZES", "Setting", "main", "quadrant_join", "quadrant_split", "run",
           "specs"]


@dataclass(frozen=True)
class Setting:
    """Sizes of a run: images, epochs, batch, hidden width, latent size, importance samples,
    seeds, and how many test digits / samples per digit the figure shows."""

    n_train: int
    n_test: int
    epochs: int
    batch_size: int
    hidden: int
    latent: int
    is_samples: int
    n_seeds: int
    fig_digits: int
    fig_samples: int


SIZES: dict[str, Setting] = {
    "full": Setting(20000, 2000, 10, 100, 400, 32, 100, 2, 8, 5),
    "quick": Setting(2000, 500, 3, 100, 128, 16, 20, 2, 6, 4),
    "tiny": Setting(60, 10, 1, 20, 16, 4, 3, 1, 2, 2),
}

#: The given quadrant: rows and columns of the 28 x 28 image (bottom-left: rows 14-27, columns
#: 0-13).  The paper's one-quadrant setting gives one quadrant and asks for the other three.
GIVEN = (slice(14, 28), slice(0, 14))


def quadrant_split(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Images X (N, 784) -> (target x (N, 588): the three other quadrants, condition c (N, 196):
    the given quadrant), both in row-major pixel order."""
    imgs = np.asarray(X).reshape(-1, 28, 28)
    given = np.zeros((28, 28), dtype=bool)
    given[GIVEN] = True
    return imgs[:, ~given], imgs[:, given]


def quadrant_join(x: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Inverse of :func:`quadrant_split`: (x (N, 588), c (N, 196)) -> images (N, 784)."""
    given = np.zeros((28, 28), dtype=bool)
    given[GIVEN] = True
    imgs = np.zeros((x.shape[0], 28, 28), dtype=np.result_type(x, c))
    imgs[:, ~given] = x
    imgs[:, given] = c
    return imgs.reshape(-1, 784)


def specs() -> list[tuple[str, dict[str, Any]]]:
    """(label, spec) of the table's rows."""
    return [("NN baseline (deterministic)", {"kind": "nn"}),
            ("CVAE, prior N(0, I)", {"kind": "cvae", "prior": "standard"}),
            ("CVAE, learned prior p(z | c)", {"kind": "cvae", "prior": "learned"})]


def _build(spec: dict[str, Any], s: Setting, seed: int):
    from minivae.models.cvae_prior import ConditionalRegressor, PriorCVAE

    common = {"rng": seed, "dtype": np.float32}
    if spec["kind"] == "nn":
        return ConditionalRegressor(588, 196, [s.hidden, s.hidden], **common)
    return PriorCVAE(588, 196, [s.hidden], s.latent, prior=spec["prior"],
                     prior_hidden=[s.hidden], **common)


def _run_one(label: str, spec: dict[str, Any], data, s: Setting, seed: int):
    """Train one model; returns (row, model)."""
    from minivae.train import fit

    (x, c), (x_te, c_te) = data
    model = _build(spec, s, seed)
    t0 = time.perf_counter()
    fit(model, x, y=c, epochs=s.epochs, batch_size=s.batch_size, lr=1e-3, rng=seed, verbose=0,
        diagnostics=False)
    seconds = time.perf_counter() - t0
    rng = np.random.default_rng([seed, 11])
    if spec["kind"] == "nn":
        cll = model.conditional_log_likelihood(x_te, c_te)
        elbo = cll  # no latent: the bound is the likelihood itself
    else:
        cll = model.conditional_log_likelihood(x_te, c_te, s.is_samples, rng=rng)
        elbo = model.elbo((x_te, c_te), rng, n_samples=1)
    row = {"nll": float(-np.mean(cll)), "neg_elbo": float(-np.mean(elbo)), "seconds": seconds}
    say(f"  [{label}, seed {seed}] " + ", ".join(f"{k} {v:.2f}" for k, v in row.items()))
    return row, model


COLUMNS = (("nll", "test -log p(x | c) (nats/image)"),
           ("neg_elbo", "test negative conditional ELBO"), ("seconds", "seconds"))


# ---------------------------------------------------------------------------------- figure
def plot_samples(models: dict[str, Any], x_te: np.ndarray, c_te: np.ndarray, s: Setting,
                 seed: int, path: Path):
    """Rows: test digits.  Columns: the given quadrant, the truth, the NN's prediction, then
    ``fig_samples`` samples of each CVAE (the given quadrant pasted back in)."""
    from minivae import plots

    plt = plots.plt
    n = min(s.fig_digits, len(x_te))
    rng = np.random.default_rng([seed, 5])
    cols = [("given", quadrant_join(np.full_like(x_te[:n], 0.15), c_te[:n])),
            ("truth", quadrant_join(x_te[:n], c_te[:n]))]
    for label, model in models.items():
        if hasattr(model, "predict"):
            cols.append(("NN", quadrant_join(model.predict(c_te[:n]), c_te[:n])))
            continue
        short = "learned p(z|c)" if "learned" in label else "N(0, I)"
        for j in range(s.fig_samples):
            cols.append((f"{short}\nsample {j + 1}",
                         quadrant_join(model.sample(c_te[:n], rng), c_te[:n])))
    canvas = np.concatenate([np.concatenate([img[i].reshape(28, 28) for _, img in cols], axis=1)
                             for i in range(n)], axis=0)
    fig, ax = plt.subplots(figsize=(0.75 * len(cols) + 1, 0.8 * n + 1.2))
    ax.imshow(canvas, cmap="gray_r", vmin=0, vmax=1)
    ax.set_xticks(14 + 28 * np.arange(len(cols)))
    ax.set_xticklabels([name for name, _ in cols], fontsize=6, rotation=90)
    ax.set_yticks([])
    ax.set_title("given the bottom-left quadrant, generate the other three")
    return plots.finish(fig, path, dpi=100)


# ---------------------------------------------------------------------------- command line
def _parser() -> argparse.ArgumentParser:
    p = experiment_parser("latent-conditional",
                          "CVAE with a learned conditional prior p(z | c) on the MNIST quadrant "
                          "task (Sohn et al. 2015), against the deterministic NN baseline and "
                          "the CVAE with the prior N(0, I).",
                          "2000 images, 3 epochs, smaller networks")
    add_mnist_options(p)
    return p


def _load(args: argparse.Namespace, s: Setting):
    X, _ = load_mnist_split(args, "train", s.n_train)
    X_te, _ = load_mnist_split(args, "test", s.n_test)
    return quadrant_split(X), quadrant_split(X_te)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Train the three models for every seed (sizes and seeds from the parsed ``args`` of this
    experiment's parser or of the ``latent`` command), draw the figure; returns the results: "rows",
    "summary", "table", "tables" (the same, by name) and "figures" (paths; none with
    ``--no-figures``); prints no table (:func:`main` and the ``latent`` command do)."""
    mode = size_mode(args)
    s = SIZES[mode]
    seeds = resolve_seeds(_parser(), args, s.n_seeds)
    args.out.mkdir(parents=True, exist_ok=True)
    say(f"latent-conditional ({mode}): {s.n_train} train / {s.n_test} test images, {s.epochs} "
        f"epochs, batch {s.batch_size}; given the bottom-left quadrant (196 pixels), predict "
        f"588; hidden {s.hidden}, latent {s.latent}, S = {s.is_samples}; seeds {list(seeds)}; "
        f"{blas_threads_note()}")
    data = _load(args, s)
    rows: dict[str, list[dict[str, Any]]] = {}
    kept: dict[str, Any] = {}
    for seed in seeds:
        for label, spec in specs():
            row, model = _run_one(label, spec, data, s, seed)
            rows.setdefault(label, []).append(row)
            if seed == seeds[0]:
                kept[label] = model
    summary = summarise(rows, COLUMNS)
    table = format_table(summary, COLUMNS, {"nll": 1, "neg_elbo": 1, "seconds": 1})
    figures: list[str] = []
    if not args.no_figures:
        from minivae.plots import close

        figures = [str(args.out / "latent_conditional_samples.png")]
        close(plot_samples(kept, *data[1], s, seeds[0], Path(figures[0])))
    return {"tables": {"conditional log-likelihood": table}, "rows": rows, "summary": summary,
            "table": table, "figures": figures}


def main(argv: list[str] | None = None) -> int:
    """Parse the options, :func:`run`, write results.json; returns 0."""
    return run_and_write(_parser(), argv, SIZES, run)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
