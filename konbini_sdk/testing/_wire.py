"""Stripe's wire format: bracket-encoded form parameters, declared parameter shapes, errors.

Stripe encodes nested parameters as ``a[b][c]=1``, arrays as ``a[0]=x`` or ``a[]=x``. This
module parses them into a tree, checks the tree against a declared shape (unknown parameters
are refused with ``parameter_unknown`` as Stripe does) and converts the leaves to Python types.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import parse_qsl

__all__ = [
    "ApiError",
    "Arr",
    "Bool",
    "Enum",
    "Int",
    "IntRange",
    "Map",
    "Node",
    "Obj",
    "Str",
    "coerce",
    "fingerprint",
    "parse_form",
]

DOC_URL: Final = "https://docs.stripe.com/error-codes"
_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")


class ApiError(Exception):
    """An error answer in Stripe's shape: ``{"error": {"type", "code", "message", "param"}}``.

    ``stored`` says whether the idempotency layer keeps this answer: Stripe keeps results only
    once an endpoint began executing, so parameter validation errors are not stored.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type_: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        stored: bool = True,
        extra: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_
        self.code = code
        self.param = param
        self.stored = stored
        self.extra = dict(extra or {})
        self.headers = dict(headers or {})

    def body(self, request_log_url: str | None = None) -> dict[str, Any]:
        """Return the JSON body Stripe would send."""
        error: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.code is not None:
            error["code"] = self.code
            error["doc_url"] = f"{DOC_URL}#{self.code.replace('_', '-')}"
        if self.param is not None:
            error["param"] = self.param
        if request_log_url is not None:
            error["request_log_url"] = request_log_url
        error.update(self.extra)
        return {"error": error}


def invalid(message: str, *, code: str | None, param: str | None) -> ApiError:
    """Return a 400 for parameters that fail validation (never stored by the idempotency layer)."""
    return ApiError(400, message, code=code, param=param, stored=False)


def parse_form(body: str) -> dict[str, Any]:
    """Parse a bracket-encoded form (or query string) into a tree of dicts with str leaves.

    Array elements are keyed by their index; ``name[]`` appends. Malformed names or a name
    given both as a value and with nested parameters raise ``ApiError`` (400).
    """
    tree: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        match = _KEY.match(key)
        if match is None:
            raise invalid(f"Invalid parameter name: {key}", code="parameter_unknown", param=key)
        segments = [match.group(1), *_SEGMENT.findall(match.group(2))]
        node = tree
        for index, segment in enumerate(segments):
            if segment == "":
                segment = str(sum(1 for existing in node if existing.isdigit()))
            if index == len(segments) - 1:
                if isinstance(node.get(segment), dict):
                    raise invalid(
                        f"Invalid parameter {key}: given both as a value and as an object",
                        code="parameter_invalid_string",
                        param=key,
                    )
                node[segment] = value
            else:
                child = node.setdefault(segment, {})
                if not isinstance(child, dict):
                    raise invalid(
                        f"Invalid parameter {key}: given both as a value and as an object",
                        code="parameter_invalid_string",
                        param=key,
                    )
                node = child
    return tree


def fingerprint(body: str) -> tuple[tuple[str, str], ...]:
    """Parameters as sorted pairs: equal for the same parameters in any order."""
    return tuple(sorted(parse_qsl(body, keep_blank_values=True)))


def _name(path: Sequence[str]) -> str:
    return path[0] + "".join(f"[{part}]" for part in path[1:]) if path else ""


@dataclass(frozen=True)
class Str:
    """A string; ``max_length`` as Stripe's spec declares it; ``""`` is kept (it unsets)."""

    max_length: int | None = None


@dataclass(frozen=True)
class Int:
    """An integer (``""`` unsets where Stripe allows it; kept as ``""``)."""


@dataclass(frozen=True)
class Bool:
    """``true`` or ``false``."""


@dataclass(frozen=True)
class Enum:
    """One of fixed strings."""

    values: tuple[str, ...]


@dataclass(frozen=True)
class Map:
    """A free-form string map such as ``metadata`` (``""`` unsets it)."""


@dataclass(frozen=True)
class Arr:
    """An array of ``item`` (``a[0]=x`` or ``a[]=x``); ``""`` means an empty array."""

    item: Node


@dataclass(frozen=True)
class Obj:
    """Nested parameters with known names; anything else is ``parameter_unknown``."""

    fields: Mapping[str, Node] = field(default_factory=dict)
    #: Whether ``""`` may stand for the whole object (Stripe's "unset" alternative).
    emptiable: bool = True


@dataclass(frozen=True)
class IntRange:
    """An integer, or a range ``[gt]``/``[gte]``/``[lt]``/``[lte]`` (as list filters take)."""


Node = Str | Int | Bool | Enum | Map | Arr | Obj | IntRange


def coerce(tree: Mapping[str, Any], shape: Obj) -> dict[str, Any]:
    """Check a parsed form tree against ``shape`` and convert its leaves.

    Returns a new tree with ints, bools and lists in place of their string forms. Raises a
    400 ``ApiError`` naming the first offending parameter, with Stripe's codes:
    ``parameter_unknown``, ``parameter_invalid_integer``, ``parameter_invalid_string``,
    ``parameter_invalid_empty``.
    """
    result: dict[str, Any] = _coerce_obj(tree, shape, [])
    return result


def _coerce_obj(node: Any, shape: Obj, path: list[str]) -> Any:
    if not isinstance(node, dict):
        if node == "" and shape.emptiable and path:
            return ""
        raise invalid(
            f"Invalid object: {_name(path)} must be given as nested parameters "
            f"({_name(path)}[...]=...)",
            code="parameter_invalid_string",
            param=_name(path),
        )
    out: dict[str, Any] = {}
    for key, value in node.items():
        child = shape.fields.get(key)
        if child is None:
            raise invalid(
                f"Received unknown parameter: {_name([*path, key])}",
                code="parameter_unknown",
                param=_name([*path, key]),
            )
        out[key] = _coerce(value, child, [*path, key])
    return out


def _coerce(node: Any, shape: Node, path: list[str]) -> Any:
    name = _name(path)
    if isinstance(shape, Obj):
        return _coerce_obj(node, shape, path)
    if isinstance(shape, IntRange):
        if isinstance(node, dict):
            bounds = Obj({key: Int() for key in ("gt", "gte", "lt", "lte")}, emptiable=False)
            return _coerce_obj(node, bounds, path)
        return _coerce(node, Int(), path)
    if isinstance(shape, Map):
        if node == "":
            return ""
        if not isinstance(node, dict) or any(isinstance(v, dict) for v in node.values()):
            raise invalid(
                f"Invalid object: {name} must be a map of string keys to string values",
                code="parameter_invalid_string",
                param=name,
            )
        return dict(node)
    if isinstance(shape, Arr):
        if node == "":
            return []
        if not isinstance(node, dict) or not all(key.isdigit() for key in node):
            raise invalid(
                f"Invalid array: {name} must be given as {name}[0]=... or {name}[]=...",
                code="parameter_invalid_string",
                param=name,
            )
        return [_coerce(node[key], shape.item, [*path, key]) for key in sorted(node, key=int)]
    if isinstance(node, dict):
        raise invalid(
            f"Invalid {name}: expected a value, got nested parameters",
            code="parameter_invalid_string",
            param=name,
        )
    value = str(node)
    if isinstance(shape, Int):
        if value == "":
            return ""
        if not re.fullmatch(r"-?\d+", value):
            raise invalid(f"Invalid integer: {value}", code="parameter_invalid_integer", param=name)
        return int(value)
    if isinstance(shape, Bool):
        if value not in ("true", "false"):
            raise invalid(f"Invalid boolean: {value}", code="parameter_invalid_boolean", param=name)
        return value == "true"
    if isinstance(shape, Enum):
        if value not in shape.values:
            raise invalid(
                f"Invalid {name}: must be one of {', '.join(shape.values)}",
                code="parameter_invalid_string",
                param=name,
            )
        return value
    if shape.max_length is not None and len(value) > shape.max_length:
        raise invalid(
            f"Invalid {name}: must be at most {shape.max_length} characters",
            code="parameter_invalid_string_too_long",
            param=name,
        )
    return value
