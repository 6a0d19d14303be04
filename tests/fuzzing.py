"""Shared settings of the property-based tests (hypothesis).

Deterministic (``derandomize=True``: the same examples on every run, locally and in CI), no
example database, a modest number of examples, no deadline (the machine may be loaded).
Hypothesis' caches (unicode tables, source constants) go to a temporary directory removed
at exit, so a test run leaves no ``.hypothesis`` folder behind.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile

from hypothesis import HealthCheck, settings
from hypothesis.configuration import set_hypothesis_home_dir

_HOME = tempfile.mkdtemp(prefix="konbini-hypothesis-")
set_hypothesis_home_dir(_HOME)
atexit.register(shutil.rmtree, _HOME, ignore_errors=True)

#: The settings every property test uses.
FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
