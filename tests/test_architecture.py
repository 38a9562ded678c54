"""The architecture rules of minivae, checked on the source (read with ``ast``, nothing imported):

(a) no import cycle between modules of ``minivae/``, counting *every* import: module level,
    inside functions and methods, inside ``if TYPE_CHECKING:`` blocks (a lazy import hides a
    cycle, it does not remove it);
(b) the layers and models never mention the accelerator: no ``numba``, ``use_numba`` or
    ``backend`` anywhere in ``minivae/nn`` and ``minivae/models`` (the check of
    ``grep -rniE "numba|use_numba|backend" minivae/nn minivae/models``);
(c) gradient checks are registered only in ``minivae/gradcheck`` (library modules never import
    the checker's registry);
(d) in the lesson-facing packages (nn, objectives, models, train, gradcheck) no function is longer
    than 60 lines, counted from its ``def`` line to its last line, decorators and the docstring
    NOT counted (the docstring is documentation a student reads separately; the rule is about
    the code that fits on a screen).

Every failure lists all offenders, with file and line.
"""

from __future__ import annotations

import ast
import pathlib
import re
from collections.abc import Iterator
from dataclasses import dataclass

import minivae

PACKAGE = pathlib.Path(minivae.__file__).resolve().parent
ROOT = PACKAGE.parent
LESSON_FACING = ("nn", "objectives", "models", "train", "gradcheck")
MAX_FUNCTION_LINES = 60


def module_name(path: pathlib.Path) -> str:
    """minivae/nn/lstm.py -> minivae.nn.lstm; minivae/nn/__init__.py -> minivae.nn."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files(*subpackages: str) -> list[pathlib.Path]:
    roots = [PACKAGE / s for s in subpackages] if subpackages else [PACKAGE]
    return sorted(p for r in roots for p in r.rglob("*.py") if "__pycache__" not in p.parts)


MODULES = {module_name(p): p for p in source_files()}


def read(path: pathlib.Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


# ============================================================================ (a) import graph
@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    where: str  # "minivae/a.py:12: from minivae.b import c"


def _resolve_from(module: str, node: ast.ImportFrom) -> str:
    """The absolute module of ``from <node.module> import ...`` written in ``module``."""
    if not node.level:
        return node.module or ""
    is_package = MODULES[module].name == "__init__.py"
    package = module.split(".") if is_package else module.split(".")[:-1]
    base = package[:len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _targets(module: str, node: ast.AST) -> Iterator[str]:
    """The minivae modules an import node loads, without the implicit parent packages:
    ``from minivae.x import y`` is ``minivae.x.y`` when y is a submodule, else ``minivae.x``."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
        base = _resolve_from(module, node)
        for alias in node.names:
            sub = f"{base}.{alias.name}"
            yield sub if sub in MODULES else base


def import_edges() -> list[Edge]:
    edges = []
    for module, path in MODULES.items():
        lines = path.read_text(encoding="utf-8").splitlines()
        for node in ast.walk(read(path)):  # every scope: functions, methods, TYPE_CHECKING
            for target in _targets(module, node):
                if target in MODULES and target != module:
                    text = lines[node.lineno - 1].strip()
                    edges.append(Edge(module, target, f"{path.relative_to(ROOT)}:{node.lineno}: "
                                                      f"{text}"))
    return edges


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm (iterative): the components with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def shortest_cycle(graph: dict[str, set[str]], start: str, within: set[str]) -> list[str]:
    """A shortest cycle through ``start`` inside one strongly connected component."""
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        nxt = []
        for node in frontier:
            for child in sorted(graph[node] & within):
                if child == start:
                    return paths[node] + [start]
                if child not in paths:
                    paths[child] = paths[node] + [child]
                    nxt.append(child)
        frontier = nxt
    return [start]


def describe_cycles(edges: list[Edge]) -> list[str]:
    """Every import cycle: per strongly connected component, a shortest cycle through each of
    its modules (rotations removed), each edge with the import line that makes it."""
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    where: dict[tuple[str, str], str] = {}
    for e in edges:
        graph[e.source].add(e.target)
        where.setdefault((e.source, e.target), e.where)
    report = []
    for component in strongly_connected(graph):
        report.append(f"component of {len(component)} modules: {', '.join(component)}")
        seen = set()
        for member in component:
            cycle = shortest_cycle(graph, member, set(component))[:-1]
            k = cycle.index(min(cycle))
            key = tuple(cycle[k:] + cycle[:k])
            if key in seen:
                continue
            seen.add(key)
            path = list(key) + [key[0]]
            report.append(f"  {' -> '.join(path)}")
            report += [f"      {where[a, b]}" for a, b in zip(path, path[1:])]
    return report


def test_the_import_walker_sees_function_level_and_relative_imports(tmp_path):
    code = ("import numpy\nfrom typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
            "    from minivae.nn import dense\n"
            "def f():\n    from minivae.objectives.losses import mse\n    from . import layer\n")
    node = ast.parse(code)
    found = {t for n in ast.walk(node) for t in _targets("minivae.nn.lstm", n)}
    assert {"minivae.nn.dense", "minivae.objectives.losses", "minivae.nn.layer"} <= found
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert strongly_connected(graph) == [["a", "b", "c"]]
    assert shortest_cycle(graph, "a", {"a", "b", "c"}) == ["a", "b", "c", "a"]


def test_no_import_cycles_counting_function_level_imports():
    edges = import_edges()
    assert len(edges) > 100  # the walker sees the library's imports
    cycles = describe_cycles(edges)
    assert not cycles, "import cycles inside minivae/ (function-level imports count):\n" + (
        "\n".join(cycles))


# ================================================================== (b) no backend in nn/models
def test_layers_and_models_never_mention_the_accelerator():
    pattern = re.compile(r"numba|use_numba|backend", re.IGNORECASE)
    hits = []
    for sub in ("nn", "models"):
        for path in sorted((PACKAGE / sub).rglob("*")):
            if path.is_dir() or "__pycache__" in path.parts:
                continue
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if pattern.search(line):
                    hits.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not hits, ("minivae/nn and minivae/models must not mention numba or a backend "
                      "(the choice lives in minivae/fast/backend.py):\n" + "\n".join(hits))


# ====================================================== (c) registrations only in gradcheck/
REGISTRY_NAMES = {"register_check", "unregister_check", "REGISTRY", "_register_gradchecks"}


def registry_uses(path: pathlib.Path) -> list[str]:
    """Lines of ``path`` that import or use the gradient-check registry."""
    uses = []
    for node in ast.walk(read(path)):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = {a.name.split(".")[-1] for a in node.names}
            modules = set(_targets(module_name(path), node))
            if names & REGISTRY_NAMES or modules & {"minivae.gradcheck.registry",
                                                    "minivae.gradcheck.checks"}:
                uses.append(f"{path.relative_to(ROOT)}:{node.lineno}: import of the registry")
        elif isinstance(node, (ast.Name, ast.Attribute)):
            name = node.id if isinstance(node, ast.Name) else node.attr
            if name in REGISTRY_NAMES:
                uses.append(f"{path.relative_to(ROOT)}:{node.lineno}: uses {name}")
    return uses


def test_gradient_checks_are_registered_only_in_gradcheck():
    outside = [p for p in source_files() if "gradcheck" not in p.relative_to(PACKAGE).parts]
    uses = [u for p in outside for u in registry_uses(p)]
    assert not uses, ("gradient checks are registered in minivae/gradcheck/checks/, never in "
                      "the modules they check:\n" + "\n".join(uses))
    inside = registry_uses(PACKAGE / "gradcheck" / "checks" / "layers.py")
    assert inside  # the rule can see a registration


# ============================================================ (d) functions fit on a screen
def _docstring_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    first = node.body[0]
    if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)):
        return first.end_lineno - first.lineno + 1
    return 0


def function_lengths(path: pathlib.Path) -> Iterator[tuple[int, str, int]]:
    """(code lines, qualified name, line) of every function and method, nested ones included:
    def line to last line, minus the docstring (decorators are above the def line)."""
    def visit(node: ast.AST, prefix: str) -> Iterator[tuple[int, str, int]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = f"{prefix}{child.name}"
                lines = child.end_lineno - child.lineno + 1 - _docstring_lines(child)
                yield lines, name, child.lineno
                yield from visit(child, f"{name}.")
            elif isinstance(child, ast.ClassDef):
                yield from visit(child, f"{prefix}{child.name}.")
            else:
                yield from visit(child, prefix)

    yield from visit(read(path), "")


def test_function_length_counter():
    code = "def f(x):\n    '''Doc\n    string.'''\n    y = x\n    return y\n"
    fn = ast.parse(code).body[0]
    assert fn.end_lineno - fn.lineno + 1 - _docstring_lines(fn) == 3


def test_functions_in_lesson_facing_code_fit_on_a_screen():
    offenders = sorted(
        ((n, f"{path.relative_to(ROOT)}:{line}: {name}") for path in source_files(*LESSON_FACING)
         for n, name, line in function_lengths(path) if n > MAX_FUNCTION_LINES), reverse=True)
    assert not offenders, (
        f"functions longer than {MAX_FUNCTION_LINES} lines (def to end, docstring not counted) "
        f"in {', '.join(LESSON_FACING)}:\n" + "\n".join(f"  {n:4d}  {w}" for n, w in offenders))
