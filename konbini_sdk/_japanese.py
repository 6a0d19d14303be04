"""Japanese text and time rules: Shift_JIS / JIS X 0208 checks, store-name preview, JST.

Character rules
---------------
Stripe accepts a Konbini ``product_description`` only when every character is in Shift JIS
(JIS X 0208:1997). This module reads that as: printable ASCII (U+0020..U+007E, as in
Stripe's own example "Tシャツ") plus the two-byte characters of JIS X 0208 (kanji levels 1
and 2, hiragana, full-width katakana, full-width Latin letters and digits, symbols such as
``ー``, ``・``, ``「」`` and the ideographic space).

Rejected on purpose:

- Half-width katakana (``ｱｲｳ``, U+FF61..U+FF9F). They are Shift_JIS single bytes from
  JIS X 0201, not JIS X 0208. :func:`to_fullwidth_katakana` converts them.
- Windows (cp932) extensions: NEC special characters such as ``①`` or ``㈱`` and the
  IBM extended kanji such as ``髙``. They exist in cp932 but not in JIS X 0208.
- ``¥`` (U+00A5) and ``‾`` (U+203E): JIS X 0201 Roman, not JIS X 0208; use the full-width
  ``￥`` instead.
- Everything else: emoji, Hangul, simplified Chinese-only hanzi, control characters.

The wave-dash trap: Python's ``shift_jis`` codec maps the JIS X 0208 position 1-33 (bytes
``0x8160``) to WAVE DASH U+301C ``〜``, while ``cp932`` (what Windows IMEs type) maps the same
position to FULLWIDTH TILDE U+FF5E ``～``. Six positions differ like this (``〜～``, ``‖∥``,
``−－``, ``¢￠``, ``£￡``, ``¬￢``). Both spellings name the same JIS X 0208 character, so both
are accepted, and :func:`normalize_jis_x_0208` rewrites the cp932 spelling to the JIS
standard one (the one in Unicode's JIS0208 mapping) so that Stripe receives the code point
its Shift JIS (JIS X 0208:1997) rule is written for.

Times
-----
Konbini deadlines are stated in JST (UTC+9, no daylight saving): a payment slip expires at
23:59:59 JST on its last day, see :func:`konbini_deadline`.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, time, timedelta, timezone
from functools import lru_cache
from typing import Final

from konbini_sdk._exceptions import KonbiniValidationError

__all__ = [
    "DEFAULT_EXPIRES_AFTER_DAYS",
    "JST",
    "MAX_EXPIRES_AFTER_DAYS",
    "MAX_PRODUCT_DESCRIPTION_LENGTH",
    "MIN_EXPIRES_AFTER_DAYS",
    "STORE_DISPLAY_NAME_LENGTH",
    "check_product_description",
    "is_jis_x_0208",
    "konbini_deadline",
    "non_jis_x_0208_characters",
    "normalize_jis_x_0208",
    "store_display_name",
    "to_fullwidth_katakana",
    "to_jst",
]

#: Japan Standard Time, UTC+9, no daylight saving. Konbini deadlines are stated in JST.
JST: Final = timezone(timedelta(hours=9), "JST")

#: Days a Konbini payment slip stays valid when neither expiry option is given.
DEFAULT_EXPIRES_AFTER_DAYS: Final = 3
#: Smallest ``expires_after_days`` Stripe accepts.
MIN_EXPIRES_AFTER_DAYS: Final = 1
#: Largest ``expires_after_days`` Stripe accepts.
MAX_EXPIRES_AFTER_DAYS: Final = 60
#: Longest ``product_description`` Stripe accepts, in characters.
MAX_PRODUCT_DESCRIPTION_LENGTH: Final = 22
#: The customer's name is cut to this many characters at the store and on receipts.
STORE_DISPLAY_NAME_LENGTH: Final = 20

_HALF_WIDTH_KATAKANA: Final = re.compile("[\uff61-\uff9f]+")
# NFKC turns a lone half-width (semi-)voiced mark into the combining mark, which is not in
# JIS X 0208; the spacing marks are.
_COMBINING_TO_SPACING: Final = str.maketrans({"\u3099": "\u309b", "\u309a": "\u309c"})


def to_jst(unix_seconds: int) -> datetime:
    """Return the aware JST datetime of a Unix timestamp."""
    return datetime.fromtimestamp(unix_seconds, tz=JST)


@lru_cache(maxsize=4096)
def _jis_x_0208_form(char: str) -> str | None:
    """Return the JIS-standard spelling of ``char`` if it is in the accepted set, else None."""
    if " " <= char <= "~":
        return char
    for codec in ("shift_jis", "cp932"):
        try:
            encoded = char.encode(codec)
        except UnicodeEncodeError:
            continue
        if len(encoded) != 2:
            continue  # single byte: control character or JIS X 0201 (half-width kana, ¥, ‾)
        try:
            # Decoding with the strict JIS codec refuses the cp932-only rows (NEC specials,
            # IBM extensions) and yields the standard code point for the six twin positions.
            return encoded.decode("shift_jis")
        except UnicodeDecodeError:
            return None
    return None


def is_jis_x_0208(text: str) -> bool:
    """Tell whether every character of ``text`` is printable ASCII or in JIS X 0208.

    Both spellings of the six cp932/JIS twin characters (``〜``/``～`` ...) count as in.
    Half-width katakana, cp932 extensions (``①``, ``髙``), emoji and Hangul do not.
    """
    return all(_jis_x_0208_form(char) is not None for char in text)


def non_jis_x_0208_characters(text: str) -> list[str]:
    """Return the distinct characters of ``text`` outside printable ASCII and JIS X 0208."""
    seen: dict[str, None] = {}
    for char in text:
        if _jis_x_0208_form(char) is None:
            seen.setdefault(char, None)
    return list(seen)


def normalize_jis_x_0208(text: str) -> str:
    """Rewrite cp932 spellings (``～`` U+FF5E ...) to the JIS X 0208 standard ones (``〜``).

    Characters outside the accepted set are left as they are; check with
    :func:`is_jis_x_0208` first.
    """
    return "".join(_jis_x_0208_form(char) or char for char in text)


def to_fullwidth_katakana(text: str) -> str:
    """Convert half-width katakana (and half-width ``｡｢｣､･ｰ``) to their full-width forms.

    Voiced marks are joined to the preceding kana (``ｶﾞ`` → ``ガ``, ``ﾊﾟ`` → ``パ``).
    Nothing else in ``text`` is changed, so the result can be checked with
    :func:`check_product_description` afterwards.
    """

    def widen(match: re.Match[str]) -> str:
        return unicodedata.normalize("NFKC", match.group()).translate(_COMBINING_TO_SPACING)

    return _HALF_WIDTH_KATAKANA.sub(widen, text)


def check_product_description(text: str, field: str = "product_description") -> str:
    """Validate a Konbini product description and return it normalised.

    Rules: not blank; at most 22 characters; every character printable ASCII or in
    JIS X 0208 (half-width katakana are refused: convert them with
    :func:`to_fullwidth_katakana`). The cp932 twins (``～`` ...) are rewritten to their JIS
    standard code points (see the module docstring).

    Raises ``KonbiniValidationError`` naming ``field`` and the rule; the message lists the
    offending characters as code points (``U+2460``), never the text itself.
    """
    if not text.strip():
        raise KonbiniValidationError(field, "must not be blank; leave it out instead")
    if len(text) > MAX_PRODUCT_DESCRIPTION_LENGTH:
        raise KonbiniValidationError(
            field,
            f"must be at most {MAX_PRODUCT_DESCRIPTION_LENGTH} characters (got {len(text)})",
        )
    bad = non_jis_x_0208_characters(text)
    if bad:
        if all(_HALF_WIDTH_KATAKANA.fullmatch(char) for char in bad):
            rule = (
                "half-width katakana are not in Shift JIS (JIS X 0208); use full-width "
                "katakana (konbini_sdk.to_fullwidth_katakana converts them)"
            )
        else:
            points = ", ".join(f"U+{ord(char):04X}" for char in bad[:5])
            rule = (
                "every character must be in Shift JIS (JIS X 0208:1997) or printable "
                f"ASCII; not allowed: {points}"
            )
        raise KonbiniValidationError(field, rule)
    return normalize_jis_x_0208(text)


def _is_shift_jis(char: str) -> bool:
    try:
        char.encode("shift_jis")
    except UnicodeEncodeError:
        return False
    return char.isprintable() or char == "\u3000"


def store_display_name(name: str) -> str:
    """Preview how the customer's name shows at the store and on the receipt.

    Stripe drops (or replaces) characters outside Shift JIS and cuts the name to 20
    characters; this preview drops them, then cuts. Half-width katakana are Shift JIS and
    stay. The result is the customer's name: personal data, don't log it.
    """
    kept = "".join(char for char in name.strip() if _is_shift_jis(char))
    return kept[:STORE_DISPLAY_NAME_LENGTH]


def konbini_deadline(
    confirmed_at: datetime, expires_after_days: int = DEFAULT_EXPIRES_AFTER_DAYS
) -> datetime:
    """Return when a slip confirmed at ``confirmed_at`` expires: 23:59:59 JST on its last day.

    The last day is the JST calendar date of confirmation plus ``expires_after_days``
    (confirmed on Monday with 2 days → Wednesday 23:59:59 JST), whatever the time of day
    and whatever time zone ``confirmed_at`` is given in. With neither ``expires_after_days``
    nor ``expires_at`` on the intent, Stripe counts its default 3 days from the intent's
    *creation*: pass the creation time then (``PaymentIntentRequest.deadline`` does).

    Raises ``KonbiniValidationError`` for a naive datetime or days outside 1..60.
    """
    if confirmed_at.tzinfo is None or confirmed_at.utcoffset() is None:
        raise KonbiniValidationError(
            "confirmed_at", "must be a timezone-aware datetime (naive times are ambiguous)"
        )
    if (
        isinstance(expires_after_days, bool)
        or not isinstance(expires_after_days, int)
        or not MIN_EXPIRES_AFTER_DAYS <= expires_after_days <= MAX_EXPIRES_AFTER_DAYS
    ):
        raise KonbiniValidationError(
            "expires_after_days",
            f"must be a whole number of days from {MIN_EXPIRES_AFTER_DAYS} to "
            f"{MAX_EXPIRES_AFTER_DAYS}",
        )
    last_day = confirmed_at.astimezone(JST).date() + timedelta(days=expires_after_days)
    return datetime.combine(last_day, time(23, 59, 59), tzinfo=JST)
