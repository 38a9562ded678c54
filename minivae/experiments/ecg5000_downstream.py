"""The ECG5000 downstream test: gaps -> every imputation method -> the same small LSTM
classifier (described in :mod:`minivae.experiments.ecg5000`)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from minivae.experiments.ecg5000_core import Setting, table_cell
from minivae.nn.dense import Dense
from minivae.nn.layer import Layer
from minivae.nn.lstm import LSTM
from minivae.objectives.losses import softmax_cross_entropy, softmax_cross_entropy_grad

__all__ = [
    "BeatClassifier",
    "train_classifier",
    "gap_masks",
    "impute_all",
    "run_downstream",
    "downstream_table",
]


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


def downstream_table(runs: list[dict[str, Any]]) -> str:
    """Markdown table: imputation MAE on the removed points and the classifier's test accuracy."""
    lines = ["| imputation | MAE on removed points | classifier test accuracy |", "|---|---|---|"]
    for i, row in enumerate(runs[0]["rows"]):
        lines.append(f"| {row['method']} | {table_cell([r['rows'][i]['mae'] for r in runs])} | "
                     f"{table_cell([r['rows'][i]['accuracy'] for r in runs])} |")
    return "\n".join(lines)
