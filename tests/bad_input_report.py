"""Run the bad-input suite and print its counts and failures, grouped by target.

    python -m tests.bad_input_report                 # counts + every failure line
    python -m tests.bad_input_report --write-known   # also rewrite tests/bad_input_known.txt

Runs ``pytest tests/test_bad_input.py`` in-process, then reads the JSON summary it writes.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import tempfile

import pytest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write-known", action="store_true",
                        help="rewrite tests/bad_input_known.txt with the targets failing now")
    args = parser.parse_args(argv)
    summary_path = os.path.join(tempfile.mkdtemp(prefix="minivae_bad_input_"), "summary.json")
    os.environ["MINIVAE_BAD_INPUT_SUMMARY"] = summary_path
    here = os.path.dirname(os.path.abspath(__file__))
    pytest.main(["-q", "-p", "no:cacheprovider", "--no-header", "-rN",
                 os.path.join(here, "test_bad_input.py")])
    with open(summary_path) as fh:
        summary = json.load(fh)
    by_target: dict[str, list[str]] = collections.defaultdict(list)
    for line in summary["failures"]:
        by_target[line.split(": ", 2)[1].split("(")[0]].append(line)
    for target in sorted(by_target):
        print(f"\n{target} ({len(by_target[target])})")
        for line in by_target[target]:
            print("  " + line)
    keys = ("cases", "targets", "targets_with_arguments", "clean", "pass", "raw", "unnamed",
            "silent", "unreached_targets", "known_failing_targets")
    print("\n" + ", ".join(f"{k} {summary[k]}" for k in keys))
    if summary["known_now_clean"]:
        print("now clean (remove from bad_input_known.txt): "
              + ", ".join(summary["known_now_clean"]))
    if args.write_known:
        with open(os.path.join(here, "bad_input_known.txt"), "w") as fh:
            fh.write("# Targets of the bad-input suite with failures still to fix (they xfail).\n"
                     "# Regenerate: python -m tests.bad_input_report --write-known\n")
            fh.writelines(f"{t}\n" for t in sorted(by_target))
    return 0


if __name__ == "__main__":
    sys.exit(main())
