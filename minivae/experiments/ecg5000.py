"""``python -m minivae.experiments ecg5000 --data-dir DIR``: one-class anomaly detection on the
UCR ECG5000 heartbeats, with honest baselines, a small-data table and a downstream imputation test.

Data: the two files of the UCR archive (``ECG5000_TRAIN.tsv``, ``ECG5000_TEST.tsv``, read by
:func:`minivae.data.load_ucr`): 5000 beats of 140 z-normalised samples; class 1 is normal, classes
2-5 are abnormal (R-on-T PVC, supraventricular premature, PVC, unclassified).

Protocol (fixed, so numbers compare across libraries):

1. Stack the TRAIN rows, then the TEST rows.  ``normal = flatnonzero(y == 1)``,
   ``rng = default_rng(42)``, ``perm = normal[rng.permutation(len(normal))]``: the first 2481
   normals train, the next 146 validate, the last 292 test (for other data: 10 % test, 5 %
   validation, the rest train, which is 2481 / 146 / 292 of ECG5000's 2919 normals).
2. Evaluation sets: the 292 test normals + every abnormal beat (2081), and a balanced set: the 292
   test normals + ``rng.choice(abnormal, 292, replace=False)`` drawn by the *same* ``rng``.
3. Score per beat, higher = more anomalous: the mean squared reconstruction error (LSTM-AE,
   LSTM-VAE decoding its posterior mean, and an MLP autoencoder reading the whole beat as one
   140-vector: 140 -> 128 -> 8 -> 128 -> 140), the negative reconstruction log-probability of the
   LSTM-VAE (An & Cho 2015; L samples of z), the PCA reconstruction error (k components: the
   fewest explaining 90 % of the training variance) and the Euclidean distance to the nearest
   training normal (1-NN).  Threshold: mean + 3 std (ddof 0) of the validation normals' scores.
4. Metrics: ROC-AUC, PR-AUC (abnormal = positive), accuracy at the threshold, the best balanced
   accuracy over all thresholds, ROC-AUC of the normals against each abnormal class, training
   seconds; mean ± std over seeds (seeds change the models' initialisation and training order;
   the split is always the one above).

The learned models train with :func:`minivae.train.fit`, Adam, early stopping on the validation
normals' loss (best epoch restored).  Their epochs, batch size and learning rate come from the
number of training beats (:func:`training_plan`; the MLP autoencoder keeps its batch-size rule
with its own step target and learning rate, :func:`train_mlp_autoencoder`), so the *same*
defaults serve the small-data table: the training normals subsampled to 100 and 300 (a seeded
draw per seed; same validation and test sets).

Downstream test (seed 000's question "does better imputation help a downstream task?"): the UCR
TRAIN beats (500) and a seeded sample of the TEST beats get gaps (contiguous runs of 10 steps
hiding 30 % of each beat); every method of the imputation study fills them (the baselines of
:mod:`minivae.timeseries.impute` and the LSTM-VAE of :mod:`minivae.timeseries.imputation_study`,
trained on the incomplete TRAIN beats only); the same small LSTM classifier (LSTM -> Dense ->
softmax cross-entropy, 5 classes) is trained on each imputed TRAIN set and tested on the imputed
TEST beats.  The table puts its test accuracy next to the imputation MAE on the removed points;
the first row is the classifier on complete beats.

Blind model selection (``--parts blind blind_small``, :mod:`minivae.experiments.ecg5000_blind`):
a fixed list of learned candidates (MLP autoencoders, their latent kNN and Mahalanobis scores, an
MLP VAE, ensembles over seeds) is ranked by a proxy computed from the training normals alone
(2-fold: held-out normals against synthetic local distortions of them); the winner is trained on
all training normals and scored once on test.  No test beat and no abnormal beat takes part in
the choice.  A second rule (:mod:`~minivae.experiments.ecg5000_blind_global`) ranks the same
candidates against whole-beat distortions of the held-out normals; every blind run reports both
choices.  The VRNN (:class:`minivae.models.VRNN`) rows score a beat by its per-step negative
ELBO or reconstruction probability averaged over the steps.

Options: ``--data-dir`` (the folder holding the two files; default ``$MINIVAE_UCR_DIR/ECG5000``),
``--quick`` (a few hundred beats, small models, 1 seed: seconds), ``--seed`` / ``--seeds``,
``--out``, ``--parts`` (any of ``main small downstream blind blind_small``), ``--detectors``
(any of ``lstm mlp baselines vrnn``: train only those), ``--split-seed`` (the normals' shuffle;
42 is the protocol's), ``--[no-]all-candidates`` (blind parts: also score the candidates not
chosen, as information), ``--no-figures``.  Set ``OMP_NUM_THREADS=1`` on a shared machine.

Modules: :mod:`~minivae.experiments.ecg5000_core` (data, split, detectors, metrics, tables),
:mod:`~minivae.experiments.ecg5000_downstream`, :mod:`~minivae.experiments.ecg5000_blind`; this
one holds the command line and re-exports the first two.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from minivae.experiments._cli import (
    blas_threads_note,
    experiment_parser,
    parse_run,
    run_record,
    say,
    write_results,
)
from minivae.experiments.ecg5000_blind import (
    print_blind,
    print_blind_small,
    run_blind_part,
    run_blind_small,
)
from minivae.experiments.ecg5000_core import *  # noqa: F403  (the public pieces, re-exported)
from minivae.experiments.ecg5000_core import (
    DETECTORS,
    FULL,
    PARTS,
    QUICK,
    SPLIT_SEED,
    TINY,
    best_learned,
    default_data_dir,
    detection_table,
    load_ecg5000,
    one_class_split,
    run_detection,
    score_figure,
    small_data_table,
    subset_beats,
)
from minivae.experiments.ecg5000_downstream import *  # noqa: F403
from minivae.experiments.ecg5000_downstream import downstream_table, run_downstream


# -------------------------------------------------------------------------------- main
def _parser() -> argparse.ArgumentParser:
    p = experiment_parser(
        "ecg5000", "One-class anomaly detection on the UCR ECG5000 beats: LSTM-AE, LSTM-VAE, "
        "PCA, 1-NN; small-data table; imputation -> classifier downstream test.",
        "a few hundred beats, small models, 1 seed (seconds)")
    p.add_argument("--data-dir", type=Path, default=None,
                   help="folder with ECG5000_TRAIN.tsv and ECG5000_TEST.tsv "
                        "(default $MINIVAE_UCR_DIR/ECG5000, else ../shared/data/ucr/ECG5000)")
    p.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS),
                   help="which tables to compute (default all)")
    p.add_argument("--detectors", nargs="+", choices=DETECTORS, default=list(DETECTORS),
                   help="which detectors to train: lstm (LSTM-AE, LSTM-VAE), mlp (MLP-AE), vrnn "
                        "(VRNN), "
                        "baselines (PCA, 1-NN); default all")
    p.add_argument("--target-steps", type=int, default=None,
                   help="optimizer steps the training plan aims for (default: the size's "
                        "setting); epochs are still capped by its max_epochs")
    p.add_argument("--split-seed", type=int, default=SPLIT_SEED,
                   help=f"seed of the normals' shuffle (default {SPLIT_SEED}, the protocol's); "
                        "other values check how much of a result is the split")
    p.add_argument("--all-candidates", action=argparse.BooleanOptionalAction, default=True,
                   help="blind parts: also train and score the candidates not chosen (their "
                        "test numbers are printed as information only)")
    p.add_argument("--merge", type=Path, nargs="+", default=None, metavar="DIR",
                   help="print the tables of earlier runs' results.json (e.g. one seed per "
                        "process) combined, and write them to --out; trains nothing")
    return p


def _print_detection(runs: list[dict[str, Any]], sizes: dict[str, int]) -> None:
    seeds = [r["seed"] for r in runs]
    for eval_set, title in (("all", f"{sizes['test']} test normals + "
                                    f"{sizes['abnormal']} abnormal beats"),
                            ("balanced", f"balanced: {sizes['test']} + {sizes['balanced']}")):
        say(f"\nECG5000 one-class detection, {title}; mean ± std over seeds {seeds}")
        say(detection_table(runs, eval_set))
    best, auc = best_learned(runs)
    if best == "none" or "1-NN distance" not in runs[0]["metrics"]:
        return
    nn = float(np.mean([r["metrics"]["1-NN distance"]["all"]["roc_auc"] for r in runs]))
    say(f"best learned model: {best}, ROC-AUC {auc:.4f} vs 1-NN {nn:.4f} "
        f"({'above' if auc > nn else 'NOT above'} the 1-NN baseline)")


def _run_main(X, y, split, s, seeds, results, which=DETECTORS) -> list[dict[str, Any]]:
    """The main table; the tables so far are printed after every seed (long runs can be cut)."""
    runs = []
    for seed in seeds:
        run = run_detection(X, y, split, s, seed, which=which)
        runs.append(run)
        say(f"  seed {seed}: " + ", ".join(
            f"{n} {m['all']['roc_auc']:.4f}" for n, m in run["metrics"].items())
            + f"; {run['notes']}")
        _print_detection(runs, {k: len(v) for k, v in split.items()})
    results["main"] = {"runs": [{k: v for k, v in r.items() if not k.startswith("_")}
                                for r in runs], "best_learned": best_learned(runs)[0]}
    return runs


def _run_small(X, y, split, s, seeds, results, which=DETECTORS) -> None:
    """The small-data table; seed by seed (every size per seed), the table so far after each."""
    sizes = [n for n in s.small_sizes if n < len(split["train"])]
    if len(sizes) < len(s.small_sizes):
        say(f"  skipping sizes >= the {len(split['train'])} training normals available")
    by_size: dict[int, list[dict[str, Any]]] = {n: [] for n in sizes}
    for seed in seeds:
        for n in sizes:
            by_size[n].append(run_detection(X, y, split, s, seed, n_train=n, which=which))
            say(f"  {n} training normals, seed {seed}: {by_size[n][-1]['notes']}")
        say(f"\nSmall data: training normals subsampled (a seeded draw per seed); same "
            f"validation and test sets; seeds {[r['seed'] for r in by_size[sizes[0]]]}")
        say(small_data_table(by_size))
    results["small"] = {str(n): [{k: v for k, v in r.items() if not k.startswith("_")}
                                 for r in runs] for n, runs in by_size.items()}


def merge_results(folders: list[Path]) -> dict[str, Any]:
    """Combine the results.json of runs with the same setting (e.g. one seed per process):
    their main, small-data and downstream runs are concatenated."""
    loaded = []
    for folder in folders:
        path = Path(folder) / "results.json"
        if not path.is_file():
            raise FileNotFoundError(f"--merge: no results.json in {folder}")
        loaded.append(json.loads(path.read_text()))
    first = loaded[0]
    for other, folder in zip(loaded[1:], folders[1:]):
        for key in ("setting", "split_sizes", "mode", "detectors", "split_seed"):
            if other.get(key) != first.get(key):
                raise ValueError(f"--merge: {folder} has another {key} than {folders[0]}")
    merged: dict[str, Any] = {k: first[k] for k in ("mode", "setting", "split_sizes")}
    for key in ("detectors", "split_seed"):
        if key in first:
            merged[key] = first[key]
    merged["merged_from"] = [str(f) for f in folders]
    merged["seeds"] = sorted({sd for r in loaded for sd in r["seeds"]})
    if any("main" in r for r in loaded):
        runs = [run for r in loaded for run in r.get("main", {}).get("runs", [])]
        merged["main"] = {"runs": runs, "best_learned": best_learned(runs)[0]}
    small: dict[str, list[Any]] = {}
    for r in loaded:
        for n, runs in r.get("small", {}).items():
            small.setdefault(n, []).extend(runs)
    if small:
        merged["small"] = small
    blind = [run for r in loaded for run in r.get("blind", [])]
    if blind:
        merged["blind"] = blind
    blind_small: dict[str, list[Any]] = {}
    for r in loaded:
        for n, runs in r.get("blind_small", {}).items():
            blind_small.setdefault(n, []).extend(runs)
    if blind_small:
        merged["blind_small"] = blind_small
    downstream = [run for r in loaded for run in r.get("downstream", [])]
    if downstream:
        merged["downstream"] = downstream
    return merged


def _print_merged(merged: dict[str, Any]) -> None:
    if "main" in merged:
        _print_detection(merged["main"]["runs"], merged["split_sizes"])
    if "small" in merged:
        seeds = [r["seed"] for r in next(iter(merged["small"].values()))]
        say("\nSmall data: training normals subsampled (a seeded draw per seed); same "
            f"validation and test sets; seeds {seeds}")
        say(small_data_table({int(n): runs for n, runs in merged["small"].items()}))
    if "blind" in merged or "blind_small" in merged:
        if "blind" in merged:
            print_blind(merged["blind"], merged["split_sizes"])
        if "blind_small" in merged:
            print_blind_small({int(n): r for n, r in merged["blind_small"].items()})
    if "downstream" in merged:
        say(f"\nDownstream: seeds {[r['seed'] for r in merged['downstream']]}")
        say(downstream_table(merged["downstream"]))


def main(argv: list[str] | None = None) -> int:
    """Run the ECG5000 study, print the tables, write the figure and results.json."""
    parser = _parser()
    args, mode, s, seeds = parse_run(parser, argv, {"tiny": TINY, "quick": QUICK, "full": FULL})
    if args.target_steps is not None:
        if args.target_steps < 1:
            parser.error(f"--target-steps must be >= 1, got {args.target_steps}")
        s = replace(s, target_steps=args.target_steps)
    if args.merge:
        try:
            merged = merge_results(args.merge)
        except (FileNotFoundError, ValueError) as err:
            parser.error(str(err))
        _print_merged(merged)
        args.out.mkdir(parents=True, exist_ok=True)
        write_results(merged, args.out, time.perf_counter())
        return 0
    data_dir = args.data_dir or default_data_dir()
    try:
        X, y, n_train_rows = load_ecg5000(data_dir)
    except (FileNotFoundError, ValueError) as err:
        parser.error(str(err))
    if s.beats:
        X, y, n_train_rows = subset_beats(X, y, n_train_rows, s.beats)
    split = one_class_split(y, args.split_seed)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    say(f"ecg5000 ({mode}): {len(y)} beats x {X.shape[1]} from {data_dir}; normals "
        f"{len(split['train'])} train / {len(split['val'])} val / {len(split['test'])} test, "
        f"{len(split['abnormal'])} abnormal; seeds {list(seeds)}; {blas_threads_note()}")
    t_start = time.perf_counter()
    results: dict[str, Any] = {**run_record(mode, seeds, s, argv), "data_dir": str(data_dir),
                               "split_sizes": {k: len(v) for k, v in split.items()},
                               "split_seed": args.split_seed,
                               "detectors": [d for d in DETECTORS if d in args.detectors]}
    which = tuple(results["detectors"])
    figures: list[str] | None = None
    if "main" in args.parts:
        runs = _run_main(X, y, split, s, seeds, results, which)
        best, _ = best_learned(runs)
        names = [n for n in (best, "1-NN distance") if n in runs[0]["metrics"]]
        if not args.no_figures and names:
            figures = [score_figure(runs[0], y, split, names, out / "ecg5000_scores.png")]
    if "small" in args.parts:
        _run_small(X, y, split, s, seeds, results, which)
    if "blind" in args.parts:
        figures = (figures or []) + run_blind_part(X, y, split, s, seeds, results, out,
                                                   args.all_candidates, not args.no_figures)
    if "blind_small" in args.parts:
        run_blind_small(X, y, split, s, seeds, results, args.all_candidates)
    if "downstream" in args.parts:
        runs_d = []
        for seed in seeds:
            runs_d.append(run_downstream(X, y, n_train_rows, s, seed))
            say(f"  downstream seed {seed}: {runs_d[-1]['seconds']:.0f} s")
        r0 = runs_d[0]
        say(f"\nDownstream: {r0['missing_share']:.0%} of each beat removed in gaps of "
            f"{s.gap_length}; classifier trained on {r0['n_train']} imputed TRAIN beats, tested "
            f"on {r0['n_test']} imputed TEST beats ({r0['n_classes']} classes); seeds "
            f"{list(seeds)}")
        say(downstream_table(runs_d))
        results["downstream"] = runs_d
    write_results(results, out, t_start, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
