"""Idempotency keys, and the metadata keys the SDK writes: every one defined here, once.

Which key is sent (:class:`KeyChain`): keys are derived from the merchant's order id (or
the PaymentIntent id) and the operation, ``konbini-sdk:v1:order:{order_id}:create``, so a
crashed and restarted process, or a second thread, sends the same key as the first. Stripe
stores the result of every request that began executing, errors included, for 24 hours and
replays it (``Idempotent-Replayed: true``) to anyone sending the same key. A key whose stored
result is an error would block the order for a day, so the chain moves to the next
generation (``...:create:g2``, ``:g3`` ...) exactly when Stripe *replays* a definitive error
for the current key. A replayed error proves the key is permanently bound to a request that
created nothing, so no caller can ever create anything under it; every caller that reaches
the same key gets the same replay and takes the same step, so concurrent callers walk one
chain and meet on the same next key. A *fresh* definitive error does not move the chain (the
next attempt sends the same key again; if Stripe stored the error it is replayed and the chain
moves then): moving on a fresh error could let a slower caller, whose request with the old key
was never stored, create a second object.

Every key an operation sends is built by a function below; no other module spells one.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote

from konbini_sdk._exceptions import KonbiniValidationError

__all__ = [
    "KEY_PREFIX",
    "MERCHANT_REFUND_ID_METADATA_KEY",
    "ORDER_ID_METADATA_KEY",
    "KeyChain",
    "checkout_session_key",
    "derived_key",
    "intent_key",
    "invoice_key",
    "order_key",
    "refund_idempotency_key",
    "refund_object_key",
]

#: Metadata key under which the merchant's order id is stored (PaymentIntents, Checkout
#: Sessions, invoices, refunds).
ORDER_ID_METADATA_KEY: Final = "order_id"

#: Metadata key under which a refund keeps the merchant's own refund id.
MERCHANT_REFUND_ID_METADATA_KEY: Final = "merchant_refund_id"

#: Every idempotency key the SDK derives starts with this; ``v1`` versions the scheme.
KEY_PREFIX: Final = "konbini-sdk:v1"

#: The longest order id (or merchant refund id) accepted, in characters.
MAX_ORDER_ID_LENGTH: Final = 100

#: Stripe accepts idempotency keys of at most 255 characters. Derived keys are ASCII (the id
#: is percent-encoded), so they are as many bytes as characters.
MAX_KEY_LENGTH: Final = 255

#: The longest base key (generation 1): 15 characters stay free for ``:g<generation>``.
MAX_BASE_KEY_LENGTH: Final = MAX_KEY_LENGTH - 15

#: Characters ``quote(..., safe="-_.~")`` leaves as they are: such a part needs no encoding
#: (and holds no control character).
_UNQUOTED: Final = re.compile(r"[A-Za-z0-9_.~-]+")
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")


def _key_part(value: str, field_name: str, max_length: int | None = MAX_ORDER_ID_LENGTH) -> str:
    if not isinstance(value, str) or not value or not value.strip():
        raise KonbiniValidationError(field_name, "must be a non-empty string")
    if max_length is not None and len(value) > max_length:
        raise KonbiniValidationError(field_name, f"at most {max_length} characters")
    if _UNQUOTED.fullmatch(value):
        return value  # what quote() would return, without the per-character work
    if _CONTROL.search(value):
        raise KonbiniValidationError(field_name, "must not contain control characters")
    # Percent-encoding keeps the key ASCII (it travels as an HTTP header) and injective:
    # ':' is encoded too, so no order id can imitate another key's structure.
    return quote(value, safe="-_.~")


def derived_key(
    kind: str,
    value: str,
    operation: str,
    *,
    field_name: str,
    max_length: int | None = MAX_ORDER_ID_LENGTH,
) -> str:
    """Return the base idempotency key ``konbini-sdk:v1:{kind}:{id}:{operation}``.

    The id is percent-encoded (readable for ordinary ids: ``order-1234`` stays as it is).
    When the readable key would pass :data:`MAX_BASE_KEY_LENGTH` (an order id of 100 kanji is
    900 characters encoded) the id is replaced by ``%h`` and the SHA-256 of its UTF-8 bytes
    (64 hex digits): the same id always gives the same key, every key stays within Stripe's
    255 characters with room for its generation suffix, and no encoded id can look like a
    digest (percent-encoding never writes ``%h``). Raises ``KonbiniValidationError`` naming
    ``field_name`` for an empty id, one over ``max_length`` characters (``None``: no limit)
    or one with control characters.
    """
    key = f"{KEY_PREFIX}:{kind}:{_key_part(value, field_name, max_length)}:{operation}"
    if len(key) > MAX_BASE_KEY_LENGTH:
        digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
        key = f"{KEY_PREFIX}:{kind}:%h{digest}:{operation}"
        if len(key) > MAX_BASE_KEY_LENGTH:  # only an SDK operation name could do this
            raise ValueError(f"operation name too long for an idempotency key: {operation!r}")
    return key


def order_key(order_id: str, operation: str) -> str:
    """Return the base idempotency key of ``operation`` on the merchant's order ``order_id``.

    Within Stripe's 255 characters for every accepted order id (see :func:`derived_key`).
    """
    return derived_key("order", order_id, operation, field_name="order_id")


def intent_key(payment_intent_id: str, operation: str, discriminator: str | None = None) -> str:
    """Return the base idempotency key of ``operation`` on a PaymentIntent.

    ``discriminator`` separates repeated operations on purpose (a reissue names the voucher
    it voids, so reissuing the same voucher twice still yields one new voucher); it is hashed
    so that no URL or personal data ends up in a header or a log line.
    """
    if discriminator is not None:
        operation += ":" + hashlib.sha256(discriminator.encode()).hexdigest()[:16]
    return derived_key("pi", payment_intent_id, operation, field_name="payment_intent_id")


@dataclass
class KeyChain:
    """The generations of one operation's idempotency key: ``base``, ``base:g2``, ...

    Move to the next generation only when Stripe replays a definitive error for the current
    key (see the module docstring for why that is safe and why nothing else is).
    """

    base: str
    generation: int = 1

    @property
    def key(self) -> str:
        """Return the key to send now."""
        return self.base if self.generation == 1 else f"{self.base}:g{self.generation}"

    def advance(self) -> None:
        """Move to the next generation."""
        self.generation += 1


def checkout_session_key(session_id: str, operation: str) -> str:
    """Return the base idempotency key of ``operation`` on a Checkout Session (``cs_...``)."""
    return derived_key("cs", session_id, operation, field_name="session_id", max_length=None)


def invoice_key(invoice_id: str, operation: str) -> str:
    """Return the base idempotency key of ``operation`` on an invoice (``in_...``)."""
    return derived_key("in", invoice_id, operation, field_name="invoice_id", max_length=None)


def refund_object_key(refund_id: str, operation: str) -> str:
    """Return the base idempotency key of ``operation`` on a Stripe Refund (``re_...``)."""
    return derived_key(
        "refund-object", refund_id, operation, field_name="refund_id", max_length=None
    )


def refund_idempotency_key(
    *, merchant_refund_id: str | None = None, order_id: str | None = None
) -> str:
    """Return the idempotency key of creating a refund.

    From the merchant's own refund id (``konbini-sdk:v1:refund:{id}:create``: one Stripe
    Refund per merchant refund, however often the call is repeated), else from the order id
    (``konbini-sdk:v1:order:{id}:refund``: the order's one refund). One of the two is needed.
    """
    if merchant_refund_id is not None:
        return derived_key("refund", merchant_refund_id, "create", field_name="merchant_refund_id")
    if order_id is not None:
        return order_key(order_id, "refund")
    raise KonbiniValidationError(
        "merchant_refund_id",
        "give merchant_refund_id (or order_id for the order's single refund) so that a "
        "repeated call can never refund twice",
    )
