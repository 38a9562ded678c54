"""``python -m minivae`` runs the demo (same as ``python -m minivae.demo``)."""

import sys

from minivae.demo import main

sys.exit(main())
