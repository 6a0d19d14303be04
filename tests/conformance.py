"""Stripe traffic checked against the installed ``stripe`` package's own generated types.

stripe-python pins one API version (``stripe.api_version``; 16.1: ``2026-10-28.endive``) and
ships, generated from Stripe's OpenAPI spec for that version, a ``TypedDict`` of parameters
for every operation (``stripe/params/...``) and a class with annotated fields for every object
(``stripe/_payment_intent.py``, ``stripe/checkout/_session.py``...). This module reads them at
run time with ``typing`` introspection (``__annotations__``, ``get_origin``/``get_args``,
``Literal``, ``NotRequired``) and checks, with nothing outside the repository:

* a form-encoded request (:func:`check_request`): every parameter name at every depth exists in
  the operation's TypedDict (``payment_method_options[konbini][expires_after_days]``), objects,
  lists and scalars are where the types put them, integers, booleans and ``Literal`` values
  fit, and parameters the TypedDict requires are present;
* a JSON answer (:func:`check_response`): every field is declared by the object's class, values
  have the declared type, nested objects, expanded objects, list objects and an event's
  ``data.object`` are followed; an error body is checked against ``ErrorObject``;
* whole vcrpy cassettes (:func:`check_cassette`): every request and every response.

Enums: stripe-python writes most enums as ``Literal[...] | str`` ("open": the ``str`` lets old
clients read values Stripe adds later) and a few as closed ``Literal[...]``. Both are checked
as closed here: the SDK and the emulator speak exactly the pinned version, so a value outside
the list the package generated for that version is a typo or a value of another version.
Messages say when an enum is open, so a reader can tell the two apart.

Declared fields that an object lacks are reported as warnings, never as errors: Stripe leaves
some out (list fields until expanded, per-type sub-objects), so their absence is a hint only.
A ``Stripe-Version`` header other than the package's version is a warning too.

Operations are mapped to their TypedDict by :data:`ROUTES` (every operation the SDK, the
emulator and the tests use); a request to anything else is an error, so a new operation needs
a row here. ``tests/test_conformance.py`` checks each row against the ``params`` annotation of
the stripe-python service method that calls that path.
"""

from __future__ import annotations

import ast
import collections.abc
import difflib
import importlib
import json
import re
import sys
import types
import typing
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import stripe
import typing_extensions as te
import yaml
from stripe._list_object import ListObject
from stripe._object_classes import OBJECT_CLASSES
from stripe._request_options import RequestOptions
from stripe._search_result_object import SearchResultObject
from stripe._stripe_object import StripeObject, UntypedStripeObject

#: The API version the installed stripe package was generated for (and sends).
API_VERSION: str = stripe.api_version
STRIPE_PACKAGE_VERSION: str = stripe.VERSION

# ============================================================================ type model


class Kind:
    """A type, as far as the wire can tell types apart."""


@dataclass(frozen=True)
class Scalar(Kind):
    """``str``, ``int``, ``float``, ``bool``, ``decimal`` (a decimal string) or ``any``."""

    name: str


@dataclass(frozen=True)
class Null(Kind):
    """``None``: JSON ``null`` (in a form: not sendable, except as ``''`` where typed)."""


@dataclass(frozen=True)
class Enum(Kind):
    """``Literal[...]``; ``open`` when stripe-python adds ``| str`` to it."""

    values: tuple[Any, ...]
    open: bool = False


@dataclass(frozen=True)
class ListOf(Kind):
    """``List[item]``: a JSON array, or ``name[0]=...`` in a form."""

    item: Kind


@dataclass(frozen=True)
class MapOf(Kind):
    """``Dict[str, value]`` or a free StripeObject (``metadata``): any keys."""

    value: Kind


@dataclass(frozen=True)
class Shape(Kind):
    """A TypedDict of parameters or a StripeObject class: named fields."""

    cls: type


@dataclass(frozen=True)
class Page(Kind):
    """``ListObject[item]``: ``{"object": "list", "data": [...], ...}``."""

    item: Kind


@dataclass(frozen=True)
class AnyOf(Kind):
    """A union: the value must fit one of ``options``."""

    options: tuple[Kind, ...]


ANY = Scalar("any")
STR = Scalar("str")


@dataclass(frozen=True)
class FieldType:
    """One field of a Shape: its type, and whether a request must carry it."""

    kind: Kind
    required: bool


def options(kind: Kind) -> tuple[Kind, ...]:
    """The alternatives of a type (itself, unless a union)."""
    return kind.options if isinstance(kind, AnyOf) else (kind,)


def union(kinds: list[Kind]) -> Kind:
    """A flattened union; a ``Literal`` next to ``str`` becomes an open Enum."""
    flat: list[Kind] = []
    for kind in kinds:
        for option in options(kind):
            if option not in flat:
                flat.append(option)
    enums = [k for k in flat if isinstance(k, Enum)]
    if enums and STR in flat:
        values = tuple(v for e in enums for v in e.values)
        flat = [k for k in flat if not isinstance(k, Enum) and k != STR]
        # Literal[""] | str is any string ('' unsets); other Literals next to str: an open enum
        flat.insert(0, Enum(values, open=True) if set(values) - {""} else STR)
    elif len(enums) > 1:
        values = tuple(v for e in enums for v in e.values)
        flat = [k for k in flat if not isinstance(k, Enum)]
        flat.insert(0, Enum(values))
    return flat[0] if len(flat) == 1 else AnyOf(tuple(flat))


# ======================================================================= reading stripe's types

_WRAPPERS = {te.NotRequired, te.Required, te.ReadOnly, te.Annotated, typing.Final}
_UNIONS = {typing.Union, types.UnionType}
_SCALARS = {str: "str", bytes: "str", int: "int", float: "float", bool: "bool", Decimal: "decimal"}


@cache
def _type_checking_imports(module_name: str) -> dict[str, tuple[str, str]]:
    """Every ``from X import Y`` of a stripe module, by local name -> (module, attribute).

    stripe's resource classes refer to each other through imports under ``if TYPE_CHECKING:``
    (``"Charge"``), which never run; they are read from the module's source (the one use of
    ``ast`` here) and imported on demand.
    """
    module = sys.modules[module_name]
    source = Path(module.__file__ or "").read_text(encoding="utf-8")
    found: dict[str, tuple[str, str]] = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                found[alias.asname or alias.name] = (node.module, alias.name)
    return found


class _Names(dict[str, Any]):
    """Evaluation namespace: the enclosing classes, then the module, then its lazy imports."""

    def __init__(self, module_name: str, enclosing: tuple[type, ...]) -> None:
        super().__init__()
        self.module_name = module_name
        self.enclosing = enclosing

    def __missing__(self, name: str) -> Any:
        for cls in reversed(self.enclosing):
            if name in vars(cls):
                return vars(cls)[name]
        module = sys.modules[self.module_name]
        if hasattr(module, name):
            return getattr(module, name)
        where = _type_checking_imports(self.module_name).get(name)
        if where is not None:
            return getattr(importlib.import_module(where[0]), where[1])
        raise KeyError(name)


def _enclosing(cls: type) -> tuple[type, ...]:
    """The classes ``cls`` is nested in, outermost first, and ``cls`` itself."""
    chain: list[type] = []
    holder: Any = sys.modules[cls.__module__]
    for part in cls.__qualname__.split("."):
        holder = getattr(holder, part, None)
        if not isinstance(holder, type):
            return (cls,)
        chain.append(holder)
    return tuple(chain)


def _evaluate(text: str, module_name: str, enclosing: tuple[type, ...]) -> Any:
    namespace = _Names(module_name, enclosing)
    return eval(text, {"__builtins__": __builtins__}, namespace)  # noqa: S307 (stripe's own annotations)


def convert(annotation: Any, module_name: str, enclosing: tuple[type, ...] = ()) -> Kind:
    """A stripe annotation (resolved lazily in ``module_name``) as a :class:`Kind`."""

    def again(inner: Any) -> Kind:
        return convert(inner, module_name, enclosing)

    if isinstance(annotation, typing.ForwardRef):
        return again(_evaluate(annotation.__forward_arg__, module_name, enclosing))
    if isinstance(annotation, str):
        return again(_evaluate(annotation, module_name, enclosing))
    if annotation is None or annotation is type(None):
        return Null()
    if annotation is Any or annotation is object or isinstance(annotation, typing.TypeVar):
        return ANY
    if annotation in _SCALARS:
        return Scalar(_SCALARS[annotation])
    origin = te.get_origin(annotation)
    args = te.get_args(annotation)
    if origin in _WRAPPERS or origin is typing.ClassVar:
        return again(args[0])
    if origin in _UNIONS:
        return union([again(arg) for arg in args])
    if origin is te.Literal or origin is typing.Literal:
        return Enum(tuple(args))
    if origin in (list, tuple, set, frozenset) or _is_abc(origin, "Sequence", "Iterable"):
        return ListOf(again(args[0]) if args else ANY)
    if origin is dict or _is_abc(origin, "Mapping", "MutableMapping"):
        return MapOf(again(args[1]) if len(args) > 1 else ANY)
    if origin is not None and isinstance(origin, type):
        if issubclass(origin, (ListObject, SearchResultObject)):
            return Page(again(args[0]) if args else ANY)
        if issubclass(origin, UntypedStripeObject):
            return MapOf(again(args[0]) if args else ANY)
        return again(origin)
    if isinstance(annotation, type):
        if issubclass(annotation, (ListObject, SearchResultObject)):
            return Page(ANY)
        if annotation in (StripeObject, UntypedStripeObject, dict):
            return MapOf(ANY)
        if issubclass(annotation, StripeObject) or te.is_typeddict(annotation):
            return Shape(annotation)
        if annotation is list:
            return ListOf(ANY)
    raise TypeError(f"cannot read stripe annotation {annotation!r} (in {module_name})")


def _is_abc(origin: Any, *names: str) -> bool:
    return any(origin is getattr(collections.abc, name) for name in names)


_REQUEST_OPTIONS = frozenset(RequestOptions.__annotations__)


@cache
def fields_of(cls: type) -> dict[str, FieldType]:
    """The fields of a TypedDict of parameters or of a StripeObject class, as sent on the wire."""
    found: dict[str, FieldType] = {}
    if te.is_typeddict(cls):
        required = getattr(cls, "__required_keys__", frozenset())
        enclosing = _enclosing(cls)
        for name, annotation in cls.__annotations__.items():
            if name in _REQUEST_OPTIONS and annotation is RequestOptions.__annotations__[name]:
                continue  # api_key, idempotency_key...: options of the call, never sent
            kind = _Lazy(annotation, cls.__module__, enclosing)
            found[name] = FieldType(kind, name in required)
        return found
    for klass in reversed(cls.__mro__):
        if not (isinstance(klass, type) and issubclass(klass, StripeObject)):
            continue
        if klass in (StripeObject, UntypedStripeObject):
            continue
        remap: dict[str, str] = vars(klass).get("_field_remappings", {}) or {}
        enclosing = _enclosing(klass)
        for name, annotation in vars(klass).get("__annotations__", {}).items():
            if name.startswith("_") or typing.ClassVar in (annotation, te.get_origin(annotation)):
                continue
            kind = _Lazy(annotation, klass.__module__, enclosing)
            found[remap.get(name, name)] = FieldType(kind, False)
    return found


class _Lazy(Kind):
    """A field type converted on first use (stripe's types are large and refer to each other)."""

    def __init__(self, annotation: Any, module_name: str, enclosing: tuple[type, ...]) -> None:
        self._args = (annotation, module_name, enclosing)
        self._kind: Kind | None = None

    def get(self) -> Kind:
        if self._kind is None:
            self._kind = convert(*self._args)
        return self._kind


def resolved(kind: Kind) -> Kind:
    """``kind``, with a lazily read field type read now."""
    return kind.get() if isinstance(kind, _Lazy) else kind


@dataclass(frozen=True)
class _Plan:
    """What the checks need to know of a type, worked out once per type (:func:`plan`)."""

    kind: Kind  # resolved
    alternatives: tuple[Kind, ...]  # its options, resolved
    anything: bool
    null: bool
    scalars: frozenset[str]
    enums: tuple[Enum, ...]
    enum_values: tuple[Any, ...]  # every enum's values, in order
    enum_strings: frozenset[str]
    form_values: frozenset[str]  # every enum value as the form encoding writes it
    lists: tuple[ListOf, ...]
    objects: tuple[Kind, ...]  # Shape, MapOf or Page
    nested: tuple[Kind, ...]  # Shape, MapOf, ListOf or Page


#: Plans by the identity of the type they were asked for (kept alive here: the types are the
#: long-lived ones of :func:`fields_of`, :func:`shape` and their parts).
_PLANS: dict[int, tuple[Kind, _Plan]] = {}


def plan(kind: Kind) -> _Plan:
    """The :class:`_Plan` of ``kind`` (read once: the checks meet the same types again and
    again, in every response)."""
    known = _PLANS.get(id(kind))
    if known is not None:
        return known[1]
    real = resolved(kind)
    alternatives = tuple(resolved(o) for o in options(real))
    enums = tuple(o for o in alternatives if isinstance(o, Enum))
    values = tuple(v for e in enums for v in e.values)
    made = _Plan(
        kind=real,
        alternatives=alternatives,
        anything=ANY in alternatives,
        null=any(isinstance(o, Null) for o in alternatives),
        scalars=frozenset(o.name for o in alternatives if isinstance(o, Scalar)),
        enums=enums,
        enum_values=values,
        enum_strings=frozenset(v for v in values if isinstance(v, str)),
        form_values=frozenset(_form_value(v) for v in values),
        lists=tuple(o for o in alternatives if isinstance(o, ListOf)),
        objects=tuple(o for o in alternatives if isinstance(o, (Shape, MapOf, Page))),
        nested=tuple(o for o in alternatives if isinstance(o, (Shape, MapOf, ListOf, Page))),
    )
    _PLANS[id(kind)] = (kind, made)
    return made


@cache
def shape(cls: type) -> Shape:
    """``Shape(cls)``, one object per class (so that its :func:`plan` is made once)."""
    return Shape(cls)


def object_class(object_name: str) -> type | None:
    """The stripe class of a JSON object's ``"object"`` (``payment_intent`` -> PaymentIntent)."""
    if object_name == "error":
        from stripe._error_object import ErrorObject

        return ErrorObject
    where = OBJECT_CLASSES.get(object_name)
    if where is None:
        return None
    cls = getattr(importlib.import_module(where[0]), where[1])
    return cls if isinstance(cls, type) else None


def object_literal(cls: type) -> str | None:
    """The class' own ``object`` value (``Literal["payment_intent"]``), if it has one."""
    own = fields_of(cls).get("object")
    if own is None:
        return None
    kind = resolved(own.kind)
    if isinstance(kind, Enum) and len(kind.values) == 1 and isinstance(kind.values[0], str):
        return kind.values[0]
    return None


# ============================================================================ routes


@dataclass(frozen=True)
class Route:
    """One operation: METHOD and path template, its TypedDict, and what it answers."""

    method: str
    template: str
    params: str  # "module:Class"
    #: The answer's object: "payment_intent", "list:refund", "deleted:webhook_endpoint".
    returns: str

    @property
    def regex(self) -> re.Pattern[str]:
        """The template as a regular expression (``{id}`` matches one path segment)."""
        return _template_regex(self.template)

    @property
    def params_class(self) -> type:
        """The operation's TypedDict."""
        module, name = self.params.split(":")
        cls: type = getattr(importlib.import_module(module), name)
        return cls


@cache
def _template_regex(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$")


def _r(method: str, template: str, module: str, returns: str) -> Route:
    """A Route whose TypedDict is named after its module (``_refund_create_params``)."""
    name = "".join(part.title() for part in module.rsplit(".", 1)[-1].split("_"))
    return Route(method, template, f"stripe.params.{module}:{name}", returns)


#: Every operation the SDK, the emulator and the tests use: METHOD, path, the module of its
#: TypedDict under ``stripe.params``, and the object it answers with.
# fmt: off
ROUTES: tuple[Route, ...] = (
    _r("GET", "/v1/payment_intents", "_payment_intent_list_params", "list:payment_intent"),
    _r("POST", "/v1/payment_intents", "_payment_intent_create_params", "payment_intent"),
    _r("GET", "/v1/payment_intents/search", "_payment_intent_search_params", "list:payment_intent"),
    _r("GET", "/v1/payment_intents/{intent}", "_payment_intent_retrieve_params", "payment_intent"),
    _r("POST", "/v1/payment_intents/{intent}", "_payment_intent_update_params", "payment_intent"),
    _r("POST", "/v1/payment_intents/{intent}/confirm", "_payment_intent_confirm_params", "payment_intent"),  # noqa: E501
    _r("POST", "/v1/payment_intents/{intent}/cancel", "_payment_intent_cancel_params", "payment_intent"),  # noqa: E501
    _r("GET", "/v1/checkout/sessions", "checkout._session_list_params", "list:checkout.session"),
    _r("POST", "/v1/checkout/sessions", "checkout._session_create_params", "checkout.session"),
    _r("GET", "/v1/checkout/sessions/{session}", "checkout._session_retrieve_params", "checkout.session"),  # noqa: E501
    _r("POST", "/v1/checkout/sessions/{session}/expire", "checkout._session_expire_params", "checkout.session"),  # noqa: E501
    _r("GET", "/v1/checkout/sessions/{session}/line_items", "checkout._session_line_item_list_params", "list:item"),  # noqa: E501
    _r("GET", "/v1/refunds", "_refund_list_params", "list:refund"),
    _r("POST", "/v1/refunds", "_refund_create_params", "refund"),
    _r("GET", "/v1/refunds/{refund}", "_refund_retrieve_params", "refund"),
    _r("POST", "/v1/refunds/{refund}/cancel", "_refund_cancel_params", "refund"),
    _r("POST", "/v1/test_helpers/refunds/{refund}/expire", "test_helpers._refund_expire_params", "refund"),  # noqa: E501
    _r("GET", "/v1/charges", "_charge_list_params", "list:charge"),
    _r("GET", "/v1/charges/{charge}", "_charge_retrieve_params", "charge"),
    _r("GET", "/v1/events", "_event_list_params", "list:event"),
    _r("GET", "/v1/events/{id}", "_event_retrieve_params", "event"),
    _r("GET", "/v1/invoices", "_invoice_list_params", "list:invoice"),
    _r("POST", "/v1/invoices", "_invoice_create_params", "invoice"),
    _r("GET", "/v1/invoices/{invoice}", "_invoice_retrieve_params", "invoice"),
    _r("POST", "/v1/invoices/{invoice}/finalize", "_invoice_finalize_invoice_params", "invoice"),
    _r("POST", "/v1/invoices/{invoice}/send", "_invoice_send_invoice_params", "invoice"),
    _r("POST", "/v1/invoiceitems", "_invoice_item_create_params", "invoiceitem"),
    _r("GET", "/v1/invoiceitems/{invoiceitem}", "_invoice_item_retrieve_params", "invoiceitem"),
    _r("GET", "/v1/customers", "_customer_list_params", "list:customer"),
    _r("POST", "/v1/customers", "_customer_create_params", "customer"),
    _r("GET", "/v1/customers/{customer}", "_customer_retrieve_params", "customer"),
    _r("POST", "/v1/customers/{customer}", "_customer_update_params", "customer"),
    _r("POST", "/v1/products", "_product_create_params", "product"),
    _r("GET", "/v1/products/{id}", "_product_retrieve_params", "product"),
    _r("POST", "/v1/prices", "_price_create_params", "price"),
    _r("GET", "/v1/prices/{price}", "_price_retrieve_params", "price"),
    _r("GET", "/v1/webhook_endpoints", "_webhook_endpoint_list_params", "list:webhook_endpoint"),
    _r("POST", "/v1/webhook_endpoints", "_webhook_endpoint_create_params", "webhook_endpoint"),
    _r("GET", "/v1/webhook_endpoints/{webhook_endpoint}", "_webhook_endpoint_retrieve_params", "webhook_endpoint"),  # noqa: E501
    _r("POST", "/v1/webhook_endpoints/{webhook_endpoint}", "_webhook_endpoint_update_params", "webhook_endpoint"),  # noqa: E501
    _r("DELETE", "/v1/webhook_endpoints/{webhook_endpoint}", "_webhook_endpoint_delete_params", "deleted:webhook_endpoint"),  # noqa: E501
    _r("POST", "/v1/payment_methods", "_payment_method_create_params", "payment_method"),
    _r("GET", "/v1/payment_methods/{payment_method}", "_payment_method_retrieve_params", "payment_method"),  # noqa: E501
)
# fmt: on


def route_for(method: str, path: str) -> Route | None:
    """The operation for ``METHOD path`` (a fixed segment beats a ``{placeholder}``)."""
    hits = [r for r in ROUTES if r.method == method.upper() and r.regex.match(path)]
    return min(hits, key=lambda r: r.template.count("{")) if hits else None


# ============================================================================ results


@dataclass
class Verdict:
    """What one check found: ``errors`` break conformance, ``warnings`` are hints."""

    title: str
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No errors."""
        return not self.errors

    def lines(self) -> list[str]:
        """One line per error, prefixed with the title."""
        return [f"{self.title}: {error}" for error in self.errors]


def _did_you_mean(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.7)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 50 else text[:47] + "..."


def _enum_text(enum: Enum) -> str:
    values = [v for v in enum.values if v != ""]
    listed = repr(values) if len(values) <= 10 else f"the {len(values)} values stripe lists"
    return listed + (" (open enum: Literal[...] | str)" if enum.open else "")


def _describe(kind: Kind) -> str:
    kind = resolved(kind)
    if isinstance(kind, Scalar):
        return {"str": "a string", "int": "an integer", "float": "a number", "bool": "a boolean",
                "decimal": "a decimal string", "any": "anything"}[kind.name]  # fmt: skip
    if isinstance(kind, Null):
        return "null"
    if isinstance(kind, Enum):
        if all(v == "" for v in kind.values):
            return "'' (to unset)"
        return "one of " + _enum_text(kind)
    if isinstance(kind, ListOf):
        return "a list"
    if isinstance(kind, Page):
        return "a list object"
    if isinstance(kind, (MapOf, Shape)):
        return "an object"
    return " or ".join(dict.fromkeys(_describe(o) for o in options(kind)))


# ============================================================================ form requests

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_INT = re.compile(r"-?\d+")
_NUMBER = re.compile(r"-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")


def parse_form(text: str, errors: list[str]) -> dict[str, Any]:
    """Stripe's bracket encoding as a tree: leaves are strings, ``name[]`` appends."""
    tree: dict[str, Any] = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        match = _KEY.match(key)
        if match is None:
            errors.append(f"{key}: malformed parameter name")
            continue
        parts = [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))]
        node = tree
        for depth, part in enumerate(parts):
            if part == "":
                part = str(sum(1 for k in node if k.isdigit()))
            if depth == len(parts) - 1:
                if isinstance(node.get(part), dict):
                    errors.append(f"{key}: given both as a value and with nested parameters")
                else:
                    node[part] = value
                break
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                errors.append(f"{key}: given both as a value and with nested parameters")
                break
            node = child
    return tree


def _name(where: str, key: str) -> str:
    return f"{where}[{key}]" if where else key


class _Form:
    """Checks a parsed form against a parameter type; errors collect in ``errors``."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def check(self, node: Any, kind: Kind, where: str) -> None:
        known = plan(kind)
        if known.anything:
            return
        if isinstance(node, str):
            self._leaf(node, known, where)
            return
        nested = known.nested
        if not nested:
            first = next(iter(node), "")
            self.errors.append(
                f"{where}: expected {_describe(known.kind)}, got nested parameters "
                f"({_name(where, first)}=...)"
            )
            return
        best: list[str] | None = None
        for candidate in nested:
            trial = _Form()
            trial._nested(node, candidate, where)
            if not trial.errors:
                return
            if best is None or len(trial.errors) < len(best):
                best = trial.errors
        self.errors += best or []

    def _nested(self, node: dict[str, Any], kind: Kind, where: str) -> None:
        if isinstance(kind, Shape):
            fields = fields_of(kind.cls)
            for key, value in node.items():
                if key not in fields:
                    hint = _did_you_mean(key, fields) or (
                        " (the operation takes no parameters)" if not fields else ""
                    )
                    self.errors.append(f"{_name(where, key)}: unknown parameter{hint}")
                    continue
                self.check(value, fields[key].kind, _name(where, key))
            for key, spec in fields.items():
                if spec.required and key not in node:
                    self.errors.append(f"{_name(where, key)}: required parameter missing")
        elif isinstance(kind, MapOf):
            for key, value in node.items():
                self.check(value, kind.value, _name(where, key))
        elif isinstance(kind, (ListOf, Page)):
            named = [key for key in node if not key.isdigit()]
            if named:
                self.errors.append(
                    f"{_name(where, named[0])}: expected a list ({where}[0]=...), "
                    f"got the named key {named[0]!r}"
                )
                return
            for key in sorted(node, key=int):
                self.check(node[key], kind.item, _name(where, key))

    def _leaf(self, value: str, known: _Plan, where: str) -> None:
        alternatives = known.alternatives
        scalars = known.scalars
        enums = known.enums
        if "str" in scalars:
            return
        if "int" in scalars and _INT.fullmatch(value):
            return
        if scalars & {"float", "decimal"} and _NUMBER.fullmatch(value):
            return
        if "bool" in scalars and value in ("true", "false"):
            return
        wire = known.form_values
        if value in wire:
            return
        nested = [o for o in alternatives if isinstance(o, (Shape, MapOf, ListOf, Page))]
        named = sorted(w for w in wire if w)
        if named and not scalars and not nested:
            enum = Enum(tuple(named), any(e.open for e in enums))
            self.errors.append(
                f"{where}: {_short(value)} is not one of {_enum_text(enum)}"
                f"{_did_you_mean(value, named)}"
            )
        elif nested and not scalars and not named:
            form = (
                "a list (name[0]=...)"
                if isinstance(nested[0], (ListOf, Page))
                else ("nested parameters (name[key]=...)")
            )
            self.errors.append(f"{where}: expected {form}, got the value {_short(value)}")
        else:
            self.errors.append(
                f"{where}: {_short(value)} is not {_describe(AnyOf(tuple(alternatives)))}"
            )


def _form_value(value: Any) -> str:
    """A Literal value as the form encoding writes it (``True`` -> ``true``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def check_request(method: str, url: str, body: str | bytes | None = None) -> Verdict:
    """Check one form-encoded request (the body of a POST, the query of a GET/DELETE)."""
    method = method.upper()
    parts = urlsplit(url)
    path = parts.path or "/"
    verdict = Verdict(f"{method} {path}")
    route = route_for(method, path)
    if route is None:
        verdict.errors.append(
            f"no operation of stripe-python {STRIPE_PACKAGE_VERSION} is mapped to "
            f"{method} {path} (add it to tests/conformance.py ROUTES, or the path is wrong)"
        )
        return verdict
    verdict.title = f"{method} {path} [{route.params.split(':')[1]}]"
    text = body.decode() if isinstance(body, bytes) else (body or "")
    joined = "&".join(p for p in (parts.query, text) if p)
    tree = parse_form(joined, verdict.errors)
    form = _Form()
    form._nested(tree, shape(route.params_class), "")
    verdict.errors += form.errors
    return verdict


# ============================================================================ JSON answers


_JSON_NAMES = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
               list: "a list", dict: "an object"}  # fmt: skip


class _Json:
    """Checks a JSON value against a field type; ``missing`` collects absent declared fields."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.warnings: list[str] = []

    def check(self, value: Any, kind: Kind, where: str) -> None:
        known = plan(kind)
        if known.anything:
            return
        kind = known.kind
        scalars = known.scalars
        enums = known.enums
        if value is None:
            if not known.null:
                self.errors.append(f"{where}: null, expected {_describe(kind)} (not Optional)")
            return
        if isinstance(value, bool):
            if "bool" in scalars or any(v is value for v in known.enum_values):
                return
        elif isinstance(value, int):
            if scalars & {"int", "float"}:
                return
            if any(v == value and not isinstance(v, bool) for v in known.enum_values):
                return
        elif isinstance(value, float):
            if "float" in scalars:
                return
        elif isinstance(value, str):
            if "str" in scalars:
                return
            if "decimal" in scalars and _NUMBER.fullmatch(value):
                return
            if value in known.enum_strings:
                return
            if enums:
                enum = Enum(tuple(v for e in enums for v in e.values), any(e.open for e in enums))
                named = [v for v in enum.values if isinstance(v, str) and v]
                self.errors.append(
                    f"{where}: {_short(value)} is not one of {_enum_text(enum)}"
                    f"{_did_you_mean(value, named)}"
                )
                return
        elif isinstance(value, list):
            lists = known.lists
            if lists:
                for index, item in enumerate(value):
                    self.check(item, lists[0].item, f"{where}[{index}]")
                return
        elif isinstance(value, dict):
            objects = known.objects
            if objects:
                self._object(value, list(objects), where)
                return
        got = _JSON_NAMES.get(type(value), type(value).__name__)
        self.errors.append(f"{where}: {_short(value)} is {got}, expected {_describe(kind)}")

    def _object(self, value: dict[str, Any], candidates: list[Kind], where: str) -> None:
        own = value.get("object")
        if len(candidates) > 1 and isinstance(own, str):
            same = [c for c in candidates if isinstance(c, Shape) and object_literal(c.cls) == own]
            if own == "list":
                same = [c for c in candidates if isinstance(c, Page)]
            candidates = same or candidates
        best: _Json | None = None
        for candidate in candidates:
            trial = _Json()
            trial.nested(value, candidate, where)
            if not trial.errors:
                self.warnings += trial.warnings
                return
            if best is None or len(trial.errors) < len(best.errors):
                best = trial
        assert best is not None
        self.errors += best.errors
        self.warnings += best.warnings

    def nested(self, value: dict[str, Any], kind: Kind, where: str) -> None:
        if isinstance(kind, MapOf):
            for key, item in value.items():
                self.check(item, kind.value, f"{where}.{key}")
        elif isinstance(kind, Page):
            self.page(value, kind.item, where)
        elif isinstance(kind, Shape):
            self.resource(value, kind.cls, where)

    def page(self, value: dict[str, Any], item: Kind, where: str) -> None:
        if value.get("object") not in ("list", "search_result"):
            self.errors.append(f"{where}.object: {_short(value.get('object'))}, expected 'list'")
        data = value.get("data")
        if not isinstance(data, list):
            self.errors.append(f"{where}.data: missing or not a list")
            return
        for key in value:
            if key not in ("object", "data", "has_more", "url", "next_page", "total_count"):
                self.errors.append(f"{where}.{key}: unknown field (not in a list object)")
        if not isinstance(value.get("has_more"), bool):
            self.errors.append(f"{where}.has_more: missing or not a boolean")
        for index, element in enumerate(data):
            self.check(element, item, f"{where}.data[{index}]")

    def resource(self, value: dict[str, Any], cls: type, where: str) -> None:
        fields = fields_of(cls)
        for key, item in value.items():
            if key not in fields:
                self.errors.append(
                    f"{where}.{key}: unknown field (not in {cls.__qualname__} at {API_VERSION})"
                    f"{_did_you_mean(key, fields)}"
                )
                continue
            self.check(item, fields[key].kind, f"{where}.{key}")
        if object_literal(cls) is not None and value.get("deleted") is not True:
            absent = [
                name for name, spec in fields.items()
                if name not in value and not _may_be_left_out(cls, name, spec, value)
            ]  # fmt: skip
            if absent:
                self.warnings.append(
                    f"{where}: declared field(s) absent: {', '.join(sorted(absent))}"
                )
        if cls.__name__ == "Event" and cls.__module__ == "stripe._event":
            self._event_data(value, where)

    def _event_data(self, event: dict[str, Any], where: str) -> None:
        data = event.get("data")
        if not isinstance(data, dict):
            return
        inner = data.get("object")
        cls = (
            object_class(inner["object"])
            if isinstance(inner, dict) and isinstance(inner.get("object"), str)
            else None
        )
        if cls is None:
            if isinstance(inner, dict):
                self.errors.append(
                    f"{where}.data.object: no stripe class for object {_short(inner.get('object'))}"
                )
            return
        self.resource(inner, cls, f"{where}.data.object")
        previous = data.get("previous_attributes")
        if isinstance(previous, dict):
            fields = fields_of(cls)
            for key, item in previous.items():
                if key not in fields:
                    self.errors.append(
                        f"{where}.data.previous_attributes.{key}: unknown field "
                        f"(not in {cls.__qualname__})"
                    )
                else:
                    self.check(item, fields[key].kind, f"{where}.data.previous_attributes.{key}")


def _may_be_left_out(cls: type, name: str, spec: FieldType, value: dict[str, Any]) -> bool:
    """Declared fields Stripe omits: unexpanded lists, ``deleted``, other types' sub-objects."""
    always, per_type = _left_out(cls)
    if name in always:
        return True
    if name in per_type:
        return name != value.get("type")
    return False


@cache
def _left_out(cls: type) -> tuple[frozenset[str], frozenset[str]]:
    """:func:`_may_be_left_out`'s answer for ``cls``, read once: the fields it may always
    leave out (unexpanded lists, ``deleted``), and those named after a value of its ``type``
    (left out unless they are the object's type)."""
    fields = fields_of(cls)
    always = {
        name
        for name, spec in fields.items()
        if name == "deleted" or any(isinstance(o, Page) for o in plan(spec.kind).alternatives)
    }
    kind_field = fields.get("type")
    per_type: set[str] = set()
    if kind_field is not None:
        kinds = [o for o in options(resolved(kind_field.kind)) if isinstance(o, Enum)]
        per_type = {name for name in fields if any(name in e.values for e in kinds)}
    return frozenset(always), frozenset(per_type - always)


def check_response(payload: Any, expected: str = "auto", status: int = 200) -> Verdict:
    """Check a JSON answer: ``expected`` is an object name (``payment_intent``), ``list:X``,
    ``deleted:X``, ``error`` or ``auto`` (the payload's own ``"object"``)."""
    if status >= 400 or expected == "error":
        verdict = Verdict(f"error {status}")
        if not isinstance(payload, dict) or set(payload) != {"error"}:
            verdict.errors.append('an error answer must be {"error": {...}}')
            return verdict
        checker = _Json()
        error_class = object_class("error")
        assert error_class is not None
        checker.check(payload["error"], shape(error_class), "$.error")
        verdict.errors += checker.errors
        return verdict
    if not isinstance(payload, dict):
        return Verdict(f"{expected}", [f"$: {_short(payload)} is not an object"])
    own = payload.get("object")
    if expected == "auto":
        expected = f"list:{_first_object(payload)}" if own == "list" else str(own)
    verdict = Verdict(expected)
    checker = _Json()
    wanted = expected.split(":")[-1]
    cls = object_class(wanted) if wanted != "auto" else None
    if expected.startswith("list:"):
        item: Kind = shape(cls) if cls is not None else ANY
        checker.page(payload, item, "$")
    elif cls is None:
        verdict.errors.append(f"$.object: no stripe class for {_short(own)}")
    else:
        if expected.startswith("deleted:") and payload.get("deleted") is not True:
            verdict.errors.append("$.deleted: expected true")
        if "object" not in payload and object_literal(cls) is not None:
            verdict.errors.append(
                f"$.object: missing (Stripe names every object's type: {object_literal(cls)!r})"
            )
        checker.resource(payload, cls, "$")
    verdict.errors += checker.errors
    verdict.warnings += checker.warnings
    return verdict


def _first_object(page: dict[str, Any]) -> str:
    data = page.get("data")
    if isinstance(data, list) and data and isinstance(data[0], dict):
        return str(data[0].get("object"))
    return "auto"


def check_exchange(
    method: str,
    url: str,
    body: str | bytes | None,
    status: int | None,
    payload: Any,
    *,
    refused_requests_too: bool = True,
) -> Verdict:
    """Check a request and (when ``status`` is given) its JSON answer, as the route expects.

    With ``refused_requests_too=False`` a request answered with an error is not checked (a
    test may break the rules on purpose: that is what the error says); its answer still is.
    """
    method = method.upper()
    request = check_request(method, url, body)
    verdict = Verdict(request.title)
    if refused_requests_too or status is None or 200 <= status < 300:
        verdict.errors += request.errors
    if status is None or payload is None:
        return verdict
    route = route_for(method, urlsplit(url).path)
    expected = route.returns if route is not None else "auto"
    answer = check_response(payload, expected, status)
    verdict.errors += [f"response {status}: {e}" for e in answer.errors]
    verdict.warnings += [f"response {status}: {w}" for w in answer.warnings]
    return verdict


# ============================================================================ cassettes


def _header(headers: Any, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name.lower():
            return str(value[0]) if isinstance(value, list) and value else str(value)
    return None


def _body(body: Any) -> str:
    if isinstance(body, dict):
        body = body.get("string")
    if isinstance(body, bytes):
        return body.decode("utf-8")
    return body or ""


@dataclass(frozen=True)
class Interaction:
    """One recorded request and its answer (``payload``: the JSON body, ``None`` if none)."""

    method: str
    uri: str
    body: str
    headers: dict[str, Any]
    status: int
    text: str
    payload: Any


def load_cassette(path: Path) -> list[Interaction]:
    """The interactions of a vcrpy cassette (YAML)."""
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
    found = []
    for interaction in data.get("interactions") or []:
        request, response = interaction["request"], interaction.get("response") or {}
        text = _body(response.get("body"))
        try:
            payload = json.loads(text) if text.strip() else None
        except ValueError:
            payload = None
        found.append(
            Interaction(
                method=request["method"],
                uri=request["uri"],
                body=_body(request.get("body")),
                headers=request.get("headers") or {},
                status=int((response.get("status") or {}).get("code", 200)),
                text=text,
                payload=payload,
            )
        )
    return found


def check_cassette(path: Path) -> list[Verdict]:
    """Check every interaction of a vcrpy cassette: its request and its answer."""
    verdicts = []
    for number, it in enumerate(load_cassette(path), 1):
        verdict = check_exchange(it.method, it.uri, it.body, it.status, it.payload)
        if it.payload is None and it.text.strip():
            verdict.errors.append(f"response {it.status}: the body is not JSON")
        sent = _header(it.headers, "Stripe-Version")
        if sent is not None and sent != API_VERSION:
            verdict.warnings.append(f"Stripe-Version {sent}; these types are {API_VERSION}")
        verdict.title = f"{path.parent.name}/{path.name}#{number} {verdict.title}"
        verdicts.append(verdict)
    return verdicts


def cassette_problems(path: Path) -> list[str]:
    """Every error in a cassette, one line each (empty when it conforms)."""
    return [line for verdict in check_cassette(path) for line in verdict.lines()]


def event_problems(events: list[dict[str, Any]]) -> list[str]:
    """Every error in a list of events (``Event`` objects, their ``data.object`` included)."""
    problems: list[str] = []
    for event in events:
        verdict = check_response(event, "event")
        problems += [f"event {event.get('id')} {event.get('type')}: {e}" for e in verdict.errors]
    return problems
