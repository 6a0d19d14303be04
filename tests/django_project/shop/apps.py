"""The shop app's configuration: its SQLite databases skip the disk flushes (tests only)."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.backends.signals import connection_created


def _no_disk_flush(sender: Any, connection: Any, **kwargs: Any) -> None:
    """``PRAGMA synchronous=OFF`` on each new SQLite connection of the test shop.

    The tests' databases are thrown away after the run: waiting for each commit to reach the
    disk (an fsync per transaction, ~10 ms here) only slows them down. Locking, transactions
    and isolation are SQLite's as usual: only durability across a power loss is given up.
    """
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA synchronous=OFF")


class ShopConfig(AppConfig):
    """The test shop (``tests.django_project.shop``)."""

    name = "tests.django_project.shop"

    def ready(self) -> None:
        """Connect :func:`_no_disk_flush` (once per process)."""
        connection_created.connect(_no_disk_flush, dispatch_uid="konbini-test-shop-no-flush")
