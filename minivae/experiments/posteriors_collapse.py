"""Posterior collapse made visible and fixed (issue: posteriors, item 2): a VAE whose decoder is
an autoregressive row LSTM (:class:`~minivae.models.pixel_vae.PixelVAE`) on binarized 14 x 14
MNIST, trained four ways with the same encoder, decoder and latent size:

* **PixelVAE** (plain ELBO): the decoder models the digits by itself; the KL falls towards 0 and
  the active units (Burda et al. 2016: Var_x E_q[z_l | x] > 0.01) vanish: collapse;
* **+ free bits** (lambda nats per dimension, Kingma et al. 2016);
* **delta-VAE** (committed rate delta, an AR(1) prior over the latent dimensions against the
  diagonal posterior, Razavi et al. 2019);
* **baseline**: a VAE with an MLP decoder of the same width, which cannot model the pixels
  without z and so does not collapse.

Table (mean +- std over the seeds): the final KL on the test images (to each model's own
prior), the active units on the test images, the test NLL bound (minus the ELBO, nats per image,
one z per image: an upper bound on -log p(x)) and seconds of training.  Figure
``posterior_collapse.png``: the training KL per epoch of each model (one line per seed) and the
active units per epoch.

Data: the first ``n_train`` training and ``n_test`` test images, 2 x 2 average-pooled to 14 x 14
and thresholded at 0.5 (deterministic binarization).  Sizes: full (no flag) 10000 / 2000 images,
20 epochs, 2 seeds; ``--quick`` 2000 / 500 images, 4 epochs; ``--tiny`` (the test suite) a few
dozen images, 2 epochs.  Options as the other experiments: ``--seed`` / ``--seeds``, ``--out``,
``--data-dir`` (default ``$MINIVAE_DATA_DIR``; never downloaded here), ``--no-verify``,
``--no-figures``.  ``python -m minivae.experiments.posteriors_collapse [--quick]``; the
``posteriors`` experiment calls :func:`run`.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from minivae.experiments._parts import part_mode, part_seeds

__all__ = ["SIZES", "Setting", "binarized_14", "format_table", "main", "model_specs", "run",
           "summarise"]


@dataclass(frozen=True)
class Setting:
    """Sizes of a run: images, epochs, batch, hidden width H (encoder and decoder), latent L,
    free bits lambda, delta-VAE rate delta, seeds, learning rate."""

    n_train: int
    n_test: int
    epochs: int
    batch_size: int
    hidden: int
    latent: int
    free_bits: float
    delta: float
    n_seeds: int
    lr: float


SIZES: dict[str, Setting] = {
    "full": Setting(5000, 1000, 20, 64, 64, 8, 0.25, 2.0, 2, 1e-3),
    "quick": Setting(1000, 300, 3, 64, 32, 8, 0.25, 2.0, 2, 1e-3),
    "tiny": Setting(40, 20, 2, 20, 8, 4, 0.25, 1.0, 1, 1e-3),
}


def binarized_14(X: np.ndarray) -> np.ndarray:
    """MNIST (N, 784) in [0, 1] -> (N, 14, 14) in {0, 1}: 2 x 2 average pooling, then > 0.5."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != 784:
        raise ValueError(f"X must be MNIST images of shape (N, 784), got {X.shape}")
    pooled = X.reshape(-1, 14, 2, 14, 2).mean(axis=(2, 4))
    return (pooled > 0.5).astype(np.float64)


def model_specs(s: Setting) -> list[tuple[str, dict[str, Any]]]:
    """(label, PixelVAE keyword arguments) of the rows; ``{"mlp": True}`` marks the baseline.
    The PixelVAE rows read z through the decoder's initial state (the collapse-prone setting,
    Bowman et al. 2016), except one with z at every row for comparison."""
    initial = {"z_input": "initial"}
    return [
        ("VAE, MLP decoder (baseline)", {"mlp": True}),
        ("PixelVAE, z at every row (ELBO)", {"z_input": "every_row"}),
        ("PixelVAE (ELBO)", initial),
        (f"PixelVAE + free bits (lambda = {s.free_bits:g})", {**initial,
                                                              "free_bits": s.free_bits}),
        (f"delta-VAE (delta = {s.delta:g} nats)", {**initial, "delta": s.delta}),
    ]


def _build(s: Setting, spec: dict[str, Any], seed: int):
    from minivae.models import VAE
    from minivae.models.pixel_vae import PixelVAE

    if spec.get("mlp"):
        return VAE(196, [s.hidden], s.latent, rng=seed)
    return PixelVAE((14, 14), s.hidden, s.latent, rng=seed, **spec)


def _evaluate(model, X_te: np.ndarray, seed: int) -> dict[str, float]:
    """Test KL (to the model's prior), active units and the NLL bound -ELBO (nats / image)."""
    from minivae.train.diagnostics import active_units

    flat = X_te.reshape(len(X_te), -1)
    mu, _ = model.posterior(flat)
    terms = model.per_example_loss(flat, rng=seed)
    return {"kl": float(terms["kl"].mean()), "active_units": float(active_units(mu)),
            "nll_bound": float((terms["reconstruction"] + terms["kl"]).mean())}


def _one_run(s: Setting, spec: dict[str, Any], seed: int, X: np.ndarray,
             X_te: np.ndarray) -> dict[str, Any]:
    model = _build(s, spec, seed)
    flat = X.reshape(len(X), -1)
    t0 = time.perf_counter()
    hist = model.fit(flat, epochs=s.epochs, batch_size=s.batch_size, lr=s.lr, verbose=0,
                     rng=seed, validation=X_te.reshape(len(X_te), -1))
    seconds = time.perf_counter() - t0
    row = {**_evaluate(model, X_te, seed), "seconds": seconds}
    row["kl_per_epoch"] = [float(v) for v in hist["kl"]]
    row["active_per_epoch"] = [int(v) for v in hist["active_units"]]
    return row


def summarise(rows: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, tuple[float, float]]]:
    """label -> column -> (mean, std over seeds) for the table's columns: the final test KL,
    active units, NLL bound and seconds, and the lowest training KL and active units of any
    epoch ("min_kl", "min_active": a collapse may be followed by a partial recovery)."""
    def value(r: dict[str, Any], c: str) -> float:
        if c == "min_kl":
            return min(r["kl_per_epoch"])
        return min(r["active_per_epoch"]) if c == "min_active" else r[c]

    cols = ("kl", "active_units", "min_kl", "min_active", "nll_bound", "seconds")
    return {label: {c: (float(np.mean([value(r, c) for r in rs])),
                        float(np.std([value(r, c) for r in rs]))) for c in cols}
            for label, rs in rows.items()}


def format_table(summary: dict[str, dict[str, tuple[float, float]]], latent: int) -> str:
    """The markdown table (mean +- std over seeds)."""
    lines = [f"| model | final test KL (nats) | active units (of {latent}) | lowest KL of an "
             "epoch | fewest active units of an epoch | test NLL bound (nats) | seconds |",
             "|---|---|---|---|---|---|---|"]
    for label, c in summary.items():
        lines.append(f"| {label} | {c['kl'][0]:.2f} ± {c['kl'][1]:.2f} | "
                     f"{c['active_units'][0]:.1f} ± {c['active_units'][1]:.1f} | "
                     f"{c['min_kl'][0]:.2f} ± {c['min_kl'][1]:.2f} | "
                     f"{c['min_active'][0]:.1f} ± {c['min_active'][1]:.1f} | "
                     f"{c['nll_bound'][0]:.2f} ± {c['nll_bound'][1]:.2f} | "
                     f"{c['seconds'][0]:.0f} ± {c['seconds'][1]:.0f} |")
    return "\n".join(lines)


def plot_collapse(rows: dict[str, list[dict[str, Any]]], path: Path, floor: float):
    """KL per epoch (left) and active units per epoch (right), one line per model and seed."""
    import matplotlib.pyplot as plt

    from minivae import plots

    fig, (ax_kl, ax_au) = plt.subplots(1, 2, figsize=(11, 4))
    for i, (label, rs) in enumerate(rows.items()):
        colour = f"C{i}"
        for j, r in enumerate(rs):
            epochs = np.arange(1, len(r["kl_per_epoch"]) + 1)
            ax_kl.plot(epochs, r["kl_per_epoch"], color=colour, alpha=0.9 - 0.3 * j,
                       label=label if j == 0 else None)
            ax_au.plot(epochs, r["active_per_epoch"], color=colour, alpha=0.9 - 0.3 * j,
                       marker="o", ms=3, label=label if j == 0 else None)
    ax_kl.axhline(floor, color="grey", ls=":", lw=1, label="committed rate delta")
    ax_kl.set(xlabel="epoch", ylabel="training KL (nats / image, log scale)", yscale="log",
              title="KL per epoch")
    ax_au.set(xlabel="epoch", ylabel="active units (test images)", title="Active units")
    ax_kl.legend(fontsize=8)
    fig.tight_layout()
    return plots.finish(fig, path, dpi=100)


def _load(args: argparse.Namespace, s: Setting) -> tuple[np.ndarray, np.ndarray]:
    from minivae.data.mnist import load_mnist

    kw = {"verify": not getattr(args, "no_verify", False), "download": False}
    data_dir = getattr(args, "data_dir", None)
    X, _ = load_mnist(data_dir, split="train", limit=s.n_train, **kw)
    X_te, _ = load_mnist(data_dir, split="test", limit=s.n_test, **kw)
    return binarized_14(X), binarized_14(X_te)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the comparison with the options of ``python -m minivae.experiments posteriors``
    (``quick``, ``tiny``, ``seed`` / ``seeds``, ``out``, ``no_figures``, ``data_dir``,
    ``no_verify``; missing ones take their defaults).  Returns the record: "tables" (name ->
    markdown), "figures" (paths), "rows" (label -> one dict per seed, with the KL and active
    units per epoch), "summary", "setting", "mode", "seeds", "seconds"."""
    from minivae.experiments._cli import say

    t_start = time.perf_counter()
    mode = part_mode(args)
    s = SIZES[mode]
    seeds = part_seeds(args, s.n_seeds)
    say(f"posterior collapse ({mode}): {s.n_train} train / {s.n_test} test images 14x14, "
        f"H = {s.hidden}, L = {s.latent}, {s.epochs} epochs; seeds {list(seeds)}")
    X, X_te = _load(args, s)
    rows: dict[str, list[dict[str, Any]]] = {}
    for label, spec in model_specs(s):
        for seed in seeds:
            row = _one_run(s, spec, seed, X, X_te)
            rows.setdefault(label, []).append(row)
            say(f"  {label}, seed {seed}: KL {row['kl']:.2f}, active {row['active_units']:.0f}, "
                f"NLL bound {row['nll_bound']:.2f}, {row['seconds']:.0f} s")
    summary = summarise(rows)
    table = format_table(summary, s.latent)
    figures: list[str] = []
    if not getattr(args, "no_figures", False):
        out = Path(getattr(args, "out", Path("minivae_output") / "posteriors"))
        out.mkdir(parents=True, exist_ok=True)
        path = out / "posterior_collapse.png"
        from minivae.models.pixel_vae import PixelVAE
        floor = PixelVAE((14, 14), s.hidden, s.latent, delta=s.delta).rate_floor
        _close(plot_collapse(rows, path, floor))
        figures.append(str(path))
    return {"tables": {"collapse": table}, "figures": figures, "rows": rows,
            "summary": summary, "setting": asdict(s), "mode": mode, "seeds": list(seeds),
            "seconds": time.perf_counter() - t_start}


def _close(fig: Any) -> None:
    from minivae.plots import close

    close(fig)


def main(argv: list[str] | None = None) -> int:
    """``python -m minivae.experiments.posteriors_collapse [--quick] ...``: prints the table,
    writes the figure and ``results.json`` into ``--out``."""
    from minivae.experiments._cli import experiment_parser, say

    p = experiment_parser("posteriors", "Posterior collapse with an autoregressive decoder, "
                          "and its fixes (free bits, delta-VAE).",
                          "2000 / 500 images, 4 epochs (about a minute)")
    p.add_argument("--data-dir", default=None, help="MNIST folder (default $MINIVAE_DATA_DIR)")
    p.add_argument("--no-verify", action="store_true", help="skip the MNIST checksums")
    args = p.parse_args(argv)
    record = run(args)
    for table in record["tables"].values():
        say(table)
    import json

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "posteriors_collapse.json").write_text(json.dumps(record, indent=1, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
