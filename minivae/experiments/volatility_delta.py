r"""``python -m minivae.experiments volatility-delta``: completion on the 8 x 5 delta grid.

The setting of Bergeron, Fung, Hull & Poulos (2021), as the review of Singh & Ogunfunmi (Entropy,
2022, section 7.1 and its Table 1) reports it: surfaces on 40 nodes, 8 maturities (1, 2, 3, 6, 9
months, 1, 1.5, 2 years: :data:`minivae.apps.volatility.DEFAULT_MATURITIES`) x 5 call deltas
(0.1, 0.25, 0.5, 0.75, 0.9: the 10- and 25-delta calls, ATM, the 25- and 10-delta puts), a
**pointwise** VAE decoder ``vol = dec([z, t~, delta~])`` with **latent size 4**, and the
completion error from a few observed nodes against a **Heston model calibrated to the same
points**, as a function of the number of observed points.

* **Data**: SSVI surfaces (:func:`minivae.apps.volatility.sample_ssvi_params`, arbitrage-free by
  construction) read at the delta nodes (:func:`minivae.apps.delta_grid.delta_nodes`: the strike
  of each node solves ``k = sigma(k)^2 t / 2 - sigma(k) sqrt(t) N^-1(delta)``).  Bergeron et al.
  used FX market surfaces; ours are generated, so the true surface behind every quote is known.
* **VAE**: :class:`minivae.apps.volatility.VolSurfaceVAE` (pointwise form, coordinates
  (t, delta) scaled to [-1, 1]), MAP completion of the latent code from the observed nodes.
* **Heston**: each observed quote (t, delta, sigma) is turned into its strike with
  :func:`~minivae.apps.delta_grid.log_moneyness_from_delta` (exact, given the quote), the five
  Heston parameters are fitted to those (t, k) quotes (:func:`minivae.apps.heston.calibrate_heston`:
  characteristic-function prices, Levenberg-Marquardt), and the fitted model is read at the
  delta nodes.  It needs >= 5 points.
* **Mean surface** (a floor): the training mean surface shifted by the mean observed difference.
* **Score**: mean absolute error in vol points (0.01) over the unobserved nodes of the test
  surfaces; observed nodes are drawn at random per surface (seeded), quotes without noise.

Options: ``--quick`` (fewer surfaces, 5 and 10 points, one seed), ``--seed``/``--seeds``, ``--out``,
``--no-figures`` (this experiment draws no figure).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from minivae.apps.delta_grid import (
    DEFAULT_DELTAS,
    delta_nodes,
    heston_vol_fn,
    log_moneyness_from_delta,
    ssvi_vol_fn,
)
from minivae.apps.heston import calibrate_heston
from minivae.apps.volatility import (
    DEFAULT_MATURITIES,
    SSVIParams,
    VolSurfaceVAE,
    sample_ssvi_params,
)
from minivae.experiments._cli import (
    blas_threads_note,
    experiment_parser,
    parse_run,
    run_each_seed,
    run_record,
    say,
    write_results,
)

METHODS = ("VAE pointwise (L=4)", "Heston calibrated", "mean surface + shift")


@dataclass(frozen=True)
class Setting:
    """Sizes of one run (``FULL``, ``QUICK``, ``TINY`` for the tests)."""

    n_train: int = 2000
    n_test: int = 20
    n_observed: tuple[int, ...] = (5, 10, 20)
    latent: int = 4
    hidden: tuple[int, ...] = (64, 64)
    decoder_hidden: tuple[int, ...] = (48, 48)
    decoder_variance: float = 1e-3
    epochs: int = 40
    complete_steps: int = 300
    complete_restarts: int = 6
    noise_std: float = 0.002  # the MAP noise in vol units (absorbs model error)
    heston_starts: int = 3
    heston_iter: int = 25
    heston_nodes: int = 24
    n_seeds: int = 2


FULL = Setting()
QUICK = Setting(n_train=1000, n_test=10, n_observed=(5, 10), decoder_hidden=(32, 32),
                epochs=25, complete_steps=200, complete_restarts=4, heston_starts=2,
                heston_iter=15, heston_nodes=16, n_seeds=1)
TINY = Setting(n_train=40, n_test=2, n_observed=(5,), hidden=(8,), decoder_hidden=(8,),
               epochs=2, complete_steps=10, complete_restarts=1, heston_starts=1,
               heston_iter=2, heston_nodes=8, n_seeds=1)


def delta_surfaces(n: int, rng: np.random.Generator) -> np.ndarray:
    """n SSVI surfaces at the 8 x 5 delta nodes: (n, 8, 5)."""
    p = sample_ssvi_params(n, rng)
    return np.stack([delta_nodes(ssvi_vol_fn(SSVIParams(*(float(a[i]) for a in p))))[0]
                     for i in range(n)])


def random_masks(n: int, n_obs: int, rng: np.random.Generator,
                 shape: tuple[int, int] = (8, 5)) -> np.ndarray:
    """n boolean masks of ``shape`` with exactly ``n_obs`` True entries each."""
    size = shape[0] * shape[1]
    masks = np.zeros((n, size), dtype=bool)
    for i in range(n):
        masks[i, rng.choice(size, n_obs, replace=False)] = True
    return masks.reshape(n, *shape)


def heston_complete(quotes: np.ndarray, mask: np.ndarray, s: Setting,
                    rng: np.random.Generator) -> np.ndarray:
    """Calibrate Heston to the observed delta quotes of one surface (8, 5); return its vols at
    the delta nodes (NaN where the fitted model has no reliable vol)."""
    t = DEFAULT_MATURITIES
    ti, di = np.nonzero(mask)
    k_obs = log_moneyness_from_delta(DEFAULT_DELTAS[di], t[ti], quotes[ti, di])
    # A (t, k) grid holding exactly the observed points: each quote gets its own k column.
    order = np.argsort(k_obs)
    grid_iv = np.full((t.shape[0], k_obs.shape[0]), np.nan)
    grid_mask = np.zeros(grid_iv.shape, dtype=bool)
    grid_iv[ti[order], np.arange(k_obs.shape[0])] = quotes[ti, di][order]
    grid_mask[ti[order], np.arange(k_obs.shape[0])] = True
    _, params = calibrate_heston(grid_iv, grid_mask, t, k_obs[order], n_starts=s.heston_starts,
                                 n_iter=s.heston_iter, n_nodes=s.heston_nodes, rng=rng)
    try:
        return delta_nodes(heston_vol_fn(params[0]))[0]
    except (ValueError, RuntimeError):  # a fitted smile with no vol at some node
        return np.full(quotes.shape, np.nan)


def mae_vol_points(est: np.ndarray, truth: np.ndarray, scored: np.ndarray) -> float:
    """Mean |est - truth| over the scored entries, in vol points (0.01); NaN entries of est
    are left out."""
    ok = scored & np.isfinite(est)
    return float(100.0 * np.mean(np.abs(est[ok] - truth[ok]))) if ok.any() else float("nan")


def run_seed(s: Setting, seed: int) -> dict[str, Any]:
    """Train the VAE on one seed's surfaces and complete the test surfaces at every count."""
    r_train, r_test, r_mask, r_fit = (np.random.default_rng(c) for c in
                                      np.random.SeedSequence([seed, 41]).spawn(4))
    t0 = time.perf_counter()
    train, test = delta_surfaces(s.n_train, r_train), delta_surfaces(s.n_test, r_test)
    seconds: dict[str, float] = {"data": time.perf_counter() - t0}
    t0 = time.perf_counter()
    vae = VolSurfaceVAE(DEFAULT_MATURITIES, DEFAULT_DELTAS, form="pointwise",
                        hidden_sizes=s.hidden, latent_dim=s.latent,
                        decoder_hidden=s.decoder_hidden, decoder_variance=s.decoder_variance,
                        rng=seed).fit(train, epochs=s.epochs, rng=seed)
    seconds["VAE train"] = time.perf_counter() - t0
    mean_surface = train.mean(axis=0)
    table: dict[str, dict[str, float]] = {}
    for n_obs in s.n_observed:
        mask = random_masks(s.n_test, n_obs, r_mask)
        observed = np.where(mask, test, np.nan)
        est: dict[str, np.ndarray] = {}
        t0 = time.perf_counter()
        est[METHODS[0]] = vae.complete(observed, mask, noise_std=s.noise_std,
                                       n_steps=s.complete_steps,
                                       n_restarts=s.complete_restarts, rng=seed)
        seconds[f"VAE complete {n_obs}"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        est[METHODS[1]] = np.stack([heston_complete(test[i], mask[i], s, r_fit)
                                    for i in range(s.n_test)])
        seconds[f"Heston {n_obs}"] = time.perf_counter() - t0
        shift = np.array([np.mean(test[i][mask[i]] - mean_surface[mask[i]])
                          for i in range(s.n_test)])
        est[METHODS[2]] = mean_surface[None] + shift[:, None, None]
        table[str(n_obs)] = {m: mae_vol_points(e, test, ~mask) for m, e in est.items()}
        table[str(n_obs)]["Heston covered"] = float(np.mean(np.isfinite(est[METHODS[1]])))
    return {"seed": seed, "mae": table, "seconds": seconds}


def format_table(runs: list[dict[str, Any]], s: Setting) -> str:
    """Rows: number of observed points; columns: MAE (vol points) of each method."""
    lines = ["| observed points (of 40) | " + " | ".join(f"{m} MAE" for m in METHODS)
             + " | Heston s / surface |", "|---" * (len(METHODS) + 2) + "|"]
    for n_obs in s.n_observed:
        cells = []
        for m in METHODS:
            v = np.array([r["mae"][str(n_obs)][m] for r in runs])
            cells.append(f"{v.mean():.2f} +- {v.std():.2f}" if len(v) > 1 else f"{v[0]:.2f}")
        secs = np.mean([r["seconds"][f"Heston {n_obs}"] for r in runs]) / s.n_test
        lines.append(f"| {n_obs} | " + " | ".join(cells) + f" | {secs:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the delta-grid completion study, print the table, write results.json."""
    parser = experiment_parser("volatility-delta", "Vol-surface completion on the 8 x 5 "
                               "(maturity, delta) grid: pointwise VAE (latent 4) vs Heston.",
                               "smaller run, 1 seed")
    args, mode, s, seeds = parse_run(parser, argv, {"tiny": TINY, "quick": QUICK, "full": FULL})
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    say(f"volatility-delta ({mode}): seeds {list(seeds)}, {s.n_train} training / {s.n_test} "
        f"test surfaces on 8 maturities x 5 deltas, latent {s.latent}, {blas_threads_note()}")
    t_start = time.perf_counter()
    runs = run_each_seed(run_seed, s, seeds)
    say(format_table(runs, s))
    write_results({**run_record(mode, seeds, s, argv), "runs": runs}, out, t_start, None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
