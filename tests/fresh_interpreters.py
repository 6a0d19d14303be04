"""The fresh interpreters that several test modules read: each runs once per process.

What a fresh interpreter proves (what is loaded when, what is written with nothing
configured) needs one start of ``python`` each, which imports stripe, pydantic and the SDK
again (a third of a CPU-second). The checks that need the same fresh state share one
interpreter: each step records its facts, in order, before the next one runs, and the
tests read them. ``tests/test_lazy_imports.py`` reads both; ``tests/test_quiet_by_default.py``
reads the payment-first one's last step (a payment and a failed retrieve with neither
structlog nor logging configured). Both modules run on one parallel worker
(``ONE_WORKER_GROUPS`` in tests/conftest.py), so each interpreter starts once per run.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

#: One fresh interpreter that takes the webhook path first (imports, then a processed event),
#: then the payment path, then logs without structlog; each step records what it finds, in
#: order, before the next one runs.
#: The logged lines go to stdout before the facts (the last line, JSON).
#: A payment and a retrieve of a missing intent on the emulator, the SDK's logging left as the
#: script found it (``voucher`` and ``missing_intent_status`` are defined after it). It ends
#: :data:`CLIENT_FIRST`, and tests/test_quiet_by_default.py runs it after configuring logging.
QUIET_PAYMENT = """
from konbini_sdk import BillingDetails, KonbiniClient, PaymentIntentRequest, StripeAPIError
from konbini_sdk.testing import Emulator

with Emulator(seed=5) as emu:
    client = KonbiniClient("sk_test_quiet", api_base=emu.api_base)
    voucher = client.pay_order(
        "order-quiet-1",
        PaymentIntentRequest(amount=2980, product_description="Quiet order"),
        BillingDetails(name="Yamada Taro", email="taro@example.jp"),
    )
    try:
        client.retrieve("pi_doesnotexist")
    except StripeAPIError as error:
        missing_intent_status = error.http_status
    else:
        missing_intent_status = "found"
"""

WEBHOOKS_FIRST = """
import json, logging, sys
facts = {}
import konbini_sdk
facts["import konbini_sdk loads"] = sorted(
    m for m in ("stripe", "pydantic", "psycopg", "structlog") if m in sys.modules
)
facts["webhooks imported before the attribute"] = "konbini_sdk.webhooks" in sys.modules
facts["webhooks attribute"] = konbini_sdk.webhooks.WebhookProcessor.__name__

from konbini_sdk.webhooks import RefundUpdated, SQLiteEventStore, WebhookProcessor
facts["webhook path loads"] = sorted(
    name for name in sys.modules
    if name in {"konbini_sdk._retry", "konbini_sdk._engine", "tenacity", "konbini_sdk._requests"}
    or name.startswith(("konbini_sdk._async", "konbini_sdk._sync"))
)
facts["refund event"] = RefundUpdated.__name__
# A signed refund.updated, processed: the refund is read from its JSON (no stripe object).
import hashlib, hmac, time
from konbini_sdk.webhooks import MemoryEventStore
now = int(time.time())
refund = {"id": "re_fresh", "object": "refund", "amount": 500, "currency": "jpy",
          "created": now, "status": "pending", "payment_intent": "pi_fresh"}
body = json.dumps({"id": "evt_fresh", "object": "event", "type": "refund.updated",
                   "created": now, "livemode": False, "data": {"object": refund}}).encode()
mac = hmac.new(b"whsec_fresh", b"%d." % now + body, hashlib.sha256).hexdigest()
processor = WebhookProcessor(["whsec_fresh"], store=MemoryEventStore())
handled = []
processor.on(RefundUpdated)(lambda ev: handled.append([ev.refund.id, str(ev.refund.state)]))
result = processor.process(body, f"t={now},v1={mac}")
facts["refund processed"] = [result.outcome, handled]
facts["webhook path loads stripe or an HTTP client"] = sorted(
    m for m in ("stripe", "requests", "httpx", "urllib3") if m in sys.modules
)

from konbini_sdk import BillingDetails, KonbiniClient, PaymentIntentRequest
facts["payment path then loads"] = sorted(m for m in ("tenacity", "structlog") if m in sys.modules)
facts["request model built at import"] = PaymentIntentRequest.__pydantic_complete__
request = PaymentIntentRequest(amount=1200)
facts["request model built on use"] = PaymentIntentRequest.__pydantic_complete__
facts["request amount"] = request.amount

from konbini_sdk._logging import get_logger
get_logger().info("konbini.quiet", amount=1)
logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(message)s")
get_logger().info("konbini.test", email="taro@example.com", amount=1200)
facts["structlog loaded by logging"] = "structlog" in sys.modules
print(json.dumps(facts))
"""

#: One fresh interpreter that takes the payment path first: the client, a retry, the
#: client's refunds and Checkout on first use, then the webhook stores.
CLIENT_FIRST = """
import json, sys
facts = {}
from konbini_sdk import KonbiniClient
checkout_modules = {"konbini_sdk._checkout", "konbini_sdk._sync.checkout"}
facts["client loads webhooks or checkout"] = sorted(
    {"konbini_sdk.webhooks", *checkout_modules} & set(sys.modules)
)
facts["client loads refunds"] = sorted(
    {"konbini_sdk._sync.refunds", "konbini_sdk._refund_view"} & set(sys.modules)
)

from konbini_sdk import RateLimitedError, RetryPolicy
from konbini_sdk._retry import call_with_retries

calls = []

def attempt(number):
    calls.append(number)
    if number == 1:
        raise RateLimitedError("rate limited", code="rate_limit", http_status=429)
    return "done"

facts["tenacity before a retry"] = "tenacity" in sys.modules
policy = RetryPolicy(max_attempts=3)
clock = lambda: 0.0
facts["retry result"] = call_with_retries(
    attempt, lambda started: policy.retrying(sleep=lambda s: None, clock=clock,
                                             started_at=started), clock
)
facts["tenacity after a retry"] = "tenacity" in sys.modules
facts["retry attempts"] = calls

client = KonbiniClient("sk_test_x")
refunds = client.refunds
facts["refunds"] = [type(refunds).__name__, client.refunds is refunds]
facts["checkout module"] = type(KonbiniClient("sk_test_x").checkout).__module__

from konbini_sdk.webhooks import SQLiteEventStore, WebhookProcessor
facts["webhooks after the client load psycopg"] = "psycopg" in sys.modules
from konbini_sdk import PostgresEventStore
facts["postgres store module"] = PostgresEventStore.__module__

# Last: a payment and a failed retrieve, with structlog and logging still unconfigured
# (nothing above configures either): they must write nothing (tests/test_quiet_by_default.py).
""" + QUIET_PAYMENT + """
facts["quiet payment amount"] = voucher.amount
facts["quiet missing intent"] = missing_intent_status
print(json.dumps(facts))
"""


@dataclass(frozen=True)
class Fresh:
    """What a fresh interpreter found: its facts, and the lines it printed before them."""

    facts: dict[str, Any]
    lines: list[str]


def _fresh(script: str) -> Fresh:
    """Run ``script`` in a fresh interpreter; it prints its facts as JSON on its last line."""
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr  # nothing written there, the first log line included
    *lines, last = done.stdout.splitlines()
    return Fresh(json.loads(last), lines)


@functools.cache
def webhooks_first() -> Fresh:
    """:data:`WEBHOOKS_FIRST`'s facts (the interpreter starts on the first call)."""
    return _fresh(WEBHOOKS_FIRST)


@functools.cache
def client_first() -> Fresh:
    """:data:`CLIENT_FIRST`'s facts (the interpreter starts on the first call)."""
    return _fresh(CLIENT_FIRST)
