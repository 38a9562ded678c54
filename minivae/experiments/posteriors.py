"""``python -m minivae.experiments posteriors``: the VAE's problems and the posteriors that
answer them (review sections 5 and 6), one part at a time.

Parts (each a module ``minivae.experiments.posteriors_<part>`` with ``run(args) -> dict``):

* ``families``: test ELBO and importance-sampled log-likelihood per posterior family
  (Gaussian, rho, IAF, von Mises-Fisher);
* ``collapse``: posterior collapse under an autoregressive decoder, and delta-VAE / free bits
  bringing the KL back;
* ``disentangle``: MIG of VAE, beta-VAE, beta-TCVAE and the capacity-annealed VAE on a
  factor dataset, latent traversals;
* ``two_stage``: the 2-Stage VAE against the one-stage VAE (distribution match of the codes).

Usage::

    python -m minivae.experiments posteriors [--quick] [--parts families,collapse,...]
        [--seed S | --seeds A B] [--out DIR] [--no-figures] [--data-dir DIR] [--no-verify]

The contract of a part.  ``run(args)`` receives this command's parsed options as an
``argparse.Namespace`` with the attributes ``quick`` and ``tiny`` (bools: the size; ``tiny`` is
the test suite's, hidden), ``seed`` (int) and ``seeds`` (list of ints or None: explicit seeds
override the part's default count from ``seed`` on), ``out`` (a ``Path``: the part's own
folder, ``<--out>/<part>``, already created), ``no_figures`` (bool), ``data_dir`` (str or None:
the MNIST folder, default ``$MINIVAE_DATA_DIR``) and ``no_verify`` (bool: skip MD5 checks).
It returns a dict with at least ``"tables"`` (table name -> markdown text) and ``"figures"``
(list of paths written); anything else it returns is stored as is.  This command prints each
part's tables, writes ``<--out>/<part>/results.json`` per part and ``<--out>/tables.md``
with every table, and ``<--out>/results.json`` with the seconds of each part.

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
from pathlib import Path
from typing import Any

from minivae.experiments._cli import blas_threads_note, say

__all__ = ["PARTS", "available_parts", "main", "parse_parts", "run_part"]

#: part name -> module (imported only when the part runs)
PARTS: dict[str, str] = {
    "families": "minivae.experiments.posteriors_families",
    "collapse": "minivae.experiments.posteriors_collapse",
    "disentangle": "minivae.experiments.posteriors_disentangle",
    "two_stage": "minivae.experiments.posteriors_two_stage",
}


def available_parts() -> list[str]:
    """The parts whose module exists in this installation, in :data:`PARTS` order."""
    return [name for name, mod in PARTS.items() if importlib.util.find_spec(mod) is not None]


def parse_parts(text: str | None) -> list[str]:
    """``"families,two_stage"`` -> ["families", "two_stage"] (None: every available part).
    Unknown names raise a ValueError naming them and the choices."""
    if text is None:
        return available_parts()
    names = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [n for n in names if n not in PARTS]
    if not names or unknown:
        raise ValueError(f"--parts must be a comma-separated list of {list(PARTS)}, got "
                         f"{text!r}" + (f" (unknown: {unknown})" if unknown else ""))
    missing = [n for n in names if n not in available_parts()]
    if missing:
        raise ValueError(f"--parts names {missing}, which this version does not have "
                         f"(available: {available_parts()})")
    return list(dict.fromkeys(names))


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m minivae.experiments posteriors",
        description="Richer posteriors, posterior collapse, disentanglement and the 2-Stage "
                    "VAE (each part prints its tables and draws its figures).")
    p.add_argument("--quick", action="store_true", help="small sizes (about a minute a part)")
    p.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)  # test suite only
    p.add_argument("--parts", default=None,
                   help=f"comma-separated subset of {','.join(PARTS)} (default: all)")
    p.add_argument("--seed", type=int, default=0, help="first seed (seeds S, S+1, ...)")
    p.add_argument("--seeds", type=int, nargs="+", default=None,
                   help="explicit seeds (overrides --seed and each part's default count)")
    p.add_argument("--out", type=Path, default=Path("minivae_output") / "posteriors",
                   help="folder for the tables, figures and results.json")
    p.add_argument("--no-figures", action="store_true", help="print the tables, draw nothing")
    p.add_argument("--data-dir", default=None,
                   help="directory of the MNIST IDX files (default $MINIVAE_DATA_DIR)")
    p.add_argument("--no-verify", action="store_true", help="skip the MD5/size checks")
    return p


def run_part(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Run one part with ``args`` (its ``out`` set to the part's folder); returns its record
    with "seconds" added when the part did not report them.  A record without "tables" and
    "figures" is an error naming the part."""
    module = importlib.import_module(PARTS[name])
    part_args = argparse.Namespace(**{**vars(args), "out": Path(args.out) / name})
    part_args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    record = module.run(part_args)
    if not isinstance(record, dict) or not {"tables", "figures"} <= set(record):
        raise TypeError(f"part {name!r}: run(args) must return a dict with 'tables' and "
                        f"'figures', got {type(record).__name__}"
                        + (f" with keys {sorted(record)}" if isinstance(record, dict) else ""))
    record.setdefault("seconds", time.perf_counter() - t0)
    return record


def _write(path: Path, record: dict[str, Any]) -> None:
    path.write_text(json.dumps(record, indent=1, default=_json_default))


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


def main(argv: list[str] | None = None) -> int:
    """Run the chosen parts in turn; returns 0 (2 for bad options)."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        parts = parse_parts(args.parts)
    except ValueError as exc:
        parser.error(str(exc))
    if args.seed < 0 or (args.seeds is not None and min(args.seeds) < 0):
        parser.error("seeds must be non-negative integers")
    skipped = [n for n in PARTS if n not in parts and args.parts is None]
    args.out.mkdir(parents=True, exist_ok=True)
    say(f"posteriors: parts {parts}" + (f" (not in this version: {skipped})" if skipped
                                        else "") + f"; {blas_threads_note()}")
    t_start = time.perf_counter()
    summary: dict[str, Any] = {"argv": list(sys.argv[1:] if argv is None else argv),
                               "parts": {}}
    tables_md = []
    for name in parts:
        say(f"\n=== {name} ===")
        record = run_part(name, args)
        _write(args.out / name / "results.json", record)
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
    _write(args.out / "results.json", summary)
    say(f"\nwrote {args.out / 'tables.md'} and {args.out / 'results.json'}; total "
        f"{summary['seconds']:.0f} s")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
