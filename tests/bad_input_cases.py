"""The machinery of the bad-input suite (``tests/test_bad_input.py``).

Every public function, class and public method of ``minivae`` is enumerated from the package
(``__all__`` where a module has one, else the public names it defines), so a new function is
covered the day it lands.  For each target:

1. **Arguments are generated from the parameter names and annotations** (``X``, ``mask``,
   ``y_true``, ``scores``, ``n``, ``T``, ``rng``, ``lr``, ...; see :func:`param_kind`), with a
   small explicit table (:data:`GOOD_ARGS`) for what cannot be inferred.
2. **A baseline call that works** is searched for once (:func:`find_baseline`): a few
   "profiles" (arrays of 1, 2 or 3 dimensions; normal, binary or positive values) are tried
   until one returns.  Targets where none works are still tested (every perturbed call must then
   fail cleanly) and are listed in the summary as ``unreached``.
3. **One argument at a time is perturbed** (:func:`perturbations`): wrong ndim or shape, int /
   bool / complex / object / float16 dtype, NaN, inf, empty, huge values, negative or fractional
   sizes, masks of the wrong shape or hiding everything, mismatched lengths, wrong types.
4. **Every outcome is classified** (:func:`classify`):

   * ``clean``: ValueError / TypeError (or an error class defined in minivae), raised by minivae
     code, whose message names the perturbed argument;
   * ``pass``: a returned result that is finite throughout (NaN is accepted only where the case
     hides every value of a row -- the documented "nothing observed -> NaN" rule);
   * ``raw``: any other error, or one raised inside NumPy / Numba / the standard library
     (no minivae frame at the raise site);
   * ``unnamed``: a clean error type whose message does not name the argument;
   * ``silent``: a non-finite result, or any result for an input that must be refused
     (a string for an array, a mask of the wrong shape, a negative size, ...).

   ``raw``, ``unnamed`` and ``silent`` are failures.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import inspect
import os
import pkgutil
import re
import tempfile
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import minivae

PACKAGE_DIR = os.path.dirname(minivae.__file__)

# ------------------------------------------------------------------------------------ exclusions
# Whole modules that are not library entry points taking data.  Keep this list short and say why.
EXCLUDED_MODULES = {
    "minivae.plots": "draws matplotlib figures; its inputs come from the library's own results",
    "minivae.demo": "a command-line demo (argv), no data arguments",
    "minivae.__main__": "command-line entry point",
    "minivae.experiments": "experiment drivers (minutes of training each, CLI)",
    "minivae.gradcheck.cli": "command-line entry point",
    "minivae.detect": "command-line entry point (`python -m minivae detect`): its functions take "
                      "the argparse namespace; the library calls it makes are covered",
    "minivae.exercises": "teaching stubs and graders: they take a student's function and "
                         "report mistakes by design",
    "minivae.fast": "compiled twins, reached only through @reference dispatch with the "
                    "reference's already-validated arguments (the references are covered); "
                    "the public switch is covered via minivae.fast.backend",
    "minivae.twins": "the @reference decorator machinery (takes functions, not data)",
    "minivae.gradcheck.checks": "gradient-check registrations: builders the gradcheck registry "
                                "calls with its own generator (run by `python -m "
                                "minivae.gradcheck` and tests/test_gradcheck.py)",
}
INCLUDED_DESPITE_EXCLUSION = ("minivae.fast.backend",)
# Single names that cannot be called meaningfully with generated data.
EXCLUDED_NAMES = {
    "minivae.gradcheck.checks.models.make": "registration factory used by the gradcheck registry",
    "minivae.gradcheck.checks.sequence_models.make": "registration factory (as above)",
    "minivae.objectives.posteriors.register_posterior": "adds to the global registry of "
        "posterior families (a baseline call would register junk names for the whole session); "
        "its refusals are tested in tests/test_posterior_families.py",
    "minivae.train.callbacks.Callback": "abstract hook class (every method is a no-op)",
    "minivae.nn.layer.Layer": "abstract base class (forward/backward raise NotImplementedError)",
    "minivae.models.base.Model": "abstract base class of the models (covered by each model)",
    "minivae.train.schedules.Schedule": "abstract base class: its value() raises "
                                        "NotImplementedError (covered by each schedule)",
    "minivae.data.mnist.load_mnist": "downloads MNIST when the files are missing (network in "
                                     "CI); its arguments are tested in tests/test_mnist.py",
}

# Results that are documented answers, not silent ones: (target, argument, case label) -> why.
# Each is checked to be the documented answer (see `declared_answer`), so it cannot hide a bug.
DECLARED_ANSWERS = {
    ("minivae.gradcheck.checkers.check_gradient", "x", "one dimension less"):
        "the checker's verdict on a gradient whose shape differs from x's is a *failed* result "
        "whose message names both shapes (check_layer lists it as one failed row); it must not "
        "pass",
    ("minivae.gradcheck.model_check.check_model", "max_entries", "None"):
        "max_entries=None is documented as 'check every entry'",
    **{(f"minivae.models.cvae_prior.{cls}.check_inputs", "y", label):
       "y carries real-valued conditions c (N, C) here, not class labels: negative and "
       "fractional values are valid conditions"
       for cls in ("PriorCVAE", "ConditionalRegressor")
       for label in ("non-integer labels (+0.5)", "negative labels (-1)")},
}


def declared_answer(target_name: str, case: Perturbation, result: Any) -> bool:
    """True when ``result`` is the documented answer listed in DECLARED_ANSWERS for this case."""
    if (target_name, case.param, case.label) not in DECLARED_ANSWERS:
        return False
    if target_name.endswith("check_gradient"):  # a failed verdict that names the shapes
        return result.passed is False and "shape" in str(result)
    if target_name.endswith("check_inputs"):  # (X, mask, conditions) accepted as given
        return isinstance(result, tuple) and len(result) == 3 and np.all(np.isfinite(result[2]))
    return isinstance(result, list) and len(result) > 0


# Sizes shared by every generated argument, so arrays and size arguments agree.
N, T, D = 5, 7, 3


# ------------------------------------------------------------------------------------ targets
@dataclass
class Target:
    """One callable under test: a function, a class constructor or a public method."""

    name: str                        # "minivae.timeseries.metrics.roc_auc", "...VAE.encode"
    func: Callable[..., Any]         # the function or class (methods: looked up on an instance)
    kind: str                        # "function" | "class" | "method"
    owner: type | None = None        # the class of a method
    params: list[inspect.Parameter] = field(default_factory=list)

    @property
    def short(self) -> str:
        return self.name.removeprefix("minivae.")


def _excluded_module(name: str) -> bool:
    if name in INCLUDED_DESPITE_EXCLUSION:
        return False
    return any(name == m or name.startswith(m + ".") for m in EXCLUDED_MODULES)


def public_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(minivae.__path__, "minivae."):
        parts = info.name.split(".")[1:]
        if any(p.startswith("_") for p in parts) or _excluded_module(info.name):
            continue
        names.append(info.name)
    return sorted(names)


def _public_objects(modname: str) -> list[tuple[str, Any]]:
    mod = importlib.import_module(modname)
    exported = getattr(mod, "__all__", None)
    out = []
    for key, value in vars(mod).items():
        if key.startswith("_") or not (inspect.isfunction(value) or inspect.isclass(value)):
            continue
        if getattr(value, "__module__", None) != modname:
            continue  # re-exports are covered where they are defined
        if exported is not None and key not in exported:
            continue
        out.append((key, value))
    return out


def _signature_params(fn: Callable[..., Any], *, skip_self: bool) -> list[inspect.Parameter]:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return []
    params = [p for p in sig.parameters.values()
              if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if skip_self and params and params[0].name in ("self", "cls"):
        params = params[1:]
    return params


def _methods(cls: type) -> list[tuple[str, Any]]:
    out = []
    for key in sorted(dir(cls)):
        if key.startswith("_") and key != "__call__":  # a callable object is called
            continue
        owner = next((k for k in cls.__mro__ if key in vars(k)), None)
        if owner is None or not owner.__module__.startswith("minivae"):
            continue
        raw = vars(owner)[key]
        if isinstance(raw, (property, type)) or not callable(getattr(cls, key, None)):
            continue
        if dataclasses.is_dataclass(cls) or (issubclass(cls, tuple) and hasattr(cls, "_fields")):
            if key in ("count", "index") or key.startswith("_"):
                continue
        out.append((key, raw))
    return out


def _skipped_class(cls: type) -> str:
    """Why a class's constructor is not a target ('' if it is one)."""
    if getattr(cls, "_is_protocol", False):
        return "a typing.Protocol (an interface, not instantiable)"
    if dataclasses.is_dataclass(cls) or (issubclass(cls, tuple) and hasattr(cls, "_fields")):
        return "a plain record (dataclass / NamedTuple) that the library fills from checked values"
    return ""


def _skipped_method(cls: type, name: str, raw: Any) -> str:
    """Why a method is not a target ('' if it is one)."""
    if name == "value" and any(k.__name__ == "Schedule" for k in cls.__mro__):
        return "the hook behind Schedule.__call__, which validates the step (covered)"
    if name == "make_batch":
        return "packs arrays into the batch object unchecked; loss() and fit() validate it"
    if name.startswith("on_") and any(k.__name__ == "Callback" for k in cls.__mro__):
        return "a training-loop hook: fit calls it with its own values"
    fn = raw.__func__ if isinstance(raw, (staticmethod, classmethod)) else raw
    try:
        body = inspect.getsource(fn)
    except (OSError, TypeError):
        return ""
    if "raise NotImplementedError" in body and len(body.splitlines()) < 12:
        return "an abstract stub (raises NotImplementedError by design)"
    return ""


def enumerate_targets() -> list[Target]:
    """Every public function, class and public method of the package (minus the exclusions)."""
    targets: list[Target] = []
    for modname in public_modules():
        for key, obj in _public_objects(modname):
            full = f"{modname}.{key}"
            if full in EXCLUDED_NAMES:
                continue
            if inspect.isclass(obj):
                if issubclass(obj, BaseException):
                    continue  # error classes are raised, not called with data
                if getattr(obj, "_is_protocol", False):
                    continue  # an interface: nothing to call
                if not _skipped_class(obj):
                    targets.append(Target(full, obj, "class",
                                          params=_signature_params(obj, skip_self=False)))
                for mname, raw in _methods(obj):
                    if _skipped_method(obj, mname, raw):
                        continue
                    fn = raw.__func__ if isinstance(raw, (staticmethod, classmethod)) else raw
                    skip = not isinstance(raw, staticmethod)
                    targets.append(Target(f"{full}.{mname}", fn, "method", owner=obj,
                                          params=_signature_params(fn, skip_self=skip)))
            else:
                targets.append(Target(full, obj, "function",
                                      params=_signature_params(obj, skip_self=False)))
    return targets


# ------------------------------------------------------------------------------ argument kinds
ARRAY_NAMES = {
    "x", "x_hat", "x_normal", "xs", "data", "series", "signal", "signals", "values", "errors",
    "truth", "estimate", "scores", "z", "mu", "logvar", "targets", "target", "logits", "pred",
    "series_normal", "spectrogram", "mixture", "magnitude", "phase", "frames", "patches",
    "batch", "inputs", "a", "b", "eps", "dy", "dout", "dz", "dh", "dc", "w", "weights",
    "mean", "std", "sources", "reference", "estimates", "references", "surface", "surfaces",
    "cov", "x_true", "x_pred", "y_hat", "p", "q", "log_w", "log_weights", "grad", "dx",
    "h0", "c0", "h", "c", "prev_h", "prev_c", "wx", "wh",
}
LABEL_NAMES = {"y_true", "y_pred", "labels", "y", "predictions", "label", "true", "anomalies"}
MASK_NAMES = {"mask", "observed", "missing", "masks"}
RNG_NAMES = {"rng", "seed", "random_state", "generator"}
PATH_NAMES = {"path", "filename", "file", "directory", "dirname", "root", "data_dir", "path_or_dir"}
SIZE_HINTS = {  # int arguments: the generated good value
    "n": N, "N": N, "num": N, "count": N, "n_series": N, "batch_size": 2, "n_windows": N,
    "T": T, "length": T, "seq_len": T, "n_steps": T, "steps": T, "horizon": 2, "lag": 1,
    "window": 3, "window_size": 3, "stride": 1, "hop": 2, "n_fft": 4, "win_length": 4,
    "D": D, "input_dim": D, "n_features": D, "dim": D, "input_size": D, "output_dim": D,
    "latent_dim": 2, "hidden_size": 4, "hidden": 4, "units": 4, "num_layers": 1,
    "epochs": 1, "n_samples": 2, "k": 2, "max_iter": 3, "n_iter": 3, "n_restarts": 1,
    "n_classes": 2, "num_classes": 2, "n_components": 1, "period": 3,
}
SIGNED_INTS = {"axis", "verbose", "offset", "shift", "start", "dim_axis", "seed"}
SMALL_INT_DEFAULTS = {"epochs", "n_samples", "k", "max_iter", "n_iter", "n_restarts", "steps",
                      "n_epochs", "iterations", "num_samples", "n_draws", "restarts", "patience"}
# Free text: names used in messages or as keys; ``only`` is a filter (no match = empty result);
# ``monitor`` names a logged metric, checked by fit when the logs exist.
FREE_TEXT = {"name", "title", "label", "prefix", "key", "what", "message", "tag", "header", "fmt",
             "name_a", "name_b", "data", "only", "monitor"}
# Arguments that are complex by design (STFT spectrograms): a complex array is valid there.
COMPLEX_ARGS = {
    ("apps.signal.magnitude_phase", "X"),
    ("apps.signal.istft", "X"),
    ("apps.signal.apply_masks", "mixture_stft"),
    ("apps.heston.heston_charfn", "u"),
}
# Documented non-finite values in a result or an instance (target prefix -> why).
ALLOWED_NONFINITE = {
    "timeseries.metrics.roc_curve": "thresholds[0] = +inf: the curve's first point (documented)",
    "timeseries.metrics.pr_curve": "thresholds[0] = +inf: the curve's first point (documented)",
    "train.callbacks.EarlyStopping": "best_value starts at +inf: no epoch seen yet",
    "objectives.distributions.norm_ppf": "norm_ppf(0) = -inf, norm_ppf(1) = +inf (documented)",
    "train.callbacks.ProgressBar": "start = -inf: no bar drawn yet",
    "apps.heston.heston_implied_vols": "NaN where the OTM price is below PRICE_FLOOR (documented)",
    "apps.heston.calibrate_heston": "NaN where the fitted OTM price is below PRICE_FLOOR",
    "apps.heston.implied_volatility": "invalid='nan': NaN outside the no-arbitrage bounds",
    "apps.heston.implied_volatility_forward": "invalid='nan': NaN outside the bounds",
}


def _annotation_text(p: inspect.Parameter) -> str:
    a = p.annotation
    if a is inspect.Parameter.empty:
        return ""
    return a if isinstance(a, str) else getattr(a, "__name__", str(a))


def param_kind(p: inspect.Parameter) -> str:
    """The kind of value a parameter takes, from its name (first) and its annotation."""
    name, ann = p.name, _annotation_text(p)
    low = name.lower()
    default = p.default
    if name in MASK_NAMES or low.endswith("_mask") or low.startswith("mask"):
        return "mask"
    if name in RNG_NAMES:
        return "rng"
    if name == "lengths":
        return "lengths"
    if name in LABEL_NAMES:
        return "labels"
    if name in PATH_NAMES or "PathLike" in ann:
        return "path"
    if name == "dtype":
        return "dtype"
    if isinstance(default, bool) or ann == "bool":
        return "bool"
    if isinstance(default, float):
        return "float"
    if name in SIZE_HINTS or (isinstance(default, int) and not isinstance(default, bool)) \
            or ann in ("int", "int | None"):
        return "int"
    if isinstance(default, float) or ann.startswith("float"):
        return "float"
    if isinstance(default, str) or ann in ("str", "str | None"):
        return "str"
    if low in ARRAY_NAMES or low.startswith(("x_", "d")) and len(low) <= 3 \
            or "ndarray" in ann:
        return "array"
    if "Callable" in ann or low in ("f", "fn", "func", "fun", "loss_fn", "function"):
        return "callable"
    if low == "model" or "Model" in ann:
        return "model"
    return "other"


# ------------------------------------------------------------------------------ good values
@dataclass(frozen=True)
class Profile:
    """How the data arrays of a baseline call look."""

    ndim: int          # 1: (T,), 2: (N, D) or (N, T) when wide, 3: (N, T, D)
    values: str        # "normal" | "binary" | "positive"
    wide: bool = False  # 2-D arrays as (N, T) instead of (N, D)

    def shape(self) -> tuple[int, ...]:
        return {1: (T,), 2: (N, T) if self.wide else (N, D), 3: (N, T, D)}[self.ndim]


PROFILES = [Profile(3, "normal"), Profile(2, "normal"), Profile(1, "normal"),
            Profile(1, "binary"), Profile(2, "normal", wide=True), Profile(2, "positive"),
            Profile(1, "positive"), Profile(2, "binary")]


def _data(profile: Profile, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shape = profile.shape()
    if profile.values == "binary":
        out = np.zeros(shape)
        out.flat[::2] = 1.0  # both classes present
        return out
    x = rng.standard_normal(shape)
    return np.abs(x) + 0.5 if profile.values == "positive" else x


def _small_model(ndim: int) -> Any:
    from minivae.models import LSTMVAE, VAE
    if ndim == 3:
        return LSTMVAE(D, hidden_size=4, latent_dim=2, rng=0)
    return VAE(D, hidden_sizes=[4], latent_dim=2, rng=0)


def good_value(p: inspect.Parameter, kind: str, profile: Profile, i: int) -> Any:
    """A plausible good value for one parameter (``i``: its position, varies array seeds)."""
    has_default = p.default is not inspect.Parameter.empty
    if p.name == "verbose":
        return 0  # no progress printing in the suite
    if p.name in ("hidden_sizes", "hidden") and not has_default:
        return [4]
    if p.name == "params" and not has_default:
        return _small_model(2)
    if kind == "int" and p.name in SMALL_INT_DEFAULTS and isinstance(p.default, int) \
            and not isinstance(p.default, bool):
        return min(p.default, SIZE_HINTS.get(p.name, 2)) if p.default > 0 else p.default
    if has_default and kind not in ("array", "labels"):
        return p.default
    if has_default and p.default is None:
        return None
    if kind == "array":
        return _data(profile, seed=i)
    if kind == "labels":
        return _data(Profile(profile.ndim, "binary", profile.wide), seed=i)
    if kind == "mask":
        return np.ones(profile.shape(), dtype=bool)
    if kind == "lengths":
        return np.full(N, T)
    if kind == "rng":
        return np.random.default_rng(0)
    if kind == "int":
        return SIZE_HINTS.get(p.name, 3)
    if kind == "float":
        return {"lr": 1e-3, "threshold": 0.5, "fs": 100.0}.get(p.name, 0.5)
    if kind == "bool":
        return False
    if kind == "str":
        return "x"  # a name for messages (no default to copy)
    if kind == "path":
        return os.path.join(tempfile.mkdtemp(prefix="minivae_bad_input_"), "file.npz")
    if kind == "dtype":
        return np.float64
    if kind == "model":
        return _small_model(profile.ndim)
    if kind == "callable":
        return lambda *a, **k: float(np.sum(np.asarray(a[0], dtype=float) ** 2)) if a else 0.0
    return None


def _heston_good_args() -> dict[str, Callable[[Profile], dict[str, Any]]]:
    """apps.heston: ``k`` is a log-moneyness array there (not a count), ``params`` a tuple."""
    from minivae.apps.heston import HestonParams
    p = HestonParams(0.04, 0.05, 1.5, 0.5, -0.6)
    k, t = np.array([-0.1, 0.0, 0.2]), np.array([0.25, 0.5, 1.0])
    strikes = np.array([90.0, 100.0, 120.0])
    iv = np.full((8, 11), 0.2)
    mask = np.zeros((8, 11), dtype=bool)
    mask[::2, ::3] = True
    return {
        "apps.heston.black_price": lambda pr: {"k": k, "w": np.array([0.01, 0.02, 0.04])},
        "apps.heston.black_scholes_price": lambda pr: {
            "spot": 100.0, "strike": strikes, "t": t, "vol": np.array([0.2, 0.25, 0.3])},
        "apps.heston.heston_charfn": lambda pr: {"u": np.array([0.5, 1.0, 2.0]), "t": t,
                                                 "params": p},
        "apps.heston.heston_forward_price": lambda pr: {"k": k, "t": t, "params": p},
        "apps.heston.heston_price": lambda pr: {"spot": 100.0, "strike": strikes, "t": t,
                                                "params": p},
        "apps.heston.heston_implied_vols": lambda pr: {"params": p},
        "apps.heston.implied_volatility_forward": lambda pr: {
            "price": np.array([0.12, 0.05, 0.02]), "k": k, "t": t},
        "apps.heston.implied_volatility": lambda pr: {
            "price": np.array([13.0, 8.0, 3.0]), "spot": 100.0, "strike": strikes, "t": t},
        "apps.heston.calibrate_heston": lambda pr: {"observed_iv": iv, "mask": mask,
                                                    "n_starts": 1, "n_iter": 2, "n_nodes": 8},
    }


def _mixture_good_args() -> dict[str, Callable[[Profile], dict[str, Any]]]:
    """information.clustering and the mixture-prior VAEs: arrays whose shapes must agree (C = 2
    components in L = 2 dimensions), log-probabilities, binary images for the Bernoulli models."""
    from minivae.objectives.distributions import DiagonalGaussian
    from minivae.objectives.mixture_prior import log_softmax
    rng = np.random.default_rng(0)
    C, L = 2, 2
    mu, lv = rng.standard_normal((N, L)), 0.1 * rng.standard_normal((N, L))
    comps = {"log_pi": log_softmax(np.array([0.2, -0.1])), "means": rng.standard_normal((C, L)),
             "logvars": 0.1 * rng.standard_normal((C, L))}
    post = {"q": DiagonalGaussian(mu, lv), "log_gamma": log_softmax(rng.standard_normal((N, C))),
            **comps}
    binary = (rng.random((N, D)) < 0.5).astype(float)
    mp = "objectives.mixture_prior."
    out: dict[str, Callable[[Profile], dict[str, Any]]] = {
        "information.clustering.hungarian": lambda pr: {"cost": rng.random((N, D))},
        "information.clustering.gmm_log_responsibilities": lambda pr: {
            "X": rng.standard_normal((N, L)), "weights": np.array([0.4, 0.6]),
            "means": comps["means"], "variances": np.ones((C, L))},
        mp + "log_softmax": lambda pr: {"s": mu},
        mp + "log_softmax_backward": lambda pr: {"log_p": post["log_gamma"], "dlog_p": mu},
        mp + "component_kl": lambda pr: {k: post[k] for k in ("q", "means", "logvars")},
        mp + "mixture_kl": lambda pr: dict(post),
        mp + "mixture_kl_backward": lambda pr: dict(post),
        mp + "cluster_log_posterior": lambda pr: {"z": mu, **comps},
        mp + "mixture_log_prob": lambda pr: {"z": mu, **comps},
        mp + "cluster_log_posterior_backward": lambda pr: {"z": mu, **comps,
                                                            "dlog_gamma": post["log_gamma"]},
        "models.vade.pretrain": lambda pr: {"model": _vade(), "X": binary, "epochs": 1},
    }
    for cls in ("models.vade.VaDE", "models.gmvae.GMVAE"):
        out[cls] = lambda pr: {"input_dim": D, "n_clusters": C}
        for method in ("loss", "per_example_loss"):
            out[f"{cls}.{method}"] = lambda pr: {"batch": binary, "rng": 0}
        out[f"{cls}.decode"] = lambda pr: {"z": mu}
        out[f"{cls}.set_prior"] = lambda pr: {"weights": np.array([0.4, 0.6]),
                                              "means": comps["means"], "variances": np.ones((C, L))}
    return out


def _vade() -> Any:
    from minivae.models.vade import VaDE
    return VaDE(D, [4], 2, 2, rng=0)
def _conditional_multimodal_good_args() -> dict[str, Callable[[Profile], dict[str, Any]]]:
    """models.cvae_prior (batches (X, c): X (N, D) in [0, 1], conditions c (N, D)) and
    models.mmvae (X: a [0, 1] modality and a real one side by side, (N, 2 D))."""
    def x01() -> np.ndarray:
        return _data(Profile(2, "binary"), 0)

    def c() -> np.ndarray:
        return _data(Profile(2, "normal"), 1)

    def z() -> np.ndarray:
        return _data(Profile(2, "normal"), 2)[:, :2]

    def both() -> np.ndarray:
        return np.concatenate([x01(), c()], axis=1)

    out: dict[str, Callable[[Profile], dict[str, Any]]] = {
        "models.cvae_prior.PriorCVAE": lambda pr: {"input_dim": D, "cond_dim": D,
                                                   "latent_dim": 2},
        "models.cvae_prior.ConditionalRegressor": lambda pr: {"input_dim": D, "cond_dim": D},
        "models.cvae_prior.PriorCVAE.decode": lambda pr: {"z": z(), "c": c()},
        "models.mmvae.MMVAE": lambda pr: {"input_dims": [D, D], "latent_dim": 2,
                                          "decoder_variances": [None, 1.0]},
        "models.mmvae.MMVAE.encode": lambda pr: {"x": x01(), "modality": 0},
        "models.mmvae.MMVAE.decode": lambda pr: {"z": z(), "modality": 0},
        "models.mmvae.MMVAE.cross_generate": lambda pr: {"x": x01(), "source": 0, "target": 1},
        "models.mmvae.MMVAE.join": lambda pr: {"views": (x01(), c())},
    }
    for cls in ("models.cvae_prior.PriorCVAE", "models.cvae_prior.ConditionalRegressor"):
        for method in ("posterior", "kl_per_dimension"):
            out[f"{cls}.{method}"] = lambda pr: {"batch": (x01(), c())}
        for method in ("loss", "per_example_loss", "elbo", "iwae_bound", "log_likelihood"):
            out[f"{cls}.{method}"] = lambda pr: {"batch": (x01(), c()), "rng": 0}
        for method in ("fit", "check_inputs"):
            out[f"{cls}.{method}"] = lambda pr: {"X": x01(), "y": c()}
    out["models.mmvae.MMVAE.posterior"] = lambda pr: {"batch": both()}
    for method in ("loss", "per_example_loss"):
        out[f"models.mmvae.MMVAE.{method}"] = lambda pr: {"batch": both(), "rng": 0}
    for method in ("fit", "check_inputs", "split", "stratified_bound"):
        out[f"models.mmvae.MMVAE.{method}"] = lambda pr: {"X": both()}
    return out


def _vmf_good_args() -> dict[str, Callable[[Profile], dict[str, Any]]]:
    """objectives.vmf: unit directions (N, m), kappa (N, 1), a posterior after its rsample."""
    def unit(m: int) -> np.ndarray:
        g = np.random.default_rng(m).standard_normal((N, m))
        return g / np.linalg.norm(g, axis=1, keepdims=True)

    def after_rsample(pr: Profile) -> dict[str, Any]:  # m = 2, the family's latent_dim
        from minivae.objectives.vmf import vmf_encoder_posterior
        h = np.column_stack([unit(2), np.linspace(-1.0, 2.0, N)])
        q, inside = vmf_encoder_posterior(h)
        q.rsample(0)
        return {"q": q, "inside": inside, "dz": unit(2), "dkl": 0.5}

    return {
        "objectives.vmf.VonMisesFisher": lambda pr: {"mu": unit(D), "kappa": np.full((N, 1),
                                                                                     2.0)},
        "objectives.vmf.VonMisesFisher.log_prob": lambda pr: {"z": unit(D)},
        "objectives.vmf.vmf_encoder_backward": after_rsample,
        "objectives.vmf.VMFFamily.backward": after_rsample,
        "objectives.vmf.VMFFamily.kl": lambda pr: {"q": after_rsample(pr)["q"]},
        "objectives.vmf.VMFFamily.code": lambda pr: {"q": after_rsample(pr)["q"]},
        "objectives.vmf.VMFFamily.summary": lambda pr: {"q": after_rsample(pr)["q"]},
        "objectives.vmf.VMFFamily.log_prior": lambda pr: {"z": unit(2)},
    }


def _pixel_vae_good_args() -> dict[str, Callable[[Profile], dict[str, Any]]]:
    """PixelVAE / RowLSTMDecoder: image_shape (R, C) matching the data ((N, T, D) images, or
    (N, D) flat ones of one row), binary pixels; the delta-VAE KLs take a posterior q."""
    from minivae.objectives.distributions import DiagonalGaussian

    def image_shape(pr: Profile) -> tuple[int, int]:
        return (T, D) if pr.ndim == 3 else (1, pr.shape()[-1])

    def q(pr: Profile) -> Any:
        mu, lv = _data(Profile(2, "normal"), 1), 0.1 * _data(Profile(2, "normal"), 2)
        return DiagonalGaussian(mu, lv)

    binary = _data(Profile(3, "binary"), 0)
    return {
        "models.pixel_vae.PixelVAE": lambda pr: {"image_shape": image_shape(pr)},
        "nn.row_lstm_decoder.RowLSTMDecoder": lambda pr: {"image_shape": (T, D)},
        "nn.row_lstm_decoder.RowLSTMDecoder.forward": lambda pr: {"z": _data(Profile(2, "normal"),
                                                                              3)[:, :2],
                                                                  "x": binary},
        "nn.row_lstm_decoder.RowLSTMDecoder.sample": lambda pr: {"z": _data(Profile(2, "normal"),
                                                                             3)[:, :2]},
        "objectives.delta_vae.delta_kl": lambda pr: {"q": q(pr), "alpha": 0.5},
        "objectives.delta_vae.delta_kl_grad": lambda pr: {"q": q(pr), "alpha": 0.5},
        "objectives.delta_vae.delta_elbo_backward": lambda pr: {"q": q(pr), "alpha": 0.5,
                                                                "dz": _data(Profile(2, "normal"),
                                                                            4), "dkl": 0.2},
    }


def _delta_grid_good_args() -> dict[str, Callable[[Profile], dict[str, Any]]]:
    """apps.delta_grid / apps.rpeaks: ``k`` is log-moneyness, deltas lie in (0, 1), the smile
    functions take parameter tuples; detected and true peaks differ in number."""
    from minivae.apps.delta_grid import ssvi_vol_fn
    from minivae.apps.heston import HestonParams
    from minivae.apps.volatility import SSVIParams
    ssvi = SSVIParams(0.04, 0.03, 1.0, -0.5, 1.0, 0.4)
    t3, v3 = np.array([0.25, 0.5, 1.0]), np.array([0.2, 0.25, 0.3])
    return {
        "apps.delta_grid.call_delta": lambda pr: {"k": np.array([-0.1, 0.0, 0.2]), "t": t3,
                                                  "vol": v3},
        "apps.delta_grid.log_moneyness_from_delta": lambda pr: {
            "delta": np.array([0.1, 0.5, 0.9]), "t": t3, "vol": v3},
        "apps.delta_grid.delta_nodes": lambda pr: {"vol_fn": ssvi_vol_fn(ssvi), "t": t3,
                                                   "deltas": np.array([0.1, 0.3, 0.5, 0.9]),
                                                   "n_iter": 200},
        "apps.delta_grid.ssvi_vol_fn": lambda pr: {"params": ssvi},
        "apps.delta_grid.heston_vol_fn": lambda pr: {
            "params": HestonParams(0.04, 0.05, 1.5, 0.5, -0.6)},
        "apps.rpeaks.heart_rate": lambda pr: {"peaks": np.array([10, 52, 95, 141]),
                                              "fs": 100.0},
        "apps.rpeaks.match_peaks": lambda pr: {"detected": np.array([10, 52, 300, 410]),
                                               "true": np.array([12, 50, 200])},
    }


# Explicit good arguments for what the names cannot tell (merged over the inferred ones).
GOOD_ARGS: dict[str, Callable[[Profile], dict[str, Any]]] = {
    "models.cvae.CVAE": lambda pr: {"input_dim": D, "n_classes": 2},
    "timeseries.anomaly.AnomalyDetector": lambda pr: {"model": _small_model(3)},
    "timeseries.imputation_study.ModelImputer": lambda pr: {"model": _small_model(3)},
    "nn.activations.get_activation": lambda pr: {"name": "relu"},
    "timeseries.thresholds.fit_threshold": lambda pr: {"method": "percentile"},
    # every registered check takes longer than CASE_SECONDS on a loaded machine; one area suffices
    "gradcheck.registry.run_checks": lambda pr: {"only": "dense"},
    "nn.recurrent.make_recurrent": lambda pr: {"cell": "gru"},
    "nn.recurrent.make_cell": lambda pr: {"cell": "gru"},
    "nn.recurrent.run": lambda pr: {"layer": _recurrent("make_recurrent")},
    "nn.recurrent.step": lambda pr: {"cell": _recurrent("make_cell")},
    **_heston_good_args(),
    **_mixture_good_args(),
    **_conditional_multimodal_good_args(),
    **_vmf_good_args(),
    # disentanglement: batches of 5 need a dataset of >= 5; factor indices inside the grid
    "models.beta_tcvae.BetaTCVAE": lambda pr: {"dataset_size": 50},
    "data.shapes.Shapes.render": lambda pr: {"factors": np.array([[0, 1, 2, 3, 4],
                                                                  [2, 0, 0, 0, 0]])},
    "data.shapes.Shapes.check_factors": lambda pr: {"factors": np.array([[0, 1, 2, 3, 4]])},
    "objectives.total_correlation.pairwise_log_density": lambda pr: _tc_args(),
    "objectives.total_correlation.tc_decomposition": lambda pr: _tc_args(),
    "objectives.total_correlation.tc_regulariser": lambda pr: _tc_args(),
    **_pixel_vae_good_args(),
    **_delta_grid_good_args(),
}


def _tc_args() -> dict[str, Any]:
    """A sample z (N, D), its batch posterior q and a dataset size for the TC estimators."""
    from minivae.objectives.distributions import DiagonalGaussian
    rng = np.random.default_rng(0)
    q = DiagonalGaussian(rng.standard_normal((N, D)), np.zeros((N, D)))
    return {"z": rng.standard_normal((N, D)), "q": q, "dataset_size": 50}


def _recurrent(factory: str) -> Any:
    """A small GRU layer or cell (input size D) for the tuple-state adapter of nn.recurrent."""
    from minivae.nn import recurrent
    return getattr(recurrent, factory)("gru", D, 4, rng=0)


def good_kwargs(target: Target, profile: Profile) -> dict[str, Any]:
    """The baseline keyword arguments of ``target`` under ``profile``."""
    kwargs = {p.name: good_value(p, param_kind(p), profile, i)
              for i, p in enumerate(target.params)}
    extra = GOOD_ARGS.get(target.short)
    if extra is not None:
        kwargs.update(extra(profile))
    return kwargs


# ------------------------------------------------------------------------------ perturbations
@dataclass(frozen=True)
class Perturbation:
    """One bad value for one argument."""

    param: str
    label: str            # e.g. "complex dtype", "mask shape (5, 7, 2)"
    value: Any
    must_fail: bool = False  # a returned result is a silent answer
    nan_ok: bool = False     # the case hides whole rows: NaN in the result is the documented rule


def _shape_label(v: Any) -> str:
    return f"{type(v).__name__}{getattr(v, 'shape', '')} {getattr(v, 'dtype', '')}".strip()


def _with(g: np.ndarray, value: float, variant: int) -> np.ndarray:
    out = g.astype(np.float64, copy=True)
    if out.size:
        out.flat[variant % out.size] = value
    return out


def _array_perturbations(p: inspect.Parameter, g: np.ndarray, paired: bool, variant: int,
                         labels: bool) -> list[tuple[str, Any, bool, bool]]:
    """(label, value, must_fail, nan_ok) for a numeric array argument with good value g."""
    cut = g[..., :-1] if g.ndim else g
    with np.errstate(invalid="ignore"):
        as_int = np.round(g).astype(np.int64)
    out = [
        ("one more dimension", g[..., None], False, False),
        ("one dimension less" if g.ndim > 1 else "a scalar",
         g.reshape(g.shape[0], -1)[:, 0] if g.ndim > 1 else np.float64(g.flat[0]), False, False),
        (f"last axis {g.shape[-1]}->{cut.shape[-1]}" + (" (differs from its partner)"
                                                         if paired else ""),
         cut, paired, False),
        ("int dtype", as_int, False, False),
        ("bool dtype", g > 0, False, False),
        ("float16 dtype", g.astype(np.float16), False, False),
        ("complex dtype", g.astype(np.complex128), True, False),
        ("object dtype", g.astype(object), True, False),
        # NaN is the library's missing-value marker: passing it through is allowed, inf is not.
        ("a NaN entry", _with(g, np.nan, variant), False, True),
        ("an inf entry", _with(g, np.inf, variant), False, False),
        ("empty (0 rows)", g[:0], False, False),
        ("huge values (1e300)", g.astype(np.float64) * 1e300 + 1e300, False, False),
        ("a nested list", g.tolist(), False, False),
        ("a string", "abc", True, False),
    ]
    if labels:
        out.append(("non-integer labels (+0.5)", g + 0.5, True, False))
        out.append(("negative labels (-1)", g - 1.0, True, False))
    if p.default is not None:
        out.append(("None", None, True, False))
    return out


def _mask_perturbations(g: np.ndarray) -> list[tuple[str, Any, bool, bool]]:
    row_hidden = g.copy()
    row_hidden[0] = False
    return [
        (f"mask shape {g[..., :-1].shape} vs data {g.shape}", g[..., :-1], True, False),
        ("mask with an extra axis", g[..., None], True, False),
        ("int 0/1 mask", g.astype(np.int64), False, False),
        ("float mask", g.astype(np.float64), False, False),
        ("mask hiding everything", np.zeros_like(g), False, True),
        ("mask hiding the whole first row", row_hidden, False, True),
        ("a nested list", g.tolist(), False, False),
        ("a string", "abc", True, False),
    ]


def _scalar_perturbations(p: inspect.Parameter, kind: str) -> list[tuple[str, Any, bool, bool]]:
    none_bad = p.default is not None
    signed = p.name in SIGNED_INTS and kind == "int"
    if kind == "int":
        strict_int = "int" in _annotation_text(p) and "float" not in _annotation_text(p)
        return [("-1", -1, not signed, False), ("0", 0, False, False),
                ("2.5 (not an integer)", 2.5, strict_int, False), ("True", True, False, False),
                ("the string '3'", "3", True, False), ("NaN", float("nan"), True, False),
                ("None", None, none_bad, False)]
    if kind == "float":
        return [("NaN", float("nan"), True, False), ("inf", float("inf"), False, False),
                ("-inf", float("-inf"), False, False), ("-1.0", -1.0, False, False),
                ("0.0", 0.0, False, False), ("1e300", 1e300, False, False),
                ("the string '0.5'", "0.5", True, False), ("complex 1j", 1j, True, False),
                ("None", None, none_bad, False)]
    if kind == "str":
        free = p.name in FREE_TEXT
        return [("unknown option 'no-such-option'", "no-such-option", not free, False),
                ("int 3", 3, True, False), ("None", None, none_bad and not free, False)]
    if kind == "bool":
        return [("the string 'yes'", "yes", False, False), ("2", 2, False, False),
                ("None", None, False, False)]
    if kind == "rng":
        return [("the string 'seed'", "seed", True, False), ("1.5", 1.5, True, False),
                ("-1 (negative seed)", -1, True, False), ("None", None, none_bad, False),
                ("a legacy RandomState", np.random.RandomState(0), False, False)]
    if kind == "dtype":
        return [("'int32'", "int32", True, False), ("'float16'", "float16", True, False),
                ("'banana'", "banana", True, False)]
    if kind == "path":
        missing = os.path.join(tempfile.gettempdir(), "minivae-no-such-dir", "x.npz")
        garbage = os.path.join(tempfile.mkdtemp(prefix="minivae_bad_input_"), "garbage.npz")
        with open(garbage, "wb") as fh:
            fh.write(b"PK\x03\x04 this is not a zip file")
        return [("a missing directory", missing, False, False),
                ("a directory", tempfile.gettempdir(), False, False),
                ("a corrupt file", garbage, False, False), ("int 3", 3, True, False)]
    if kind == "model":
        return [("None", None, none_bad, False), ("a string", "model", True, False)]
    if kind == "callable":
        return [("None", None, none_bad, False), ("int 3", 3, True, False)]
    return [("None", None, False, False), ("a string", "abc", False, False),
            ("3.5", 3.5, False, False)]


def perturbations(target: Target, good: dict[str, Any], variant: int = 0) -> list[Perturbation]:
    """Every single-argument perturbation of the baseline ``good`` (keyword -> value)."""
    out = []
    shapes = {k: np.shape(v) for k, v in good.items() if isinstance(v, np.ndarray)}
    for p in target.params:
        kind = param_kind(p)
        g = good.get(p.name)
        if kind == "mask" and isinstance(g, np.ndarray) and g.dtype == bool and g.ndim:
            rows = _mask_perturbations(g)
        elif kind == "lengths" and isinstance(g, np.ndarray):
            rows = [("a negative length", _with(g, -1, variant).astype(int), True, False),
                    ("a length > T", _with(g, T + 1, variant).astype(int), True, False),
                    ("one length too few", g[:-1], True, False),
                    ("fractional lengths", g + 0.5, True, False),
                    ("a zero length", _with(g, 0, variant).astype(int), False, True)]
        elif isinstance(g, np.ndarray) and g.ndim and g.dtype.kind in "fiub":
            paired = sum(s == g.shape for k, s in shapes.items() if k != p.name) > 0
            rows = _array_perturbations(p, g, paired, variant, labels=kind == "labels")
        elif kind in ("array", "labels", "mask", "lengths"):
            rows = [("a string", "abc", True, False), ("an object array",
                    np.array([1.0, None], dtype=object), True, False)]
        else:
            rows = _scalar_perturbations(p, kind)
        if p.name in FREE_TEXT:  # a label for messages or keys: any value is the caller's choice
            rows = [(label, value, False, nan_ok) for label, value, _, nan_ok in rows]
        if (target.short, p.name) in COMPLEX_ARGS:
            rows = [(label, value, must and label != "complex dtype", nan_ok)
                    for label, value, must, nan_ok in rows]
        out.extend(Perturbation(p.name, *row) for row in rows)
    return out


# ------------------------------------------------------------------------------ calling
class CaseTimeout(Exception):
    """A single generated call ran longer than :data:`CASE_SECONDS`."""


CASE_SECONDS = 20


def _alarm(signum: int, frame: Any) -> None:
    raise CaseTimeout(f"the call ran longer than {CASE_SECONDS} s")


def call(target: Target, kwargs: dict[str, Any], instance: Any = None) -> Any:
    """Call ``target`` with ``kwargs`` (positional-only parameters passed by position)."""
    args, kw = [], {}
    for p in target.params:
        if p.name not in kwargs:
            continue
        if p.kind == p.POSITIONAL_ONLY:
            args.append(kwargs[p.name])
        else:
            kw[p.name] = kwargs[p.name]
    fn = target.func
    if target.kind == "method":
        fn = getattr(instance if instance is not None else target.owner, target.func.__name__)
    import signal
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, CASE_SECONDS)
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            return fn(*args, **kw)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@dataclass
class Baseline:
    """A call of ``target`` that returned: its profile, arguments and instance maker."""

    profile: Profile | None
    kwargs: dict[str, Any]
    fitted: bool = False
    error: str = ""      # when no baseline was found: the last error seen

    @property
    def found(self) -> bool:
        return self.profile is not None


_INSTANCES: dict[tuple[type, Profile, bool], Any] = {}
_BASELINES: dict[str, Baseline] = {}


def _ctor_target(cls: type) -> Target:
    name = f"{cls.__module__}.{cls.__qualname__}"
    return Target(name, cls, "class", params=_signature_params(cls, skip_self=False))


def make_instance(cls: type, profile: Profile, fitted: bool) -> Any:
    """A fresh copy of a baseline instance of ``cls`` (fitted with its own ``fit`` baseline)."""
    key = (cls, profile, fitted)
    if key not in _INSTANCES:
        ctor = _ctor_target(cls)
        inst = call(ctor, good_kwargs(ctor, profile))
        if fitted:
            fit = Target(f"{ctor.name}.fit", cls.fit, "method", owner=cls,
                         params=_signature_params(cls.fit, skip_self=True))
            call(fit, good_kwargs(fit, profile), inst)
        _INSTANCES[key] = inst
    return copy.deepcopy(_INSTANCES[key])


def allowed_nonfinite(target: Target) -> bool:
    return any(target.short == k or target.short.startswith(k + ".") for k in ALLOWED_NONFINITE)


def find_baseline(target: Target) -> Baseline:
    """Search the profiles (and, for methods, fresh and fitted instances) for a working call."""
    if target.name in _BASELINES:
        return _BASELINES[target.name]
    error = ""
    states = [False, True] if target.kind == "method" and hasattr(target.owner, "fit") \
        and target.func.__name__ != "fit" else [False]
    found = None
    for profile in PROFILES:
        for fitted in states:
            kwargs = good_kwargs(target, profile)
            try:
                inst = make_instance(target.owner, profile, fitted) \
                    if target.kind == "method" else None
                result = call(target, kwargs, inst)
                problem = result_problem(result, nan_ok=allowed_nonfinite(target))
                if problem:
                    error = f"returned {problem}"
                    continue
            except Exception as exc:  # noqa: BLE001 - searching for a call that works
                error = f"{type(exc).__name__}: {exc}"[:300]
                continue
            found = Baseline(profile, good_kwargs(target, profile), fitted)
            break
        if found:
            break
    _BASELINES[target.name] = found or Baseline(None, good_kwargs(target, PROFILES[0]),
                                                error=error)
    return _BASELINES[target.name]


# ------------------------------------------------------------------------------ outcomes
CLEAN_TYPES = (ValueError, TypeError, RuntimeError)  # RuntimeError: wrong call order (backward
# before loss, score before fit), raised by minivae code with a message saying so.
ALIASES = {  # the argument names an inner check may use for the public argument
    "batch": ("x",), "X_normal": ("x",), "series_normal": ("series",), "x_hat": ("x_hat",),
    "rng": ("seed", "generator"), "path": ("file", "checkpoint", "path"),
    "y": ("labels", "label"), "n": ("n_samples", "size"), "lengths": ("length",),
}


def _walk_problem(value: Any, where: str, depth: int, seen: set[int],
                  allow_nan: bool = False) -> str:
    if depth > 3 or id(value) in seen:
        return ""
    seen.add(id(value))
    ok = np.isnan if allow_nan else (lambda v: False)
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "fc":
            bad = int(np.count_nonzero(~(np.isfinite(value) | ok(value))))
            if bad:
                return f"{where}: {bad} non-finite value(s) in an array of shape {value.shape}"
        if value.dtype == object:
            return f"{where}: an object array of shape {value.shape}"
        return ""
    if isinstance(value, (float, np.floating, complex)):
        return "" if np.isfinite(value) or ok(value) else f"{where} = {value}"
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, (list, tuple)):
        items = enumerate(value)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        items = ((f.name, getattr(value, f.name)) for f in dataclasses.fields(value))
    elif type(value).__module__.startswith("minivae") and hasattr(value, "__dict__"):
        items = ((k, v) for k, v in vars(value).items()
                 if not k.startswith("_") and k not in ("cache", "grads", "last_eps"))
    else:
        return ""
    for k, v in items:
        problem = _walk_problem(v, f"{where}[{k!r}]" if not isinstance(k, str) or
                                isinstance(value, dict) else f"{where}.{k}", depth + 1, seen,
                                allow_nan)
        if problem:
            return problem
    return ""


def result_problem(result: Any, nan_ok: bool) -> str:
    """'' if the result is finite throughout, else what is not (NaN allowed with ``nan_ok``;
    inf never is)."""
    return _walk_problem(result, "result", 0, set(), allow_nan=nan_ok)


def _raise_site(exc: BaseException) -> traceback.FrameSummary | None:
    frames = traceback.extract_tb(exc.__traceback__)
    return frames[-1] if frames else None


def names_argument(message: str, param: str) -> bool:
    names = (param,) + ALIASES.get(param, ())
    return any(re.search(rf"(?<![A-Za-z0-9_]){re.escape(n)}(?![A-Za-z0-9])", message, re.I)
               for n in names)


@dataclass
class Outcome:
    """The classification of one generated call."""

    category: str   # "clean" | "pass" | "raw" | "unnamed" | "silent"
    detail: str = ""

    @property
    def failed(self) -> bool:
        return self.category in ("raw", "unnamed", "silent")


def classify(target: Target, case: Perturbation, baseline: Baseline, result: Any = None,
             exc: BaseException | None = None, instance: Any = None) -> Outcome:
    """Sort one outcome into clean / pass / raw / unnamed / silent (see the module docstring)."""
    if exc is not None:
        site = _raise_site(exc)
        where = f"{site.filename}:{site.lineno}" if site else "?"
        in_minivae = site is not None and site.filename.startswith(PACKAGE_DIR)
        text = f"{type(exc).__name__}: {exc}".replace("\n", " ")[:400]
        minivae_type = type(exc).__module__.startswith("minivae")
        if isinstance(exc, CaseTimeout):
            return Outcome("raw", text)
        if isinstance(exc, (FileNotFoundError, IsADirectoryError, NotADirectoryError)) and \
                (in_minivae or param_kind(_param(target, case.param)) == "path"):
            return Outcome("clean", text)  # minivae's, or the OS's own error naming the path
        # FloatingPointError / OverflowError raised on purpose by minivae report an overflow:
        # judged by their message like a ValueError.
        deliberate = in_minivae and isinstance(exc, (FloatingPointError, OverflowError))
        raw_type = isinstance(exc, (LookupError, ArithmeticError, AttributeError,
                                    NotImplementedError, MemoryError, AssertionError))
        clean_type = isinstance(exc, CLEAN_TYPES) or minivae_type or deliberate
        if not in_minivae or not clean_type or (raw_type and not deliberate):
            return Outcome("raw", f"{text} (raised at {where})")
        if baseline.found and not names_argument(str(exc), case.param):
            return Outcome("unnamed", f"{text} (raised at {where})")
        return Outcome("clean", text)
    if declared_answer(target.name, case, result):
        return Outcome("pass")
    if case.must_fail:
        return Outcome("silent", f"returned {_shape_label(result)} instead of refusing it")
    allowed = allowed_nonfinite(target)
    if allowed:
        return Outcome("pass")
    problem = result_problem(result, case.nan_ok)
    if not problem and instance is not None:
        problem = _walk_problem(instance, "the instance after the call", 1, set(),
                                allow_nan=case.nan_ok)
    if problem:
        return Outcome("silent", problem)
    return Outcome("pass")


def run_case(target: Target, case: Perturbation) -> Outcome:
    """Run ``target`` with its baseline arguments and the one perturbation ``case``."""
    baseline = find_baseline(target)
    kwargs = dict(baseline.kwargs)
    kwargs[case.param] = case.value
    instance = None
    try:
        if target.kind == "method":
            profile = baseline.profile or PROFILES[0]
            instance = make_instance(target.owner, profile, baseline.fitted)
        result = call(target, kwargs, instance)
    except Exception as exc:  # noqa: BLE001 - classified below
        return classify(target, case, baseline, exc=exc, instance=instance)
    return classify(target, case, baseline, result=result, instance=instance)


def _param(target: Target, name: str) -> inspect.Parameter:
    return next(p for p in target.params if p.name == name)


def describe(target: Target, case: Perturbation, outcome: Outcome) -> str:
    """One precise line for a failure: function, argument, input, what happened."""
    return (f"{outcome.category.upper()}: {target.short}({case.param}=<{case.label}>): "
            f"{outcome.detail}")


def read_known(path: str) -> set[str]:
    """The short target names listed in ``path`` (``#`` starts a comment)."""
    if not os.path.exists(path):
        return set()
    with open(path) as fh:
        return {line.split("#")[0].strip() for line in fh} - {""}
