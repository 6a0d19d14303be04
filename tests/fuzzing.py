"""Shared settings of the property-based tests (hypothesis).

Deterministic (``derandomize=True``: the same examples on every run, locally and in CI), no
example database, a modest number of examples, no deadline (the machine may be loaded).
Hypothesis' caches (unicode tables, source constants) go to a temporary directory removed
at the end, so a test run leaves no ``.hypothesis`` folder behind: one per run, shared by its
parallel workers (``KONBINI_TEST_HYPOTHESIS_HOME``, made by tests/conftest.py), so that they
read what another already computed (Hypothesis scans the local modules for constants in
a different order in each process for that reason). One table is written there
at once (:func:`_seed_utf8_table`): Hypothesis would build it in every test process by
encoding all 1.1 million code points one by one (1.3 CPU-seconds), for a result known in
advance.
"""

from __future__ import annotations

import atexit
import gzip
import json
import os
import shutil
import sys
import tempfile

from hypothesis import HealthCheck, settings
from hypothesis.configuration import set_hypothesis_home_dir

#: The variable naming the run's directory for Hypothesis' caches (see the docstring).
HOME_VARIABLE = "KONBINI_TEST_HYPOTHESIS_HOME"

_HOME = os.environ.get(HOME_VARIABLE, "")
if not _HOME:  # this module imported outside the suite's run: a folder of its own
    _HOME = tempfile.mkdtemp(prefix="konbini-hypothesis-")
    atexit.register(shutil.rmtree, _HOME, ignore_errors=True)
set_hypothesis_home_dir(_HOME)


def _seed_utf8_table() -> None:
    """Write Hypothesis' table of the characters UTF-8 encodes, in its cache's format.

    ``st.text()``'s default alphabet is ``characters(codec="utf-8")``, and ``st.emails()``
    builds its domains on it: Hypothesis reads the table from its cache directory, or builds
    it by trying to encode every code point. UTF-8 encodes every code point but the
    surrogates (U+D800..U+DFFF), and each one decodes back to itself: the table Hypothesis
    would write. Its name carries Hypothesis' format version (``codec-v2``) and the Unicode
    version: should either change, this file is simply not read and Hypothesis builds its own.
    """
    from hypothesis.internal.charmap import charmap_file

    path = charmap_file("codec-v2-utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    encodable = [[0, 0xD7FF], [0xE000, sys.maxunicode]]
    # Written beside, then moved into place: another worker may be reading it.
    partial = path.with_name(f"{path.name}.{os.getpid()}")
    with gzip.GzipFile(partial, "wb", mtime=1) as table:
        table.write(json.dumps([encodable, []]).encode())
    os.replace(partial, path)


_seed_utf8_table()

#: The settings every property test uses.
FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
