"""Dispatch ``python -m minivae.experiments NAME [options]`` to the experiment's ``main``."""

from __future__ import annotations

import importlib
import sys

from minivae.experiments import EXPERIMENTS


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: python -m minivae.experiments NAME [options]   (NAME --help for options)")
        print("experiments: " + ", ".join(sorted(EXPERIMENTS)))
        return 0 if argv else 2
    name = argv[0]
    if name not in EXPERIMENTS:
        print(f"unknown experiment {name!r}; choose one of {sorted(EXPERIMENTS)}", file=sys.stderr)
        return 2
    try:
        module = importlib.import_module(EXPERIMENTS[name])
    except ModuleNotFoundError as exc:
        if exc.name == EXPERIMENTS[name]:
            print(f"experiment {name!r} is not available in this version", file=sys.stderr)
            return 2
        raise
    return int(module.main(argv[1:]) or 0)


if __name__ == "__main__":
    sys.exit(main())
