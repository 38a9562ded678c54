"""``python -m minivae.experiments separation-sweep``: the review's separation sweeps, with violins.

Singh & Ogunfunmi (Entropy, 2022, section 8, figures 21-22) separate TIMIT male / female speech
with a VAE per source on STFT magnitudes and sweep the STFT settings, the latent size, the batch
size, beta, and the ITL autoencoder's code size, then compare VAE, beta-VAE and ITL-AE; they show
SDR / SIR / SAR over the test mixtures as violin plots.  This experiment runs the same sweeps on
**synthetic** voices (:func:`minivae.data.voices.voice_pair`: a low voice, 85-155 Hz with men's
formants, and a high voice, 165-255 Hz with formants x 1.17; source-filter model with vibrato), at
8 kHz, because minivae ships no speech corpus.  Numbers are therefore not comparable one to one
with the review's: the review's figures give distributions only (no table of values), so the
tables below stand beside its figures, not beside its numbers.

Recipe (the same for every variant, so that a sweep changes one thing):

* One model per source is trained on the clean source's log-magnitude STFT frames (single frames,
  ``context = 1``): a VAE (:class:`minivae.apps.separation.SourceVAE`, the KL weight ``beta``) or
  an ITL-AE (:class:`minivae.models.itl_autoencoder.ITLAutoencoder`, Cauchy-Schwarz divergence to
  a standard-normal prior, weight ``itl_lambda``).  These are source *priors*
  (``encoder_input="source"`` of :class:`~minivae.apps.separation.SpectrogramVAESeparator`).
* Separation is that separator's ``method="refine"``: encode the mixture, then Adam steps on
  every code minimising the Itakura-Saito fit of the summed decoded spectra to the mixture plus
  the prior term; Wiener masks on the mixture STFT, mixture phase.  The ITL-AE's decoder plugs
  into the same refinement (:class:`ITLSourcePrior`); its prior term is the same ``||z||^2 / 2``.
* Scores: BSS-Eval SDR / SIR / SAR (:func:`minivae.apps.signal.bss_eval`) per test mixture and
  source; the table gives medians over (test mixtures x sources), beside the ideal ratio mask
  (:func:`~minivae.apps.separation.oracle_separation`, the ceiling at that STFT setting) and the
  unprocessed mixture (the floor).

Sweeps (``--sweep NAME ...``; default all):

* ``stft``: settings A-H = (window, overlap) (64, 16), (64, 32), (32, 8), (32, 16), (16, 8),
  (16, 4), (8, 4), (8, 2) ms; encoder [M, 256, 256, 128], decoder [256, 256, M] (latent 128,
  M = number of frequency bins).
* ``latent``: d in :attr:`Setting.latents`, encoder [129, 128, d], decoder [128, 129].  The
  review's "256 / 128" gives M = 129 bins, i.e. a 256-*sample* window with 128 samples overlap;
  at our 8 kHz that is 32 ms / 16 ms.
* ``batch``: batch sizes 1, 17, 34, 70 (latent-sweep architecture, d = :attr:`Setting.latent`).
* ``beta``: beta in :attr:`Setting.betas` (same architecture).
* ``itl``: the ITL-AE's code size 32, 64, 128, 256 (encoder [129, 128, code]).
* ``final``: VAE (beta 1) vs beta-VAE (beta :attr:`Setting.final_beta`) vs ITL-AE
  (code :attr:`Setting.final_code`), same architecture otherwise.

Every variant trains the same number of epochs (so batch size 1 takes many more steps).  Options:
``--quick`` (2 variants per sweep, fewer clips), ``--sweep``, ``--seed``, ``--out``,
``--no-figures``.  Figures: ``separation_sweep_<name>.png`` (violins of SDR, SIR, SAR).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from minivae._validation import check_array, check_positive_int, check_rng, check_scalar
from minivae.apps.base_vae import forward_with_vjp
from minivae.apps.separation import (
    SpectrogramVAESeparator,
    frames_to_patches,
    log_normalize,
    oracle_separation,
)
from minivae.apps.signal import bss_eval
from minivae.data.voices import voice_pair
from minivae.experiments._cli import (
    blas_threads_note,
    experiment_parser,
    parse_run,
    run_record,
    say,
    write_results,
)
from minivae.models.itl_autoencoder import ITLAutoencoder

__all__ = ["ITLSourcePrior", "SWEEPS", "Setting", "fit_itl_separator", "main", "run_sweep",
           "sweep_variants", "violin_figure"]

SWEEPS = ("stft", "latent", "batch", "beta", "itl", "final")
METRICS = ("sdr", "sir", "sar")
#: the review's STFT settings A-H: (window, overlap) in ms
STFT_SETTINGS = (("A", 64.0, 16.0), ("B", 64.0, 32.0), ("C", 32.0, 8.0), ("D", 32.0, 16.0),
                 ("E", 16.0, 8.0), ("F", 16.0, 4.0), ("G", 8.0, 4.0), ("H", 8.0, 2.0))


@dataclass(frozen=True)
class Setting:
    """Sizes of one run (``FULL``, ``QUICK`` and ``TINY`` for the test suite)."""

    fs: float = 8000.0
    n_train: int = 16  # training clips (train_s seconds each)
    train_s: float = 1.0
    n_test: int = 12  # test mixtures (test_s seconds each)
    test_s: float = 1.0
    epochs: int = 30
    max_examples: int = 2000  # training frames per model (random subset)
    batch_size: int = 34
    refine_steps: int = 150
    step_size: float = 0.05
    latent: int = 16  # d of the batch / beta / final sweeps
    latents: tuple[int, ...] = (2, 4, 8, 16, 32)
    batch_sizes: tuple[int, ...] = (1, 17, 34, 70)
    betas: tuple[float, ...] = (0.1, 0.5, 1.0, 2.0, 4.0)
    codes: tuple[int, ...] = (32, 64, 128, 256)
    final_beta: float = 4.0
    final_code: int = 64
    itl_lambda: float = 0.01
    itl_sigma: float = 1.0
    variants_per_sweep: int = 0  # 0 = all; else the first and the last variants only
    n_seeds: int = 1


FULL = Setting()
QUICK = Setting(n_train=8, n_test=6, epochs=8, max_examples=1000, refine_steps=40,
                variants_per_sweep=2)
TINY = Setting(fs=4000.0, n_train=2, train_s=0.6, n_test=2, test_s=0.6, epochs=2,
               max_examples=150, refine_steps=5, latents=(2, 4), batch_sizes=(17, 70),
               codes=(4, 8), latent=4, final_code=4, variants_per_sweep=2)


# ----------------------------------------------------------------------------------- variants
def _arch_129(s: Setting) -> dict[str, float]:
    """The review's 256-sample window with 128 samples overlap, in ms at ``s.fs``."""
    window = 256.0 / s.fs * 1000.0
    return {"window_ms": window, "overlap": 0.5}


def sweep_variants(name: str, s: Setting) -> list[dict[str, Any]]:
    """The variants of sweep ``name`` (one of :data:`SWEEPS`): dicts with "label", "model"
    ("vae" / "itl"), "window_ms", "overlap", "hidden", "latent", "beta", "batch_size"."""
    if name not in SWEEPS:
        raise ValueError(f"name must be one of {SWEEPS}, got {name!r}")
    base = {"model": "vae", **_arch_129(s), "hidden": (128,), "latent": s.latent, "beta": 1.0,
            "batch_size": s.batch_size}
    if name == "stft":
        out = [{**base, "label": f"{k} {w:g}/{o:g}", "window_ms": w, "overlap": o / w,
                "hidden": (256, 256), "latent": 128} for k, w, o in STFT_SETTINGS]
    elif name == "latent":
        out = [{**base, "label": f"d={d}", "latent": d} for d in s.latents]
    elif name == "batch":
        out = [{**base, "label": f"batch {b}", "batch_size": b} for b in s.batch_sizes]
    elif name == "beta":
        out = [{**base, "label": f"beta={b:g}", "beta": b} for b in s.betas]
    elif name == "itl":
        out = [{**base, "label": f"ITL code {c}", "model": "itl", "latent": c} for c in s.codes]
    else:
        out = [{**base, "label": "VAE"},
               {**base, "label": f"beta-VAE ({s.final_beta:g})", "beta": s.final_beta},
               {**base, "label": f"ITL-AE ({s.final_code})", "model": "itl",
                "latent": s.final_code}]
    if s.variants_per_sweep and len(out) > s.variants_per_sweep:
        out = [out[0], out[-1]]
    return out


# ----------------------------------------------------------------------------------- ITL-AE
class ITLSourcePrior:
    """An ITL-AE trained on one source's frames, seen by the separator's refinement as a VAE.

    :meth:`SpectrogramVAESeparator.separate` needs ``encode(u) -> (mu, logvar)``,
    ``decode(z)``, ``decode_with_grad(z) -> (mean, vjp)`` and ``output_dim``; the ITL-AE's code is
    deterministic, so ``encode`` returns it with a zero log-variance, and its "mse" decoder
    output is the mean itself.
    """

    def __init__(self, model: ITLAutoencoder) -> None:
        if not isinstance(model, ITLAutoencoder):
            raise TypeError(f"model must be an ITLAutoencoder, got {type(model).__name__}")
        self.model = model
        self.output_dim = model.input_dim
        self.latent_dim = model.latent_dim

    def encode(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """X (N, D) -> (z, zeros) each (N, L)."""
        z = self.model.encode(X)
        return z, np.zeros_like(z)

    def decode(self, z: np.ndarray) -> np.ndarray:
        """z (N, L) -> decoded frames (N, D)."""
        return self.model.decode(z)

    def decode_with_grad(self, z: np.ndarray):
        """(decoded frames (N, D), vjp(d frames) -> dz (N, L))."""
        z = check_array(z, "z", shape=(None, self.latent_dim), dtype=np.float64)
        self.model._pending = None
        return forward_with_vjp(self.model.decoder, z)


def fit_itl_separator(sep: SpectrogramVAESeparator, mixtures: np.ndarray, sources: np.ndarray,
                      *, epochs: int, batch_size: int = 64, lam: float = 0.01,
                      sigma: float = 1.0, max_examples: int | None = None,
                      rng: np.random.Generator | int = 0) -> SpectrogramVAESeparator:
    """Train one ITL-AE per source on its clean frames and install them in ``sep``.

    Inputs:
    - sep: an untrained separator with ``encoder_input="source"`` and ``context=1``; its
      ``hidden_sizes`` and ``latent_dim`` set the ITL-AE's (the code size).
    - mixtures (M, T), sources (M, K, T): as for :meth:`SpectrogramVAESeparator.fit` (the
      noise spectrum is learned from ``mixtures - sum(sources)`` the same way).
    - lam, sigma: the ITL-AE's divergence weight and Parzen bandwidth.

    Returns ``sep``, ready for ``separate``.
    """
    if not isinstance(sep, SpectrogramVAESeparator):
        raise TypeError(f"sep must be a SpectrogramVAESeparator, got {type(sep).__name__}")
    if sep.encoder_input != "source" or sep.context != 1:
        raise ValueError("sep must have encoder_input='source' and context=1, got "
                         f"{sep.encoder_input!r} and {sep.context}")
    mix = check_array(mixtures, "mixtures", ndim=2, dtype=np.float64)
    src = check_array(sources, "sources", ndim=3, dtype=np.float64)
    if src.shape[0] != mix.shape[0] or src.shape[2] != mix.shape[1]:
        raise ValueError(f"sources must have shape (M, K, T) = ({mix.shape[0]}, K, "
                         f"{mix.shape[1]}), got {src.shape}")
    epochs = check_positive_int(epochs, "epochs")
    lam = check_scalar(lam, "lam", low=0.0)
    rng = check_rng(rng)
    frames: list[list[np.ndarray]] = [[] for _ in range(src.shape[1])]
    noise = []
    for m in range(mix.shape[0]):
        X, scale = sep._spectra(mix[m], f"mixtures[{m}]")
        for k in range(src.shape[1]):
            S = sep._stft(src[m, k], f"sources[{m}, {k}]")
            frames[k].append(frames_to_patches(log_normalize(np.abs(S) / scale, sep.eps), 1))
        R = sep._stft(mix[m] - src[m].sum(axis=0), "mixtures - sum(sources)")
        noise.append(np.mean(np.abs(R / scale) ** 2, axis=0))
    sep.noise_psd = np.mean(noise, axis=0) if sep.noise_model else None
    sep.vaes = []
    for parts in frames:
        Y = np.concatenate(parts)
        if max_examples is not None and Y.shape[0] > max_examples:
            Y = Y[np.sort(rng.choice(Y.shape[0], size=max_examples, replace=False))]
        model = ITLAutoencoder(Y.shape[1], sep.vae_settings["hidden_sizes"], sep.latent_dim,
                               output="mse", lam=lam, sigma=sigma, rng=rng)
        model.fit(Y, epochs=epochs, batch_size=batch_size, lr=2e-3, rng=rng, verbose=0,
                  diagnostics=False)
        sep.vaes.append(ITLSourcePrior(model))
    return sep


# ----------------------------------------------------------------------------------- data
def voice_data(s: Setting, seed: int) -> tuple[np.ndarray, np.ndarray, list[tuple]]:
    """Training mixtures (M, T), their sources (M, 2, T), and test (mixture, sources) pairs."""
    ss = np.random.SeedSequence([seed, 20])
    seeds = [int(c.generate_state(1)[0]) for c in ss.spawn(s.n_train + s.n_test)]
    train = [voice_pair(s.train_s, s.fs, rng=r) for r in seeds[: s.n_train]]
    test = [voice_pair(s.test_s, s.fs, rng=r) for r in seeds[s.n_train:]]
    mix = np.stack([r[0] for r in train])
    src = np.stack([np.stack(r[1:]) for r in train])
    return mix, src, [(r[0], np.stack(r[1:])) for r in test]


# ----------------------------------------------------------------------------------- runs
def _train(s: Setting, v: dict[str, Any], data: tuple, seed: int) -> SpectrogramVAESeparator:
    mix, src, _ = data
    sep = SpectrogramVAESeparator(
        s.fs, window_ms=v["window_ms"], overlap=v["overlap"], context=1,
        hidden_sizes=v["hidden"], latent_dim=v["latent"], beta=v["beta"],
        encoder_input="source", rng=seed)
    if v["model"] == "itl":
        return fit_itl_separator(sep, mix, src, epochs=s.epochs, batch_size=v["batch_size"],
                                 lam=s.itl_lambda, sigma=s.itl_sigma,
                                 max_examples=s.max_examples, rng=seed)
    return sep.fit(mix, src, epochs=s.epochs, batch_size=v["batch_size"],
                   max_examples=s.max_examples, rng=seed)


def run_variant(s: Setting, v: dict[str, Any], data: tuple, seed: int) -> dict[str, Any]:
    """Train one variant and score it, the ideal ratio mask and the mixture on every test
    mixture: "scores" method -> metric -> (n_test, 2) lists."""
    t0 = time.perf_counter()
    sep = _train(s, v, data, seed)
    t_train = time.perf_counter() - t0
    scores = {m: {k: [] for k in METRICS} for m in ("model", "irm", "mixture")}
    for x, refs in data[2]:
        est = sep.separate(x, method="refine", n_steps=s.refine_steps, step_size=s.step_size)
        irm = oracle_separation(x, refs, s.fs, window_ms=v["window_ms"], overlap=v["overlap"])
        for name, e in (("model", est.sources), ("irm", irm), ("mixture", np.stack([x, x]))):
            r = bss_eval(e, refs)
            for k in METRICS:
                scores[name][k].append(getattr(r, k).tolist())
    return {**{k: (list(val) if isinstance(val, tuple) else val) for k, val in v.items()},
            "seed": seed, "scores": scores, "train_seconds": t_train,
            "seconds": time.perf_counter() - t0}


def run_sweep(name: str, s: Setting, seed: int, data: tuple | None = None) -> list[dict]:
    """Every variant of sweep ``name`` for one seed (data from :func:`voice_data`)."""
    variants = sweep_variants(name, s)
    data = voice_data(s, seed) if data is None else data
    runs = []
    for v in variants:
        run = run_variant(s, v, data, seed)
        runs.append(run)
        med = {k: np.median(run["scores"]["model"][k]) for k in METRICS}
        say(f"  [{name}] {v['label']:<16} SDR {med['sdr']:6.2f}  SIR {med['sir']:6.2f}  "
            f"SAR {med['sar']:6.2f} dB  (train {run['train_seconds']:.1f} s, total "
            f"{run['seconds']:.1f} s)")
    return runs


# ----------------------------------------------------------------------------------- output
def _median(run: dict, method: str, metric: str) -> float:
    return float(np.median(run["scores"][method][metric]))


def format_sweep(name: str, runs: list[dict]) -> str:
    """Medians over (test mixtures x sources) of SDR / SIR / SAR per variant, beside the ideal
    ratio mask (IRM) and the mixture: a markdown table."""
    lines = [f"| {name} | SDR | SIR | SAR | IRM SDR / SIR / SAR | mixture SDR / SIR / SAR | "
             "train s |", "|---|---|---|---|---|---|---|"]
    for r in runs:
        m = " | ".join(f"{_median(r, 'model', k):.2f}" for k in METRICS)
        irm = " / ".join(f"{_median(r, 'irm', k):.1f}" for k in METRICS)
        mix = " / ".join(f"{_median(r, 'mixture', k):.1f}" for k in METRICS)
        lines.append(f"| {r['label']} | {m} | {irm} | {mix} | {r['train_seconds']:.0f} |")
    return "\n".join(lines)


def violin_figure(name: str, runs: list[dict], path: str | Path) -> str:
    """Violins of SDR, SIR and SAR (one panel each) over test mixtures x sources, one violin per
    variant; the IRM's median as a black tick, the mixture's as a grey one.  Returns the path."""
    from minivae import plots

    if not runs:
        raise ValueError(f"runs of sweep {name!r} is empty: nothing to draw")
    plt = plots.plt
    fig, axes = plt.subplots(1, 3, figsize=(4.2 + 1.1 * len(runs) * 1.5, 3.8))
    pos = np.arange(1, len(runs) + 1)
    for ax, metric in zip(axes, METRICS):
        values = [np.ravel(r["scores"]["model"][metric]) for r in runs]
        ax.violinplot(values, positions=pos, showmedians=True, widths=0.8)
        ax.scatter(pos, [_median(r, "irm", metric) for r in runs], marker="_", s=300,
                   color="k", label="ideal ratio mask (median)", zorder=3)
        ax.scatter(pos, [_median(r, "mixture", metric) for r in runs], marker="_", s=300,
                   color="0.6", label="mixture (median)", zorder=3)
        ax.set_xticks(pos, [r["label"] for r in runs], rotation=45, ha="right", fontsize=8)
        ax.set_ylabel(f"{metric.upper()} [dB]")
        ax.set_title(f"{metric.upper()}, sweep '{name}'")
    axes[0].legend(fontsize=7, loc="lower left")
    fig.suptitle("Synthetic low / high voices, 8 kHz (the review: TIMIT male / female)",
                 fontsize=9)
    return plots.save(fig, path, dpi=100)


def _parser() -> argparse.ArgumentParser:
    p = experiment_parser(
        "separation-sweep", "The review's separation sweeps (STFT, latent, batch, beta, ITL code "
        "size, final comparison) on synthetic voices, with violin plots.",
        "2 variants per sweep, fewer clips and epochs")
    p.add_argument("--sweep", nargs="+", choices=SWEEPS, default=list(SWEEPS),
                   help="which sweeps to run (default: all)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the chosen sweeps, print a table per sweep, write the violins and results.json."""
    args, mode, s, seeds = parse_run(_parser(), argv, {"tiny": TINY, "quick": QUICK, "full": FULL})
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    say(f"separation-sweep ({mode}): seeds {list(seeds)}, sweeps {args.sweep}, "
        f"{blas_threads_note()}")
    t_start = time.perf_counter()
    results = run_record(mode, seeds, s, argv)
    figures: list[str] = []
    for seed in seeds:
        data = voice_data(s, seed)
        for name in args.sweep:
            t0 = time.perf_counter()
            runs = run_sweep(name, s, seed, data)
            say(f"\nsweep '{name}', seed {seed}: medians over {s.n_test} test mixtures x 2 "
                f"voices ({time.perf_counter() - t0:.0f} s)")
            say(format_sweep(name, runs))
            results.setdefault("sweeps", {}).setdefault(name, []).extend(runs)
            if not args.no_figures and seed == seeds[0]:
                figures.append(violin_figure(name, runs, out / f"separation_sweep_{name}.png"))
    write_results(results, out, t_start, None if args.no_figures else figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
