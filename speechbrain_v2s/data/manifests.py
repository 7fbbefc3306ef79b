"""Former home of the manifest preparation, now the package
:mod:`speechbrain_v2s.prepare`: every name is re-exported here so that
existing imports keep working. New code imports from
:mod:`speechbrain_v2s.prepare`.
"""

from speechbrain_v2s.prepare import *  # noqa: F403
from speechbrain_v2s.prepare import __all__  # noqa: F401
from speechbrain_v2s.prepare.probing import _probe_task  # noqa: F401  (tests use it)
