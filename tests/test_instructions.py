"""Own Konbini payment instructions: text, HTML and email, in Japanese and English."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

import pytest
from structlog.testing import capture_logs

from konbini_sdk._exceptions import KonbiniValidationError
from konbini_sdk._instructions import (
    format_deadline,
    format_yen,
    render_email,
    render_html,
    render_text,
)
from konbini_sdk._japanese import JST
from konbini_sdk._voucher import Chain, StoreCode, Voucher
from tests.spec_check import response_errors
from tests.test_status import VOUCHER_URL, konbini_payment_intent

#: One code pair per chain, all different, so each one's presence is checked on its own.
CODES = {
    Chain.FAMILYMART: ("123456", "09011110001"),
    Chain.LAWSON: ("LW-987654", "09022220002"),
    Chain.MINISTOP: ("MS-555111", "09033330003"),
    Chain.SEICOMART: ("SC-424242", "09044440004"),
}
CHAIN_NAMES = {
    "ja": ["ファミリーマート", "ローソン", "ミニストップ", "セイコーマート"],
    "en": ["FamilyMart", "Lawson", "Ministop", "Seicomart"],
}
#: Words each how-to step must contain (find codes; machine or counter; cash; receipt; contact).
STEPS = {
    "ja": [
        ("支払いコードと確認番号", "確認してください"),
        ("端末", "レジ"),
        ("現金",),
        ("レシート", "保管"),
        ("お問い合わせ",),
    ],
    "en": [
        ("Find the payment code and confirmation number",),
        ("payment machine", "cashier", "counter"),
        ("in cash",),
        ("Keep the receipt",),
        ("contact",),
    ],
}
#: 2026-11-26 23:59:59 JST (Thursday).
THURSDAY_DEADLINE = datetime(2026, 11, 26, 23, 59, 59, tzinfo=JST)


def make_voucher(**overrides: Any) -> Voucher:
    fields: dict[str, Any] = {
        "payment_intent_id": "pi_3Kvoucher0001",
        "amount": 1234,
        "product_description": "Tシャツ",
        "hosted_voucher_url": VOUCHER_URL,
        "expires_at": THURSDAY_DEADLINE,
        "stores": {
            chain: StoreCode(chain=chain, payment_code=code, confirmation_number=number)
            for chain, (code, number) in CODES.items()
        },
    }
    fields.update(overrides)
    return Voucher(**fields)


EXPECTED = {
    "ja": {"amount": "1,234円", "deadline": "2026年11月26日(木) 23:59"},
    "en": {"amount": "¥1,234", "deadline": "Thu 26 Nov 2026, 23:59 JST"},
}


def assert_required_content(text: str, lang: str, description: str = "Tシャツ") -> None:
    assert description in text
    assert EXPECTED[lang]["amount"] in text
    assert EXPECTED[lang]["deadline"] in text
    for name in CHAIN_NAMES[lang]:
        assert name in text
    for code, number in CODES.values():
        assert code in text
        assert number in text
    for words in STEPS[lang]:
        for word in words:
            assert word in text, word
    assert VOUCHER_URL in text


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_text_contains_everything_stripe_requires(lang: str) -> None:
    assert_required_content(render_text(make_voucher(), lang), lang)  # type: ignore[arg-type]


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_html_contains_everything_stripe_requires(lang: str) -> None:
    assert_required_content(render_html(make_voucher(), lang), lang)  # type: ignore[arg-type]


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_email_body_contains_everything_and_subject_names_the_deadline(lang: str) -> None:
    subject, body = render_email(make_voucher(), lang, merchant_name="ねこ商店")  # type: ignore[arg-type]
    assert_required_content(body, lang)
    assert "\n" not in subject
    assert "\r" not in subject
    assert "ねこ商店" in subject
    assert EXPECTED[lang]["deadline"] in subject


def test_steps_are_numbered_in_order_in_text() -> None:
    text = render_text(make_voucher(), "en")
    positions = [text.index(f"{n}. ") for n in range(1, 6)]
    assert positions == sorted(positions)
    assert text.index("1. Find") < text.index("2. At the store") < text.index("3. Pay")


def test_each_code_sits_under_its_own_chain_in_text() -> None:
    text = render_text(make_voucher(), "ja")
    for chain, (code, number) in CODES.items():
        block = text.split(f"【{chain.display_name_ja}】", 1)[1].split("【", 1)[0]
        assert f"支払いコード：{code}" in block
        assert f"確認番号：{number}" in block


def test_each_code_sits_in_its_chains_table_row_in_html() -> None:
    page = render_html(make_voucher(), "en")
    for chain, (code, number) in CODES.items():
        row = page.split(f'<th scope="row">{chain.display_name_en}</th>', 1)[1].split("</tr>")[0]
        assert f">{code}</td>" in row
        assert f">{number}</td>" in row


@pytest.mark.parametrize(
    ("lang", "placeholder"), [("ja", "お買い上げ商品・サービス"), ("en", "Goods and services")]
)
@pytest.mark.parametrize("description", [None, "", "   "])
def test_missing_description_uses_the_generic_placeholder(
    lang: str, placeholder: str, description: str | None
) -> None:
    voucher = make_voucher(product_description=description)
    assert placeholder in render_text(voucher, lang)  # type: ignore[arg-type]
    assert placeholder in render_html(voucher, lang)  # type: ignore[arg-type]


def test_only_the_chains_present_are_listed() -> None:
    voucher = make_voucher(
        stores={
            Chain.LAWSON: StoreCode(
                chain=Chain.LAWSON, payment_code="LW-1", confirmation_number=None
            )
        }
    )
    text = render_text(voucher, "en")
    assert "Lawson" in text
    assert "FamilyMart" not in text
    assert "Confirmation number: (none)" in text
    assert "（なし）" in render_html(voucher, "ja")


def test_stores_are_listed_in_a_fixed_chain_order() -> None:
    reversed_stores = dict(reversed(list(make_voucher().stores.items())))
    text = render_text(make_voucher(stores=reversed_stores), "ja")
    positions = [text.index(name) for name in CHAIN_NAMES["ja"]]
    assert positions == sorted(positions)


# --- deadline and amount formatting ------------------------------------------------------


@pytest.mark.parametrize(
    ("utc", "ja", "en"),
    [
        # 14:59:59 UTC is still Thursday in Japan...
        (
            datetime(2026, 11, 26, 14, 59, 59, tzinfo=UTC),
            "2026年11月26日(木) 23:59",
            "Thu 26 Nov 2026, 23:59 JST",
        ),
        # ...15:00 UTC is already Friday, while it is still Thursday in UTC.
        (
            datetime(2026, 11, 26, 15, 0, tzinfo=UTC),
            "2026年11月27日(金) 00:00",
            "Fri 27 Nov 2026, 00:00 JST",
        ),
        # New Year in Japan, New Year's Eve in UTC.
        (
            datetime(2026, 12, 31, 15, 30, tzinfo=UTC),
            "2027年1月1日(金) 00:30",
            "Fri 1 Jan 2027, 00:30 JST",
        ),
        (
            datetime(2027, 3, 7, 14, 59, 59, tzinfo=UTC),
            "2027年3月7日(日) 23:59",
            "Sun 7 Mar 2027, 23:59 JST",
        ),
    ],
)
def test_deadline_is_formatted_in_jst_across_the_date_boundary(
    utc: datetime, ja: str, en: str
) -> None:
    assert format_deadline(utc, "ja") == ja
    assert format_deadline(utc, "en") == en
    assert format_deadline(utc.astimezone(JST), "ja") == ja


@pytest.fixture
def los_angeles_local_time() -> Iterator[None]:
    """Run with the process in a time zone far from Japan (the output must not change)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("TZ", "America/Los_Angeles")
    time.tzset()
    try:
        yield
    finally:
        mp.undo()
        time.tzset()


@pytest.mark.usefixtures("los_angeles_local_time")
def test_rendering_does_not_depend_on_the_machines_time_zone() -> None:
    voucher = Voucher.from_payment_intent(konbini_payment_intent())
    assert "2026年11月26日(木) 23:59" in render_text(voucher, "ja")
    assert "Thu 26 Nov 2026, 23:59 JST" in render_text(voucher, "en")
    assert 'datetime="2026-11-26T23:59:59+09:00"' in render_html(voucher, "en")


def test_yen_formatting() -> None:
    assert format_yen(1234, "ja") == "1,234円"
    assert format_yen(1234, "en") == "¥1,234"
    assert format_yen(300000, "ja") == "300,000円"
    assert format_yen(120, "en") == "¥120"


# --- HTML: escaping, structure, self-contained, responsive, printable ---------------------

_VOID = {"meta", "br", "hr", "img", "input", "link", "wbr"}


class _Structure(HTMLParser):
    """Records tags, checks nesting, and collects text and attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.doctype = ""

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in _VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> with open {self.stack}")
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: str) -> _Structure:
    parser = _Structure()
    parser.feed(page)
    parser.close()
    return parser


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_html_is_a_well_formed_self_contained_responsive_printable_page(lang: str) -> None:
    page = render_html(make_voucher(), lang)  # type: ignore[arg-type]
    tree = parse(page)
    assert tree.doctype.lower() == "doctype html"
    assert tree.errors == []
    assert tree.stack == []
    names = [tag for tag, _ in tree.tags]
    assert names[:2] == ["html", "head"]
    assert dict(tree.tags)["html"]["lang"] == lang
    assert names.count("body") == 1
    assert names.count("title") == 1
    metas = [attrs for tag, attrs in tree.tags if tag == "meta"]
    assert {"charset": "utf-8"} in metas
    assert any(
        m.get("name") == "viewport" and "width=device-width" in (m.get("content") or "")
        for m in metas
    )
    # self-contained: inline CSS only, no scripts, images, stylesheets or fonts from elsewhere
    assert "style" in names
    assert not {"script", "link", "img", "iframe"} & set(names)
    assert "@import" not in page
    assert "url(" not in page
    hrefs = [attrs.get("href") for tag, attrs in tree.tags if "href" in attrs or "src" in attrs]
    assert hrefs == [VOUCHER_URL]
    # responsive and printable
    assert "@media (max-width:" in page
    assert "@media print" in page
    assert "attr(href)" in page  # the voucher link's address is printed


def test_html_escapes_every_interpolated_value() -> None:
    voucher = make_voucher(
        product_description='<script>alert("x")</script>',
        hosted_voucher_url='https://payments.stripe.com/konbini/voucher/a?b=1&c="><script>',
        stores={
            Chain.FAMILYMART: StoreCode(
                chain=Chain.FAMILYMART, payment_code="<b>1</b>", confirmation_number="<i>2</i>"
            )
        },
    )
    page = render_html(
        voucher, "en", merchant_name="Tom & Jerry <Shop>", merchant_contact='"help"@x.jp'
    )
    tree = parse(page)
    names = [tag for tag, _ in tree.tags]
    assert "script" not in names
    assert "b" not in names
    assert "i" not in names
    assert tree.errors == []
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "Tom &amp; Jerry &lt;Shop&gt;" in page
    assert "&quot;help&quot;@x.jp" in page
    assert "&lt;b&gt;1&lt;/b&gt;" in page
    # the URL stays one attribute value, with its query intact once unescaped
    link = [attrs for tag, attrs in tree.tags if tag == "a"]
    assert link == [{"href": 'https://payments.stripe.com/konbini/voucher/a?b=1&c="><script>'}]
    text = "".join(tree.text)
    assert '<script>alert("x")</script>' in text  # shown to the reader as text


def test_text_does_not_escape() -> None:
    voucher = make_voucher(product_description="A&B <T>")
    assert "A&B <T>" in render_text(voucher, "en")


# --- merchant details, re-issued instructions, email ----------------------------------------


def test_merchant_name_and_contact_appear_in_intro_and_contact_step() -> None:
    text = render_text(
        make_voucher(), "ja", merchant_name="ねこ商店", merchant_contact="help@neko.example"
    )
    assert "ねこ商店でのご注文" in text
    assert "ねこ商店（help@neko.example）までお問い合わせください" in text
    text_en = render_text(make_voucher(), "en", merchant_contact="03-1234-5678")
    assert "contact 03-1234-5678." in text_en
    assert "contact us" in render_text(make_voucher(), "en")


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_reissued_instructions_say_the_old_ones_are_void(lang: str) -> None:
    plain = render_text(make_voucher(), lang)  # type: ignore[arg-type]
    reissued = render_text(make_voucher(), lang, replaces_previous=True)  # type: ignore[arg-type]
    marker = "無効" if lang == "ja" else "no longer valid"
    assert marker not in plain
    assert marker in reissued
    assert marker in render_html(make_voucher(), lang, replaces_previous=True)  # type: ignore[arg-type]
    subject, _ = render_email(make_voucher(), lang, replaces_previous=True)  # type: ignore[arg-type]
    assert ("再発行" if lang == "ja" else "New payment codes") in subject


def test_email_without_merchant_name() -> None:
    subject, body = render_email(make_voucher(), "en")
    assert subject == "How to pay ¥1,234 at a convenience store by Thu 26 Nov 2026, 23:59 JST"
    assert body.startswith("Thank you for your order.\n\n")
    subject_ja, _ = render_email(make_voucher(), "ja")
    assert subject_ja == "コンビニでのお支払いのご案内（お支払い期限：2026年11月26日(木) 23:59）"


@pytest.mark.parametrize("bad", ["Shop\r\nBcc: x@evil.example", "Shop\n", "Shop\x00"])
def test_control_characters_in_merchant_values_are_refused(bad: str) -> None:
    with pytest.raises(KonbiniValidationError) as info:
        render_email(make_voucher(), "en", merchant_name=bad)
    assert info.value.field == "merchant_name"
    with pytest.raises(KonbiniValidationError) as info:
        render_text(make_voucher(), "ja", merchant_contact=bad)
    assert info.value.field == "merchant_contact"


# --- from real PaymentIntent JSON, and bad input ------------------------------------------


def test_renders_a_voucher_built_from_a_spec_shaped_payment_intent() -> None:
    intent = konbini_payment_intent()
    assert response_errors("GET", "/v1/payment_intents/pi_1", 200, intent) == []
    voucher = Voucher.from_payment_intent(intent)
    text = render_text(voucher, "ja")
    assert "Tシャツ" in text
    assert "1,234円" in text
    assert "2026年11月26日(木) 23:59" in text
    for code in ("123456", "LW-987654", "MS-555111", "SC-424242"):
        assert code in text
    assert "09012345678" in text


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"hosted_voucher_url": "javascript:alert(1)"}, "hosted_voucher_url"),
        ({"hosted_voucher_url": "None"}, "hosted_voucher_url"),
        ({"stores": {}}, "stores"),
        ({"currency": "usd"}, "currency"),
        ({"amount": -1}, "amount"),
        ({"expires_at": datetime(2026, 11, 26, 23, 59)}, "expires_at"),
    ],
)
def test_bad_vouchers_raise_naming_the_field(change: dict[str, Any], field: str) -> None:
    voucher = make_voucher(**change)
    for render in (render_text, render_html, render_email):
        with pytest.raises(KonbiniValidationError) as info:
            render(voucher, "ja")
        assert info.value.field == field


def test_unknown_language_is_refused() -> None:
    with pytest.raises(KonbiniValidationError) as info:
        render_text(make_voucher(), "fr")  # type: ignore[arg-type]
    assert info.value.field == "lang"
    with pytest.raises(KonbiniValidationError):
        format_yen(100, "de")  # type: ignore[arg-type]


def test_rendering_logs_nothing() -> None:
    # The output holds confirmation numbers (often phone numbers): nothing may be logged.
    with capture_logs() as logs:
        for lang in ("ja", "en"):
            render_text(make_voucher(), lang)  # type: ignore[arg-type]
            render_html(make_voucher(), lang)  # type: ignore[arg-type]
            render_email(make_voucher(), lang, merchant_name="Shop")  # type: ignore[arg-type]
    assert logs == []
