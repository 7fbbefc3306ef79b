"""``python -m speechbrain_v2s.evaluation``: the ``v2s-evaluate`` command."""

import sys

from speechbrain_v2s.evaluation.cli import main

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
