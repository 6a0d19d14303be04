"""The refund cassette tests again, on ``AsyncKonbiniClient(...).refunds`` (httpx).

See ``tests/async_twins.py``: every test of ``tests/test_refund_cassettes.py`` that talks
to Stripe runs here unchanged against the same cassettes, ``follow`` included (its waits
go through the async client's sleep).
"""

from __future__ import annotations

from tests import test_refund_cassettes as sync_tests
from tests.async_twins import install_twins, runner

CASSETTE_FOLDER = "refund"
__all__ = ["runner"]

TWINNED = install_twins(globals(), sync_tests, "client_for", {"max_attempts": 4})


def test_every_refund_cassette_test_has_an_async_twin() -> None:
    assert len(TWINNED) >= 9
    assert "test_rate_limited_refund_is_retried" in TWINNED
