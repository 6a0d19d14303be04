"""The route registry: (method, path pattern) → handler; and what a handler receives.

Resource modules declare a :class:`Resource` (its object, id prefix and URL) and register
its handlers with :meth:`Resource.register`, other routes with :meth:`Router.add`; a handler
gets a :class:`Call` and returns the JSON object to send with HTTP 200, or raises
``ApiError``. Handlers run with the state lock held, so each request is atomic.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from konbini_sdk.testing._state import LIST_PARAMS, State, snapshot
from konbini_sdk.testing._versions import LATEST
from konbini_sdk.testing._wire import ApiError, Arr, Node, Obj, Str, coerce, invalid

__all__ = [
    "ON_COLLECTION",
    "ON_ITEM",
    "Call",
    "Handler",
    "Resource",
    "Route",
    "Router",
    "expand",
    "list_handler",
    "retrieve_handler",
]


@dataclass
class Call:
    """One API request as a handler sees it."""

    state: State
    method: str
    path: str
    path_params: dict[str, str]
    raw: dict[str, Any]
    request_id: str
    idempotency_key: str | None
    context: dict[str, Any] = field(default_factory=dict)
    #: The API version of the request (``Stripe-Version``); calls the emulator makes to
    #: itself (Checkout creating its PaymentIntent...) use the newest.
    version: str = LATEST

    def params(self, shape: Mapping[str, Node], *, expandable: bool = True) -> dict[str, Any]:
        """Return the parameters checked against ``shape`` (plus ``expand``) and converted.

        Unknown parameters raise 400 ``parameter_unknown`` naming the parameter.
        """
        fields = dict(shape)
        if expandable:
            fields.setdefault("expand", Arr(Str(5000)))
        return coerce(self.raw, Obj(fields, emptiable=False))

    def respond(self, obj: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
        """Return a deep copy of ``obj`` with the requested ``expand[]`` paths expanded."""
        return expand(self.state, obj, params.get("expand") or [])


Handler = Callable[[Call], dict[str, Any]]


def retrieve_handler(kind: str, param: str) -> Handler:
    """Return the handler of a plain ``GET .../{param}``: the stored ``kind`` object.

    It takes no parameters but ``expand``; an unknown id is Stripe's 404 naming ``param``.
    """

    def retrieve(call: Call) -> dict[str, Any]:
        params = call.params({})
        found = call.state.get(kind, call.path_params[param], param=param)
        return call.respond(found, params)

    return retrieve


def list_handler(kind: str, url: str, filters: Mapping[str, Node] | None = None) -> Handler:
    """Return the handler of a plain ``GET url``: a page of the stored ``kind`` objects.

    Each parameter of ``filters`` (its name and shape) is optional; when given (not empty),
    only the objects whose field of that name equals it are listed.
    """
    shape = {**LIST_PARAMS, **(filters or {})}
    names = tuple(filters or ())

    def list_objects(call: Call) -> dict[str, Any]:
        params = call.params(shape)
        wanted = [(name, params[name]) for name in names if params.get(name)]
        page = call.state.list_page(
            kind, url, params, lambda obj: all(obj[name] == value for name, value in wanted)
        )
        return call.respond(page, params)

    return list_objects


@dataclass(frozen=True)
class Route:
    """A registered endpoint."""

    method: str
    pattern: str
    regex: re.Pattern[str]
    handler: Handler
    literal_segments: int


class Router:
    """(method, path pattern) → handler. ``{name}`` segments match one path segment."""

    def __init__(self) -> None:
        self._routes: list[Route] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        """Register ``handler`` for ``method`` on ``pattern`` (e.g. ``/v1/charges/{charge}``)."""
        parts = pattern.strip("/").split("/")
        regex = "/".join(
            f"(?P<{part[1:-1]}>[^/]+)" if part.startswith("{") else re.escape(part)
            for part in parts
        )
        literal = sum(not part.startswith("{") for part in parts)
        route = Route(method.upper(), pattern, re.compile(f"^/{regex}$"), handler, literal)
        self._routes.append(route)
        self._routes.sort(key=lambda r: -r.literal_segments)

    def routes(self) -> list[Route]:
        """Every registered route (most specific first)."""
        return list(self._routes)

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        """Return the route and path parameters for a request, or a 404 like Stripe's."""
        for route in self._routes:
            found = route.regex.match(path)
            if found and route.method == method.upper():
                return route, found.groupdict()
        raise ApiError(
            404,
            f"Unrecognized request URL ({method.upper()}: {path}). Please see "
            "https://docs.stripe.com or the konbini_sdk.testing documentation for the "
            "endpoints this emulator serves.",
            stored=False,
        )


#: Stripe's REST conventions: the HTTP method of each verb on a :class:`Resource`'s
#: collection (``url``) and on one of its objects (``item``).
ON_COLLECTION: Final = {"create": "POST", "list": "GET"}
ON_ITEM: Final = {"retrieve": "GET", "update": "POST", "delete": "DELETE"}


@dataclass(frozen=True)
class Resource:
    """A Stripe resource the emulator serves, routed by Stripe's REST conventions.

    Its objects are stored as ``kind`` with ids ``{prefix}_...``. ``url`` is the collection
    (``POST`` creates, ``GET`` lists); :attr:`item`, ``url/{param}``, is one object (``GET``
    retrieves, ``POST`` updates, ``DELETE`` deletes); ``item/{action}`` acts on it (``POST``).
    """

    kind: str
    prefix: str
    url: str
    param: str

    @property
    def item(self) -> str:
        """The path pattern of one object: ``url/{param}``."""
        return f"{self.url}/{{{self.param}}}"

    def lister(self, filters: Mapping[str, Node] | None = None) -> Handler:
        """Return the plain ``GET url`` handler (see :func:`list_handler`)."""
        return list_handler(self.kind, self.url, filters)

    def register(
        self,
        router: Router,
        state: State,
        *,
        actions: Mapping[str, Handler] | None = None,
        **verbs: Handler,
    ) -> None:
        """Declare the id prefix and route the handler of each verb given.

        ``verbs`` are named as in :data:`ON_COLLECTION` and :data:`ON_ITEM` (``create=``,
        ``list=``, ``update=``...);
        ``retrieve`` defaults to the stored object (:func:`retrieve_handler`); a verb left
        out is not served (Stripe's 404). ``actions``: ``POST item/{name}`` handlers.
        """
        state.register_kind(self.prefix, self.kind)
        verbs.setdefault("retrieve", retrieve_handler(self.kind, self.param))
        for verb, handler in verbs.items():
            if verb in ON_COLLECTION:
                router.add(ON_COLLECTION[verb], self.url, handler)
            elif verb in ON_ITEM:
                router.add(ON_ITEM[verb], self.item, handler)
            else:
                known = ", ".join([*ON_COLLECTION, *ON_ITEM])
                raise TypeError(f"{verb!r} is not a verb of a resource ({known})")
        for name, handler in (actions or {}).items():
            router.add("POST", f"{self.item}/{name}", handler)


def expand(state: State, obj: Mapping[str, Any], paths: list[str]) -> dict[str, Any]:
    """Copy ``obj`` and replace the ids at each dotted path by the objects they name."""
    result = snapshot(dict(obj))
    for path in paths:
        _expand_path(state, result, path.split("."), path)
    return result


def _expand_path(state: State, node: Any, parts: list[str], full: str) -> None:
    if isinstance(node, list):
        for item in node:
            _expand_path(state, item, parts, full)
        return
    if not isinstance(node, dict) or parts[0] not in node:
        raise invalid(
            f"This property cannot be expanded ({full}).",
            code="parameter_invalid_string",
            param="expand",
        )
    key, rest = parts[0], parts[1:]
    value = node[key]
    if rest:
        _expand_path(state, value, rest, full)
        return
    if value is None or isinstance(value, dict):
        return
    found = state.find(str(value)) if isinstance(value, str) else None
    if found is None:
        raise invalid(
            f"This property cannot be expanded ({full}).",
            code="parameter_invalid_string",
            param="expand",
        )
    node[key] = snapshot(found)
