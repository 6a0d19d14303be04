"""Shared settings of the property-based tests (hypothesis).

Deterministic (``derandomize=True``: the same examples on every run, locally and in CI), no
example database, a modest number of examples, no deadline (the machine may be loaded).
Hypothesis' caches (unicode tables, source constants) go to a temporary directory removed
at the end, so a test run leaves no ``.hypothesis`` folder behind: one per run, shared by its
parallel workers (``KONBINI_TEST_HYPOTHESIS_HOME``, made by tests/conftest.py), so that they
read what another already computed (Hypothesis scans the local modules for constants in
a different order in each process for that reason). Text comes from :func:`texts` and emails
from :data:`EMAILS`, which need no per-codec table (see there).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

#: The variable naming the run's directory for Hypothesis' caches (see the docstring).
HOME_VARIABLE = "KONBINI_TEST_HYPOTHESIS_HOME"

_HOME = os.environ.get(HOME_VARIABLE, "")
if not _HOME:  # this module imported outside the suite's run: a folder of its own
    _HOME = tempfile.mkdtemp(prefix="konbini-hypothesis-")
    atexit.register(shutil.rmtree, _HOME, ignore_errors=True)
set_hypothesis_home_dir(_HOME)


#: Every code point UTF-8 encodes (all but the surrogates): what ``st.text()`` draws from by
#: default, given here by Unicode category. ``st.text()``'s default names the codec instead,
#: and Hypothesis then builds a table of the codec by encoding all 1.1 million code points
#: (1.3 CPU-seconds in every test process); the category tables come with Hypothesis.
CHARACTERS = st.characters(exclude_categories=("Cs",))


def texts(**kwargs: Any) -> st.SearchStrategy[str]:
    """``st.text(**kwargs)`` over :data:`CHARACTERS` (the same strings, no codec table)."""
    return st.text(alphabet=CHARACTERS, **kwargs)


#: ``st.emails()`` with these domains (its default domain strategy needs the codec table too):
#: common Japanese and international ones, a punycode one, the longest label, many labels.
EMAILS = st.emails(
    domains=st.sampled_from(
        [
            "example.com",
            "example.co.jp",
            "docomo.ne.jp",
            "ezweb.ne.jp",
            "i.softbank.jp",
            "mail.konbini.shop",
            "xn--wgv71a119e.jp",
            "a.b.c.d.e.example.org",
            "x" * 63 + ".com",
        ]
    )
)

#: The settings every property test uses.
FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
