"""Cards on PaymentIntents, with Stripe's test PaymentMethods (``pm_card_visa`` ...).

Enough card behaviour for the "card payments without webhooks" flow and for Checkout's card
option: immediate success, 3D Secure (``requires_action`` with ``next_action.type =
use_stripe_sdk``; a test control completes or fails the challenge), and declines (HTTP 402
``card_error`` with ``decline_code``, a failed Charge and ``payment_intent.payment_failed``).

Test PaymentMethods (Stripe's ids; the emulator keeps one stored object per id instead of
cloning it on each use):

=============================================  ===========================================
``pm_card_visa``, ``pm_card_mastercard``,      succeeds at once
``pm_card_jcb``
``pm_card_threeDSecure2Required``,             ``requires_action`` (3D Secure) until the
``pm_card_authenticationRequired``             challenge is completed or failed
``pm_card_visa_chargeDeclined``                402 ``card_declined`` / ``generic_decline``
``pm_card_visa_chargeDeclinedInsufficientFunds``  402 ``card_declined`` / ``insufficient_funds``
=============================================  ===========================================

After a completed challenge an intent with ``confirmation_method=manual`` goes to
``requires_confirmation`` and must be confirmed by the server within an hour (else it falls
back to ``requires_payment_method``); with automatic confirmation it succeeds at once.
Saving the card (``setup_future_usage`` with a ``customer``) attaches a copy of the
PaymentMethod to the customer when the payment succeeds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from konbini_sdk.testing._resources import charges, payment_intents
from konbini_sdk.testing._router import Router
from konbini_sdk.testing._state import State, snapshot
from konbini_sdk.testing._wire import ApiError, Enum, Obj, invalid

__all__ = ["TEST_CARDS", "CardType", "complete_three_d_secure", "register"]

#: Smallest card payment in yen (Stripe's minimum charge amount for JPY).
MIN_JPY_AMOUNT: Final = 50
#: Seconds the server has to confirm again after a completed 3D Secure challenge.
RECONFIRM_WINDOW: Final = 3600
_AUTH_KEY: Final = "card_authenticated"
_BEHAVIOR_KEY: Final = "card_behavior"


@dataclass(frozen=True)
class CardBehavior:
    """What a test PaymentMethod looks like and does."""

    brand: str
    last4: str
    outcome: str  # "succeed" | "three_d_secure" | "decline"
    decline_code: str | None = None


TEST_CARDS: Final = {
    "pm_card_visa": CardBehavior("visa", "4242", "succeed"),
    "pm_card_mastercard": CardBehavior("mastercard", "4444", "succeed"),
    "pm_card_jcb": CardBehavior("jcb", "0505", "succeed"),
    "pm_card_threeDSecure2Required": CardBehavior("visa", "3220", "three_d_secure"),
    "pm_card_authenticationRequired": CardBehavior("visa", "3184", "three_d_secure"),
    "pm_card_visa_chargeDeclined": CardBehavior("visa", "0002", "decline", "generic_decline"),
    "pm_card_visa_chargeDeclinedInsufficientFunds": CardBehavior(
        "visa", "9995", "decline", "insufficient_funds"
    ),
}

_DECLINE_MESSAGES: Final = {
    "generic_decline": "Your card was declined.",
    "insufficient_funds": "Your card has insufficient funds.",
}


def _card_json(card: CardBehavior) -> dict[str, Any]:
    return {
        "brand": card.brand,
        "checks": {
            "address_line1_check": None,
            "address_postal_code_check": None,
            "cvc_check": "pass",
        },
        "country": "JP" if card.brand == "jcb" else "US",
        "display_brand": card.brand,
        "exp_month": 12,
        "exp_year": 2034,
        "fingerprint": f"fp{card.brand}{card.last4}",
        "funding": "credit",
        "generated_from": None,
        "last4": card.last4,
        "networks": {"available": [card.brand], "preferred": None},
        "regulated_status": "unregulated",
        "three_d_secure_usage": {"supported": True},
        "wallet": None,
    }


def _behavior(state: State, method: dict[str, Any]) -> CardBehavior:
    known: dict[str, CardBehavior] = state.extra.setdefault(_BEHAVIOR_KEY, {})
    return known.get(str(method["id"]), TEST_CARDS["pm_card_visa"])


def _authenticated(state: State) -> dict[str, str]:
    found: dict[str, str] = state.extra.setdefault(_AUTH_KEY, {})
    return found


class CardType:
    """The card payment-method type for PaymentIntents."""

    name = "card"
    #: Cards take every currency the emulator serves.
    currencies: tuple[str, ...] | None = None
    options_shape = Obj(
        {
            "request_three_d_secure": Enum(("any", "automatic", "challenge")),
            "setup_future_usage": Enum(("", "none", "off_session", "on_session")),
        }
    )
    data_shape = Obj({})

    def options_json(
        self, given: dict[str, Any], previous: dict[str, Any] | None
    ) -> dict[str, Any]:
        """``payment_method_options[card]`` as an intent shows it."""
        options = dict(previous or {"request_three_d_secure": "automatic"})
        if "request_three_d_secure" in given:
            options["request_three_d_secure"] = given["request_three_d_secure"] or "automatic"
        if given.get("setup_future_usage") not in (None, "", "none"):
            options["setup_future_usage"] = given["setup_future_usage"]
        return options

    def check_intent(self, state: State, intent: dict[str, Any], *, confirming: bool) -> None:
        """Stripe's minimum charge for JPY cards."""
        del state, confirming
        if intent["currency"] == "jpy" and intent["amount"] < MIN_JPY_AMOUNT:
            raise invalid(
                f"Amount must be at least ¥{MIN_JPY_AMOUNT} for card payments.",
                code="amount_too_small",
                param="amount",
            )

    def check_payment_method(self, state: State, intent: dict[str, Any], method: Any) -> None:
        """Card data cannot be sent raw to this emulator: use a test PaymentMethod id."""
        del state, intent
        if method.get("id") is None:
            raise invalid(
                "Sending card numbers is not supported by the emulator; use a test "
                "PaymentMethod such as pm_card_visa.",
                code="parameter_invalid_string",
                param="payment_method_data[type]",
            )

    def confirm(self, state: State, intent: dict[str, Any], method: dict[str, Any]) -> None:
        """Authorise: succeed, ask for 3D Secure, or decline (raising the 402)."""
        card = _behavior(state, method)
        passed = _authenticated(state).get(intent["id"]) == method["id"]
        if card.outcome == "three_d_secure" and not passed:
            intent.update(
                status="requires_action",
                next_action={
                    "type": "use_stripe_sdk",
                    "use_stripe_sdk": {
                        "type": "three_d_secure_redirect",
                        "stripe_js": f"{state.api_base()}/_emulator/3ds/{intent['id']}",
                    },
                },
            )
            state.emit("payment_intent.requires_action", intent)
            return
        if card.outcome == "decline":
            self._decline(state, intent, method, card)
        _authenticated(state).pop(intent["id"], None)
        details = {**_card_json(card), "network": card.brand}
        for key in ("display_brand", "generated_from", "networks", "three_d_secure_usage"):
            details.pop(key)
        details["three_d_secure"] = (
            {"authentication_flow": "challenge", "result": "authenticated", "version": "2.2.0"}
            if passed
            else None
        )
        payment_intents.succeed(state, intent, details)
        self._save(state, intent, method)

    def _decline(
        self, state: State, intent: dict[str, Any], method: dict[str, Any], card: CardBehavior
    ) -> None:
        code = card.decline_code or "generic_decline"
        message = _DECLINE_MESSAGES.get(code, "Your card was declined.")
        charge = charges.create_succeeded(state, intent, method, {**_card_json(card)})
        charge.update(
            status="failed",
            paid=False,
            captured=False,
            amount_captured=0,
            failure_code="card_declined",
            failure_message=message,
            outcome={
                "advice_code": "try_again_later" if code == "insufficient_funds" else None,
                "network_advice_code": None,
                "network_decline_code": None,
                "network_status": "declined_by_network",
                "reason": code,
                "risk_level": "normal",
                "seller_message": "The bank returned the decline code " + code + ".",
                "type": "issuer_declined",
            },
        )
        for key in ("display_brand", "generated_from", "networks", "three_d_secure_usage"):
            charge["payment_method_details"]["card"].pop(key, None)
        error = {
            "type": "card_error",
            "code": "card_declined",
            "decline_code": code,
            "message": message,
            "charge": charge["id"],
            "payment_method": snapshot(method),
            "payment_method_type": "card",
            "doc_url": "https://docs.stripe.com/error-codes#card-declined",
        }
        intent.update(
            status="requires_payment_method",
            next_action=None,
            payment_method=None,
            latest_charge=charge["id"],
            last_payment_error=error,
        )
        state.emit("charge.failed", charge)
        state.emit("payment_intent.payment_failed", intent)
        raise ApiError(
            402,
            message,
            type_="card_error",
            code="card_declined",
            extra={
                "decline_code": code,
                "charge": charge["id"],
                "payment_intent": snapshot(intent),
                "payment_method": snapshot(method),
            },
        )

    def _save(self, state: State, intent: dict[str, Any], method: dict[str, Any]) -> None:
        usage = intent.get("setup_future_usage")
        customer = intent.get("customer")
        if usage not in ("off_session", "on_session") or not customer:
            return
        saved = snapshot(method)
        saved.update(id=state.new_id("pm"), customer=customer, created=state.now())
        state.add(saved)
        state.extra.setdefault(_BEHAVIOR_KEY, {})[saved["id"]] = _behavior(state, method)
        intent["payment_method"] = saved["id"]
        state.emit("payment_method.attached", saved)

    def void(self, state: State, intent: dict[str, Any], *, why: str) -> None:
        """Forget an unfinished 3D Secure challenge (a new confirmation starts over)."""
        del why
        _authenticated(state).pop(intent["id"], None)


def complete_three_d_secure(state: State, intent_id: str, *, succeed: bool) -> dict[str, Any]:
    """Complete (or fail) the 3D Secure challenge of ``intent_id`` as the customer."""
    intent = state.get("payment_intent", intent_id, param="intent")
    action = intent.get("next_action") or {}
    if intent["status"] != "requires_action" or action.get("type") != "use_stripe_sdk":
        raise ApiError(
            400,
            f"PaymentIntent {intent_id} has no 3D Secure challenge waiting.",
            code="payment_intent_unexpected_state",
        )
    method = state.get("payment_method", intent["payment_method"], param="payment_method")
    if not succeed:
        intent.update(
            status="requires_payment_method",
            next_action=None,
            payment_method=None,
            last_payment_error={
                "type": "card_error",
                "code": "payment_intent_authentication_failure",
                "message": "We are unable to authenticate your payment method. Please "
                "choose a different payment method and try again.",
                "payment_method": snapshot(method),
                "payment_method_type": "card",
            },
        )
        state.emit("payment_intent.payment_failed", intent)
        return intent
    _authenticated(state)[intent_id] = method["id"]
    if intent["confirmation_method"] == "manual":
        intent.update(status="requires_confirmation", next_action=None)
        state.clock.schedule(
            state.now() + RECONFIRM_WINDOW,
            lambda: _reconfirm_window_over(state, intent_id, method["id"]),
            f"card reconfirmation window of {intent_id}",
        )
        return intent
    intent["next_action"] = None
    CardType().confirm(state, intent, method)
    return intent


def _reconfirm_window_over(state: State, intent_id: str, method_id: str) -> None:
    intent = state.objects["payment_intent"][intent_id]
    if intent["status"] != "requires_confirmation" or intent["payment_method"] != method_id:
        return
    _authenticated(state).pop(intent_id, None)
    intent.update(
        status="requires_payment_method",
        payment_method=None,
        last_payment_error={
            "type": "card_error",
            "code": "payment_intent_authentication_failure",
            "message": "The PaymentIntent was not confirmed within an hour of authentication.",
            "payment_method_type": "card",
        },
    )
    state.emit("payment_intent.payment_failed", intent)


def register(router: Router, state: State) -> None:
    """Make cards and Stripe's test card PaymentMethods available (no routes of its own)."""
    del router
    payment_intents.register_type(state, CardType())
    behaviors: dict[str, CardBehavior] = state.extra.setdefault(_BEHAVIOR_KEY, {})
    for method_id, card in TEST_CARDS.items():
        behaviors[method_id] = card
        state.add(
            {
                "id": method_id,
                "object": "payment_method",
                "allow_redisplay": "unspecified",
                "billing_details": {
                    "address": {
                        "city": None,
                        "country": None,
                        "line1": None,
                        "line2": None,
                        "postal_code": None,
                        "state": None,
                    },
                    "email": None,
                    "name": None,
                    "phone": None,
                    "tax_id": None,
                },
                "card": _card_json(card),
                "created": 1_700_000_000,
                "customer": None,
                "livemode": False,
                "metadata": {},
                "type": "card",
            }
        )
