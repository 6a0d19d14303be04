"""Checkout Sessions that offer Konbini: the request model and what a session state means.

Konbini's rules for Checkout (the ``checkout.session`` page of Stripe's Konbini guide):

- ``mode=payment`` only: Konbini is single-use, so subscription mode and setup mode are
  refused.
- every line item in ``jpy``, one-time prices only (no ``recurring`` price).
- ``konbini`` in ``allowed_payment_method_types`` (``card`` and others may sit beside it;
  ``payment_method_types`` is refused, as Stripe refuses it since 2026-09-30.endive).
- ``payment_method_options[konbini][expires_after_days]`` from 1 to 60 (Stripe's default 3).
- a hosted page (``ui_mode=hosted_page``, the default) returns to ``success_url``; an
  embedded page (``ui_mode=embedded_page``) to ``return_url`` and never has a
  ``success_url``. A Konbini customer is sent to the ``hosted_voucher_url`` after the form,
  not to ``success_url``.

After the form, ``checkout.session.completed`` arrives with ``payment_status=unpaid`` (the
voucher exists, wait); ``checkout.session.async_payment_succeeded`` means paid (fulfil);
``checkout.session.async_payment_failed`` means the voucher expired (contact the customer).
:class:`CheckoutState` reads a session the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal, Self, TypeVar, cast

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from konbini_sdk._idempotency import ORDER_ID_METADATA_KEY
from konbini_sdk._requests import (
    MAX_AMOUNT,
    MIN_AMOUNT,
    KonbiniModel,
    _email,
    _expires_after_days,
    _metadata,
)
from konbini_sdk._rules import (
    AllowedPaymentMethodTypes,
    is_http_url,
    jpy_only,
    refuse_payment_method_types,
    stripe_id,
    whole_number,
)
from konbini_sdk._rules import rule as _rule
from konbini_sdk._status import stripe_mapping

if TYPE_CHECKING:
    import stripe
    from stripe.params.checkout import SessionCreateParams


__all__ = [
    "CheckoutLineItem",
    "CheckoutPriceData",
    "CheckoutSessionRequest",
    "CheckoutState",
    "session_log_fields",
]

#: Checkout accepts at most this many line items in payment mode.
MAX_LINE_ITEMS: Final = 100
#: Stripe's ``client_reference_id`` limit.
MAX_CLIENT_REFERENCE_ID_LENGTH: Final = 200
#: Largest quantity Checkout accepts for one line item.
MAX_QUANTITY: Final = 999_999

_ID_PREFIXES: Final = {"price": "price_", "product": "prod_", "customer": "cus_"}

_T = TypeVar("_T")


def _stripe_id(kind: str, field: str) -> Any:
    prefix = _ID_PREFIXES[kind]
    return stripe_id(field, prefix, f"must be a Stripe {kind} id ({prefix}...)")


def _url(field: str) -> Any:
    def check(value: object) -> object:
        if value is None:
            return None
        if not isinstance(value, str) or not is_http_url(value):
            raise _rule(field, "must be an absolute http(s) URL")
        return value

    return BeforeValidator(check)


def _mode(value: object) -> object:
    if value == "payment":
        return value
    if value in ("subscription", "setup"):
        raise _rule(
            "mode",
            f"Konbini supports Checkout in 'payment' mode only, not {value!r} mode "
            "(Konbini is a single-use payment method)",
        )
    raise _rule("mode", "must be 'payment' (the only Checkout mode Konbini supports)")


def _ui_mode(value: object) -> object:
    if value in ("hosted_page", "embedded_page"):
        return value
    if value == "embedded":
        raise _rule("ui_mode", "the embedded page is 'embedded_page' in this API version")
    if value == "hosted":
        raise _rule("ui_mode", "the hosted page is 'hosted_page' in this API version")
    raise _rule("ui_mode", "must be 'hosted_page' or 'embedded_page'")


def _client_reference_id(value: object) -> object:
    if value is None:
        return None
    if (
        not isinstance(value, str)
        or not value.strip()
        or len(value) > MAX_CLIENT_REFERENCE_ID_LENGTH
    ):
        raise _rule(
            "client_reference_id",
            f"must be a non-blank string of at most {MAX_CLIENT_REFERENCE_ID_LENGTH} characters",
        )
    return value


class CheckoutProductData(KonbiniModel):
    """An inline product: ``name`` (required) and an optional ``description``."""

    name: str = Field(min_length=1, max_length=250)
    description: str | None = Field(default=None, max_length=40_000)


class CheckoutPriceData(KonbiniModel):
    """An inline one-time price in yen: ``unit_amount`` and a product (inline or by id).

    ``recurring`` exists only to be refused: Konbini takes one-time prices only.
    """

    currency: Annotated[
        Literal["jpy"],
        jpy_only("Konbini in Checkout needs every line item priced in 'jpy' (one currency)"),
    ] = "jpy"
    unit_amount: Annotated[int, whole_number("unit_amount", 0, MAX_AMOUNT)]
    product_data: CheckoutProductData | None = None
    product: Annotated[str | None, _stripe_id("product", "product")] = None
    recurring: Any = None

    @field_validator("recurring", mode="before")
    @classmethod
    def _one_time(cls, value: object) -> object:
        if value is not None:
            raise _rule(
                "recurring",
                "Konbini accepts one-time prices only; a recurring price needs a "
                "subscription, which Konbini does not support in Checkout",
            )
        return value

    @model_validator(mode="after")
    def _one_product(self) -> Self:
        if (self.product_data is None) == (self.product is None):
            raise _rule("product_data", "give exactly one of product_data or product")
        return self

    def to_stripe_params(self) -> dict[str, Any]:
        """``line_items[n][price_data]``."""
        params: dict[str, Any] = {"currency": self.currency, "unit_amount": self.unit_amount}
        if self.product is not None:
            params["product"] = self.product
        if self.product_data is not None:
            params["product_data"] = self.product_data.model_dump(exclude_none=True)
        return params


class CheckoutLineItem(KonbiniModel):
    """One line item: an inline ``price_data`` or an existing ``price`` id, and a quantity.

    A ``price`` id cannot be checked locally: Stripe (and the emulator) refuse a recurring or
    non-JPY price when the session is created.
    """

    price: Annotated[str | None, _stripe_id("price", "price")] = None
    price_data: CheckoutPriceData | None = None
    quantity: Annotated[int, whole_number("quantity", 1, MAX_QUANTITY)] = 1

    @model_validator(mode="after")
    def _one_price(self) -> Self:
        if (self.price is None) == (self.price_data is None):
            raise _rule("price", "give exactly one of price or price_data")
        return self

    @property
    def amount(self) -> int | None:
        """``unit_amount * quantity`` for an inline price; ``None`` for a price id."""
        if self.price_data is None:
            return None
        return self.price_data.unit_amount * self.quantity

    def to_stripe_params(self) -> dict[str, Any]:
        """``line_items[n]``."""
        params: dict[str, Any] = {"quantity": self.quantity}
        if self.price is not None:
            params["price"] = self.price
        if self.price_data is not None:
            params["price_data"] = self.price_data.to_stripe_params()
        return params


class CheckoutSessionRequest(KonbiniModel):
    """A Checkout Session (payment mode) offering Konbini; every Konbini rule checked.

    Rules (each failure raises ``KonbiniValidationError`` naming the field):

    - ``mode``: ``"payment"`` only (subscription and setup are refused: Konbini rule).
    - ``line_items``: 1 to 100, each in ``jpy`` with a one-time price (see
      :class:`CheckoutLineItem`). When every item has an inline price, the total must be
      from 120 to 300,000 yen (Konbini's limits); with a ``price`` id the total is unknown
      locally and Stripe checks it.
    - ``allowed_payment_method_types``: must include ``"konbini"``; default ``("konbini",)``
      (the endive name; ``payment_method_types`` is refused with a rule saying so).
    - ``expires_after_days``: 1 to 60 (``payment_method_options[konbini]``); default Stripe's 3.
    - ``ui_mode="hosted_page"`` (default): ``success_url`` required, ``cancel_url`` optional,
      no ``return_url``. ``ui_mode="embedded_page"``: ``return_url`` required, neither
      ``success_url`` nor ``cancel_url``. URLs must be absolute http(s).
    - ``customer`` (``cus_`` id) or ``customer_email``, not both.
    - ``client_reference_id``: the merchant's order id (at most 200 characters); it is also
      put in the PaymentIntent's ``metadata[order_id]``.
    - ``metadata``: Stripe's limits (50 keys, 40/500 characters).

    ``customer_email`` is masked in ``repr``.
    """

    line_items: tuple[CheckoutLineItem, ...]
    mode: Annotated[Literal["payment"], BeforeValidator(_mode)] = "payment"
    allowed_payment_method_types: AllowedPaymentMethodTypes = ("konbini",)
    _renamed_payment_method_types = model_validator(mode="before")(refuse_payment_method_types)
    expires_after_days: Annotated[int | None, _expires_after_days] = None
    ui_mode: Annotated[Literal["hosted_page", "embedded_page"], BeforeValidator(_ui_mode)] = (
        "hosted_page"
    )
    success_url: Annotated[str | None, _url("success_url")] = None
    cancel_url: Annotated[str | None, _url("cancel_url")] = None
    return_url: Annotated[str | None, _url("return_url")] = None
    customer: Annotated[str | None, _stripe_id("customer", "customer")] = None
    customer_email: Annotated[str | None, _email("customer_email")] = Field(
        default=None, repr=False
    )
    client_reference_id: Annotated[str | None, BeforeValidator(_client_reference_id)] = None
    metadata: Annotated[dict[str, str] | None, BeforeValidator(_metadata)] = None
    locale: Literal["auto", "ja", "en"] | None = None

    @model_validator(mode="after")
    def _konbini_rules(self) -> Self:
        if not 1 <= len(self.line_items) <= MAX_LINE_ITEMS:
            raise _rule("line_items", f"must hold 1 to {MAX_LINE_ITEMS} items")
        if self.ui_mode == "hosted_page":
            if self.success_url is None:
                raise _rule("success_url", "is required for the hosted page (ui_mode=hosted_page)")
            if self.return_url is not None:
                raise _rule(
                    "return_url", "is for ui_mode=embedded_page; the hosted page uses success_url"
                )
        else:
            if self.success_url is not None:
                raise _rule(
                    "success_url", "is not allowed with ui_mode=embedded_page; use return_url"
                )
            if self.cancel_url is not None:
                raise _rule("cancel_url", "is not allowed with ui_mode=embedded_page")
            if self.return_url is None:
                raise _rule(
                    "return_url", "is required for the embedded page (ui_mode=embedded_page)"
                )
        if self.customer is not None and self.customer_email is not None:
            raise _rule("customer_email", "give either customer or customer_email, not both")
        total = self.total_amount
        if total is not None and not MIN_AMOUNT <= total <= MAX_AMOUNT:
            raise _rule(
                "line_items",
                f"the total must be from {MIN_AMOUNT} to {MAX_AMOUNT:,} yen (Konbini limits)",
            )
        return self

    @property
    def total_amount(self) -> int | None:
        """The session's total in yen, or ``None`` when a line item names a ``price`` id."""
        amounts = [item.amount for item in self.line_items]
        if any(amount is None for amount in amounts):
            return None
        return sum(cast("list[int]", amounts))

    def to_stripe_params(self) -> SessionCreateParams:
        """Parameters for ``POST /v1/checkout/sessions`` (a fresh dict on every call)."""
        params: dict[str, Any] = {
            "mode": self.mode,
            "line_items": [item.to_stripe_params() for item in self.line_items],
            "allowed_payment_method_types": list(self.allowed_payment_method_types),
            "ui_mode": self.ui_mode,
        }
        if self.expires_after_days is not None:
            params["payment_method_options"] = {
                "konbini": {"expires_after_days": self.expires_after_days}
            }
        for name in (
            "success_url",
            "cancel_url",
            "return_url",
            "customer",
            "customer_email",
            "client_reference_id",
            "locale",
        ):
            value = getattr(self, name)
            if value is not None:
                params[name] = value
        if self.metadata is not None:
            params["metadata"] = dict(self.metadata)
        if self.client_reference_id is not None:
            params["payment_intent_data"] = {
                "metadata": {ORDER_ID_METADATA_KEY: self.client_reference_id}
            }
        return cast("SessionCreateParams", params)


class CheckoutState(BaseModel):
    """What a Checkout Session's state means for the merchant (no network call).

    ``status`` is the session's (``open``, ``complete``, ``expired``) and ``payment_status``
    its payment's (``unpaid``, ``paid``, ``no_payment_required``). A Konbini customer who
    submitted the form leaves the session ``complete`` but ``unpaid`` until they pay at the
    store: :attr:`awaiting_store_payment`. Fulfil only when :attr:`should_fulfil`.
    ``client_secret`` (embedded page) and ``url`` are kept out of ``repr``.

    A session stays ``complete``/``unpaid`` for good when the voucher expires (Stripe sends
    ``checkout.session.async_payment_failed`` and moves the PaymentIntent back to
    ``requires_payment_method``), so the session alone cannot tell waiting from failed:
    ``payment_intent_status`` (read with the session by :meth:`CheckoutSessions.state`)
    does. It is ``None`` when the session was read without its PaymentIntent expanded.
    """

    model_config = ConfigDict(frozen=True)

    session_id: str
    status: str | None
    payment_status: str
    payment_intent_id: str | None = None
    payment_intent_status: str | None = None
    client_reference_id: str | None = None
    amount_total: int | None = None
    url: str | None = Field(default=None, repr=False)
    client_secret: str | None = Field(default=None, repr=False)

    @property
    def should_fulfil(self) -> bool:
        """True when the session is paid: ship the goods."""
        return self.payment_status == "paid"

    @property
    def awaiting_store_payment(self) -> bool:
        """True when the form was submitted and the voucher is live, the money not arrived yet.

        False once the PaymentIntent left ``requires_action`` (voucher expired, canceled,
        paid). Without the PaymentIntent's status (a session read without ``expand``), a
        ``complete``/``unpaid`` session counts as awaiting.
        """
        return (
            self.status == "complete"
            and self.payment_status == "unpaid"
            and self.payment_intent_status in (None, "requires_action")
        )

    @property
    def payment_failed(self) -> bool:
        """True when the submitted session's payment failed or its voucher expired.

        The session is ``complete``/``unpaid`` and its PaymentIntent is back to
        ``requires_payment_method`` (or canceled): contact the customer for a new order.
        """
        return (
            self.status == "complete"
            and self.payment_status == "unpaid"
            and self.payment_intent_status in ("requires_payment_method", "canceled")
        )

    @classmethod
    def from_session(cls, session: object) -> CheckoutState:
        """Read a ``stripe.checkout.Session`` (or its JSON mapping)."""
        data = stripe_mapping(session, "session")
        intent = data.get("payment_intent")
        intent_status = None
        if isinstance(intent, Mapping):
            intent_status = intent.get("status")
            intent = intent.get("id")
        return cls(
            session_id=str(data.get("id")),
            status=data.get("status"),
            payment_status=str(data.get("payment_status")),
            payment_intent_id=str(intent) if intent else None,
            payment_intent_status=str(intent_status) if intent_status else None,
            client_reference_id=data.get("client_reference_id"),
            amount_total=data.get("amount_total"),
            url=data.get("url"),
            client_secret=data.get("client_secret"),
        )


def session_log_fields(session: stripe.checkout.Session) -> dict[str, Any]:
    """Return a session operation's log fields: ids and states (no URL, secret or email)."""
    return {
        "session_id": getattr(session, "id", None),
        "status": getattr(session, "status", None),
        "payment_status": getattr(session, "payment_status", None),
    }
