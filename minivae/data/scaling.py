"""Per-feature scalers fitted on training data (NaN = missing is ignored when fitting).

Features live on the **last axis**: a scaler fitted on ``(N, T, D)`` windows, a ``(T, D)``
series or an ``(N, D)`` table learns ``D`` statistics by reducing over every other axis, and can
then transform arrays of any of those layouts with the same ``D``.  A 1-D array is refused
because it is ambiguous (``T`` steps of one feature, or one sample of ``D`` features?): reshape it
to ``(T, 1)`` or ``(1, D)``.

Fit the scaler on the training split only and apply it to validation/test data, so no statistics
leak from the evaluation data.  ``to_dict``/``from_dict`` round-trip through ``np.savez``::

    np.savez("scaler.npz", **scaler.to_dict())
    scaler = scaler_from_dict(np.load("scaler.npz"))
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from minivae._validation import check_array, check_no_inf, check_no_overflow, check_scalar

__all__ = ["StandardScaler", "MinMaxScaler", "scaler_from_dict"]


def _as_features(x: object, name: str) -> np.ndarray:
    """Validate ``x`` (..., D) with ndim >= 2 and return it as a float array (NaN allowed)."""
    arr = check_no_inf(check_array(x, name, allow_nan=True), name)
    if arr.ndim < 2:
        raise ValueError(
            f"{name} must have features on the last axis, i.e. shape (N, D), (T, D) or (N, T, D); "
            f"got shape {arr.shape}. Reshape a single series to (T, 1)."
        )
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float64)
    return arr


def _check_no_empty_feature(x: np.ndarray, name: str) -> np.ndarray:
    """Boolean (D,) of observed counts; refuse a feature that is NaN everywhere."""
    observed = np.isfinite(x).reshape(-1, x.shape[-1]).sum(axis=0)
    empty = np.flatnonzero(observed == 0)
    if empty.size:
        raise ValueError(
            f"{name} has feature(s) {empty.tolist()} with no finite value (all NaN); "
            "cannot fit a scaler for them — drop those features or impute them first"
        )
    return observed


class _Scaler:
    """Shared plumbing: fitted-state and feature-count checks, fit_transform."""

    kind = ""
    _state_keys: tuple[str, ...] = ()

    def _check_fitted(self) -> None:
        if not getattr(self, "fitted_", False):
            raise RuntimeError(f"{type(self).__name__} is not fitted yet; call fit(x_train) first")

    @property
    def n_features(self) -> int:
        self._check_fitted()
        return int(getattr(self, self._state_keys[0]).shape[0])

    def _check_input(self, x: object, name: str = "x") -> np.ndarray:
        self._check_fitted()
        arr = _as_features(x, name)
        if arr.shape[-1] != self.n_features:
            raise ValueError(
                f"{name} has {arr.shape[-1]} features on its last axis (shape {arr.shape}) but "
                f"the scaler was fitted on {self.n_features}"
            )
        return arr

    def fit(self, x: np.ndarray) -> _Scaler:  # pragma: no cover - overridden
        raise NotImplementedError

    def transform(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - overridden
        raise NotImplementedError

    def fit_transform(self, x: np.ndarray) -> np.ndarray:
        """Fit on ``x`` then transform it; ``x``: (..., D) -> (..., D)."""
        return self.fit(x).transform(x)

    def to_dict(self) -> dict[str, np.ndarray]:
        """Fitted state as a dict of arrays (``np.savez(path, **scaler.to_dict())``)."""
        self._check_fitted()
        state = {k: np.array(getattr(self, k), copy=True) for k in self._state_keys}
        state["kind"] = np.array(self.kind)
        return state

    @staticmethod
    def _check_kind(d: Mapping[str, object], kind: str) -> None:
        _check_mapping(d)
        got = str(np.asarray(d["kind"])) if "kind" in d else kind
        if got != kind:
            raise ValueError(f"dict describes a {got!r} scaler, not {kind!r}")


class StandardScaler(_Scaler):
    """Per-feature standardisation ``z = (x - mean) / scale``.

    ``mean`` and ``scale`` (the population standard deviation, ddof=0) are computed per feature
    over every non-feature axis, ignoring NaN.  A feature that is constant in the training data
    gets ``scale = 1`` (so it maps to 0) instead of dividing by zero.  NaN stays NaN.

    Attributes after ``fit``: ``mean_`` (D,), ``scale_`` (D,).
    """

    kind = "standard"
    _state_keys = ("mean_", "scale_")

    def __init__(self) -> None:
        self.mean_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None
        self.fitted_ = False

    def fit(self, x: np.ndarray) -> StandardScaler:
        """Learn per-feature mean and std from ``x``: (..., D) with ndim >= 2 (NaN ignored)."""
        x = _as_features(x, "x")
        _check_no_empty_feature(x, "x")
        flat = x.reshape(-1, x.shape[-1]).astype(np.float64)
        flat = np.where(np.isfinite(flat), flat, np.nan)  # treat +-inf like missing, not as data
        with np.errstate(over="ignore", invalid="ignore"):
            mean = np.nanmean(flat, axis=0)
            std = np.nanstd(flat, axis=0)
        check_no_overflow(std, "the standard deviation", x=flat)
        # A std that is only rounding noise relative to the mean counts as constant.
        tiny = 10 * np.finfo(np.float64).eps * np.maximum(np.abs(mean), 1.0)
        self.mean_ = mean
        self.scale_ = np.where(std > tiny, std, 1.0)
        self.fitted_ = True
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        """``x``: (..., D) -> standardised (..., D), same float dtype (ints -> float64)."""
        x = self._check_input(x)
        return ((x - self.mean_) / self.scale_).astype(x.dtype, copy=False)

    def inverse_transform(self, z: np.ndarray) -> np.ndarray:
        """Undo :meth:`transform`: ``z``: (..., D) -> ``z * scale + mean`` (..., D)."""
        z = self._check_input(z, "z")
        return (z * self.scale_ + self.mean_).astype(z.dtype, copy=False)

    @classmethod
    def from_dict(cls, d: Mapping[str, object]) -> StandardScaler:
        """Rebuild from :meth:`to_dict` output (a dict or a loaded ``np.load`` npz file)."""
        cls._check_kind(d, cls.kind)
        mean = check_array(_entry(d, "mean_"), "mean_", ndim=1, dtype=np.float64)
        scale = check_array(_entry(d, "scale_"), "scale_", shape=(mean.shape[0],),
                            dtype=np.float64)
        if np.any(scale <= 0):
            raise ValueError("scale_ must be > 0 for every feature")
        s = cls()
        s.mean_, s.scale_, s.fitted_ = mean.copy(), scale.copy(), True
        return s


class MinMaxScaler(_Scaler):
    """Per-feature affine map of the training range ``[min, max]`` onto ``feature_range``.

    ``x_scaled = lo + (x - min) * (hi - lo) / (max - min)``.  Values outside the training range map
    outside ``feature_range`` (no clipping, so the map stays invertible).  A constant feature maps
    to ``lo``.  NaN is ignored when fitting and stays NaN.

    Attributes after ``fit``: ``data_min_`` (D,), ``data_max_`` (D,).
    """

    kind = "minmax"
    _state_keys = ("data_min_", "data_max_", "feature_range_")

    def __init__(self, feature_range: tuple[float, float] = (0.0, 1.0)) -> None:
        if not isinstance(feature_range, (tuple, list)) or len(feature_range) != 2:
            raise ValueError(f"feature_range must be a pair (lo, hi), got {feature_range!r}")
        lo = check_scalar(feature_range[0], "feature_range[0]")
        hi = check_scalar(feature_range[1], "feature_range[1]")
        if not lo < hi:
            raise ValueError(f"feature_range must satisfy lo < hi, got ({lo}, {hi})")
        self.feature_range_ = np.array([lo, hi])
        self.data_min_: np.ndarray | None = None
        self.data_max_: np.ndarray | None = None
        self.fitted_ = False

    def _scale(self) -> np.ndarray:
        span = self.data_max_ - self.data_min_
        # Constant feature (x - min == 0 -> maps to lo); a span that is only rounding noise
        # relative to the data counts as constant too (as StandardScaler's std): dividing by a
        # subnormal span of 1e-308 would overflow the factor to inf.
        tiny = 10 * np.finfo(np.float64).eps * np.maximum(
            np.maximum(np.abs(self.data_min_), np.abs(self.data_max_)), 1.0)
        span = np.where(span > tiny, span, 1.0)
        return (self.feature_range_[1] - self.feature_range_[0]) / span

    def fit(self, x: np.ndarray) -> MinMaxScaler:
        """Learn per-feature min and max from ``x``: (..., D) with ndim >= 2 (NaN ignored)."""
        x = _as_features(x, "x")
        _check_no_empty_feature(x, "x")
        flat = x.reshape(-1, x.shape[-1]).astype(np.float64)
        flat = np.where(np.isfinite(flat), flat, np.nan)
        dmin, dmax = np.nanmin(flat, axis=0), np.nanmax(flat, axis=0)
        with np.errstate(over="ignore"):
            check_no_overflow(dmax - dmin, "the range max - min", x=flat)
        self.data_min_, self.data_max_ = dmin, dmax
        self.fitted_ = True
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        """``x``: (..., D) -> scaled (..., D), same float dtype (ints -> float64)."""
        x = self._check_input(x)
        out = (x - self.data_min_) * self._scale() + self.feature_range_[0]
        return out.astype(x.dtype, copy=False)

    def inverse_transform(self, z: np.ndarray) -> np.ndarray:
        """Undo :meth:`transform`: ``z``: (..., D) -> (..., D) in the original units."""
        z = self._check_input(z, "z")
        out = (z - self.feature_range_[0]) / self._scale() + self.data_min_
        return out.astype(z.dtype, copy=False)

    @classmethod
    def from_dict(cls, d: Mapping[str, object]) -> MinMaxScaler:
        """Rebuild from :meth:`to_dict` output (a dict or a loaded ``np.load`` npz file)."""
        cls._check_kind(d, cls.kind)
        lo_hi = check_array(_entry(d, "feature_range_"), "feature_range_", shape=(2,),
                            dtype=np.float64)
        dmin = check_array(_entry(d, "data_min_"), "data_min_", ndim=1, dtype=np.float64)
        dmax = check_array(_entry(d, "data_max_"), "data_max_", shape=(dmin.shape[0],),
                           dtype=np.float64)
        if np.any(dmax < dmin):
            raise ValueError("data_max_ must be >= data_min_ for every feature")
        s = cls((float(lo_hi[0]), float(lo_hi[1])))
        s.data_min_, s.data_max_, s.fitted_ = dmin.copy(), dmax.copy(), True
        return s


def scaler_from_dict(d: Mapping[str, object]) -> StandardScaler | MinMaxScaler:
    """Rebuild whichever scaler :meth:`to_dict` saved (dispatch on its ``kind`` entry)."""
    _check_mapping(d)
    if "kind" not in d:
        raise ValueError("dict has no 'kind' entry; was it produced by a scaler's to_dict()?")
    kind = str(np.asarray(d["kind"]))
    for cls in (StandardScaler, MinMaxScaler):
        if cls.kind == kind:
            return cls.from_dict(d)
    raise ValueError(f"unknown scaler kind {kind!r}; expected 'standard' or 'minmax'")


def _check_mapping(d: object) -> None:
    """``d`` must be a dict (or np.load's NpzFile) as a scaler's ``to_dict`` wrote it."""
    if not isinstance(d, Mapping) and not hasattr(d, "files"):
        raise TypeError(f"d must be the dict of a scaler's to_dict() (or its np.load npz), "
                        f"got {type(d).__name__}")


def _entry(d: Mapping[str, object], key: str) -> object:
    if key not in d:
        raise ValueError(f"d has no {key!r} entry; was it produced by a scaler's to_dict()?")
    return d[key]
