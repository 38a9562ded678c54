"""``python -m minivae.gradcheck``: see :mod:`minivae.gradcheck.cli`."""

from minivae.gradcheck.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
