"""The second blind rule of the ECG5000 study: a proxy built from WHOLE-BEAT distortions.

Why a second rule: the first rule (:mod:`~minivae.experiments.ecg5000_blind`) scores held-out
normals against *local* distortions of themselves (a warp around one point, noise on a segment,
a bump).  ECG5000's abnormal beats are not local defects: a premature or ectopic beat changes the
shape of the whole beat (its timing, the width and height of the QRS complex and the T wave, the
level between them).  A proxy that rewards seeing a small bump favours pixel-wise reconstruction
errors and rates the latent-space scores near chance.  This rule keeps everything else of the
first rule and replaces only the synthetic anomalies.

The rule, fixed in this file and committed before any test number of it was computed:

1. **Candidates**: the first rule's seven (:data:`~minivae.experiments.ecg5000_blind.CANDIDATES`,
   same order, same networks, same data-size training plan, early stopping on the validation
   normals).
2. **Folds**: the first rule's 2 folds of the training normals (same seeded permutation); for
   each fold the candidates' networks train on the other fold (the very networks of the first
   rule, so one run yields both rules' choices).
3. **Synthetic anomalies** (:func:`distort_whole_beat`): every held-out normal is distorted once
   by each of five whole-beat changes (:data:`WHOLE_BEAT_DISTORTIONS`):

   - ``stretch``: a monotone warp of the whole beat's time axis, u -> u^g (u = t / (T - 1)),
     g = exp(+-U(0.15, 0.3)): the beat's events move earlier or later, more so mid-beat;
   - ``wave_shape``: each standardised sample v -> sign(v) |v|^p, p = exp(+-U(0.25, 0.45)):
     peaks (QRS, T wave) sharpen or flatten across the beat;
   - ``shifted_mix``: (1 - a) x(t) + a x(t - k), a ~ U(0.3, 0.5), |k| ~ U(0.05, 0.15) T
     (edges held): the beat blended with a shifted copy of itself (a widened or doubled complex);
   - ``smooth_deform``: + sum_{j=1..4} (c_j / j) sin(pi j u + phi_j), c_j ~ N(0, 1),
     phi_j ~ U(0, 2 pi): a smooth random deformation spanning the beat;
   - ``baseline_wander``: + b (u - 1/2) + c sin(pi u), |b|, |c| ~ U(0.5, 1): a drift across it.

   Each distorted beat is brought back to the source beat's mean and standard deviation (ECG5000
   beats are z-normalised, so a change of level or scale alone could not be an anomaly), and its
   change is then rescaled to a fixed size: ``x' = x + r (d(x) - x) / rms(d(x) - x)``, then the
   mean and standard deviation restored once more (which changes the size by a little).  The size
   ``r`` (:func:`whole_beat_size`) is taken from the normals themselves: the median over the
   held-out normals of the root-mean-square distance (per sample) to their nearest normal of the
   fitting fold.  A synthetic anomaly is so moved as far from its source as a normal beat
   typically is from its nearest normal neighbour: hard, and not saturated.
4. **Proxy** (:func:`whole_beat_proxy_score`): ROC-AUC of the held-out normals (negatives)
   against their distorted copies (positives), per kind; averaged over the 5 kinds and the 2
   folds.
5. **Choice and tie rule**: the first rule's :func:`~minivae.experiments.ecg5000_blind.choose`:
   the highest proxy; a candidate within 0.002 of it that comes earlier in the list wins.
6. **Evaluation**: the chosen candidate, trained on all training normals, scored once on the test
   sets (row :data:`GLOBAL_ROW`, beside the first rule's row).  Same seeds, same small-data sizes
   (100 and 300), same other split seeds as the first rule.

Only training normals (and the validation normals, for early stopping) enter the choice.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minivae._validation import check_array, check_rng, check_scalar
from minivae.timeseries.metrics import roc_auc

WHOLE_BEAT_DISTORTIONS = ("stretch", "wave_shape", "shifted_mix", "smooth_deform",
                          "baseline_wander")
GLOBAL_ROW = "blind choice, whole-beat proxy"


def _restore_moments(Z: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Rows of Z given the mean and standard deviation of the rows of X (a constant row of Z
    becomes X's mean)."""
    mz, sz = Z.mean(axis=1, keepdims=True), Z.std(axis=1, keepdims=True)
    safe = np.where(sz > 1e-12, sz, 1.0)
    return X.mean(axis=1, keepdims=True) + (Z - mz) * (X.std(axis=1, keepdims=True) / safe)


def _shape_change(x: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    """One beat x (T,) changed by ``kind`` before its moments are restored and its size set."""
    T = len(x)
    t = np.arange(T, dtype=np.float64)
    u = t / max(T - 1, 1)
    sign = rng.choice([-1.0, 1.0])
    if kind == "stretch":
        g = np.exp(sign * rng.uniform(0.15, 0.3))
        return np.interp((T - 1) * u ** g, t, x)
    if kind == "wave_shape":
        v = (x - x.mean()) / max(float(x.std()), 1e-12)
        return np.sign(v) * np.abs(v) ** np.exp(sign * rng.uniform(0.25, 0.45))
    if kind == "shifted_mix":
        a, k = rng.uniform(0.3, 0.5), sign * rng.uniform(0.05, 0.15) * T
        return (1.0 - a) * x + a * np.interp(t - k, t, x)  # np.interp holds the edges
    scale = max(float(x.std()), 1e-12)
    if kind == "smooth_deform":
        j = np.arange(1, 5)[:, None]
        c, phi = rng.standard_normal((4, 1)), rng.uniform(0.0, 2 * np.pi, (4, 1))
        return x + scale * np.sum(c / j * np.sin(np.pi * j * u + phi), axis=0)
    b = sign * rng.uniform(0.5, 1.0)
    c = rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 1.0)
    return x + scale * (b * (u - 0.5) + c * np.sin(np.pi * u))


def distort_whole_beat(X: np.ndarray, kind: str, rng: np.random.Generator | int,
                       size: float) -> np.ndarray:
    """Synthetic anomalies: each beat of X (N, T) changed as a whole by ``kind`` (one of
    :data:`WHOLE_BEAT_DISTORTIONS`, see the module docstring), its mean and standard deviation
    restored, its change rescaled to root-mean-square ``size`` per sample, the moments restored
    again.  Returns (N, T) float64; X is not modified.
    """
    X = check_array(X, "X", ndim=2, dtype=np.float64)
    if kind not in WHOLE_BEAT_DISTORTIONS:
        raise ValueError(f"kind must be one of {WHOLE_BEAT_DISTORTIONS}, got {kind!r}")
    if X.shape[1] < 3:
        raise ValueError(f"X: need beats of at least 3 samples, got shape {X.shape}")
    size = check_scalar(size, "size", low=0.0, low_inclusive=False)
    rng = check_rng(rng)
    D = _restore_moments(np.stack([_shape_change(x, kind, rng) for x in X]), X) - X
    rms = np.sqrt(np.mean(D ** 2, axis=1, keepdims=True))
    D *= size / np.where(rms > 1e-12, rms, np.inf)  # a beat no change can reach stays as it is
    return _restore_moments(X + D, X)


def whole_beat_size(X_fit: np.ndarray, X_held: np.ndarray) -> float:
    """The distortion size r: the median over the rows of X_held (M, T) of the root-mean-square
    distance per sample to the nearest row of X_fit (N, T)."""
    X_fit = check_array(X_fit, "X_fit", ndim=2, dtype=np.float64)
    X_held = check_array(X_held, "X_held", ndim=2, dtype=np.float64)
    if X_fit.shape[1] != X_held.shape[1]:
        raise ValueError(f"X_held: expected beats of {X_fit.shape[1]} samples like X_fit, got "
                         f"shape {X_held.shape}")
    sq = np.sum(X_fit ** 2, axis=1)
    d2 = np.sum(X_held ** 2, axis=1)[:, None] + sq[None, :] - 2.0 * X_held @ X_fit.T
    nearest = np.sqrt(np.maximum(d2.min(axis=1), 0.0) / X_fit.shape[1])
    return max(float(np.median(nearest)), 1e-6)


def whole_beat_proxy_score(scorer: Any, X_fit: np.ndarray, X_held: np.ndarray,
                           rng: np.random.Generator | int) -> dict[str, float]:
    """ROC-AUC of the held-out normals X_held (negatives) against their whole-beat distortions
    (positives) of size :func:`whole_beat_size` (X_fit: the normals the scorer was fitted on),
    per kind, and their mean (key ``"mean"``).  ``scorer``: (M, T) -> (M,), higher = stranger."""
    if not callable(scorer):
        raise TypeError(f"scorer must be callable (M, T) -> (M,), got {type(scorer).__name__}")
    size = whole_beat_size(X_fit, X_held)
    rng = check_rng(rng)
    normal = np.asarray(scorer(X_held), dtype=np.float64)
    out = {}
    for kind in WHOLE_BEAT_DISTORTIONS:
        anomalous = np.asarray(scorer(distort_whole_beat(X_held, kind, rng, size)),
                               dtype=np.float64)
        labels = np.r_[np.zeros(len(normal)), np.ones(len(anomalous))]
        out[kind] = roc_auc(labels, np.r_[normal, anomalous])
    out["mean"] = float(np.mean([out[k] for k in WHOLE_BEAT_DISTORTIONS]))
    out["size"] = size
    return out
