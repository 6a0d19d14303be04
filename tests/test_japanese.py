"""JIS X 0208 checks, half-width conversion, store display name, and the Konbini deadline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from konbini_sdk import (
    DEFAULT_EXPIRES_AFTER_DAYS,
    JST,
    KonbiniValidationError,
    check_product_description,
    is_jis_x_0208,
    konbini_deadline,
    store_display_name,
    to_fullwidth_katakana,
)
from konbini_sdk._japanese import non_jis_x_0208_characters, normalize_jis_x_0208, to_jst

# 2026-11-23 is a Monday.
MONDAY = datetime(2026, 11, 23).date()


def test_jst_is_utc_plus_nine() -> None:
    assert datetime(2026, 1, 1, tzinfo=JST).utcoffset() == timedelta(hours=9)
    assert to_jst(0) == datetime(1970, 1, 1, 9, 0, tzinfo=JST)


@pytest.mark.parametrize(
    "text",
    [
        "漢字",
        "ひらがな",
        "カタカナ",
        "Tシャツ",
        "ASCII printable !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
        "〜ー・「」。、",
        "ＡＢＣ１２３",
        "\u3000",
        "￥",
        "～∥－￠￡￢",
        "",
    ],
)
def test_jis_x_0208_in(text: str) -> None:
    assert is_jis_x_0208(text)


@pytest.mark.parametrize(
    "text", ["①", "髙", "㈱", "😀", "ｱ", "ﾟ", "한", "¥", "‾", "\t", "\n", "€", "\u00e9", "\ue000"]
)
def test_jis_x_0208_out(text: str) -> None:
    assert not is_jis_x_0208(text)
    assert non_jis_x_0208_characters("OK" + text + text) == [text]


def test_cp932_twins_normalised_to_jis_code_points() -> None:
    assert normalize_jis_x_0208("～∥－￠￡￢") == "〜‖−¢£¬"
    assert normalize_jis_x_0208("〜") == "〜"
    assert normalize_jis_x_0208("①") == "①"  # left for the check to refuse


def test_to_fullwidth_katakana() -> None:
    assert to_fullwidth_katakana("ﾃｨｰｼｬﾂ") == "ティーシャツ"
    assert to_fullwidth_katakana("ｶﾞｷﾞﾊﾟﾋﾟ") == "ガギパピ"
    assert to_fullwidth_katakana("ｺｰﾋｰ 2杯｡") == "コーヒー 2杯。"
    assert to_fullwidth_katakana("ﾞ") == "゛"
    assert to_fullwidth_katakana("ｳﾞｧｲｵﾘﾝ") == "ヴァイオリン"
    assert to_fullwidth_katakana("ＡＢＣ①") == "ＡＢＣ①"  # nothing else touched
    assert check_product_description(to_fullwidth_katakana("ﾃｨｰｼｬﾂ")) == "ティーシャツ"


def test_check_product_description_rules() -> None:
    assert check_product_description("あ" * 22) == "あ" * 22
    with pytest.raises(KonbiniValidationError) as info:
        check_product_description("あ" * 23)
    assert info.value.field == "product_description"
    assert "22" in info.value.rule
    with pytest.raises(KonbiniValidationError) as info:
        check_product_description("①番", field="line_items.0.name")
    assert info.value.field == "line_items.0.name"
    assert "U+2460" in info.value.rule
    with pytest.raises(KonbiniValidationError) as info:
        check_product_description("ｺｰﾋｰ")
    assert "half-width katakana" in info.value.rule


def test_store_display_name_drops_and_cuts() -> None:
    assert store_display_name("山田 太郎") == "山田 太郎"
    assert store_display_name("😀髙橋 花子") == "橋 花子"
    assert store_display_name("あ" * 25) == "あ" * 20
    assert store_display_name("Jean-Luc Picard of the Enterprise") == "Jean-Luc Picard of t"
    assert store_display_name("ﾀﾛｳ") == "ﾀﾛｳ"  # half-width katakana are Shift_JIS
    assert store_display_name("김민준") == ""


# --------------------------------------------------------------------------- deadline


def test_default_days_is_three() -> None:
    assert DEFAULT_EXPIRES_AFTER_DAYS == 3
    confirmed = datetime(2026, 11, 23, 10, 0, tzinfo=JST)
    assert konbini_deadline(confirmed) == datetime(2026, 11, 26, 23, 59, 59, tzinfo=JST)


@pytest.mark.parametrize(("hour", "minute"), [(0, 30), (23, 30)])
def test_two_days_from_monday_is_wednesday_end_of_day(hour: int, minute: int) -> None:
    confirmed = datetime.combine(MONDAY, datetime.min.time(), tzinfo=JST).replace(
        hour=hour, minute=minute
    )
    deadline = konbini_deadline(confirmed, 2)
    assert deadline == datetime(2026, 11, 25, 23, 59, 59, tzinfo=JST)
    assert deadline.strftime("%A %H:%M:%S") == "Wednesday 23:59:59"
    assert deadline.utcoffset() == timedelta(hours=9)


def test_utc_time_already_next_day_in_jst() -> None:
    # Sunday 2026-11-22 20:00 UTC is Monday 05:00 JST: the JST date counts.
    confirmed = datetime(2026, 11, 22, 20, 0, tzinfo=UTC)
    assert konbini_deadline(confirmed, 2) == datetime(2026, 11, 25, 23, 59, 59, tzinfo=JST)
    # Sunday 14:59 UTC is still Sunday 23:59 JST.
    late_sunday = datetime(2026, 11, 22, 14, 59, tzinfo=UTC)
    assert konbini_deadline(late_sunday, 2) == datetime(2026, 11, 24, 23, 59, 59, tzinfo=JST)


def test_other_time_zone_and_month_end() -> None:
    new_york = timezone(timedelta(hours=-5))
    confirmed = datetime(2026, 12, 30, 12, 0, tzinfo=new_york)  # 12-31 02:00 JST
    assert konbini_deadline(confirmed, 1) == datetime(2027, 1, 1, 23, 59, 59, tzinfo=JST)
    assert konbini_deadline(confirmed, 60) == datetime(2027, 3, 1, 23, 59, 59, tzinfo=JST)


@pytest.mark.parametrize("days", [0, 61, -3, True])
def test_deadline_days_out_of_range(days: int) -> None:
    with pytest.raises(KonbiniValidationError) as info:
        konbini_deadline(datetime(2026, 11, 23, tzinfo=JST), days)
    assert info.value.field == "expires_after_days"


def test_deadline_naive_refused() -> None:
    with pytest.raises(KonbiniValidationError) as info:
        konbini_deadline(datetime(2026, 11, 23, 10, 0))
    assert info.value.field == "confirmed_at"
