"""A seeded, imbalanced tabular anomaly data set in the spirit of card-fraud detection.

No real transactions are shipped; :func:`make_fraud_data` draws rows whose difficulties match
the real problem: a tiny anomaly rate (0.2 % by default, where ROC-AUC flatters every method and
PR-AUC is the honest headline), features on wildly different scales (amounts in the thousands,
fractions in [0, 1], counts), heavy tails, and two kinds of anomaly:

* ``"range"`` rows (half of them): a large amount at night far from home -- each feature is
  individually unusual, so a per-feature z-score finds them;
* ``"pattern"`` rows (the other half): every feature inside its usual range, but the seven
  correlated "behaviour" features (driven by three latent factors in normal rows, like the
  PCA components of the public card-fraud data) no longer follow the normal correlation: only a
  model of the joint distribution (PCA, an autoencoder, a VAE) sees them.
"""

from __future__ import annotations

import numpy as np

from minivae._validation import check_positive_int, check_rng, check_scalar

__all__ = ["FRAUD_FEATURES", "make_fraud_data"]

FRAUD_FEATURES = ("amount", "hour", "tx_last_24h", "account_age_days", "distance_km",
                  "v1", "v2", "v3", "v4", "v5", "v6", "v7")
_N_BEHAVIOUR = 7
# Scales of the behaviour features: five orders of magnitude apart on purpose.
_V_SCALES = np.array([0.01, 0.1, 1.0, 10.0, 100.0, 1000.0, 0.5])


def _behaviour_mixing(rng: np.random.Generator) -> np.ndarray:
    """(3, 7) loadings of the latent factors (fixed per data seed)."""
    return rng.standard_normal((3, _N_BEHAVIOUR))


def _normal_rows(n: int, mixing: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    amount = rng.lognormal(3.5, 1.0, n)  # median ~33, long right tail
    hour = (rng.normal(14.0, 4.0, n)) % 24.0  # mostly daytime
    tx = rng.poisson(3.0, n).astype(np.float64)
    age = rng.exponential(900.0, n)
    distance = rng.lognormal(1.0, 1.0, n)
    h = rng.standard_normal((n, 3))
    v = (h @ mixing + 0.15 * rng.standard_normal((n, _N_BEHAVIOUR))) * _V_SCALES
    return np.column_stack([amount, hour, tx, age, distance, v])


def make_fraud_data(
    n: int = 100_000,
    *,
    anomaly_rate: float = 0.002,
    rng: np.random.Generator | int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw ``n`` rows of 12 features, ``round(n * anomaly_rate)`` (>= 2) of them anomalous.

    Inputs:
    - n: number of rows (>= 100).
    - anomaly_rate: fraction of anomalous rows, in (0, 0.5).
    - rng: generator or seed (the same seed gives the same rows).

    Returns:
    - X: (n, 12) float64, columns :data:`FRAUD_FEATURES`, raw (unscaled) units.
    - y: (n,) int64, 1 = anomaly.
    - kind: (n,) str, "" (normal), "range" or "pattern".
    """
    n = check_positive_int(n, "n", minimum=100)
    rate = check_scalar(anomaly_rate, "anomaly_rate", low=0.0, high=0.5, low_inclusive=False,
                        high_inclusive=False)
    rng = check_rng(rng)
    mixing = _behaviour_mixing(rng)
    X = _normal_rows(n, mixing, rng)
    n_anom = max(2, int(round(n * rate)))
    idx = rng.choice(n, n_anom, replace=False)
    n_range = n_anom // 2
    rows_range, rows_pattern = idx[:n_range], idx[n_range:]
    # "range": big amount, at night, far from home (each feature alone is unusual).
    X[rows_range, 0] = rng.lognormal(6.5, 0.7, n_range)
    X[rows_range, 1] = rng.uniform(1.0, 5.0, n_range)
    X[rows_range, 4] = rng.lognormal(5.0, 0.8, n_range)
    # "pattern": behaviour features redrawn independently with each feature's own normal
    # spread, so every value is in range but the latent-factor correlation is gone.
    spread = np.sqrt(np.sum(mixing**2, axis=0) + 0.15**2) * _V_SCALES
    X[rows_pattern, 5:] = rng.standard_normal((len(rows_pattern), _N_BEHAVIOUR)) * spread
    y = np.zeros(n, dtype=np.int64)
    y[idx] = 1
    kind = np.full(n, "", dtype="<U7")
    kind[rows_range], kind[rows_pattern] = "range", "pattern"
    return X, y, kind
