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

Options: ``--data-dir`` (the folder holding the two files; default ``$MINIVAE_UCR_DIR/ECG5000``),
``--quick`` (a few hundred beats, small models, 1 seed: seconds), ``--seed`` / ``--seeds``,
``--out``, ``--parts`` (any of ``main small downstream``), ``--detectors`` (any of ``lstm mlp
baselines``: train only those), ``--no-figures``.  Set
``OMP_NUM_THREADS=1`` on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from minivae._validation import check_array, check_positive_int, check_scalar
from minivae.data import load_ucr
from minivae.experiments._cli import (
    blas_threads_note,
    experiment_parser,
    parse_run,
    run_record,
    say,
    write_results,
)
from minivae.nn.dense import Dense
from minivae.nn.layer import Layer
from minivae.nn.lstm import LSTM
from minivae.objectives.losses import softmax_cross_entropy, softmax_cross_entropy_grad
from minivae.timeseries.metrics import mean_std, pr_auc, roc_auc, roc_curve
from minivae.timeseries.thresholds import apply_threshold, threshold_mu_k_sigma

FILES = ("ECG5000_TRAIN.tsv", "ECG5000_TEST.tsv")
NORMAL = 1
PARTS = ("main", "small", "downstream")
DETECTORS = ("lstm", "mlp", "baselines")  # --detectors: the LSTM-AE/VAE, the MLP-AE, PCA + 1-NN
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
                mlp_hidden=(32,), mlp_max_epochs=40, mlp_target_steps=200, mlp_patience=5,
                small_sizes=(40,), n_seeds=1, beats=400, classifier_hidden=8,
                classifier_epochs=3, downstream_test=100, imputer_epochs=2, imputer_iter=1)
TINY = Setting(hidden=6, latent=2, max_epochs=2, target_steps=10, patience=2, vae_samples=2,
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
    """Train an LSTM-AE (``kind="ae"``) or Gaussian LSTM-VAE (``"vae"``) on beats (N, T);
    returns (model, training seconds, best epoch)."""
    from minivae.models import LSTMVAE, LSTMAutoencoder
    from minivae.train import EarlyStopping, Validation

    dt = np.float32  # the beats are z-normalised; float32 halves the time at no cost in AUC
    if kind == "ae":
        model = LSTMAutoencoder(1, s.hidden, s.latent, rng=seed, dtype=dt)
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
    from minivae.train import EarlyStopping, Validation

    dt = np.float32
    model = Autoencoder(X_train.shape[1], list(s.mlp_hidden), s.mlp_latent, output="mse",
                        rng=seed, dtype=dt)
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


# --------------------------------------------------------------------------- downstream
class BeatClassifier(Layer):
    """The downstream test's classifier: an LSTM reads the beat, a Dense layer maps its last
    hidden state to K class logits, trained with the softmax cross-entropy.

    x: (N, T, 1) -> hs (N, T, H), h_T (N, H) -> logits (N, K);  loss = mean_n -log softmax(l_n)[y_n]
    """

    def __init__(self, n_classes: int, hidden: int, *, rng: int = 0,
                 dtype: object = np.float32) -> None:
        super().__init__(dtype)
        self.lstm = LSTM(1, hidden, rng=rng, dtype=dtype)
        self.head = Dense(hidden, n_classes, rng=rng + 1, dtype=dtype)
        self._dlogits: np.ndarray | None = None

    def logits(self, X: np.ndarray) -> np.ndarray:
        """X (N, T, 1) -> (N, K)."""
        _, (hT, _) = self.lstm(X.astype(self.dtype))
        return self.head(hT)

    def loss(self, batch: tuple[np.ndarray, np.ndarray], *, rng: Any = None,
             mask: Any = None) -> tuple[float, dict[str, float]]:
        """The :func:`~minivae.train.train_step` interface: batch = (X (N, T, 1), y (N,))."""
        X, y = batch
        logits = self.logits(X).astype(np.float64)
        value = softmax_cross_entropy(logits, y)
        self._dlogits = softmax_cross_entropy_grad(logits, y).astype(self.dtype)
        return value, {"loss": value}

    def backward(self) -> None:
        dh = self.head.backward(self._dlogits)
        self.lstm.backward(None, dh, None)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Class indices (N,)."""
        return np.argmax(self.logits(X), axis=1)


def train_classifier(X: np.ndarray, y: np.ndarray, s: Setting, seed: int) -> BeatClassifier:
    """Train a :class:`BeatClassifier` on beats X (N, T) with classes y (N,) in [0, K)."""
    from minivae.train import train_step
    from minivae.train.optim import Adam

    model = BeatClassifier(int(y.max()) + 1, s.classifier_hidden, rng=seed)
    opt = Adam(model, lr=3e-3)
    rng = np.random.default_rng(seed)
    x3 = X[:, :, None].astype(model.dtype)
    for _ in range(s.classifier_epochs):
        order = rng.permutation(len(y))
        for start in range(0, len(y), 32):
            rows = order[start:start + 32]
            train_step(model, opt, (x3[rows], y[rows]), clip_norm=5.0)
    return model


def gap_masks(n: int, T: int, s: Setting, rng: np.random.Generator) -> np.ndarray:
    """(n, T) observed-masks: gaps of ``s.gap_length`` steps hiding ``s.gap_rate`` of each beat."""
    from minivae.timeseries.imputation_study import condition_mask

    return np.stack([condition_mask((T,), s.gap_rate, s.gap_length, rng) for _ in range(n)])


def impute_all(X_train: np.ndarray, m_train: np.ndarray, X_test: np.ndarray,
               m_test: np.ndarray, s: Setting, seed: int) -> dict[str, tuple[np.ndarray, ...]]:
    """Every method's filled (train, test) beats; the model is trained on incomplete TRAIN beats."""
    from minivae.timeseries.imputation_study import ModelImputer, default_model_factory
    from minivae.timeseries.impute import BASELINES, gp_fit_params, impute

    holes_tr = np.where(m_train, X_train, np.nan)[:, :, None]
    holes_te = np.where(m_test, X_test, np.nan)[:, :, None]
    # One set of GP hyperparameters (median over a few training beats), so no beat pays a fit.
    fits = [gp_fit_params(np.flatnonzero(m), x[m]) for x, m in zip(X_train[:8], m_train[:8])]
    gp_kw = {k: float(np.median([getattr(f, k) for f in fits]))
             for k in ("lengthscale", "signal_var", "noise_var")}
    out: dict[str, tuple[np.ndarray, ...]] = {}
    for method in BASELINES:
        kw = {**gp_kw, "fit": False} if method == "gp" else {}
        out[method] = tuple(impute(h, method=method, **kw)[:, :, 0] for h in (holes_tr, holes_te))
    imputer = ModelImputer(default_model_factory(1, seed), window=X_train.shape[1],
                           n_iter=s.imputer_iter, init="model")
    imputer.fit(holes_tr, epochs=s.imputer_epochs, batch_size=32, lr=3e-3, rng=seed)
    out["lstm_vae"] = tuple(imputer.transform(h)[:, :, 0] for h in (holes_tr, holes_te))
    out["linear+model"] = tuple(imputer.transform(h, init="linear")[:, :, 0]
                                for h in (holes_tr, holes_te))
    return out


def run_downstream(X: np.ndarray, y: np.ndarray, n_train_rows: int, s: Setting,
                   seed: int) -> dict[str, Any]:
    """Gaps -> every imputation method -> the classifier; test accuracy and imputation MAE."""
    rng = np.random.default_rng([seed, 19])
    tr = np.arange(n_train_rows)
    te = np.sort(rng.choice(np.arange(n_train_rows, len(y)),
                            min(s.downstream_test, len(y) - n_train_rows), replace=False))
    K = int(y.max())
    m_tr, m_te = gap_masks(len(tr), X.shape[1], s, rng), gap_masks(len(te), X.shape[1], s, rng)
    t0 = time.perf_counter()
    filled = {"complete (no gaps)": (X[tr], X[te]),
              **impute_all(X[tr], m_tr, X[te], m_te, s, seed)}
    rows = []
    for method, (f_tr, f_te) in filled.items():
        clf = train_classifier(f_tr, y[tr] - 1, s, seed)
        acc = float(np.mean(clf.predict(f_te[:, :, None]) == y[te] - 1))
        mae = (float("nan") if method.startswith("complete")
               else float(np.mean(np.abs(f_te - X[te])[~m_te])))
        rows.append({"method": method, "accuracy": acc, "mae": mae})
    return {"seed": seed, "n_train": len(tr), "n_test": len(te), "n_classes": K,
            "missing_share": float(1 - m_te.mean()), "rows": rows,
            "seconds": time.perf_counter() - t0}


# ------------------------------------------------------------------------------ tables
_COLUMNS = (("roc_auc", "ROC-AUC"), ("pr_auc", "PR-AUC"), ("accuracy", "acc@thr"),
            ("best_balanced_accuracy", "best bal.acc"), ("auc_class_2", "AUC c2"),
            ("auc_class_3", "AUC c3"), ("auc_class_4", "AUC c4"), ("auc_class_5", "AUC c5"))


def _cell(values: list[float], digits: int = 3) -> str:
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
        cells = [_cell([r["metrics"][name][eval_set].get(key, np.nan) for r in runs])
                 for key, _ in _COLUMNS]
        secs = _cell([r["seconds"][name] for r in runs], 0)
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
                f"| {n} | {name} | {_cell([x['all']['roc_auc'] for x in m])} | "
                f"{_cell([x['all']['pr_auc'] for x in m])} | "
                f"{_cell([x['balanced']['roc_auc'] for x in m])} | "
                f"{_cell([x['all']['best_balanced_accuracy'] for x in m])} | "
                f"{_cell([r['seconds'][name] for r in runs], 0)} |")
    return "\n".join(lines)


def downstream_table(runs: list[dict[str, Any]]) -> str:
    """Markdown table: imputation MAE on the removed points and the classifier's test accuracy."""
    lines = ["| imputation | MAE on removed points | classifier test accuracy |", "|---|---|---|"]
    for i, row in enumerate(runs[0]["rows"]):
        lines.append(f"| {row['method']} | {_cell([r['rows'][i]['mae'] for r in runs])} | "
                     f"{_cell([r['rows'][i]['accuracy'] for r in runs])} |")
    return "\n".join(lines)


def best_learned(runs: list[dict[str, Any]]) -> tuple[str, float]:
    """The learned detector with the highest mean ROC-AUC on the full evaluation set
    (("none", nan) when the runs hold no learned detector)."""
    learned = [n for n in runs[0]["metrics"] if n.startswith(("LSTM", "MLP"))]
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
                   help="which detectors to train: lstm (LSTM-AE, LSTM-VAE), mlp (MLP-AE), "
                        "baselines (PCA, 1-NN); default all")
    p.add_argument("--target-steps", type=int, default=None,
                   help="optimizer steps the training plan aims for (default: the size's "
                        "setting); epochs are still capped by its max_epochs")
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
        for key in ("setting", "split_sizes", "mode", "detectors"):
            if other.get(key) != first.get(key):
                raise ValueError(f"--merge: {folder} has another {key} than {folders[0]}")
    merged: dict[str, Any] = {k: first[k] for k in ("mode", "setting", "split_sizes")}
    if "detectors" in first:
        merged["detectors"] = first["detectors"]
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
    split = one_class_split(y)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    say(f"ecg5000 ({mode}): {len(y)} beats x {X.shape[1]} from {data_dir}; normals "
        f"{len(split['train'])} train / {len(split['val'])} val / {len(split['test'])} test, "
        f"{len(split['abnormal'])} abnormal; seeds {list(seeds)}; {blas_threads_note()}")
    t_start = time.perf_counter()
    results: dict[str, Any] = {**run_record(mode, seeds, s, argv), "data_dir": str(data_dir),
                               "split_sizes": {k: len(v) for k, v in split.items()},
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
