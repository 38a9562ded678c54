"""Model-free baselines for filling missing values in time series.

Every imputer takes ``x`` of shape (T,), (T, D) or (N, T, D) with NaN at missing points, plus
an optional boolean ``mask`` of the same shape (True = observed), and returns a filled copy of
the same shape.  Each channel of each series is imputed independently, on the integer time
grid t = 0, 1, ..., T-1 (so ``bandwidth``, ``window`` and the GP ``lengthscale`` are in time
steps).  Observed values are returned unchanged.

Mask rules (:func:`check_missing`, shared with the model-based imputation): without a mask,
the missing points are exactly the NaNs of ``x``.  With a mask (a boolean numpy array, as
everywhere in minivae), the mask defines them: values of ``x`` where ``mask`` is False are
ignored (they may be NaN or anything), and ``x`` must be finite where ``mask`` is True.  A
series or channel with no observed value cannot be imputed and raises a ValueError naming it.

Methods (also in ``BASELINES`` and via ``impute(x, mask, method=...)``):

* ``impute_mean`` / ``impute_median`` -- the channel's observed mean / median.
* ``impute_ffill`` -- last observation carried forward.
* ``impute_linear`` -- linear interpolation, flat extrapolation at the ends.
* ``impute_weighted_average`` -- kernel-weighted average of observed neighbours.
* ``impute_gp`` -- Gaussian-process regression (RBF + white noise) with hyperparameters fitted
  by maximising the log marginal likelihood; see ``gp_log_marginal_likelihood`` and
  ``gp_posterior`` for the building blocks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from minivae._validation import (
    check_array,
    check_mask,
    check_positive_int,
    check_same_shape,
    check_scalar,
)

__all__ = [
    "check_missing",
    "GPParams",
    "gp_log_marginal_likelihood",
    "gp_posterior",
    "gp_fit_params",
    "impute_mean",
    "impute_median",
    "impute_ffill",
    "impute_linear",
    "impute_weighted_average",
    "impute_gp",
    "BASELINES",
    "impute",
]

_LOG_2PI = float(np.log(2.0 * np.pi))


# ----------------------------------------------------------------------------------------------
# Input handling shared by all imputers
# ----------------------------------------------------------------------------------------------


def check_missing(
    x: object, mask: object | None
) -> tuple[np.ndarray, np.ndarray, tuple[int, ...], np.dtype]:
    """Validate series with missing values and their mask; view them as (N, T, D).

    The one validator of every imputer here and of the model-based imputation
    (:mod:`minivae.timeseries.imputation_study`).

    Inputs:
    - x: (T,), (T, D) or (N, T, D) real numbers, NaN at missing points.
    - mask: None (missing = the NaNs of x; inf is refused) or a boolean numpy array, True =
      observed, of x's shape (for (N, T, D) also (N, T): a whole step observed or missing),
      checked by :func:`minivae._validation.check_mask` like every mask in minivae: x must be
      finite where it is True and may hold anything elsewhere.

    Returns:
    - x3: (N, T, D) float64 copy of x (the imputers fill it in place);
    - observed3: (N, T, D) bool;
    - shape: x's shape; out_dtype: the dtype results come back in (x's float dtype, else
      float64).

    Raises ValueError when a series has no observed value at all (nothing can fill it).
    """
    arr = check_array(x, "x", ndim=(1, 2, 3), allow_nan=True)
    out_dtype = arr.dtype if arr.dtype in (np.float32, np.float64) else np.dtype(np.float64)
    xf = np.array(arr, dtype=np.float64)  # our own copy
    if mask is None:
        n_inf = int(np.sum(np.isinf(xf)))
        if n_inf:
            raise ValueError(
                f"x contains {n_inf} infinite value(s); mark missing points with NaN "
                "(or pass a mask), inf is not a valid observation"
            )
        observed = ~np.isnan(xf)
    else:
        m = check_mask(mask, xf, data="x", per_step=True)
        observed = np.broadcast_to(m[..., None] if m.shape != xf.shape else m, xf.shape).copy()
    shape = xf.shape
    if xf.ndim < 3:  # (T,) -> (1, T, 1); (T, D) -> (1, T, D)
        xf, observed = (a.reshape(1, shape[0], -1) for a in (xf, observed))
    N, T, D = xf.shape
    empty = np.flatnonzero(~observed.reshape(N, -1).any(axis=1))
    if empty.size:
        which = "x" if len(shape) < 3 else f"x[{int(empty[0])}]"
        raise ValueError(
            f"{which} has no observed value at all (all {T * D} entries missing, NaN or "
            "hidden by mask); "
            "cannot impute an all-missing series"
        )
    return xf, observed, shape, out_dtype


def _channel_name(shape: tuple, n: int, d: int) -> str:
    if len(shape) == 1:
        return "x"
    if len(shape) == 2:
        return f"x[:, {d}]"
    return f"x[{n}, :, {d}]"


def _channels(
    xf: np.ndarray, observed: np.ndarray, shape: tuple
) -> Iterator[tuple[int, int, np.ndarray, np.ndarray, np.ndarray]]:
    """Yield (n, d, obs_idx, y_obs, miss_idx) for every channel with missing points."""
    N, T, D = xf.shape
    for n in range(N):
        for d in range(D):
            obs_mask = observed[n, :, d]
            if obs_mask.all():
                continue
            obs_idx = np.flatnonzero(obs_mask)
            if obs_idx.size == 0:
                raise ValueError(
                    f"{_channel_name(shape, n, d)} has no observed values (all {T} missing); "
                    "cannot impute an all-missing series/channel"
                )
            yield n, d, obs_idx, xf[n, obs_idx, d], np.flatnonzero(~obs_mask)


def _impute_with(
    x: object,
    mask: object | None,
    fill: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray],
) -> np.ndarray:
    """Apply ``fill(obs_idx, y_obs, miss_idx) -> values at miss_idx`` to every channel."""
    xf, observed, shape, out_dtype = check_missing(x, mask)
    for n, d, obs_idx, y_obs, miss_idx in _channels(xf, observed, shape):
        xf[n, miss_idx, d] = fill(obs_idx, y_obs, miss_idx)
    return xf.reshape(shape).astype(out_dtype, copy=False)


# ----------------------------------------------------------------------------------------------
# Simple baselines
# ----------------------------------------------------------------------------------------------


def impute_mean(x: object, mask: object | None = None) -> np.ndarray:
    """Fill each channel's missing points with the mean of its observed values.

    Inputs:
    - x: (T,), (T, D) or (N, T, D), NaN at missing points.
    - mask: optional bool array of x's shape, True = observed.

    Returns:
    - filled array of x's shape.
    """
    return _impute_with(x, mask, lambda o, y, m: np.full(m.shape, np.mean(y)))


def impute_median(x: object, mask: object | None = None) -> np.ndarray:
    """Fill each channel's missing points with the median of its observed values.

    Inputs / Returns: as ``impute_mean``.
    """
    return _impute_with(x, mask, lambda o, y, m: np.full(m.shape, np.median(y)))


def impute_ffill(x: object, mask: object | None = None) -> np.ndarray:
    """Last observation carried forward (LOCF).

    Each missing point takes the value of the closest observation before it.  A *leading* gap
    (missing points before the first observation) has nothing to carry forward, so it is
    backfilled with the first observation instead.

    Inputs / Returns: as ``impute_mean``.
    """

    def fill(obs_idx: np.ndarray, y_obs: np.ndarray, miss_idx: np.ndarray) -> np.ndarray:
        prev = np.searchsorted(obs_idx, miss_idx, side="right") - 1  # last obs before; -1: none
        return y_obs[np.maximum(prev, 0)]

    return _impute_with(x, mask, fill)


def impute_linear(x: object, mask: object | None = None) -> np.ndarray:
    """Linear interpolation between the neighbouring observations.

    Points before the first / after the last observation get that observation's value (flat
    extrapolation: extrapolating a slope from two noisy points is usually worse).

    Inputs / Returns: as ``impute_mean``.
    """
    return _impute_with(
        x, mask, lambda o, y, m: np.interp(m.astype(np.float64), o.astype(np.float64), y)
    )


def impute_weighted_average(
    x: object,
    mask: object | None = None,
    *,
    kernel: str = "gaussian",
    bandwidth: float = 2.0,
    power: float = 2.0,
    window: int | None = None,
) -> np.ndarray:
    """Kernel-weighted average of the observed points of the same channel.

    value(t) = sum_s w(|t - s|) y_s / sum_s w(|t - s|) over observed times s, with

    * ``kernel="gaussian"``: w(d) = exp(-d^2 / (2 bandwidth^2));
    * ``kernel="inverse_distance"``: w(d) = d^(-power)  (d >= 1 on the integer grid).

    Weights are normalised in log space, so far-away points never underflow to 0/0: with a
    narrow Gaussian the nearest observations dominate.  With ``window`` only observations with
    |t - s| <= window are used; a missing point with no observation inside its window falls
    back to its nearest observation(s) (ties averaged) instead of failing.

    Inputs:
    - x, mask: as ``impute_mean``.
    - kernel: "gaussian" or "inverse_distance".
    - bandwidth: Gaussian width in time steps (> 0).
    - power: inverse-distance exponent (> 0).
    - window: optional positive int, max distance in time steps; None = all observations.

    Returns:
    - filled array of x's shape.
    """
    if kernel not in ("gaussian", "inverse_distance"):
        raise ValueError(f"kernel must be 'gaussian' or 'inverse_distance', got {kernel!r}")
    bw = check_scalar(bandwidth, "bandwidth", low=0.0, low_inclusive=False)
    pw = check_scalar(power, "power", low=0.0, low_inclusive=False)
    win = None if window is None else check_positive_int(window, "window")

    def fill(obs_idx: np.ndarray, y_obs: np.ndarray, miss_idx: np.ndarray) -> np.ndarray:
        out = np.empty(miss_idx.shape[0])
        # Process missing points in chunks so the (chunk, n_obs) distance matrix stays ~32 MB.
        chunk = max(1, (1 << 22) // obs_idx.size)
        t_obs = obs_idx.astype(np.float64)
        for a in range(0, miss_idx.size, chunk):
            t_miss = miss_idx[a : a + chunk].astype(np.float64)
            dist = np.abs(t_miss[:, None] - t_obs[None, :])  # (b, n_obs), all >= 1
            if kernel == "gaussian":
                logw = -0.5 * (dist / bw) ** 2
            else:
                logw = -pw * np.log(dist)
            if win is not None:
                logw = np.where(dist <= win, logw, -np.inf)
                empty = ~np.any(dist <= win, axis=1)
                if np.any(empty):
                    # No observation in the window: use the nearest one(s).
                    nearest = dist[empty] == dist[empty].min(axis=1, keepdims=True)
                    logw[empty] = np.where(nearest, 0.0, -np.inf)
            w = np.exp(logw - logw.max(axis=1, keepdims=True))
            out[a : a + chunk] = (w @ y_obs) / w.sum(axis=1)
        return out

    return _impute_with(x, mask, fill)


# ----------------------------------------------------------------------------------------------
# Gaussian-process regression
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GPParams:
    """Hyperparameters of the kernel k(t, t') = signal_var exp(-(t - t')^2 / (2 lengthscale^2))
    plus noise_var on the diagonal (white noise on the observations).  All must be > 0."""

    lengthscale: float
    signal_var: float
    noise_var: float

    def __post_init__(self) -> None:
        for name in ("lengthscale", "signal_var", "noise_var"):
            v = check_scalar(getattr(self, name), name, low=0.0, low_inclusive=False)
            object.__setattr__(self, name, v)

    def log_params(self) -> np.ndarray:
        """(3,) array [log lengthscale, log signal_var, log noise_var]."""
        return np.log([self.lengthscale, self.signal_var, self.noise_var])

    @classmethod
    def from_log(cls, theta: np.ndarray) -> GPParams:
        """Inverse of ``log_params``."""
        ls, sv, nv = np.exp(np.asarray(theta, dtype=np.float64))
        return cls(float(ls), float(sv), float(nv))


def _as_params(params: object) -> GPParams:
    if isinstance(params, GPParams):
        return params
    if isinstance(params, Mapping):
        keys = {"lengthscale", "signal_var", "noise_var"}
        if set(params) != keys:
            raise ValueError(
                f"params must have exactly the keys {sorted(keys)}, got {sorted(params)}"
            )
        return GPParams(**params)
    raise TypeError(f"params must be a GPParams or a dict, got {type(params).__name__}")


def _check_t_y(t: object, y: object, tname: str, yname: str) -> tuple[np.ndarray, np.ndarray]:
    tt = check_array(t, tname, ndim=1, dtype=np.float64)
    yy = check_array(y, yname, ndim=1, dtype=np.float64)
    check_same_shape(tt, yy, tname, yname)
    return tt, yy


def _sq_dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a[:, None] - b[None, :]) ** 2


def _cholesky(K: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor; adds a tiny growing jitter only if K is numerically not PD."""
    try:
        return np.linalg.cholesky(K)
    except np.linalg.LinAlgError:
        pass
    scale = float(np.mean(np.diag(K)))
    for rel in (1e-10, 1e-8, 1e-6, 1e-4):
        try:
            return np.linalg.cholesky(K + rel * scale * np.eye(K.shape[0]))
        except np.linalg.LinAlgError:
            continue
    raise np.linalg.LinAlgError("GP covariance matrix is not positive definite even with jitter")


_TRI_BLOCK = 64


def _solve_lower(L: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Solve L x = b for lower-triangular L (n, n), b (n,) or (n, m): blocked forward
    substitution.  np.linalg.solve alone would redo an O(n^3) LU factorisation; here only the
    small diagonal blocks go through it and the rest is matrix products, O(n^2 m) overall."""
    x = np.array(b, dtype=np.float64)  # copy, overwritten block by block
    n = L.shape[0]
    for a in range(0, n, _TRI_BLOCK):
        e = min(a + _TRI_BLOCK, n)
        if a > 0:
            x[a:e] -= L[a:e, :a] @ x[:a]
        x[a:e] = np.linalg.solve(L[a:e, a:e], x[a:e])
    return x


def _solve_upper(U: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Solve U x = b for upper-triangular U: blocked back substitution (see _solve_lower)."""
    x = np.array(b, dtype=np.float64)
    n = U.shape[0]
    for e in range(n, 0, -_TRI_BLOCK):
        a = max(e - _TRI_BLOCK, 0)
        if e < n:
            x[a:e] -= U[a:e, e:] @ x[e:]
        x[a:e] = np.linalg.solve(U[a:e, a:e], x[a:e])
    return x


def _cho_solve(L: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Solve (L L^T) x = b with two triangular solves."""
    return _solve_upper(L.T, _solve_lower(L, b))


def _lml_and_grad(
    t: np.ndarray, y: np.ndarray, p: GPParams, want_grad: bool
) -> tuple[float, np.ndarray | None]:
    n = t.shape[0]
    d2 = _sq_dist(t, t)
    Kf = p.signal_var * np.exp(-0.5 * d2 / p.lengthscale**2)
    K = Kf + p.noise_var * np.eye(n)
    L = _cholesky(K)
    alpha = _cho_solve(L, y)
    # log N(y | 0, K) = -1/2 y^T K^-1 y - 1/2 log|K| - n/2 log 2 pi, with log|K| = 2 sum log L_ii.
    lml = -0.5 * float(y @ alpha) - float(np.sum(np.log(np.diag(L)))) - 0.5 * n * _LOG_2PI
    if not want_grad:
        return lml, None
    # d lml / d theta = 1/2 tr((alpha alpha^T - K^-1) dK/d theta); all dK are symmetric, so the
    # trace of a product is the sum of the elementwise product.
    L_inv = _solve_lower(L, np.eye(n))
    W = np.outer(alpha, alpha) - L_inv.T @ L_inv  # K^-1 = L^-T L^-1
    grad = np.array(
        [
            0.5 * np.sum(W * (Kf * d2 / p.lengthscale**2)),  # d/d log lengthscale
            0.5 * np.sum(W * Kf),  # d/d log signal_var
            0.5 * p.noise_var * np.trace(W),  # d/d log noise_var
        ]
    )
    return lml, grad


def gp_log_marginal_likelihood(
    t: object, y: object, params: GPParams | Mapping[str, float], *, return_grad: bool = False
) -> float | tuple[float, np.ndarray]:
    """Log marginal likelihood log N(y | 0, K + noise_var I) of a zero-mean GP.

        log p(y) = -1/2 y^T (K + s^2 I)^-1 y - 1/2 log|K + s^2 I| - n/2 log(2 pi),
        K_ij = signal_var exp(-(t_i - t_j)^2 / (2 lengthscale^2)),  s^2 = noise_var.

    Computed with a Cholesky factor (log-determinant = 2 sum log diag L), never an explicit
    inverse or determinant.  Subtract the mean of ``y`` first if it is not zero-mean.

    Inputs:
    - t: (n,) input times.
    - y: (n,) observations.
    - params: GPParams or dict with keys lengthscale, signal_var, noise_var.
    - return_grad: also return the analytic gradient.

    Returns:
    - lml: float; and with ``return_grad`` a tuple (lml, grad) where grad has shape (3,) and
      holds d lml / d [log lengthscale, log signal_var, log noise_var].
    """
    tt, yy = _check_t_y(t, y, "t", "y")
    lml, grad = _lml_and_grad(tt, yy, _as_params(params), return_grad)
    return (lml, grad) if return_grad else lml


def gp_posterior(
    t_train: object,
    y_train: object,
    t_test: object,
    params: GPParams | Mapping[str, float],
    *,
    return_std: bool = False,
    include_noise: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Posterior of a zero-mean GP with RBF + white-noise kernel at test times.

        mean = K_*^T (K + s^2 I)^-1 y,     var = k(t*, t*) - K_*^T (K + s^2 I)^-1 K_*

    with K = k(t_train, t_train) (n, n) and K_* = k(t_train, t_test) (n, m); both solves go
    through the Cholesky factor of K + s^2 I.

    Inputs:
    - t_train: (n,) training times; y_train: (n,) observations (zero prior mean: centre them).
    - t_test: (m,) test times.
    - params: GPParams or dict.
    - return_std: also return the posterior standard deviation.
    - include_noise: if True the std is that of a new noisy observation (adds noise_var);
      otherwise that of the latent function.

    Returns:
    - mean: (m,); with ``return_std`` a tuple (mean, std), std of shape (m,).
    """
    tt, yy = _check_t_y(t_train, y_train, "t_train", "y_train")
    ts = check_array(t_test, "t_test", ndim=1, dtype=np.float64, allow_empty=True)
    p = _as_params(params)
    K = p.signal_var * np.exp(-0.5 * _sq_dist(tt, tt) / p.lengthscale**2)
    L = _cholesky(K + p.noise_var * np.eye(tt.shape[0]))
    Ks = p.signal_var * np.exp(-0.5 * _sq_dist(tt, ts) / p.lengthscale**2)  # (n, m)
    mean = Ks.T @ _cho_solve(L, yy)
    if not return_std:
        return mean
    v = _solve_lower(L, Ks)  # (n, m); K_*^T K^-1 K_* = v^T v
    var = np.maximum(p.signal_var - np.sum(v * v, axis=0), 0.0)  # clip round-off below 0
    if include_noise:
        var = var + p.noise_var
    return mean, np.sqrt(var)


# Bounds and settings of the hyperparameter search (log space).  The noise floor keeps
# K + s^2 I well conditioned (condition number <~ n * 1e6) even for noise-free smooth data.
_NOISE_FLOOR_REL = 1e-6
_GRID_SIZE = 10
_NOISE_GRID_REL = (1e-4, 1e-2, 1e-1)


def _fit_blocks(
    blocks: list[tuple[np.ndarray, np.ndarray]],
    fixed: Mapping[str, float | None],
    steps: int,
    lr: float = 0.05,
) -> GPParams:
    """Maximise sum_b lml(t_b, y_b) over the free (None in ``fixed``) log-hyperparameters.

    Blocks are treated as independent (block-diagonal approximation of the full likelihood).
    Deterministic: a coarse grid picks the start, then ``steps`` of Adam on the log-params,
    clipped to sensible bounds; the best point seen is returned.
    """
    all_y = np.concatenate([y for _, y in blocks])
    var = float(np.mean(all_y**2))  # blocks are centred
    scale = var if var > 0 else 1.0
    dts = [np.diff(t) for t, _ in blocks if t.size > 1]
    min_dt = float(min((d.min() for d in dts), default=1.0))
    span = float(max((t.max() - t.min() for t, _ in blocks), default=1.0))
    span = max(span, min_dt)
    lo = np.log([0.5 * min_dt, 1e-3 * scale, _NOISE_FLOOR_REL * scale])
    hi = np.log([10.0 * span, 1e3 * scale, 10.0 * scale])
    names = ("lengthscale", "signal_var", "noise_var")
    free = np.array([fixed[k] is None for k in names])

    def objective(theta: np.ndarray, want_grad: bool) -> tuple[float, np.ndarray | None]:
        p = GPParams.from_log(theta)
        total, grad = 0.0, np.zeros(3) if want_grad else None
        for t, y in blocks:
            lml, g = _lml_and_grad(t, y, p, want_grad)
            total += lml
            if want_grad:
                grad += g
        return total, grad

    def base(k: str, default: float) -> float:
        return float(np.log(fixed[k])) if fixed[k] is not None else default

    # Coarse grid over lengthscale x noise (signal variance starts at the data variance).
    ls_grid = np.linspace(np.log(min_dt), np.log(span), _GRID_SIZE) if free[0] else [None]
    nv_grid = [np.log(r * scale) for r in _NOISE_GRID_REL] if free[2] else [None]
    best_theta, best_val = None, -np.inf
    for lls in ls_grid:
        for lnv in nv_grid:
            theta = np.array(
                [
                    base("lengthscale", lls if lls is not None else 0.0),
                    base("signal_var", np.log(scale)),
                    base("noise_var", lnv if lnv is not None else 0.0),
                ]
            )
            theta = np.where(free, np.clip(theta, lo, hi), theta)
            val, _ = objective(theta, False)
            if val > best_val:
                best_theta, best_val = theta, val
    assert best_theta is not None
    if not free.any():
        return GPParams.from_log(best_theta)

    # Adam ascent on the free log-params.
    theta = best_theta.copy()
    m = np.zeros(3)
    v = np.zeros(3)
    b1, b2, eps = 0.9, 0.999, 1e-8
    for i in range(1, steps + 1):
        val, grad = objective(theta, True)
        if val > best_val:
            best_theta, best_val = theta.copy(), val
        g = np.where(free, grad, 0.0)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        step = lr * (m / (1 - b1**i)) / (np.sqrt(v / (1 - b2**i)) + eps)
        theta = np.where(free, np.clip(theta + step, lo, hi), theta)
    val, _ = objective(theta, False)
    if val > best_val:
        best_theta = theta
    return GPParams.from_log(best_theta)


def gp_fit_params(
    t: object,
    y: object,
    *,
    lengthscale: float | None = None,
    signal_var: float | None = None,
    noise_var: float | None = None,
    steps: int = 150,
) -> GPParams:
    """Fit GP hyperparameters by maximising the log marginal likelihood.

    ``y`` is centred (its mean subtracted) first.  Hyperparameters given as numbers are held
    fixed; those left None are fitted in log space: a coarse grid over (lengthscale, noise_var)
    chooses the start, then ``steps`` of Adam with the analytic gradient refine it.  Bounds:
    lengthscale in [0.5 min spacing, 10 span], signal_var in [1e-3, 1e3] x var(y), noise_var in
    [1e-6, 10] x var(y).  Deterministic (no random restarts).

    Inputs:
    - t: (n,) times; y: (n,) observations.
    - lengthscale, signal_var, noise_var: optional fixed values (> 0).
    - steps: number of Adam steps (>= 0).

    Returns:
    - GPParams.
    """
    tt, yy = _check_t_y(t, y, "t", "y")
    fixed = _fixed_params(lengthscale, signal_var, noise_var)
    steps = check_positive_int(steps, "steps", minimum=0)
    return _fit_blocks([(tt, yy - yy.mean())], fixed, steps)


def _fixed_params(
    lengthscale: float | None, signal_var: float | None, noise_var: float | None
) -> dict[str, float | None]:
    fixed = {"lengthscale": lengthscale, "signal_var": signal_var, "noise_var": noise_var}
    for k, v in fixed.items():
        if v is not None:
            fixed[k] = check_scalar(v, k, low=0.0, low_inclusive=False)
    return fixed


def _gp_windows(
    obs_idx: np.ndarray, miss_idx: np.ndarray, max_points: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Split a channel into (train positions into obs_idx, missing times) windows.

    Observed points are cut into consecutive "cores" of max_points // 2 points; each missing
    time belongs to the core holding the observation right after it, and its window trains on
    that core plus up to max_points // 4 observations of context on each side.  So every
    missing point sees observations on both sides (when they exist) and a window never holds
    more than max_points observations.
    """
    n_obs = obs_idx.size
    if n_obs <= max_points:
        return [(np.arange(n_obs), miss_idx)]
    core = max_points // 2
    ctx = (max_points - core) // 2
    n_seg = -(-n_obs // core)
    pos = np.searchsorted(obs_idx, miss_idx)  # number of observations before each missing time
    seg = np.minimum(pos // core, n_seg - 1)
    windows = []
    for k in np.unique(seg):
        lo = max(0, k * core - ctx)
        hi = min(n_obs, (k + 1) * core + ctx)
        windows.append((np.arange(lo, hi), miss_idx[seg == k]))
    return windows


def _fit_sets(
    t_obs: np.ndarray, y_obs: np.ndarray, max_fit_points: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Training sets for the hyperparameter fit: all observations if there are at most
    ``max_fit_points``, else two runs of ``max_fit_points`` consecutive observations, at the
    start and at the end of the series (deterministic; contiguous runs keep the short-range
    structure that sets the lengthscale, which strided subsampling would lose).  Each set is
    centred on its own mean."""
    n = t_obs.size
    starts = [0] if n <= max_fit_points else [0, n - max_fit_points]
    sets = []
    for a in starts:
        t, y = t_obs[a : a + max_fit_points], y_obs[a : a + max_fit_points]
        sets.append((t, y - y.mean()))
    return sets


def impute_gp(
    x: object,
    mask: object | None = None,
    *,
    lengthscale: float | None = None,
    signal_var: float | None = None,
    noise_var: float | None = None,
    fit: bool = True,
    max_points: int = 256,
    max_fit_points: int = 128,
    fit_steps: int = 150,
    return_std: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Gaussian-process imputation (RBF + white-noise kernel), each channel independently.

    The missing values get the GP posterior mean given the observed values of the channel.
    The prior mean is the mean of the observations used (a constant), so far from any data the
    imputation reverts to that mean rather than to 0.

    Hyperparameters: with ``fit=True`` those left None are fitted per channel (and per series
    of a batch) by maximising the log marginal likelihood (see ``gp_fit_params``); given ones
    stay fixed.  With ``fit=False`` all three must be given.

    Long series: an exact GP costs O(n^3) in the number n of observations, so when a channel
    has more than ``max_points`` observations it is handled in local windows: the observations
    are cut into consecutive blocks of max_points // 2, and the missing points inside a block
    are predicted from that block plus max_points // 4 observations on each side (see
    ``_gp_windows``), i.e. Cholesky factors of at most max_points x max_points.  For the RBF
    kernel, observations a few lengthscales away have almost no influence, so this loses little
    as long as a window spans several lengthscales.  Likewise the hyperparameters are fitted on
    at most two runs of ``max_fit_points`` consecutive observations (first and last ones; their
    log marginal likelihoods summed as if independent), see ``_fit_sets``.

    Cost: each fit step factorises a max_fit_points-sized matrix, so fitting dominates
    (roughly 0.1-0.5 s per channel with the defaults); pass all three hyperparameters, or
    ``fit=False``, to skip it, e.g. for large batches.

    Inputs:
    - x: (T,), (T, D) or (N, T, D) with NaN at missing points.
    - mask: optional bool array of x's shape, True = observed.
    - lengthscale (time steps), signal_var, noise_var: optional fixed hyperparameters (> 0).
    - fit: fit the hyperparameters left None.
    - max_points: max observations per Cholesky at prediction time (>= 4).
    - max_fit_points: max observations per training set of the hyperparameter fit (>= 4).
    - fit_steps: Adam steps of the hyperparameter fit.
    - return_std: also return the predictive std of each missing value (including noise_var;
      0 at observed points).

    Returns:
    - filled array of x's shape; with ``return_std`` a tuple (filled, std), same shapes.
    """
    fixed = _fixed_params(lengthscale, signal_var, noise_var)
    if not fit and any(v is None for v in fixed.values()):
        missing = [k for k, v in fixed.items() if v is None]
        raise ValueError(f"with fit=False, give all GP hyperparameters; missing: {missing}")
    max_points = check_positive_int(max_points, "max_points", minimum=4)
    max_fit_points = check_positive_int(max_fit_points, "max_fit_points", minimum=4)
    fit_steps = check_positive_int(fit_steps, "fit_steps", minimum=0)
    xf, observed, shape, out_dtype = check_missing(x, mask)
    std = np.zeros_like(xf)
    for n, d, obs_idx, y_obs, miss_idx in _channels(xf, observed, shape):
        t_obs = obs_idx.astype(np.float64)
        windows = _gp_windows(obs_idx, miss_idx, max_points)
        if any(v is None for v in fixed.values()):
            params = _fit_blocks(_fit_sets(t_obs, y_obs, max_fit_points), fixed, fit_steps)
        else:
            params = GPParams(**fixed)
        for train, test in windows:
            # Each window is centred on its own mean (local constant prior mean).
            mu = float(np.mean(y_obs[train]))
            mean, sd = gp_posterior(
                t_obs[train],
                y_obs[train] - mu,
                test.astype(np.float64),
                params,
                return_std=True,
                include_noise=True,
            )
            xf[n, test, d] = mean + mu
            std[n, test, d] = sd
    filled = xf.reshape(shape).astype(out_dtype, copy=False)
    if return_std:
        return filled, std.reshape(shape).astype(out_dtype, copy=False)
    return filled


# ----------------------------------------------------------------------------------------------
# Registry
# ----------------------------------------------------------------------------------------------

BASELINES: dict[str, Callable[..., np.ndarray]] = {
    "mean": impute_mean,
    "median": impute_median,
    "ffill": impute_ffill,
    "linear": impute_linear,
    "weighted_average": impute_weighted_average,
    "gp": impute_gp,
}


def impute(
    x: object, mask: object | None = None, method: str = "linear", **kwargs: object
) -> np.ndarray:
    """Impute with ``BASELINES[method]``; keyword arguments go to that function.

    Inputs:
    - x: (T,), (T, D) or (N, T, D) with NaN at missing points.
    - mask: optional bool array of x's shape, True = observed.
    - method: one of ``BASELINES`` ("mean", "median", "ffill", "linear", "weighted_average",
      "gp").

    Returns:
    - filled array of x's shape (``impute_gp`` with return_std=True returns a tuple).
    """
    if method not in BASELINES:
        raise ValueError(f"method must be one of {sorted(BASELINES)}, got {method!r}")
    return BASELINES[method](x, mask, **kwargs)
