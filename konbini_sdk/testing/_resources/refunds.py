"""Refunds: a Konbini refund waits on the customer's bank account, as Stripe test mode does.

A Konbini payment was cash, so Stripe asks the customer (by email) for a bank account and
refunds once it arrives. The emulated lifecycle, in emulator time:

===================================  ==========================================================
what happens                         refund ``status`` (events)
===================================  ==========================================================
``POST /v1/refunds``                 ``requires_action`` with ``instructions_email`` (the
                                     billing email unless given) and ``next_action``
                                     ``display_details`` (``email_sent``, ``expires_at`` =
                                     created + 45 days) (``refund.created``, ``charge.refunded``)
customer submits a test account      ``pending`` at once (``refund.updated``,
(:func:`submit_bank_account`)        ``charge.refund.updated``)
... :data:`SETTLE_SECONDS` later     routing ``1100000`` + account ``0001234``: ``succeeded``;
                                     accounts ``1111113``, ``1111116``, ``3333335``,
                                     ``4444440``: the bank returns the funds and the refund is
                                     ``requires_action`` again with a new ``email_sent`` (the
                                     customer is asked to resubmit); same events
funds returned after ``succeeded``   ``requires_action`` again (:func:`return_funds`)
(:func:`return_funds`)
45 days after creation still         ``failed``, ``failure_reason=unknown`` (``refund.updated``,
``requires_action``, or              ``refund.failed``, ``charge.refund.updated``): refund
``POST /v1/test_helpers/refunds/     outside Stripe
{id}/expire``
``POST /v1/refunds/{id}/cancel``     ``canceled`` (from ``requires_action`` only)
===================================  ==========================================================

Any other bank account is refused, as Stripe's collection page refuses it in test mode. Refunds
waiting on the customer or pending count in the charge's ``amount_refunded``; a failed or
canceled refund gives its amount back (``refunded`` follows). Refunds of a non-Konbini charge
succeed at once.

Error answers (Stripe documents the rules, not every code; where it names none the emulator
uses no code or a plausible one): neither ``payment_intent`` nor ``charge`` →
``parameter_missing``; an intent without a succeeded charge → ``charge_not_found``
(param ``payment_intent``); amount over the unrefunded remainder → ``amount_too_large``;
nothing left → ``charge_already_refunded``; amount below 1 → ``parameter_invalid_integer``;
cancel or expire outside ``requires_action`` → HTTP 400 without a code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from konbini_sdk.testing._clock import Timer
from konbini_sdk.testing._router import Call, Resource, Router
from konbini_sdk.testing._state import State
from konbini_sdk.testing._wire import ApiError, Bool, Enum, Int, Map, Str, invalid
from konbini_sdk.testing.scenarios import RefundBankAccount

__all__ = [
    "EXPIRES_AFTER_SECONDS",
    "SETTLE_SECONDS",
    "cancel",
    "expire",
    "register",
    "return_funds",
    "submit_bank_account",
]

#: How long Stripe waits for the customer's bank details: 45 days after creation.
EXPIRES_AFTER_SECONDS: Final = 45 * 86_400
#: Emulator seconds between the customer's bank details and the bank's answer (``pending``
#: → ``succeeded``, or funds returned → ``requires_action``). Advance the clock to see it.
SETTLE_SECONDS: Final = 60
#: The routing number every test account uses.
TEST_ROUTING_NUMBER: Final = "1100000"
_KEY: Final = "refunds"
_COUNTS_AS_REFUNDED: Final = ("requires_action", "pending", "succeeded")


@dataclass
class _Record:
    """What the emulator remembers about a refund beyond its JSON."""

    expiry: Timer | None = None
    settle: Timer | None = None
    accounts_tried: int = 0
    extra_timers: list[Timer] = field(default_factory=list)


def _records(state: State) -> dict[str, _Record]:
    found: dict[str, _Record] = state.extra.setdefault(_KEY, {})
    return found


# ---------------------------------------------------------------------- charge bookkeeping


def _sync_charge(state: State, charge: dict[str, Any]) -> None:
    """Recompute the charge's ``amount_refunded``/``refunded`` from its refunds."""
    refunds = [r for r in state.all("refund") if r["charge"] == charge["id"]]
    refunded = sum(r["amount"] for r in refunds if r["status"] in _COUNTS_AS_REFUNDED)
    charge["amount_refunded"] = refunded
    charge["refunded"] = refunded >= charge["amount_captured"] > 0
    newest_first = sorted(refunds, key=lambda r: r["created"], reverse=True)
    charge["refunds"] = {
        "object": "list",
        "data": newest_first[:10],
        "has_more": len(newest_first) > 10,
        "url": f"/v1/charges/{charge['id']}/refunds",
    }


def _unrefunded(charge: dict[str, Any]) -> int:
    return int(charge["amount_captured"]) - int(charge["amount_refunded"])


def _change(state: State, refund: dict[str, Any], status: str, **fields: Any) -> None:
    """Move ``refund`` to ``status``; update its charge; emit the events."""
    previous = {"status": refund["status"]}
    refund["status"] = status
    if status == "requires_action":
        refund["next_action"] = fields.pop("next_action")
    else:
        if "next_action" in refund:
            previous["next_action"] = refund.pop("next_action")
    refund.update(fields)
    charge = state.get("charge", refund["charge"], param="charge")
    _sync_charge(state, charge)
    state.emit("refund.updated", refund, previous_attributes=previous)
    if status == "failed":
        state.emit("refund.failed", refund)
    state.emit("charge.refund.updated", refund, previous_attributes=dict(previous))


def _waiting_action(state: State, refund: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "display_details",
        "display_details": {
            "email_sent": {
                "email_sent_at": state.now(),
                "email_sent_to": refund["instructions_email"],
            },
            "expires_at": refund["created"] + EXPIRES_AFTER_SECONDS,
        },
    }


# ---------------------------------------------------------------------- transitions


def _fail(state: State, refund: dict[str, Any]) -> None:
    if refund["status"] != "requires_action":
        return
    _change(state, refund, "failed", failure_reason="unknown")


def _refund_in(state: State, refund_id: str, status: str, refusal: str) -> dict[str, Any]:
    """Return the refund if its status is ``status``; else refuse (400): ``refusal``, and why."""
    refund = state.get("refund", refund_id, param="refund")
    if refund["status"] != status:
        raise ApiError(400, f"{refusal}; {refund_id} is {refund['status']}.", param="refund")
    return refund


def _stop_waiting(state: State, refund_id: str, done: str) -> dict[str, Any]:
    """Return a ``requires_action`` refund with its 45-day timer stopped, or refuse.

    ``done`` names what is being done to it (``expired``, ``canceled``) in the refusal.
    """
    refund = _refund_in(
        state,
        refund_id,
        "requires_action",
        f"Only a refund with status requires_action can be {done}",
    )
    record = _records(state).setdefault(refund_id, _Record())
    if record.expiry is not None:
        record.expiry.cancel()
    return refund


def expire(state: State, refund_id: str) -> dict[str, Any]:
    """Let the 45 days pass now: a ``requires_action`` refund becomes ``failed``."""
    refund = _stop_waiting(state, refund_id, "expired")
    _fail(state, refund)
    return refund


def cancel(state: State, refund_id: str) -> dict[str, Any]:
    """Cancel a refund still waiting for the customer's bank details."""
    refund = _stop_waiting(state, refund_id, "canceled")
    _change(state, refund, "canceled")
    return refund


def submit_bank_account(
    state: State,
    refund_id: str,
    account_number: str,
    routing_number: str = TEST_ROUTING_NUMBER,
) -> dict[str, Any]:
    """Submit bank details as the customer does on the page Stripe emailed them.

    Only Stripe's test accounts are accepted (routing ``1100000``); the refund becomes
    ``pending`` now and settles :data:`SETTLE_SECONDS` later: ``succeeded`` for
    ``0001234``, back to ``requires_action`` (funds returned) for the failing accounts.
    """
    refund = state.get("refund", refund_id, param="refund")
    if refund["status"] != "requires_action":
        raise ApiError(
            400,
            f"Refund {refund_id} is not waiting for bank details (status {refund['status']}).",
            param="refund",
        )
    accounts = {account.account_number: account for account in RefundBankAccount}
    account = accounts.get(account_number)
    if routing_number != TEST_ROUTING_NUMBER or account is None:
        raise ApiError(
            400,
            "These bank account details are not accepted: in test mode only routing number "
            f"{TEST_ROUTING_NUMBER} with a test account ("
            + ", ".join(sorted(accounts))
            + ") can be used.",
            param="account_number",
        )
    record = _records(state).setdefault(refund_id, _Record())
    record.accounts_tried += 1
    _change(state, refund, "pending")
    outcome = _succeed if account.succeeds else _return_after_failure
    record.settle = state.clock.schedule(
        state.now() + SETTLE_SECONDS,
        lambda: outcome(state, refund),
        f"bank answer for refund {refund_id}",
    )
    return refund


def _succeed(state: State, refund: dict[str, Any]) -> None:
    if refund["status"] == "pending":
        _change(state, refund, "succeeded")


def _return_after_failure(state: State, refund: dict[str, Any]) -> None:
    if refund["status"] != "pending":
        return
    _back_to_customer(state, refund)


def _back_to_customer(state: State, refund: dict[str, Any]) -> None:
    """Handle funds sent back by the bank: ask the customer again (or fail if too late)."""
    if state.now() >= refund["created"] + EXPIRES_AFTER_SECONDS:
        _change(state, refund, "failed", failure_reason="unknown")
        return
    _change(state, refund, "requires_action", next_action=_waiting_action(state, refund))


def return_funds(state: State, refund_id: str) -> dict[str, Any]:
    """Return a ``succeeded`` refund's funds as the bank would: ``requires_action`` again."""
    refund = _refund_in(
        state, refund_id, "succeeded", "Only a succeeded refund can be returned by the bank"
    )
    _back_to_customer(state, refund)
    return refund


# ---------------------------------------------------------------------- API handlers


def _charge_to_refund(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    state = call.state
    intent_id, charge_id = params.get("payment_intent"), params.get("charge")
    if not intent_id and not charge_id:
        raise invalid(
            "One of the following params should be provided for this request: "
            "payment_intent or charge.",
            code="parameter_missing",
            param="payment_intent",
        )
    if intent_id:
        intent = state.get("payment_intent", intent_id, param="payment_intent")
        latest = intent.get("latest_charge")
        if intent["status"] != "succeeded" or not latest:
            raise ApiError(
                400,
                f"This PaymentIntent ({intent_id}) does not have a successful charge to refund.",
                code="charge_not_found",
                param="payment_intent",
            )
        if charge_id and charge_id != latest:
            raise invalid(
                f"Charge {charge_id} does not belong to PaymentIntent {intent_id}.",
                code="parameter_invalid_string",
                param="charge",
            )
        charge_id = latest
    return state.get("charge", str(charge_id), param="charge")


def _create(call: Call) -> dict[str, Any]:
    params = call.params(
        {
            "amount": Int(),
            "charge": Str(5000),
            "currency": Str(5000),
            "customer": Str(5000),
            "instructions_email": Str(5000),
            "metadata": Map(),
            "origin": Enum(("customer_balance",)),
            "payment_intent": Str(5000),
            "reason": Enum(("duplicate", "fraudulent", "requested_by_customer")),
            "refund_application_fee": Bool(),
            "reverse_transfer": Bool(),
        }
    )
    state = call.state
    if params.get("origin") or params.get("customer"):
        raise invalid(
            "Customer balance refunds are not emulated; refund a payment_intent or charge.",
            code="parameter_unknown",
            param="origin" if params.get("origin") else "customer",
        )
    charge = _charge_to_refund(call, params)
    if params.get("currency") not in (None, "", charge["currency"]):
        raise invalid(
            f"The currency must match the charge's currency ({charge['currency']}).",
            code="parameter_invalid_string",
            param="currency",
        )
    remaining = _unrefunded(charge)
    amount = params.get("amount")
    if amount in (None, ""):
        amount = remaining
    if amount < 1 and params.get("amount") not in (None, ""):
        raise invalid("Invalid positive integer", code="parameter_invalid_integer", param="amount")
    if remaining <= 0:
        raise ApiError(
            400,
            f"Charge {charge['id']} has already been refunded.",
            code="charge_already_refunded",
            param="charge",
        )
    if amount > remaining:
        raise ApiError(
            400,
            f"Refund amount (¥{amount:,}) is greater than unrefunded amount on charge "
            f"(¥{remaining:,})",
            code="amount_too_large",
            param="amount",
        )
    konbini = charge["payment_method_details"].get("type") == "konbini"
    email = params.get("instructions_email") or charge["billing_details"].get("email")
    refund: dict[str, Any] = {
        "id": state.new_id("re"),
        "object": "refund",
        "amount": amount,
        "balance_transaction": state.new_id("txn"),
        "charge": charge["id"],
        "created": state.now(),
        "currency": charge["currency"],
        "customer": _from_intent(state, charge, "customer"),
        "customer_account": None,
        "metadata": dict(params.get("metadata") or {}),
        "payment_intent": charge.get("payment_intent"),
        "payment_method": _from_intent(state, charge, "payment_method"),
        "reason": params.get("reason"),
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": "requires_action" if konbini else "succeeded",
        "transfer_reversal": None,
    }
    if email:
        refund["instructions_email"] = email
    if konbini:
        refund["next_action"] = _waiting_action(state, refund)
    state.add(refund)
    _sync_charge(state, charge)
    if konbini:
        record = _records(state).setdefault(refund["id"], _Record())
        record.expiry = state.clock.schedule(
            refund["created"] + EXPIRES_AFTER_SECONDS,
            lambda: _fail(state, refund),
            f"45-day expiry of refund {refund['id']}",
        )
    state.emit("refund.created", refund)
    state.emit("charge.refunded", charge)
    return call.respond(refund, params)


def _from_intent(state: State, charge: dict[str, Any], name: str) -> str | None:
    """Return the charge's ``name`` field, else its PaymentIntent's (or ``None``)."""
    value = charge.get(name)
    if value is None and charge.get("payment_intent"):
        intent = state.find(str(charge["payment_intent"]))
        value = intent.get(name) if intent else None
    return str(value) if value is not None else None


def _cancel(call: Call) -> dict[str, Any]:
    params = call.params({})
    return call.respond(cancel(call.state, call.path_params["refund"]), params)


def _expire(call: Call) -> dict[str, Any]:
    params = call.params({})
    return call.respond(expire(call.state, call.path_params["refund"]), params)


REFUNDS = Resource("refund", "re", "/v1/refunds", "refund")


def register(router: Router, state: State) -> None:
    """Register the Refund routes and the refund test helper."""
    listing = REFUNDS.lister({"payment_intent": Str(5000), "charge": Str(5000)})
    REFUNDS.register(router, state, create=_create, list=listing, actions={"cancel": _cancel})
    router.add("POST", "/v1/test_helpers/refunds/{refund}/expire", _expire)
