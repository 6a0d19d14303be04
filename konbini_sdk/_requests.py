"""Request models: every Konbini rule checked locally, then turned into Stripe parameters.

Constructing a model with a bad value raises :class:`~konbini_sdk.KonbiniValidationError`
(a ``ValueError``) naming the field and the rule. Nothing is chained to it: pydantic's
``ValidationError`` repeats the rejected input (``input_value=...``), which may be an email
address or a phone number, and a logged traceback would show it. The same holds for
``model_validate``, ``model_validate_json`` and ``model_validate_strings``.
(``model_construct`` skips validation, as in pydantic.)

"Now" for the ``expires_at`` window is the real clock unless the validation context gives
one: ``PaymentIntentRequest.model_validate(data, context={"now": aware_datetime})``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal, ParamSpec, Self, TypeVar, cast

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from konbini_sdk._exceptions import KonbiniValidationError
from konbini_sdk._japanese import (
    DEFAULT_EXPIRES_AFTER_DAYS,
    JST,
    MAX_EXPIRES_AFTER_DAYS,
    MIN_EXPIRES_AFTER_DAYS,
    check_product_description,
    konbini_deadline,
    store_display_name,
)
from konbini_sdk._rules import (
    AllowedPaymentMethodTypes,
    jpy_only,
    refuse_payment_method_types,
    stripe_id,
    whole_number,
)
from konbini_sdk._rules import rule as _rule

if TYPE_CHECKING:
    from stripe.params import PaymentIntentConfirmParams, PaymentIntentCreateParams

__all__ = [
    "MAX_AMOUNT",
    "MIN_AMOUNT",
    "BillingDetails",
    "ConfirmationNumber",
    "KonbiniModel",
    "PaymentIntentRequest",
    "confirm_params",
    "is_valid_email",
    "metadata_with_order_id",
    "metadata_with_sdk_keys",
    "normalize_confirmation_number",
]

#: Smallest Konbini payment, in yen.
MIN_AMOUNT: Final = 120
#: Largest Konbini payment, in yen.
MAX_AMOUNT: Final = 300_000
#: ``expires_at`` must be at least this far after "now" ...
MIN_EXPIRES_AT_LEAD: Final = timedelta(minutes=30)
#: ... and at most this far.
MAX_EXPIRES_AT_LEAD: Final = timedelta(days=60)
#: Stripe's metadata limits.
MAX_METADATA_KEYS: Final = 50
MAX_METADATA_KEY_LENGTH: Final = 40
MAX_METADATA_VALUE_LENGTH: Final = 500
MAX_DESCRIPTION_LENGTH: Final = 1000
MAX_EMAIL_LENGTH: Final = 254

# Separators people type inside phone numbers: ASCII/Unicode hyphens and dashes, the
# katakana prolonged sound mark (often typed for a dash in Japanese), dots, parentheses
# and spaces. Full-width forms are folded to these by NFKC first.
_PHONE_SEPARATORS: Final = re.compile(r"[\s\-\u2010-\u2015\u2212\u30fc.()]")
_EMAIL_LOCAL: Final = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
)
_DOMAIN_LABEL: Final = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_TLD: Final = re.compile(r"[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59}")
_PHONE: Final = re.compile(r"\+?[0-9]{8,15}")


# --------------------------------------------------------------------------- helpers


def normalize_confirmation_number(value: object, field: str = "confirmation_number") -> str:
    """Return a Konbini confirmation number as its bare digits, or raise.

    Accepts a ``str`` such as ``"090-1234-5678"``, ``"090 1234 5678"``, ``"(090)1234.5678"``,
    full-width digits and separators (``"０９０－１２３４－５６７８"``) or ``"+81 90 1234 5678"``
    (the country code becomes the leading ``0``). The digits must number 10 or 11 and must not
    all be zeros. An ``int`` is refused: it would lose the leading ``0`` of a phone number.

    Raises ``KonbiniValidationError`` naming ``field``; the number itself is never echoed.
    """
    if not isinstance(value, str):
        raise _rule(field, "must be a string of 10 or 11 digits (an int would lose a leading 0)")
    text = unicodedata.normalize("NFKC", value).strip()
    if text.startswith("+81"):
        text = "0" + text[3:].lstrip(" -")
    digits = _PHONE_SEPARATORS.sub("", text)
    if digits and not (digits.isascii() and digits.isdigit()):
        raise _rule(
            field,
            "must contain only digits (separators: spaces, hyphens, dots, parentheses)",
        )
    if len(digits) not in (10, 11):
        raise _rule(field, f"must have 10 or 11 digits (got {len(digits)})")
    if set(digits) == {"0"}:
        raise _rule(field, "must not consist only of zeros")
    return digits


def _confirmation_number(value: object) -> object:
    return None if value is None else normalize_confirmation_number(value)


def _required_confirmation_number(value: object) -> str:
    # One parameter only: pydantic would pass ValidationInfo as the second.
    return normalize_confirmation_number(value)


#: A confirmation number field for pydantic models: normalised to 10 or 11 digits (see
#: :func:`normalize_confirmation_number`); the error names the model's own field.
ConfirmationNumber = Annotated[str, BeforeValidator(_required_confirmation_number)]


def is_valid_email(email: str) -> bool:
    """Tell whether ``email`` looks like a deliverable address (a syntax check, no DNS).

    ``local@domain.tld``: a dot-atom local part of at most 64 characters, a domain of
    letters, digits and hyphens (internationalised domains are checked in their IDNA form)
    with a top-level domain, at most 254 characters in all.
    """
    if len(email) > MAX_EMAIL_LENGTH or email.count("@") != 1:
        return False
    local, domain = email.split("@")
    if len(local) > 64 or not _EMAIL_LOCAL.fullmatch(local):
        return False
    if domain.isascii():
        # The IDNA codec leaves an ASCII name as it is (it only checks label lengths,
        # which the label patterns below check too).
        ascii_domain = domain
    else:
        try:
            ascii_domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            return False
    labels = ascii_domain.split(".")
    if len(labels) < 2 or not _TLD.fullmatch(labels[-1]):
        return False
    return all(_DOMAIN_LABEL.fullmatch(label) for label in labels)


def _email(field: str) -> Any:
    def check(value: object) -> object:
        if value is None:
            return None
        if not isinstance(value, str) or not is_valid_email(value.strip()):
            raise _rule(field, "must be a valid email address")
        return value.strip()

    return BeforeValidator(check)


_amount: Final = whole_number("amount", MIN_AMOUNT, MAX_AMOUNT, "yen", note=" (Konbini limits)")
_expires_after_days: Final = whole_number(
    "expires_after_days", MIN_EXPIRES_AFTER_DAYS, MAX_EXPIRES_AFTER_DAYS, "days", optional=True
)
_customer: Final = stripe_id("customer", "cus_", "must be a Stripe Customer id (cus_...)")


def _product_description(value: object) -> object:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _rule("product_description", "must be a string")
    return check_product_description(value)


def _metadata(value: object) -> object:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise _rule("metadata", "must be a mapping of strings to strings")
    if len(value) > MAX_METADATA_KEYS:
        raise _rule("metadata", f"must have at most {MAX_METADATA_KEYS} keys")
    for key, item in value.items():
        if not isinstance(key, str) or not key or len(key) > MAX_METADATA_KEY_LENGTH:
            raise _rule(
                "metadata", f"keys must be strings of 1 to {MAX_METADATA_KEY_LENGTH} characters"
            )
        if "[" in key or "]" in key:
            raise _rule("metadata", "keys must not contain square brackets")
        if not isinstance(item, str) or len(item) > MAX_METADATA_VALUE_LENGTH:
            raise _rule(
                "metadata",
                f"values must be strings of at most {MAX_METADATA_VALUE_LENGTH} characters",
            )
    return dict(value)


def metadata_with_order_id(
    metadata: Mapping[str, str] | None, order_id: str, key: str = "order_id"
) -> dict[str, str]:
    """Return ``metadata`` with the SDK's ``order_id`` key added, within Stripe's limit.

    See :func:`metadata_with_sdk_keys`.
    """
    return metadata_with_sdk_keys(metadata, {key: order_id})


def metadata_with_sdk_keys(
    metadata: Mapping[str, str] | None, added: Mapping[str, str]
) -> dict[str, str]:
    """Return ``metadata`` with the SDK's own keys (``order_id``, ...) added.

    The SDK's keys count among Stripe's 50: with one of them, at most 49 keys of the
    merchant's (the merchant may give the key too, with the same value). A merchant's key
    of the same name must hold the same value as the SDK's argument. Raises
    ``KonbiniValidationError`` naming ``metadata.<key>`` or ``metadata`` and the rule,
    before anything is sent.
    """
    merged = dict(metadata or {})
    for key, value in added.items():
        existing = merged.get(key)
        if existing is not None and existing != value:
            raise _rule(f"metadata.{key}", f"must be absent or equal to the {key} argument")
        merged[key] = value
    if len(merged) > MAX_METADATA_KEYS:
        names = " and ".join(repr(key) for key in added)
        raise _rule(
            "metadata",
            f"must have at most {MAX_METADATA_KEYS - len(added)} keys besides {names},"
            f" which the SDK adds (Stripe allows {MAX_METADATA_KEYS} keys in all)",
        )
    return merged


def _description(value: object) -> object:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_DESCRIPTION_LENGTH:
        raise _rule(
            "description", f"must be a string of at most {MAX_DESCRIPTION_LENGTH} characters"
        )
    return value


def _now(info: ValidationInfo) -> datetime:
    context = info.context
    now = context.get("now") if isinstance(context, Mapping) else None
    if now is None:
        return datetime.now(UTC)
    if not isinstance(now, datetime) or now.utcoffset() is None:
        raise _rule("expires_at", "the validation context's 'now' must be an aware datetime")
    return now


class _Masked:
    """Stands in for personal data in ``repr``/``str``."""

    def __repr__(self) -> str:
        return "<redacted>"


_MASKED: Final = _Masked()


# --------------------------------------------------------------------------- base model


def _translate(exc: ValidationError, model: str) -> KonbiniValidationError:
    problems: list[tuple[str, str]] = []
    for error in exc.errors(include_url=False, include_input=False):
        cause = (error.get("ctx") or {}).get("error")
        field = ".".join(str(part) for part in error["loc"])
        if isinstance(cause, KonbiniValidationError):
            problems.append((field or cause.field, cause.rule))
        elif error["type"] == "missing":
            problems.append((field, "is required"))
        elif error["type"] == "extra_forbidden":
            problems.append((field, f"is not a field of {model}"))
        else:
            problems.append((field or model, str(error["msg"])))
    (field, rule), *others = problems
    return KonbiniValidationError(field, rule, others=others)


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _validated(model: str, validate: Callable[_P, _R], *args: _P.args, **kwargs: _P.kwargs) -> _R:
    """Run one of pydantic's validations of ``model``; raise ``KonbiniValidationError`` instead.

    Raised outside the ``except`` block: neither ``__cause__`` nor ``__context__`` then holds
    pydantic's error, whose text repeats the rejected value.
    """
    try:
        return validate(*args, **kwargs)
    except ValidationError as exc:
        error = _translate(exc, model)
    raise error


class KonbiniModel(BaseModel):
    """Frozen, extra-forbidding base whose validation errors are ``KonbiniValidationError``.

    Use it for every SDK input model. Validators raise ``KonbiniValidationError(field, rule)``
    (pydantic wraps it; the translation takes the rule back out); other pydantic errors keep
    pydantic's message, which never contains the input. The dotted field path comes from
    pydantic's location (``billing.email`` for a nested model).
    """

    # defer_build (inherited by every SDK input model): pydantic builds the validator and
    # serializer on first use, not at import, so a process pays only for the models it uses
    # (see benchmarks/README.md).
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    def __init__(self, /, **data: Any) -> None:
        _validated(type(self).__name__, super().__init__, **data)

    def __hash__(self) -> int:
        # pydantic's frozen hash fails on dict fields (metadata); the JSON form is hashable
        # and equal models have equal JSON.
        return hash((type(self), self.model_dump_json()))

    # This __init__ only translates the error, so pydantic may treat it as its own: validation
    # (model_validate with a context) then does not route through __init__ and keeps the context.
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]

    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any) -> Self:
        """Validate ``obj``; raise ``KonbiniValidationError`` instead of pydantic's error."""
        return _validated(cls.__name__, super().model_validate, obj, **kwargs)

    @classmethod
    def model_validate_json(cls, json_data: str | bytes | bytearray, **kwargs: Any) -> Self:
        """Validate a JSON document; raise ``KonbiniValidationError`` on bad input."""
        return _validated(cls.__name__, super().model_validate_json, json_data, **kwargs)

    @classmethod
    def model_validate_strings(cls, obj: Any, **kwargs: Any) -> Self:
        """Validate string data; raise ``KonbiniValidationError`` on bad input."""
        return _validated(cls.__name__, super().model_validate_strings, obj, **kwargs)


# --------------------------------------------------------------------------- models


class BillingDetails(KonbiniModel):
    """The customer's details Stripe needs to confirm a Konbini payment.

    ``name`` (required, not blank) is shown at the store and on the receipt, cut to 20
    characters and without characters outside Shift JIS: see :attr:`store_display_name`.
    ``email`` (required) gets the payment instructions; it is syntax-checked locally by
    :func:`is_valid_email` (no DNS look-up, no extra dependency). ``phone`` is optional:
    8 to 15 digits, an optional leading ``+``, separators allowed.

    All three are personal data: ``repr`` and ``str`` mask them, so logging the object
    never leaks them. Surrounding whitespace is stripped.
    """

    name: str = Field(repr=False)
    email: Annotated[str, _email("email")] = Field(repr=False)
    phone: str | None = Field(default=None, repr=False)

    @field_validator("name", mode="before")
    @classmethod
    def _check_name(cls, value: object) -> object:
        if not isinstance(value, str) or not value.strip():
            raise _rule("name", "must not be blank")
        if not value.isprintable():
            raise _rule("name", "must not contain control characters")
        return value.strip()

    @field_validator("phone", mode="before")
    @classmethod
    def _check_phone(cls, value: object) -> object:
        if value is None:
            return None
        if isinstance(value, str):
            text = unicodedata.normalize("NFKC", value).strip()
            if _PHONE.fullmatch(_PHONE_SEPARATORS.sub("", text)):
                return text
        raise _rule(
            "phone",
            "must be a phone number of 8 to 15 digits, optionally with a leading + "
            "and spaces, hyphens or parentheses",
        )

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        yield "name", _MASKED
        yield "email", _MASKED
        yield "phone", _MASKED if self.phone is not None else None

    @property
    def store_display_name(self) -> str:
        """The name as the store and the receipt show it (Shift JIS only, 20 characters).

        A preview of what Stripe does; it is personal data, don't log it.
        """
        return store_display_name(self.name)

    def to_stripe_params(self) -> dict[str, str]:
        """``payment_method_data[billing_details]``: name, email and, if given, phone."""
        params = {"name": self.name, "email": self.email}
        if self.phone is not None:
            params["phone"] = self.phone
        return params


def confirm_params(
    billing: BillingDetails, confirmation_number: str | None = None
) -> PaymentIntentConfirmParams:
    """Parameters to confirm a Konbini PaymentIntent server-side (``POST .../confirm``).

    ``payment_method_data`` of type ``konbini`` with the billing details, and, when given,
    ``payment_method_options[konbini][confirmation_number]`` (normalised and checked by
    :func:`normalize_confirmation_number`; raises ``KonbiniValidationError``).
    """
    params: dict[str, Any] = {
        "payment_method_data": {
            "type": "konbini",
            "billing_details": billing.to_stripe_params(),
        }
    }
    if confirmation_number is not None:
        number = normalize_confirmation_number(confirmation_number)
        params["payment_method_options"] = {"konbini": {"confirmation_number": number}}
    return cast("PaymentIntentConfirmParams", params)


class PaymentIntentRequest(KonbiniModel):
    """A Konbini PaymentIntent to create, with every Konbini rule checked on construction.

    Rules (each failure raises ``KonbiniValidationError`` naming the field):

    - ``amount``: ``int`` yen from 120 to 300,000 (``bool`` and ``float`` refused).
    - ``currency``: ``"jpy"`` only (case-insensitive, sent lower-case).
    - ``product_description``: optional; at most 22 characters, each in Shift JIS
      (JIS X 0208:1997) or printable ASCII. Half-width katakana are refused with a rule that
      says to use full-width (``to_fullwidth_katakana`` converts); cp932-only characters such
      as ``①`` or ``髙`` are refused. ``～`` (FULLWIDTH TILDE, cp932's spelling) is accepted
      and sent as ``〜`` (WAVE DASH, the JIS X 0208 code point); likewise the other five
      cp932/JIS twins. See :mod:`konbini_sdk._japanese`.
    - ``expires_after_days`` (1..60) or ``expires_at`` (aware ``datetime``, ISO 8601 text
      with an offset, or Unix seconds; from 30 minutes to 60 days after "now"), never
      both. Neither: Stripe's default, 3 days after creation. ``expires_at`` is kept in JST, whole
      seconds. The window is checked against the validation context's ``now`` or the real
      clock; Stripe checks again when it applies the request, so leave a margin.
    - ``confirmation_number``: optional, see :func:`normalize_confirmation_number`.
    - ``allowed_payment_method_types``: must include ``"konbini"`` (``"card"`` etc. may sit
      beside it); default ``("konbini",)``. Sent as ``allowed_payment_method_types`` (Stripe
      refuses ``payment_method_types`` since API version 2026-09-30.endive, and so does this
      model, with a rule naming the new field).
    - ``metadata``: at most 50 keys of 1..40 characters (no ``[`` ``]``), string values of
      at most 500 characters; ``pay_order`` adds ``order_id``, which counts among the 50
      (49 of your own, and an ``order_id`` of yours must equal the order id).
      ``description``: at most 1000 characters. ``customer``: a
      ``cus_`` id. ``receipt_email``: a valid email.

    ``confirmation_number`` and ``receipt_email`` are masked in ``repr``.
    """

    amount: Annotated[int, _amount]
    currency: Annotated[Literal["jpy"], jpy_only()] = "jpy"
    product_description: Annotated[str | None, BeforeValidator(_product_description)] = None
    expires_after_days: Annotated[int | None, _expires_after_days] = None
    expires_at: datetime | None = None
    confirmation_number: Annotated[str | None, BeforeValidator(_confirmation_number)] = Field(
        default=None, repr=False
    )
    allowed_payment_method_types: AllowedPaymentMethodTypes = ("konbini",)
    metadata: Annotated[dict[str, str] | None, BeforeValidator(_metadata)] = None
    description: Annotated[str | None, BeforeValidator(_description)] = None
    customer: Annotated[str | None, _customer] = None
    receipt_email: Annotated[str | None, _email("receipt_email")] = Field(default=None, repr=False)

    _renamed_payment_method_types = model_validator(mode="before")(refuse_payment_method_types)

    @field_validator("expires_at", mode="before")
    @classmethod
    def _check_expires_at(cls, value: object, info: ValidationInfo) -> object:
        if value is None:
            return None
        if isinstance(value, bool):
            raise _rule("expires_at", "must be an aware datetime, ISO 8601 text or Unix seconds")
        if isinstance(value, int):
            try:
                moment = datetime.fromtimestamp(value, tz=UTC)
            except (OverflowError, OSError, ValueError):
                raise _rule("expires_at", "must be at most 60 days in the future") from None
        elif isinstance(value, datetime | str):
            if isinstance(value, str):
                try:
                    value = datetime.fromisoformat(value)
                except ValueError:
                    raise _rule(
                        "expires_at", "must be an aware datetime, ISO 8601 text or Unix seconds"
                    ) from None
            if value.utcoffset() is None:
                raise _rule("expires_at", "must be timezone-aware (a naive datetime is ambiguous)")
            moment = value.replace(microsecond=0)
        else:
            raise _rule("expires_at", "must be an aware datetime, ISO 8601 text or Unix seconds")
        lead = moment - _now(info)
        if lead < MIN_EXPIRES_AT_LEAD:
            raise _rule("expires_at", "must be at least 30 minutes in the future")
        if lead > MAX_EXPIRES_AT_LEAD:
            raise _rule("expires_at", "must be at most 60 days in the future")
        return moment.astimezone(JST)

    @model_validator(mode="after")
    def _one_expiry_option(self) -> Self:
        if self.expires_after_days is not None and self.expires_at is not None:
            raise _rule("expires_at", "give either expires_after_days or expires_at, not both")
        return self

    def _konbini_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if self.expires_after_days is not None:
            options["expires_after_days"] = self.expires_after_days
        if self.expires_at is not None:
            options["expires_at"] = int(self.expires_at.timestamp())
        if self.product_description is not None:
            options["product_description"] = self.product_description
        if self.confirmation_number is not None:
            options["confirmation_number"] = self.confirmation_number
        return options

    def deadline(self, confirmed_at: datetime, created_at: datetime | None = None) -> datetime:
        """When the slip expires if the intent is confirmed at ``confirmed_at`` (aware, JST).

        ``expires_at`` when set; with ``expires_after_days``, 23:59:59 JST on the last of those
        days counted from *confirmation*; with neither, Stripe's default counts 3 days from
        the PaymentIntent's *creation* (``created_at``; ``None`` means created and confirmed
        together), see :func:`~konbini_sdk.konbini_deadline`. Stripe's voucher
        (``Voucher.expires_at``) is the authority once the intent is confirmed.
        """
        if self.expires_at is not None:
            return self.expires_at.astimezone(JST)
        if self.expires_after_days is not None:
            return konbini_deadline(confirmed_at, self.expires_after_days)
        return konbini_deadline(
            confirmed_at if created_at is None else created_at, DEFAULT_EXPIRES_AFTER_DAYS
        )

    def to_stripe_params(self) -> PaymentIntentCreateParams:
        """Parameters for ``POST /v1/payment_intents`` (``client.v1.payment_intents.create``).

        ``amount``, ``currency``, ``allowed_payment_method_types``, and, when set,
        ``payment_method_options[konbini]`` (``expires_after_days`` or ``expires_at`` as Unix
        seconds, ``product_description``, ``confirmation_number``), ``metadata``,
        ``description``, ``customer``, ``receipt_email``. A fresh dict on every call.
        """
        params: dict[str, Any] = {
            "amount": self.amount,
            "currency": self.currency,
            "allowed_payment_method_types": list(self.allowed_payment_method_types),
        }
        options = self._konbini_options()
        if options:
            params["payment_method_options"] = {"konbini": options}
        for name in ("description", "customer", "receipt_email"):
            value = getattr(self, name)
            if value is not None:
                params[name] = value
        if self.metadata is not None:
            params["metadata"] = dict(self.metadata)
        return cast("PaymentIntentCreateParams", params)

    def confirm_params(
        self, billing: BillingDetails, confirmation_number: str | None = None
    ) -> PaymentIntentConfirmParams:
        """Parameters to confirm this intent later with ``billing`` (``POST .../confirm``).

        ``confirmation_number`` overrides the request's own; with neither, Stripe generates
        a random number.
        """
        if confirmation_number is not None or self.confirmation_number is None:
            return confirm_params(billing, confirmation_number)
        # The request's own number was normalised when the request was validated.
        params = cast("dict[str, Any]", confirm_params(billing))
        params["payment_method_options"] = {
            "konbini": {"confirmation_number": self.confirmation_number}
        }
        return cast("PaymentIntentConfirmParams", params)

    def to_stripe_params_with_confirm(
        self, billing: BillingDetails, confirmation_number: str | None = None
    ) -> PaymentIntentCreateParams:
        """Parameters to create and confirm in one request (``confirm=true``).

        The create parameters plus ``confirm``, ``payment_method_data`` (type ``konbini`` with
        ``billing``) and the confirmation number (the argument, else the request's own).
        """
        params = cast("dict[str, Any]", self.to_stripe_params())
        confirm = cast(
            "dict[str, Any]",
            confirm_params(
                billing,
                self.confirmation_number if confirmation_number is None else confirmation_number,
            ),
        )
        params["confirm"] = True
        params["payment_method_data"] = confirm["payment_method_data"]
        options = {
            **self._konbini_options(),
            **confirm.get("payment_method_options", {}).get("konbini", {}),
        }
        if options:
            params["payment_method_options"] = {"konbini": options}
        return cast("PaymentIntentCreateParams", params)
