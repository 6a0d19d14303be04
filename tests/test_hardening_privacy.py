"""Issue 15: no personal data in validation tracebacks, nor in the repr/str of returned objects."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
import stripe

from konbini_sdk import (
    BillingDetails,
    CardPaymentResult,
    CheckoutState,
    KonbiniValidationError,
    PaymentIntentChange,
    PaymentIntentRequest,
    RefundView,
    ReissuedVoucher,
    Voucher,
    describe_payment,
)
from konbini_sdk.webhooks import MemoryEventStore, WebhookProcessor, WebhookResult, parse_event
from tests.webhooks.stripe_events import (
    BASE_TIME,
    checkout_session,
    envelope,
    payment_intent,
    refund,
)

EMAIL = "kyoko.private@@example.jp"  # refused: two @
PHONE = "03-55PRIVATE-77"  # refused: letters
VALID_EMAIL = "kyoko.private@example.jp"


def _chain_text(error: BaseException) -> str:
    return "".join(traceback.format_exception(error))


def _every_link(error: BaseException) -> list[BaseException]:
    links: list[BaseException] = []
    seen: BaseException | None = error
    while seen is not None and seen not in links:
        links.append(seen)
        seen = seen.__cause__ or seen.__context__
    return links


REFUSALS: dict[str, Callable[[], object]] = {
    "billing email": lambda: BillingDetails(name="京子", email=EMAIL),
    "billing phone": lambda: BillingDetails(name="京子", email=VALID_EMAIL, phone=PHONE),
    "receipt_email": lambda: PaymentIntentRequest(amount=1000, receipt_email=EMAIL),
    "model_validate": lambda: BillingDetails.model_validate(
        {"name": "京子", "email": EMAIL, "phone": PHONE}
    ),
    "model_validate_json": lambda: BillingDetails.model_validate_json(
        f'{{"name": "京子", "email": "{EMAIL}", "phone": "{PHONE}"}}'
    ),
    "model_validate_strings": lambda: BillingDetails.model_validate_strings(
        {"name": "京子", "email": EMAIL}
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_refused_personal_data_is_nowhere_in_the_traceback(case: str) -> None:
    with pytest.raises(KonbiniValidationError) as info:
        REFUSALS[case]()
    error = info.value
    text = _chain_text(error)
    assert error.field in text  # the field and the rule are kept
    for value in (EMAIL, PHONE, "input_value"):
        assert value not in text
        for link in _every_link(error):
            assert value not in str(link)
            assert value not in repr(link)
    assert error.__cause__ is None
    assert error.__context__ is None


# --- reprs ---------------------------------------------------------------------------------

PI = "pi_3KbReprLeak0001"
SECRETS = (
    "secret_do_not_log",  # the client secret
    "taro.yamada@example.jp",  # receipt_email, refund emails
    "09012345678",  # confirmation numbers
    "hanako@example.jp",
    "山田",
    "payments.stripe.com/konbini/voucher",  # the voucher page shows the confirmation number
)


def _intent(status: str) -> stripe.PaymentIntent:
    return stripe.PaymentIntent.construct_from(payment_intent(PI, status, BASE_TIME), "sk_test_x")


def _returned_objects() -> dict[str, object]:
    waiting = payment_intent(PI, "requires_action", BASE_TIME)
    voucher = Voucher.from_payment_intent(waiting)
    voucher_event = parse_event(
        envelope("evt_v", "payment_intent.requires_action", BASE_TIME, waiting)
    )
    refund_event = parse_event(
        envelope("evt_r", "refund.updated", BASE_TIME, refund("re_1", "requires_action",
                                                              BASE_TIME, PI))
    )  # fmt: skip
    failed_event = parse_event(
        envelope("evt_f", "payment_intent.payment_failed", BASE_TIME,
                 payment_intent(PI, "requires_payment_method", BASE_TIME, error_code="x"))
    )  # fmt: skip
    checkout_event = parse_event(
        envelope("evt_c", "checkout.session.completed", BASE_TIME,
                 checkout_session("cs_1", "unpaid", PI))
    )  # fmt: skip
    assert voucher_event is not None
    assert refund_event is not None
    session = dict(checkout_session("cs_1", "unpaid", PI))
    session["client_secret"] = "cs_1_secret_do_not_log"
    session["url"] = "https://checkout.stripe.com/c/pay/cs_1#secret_do_not_log"
    return {
        "Voucher": voucher,
        "StoreCode": next(iter(voucher.stores.values())),
        "ReissuedVoucher": ReissuedVoucher(voucher, waiting["next_action"]
                                           ["konbini_display_details"]["hosted_voucher_url"]),
        "PaymentIntentChange (update)": PaymentIntentChange(
            _intent("requires_action"),
            waiting["next_action"]["konbini_display_details"]["hosted_voucher_url"],
        ),
        "PaymentIntentChange (cancel)": PaymentIntentChange(_intent("canceled"), None),
        "RefundView": RefundView.from_refund(refund("re_1", "requires_action", BASE_TIME, PI)),
        "CheckoutState": CheckoutState.from_session(session),
        "PaymentStatus": describe_payment(waiting, now=datetime.fromtimestamp(BASE_TIME, UTC)),
        "CardPaymentResult": CardPaymentResult(
            status="requires_action",
            payment_intent_id=PI,
            amount=1000,
            currency="jpy",
            client_secret=f"{PI}_secret_do_not_log",
        ),
        "VoucherIssued": voucher_event,
        "RefundUpdated": refund_event,
        "PaymentFailed": failed_event,
        "CheckoutCompleted": checkout_event,
        "WebhookResult": WebhookResult(200, "processed", "processed", "evt_v",
                                       voucher_event.type, voucher_event),
        "WebhookProcessor": WebhookProcessor(["whsec_secret_do_not_log"], store=MemoryEventStore()),
    }  # fmt: skip


@pytest.fixture(scope="module")
def returned() -> dict[str, object]:
    return _returned_objects()


@pytest.mark.parametrize(
    "name",
    [
        "Voucher",
        "StoreCode",
        "ReissuedVoucher",
        "PaymentIntentChange (update)",
        "PaymentIntentChange (cancel)",
        "RefundView",
        "CheckoutState",
        "PaymentStatus",
        "CardPaymentResult",
        "VoucherIssued",
        "RefundUpdated",
        "PaymentFailed",
        "CheckoutCompleted",
        "WebhookResult",
        "WebhookProcessor",
    ],
)
def test_returned_objects_mask_personal_data(returned: dict[str, object], name: str) -> None:
    value = returned[name]
    for text in (repr(value), str(value), f"{value}", f"{value!r}", repr([value])):
        for secret in SECRETS:
            assert secret not in text, (name, secret)
    # and they still say what they are
    assert type(value).__name__ in repr(value)


def test_payment_intent_change_repr_names_the_intent() -> None:
    change = PaymentIntentChange(_intent("canceled"), None)
    assert PI in repr(change)
    assert "canceled" in repr(change)
    assert "voided_voucher_url=None" in repr(change)
    assert change.payment_intent.client_secret.endswith("secret_do_not_log")  # data kept
