"""What an exercise is: the signature you implement, its checker, and the library code that
solves it.

The solution of an exercise is the library's own code wherever the library has the function:
``Exercise.solution`` then *is* that function (named by its import path, looked up when it is
used), and ``Exercise.source`` names the code :func:`~minivae.exercises.show_solution` prints.
For a function marked ``@reference`` (one an accelerated twin may replace) the printed code is
``fn.reference``: the NumPy loop that runs on the ``numpy`` backend.  Where the exercise's
signature differs from the library's (a method of a layer, a loss with a ``reduction``), the
solution is a small adapter and ``note`` says what it calls.
"""

from __future__ import annotations

import importlib
import inspect
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from minivae.exercises.grader import ExerciseResult


def library(path: str) -> Any:
    """The library object named ``"package.module:Qual.name"``, imported now (not earlier, so
    an exercise module imports even while a function it names is being written)."""
    module_name, _, qualname = path.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def source_of(path: str) -> str:
    """``# --- from module: Qual.name`` and the source of the library object ``path`` names
    (of its ``reference`` for a function marked ``@reference``)."""
    obj = library(path)
    code = getattr(obj, "reference", obj)
    module_name, _, qualname = path.partition(":")
    header = f"# --- from {module_name}: {qualname}"
    return header + "\n" + textwrap.dedent(inspect.getsource(code)).rstrip()


@dataclass(frozen=True)
class Exercise:
    """One exercise.

    Attributes:
        name: ``"dense_backward"``; the checker is ``check_<name>``.
        lesson: the notebook it belongs to (``"01_autoencoders"``).
        signature: what you implement, with shapes.
        checker: ``checker(your_fn, *, raise_on_fail=False, seed=0) -> ExerciseResult``.
        solution: the library function with the exercise's signature (an import path
            ``"module:name"``, looked up on use), or an adapter around library code.
        source: import paths of the library code that solves it (what ``show_solution``
            prints), in reading order.
        note: one line on how ``solution`` relates to ``source``.
    """

    name: str
    lesson: str
    signature: str
    checker: Callable[..., ExerciseResult]
    solution: Callable[..., Any] | str
    source: tuple[str, ...]
    note: str

    def solution_function(self) -> Callable[..., Any]:
        """The solution as a function (the library's, looked up now, when given by path)."""
        return library(self.solution) if isinstance(self.solution, str) else self.solution

    def solution_text(self) -> str:
        """The header (exercise, lesson, signature, note) and the library source, for print."""
        head = f"Exercise {self.name} (lesson {self.lesson}): {self.signature}"
        parts = [f"# {line}" for text in (head, self.note) for line in textwrap.wrap(text, 96)]
        parts += [source_of(path) for path in self.source]
        return "\n".join(parts)
