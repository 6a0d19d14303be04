"""Your own Konbini payment instructions, rendered from a :class:`Voucher`.

Stripe's hosted voucher page is the easy way; a merchant may instead show (or email) its
own instructions. Stripe requires them to contain at least: the product description, the
amount and the payment deadline; each chain's payment code and confirmation number; and
how-to steps (find the codes for your chain, give them at the machine or the counter,
keep the receipt, contact the merchant). Every renderer here contains all of that, in
Japanese (``lang="ja"``) or English (``lang="en"``), plus the link to the hosted voucher.

The confirmation number may be the customer's phone number. It is shown to the customer
on purpose here; the rendered text must not be logged.
"""

from __future__ import annotations

import html
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

from konbini_sdk._exceptions import KonbiniValidationError
from konbini_sdk._japanese import JST
from konbini_sdk._rules import is_http_url
from konbini_sdk._voucher import Chain, Voucher

__all__ = [
    "Language",
    "format_deadline",
    "format_yen",
    "render_email",
    "render_html",
    "render_text",
]

#: The languages instructions can be rendered in.
Language = Literal["ja", "en"]

#: What Stripe shows at the store when a PaymentIntent has no product description.
PLACEHOLDER_DESCRIPTION: Final = {"ja": "お買い上げ商品・サービス", "en": "Goods and services"}

_WEEKDAYS_JA: Final = ("月", "火", "水", "木", "金", "土", "日")
_WEEKDAYS_EN: Final = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS_EN: Final = (
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
)  # fmt: skip


def format_yen(amount: int, lang: Language = "ja") -> str:
    """Format a yen amount: ``1,234円`` in Japanese, ``¥1,234`` in English."""
    _check_lang(lang)
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
        raise KonbiniValidationError("amount", "must be a non-negative integer of yen")
    return f"{amount:,}円" if lang == "ja" else f"¥{amount:,}"


def format_deadline(deadline: datetime, lang: Language = "ja") -> str:
    """Format a payment deadline in JST, to the minute.

    Japanese: ``2026年11月26日(木) 23:59``; English: ``Thu 26 Nov 2026, 23:59 JST``.
    The result depends only on the instant, never on the machine's locale or time zone.
    """
    _check_lang(lang)
    if deadline.tzinfo is None or deadline.utcoffset() is None:
        raise KonbiniValidationError("expires_at", "must be a timezone-aware datetime")
    local = deadline.astimezone(JST)
    if lang == "ja":
        weekday = _WEEKDAYS_JA[local.weekday()]
        return f"{local.year}年{local.month}月{local.day}日({weekday}) {local:%H:%M}"
    weekday = _WEEKDAYS_EN[local.weekday()]
    month = _MONTHS_EN[local.month - 1]
    return f"{weekday} {local.day} {month} {local.year}, {local:%H:%M} JST"


@dataclass(frozen=True)
class _StoreRow:
    chain_name: str
    payment_code: str
    confirmation_number: str


@dataclass(frozen=True)
class _Content:
    """Everything the instructions say, in one language; rendered as text or HTML."""

    lang: Language
    title: str
    intro: str
    notice: str | None
    summary: tuple[tuple[str, str], ...]
    deadline_iso: str
    codes_heading: str
    column_names: tuple[str, str, str]
    stores: tuple[_StoreRow, ...]
    steps_heading: str
    steps: tuple[str, ...]
    deadline_note: str
    link_label: str
    #: ``None`` when Stripe gave no ``hosted_voucher_url``: the link is left out.
    link_url: str | None


def render_text(
    voucher: Voucher,
    lang: Language = "ja",
    *,
    merchant_name: str | None = None,
    merchant_contact: str | None = None,
    replaces_previous: bool = False,
) -> str:
    """Render the payment instructions as plain text (for a page, a chat or an SMS).

    ``merchant_name`` and ``merchant_contact`` (an email address, phone number or URL) are
    named in the introduction and the "contact us" step when given. ``replaces_previous``
    adds a notice that earlier instructions are no longer valid (a re-confirmed
    PaymentIntent gets new codes and a new voucher URL).
    """
    content = _build(voucher, lang, merchant_name, merchant_contact, replaces_previous)
    return _to_text(content)


def render_html(
    voucher: Voucher,
    lang: Language = "ja",
    *,
    merchant_name: str | None = None,
    merchant_contact: str | None = None,
    replaces_previous: bool = False,
) -> str:
    """Render the payment instructions as a complete, self-contained HTML document.

    The page has inline CSS only (no external assets), a viewport for phones, a layout that
    stacks the code table on narrow screens, and print styles (the voucher link's address
    is printed). Every interpolated value is HTML-escaped. Arguments as in
    :func:`render_text`.
    """
    content = _build(voucher, lang, merchant_name, merchant_contact, replaces_previous)
    return _to_html(content)


def render_email(
    voucher: Voucher,
    lang: Language = "ja",
    *,
    merchant_name: str | None = None,
    merchant_contact: str | None = None,
    replaces_previous: bool = False,
) -> tuple[str, str]:
    """Render a plain-text email: returns ``(subject, body)``.

    The subject names the merchant (when given) and the deadline; it is a single line.
    The body is a greeting followed by :func:`render_text`'s instructions. Arguments as in
    :func:`render_text`.
    """
    content = _build(voucher, lang, merchant_name, merchant_contact, replaces_previous)
    deadline = format_deadline(voucher.expires_at, lang)
    if lang == "ja":
        prefix = f"【{merchant_name}】" if merchant_name else ""
        subject = f"{prefix}コンビニでのお支払いのご案内（お支払い期限：{deadline}）"
        if replaces_previous:
            subject = f"{prefix}【再発行】コンビニでのお支払いのご案内（お支払い期限：{deadline}）"
        greeting = "ご注文いただきありがとうございます。"
    else:
        prefix = f"[{merchant_name}] " if merchant_name else ""
        amount = format_yen(voucher.amount, "en")
        subject = f"{prefix}How to pay {amount} at a convenience store by {deadline}"
        if replaces_previous:
            subject = (
                f"{prefix}New payment codes: pay {amount} at a convenience store by {deadline}"
            )
        greeting = "Thank you for your order."
    return subject, f"{greeting}\n\n{_to_text(content)}"


def _build(
    voucher: Voucher,
    lang: Language,
    merchant_name: str | None,
    merchant_contact: str | None,
    replaces_previous: bool,
) -> _Content:
    """Check the inputs and gather the instructions' content in one language."""
    _check_lang(lang)
    merchant_name = _clean_optional("merchant_name", merchant_name)
    merchant_contact = _clean_optional("merchant_contact", merchant_contact)
    if voucher.currency.lower() != "jpy":
        raise KonbiniValidationError("currency", "Konbini payments are in jpy only")
    if not voucher.stores:
        raise KonbiniValidationError("stores", "at least one chain's payment code is needed")
    url = voucher.hosted_voucher_url
    if url is not None and not is_http_url(url):
        raise KonbiniValidationError("hosted_voucher_url", "must be an http(s) URL")

    description = (voucher.product_description or "").strip() or PLACEHOLDER_DESCRIPTION[lang]
    amount = format_yen(voucher.amount, lang)
    deadline = format_deadline(voucher.expires_at, lang)
    deadline_iso = voucher.expires_at.astimezone(JST).isoformat()
    no_number = "（なし）" if lang == "ja" else "(none)"
    stores = tuple(
        _StoreRow(
            chain_name=chain.display_name_ja if lang == "ja" else chain.display_name_en,
            payment_code=code.payment_code,
            confirmation_number=code.confirmation_number or no_number,
        )
        for chain in Chain
        if (code := voucher.stores.get(chain)) is not None
    )

    if lang == "ja":
        whose = f"{merchant_name}での" if merchant_name else ""
        who = _join_contact_ja(merchant_name, merchant_contact)
        return _Content(
            lang=lang,
            title="コンビニでのお支払い方法",
            intro=(
                f"{whose}ご注文の代金は、お支払い期限までに下記のコンビニエンスストアで"
                "現金でお支払いください。"
            ),
            notice=(
                "以前お送りした支払いコードと確認番号は無効になりました。こちらの新しい番号でお支払いください。"
                if replaces_previous
                else None
            ),
            summary=(("商品", description), ("お支払い金額", amount), ("お支払い期限", deadline)),
            deadline_iso=deadline_iso,
            codes_heading="支払いコードと確認番号",
            column_names=("コンビニ", "支払いコード", "確認番号"),
            stores=stores,
            steps_heading="お支払いの手順",
            steps=(
                "お支払いになるコンビニの支払いコードと確認番号を、上の一覧で確認してください。",
                "店舗の端末またはレジで、支払いコードと確認番号を入力するか、店員にお伝えください。",
                f"お支払い金額（{amount}）を現金でお支払いください。",
                "お支払い後に受け取るレシート（受領書）は、記録として保管してください。",
                (
                    f"ご不明な点は{who}までお問い合わせください。"
                    if who
                    else "ご不明な点がございましたら、お問い合わせください。"
                ),
            ),
            deadline_note="お支払い期限を過ぎると、店舗でお支払いを始めることはできません。",
            link_label="お支払い方法の詳細（払込票の表示・印刷）",
            link_url=url,
        )

    whose = f" from {merchant_name}" if merchant_name else ""
    who = _join_contact_en(merchant_name, merchant_contact)
    return _Content(
        lang=lang,
        title="How to pay at a convenience store",
        intro=(
            f"Please pay for your order{whose} in cash at one of the convenience stores "
            "below before the payment deadline."
        ),
        notice=(
            "The payment codes we sent you earlier are no longer valid. Please use these new codes."
            if replaces_previous
            else None
        ),
        summary=(("Item", description), ("Amount", amount), ("Pay by", deadline)),
        deadline_iso=deadline_iso,
        codes_heading="Payment codes and confirmation numbers",
        column_names=("Store", "Payment code", "Confirmation number"),
        stores=stores,
        steps_heading="How to pay",
        steps=(
            "Find the payment code and confirmation number for the store chain where you "
            "will pay, in the list above.",
            "At the store, enter the payment code and confirmation number at the store's "
            "payment machine, or give them to the cashier at the counter.",
            f"Pay the amount ({amount}) in cash.",
            "Keep the receipt you get after paying for your records.",
            f"If you have any questions, contact {who}."
            if who
            else "If you have any questions, contact us.",
        ),
        deadline_note="After the payment deadline, the payment can no longer be started "
        "at the store.",
        link_label="View or print your payment voucher",
        link_url=url,
    )


def _to_text(content: _Content) -> str:
    """Lay the content out as plain text."""
    ja = content.lang == "ja"
    lines = [content.title, "=" * 20, ""]
    if content.notice:
        lines += [("※ " if ja else "NOTE: ") + content.notice, ""]
    lines += [content.intro, ""]
    sep = "：" if ja else ": "
    lines += [f"{label}{sep}{value}" for label, value in content.summary]
    lines += ["", f"■ {content.codes_heading}" if ja else f"{content.codes_heading}:"]
    _, code_label, number_label = content.column_names
    for store in content.stores:
        lines += [
            f"【{store.chain_name}】" if ja else f"- {store.chain_name}",
            f"  {code_label}{sep}{store.payment_code}",
            f"  {number_label}{sep}{store.confirmation_number}",
        ]
    lines += ["", f"■ {content.steps_heading}" if ja else f"{content.steps_heading}:"]
    lines += [f"{index}. {step}" for index, step in enumerate(content.steps, start=1)]
    lines += ["", content.deadline_note]
    if content.link_url is not None:
        lines += ["", f"{content.link_label}{sep.rstrip()}", content.link_url]
    return "\n".join(lines) + "\n"


_CSS: Final = """\
*{box-sizing:border-box}
body{margin:0;padding:16px;background:#f4f4f4;color:#1a1a1a;line-height:1.6;
font-family:system-ui,-apple-system,"Hiragino Sans","Noto Sans JP","Yu Gothic",sans-serif}
main{max-width:640px;margin:0 auto;padding:20px;background:#fff;border-radius:8px}
h1{font-size:1.4rem;margin:0 0 12px}
h2{font-size:1.1rem;margin:24px 0 8px}
p{margin:0 0 12px}
.notice{padding:8px 12px;border-left:4px solid #c00;background:#fff4f4}
.summary{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:0 0 12px}
.summary dt{font-weight:bold}
.summary dd{margin:0;overflow-wrap:anywhere}
.amount{font-size:1.25rem;font-weight:bold}
table{width:100%;border-collapse:collapse}
th,td{padding:8px;border:1px solid #ccc;text-align:left;vertical-align:top}
thead th{background:#f0f0f0}
.code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:1.1rem;
letter-spacing:.05em;overflow-wrap:anywhere}
ol{padding-left:1.5em}
li{margin-bottom:4px}
.link a{color:#0a58ca;overflow-wrap:anywhere}
@media (max-width:480px){
body{padding:0}
main{border-radius:0;padding:16px}
.summary{grid-template-columns:1fr;gap:0}
.summary dd{margin-bottom:8px}
table,tbody,tr,th,td{display:block;width:100%}
thead{display:none}
tr{margin-bottom:12px;border:1px solid #ccc}
th,td{border:0}
tbody th{background:#f0f0f0}
td::before{content:attr(data-label);display:block;font-size:.8rem;color:#555}
}
@media print{
body{padding:0;background:#fff;color:#000}
main{max-width:none;padding:0;border-radius:0}
.notice{background:none}
.link a{color:#000;text-decoration:none}
.link a::after{content:" (" attr(href) ")"}
table,ol,.summary{break-inside:avoid}
}
"""


def _to_html(content: _Content) -> str:
    """Lay the content out as a self-contained HTML document; every value escaped."""
    e = _escape
    code_label, number_label = content.column_names[1], content.column_names[2]
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{e(content.lang)}">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(content.title)}</title>",
        f"<style>\n{_CSS}</style>",
        "</head>",
        "<body>",
        "<main>",
        f"<h1>{e(content.title)}</h1>",
    ]
    if content.notice:
        parts.append(f'<p class="notice">{e(content.notice)}</p>')
    parts.append(f"<p>{e(content.intro)}</p>")
    parts.append('<dl class="summary">')
    (item_label, item), (amount_label, amount), (deadline_label, deadline) = content.summary
    parts += [
        f"<dt>{e(item_label)}</dt><dd>{e(item)}</dd>",
        f'<dt>{e(amount_label)}</dt><dd class="amount">{e(amount)}</dd>',
        f'<dt>{e(deadline_label)}</dt><dd><time datetime="{e(content.deadline_iso)}">'
        f"{e(deadline)}</time></dd>",
        "</dl>",
        f"<h2>{e(content.codes_heading)}</h2>",
        "<table>",
        "<thead><tr>"
        + "".join(f'<th scope="col">{e(name)}</th>' for name in content.column_names)
        + "</tr></thead>",
        "<tbody>",
    ]
    for store in content.stores:
        parts.append(
            f'<tr><th scope="row">{e(store.chain_name)}</th>'
            f'<td class="code" data-label="{e(code_label)}">{e(store.payment_code)}</td>'
            f'<td class="code" data-label="{e(number_label)}">'
            f"{e(store.confirmation_number)}</td></tr>"
        )
    parts += [
        "</tbody>",
        "</table>",
        f"<h2>{e(content.steps_heading)}</h2>",
        "<ol>",
        *(f"<li>{e(step)}</li>" for step in content.steps),
        "</ol>",
        f"<p>{e(content.deadline_note)}</p>",
    ]
    if content.link_url is not None:
        parts.append(
            f'<p class="link"><a href="{e(content.link_url)}">{e(content.link_label)}</a></p>'
        )
    parts += [
        "</main>",
        "</body>",
        "</html>",
    ]
    return "\n".join(parts) + "\n"


def _escape(value: str) -> str:
    """Escape a value for HTML text and double-quoted attributes."""
    return html.escape(value, quote=True)


def _check_lang(lang: str) -> None:
    if lang not in ("ja", "en"):
        raise KonbiniValidationError("lang", "must be 'ja' or 'en'")


def _clean_optional(field: str, value: str | None) -> str | None:
    """Strip an optional merchant value; refuse control characters (no header injection)."""
    if value is None:
        return None
    if any(unicodedata.category(char) in {"Cc", "Cf", "Zl", "Zp"} for char in value):
        raise KonbiniValidationError(field, "must not contain line breaks or control characters")
    return value.strip() or None


def _join_contact_ja(name: str | None, contact: str | None) -> str:
    if name and contact:
        return f"{name}（{contact}）"
    return name or contact or ""


def _join_contact_en(name: str | None, contact: str | None) -> str:
    if name and contact:
        return f"{name} ({contact})"
    return name or contact or ""
