"""S-VAE against the Gaussian VAE at small latent sizes on binarized MNIST: the low-dimensional
advantage of a uniform prior on the sphere (Davidson et al. 2018, Table 2: -log p(x) better for
the S-VAE at d = 2, 5, 10, worse at d = 20, 40).

Runnable alone (and as a part ``run(args) -> dict`` for ``python -m minivae.experiments
posteriors``)::

    python -m minivae.experiments.posteriors_svae [--quick] [--seed S | --seeds A B]
        [--latents 2 3 5] [--data-dir DIR] [--no-verify] [--out DIR]

Per seed and latent size L: two Bernoulli VAEs 784-H-L, ``posterior="gaussian"`` (N(0, I)
prior on R^L) and ``posterior="vmf"`` (von Mises-Fisher posterior and uniform prior on the
sphere S^{L-1} in R^L: the same decoder input size, one degree of freedom fewer), trained alike
by the ELBO with Adam (the settings, data and columns of
:mod:`~minivae.experiments.posteriors_families`: test -ELBO, importance-sampled -log p(x), their
gap, the KL, seconds; mean +- std over seeds).  Baseline row: independent pixels.

Sizes: those of :data:`~minivae.experiments.posteriors_families.SIZES` with L in (2, 3, 5)
(L = 10 is that part's own table), 2 seeds; ``--quick`` L in (2, 3); ``--tiny`` (tests) 8 x 8
generated images, L = 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path
from typing import Any

from minivae.experiments import posteriors_families as pf
from minivae.experiments._cli import say

__all__ = ["LATENTS", "main", "run"]

#: the latent sizes compared per mode
LATENTS = {"full": (2, 3, 5), "quick": (2, 3), "tiny": (2,)}
FAMILIES = ("gaussian", "vmf")


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the comparison with the ``posteriors`` command's options (``quick``, ``tiny``,
    ``seed`` / ``seeds``, ``data_dir``, ``no_verify``, and ``latents``; missing ones take their
    defaults).  Returns "tables" ({"svae": markdown}), "figures" (none), "rows", "summary",
    "setting", "mode", "data", "latents", "seeds", "seconds"."""
    t_start = time.perf_counter()
    mode = pf._mode(args)
    s = pf.SIZES[mode]
    seeds = pf._seeds(args, s.n_seeds)
    latents = tuple(getattr(args, "latents", None) or LATENTS[mode])
    X, X_te, data = pf._load(args, s, mode)
    say(f"svae ({mode}): {data}, {len(X)} train / {len(X_te)} test; VAE {X.shape[1]}-"
        f"{s.hidden}-L, L in {list(latents)}, {s.epochs} epochs, K = {s.k}; seeds {list(seeds)}")
    pf._warm_up(X)
    rows: dict[str, list[dict[str, float]]] = {
        pf.BASELINE: [{"neg_ll": pf.pixel_baseline_nll(X, X_te)}]}
    for L in latents:
        for family in FAMILIES:
            label = f"{family}, L = {L}"
            for seed in seeds:
                row = pf._one(family, dataclasses.replace(s, latent=L), seed, X, X_te)
                rows.setdefault(label, []).append(row)
                say(f"  [{label}, seed {seed}] "
                    + ", ".join(f"{k} {v:.2f}" for k, v in row.items()))
    summary = pf.summarise(rows)
    return {"tables": {"svae": pf.format_table(summary)}, "figures": [], "rows": rows,
            "summary": summary, "setting": dataclasses.asdict(s), "mode": mode, "data": data,
            "latents": list(latents), "seeds": list(seeds),
            "seconds": time.perf_counter() - t_start}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Command line of the part alone."""
    p = argparse.ArgumentParser(prog="python -m minivae.experiments.posteriors_svae",
                                description="S-VAE vs Gaussian VAE at small latent sizes: "
                                            "test -ELBO and importance-sampled -log p(x).")
    p.add_argument("--quick", action="store_true", help="small sizes (a minute or two)")
    p.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--seed", type=int, default=0, help="first seed (seeds S, S+1)")
    p.add_argument("--seeds", type=int, nargs="+", default=None, help="explicit seeds")
    p.add_argument("--latents", type=int, nargs="+", default=None,
                   help="latent sizes L >= 2 (default: full 2 3 5, quick 2 3)")
    p.add_argument("--data-dir", default=None, help="MNIST IDX folder ($MINIVAE_DATA_DIR)")
    p.add_argument("--no-verify", action="store_true", help="skip the MD5/size checks")
    p.add_argument("--out", type=Path, default=None, help="write results.json here")
    args = p.parse_args(argv)
    if args.latents is not None and min(args.latents) < 2:
        p.error(f"--latents must be >= 2 (a sphere S^(L-1) needs L >= 2), got {args.latents}")
    record = run(args)
    for table in record["tables"].values():
        say(table)
    say(f"{record['seconds']:.1f} s")
    if args.out is not None:
        import json

        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "results.json").write_text(json.dumps(record, indent=1))
    return record


if __name__ == "__main__":
    main()
