"""The ``konbini`` command: take, follow and refund Konbini payments from a terminal.

Every command talks to one target: ``--api-base URL`` (a running ``konbini emulator``, or
``KONBINI_API_BASE``), else Stripe test mode with ``STRIPE_API_KEY`` (``sk_test_...`` only).
Results go to stdout (``--json`` for machines); progress and errors go to stderr. API keys
never appear in any output; customer emails are masked; the confirmation number is printed
only where it belongs, on the voucher.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any, Final, NoReturn, TextIO, cast

import stripe
import structlog

from konbini_sdk._client import KonbiniClient
from konbini_sdk._exceptions import (
    AuthenticationError,
    ConnectionFailedError,
    KonbiniError,
    KonbiniValidationError,
    OutcomeUnknownError,
    StripeAPIError,
)
from konbini_sdk._instructions import format_yen, render_text
from konbini_sdk._japanese import JST
from konbini_sdk._logging import redact_sensitive
from konbini_sdk._refund_view import SETTLED_STATES, RefundState, RefundView
from konbini_sdk._requests import BillingDetails, PaymentIntentRequest
from konbini_sdk._retry import RetryPolicy
from konbini_sdk._status import PaymentState, PaymentStatus, describe_payment
from konbini_sdk._voucher import Voucher

__all__ = ["EXIT_CODES", "main"]

EXIT_OK: Final = 0
EXIT_API_ERROR: Final = 1
EXIT_USAGE: Final = 2
EXIT_NOT_FOUND: Final = 3
EXIT_UNREACHABLE: Final = 4
EXIT_NOT_SUCCESSFUL: Final = 5
EXIT_TIMEOUT: Final = 6
EXIT_INTERRUPTED: Final = 130

#: Every exit code and its meaning (shown by ``konbini --help``).
EXIT_CODES: Final = {
    EXIT_OK: "success (wait: paid; --follow: refund succeeded; doctor: no problem found)",
    EXIT_API_ERROR: "Stripe (or the emulator) refused the request, or the object is not in a "
    "state for it; doctor: problems found",
    EXIT_USAGE: "usage, validation or configuration error (bad option, live key, no target, "
    "an --api-base that is not Stripe or the emulator)",
    EXIT_NOT_FOUND: "no such PaymentIntent or Refund",
    EXIT_UNREACHABLE: "the API could not be reached (nothing listens, unknown host) or did not "
    "answer (outcome unknown)",
    EXIT_NOT_SUCCESSFUL: "wait/--follow ended without success: payment failed, expired or "
    "canceled; refund failed or canceled",
    EXIT_TIMEOUT: "wait/--follow gave up (--timeout, or the deadline passed with no outcome)",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C)",
}

#: The key sent to an emulator when ``STRIPE_API_KEY`` is not set (it accepts any test key).
EMULATOR_KEY: Final = "sk_test_konbini_cli"
_LIVE_PREFIXES: Final = ("sk_live_", "rk_live_")
_TEST_PREFIXES: Final = ("sk_test_", "rk_test_")
#: The CLI gives up sooner than the library default: a person is waiting.
CLI_RETRY_POLICY: Final = RetryPolicy(max_attempts=3, max_elapsed_seconds=15.0)
SCENARIOS: Final = {
    "succeed-after-3-minutes": "SUCCEED_AFTER_3_MINUTES",
    "succeed-immediately": "SUCCEED_IMMEDIATELY",
    "expire-immediately": "EXPIRE_IMMEDIATELY",
    "expire-with-delay": "EXPIRE_WITH_DELAY",
    "fill-never": "FILL_NEVER",
}


class CliError(Exception):
    """A failure the CLI reports as one line on stderr with its exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Target:
    """Where requests go."""

    client: KonbiniClient
    api_base: str | None
    emulator: Any = None  # an in-process Emulator (pay --offline), stopped at exit
    #: How to wait between polls on the real clock (``main(sleep=...)`` in tests).
    sleep: Callable[[float], None] = time.sleep
    #: The key in use (``doctor`` sends one request without the ``stripe`` package); never shown.
    api_key: str = field(default="", repr=False)

    def control(self, method: str, path: str, form: dict[str, str] | None = None) -> Any:
        """Call the emulator's ``/_emulator`` control API (only with ``--api-base``)."""
        if self.api_base is None:
            raise CliError("this option needs a konbini emulator (--api-base)", EXIT_USAGE)
        data = urllib.parse.urlencode(form or {}).encode() if method == "POST" else None
        request = urllib.request.Request(  # noqa: S310 (URL given by the user, http(s) only)
            self.api_base.rstrip("/") + "/_emulator/" + path, data=data, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310
                return json.loads(response.read().decode())
        except urllib.error.HTTPError as error:
            if error.code == 404:
                raise CliError(
                    f"{self.api_base} is not a konbini emulator (no /_emulator/{path})", EXIT_USAGE
                ) from error
            raise CliError(
                f"the emulator refused /_emulator/{path}: HTTP {error.code}", 1
            ) from error
        except (urllib.error.URLError, OSError) as error:
            raise CliError(
                f"could not reach {self.api_base} (is `konbini emulator` running?)",
                EXIT_UNREACHABLE,
            ) from error


# ---------------------------------------------------------------------- argument parsing


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def _positive_seconds(text: str) -> float:
    value = _seconds(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be more than 0 (each step moves the clock)")
    return value


def _epilog() -> str:
    lines = ["exit codes:"]
    lines += [f"  {code:<4} {meaning}" for code, meaning in EXIT_CODES.items()]
    lines += [
        "",
        "target: --api-base URL (or KONBINI_API_BASE), e.g. a `konbini emulator`; else",
        "STRIPE_API_KEY=sk_test_... for Stripe test mode. Live keys are refused.",
    ]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """Return the ``konbini`` argument parser."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--api-base",
        metavar="URL",
        default=argparse.SUPPRESS,
        help="API address, e.g. http://127.0.0.1:12111 for `konbini emulator` "
        "(default: $KONBINI_API_BASE, else Stripe with $STRIPE_API_KEY)",
    )
    common.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS,
        help="print the result as JSON on stdout",
    )
    common.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="log SDK activity"
    )
    parser = argparse.ArgumentParser(
        prog="konbini",
        description="Take, follow and refund Konbini (convenience-store cash) payments on Stripe.",
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )
    _version_option(parser)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        return commands.add_parser(
            name,
            help=help_text,
            description=help_text,
            parents=[common],
            epilog=_epilog(),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    pay = add("pay", "create and confirm a Konbini payment and print its voucher")
    pay.add_argument("--amount", type=int, required=True, help="yen, 120 to 300,000")
    pay.add_argument("--description", help="product description (22 Shift_JIS characters)")
    pay.add_argument("--name", default="Konbini Taro", help="customer name (shown at the store)")
    pay.add_argument("--email", help="customer email (default: from --scenario)")
    pay.add_argument("--phone", help="customer phone number (billing details)")
    pay.add_argument("--confirmation-number", help="10-11 digits, e.g. the customer's phone")
    expiry = pay.add_mutually_exclusive_group()
    expiry.add_argument("--expires-after-days", type=int, help="1 to 60 (default 3)")
    expiry.add_argument("--expires-at", help="ISO 8601 time with offset, 30 min to 60 days ahead")
    pay.add_argument("--order-id", help="your order id (idempotency; default: a new one)")
    pay.add_argument(
        "--scenario",
        choices=sorted(SCENARIOS),
        help="test-mode scenario, chosen through the email (default succeed-after-3-minutes)",
    )
    pay.add_argument(
        "--offline",
        action="store_true",
        help="run an in-process emulator for this command only (a demo; it ends with it)",
    )
    pay.add_argument("--instructions", action="store_true", help="print customer instructions")
    pay.add_argument("--lang", choices=("ja", "en"), default="ja", help="instructions language")

    voucher = add("voucher", "print the live voucher of a PaymentIntent")
    voucher.add_argument("payment_intent", metavar="PI_ID")
    voucher.add_argument("--instructions", action="store_true", help="print customer instructions")
    voucher.add_argument("--lang", choices=("ja", "en"), default="ja", help="instructions language")

    status = add("status", "say what a PaymentIntent's status means (and list its refunds)")
    status.add_argument("payment_intent", metavar="PI_ID")

    cancel = add("cancel", "cancel a PaymentIntent (its voucher stops working)")
    cancel.add_argument("payment_intent", metavar="PI_ID")
    cancel.add_argument(
        "--reason", choices=("abandoned", "duplicate", "fraudulent", "requested_by_customer")
    )

    refund = add("refund", "refund a paid Konbini payment, fully or partly")
    refund.add_argument("payment_intent", metavar="PI_ID")
    refund.add_argument("--amount", type=_positive_int, help="yen (default: all that remains)")
    refund.add_argument(
        "--refund-id",
        help="your id for this refund (idempotency; default derived from PI_ID and the "
        "amount, so re-running the command never refunds twice: give a new id for a second "
        "refund of the same amount)",
    )
    refund.add_argument("--reason", choices=("duplicate", "fraudulent", "requested_by_customer"))
    _follow_options(refund)

    refund_status = add("refund-status", "show a refund and what it means; --follow polls")
    refund_status.add_argument("refund", metavar="RE_ID")
    _follow_options(refund_status)

    wait = add("wait", "wait for a payment: success, failure or deadline (progress on stderr)")
    wait.add_argument("payment_intent", metavar="PI_ID")
    wait.add_argument("--interval", type=_seconds, default=5.0, help="seconds between polls")
    wait.add_argument("--timeout", type=_seconds, help="give up after this many seconds")
    wait.add_argument(
        "--advance",
        type=_positive_seconds,
        metavar="SECONDS",
        help="emulator only: move its clock this far between polls instead of waiting "
        "(no real time passes; --timeout then counts emulator seconds)",
    )
    wait.add_argument(
        "--grace",
        type=_seconds,
        default=7200.0,
        help="seconds after the deadline to keep waiting for Stripe's verdict (default 7200)",
    )

    add(
        "doctor",
        "check the account: its default API version, whether Konbini is enabled (test mode), "
        "and each webhook endpoint's API version and events (a live key is accepted here: "
        "read-only)",
    )

    emulator = add("emulator", "run the offline Stripe test-mode emulator")
    emulator.add_argument("--port", type=int, default=12111)
    emulator.add_argument("--host", default="127.0.0.1")
    emulator.add_argument("--seed", type=int, help="seed for reproducible ids and codes")
    emulator.add_argument("--realtime", action="store_true", help="let real time pass too")
    return parser


def _version_option(parser: argparse.ArgumentParser) -> None:
    from konbini_sdk import __version__

    parser.add_argument(
        "--version",
        action="version",
        version=f"konbini {__version__} (konbini-sdk)",
        help="print the installed konbini-sdk version and exit",
    )


def _follow_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--follow", action="store_true", help="poll until succeeded, failed or canceled"
    )
    parser.add_argument("--interval", type=_seconds, default=30.0, help="seconds between polls")
    parser.add_argument("--timeout", type=_seconds, help="give up after this many seconds")
    parser.add_argument(
        "--advance",
        type=_positive_seconds,
        metavar="SECONDS",
        help="emulator only: move its clock this far between polls instead of waiting "
        "(no real time passes; --timeout then counts emulator seconds)",
    )


# ---------------------------------------------------------------------- targets


def _test_key(environ: dict[str, str]) -> str:
    """``STRIPE_API_KEY`` if set: a test key, else a usage error (live keys refused)."""
    key = environ.get("STRIPE_API_KEY", "").strip()
    if key.startswith(_LIVE_PREFIXES):
        raise CliError(
            "STRIPE_API_KEY is a live key: the konbini command works in test mode only; "
            "use a test key (sk_test_...)",
            EXIT_USAGE,
        )
    if key and not key.startswith(_TEST_PREFIXES):
        raise CliError("STRIPE_API_KEY is not a Stripe secret test key (sk_test_...)", EXIT_USAGE)
    return key


def _target(
    args: argparse.Namespace,
    environ: dict[str, str],
    sleep: Callable[[float], None] = time.sleep,
) -> Target:
    key = _test_key(environ)
    api_base = getattr(args, "api_base", None) or environ.get("KONBINI_API_BASE") or None
    if api_base is not None:
        if not api_base.startswith(("http://", "https://")):
            raise CliError("--api-base must be an http:// or https:// URL", EXIT_USAGE)
        client = KonbiniClient(
            key or EMULATOR_KEY, api_base=api_base, retry_policy=CLI_RETRY_POLICY, sleep=sleep
        )
        return Target(client, api_base, sleep=sleep)
    if key:
        client = KonbiniClient(key, retry_policy=CLI_RETRY_POLICY, sleep=sleep)
        return Target(client, None, sleep=sleep)
    raise CliError(
        "no target: start `konbini emulator` and pass --api-base http://127.0.0.1:12111 "
        "(or set KONBINI_API_BASE), or set STRIPE_API_KEY=sk_test_... for Stripe test mode",
        EXIT_USAGE,
    )


def _doctor_target(
    args: argparse.Namespace, environ: dict[str, str], sleep: Callable[[float], None]
) -> Target:
    """``doctor``'s target: as every command's, except that a live key is taken (read-only)."""
    key = environ.get("STRIPE_API_KEY", "").strip()
    api_base = getattr(args, "api_base", None) or environ.get("KONBINI_API_BASE") or None
    if key.startswith(_LIVE_PREFIXES) and api_base is None:
        client = KonbiniClient(key, retry_policy=CLI_RETRY_POLICY, sleep=sleep)
        return Target(client, None, sleep=sleep, api_key=key)
    target = _target(args, environ, sleep)
    target.api_key = key or EMULATOR_KEY
    return target


def _offline_target(sleep: Callable[[float], None] = time.sleep) -> Target:
    from konbini_sdk.testing import Emulator

    emulator = Emulator().start()
    client = KonbiniClient(
        EMULATOR_KEY, api_base=emulator.api_base, retry_policy=CLI_RETRY_POLICY, sleep=sleep
    )
    return Target(client, emulator.api_base, emulator, sleep)


# ---------------------------------------------------------------------- output


@dataclass
class Output:
    """Where results (stdout) and progress/errors (stderr) go."""

    out: IO[str]
    err: IO[str]
    as_json: bool

    def result(self, data: dict[str, Any], text: str) -> None:
        """Print the command's result: JSON or text, on stdout."""
        if self.as_json:
            self.out.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")
        else:
            self.out.write(text.rstrip("\n") + "\n")
        self.out.flush()

    def progress(self, line: str) -> None:
        """Print a progress line on stderr."""
        self.err.write(line + "\n")
        self.err.flush()


def mask_email(email: str | None) -> str | None:
    """Show where an email went without printing the address: ``t***@example.com``."""
    if not email:
        return None
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(JST).isoformat() if moment is not None else None


def _jst(moment: datetime | None) -> str:
    return f"{moment.astimezone(JST):%Y-%m-%d %H:%M} JST" if moment is not None else "-"


def voucher_json(voucher: Voucher) -> dict[str, Any]:
    """Return the voucher as JSON (its codes are the customer's: shown, never logged)."""
    return {
        "payment_intent_id": voucher.payment_intent_id,
        "amount": voucher.amount,
        "currency": voucher.currency,
        "product_description": voucher.product_description,
        "hosted_voucher_url": voucher.hosted_voucher_url,
        "expires_at": _iso(voucher.expires_at),
        "stores": {
            chain.value: {
                "payment_code": code.payment_code,
                "confirmation_number": code.confirmation_number,
            }
            for chain, code in voucher.stores.items()
        },
    }


def voucher_text(voucher: Voucher) -> str:
    """Return the voucher as a short text block."""
    lines = [
        f"PaymentIntent  {voucher.payment_intent_id}",
        f"Amount         {format_yen(voucher.amount, 'en')}",
        f"Product        {voucher.product_description or '-'}",
        f"Pay by         {_jst(voucher.expires_at)}",
        f"Voucher        {voucher.hosted_voucher_url}",
        "",
        f"{'Store':<12}{'Payment code':<16}Confirmation number",
    ]
    for chain, code in voucher.stores.items():
        lines.append(
            f"{chain.display_name_en:<12}{code.payment_code:<16}{code.confirmation_number or '-'}"
        )
    return "\n".join(lines)


def refund_json(view: RefundView) -> dict[str, Any]:
    """Return a refund as JSON: status, meaning, deadline; the customer's email masked."""
    return {
        "id": view.id,
        "amount": view.amount,
        "currency": view.currency,
        "status": view.state.value,
        "payment_intent_id": view.payment_intent_id,
        "charge_id": view.charge_id,
        "created": _iso(view.created),
        "waiting_on_customer": view.waiting_on_customer,
        "merchant_must_act": view.merchant_must_act,
        "is_final": view.is_final,
        "instructions_email": mask_email(view.instructions_email),
        "email_sent_at": _iso(view.email_sent_at),
        "email_sent_to": mask_email(view.email_sent_to),
        "expires_at": _iso(view.expires_at),
        "failure_reason": view.failure_reason,
        "meaning": view.merchant_action,
    }


def refund_text(view: RefundView) -> str:
    """Return a refund as a short text block."""
    lines = [
        f"Refund         {view.id}",
        f"Amount         {format_yen(view.amount, 'en')}",
        f"Status         {view.state.value}",
        f"PaymentIntent  {view.payment_intent_id or '-'}",
    ]
    if view.waiting_on_customer:
        lines.append(
            f"Email sent     {_jst(view.email_sent_at)} to {mask_email(view.email_sent_to) or '-'}"
        )
        lines.append(f"Bank details by {_jst(view.expires_at)}")
    if view.failure_reason:
        lines.append(f"Failure        {view.failure_reason}")
    lines.append(f"Meaning        {view.merchant_action}")
    return "\n".join(lines)


def status_json(status: PaymentStatus, refunds: Sequence[RefundView]) -> dict[str, Any]:
    """Return a payment's status as JSON (no voucher URL: its page shows the customer's number)."""
    return {
        "payment_intent_id": status.payment_intent_id,
        "status": status.stripe_status,
        "state": status.state.value,
        "amount": status.amount,
        "currency": status.currency,
        "deadline": _iso(status.deadline),
        "should_fulfil": status.should_fulfil,
        "is_final": status.is_final,
        "waiting_on_customer": status.waiting_on_customer,
        "failure_code": status.failure_code,
        "cancellation_reason": status.cancellation_reason,
        "summary": status.summary,
        "refunds": [refund_json(view) for view in refunds],
    }


def status_text(status: PaymentStatus, refunds: Sequence[RefundView]) -> str:
    """Return a payment's status as text."""
    lines = [
        f"PaymentIntent  {status.payment_intent_id}",
        f"Status         {status.stripe_status} ({status.state.value})",
        f"Amount         {format_yen(status.amount, 'en')}",
    ]
    if status.deadline is not None:
        lines.append(f"Pay by         {_jst(status.deadline)}")
    lines.append(f"Meaning        {status.summary}")
    for view in refunds:
        lines.append(f"Refund         {view.id} {format_yen(view.amount, 'en')} {view.state.value}")
    return "\n".join(lines)


# ---------------------------------------------------------------------- commands


def _cmd_pay(args: argparse.Namespace, target: Target, output: Output) -> int:
    from konbini_sdk.testing.scenarios import Scenario

    if args.email and args.scenario:
        raise CliError("give --email or --scenario, not both (the scenario sets the email)", 2)
    scenario = Scenario[SCENARIOS[args.scenario or "succeed-after-3-minutes"]]
    email = args.email or scenario.email("konbini-cli")
    request = PaymentIntentRequest(
        amount=args.amount,
        product_description=args.description,
        expires_after_days=args.expires_after_days,
        expires_at=args.expires_at,
    )
    billing = BillingDetails(name=args.name, email=email, phone=args.phone)
    order_id = args.order_id or f"cli-{uuid.uuid4().hex[:16]}"
    voucher = target.client.pay_order(
        order_id, request, billing, confirmation_number=args.confirmation_number
    )
    data = {"order_id": order_id, **voucher_json(voucher)}
    text = f"Order          {order_id}\n{voucher_text(voucher)}"
    if args.instructions:
        text += "\n\n" + render_text(voucher, args.lang)
        data["instructions"] = render_text(voucher, args.lang)
    if target.emulator is not None:
        output.progress(
            "note: --offline: this emulator stops when the command ends; run `konbini "
            "emulator` and use --api-base to keep the payment"
        )
    output.result(data, text)
    return EXIT_OK


def _cmd_voucher(args: argparse.Namespace, target: Target, output: Output) -> int:
    voucher = target.client.get_voucher(args.payment_intent)
    data = voucher_json(voucher)
    text = voucher_text(voucher)
    if args.instructions:
        text += "\n\n" + render_text(voucher, args.lang)
        data["instructions"] = render_text(voucher, args.lang)
    output.result(data, text)
    return EXIT_OK


def _cmd_status(args: argparse.Namespace, target: Target, output: Output) -> int:
    intent = target.client.retrieve(args.payment_intent)
    status = describe_payment(intent)
    refunds = (
        target.client.refunds.list(args.payment_intent)
        if status.state is PaymentState.SUCCEEDED
        else []
    )
    output.result(status_json(status, refunds), status_text(status, refunds))
    return EXIT_OK


def _cmd_cancel(args: argparse.Namespace, target: Target, output: Output) -> int:
    try:
        change = target.client.cancel(args.payment_intent, reason=args.reason)
    except StripeAPIError as error:
        if not _is_state_refusal(error):
            raise
        return _explain_cancel_refusal(args.payment_intent, target, output, error)
    intent = change.payment_intent
    data = {
        "payment_intent_id": intent.id,
        "status": intent.status,
        "cancellation_reason": intent.cancellation_reason,
        "voided_voucher_url": change.voided_voucher_url,
    }
    text = f"PaymentIntent  {intent.id}\nStatus         {intent.status}"
    if change.voided_voucher_url:
        text += (
            f"\nVoided voucher {change.voided_voucher_url}\n"
            "Tell the customer: the store codes no longer work."
        )
    output.result(data, text)
    return EXIT_OK


def _is_state_refusal(error: StripeAPIError) -> bool:
    """Whether Stripe refused because of the object's state (not its parameters or the key).

    Decided from the answer itself (HTTP 400 with ``payment_intent_unexpected_state``), so it
    holds whichever typed error the library raises for it.
    """
    return error.http_status == 400 and error.code == "payment_intent_unexpected_state"


def _explain_cancel_refusal(
    payment_intent_id: str, target: Target, output: Output, refusal: StripeAPIError
) -> int:
    """Say why Stripe refused a cancellation, from the intent's status (looked up now).

    Already canceled: the wanted end state holds, so the intent is printed and the exit code
    is 0 with a note. Anything else is an error naming the status and the next step.
    """
    try:
        intent = target.client.retrieve(payment_intent_id)
    except KonbiniError:
        raise refusal from None
    status = intent.status
    if status == "canceled":
        reason = intent.cancellation_reason
        output.progress(
            f"note: {intent.id} was already canceled"
            + (f" (reason: {reason})" if reason else "")
            + "; nothing to do"
        )
        data = {
            "payment_intent_id": intent.id,
            "status": status,
            "cancellation_reason": reason,
            "voided_voucher_url": None,
            "already_canceled": True,
        }
        output.result(data, f"PaymentIntent  {intent.id}\nStatus         {status} (already)")
        return EXIT_OK
    if status == "succeeded":
        message = (
            f"{intent.id} is paid (succeeded): a paid PaymentIntent cannot be canceled; "
            f"refund it instead: konbini refund {intent.id}"
        )
    elif status == "processing":
        message = (
            f"{intent.id} is processing a payment: it cannot be canceled now; "
            f"check again with: konbini status {intent.id}"
        )
    elif status == "requires_action":
        message = (
            f"{intent.id} cannot be canceled right now: the customer is paying at the store; "
            "retry after the attempt is abandoned and the payment slip expires"
        )
    else:
        message = f"Stripe refused to cancel {intent.id}, whose status is {status}"
    raise CliError(message, EXIT_API_ERROR) from refusal


def _cmd_refund(args: argparse.Namespace, target: Target, output: Output) -> int:
    refund_id = args.refund_id or f"cli:{args.payment_intent}:{args.amount or 'full'}"
    view = target.client.refunds.create(
        args.payment_intent, amount=args.amount, merchant_refund_id=refund_id, reason=args.reason
    )
    if args.follow:
        return _follow_refund(args, target, output, view.id)
    output.result(refund_json(view), refund_text(view))
    return EXIT_OK


def _cmd_refund_status(args: argparse.Namespace, target: Target, output: Output) -> int:
    if args.follow:
        return _follow_refund(args, target, output, args.refund)
    view = target.client.refunds.retrieve(args.refund)
    output.result(refund_json(view), refund_text(view))
    return EXIT_OK


def _advancer(args: argparse.Namespace, target: Target) -> Callable[[], None] | None:
    if args.advance is None:
        return None
    target.control("GET", "health")

    def advance() -> None:
        target.control("POST", "clock/advance", {"seconds": str(args.advance)})

    return advance


def _follow_refund(args: argparse.Namespace, target: Target, output: Output, refund_id: str) -> int:
    advance = _advancer(args, target)

    def progress(current: RefundView) -> None:
        output.progress(f"{datetime.now(UTC):%H:%M:%S} refund {current.id}: {current.state.value}")

    if advance is not None:
        view = _follow_refund_on_emulator(args, target, refund_id, advance, progress)
    else:
        view = target.client.refunds.follow(
            refund_id, interval=args.interval, timeout=args.timeout, on_update=progress
        )
    output.result(refund_json(view), refund_text(view))
    if view.state is RefundState.SUCCEEDED:
        return EXIT_OK
    if view.state in SETTLED_STATES:
        return EXIT_NOT_SUCCESSFUL
    output.progress(f"gave up waiting: refund {view.id} is still {view.state.value}")
    return EXIT_TIMEOUT


def _follow_refund_on_emulator(
    args: argparse.Namespace,
    target: Target,
    refund_id: str,
    advance: Callable[[], None],
    on_update: Callable[[RefundView], None],
) -> RefundView:
    """Follow a refund on the emulator: move its clock by --advance, then poll at once.

    No real waiting; --timeout counts emulator seconds (the clock moved so far).
    """
    view = target.client.refunds.retrieve(refund_id)
    on_update(view)
    moved = 0.0
    while view.state not in SETTLED_STATES:
        if args.timeout is not None and moved + args.advance > args.timeout:
            break
        advance()
        moved += args.advance
        current = target.client.refunds.retrieve(refund_id)
        if current.state is not view.state:
            on_update(current)
        view = current
    return view


def _now(target: Target, emulated: bool) -> datetime:
    if emulated:
        answer = target.control("GET", "clock")
        return datetime.fromtimestamp(int(answer["now"]), tz=UTC)
    return datetime.now(UTC)


def _cmd_wait(args: argparse.Namespace, target: Target, output: Output) -> int:
    advance = _advancer(args, target)
    emulated = advance is not None
    # With --advance the emulator's clock is the only clock: each step moves it and polls at
    # once (no real waiting), and --timeout counts emulator seconds.
    step = args.advance if emulated else args.interval
    started_real = time.monotonic()
    started: datetime | None = None
    last: str | None = None
    polls = 0
    while True:
        status = describe_payment(target.client.retrieve(args.payment_intent))
        now = _now(target, emulated)
        started = started or now
        line = f"{status.stripe_status}"
        if status.deadline is not None:
            left = status.deadline - now
            line += f", deadline {_jst(status.deadline)} ({_duration(left.total_seconds())} left)"
        if line != last or polls % 12 == 0:
            output.progress(
                f"{now.astimezone(JST):%Y-%m-%d %H:%M:%S} JST  {status.payment_intent_id}: {line}"
            )
            last = line
        polls += 1
        if status.state is PaymentState.SUCCEEDED:
            output.result(status_json(status, []), status_text(status, []))
            return EXIT_OK
        if status.state in (PaymentState.FAILED, PaymentState.EXPIRED, PaymentState.CANCELED):
            output.result(status_json(status, []), status_text(status, []))
            return EXIT_NOT_SUCCESSFUL
        if status.deadline is not None and (now - status.deadline).total_seconds() > args.grace:
            output.result(status_json(status, []), status_text(status, []))
            output.progress("the deadline passed and Stripe gave no verdict within --grace")
            return EXIT_TIMEOUT
        elapsed = (now - started).total_seconds() if emulated else time.monotonic() - started_real
        if args.timeout is not None and elapsed + step > args.timeout:
            output.result(status_json(status, []), status_text(status, []))
            output.progress(
                f"gave up after --timeout {args.timeout:g}s: still {status.stripe_status}"
            )
            return EXIT_TIMEOUT
        _next_poll(target, args.interval, advance)


def _next_poll(target: Target, interval: float, advance: Callable[[], None] | None) -> None:
    """Get ready for the next poll: move the emulator's clock, or wait on the real one."""
    if advance is not None:
        advance()
    else:
        target.sleep(interval)


def _duration(seconds: float) -> str:
    sign = "-" if seconds < 0 else ""
    seconds = abs(int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{sign}{days}d{hours:02d}h{minutes:02d}m"
    return f"{sign}{hours:02d}:{minutes:02d}:{secs:02d}"


def _cmd_doctor(target: Target, output: Output) -> int:
    from konbini_sdk._doctor import run_doctor

    if target.api_base is not None:
        where = f"emulator (or API) at {target.api_base}"
    elif target.api_key.startswith(_LIVE_PREFIXES):
        where = "Stripe LIVE mode (read-only checks)"
    else:
        where = "Stripe test mode"
    report = run_doctor(
        target.client.stripe_client, target.api_key, api_base=target.api_base, target=where
    )
    output.result(report.as_json(), report.as_text())
    return EXIT_API_ERROR if report.problems else EXIT_OK


def _cmd_emulator(args: argparse.Namespace, output: Output) -> int:
    from konbini_sdk.testing import serve

    def ready(emulator: Any) -> None:
        output.progress(
            f"konbini emulator listening on {emulator.api_base} (offline Stripe test mode)\n"
            f"  use: konbini status PI_ID --api-base {emulator.api_base}\n"
            f"  or:  stripe.StripeClient('sk_test_x', base_addresses={{'api': "
            f"'{emulator.api_base}'}})\n"
            "  Ctrl-C to stop"
        )

    options: dict[str, Any] = {"realtime": args.realtime}
    if args.seed is not None:
        options["seed"] = args.seed
    try:
        serve(args.port, args.host, ready=ready, **options)
    except KeyboardInterrupt:
        output.progress("konbini emulator stopped")  # Ctrl-C is the normal way to stop it
    except OSError as error:
        raise CliError(f"cannot listen on {args.host}:{args.port}: {error.strerror}", 2) from error
    except ValueError as error:  # a non-loopback --host: refused before listening
        raise CliError(f"--host: {error}", 2) from None
    return EXIT_OK


_COMMANDS: Final[dict[str, Callable[[argparse.Namespace, Target, Output], int]]] = {
    "pay": _cmd_pay,
    "voucher": _cmd_voucher,
    "status": _cmd_status,
    "cancel": _cmd_cancel,
    "refund": _cmd_refund,
    "refund-status": _cmd_refund_status,
    "wait": _cmd_wait,
}


# ---------------------------------------------------------------------- errors and logging


#: Where requests go without ``--api-base`` (``stripe``'s default API address).
STRIPE_API_BASE: Final = "https://api.stripe.com"


def _host_port(api_base: str) -> tuple[str, int]:
    parts = urllib.parse.urlsplit(api_base)
    return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)


def _answered_like_stripe(error: StripeAPIError) -> bool:
    """Whether an error answer came from Stripe (or the emulator), not from another server.

    Stripe puts a ``Request-Id`` header on every answer and a JSON ``{"error": {...}}`` body
    on every refusal; a web server on the wrong port sends neither.
    """
    if error.request_id is not None:
        return True
    cause: BaseException | None = error.__cause__
    while cause is not None and not isinstance(cause, stripe.StripeError):
        cause = cause.__cause__
    body = cause.json_body if cause is not None else None
    return isinstance(body, dict) and isinstance(body.get("error"), dict)


def _connect_problem(host: str, port: int) -> str | None:
    """Try a TCP connection to ``host:port``; return what went wrong, or None if it opened."""
    try:
        with socket.create_connection((host, port), timeout=3):
            return None
    except socket.gaierror:
        return f"the host {host} was not found (DNS lookup failed)"
    except ConnectionRefusedError:
        return f"nothing listens at {host}:{port} (connection refused)"
    except TimeoutError:
        return f"{host}:{port} does not accept connections (timed out)"
    except OSError as error:
        return f"cannot connect to {host}:{port}: {error.strerror or type(error).__name__}"


def _diagnose_target(error: BaseException, target: Target | None) -> tuple[int, str] | None:
    """Name the address when the answer was not Stripe's, or when nothing could be reached.

    Returns the exit code and message, or None when the error says enough on its own. A
    non-Stripe answer is only diagnosed for ``--api-base`` (a proxy in front of Stripe may
    answer for it too); an unreachable address is checked with one TCP connection.
    """
    if target is None or not isinstance(error, StripeAPIError):
        return None
    api_base = target.api_base or STRIPE_API_BASE
    host, port = _host_port(api_base)
    if error.http_status is not None:
        if target.api_base is None or _answered_like_stripe(error):
            return None
        return (
            EXIT_USAGE,
            f"the server at {host}:{port} is not Stripe (or the konbini emulator): it answered "
            f"HTTP {error.http_status} without a Stripe error; check --api-base (use the "
            "address `konbini emulator` prints)",
        )
    if error.request_id is not None or error.code is not None:
        return None  # an answer arrived: the error says what it was
    problem = _connect_problem(host, port)
    if problem is None:
        return EXIT_UNREACHABLE, f"no answer from {host}:{port}: {error}"
    hint = "; is `konbini emulator` running?" if target.api_base is not None else ""
    return EXIT_UNREACHABLE, f"{problem}{hint}"


def _error_code(error: BaseException) -> tuple[int, str]:
    """Return the exit code and the one-line message of an error."""
    if isinstance(error, CliError):
        return error.code, str(error)
    if isinstance(error, KonbiniValidationError):
        return EXIT_USAGE, f"invalid input: {error}"
    if isinstance(error, AuthenticationError):
        return EXIT_USAGE, f"the API key was refused: {error}"
    if isinstance(error, ConnectionFailedError):
        return EXIT_UNREACHABLE, str(error)
    if isinstance(error, OutcomeUnknownError):
        return EXIT_UNREACHABLE, f"no answer from the API: {error}"
    if isinstance(error, StripeAPIError):
        if error.http_status == 404 or error.code == "resource_missing":
            return EXIT_NOT_FOUND, f"not found: {error}"
        return EXIT_API_ERROR, str(error)
    if isinstance(error, KonbiniError):
        return EXIT_API_ERROR, str(error)
    raise error


@contextlib.contextmanager
def _sdk_logging(err: IO[str], verbose: bool) -> Iterator[None]:
    """Send the SDK's log lines to stderr with ``-v`` (else none: errors get one line), redacted.

    The library never configures structlog; the command does, for its own run only: the
    previous configuration is restored afterwards (``main`` may run inside another program).
    """
    was_configured = structlog.is_configured()
    previous = structlog.get_config()
    structlog.configure(
        processors=[
            redact_sensitive,
            structlog.processors.add_log_level,
            structlog.dev.ConsoleRenderer(colors=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.INFO if verbose else logging.CRITICAL
        ),
        logger_factory=structlog.PrintLoggerFactory(cast("TextIO", err)),
        cache_logger_on_first_use=False,
    )
    try:
        yield
    finally:
        if was_configured:
            structlog.configure(**previous)
        else:
            structlog.reset_defaults()


def main(
    argv: Sequence[str] | None = None,
    *,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
    environ: dict[str, str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Run the ``konbini`` command; returns the exit code (see ``konbini --help``).

    ``stdout``, ``stderr``, ``environ`` and ``sleep`` (every wait on the real clock: polls and
    retries) can be replaced, e.g. by tests.
    """
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    env = dict(os.environ if environ is None else environ)
    parser = build_parser()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0) if isinstance(exit_.code, int) else EXIT_USAGE
    output = Output(out, err, bool(getattr(args, "json", False)))
    target: Target | None = None
    try:
        with _sdk_logging(err, bool(getattr(args, "verbose", False))):
            if args.command == "emulator":
                return _cmd_emulator(args, output)
            if args.command == "doctor":
                target = _doctor_target(args, env, sleep)
                return _cmd_doctor(target, output)
            if args.command == "pay" and args.offline:
                _test_key(env)
                target = _offline_target(sleep)
            else:
                target = _target(args, env, sleep)
            return _COMMANDS[args.command](args, target, output)
    except KeyboardInterrupt:
        err.write("konbini: interrupted\n")
        return EXIT_INTERRUPTED
    except (CliError, KonbiniError) as error:
        code, message = _diagnose_target(error, target) or _error_code(error)
        err.write(f"konbini: error: {message}\n")
        return code
    finally:
        if target is not None and target.emulator is not None:
            target.emulator.stop()


def _entry() -> NoReturn:
    sys.exit(main())


if __name__ == "__main__":
    _entry()
