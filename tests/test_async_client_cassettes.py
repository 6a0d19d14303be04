"""The client cassette tests again, on AsyncKonbiniClient: same tapes, httpx instead of requests.

See ``tests/async_twins.py``: every test of ``tests/test_client_cassettes.py`` that talks
to Stripe runs here unchanged; ``all_played`` is checked too, so the async client makes
exactly the requests the sync one made.
"""

from __future__ import annotations

from tests import test_client_cassettes as sync_tests
from tests.async_twins import install_twins, runner

CASSETTE_FOLDER = "client"
__all__ = ["runner"]

TWINNED = install_twins(globals(), sync_tests, "_client")


def test_every_client_cassette_test_has_an_async_twin() -> None:
    assert len(TWINNED) >= 14
    assert "test_pay_order" in TWINNED
    assert "test_temporary_errors_are_retried" in TWINNED
