"""Japanese text and time rules: Shift_JIS / JIS X 0208 checks, store-name preview, JST."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Final

__all__ = ["JST", "to_jst"]

#: Japan Standard Time, UTC+9, no daylight saving. Konbini deadlines are stated in JST.
JST: Final = timezone(timedelta(hours=9), "JST")


def to_jst(unix_seconds: int) -> datetime:
    """Return the aware JST datetime of a Unix timestamp."""
    return datetime.fromtimestamp(unix_seconds, tz=UTC).astimezone(JST)
