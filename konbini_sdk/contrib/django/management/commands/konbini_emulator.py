"""``manage.py konbini_emulator``: the offline Stripe emulator, sending webhooks to this project.

Registers the project's webhook URL with the emulator, signed with the first of
``KONBINI_WEBHOOK_SECRETS`` (so the view accepts its deliveries), and serves until Ctrl-C.
The URL is ``--webhook-url``, or the address ``runserver`` serves (``--addrport``, default
``127.0.0.1:8000``) joined with the reversed URL of ``webhook_view``.
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import NoReverseMatch, reverse

from konbini_sdk.contrib.django._config import SECRETS, webhook_secrets
from konbini_sdk.contrib.django.views import webhook_view


class Command(BaseCommand):  # type: ignore[misc]  # django is untyped (no stubs)
    """Run the emulator and register this project's webhook URL with it."""

    help = (
        "Run the offline Stripe test-mode emulator (konbini_sdk.testing) and send its signed "
        "webhook events to this project's webhook_view."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        """Options: the emulator's address, its seed and clock, and the webhook URL."""
        parser.add_argument("--host", default="127.0.0.1", help="loopback address to serve on")
        parser.add_argument(
            "--port", type=int, default=12111, help="port of the emulator's API (0: any free)"
        )
        parser.add_argument("--seed", type=int, help="seed for reproducible ids and codes")
        parser.add_argument("--realtime", action="store_true", help="let real time pass too")
        parser.add_argument(
            "--webhook-url",
            help="where the emulator sends events (default: --addrport + webhook_view's URL)",
        )
        parser.add_argument(
            "--addrport",
            default="127.0.0.1:8000",
            help="the address runserver serves this project on (default 127.0.0.1:8000)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        """Start the emulator, register the endpoint, serve until interrupted."""
        from konbini_sdk.testing import Emulator

        url = options["webhook_url"] or self._default_url(options["addrport"])
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise CommandError(f"--webhook-url: an http(s) URL, not {url!r}")
        try:
            secret = webhook_secrets()[0]
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None
        emulator_options: dict[str, Any] = {"realtime": options["realtime"]}
        if options["seed"] is not None:
            emulator_options["seed"] = options["seed"]
        try:
            emulator = Emulator(host=options["host"], port=options["port"], **emulator_options)
            emulator.start()
        except (OSError, ValueError) as exc:
            raise CommandError(
                f"cannot serve the emulator on {options['host']}:{options['port']}: {exc}"
            ) from None
        try:
            endpoint_url = url
            emulator.add_webhook_endpoint(endpoint_url, secret=secret)
            self.stdout.write(
                f"konbini emulator listening on {emulator.api_base} (offline Stripe test mode)\n"
                f"  webhooks: {endpoint_url} (signed with the first of {SECRETS})\n"
                f"  KonbiniClient('sk_test_x', api_base='{emulator.api_base}')\n"
                "  Ctrl-C to stop"
            )
            self.stdout.flush()
            self.serve()
        except KeyboardInterrupt:
            self.stdout.write("konbini emulator stopped")
        finally:
            emulator.stop()

    def serve(self) -> None:
        """Block until interrupted (Ctrl-C); the emulator serves in its own threads."""
        forever = threading.Event()
        while not forever.wait(3600):
            pass

    @staticmethod
    def _default_url(addrport: str) -> str:
        try:
            path = reverse(webhook_view)
        except NoReverseMatch:
            raise CommandError(
                "webhook_view is not in the URLconf: add "
                "path('webhooks/stripe/', webhook_view) to urls.py, or pass --webhook-url"
            ) from None
        host, sep, port = addrport.rpartition(":")
        if not sep:
            host, port = "127.0.0.1", addrport
        if not port.isdigit():
            raise CommandError(f"--addrport: host:port or port, not {addrport!r}")
        return f"http://{host or '127.0.0.1'}:{port}{path}"
