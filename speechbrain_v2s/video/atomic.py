"""Former home of the temporary files of atomic writers, now
:mod:`speechbrain_v2s.atomic` (every writer of the package, not only video's):
its names are re-exported here so that existing imports keep working. New code
imports from :mod:`speechbrain_v2s.atomic`.
"""

from speechbrain_v2s.atomic import (  # noqa: F401
    FOREIGN_TEMP_AGE_S,
    _dead_pid,
    remove_stale_temps,
    temp_path,
)
