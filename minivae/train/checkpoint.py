"""Save and load models (and optionally optimizer state and training history) as ``.npz`` files.

File layout (one ``np.savez`` archive, read back with ``np.load(..., allow_pickle=False)``, so
loading a file can never execute code):

=========================  =======================================================
key                        content
=========================  =======================================================
``__format__``             0-d str ``"minivae-checkpoint"`` (identifies the file)
``__version__``            0-d int, :data:`FORMAT_VERSION`
``__model_class__``        0-d str, the model's registered class name
``__model_module__``       0-d str, the module defining that class (optional: it lets the
                           error for a class not imported in this process say what to import)
``__config__``             0-d str, JSON of ``model.config()`` (the architecture)
``param/<name>``           every parameter by qualified name, e.g. ``param/encoder.layers.0.W``
``optimizer/<key>``        optional: each entry of ``optimizer.state_dict()``
``__history__``            optional: 0-d str, JSON of ``History.to_dict()``
=========================  =======================================================

Arrays are stored with their exact bytes and dtype, so a save/load round trip is bit-exact.

Loading checks everything before the model is touched: the archive (readable zip of ``.npy``
entries, no object arrays, every entry's declared size within the file), the format name, the
version (an integer from 1 to :data:`FORMAT_VERSION`), every key (nothing unknown), the header
strings, the config, each parameter (name, shape, dtype, finite), each optimizer entry (numeric
and finite, or a string) and the history's structure.  Every way a file can be wrong (not a zip,
truncated, corrupt bytes, an unknown compression method, foreign, newer, malformed, another
architecture) raises one :class:`CheckpointError` (a ValueError) naming the file and what is
wrong; only a missing file raises FileNotFoundError.

A model is rebuilt from the class name through :mod:`minivae.train.registry`; nothing here
imports a model class (the model is used through its methods: ``config``, ``from_config``,
``parameters``, ``load_state_dict``), so the models may import this module.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import zipfile
from dataclasses import dataclass
from os import PathLike
from typing import Any

import numpy as np

from minivae._validation import check_path
from minivae.train.history import History
from minivae.train.registry import get_model_class

FORMAT_NAME = "minivae-checkpoint"
FORMAT_VERSION = 1
PARAM_PREFIX = "param/"
OPTIM_PREFIX = "optimizer/"
_REQUIRED = ("__format__", "__version__", "__model_class__", "__config__")
_OPTIONAL = ("__model_module__", "__history__")


class CheckpointError(ValueError):
    """A checkpoint file that cannot be loaded; ``path`` is the file, the message says why."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"checkpoint {path!r}: {problem}")
        self.path, self.problem = path, problem


@dataclass
class Checkpoint:
    """What :func:`load_checkpoint` returns.

    Attributes:
        model: the model with the stored parameters.
        optimizer_state: the stored ``optimizer.state_dict()`` (values as arrays), or None.
        history: the stored :class:`~minivae.train.history.History`, or None.
        model_class: the stored class name.
        config: the stored architecture (``model.config()``).
        version: the file's format version.
    """

    model: Any
    optimizer_state: dict[str, np.ndarray] | None
    history: History | None
    model_class: str
    config: dict[str, Any]
    version: int


def save_checkpoint(path: str | PathLike, model: Any, optimizer: object = None,
                    history: object = None) -> None:
    """Write ``model`` (and optionally an optimizer's state and a training history) to ``path``.

    The file is written to a temporary name first and then renamed, so an interrupted save
    never leaves a half-written checkpoint under ``path``.  ``path`` is used as given (no
    ``.npz`` is appended).  The model's class must be registered (``@register_model``), or
    the file could not be loaded back.
    """
    path = check_path(path)
    _check_model(model)
    name = type(model).__name__
    try:
        registered = get_model_class(name)
    except ValueError:
        registered = None
    if registered is not type(model):
        raise ValueError(f"{name} is not registered with @register_model, so a checkpoint of it "
                         "could not be loaded back; decorate the class with @register_model")
    arrays: dict[str, np.ndarray] = {
        "__format__": np.array(FORMAT_NAME),
        "__version__": np.array(FORMAT_VERSION, dtype=np.int64),
        "__model_class__": np.array(name),
        "__model_module__": np.array(type(model).__module__),
        "__config__": np.array(json.dumps(model.config())),
    }
    for pname, p, _ in model.parameters():
        if not np.isfinite(p).all():  # such a file could not be loaded back
            raise ValueError(f"model parameter {pname!r} has non-finite values (NaN or inf); "
                             "refusing to write a checkpoint of it")
        arrays[PARAM_PREFIX + pname] = p
    if optimizer is not None:
        arrays.update(_optimizer_arrays(optimizer))
    if history is not None:
        if not isinstance(history, (History, dict)):
            raise TypeError(f"history must be a History (or its to_dict()), got "
                            f"{type(history).__name__}")
        data = History.from_dict(history.to_dict() if isinstance(history, History) else history)
        arrays["__history__"] = np.array(json.dumps(data.to_dict()))
    write_atomically(os.fspath(path), arrays)


def _optimizer_arrays(optimizer: object) -> dict[str, np.ndarray]:
    if not callable(getattr(optimizer, "state_dict", None)):
        raise TypeError(f"optimizer must have a state_dict() method, got "
                        f"{type(optimizer).__name__}")
    arrays = {}
    for key, value in optimizer.state_dict().items():
        arr = np.asarray(value)
        if arr.dtype == object:
            raise TypeError(f"optimizer state {key!r} is not an array or scalar "
                            f"({type(value).__name__}); cannot store it without pickling")
        arrays[OPTIM_PREFIX + key] = arr
    return arrays


def write_atomically(path: str | PathLike, arrays: dict[str, np.ndarray]) -> None:
    """np.savez into a temporary file next to ``path``, then rename it to ``path``: a crash
    never leaves a half-written file (checkpoints and the detector store share this)."""
    path = os.fspath(check_path(path))
    if not isinstance(arrays, dict) or not all(isinstance(k, str) for k in arrays):
        raise TypeError(f"arrays must be a dict of name -> array, got {type(arrays).__name__}")
    bad = [k for k, v in arrays.items() if not isinstance(v, np.ndarray) or v.dtype == object]
    if bad:
        raise TypeError(f"arrays {bad} are not numeric numpy arrays (np.savez would pickle "
                        "them)")
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-ckpt-", suffix=".npz", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def load_checkpoint(path: str | PathLike, model: Any = None,
                    optimizer: object = None) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint`.

    Args:
        path: the file.
        model: None to rebuild the model from the stored class name and config (the class
            must be registered, i.e. its module imported); or an existing model to load the
            parameters into, which must have the same class and config.
        optimizer: optionally an optimizer to restore with the stored state (it must have been
            built for a model of this architecture).

    Returns:
        A :class:`Checkpoint` (``.model`` is the loaded model).

    Raises:
        CheckpointError: (a ValueError) corrupt/truncated/foreign file, unsupported version,
            malformed entry, architecture mismatch, class not imported (the message says which
            module to import); always naming the file and the first problem found.  The model
            and optimizer passed in are unchanged then.
        FileNotFoundError: no file at ``path``.
    """
    if not isinstance(path, (str, PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    path = os.fspath(path)
    contents = _read(path)
    header = _header(contents, path)
    history = _history(contents, path) if "__history__" in contents else None
    optimizer_state = _optimizer_state(contents, path)
    model = _rebuild(header, path) if model is None else _check_architecture(model, header, path)
    params = {key[len(PARAM_PREFIX):]: arr for key, arr in contents.items()
              if key.startswith(PARAM_PREFIX)}
    _check_params(model, params, path)
    if optimizer is not None:
        _restore_optimizer(optimizer, optimizer_state, path)
    model.load_state_dict(params)
    return Checkpoint(model=model, optimizer_state=optimizer_state, history=history,
                      model_class=header["class"], config=header["config"],
                      version=header["version"])


# ------------------------------------------------------------------------------ the archive
def _read(path: str) -> dict[str, np.ndarray]:
    """Every array of the archive, or a CheckpointError saying why the file is unreadable."""
    try:
        with open(path, "rb") as f:
            _check_entries(f)
            f.seek(0)
            with np.load(f, allow_pickle=False) as data:
                return {key: data[key] for key in data.files}
    except (FileNotFoundError, CheckpointError):
        raise
    except Exception as exc:  # noqa: BLE001 - any failure of a corrupt file is reported alike
        raise CheckpointError(path, f"could not read it: the file is corrupt, truncated or not "
                                    f"a minivae checkpoint ({type(exc).__name__}: {exc})"
                              ) from exc


def _check_entries(f: Any) -> None:
    """Before reading any data: the file is a zip archive of ``.npy`` entries, none holding
    Python objects, each declaring no more data than it has (a corrupt header could otherwise
    ask for an enormous allocation)."""
    if not zipfile.is_zipfile(f):
        raise ValueError("it is not an .npz archive (not a zip file)")
    f.seek(0)
    with zipfile.ZipFile(f) as archive:
        for info in archive.infolist():
            if not info.filename.endswith(".npy"):
                raise ValueError(f"entry {info.filename!r} is not an .npy array")
            with archive.open(info) as entry:
                version = np.lib.format.read_magic(entry)
                if version not in ((1, 0), (2, 0)):
                    raise ValueError(f"entry {info.filename!r}: unsupported .npy version "
                                     f"{version}")
                read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                        else np.lib.format.read_array_header_2_0)
                shape, _, dtype = read(entry)
            if dtype.hasobject:
                raise ValueError(f"entry {info.filename!r} holds Python objects (dtype "
                                 f"{dtype}); checkpoints never unpickle")
            if math.prod(shape) * dtype.itemsize > info.file_size:
                raise ValueError(f"entry {info.filename!r} declares shape {shape} of {dtype}, "
                                 f"more than its {info.file_size} bytes")


# ------------------------------------------------------------------------------- the header
def _header(contents: dict[str, np.ndarray], path: str) -> dict[str, Any]:
    """Format, version, keys, class (and its module) and config, each checked."""
    for key in _REQUIRED:
        if key not in contents:
            raise CheckpointError(path, f"not a minivae checkpoint: it has no {key!r} entry")
    fmt = _text(contents, "__format__", path)
    if fmt != FORMAT_NAME:
        raise CheckpointError(path, f"not a minivae checkpoint (format {fmt!r})")
    version = _version(contents["__version__"], path)
    unknown = sorted(key for key in contents if key not in _REQUIRED + _OPTIONAL
                     and not key.startswith((PARAM_PREFIX, OPTIM_PREFIX)))
    if unknown:
        raise CheckpointError(path, f"unknown entries {unknown} (version {version} files "
                                    "hold only the header, param/..., optimizer/... and "
                                    "__history__)")
    try:
        config = json.loads(_text(contents, "__config__", path))
    except json.JSONDecodeError as exc:
        raise CheckpointError(path, f"the stored config is not valid JSON ({exc})") from exc
    if not isinstance(config, dict):
        raise CheckpointError(path, "the stored config is not a JSON object")
    module = (_text(contents, "__model_module__", path) if "__model_module__" in contents
              else None)
    return {"class": _text(contents, "__model_class__", path), "module": module,
            "config": config, "version": version}


def _version(arr: np.ndarray, path: str) -> int:
    """An integer from 1 to FORMAT_VERSION."""
    if arr.ndim != 0 or arr.dtype.kind not in "iu":
        raise CheckpointError(path, f"__version__ should be an integer, got {arr.dtype} "
                                    f"{arr.shape} ({_show(arr)})")
    version = int(arr)
    if version > FORMAT_VERSION:
        raise CheckpointError(path, f"format version {version}; this minivae reads up to "
                                    f"version {FORMAT_VERSION} (upgrade minivae)")
    if version < 1:
        raise CheckpointError(path, f"format version {version} is not a valid version "
                                    f"(versions run from 1 to {FORMAT_VERSION})")
    return version


def _text(contents: dict[str, np.ndarray], key: str, path: str) -> str:
    arr = contents[key]
    if arr.ndim != 0 or arr.dtype.kind != "U":
        raise CheckpointError(path, f"{key} should be a string, got {arr.dtype} {arr.shape}")
    return str(arr)


def _show(arr: np.ndarray) -> str:
    text = repr(arr.tolist()) if arr.size <= 5 else f"{arr.size} values"
    return text if len(text) <= 60 else text[:57] + "..."


def _rebuild(header: dict[str, Any], path: str) -> Any:
    """A new model of the stored class and config (weights to be overwritten)."""
    try:
        cls = get_model_class(header["class"], module=header["module"])
    except ValueError as exc:
        raise CheckpointError(path, f"cannot load it: {exc}") from None
    try:
        return cls.from_config(header["config"])
    except (TypeError, ValueError, KeyError) as exc:
        raise CheckpointError(path, f"cannot rebuild {header['class']} from the stored config "
                                    f"{header['config']} ({type(exc).__name__}: {exc})") from exc


def _check_model(model: object) -> None:
    if not all(callable(getattr(model, m, None)) for m in
               ("config", "parameters", "load_state_dict")):
        raise TypeError(f"model must be a minivae Model, got {type(model).__name__}")


def _check_architecture(model: Any, header: dict[str, Any], path: str) -> Any:
    """``model`` itself, if it has the stored class and config; else a CheckpointError naming
    the first difference."""
    _check_model(model)
    if type(model).__name__ != header["class"]:
        raise CheckpointError(path, f"it holds a {header['class']}, cannot load it into a "
                                    f"{type(model).__name__}")
    # A JSON round trip makes both sides comparable (tuples become lists, etc.).
    own, config = json.loads(json.dumps(model.config())), header["config"]
    for key in list(config) + [k for k in own if k not in config]:
        if key not in own or key not in config or own[key] != config[key]:
            raise CheckpointError(
                path, f"architecture mismatch: config key {key!r} is "
                f"{config.get(key, '<missing>')!r} in the checkpoint but "
                f"{own.get(key, '<missing>')!r} in the model")
    return model


def _check_params(model: Any, params: dict[str, np.ndarray], path: str) -> None:
    """Names, shapes, dtypes and finiteness of the stored arrays, against the model's."""
    own = {name: p for name, p, _ in model.parameters()}
    for name, p in own.items():
        if name not in params:
            raise CheckpointError(path, f"it lacks parameter {name!r} of the "
                                        f"{type(model).__name__}")
        stored = params[name]
        if stored.shape != p.shape:
            raise CheckpointError(path, f"architecture mismatch: parameter {name!r} has shape "
                                        f"{stored.shape} in the checkpoint but {p.shape} in "
                                        "the model")
        if stored.dtype != p.dtype:
            raise CheckpointError(path, f"parameter {name!r} is {stored.dtype}, the model is "
                                        f"{p.dtype}")
        if not np.isfinite(stored).all():
            n_bad = int(stored.size - np.count_nonzero(np.isfinite(stored)))
            raise CheckpointError(path, f"parameter {name!r} has {n_bad} non-finite value(s) "
                                        "(NaN or inf)")
    extra = sorted(set(params) - set(own))
    if extra:
        raise CheckpointError(path, f"it has parameters the {type(model).__name__} lacks: "
                                    f"{extra}")


def _optimizer_state(contents: dict[str, np.ndarray], path: str
                     ) -> dict[str, np.ndarray] | None:
    """The ``optimizer/...`` entries (None if there are none): each a string, or a finite
    number or array of numbers."""
    state = {key[len(OPTIM_PREFIX):]: arr for key, arr in contents.items()
             if key.startswith(OPTIM_PREFIX)}
    for key, arr in state.items():
        if arr.dtype.kind == "U" and arr.ndim == 0:
            continue
        if arr.dtype.kind not in "biuf":
            raise CheckpointError(path, f"optimizer entry {key!r} should be a number, an "
                                        f"array of numbers or a string, got {arr.dtype}")
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise CheckpointError(path, f"optimizer entry {key!r} has non-finite values")
    if state and "class" not in state:
        raise CheckpointError(path, "the optimizer state has no 'class' entry")
    return state or None


def _restore_optimizer(optimizer: Any, state: dict[str, np.ndarray] | None, path: str) -> None:
    if state is None:
        raise CheckpointError(path, "it holds no optimizer state to restore")
    try:
        optimizer.load_state_dict(state)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(path, f"its optimizer state does not fit this "
                                    f"{type(optimizer).__name__}: {exc}") from exc


# ------------------------------------------------------------------------------- the history
def _history(contents: dict[str, np.ndarray], path: str) -> History:
    """The stored History, after :meth:`History.from_dict` checked its structure."""
    try:
        return History.from_dict(json.loads(_text(contents, "__history__", path)))
    except (json.JSONDecodeError, ValueError, TypeError) as exc:
        raise CheckpointError(path, f"the stored history is unreadable ({exc})") from exc
