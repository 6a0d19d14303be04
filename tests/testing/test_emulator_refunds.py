"""The emulator's Konbini refund lifecycle, driven with the bare ``stripe`` client.

Every exchange is checked against Stripe's spec by the ``emu`` fixture.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pytest
import stripe

from konbini_sdk.testing import Emulator, RefundBankAccount, Scenario
from konbini_sdk.testing._resources.refunds import EXPIRES_AFTER_SECONDS, SETTLE_SECONDS
from konbini_sdk.testing._wire import ApiError
from tests.testing.conftest import konbini_params

EMAIL = "hanako+succeed_immediately@example.com"
FAILING = [account for account in RefundBankAccount if not account.succeeds]


def paid_intent(client: stripe.StripeClient, amount: int = 2000) -> stripe.PaymentIntent:
    """A Konbini payment the customer has paid (succeeded, with a charge)."""
    intent = client.v1.payment_intents.create(konbini_params(EMAIL, amount=amount))
    paid = client.v1.payment_intents.retrieve(intent.id)
    assert paid.status == "succeeded"
    return paid


def charge_of(emu: Emulator, intent: stripe.PaymentIntent) -> dict[str, Any]:
    found = emu.get(str(intent.latest_charge))
    assert found is not None
    return found


def control(emu: Emulator, path: str, form: dict[str, str]) -> tuple[int, Any]:
    request = urllib.request.Request(  # noqa: S310 - the local emulator
        f"{emu.api_base}/_emulator/{path}",
        data=urllib.parse.urlencode(form).encode(),
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_create_waits_on_the_customer_with_email_and_45_day_deadline(
    emu: Emulator, client: stripe.StripeClient
) -> None:
    intent = paid_intent(client)
    refund = client.v1.refunds.create({"payment_intent": intent.id})
    assert refund.status == "requires_action"
    assert refund.amount == 2000
    assert refund.currency == "jpy"
    assert refund.payment_intent == intent.id
    assert refund.charge == intent.latest_charge
    assert refund.instructions_email == EMAIL
    assert refund.next_action is not None
    assert refund.next_action.type == "display_details"
    details = refund.next_action.display_details
    assert details is not None
    assert details.email_sent.email_sent_to == EMAIL
    assert details.email_sent.email_sent_at == refund.created == emu.timestamp()
    assert details.expires_at == refund.created + 45 * 86400
    charge = charge_of(emu, intent)
    assert charge["amount_refunded"] == 2000
    assert charge["refunded"] is True
    assert [r["id"] for r in charge["refunds"]["data"]] == [refund.id]
    assert [e["type"] for e in emu.events() if e["type"].startswith(("refund", "charge.ref"))] == [
        "refund.created",
        "charge.refunded",
    ]
    created = emu.events("refund.created")[0]
    assert created["data"]["object"]["id"] == refund.id
    assert created["request"]["id"] is not None


def test_instructions_email_parameter_wins_over_the_billing_email(
    emu: Emulator, client: stripe.StripeClient
) -> None:
    intent = paid_intent(client)
    refund = client.v1.refunds.create(
        {"payment_intent": intent.id, "instructions_email": "other@example.com"}
    )
    assert refund.instructions_email == "other@example.com"
    assert refund.next_action.display_details.email_sent.email_sent_to == "other@example.com"


def test_succeeding_bank_account_goes_pending_then_succeeded_after_settling(
    emu: Emulator, client: stripe.StripeClient
) -> None:
    intent = paid_intent(client)
    refund = client.v1.refunds.create({"payment_intent": intent.id, "amount": 800})
    returned = emu.submit_refund_bank_account(refund.id, RefundBankAccount.SUCCEEDS.value)
    assert returned["status"] == "pending"
    assert "next_action" not in returned
    assert client.v1.refunds.retrieve(refund.id).status == "pending"
    emu.advance(SETTLE_SECONDS - 1)
    assert client.v1.refunds.retrieve(refund.id).status == "pending"
    emu.advance(1)
    done = client.v1.refunds.retrieve(refund.id)
    assert done.status == "succeeded"
    assert charge_of(emu, intent)["amount_refunded"] == 800
    assert charge_of(emu, intent)["refunded"] is False
    updates = emu.events("refund.updated")
    assert [e["data"]["object"]["status"] for e in updates] == ["pending", "succeeded"]
    assert [e["data"]["previous_attributes"]["status"] for e in updates] == [
        "requires_action",
        "pending",
    ]
    assert len(emu.events("charge.refund.updated")) == 2
    assert emu.events("refund.failed") == []


@pytest.mark.parametrize("account", FAILING, ids=lambda a: a.value)
def test_failing_bank_accounts_return_the_refund_to_the_customer(
    emu: Emulator, client: stripe.StripeClient, account: RefundBankAccount
) -> None:
    intent = paid_intent(client)
    refund = client.v1.refunds.create({"payment_intent": intent.id})
    first_email = refund.next_action.display_details.email_sent.email_sent_at
    emu.advance(3600)
    assert emu.submit_refund_bank_account(refund.id, account.account_number)["status"] == "pending"
    emu.advance(SETTLE_SECONDS)
    again = client.v1.refunds.retrieve(refund.id)
    assert again.status == "requires_action"
    details = again.next_action.display_details
    assert details.email_sent.email_sent_at == first_email + 3600 + SETTLE_SECONDS
    assert details.expires_at == refund.next_action.display_details.expires_at
    assert charge_of(emu, intent)["amount_refunded"] == 2000
    # The customer resubmits with a good account this time.
    emu.submit_refund_bank_account(refund.id, RefundBankAccount.SUCCEEDS.account_number)
    emu.advance(SETTLE_SECONDS)
    assert client.v1.refunds.retrieve(refund.id).status == "succeeded"
    statuses = [e["data"]["object"]["status"] for e in emu.events("refund.updated")]
    assert statuses == ["pending", "requires_action", "pending", "succeeded"]


@pytest.mark.parametrize(
    ("routing", "account"),
    [("1100000", "1234567"), ("1100000", ""), ("9999999", "0001234")],
)
def test_other_bank_accounts_are_refused_and_nothing_changes(
    emu: Emulator, client: stripe.StripeClient, routing: str, account: str
) -> None:
    intent = paid_intent(client)
    refund = client.v1.refunds.create({"payment_intent": intent.id})
    with pytest.raises(ApiError) as caught:
        emu.submit_refund_bank_account(refund.id, account, routing)
    assert caught.value.status == 400
    assert "1100000" in caught.value.message
    assert client.v1.refunds.retrieve(refund.id).status == "requires_action"
    assert emu.events("refund.updated") == []


def test_bank_details_only_while_waiting(emu: Emulator, client: stripe.StripeClient) -> None:
    intent = paid_intent(client)
    refund = client.v1.refunds.create({"payment_intent": intent.id})
    emu.submit_refund_bank_account(refund.id, "0001234")
    with pytest.raises(ApiError, match="not waiting for bank details"):
        emu.submit_refund_bank_account(refund.id, "0001234")


def test_no_bank_details_for_45_days_fails_the_refund(
    emu: Emulator, client: stripe.StripeClient
) -> None:
    intent = paid_intent(client)
    refund = client.v1.refunds.create({"payment_intent": intent.id, "amount": 1500})
    emu.advance(EXPIRES_AFTER_SECONDS - 1)
    assert client.v1.refunds.retrieve(refund.id).status == "requires_action"
    assert charge_of(emu, intent)["amount_refunded"] == 1500
    emu.advance(1)
    failed = client.v1.refunds.retrieve(refund.id)
    assert failed.status == "failed"
    assert failed.failure_reason == "unknown"
    assert "next_action" not in failed
    charge = charge_of(emu, intent)
    assert charge["amount_refunded"] == 0
    assert charge["refunded"] is False
    [event] = emu.events("refund.failed")
    assert event["data"]["object"]["id"] == refund.id
    assert event["created"] == refund.created + EXPIRES_AFTER_SECONDS
    assert event["request"]["id"] is None


def test_expire_test_helper_fails_a_waiting_refund_at_once(
    emu: Emulator, client: stripe.StripeClient
) -> None:
    intent = paid_intent(client)
    refund = client.v1.refunds.create({"payment_intent": intent.id})
    expired = client.v1.test_helpers.refunds.expire(refund.id)
    assert expired.status == "failed"
    assert len(emu.events("refund.failed")) == 1
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.test_helpers.refunds.expire(refund.id)
    assert caught.value.http_status == 400
    # The 45-day timer does not fire a second failure.
    emu.advance(EXPIRES_AFTER_SECONDS)
    assert len(emu.events("refund.failed")) == 1


def test_submitted_details_stop_the_45_day_expiry(
    emu: Emulator, client: stripe.StripeClient
) -> None:
    intent = paid_intent(client)
    refund = client.v1.refunds.create({"payment_intent": intent.id})
    emu.submit_refund_bank_account(refund.id, "0001234")
    emu.advance(EXPIRES_AFTER_SECONDS + 1)
    assert client.v1.refunds.retrieve(refund.id).status == "succeeded"
    assert emu.events("refund.failed") == []


def test_funds_returned_after_the_45_days_fail_the_refund(
    emu: Emulator, client: stripe.StripeClient
) -> None:
    intent = paid_intent(client)
    refund = client.v1.refunds.create({"payment_intent": intent.id})
    emu.advance(EXPIRES_AFTER_SECONDS - 30)
    emu.submit_refund_bank_account(refund.id, "4444440")
    emu.advance(SETTLE_SECONDS)
    assert client.v1.refunds.retrieve(refund.id).status == "failed"
    assert len(emu.events("refund.failed")) == 1


def test_bank_returning_a_succeeded_refund_asks_the_customer_again(
    emu: Emulator, client: stripe.StripeClient
) -> None:
    intent = paid_intent(client)
    refund = client.v1.refunds.create({"payment_intent": intent.id})
    emu.submit_refund_bank_account(refund.id, "0001234")
    emu.advance(SETTLE_SECONDS)
    assert emu.return_refund_funds(refund.id)["status"] == "requires_action"
    assert client.v1.refunds.retrieve(refund.id).next_action.type == "display_details"
    with pytest.raises(ApiError):
        emu.return_refund_funds(refund.id)


def test_cancel_from_requires_action_releases_the_amount(
    emu: Emulator, client: stripe.StripeClient
) -> None:
    intent = paid_intent(client)
    refund = client.v1.refunds.create({"payment_intent": intent.id, "amount": 1000})
    canceled = client.v1.refunds.cancel(refund.id)
    assert canceled.status == "canceled"
    assert "next_action" not in canceled
    assert charge_of(emu, intent)["amount_refunded"] == 0
    # The whole amount is refundable again.
    again = client.v1.refunds.create({"payment_intent": intent.id})
    assert again.amount == 2000
    emu.advance(EXPIRES_AFTER_SECONDS)
    assert client.v1.refunds.retrieve(refund.id).status == "canceled"


@pytest.mark.parametrize("settle", [False, True], ids=["pending", "succeeded"])
def test_cancel_is_refused_once_the_customer_answered(
    emu: Emulator, client: stripe.StripeClient, settle: bool
) -> None:
    intent = paid_intent(client)
    refund = client.v1.refunds.create({"payment_intent": intent.id})
    emu.submit_refund_bank_account(refund.id, "0001234")
    if settle:
        emu.advance(SETTLE_SECONDS)
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.refunds.cancel(refund.id)
    assert caught.value.http_status == 400
    assert client.v1.refunds.retrieve(refund.id).status == ("succeeded" if settle else "pending")


def test_partial_refunds_sum_to_the_amount_then_nothing_remains(
    emu: Emulator, client: stripe.StripeClient
) -> None:
    intent = paid_intent(client, amount=3000)
    amounts = [500, 1200, 1300]
    refunds = [
        client.v1.refunds.create({"payment_intent": intent.id, "amount": amount})
        for amount in amounts
    ]
    assert [r.amount for r in refunds] == amounts
    charge = charge_of(emu, intent)
    assert charge["amount_refunded"] == 3000
    assert charge["refunded"] is True
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.refunds.create({"payment_intent": intent.id, "amount": 1})
    assert caught.value.code == "charge_already_refunded"
    listed = client.v1.refunds.list({"payment_intent": intent.id})
    assert [r.id for r in listed.data] == [r.id for r in reversed(refunds)]


def test_over_refund_is_refused(emu: Emulator, client: stripe.StripeClient) -> None:
    intent = paid_intent(client)
    client.v1.refunds.create({"payment_intent": intent.id, "amount": 500})
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.refunds.create({"payment_intent": intent.id, "amount": 1501})
    assert caught.value.code == "amount_too_large"
    assert caught.value.param == "amount"
    assert charge_of(emu, intent)["amount_refunded"] == 500
    assert len(emu.events("refund.created")) == 1


@pytest.mark.parametrize(
    ("params", "code", "status"),
    [
        ({}, "parameter_missing", 400),
        ({"payment_intent": "pi_missing"}, "resource_missing", 404),
        ({"amount": 0}, "parameter_invalid_integer", 400),
        ({"amount": -5}, "parameter_invalid_integer", 400),
        ({"currency": "usd"}, "parameter_invalid_string", 400),
    ],
)
def test_bad_create_parameters_are_refused(
    emu: Emulator,
    client: stripe.StripeClient,
    params: dict[str, Any],
    code: str,
    status: int,
) -> None:
    intent = paid_intent(client)
    full = {"payment_intent": intent.id, **params} if params else {}
    if params.get("payment_intent"):
        full = params
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.refunds.create(full)  # type: ignore[arg-type]
    assert caught.value.code == code
    assert caught.value.http_status == status
    assert emu.events("refund.created") == []


def test_unpaid_intent_cannot_be_refunded(emu: Emulator, client: stripe.StripeClient) -> None:
    intent = client.v1.payment_intents.create(konbini_params(Scenario.FILL_NEVER.email("t")))
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.refunds.create({"payment_intent": intent.id})
    assert caught.value.code == "charge_not_found"
    assert caught.value.param == "payment_intent"


def test_refund_by_charge_and_list_by_charge(emu: Emulator, client: stripe.StripeClient) -> None:
    intent = paid_intent(client)
    refund = client.v1.refunds.create({"charge": str(intent.latest_charge), "amount": 300})
    assert refund.payment_intent == intent.id
    listed = client.v1.refunds.list({"charge": str(intent.latest_charge)})
    assert [r.id for r in listed.data] == [refund.id]
    expanded = client.v1.refunds.retrieve(refund.id, {"expand": ["charge"]})
    assert isinstance(expanded.charge, stripe.Charge)
    assert expanded.charge.amount_refunded == 300


def test_control_api_submits_bank_details(emu: Emulator, client: stripe.StripeClient) -> None:
    intent = paid_intent(client)
    refund = client.v1.refunds.create({"payment_intent": intent.id})
    status, body = control(emu, f"refunds/{refund.id}/bank_account", {"account_number": "0000000"})
    assert status == 400
    assert "not accepted" in body["error"]["message"]
    status, body = control(emu, f"refunds/{refund.id}/bank_account", {"account_number": "0001234"})
    assert status == 200
    assert body["status"] == "pending"
    status, body = control(emu, "clock/advance", {"seconds": str(SETTLE_SECONDS)})
    assert status == 200
    assert client.v1.refunds.retrieve(refund.id).status == "succeeded"
    status, body = control(emu, f"refunds/{refund.id}/return_funds", {})
    assert (status, body["status"]) == (200, "requires_action")
    status, body = control(emu, f"refunds/{refund.id}/expire", {})
    assert (status, body["status"]) == (200, "failed")
    status, body = control(emu, "refunds/re_missing/expire", {})
    assert status == 404
