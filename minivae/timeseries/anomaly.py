"""Anomaly detection with autoencoders and VAEs, plus a rolling z-score baseline.

The recipe (Malhotra et al. 2016; An & Cho 2015; Park, Hoshi & Kemp 2018):

1. train an autoencoder / VAE on *normal* data only (windows of a series);
2. score new windows by how badly the model explains them;
3. pick a threshold on the scores of held-out *normal* validation windows (mu + k sigma, a
   percentile or the maximum) and flag everything above it (strict ``>``, as
   :func:`minivae.timeseries.thresholds.apply_threshold`).

:class:`AnomalyDetector` wraps any minivae model (LSTM autoencoder / LSTM-VAE on windows
``(N, T, D)``, or an MLP autoencoder / VAE, which then sees each window flattened to
``(N, T * D)``).  Scores, all *higher = more anomalous*:

* ``"mse"`` / ``"mae"``: reconstruction error ``mean_d (x - x_hat)^2`` or ``mean_d |x - x_hat|``
  per time step; a window's score is the mean over its steps.
* ``"mahalanobis"`` (EncDec-AD, Malhotra et al. 2016): error vectors ``e = |x - x_hat|`` are
  modelled as a Gaussian ``N(mu, Sigma)`` fitted on normal validation data, and the score is the
  squared Mahalanobis distance ``(e - mu)^T Sigma^-1 (e - mu)``.  With ``error_vector="step"``
  (the paper) ``e`` is the D-dimensional error of one time step; with ``"window"`` it is the
  whole window's error, ``T * D`` numbers, which also captures how errors correlate in time.
  Sigma is shrunk towards a scaled identity so it stays invertible (see
  :func:`fit_error_gaussian`).
* ``"reconstruction_probability"`` (An & Cho 2015): ``-(1/L) sum_l log p(x | z_l)``, z_l ~ q(z|x),
  the *negative* average log-likelihood over L latent samples; needs a model with
  ``reconstruction_log_prob`` (the LSTM-VAE, the VRNN).
* ``"nelbo"``: the per-step negative ELBO of a model with a latent per step,
  ``-log p(x_t | z_t, h_{t-1}) + KL(q(z_t | x_t, h_{t-1}) || p(z_t | h_{t-1}))`` averaged over
  ``n_samples`` sample paths; needs a model with ``per_step_scores`` (the
  :class:`~minivae.models.VRNN`).

Input layouts: windows ``(N, T, D)`` get one score per window ``(N,)``; a long series ``(T,)`` or
``(T, D)`` is cut into sliding windows (``window``, ``stride``), scored per window *and time
step*, and the per-step scores of overlapping windows are averaged back onto the time axis
(:func:`minivae.data.windows_to_series`), giving one score per time step ``(T,)``.  Note that a
2-D array is always read as a series ``(T, D)``, never as windows of one channel: pass those as
``(N, T, 1)``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from minivae._validation import check_array, check_positive_int, check_rng, check_scalar
from minivae.data.scaling import StandardScaler
from minivae.data.windows import sliding_windows, window_starts, windows_at, windows_to_series
from minivae.timeseries.thresholds import THRESHOLD_METHODS, apply_threshold, fit_threshold

__all__ = [
    "SCORES",
    "reconstruction_errors",
    "fit_error_gaussian",
    "mahalanobis_scores",
    "check_finite_scores",
    "AnomalyDetector",
    "rolling_zscore_scores",
    "RollingZScoreDetector",
]

SCORES = ("mse", "mae", "mahalanobis", "reconstruction_probability", "nelbo")
STEP_SCORES = ("step", "window")
ERROR_VECTORS = ("step", "window")


# ----------------------------------------------------------------------------------------------
# Score building blocks
# ----------------------------------------------------------------------------------------------


def reconstruction_errors(x: np.ndarray, x_hat: np.ndarray, kind: str = "mse") -> np.ndarray:
    """Per-time-step reconstruction error, averaged over features.

    Inputs:
    - x: (N, T, D) windows; x_hat: (N, T, D) their reconstructions.
    - kind: "mse" (mean_d (x - x_hat)^2) or "mae" (mean_d |x - x_hat|).

    Returns:
    - errors: (N, T).
    """
    if kind not in ("mse", "mae"):
        raise ValueError(f"kind must be 'mse' or 'mae', got {kind!r}")
    x = check_array(x, "x", ndim=3, dtype=np.float64)
    x_hat = check_array(x_hat, "x_hat", ndim=3, dtype=np.float64, allow_nan=True)
    if x.shape != x_hat.shape:
        raise ValueError(f"x and x_hat must have the same shape, got {x.shape} and {x_hat.shape}")
    diff = x - x_hat
    return np.mean(diff * diff if kind == "mse" else np.abs(diff), axis=2)


def fit_error_gaussian(
    errors: np.ndarray, *, shrinkage: float = 1e-3
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and regularised covariance of error vectors (EncDec-AD's N(mu, Sigma)).

        mu = mean_i e_i,   S = (1/M) sum_i (e_i - mu)(e_i - mu)^T   (maximum likelihood)
        Sigma = (1 - shrinkage) S + shrinkage * (tr(S) / K) I

    Shrinking towards a scaled identity keeps Sigma positive definite even when there are fewer
    error vectors than dimensions (a ``"window"`` error vector has T * D dimensions), and barely
    changes a well-estimated S.  If S is exactly zero (perfect reconstructions) a tiny absolute
    floor is used instead so Sigma is still invertible.

    Inputs:
    - errors: (M, K) error vectors, M >= 2.
    - shrinkage: in [0, 1].

    Returns:
    - mu: (K,), Sigma: (K, K).
    """
    e = check_array(errors, "errors", ndim=2, dtype=np.float64)
    if e.shape[0] < 2:
        raise ValueError(f"need at least 2 error vectors to fit a covariance, got {e.shape[0]}")
    s = check_scalar(shrinkage, "shrinkage", low=0.0, high=1.0)
    K = e.shape[1]
    mu = e.mean(axis=0)
    centred = e - mu
    cov = centred.T @ centred / e.shape[0]
    avg_var = float(np.trace(cov)) / K
    if avg_var <= 0.0:
        avg_var = 1e-12  # all errors identical: any positive floor gives a finite distance
        s = max(s, 1e-6)
    cov = (1.0 - s) * cov + s * avg_var * np.eye(K)
    return mu, cov


def mahalanobis_scores(errors: np.ndarray, mu: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """Squared Mahalanobis distance of each error vector, ``(e - mu)^T cov^-1 (e - mu)``.

    Computed with a Cholesky factor L of cov (cov = L L^T): the distance is ||L^-1 (e - mu)||^2,
    so no explicit inverse is formed.

    Inputs:
    - errors: (M, K); mu: (K,); cov: (K, K) symmetric positive definite.

    Returns:
    - scores: (M,) >= 0.
    """
    e = check_array(errors, "errors", ndim=2, dtype=np.float64)
    K = e.shape[1]
    mu = check_array(mu, "mu", shape=(K,), dtype=np.float64)
    cov = check_array(cov, "cov", shape=(K, K), dtype=np.float64)
    try:
        L = np.linalg.cholesky(cov)
    except np.linalg.LinAlgError as exc:
        raise ValueError(
            "cov is not positive definite; regularise it (fit_error_gaussian(shrinkage>0))"
        ) from exc
    # Solve L y = (e - mu)^T for all M vectors at once; ||y||^2 is the squared distance.
    y = np.linalg.solve(L, (e - mu).T)  # (K, M)
    return np.sum(y * y, axis=0)


def check_finite_scores(scores: np.ndarray, what: str = "anomaly scores") -> np.ndarray:
    """Raise a clear FloatingPointError if any score is NaN or inf; return the scores."""
    if not isinstance(scores, np.ndarray) or scores.dtype.kind not in "fiu":
        raise TypeError(f"scores ({what}) must be a real numpy array, got "
                        f"{type(scores).__name__} {getattr(scores, 'dtype', '')}".rstrip())
    scores = scores.astype(np.float64, copy=False)
    bad = ~np.isfinite(scores)
    if np.any(bad):
        first = np.argwhere(bad)[0].tolist()
        raise FloatingPointError(
            f"{what} contain {int(bad.sum())} non-finite value(s) (NaN or inf) out of "
            f"{scores.size}, first at index {first}; the model's reconstruction or "
            "log-likelihood overflowed (check the input scale, the model's training loss, and "
            "that the detector's scaler was fitted on comparable data)"
        )
    return scores


# ----------------------------------------------------------------------------------------------
# The model-based detector
# ----------------------------------------------------------------------------------------------


def _model_is_trained(model: object) -> bool:
    """Whether a model reports having been trained (``history_`` / ``is_fitted`` attributes)."""
    for attr in ("history_", "history", "is_fitted", "is_fitted_", "trained_"):
        value = getattr(model, attr, None)
        if value is not None and value is not False and not callable(value):
            return True
    return False


class AnomalyDetector:
    """Detect anomalies by how badly a model trained on normal data reconstructs new data.

    Args:
        model: any minivae autoencoder / VAE (duck typing: it needs ``reconstruct(X)``, and
            ``fit(X, **kwargs)`` if the detector is to train it).  A sequence model (one with
            ``input_ndim`` containing 3, e.g. LSTMVAE) gets windows (N, T, D); an MLP model
            gets them flattened to (N, T * D), so its ``input_dim`` must be T * D.
        score: "mse", "mae", "mahalanobis", "reconstruction_probability" or "nelbo" (module
            docstring).
        threshold: "mu_k_sigma", "percentile" or "max", fitted on held-out normal scores.
        k: k of ``mu + k * sigma``.
        q: percentile (0-100) for ``threshold="percentile"``.
        n_samples: L, latent samples (paths) for the reconstruction probability and "nelbo".
        window: window length T for series inputs (required for them; for window inputs it is
            read from the data and, if given, must agree).
        stride: step between windows when scoring a series (1 = every step; larger is faster,
            and the end of the series is always covered, see :func:`minivae.data.window_starts`).
        train_stride: step between the training windows cut from a normal series (default:
            ``stride``).
        validation_split: fraction of the normal data held out from training, in (0, 1): the
            *end* of a series, or the last windows.  Threshold (and, for "mahalanobis", the
            error Gaussian: first half of it, threshold on the second half) are fitted there.
        scale: standardise every feature with a :class:`~minivae.data.StandardScaler` fitted on
            the normal training part (recommended; the model then works in z-units).
        error_vector: "step" or "window", the error vector of the Mahalanobis score.
        shrinkage: covariance shrinkage of the Mahalanobis score (see fit_error_gaussian).
        eval_batch_size: windows cut from a series and scored at a time (bounds the memory of
            scoring a long series: it is never cut into all its windows at once; the model
            itself runs in inference mode, see :mod:`minivae.nn.inference`).
        step_score: how a series' per-step score is formed from the windows covering step t:
            "step" (default) = the mean of their errors *at t*; "window" = the mean of their
            whole-window scores (smoother: a step inherits its windows' verdicts).
        progress: show a ``tqdm`` bar while scoring (drawn only on a terminal).
        rng: generator or int seed.  Two seeds are drawn from it at construction: one for
            training, one for the reconstruction-probability samples, so scoring the same input
            twice gives the same numbers.

    Attributes after :meth:`fit`:
        window_threshold_: threshold for per-window scores (``score`` of windows).
        step_threshold_: threshold for per-time-step scores (``score`` of a series, and
            :meth:`score_steps`).
        val_window_scores_, val_step_scores_: the validation scores they were fitted on.
        error_mean_, error_cov_: the Mahalanobis Gaussian (score="mahalanobis" only).
        scaler_: the fitted StandardScaler (or None).
        history_: training history when the detector trained the model, else None.
    """

    def __init__(
        self,
        model: Any,
        *,
        score: str = "mse",
        threshold: str = "mu_k_sigma",
        k: float = 3.0,
        q: float = 99.0,
        n_samples: int = 10,
        window: int | None = None,
        stride: int = 1,
        train_stride: int | None = None,
        validation_split: float = 0.2,
        scale: bool = True,
        error_vector: str = "step",
        shrinkage: float = 1e-3,
        eval_batch_size: int = 256,
        step_score: str = "step",
        progress: bool = False,
        rng: np.random.Generator | int = 0,
    ) -> None:
        if score not in SCORES:
            raise ValueError(f"score must be one of {SCORES}, got {score!r}")
        if threshold not in THRESHOLD_METHODS:
            raise ValueError(
                f"threshold must be one of {sorted(THRESHOLD_METHODS)}, got {threshold!r}"
            )
        if not callable(getattr(model, "reconstruct", None)):
            raise TypeError(
                f"model must have a reconstruct(X) method, got {type(model).__name__}"
            )
        if score == "reconstruction_probability" and not callable(
            getattr(model, "reconstruction_log_prob", None)
        ):
            raise TypeError(
                f"score='reconstruction_probability' needs a model with "
                f"reconstruction_log_prob(X, n_samples=, rng=, per_step=) (e.g. LSTMVAE); "
                f"{type(model).__name__} has none: use score='mse', 'mae' or 'mahalanobis'"
            )
        if score == "nelbo" and not callable(getattr(model, "per_step_scores", None)):
            raise TypeError(
                f"score='nelbo' needs a model with per_step_scores(X, rng=, n_samples=, kind=) "
                f"(e.g. VRNN); {type(model).__name__} has none"
            )
        if error_vector not in ERROR_VECTORS:
            raise ValueError(f"error_vector must be one of {ERROR_VECTORS}, got {error_vector!r}")
        if step_score not in STEP_SCORES:
            raise ValueError(f"step_score must be one of {STEP_SCORES}, got {step_score!r}")
        self.step_score = step_score
        self.progress = bool(progress)
        self.model = model
        self.score_kind = score
        self.threshold_method = threshold
        self.k = check_scalar(k, "k")
        self.q = check_scalar(q, "q", low=0.0, high=100.0)
        self.n_samples = check_positive_int(n_samples, "n_samples")
        self.window = None if window is None else check_positive_int(window, "window")
        self.stride = check_positive_int(stride, "stride")
        self.train_stride = (
            self.stride if train_stride is None else check_positive_int(train_stride,
                                                                        "train_stride")
        )
        self.validation_split = check_scalar(
            validation_split, "validation_split", low=0.0, high=1.0, low_inclusive=False,
            high_inclusive=False,
        )
        self.scale = bool(scale)
        self.error_vector = error_vector
        self.shrinkage = check_scalar(shrinkage, "shrinkage", low=0.0, high=1.0)
        self.eval_batch_size = check_positive_int(eval_batch_size, "eval_batch_size")
        rng = check_rng(rng)
        self._train_seed = int(rng.integers(2**31 - 1))
        self._score_seed = int(rng.integers(2**31 - 1))
        # Fitted state.
        self.n_features_: int | None = None
        self.scaler_: StandardScaler | None = None
        self.error_mean_: np.ndarray | None = None
        self.error_cov_: np.ndarray | None = None
        self.window_threshold_: float | None = None
        self.step_threshold_: float | None = None
        self.val_window_scores_: np.ndarray | None = None
        self.val_step_scores_: np.ndarray | None = None
        self.history_: Any = None
        self.fitted_ = False

    # -- input handling -------------------------------------------------------------------------
    @property
    def _sequence_model(self) -> bool:
        return 3 in tuple(getattr(self.model, "input_ndim", (3,)))

    def _as_input(self, X: object, name: str = "X") -> tuple[np.ndarray, bool]:
        """X -> (float64 array, is_series).  Series come back as (T, D), windows as (N, T, D)."""
        arr = check_array(X, name, ndim=(1, 2, 3), dtype=np.float64)
        if arr.ndim == 3:
            if self.window is not None and arr.shape[1] != self.window:
                raise ValueError(
                    f"{name} holds windows of length {arr.shape[1]} (shape {arr.shape}) but the "
                    f"detector has window={self.window}"
                )
            is_series = False
        else:
            arr = arr[:, None] if arr.ndim == 1 else arr
            if self.window is None:
                raise ValueError(
                    f"{name} is a series of shape {arr.shape}: give the detector a window "
                    "length (AnomalyDetector(..., window=W)), or pass windows (N, T, D)"
                )
            if self.stride > self.window:
                raise ValueError(
                    f"stride={self.stride} is larger than window={self.window}: the steps "
                    "between windows would get no score; use stride <= window"
                )
            if arr.shape[0] < self.window:
                raise ValueError(
                    f"window={self.window} is longer than the series {name} (T={arr.shape[0]}, "
                    f"shape {arr.shape}); use a shorter window or a longer series"
                )
            is_series = True
        if self.n_features_ is not None and arr.shape[-1] != self.n_features_:
            raise ValueError(
                f"{name} has {arr.shape[-1]} feature(s) on its last axis (shape {arr.shape}) but "
                f"the detector was fitted on {self.n_features_}"
            )
        return arr, is_series

    def _scaled(self, arr: np.ndarray) -> np.ndarray:
        return arr if self.scaler_ is None else self.scaler_.transform(arr)

    def _windows(self, series: np.ndarray, stride: int) -> tuple[np.ndarray, np.ndarray]:
        """(T, D) series -> (windows (N, W, D), starts (N,))."""
        W = self.window
        assert W is not None
        return sliding_windows(series, W, stride), window_starts(series.shape[0], W, stride)

    def _window_chunks(self, series: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(starts, windows) of a series, ``eval_batch_size`` windows at a time: a long series
        is never cut into all its windows at once (``window`` times its size)."""
        starts = window_starts(series.shape[0], self.window, self.stride)  # type: ignore[arg-type]
        for a in range(0, starts.shape[0], self.eval_batch_size):
            chunk = starts[a : a + self.eval_batch_size]
            yield chunk, windows_at(series, chunk, self.window)  # type: ignore[arg-type]

    def _onto_steps(self, series: np.ndarray, per_window: Callable[[np.ndarray], np.ndarray]
                    ) -> np.ndarray:
        """``per_window(windows)`` ((n, W) or (n, W, D) values) averaged over the windows that
        cover each step of the series, window chunk by window chunk: the numbers of
        :func:`~minivae.data.windows_to_series` on all windows, in bounded memory."""
        T, W = series.shape[0], self.window
        sums: np.ndarray | None = None
        for starts, Xw in self._window_chunks(series):
            vals = per_window(Xw)
            vals = vals.reshape(vals.shape[0], W, -1)  # (n, W, D), D = 1 for per-step scores
            if sums is None:
                sums = np.zeros((T, vals.shape[2]))
                counts = np.zeros((T, vals.shape[2]))
            finite = np.isfinite(vals)
            t_idx = (starts[:, None] + np.arange(W)[None, :]).reshape(-1)
            np.add.at(sums, t_idx, np.where(finite, vals, 0.0).reshape(-1, vals.shape[2]))
            np.add.at(counts, t_idx, finite.reshape(-1, vals.shape[2]).astype(np.float64))
        assert sums is not None  # (a series has at least one window)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.where(counts > 0, sums / np.maximum(counts, 1.0), np.nan)
        return out

    def _to_model(self, Xw: np.ndarray) -> np.ndarray:
        """Windows (N, T, D) in the layout the model consumes."""
        if self._sequence_model:
            return Xw
        n_in = getattr(self.model, "input_dim", None)
        flat = Xw.reshape(Xw.shape[0], -1)
        if n_in is not None and n_in != flat.shape[1]:
            raise ValueError(
                f"{type(self.model).__name__} has input_dim={n_in} but windows of shape "
                f"{Xw.shape[1:]} flatten to {flat.shape[1]} numbers; build it with "
                f"input_dim = window * n_features = {flat.shape[1]}"
            )
        return flat

    def _from_model(self, out: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        return np.asarray(out, dtype=np.float64).reshape(shape)

    # -- per-step scores ------------------------------------------------------------------------
    def _batches(self, n: int) -> Any:
        """Start indices of the scoring batches (a tqdm bar over them when ``progress``)."""
        starts = range(0, n, self.eval_batch_size)
        if not self.progress:
            return starts
        from tqdm.auto import tqdm

        return tqdm(starts, desc="scoring", unit="batch", leave=False, disable=None, delay=0.5)

    def _to_steps(self, steps: np.ndarray, per_window: np.ndarray, starts: np.ndarray,
                  T: int) -> np.ndarray:
        """Per-window results of a series -> one score per step (see ``step_score``)."""
        if self.step_score == "window":
            return windows_to_series(per_window, starts, T, window=steps.shape[1])
        return windows_to_series(steps, starts, T)

    def _step_values(self, Xw: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """(n, W) values of windows that a series' step score averages (see ``step_score``)."""
        steps, per_window = self._step_matrix(Xw, rng)
        if self.step_score == "window":
            return np.repeat(per_window[:, None], steps.shape[1], axis=1)
        return steps

    def _reconstruct(self, Xw: np.ndarray) -> np.ndarray:
        parts = []
        for a in self._batches(Xw.shape[0]):
            chunk = Xw[a : a + self.eval_batch_size]
            out = self.model.reconstruct(self._to_model(chunk))
            parts.append(self._from_model(out, chunk.shape))
        return np.concatenate(parts, axis=0)

    def _log_prob_steps(self, Xw: np.ndarray,
                        rng: np.random.Generator | None = None) -> np.ndarray:
        """(N, T) average log p(x_t | z) over L samples; seeded so repeated calls agree (a
        series scored window chunk by window chunk passes one generator through its chunks)."""
        def log_prob(chunk: np.ndarray, r: np.random.Generator) -> np.ndarray:
            return self.model.reconstruction_log_prob(chunk, n_samples=self.n_samples, rng=r,
                                                      per_step=True)

        return self._sampled_steps(Xw, rng, "reconstruction_log_prob(per_step=True)", log_prob)

    def _nelbo_steps(self, Xw: np.ndarray, rng: np.random.Generator | None = None
                     ) -> np.ndarray:
        """(N, T) per-step negative ELBO (``model.per_step_scores``), seeded as above."""
        def nelbo(chunk: np.ndarray, r: np.random.Generator) -> np.ndarray:
            return self.model.per_step_scores(chunk, n_samples=self.n_samples, rng=r,
                                              kind="nelbo")

        return self._sampled_steps(Xw, rng, "per_step_scores(kind='nelbo')", nelbo)

    def _sampled_steps(self, Xw: np.ndarray, rng: np.random.Generator | None, what: str,
                       per_chunk: Callable[[np.ndarray, np.random.Generator], np.ndarray]
                       ) -> np.ndarray:
        """(N, T) values of a sampled per-step model score, batch by batch, one generator."""
        if not self._sequence_model:  # pragma: no cover - guarded in __init__ for MLP models
            raise TypeError(f"{what} needs a sequence model")
        rng = np.random.default_rng(self._score_seed) if rng is None else rng
        parts = []
        for a in self._batches(Xw.shape[0]):
            chunk = Xw[a : a + self.eval_batch_size]
            lp = np.asarray(per_chunk(chunk, rng), dtype=np.float64)
            if lp.shape != chunk.shape[:2]:
                raise ValueError(
                    f"model.{what} returned shape {lp.shape}, expected (N, T) = "
                    f"{chunk.shape[:2]}"
                )
            parts.append(lp)
        return np.concatenate(parts, axis=0)

    def _errors(self, Xw: np.ndarray) -> np.ndarray:
        """Absolute error vectors |x - x_hat|, (N, T, D)."""
        return np.abs(Xw - self._reconstruct(Xw))

    def _step_matrix(self, Xw: np.ndarray, rng: np.random.Generator | None = None
                     ) -> tuple[np.ndarray, np.ndarray]:
        """Scores of scaled windows Xw (N, T, D): (per-step (N, T), per-window (N,))."""
        kind = self.score_kind
        if kind in ("mse", "mae"):
            steps = reconstruction_errors(Xw, self._reconstruct(Xw), kind)
            per_window = steps.mean(axis=1)
        elif kind == "reconstruction_probability":
            steps = -self._log_prob_steps(Xw, rng)
            per_window = steps.mean(axis=1)
        elif kind == "nelbo":
            steps = self._nelbo_steps(Xw, rng)
            per_window = steps.mean(axis=1)
        else:
            if self.error_mean_ is None:
                raise RuntimeError("the Mahalanobis error Gaussian is not fitted; call fit()")
            e = self._errors(Xw)
            N, T, D = e.shape
            with np.errstate(over="ignore", invalid="ignore"):
                if self.error_vector == "step":
                    steps = mahalanobis_scores(
                        _finite_or_raise(e.reshape(N * T, D)), self.error_mean_, self.error_cov_
                    ).reshape(N, T)
                    per_window = steps.mean(axis=1)
                else:
                    per_window = mahalanobis_scores(
                        _finite_or_raise(e.reshape(N, T * D)), self.error_mean_, self.error_cov_
                    )
                    steps = np.repeat(per_window[:, None], T, axis=1)
        check_finite_scores(steps)
        check_finite_scores(per_window)
        return steps, per_window

    def _fit_error_gaussian(self, Xw: np.ndarray) -> None:
        e = self._errors(Xw)
        N, T, D = e.shape
        vecs = e.reshape(N * T, D) if self.error_vector == "step" else e.reshape(N, T * D)
        self.error_mean_, self.error_cov_ = fit_error_gaussian(
            _finite_or_raise(vecs), shrinkage=self.shrinkage
        )

    def _fit_thresholds(self, window_scores: np.ndarray, step_scores: np.ndarray) -> None:
        kwargs: dict[str, float] = {}
        if self.threshold_method == "mu_k_sigma":
            kwargs = {"k": self.k}
        elif self.threshold_method == "percentile":
            kwargs = {"q": self.q}
        self.val_window_scores_ = window_scores
        self.val_step_scores_ = step_scores
        self.window_threshold_ = fit_threshold(window_scores, self.threshold_method, **kwargs)
        self.step_threshold_ = fit_threshold(step_scores, self.threshold_method, **kwargs)

    # -- public API -----------------------------------------------------------------------------
    def fit(self, X_normal: object, *, train: bool | None = None, **fit_kwargs: Any
            ) -> AnomalyDetector:
        """Train the model on normal data (if needed) and fit the score statistics and thresholds.

        Inputs:
        - X_normal: normal data: a series (T,) / (T, D), or windows (N, T, D).
        - train: True = train the model; False = use it as it is; None (default) = train unless
          the model reports being trained already (a ``history_`` / ``is_fitted`` attribute).
        - fit_kwargs: passed to ``model.fit`` (epochs, batch_size, lr, ...).  Defaults added
          here: ``verbose=0`` and, unless ``rng`` or ``seed`` is given, ``rng`` = the
          detector's training seed.

        Returns:
        - self.
        """
        self.n_features_ = None  # refitting may change the data
        X, is_series = self._as_input(X_normal, "X_normal")
        v = self.validation_split
        need_two = self.score_kind == "mahalanobis"  # error Gaussian + threshold: two val parts
        if is_series:
            W = self.window
            T = X.shape[0]
            n_val = int(round(T * v))
            min_val = 2 * W if need_two else W
            if n_val < min_val or T - n_val < W:
                raise ValueError(
                    f"X_normal has T={T} steps: validation_split={v} leaves {T - n_val} for "
                    f"training and {n_val} for validation, but each needs >= window={W} "
                    f"(validation >= {min_val} for score='mahalanobis'); give a longer series"
                )
            train_part, val_part = X[: T - n_val], X[T - n_val :]
        else:
            N = X.shape[0]
            n_val = int(round(N * v))
            min_val = 4 if need_two else 2
            if n_val < min_val or N - n_val < 1:
                raise ValueError(
                    f"X_normal has {N} windows: validation_split={v} leaves {N - n_val} for "
                    f"training and {n_val} for validation; need >= 1 and >= {min_val}"
                )
            train_part, val_part = X[: N - n_val], X[N - n_val :]
        self.n_features_ = X.shape[-1]
        if not is_series:
            self.window = X.shape[1]
        self.scaler_ = StandardScaler().fit(train_part) if self.scale else None
        train_part, val_part = self._scaled(train_part), self._scaled(val_part)

        if train is None:
            train = not _model_is_trained(self.model)
        if train:
            if not callable(getattr(self.model, "fit", None)):
                raise TypeError(f"{type(self.model).__name__} has no fit() method to train it")
            Xw_train = self._windows(train_part, self.train_stride)[0] if is_series \
                else train_part
            kwargs = {"verbose": 0, **fit_kwargs}
            if "rng" not in kwargs and "seed" not in kwargs:
                kwargs["rng"] = self._train_seed
            self.history_ = self.model.fit(self._to_model(Xw_train), **kwargs)

        # Validation: (mahalanobis) first half -> error Gaussian, second half -> thresholds.
        if need_two:
            half = (val_part.shape[0] + 1) // 2
            val_a, val_b = val_part[:half], val_part[half:]
            Xw_a = self._windows(val_a, self.stride)[0] if is_series else val_a
            self._fit_error_gaussian(Xw_a)
        else:
            val_b = val_part
        if is_series:
            Xw_b, starts = self._windows(val_b, self.stride)
            steps, per_window = self._step_matrix(Xw_b)
            step_scores = self._to_steps(steps, per_window, starts, val_b.shape[0])
        else:
            steps, per_window = self._step_matrix(val_b)
            step_scores = steps.reshape(-1)
        self._fit_thresholds(per_window, step_scores)
        self.fitted_ = True
        return self

    def _check_fitted(self) -> None:
        if not self.fitted_:
            raise RuntimeError("AnomalyDetector is not fitted yet; call fit(X_normal) first")

    def score_steps(self, X: object) -> np.ndarray:
        """Per-time-step scores of windows.

        Inputs:
        - X: windows (N, T, D).

        Returns:
        - scores: (N, T), higher = more anomalous.
        """
        self._check_fitted()
        arr, is_series = self._as_input(X)
        if is_series:
            raise ValueError(
                f"score_steps takes windows (N, T, D), got a series of shape {arr.shape}; "
                "use score(series) for per-step scores of a series"
            )
        return self._step_matrix(self._scaled(arr))[0]

    def score(self, X: object) -> np.ndarray:
        """Anomaly scores, higher = more anomalous.

        Inputs:
        - X: windows (N, T, D) -> one score per window, (N,); or a series (T,) / (T, D) ->
          one score per time step, (T,): the per-step scores of all windows covering a step,
          averaged (windows every ``stride`` steps).

        Returns:
        - scores: (N,) or (T,).
        """
        self._check_fitted()
        arr, is_series = self._as_input(X)
        arr = self._scaled(arr)
        if not is_series:
            return self._step_matrix(arr)[1]
        rng = np.random.default_rng(self._score_seed)  # one stream through every chunk
        steps = self._onto_steps(arr, lambda Xw: self._step_values(Xw, rng))[:, 0]
        return check_finite_scores(steps)

    def score_windows(self, X: object) -> tuple[np.ndarray, np.ndarray]:
        """Per-window scores of a series, with the windows' start indices.

        Inputs:
        - X: series (T,) or (T, D).

        Returns:
        - scores: (N,), starts: (N,) (window i covers X[starts[i] : starts[i] + window]).
        """
        self._check_fitted()
        arr, is_series = self._as_input(X)
        if not is_series:
            raise ValueError(f"score_windows takes a series (T,) or (T, D), got {arr.shape}")
        scores, starts = [], []
        rng = np.random.default_rng(self._score_seed)  # one stream through every chunk
        for chunk_starts, Xw in self._window_chunks(self._scaled(arr)):
            scores.append(self._step_matrix(Xw, rng)[1])
            starts.append(chunk_starts)
        return np.concatenate(scores), np.concatenate(starts)

    def predict(self, X: object) -> np.ndarray:
        """0/1 anomaly labels: ``score(X) > threshold`` (window or step threshold to match).

        Returns:
        - (N,) int64 for windows, (T,) int64 for a series.
        """
        self._check_fitted()
        s = self.score(X)
        arr = np.asarray(X)
        thr = self.window_threshold_ if arr.ndim == 3 else self.step_threshold_
        return apply_threshold(s, thr)

    def set_threshold(self, method: str, **kwargs: float) -> AnomalyDetector:
        """Refit both thresholds on the stored validation scores with another method
        (e.g. ``set_threshold("percentile", q=99.5)``)."""
        self._check_fitted()
        assert self.val_window_scores_ is not None and self.val_step_scores_ is not None
        self.window_threshold_ = fit_threshold(self.val_window_scores_, method, **kwargs)
        self.step_threshold_ = fit_threshold(self.val_step_scores_, method, **kwargs)
        self.threshold_method = method
        return self

    def reconstruct(self, X: object) -> np.ndarray:
        """The model's reconstruction in the original units.

        Inputs / Returns: windows (N, T, D) -> (N, T, D); a series -> (T, D) (overlapping
        windows averaged).
        """
        self._check_fitted()
        arr, is_series = self._as_input(X)
        z = self._scaled(arr)
        if is_series:
            out = self._onto_steps(z, self._reconstruct)
        else:
            out = self._reconstruct(z)
        return out if self.scaler_ is None else self.scaler_.inverse_transform(out)

    def __repr__(self) -> str:
        return (
            f"AnomalyDetector({type(self.model).__name__}, score={self.score_kind!r}, "
            f"threshold={self.threshold_method!r}, window={self.window}, stride={self.stride})"
        )


def _finite_or_raise(e: np.ndarray) -> np.ndarray:
    return check_finite_scores(e, "reconstruction errors")


# ----------------------------------------------------------------------------------------------
# Rolling z-score baseline
# ----------------------------------------------------------------------------------------------


def rolling_zscore_scores(
    series: object, window: int, *, min_periods: int | None = None
) -> np.ndarray:
    """|z-score| of each point against the trailing window of the points *before* it.

        score[t] = max_d |x[t, d] - mean(x[t-w:t, d])| / std(x[t-w:t, d])

    (max over channels).  The window is trailing and excludes x[t], so the baseline is causal
    and a spike does not dilute its own statistics.  Steps with fewer than ``min_periods``
    earlier points (the start of the series) get score 0.  A window with zero spread uses a tiny
    floor (1e-8 times the series' overall std) instead of dividing by zero.

    Inputs:
    - series: (T,) or (T, D), finite.
    - window: w >= 2, number of past points used.
    - min_periods: minimum number of past points for a score (default: w // 2, at least 2).

    Returns:
    - scores: (T,) >= 0.
    """
    x = check_array(series, "series", ndim=(1, 2), dtype=np.float64)
    x = x[:, None] if x.ndim == 1 else x
    T, D = x.shape
    w = check_positive_int(window, "window", minimum=2)
    if w >= T:
        raise ValueError(f"window={w} must be shorter than the series (T={T})")
    mp = max(2, w // 2) if min_periods is None else check_positive_int(min_periods,
                                                                       "min_periods", minimum=2)
    if mp > w:
        raise ValueError(f"min_periods={mp} must be <= window={w}")
    # Row t of `past` holds x[t-w : t] (NaN-padded before the start): shape (T, w, D).
    padded = np.concatenate([np.full((w, D), np.nan), x[:-1]], axis=0)  # padded[t + w - 1] = x[t-1]
    past = np.lib.stride_tricks.sliding_window_view(padded, w, axis=0)  # (T, D, w)
    count = np.sum(np.isfinite(past[:, 0, :]), axis=1)  # (T,)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        # The first rows are all-NaN slices ("Mean of empty slice"); they are zeroed below.
        warnings.simplefilter("ignore", category=RuntimeWarning)
        mean = np.nanmean(past, axis=2)  # (T, D)
        std = np.nanstd(past, axis=2)
    floor = 1e-8 * max(float(np.std(x)), 1e-300)
    z = np.abs(x - mean) / np.maximum(std, floor)
    scores = np.max(z, axis=1)
    scores[count < mp] = 0.0
    return check_finite_scores(scores, "rolling z-scores")


class RollingZScoreDetector:
    """Model-free baseline: rolling z-score (:func:`rolling_zscore_scores`) with a threshold
    fitted on the scores of a normal series.

    Args:
        window: trailing window length (>= 2).
        threshold, k, q: as :class:`AnomalyDetector`.
        min_periods: see :func:`rolling_zscore_scores`.
    """

    def __init__(
        self,
        window: int,
        *,
        threshold: str = "mu_k_sigma",
        k: float = 3.0,
        q: float = 99.0,
        min_periods: int | None = None,
    ) -> None:
        self.window = check_positive_int(window, "window", minimum=2)
        if threshold not in THRESHOLD_METHODS:
            raise ValueError(
                f"threshold must be one of {sorted(THRESHOLD_METHODS)}, got {threshold!r}"
            )
        self.threshold_method = threshold
        self.k = check_scalar(k, "k")
        self.q = check_scalar(q, "q", low=0.0, high=100.0)
        if min_periods is not None:  # checked now, not at the first score() call
            check_positive_int(min_periods, "min_periods", minimum=2)
        self.min_periods = min_periods
        self.threshold_: float | None = None

    def score(self, series: object) -> np.ndarray:
        """(T,) or (T, D) -> (T,) scores."""
        return rolling_zscore_scores(series, self.window, min_periods=self.min_periods)

    def fit(self, series_normal: object) -> RollingZScoreDetector:
        """Fit the threshold on the scores of a normal series (warm-up steps excluded)."""
        s = self.score(series_normal)
        mp = max(2, self.window // 2) if self.min_periods is None else self.min_periods
        s = s[mp:]
        kwargs = {"mu_k_sigma": {"k": self.k}, "percentile": {"q": self.q}, "max": {}}
        self.threshold_ = fit_threshold(s, self.threshold_method, **kwargs[self.threshold_method])
        return self

    def predict(self, series: object) -> np.ndarray:
        """(T,) int64 labels ``score > threshold``."""
        if self.threshold_ is None:
            raise RuntimeError("RollingZScoreDetector is not fitted yet; call fit(series) first")
        return apply_threshold(self.score(series), self.threshold_)

