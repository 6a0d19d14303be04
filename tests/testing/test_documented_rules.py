"""Issue 17: the emulator follows Stripe's documented Konbini rules, and the SDK copes.

Each test names the fact (``konbini-facts.md``, a digest of Stripe's Konbini guide, seeds 000
and 004) it encodes.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import stripe

from konbini_sdk import (
    BillingDetails,
    KonbiniClient,
    KonbiniValidationError,
    PaymentIntentRequest,
    render_html,
    render_text,
)
from konbini_sdk._japanese import JST
from konbini_sdk.testing import Emulator, Scenario, VoucherQuirks
from tests.testing.conftest import konbini_params, spec_problems

NEVER = Scenario.FILL_NEVER.email("taro")
DAY = 86_400


def _end_of_day_jst(unix: int, days: int) -> int:
    last = datetime.fromtimestamp(unix, tz=JST).date() + timedelta(days=days)
    return int(datetime(last.year, last.month, last.day, 23, 59, 59, tzinfo=JST).timestamp())


def _confirm(client: stripe.StripeClient, intent_id: str, **options: Any) -> stripe.PaymentIntent:
    params: dict[str, Any] = {
        "payment_method_data": {
            "type": "konbini",
            "billing_details": {"name": "Yamada Taro", "email": NEVER},
        }
    }
    if options:
        params["payment_method_options"] = {"konbini": options}
    return client.v1.payment_intents.confirm(intent_id, params)


def _create(client: stripe.StripeClient, **options: Any) -> stripe.PaymentIntent:
    params: dict[str, Any] = {
        "amount": 2000,
        "currency": "jpy",
        "allowed_payment_method_types": ["konbini"],
    }
    if options:
        params["payment_method_options"] = {"konbini": options}
    return client.v1.payment_intents.create(params)


# ---- 1. default expiry -------------------------------------------------------------------


def test_default_expiry_counts_three_days_from_creation(
    emu: Emulator, client: stripe.StripeClient
) -> None:
    """Seed 004 / facts, "Expiry": with neither option, the voucher expires 3 days after the
    PaymentIntent was *created*, at 23:59 JST (created 12-05, confirmed 12-07 → 12-08, not
    12-10).
    """
    intent = _create(client)
    emu.advance(2 * DAY)
    confirmed = _confirm(client, intent.id)
    expires_at = confirmed.next_action.konbini_display_details.expires_at
    assert expires_at == _end_of_day_jst(intent.created, 3)
    assert expires_at != _end_of_day_jst(emu.timestamp(), 3)


def test_expires_after_days_counts_from_confirmation(
    emu: Emulator, client: stripe.StripeClient
) -> None:
    """Facts, "Expiry": ``expires_after_days=2`` confirmed Monday → Wednesday 23:59:59 JST."""
    intent = _create(client, expires_after_days=2)
    emu.advance(2 * DAY)
    confirmed = _confirm(client, intent.id)
    expires_at = confirmed.next_action.konbini_display_details.expires_at
    assert expires_at == _end_of_day_jst(emu.timestamp(), 2)


def test_default_expiry_already_past_refuses_the_confirmation(
    emu: Emulator, client: stripe.StripeClient
) -> None:
    """The default deadline (creation + 3 days) is gone 4 days later: nothing to issue.

    The refusal and its code are the emulator's choice (docs/emulator.md), by analogy with
    Stripe's documented rule for ``expires_at`` (at least 30 minutes after confirmation).
    """
    intent = _create(client)
    emu.advance(4 * DAY)
    with pytest.raises(stripe.InvalidRequestError) as raised:
        _confirm(client, intent.id)
    assert raised.value.code == "parameter_invalid_integer"
    assert raised.value.param == "payment_method_options[konbini][expires_after_days]"
    assert client.v1.payment_intents.retrieve(intent.id).status == "requires_payment_method"
    assert _confirm(client, intent.id, expires_after_days=1).status == "requires_action"


def test_sdk_deadline_counts_the_default_from_creation() -> None:
    """Facts, "Expiry": ``PaymentIntentRequest.deadline`` follows the same two rules."""
    created = datetime(2026, 12, 5, 10, 0, tzinfo=JST)
    confirmed = datetime(2026, 12, 7, 10, 0, tzinfo=JST)
    default = PaymentIntentRequest(amount=500)
    assert default.deadline(confirmed, created) == datetime(2026, 12, 8, 23, 59, 59, tzinfo=JST)
    # Created and confirmed in one request when no creation time is given.
    assert default.deadline(confirmed) == datetime(2026, 12, 10, 23, 59, 59, tzinfo=JST)
    two_days = PaymentIntentRequest(amount=500, expires_after_days=2)
    assert two_days.deadline(confirmed, created) == datetime(2026, 12, 9, 23, 59, 59, tzinfo=JST)


# ---- 5. validation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "number",
    [
        "\uff10\uff19\uff10\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18",  # full-width
        "\u0660\u0669\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668",  # Arabic-Indic
    ],
)
def test_confirmation_number_must_be_ascii_digits(client: stripe.StripeClient, number: str) -> None:
    """Facts, PaymentIntents: ``confirmation_number`` is 10 or 11 digits, numeric only."""
    with pytest.raises(stripe.InvalidRequestError) as raised:
        _create(client, confirmation_number=number)
    assert raised.value.code == "parameter_invalid_string"
    assert raised.value.param == "payment_method_options[konbini][confirmation_number]"


def test_product_description_refuses_half_width_katakana(client: stripe.StripeClient) -> None:
    """Facts: ``product_description`` only in Shift JIS (JIS X 0208:1997); half-width
    katakana are JIS X 0201, not JIS X 0208. Printable ASCII and full-width kana pass.
    """
    with pytest.raises(stripe.InvalidRequestError) as raised:
        _create(client, product_description="ﾃｨｰｼｬﾂ")
    assert raised.value.code == "parameter_invalid_string"
    assert raised.value.param == "payment_method_options[konbini][product_description]"
    created = _create(client, product_description="Tシャツ L-size")
    assert created.payment_method_options.konbini.product_description == "Tシャツ L-size"


@pytest.mark.parametrize(
    "email", ["not-an-email", "taro@", "taro@@example.com", "ta ro@example.com"]
)
def test_billing_email_must_be_an_address(client: stripe.StripeClient, email: str) -> None:
    """Facts, "Billing details collected for confirmation": ``email`` (required), an address."""
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.create(konbini_params(email))
    assert raised.value.code == "email_invalid"
    assert raised.value.param == "payment_method_data[billing_details][email]"
    assert not client.v1.payment_intents.list().data  # nothing created


# ---- 4. vouchers with gaps -----------------------------------------------------------------


@pytest.fixture
def gappy() -> Iterator[Emulator]:
    """An emulator answering vouchers with every gap Stripe's schema allows."""
    quirks = VoucherQuirks(
        null_stores=("ministop",), omit_confirmation_number=True, null_hosted_voucher_url=True
    )
    with Emulator(seed=5, voucher_quirks=quirks) as emulator:
        yield emulator
    problems = spec_problems(emulator.requests)
    assert not problems, "\n".join(problems)


@pytest.fixture
def gappy_client(gappy: Emulator) -> KonbiniClient:
    """A KonbiniClient on the gappy emulator that never sleeps."""
    return KonbiniClient(
        "sk_test_gappy", api_base=gappy.api_base, sleep=lambda _s: None, rng=random.Random(1)
    )


BILLING = BillingDetails(name="Yamada Taro", email=NEVER)


def test_emulator_can_answer_vouchers_with_gaps(gappy: Emulator) -> None:
    """Stripe's schema: store entries are nullable, ``confirmation_number`` optional,
    ``hosted_voucher_url`` nullable; ``VoucherQuirks`` produces each (docs/emulator.md).
    """
    client = stripe.StripeClient("sk_test_x", base_addresses={"api": gappy.api_base})
    intent = client.v1.payment_intents.create(konbini_params(NEVER))
    details = intent.next_action.konbini_display_details
    assert details.hosted_voucher_url is None
    assert details.stores.ministop is None
    assert "confirmation_number" not in details.stores.lawson
    assert details.stores.lawson.payment_code
    gappy.advance(4 * DAY)  # the voucher is still tracked: it expires as usual
    assert client.v1.payment_intents.retrieve(intent.id).status == "requires_payment_method"


def test_sdk_voucher_keeps_the_gaps(gappy_client: KonbiniClient) -> None:
    """Issue 17: a null ``hosted_voucher_url`` used to become the text ``'None'``."""
    voucher = gappy_client.pay_order("order-17", PaymentIntentRequest(amount=2000), BILLING)
    assert voucher.hosted_voucher_url is None
    assert "ministop" not in {chain.value for chain in voucher.stores}
    assert {chain.value for chain in voucher.stores} == {"familymart", "lawson", "seicomart"}
    assert all(code.confirmation_number is None for code in voucher.stores.values())
    text = render_text(voucher)
    html = render_html(voucher, "en")
    assert "None" not in text
    assert "None" not in html
    assert "<a href" not in html
    assert voucher.stores[next(iter(voucher.stores))].payment_code in text


def test_sdk_update_of_a_voucher_without_url_needs_void_voucher(
    gappy: Emulator, gappy_client: KonbiniClient
) -> None:
    """Facts: updating an intent with a pending Konbini payment cancels it, so the SDK asks
    for ``void_voucher=True`` even when Stripe gave the voucher no URL.
    """
    voucher = gappy_client.pay_order("order-17b", PaymentIntentRequest(amount=2000), BILLING)
    with pytest.raises(KonbiniValidationError) as raised:
        gappy_client.update_payment_intent(
            voucher.payment_intent_id, PaymentIntentRequest(amount=2500)
        )
    assert raised.value.field == "void_voucher"
    change = gappy_client.update_payment_intent(
        voucher.payment_intent_id, PaymentIntentRequest(amount=2500), void_voucher=True
    )
    assert change.payment_intent.status == "requires_payment_method"


def test_sdk_reissue_of_a_voucher_without_url_issues_one_new_voucher(
    gappy: Emulator, gappy_client: KonbiniClient
) -> None:
    """Facts: re-confirming creates new instructions; without URLs the SDK tells vouchers
    apart by their codes (one confirm, not a loop of them).
    """
    first = gappy_client.pay_order("order-17c", PaymentIntentRequest(amount=2000), BILLING)
    gappy.clear_requests()
    reissued = gappy_client.reissue_voucher(first.payment_intent_id, BILLING)
    confirms = [r for r in gappy.requests if r.path.endswith("/confirm")]
    assert len(confirms) == 1
    assert reissued.voucher.stores != first.stores
    assert reissued.voided_voucher_url is None
