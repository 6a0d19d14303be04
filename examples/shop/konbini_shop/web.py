"""The shop's Flask app: products, checkout, instructions, order status, refunds, webhooks.

Everything that touches money goes through konbini-sdk: ``KonbiniClient.pay_order`` (one
PaymentIntent and one voucher per order, however often "pay" is pressed), the SDK's own
instructions renderer, ``client.refunds`` and the ``WebhookProcessor`` with its SQLite store.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from flask import Flask, Response, abort, jsonify, redirect, render_template, request, url_for
from jinja2 import BytecodeCache
from jinja2.bccache import Bucket
from werkzeug.security import safe_join
from werkzeug.wrappers import Response as BaseResponse

from konbini_sdk import (
    BillingDetails,
    ConfirmationNumberRejectedError,
    KonbiniClient,
    KonbiniError,
    KonbiniValidationError,
    Language,
    OutcomeUnknownError,
    PaymentCanceled,
    PaymentFailed,
    PaymentIntentRequest,
    PaymentMethodUnavailableError,
    PaymentSucceeded,
    RateLimitedError,
    RefundFailed,
    RefundUpdated,
    RefundView,
    VoucherIssued,
    VoucherUnavailableError,
    format_deadline,
    format_yen,
    normalize_confirmation_number,
    render_html,
)
from konbini_sdk.webhooks import EventStore, WebhookProcessor

from .orders import PRODUCTS, Order, OrderStatus, OrderStore

#: Form fields, in the order the form shows them, with their labels.
FIELDS = {"name": "Name", "email": "Email", "phone": "Phone number"}

#: SDK field names shown next to a form field of another name.
_FIELD_FOR = {
    "billing_details.name": "name",
    "billing_details.email": "email",
    "billing_details.phone": "phone",
    "confirmation_number": "phone",
}


class EmulatorControls(Protocol):
    """What the test-mode panel needs: the emulator (``konbini_sdk.testing.Emulator``)."""

    def now(self) -> datetime:
        """The emulator's time."""
        ...

    def advance(self, seconds: float) -> int:
        """Move the emulator's clock forward."""
        ...

    def submit_refund_bank_account(
        self, refund: str, account_number: str, routing_number: str = ...
    ) -> dict[str, Any]:
        """Act as the customer on Stripe's bank-details page."""
        ...


@dataclass
class ShopConfig:
    """What the shop runs on."""

    client: KonbiniClient
    orders: OrderStore
    webhook_secrets: list[str]
    event_store: EventStore | str
    #: The emulator, for the test-mode panel; ``None`` on Stripe (no panel).
    test_clock: EmulatorControls | None = None
    merchant_name: str = "Konbini Demo Shop"
    merchant_contact: str = "support@shop.example"
    #: How often the order page asks the shop for its status, in milliseconds.
    poll_ms: int = 1000


def _field_of(sdk_field: str) -> str:
    name = _FIELD_FOR.get(sdk_field, sdk_field)
    return name if name in FIELDS else "form"


def validation_errors(error: KonbiniValidationError) -> dict[str, str]:
    """Map an SDK validation error (all its fields) to the form's fields."""
    errors: dict[str, str] = {}
    for sdk_field, rule in error.errors:
        name = _field_of(sdk_field)
        label = FIELDS.get(name, "Order")
        errors.setdefault(name, f"{label} {rule}.")
    return errors


def check_customer(form: dict[str, str]) -> tuple[BillingDetails, str] | dict[str, str]:
    """Validate the checkout form with the SDK: the billing details and confirmation number.

    The phone number is the confirmation number the customer gives at the store, so it must
    pass both rules (a phone number, and 10 or 11 digits, not all zeros). Returns the errors
    per form field when something is wrong.
    """
    errors: dict[str, str] = {}
    billing: BillingDetails | None = None
    number: str | None = None
    try:
        billing = BillingDetails(
            name=form.get("name", ""), email=form.get("email", ""), phone=form.get("phone", "")
        )
    except KonbiniValidationError as error:
        errors.update(validation_errors(error))
    if "phone" not in errors:
        try:
            number = normalize_confirmation_number(form.get("phone", ""), field="phone")
        except KonbiniValidationError as error:
            errors.update(validation_errors(error))
    if errors or billing is None or number is None:
        return errors
    return billing, number


def payment_request(order: Order) -> PaymentIntentRequest:
    """The PaymentIntent of an order: its product's price and the receipt's description."""
    return PaymentIntentRequest(
        amount=order.amount,
        product_description=order.product.product_description,
        expires_after_days=3,
        description=f"{order.product.name_en} ({order.id})",
    )


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _jst(epoch: float | None, lang: str = "en") -> str:
    if epoch is None:
        return ""
    return format_deadline(datetime.fromtimestamp(epoch, tz=UTC), "ja" if lang == "ja" else "en")


def make_processor(config: ShopConfig) -> WebhookProcessor:
    """The webhook processor: each Stripe event changes the order exactly once."""
    orders = config.orders
    processor = WebhookProcessor(config.webhook_secrets, store=config.event_store)

    def order_of(
        event: VoucherIssued | PaymentSucceeded | PaymentFailed | PaymentCanceled,
    ) -> Order | None:
        return orders.find(
            order_id=event.metadata.get("order_id"), payment_intent_id=event.payment_intent_id
        )

    @processor.on(VoucherIssued)
    def voucher_issued(event: VoucherIssued) -> None:
        order = order_of(event)
        if order is not None:
            orders.voucher_issued(
                order.id,
                event.payment_intent_id,
                event.voucher.hosted_voucher_url,
                _epoch(event.voucher.expires_at),
            )

    @processor.on(PaymentSucceeded)
    def paid(event: PaymentSucceeded) -> None:
        order = order_of(event)
        if order is not None:
            # Fulfilment (packing, shipping) would start here; the demo records it.
            orders.paid_and_fulfilled(order.id, event.payment_intent_id)

    @processor.on(PaymentFailed)
    def failed(event: PaymentFailed) -> None:
        order = order_of(event)
        if order is not None:
            orders.payment_ended(
                order.id, OrderStatus.EXPIRED if event.expired else OrderStatus.FAILED
            )

    @processor.on(PaymentCanceled)
    def canceled(event: PaymentCanceled) -> None:
        order = order_of(event)
        if order is not None:
            orders.payment_ended(order.id, OrderStatus.CANCELED)

    def refund_changed(event: RefundUpdated | RefundFailed) -> None:
        order = orders.find(order_id=None, payment_intent_id=event.payment_intent_id)
        if order is not None:
            view = RefundView.from_refund(event.raw)
            expires = _epoch(view.expires_at) if view.expires_at is not None else None
            orders.refund_changed(order.id, view.id, view.state.value, expires)

    processor.on(RefundUpdated)(refund_changed)
    processor.on(RefundFailed)(refund_changed)
    return processor


#: How long browsers keep a static file asked for by its versioned address (a year: the
#: address changes with the file's content).
STATIC_MAX_AGE = 365 * 24 * 3600


class CompiledTemplates(BytecodeCache):
    """The shop's templates, compiled once per process for every app the process builds.

    A Flask app compiles each template on first use; a process building many apps (the
    tests build one per test) would compile the same templates again for each. Jinja checks
    each entry against its template's source, so an edited template is compiled anew.
    """

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def load_bytecode(self, bucket: Bucket) -> None:
        """Fill ``bucket`` with the compiled template, if this process compiled it already."""
        with self._lock:
            code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        """Keep a freshly compiled template."""
        code = bucket.bytecode_to_string()
        with self._lock:
            self._code[bucket.key] = code


#: Shared by every :class:`ShopFlask` of the process.
COMPILED_TEMPLATES = CompiledTemplates()


class ShopFlask(Flask):
    """The shop's Flask app: its pages ask for static files by a versioned address.

    ``asset_url("shop.css")`` is ``/static/shop.css?v=<digest of the file's bytes>``; a request
    carrying the file's current digest is answered with a year's ``max-age``, so a browser
    loads each file once and then takes it from its cache on every page, without asking
    again. A changed file gets a new address; any other request is revalidated as Flask does
    by default. Its templates are compiled once per process (:class:`CompiledTemplates`).
    """

    def __init__(self, import_name: str) -> None:
        super().__init__(import_name)
        # Read when the app's Jinja environment is made, on its first template.
        self.jinja_options = {**self.jinja_options, "bytecode_cache": COMPILED_TEMPLATES}
        self._versions: dict[str, tuple[tuple[int, int], str]] = {}

    def asset_version(self, filename: str) -> str | None:
        """The digest of a static file's current bytes (``None``: no such file)."""
        if self.static_folder is None:
            return None
        path = safe_join(self.static_folder, filename)
        if path is None or not os.path.isfile(path):
            return None
        info = os.stat(path)
        stamp = (info.st_mtime_ns, info.st_size)
        known = self._versions.get(filename)
        if known is not None and known[0] == stamp:
            return known[1]
        with open(path, "rb") as file:
            version = hashlib.sha256(file.read()).hexdigest()[:16]
        self._versions[filename] = (stamp, version)
        return version

    def asset_url(self, filename: str) -> str:
        """The versioned address of a static file, for the pages."""
        return url_for("static", filename=filename, v=self.asset_version(filename))

    def get_send_file_max_age(self, filename: str | None) -> int | None:
        """A year for a static file asked for by its current version; else Flask's default."""
        version = request.args.get("v")
        if filename is not None and version and version == self.asset_version(filename):
            return STATIC_MAX_AGE
        return super().get_send_file_max_age(filename)


def create_app(config: ShopConfig) -> Flask:
    """Build the shop's Flask app."""
    app = ShopFlask(__name__)
    app.config["SHOP"] = config
    orders = config.orders
    client = config.client
    processor = make_processor(config)
    app.extensions["konbini_processor"] = processor

    @app.context_processor
    def shop_context() -> dict[str, Any]:
        clock = config.test_clock
        return {
            "merchant_name": config.merchant_name,
            "test_mode": clock is not None,
            "emulator_now": format_deadline(clock.now(), "en") if clock is not None else None,
            "asset_url": app.asset_url,
            "yen": format_yen,
            "jst": _jst,
            "Status": OrderStatus,
        }

    def load(order_id: str) -> Order:
        order = orders.get(order_id)
        if order is None:
            abort(404)
        return order

    @app.get("/")
    def products() -> str:
        return render_template("products.html", products=list(PRODUCTS.values()))

    @app.get("/checkout/<product_id>")
    def start_checkout(product_id: str) -> BaseResponse:
        product = PRODUCTS.get(product_id)
        if product is None:
            abort(404)
        # The order (and so the idempotency of its payment) exists before the form is shown.
        order = orders.create(product)
        return redirect(url_for("checkout", order_id=order.id), 303)

    @app.get("/orders/<order_id>/checkout")
    def checkout(order_id: str) -> BaseResponse | str:
        order = load(order_id)
        if order.status is not OrderStatus.NEW:
            return redirect(url_for("order_page", order_id=order.id), 303)
        return render_template("checkout.html", order=order, values={}, errors={}, fields=FIELDS)

    @app.post("/orders/<order_id>/pay")
    def pay(order_id: str) -> BaseResponse | tuple[str, int]:
        order = load(order_id)
        if order.status not in (OrderStatus.NEW, OrderStatus.AWAITING_PAYMENT):
            return redirect(url_for("order_page", order_id=order.id), 303)
        form = {name: request.form.get(name, "") for name in FIELDS}
        checked = check_customer(form)
        errors: dict[str, str] = {}
        if isinstance(checked, dict):
            errors = checked
        else:
            billing, number = checked
            try:
                voucher = client.pay_order(
                    order.id, payment_request(order), billing, confirmation_number=number
                )
            except KonbiniValidationError as error:
                errors = validation_errors(error)
            except ConfirmationNumberRejectedError:
                errors = {
                    "phone": "This number cannot be used for a konbini payment right now. "
                    "Please give another phone number."
                }
            except RateLimitedError:
                # The SDK already retried with backoff; during a sale some still fail.
                errors = {
                    "form": "Many people are paying at konbini right now. Please press pay "
                    "again in a minute."
                }
            except PaymentMethodUnavailableError:
                errors = {
                    "form": "Konbini payment is unavailable just now (maintenance or an "
                    "outage). Please try again later or choose another payment method."
                }
            except OutcomeUnknownError:
                errors = {
                    "form": "We could not reach the payment service. Press pay again: you "
                    "will get the same payment slip, never a second one."
                }
            except VoucherUnavailableError:
                return redirect(url_for("order_page", order_id=order.id), 303)
            else:
                orders.voucher_issued(
                    order.id,
                    voucher.payment_intent_id,
                    voucher.hosted_voucher_url,
                    _epoch(voucher.expires_at),
                )
                return redirect(url_for("instructions", order_id=order.id), 303)
        page = render_template(
            "checkout.html", order=order, values=form, errors=errors, fields=FIELDS
        )
        return page, 422

    @app.get("/orders/<order_id>/instructions")
    def instructions(order_id: str) -> BaseResponse | str:
        order = load(order_id)
        lang: Language = "en" if request.args.get("lang") == "en" else "ja"
        if order.payment_intent_id is None or order.status is not OrderStatus.AWAITING_PAYMENT:
            return redirect(url_for("order_page", order_id=order.id), 303)
        try:
            voucher = client.get_voucher(order.payment_intent_id)
        except VoucherUnavailableError:
            return redirect(url_for("order_page", order_id=order.id), 303)
        document = render_html(
            voucher,
            lang,
            merchant_name=config.merchant_name,
            merchant_contact=config.merchant_contact,
        )
        bar = render_template("instructions_bar.html", order=order, lang=lang)
        # The SDK renders a whole document; the shop adds its own bar at the top.
        return document.replace("<body>", "<body>\n" + bar, 1)

    @app.get("/orders/<order_id>")
    def order_page(order_id: str) -> str:
        return render_template(
            "order.html", order=load(order_id), poll_ms=config.poll_ms, error=None
        )

    @app.get("/orders/<order_id>/status.json")
    def order_status(order_id: str) -> Response:
        order = load(order_id)
        return jsonify(
            {
                "order": order.id,
                "status": order.status.value,
                "refund_status": order.refund_status,
            }
        )

    @app.post("/orders/<order_id>/refund")
    def refund(order_id: str) -> BaseResponse | tuple[str, int]:
        order = load(order_id)
        if order.payment_intent_id is None or order.status is not OrderStatus.FULFILLED:
            return redirect(url_for("order_page", order_id=order.id), 303)
        try:
            # One refund per order: a double click returns the same refund.
            view = client.refunds.create(order.payment_intent_id, order_id=order.id)
        except KonbiniError as error:
            message = "The refund could not be started; please contact us."
            if isinstance(error, KonbiniValidationError):
                message = f"The refund could not be started: {error.rule}."
            page = render_template(
                "order.html",
                order=order,
                poll_ms=config.poll_ms,
                error=message,
            )
            return page, 409
        expires = _epoch(view.expires_at) if view.expires_at is not None else None
        orders.refund_changed(order.id, view.id, view.state.value, expires)
        return redirect(url_for("order_page", order_id=order.id), 303)

    @app.post("/webhooks/stripe")
    def stripe_webhook() -> Response:
        result = processor.process(request.get_data(), request.headers.get("Stripe-Signature"))
        return Response(result.body, status=result.status_code, mimetype="text/plain")

    if config.test_clock is not None:
        _add_test_mode(app, config, config.test_clock)
    return app


#: What the test-mode panel's buttons move the emulator clock by, in seconds.
ADVANCE_CHOICES = {
    60: "+1 minute",
    180: "+3 minutes",
    3660: "+1 hour",
    5 * 86400: "+5 days",
}


def _add_test_mode(app: Flask, config: ShopConfig, clock: EmulatorControls) -> None:
    """The test-mode panel's actions: only on the emulator."""

    def back() -> BaseResponse:
        order_id = request.form.get("order_id")
        if order_id and config.orders.get(order_id) is not None:
            return redirect(url_for("order_page", order_id=order_id), 303)
        return redirect(url_for("products"), 303)

    @app.post("/_test/advance")
    def advance_clock() -> BaseResponse:
        try:
            seconds = int(request.form.get("seconds", ""))
        except ValueError:
            abort(400)
        if seconds not in ADVANCE_CHOICES:
            abort(400)
        # Due payments and expiries run now; their webhooks reach /webhooks/stripe in the
        # background and the order page's poll shows the result.
        clock.advance(seconds)
        return back()

    @app.post("/_test/orders/<order_id>/refund_bank_account")
    def submit_bank_account(order_id: str) -> BaseResponse:
        order = config.orders.get(order_id)
        if order is None or order.refund_id is None:
            abort(404)
        # Stripe's test account that succeeds (routing 1100000, account 0001234).
        clock.submit_refund_bank_account(order.refund_id, "0001234")
        return back()

    app.jinja_env.globals["advance_choices"] = ADVANCE_CHOICES
