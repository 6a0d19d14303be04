"""The shop's database per backend, and the view's settings pointed at it.

Django itself is configured by ``tests/django_project/fixtures.py`` (on first use only).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def shop_db(request: pytest.FixtureRequest) -> Iterator[str]:
    """The database alias the webhook view (its store and the shop's handlers) uses."""
    alias = request.getfixturevalue(f"django_{request.param}")  # configures Django first
    from django.test import override_settings

    from tests.django_project.shop import payments

    payments.hold.reset()
    payments.fail_once.clear()
    with override_settings(KONBINI_WEBHOOK_DATABASE=alias):
        yield alias
    payments.hold.reset()
    payments.fail_once.clear()
