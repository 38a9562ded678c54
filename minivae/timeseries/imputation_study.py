"""Model-based imputation (LSTM-VAE, iterated reconstruction) and the imputation simulation test.

Model-based imputation
----------------------
A sequence VAE / autoencoder trained with a *mask-aware* loss (missing entries do not contribute,
``model.fit(X, mask=mask)``) has learned what plausible windows look like.  To fill gaps in a
series we use **iterated reconstruction** (a deterministic cousin of the pseudo-Gibbs sampler of
Rezende et al. 2014):

1. start from an initial fill: a baseline (``init="mean"``, ``"median"``, ``"ffill"``,
   ``"linear"``, ``"weighted_average"``, ``"gp"``), or the model's own reconstruction from the
   observed entries only (``init="model"``: one pass with the mask, missing entries hidden
   from the encoder);
2. reconstruct the filled series (cut into sliding windows; overlapping reconstructions are
   averaged per time step);
3. replace **only the missing entries** by the reconstruction, keep the observed ones;
4. repeat steps 2-3 ``n_iter`` times.

Each pass pulls the filled values towards what the model considers a typical window that agrees
with the observations; observed values are never changed.  The model works in standardised
units (a :class:`~minivae.data.StandardScaler` fitted on the observed training values).

The simulation test
-------------------
:func:`simulation_test` removes known points from *complete* series (contiguous gaps of several
lengths at several missing rates; gap length 1 is scattered single points), imputes them with
every method, and reports MAE / MSE on the removed points only, as mean ± std over seeds.  Methods:
the baselines of :mod:`minivae.timeseries.impute`, ``"lstm_vae"`` (``init="model"``) and pipelines
``"<baseline>+model"`` (baseline fill, then iterated reconstruction).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from minivae._validation import check_array, check_positive_int, check_rng
from minivae.data.scaling import StandardScaler
from minivae.data.synthetic import mask_gaps
from minivae.data.windows import sliding_windows, window_starts, windows_to_series
from minivae.timeseries.impute import BASELINES, check_missing, impute
from minivae.timeseries.metrics import masked_error, mean_std

__all__ = [
    "INITS",
    "MODEL_METHOD",
    "impute_with_model",
    "ModelImputer",
    "SimulationResult",
    "simulation_test",
    "default_model_factory",
    "condition_mask",
]

#: initial fills for iterated reconstruction: every baseline, or the model's masked pass.
INITS = tuple(BASELINES) + ("model",)
#: name of the pure model-based method in the simulation test (``init="model"``).
MODEL_METHOD = "lstm_vae"
_PIPELINE_SUFFIX = "+model"


def _resolve_window(window: int | None, T: int) -> int:
    W = T if window is None else check_positive_int(window, "window")
    if W > T:
        raise ValueError(
            f"window={W} is longer than the series (T={T}); use a shorter window or pass "
            "longer series"
        )
    return W


def _batch_windows(a: np.ndarray, window: int, stride: int) -> np.ndarray:
    """The sliding windows of every series of a batch a: (N, T, D) (values or a boolean mask),
    series after series: (N * M, window, D)."""
    return np.concatenate([sliding_windows(a[n], window, stride) for n in range(a.shape[0])])


def _reconstruct_series(
    model: Any,
    z: np.ndarray,
    window: int,
    stride: int,
    *,
    mask: np.ndarray | None = None,
    batch_size: int = 256,
) -> np.ndarray:
    """Reconstruct every series of z (N, T, D) via sliding windows, averaging overlaps.

    With ``mask`` (N, T, D) the model sees only the observed entries (mask-aware encoder).
    Returns (N, T, D).
    """
    N, T, D = z.shape
    starts = window_starts(T, window, stride)
    wins = _batch_windows(z, window, stride)
    wmask = None if mask is None else _batch_windows(mask, window, stride)
    outs = []
    for a in range(0, wins.shape[0], batch_size):
        kw = {} if wmask is None else {"mask": wmask[a : a + batch_size]}
        outs.append(np.asarray(model.reconstruct(wins[a : a + batch_size], **kw),
                               dtype=np.float64))
    rec = np.concatenate(outs, axis=0).reshape(N, starts.size, window, D)
    return np.stack([windows_to_series(rec[n], starts, T) for n in range(N)], axis=0)


# ----------------------------------------------------------------------------------------------
# Model-based imputation
# ----------------------------------------------------------------------------------------------


def impute_with_model(
    model: Any,
    x: object,
    mask: object | None = None,
    *,
    n_iter: int = 10,
    init: str = "linear",
    window: int | None = None,
    stride: int | None = None,
    scaler: StandardScaler | None = None,
    init_kwargs: dict[str, Any] | None = None,
    batch_size: int = 256,
) -> np.ndarray:
    """Fill missing values by iterated reconstruction with a trained sequence model.

    Inputs:
    - model: a trained sequence model with ``reconstruct(X (M, W, D)) -> (M, W, D)`` (and, for
      ``init="model"``, ``reconstruct(X, mask=...)``), e.g. an LSTMVAE fitted with a mask.
    - x: (T,), (T, D) or a batch of independent series (N, T, D); NaN at missing points.
    - mask: optional bool array of x's shape, True = observed (else: observed = not NaN).
    - n_iter: reconstruction passes after the initial fill (>= 0).
    - init: initial fill, one of :data:`INITS` ("model" = one mask-aware pass of the model).
    - window: window length fed to the model (default: the whole series T).
    - stride: step between windows (default: window // 4, at least 1); overlapping
      reconstructions are averaged per step.
    - scaler: a fitted StandardScaler mapping x to the model's units (None = x as it is).
    - init_kwargs: keyword arguments for the baseline initial fill (e.g. GP settings).
    - batch_size: windows per model call.

    Returns:
    - filled copy of x (same shape, float64); observed entries are exactly those of x.
    """
    n_iter = check_positive_int(n_iter, "n_iter", minimum=0)
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}, got {init!r}")
    if not callable(getattr(model, "reconstruct", None)):
        raise TypeError(f"model must have a reconstruct(X) method, got {type(model).__name__}")
    xs, observed, shape, _ = check_missing(x, mask)
    N, T, D = xs.shape
    W = _resolve_window(window, T)
    S = max(1, W // 4) if stride is None else check_positive_int(stride, "stride")
    if S > W:
        raise ValueError(f"stride={S} must be <= window={W}, or steps between windows would "
                         "never be reconstructed")
    batch_size = check_positive_int(batch_size, "batch_size")
    if scaler is not None:
        n_feat = scaler.n_features
        if n_feat != D:
            raise ValueError(f"scaler was fitted on {n_feat} feature(s) but x has D={D}")

    def to_model(a: np.ndarray) -> np.ndarray:
        return a if scaler is None else scaler.transform(a)

    def from_model(a: np.ndarray) -> np.ndarray:
        return a if scaler is None else scaler.inverse_transform(a)

    x_obs = np.where(observed, xs, 0.0)  # observed values, 0 elsewhere (never NaN)
    if observed.all():
        return x_obs.reshape(shape)
    if init == "model":
        z0 = np.where(observed, to_model(x_obs), 0.0)
        rec = _reconstruct_series(model, z0, W, S, mask=observed, batch_size=batch_size)
        filled = np.where(observed, x_obs, from_model(rec))
    else:
        filled = impute(np.where(observed, xs, np.nan), observed, method=init,
                        **(init_kwargs or {}))
    z_obs = to_model(x_obs)
    z = np.where(observed, z_obs, to_model(filled))
    for _ in range(n_iter):
        rec = _reconstruct_series(model, z, W, S, batch_size=batch_size)
        z = np.where(observed, z_obs, rec)
    out = np.where(observed, x_obs, from_model(z))
    if not np.all(np.isfinite(out)):
        raise FloatingPointError(
            "model-based imputation produced non-finite values; the model's reconstruction "
            "overflowed (check that the model is trained and the scaler matches the data)"
        )
    return out.reshape(shape)


class ModelImputer:
    """A sequence model plus the scaler and window settings it was trained with.

    Args:
        model: an untrained (or trained) sequence model with ``fit(X, mask=...)`` and
            ``reconstruct``, e.g. ``LSTMVAE(1, 32, 8, likelihood="gaussian")``.
        window: training/imputation window length W.
        stride: step between imputation windows (default W // 4).
        train_stride: step between training windows (default W // 4).
        n_iter, init: defaults of :meth:`transform` (see :func:`impute_with_model`).
        scale: standardise with a scaler fitted on the observed training values.

    Example::

        imp = ModelImputer(LSTMVAE(1, 32, 8, rng=0), window=64).fit(x_train, epochs=20)
        x_filled = imp.transform(x_with_nans)              # x: (T,), (T, D) or (N, T, D)
    """

    def __init__(
        self,
        model: Any,
        *,
        window: int,
        stride: int | None = None,
        train_stride: int | None = None,
        n_iter: int = 10,
        init: str = "linear",
        scale: bool = True,
    ) -> None:
        if not (callable(getattr(model, "reconstruct", None))
                and callable(getattr(model, "fit", None))):
            raise TypeError(f"model must be a sequence model with fit() and reconstruct() "
                            f"(e.g. LSTMVAE), got {type(model).__name__}")
        self.model = model
        self.window = check_positive_int(window, "window")
        self.stride = max(1, self.window // 4) if stride is None else check_positive_int(
            stride, "stride")
        self.train_stride = max(1, self.window // 4) if train_stride is None else \
            check_positive_int(train_stride, "train_stride")
        self.n_iter = check_positive_int(n_iter, "n_iter", minimum=0)
        if init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {init!r}")
        self.init = init
        self.scale = bool(scale)
        self.scaler_: StandardScaler | None = None
        self.history_: Any = None

    def training_windows(
        self, x: object, mask: object | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Windows (M, W, D) of x (NaN at missing) and their masks (M, W, D), unscaled."""
        xs, observed, _, _ = check_missing(x, mask)
        T = xs.shape[1]
        W = _resolve_window(self.window, T)
        xs = np.where(observed, xs, np.nan)
        return (_batch_windows(xs, W, self.train_stride),
                _batch_windows(observed, W, self.train_stride))

    def fit(self, x: object, mask: object | None = None, **fit_kwargs: Any) -> ModelImputer:
        """Train the model on windows of incomplete series with the mask-aware loss.

        Inputs:
        - x: (T,), (T, D) or (N, T, D), NaN at missing points; mask: optional, True = observed.
        - fit_kwargs: passed to ``model.fit`` (epochs, batch_size, lr, rng, ...; verbose
          defaults to 0).

        Returns:
        - self.
        """
        wins, wmask = self.training_windows(x, mask)
        if self.scale:
            self.scaler_ = StandardScaler().fit(wins)  # NaN (missing) ignored
            wins = self.scaler_.transform(wins)
        keep = wmask.any(axis=(1, 2))  # a window with nothing observed teaches nothing
        wins, wmask = wins[keep], wmask[keep]
        kwargs = {"verbose": 0, **fit_kwargs}
        self.history_ = self.model.fit(np.where(wmask, wins, np.nan), mask=wmask, **kwargs)
        return self

    def transform(
        self, x: object, mask: object | None = None, *, n_iter: int | None = None,
        init: str | None = None, init_kwargs: dict[str, Any] | None = None,
    ) -> np.ndarray:
        """Impute x (see :func:`impute_with_model`); returns a filled copy of x's shape."""
        return impute_with_model(
            self.model, x, mask, n_iter=self.n_iter if n_iter is None else n_iter,
            init=self.init if init is None else init, window=self.window, stride=self.stride,
            scaler=self.scaler_, init_kwargs=init_kwargs,
        )


# ----------------------------------------------------------------------------------------------
# The simulation test
# ----------------------------------------------------------------------------------------------


def default_model_factory(input_dim: int, seed: int) -> Any:
    """The default imputation model: ``LSTMVAE(input_dim, 32, 8, likelihood="gaussian")``."""
    from minivae.models import LSTMVAE  # imported lazily (only model-based methods need it)

    return LSTMVAE(input_dim, 32, 8, likelihood="gaussian", rng=seed)


@dataclass
class SimulationResult:
    """Outcome of :func:`simulation_test`.

    Attributes:
        records: one dict per (seed, missing_rate, gap_length, method) with keys "seed",
            "missing_rate", "gap_length", "method", "mae", "mse", "n_missing".
        methods, missing_rates, gap_lengths, seeds: the grid that was run.
        timings: total seconds spent per method (model training is under "train").
        imputers: the trained :class:`ModelImputer` of each seed (empty without model
            methods), e.g. to draw figures; not part of :meth:`to_dict`.
    """

    records: list[dict[str, Any]]
    methods: tuple[str, ...]
    missing_rates: tuple[float, ...]
    gap_lengths: tuple[int, ...]
    seeds: tuple[int, ...]
    timings: dict[str, float] = field(default_factory=dict)
    imputers: dict[int, Any] = field(default_factory=dict, repr=False)

    def values(self, method: str, missing_rate: float, gap_length: int,
               metric: str = "mae") -> np.ndarray:
        """The per-seed values of one cell, (n_seeds,)."""
        if metric not in ("mae", "mse"):
            raise ValueError(f"metric must be 'mae' or 'mse', got {metric!r}")
        vals = [r[metric] for r in self.records if r["method"] == method
                and r["missing_rate"] == missing_rate and r["gap_length"] == gap_length]
        if not vals:
            raise KeyError(f"no result for method={method!r}, missing_rate={missing_rate}, "
                           f"gap_length={gap_length}")
        return np.asarray(vals)

    def summary(self, metric: str = "mae") -> dict[tuple[float, int], dict[str, tuple[float,
                                                                                        float]]]:
        """{(missing_rate, gap_length): {method: (mean, std over seeds)}}; std with ddof=1
        (0 for a single seed)."""
        out: dict[tuple[float, int], dict[str, tuple[float, float]]] = {}
        for r in self.missing_rates:
            for g in self.gap_lengths:
                cell = {}
                for m in self.methods:
                    cell[m] = mean_std(self.values(m, r, g, metric))
                out[(r, g)] = cell
        return out

    def format_table(self, metric: str = "mae", *, digits: int = 3) -> str:
        """Text tables, one per missing rate: rows = methods, columns = gap lengths, cells
        ``mean ± std`` over seeds; ``*`` marks the best (lowest mean) method of each column."""
        summ = self.summary(metric)
        name_w = max(len(m) for m in self.methods) + 2
        cell_w = 2 * (digits + 3) + 5
        lines = [f"{metric.upper()} on the removed points, mean ± std over "
                 f"{len(self.seeds)} seed(s) {list(self.seeds)}; * = best in column"]
        for r in self.missing_rates:
            lines.append("")
            header = f"{'missing ' + format(r, 'g'):<{name_w}}" + "".join(
                f"{'gap ' + str(g):>{cell_w}}" for g in self.gap_lengths)
            lines.append(header)
            lines.append("-" * len(header))
            best = {g: min(self.methods, key=lambda m, g=g: summ[(r, g)][m][0])
                    for g in self.gap_lengths}
            for m in self.methods:
                row = f"{m:<{name_w}}"
                for g in self.gap_lengths:
                    mean, sd = summ[(r, g)][m]
                    mark = "*" if best[g] == m else " "
                    row += f"{mean:>{cell_w - digits - 5}.{digits}f} ± {sd:.{digits}f}{mark}"
                lines.append(row)
        return "\n".join(lines)

    def comparisons(self, method: str, against: Sequence[str], metric: str = "mae"
                    ) -> list[str]:
        """One line per condition and opponent saying whether ``method`` wins or loses
        (by mean over seeds), with the relative difference."""
        summ = self.summary(metric)
        lines = []
        for (r, g), cell in summ.items():
            for other in against:
                if other not in cell or method not in cell:
                    continue
                a, b = cell[method][0], cell[other][0]
                verdict = "beats" if a < b else "LOSES to"
                rel = (a - b) / b if b > 0 else float("inf")
                lines.append(f"rate {r:g}, gap {g}: {method} {verdict} {other} "
                             f"({a:.3f} vs {b:.3f}, {rel:+.0%})")
        return lines

    def to_dict(self) -> dict[str, Any]:
        """JSON-able copy."""
        return {"records": [dict(r) for r in self.records], "methods": list(self.methods),
                "missing_rates": list(self.missing_rates), "gap_lengths": list(self.gap_lengths),
                "seeds": list(self.seeds), "timings": dict(self.timings)}


def _as_series_batch(series: object, name: str) -> np.ndarray:
    """Array (S, T) / (S, T, D) or a list of equal-length (T,) / (T, D) arrays -> (S, T, D)."""
    if isinstance(series, (list, tuple)):
        arrs = [check_array(s, f"{name}[{i}]", ndim=(1, 2), dtype=np.float64)
                for i, s in enumerate(series)]
        if not arrs:
            raise ValueError(f"{name} is an empty list")
        shapes = {a.shape for a in arrs}
        if len(shapes) > 1:
            raise ValueError(f"all {name} must have the same shape, got {sorted(shapes)}")
        arr = np.stack(arrs)
    else:
        arr = check_array(series, name, ndim=(2, 3), dtype=np.float64)
    if arr.ndim == 2:
        arr = arr[..., None]
    return arr


def _method_list(methods: Sequence[str] | None, pipelines: Sequence[str]) -> tuple[str, ...]:
    base = tuple(BASELINES) + (MODEL_METHOD,) if methods is None else tuple(methods)
    out = list(base) + [p for p in pipelines if p not in base]
    for m in out:
        if m in BASELINES or m == MODEL_METHOD:
            continue
        if m.endswith(_PIPELINE_SUFFIX) and m[: -len(_PIPELINE_SUFFIX)] in BASELINES:
            continue
        raise ValueError(
            f"unknown method {m!r}; use a baseline {sorted(BASELINES)}, {MODEL_METHOD!r}, or a "
            f"pipeline '<baseline>{_PIPELINE_SUFFIX}' such as 'mean{_PIPELINE_SUFFIX}'"
        )
    if len(set(out)) != len(out):
        raise ValueError(f"methods contain duplicates: {out}")
    return tuple(out)


def simulation_test(
    series: object,
    *,
    missing_rates: Sequence[float] = (0.1, 0.3, 0.5),
    gap_lengths: Sequence[int] = (1, 10, 25),
    methods: Sequence[str] | None = None,
    pipelines: Sequence[str] = ("mean+model", "median+model", "ffill+model", "linear+model"),
    seeds: Sequence[int] = (0, 1, 2),
    train_series: object = None,
    model_factory: Callable[[int, int], Any] | None = None,
    window: int = 64,
    stride: int | None = None,
    n_iter: int = 10,
    fit_kwargs: dict[str, Any] | None = None,
    baseline_kwargs: dict[str, dict[str, Any]] | None = None,
    verbose: bool = False,
) -> SimulationResult:
    """Remove known points from complete series, impute them with every method, score them.

    For every seed, missing rate r and gap length g, each test series gets a mask of
    non-overlapping gaps of length g hiding a fraction r of its steps
    (:func:`minivae.data.mask_gaps`; g = 1 is scattered single points), every method imputes
    the masked series, and MAE / MSE are computed on the removed points only (pooled over the
    test series).

    The model (when a model-based method is requested) is trained once per seed on
    ``train_series`` -- *incomplete* training series: each one is masked with a condition drawn
    from the grid, and the model learns with the mask-aware loss, so it never sees a removed
    value -- then imputes every test condition.  The test series are never used for training.

    Inputs:
    - series: complete test series: an array (S, T) / (S, T, D), a list of equal-length
      arrays, or a callable ``f(rng) -> such an array`` called once per seed (fresh data per
      seed).
    - missing_rates: fractions in (0, 1).
    - gap_lengths: gap lengths in steps (>= 1).
    - methods: default all baselines + "lstm_vae"; any subset of those and pipelines.
    - pipelines: "<baseline>+model" methods added to ``methods``.
    - seeds: the seeds; each fixes the masks, the model initialisation and its training.
    - train_series: complete training series (same forms as ``series``) for the model; required
      when a model-based method is requested.
    - model_factory: ``f(input_dim, seed) -> untrained model`` (default
      :func:`default_model_factory`, an LSTMVAE).
    - window, stride: model window length and imputation stride (see :class:`ModelImputer`).
    - n_iter: reconstruction passes of the model-based methods.
    - fit_kwargs: for ``model.fit`` (default epochs=20, batch_size=32, lr=3e-3).
    - baseline_kwargs: {baseline name: kwargs}, e.g. {"gp": {"max_points": 128}}.
    - verbose: print progress.

    Returns:
    - a :class:`SimulationResult` (``format_table()`` prints it).
    """
    method_names = _method_list(methods, pipelines)
    rates = tuple(float(r) for r in missing_rates)
    for r in rates:
        if not 0.0 < r < 1.0:
            raise ValueError(f"missing_rates must lie in (0, 1), got {r}")
    gaps = tuple(check_positive_int(g, "gap_lengths[i]") for g in gap_lengths)
    seeds = tuple(check_positive_int(s, "seeds[i]", minimum=0) for s in seeds)
    if not rates or not gaps or not seeds:
        raise ValueError("missing_rates, gap_lengths and seeds must each be non-empty")
    needs_model = any(m == MODEL_METHOD or m.endswith(_PIPELINE_SUFFIX) for m in method_names)
    if needs_model and train_series is None:
        raise ValueError(
            "model-based methods need train_series (complete series to train the model on, "
            "masked like the test data); or drop 'lstm_vae' and the pipelines from methods"
        )
    factory = default_model_factory if model_factory is None else model_factory
    fkw = {"epochs": 20, "batch_size": 32, "lr": 3e-3, **(fit_kwargs or {})}
    bkw = baseline_kwargs or {}

    records: list[dict[str, Any]] = []
    timings: dict[str, float] = {}
    imputers: dict[int, ModelImputer] = {}
    for seed in seeds:
        data = series(np.random.default_rng([seed, 1])) if callable(series) else series
        X = _as_series_batch(data, "series")
        S, T, D = X.shape
        imputer = None
        if needs_model:
            tdata = train_series(np.random.default_rng([seed, 2])) if callable(train_series) \
                else train_series
            Xtr = _as_series_batch(tdata, "train_series")
            if Xtr.shape[2] != D:
                raise ValueError(f"train_series has D={Xtr.shape[2]} features, series D={D}")
            t0 = time.perf_counter()
            mask_rng = np.random.default_rng([seed, 3])
            train_mask = np.empty(Xtr.shape, dtype=bool)
            for i in range(Xtr.shape[0]):
                r = rates[int(mask_rng.integers(len(rates)))]
                g = gaps[int(mask_rng.integers(len(gaps)))]
                train_mask[i] = condition_mask(Xtr.shape[1:], r, g, mask_rng)
            imputer = ModelImputer(factory(D, seed), window=window, stride=stride,
                                   n_iter=n_iter)
            seed_kw = {} if ("rng" in fkw or "seed" in fkw) else {"rng": seed}
            imputer.fit(np.where(train_mask, Xtr, np.nan), train_mask, **seed_kw, **fkw)
            imputers[seed] = imputer
            timings["train"] = timings.get("train", 0.0) + time.perf_counter() - t0
        for ci, (r, g) in enumerate((r, g) for r in rates for g in gaps):
            mrng = np.random.default_rng([seed, 4, ci])
            mask = np.stack([condition_mask((T, D), r, g, mrng) for _ in range(S)])
            x_in = np.where(mask, X, np.nan)
            for m in method_names:
                t0 = time.perf_counter()
                if m in BASELINES:
                    est = impute(x_in, mask, method=m, **bkw.get(m, {}))
                else:
                    init = "model" if m == MODEL_METHOD else m[: -len(_PIPELINE_SUFFIX)]
                    assert imputer is not None
                    est = imputer.transform(x_in, mask, init=init, init_kwargs=bkw.get(init))
                timings[m] = timings.get(m, 0.0) + time.perf_counter() - t0
                held_out = ~mask
                records.append({
                    "seed": seed, "missing_rate": r, "gap_length": g, "method": m,
                    "mae": masked_error(X, est, held_out, metric="mae"),
                    "mse": masked_error(X, est, held_out, metric="mse"),
                    "n_missing": int(held_out.sum()),
                })
            if verbose:
                done = [rec for rec in records if rec["seed"] == seed
                        and rec["missing_rate"] == r and rec["gap_length"] == g]
                best = min(done, key=lambda rec: rec["mae"])
                print(f"  seed {seed} rate {r:g} gap {g}: best {best['method']} "
                      f"(MAE {best['mae']:.3f})", flush=True)
    return SimulationResult(records, method_names, rates, gaps, seeds, timings, imputers)


def condition_mask(shape: tuple[int, ...], rate: float, gap: int,
                   rng: np.random.Generator | int) -> np.ndarray:
    """Observed-mask (True = observed) of one simulation condition.

    Inputs:
    - shape: (T,) or (T, D).
    - rate: fraction of steps to hide, in (0, 1); gap: gap length in steps.

    Returns:
    - bool mask of ``shape`` with round(rate * T / gap) non-overlapping gaps of length ``gap``
      (all channels at once), at least one gap and at least one observed step.
    """
    T = shape[0]
    n_gaps = max(1, int(round(rate * T / gap)))
    n_gaps = min(n_gaps, (T - 1) // gap)  # leave at least one observed step
    if n_gaps < 1:
        raise ValueError(f"gap length {gap} does not fit in series of length T={T}")
    return mask_gaps(shape, n_gaps=n_gaps, gap_length=gap, rng=check_rng(rng))
