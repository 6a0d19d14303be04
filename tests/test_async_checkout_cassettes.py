"""The Checkout Session cassette tests again, on ``AsyncKonbiniClient(...).checkout`` (httpx).

See ``tests/async_twins.py``. Only the Checkout Session tests of
``tests/test_checkout_cassettes.py`` are twinned here; its card, invoice and polling tests
have their twins in ``tests/test_async_service_cassettes.py``.
"""

from __future__ import annotations

from tests import test_checkout_cassettes as sync_tests
from tests.async_twins import install_twins, runner

CASSETTE_FOLDER = "checkout"
__all__ = ["runner"]

SESSION_TESTS = {
    "test_hosted_session_paid_at_the_konbini",
    "test_embedded_session_paid_by_card",
    "test_expired_session_then_a_new_attempt",
    "test_session_create_rate_limited_is_retried",
}
TWINNED = install_twins(globals(), sync_tests, "_client", only=SESSION_TESTS.__contains__)


def test_every_checkout_session_test_has_an_async_twin() -> None:
    assert set(TWINNED) == SESSION_TESTS
