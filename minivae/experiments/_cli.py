"""Command-line pieces shared by the experiments: the common options, seeds, size mode, the run
header, the record and its results.json."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np


def resolve_seeds(parser: argparse.ArgumentParser, args: argparse.Namespace,
                  n_seeds: int) -> tuple[int, ...]:
    """The seeds of a run: ``--seeds A B C`` as given, else ``n_seeds`` from ``--seed S`` on
    (S, S+1, ...).  Bad values end the program with the parser's usage message."""
    if args.seeds is not None:
        if min(args.seeds) < 0 or len(set(args.seeds)) != len(args.seeds):
            parser.error(f"--seeds must be distinct non-negative integers, got {args.seeds}")
        return tuple(args.seeds)
    if args.seed < 0:
        parser.error(f"--seed must be >= 0, got {args.seed}")
    return tuple(range(args.seed, args.seed + n_seeds))


def size_mode(args: argparse.Namespace) -> str:
    """``"tiny"``, ``"quick"`` or ``"full"`` from the ``--tiny`` / ``--quick`` flags."""
    return "tiny" if args.tiny else "quick" if args.quick else "full"


def blas_threads_note() -> str:
    """How many threads NumPy's BLAS uses (asked of the library, see :mod:`minivae.fast.blas`), for
    the header line of a run, with a hint when several threads share a possibly busy machine."""
    from minivae.fast.blas import blas_num_threads

    n = blas_num_threads()
    if n is None:
        return "BLAS threads: unknown library"
    return f"BLAS threads {n}" + ("" if n == 1 else
                                  " outside fit (set OMP_NUM_THREADS=1 on a shared machine)")


def run_record(mode: str, seeds: tuple[int, ...], setting: Any,
               argv: list[str] | None) -> dict[str, Any]:
    """The first entries of a run's results.json: size mode, seeds, the setting dataclass and
    the command-line arguments."""
    return {"mode": mode, "seeds": list(seeds), "setting": asdict(setting),
            "argv": list(sys.argv[1:] if argv is None else argv)}


def say(text: str = "") -> None:
    """Print a line of a run's report at once (flushed: runs are long and often piped)."""
    print(text, flush=True)


def experiment_parser(name: str, description: str, quick_help: str) -> argparse.ArgumentParser:
    """The parser with the options every sized experiment has: ``--quick``, ``--tiny`` (the
    test suite's size, hidden), ``--seed`` / ``--seeds``, ``--out`` (default
    ``minivae_output/<name>``) and ``--no-figures``; the experiment adds its own."""
    p = argparse.ArgumentParser(prog=f"python -m minivae.experiments {name}",
                                description=description)
    p.add_argument("--quick", action="store_true", help=quick_help)
    p.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)  # test suite only
    p.add_argument("--seed", type=int, default=0, help="first seed (seeds S, S+1, ...)")
    p.add_argument("--seeds", type=int, nargs="+", default=None,
                   help="explicit seeds (overrides --seed and the default count)")
    p.add_argument("--out", type=Path, default=Path("minivae_output") / name,
                   help="folder for figures and results.json")
    p.add_argument("--no-figures", action="store_true", help="print the tables, draw nothing")
    return p


def parse_run(parser: argparse.ArgumentParser, argv: list[str] | None,
              sizes: dict[str, Any]) -> tuple[argparse.Namespace, str, Any, tuple[int, ...]]:
    """Parse ``argv``; returns (args, size mode, the setting ``sizes[mode]``, seeds)."""
    args = parser.parse_args(argv)
    mode = size_mode(args)
    setting = sizes[mode]
    return args, mode, setting, resolve_seeds(parser, args, setting.n_seeds)


def add_mnist_options(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the MNIST options ``--data-dir`` (default ``$MINIVAE_DATA_DIR``) and ``--no-verify``
    (skip the MD5/size checks) to ``parser``; returns it."""
    parser.add_argument("--data-dir", default=None,
                        help="directory of the MNIST IDX files (default $MINIVAE_DATA_DIR)")
    parser.add_argument("--no-verify", action="store_true", help="skip the MD5/size checks")
    return parser


def load_mnist_split(args: argparse.Namespace, split: str, n: int,
                     dtype: Any = np.float32) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n`` images ``(n, 784)`` and labels ``(n,)`` of MNIST ``split`` ("train" or
    "test") from the folder of the parsed :func:`add_mnist_options`; never downloads."""
    from minivae.data.mnist import load_mnist

    return load_mnist(args.data_dir, split=split, limit=n, verify=not args.no_verify,
                      dtype=dtype, download=False)


def run_and_write(parser: argparse.ArgumentParser, argv: list[str] | None,
                  sizes: dict[str, Any],
                  run: Callable[[argparse.Namespace], dict[str, Any]]) -> int:
    """The ``main`` of a command whose ``run(args)`` returns its results with "table" and
    "figures": parse ``argv`` (:func:`parse_run`), run, print the table, write results.json
    (:func:`run_record` first, then the results); returns 0."""
    args, mode, setting, seeds = parse_run(parser, argv, sizes)
    t_start = time.perf_counter()
    results = run(args)
    say("\n" + results["table"])
    figures = results.pop("figures") or None
    write_results({**run_record(mode, seeds, setting, argv), **results}, args.out, t_start,
                  figures)
    return 0


def run_each_seed(run_seed: Callable[[Any, int], dict[str, Any]], setting: Any,
                  seeds: tuple[int, ...]) -> list[dict[str, Any]]:
    """``run_seed(setting, seed)`` for every seed in turn, each followed by its seconds, then an
    empty line; returns the runs in the order of ``seeds``."""
    runs = []
    for seed in seeds:
        t0 = time.perf_counter()
        runs.append(run_seed(setting, seed))
        say(f"  seed {seed}: {time.perf_counter() - t0:.0f} s")
    say()
    return runs


def public(run: dict[str, Any]) -> dict[str, Any]:
    """A run's record without its private entries (keys starting with ``_``: arrays kept for
    the figures), as it goes into results.json."""
    return {k: v for k, v in run.items() if not k.startswith("_")}


def write_results(results: dict[str, Any], out: Path, t_start: float,
                  figures: list[str] | None = None) -> None:
    """Add the total seconds since ``t_start`` and write ``out / "results.json"`` (NumPy
    scalars and arrays as plain numbers and lists).  ``figures``: the paths of the figures the
    run drew, recorded as "figures" and listed (None: nothing drawn, nothing recorded)."""
    if figures is not None:
        results["figures"] = figures
        for path in figures:
            say(f"wrote {path}")
    results["seconds"] = time.perf_counter() - t_start
    (out / "results.json").write_text(json.dumps(results, indent=1, default=_json_default))
    say(f"wrote {out / 'results.json'}; total {results['seconds']:.0f} s")


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)
