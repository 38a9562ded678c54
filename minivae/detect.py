"""``python -m minivae detect``: anomaly detection on your own CSV, from the command line.

::

    python -m minivae detect train.csv [test.csv] --window 48 --model lstm-vae --out DIR
    python -m minivae detect --load DIR/detector.npz new.csv --out DIR2    # reuse a detector

What it does:

1. reads the CSV(s) (:func:`minivae.data.read_series_table`: an optional timestamp column, one or
   more value columns, an optional 0/1 label column); missing cells are filled by linear
   interpolation (said on screen);
2. cuts the training file into windows of ``--window`` steps, standardises every channel on the
   training part (the last ``--validation-split`` of the file is held out) and trains an LSTM
   autoencoder, LSTM-VAE or VRNN (``--model vrnn``: a latent per step, scored by the per-step
   negative ELBO, ``--score nelbo``, by default) with a progress bar;
3. scores every step of the test file (or of the training file when no test file is given):
   per-step score = the mean score of the windows covering it (``--step-score window``, the
   default) or the mean of their errors at that step (``step``);
4. thresholds the scores at ``mu + k sigma`` (``--threshold sigma``), a percentile
   (``percentile``) or a target false-positive rate (``fpr``) of the held-out normal part;
5. writes ``scores.csv`` (time, score, flagged[, label]), ``intervals.csv`` (the flagged runs),
   ``detection.png`` (series + score + threshold) and ``detector.npz`` (model + scaler +
   threshold, one file, no pickle); with labels (a label column or ``--labels windows.json``)
   also ``metrics.json``: ROC-AUC, PR-AUC, window recall and TPR at ~1 % FPR.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

MODELS = ("lstm-ae", "lstm-vae", "vrnn")
DETECT_SCORES = ("mse", "reconstruction_probability", "nelbo")


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m minivae detect",
                                description=__doc__.split("\n")[0].split(": ", 1)[1])
    p.add_argument("files", nargs="+", metavar="CSV",
                   help="train.csv [test.csv]; with --load: the file to score")
    p.add_argument("--load", default=None, metavar="NPZ",
                   help="a detector.npz written by an earlier run: score with it, no training")
    p.add_argument("--out", default="minivae_output/detect", help="output folder")
    p.add_argument("--window", type=int, default=48, help="window length in steps")
    p.add_argument("--model", choices=MODELS, default="lstm-ae")
    p.add_argument("--score", choices=DETECT_SCORES, default=None,
                   help="window score (default: mse; nelbo for vrnn); "
                        "reconstruction_probability: lstm-vae or vrnn; nelbo (the per-step "
                        "negative ELBO): vrnn only")
    p.add_argument("--step-score", choices=("window", "step"), default="window",
                   help="per-step score: mean score of the windows covering the step (window) "
                        "or mean of their errors at the step (step)")
    p.add_argument("--threshold", choices=("sigma", "percentile", "fpr"), default=None,
                   help="mu + k sigma (default), a percentile, or a target false-positive rate "
                        "of the held-out normal scores; with --load: refit the stored one")
    p.add_argument("--k", type=float, default=3.0, help="k of mu + k sigma")
    p.add_argument("--q", type=float, default=99.0, help="percentile (0-100)")
    p.add_argument("--fpr", type=float, default=0.01,
                   help="target false-positive rate on the held-out normal part")
    p.add_argument("--validation-split", type=float, default=0.2,
                   help="fraction at the end of the training file held out for the threshold")
    p.add_argument("--hidden", type=int, default=32, help="LSTM width")
    p.add_argument("--latent", type=int, default=8, help="latent size")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--train-stride", type=int, default=None,
                   help="step between training windows (default: window // 4)")
    p.add_argument("--stride", type=int, default=1, help="step between scored windows")
    p.add_argument("--time-column", default="auto",
                   help="name or index of the timestamp column, 'auto' or 'none'")
    p.add_argument("--label-column", default="auto",
                   help="name or index of a 0/1 label column (not used for training), 'auto' "
                        "or 'none'")
    p.add_argument("--labels", default=None, metavar="JSON",
                   help="anomaly windows {file: [[start, end], ...]} for the scored file")
    p.add_argument("--delimiter", default=",")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true", help="no per-epoch lines")
    return p.parse_args(argv)


def _column_arg(value: str) -> int | str | None:
    if value.lower() == "none":
        return None
    return int(value) if value.lstrip("-").isdigit() else value


def _read(path: str, args: argparse.Namespace) -> Any:
    from minivae.data import read_series_table
    from minivae.timeseries.impute import impute_linear

    table = read_series_table(path, time_column=_column_arg(args.time_column),
                              label_column=_column_arg(args.label_column),
                              delimiter=args.delimiter)
    x = table.values
    missing = ~np.isfinite(x)
    if missing.any():
        if missing.all(axis=0).any():
            bad = [c for c, m in zip(table.columns, missing.all(axis=0)) if m]
            raise ValueError(f"{path}: column(s) {bad} hold no numbers at all")
        x = np.stack([impute_linear(x[:, d]) for d in range(x.shape[1])], axis=1)
        print(f"{path}: {int(missing.sum())} missing cell(s) filled by linear interpolation")
    return table, x


def _threshold_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The detector's threshold settings for --threshold sigma|percentile|fpr."""
    if args.threshold in (None, "sigma"):
        return {"threshold": "mu_k_sigma", "k": args.k}
    if args.threshold == "percentile":
        return {"threshold": "percentile", "q": args.q}
    if not 0.0 < args.fpr < 1.0:
        raise ValueError(f"--fpr must be in (0, 1), got {args.fpr}")
    # A target false-positive rate a on normal data is the (1 - a) quantile of normal scores.
    return {"threshold": "percentile", "q": 100.0 * (1.0 - args.fpr)}


def build_detector(args: argparse.Namespace, n_features: int) -> Any:
    """An untrained LSTM autoencoder / LSTM-VAE inside an AnomalyDetector, as the flags say."""
    from minivae.models import LSTMVAE, VRNN, LSTMAutoencoder
    from minivae.timeseries.anomaly import AnomalyDetector

    score = args.score or ("nelbo" if args.model == "vrnn" else "mse")
    if score == "nelbo" and args.model != "vrnn":
        raise ValueError("--score nelbo needs --model vrnn (a latent per step)")
    if args.model == "lstm-vae":
        model = LSTMVAE(n_features, args.hidden, args.latent, likelihood="gaussian",
                        free_bits=0.25, rng=args.seed)
    elif args.model == "vrnn":  # --latent is the size of z_t, one per step
        model = VRNN(n_features, args.hidden, args.latent, rng=args.seed)
    else:
        if score != "mse":
            raise ValueError(f"--score {score} needs --model lstm-vae or vrnn")
        model = LSTMAutoencoder(n_features, args.hidden, args.latent, rng=args.seed)
    train_stride = args.train_stride or max(1, args.window // 4)
    return AnomalyDetector(
        model, score=score, window=args.window, stride=args.stride,
        train_stride=train_stride, validation_split=args.validation_split,
        step_score=args.step_score, progress=True, rng=args.seed, **_threshold_kwargs(args))


def train_detector(args: argparse.Namespace, x_train: np.ndarray) -> Any:
    detector = build_detector(args, x_train.shape[1])
    fit_kwargs: dict[str, Any] = {"epochs": args.epochs, "batch_size": args.batch_size,
                                  "lr": args.lr, "clip_norm": 5.0, "diagnostics": False,
                                  "verbose": 0 if args.quiet else 1}
    if args.model in ("lstm-vae", "vrnn"):
        fit_kwargs["kl_schedule"] = "linear:300"
    detector.fit(x_train, train=True, **fit_kwargs)
    return detector


def detection_metrics(labels: np.ndarray, scores: np.ndarray, flagged: np.ndarray,
                      max_fpr: float = 0.01) -> dict[str, float]:
    """ROC-AUC, PR-AUC, window recall and TPR at ``max_fpr`` of per-step scores.

    Inputs:
    - labels: (T,) 0/1 true labels; scores: (T,) finite; flagged: (T,) 0/1 decisions.
    - max_fpr: the false-positive rate at which the TPR is read off the ROC curve.

    Returns:
    - dict: roc_auc, pr_auc (average precision), tpr_at_fpr (the best TPR with FPR <= max_fpr),
      window_recall (fraction of labelled anomaly windows with at least one flagged step),
      precision / recall / f1 of ``flagged`` per step, n_windows.
    """
    from minivae._validation import check_array, check_scalar
    from minivae.timeseries.metrics import (
        anomaly_segments,
        pr_auc,
        precision_recall_f1,
        roc_auc,
        roc_curve,
    )

    max_fpr = check_scalar(max_fpr, "max_fpr", low=0.0, high=1.0)
    y = check_array(labels, "labels", ndim=1)
    f = check_array(flagged, "flagged", ndim=1)
    scores = check_array(scores, "scores", ndim=1, dtype=np.float64)
    for name, arr in (("labels", y), ("flagged", f)):
        if not np.isin(arr, (0, 1)).all():
            raise ValueError(f"{name} must hold only 0 and 1, got values {np.unique(arr)[:5]}")
    y, f = y.astype(np.int64), f.astype(np.int64)
    if y.shape != np.shape(scores) or y.shape != f.shape:
        raise ValueError(f"labels {y.shape}, scores {np.shape(scores)} and flagged {f.shape} "
                         "must have the same shape")
    segments = anomaly_segments(y)
    hit = [bool(f[a:b].any()) for a, b in segments]
    p, r, f1 = precision_recall_f1(y, f)
    out = {"n_steps": int(y.size), "n_anomalous_steps": int(y.sum()),
           "n_windows": len(segments), "precision": p, "recall": r, "f1": f1,
           "window_recall": float(np.mean(hit)) if hit else float("nan")}
    if 0 < y.sum() < y.size:
        fpr, tpr, _ = roc_curve(y, scores)
        out.update(roc_auc=roc_auc(y, scores), pr_auc=pr_auc(y, scores),
                   tpr_at_fpr=float(tpr[fpr <= max_fpr].max()), max_fpr=max_fpr)
    return {k: float(v) if not isinstance(v, int) else v for k, v in out.items()}


def _time_text(table: Any, T: int) -> list[str]:
    if table.timestamps is None:
        return [str(i) for i in range(T)]
    if table.timestamps.dtype.kind == "M":
        ms = table.timestamps.astype(np.int64)
        unit = "s" if np.all(ms % 1000 == 0) else "ms"  # one format for every row
        return list(np.datetime_as_string(table.timestamps, unit=unit))
    t = table.timestamps
    if np.all(t == np.round(t)) and np.all(np.abs(t) < 2**53):
        return [str(int(v)) for v in t]  # integer steps stay integers
    return [repr(float(v)) for v in t]


def _labels_for(args: argparse.Namespace, table: Any, path: str) -> np.ndarray | None:
    from minivae.data import labels_from_windows, load_anomaly_windows

    if args.labels is None:
        return table.labels
    if table.timestamps is None:
        raise ValueError(f"--labels gives timestamp windows but {path} has no timestamp column "
                         "(--time-column)")
    windows = load_anomaly_windows(args.labels, key=Path(path).name)
    return labels_from_windows(table.timestamps, windows)


def write_outputs(out: Path, table: Any, x: np.ndarray, scores: np.ndarray, threshold: float,
                  labels: np.ndarray | None) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """scores.csv, intervals.csv and detection.png in ``out``; returns (flagged, intervals)."""
    from minivae import plots
    from minivae.timeseries.metrics import anomaly_segments

    flagged = (scores > threshold).astype(np.int64)
    times = _time_text(table, len(scores))
    tname = table.time_name or "step"
    with open(out / "scores.csv", "w") as f:
        f.write(f"{tname},score,flagged" + (",label" if labels is not None else "") + "\n")
        for i, t in enumerate(times):
            extra = f",{labels[i]}" if labels is not None else ""
            f.write(f"{t},{scores[i]:.6g},{flagged[i]}{extra}\n")
    intervals = anomaly_segments(flagged)
    with open(out / "intervals.csv", "w") as f:
        f.write("start,end,start_index,end_index,steps,max_score\n")
        for a, b in intervals:  # end is the last flagged step (inclusive)
            f.write(f"{times[a]},{times[b - 1]},{a},{b - 1},{b - a},"
                    f"{scores[a:b].max():.6g}\n")
    plots.close(plots.plot_anomaly_scores(
        x, scores, threshold, labels, out / "detection.png",
        title=f"{table.columns[0]}: series (top), anomaly score and threshold (bottom)"))
    return flagged, intervals


def run(args: argparse.Namespace) -> int:
    from minivae.timeseries.detector_store import load_detector, save_detector

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.load is not None:
        if len(args.files) != 1:
            raise SystemExit("with --load give exactly one CSV to score")
        detector, meta = load_detector(args.load)
        detector.progress = True
        if args.threshold is not None:  # refit on the stored held-out normal scores
            kw = _threshold_kwargs(args)
            detector.set_threshold(kw.pop("threshold"), **kw)
        test_path = args.files[0]
        print(f"loaded {detector!r} from {args.load}")
    else:
        if len(args.files) > 2:
            raise SystemExit("give train.csv and optionally test.csv (at most two files)")
        table, x_train = _read(args.files[0], args)
        meta = {"columns": table.columns, "time_column": table.time_name}
        t0 = time.perf_counter()
        print(f"training {args.model} on {args.files[0]}: {x_train.shape[0]} steps of "
              f"{table.columns} (time column: {table.time_name}, label column: "
              f"{table.label_name}), window {args.window}, {args.epochs} epochs")
        detector = train_detector(args, x_train)
        meta["train_seconds"] = round(time.perf_counter() - t0, 2)
        save_detector(out / "detector.npz", detector, meta)
        test_path = args.files[-1]
        if len(args.files) == 1:
            print("no test file: scoring the training file itself (the model has seen it)")
    table, x = _read(test_path, args)
    if meta.get("columns") and list(meta["columns"]) != list(table.columns):
        raise ValueError(f"{test_path} has value columns {table.columns}, the detector was "
                         f"trained on {meta['columns']}")
    scores = detector.score(x)
    threshold = float(detector.step_threshold_)
    labels = _labels_for(args, table, test_path)
    flagged, intervals = write_outputs(out, table, x, scores, threshold, labels)
    print(f"scored {len(scores)} steps of {test_path}: threshold {threshold:.4g} "
          f"({detector.threshold_method}), {int(flagged.sum())} flagged steps in "
          f"{len(intervals)} interval(s)")
    if labels is not None:
        metrics = detection_metrics(labels, scores, flagged)
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        print("  " + "  ".join(f"{k} {metrics[k]:.3f}" for k in
                               ("roc_auc", "pr_auc", "tpr_at_fpr", "window_recall")
                               if k in metrics))
    written = ["scores.csv", "intervals.csv", "detection.png"]
    written += ["metrics.json"] if labels is not None else []
    written += ["detector.npz"] if args.load is None else []
    print(f"wrote {', '.join(written)} to {out.resolve()}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    os.environ.setdefault("MPLBACKEND", "Agg")
    try:
        return run(args)
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
