"""The one formatter for people: expectations written by hand for en_US and zh_CN (not read from babel)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

import crmkit
from crmkit.formatting import MISSING, Formatter, heading, locale_from_environment, parse_locale

NNBSP = "\u202f"  # CLDR puts a narrow no-break space between an en_US time and AM/PM

# (method, argument, en_US with USD, zh_CN with CNY)
CASES = [
    ("number", 1234567, "1,234,567", "1,234,567"),
    ("number", Decimal("1234.50"), "1,234.5", "1,234.5"),
    ("number", 0.12345, "0.12", "0.12"),
    ("number", 98765.4321, "98,765", "98,765"),
    ("signed", 12, "+12", "+12"),
    ("signed", -1200, "-1,200", "-1,200"),
    ("money", 123450, "$1,234.50", "¥1,234.50"),
    ("money", -5, "-$0.05", "-¥0.05"),
    ("money", 0, "$0.00", "¥0.00"),
    ("money_change", 120, "+$1.20", "+¥1.20"),
    ("amount", Decimal("9.5"), "$9.50", "¥9.50"),
    ("rate", 0.0838, "8.4%", "8.4%"),
    ("rate", Decimal("0.6715"), "67.2%", "67.2%"),
    ("rate", 1, "100.0%", "100.0%"),
    ("rate_change", 0.012, "+1.2 pp", "+1.2个百分点"),
    ("rate_change", -0.0049, "-0.5 pp", "-0.5个百分点"),
    ("date", date(2026, 12, 5), "Dec 5, 2026", "2026年12月5日"),
    ("date", "2026-03-01T10:00:00Z", "Mar 1, 2026", "2026年3月1日"),
    ("month", "2025-06", "Jun 2025", "2025年6月"),
    ("month", date(2026, 1, 31), "Jan 2026", "2026年1月"),
    ("datetime", "2026-12-05T14:11:25Z", f"Dec 5, 2026, 2:11{NNBSP}PM UTC", "2026年12月5日 14:11 UTC"),
    ("duration", timedelta(days=3, hours=4), "3 days", "3天"),
    ("duration", timedelta(hours=2), "2 hours", "2小时"),
    ("lateness", timedelta(days=3), "3 days overdue", "逾期3天"),
    ("lateness", -timedelta(hours=2), "due in 2 hours", "2小时后到期"),
    ("lateness", timedelta(days=1002, hours=9), "3 years overdue", "逾期3年"),
    ("ident", 1234, "1234", "1234"),
    ("ident", "C-10045", "C-10045", "C-10045"),
]


@pytest.mark.parametrize("method, argument, english, chinese", CASES)
def test_each_kind_reads_as_written_by_hand(method, argument, english, chinese):
    """Separators, currency symbols, one rate format, medium dates, durations in words, plain ids."""
    assert getattr(Formatter("en_US", "USD"), method)(argument) == english
    assert getattr(Formatter("zh_CN", "CNY"), method)(argument) == chinese


THIN = "\u2009"


@pytest.mark.parametrize("start, end, kind, english", [
    ("2025-06-01", "2025-07-01", "month", "Jun 2025"),
    ("2025-06-01", "2025-06-15T14:00:01Z", "month", f"Jun 1{THIN}–{THIN}15, 2025"),  # a month to date
    ("2024-10-01", "2024-12-01", "quarter", f"Oct 1{THIN}–{THIN}Nov 30, 2024"),
    ("2024-10-01", "2025-01-01", "quarter", "Q4 2024"),
    ("2025-01-01", "2026-01-01", "year", "2025"),
    ("2025-01-01", "2025-03-01", "year", f"Jan 1{THIN}–{THIN}Feb 28, 2025"),
])
def test_a_calendar_period_is_named_only_when_whole(start, end, kind, english):
    """A KPI card of the month to date said "Jun 2025" for June 1-15: a period cut short reads as
    the days it covers."""
    assert Formatter("en_US", "USD").period(start, end, kind) == english


@pytest.mark.parametrize("method", ["number", "signed", "money", "rate", "rate_change", "date", "month", "datetime", "duration", "lateness", "ident"])
def test_missing_values_read_as_a_dash(method):
    """None never reads as "None"."""
    assert getattr(Formatter(), method)(None) == MISSING


def test_money_follows_the_currency_places_and_symbol():
    """Yen have no minor unit; dollars in a Chinese locale carry the US prefix."""
    assert Formatter("en_US", "JPY").money(1500) == "¥1,500"
    assert Formatter("zh_CN", "USD").money(150) == "US$1.50"


def test_times_show_in_the_display_zone_with_its_name():
    """A time late on Dec 5 in UTC is the morning of Dec 6 in Shanghai, and says so."""
    shanghai = Formatter("zh_CN", "CNY", ZoneInfo("Asia/Shanghai"))
    assert shanghai.datetime(datetime(2026, 12, 5, 23, 30, tzinfo=timezone.utc)) == "2026年12月6日 07:30 +0800"
    assert shanghai.date("2026-12-05T23:30:00Z") == "2026年12月6日"


def test_value_dispatches_by_kind_or_type():
    """Without a kind the type decides; an unknown kind is an error naming the kinds."""
    fmt = Formatter()
    assert fmt.value(2500, "money") == "$25.00"
    assert fmt.value(0.5, "rate") == "50.0%"
    assert fmt.value(1234) == "1,234"
    assert fmt.value(date(2026, 1, 2)) == "Jan 2, 2026"
    assert fmt.value(None) == MISSING
    assert fmt.value(["a", "b"]) == "a, b"
    assert fmt.change(0.01, "rate") == "+1.0 pp"
    assert fmt.change(-250, "money") == "-$2.50"
    with pytest.raises(ValueError, match="unknown kind of value 'percent'"):
        fmt.value(1, "percent")


def test_other_languages_fall_back_to_cldr_directions():
    """A locale without hand-written phrases still reads naturally (German here)."""
    german = Formatter("de_DE", "EUR")
    assert german.money(123450) == "1.234,50\xa0€"
    assert german.lateness(timedelta(days=3)) == "vor 3 Tagen"


def test_unknown_locale_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown locale 'xx_YY'"):
        Formatter("xx_YY")
    with pytest.raises(ValueError, match="unknown locale"):
        parse_locale("not a locale")


@pytest.mark.parametrize(
    "environ, expected",
    [
        ({"LANG": "zh_CN.UTF-8"}, "zh_CN"),
        ({"LC_ALL": "de_DE.UTF-8", "LANG": "zh_CN.UTF-8"}, "de_DE"),
        ({"LANG": "C.UTF-8"}, None),
        ({"LANG": "POSIX"}, None),
        ({"LANG": "klingon"}, None),
        ({}, None),
    ],
)
def test_locale_from_the_environment(environ, expected):
    found = locale_from_environment(environ)
    assert (None if found is None else parse_locale(found)) == (None if expected is None else parse_locale(expected))


def test_the_crm_setting_wins_over_the_environment(monkeypatch, clock):
    """Locale: argument, then core.locale, then LANG; currency from the CRM."""
    monkeypatch.setenv("LANG", "de_DE.UTF-8")
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    crm = crmkit.open(":memory:", plugins=[], clock=clock, currency="CNY")
    try:
        assert Formatter.for_crm(crm).money(100) == "1,00\xa0CN¥"
        crm.settings.set("core.locale", "zh_CN")
        assert Formatter.for_crm(crm).money(100) == "¥1.00"
        assert Formatter.for_crm(crm, locale="en_US").money(100) == "CN¥1.00"
    finally:
        crm.close()


@pytest.mark.parametrize("key, title", [
    ("new_customers", "New customers"), ("sla_due", "SLA due"), ("avg_csat", "Avg CSAT"),
    ("m3", "Month 3"), ("rfm segment", "RFM segment"), ("", ""),
])
def test_heading_turns_keys_into_titles(key, title):
    assert heading(key) == title


@pytest.mark.parametrize("zone, expected", [
    (None, "2025-06-30 23:00 UTC"),
    ("Asia/Shanghai", "2025-07-01 07:00 CST"),  # UTC+8: already 1 July
    ("Europe/Berlin", "2025-07-01 01:00 CEST"),  # summer time, UTC+2
    ("Asia/Dubai", "2025-07-01 03:00 +04:00"),  # no lettered abbreviation: the offset
    ("America/New_York", "2025-06-30 19:00 EDT"),
])
def test_local_time_shows_the_home_zone_clock_and_names_the_zone(zone, expected):
    from zoneinfo import ZoneInfo

    from crmkit.formatting import local_time

    assert local_time("2025-06-30T23:00:00Z", ZoneInfo(zone) if zone else None) == expected
    assert local_time(None) == local_time("") == "–"
