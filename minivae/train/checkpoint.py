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
Every way a file can be wrong (unreadable, foreign, newer, another architecture) raises one
ValueError naming the file and what is wrong.

A model is rebuilt from the class name through :mod:`minivae.train.registry`; nothing here
imports a model class (the model is used through its methods: ``config``, ``from_config``,
``parameters``, ``load_state_dict``), so the models may import this module.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from dataclasses import dataclass
from os import PathLike
from typing import Any

import numpy as np

from minivae.train.history import History
from minivae.train.registry import get_model_class

FORMAT_NAME = "minivae-checkpoint"
FORMAT_VERSION = 1
PARAM_PREFIX = "param/"
OPTIM_PREFIX = "optimizer/"
_REQUIRED = ("__format__", "__version__", "__model_class__", "__config__")


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
        arrays[PARAM_PREFIX + pname] = p
    if optimizer is not None:
        arrays.update(_optimizer_arrays(optimizer))
    if history is not None:
        data = history.to_dict() if hasattr(history, "to_dict") else history
        arrays["__history__"] = np.array(json.dumps(data))
    _write_atomically(os.fspath(path), arrays)


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


def _write_atomically(path: str, arrays: dict[str, np.ndarray]) -> None:
    """np.savez into a temporary file next to ``path``, then rename it to ``path``."""
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
        ValueError: corrupt/truncated/foreign file, unsupported version, architecture mismatch,
            class not imported (the message says which module to import); always naming the
            file and the first problem found.
        FileNotFoundError: no file at ``path``.
    """
    path = os.fspath(path)
    contents = _read(path)
    header = _header(contents, path)
    model = _rebuild(header, path) if model is None else _check_architecture(model, header, path)
    params = {key[len(PARAM_PREFIX):]: arr for key, arr in contents.items()
              if key.startswith(PARAM_PREFIX)}
    _check_params(model, params, path)
    model.load_state_dict(params)
    optimizer_state = {key[len(OPTIM_PREFIX):]: arr for key, arr in contents.items()
                       if key.startswith(OPTIM_PREFIX)} or None
    if optimizer is not None:
        _restore_optimizer(optimizer, optimizer_state, path)
    history = _history(contents, path) if "__history__" in contents else None
    return Checkpoint(model=model, optimizer_state=optimizer_state, history=history,
                      model_class=header["class"], config=header["config"],
                      version=header["version"])


def _read(path: str) -> dict[str, np.ndarray]:
    """All arrays of the archive, or a ValueError saying the file is not a readable checkpoint."""
    try:
        data = np.load(path, allow_pickle=False)
        if not hasattr(data, "files"):  # a plain .npy file loads as an array
            raise ValueError("it is a single array, not an .npz archive")
        with data:
            return {key: data[key] for key in data.files}
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, KeyError, AttributeError) as exc:
        raise ValueError(
            f"could not read checkpoint {path!r}: the file is corrupt, truncated or not a "
            f"minivae checkpoint ({type(exc).__name__}: {exc})"
        ) from exc


def _header(contents: dict[str, np.ndarray], path: str) -> dict[str, Any]:
    """Format, version, class (and its module) and config, each checked."""
    for key in _REQUIRED:
        if key not in contents:
            raise ValueError(f"{path!r} is not a minivae checkpoint: it has no {key!r} entry")
    if _text(contents, "__format__", path) != FORMAT_NAME:
        raise ValueError(f"{path!r} is not a minivae checkpoint (format "
                         f"{_text(contents, '__format__', path)!r})")
    version = contents["__version__"]
    if version.ndim != 0 or version.dtype.kind not in "iu":
        raise ValueError(f"checkpoint {path!r}: __version__ should be an integer, got "
                         f"{version.dtype} {version.shape}")
    if int(version) > FORMAT_VERSION:
        raise ValueError(f"checkpoint {path!r} has format version {int(version)}; this minivae "
                         f"reads up to version {FORMAT_VERSION} (upgrade minivae)")
    try:
        config = json.loads(_text(contents, "__config__", path))
    except json.JSONDecodeError as exc:
        raise ValueError(f"checkpoint {path!r}: the stored config is not valid JSON ({exc})") \
            from exc
    if not isinstance(config, dict):
        raise ValueError(f"checkpoint {path!r}: the stored config is not a JSON object")
    module = (_text(contents, "__model_module__", path) if "__model_module__" in contents
              else None)
    return {"class": _text(contents, "__model_class__", path), "module": module,
            "config": config, "version": int(version)}


def _text(contents: dict[str, np.ndarray], key: str, path: str) -> str:
    arr = contents[key]
    if arr.ndim != 0 or arr.dtype.kind != "U":
        raise ValueError(f"checkpoint {path!r}: {key} should be a string, got {arr.dtype} "
                         f"{arr.shape}")
    return str(arr)


def _rebuild(header: dict[str, Any], path: str) -> Any:
    """A new model of the stored class and config (weights to be overwritten)."""
    try:
        cls = get_model_class(header["class"], module=header["module"])
    except ValueError as exc:
        raise ValueError(f"cannot load checkpoint {path!r}: {exc}") from None
    try:
        return cls.from_config(header["config"])
    except (TypeError, ValueError) as exc:
        raise ValueError(f"checkpoint {path!r}: cannot rebuild {header['class']} from the stored "
                         f"config {header['config']} ({exc})") from exc


def _check_model(model: object) -> None:
    if not all(callable(getattr(model, m, None)) for m in
               ("config", "parameters", "load_state_dict")):
        raise TypeError(f"model must be a minivae Model, got {type(model).__name__}")


def _check_architecture(model: Any, header: dict[str, Any], path: str) -> Any:
    """``model`` itself, if it has the stored class and config; else a ValueError naming the
    first difference."""
    _check_model(model)
    if type(model).__name__ != header["class"]:
        raise ValueError(f"checkpoint {path!r} holds a {header['class']}, cannot load it into a "
                         f"{type(model).__name__}")
    # A JSON round trip makes both sides comparable (tuples become lists, etc.).
    own, config = json.loads(json.dumps(model.config())), header["config"]
    for key in list(config) + [k for k in own if k not in config]:
        if key not in own or key not in config or own[key] != config[key]:
            raise ValueError(
                f"architecture mismatch with checkpoint {path!r}: config key {key!r} is "
                f"{config.get(key, '<missing>')!r} in the checkpoint but "
                f"{own.get(key, '<missing>')!r} in the model"
            )
    return model


def _check_params(model: Any, params: dict[str, np.ndarray], path: str) -> None:
    """Names, shapes and dtypes of the stored arrays must match the model's parameters."""
    own = {name: p for name, p, _ in model.parameters()}
    for name, p in own.items():
        if name not in params:
            raise ValueError(f"checkpoint {path!r} lacks parameter {name!r} of the "
                             f"{type(model).__name__}")
        if params[name].shape != p.shape:
            raise ValueError(f"architecture mismatch with checkpoint {path!r}: parameter {name!r} "
                             f"has shape {params[name].shape} in the checkpoint but {p.shape} in "
                             "the model")
        if params[name].dtype != p.dtype:
            raise ValueError(f"checkpoint {path!r}: parameter {name!r} is {params[name].dtype}, "
                             f"the model is {p.dtype}")
    extra = sorted(set(params) - set(own))
    if extra:
        raise ValueError(f"checkpoint {path!r} has parameters the {type(model).__name__} lacks: "
                         f"{extra}")


def _restore_optimizer(optimizer: Any, state: dict[str, np.ndarray] | None, path: str) -> None:
    if state is None:
        raise ValueError(f"checkpoint {path!r} holds no optimizer state to restore")
    try:
        optimizer.load_state_dict(state)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"checkpoint {path!r}: its optimizer state does not fit this "
                         f"{type(optimizer).__name__}: {exc}") from exc


def _history(contents: dict[str, np.ndarray], path: str) -> History:
    try:
        return History.from_dict(json.loads(_text(contents, "__history__", path)))
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"checkpoint {path!r}: the stored history is unreadable ({exc})") \
            from exc
