"""``python -m minivae.experiments volatility``: completing implied-vol surfaces with beta-VAEs.

Volatility-surface completion with VAEs after Bergeron et al. (2021, "Variational
Autoencoders: A Hands-Off Approach to Volatility"); finance is one of the application areas the
review of Singh & Ogunfunmi (Entropy, 2022) surveys.  Unlike Bergeron et al., who use FX market
data, every surface here is generated (:mod:`minivae.apps.volatility`), so completions are
scored against the true surface:

1. **Data.**  Arbitrage-free SSVI surfaces with random parameters on an 8 x 11 grid (maturities
   1 month .. 2 years, log-moneyness -0.4 .. 0.4); every generated training surface is checked
   for calendar and butterfly arbitrage.
2. **Models.**  Two beta-VAEs on standardised vols: the *grid* form (the 88 vols in, 88 out) and
   the *pointwise* form (the decoder maps ``[z, t, k]`` to one vol).
3. **Completion.**  On new test surfaces 20 % of the grid points are observed, with quote noise
   (0.25 vol points by default).  Each VAE finds the MAP latent code for those points
   (:meth:`~minivae.apps.volatility.VolSurfaceVAE.complete`); the baselines are a least-squares SSVI
   fit (the *true* model family, so a strong reference), a **Heston** model calibrated to the
   same points (:func:`~minivae.apps.heston.calibrate_heston`; the baseline of Bergeron et al.'s
   table, a different model family from the data here), thin-plate, linear (membrane) and
   nearest-neighbour interpolation.  Scores: RMSE on the unobserved points in vol points, mean ±
   std over seeds, and the share of completed surfaces that pass the arbitrage checks.  Heston
   has no reliable vol where its out-of-the-money price is below 1e-12 of the forward (short
   maturity, far wings): its RMSE is over the points it covers, and the ``covered`` column gives
   that share of the unobserved points (1 for every other method); the arbitrage shares count
   the surfaces defined everywhere.
4. **Generation.**  New surfaces decoded from latent codes drawn from the prior N(0, I) and
   from a Gaussian KDE (Scott's rule) of the training surfaces' posterior means
   (:mod:`minivae.apps.vol_generation`); the table gives the share passing the calendar check,
   the butterfly check and both, next to the training and test sets' shares.

Options: ``--quick`` (smaller training, 20 test surfaces, 1 seed: under a minute on a free core),
``--seed S`` / ``--seeds A B C``, ``--out DIR`` (default ``minivae_output/volatility``),
``--fraction`` (observed share, default 0.2), ``--quote-noise`` (vol units, default 0.0025),
``--no-figures``.  Set ``OMP_NUM_THREADS=1`` on a shared machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from minivae.apps.heston import calibrate_heston
from minivae.apps.vol_generation import arbitrage_shares, generate_vol_surfaces, training_codes
from minivae.apps.volatility import (
    DEFAULT_LOG_MONEYNESS,
    DEFAULT_MATURITIES,
    VolSurfaceVAE,
    butterfly_ok,
    calendar_arbitrage_free,
    fit_ssvi,
    generate_surfaces,
    interpolate_surface,
    mask_random_points,
    rmse_vol_points,
)
from minivae.experiments._cli import (
    blas_threads_note,
    experiment_parser,
    parse_run,
    public,
    run_record,
    say,
    write_results,
)
from minivae.timeseries.metrics import mean_std


@dataclass(frozen=True)
class Setting:
    """Sizes of one run (``FULL``, ``QUICK``, ``TINY`` for the test suite)."""

    n_train: int = 3000
    n_test: int = 50
    latent: int = 4
    hidden: tuple[int, ...] = (64, 64)
    pointwise_decoder: tuple[int, ...] = (48, 48)
    decoder_variance: float = 1e-3
    grid_epochs: int = 40
    pointwise_epochs: int = 40
    pointwise_train: int = 3000
    beta_variant: float = 4.0  # an extra grid beta-VAE row (0 = none)
    complete_steps: int = 300
    complete_restarts: int = 6
    ssvi_starts: int = 6
    ssvi_iter: int = 50
    heston_starts: int = 4
    heston_iter: int = 30
    heston_nodes: int = 32  # Gauss-Legendre nodes per quadrature panel while fitting
    n_seeds: int = 3
    n_generate: int = 1000  # surfaces generated per VAE and latent source


FULL = Setting()
QUICK = Setting(n_train=1500, n_test=20, pointwise_decoder=(32, 32), grid_epochs=30,
                pointwise_epochs=20, pointwise_train=1000, beta_variant=0.0,
                complete_steps=200, complete_restarts=4, ssvi_starts=4, ssvi_iter=40,
                heston_starts=3, heston_iter=20, heston_nodes=16, n_seeds=1,
                n_generate=500)
TINY = Setting(n_train=200, n_test=4, hidden=(16,), pointwise_decoder=(8,), grid_epochs=3,
               pointwise_epochs=2, pointwise_train=100, beta_variant=0.0, complete_steps=20,
               complete_restarts=2, ssvi_starts=2, ssvi_iter=10, heston_starts=1, heston_iter=3,
               heston_nodes=8, n_seeds=1, n_generate=10)


def run_seed(s: Setting, seed: int, fraction: float, quote_noise: float,
             keep_example: bool = False) -> dict[str, Any]:
    """Train the VAEs and complete the test surfaces with every method, for one seed."""
    t, k = DEFAULT_MATURITIES, DEFAULT_LOG_MONEYNESS
    ss = np.random.SeedSequence([seed, 3])
    r_train, r_test, r_mask, r_noise, r_fit = (np.random.default_rng(c) for c in ss.spawn(5))
    train, _ = generate_surfaces(s.n_train, r_train)
    arb_free = np.mean([calendar_arbitrage_free(x) and butterfly_ok(x) for x in train])
    test, _ = generate_surfaces(s.n_test, r_test)
    mask = mask_random_points(test.shape, fraction, r_mask)
    quotes = test + quote_noise * r_noise.standard_normal(test.shape)
    observed = np.where(mask, quotes, np.nan)
    noise_std = max(quote_noise, 0.002)  # the MAP noise also absorbs model error

    models = {
        "VAE grid (beta=1)": VolSurfaceVAE(form="grid", hidden_sizes=s.hidden,
                                           latent_dim=s.latent,
                                           decoder_variance=s.decoder_variance, rng=seed),
        "VAE pointwise (beta=1)": VolSurfaceVAE(form="pointwise", hidden_sizes=s.hidden,
                                                latent_dim=s.latent,
                                                decoder_hidden=s.pointwise_decoder,
                                                decoder_variance=s.decoder_variance, rng=seed),
    }
    if s.beta_variant:
        models[f"VAE grid (beta={s.beta_variant:g})"] = VolSurfaceVAE(
            form="grid", hidden_sizes=s.hidden, latent_dim=s.latent, beta=s.beta_variant,
            decoder_variance=s.decoder_variance, rng=seed)
    completed: dict[str, np.ndarray] = {}
    latents: dict[str, np.ndarray] = {}
    seconds: dict[str, dict[str, float]] = {}
    for name, model in models.items():
        t0 = time.perf_counter()
        pointwise = model.form == "pointwise"
        model.fit(train[: s.pointwise_train] if pointwise else train,
                  epochs=s.pointwise_epochs if pointwise else s.grid_epochs, rng=seed)
        t1 = time.perf_counter()
        completed[name], latents[name] = model.complete(
            observed, mask, noise_std=noise_std, n_steps=s.complete_steps,
            n_restarts=s.complete_restarts, rng=seed, return_latent=True)
        seconds[name] = {"train": t1 - t0, "complete": time.perf_counter() - t1}
    t0 = time.perf_counter()
    completed["SSVI least squares"], _ = fit_ssvi(observed, mask, n_starts=s.ssvi_starts,
                                                  n_iter=s.ssvi_iter, rng=r_fit)
    seconds["SSVI least squares"] = {"complete": time.perf_counter() - t0}
    t0 = time.perf_counter()
    completed["Heston least squares"], heston = calibrate_heston(
        observed, mask, n_starts=s.heston_starts, n_iter=s.heston_iter, n_nodes=s.heston_nodes,
        rng=r_fit)
    seconds["Heston least squares"] = {"complete": time.perf_counter() - t0}
    for method in ("thin_plate", "linear", "nearest"):
        t0 = time.perf_counter()
        completed[f"interpolation: {method}"] = interpolate_surface(observed, mask,
                                                                    method=method)
        seconds[f"interpolation: {method}"] = {"complete": time.perf_counter() - t0}

    missing = ~mask
    metrics = {}
    for name, est in completed.items():
        scored = missing & np.isfinite(est)  # Heston: NaN where it has no reliable vol
        per_surface = np.array([rmse_vol_points(est[i][scored[i]], test[i][scored[i]])
                                if scored[i].any() else np.nan for i in range(s.n_test)])
        pooled = rmse_vol_points(est[scored], test[scored])
        defined = [bool(np.all(np.isfinite(e))) for e in est]
        valid = [d and bool(np.all(e > 0)) for d, e in zip(defined, est)]
        n_def = max(sum(defined), 1)
        cal = sum(v and calendar_arbitrage_free(e, t, k, tol=1e-10)
                  for v, e in zip(valid, est)) / n_def
        fly = sum(v and butterfly_ok(e, t, k) for v, e in zip(valid, est)) / n_def
        metrics[name] = {"rmse": float(pooled), "median_surface_rmse": float(np.nanmedian(
            per_surface)), "calendar_ok": float(cal), "butterfly_ok": float(fly),
            "covered": float(scored.sum() / missing.sum()),
            "per_surface_rmse": per_surface.tolist()}
    generation = _generation(s, seed, models, train, test)
    metrics["Heston least squares"]["feller_share"] = float(np.mean([bool(p.feller)
                                                                     for p in heston]))
    run = {"seed": seed, "metrics": metrics, "seconds": seconds,
           "train_arbitrage_free": float(arb_free), "generation": generation}
    if keep_example:
        run["_example"] = {"test": test, "mask": mask, "observed": observed,
                           "completed": completed, "models": models, "latents": latents}
    return run


def _generation(s: Setting, seed: int, models: dict[str, VolSurfaceVAE], train: np.ndarray,
                test: np.ndarray) -> dict[str, dict[str, Any]]:
    """Arbitrage shares of the training set, the test set and surfaces generated by every VAE
    from the prior and from the KDE of its training codes (same calendar / butterfly
    tolerances as the completion table)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 4]))
    rows = {"training set": arbitrage_shares(train), "test set": arbitrage_shares(test)}
    for name, model in models.items():
        used = train[: s.pointwise_train] if model.form == "pointwise" else train
        codes = training_codes(model, used)
        label = name.replace("VAE ", "")
        for source in ("prior", "kde"):
            gen = generate_vol_surfaces(model, s.n_generate, rng, source=source, codes=codes
                                        if source == "kde" else None)
            rows[f"{label}: {source}"] = arbitrage_shares(gen)
    return rows


def format_generation_table(runs: list[dict]) -> str:
    """Share of surfaces free of calendar / butterfly / both arbitrages (mean over seeds)."""
    names = list(runs[0]["generation"])
    n_gen = runs[0]["generation"][names[-1]]["n"]
    lines = [f"Generated surfaces ({n_gen} per VAE and latent source) free of arbitrage, vs the "
             "data;", "sources: prior N(0, I), or a Gaussian KDE of the training codes (Scott's "
             "rule)",
             f"{'surfaces':<28} {'n':>6} {'calendar':>9} {'butterfly':>9} {'both':>7}"]
    for name in names:
        g = [run["generation"][name] for run in runs]
        cal, fly, both = (np.mean([x[key] for x in g]) for key in
                          ("calendar", "butterfly", "both"))
        lines.append(f"{name:<28} {g[0]['n']:>6} {cal:9.1%} {fly:9.1%} {both:7.1%}")
    return "\n".join(lines)


def format_table(runs: list[dict], fraction: float, quote_noise: float) -> str:
    names = list(runs[0]["metrics"])
    n_test = len(runs[0]["metrics"][names[0]]["per_surface_rmse"])
    seeds = [r["seed"] for r in runs]
    lines = [f"Surface completion from {fraction:.0%} of the {len(DEFAULT_MATURITIES)} x "
             f"{len(DEFAULT_LOG_MONEYNESS)} grid (quote noise {100 * quote_noise:.2f} vol pts), "
             f"{n_test} test surfaces per seed, seeds {seeds}",
             "RMSE on the unobserved points in vol points (mean ± std over seeds); median over "
             "surfaces; share of completed surfaces free of calendar / butterfly arbitrage",
             f"{'method':<28} {'RMSE':>13} {'median':>8} {'calendar':>9} {'butterfly':>9} "
             f"{'covered':>8} {'time [s]':>9}"]
    for name in names:
        r = np.array([run["metrics"][name]["rmse"] for run in runs])
        med = np.mean([run["metrics"][name]["median_surface_rmse"] for run in runs])
        cal = np.mean([run["metrics"][name]["calendar_ok"] for run in runs])
        fly = np.mean([run["metrics"][name]["butterfly_ok"] for run in runs])
        secs = np.mean([sum(run["seconds"][name].values()) for run in runs])
        cov = np.mean([run["metrics"][name].get("covered", 1.0) for run in runs])
        mean, sd = mean_std(r)
        rm = f"{mean:.3f}" + (f"±{sd:.3f}" if r.size > 1 else "")
        lines.append(f"{name:<28} {rm:>13} {med:8.3f} {cal:9.0%} {fly:9.0%} {cov:8.1%} "
                     f"{secs:9.1f}")
    feller = np.mean([run["metrics"]["Heston least squares"]["feller_share"] for run in runs])
    lines.append(f"Heston fits meeting the Feller condition 2 kappa theta >= sigma^2 (reported, "
                 f"not enforced): {feller:.0%}")
    return "\n".join(lines)


def _figures(run: dict, out: Path) -> list[str]:
    from minivae import plots

    plt = plots.plt

    ex = run["_example"]
    test, mask, completed = ex["test"], ex["mask"], ex["completed"]
    per = np.array(run["metrics"]["VAE grid (beta=1)"]["per_surface_rmse"])
    i = int(np.argsort(per)[len(per) // 2])  # a typical surface: median VAE error
    t, k = DEFAULT_MATURITIES, DEFAULT_LOG_MONEYNESS
    shown = ["VAE grid (beta=1)", "VAE pointwise (beta=1)", "SSVI least squares",
             "interpolation: thin_plate", "interpolation: linear"]
    vmin, vmax = 100 * test[i].min(), 100 * test[i].max()
    fig, ax = plt.subplots(2, len(shown) + 1, figsize=(3.2 * (len(shown) + 1), 6.6),
                           constrained_layout=True)
    ext = (k[0], k[-1], 0, len(t))

    def heat(a, img, title, cmap="viridis", lo=vmin, hi=vmax):
        h = a.imshow(img, aspect="auto", origin="lower", cmap=cmap, vmin=lo, vmax=hi,
                     extent=ext)
        a.set_yticks(np.arange(len(t)) + 0.5, [f"{x:.2g}" for x in t])
        a.set_title(title, fontsize=9)
        a.set_xlabel("log-moneyness k")
        return h

    heat(ax[0, 0], 100 * test[i], "true surface [vol %]")
    obs_img = np.where(mask[i], 100 * ex["observed"][i], np.nan)
    h = heat(ax[1, 0], obs_img, f"observed ({mask[i].sum()} of {mask[i].size} points)")
    ax[0, 0].set_ylabel("maturity [years]")
    ax[1, 0].set_ylabel("maturity [years]")
    err_max = max(np.abs(completed[n][i] - test[i]).max() for n in shown) * 100
    for j, name in enumerate(shown, start=1):
        rm = rmse_vol_points(completed[name][i], test[i], ~mask[i])
        heat(ax[0, j], 100 * completed[name][i], f"{name}\nRMSE {rm:.2f} vol pts")
        he = heat(ax[1, j], 100 * (completed[name][i] - test[i]), "error [vol pts]",
                  cmap="coolwarm", lo=-err_max, hi=err_max)
    fig.colorbar(h, ax=ax[0, :], shrink=0.8, label="implied vol [%]")
    fig.colorbar(he, ax=ax[1, :], shrink=0.8, label="error [vol pts]")
    p1 = out / "vol_completion_heatmaps.png"
    fig.savefig(p1, dpi=100)
    plt.close(fig)

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    kk = np.linspace(k[0], k[-1], 81)
    pw = ex["models"]["VAE pointwise (beta=1)"]
    z = ex["latents"]["VAE pointwise (beta=1)"][i:i + 1]
    for a, ti in zip(axes, (0, 3, 7)):
        a.plot(k, 100 * test[i, ti], "k-", lw=2, label="true")
        for name, style in (("VAE grid (beta=1)", "C0--"), ("SSVI least squares", "C2:"),
                            ("Heston least squares", "C4-"),
                            ("interpolation: thin_plate", "C3-.")):
            a.plot(k, 100 * completed[name][i, ti], style, label=name)
        a.plot(kk, 100 * pw.decode_at(z, np.full(kk.shape, t[ti]), kk)[0], "C1-", lw=1,
               label="VAE pointwise (off-grid k)")
        m = mask[i, ti]
        a.plot(k[m], 100 * ex["observed"][i, ti][m], "ko", ms=5, mfc="none", label="quotes")
        a.set_title(f"smile at t = {t[ti]:.2g} years")
        a.set_xlabel("log-moneyness k")
        a.set_ylabel("implied vol [%]")
    axes[0].legend(fontsize=7)
    p2 = plots.save(fig, out / "vol_smiles.png", dpi=100)
    return [str(p1), p2]


def _parser() -> argparse.ArgumentParser:
    p = experiment_parser(
        "volatility", "Implied-vol surface completion: grid and pointwise beta-VAEs vs SSVI and "
        "Heston fits and interpolation.", "smaller run, 1 seed (< 1 min)")
    p.add_argument("--fraction", type=float, default=0.2, help="observed share of grid points")
    p.add_argument("--quote-noise", type=float, default=0.0025,
                   help="std of the quote noise in vol units (0.0025 = 0.25 vol points)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the completion study, print the table, write figures and results.json."""
    parser = _parser()
    args, mode, s, seeds = parse_run(parser, argv, {"tiny": TINY, "quick": QUICK, "full": FULL})
    if not 0.0 < args.fraction <= 1.0:
        parser.error(f"--fraction must be in (0, 1], got {args.fraction}")
    if args.quote_noise < 0:
        parser.error(f"--quote-noise must be >= 0, got {args.quote_noise}")
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    say(f"volatility ({mode}): seeds {list(seeds)}, {s.n_train} training surfaces, latent "
        f"{s.latent}, {blas_threads_note()}")
    t_start = time.perf_counter()
    runs = []
    for seed in seeds:
        t0 = time.perf_counter()
        run = run_seed(s, seed, args.fraction, args.quote_noise,
                       keep_example=(seed == seeds[0] and not args.no_figures))
        runs.append(run)
        best = min(run["metrics"], key=lambda n: run["metrics"][n]["rmse"])
        say(f"  seed {seed}: training surfaces arbitrage-free {run['train_arbitrage_free']:.0%}"
            f"; best {best} ({run['metrics'][best]['rmse']:.3f} vol pts); "
            f"{time.perf_counter() - t0:.0f} s")
    say()
    say(format_table(runs, args.fraction, args.quote_noise))
    say()
    say(format_generation_table(runs))
    vae = np.array([r["metrics"]["VAE grid (beta=1)"]["rmse"] for r in runs])
    interp = np.array([r["metrics"]["interpolation: thin_plate"]["rmse"] for r in runs])
    say(f"check: VAE grid beats the best interpolation (thin plate) on every seed: "
        f"{'yes' if np.all(vae < interp) else 'NO'} (VAE {vae.mean():.3f} vs "
        f"{interp.mean():.3f} vol pts)")
    results: dict[str, Any] = {
        **run_record(mode, seeds, s, argv), "fraction": args.fraction,
        "quote_noise": args.quote_noise,
        "runs": [public(r) for r in runs],
    }
    figures = None if args.no_figures else _figures(runs[0], out)
    write_results(results, out, t_start, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
