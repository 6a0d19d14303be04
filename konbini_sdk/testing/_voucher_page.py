"""The hosted voucher page: printable, mobile-friendly HTML of one Konbini voucher."""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from typing import Final

from konbini_sdk._japanese import JST
from konbini_sdk.testing._resources.konbini import KonbiniVoucher

__all__ = ["render_voucher"]

PLACEHOLDER_DESCRIPTION: Final = "お買い上げ商品・サービス"
_CHAINS: Final = {
    "familymart": ("ファミリーマート", "FamilyMart"),
    "lawson": ("ローソン", "Lawson"),
    "ministop": ("ミニストップ", "Ministop"),
    "seicomart": ("セイコーマート", "Seicomart"),
}
_NOTICES: Final = {
    "void": (
        "この支払い番号は無効です。",
        "This voucher is void: it was replaced or canceled. Do not pay with these codes.",
    ),
    "paid": ("お支払いは完了しています。", "This voucher has been paid."),
    "failed": (
        "お支払い期限が過ぎたため、この支払い番号は無効です。",
        "This voucher expired without payment.",
    ),
    "expired": (
        "お支払い期限が過ぎました。店頭で新たにお支払いを始めることはできません。",
        "The payment deadline has passed: a payment can no longer be started at the store.",
    ),
}
_STYLE: Final = """
body{font-family:system-ui,"Hiragino Sans","Noto Sans JP",sans-serif;margin:0;padding:1rem;
color:#1a1a1a;background:#f6f6f4}
main{max-width:36rem;margin:auto;background:#fff;padding:1.25rem;border-radius:8px}
h1{font-size:1.3rem}dl{display:grid;grid-template-columns:auto 1fr;gap:.3rem 1rem}
dt{color:#555}dd{margin:0;font-weight:600}
.store{border:1px solid #ccc;border-radius:6px;padding:.6rem;margin:.6rem 0}
.code{font-family:ui-monospace,monospace;font-size:1.2rem;letter-spacing:.08em}
.notice{border:2px solid #b00;color:#b00;padding:.6rem;border-radius:6px;font-weight:600}
.test{color:#555;font-size:.85rem}
@media print{body{background:#fff}main{padding:0}.test{display:none}}
"""


def _deadline(expires_at: int) -> str:
    local = datetime.fromtimestamp(expires_at, tz=UTC).astimezone(JST)
    return f"{local:%Y年%m月%d日 %H:%M} (JST)"


_TEXT: Final = {
    "title": ("コンビニ支払い番号", "Konbini payment instructions"),
    "heading": ("コンビニでのお支払い", "Pay at a convenience store"),
    "test": ("テストモード", "Test mode"),
    "product": ("商品", "Product"),
    "amount": ("金額", "Amount"),
    "deadline": ("お支払い期限", "Pay by"),
    "payment_code": ("お支払い番号", "Payment code"),
    "confirmation_number": ("確認番号", "Confirmation number"),
    "how": ("お支払い方法", "How to pay"),
    "step1": (
        "上のお支払い先のコンビニの番号を確認します。",
        "Find the codes for your store above.",
    ),
    "step2": (
        "店頭の端末またはレジで番号を伝え、現金でお支払いください。",
        "Give them at the machine or the counter and pay in cash.",
    ),
    "step3": ("領収書は大切に保管してください。", "Keep the receipt."),
    "step4": ("ご不明な点はショップにお問い合わせください。", "Questions? Contact the shop."),
}


def _both(pair: tuple[str, str], english_first: bool, sep: str = " / ") -> str:
    first, second = (pair[1], pair[0]) if english_first else pair
    return f"{escape(first)}{sep}{escape(second)}"


def render_voucher(voucher: KonbiniVoucher, now: int) -> str:
    """Return the voucher page; codes are shown only while the voucher is live and not expired.

    The page is bilingual; English comes first when the intent's Customer prefers English
    (Stripe shows hosted instructions in the customer's preferred language).
    """
    en = voucher.locale.lower().startswith("en")
    status = voucher.status
    if status == "active" and now >= voucher.expires_at and not voucher.in_store:
        status = "expired"
    description = voucher.product_description or PLACEHOLDER_DESCRIPTION
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{"en" if en else "ja"}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="robots" content="noindex">',
        f"<title>{_both(_TEXT['title'], en)}</title>",
        f"<style>{_STYLE}</style></head><body><main>",
        f"<h1>{_both(_TEXT['heading'], en, '<br><small>')}</small></h1>",
        f'<p class="test">{_both(_TEXT["test"], en)} (konbini-sdk emulator) · '
        f"status: {escape(status)}</p>",
    ]
    if status in _NOTICES:
        parts.append(f'<p class="notice" role="alert">{_both(_NOTICES[status], en, "<br>")}</p>')
    parts += [
        "<dl>",
        f"<dt>{_both(_TEXT['product'], en)}</dt><dd>{escape(description)}</dd>",
        f"<dt>{_both(_TEXT['amount'], en)}</dt><dd>¥{voucher.amount:,}</dd>",
        f"<dt>{_both(_TEXT['deadline'], en)}</dt><dd>{escape(_deadline(voucher.expires_at))}</dd>",
        "</dl>",
    ]
    if status == "active":
        for chain, codes in voucher.stores.items():
            parts += [
                f'<section class="store" data-chain="{escape(chain)}">',
                f"<h2>{_both(_CHAINS[chain], en, ' <small>')}</small></h2>",
                "<dl>",
                f"<dt>{_both(_TEXT['payment_code'], en)}</dt>"
                f'<dd class="code">{escape(codes["payment_code"])}</dd>',
                f"<dt>{_both(_TEXT['confirmation_number'], en)}</dt>"
                f'<dd class="code">{escape(codes["confirmation_number"])}</dd>',
                "</dl></section>",
            ]
        parts.append(f"<h2>{_both(_TEXT['how'], en)}</h2><ol>")
        parts += [f"<li>{_both(_TEXT[f'step{n}'], en, ' ')}</li>" for n in range(1, 5)]
        parts.append("</ol>")
    parts.append("</main></body></html>")
    return "\n".join(parts)
