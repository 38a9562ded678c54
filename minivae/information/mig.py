r"""The Mutual Information Gap (MIG; Chen, Li, Grosse & Duvenaud, "Isolating Sources of
Disentanglement in Variational Autoencoders", NeurIPS 2018), a disentanglement score.

For factors of variation v_1 .. v_K (known labels of the data) and latents z_1 .. z_L:

    MIG = 1/K sum_k ( I(z_(j_k); v_k) - I(z_(j'_k); v_k) ) / H(v_k),

where j_k is the latent with the largest mutual information with v_k and j'_k the second
largest.  MIG is in [0, 1]: 1 when every factor is captured by one latent alone, near 0 when a
factor's information is spread over several latents (or absent).

**Estimator (stated, since it changes the numbers).**  The paper estimates I(z_j; v_k) from
q(z|x) over the whole dataset.  Here, as in most later work (Locatello et al. 2019,
disentanglement_lib), each latent is represented by its *posterior mean* over the data,
*discretised* into ``n_bins`` equal-width bins between its minimum and maximum, and the
mutual information of the two discrete variables is the plug-in estimate from their joint
histogram (:func:`minivae.information.discrete.mutual_information`).  Factor entropies H(v_k)
are the plug-in entropies of the labels.  The plug-in MI is biased upwards by about
(bins_z - 1)(bins_v - 1) / (2N) nats, so use N in the thousands.

All quantities in nats (the ratio does not depend on the unit).
"""

from __future__ import annotations

import numpy as np

from minivae._validation import check_array, check_positive_int
from minivae.information.discrete import entropy, mutual_information

__all__ = ["discretize", "factor_entropies", "mig", "mig_details", "mutual_information_matrix"]

DEFAULT_BINS = 20


def discretize(codes: np.ndarray, n_bins: int = DEFAULT_BINS) -> np.ndarray:
    """Each column of ``codes`` (N, L) cut into ``n_bins`` equal-width bins between its min and
    max: int array (N, L) of bin indices in [0, n_bins).  A constant column is all 0."""
    codes = check_array(codes, "codes", ndim=2, dtype=np.float64)
    n_bins = check_positive_int(n_bins, "n_bins")
    out = np.zeros(codes.shape, dtype=np.int64)
    for j in range(codes.shape[1]):
        lo, hi = codes[:, j].min(), codes[:, j].max()
        if hi > lo:
            inner = np.linspace(lo, hi, n_bins + 1)[1:-1]  # the max falls in the last bin
            out[:, j] = np.digitize(codes[:, j], inner)
    return out


def _labels(factors: object, n: int | None = None) -> np.ndarray:
    """Factors (N, K) of any real values -> int labels 0..(values - 1) per column."""
    f = check_array(factors, "factors", ndim=2)
    if n is not None and f.shape[0] != n:
        raise ValueError(f"factors must have one row per row of codes ({n}), got {f.shape[0]}")
    return np.stack([np.unique(f[:, k], return_inverse=True)[1].reshape(-1)
                     for k in range(f.shape[1])], axis=1)


def _joint_pmf(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Joint PMF (max a + 1, max b + 1) of two int label vectors of one length."""
    counts = np.zeros((a.max() + 1, b.max() + 1))
    np.add.at(counts, (a, b), 1.0)
    return counts / a.size


def factor_entropies(factors: np.ndarray) -> np.ndarray:
    """Plug-in entropy H(v_k) in nats of each factor column (N, K) -> (K,)."""
    f = _labels(factors)
    return np.array([entropy(np.bincount(f[:, k]) / f.shape[0]) for k in range(f.shape[1])])


def mutual_information_matrix(codes: np.ndarray, factors: np.ndarray,
                              n_bins: int = DEFAULT_BINS) -> np.ndarray:
    """I(z_j; v_k) in nats for every latent j and factor k: (L, K).

    codes: (N, L) real (e.g. posterior means), discretised with :func:`discretize`;
    factors: (N, K) labels (any real values; each distinct value is one class).
    """
    zd = discretize(codes, n_bins)
    f = _labels(factors, zd.shape[0])
    return np.array([[mutual_information(_joint_pmf(zd[:, j], f[:, k]))
                      for k in range(f.shape[1])] for j in range(zd.shape[1])])


def mig_details(codes: np.ndarray, factors: np.ndarray,
                n_bins: int = DEFAULT_BINS) -> dict[str, np.ndarray | float]:
    """MIG and its parts.

    Returns a dict: "mig" (float), "gap" (K,) the normalised gap of each factor, "mi" (L, K)
    the mutual information matrix, "entropy" (K,) the factor entropies, "top" (K,) the index of
    the latent most informative about each factor.  Needs L >= 2 latents and every factor
    taking at least two values (H(v_k) > 0).
    """
    codes = check_array(codes, "codes", ndim=2, dtype=np.float64)
    if codes.shape[1] < 2:
        raise ValueError(f"codes must have at least 2 latent columns (MIG is a gap between the "
                         f"two best latents), got shape {codes.shape}")
    mi = mutual_information_matrix(codes, factors, n_bins)
    h = factor_entropies(factors)
    constant = np.flatnonzero(h <= 0.0)
    if constant.size:
        raise ValueError(f"factors column(s) {constant.tolist()} take a single value (entropy "
                         "0): MIG normalises by the factor entropy; drop those columns")
    ordered = np.sort(mi, axis=0)
    gap = (ordered[-1] - ordered[-2]) / h
    return {"mig": float(gap.mean()), "gap": gap, "mi": mi, "entropy": h,
            "top": np.argmax(mi, axis=0)}


def mig(codes: np.ndarray, factors: np.ndarray, n_bins: int = DEFAULT_BINS) -> float:
    """The Mutual Information Gap of ``codes`` (N, L) for the ``factors`` (N, K), in [0, 1]
    (see the module docstring for the estimator)."""
    return float(mig_details(codes, factors, n_bins)["mig"])
