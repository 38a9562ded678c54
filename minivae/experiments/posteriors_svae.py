"""S-VAE against the Gaussian VAE at small latent sizes on binarized MNIST: the low-dimensional
advantage of a uniform prior on the sphere (Davidson et al. 2018, Table 2: -log p(x) better for
the S-VAE at d = 2, 5, 10, worse at d = 20, 40).

Runnable alone (and as a part ``run(args) -> dict`` for ``python -m minivae.experiments
posteriors``)::

    python -m minivae.experiments.posteriors_svae [--quick] [--seed S | --seeds A B]
        [--latents 2 3 5] [--epochs E] [--data-dir DIR] [--no-verify] [--out DIR]

Per seed and dimension d, three Bernoulli VAEs 784-H-L: ``posterior="gaussian"`` with L = d
(N(0, I) prior on R^d), and ``posterior="vmf"`` (von Mises-Fisher posterior, uniform prior on
the sphere S^{L-1} in R^L) twice, with L = d (the same decoder input R^d, one degree of
freedom fewer) and L = d + 1 (the sphere S^d: the same number of degrees of freedom, d), all
trained alike by the ELBO with Adam (the settings, data and columns of
:mod:`~minivae.experiments.posteriors_families`: test -ELBO, importance-sampled -log p(x), their
gap, the KL, seconds; mean +- std over seeds).  Baseline row: independent pixels.

Sizes: those of :data:`~minivae.experiments.posteriors_families.SIZES` with d in (2, 3, 5)
(L = 10 is that part's own table), 2 seeds; ``--quick`` d in (2, 3); ``--tiny`` (tests) 8 x 8
generated images, d = 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path
from typing import Any

from minivae.experiments import posteriors_families as pf
from minivae.experiments._cli import say
from minivae.experiments._parts import part_mode, part_parser, part_seeds, report_part

__all__ = ["LATENTS", "main", "run"]

#: the dimensions d compared per mode
LATENTS = {"full": (2, 3, 5), "quick": (2, 3), "tiny": (2,)}
FAMILIES = ("gaussian", "vmf")


def _configs(latents: tuple[int, ...]) -> list[tuple[str, str, int]]:
    """(row label, family, L) in table order: per d, the Gaussian on R^d, the vMF on S^{d-1}
    (the same decoder input R^d) and the vMF on S^d (the same manifold dimension d)."""
    out: list[tuple[str, str, int]] = []
    for d in latents:
        out += [(f"gaussian, R^{d}", "gaussian", d),
                (f"vmf, S^{d - 1} in R^{d}", "vmf", d),
                (f"vmf, S^{d} in R^{d + 1}", "vmf", d + 1)]
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the comparison with the ``posteriors`` command's options (``quick``, ``tiny``,
    ``seed`` / ``seeds``, ``data_dir``, ``no_verify``) and its own ``latents`` and ``epochs``
    (overrides the size's); missing ones take their defaults.  Returns "tables" ({"svae":
    markdown}), "figures" (none), "rows", "summary", "setting", "mode", "data", "latents",
    "seeds", "seconds"."""
    t_start = time.perf_counter()
    mode = part_mode(args)
    s = pf.SIZES[mode]
    if getattr(args, "epochs", None):
        s = dataclasses.replace(s, epochs=int(args.epochs))
    seeds = part_seeds(args, s.n_seeds)
    latents = tuple(getattr(args, "latents", None) or LATENTS[mode])
    X, X_te, data = pf.load_images(args, s, mode)
    say(f"svae ({mode}): {data}, {len(X)} train / {len(X_te)} test; VAE {X.shape[1]}-"
        f"{s.hidden}-L, d in {list(latents)}, {s.epochs} epochs, K = {s.k}; seeds {list(seeds)}")
    pf.warm_up(X)
    rows: dict[str, list[dict[str, float]]] = {
        pf.BASELINE: [{"neg_ll": pf.pixel_baseline_nll(X, X_te)}]}
    done: dict[tuple[str, int], list[dict[str, float]]] = {}  # S^2 is in two pairs: run once
    for label, family, L in _configs(latents):
        if (family, L) not in done:
            done[family, L] = []
            for seed in seeds:
                row = pf.train_one(family, dataclasses.replace(s, latent=L), seed, X, X_te)
                done[family, L].append(row)
                say(f"  [{label}, seed {seed}] "
                    + ", ".join(f"{k} {v:.2f}" for k, v in row.items()))
        rows[label] = done[family, L]
    summary = pf.summarise(rows)
    return {"tables": {"svae": pf.format_table(summary)}, "figures": [], "rows": rows,
            "summary": summary, "setting": dataclasses.asdict(s), "mode": mode, "data": data,
            "latents": list(latents), "seeds": list(seeds),
            "seconds": time.perf_counter() - t_start}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Command line of the part alone."""
    p = part_parser("posteriors_svae", "S-VAE vs Gaussian VAE at small latent sizes: test "
                    "-ELBO and importance-sampled -log p(x).", "small sizes (a minute or two)")
    p.add_argument("--latents", type=int, nargs="+", default=None,
                   help="dimensions d >= 2 (default: full 2 3 5, quick 2 3)")
    p.add_argument("--epochs", type=int, default=None, help="override the epochs of the size")
    p.add_argument("--data-dir", default=None, help="MNIST IDX folder ($MINIVAE_DATA_DIR)")
    p.add_argument("--no-verify", action="store_true", help="skip the MD5/size checks")
    p.add_argument("--out", type=Path, default=None, help="write results.json here")
    args = p.parse_args(argv)
    if args.epochs is not None and args.epochs < 1:
        p.error(f"--epochs must be >= 1, got {args.epochs}")
    if args.latents is not None and min(args.latents) < 2:
        p.error(f"--latents must be >= 2 (S^(d-1) needs d >= 2), got {args.latents}")
    return report_part(run(args), args.out)


if __name__ == "__main__":
    main()
