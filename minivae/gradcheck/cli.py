"""Command line: ``python -m minivae.gradcheck [--seed N] [--only NAME] [--builtin] [--verbose]
[--list]``.

Runs every registered gradient check (:mod:`minivae.gradcheck.checks`: layers, losses and
distributions, the LSTM, every model, plus any you registered yourself), prints a
table, explains every failure, and exits with status 0 only if everything passed (1 if a check
failed, 2 if ``--only`` matched nothing).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from minivae.gradcheck.checks import BUILTIN_CHECKS
from minivae.gradcheck.registry import REGISTRY, run_checks, select
from minivae.gradcheck.result import format_table


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m minivae.gradcheck",
        description=(
            "Finite-difference gradient checks of every minivae layer, loss and distribution "
            "(float64, random small shapes, tolerance 1e-7 on the relative error)."
        ),
    )
    parser.add_argument("--seed", type=int, default=0,
                        help="seed for shapes and values (default 0); same seed, same numbers")
    parser.add_argument("--only", metavar="NAME",
                        help="run only checks whose name contains NAME or matches it as a glob "
                             "(e.g. 'dense', 'loss.*', 'activation.relu')")
    parser.add_argument("--builtin", action="store_true",
                        help="only the quick checks of the core layers, losses and "
                             "distributions (not the LSTM or the models)")
    parser.add_argument("--verbose", "-v", action="store_true",
                        help="print the detailed line of every result, not only of failures")
    parser.add_argument("--list", action="store_true", help="list the check names and exit")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    args = build_parser().parse_args(argv)
    candidates = list(BUILTIN_CHECKS if args.builtin else REGISTRY)
    if args.list:
        print("\n".join(select(args.only, candidates)))
        return 0
    if args.only is not None and not select(args.only, candidates):
        print(f"no gradient check matches {args.only!r}; available: {', '.join(candidates)}",
              file=sys.stderr)
        return 2
    timings: dict[str, float] = {}
    results = run_checks(seed=args.seed, only=args.only, names=candidates, timings=timings)
    print(format_table(results))
    failed = [r for r in results if not r.passed]
    details = results if args.verbose else failed
    if details:
        print()
        print("\n".join(str(r) for r in details))
    if args.verbose:
        total = sum(timings.values())
        print(f"\n{len(timings)} checks in {total:.2f} s (seed {args.seed})")
    if failed:
        print(f"\nFAILED: {len(failed)} of {len(results)} gradients "
              f"(rerun one with --only NAME --seed {args.seed})")
        return 1
    print("\nall gradients match")
    return 0
