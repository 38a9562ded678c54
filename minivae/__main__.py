"""``python -m minivae`` runs the demo (same as ``python -m minivae.demo``);
``python -m minivae detect ...`` runs the command-line anomaly detector (:mod:`minivae.detect`)."""

import sys

if len(sys.argv) > 1 and sys.argv[1] == "detect":
    from minivae.detect import main

    sys.exit(main(sys.argv[2:]))

from minivae.demo import main  # noqa: E402

sys.exit(main())
