"""The SDK's structlog logger, and the processor that redacts secrets and personal data.

Quiet by default: a library prints nothing unless the application asks. While structlog is
unconfigured (``structlog.is_configured()`` is false, as in most applications), the SDK's
lines go to the standard library's ``logging`` under the ``konbini_sdk`` logger, which has a
``NullHandler`` and no level of its own: nothing is written unless the application configures
``logging`` (``logging.basicConfig(level=logging.INFO)`` shows the INFO lines on stderr).
Once the application configures structlog, the lines go through structlog as below.

A library must not call ``structlog.configure()``: the merchant owns the processor chain (and
``structlog.testing.capture_logs()`` swaps it out entirely). So the SDK cannot rely on a
processor of its own sitting in that chain. Instead, :func:`get_logger` returns a
:class:`RedactingLogger`, a thin wrapper that runs :func:`redact_sensitive` over the event and
its key-value pairs *before* handing them to ``structlog.get_logger("konbini_sdk")``. Whatever
chain is configured (the merchant's, structlog's default, or ``capture_logs``) only ever sees
redacted values.

Every SDK module logs like this::

    from konbini_sdk._logging import get_logger

    log = get_logger()
    log.info("payment_intent.created", payment_intent_id=intent.id)

Merchants who want the same protection for their own log lines add the processor to their
chain, first, so the renderers see redacted values::

    import structlog
    from konbini_sdk import redact_sensitive

    structlog.configure(
        processors=[redact_sensitive, structlog.processors.add_log_level,
                    structlog.processors.JSONRenderer()]
    )
"""

from __future__ import annotations

import functools
import logging
import re
import sys
import traceback
from collections.abc import Iterator, Mapping, MutableMapping
from contextvars import ContextVar
from typing import Any, Final

# structlog is never imported here (RedactingLogger._target finds it in sys.modules: a
# process that has not imported it has not configured it), so its import (~15 ms,
# structlog.dev and its console renderer included) is not paid for the SDK's sake.

__all__ = [
    "IN_PUBLIC_OPERATION",
    "LOGGER_NAME",
    "REDACTED",
    "SENSITIVE_KEYS",
    "RedactingLogger",
    "get_logger",
    "redact_sensitive",
    "scrub_text",
]

#: The name every SDK log line is emitted under (passed to the logger factory).
LOGGER_NAME: Final = "konbini_sdk"
#: True while a public operation (``pay_order``, ``refunds.create``...) runs in this thread or
#: task: it logs the operation's one line (INFO, or WARNING when it failed), so the requests
#: inside it log their own outcome at DEBUG only. A failed operation is one WARNING line.
IN_PUBLIC_OPERATION: ContextVar[bool] = ContextVar("konbini_public_operation", default=False)
#: What a redacted value is replaced with.
REDACTED: Final = "[REDACTED]"

#: Keys whose values are always replaced, at any depth (compared lower-case, ``-`` as ``_``).
SENSITIVE_KEYS: Final = frozenset(
    {
        "api_key",
        "apikey",
        "secret",
        "secret_key",
        "webhook_secret",
        "endpoint_secret",
        "signing_secret",
        "client_secret",
        "authorization",
        "proxy_authorization",
        "cookie",
        "set_cookie",
        "password",
        "token",
        "name",
        "email",
        "phone",
        "confirmation_number",
        "billing_details",
        "receipt_email",
        "shipping",
        "address",
        "stripe_signature",
    }
)
_SENSITIVE_SUFFIXES: Final = (
    "_secret",
    "_api_key",
    "_email",
    "_phone",
    "_password",
    "_token",
    "_confirmation_number",
)

# Secret-looking strings, scrubbed wherever they appear (values under any key, the event).
_SECRET_KEY: Final = re.compile(r"\b(?:sk|rk)_(?:test|live)_[0-9A-Za-z]+")
_WEBHOOK_SECRET: Final = re.compile(r"\bwhsec_[0-9A-Za-z+/=]+")
# A client secret is "<object id>_secret_<token>": the id is useful in logs, the token is not.
_CLIENT_SECRET: Final = re.compile(r"\b((?:pi|seti|cs|src)_[0-9A-Za-z]+)_secret_[0-9A-Za-z]+")
_EMAIL: Final = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
# Phone or confirmation numbers: a standalone run of 10 or 11 digits (digits inside ids such
# as "pi_3Mtw..." or "req_123..." touch a letter or "_" and are left alone), or a phone number
# written with hyphens or spaces ("090-1234-5678", "+81 90 1234 5678").
_DIGITS: Final = re.compile(r"(?<![\w.])\d{10,11}(?![\w.])")
_PHONE: Final = re.compile(r"(?<![\w+])(?:\+81[ -]?|0)\d{1,4}[ -]\d{1,4}[ -]\d{3,4}(?![\w])")
_ANY_DIGIT: Final = re.compile(r"\d")
# An identifier-like token (ids, statuses, event names: "pi_3Mtw...", "konbini.attempt"): every
# digit in it follows a letter, a digit, "_" or ".", so no standalone digit run, and it has
# no space, hyphen or "@": none of the patterns below can match it once the literals of the
# secret patterns have been checked.
_TOKEN: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_MAX_DEPTH: Final = 20


@functools.lru_cache(maxsize=1024)
def _is_sensitive_str(key: str) -> bool:
    normal = key.lower().replace("-", "_")
    return normal in SENSITIVE_KEYS or normal.endswith(_SENSITIVE_SUFFIXES)


def _is_sensitive_key(key: object) -> bool:
    # Log keys repeat endlessly (``operation``, ``status``...): the answer is cached per key.
    return isinstance(key, str) and _is_sensitive_str(key)


def scrub_text(text: str) -> str:
    """Mask secret-looking substrings of ``text``.

    API keys (``sk_test_``/``sk_live_``/``rk_...``), webhook secrets (``whsec_``), the token
    part of client secrets (``pi_123_secret_abc`` → ``pi_123_secret_[REDACTED]``), email
    addresses, and phone or confirmation numbers (standalone runs of 10 or 11 digits, or
    phone numbers written with separators). Unix timestamps written as text are 10-digit
    runs too and are masked as well: log times as ints or ISO strings.
    """
    # Each pattern runs only when the text holds the literal it cannot match without: most
    # log values (ids, statuses) hold none, and the email pattern is slow on long words.
    if "_test_" in text or "_live_" in text:
        text = _SECRET_KEY.sub(REDACTED, text)
    if "whsec_" in text:
        text = _WEBHOOK_SECRET.sub(REDACTED, text)
    if "_secret_" in text:
        text = _CLIENT_SECRET.sub(rf"\1_secret_{REDACTED}", text)
    if "@" in text:
        text = _EMAIL.sub(REDACTED, text)
    elif _TOKEN.fullmatch(text):
        return text
    if _ANY_DIGIT.search(text) is None:
        return text
    if " " in text or "-" in text:
        text = _PHONE.sub(REDACTED, text)
    return _DIGITS.sub(REDACTED, text)


#: Types whose values hold nothing to redact (checked by exact type: cheap, and a ``str``
#: or ``int`` subclass takes the general path).
_PLAIN_TYPES: Final = frozenset({int, float, bool, type(None)})


def _redact(value: Any, depth: int) -> Any:
    if type(value) in _PLAIN_TYPES:
        return value
    if isinstance(value, str):
        return scrub_text(value)
    if depth >= _MAX_DEPTH:
        return value
    if isinstance(value, Mapping):
        return {
            key: REDACTED if _is_sensitive_key(key) else _redact(item, depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        items = [_redact(item, depth + 1) for item in value]
        return items if isinstance(value, list) else type(value)(items)
    return value


def redact_sensitive(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Mask secrets and personal data in an event dict.

    Values under sensitive keys (:data:`SENSITIVE_KEYS`, plus keys ending in ``_secret``,
    ``_api_key``, ``_email``, ``_phone``, ``_password``, ``_token``,
    ``_confirmation_number``) become ``"[REDACTED]"`` at any depth of nested dicts and lists;
    every other string, the event included, goes through :func:`scrub_text`. Returns a new
    dict; the one passed in is left as it was.
    """
    redacted: dict[str, Any] = _redact(event_dict, 0)
    return redacted


#: The standard library's level numbers of the logger methods (structlog uses the same).
_LEVELS: Final = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}


class RedactingLogger:
    """A structlog logger for the SDK that redacts before the configured processors run.

    Each call follows the merchant's current configuration (or ``capture_logs``) and passes
    it the redacted event. ``bind`` returns a new ``RedactingLogger`` with the (redacted)
    context added.

    Building structlog's bound logger costs more than a line that its level filter drops,
    so when structlog is configured with ``cache_logger_on_first_use=True`` (what it
    recommends for production) the bound logger and the levels it lets through are kept
    on this object until ``structlog.configure`` changes the processors list, the wrapper
    class, the logger factory or the context class (``capture_logs`` edits the configured
    list in place, which the kept logger sees). Without that option every line builds its
    bound logger afresh, as structlog itself does.
    """

    __slots__ = ("_context", "_kept")

    def __init__(self, context: Mapping[str, Any] | None = None) -> None:
        self._context: dict[str, Any] = dict(redact_sensitive(None, "bind", dict(context or {})))
        #: (processors, wrapper class, logger factory, context class, logger, enabled levels)
        self._kept: tuple[Any, Any, Any, Any, Any, dict[str, bool] | None] | None = None

    def bind(self, **new_values: Any) -> RedactingLogger:
        """Return a logger whose lines also carry ``new_values`` (redacted)."""
        child = RedactingLogger({**self._context, **new_values})
        child._kept = self._kept  # the context is added per line: the same logger serves
        return child

    def unbind(self, *keys: str) -> RedactingLogger:
        """Return a logger without the context ``keys``."""
        child = RedactingLogger({k: v for k, v in self._context.items() if k not in keys})
        child._kept = self._kept
        return child

    def _target(self) -> tuple[Any, Mapping[str, bool] | None]:
        """Return the logger to write to, and which methods it lets through.

        While structlog is unconfigured that is the standard library's ``konbini_sdk``
        logger (silent unless the application configured ``logging``); else structlog's
        bound logger. ``None`` for the levels: the logger cannot tell (it gets every line).
        """
        structlog = sys.modules.get("structlog")
        if structlog is None or not structlog.is_configured():
            # Nobody configured structlog (an application that did has imported it).
            return _STDLIB_TARGET, _STDLIB_LEVELS
        # Every line: one public get_config() and four identity checks (no tuple built, no
        # generator), ~0.3 µs; the bound logger is rebuilt only when the configuration changed.
        config = structlog.get_config()
        kept = self._kept
        if (
            kept is not None
            and kept[0] is config["processors"]
            and kept[1] is config["wrapper_class"]
            and kept[2] is config["logger_factory"]
            and kept[3] is config["context_class"]
            and config["cache_logger_on_first_use"]
        ):
            return kept[4], kept[5]
        return self._refresh(structlog, config)

    def _refresh(
        self, structlog: Any, config: Mapping[str, Any]
    ) -> tuple[Any, Mapping[str, bool] | None]:
        """Build (and keep, when structlog caches loggers) the bound logger for ``config``."""
        current = (
            config["processors"],
            config["wrapper_class"],
            config["logger_factory"],
            config["context_class"],
        )
        cache = config["cache_logger_on_first_use"]
        # Binding the lazy proxy is what calling a method on it does; doing it first lets a
        # level-filtering logger (structlog.make_filtering_bound_logger) drop the line before
        # it is redacted, which is most of the cost of a line nobody will see.
        target = structlog.get_logger(LOGGER_NAME).bind()
        # The method is looked up on the class: generic bound loggers answer any attribute
        # on the instance with a proxy that would log.
        levels: dict[str, bool] | None = None
        if callable(getattr(type(target), "is_enabled_for", None)):
            levels = {name: bool(target.is_enabled_for(n)) for name, n in _LEVELS.items()}
        if cache:
            self._kept = (*current, target, levels)
        return target, levels

    def is_enabled(self, method: str) -> bool:
        """Tell whether a line logged with ``method`` (``"debug"``...) would be written.

        Lets a caller skip assembling the fields of a line the configured level filter
        drops.
        """
        levels = self._target()[1]
        return levels is None or levels[method]

    def _emit(self, method: str, event: str, kw: dict[str, Any]) -> Any:
        target, levels = self._target()
        if levels is not None and not levels[method]:
            return None
        # The bound context was redacted once, when it was bound: only this call's values
        # (and the event) are redacted here.
        fields = {**self._context, **redact_sensitive(None, method, {**kw, "event": event})}
        clean_event = fields.pop("event")
        return getattr(target, method)(clean_event, **fields)

    def debug(self, event: str, **kw: Any) -> Any:
        """Log ``event`` at debug level."""
        return self._emit("debug", event, kw)

    def info(self, event: str, **kw: Any) -> Any:
        """Log ``event`` at info level."""
        return self._emit("info", event, kw)

    def warning(self, event: str, **kw: Any) -> Any:
        """Log ``event`` at warning level."""
        return self._emit("warning", event, kw)

    def error(self, event: str, **kw: Any) -> Any:
        """Log ``event`` at error level."""
        return self._emit("error", event, kw)

    def critical(self, event: str, **kw: Any) -> Any:
        """Log ``event`` at critical level."""
        return self._emit("critical", event, kw)

    def exception(self, event: str, **kw: Any) -> Any:
        """Log ``event`` at error level with the current exception's traceback.

        The traceback is rendered here, into the ``exception`` key, so that it is scrubbed
        like every other string (an exception message can quote a key or an email).
        """
        if sys.exc_info()[0] is not None:
            kw["exception"] = "".join(traceback.format_exc())
        return self._emit("error", event, kw)


#: The standard library logger the SDK writes to while structlog is unconfigured. Its
#: ``NullHandler`` keeps Python's last-resort handler (WARNING and above to stderr) from
#: printing the SDK's lines when the application configured no logging at all; records
#: still propagate to the application's handlers when it has some.
_STDLIB_LOGGER: Final = logging.getLogger(LOGGER_NAME)
if not any(isinstance(h, logging.NullHandler) for h in _STDLIB_LOGGER.handlers):
    _STDLIB_LOGGER.addHandler(logging.NullHandler())


class _StdlibLevels(Mapping[str, bool]):
    """Which logger methods the ``konbini_sdk`` logging logger lets through, asked live."""

    def __getitem__(self, method: str) -> bool:
        return _STDLIB_LOGGER.isEnabledFor(_LEVELS[method])

    def __iter__(self) -> Iterator[str]:
        return iter(_LEVELS)

    def __len__(self) -> int:
        return len(_LEVELS)


def _render(event: str, fields: Mapping[str, Any]) -> str:
    """``event key=value ...`` (values as ``repr``), the traceback, if any, on its own lines."""
    parts = [event, *(f"{key}={value!r}" for key, value in fields.items() if key != "exception")]
    text = " ".join(parts)
    exception = fields.get("exception")
    return f"{text}\n{exception}" if isinstance(exception, str) else text


class _StdlibTarget:
    """Writes the SDK's (already redacted) lines to the ``konbini_sdk`` logging logger.

    The message is :func:`_render`'s ``event key=value ...``; the record also carries the
    event as ``konbini_event`` and the fields as ``konbini_fields`` for structured handlers.
    """

    def _log(self, level: int, event: str, fields: dict[str, Any]) -> None:
        if _STDLIB_LOGGER.isEnabledFor(level):
            _STDLIB_LOGGER.log(
                level,
                "%s",
                _render(event, fields),
                extra={"konbini_event": event, "konbini_fields": fields},
            )

    def debug(self, event: str, **fields: Any) -> None:
        self._log(logging.DEBUG, event, fields)

    def info(self, event: str, **fields: Any) -> None:
        self._log(logging.INFO, event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._log(logging.WARNING, event, fields)

    def error(self, event: str, **fields: Any) -> None:
        self._log(logging.ERROR, event, fields)

    def critical(self, event: str, **fields: Any) -> None:
        self._log(logging.CRITICAL, event, fields)


_STDLIB_TARGET: Final = _StdlibTarget()
_STDLIB_LEVELS: Final = _StdlibLevels()


def get_logger(**initial_values: Any) -> RedactingLogger:
    """Return the SDK's logger; every value it is given is redacted before structlog sees it."""
    return RedactingLogger(initial_values)
