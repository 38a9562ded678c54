"""Command-line pieces shared by the experiments (seeds, size mode, run header and record)."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from typing import Any


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
                                  " (set OMP_NUM_THREADS=1 on a shared machine)")


def run_record(mode: str, seeds: tuple[int, ...], setting: Any,
               argv: list[str] | None) -> dict[str, Any]:
    """The first entries of a run's results.json: size mode, seeds, the setting dataclass and
    the command-line arguments."""
    return {"mode": mode, "seeds": list(seeds), "setting": asdict(setting),
            "argv": list(sys.argv[1:] if argv is None else argv)}
