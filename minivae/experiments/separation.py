"""``python -m minivae.experiments separation``: VAE source separation on generated signals.

Two cases from application areas (source separation, bio-signals) that the VAE review of
Singh & Ogunfunmi (Entropy, 2022) surveys, on generated signals, separated with
:class:`minivae.apps.separation.SpectrogramVAESeparator` (one VAE per source on log-magnitude
spectrogram patches, Wiener masks on the mixture STFT, mixture phase):

1. **Maternal / fetal ECG** (the main case).  An abdominal-ECG-like mixture: a maternal heartbeat
   (R peak 1 mV, 80-90 bpm), a fetal one 2-10 times smaller and faster (120-160 bpm), white noise
   and baseline wander (:func:`minivae.data.fetal_maternal_mixture`, 10 s at 500 Hz).  The VAEs
   are trained on separate recordings and tested on new ones.  VAE examples are patches of
   ``context_ms`` = 300 ms of consecutive STFT frames.
2. **Audio-like**: two harmonic sources with different pitch ranges, one gliding and one with
   vibrato (:func:`minivae.data.harmonic_sources`, 8 kHz), single STFT frames as examples.

The full run sweeps both over STFT windows of 32 / 64 / 128 ms and overlaps of 50 / 75 %
(``--quick`` runs a subset).  This sweep, its signals and its scoring are this experiment's
own, not the review's: the review's separation sweeps (its section 8: STFT settings A-H, latent
size, batch size, beta, ITL-AE code size, on TIMIT speech) are rerun on synthetic voices by
``python -m minivae.experiments separation-sweep`` (:mod:`minivae.experiments.separation_sweep`).
Scores are BSS-Eval SDR / SIR /
SAR in dB (:func:`minivae.apps.signal.bss_eval`, gain-only distortion filter), for: the mixture
itself (floor), the VAEs' encoder codes ("encode"), the codes after latent refinement
("refine", the default), supervised NMF (a baseline: :class:`minivae.apps.nmf.NMFSeparator`,
one KL dictionary of ``nmf_components`` templates per source learned from the clean training
sources, Wiener-like masks; no noise model), and Wiener masks from the true sources (oracle,
ceiling; the residual noise counts as one more source, mirroring the noise model).  A second
table per case gives SDR / SIR / SAR and the plain SNR (:func:`minivae.apps.signal.snr`, no
projection: gain errors count) of every method.  FastICA (:mod:`minivae.apps.ica`) does not
apply: these mixtures have a single channel.  The full run adds ablations at
64 ms / 50 %: a beta-VAE (beta = 4), single-frame examples (context 1), and VAEs trained on
clean sources only (``encoder_input="source"``).

Options: ``--quick`` (two ECG settings, one audio setting, one seed: under a minute on a free
core), ``--seed S`` (seeds S, S+1, ...), ``--seeds A B C``, ``--out DIR`` (figures and
results.json; default ``minivae_output/separation``), ``--case ecg|audio|all``,
``--no-figures``.  On a shared machine set ``OMP_NUM_THREADS=1`` (NumPy's threaded BLAS is
slower than one thread for these small matrices when cores are busy).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from minivae.apps.nmf import NMFSeparator
from minivae.apps.separation import SpectrogramVAESeparator, oracle_separation
from minivae.apps.signal import bss_eval, snr, stft
from minivae.data.synthetic import fetal_maternal_mixture, harmonic_sources
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

METHODS = ("mixture", "encode", "refine", "nmf", "oracle")
METRICS = ("sdr", "sir", "sar", "snr")


@dataclass(frozen=True)
class Setting:
    """Sizes of one run (``FULL``, ``QUICK``, and ``TINY`` for the test suite)."""

    ecg_configs: tuple[tuple[float, float], ...] = (
        (32.0, 0.5), (32.0, 0.75), (64.0, 0.5), (64.0, 0.75), (128.0, 0.5), (128.0, 0.75))
    ecg_fs: float = 500.0
    ecg_duration: float = 10.0  # seconds per recording
    ecg_train: int = 10  # training recordings per seed
    ecg_test: int = 2  # test recordings per seed
    ecg_context_ms: float = 300.0
    ecg_latent: int = 6
    audio_configs: tuple[tuple[float, float], ...] = (
        (32.0, 0.5), (32.0, 0.75), (64.0, 0.5), (64.0, 0.75), (128.0, 0.5), (128.0, 0.75))
    audio_fs: float = 8000.0
    audio_train: int = 30  # 1 s training clips per seed
    audio_test: int = 2  # 2 s test clips per seed
    audio_latent: int = 8
    hidden: int = 128
    epochs: int = 30
    max_examples: int = 4000  # training patches per VAE (random subset)
    refine_steps: int = 100
    step_size: float = 0.02
    ablations: bool = True
    n_seeds: int = 3
    nmf_components: int = 16  # templates per source of the supervised-NMF baseline
    nmf_iter: int = 100


FULL = Setting()
QUICK = Setting(ecg_configs=((64.0, 0.75), (128.0, 0.75)), ecg_train=8, ecg_test=1,
                audio_configs=((64.0, 0.75),), audio_train=20, audio_test=1,
                max_examples=3000, ablations=False, n_seeds=1)
TINY = Setting(ecg_configs=((128.0, 0.5),), ecg_duration=6.0, ecg_train=3, ecg_test=1,
               ecg_context_ms=128.0, ecg_latent=4, audio_configs=((64.0, 0.5),),
               audio_train=6, audio_test=1, audio_latent=4, hidden=32, epochs=5,
               max_examples=600, refine_steps=10, ablations=False, n_seeds=1,
               nmf_components=4, nmf_iter=20)


def context_frames(context_ms: float, window_ms: float, overlap: float) -> int:
    """Frames whose windows span about ``context_ms``: 1 + round((context - window) / hop)."""
    hop = window_ms * (1.0 - overlap)
    return max(1, 1 + int(round((context_ms - window_ms) / hop)))


# ----------------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------------


def _seeds_for(seed: int, case: str, n: int) -> list[int]:
    """n independent integer seeds for one (experiment seed, case) pair."""
    ss = np.random.SeedSequence([seed, {"ecg": 1, "audio": 2}[case]])
    return [int(c.generate_state(1)[0]) for c in ss.spawn(n)]


def ecg_data(s: Setting, seed: int) -> tuple[np.ndarray, np.ndarray, list[tuple]]:
    """Training mixtures (M, T), sources (M, 2, T) and test (mixture, sources (2, T)) pairs."""
    seeds = _seeds_for(seed, "ecg", s.ecg_train + s.ecg_test)
    recs = [fetal_maternal_mixture(s.ecg_duration, s.ecg_fs, rng=r) for r in seeds]
    mix = np.stack([r[0] for r in recs[: s.ecg_train]])
    src = np.stack([np.stack(r[1:]) for r in recs[: s.ecg_train]])
    test = [(r[0], np.stack(r[1:])) for r in recs[s.ecg_train:]]
    return mix, src, test


def audio_data(s: Setting, seed: int) -> tuple[np.ndarray, np.ndarray, list[tuple]]:
    seeds = _seeds_for(seed, "audio", s.audio_train + s.audio_test)
    train = [harmonic_sources(1.0, s.audio_fs, rng=r) for r in seeds[: s.audio_train]]
    test = [harmonic_sources(2.0, s.audio_fs, rng=r) for r in seeds[s.audio_train:]]
    mix = np.stack([r[0] for r in train])
    src = np.stack([np.stack(r[1:]) for r in train])
    return mix, src, [(r[0], np.stack(r[1:])) for r in test]


# ----------------------------------------------------------------------------------------------
# One run
# ----------------------------------------------------------------------------------------------


def _scores(estimates: np.ndarray, references: np.ndarray) -> dict[str, list[float]]:
    r = bss_eval(estimates, references)
    return {"sdr": r.sdr.tolist(), "sir": r.sir.tolist(), "sar": r.sar.tolist(),
            "snr": np.atleast_1d(snr(estimates, references)).tolist()}


def run_config(s: Setting, case: str, seed: int, window_ms: float, overlap: float, *,
               data: tuple, context: int, beta: float = 1.0, encoder_input: str = "mixture",
               keep_example: bool = False) -> dict[str, Any]:
    """Train a separator for one STFT setting and score every method on the test recordings.

    Returns a dict with "scores": method -> metric -> (n_test, K) lists, timings, and (with
    ``keep_example``) the first test recording's signals for the figures.
    """
    fs = s.ecg_fs if case == "ecg" else s.audio_fs
    latent = s.ecg_latent if case == "ecg" else s.audio_latent
    mix, src, test = data
    t0 = time.perf_counter()
    sep = SpectrogramVAESeparator(
        fs, window_ms=window_ms, overlap=overlap, context=context, hidden_sizes=(s.hidden,),
        latent_dim=latent, beta=beta, encoder_input=encoder_input, rng=seed,
    ).fit(mix, src, epochs=s.epochs, max_examples=s.max_examples, rng=seed)
    t_train = time.perf_counter() - t0
    # The supervised-NMF baseline learns one dictionary per source from the clean sources.
    t_nmf = time.perf_counter()
    nmf = NMFSeparator(fs, window_ms=window_ms, overlap=overlap, n_components=s.nmf_components,
                       n_iter=s.nmf_iter, rng=seed).fit(src)
    t_nmf = time.perf_counter() - t_nmf
    scores: dict[str, dict[str, list]] = {m: {k: [] for k in METRICS} for m in METHODS}
    t0 = time.perf_counter()
    example = None
    for i, (x, refs) in enumerate(test):
        enc = sep.separate(x, method="encode")
        ref = sep.separate(x, method="refine", n_steps=s.refine_steps, step_size=s.step_size)
        oracle = oracle_separation(x, refs, fs, window_ms=window_ms, overlap=overlap)
        for name, est in (("mixture", np.stack([x] * refs.shape[0])), ("encode", enc.sources),
                          ("refine", ref.sources), ("nmf", nmf.separate(x)), ("oracle", oracle)):
            for metric, values in _scores(est, refs).items():
                scores[name][metric].append(values)
        if keep_example and i == 0:
            example = {"mixture": x, "references": refs, "refine": ref, "encode": enc.sources,
                       "oracle": oracle, "fs": fs, "window_ms": window_ms, "overlap": overlap}
    return {"case": case, "seed": seed, "window_ms": window_ms, "overlap": overlap,
            "context": context, "beta": beta, "encoder_input": encoder_input,
            "scores": scores, "train_seconds": t_train, "nmf_train_seconds": t_nmf,
            "separate_seconds": time.perf_counter() - t0, "_example": example,
            "objective": [float(v) for v in ref.objective[[0, -1]]]}


# ----------------------------------------------------------------------------------------------
# Tables
# ----------------------------------------------------------------------------------------------


def _per_seed(runs: list[dict], method: str, metric: str, source: int) -> np.ndarray:
    """One number per run: the metric averaged over that run's test recordings."""
    return np.array([np.mean(np.asarray(r["scores"][method][metric])[:, source]) for r in runs])


def _ms(values: np.ndarray) -> str:
    mean, sd = mean_std(values)
    return f"{mean:6.2f}" + (f"±{sd:4.2f}" if values.size > 1 else "")


def format_table(runs: list[dict], source_names: tuple[str, str], title: str,
                 key: str = "config") -> str:
    """Mean ± std over seeds of SDR per method and source, one line per setting."""
    groups: dict[tuple, list[dict]] = {}
    for r in runs:
        label = ((r["window_ms"], r["overlap"], r["context"]) if key == "config"
                 else (r["label"],))
        groups.setdefault(label, []).append(r)
    head_cfg = "window overlap ctx" if key == "config" else f"{'variant':<26}"
    cols = "  ".join(f"{m:>11}" for m in METHODS)
    lines = [title, f"{head_cfg} | source   | SDR (dB): {cols} | refine SIR / SAR"]
    for label, rs in groups.items():
        cfg = (f"{label[0]:4.0f}ms {label[1] * 100:5.0f}% {label[2]:3d}" if key == "config"
               else f"{label[0]:<26}")
        for j, name in enumerate(source_names):
            vals = "  ".join(f"{_ms(_per_seed(rs, m, 'sdr', j)):>11}" for m in METHODS)
            sir, sar = _per_seed(rs, "refine", "sir", j), _per_seed(rs, "refine", "sar", j)
            lines.append(f"{cfg if j == 0 else ' ' * len(cfg)} | {name:<8} |           {vals} | "
                         f"{sir.mean():5.1f} / {sar.mean():5.1f}")
    return "\n".join(lines)


def format_metrics(runs: list[dict], source_names: tuple[str, str], title: str) -> str:
    """SDR / SIR / SAR / SNR of every method (the baselines' table), mean over seeds, one block
    per STFT setting."""
    groups: dict[tuple, list[dict]] = {}
    for r in runs:
        groups.setdefault((r["window_ms"], r["overlap"], r["context"]), []).append(r)
    lines = [title, f"{'window overlap ctx':<18} | {'method':<8} | source   |"
             + "".join(f"{m.upper():>8}" for m in METRICS)]
    for (w, o, c), rs in groups.items():
        cfg = f"{w:4.0f}ms {o * 100:5.0f}% {c:3d}"
        for i, method in enumerate(METHODS):
            for j, name in enumerate(source_names):
                vals = "".join(f"{_per_seed(rs, method, k, j).mean():8.2f}" for k in METRICS)
                lead = cfg if i == j == 0 else ""
                lines.append(f"{lead:<18} | {method if j == 0 else '':<8} | {name:<8} |{vals}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# Figures
# ----------------------------------------------------------------------------------------------


def _figures(ecg_runs: list[dict], audio_runs: list[dict], out: Path) -> list[str]:
    from minivae import plots

    plt = plots.plt

    paths = []
    ex_runs = [r for r in ecg_runs if r["_example"] is not None]
    if ex_runs:
        ex = ex_runs[0]["_example"]
        fs, x, refs, res = ex["fs"], ex["mixture"], ex["references"], ex["refine"]
        n = int(min(x.shape[0], 4 * fs))
        tt = np.arange(n) / fs
        fig, ax = plt.subplots(4, 1, figsize=(11, 8.5), sharex=True)
        ax[0].plot(tt, x[:n], color="0.3", lw=0.8)
        ax[0].set_title("abdominal mixture (maternal + fetal + noise + wander)")
        for i, (name, color) in enumerate((("maternal", "tab:blue"), ("fetal", "tab:red"))):
            ax[1 + i].plot(tt, refs[i, :n], color="0.6", lw=1.6, label=f"true {name}")
            ax[1 + i].plot(tt, res.sources[i, :n], color=color, lw=0.9,
                           label=f"VAE estimate ({name})")
            ax[1 + i].legend(loc="upper right", fontsize=8)
            sdr_i = bss_eval(res.sources, refs).sdr[i]
            ax[1 + i].set_title(f"{name}: SDR {sdr_i:.1f} dB (mixture "
                                f"{bss_eval(np.stack([x, x]), refs).sdr[i]:.1f} dB)")
        fmask = res.masks[1]
        hop_s = ex["window_ms"] * (1 - ex["overlap"]) / 1000.0
        n_fr = int(n / fs / hop_s)
        ax[3].imshow(fmask[:n_fr].T, aspect="auto", origin="lower", cmap="magma",
                     extent=(0, n_fr * hop_s, 0, fs / 2), vmin=0, vmax=1)
        ax[3].set_ylabel("Hz")
        ax[3].set_title("fetal Wiener mask from the VAE estimates (1 = fetal)")
        ax[3].set_xlabel("time [s]")
        paths.append(plots.save(fig, out / "ecg_separation.png", dpi=100))

        # SDR per STFT setting (fetal source), mean over seeds
        groups: dict[tuple, list[dict]] = {}
        for r in ecg_runs:
            groups.setdefault((r["window_ms"], r["overlap"]), []).append(r)
        labels = [f"{w:.0f} ms\n{o * 100:.0f}%" for w, o in groups]
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
        for j, (name, axx) in enumerate(zip(("maternal", "fetal"), axes)):
            width = 0.8 / len(METHODS)
            for m_i, m in enumerate(METHODS):
                vals = [_per_seed(rs, m, "sdr", j) for rs in groups.values()]
                offset = (m_i - (len(METHODS) - 1) / 2) * width
                axx.bar(np.arange(len(vals)) + offset, [v.mean() for v in vals], width,
                        yerr=[v.std() for v in vals], label=m, capsize=2)
            axx.set_xticks(np.arange(len(labels)), labels)
            axx.set_ylabel("SDR [dB]")
            axx.set_title(f"{name} ECG: SDR per STFT window / overlap")
            axx.axhline(0, color="k", lw=0.6)
        axes[0].legend(fontsize=8)
        paths.append(plots.save(fig, out / "ecg_sdr_by_window.png", dpi=100))

    ex_audio = [r for r in audio_runs if r["_example"] is not None]
    if ex_audio:
        ex = ex_audio[0]["_example"]
        fs, x, refs, res = ex["fs"], ex["mixture"], ex["references"], ex["refine"]
        frame = {"window_ms": ex["window_ms"], "hop_ms": ex["window_ms"] * (1 - ex["overlap"])}
        panels = [("mixture", x), ("true A", refs[0]), ("VAE estimate A", res.sources[0]),
                  ("true B", refs[1]), ("VAE estimate B", res.sources[1])]
        fig, ax = plt.subplots(1, 5, figsize=(15, 3.4), sharey=True)
        dur = x.shape[0] / fs
        for a, (title, sig) in zip(ax, panels):
            mag = 20 * np.log10(np.abs(stft(sig, fs, **frame)) + 1e-6)
            a.imshow(mag.T, aspect="auto", origin="lower", cmap="viridis",
                     vmin=mag.max() - 60, vmax=mag.max(), extent=(0, dur, 0, fs / 2))
            a.set_title(title)
            a.set_xlabel("time [s]")
            a.set_ylim(0, 3000)
        ax[0].set_ylabel("Hz")
        paths.append(plots.save(fig, out / "audio_separation.png", dpi=100))
    return paths


def _run_ecg(s: Setting, seeds: tuple[int, ...]) -> tuple[list[dict], dict[str, Any]]:
    """The ECG sweep (and ablations) over every seed: (runs, their results.json record)."""
    runs: list[dict] = []
    say(f"\n[ECG] maternal/fetal mixture, {s.ecg_duration:g} s at {s.ecg_fs:g} Hz; "
        f"{s.ecg_train} training / {s.ecg_test} test recordings per seed; context "
        f"{s.ecg_context_ms:g} ms; VAE hidden {s.hidden}, latent {s.ecg_latent}, "
        f"{s.epochs} epochs")
    t0 = time.perf_counter()
    ablation_runs: list[dict] = []
    for seed in seeds:
        data = ecg_data(s, seed)
        for i, (w, o) in enumerate(s.ecg_configs):
            ctx = context_frames(s.ecg_context_ms, w, o)
            run = run_config(s, "ecg", seed, w, o, data=data, context=ctx,
                             keep_example=(seed == seeds[0] and i == len(s.ecg_configs) - 1))
            runs.append(run)
            fetal = _per_seed([run], "refine", "sdr", 1)[0]
            floor = _per_seed([run], "mixture", "sdr", 1)[0]
            say(f"  seed {seed} {w:4.0f} ms {o * 100:3.0f}% ctx {ctx:2d}: fetal SDR "
                f"{floor:6.2f} -> {fetal:6.2f} dB  (train {run['train_seconds']:.0f} s, "
                f"separate {run['separate_seconds']:.1f} s)")
        if s.ablations:
            w, o = 64.0, 0.5
            ctx = context_frames(s.ecg_context_ms, w, o)
            variants = ((f"VAE (beta=1), ctx {ctx}", {"context": ctx}),
                        ("beta-VAE (beta=4)", {"context": ctx, "beta": 4.0}),
                        ("single frames (ctx 1)", {"context": 1}),
                        ("clean-trained VAEs", {"context": ctx, "encoder_input": "source"}))
            for label, kw in variants:
                base = [r for r in runs if r["seed"] == seed and r["window_ms"] == w
                        and r["overlap"] == o]
                run = (dict(base[0]) if (base and kw == {"context": ctx})
                       else run_config(s, "ecg", seed, w, o, data=data, **kw))
                run["label"] = label
                ablation_runs.append(run)
            say(f"  seed {seed}: ablations done")
    say()
    say(format_table(runs, ("maternal", "fetal"),
                     f"ECG separation, BSS-Eval (L=1), mean ± std over seeds {list(seeds)}"
                     f" ({s.ecg_test} test recording(s) each)"))
    say()
    say(format_metrics(runs, ("maternal", "fetal"),
                       "ECG, every method: BSS-Eval (L=1) SDR / SIR / SAR and plain SNR in dB, "
                       "mean over seeds"))
    gains = np.array([_per_seed([r], "refine", "sdr", 1)[0]
                      - _per_seed([r], "mixture", "sdr", 1)[0] for r in runs])
    ok = bool(gains.min() >= 5.0)
    say(f"check: fetal SDR of VAE-refine above the mixture by >= 5 dB in every setting and "
        f"seed: {'yes' if ok else 'NO'} (gain min {gains.min():.2f}, mean "
        f"{gains.mean():.2f}, max {gains.max():.2f} dB)")
    if ablation_runs:
        say()
        say(format_table(ablation_runs, ("maternal", "fetal"),
                         "ECG ablations at 64 ms / 50 %, mean ± std over seeds",
                         key="label"))
    record = {"runs": [public(r) for r in runs],
              "ablations": [public(r) for r in ablation_runs],
              "fetal_gain_db": gains.tolist(), "target_met": ok,
              "seconds": time.perf_counter() - t0}
    say(f"ECG: {time.perf_counter() - t0:.0f} s")
    return runs, record


def _run_audio(s: Setting, seeds: tuple[int, ...]) -> tuple[list[dict], dict[str, Any]]:
    """The audio-like sweep over every seed: (runs, their results.json record)."""
    runs: list[dict] = []
    say(f"\n[audio] two harmonic sources at {s.audio_fs:g} Hz; {s.audio_train} x 1 s "
        f"training clips, {s.audio_test} x 2 s test clips per seed; single frames; "
        f"latent {s.audio_latent}")
    t0 = time.perf_counter()
    for seed in seeds:
        data = audio_data(s, seed)
        for i, (w, o) in enumerate(s.audio_configs):
            run = run_config(s, "audio", seed, w, o, data=data, context=1,
                             keep_example=(seed == seeds[0] and i == 0))
            runs.append(run)
            say(f"  seed {seed} {w:4.0f} ms {o * 100:3.0f}%: SDR A/B "
                f"{_per_seed([run], 'refine', 'sdr', 0)[0]:.2f} / "
                f"{_per_seed([run], 'refine', 'sdr', 1)[0]:.2f} dB (train "
                f"{run['train_seconds']:.0f} s)")
    say()
    say(format_table(runs, ("A", "B"),
                     f"Audio-like separation, mean ± std over seeds {list(seeds)}"))
    say()
    say(format_metrics(runs, ("A", "B"),
                       "Audio-like, every method: BSS-Eval (L=1) SDR / SIR / SAR and plain SNR "
                       "in dB, mean over seeds"))
    record = {"runs": [public(r) for r in runs], "seconds": time.perf_counter() - t0}
    say(f"audio: {time.perf_counter() - t0:.0f} s")
    return runs, record


# ----------------------------------------------------------------------------------------------
# Command line
# ----------------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    p = experiment_parser(
        "separation", "VAE source separation: maternal/fetal ECG and two harmonic sources.",
        "2 ECG settings, 1 audio setting, 1 seed, smaller training (< 1 min)")
    p.add_argument("--case", choices=("ecg", "audio", "all"), default="all")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the sweeps, print the tables, write figures and results.json; returns 0."""
    args, mode, s, seeds = parse_run(_parser(), argv, {"tiny": TINY, "quick": QUICK, "full": FULL})
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    say(f"separation ({mode}): seeds {list(seeds)}, {blas_threads_note()}")
    t_start = time.perf_counter()
    results = run_record(mode, seeds, s, argv)
    ecg_runs: list[dict] = []
    audio_runs: list[dict] = []
    if args.case in ("ecg", "all"):
        ecg_runs, results["ecg"] = _run_ecg(s, seeds)
    if args.case in ("audio", "all"):
        audio_runs, results["audio"] = _run_audio(s, seeds)
    figures = None if args.no_figures else _figures(ecg_runs, audio_runs, out)
    write_results(results, out, t_start, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
