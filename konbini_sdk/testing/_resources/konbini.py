"""Konbini on PaymentIntents: Stripe's validation, vouchers, test-mode scenarios, expiry.

Error codes the emulator uses for Konbini rules (Stripe documents the rules, not every code;
where it names none, the code is the emulator's plausible choice):

================================================  =========================================
rule                                              code (HTTP 400) and ``param``
================================================  =========================================
currency other than jpy                           ``payment_intent_invalid_currency``, currency
amount below ¥120 / above ¥300,000                ``amount_too_small`` / ``amount_too_large``
product_description over 22 characters            ``parameter_invalid_string_too_long``
product_description outside JIS X 0208 / ASCII    ``parameter_invalid_string``
expires_after_days outside 1..60                  ``parameter_invalid_integer``
expires_at < now + 30 min or > now + 60 days      ``parameter_invalid_integer``
both expires_after_days and expires_at            ``parameters_exclusive``
confirmation_number not 10-11 ASCII digits / 0s   ``parameter_invalid_string``
default expiry (creation + 3 days) < 30 min away  ``parameter_invalid_integer``
billing name or email missing on confirm          ``parameter_missing``
billing email not an address (on confirm)         ``email_invalid``
number ``01234567890`` (on confirm)            ``payment_intent_konbini_rejected_...``
cancel/update/re-confirm while paying in store    ``payment_intent_unexpected_state``
================================================  =========================================

The elided code is ``payment_intent_konbini_rejected_confirmation_number``. Stripe documents
that code and ``email_invalid``; every other code here is the emulator's choice (listed in
``docs/emulator.md``).

Expiry: ``expires_at`` when given; else 23:59:59 JST on the ``expires_after_days``-th day after
*confirmation*; with neither, 23:59:59 JST on the 3rd day after the PaymentIntent was *created*
(Stripe: "3 days after the PaymentIntent is created, at 23:59 JST").

A customer who starts paying at a store kiosk prints a slip (:attr:`KonbiniVoucher.slip_expires_at`,
``Settings.slip_lifetime_seconds`` after printing, 30 minutes by default: the emulator's
choice). Cancelling, updating or re-confirming is refused while they are at the counter *and*
while a printed slip is still valid, so it works again only once they abandon and the slip
expires (Stripe: "retry after the customer abandons the attempt and the slip expires").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from konbini_sdk._japanese import JST
from konbini_sdk.testing import scenarios
from konbini_sdk.testing._clock import Timer
from konbini_sdk.testing._resources import payment_intents
from konbini_sdk.testing._router import Router
from konbini_sdk.testing._state import State
from konbini_sdk.testing._wire import ApiError, Int, Obj, Str, invalid

__all__ = ["CHAINS", "KonbiniType", "KonbiniVoucher", "current_voucher", "register", "vouchers"]

CHAINS: Final = ("familymart", "lawson", "ministop", "seicomart")
MIN_AMOUNT: Final = 120
MAX_AMOUNT: Final = 300_000
MAX_DESCRIPTION: Final = 22
DEFAULT_DAYS: Final = 3
MIN_EXPIRES_AT_AHEAD: Final = 30 * 60
MAX_AHEAD: Final = 60 * 86_400
OPTION: Final = "payment_method_options[konbini]"
# ASCII digits only: ``\d`` would also take full-width and Arabic-Indic digits.
_NUMBER: Final = re.compile(r"[0-9]{10,11}")
# A syntax check of the billing email (Stripe refuses malformed addresses: ``email_invalid``).
_EMAIL: Final = re.compile(r"[^@\s]+@[^@\s.]+(?:\.[^@\s.]+)+")
_KEY: Final = "konbini"


@dataclass
class KonbiniVoucher:
    """One set of payment instructions (a hosted voucher page and store codes)."""

    token: str
    intent_id: str
    amount: int
    product_description: str | None
    expires_at: int
    confirmation_number: str
    stores: dict[str, dict[str, str]]
    scenario: scenarios.Scenario
    #: active → paid | void | failed.
    status: str = "active"
    in_store: bool = False
    #: When the slip printed at the kiosk stops being accepted at the counter (``None``: none
    #: printed). Cancelling is refused until then, even after the customer walked away.
    slip_expires_at: int | None = None
    #: The Customer's first preferred locale (``""`` without a Customer): the page language.
    locale: str = ""
    timers: list[Timer] = field(default_factory=list)

    def stop(self, status: str) -> None:
        """End this voucher: it no longer shows codes and its transitions never run."""
        self.status = status
        self.in_store = False
        for timer in self.timers:
            timer.cancel()


@dataclass
class _Book:
    by_token: dict[str, KonbiniVoucher] = field(default_factory=dict)
    current: dict[str, str] = field(default_factory=dict)


def _book(state: State) -> _Book:
    book = state.extra.get(_KEY)
    if not isinstance(book, _Book):
        book = _Book()
        state.extra[_KEY] = book
    return book


def vouchers(state: State) -> dict[str, KonbiniVoucher]:
    """Every voucher ever issued, by token."""
    return _book(state).by_token


def current_voucher(state: State, intent_id: str) -> KonbiniVoucher | None:
    """Return the intent's live voucher (status ``active``), if any."""
    book = _book(state)
    token = book.current.get(intent_id)
    voucher = book.by_token.get(token) if token else None
    return voucher if voucher is not None and voucher.status == "active" else None


def in_jis_x_0208(text: str) -> bool:
    """Whether every character is printable ASCII or a (two-byte) JIS X 0208 character.

    Half-width katakana (JIS X 0201, one byte in Shift_JIS) are refused: Stripe names
    JIS X 0208:1997. Python's ``shift_jis`` codec is the strict JIS one (no cp932 rows).
    """
    for char in text:
        if " " <= char <= "~":
            continue
        try:
            encoded = char.encode("shift_jis")
        except UnicodeEncodeError:
            return False
        if len(encoded) != 2:
            return False
    return True


def check_confirmation_number(value: str, param: str) -> None:
    """10 or 11 ASCII digits, not all zeros (Stripe: a generic validation error)."""
    if not _NUMBER.fullmatch(value) or set(value) == {"0"}:
        raise invalid(
            f"Invalid {param}: a confirmation number must be 10 or 11 digits (0-9 only) and "
            "not all zeros.",
            code="parameter_invalid_string",
            param=param,
        )


def end_of_day_jst(moment: int, days: int) -> int:
    """23:59:59 JST on the ``days``-th calendar day after ``moment`` (in JST)."""
    local = datetime.fromtimestamp(moment, tz=UTC).astimezone(JST)
    last = (local + timedelta(days=days)).replace(hour=23, minute=59, second=59, microsecond=0)
    return int(last.timestamp())


def _display_details(state: State, voucher: KonbiniVoucher) -> dict[str, Any]:
    """``konbini_display_details`` as the API answers it, with the configured quirks."""
    quirks = state.settings.voucher_quirks
    stores: dict[str, Any] = {}
    for chain, codes in voucher.stores.items():
        if chain in quirks.null_stores:
            stores[chain] = None
            continue
        entry = dict(codes)
        if quirks.omit_confirmation_number:
            del entry["confirmation_number"]
        stores[chain] = entry
    url = f"{state.api_base()}/konbini/voucher/{voucher.token}"
    return {
        "expires_at": voucher.expires_at,
        "hosted_voucher_url": None if quirks.null_hosted_voucher_url else url,
        "stores": stores,
    }


def default_expiry(intent: dict[str, Any]) -> int:
    """Return the deadline with neither option: 23:59:59 JST, 3 days after creation."""
    return end_of_day_jst(int(intent["created"]), DEFAULT_DAYS)


def _customer_locale(state: State, customer_id: str | None) -> str:
    customer = state.find(customer_id) if customer_id else None
    locales = customer.get("preferred_locales") if customer else None
    return str(locales[0]) if locales else ""


class KonbiniType:
    """The Konbini payment-method type for PaymentIntents."""

    name = "konbini"
    #: Konbini takes yen only: ``allowed_payment_method_types`` drops it for other currencies.
    currencies: tuple[str, ...] | None = ("jpy",)
    options_shape = Obj(
        {
            "confirmation_number": Str(11),
            "expires_after_days": Int(),
            "expires_at": Int(),
            "product_description": Str(MAX_DESCRIPTION),
            "setup_future_usage": Str(5000),
        }
    )
    data_shape = Obj({})

    # ---- options -------------------------------------------------------------------------

    def options_json(
        self, given: dict[str, Any], previous: dict[str, Any] | None
    ) -> dict[str, Any]:
        """Merge given options into the stored ones (``""`` unsets a field)."""
        options = dict(previous or {})
        for key in (
            "confirmation_number",
            "expires_after_days",
            "expires_at",
            "product_description",
        ):
            options.setdefault(key, None)
            if key in given:
                options[key] = None if given[key] == "" else given[key]
        if given.get("setup_future_usage") not in (None, "", "none"):
            raise invalid(
                "Konbini does not support setup_future_usage (only 'none').",
                code="parameter_invalid_string",
                param=f"{OPTION}[setup_future_usage]",
            )
        return options

    # ---- checks --------------------------------------------------------------------------

    def check_intent(self, state: State, intent: dict[str, Any], *, confirming: bool) -> None:
        """Stripe's Konbini rules on currency, amount and options."""
        if intent["currency"] != "jpy":
            raise invalid(
                f"The currency provided ({intent['currency']}) is invalid for one or more "
                "payment method types: konbini. Konbini supports only jpy.",
                code="payment_intent_invalid_currency",
                param="currency",
            )
        amount = intent["amount"]
        if amount < MIN_AMOUNT:
            raise invalid(
                f"Amount must be at least ¥{MIN_AMOUNT} for konbini payments.",
                code="amount_too_small",
                param="amount",
            )
        if amount > MAX_AMOUNT:
            raise invalid(
                f"Amount must be no more than ¥{MAX_AMOUNT:,} for konbini payments.",
                code="amount_too_large",
                param="amount",
            )
        if intent["capture_method"] == "manual":
            raise invalid(
                "Konbini does not support manual capture.",
                code="parameter_invalid_string",
                param="capture_method",
            )
        options = intent["payment_method_options"].get("konbini") or {}
        self._check_options(state, options)

    def _check_options(self, state: State, options: dict[str, Any]) -> None:
        description = options.get("product_description")
        if description is not None and not in_jis_x_0208(description):
            raise invalid(
                f"Invalid {OPTION}[product_description]: only characters in Shift_JIS "
                "(JIS X 0208:1997) are allowed; half-width katakana are not.",
                code="parameter_invalid_string",
                param=f"{OPTION}[product_description]",
            )
        days, expires_at = options.get("expires_after_days"), options.get("expires_at")
        if days is not None and expires_at is not None:
            raise invalid(
                f"You may only specify one of {OPTION}[expires_after_days] and "
                f"{OPTION}[expires_at].",
                code="parameters_exclusive",
                param=f"{OPTION}[expires_at]",
            )
        if days is not None and not 1 <= days <= 60:
            raise invalid(
                f"Invalid {OPTION}[expires_after_days]: must be between 1 and 60.",
                code="parameter_invalid_integer",
                param=f"{OPTION}[expires_after_days]",
            )
        if expires_at is not None:
            now = state.now()
            if not now + MIN_EXPIRES_AT_AHEAD <= expires_at <= now + MAX_AHEAD:
                raise invalid(
                    f"Invalid {OPTION}[expires_at]: must be at least 30 minutes and at most "
                    "60 days in the future.",
                    code="parameter_invalid_integer",
                    param=f"{OPTION}[expires_at]",
                )
        number = options.get("confirmation_number")
        if number is not None:
            check_confirmation_number(number, f"{OPTION}[confirmation_number]")

    def check_payment_method(self, state: State, intent: dict[str, Any], method: Any) -> None:
        """Billing name and email are required; the test-mode rejected number is refused."""
        billing = method.get("billing_details") or {}
        for key in ("name", "email"):
            if not billing.get(key):
                raise invalid(
                    f"Missing required param: payment_method_data[billing_details][{key}] "
                    "(Konbini needs the customer's name and email).",
                    code="parameter_missing",
                    param=f"payment_method_data[billing_details][{key}]",
                )
        if not _EMAIL.fullmatch(str(billing["email"])):
            raise invalid(
                "Invalid email address: payment_method_data[billing_details][email] must be "
                "an email address.",
                code="email_invalid",
                param="payment_method_data[billing_details][email]",
            )
        options = intent["payment_method_options"].get("konbini") or {}
        if options.get("confirmation_number") == scenarios.REJECTED_CONFIRMATION_NUMBER:
            raise ApiError(
                400,
                "The confirmation number is used too often by in-flight store transactions; "
                "use another one (the customer's phone number is recommended).",
                code="payment_intent_konbini_rejected_confirmation_number",
                param=f"{OPTION}[confirmation_number]",
            )
        # expires_at is re-checked against the confirmation time.
        self._check_options(state, options)
        if options.get("expires_at") is None and options.get("expires_after_days") is None:
            default = default_expiry(intent)
            if default < state.now() + MIN_EXPIRES_AT_AHEAD:
                raise invalid(
                    "The default Konbini expiry (23:59 JST, 3 days after the PaymentIntent was "
                    f"created) is less than 30 minutes away; set {OPTION}[expires_after_days] "
                    f"or {OPTION}[expires_at].",
                    code="parameter_invalid_integer",
                    param=f"{OPTION}[expires_after_days]",
                )

    # ---- lifecycle -----------------------------------------------------------------------

    def confirm(self, state: State, intent: dict[str, Any], method: dict[str, Any]) -> None:
        """Issue a new voucher, set ``requires_action`` and schedule the scenario."""
        now = state.now()
        options = intent["payment_method_options"].get("konbini") or {}
        number = options.get("confirmation_number")
        scenario = scenarios.scenario_for(method["billing_details"].get("email"), number)
        if options.get("expires_at") is not None:
            expires_at = int(options["expires_at"])
        elif options.get("expires_after_days") is not None:
            expires_at = end_of_day_jst(now, int(options["expires_after_days"]))
        else:
            expires_at = default_expiry(intent)
        if scenario.expires_after_seconds is not None:
            expires_at = now + scenario.expires_after_seconds
        if number is None:
            number = self._generate_number(state)
        token = state.new_id("test", 32)
        voucher = KonbiniVoucher(
            token=token,
            intent_id=intent["id"],
            amount=intent["amount"],
            product_description=options.get("product_description"),
            expires_at=expires_at,
            confirmation_number=number,
            stores={
                chain: {"confirmation_number": number, "payment_code": state.digits(12)}
                for chain in CHAINS
            },
            scenario=scenario,
            locale=_customer_locale(state, intent.get("customer")),
        )
        book = _book(state)
        book.by_token[token] = voucher
        book.current[intent["id"]] = token
        intent["status"] = "requires_action"
        intent["next_action"] = {
            "type": "konbini_display_details",
            "konbini_display_details": _display_details(state, voucher),
        }
        state.emit("payment_intent.requires_action", intent)
        pay_after = scenario.pay_after_seconds
        if pay_after is not None:
            voucher.timers.append(
                state.clock.schedule(
                    now + pay_after,
                    lambda: self._pay(state, voucher, state.rng.choice(CHAINS)),
                    f"konbini payment of {intent['id']}",
                )
            )
        voucher.timers.append(
            state.clock.schedule(
                expires_at + state.settings.expiry_buffer_seconds,
                lambda: self._expire(state, voucher),
                f"konbini expiry of {intent['id']}",
            )
        )

    def _generate_number(self, state: State) -> str:
        reserved = {s.confirmation_number for s in scenarios.Scenario}
        while True:
            number = state.digits(11)
            if number not in reserved:
                return number

    def void(self, state: State, intent: dict[str, Any], *, why: str) -> None:
        """Void the live voucher; refused while the customer is paying at the store.

        "Paying" lasts while they are at the counter and, after they walk away, until the
        slip they printed expires (Stripe: retry after they abandon *and* the slip expires).
        """
        voucher = current_voucher(state, intent["id"])
        if voucher is None:
            return
        slip_valid = voucher.slip_expires_at is not None and state.now() < voucher.slip_expires_at
        if voucher.in_store or slip_valid:
            raise ApiError(
                400,
                "This PaymentIntent's Konbini payment cannot be canceled right now: the "
                "customer is paying at the store. Retry after the attempt is abandoned "
                "and the slip expires.",
                # The code is the emulator's choice (Stripe documents the refusal, not its
                # code); the intent rides along, as on Stripe's state errors.
                code="payment_intent_unexpected_state",
                extra={"payment_intent": dict(intent)},
            )
        voucher.stop("void")

    # ---- transitions ---------------------------------------------------------------------

    def _pay(self, state: State, voucher: KonbiniVoucher, chain: str) -> None:
        intent = state.objects["payment_intent"][voucher.intent_id]
        voucher.stop("paid")
        payment_intents.succeed(state, intent, {"store": {"chain": chain}})

    def _expire(self, state: State, voucher: KonbiniVoucher) -> None:
        if voucher.status != "active":
            return
        intent = state.objects["payment_intent"][voucher.intent_id]
        voucher.stop("failed")
        method = state.find(intent["payment_method"]) if intent["payment_method"] else None
        error: dict[str, Any] = {
            "type": "invalid_request_error",
            "code": "payment_intent_payment_attempt_expired",
            "doc_url": "https://docs.stripe.com/error-codes#payment-intent-payment-attempt-expired",
            "message": "The payment attempt for this PaymentIntent has expired: the customer "
            "did not pay at the store before the deadline.",
            "payment_method_type": "konbini",
        }
        if method is not None:
            error["payment_method"] = dict(method)
        intent.update(
            status="requires_payment_method",
            next_action=None,
            payment_method=None,
            last_payment_error=error,
        )
        state.emit("payment_intent.payment_failed", intent)

    # ---- store controls (tests) ----------------------------------------------------------

    def begin_store_payment(self, state: State, intent_id: str) -> None:
        """Start paying at a store (cancellation now fails)."""
        voucher = self._live(state, intent_id)
        if state.now() >= voucher.expires_at:
            raise ApiError(
                400,
                "The voucher has expired: a payment can no longer be started at the store.",
                code="payment_intent_payment_attempt_expired",
            )
        voucher.in_store = True
        voucher.slip_expires_at = int(state.now() + state.settings.slip_lifetime_seconds)

    def abandon_store_payment(self, state: State, intent_id: str) -> None:
        """Walk away from the counter; cancellation works again once the slip expires."""
        self._live(state, intent_id).in_store = False

    def complete_store_payment(self, state: State, intent_id: str, chain: str) -> None:
        """Pay; allowed before ``expires_at``, or later if already paying."""
        if chain not in CHAINS:
            raise ApiError(400, f"Unknown chain {chain!r}; one of {', '.join(CHAINS)}.")
        voucher = self._live(state, intent_id)
        now = state.now()
        slip_valid = voucher.slip_expires_at is not None and now < voucher.slip_expires_at
        if now >= voucher.expires_at and not (voucher.in_store or slip_valid):
            raise ApiError(
                400,
                "The voucher has expired and no store payment was in progress.",
                code="payment_intent_payment_attempt_expired",
            )
        self._pay(state, voucher, chain)

    def _live(self, state: State, intent_id: str) -> KonbiniVoucher:
        state.get("payment_intent", intent_id, param="intent")
        voucher = current_voucher(state, intent_id)
        if voucher is None:
            raise ApiError(
                400,
                f"PaymentIntent {intent_id} has no live Konbini voucher.",
                code="payment_intent_unexpected_state",
            )
        return voucher


def register(router: Router, state: State) -> None:
    """Make Konbini available to PaymentIntents (it adds no routes of its own)."""
    del router
    payment_intents.register_type(state, KonbiniType())
