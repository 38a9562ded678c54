"""Command-line pieces shared by the experiments (seeds, size mode)."""

from __future__ import annotations

import argparse


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
