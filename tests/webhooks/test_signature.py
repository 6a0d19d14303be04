"""Our Stripe-Signature check decides exactly as ``stripe.WebhookSignature.verify_header``.

Thousands of generated deliveries, good and bad (tampered body, wrong secret, stale, future,
missing t, missing v1, several v1, other schemes, junk items, unreadable values), each
checked by both; the decisions (and, for our refusals, the reason) must agree.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import time

import pytest
import stripe

from konbini_sdk._exceptions import WebhookError
from konbini_sdk.webhooks._signature import SignatureVerifier
from tests.webhooks.stripe_events import OLD_SECRET, SECRET, encode, envelope, payment_intent

TOLERANCE = 300
NOW = 1_800_000_000.0


def _mac(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def _stripe_accepts(body: bytes, header: str, secrets: list[str]) -> bool:
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(body, header, secret, TOLERANCE)
        except stripe.SignatureVerificationError:
            continue
        return True
    return False


def _ours(body: bytes, header: str, secrets: list[str]) -> str | None:
    try:
        SignatureVerifier(secrets, TOLERANCE, now=time.time).verify(body, header)
    except WebhookError as exc:
        return exc.reason
    return None


def _bodies(rng: random.Random) -> list[bytes]:
    bodies = []
    for n in range(6):
        pi = payment_intent(f"pi_sig{n}", "requires_action", 1_763_900_000)
        pi["description"] = rng.choice(["ご注文 A-1", "order", "ｶﾀｶﾅ", ""])
        bodies.append(encode(envelope(f"evt_sig{n}", "payment_intent.requires_action",
                                      1_763_900_000, pi)))  # fmt: skip
    return [*bodies, b"", b"{}", b"not json at all", "日本語".encode()]


def _header(rng: random.Random, body: bytes) -> tuple[bytes, str]:
    """A (body, header) pair: a third genuine, the rest broken in one or more ways."""
    now = int(time.time())
    if rng.random() < 0.33:
        secret = rng.choice([SECRET, OLD_SECRET])
        items = [f"t={now}", f"v1={_mac(secret, str(now), body)}"]
        if rng.random() < 0.5:
            items.insert(
                rng.randrange(3), rng.choice(["v0=00", f"v1={_mac('whsec_x', str(now), body)}"])
            )
        return body, ",".join(items)
    timestamp = rng.choice(
        [now, now - 10, now - TOLERANCE + 5, now - TOLERANCE - 5, now - 86400, now + 10,
         now + 10_000, 0]
    )  # fmt: skip
    t_text = str(timestamp)
    t_text = rng.choice(
        [t_text, t_text, t_text, f" {t_text}", f"+{t_text}", "abc", "", f"{t_text}.5"]
    )
    secret = rng.choice([SECRET, SECRET, OLD_SECRET, "whsec_wrong", "whsec_"])
    signed_t = str(timestamp) if rng.random() < 0.9 else str(timestamp + 1)
    mac = _mac(secret, signed_t, body)
    items: list[str] = []
    if rng.random() < 0.92:
        items.append(f"t={t_text}")
    n_v1 = rng.choice([0, 1, 1, 1, 2, 3])
    for i in range(n_v1):
        v = mac if i == n_v1 - 1 or rng.random() < 0.3 else _mac("whsec_x", signed_t, body)
        v = rng.choice([v, v, v, v.upper(), v[:-1], v + "0", ""])
        items.append(f"v1={v}")
    for _ in range(rng.choice([0, 0, 1, 2])):
        items.append(
            rng.choice(
                ["v0=" + mac, "v2=" + mac, "junk", "x=y", "=", "t", "v1", "v1=a=b", "t=1=2",
                 f"t={timestamp + 99}", " v1=" + mac, "V1=" + mac]
            )
        )  # fmt: skip
    rng.shuffle(items) if rng.random() < 0.4 else None
    if rng.random() < 0.05:
        items = [rng.choice(["", ",", ",,,", "t=,v1=", "garbage"])]
    header = ",".join(items)
    if rng.random() < 0.1:
        body = body + b" "  # tampered after signing
    return body, header


@pytest.mark.parametrize("seed", range(4))
def test_decisions_match_stripe_on_generated_headers(seed: int) -> None:
    rng = random.Random(seed)
    bodies = _bodies(rng)
    accepted = refused = 0
    for _ in range(1500):
        body, header = _header(rng, rng.choice(bodies))
        secrets = rng.choice([[SECRET], [SECRET, OLD_SECRET], [OLD_SECRET]])
        if not header:
            header = "t=1"
        expected = _stripe_accepts(body, header, secrets)
        reason = _ours(body, header, secrets)
        assert (reason is None) == expected, (header, secrets, reason)
        if reason is None:
            accepted += 1
        else:
            refused += 1
            assert reason in ("bad signature", "timestamp outside tolerance"), reason
    # the generator really produces both kinds, in numbers
    assert accepted > 300
    assert refused > 500


def test_reasons() -> None:
    body = b'{"id": "evt_1"}'
    now = int(time.time())
    good = f"t={now},v1={_mac(SECRET, str(now), body)}"
    stale = f"t={now - 301},v1={_mac(SECRET, str(now - 301), body)}"
    assert _ours(body, good, [SECRET]) is None
    assert _ours(body, good, ["whsec_other", SECRET]) is None
    assert _ours(body, stale, [SECRET]) == "timestamp outside tolerance"
    assert _ours(body, stale, ["whsec_other"]) == "bad signature"
    assert _ours(body + b" ", good, [SECRET]) == "bad signature"
    assert _ours(body, "", [SECRET]) == "missing Stripe-Signature header"
    assert _ours(b"\xff" + body, good, [SECRET]) == "body is not UTF-8"
    # a timestamp in the future is accepted, as stripe does
    future = f"t={now + 3600},v1={_mac(SECRET, str(now + 3600), body)}"
    assert _ours(body, future, [SECRET]) is None


def test_tolerance_uses_the_given_clock() -> None:
    body = b"{}"
    header = f"t={int(NOW)},v1={_mac(SECRET, str(int(NOW)), body)}"
    SignatureVerifier([SECRET], TOLERANCE, now=lambda: NOW + 300).verify(body, header)
    with pytest.raises(WebhookError, match="tolerance"):
        SignatureVerifier([SECRET], TOLERANCE, now=lambda: NOW + 301).verify(body, header)


def test_secrets_are_not_shown() -> None:
    verifier = SignatureVerifier([SECRET, OLD_SECRET], TOLERANCE)
    assert SECRET not in repr(verifier)
    assert OLD_SECRET not in repr(verifier)


@pytest.mark.parametrize("length", [1, 38, 63, 64, 65, 200])
def test_the_keyed_states_are_hmac_sha256_for_every_key_length(length: int) -> None:
    """The verifier's own RFC 2104 states sign like ``hmac``: keys past the block hashed."""
    secret = ("k" * length)[:length]
    other = "z" * length
    verifier = SignatureVerifier([other, secret], TOLERANCE)
    body = b'{"id": "evt_1", "object": "event"}'
    timestamp = int(time.time())
    good = hmac.new(secret.encode(), b"%d." % timestamp + body, "sha256").hexdigest()
    verifier.verify(body, f"t={timestamp},v1={good}")
    flipped = good[:-1] + ("0" if good[-1] != "0" else "1")
    with pytest.raises(WebhookError, match="bad signature"):
        verifier.verify(body, f"t={timestamp},v1={flipped}")
    with pytest.raises(WebhookError, match="bad signature"):
        verifier.verify(body + b" ", f"t={timestamp},v1={good}")
