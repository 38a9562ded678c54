"""The table of model classes by name, which checkpoints use to rebuild a model.

A checkpoint stores the model's class name (and the module that defines it); loading looks the
name up here.  A model class joins the table with the :func:`register_model` decorator, which
runs when its module is imported::

    @register_model
    class LSTMVAE(Model): ...

(``register_model``, ``get_model_class`` and ``MODEL_REGISTRY`` are also importable from
:mod:`minivae.models`.)

Why the table lives in ``train/`` next to the checkpoint code and imports nothing from minivae:
:mod:`minivae.models.base` imports it (to register classes) and :mod:`minivae.train.checkpoint`
imports it (to find them).  Had it lived inside the ``minivae.models`` package, importing it
would first run ``minivae/models/__init__.py``, which imports every model, whose base class
imports the checkpoint code: a cycle.  Here the imports run one way, models -> train.
"""

from __future__ import annotations

from typing import Any

#: class name -> class, for every class decorated with :func:`register_model`
MODEL_REGISTRY: dict[str, type] = {}

# What a registered class must provide for a checkpoint round trip (checked by duck typing, so
# this module need not import the Model base class).
_CHECKPOINT_METHODS = ("config", "from_config", "parameters", "load_state_dict")


def register_model(cls: type[Any]) -> type[Any]:
    """Class decorator: make ``cls`` loadable from checkpoints by its class name.

    Raises:
        TypeError: ``cls`` is not a class with ``config``, ``from_config``, ``parameters`` and
            ``load_state_dict`` (what every :class:`~minivae.models.base.Model` has).
        ValueError: another class of the same name is already registered (checkpoints identify
            classes by name, so names must be unique).
    """
    missing = [m for m in _CHECKPOINT_METHODS if not hasattr(cls, m)]
    if not isinstance(cls, type) or missing:
        raise TypeError(f"register_model expects a Model subclass, got {cls!r}"
                        + (f" (it lacks {missing})" if isinstance(cls, type) else ""))
    name = cls.__name__
    existing = MODEL_REGISTRY.get(name)
    # Re-running a module (importlib.reload, a notebook cell) re-registers "the same" class.
    same = existing is not None and (existing.__module__, existing.__qualname__) == (
        cls.__module__, cls.__qualname__)
    if existing is not None and not same:
        raise ValueError(
            f"a model class named {name!r} is already registered (from {existing.__module__}); "
            "checkpoints identify classes by name, so names must be unique"
        )
    MODEL_REGISTRY[name] = cls
    return cls


def get_model_class(name: str, module: str | None = None) -> type[Any]:
    """The registered model class called ``name``.

    A class is registered when the module defining it is imported: ``import minivae.models``
    registers every built-in model, ``import minivae.apps.separation`` the separation VAEs.
    Nothing is imported here on a miss (a checkpoint file must not decide which code runs).

    Args:
        name: the class name, as a checkpoint stores it.
        module: the module that defined the class, when known (checkpoints store it): the error
            then says exactly what to import.

    Raises:
        ValueError: no class of that name is registered, saying which module to import.
    """
    cls = MODEL_REGISTRY.get(name)
    if cls is not None:
        return cls
    where = (f"import {module} (the module that defines it)" if module else
             "import the module that defines it (import minivae.models for the built-in models)")
    raise ValueError(
        f"unknown model class {name!r}: no class of that name is registered in this process; "
        f"{where} before loading. Registered classes: {sorted(MODEL_REGISTRY)}. A new model "
        "class must be decorated with @register_model."
    )
