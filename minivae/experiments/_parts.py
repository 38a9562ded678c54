"""Commands made of parts: ``python -m minivae.experiments posteriors`` and ``... latent`` run
several experiments ("parts") one after the other with one set of options.

A command is a :class:`PartsCommand`: its name, its parts (part name -> module, imported only
when the part runs) and its help texts.  ``PartsCommand.main(argv)`` parses::

    python -m minivae.experiments NAME [--quick] [--parts a,b,...] [--seed S | --seeds A B]
        [--out DIR] [--no-figures] [--data-dir DIR] [--no-verify]

The contract of a part.  Its module has ``run(args) -> dict``.  ``args`` is the command's parsed
options as an ``argparse.Namespace`` with the attributes ``quick`` and ``tiny`` (bools: the
size; ``tiny`` is the test suite's, hidden), ``seed`` (int) and ``seeds`` (list of ints or None:
explicit seeds override the part's default count from ``seed`` on), ``out`` (a ``Path``: the
part's own folder, ``<--out>/<part>``, already created), ``no_figures`` (bool), ``data_dir``
(str or None: the MNIST folder, default ``$MINIVAE_DATA_DIR``) and ``no_verify`` (bool: skip MD5
checks).  It returns a dict with at least ``"tables"`` (table name -> markdown text) and
``"figures"`` (list of paths written); anything else it returns is stored as is.  A part prints
its progress but not its tables: the command prints each table once, after the part, writes
``<--out>/<part>/results.json`` per part, ``<--out>/tables.md`` with every table, and
``<--out>/results.json`` with the seconds of each part.

A part whose module is not in this version is reported as missing and skipped when the parts
were not named explicitly; naming it in ``--parts`` is an error.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from minivae.experiments._cli import _json_default, blas_threads_note, say

__all__ = ["PartsCommand", "part_mode", "part_parser", "part_seeds", "report_part",
           "write_json"]


def part_mode(args: argparse.Namespace) -> str:
    """``"tiny"``, ``"quick"`` or ``"full"`` from a part's ``args`` (missing flags: False)."""
    return "tiny" if getattr(args, "tiny", False) else \
        "quick" if getattr(args, "quick", False) else "full"


def part_seeds(args: argparse.Namespace, n_seeds: int) -> tuple[int, ...]:
    """The seeds of a part: ``args.seeds`` when given, else ``n_seeds`` from ``args.seed`` on
    (missing: 0)."""
    seeds = getattr(args, "seeds", None)
    if seeds:
        return tuple(int(v) for v in seeds)
    first = int(getattr(args, "seed", 0))
    return tuple(range(first, first + n_seeds))


def part_parser(module: str, description: str, quick_help: str) -> argparse.ArgumentParser:
    """The parser of a part run alone (``python -m minivae.experiments.<module>``) with the
    size and seed options of the contract: ``--quick``, ``--tiny`` (hidden), ``--seed``,
    ``--seeds``; the part adds its own, then ``--data-dir`` / ``--no-verify`` / ``--out``."""
    p = argparse.ArgumentParser(prog=f"python -m minivae.experiments.{module}",
                                description=description)
    p.add_argument("--quick", action="store_true", help=quick_help)
    p.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--seed", type=int, default=0, help="first seed (seeds S, S+1)")
    p.add_argument("--seeds", type=int, nargs="+", default=None, help="explicit seeds")
    return p


def report_part(record: dict[str, Any], out: Path | None) -> dict[str, Any]:
    """What a part run alone does with its ``record``: print its tables and seconds, write it
    to ``out / "results.json"`` (:func:`write_json`; None: nothing written); returns it."""
    for table in record["tables"].values():
        say(table)
    say(f"{record['seconds']:.1f} s")
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "results.json", record)
    return record


@dataclass(frozen=True)
class PartsCommand:
    """A command of parts: ``name`` (as typed after ``python -m minivae.experiments``),
    ``parts`` (part name -> module with ``run(args) -> dict``; the dict object is read at each
    call, so entries added later count), ``description`` and ``quick_help`` (the parser's
    texts)."""

    name: str
    parts: dict[str, str]
    description: str
    quick_help: str

    def available_parts(self) -> list[str]:
        """The parts whose module exists in this installation, in ``parts`` order."""
        return [n for n, mod in self.parts.items() if importlib.util.find_spec(mod) is not None]

    def parse_parts(self, text: str | None) -> list[str]:
        """``"a,b"`` -> ["a", "b"] (None: every available part; repeats dropped).  Unknown or
        unavailable names raise a ValueError naming them and the choices."""
        if text is None:
            return self.available_parts()
        names = [t.strip() for t in text.split(",") if t.strip()]
        unknown = [n for n in names if n not in self.parts]
        if not names or unknown:
            raise ValueError(f"--parts must be a comma-separated list of {list(self.parts)}, "
                             f"got {text!r}" + (f" (unknown: {unknown})" if unknown else ""))
        missing = [n for n in names if n not in self.available_parts()]
        if missing:
            raise ValueError(f"--parts names {missing}, which this version does not have "
                             f"(available: {self.available_parts()})")
        return list(dict.fromkeys(names))

    def parser(self) -> argparse.ArgumentParser:
        """The command's options (see the module docstring)."""
        p = argparse.ArgumentParser(prog=f"python -m minivae.experiments {self.name}",
                                    description=self.description)
        p.add_argument("--quick", action="store_true", help=self.quick_help)
        p.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)  # tests only
        p.add_argument("--parts", default=None,
                       help=f"comma-separated subset of {','.join(self.parts)} (default: all)")
        p.add_argument("--seed", type=int, default=0, help="first seed (seeds S, S+1, ...)")
        p.add_argument("--seeds", type=int, nargs="+", default=None,
                       help="explicit seeds (overrides --seed and each part's default count)")
        p.add_argument("--out", type=Path, default=Path("minivae_output") / self.name,
                       help="folder for the tables, figures and results.json")
        p.add_argument("--no-figures", action="store_true", help="print the tables, draw nothing")
        p.add_argument("--data-dir", default=None,
                       help="directory of the MNIST IDX files (default $MINIVAE_DATA_DIR)")
        p.add_argument("--no-verify", action="store_true", help="skip the MD5/size checks")
        return p

    def run_part(self, name: str, args: argparse.Namespace) -> dict[str, Any]:
        """Run one part with ``args`` (its ``out`` set to the part's folder); returns its
        record with "seconds" added when the part did not report them.  A record without
        "tables" and "figures" is a TypeError naming the part."""
        module = importlib.import_module(self.parts[name])
        part_args = argparse.Namespace(**{**vars(args), "out": Path(args.out) / name})
        part_args.out.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        record = module.run(part_args)
        if not isinstance(record, dict) or not {"tables", "figures"} <= set(record):
            raise TypeError(f"part {name!r}: run(args) must return a dict with 'tables' and "
                            f"'figures', got {type(record).__name__}"
                            + (f" with keys {sorted(record)}" if isinstance(record, dict)
                               else ""))
        record.setdefault("seconds", time.perf_counter() - t0)
        return record

    def main(self, argv: list[str] | None = None) -> int:
        """Run the chosen parts in turn, printing each part's tables once; returns 0 (bad
        options end the program with the usage message, exit status 2)."""
        parser = self.parser()
        args = parser.parse_args(argv)
        try:
            parts = self.parse_parts(args.parts)
        except ValueError as exc:
            parser.error(str(exc))
        if args.seed < 0 or (args.seeds is not None and min(args.seeds) < 0):
            parser.error("seeds must be non-negative integers")
        skipped = [n for n in self.parts if n not in self.available_parts()]
        args.out.mkdir(parents=True, exist_ok=True)
        say(f"{self.name}: parts {parts}" + (f" (not in this version: {skipped})"
                                             if skipped and args.parts is None else "")
            + f"; {blas_threads_note()}")
        t_start = time.perf_counter()
        summary: dict[str, Any] = {"argv": list(sys.argv[1:] if argv is None else argv),
                                   "parts": {}}
        tables_md = []
        for name in parts:
            say(f"\n=== {name} ===")
            record = self.run_part(name, args)
            write_json(args.out / name / "results.json", record)
            for table_name, text in record["tables"].items():
                say(f"\n{table_name}\n{text}")
                tables_md.append(f"## {name}: {table_name}\n\n{text}\n")
            for path in record["figures"]:
                say(f"wrote {path}")
            summary["parts"][name] = {"seconds": record["seconds"],
                                      "tables": list(record["tables"]),
                                      "figures": list(record["figures"])}
        summary["seconds"] = time.perf_counter() - t_start
        (args.out / "tables.md").write_text("\n".join(tables_md))
        write_json(args.out / "results.json", summary)
        say(f"\nwrote {args.out / 'tables.md'} and {args.out / 'results.json'}; total "
            f"{summary['seconds']:.0f} s")
        return 0


def write_json(path: Path, record: dict[str, Any]) -> None:
    """``record`` as JSON at ``path`` (NumPy scalars and arrays as numbers and lists; keys
    starting with ``_``, kept for figures, left out at the top level)."""
    public = {k: v for k, v in record.items() if not str(k).startswith("_")}
    path.write_text(json.dumps(public, indent=1, default=_json_default))

