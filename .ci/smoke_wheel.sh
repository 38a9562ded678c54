#!/usr/bin/env bash
# Release smoke test: build the wheel and the sdist, check them with twine, install the wheel into
# a fresh virtual environment OUTSIDE the source tree and run there what a user runs first: the
# import, the gradient-check CLI (its list) and the demo's --quick.
#
#   bash .ci/smoke_wheel.sh [PYTHON]      PYTHON: the interpreter that builds (default python3);
#                                         build and twine (the `release` extra) are installed into it
# Leaves dist/ (the wheel and the sdist) in the source tree; everything else goes to a temporary
# folder that is removed at the end.  Prints the seconds each stage took.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${1:-python3}"
SRC="$PWD"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/minivae-smoke.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
t0=$SECONDS
stage() { echo "smoke_wheel: $1 ($((SECONDS - t0)) s so far)"; }

# The release extra of pyproject.toml (tests/test_packaging.py keeps the two lists equal).
"$PY" -m pip install --quiet "build>=1.0" "twine>=5.0"
stage "build and twine installed"
rm -rf dist
"$PY" -m build --outdir dist . >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; exit 1; }
"$PY" -m twine check --strict dist/*
stage "built and checked: $(cd dist && echo *)"

# A fresh environment with only the wheel and its dependencies (pip's cache makes the
# dependencies' second install a copy).  Nothing from the source tree is on the path.
python3 -m venv "$WORK/venv"
"$WORK/venv/bin/python" -m pip install --quiet dist/minivae-*.whl
stage "wheel installed in a fresh venv"

cd "$WORK"
unset PYTHONPATH
export MPLBACKEND=Agg NUMBA_CACHE_DIR="$WORK/numba-cache"
"$WORK/venv/bin/python" - "$SRC" <<'PY'
import os, sys
import minivae
where = os.path.realpath(minivae.__file__)
src = os.path.realpath(sys.argv[1])
assert not where.startswith(src + os.sep), f"minivae imported from the source tree: {where}"
from importlib.resources import files
assert files("minivae").joinpath("py.typed").is_file(), "py.typed is missing from the wheel"
from importlib.metadata import version
assert version("minivae") == minivae.__version__, (version("minivae"), minivae.__version__)
print(f"smoke_wheel: import ok, minivae {minivae.__version__} from {where}")
PY
n_checks=$("$WORK/venv/bin/python" -m minivae.gradcheck --list | wc -l)
[ "$n_checks" -gt 0 ] || { echo "smoke_wheel: the gradient-check list is empty"; exit 1; }
stage "python -m minivae.gradcheck --list: $n_checks lines"
"$WORK/venv/bin/python" -m minivae.demo --quick --out "$WORK/demo" >"$WORK/demo.log" 2>&1 \
  || { cat "$WORK/demo.log"; exit 1; }
ls "$WORK/demo"/*.png >/dev/null
stage "python -m minivae.demo --quick: $(ls "$WORK/demo" | wc -l) files written"
echo "smoke_wheel: passed in $((SECONDS - t0)) s"
