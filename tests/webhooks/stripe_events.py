"""Realistic Konbini webhook payloads, Stripe's signing scheme, and seeded event streams."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import time
from dataclasses import dataclass, field
from typing import Any

SECRET = "whsec_test_konbini_primary_0001"
OLD_SECRET = "whsec_test_konbini_previous_0002"
BASE_TIME = 1_763_900_000  # 2025-11-23, JST afternoon


def sign(body: bytes, secret: str = SECRET, timestamp: int | None = None) -> str:
    """A ``Stripe-Signature`` header value, computed as Stripe does (v1 = HMAC-SHA256)."""
    ts = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


def encode(event: dict[str, Any]) -> bytes:
    return json.dumps(event, ensure_ascii=False).encode()


def envelope(event_id: str, event_type: str, created: int, obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": event_id,
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": created,
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }


def _voucher(pi_id: str, created: int) -> dict[str, Any]:
    stores = {
        chain: {
            "confirmation_number": "09012345678",
            "payment_code": hashlib.sha256(pi_id.encode()).hexdigest()[:6],
        }
        for chain in ("familymart", "lawson", "ministop", "seicomart")
    }
    return {
        "type": "konbini_display_details",
        "konbini_display_details": {
            "expires_at": created + 3 * 86400,
            "hosted_voucher_url": f"https://payments.stripe.com/konbini/voucher/test_{pi_id}",
            "stores": stores,
        },
    }


def payment_intent(
    pi_id: str,
    status: str,
    created: int,
    *,
    amount: int = 1980,
    error_code: str | None = None,
) -> dict[str, Any]:
    succeeded = status == "succeeded"
    return {
        "id": pi_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_received": amount if succeeded else 0,
        "canceled_at": created if status == "canceled" else None,
        "cancellation_reason": "requested_by_customer" if status == "canceled" else None,
        "capture_method": "automatic",
        "client_secret": f"{pi_id}_secret_do_not_log",
        "confirmation_method": "automatic",
        "created": BASE_TIME,
        "currency": "jpy",
        "customer": None,
        "description": None,
        "last_payment_error": (
            {
                "code": error_code,
                "message": "The payment attempt expired.",
                "type": "invalid_request_error",
            }
            if error_code
            else None
        ),
        "latest_charge": f"ch_{pi_id[3:]}",
        "livemode": False,
        "metadata": {"order_id": f"order-{pi_id[-4:]}"},
        "next_action": _voucher(pi_id, created) if status == "requires_action" else None,
        "payment_method": f"pm_{pi_id[3:]}",
        "payment_method_options": {
            "konbini": {
                "confirmation_number": "09012345678",
                "expires_after_days": 3,
                "expires_at": None,
                "product_description": "お買い上げ商品",
            }
        },
        "payment_method_types": ["konbini"],
        "processing": None,
        "receipt_email": "taro.yamada@example.jp",
        "status": status,
    }


def checkout_session(cs_id: str, payment_status: str, pi_id: str) -> dict[str, Any]:
    return {
        "id": cs_id,
        "object": "checkout.session",
        "amount_total": 3300,
        "currency": "jpy",
        "customer_details": {
            "email": "hanako@example.jp",
            "name": "山田 花子",
            "phone": "09012345678",
        },
        "metadata": {"order_id": f"order-{cs_id[-4:]}"},
        "mode": "payment",
        "payment_intent": pi_id,
        "payment_method_types": ["konbini"],
        "payment_status": payment_status,
        "status": "complete",
        "success_url": "https://shop.example.jp/thanks",
    }


def refund(re_id: str, status: str, created: int, pi_id: str) -> dict[str, Any]:
    waiting = status == "requires_action"
    return {
        "id": re_id,
        "object": "refund",
        "amount": 1000,
        "charge": f"ch_{pi_id[3:]}",
        "created": BASE_TIME,
        "currency": "jpy",
        "instructions_email": "taro.yamada@example.jp",
        "metadata": {},
        "next_action": (
            {
                "type": "display_details",
                "display_details": {
                    "email_sent": {
                        "email_sent_at": created,
                        "email_sent_to": "taro.yamada@example.jp",
                    },
                    "expires_at": created + 45 * 86400,
                },
            }
            if waiting
            else None
        ),
        "payment_intent": pi_id,
        "reason": "requested_by_customer",
        "status": status,
    }


# --- seeded streams -------------------------------------------------------------------------


@dataclass
class Stream:
    """Events of many objects, each object's list in true (in-order) sequence."""

    events: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> event
    bodies: dict[str, bytes] = field(default_factory=dict)
    by_object: dict[str, list[str]] = field(default_factory=dict)  # object_key -> ids in order

    def add(self, object_key: str, event: dict[str, Any]) -> None:
        self.events[event["id"]] = event
        self.bodies[event["id"]] = encode(event)
        self.by_object.setdefault(object_key, []).append(event["id"])


_PI_VOUCHER = ("payment_intent.requires_action", "requires_action")
_PI_PAID = ("payment_intent.succeeded", "succeeded")
_PI_FAILED = ("payment_intent.payment_failed", "requires_payment_method")
_PI_CANCELED = ("payment_intent.canceled", "canceled")
_PI_PROCESSING = ("payment_intent.processing", "processing")
_CS_DONE = ("checkout.session.completed", "unpaid")
_CS_PAID = ("checkout.session.async_payment_succeeded", "paid")
_CS_FAILED = ("checkout.session.async_payment_failed", "unpaid")
_RE_WAIT = ("refund.updated", "requires_action")
_RE_PENDING = ("refund.updated", "pending")
_RE_OK = ("refund.updated", "succeeded")
_RE_UPD_FAILED = ("refund.updated", "failed")
_RE_FAILED = ("refund.failed", "failed")
_DAY = 86400
_EXPIRY = 3 * _DAY + 3600  # Stripe sends payment_failed about an hour after the deadline

#: name -> steps of (event type, object status, seconds after the previous event)
_FLOWS: dict[str, list[tuple[tuple[str, str], int]]] = {
    "paid": [(_PI_VOUCHER, 0), (_PI_PAID, 5400)],
    "paid_immediately": [(_PI_VOUCHER, 0), (_PI_PAID, 0)],
    "expired_then_paid": [
        (_PI_VOUCHER, 0), (_PI_FAILED, _EXPIRY), (_PI_VOUCHER, 600), (_PI_PAID, 7200),
    ],
    "expired": [(_PI_VOUCHER, 0), (_PI_FAILED, _EXPIRY)],
    "canceled": [(_PI_VOUCHER, 0), (_PI_CANCELED, 1800)],
    "processing_paid": [(_PI_VOUCHER, 0), (_PI_PROCESSING, 300), (_PI_PAID, 1)],
    "checkout_paid": [(_CS_DONE, 0), (_CS_PAID, 4000)],
    "checkout_expired": [(_CS_DONE, 0), (_CS_FAILED, _EXPIRY)],
    "refund_ok": [(_RE_WAIT, 0), (_RE_PENDING, _DAY), (_RE_OK, 3600)],
    "refund_bounced": [
        (_RE_WAIT, 0), (_RE_PENDING, _DAY), (_RE_OK, 3600),
        (_RE_WAIT, 5 * _DAY), (_RE_PENDING, _DAY), (_RE_OK, 3600),
    ],
    "refund_failed": [(_RE_WAIT, 0), (_RE_UPD_FAILED, 45 * _DAY), (_RE_FAILED, 0)],
}  # fmt: skip


def build_stream(rng: random.Random, n_events: int) -> Stream:
    """Whole object lifecycles, chosen at random, until exactly ``n_events`` events exist."""
    stream = Stream()
    counter = 0
    names = sorted(_FLOWS)
    while len(stream.events) < n_events:
        room = n_events - len(stream.events)
        fitting = [n for n in names if len(_FLOWS[n]) <= room]
        flow = rng.choice(fitting) if fitting else None
        steps = _FLOWS[flow] if flow else _FLOWS["paid"][:room]
        counter += 1
        tag = f"{counter:04d}{rng.randrange(16**8):08x}"
        pi_id, cs_id, re_id = f"pi_3Kb{tag}", f"cs_test_a1{tag}", f"re_3Kb{tag}"
        at = BASE_TIME + rng.randrange(86400)
        for (event_type, status), delay in steps:
            at += delay
            counter += 1
            event_id = f"evt_3Kb{counter:06d}{rng.randrange(16**10):010x}"
            if event_type.startswith("payment_intent."):
                failed = event_type.endswith("failed")
                code = "payment_intent_payment_attempt_expired" if failed else None
                obj = payment_intent(pi_id, status, at, error_code=code)
                key = f"payment_intent:{pi_id}"
            elif event_type.startswith("checkout."):
                obj = checkout_session(cs_id, status, pi_id)
                key = f"checkout_session:{cs_id}"
            else:
                obj = refund(re_id, status, at, pi_id)
                key = f"refund:{re_id}"
            stream.add(key, envelope(event_id, event_type, at, obj))
    return stream


def expected_final_state(stream: Stream, object_key: str) -> str:
    """The state an in-order processing leaves the object in (the state of its last event)."""
    last = stream.events[stream.by_object[object_key][-1]]
    obj = last["data"]["object"]
    event_type = last["type"]
    if event_type == "checkout.session.completed":
        return f"completed_{obj['payment_status']}"
    if event_type.startswith("checkout.session."):
        return event_type.removeprefix("checkout.session.")
    if event_type == "payment_intent.payment_failed":
        return "payment_failed"
    return str(obj["status"])
