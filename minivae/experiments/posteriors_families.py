"""Posterior families on binarized MNIST: how tight is each one's ELBO, and how good is its model?

Part ``families`` of ``python -m minivae.experiments posteriors`` (:func:`run` takes that
command's options); also runnable alone::

    python -m minivae.experiments.posteriors_families [--quick] [--seed S | --seeds A B]
        [--data-dir DIR] [--no-verify] [--out DIR]

Per seed and family (every name in :data:`FAMILIES` that
:data:`~minivae.objectives.posteriors.POSTERIORS` holds): a Bernoulli VAE 784-H-L with
``posterior=family``, trained by the ELBO (Adam) on binarized training images (pixel > 0.5),
the same architecture, epochs and seeds for every family.  Columns, on the test images (mean
+- std over the seeds):

* -ELBO: minus the ELBO, nats per image (its expectation over q estimated with 10 samples per
  image; the KL in closed form where the family has one, else estimated from the same samples);
* -log p(x): minus the importance-sampled log-likelihood, the IWAE bound with K samples
  (:meth:`~minivae.models.VAE.log_likelihood`; a slight overestimate of -log p(x));
* gap: -ELBO minus -log p(x), what the posterior family leaves on the table;
* KL: the mean KL(q || p) (the rate);
* seconds: training time.

Baseline row: independent pixels with the training images' marginal probabilities (no latent
variable), its exact -log p(x).

Sizes: full 5000 / 500 images, 10 epochs, H = 200, L = 10, K = 100, 2 seeds; ``--quick``
2000 / 300 images, 5 epochs, H = 128, K = 50 (real MNIST when the files are there, else a
generated set of 12 x 12 bar images); ``--tiny`` (tests) 8 x 8 generated images.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from minivae.experiments._cli import say
from minivae.experiments._parts import part_mode, part_parser, part_seeds, report_part

__all__ = ["COLUMNS", "FAMILIES", "SIZES", "Setting", "format_table", "generated_images",
           "load_images", "main", "pixel_baseline_nll", "run", "summarise", "train_one",
           "warm_up"]

#: the families compared, in table order (those not registered in this version are skipped)
FAMILIES = ("gaussian", "rho", "iaf", "vmf")
BASELINE = "independent pixels (no latent)"
COLUMNS = (("neg_elbo", "-ELBO (nats)"), ("neg_ll", "-log p(x), IS"), ("gap", "gap"),
           ("kl", "KL"), ("seconds", "seconds"))


@dataclass(frozen=True)
class Setting:
    """Sizes of a run."""

    n_train: int
    n_test: int
    epochs: int
    hidden: int
    latent: int
    batch_size: int
    k: int
    n_seeds: int
    lr: float


SIZES: dict[str, Setting] = {
    "full": Setting(5000, 500, 10, 200, 10, 100, 100, 2, 1e-3),
    "quick": Setting(2000, 300, 5, 128, 10, 100, 50, 2, 1e-3),
    "tiny": Setting(60, 20, 1, 8, 3, 20, 5, 1, 1e-3),
}


def generated_images(n: int, side: int, seed: int) -> np.ndarray:
    """n binary side x side images of one to three random horizontal or vertical bars (seeded):
    a stand-in for MNIST when its files are absent.  Returns (n, side^2) float64 in {0, 1}."""
    rng = np.random.default_rng(seed)
    imgs = np.zeros((n, side, side))
    for img in imgs:
        for _ in range(int(rng.integers(1, 4))):
            pos, width = int(rng.integers(0, side - 1)), int(rng.integers(1, 3))
            if rng.random() < 0.5:
                img[pos:pos + width, :] = 1.0
            else:
                img[:, pos:pos + width] = 1.0
    return imgs.reshape(n, side * side)


def pixel_baseline_nll(X_train: np.ndarray, X_test: np.ndarray) -> float:
    """Mean -log p(x) of the test images under independent Bernoulli pixels with the training
    marginals (smoothed by one pseudo-count each way, so no probability is 0 or 1)."""
    p = (X_train.sum(axis=0) + 1.0) / (X_train.shape[0] + 2.0)
    ll = X_test @ np.log(p) + (1.0 - X_test) @ np.log1p(-p)
    return float(-ll.mean())


def load_images(args: argparse.Namespace, s: Setting,
                mode: str) -> tuple[np.ndarray, np.ndarray, str]:
    """(X_train, X_test, description): binarized MNIST, or generated images (tiny, or quick
    without the files)."""
    from minivae.data.mnist import load_mnist, mnist_available

    data_dir = getattr(args, "data_dir", None)
    if mode == "tiny" or (mode == "quick" and not mnist_available(data_dir)):
        side = 8 if mode == "tiny" else 12
        X = generated_images(s.n_train + s.n_test, side, 12345)
        return X[: s.n_train], X[s.n_train:], f"generated {side}x{side} bar images"
    kw = {"verify": not getattr(args, "no_verify", False), "download": False}
    X, _ = load_mnist(data_dir, split="train", limit=s.n_train, **kw)
    X_te, _ = load_mnist(data_dir, split="test", limit=s.n_test, **kw)
    return (X > 0.5).astype(np.float64), (X_te > 0.5).astype(np.float64), "binarized MNIST"


def train_one(family: str, s: Setting, seed: int, X: np.ndarray, X_te: np.ndarray) -> dict:
    """Train one family with one seed; its row of numbers."""
    from minivae.models import VAE

    model = VAE(X.shape[1], [s.hidden], s.latent, posterior=family, rng=seed)
    t0 = time.perf_counter()
    model.fit(X, epochs=s.epochs, batch_size=s.batch_size, lr=s.lr, rng=seed, verbose=0,
              diagnostics=False)
    say(f"  [{family}, seed {seed}] trained in {time.perf_counter() - t0:.1f} s")
    seconds = time.perf_counter() - t0
    rng = np.random.default_rng([seed, 7])
    neg_elbo = float(-model.elbo(X_te, rng, n_samples=10).mean())
    neg_ll = float(-model.log_likelihood(X_te, k=s.k, rng=rng).mean())
    kl = float(model.per_example_loss(X_te, rng=rng)["kl"].mean())
    return {"neg_elbo": neg_elbo, "neg_ll": neg_ll, "gap": neg_elbo - neg_ll, "kl": kl,
            "seconds": seconds}


def warm_up(X: np.ndarray) -> None:
    """One tiny fit first, so no family's seconds include the one-off compilation of the
    training loop's compiled parts."""
    from minivae.models import VAE

    VAE(X.shape[1], [4], 2, rng=0).fit(X[:8], epochs=1, batch_size=8, rng=0, verbose=0,
                                       diagnostics=False)


def summarise(rows: dict[str, list[dict[str, float]]]) -> dict[str, dict[str, list[float]]]:
    """label -> column -> [mean, std over seeds (0 for one seed)] (columns a row has)."""
    out: dict[str, dict[str, list[float]]] = {}
    for label, per_seed in rows.items():
        out[label] = {}
        for key, _ in COLUMNS:
            if key in per_seed[0]:
                v = np.array([r[key] for r in per_seed], dtype=np.float64)
                out[label][key] = [float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0]
    return out


def format_table(summary: dict[str, dict[str, list[float]]]) -> str:
    """Markdown table, mean ± std over seeds ("–" where a row has no such column; the
    baseline, which no seed changes, as one number)."""
    digits = {"neg_elbo": 2, "neg_ll": 2, "gap": 2, "kl": 2, "seconds": 1}
    lines = ["| posterior | " + " | ".join(name for _, name in COLUMNS) + " |",
             "|---" * (len(COLUMNS) + 1) + "|"]
    for label, cols in summary.items():
        cells = [("–" if k not in cols else f"{cols[k][0]:.{digits[k]}f}" if label == BASELINE
                  else f"{cols[k][0]:.{digits[k]}f} ± {cols[k][1]:.{digits[k]}f}")
                 for k, _ in COLUMNS]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the comparison with the options of ``python -m minivae.experiments posteriors``
    (``quick``, ``tiny``, ``seed`` / ``seeds``, ``data_dir``, ``no_verify``; missing ones take
    their defaults).  Returns "tables" (name -> markdown), "figures" (none), "rows",
    "summary", "setting", "mode", "data", "families", "seeds", "seconds"."""
    from minivae.objectives.posteriors import POSTERIORS

    t_start = time.perf_counter()
    mode = part_mode(args)
    s = SIZES[mode]
    seeds = part_seeds(args, s.n_seeds)
    families = [f for f in FAMILIES if f in POSTERIORS]
    X, X_te, data = load_images(args, s, mode)
    say(f"families ({mode}): {data}, {len(X)} train / {len(X_te)} test; VAE {X.shape[1]}-"
        f"{s.hidden}-{s.latent}, {s.epochs} epochs, K = {s.k}; {families}; seeds {list(seeds)}")
    warm_up(X)
    rows: dict[str, list[dict[str, float]]] = {BASELINE: [{"neg_ll": pixel_baseline_nll(X, X_te)}]}
    for family in families:
        for seed in seeds:
            row = train_one(family, s, seed, X, X_te)
            rows.setdefault(family, []).append(row)
            say(f"  [{family}, seed {seed}] " + ", ".join(f"{k} {v:.2f}" for k, v in row.items()))
    summary = summarise(rows)
    return {"tables": {"families": format_table(summary)}, "figures": [], "rows": rows,
            "summary": summary, "setting": asdict(s), "mode": mode, "data": data,
            "families": families, "seeds": list(seeds),
            "seconds": time.perf_counter() - t_start}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Command line of the part alone (the options of the ``posteriors`` command it uses)."""
    p = part_parser("posteriors_families", "Test -ELBO and importance-sampled -log p(x) of a "
                    "VAE per posterior family.", "small sizes (about a minute)")
    p.add_argument("--data-dir", default=None, help="MNIST IDX folder ($MINIVAE_DATA_DIR)")
    p.add_argument("--no-verify", action="store_true", help="skip the MD5/size checks")
    p.add_argument("--out", type=Path, default=None, help="write results.json here")
    args = p.parse_args(argv)
    return report_part(run(args), args.out)


if __name__ == "__main__":
    main()
