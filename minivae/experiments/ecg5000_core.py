"""The ECG5000 study's protocol pieces: data, the one-class split, the detectors, metrics,
tables and the figure (the protocol is described in :mod:`minivae.experiments.ecg5000`)."""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from minivae._validation import check_array, check_positive_int, check_scalar
from minivae.data import load_ucr
from minivae.timeseries.metrics import mean_std, pr_auc, roc_auc, roc_curve
from minivae.timeseries.thresholds import apply_threshold, threshold_mu_k_sigma

__all__ = [
    "FILES",
    "NORMAL",
    "PARTS",
    "DETECTORS",
    "SPLIT_SEED",
    "Setting",
    "FULL",
    "QUICK",
    "TINY",
    "default_data_dir",
    "load_ecg5000",
    "subset_beats",
    "one_class_split",
    "training_plan",
    "train_sequence_model",
    "mlp_training_plan",
    "train_mlp_autoencoder",
    "reconstruction_mse",
    "reconstruction_probability_score",
    "vrnn_beat_score",
    "pca_scorer",
    "nearest_neighbour_scorer",
    "detection_metrics",
    "score_all",
    "evaluate_scores",
    "detectors",
    "run_detection",
    "table_cell",
    "detection_table",
    "small_data_table",
    "best_learned",
    "score_figure",
]

FILES = ("ECG5000_TRAIN.tsv", "ECG5000_TEST.tsv")
NORMAL = 1
PARTS = ("main", "small", "downstream", "blind", "blind_small")
# --detectors: the LSTM-AE/VAE, the MLP-AE, PCA + 1-NN, the VRNN
DETECTORS = ("lstm", "mlp", "baselines", "vrnn")
SPLIT_SEED = 42


@dataclass(frozen=True)
class Setting:
    """Sizes of one run (``FULL``, ``QUICK``, ``TINY`` for the test suite)."""

    hidden: int = 64  # LSTM width of encoder and decoder
    latent: int = 4  # a narrow code: PCA's error is best with few components too
    max_epochs: int = 100  # cap of the data-size rule (early stopping may end sooner)
    target_steps: int = 1200  # optimizer steps the rule aims for
    patience: int = 8
    vae_samples: int = 16  # z samples of the reconstruction probability
    vrnn_samples: int = 4  # VRNN sample paths z_{1:T} per beat of its scores
    # the MLP autoencoder on the whole beat (140 inputs): one hidden layer, a code of 8
    mlp_hidden: tuple[int, ...] = (128,)
    mlp_latent: int = 8
    mlp_max_epochs: int = 1000  # cap of its data-size rule
    mlp_target_steps: int = 8000  # optimizer steps it aims for (its steps cost microseconds)
    mlp_patience: int = 15
    mlp_lr: float = 1e-3
    small_sizes: tuple[int, ...] = (100, 300)
    n_seeds: int = 3
    beats: int = 0  # 0: every beat; else a seeded subset of this many (quick runs)
    # downstream
    classifier_hidden: int = 16
    classifier_epochs: int = 30
    downstream_test: int = 1500  # TEST beats the classifiers are scored on
    gap_rate: float = 0.3
    gap_length: int = 10
    imputer_epochs: int = 60
    imputer_iter: int = 5


FULL = Setting()
QUICK = Setting(hidden=16, latent=4, max_epochs=8, target_steps=60, patience=3, vae_samples=4,
                vrnn_samples=2,
                mlp_hidden=(32,), mlp_max_epochs=40, mlp_target_steps=200, mlp_patience=5,
                small_sizes=(40,), n_seeds=1, beats=400, classifier_hidden=8,
                classifier_epochs=3, downstream_test=100, imputer_epochs=2, imputer_iter=1)
TINY = Setting(hidden=6, latent=2, max_epochs=2, target_steps=10, patience=2, vae_samples=2,
               vrnn_samples=1,
               mlp_hidden=(8,), mlp_latent=2, mlp_max_epochs=3, mlp_target_steps=10,
               mlp_patience=2,
               small_sizes=(20,), n_seeds=1, beats=240, classifier_hidden=4,
               classifier_epochs=1, downstream_test=40, imputer_epochs=1, imputer_iter=1)


# ------------------------------------------------------------------------------------ data
def default_data_dir() -> Path:
    """``$MINIVAE_UCR_DIR/ECG5000`` (default ``../shared/data/ucr/ECG5000``)."""
    return Path(os.environ.get("MINIVAE_UCR_DIR", "../shared/data/ucr")) / "ECG5000"


def load_ecg5000(data_dir: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, int]:
    """TRAIN rows then TEST rows: X (N, T) float64, y (N,) int64 and the number of TRAIN rows."""
    data_dir = Path(data_dir)
    missing = [f for f in FILES if not (data_dir / f).is_file()]
    if missing:
        raise FileNotFoundError(f"--data-dir {data_dir}: missing {missing}; expected the UCR "
                                f"archive's {FILES[0]} and {FILES[1]}")
    X_tr, y_tr = load_ucr(data_dir / FILES[0])
    X_te, y_te = load_ucr(data_dir / FILES[1])
    if X_tr.shape[1] != X_te.shape[1]:
        raise ValueError(f"TRAIN beats have {X_tr.shape[1]} samples, TEST beats {X_te.shape[1]}")
    X, y = np.vstack([X_tr, X_te]), np.concatenate([y_tr, y_te])
    if not np.isfinite(X).all():
        raise ValueError(f"{data_dir}: the beats hold missing values; this protocol needs "
                         "complete beats")
    return X, y, len(y_tr)


def subset_beats(X: np.ndarray, y: np.ndarray, n_train_rows: int, n: int
                 ) -> tuple[np.ndarray, np.ndarray, int]:
    """A seeded subset of ``n`` beats (keeping the TRAIN-then-TEST order), for quick runs."""
    rng = np.random.default_rng(0)
    keep = np.sort(rng.choice(len(y), size=min(n, len(y)), replace=False))
    return X[keep], y[keep], int(np.sum(keep < n_train_rows))


def one_class_split(y: np.ndarray, seed: int = SPLIT_SEED) -> dict[str, np.ndarray]:
    """Row indices of the protocol (module docstring, step 1-2): train / val / test normals,
    every abnormal beat and the balanced draw of abnormal beats."""
    y = check_array(y, "y", ndim=1)
    normal = np.flatnonzero(y == NORMAL)
    abnormal = np.flatnonzero(y != NORMAL)
    n_test, n_val = round(0.1 * len(normal)), round(0.05 * len(normal))
    if len(normal) - n_test - n_val < 2 or n_test < 2 or len(abnormal) < n_test:
        raise ValueError(f"too few beats for the protocol: {len(normal)} normal, "
                         f"{len(abnormal)} abnormal")
    rng = np.random.default_rng(seed)
    perm = normal[rng.permutation(len(normal))]
    n_train = len(normal) - n_test - n_val
    return {"train": perm[:n_train], "val": perm[n_train:n_train + n_val],
            "test": perm[-n_test:], "abnormal": abnormal,
            "balanced": rng.choice(abnormal, n_test, replace=False)}


# ----------------------------------------------------------------------------- detectors
def training_plan(n_train: int, s: Setting) -> dict[str, Any]:
    """Epochs, batch size and learning rate from the number of training beats.

    Small sets get small batches (more steps per epoch) and more epochs, so every model sees
    about ``s.target_steps`` optimizer steps (at most ``s.max_epochs`` epochs); early stopping on
    the validation normals ends training when the loss stops improving.  The learning rate
    shrinks with the batch (noisier gradients): 5e-3 at 64 beats per batch, 3e-3 at 32, 2e-3 at 16.
    """
    n_train = check_positive_int(n_train, "n_train")
    batch_size = 64 if n_train >= 1000 else 32 if n_train >= 200 else 16
    steps_per_epoch = math.ceil(n_train / batch_size)
    epochs = int(min(s.max_epochs, max(1, math.ceil(s.target_steps / steps_per_epoch))))
    lr = {64: 5e-3, 32: 3e-3, 16: 2e-3}[batch_size]
    return {"epochs": epochs, "batch_size": batch_size, "lr": lr, "patience": s.patience}


def train_sequence_model(kind: str, X_train: np.ndarray, X_val: np.ndarray, s: Setting,
                         seed: int) -> tuple[Any, float, int]:
    """Train an LSTM-AE (``kind="ae"``), Gaussian LSTM-VAE (``"vae"``) or Gaussian VRNN
    (``"vrnn"``, LSTM width ``s.hidden``, z_t of size ``s.latent``) on beats (N, T); returns
    (model, training seconds, best epoch)."""
    from minivae.models import LSTMVAE, VRNN, LSTMAutoencoder
    from minivae.train import EarlyStopping, Validation

    dt = np.float32  # the beats are z-normalised; float32 halves the time at no cost in AUC
    if kind == "ae":
        model = LSTMAutoencoder(1, s.hidden, s.latent, rng=seed, dtype=dt)
    elif kind == "vrnn":
        model = VRNN(1, s.hidden, s.latent, likelihood="gaussian", rng=seed, dtype=dt)
    else:
        model = LSTMVAE(1, s.hidden, s.latent, likelihood="gaussian", rng=seed, dtype=dt)
    plan = training_plan(len(X_train), s)
    t0 = time.perf_counter()
    history = model.fit(
        X_train[:, :, None].astype(dt), epochs=plan["epochs"], batch_size=plan["batch_size"],
        lr=plan["lr"], validation=Validation(X_val[:, :, None].astype(dt)),
        early_stopping=EarlyStopping(patience=plan["patience"]), clip_norm=5.0,
        rng=seed, verbose=0, diagnostics=False)
    return model, time.perf_counter() - t0, int(history.best_epoch or len(history))


def mlp_training_plan(n_train: int, s: Setting) -> dict[str, Any]:
    """The MLP autoencoder's plan: :func:`training_plan`'s batch size, lr ``s.mlp_lr`` and enough
    epochs for about ``s.mlp_target_steps`` steps (at most ``s.mlp_max_epochs``)."""
    batch_size = training_plan(n_train, s)["batch_size"]
    epochs = int(min(s.mlp_max_epochs,
                     max(1, math.ceil(s.mlp_target_steps / math.ceil(n_train / batch_size)))))
    return {"epochs": epochs, "batch_size": batch_size, "lr": s.mlp_lr,
            "patience": s.mlp_patience}


def train_mlp_autoencoder(X_train: np.ndarray, X_val: np.ndarray, s: Setting,
                          seed: int) -> tuple[Any, float, int]:
    """Train an MLP :class:`~minivae.models.Autoencoder` (squared-error loss) on whole beats
    (N, T): T -> ``s.mlp_hidden`` -> ``s.mlp_latent`` -> mirror -> T; returns (model, training
    seconds, best epoch).

    Plan: :func:`mlp_training_plan`; early stopping on the validation normals' loss (patience
    ``s.mlp_patience``, best epoch restored).
    """
    from minivae.models import Autoencoder

    model = Autoencoder(X_train.shape[1], list(s.mlp_hidden), s.mlp_latent, output="mse",
                        rng=seed, dtype=np.float32)
    return fit_mlp_timed(model, X_train, X_val, s, seed)


def fit_mlp_timed(model: Any, X_train: np.ndarray, X_val: np.ndarray, s: Any,
                  seed: int) -> tuple[Any, float, int]:
    """Fit a float32 MLP model on whole beats with :func:`mlp_training_plan` and early stopping
    on the validation normals (best epoch restored); returns (model, seconds, best epoch)."""
    from minivae.train import EarlyStopping, Validation

    dt = np.float32
    plan = mlp_training_plan(len(X_train), s)
    t0 = time.perf_counter()
    history = model.fit(
        X_train.astype(dt), epochs=plan["epochs"], batch_size=plan["batch_size"], lr=plan["lr"],
        validation=Validation(X_val.astype(dt)),
        early_stopping=EarlyStopping(patience=plan["patience"]), rng=seed, verbose=0,
        diagnostics=False)
    return model, time.perf_counter() - t0, int(history.best_epoch or len(history))


def reconstruction_mse(model: Any, X: np.ndarray) -> np.ndarray:
    """Mean squared reconstruction error per beat (N,) (the VAE decodes its posterior mean);
    sequence models read (N, T, 1), the MLP autoencoder (N, T)."""
    if getattr(model, "input_ndim", (3,)) == (2,):
        return np.mean((model.reconstruct(X.astype(model.dtype)).astype(np.float64) - X) ** 2,
                       axis=1)
    x = X[:, :, None].astype(model.dtype)
    return np.mean((model.reconstruct(x)[:, :, 0].astype(np.float64) - X) ** 2, axis=1)


def reconstruction_probability_score(model: Any, X: np.ndarray, n_samples: int,
                                     seed: int) -> np.ndarray:
    """-E_q[log p(x | z)] per beat (N,), L = ``n_samples`` draws (An & Cho 2015)."""
    x = X[:, :, None].astype(model.dtype)
    lp = model.reconstruction_log_prob(x, n_samples=n_samples, rng=seed, per_step=False)
    return -lp.astype(np.float64)


def vrnn_beat_score(model: Any, X: np.ndarray, kind: str, n_samples: int,
                    seed: int) -> np.ndarray:
    """A VRNN's per-step score averaged over the beat's steps (N,): ``kind="nelbo"`` the
    per-step negative ELBO, ``"recon_prob"`` minus the reconstruction log-probability
    (:meth:`~minivae.models.VRNN.per_step_scores`, ``n_samples`` sample paths)."""
    x = X[:, :, None].astype(model.dtype)
    steps = model.per_step_scores(x, rng=seed, n_samples=n_samples, kind=kind)
    return steps.astype(np.float64).mean(axis=1)


def pca_scorer(X_train: np.ndarray, explained: float = 0.9) -> tuple[Any, int]:
    """PCA reconstruction error (mean square per beat) with the fewest components explaining
    ``explained`` of the training variance; returns (score function, k)."""
    X_train = check_array(X_train, "X_train", ndim=2, dtype=np.float64)
    explained = check_scalar(explained, "explained", low=0.0, high=1.0, low_inclusive=False)
    mu = X_train.mean(axis=0)
    _, S, Vt = np.linalg.svd(X_train - mu, full_matrices=False)
    ratio = np.cumsum(S ** 2) / np.sum(S ** 2)
    k = int(np.searchsorted(ratio, explained) + 1)
    P = Vt[:k]

    def score(X: np.ndarray) -> np.ndarray:
        C = X - mu
        return np.mean((C - (C @ P.T) @ P) ** 2, axis=1)

    return score, k


def nearest_neighbour_scorer(X_train: np.ndarray) -> Any:
    """Euclidean distance of each beat to its nearest training normal."""
    X_train = check_array(X_train, "X_train", ndim=2, dtype=np.float64)
    sq_train = np.sum(X_train ** 2, axis=1)

    def score(X: np.ndarray) -> np.ndarray:
        d2 = np.sum(X ** 2, axis=1)[:, None] + sq_train[None, :] - 2.0 * X @ X_train.T
        return np.sqrt(np.maximum(d2.min(axis=1), 0.0))

    return score


# ------------------------------------------------------------------------------- metrics
def detection_metrics(val_scores: np.ndarray, scores: np.ndarray, classes: np.ndarray
                      ) -> dict[str, float]:
    """The table's metrics for one evaluation set; ``classes`` are the beats' UCR classes."""
    classes = check_array(classes, "classes", ndim=1)
    scores = check_array(scores, "scores", shape=(len(classes),), dtype=np.float64)
    labels = (classes != NORMAL).astype(int)
    threshold = threshold_mu_k_sigma(val_scores, 3.0)
    fpr, tpr, _ = roc_curve(labels, scores)
    out = {"roc_auc": roc_auc(labels, scores), "pr_auc": pr_auc(labels, scores),
           "accuracy": float(np.mean(apply_threshold(scores, threshold) == labels)),
           "best_balanced_accuracy": float(np.max((tpr + 1.0 - fpr) / 2.0))}
    normal = classes == NORMAL
    for c in range(2, 6):
        rows = normal | (classes == c)
        if np.any(classes == c):
            out[f"auc_class_{c}"] = roc_auc(labels[rows], scores[rows])
    return out


def score_all(scorers: dict[str, Any], X: np.ndarray, split: dict[str, np.ndarray]
              ) -> dict[str, dict[str, np.ndarray]]:
    """Scores of the validation normals, the test normals and every abnormal beat."""
    return {name: {part: f(X[split[part]]) for part in ("val", "test", "abnormal")}
            for name, f in scorers.items()}


def evaluate_scores(scores: dict[str, np.ndarray], y: np.ndarray, split: dict[str, np.ndarray]
                    ) -> dict[str, dict[str, float]]:
    """Metrics on both evaluation sets ("all": test normals + every abnormal beat;
    "balanced": test normals + the balanced draw)."""
    where = {b: i for i, b in enumerate(split["abnormal"])}
    bal = np.array([where[b] for b in split["balanced"]])
    out = {}
    for name, abn in (("all", scores["abnormal"]), ("balanced", scores["abnormal"][bal])):
        rows = split["abnormal"] if name == "all" else split["balanced"]
        classes = np.concatenate([y[split["test"]], y[rows]])
        out[name] = detection_metrics(scores["val"], np.concatenate([scores["test"], abn]),
                                      classes)
    return out


# --------------------------------------------------------------------------- one run
def detectors(X: np.ndarray, split: dict[str, np.ndarray], train_rows: np.ndarray,
              s: Setting, seed: int, which: tuple[str, ...] = DETECTORS
              ) -> tuple[dict[str, Any], dict[str, float], dict[str, Any]]:
    """Train / fit the detectors of the families ``which`` (:data:`DETECTORS`) on
    ``train_rows``; returns (scorers, seconds, notes)."""
    scorers: dict[str, Any] = {}
    seconds: dict[str, float] = {}
    notes: dict[str, Any] = {"plan": training_plan(len(train_rows), s)}
    X_val = X[split["val"]]
    for kind, label in (("ae", "LSTM-AE"), ("vae", "LSTM-VAE")) if "lstm" in which else ():
        model, sec, best = train_sequence_model(kind, X[train_rows], X_val, s, seed)
        notes[f"{label} best epoch"] = best
        scorers[f"{label} (MSE)"] = lambda Z, m=model: reconstruction_mse(m, Z)
        seconds[f"{label} (MSE)"] = sec
        if kind == "vae":
            scorers["LSTM-VAE (rec. prob.)"] = (
                lambda Z, m=model: reconstruction_probability_score(m, Z, s.vae_samples, seed))
            seconds["LSTM-VAE (rec. prob.)"] = sec
    if "vrnn" in which:
        model, sec, notes["VRNN best epoch"] = train_sequence_model("vrnn", X[train_rows], X_val,
                                                                    s, seed)
        for kind, label in (("nelbo", "VRNN (neg. ELBO per step)"),
                            ("recon_prob", "VRNN (rec. prob. per step)")):
            scorers[label] = (lambda Z, m=model, k=kind:
                              vrnn_beat_score(m, Z, k, s.vrnn_samples, seed))
            seconds[label] = sec
    if "mlp" in which:
        notes["MLP-AE plan"] = mlp_training_plan(len(train_rows), s)
        model, sec, notes["MLP-AE best epoch"] = train_mlp_autoencoder(X[train_rows], X_val, s,
                                                                       seed)
        scorers["MLP-AE (MSE)"] = lambda Z, m=model: reconstruction_mse(m, Z)
        seconds["MLP-AE (MSE)"] = sec
    if "baselines" not in which:
        return scorers, seconds, notes
    t0 = time.perf_counter()
    pca, notes["PCA components"] = pca_scorer(X[train_rows])
    seconds["PCA (90% variance)"] = time.perf_counter() - t0
    scorers["PCA (90% variance)"] = pca
    scorers["1-NN distance"] = nearest_neighbour_scorer(X[train_rows])
    seconds["1-NN distance"] = 0.0
    return scorers, seconds, notes


def run_detection(X: np.ndarray, y: np.ndarray, split: dict[str, np.ndarray], s: Setting,
                  seed: int, n_train: int | None = None,
                  which: tuple[str, ...] = DETECTORS) -> dict[str, Any]:
    """One seed of the protocol, on every training normal or a seeded draw of ``n_train``."""
    rows = split["train"]
    if n_train is not None:
        rows = np.random.default_rng([seed, n_train]).choice(rows, n_train, replace=False)
    scorers, seconds, notes = detectors(X, split, rows, s, seed, which)
    scores = score_all(scorers, X, split)
    metrics = {name: evaluate_scores(sc, y, split) for name, sc in scores.items()}
    return {"seed": seed, "n_train": len(rows), "metrics": metrics, "seconds": seconds,
            "notes": notes, "_scores": scores}


# ------------------------------------------------------------------------------ tables
_COLUMNS = (("roc_auc", "ROC-AUC"), ("pr_auc", "PR-AUC"), ("accuracy", "acc@thr"),
            ("best_balanced_accuracy", "best bal.acc"), ("auc_class_2", "AUC c2"),
            ("auc_class_3", "AUC c3"), ("auc_class_4", "AUC c4"), ("auc_class_5", "AUC c5"))


def table_cell(values: list[float], digits: int = 3) -> str:
    values = [v for v in values if v is not None and np.isfinite(v)]
    if not values:
        return "-"
    m, sd = mean_std(np.array(values))
    return f"{m:.{digits}f}" if len(values) == 1 else f"{m:.{digits}f} ± {sd:.{digits}f}"


def detection_table(runs: list[dict[str, Any]], eval_set: str) -> str:
    """Markdown table: one row per detector, mean ± std over the runs (seeds)."""
    head = "| detector | " + " | ".join(c for _, c in _COLUMNS) + " | train s |"
    lines = [head, "|---" * (len(_COLUMNS) + 2) + "|"]
    for name in runs[0]["metrics"]:
        cells = [table_cell([r["metrics"][name][eval_set].get(key, np.nan) for r in runs])
                 for key, _ in _COLUMNS]
        secs = table_cell([r["seconds"][name] for r in runs], 0)
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {secs} |")
    return "\n".join(lines)


def small_data_table(by_size: dict[int, list[dict[str, Any]]]) -> str:
    """Markdown table of the small-data runs: ROC-AUC / PR-AUC on both evaluation sets."""
    lines = ["| training normals | detector | ROC-AUC (all) | PR-AUC (all) | ROC-AUC (balanced) "
             "| best bal.acc (all) | train s |", "|---|---|---|---|---|---|---|"]
    for n, runs in by_size.items():
        for name in runs[0]["metrics"]:
            m = [r["metrics"][name] for r in runs]
            lines.append(
                f"| {n} | {name} | {table_cell([x['all']['roc_auc'] for x in m])} | "
                f"{table_cell([x['all']['pr_auc'] for x in m])} | "
                f"{table_cell([x['balanced']['roc_auc'] for x in m])} | "
                f"{table_cell([x['all']['best_balanced_accuracy'] for x in m])} | "
                f"{table_cell([r['seconds'][name] for r in runs], 0)} |")
    return "\n".join(lines)


def best_learned(runs: list[dict[str, Any]]) -> tuple[str, float]:
    """The learned detector with the highest mean ROC-AUC on the full evaluation set
    (("none", nan) when the runs hold no learned detector)."""
    learned = [n for n in runs[0]["metrics"] if n.startswith(("LSTM", "MLP", "VRNN"))]
    if not learned:
        return "none", float("nan")
    means = {n: float(np.mean([r["metrics"][n]["all"]["roc_auc"] for r in runs]))
             for n in learned}
    best = max(means, key=means.get)
    return best, means[best]


# ------------------------------------------------------------------------------ figure
def score_figure(run: dict[str, Any], y: np.ndarray, split: dict[str, np.ndarray],
                 names: list[str], path: Path) -> str:
    """Score distributions per class (test normals, classes 2-5) for ``names``, with the
    mean + 3 std threshold of the validation normals; log scale."""
    from minivae import plots

    plt = plots.plt
    fig, axes = plt.subplots(1, len(names), figsize=(5.2 * len(names), 3.8), squeeze=False)
    classes = y[split["abnormal"]]
    for ax, name in zip(axes[0], names):
        sc = run["_scores"][name]
        groups = [sc["test"]] + [sc["abnormal"][classes == c] for c in range(2, 6)]
        labels = [f"1 normal\n(n={len(sc['test'])})"] + [
            f"{c}\n(n={int(np.sum(classes == c))})" for c in range(2, 6)]
        keep = [i for i, g in enumerate(groups) if len(g)]
        shift = 0.0 if min(np.min(g) for g in groups if len(g)) > 0 else \
            1e-6 - min(np.min(g) for g in groups if len(g))  # log scale needs positive values
        ax.boxplot([groups[i] + shift for i in keep], showfliers=True, whis=(1, 99),
                   flierprops={"markersize": 2})
        ax.set_xticks(range(1, len(keep) + 1), [labels[i] for i in keep], fontsize=8)
        ax.axhline(threshold_mu_k_sigma(sc["val"], 3.0) + shift, color="C3", ls="--",
                   label="mean + 3 std of validation normals")
        ax.set_yscale("log")
        auc = run["metrics"][name]["all"]["roc_auc"]
        ax.set_title(f"{name}: ROC-AUC {auc:.3f} (seed {run['seed']})", fontsize=9)
        ax.set_xlabel("UCR class")
        ax.set_ylabel("anomaly score" + (" (shifted)" if shift else ""))
        ax.legend(fontsize=7, loc="upper left")
    return plots.save(fig, path, dpi=100)
