"""``python -m speechbrain_v2s.synthetic``: the ``v2s-synth-corpus`` command."""

import sys

from speechbrain_v2s.synthetic.corpus import main

# The guard matters: the corpus's spawned workers import this module again.
if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
