"""Every section of the demo report, as people read it, in en_US and zh_CN.

The demo is built and its report assembled once for the module. Figures whose kind is known
(money, rates, dates) are looked up in the rendered HTML as the formatter writes them, and the
visible text must hold no internal key, no raw ISO timestamp and no "None".
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from html import unescape

import pytest

import crmkit
from crmkit import demo
from crmkit.formatting import Formatter
from crmkit_reports import charts

LOCALES = ("en_US", "zh_CN")


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    demo.build(path, customers=200, seed=7)
    with crmkit.open(path) as crm:
        report = crm.reports.build()
    assert report.failed == []
    return report


@pytest.fixture(scope="module")
def pages(demo_report):
    """The HTML per locale, charts as tables (the chart engine is tested elsewhere; this keeps it fast)."""
    charts.available.cache_clear()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(charts, "available", lambda: False)
        return {locale: demo_report.to_html(locale=locale) for locale in LOCALES}


def visible(html: str) -> str:
    """The text a reader sees: no tags, no CSS."""
    body = html.split("</style>", 1)[-1]
    return unescape(re.sub(r"<[^>]+>", " ", body))


def section_block(html: str, key: str) -> str:
    return visible(html.split(f'data-key="{key}"', 1)[1].split("</section>", 1)[0].split(">", 1)[1])


@pytest.mark.parametrize("locale", LOCALES)
def test_every_section_shows_and_reads_without_keys(pages, demo_report, locale):
    text = visible(pages[locale])
    for section in demo_report.sections:
        assert f'data-key="{section.key}"' in pages[locale]
    assert "None" not in text
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", text), "a raw ISO timestamp"
    # Notes may name settings (churn_days), which is what a user types; everything else reads as words.
    shown = re.sub(r'<p class="notes">.*?</p>', "", pages[locale], flags=re.S)
    keys = re.findall(r"\b[a-z]+(?:_[a-z0-9]+)+\b", visible(shown))
    assert keys == [], f"internal keys shown: {sorted(set(keys))[:10]}"
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in pages[locale]
    assert charts.INSTALL_HINT in text  # without the chart engine the report says what to install


# Figures checked against an independent reading of the value: (kind, how the locale writes it).
def expected_money(value: Decimal, locale: str) -> str:
    symbol = {"en_US": "$", "zh_CN": "US$"}[locale]
    sign = "-" if value < 0 else ""
    whole, _, cents = f"{abs(value):.2f}".partition(".")
    return f"{sign}{symbol}{int(whole):,}.{cents}"


def expected_rate(value: Decimal) -> str:
    return f"{(Decimal(value) * 100).quantize(Decimal('0.1'))}%"


def expected_date(day: date, locale: str) -> str:
    if locale == "zh_CN":
        return f"{day.year}年{day.month}月{day.day}日"
    return f"{day.strftime('%b')} {day.day}, {day.year}"


@pytest.mark.parametrize("locale", LOCALES)
def test_money_rates_and_dates_read_as_the_locale_writes_them(pages, demo_report, locale):
    assert demo_report.currency == "USD"
    html = pages[locale]
    checked = {"amount": 0, "rate": 0}
    for section in demo_report.sections:
        block = section_block(html, section.key)
        for name, value in section.figures.items():
            kind = section.kinds.get(name)
            if value is None or kind not in checked:
                continue
            text = expected_money(Decimal(value), locale) if kind == "amount" else expected_rate(value)
            assert text in block, (section.key, name, text)
            checked[kind] += 1
    assert checked["amount"] >= 5 and checked["rate"] >= 8, checked
    start = demo_report.period.start.date()
    assert expected_date(start, locale) in visible(html).split("Period:", 1)[1][:80]


@pytest.mark.parametrize("locale", LOCALES)
def test_kpi_cards_show_their_change_against_the_previous_period(pages, demo_report, locale):
    churn = demo_report.section("reports.churn")
    now, before = churn.figures["churn_rate"], churn.previous["churn_rate"]
    points = ((Decimal(now) - Decimal(before)) * 100).quantize(Decimal("0.1"))
    sign = "+" if points > 0 else ""
    unit = " pp" if locale == "en_US" else "个百分点"
    assert f"{sign}{points}{unit} vs previous period" in section_block(pages[locale], "reports.churn")


def test_csv_and_json_stay_raw(demo_report, tmp_path):
    """Machine-readable outputs keep fractions, plain decimals and ISO times."""
    demo_report.write_csv(tmp_path)
    churn = (tmp_path / "reports.churn.csv").read_text()
    assert "churn_rate,Churn rate,rate,0." in churn and "%" not in churn
    overview = (tmp_path / "reports.overview.csv").read_text().splitlines()[0]
    assert overview == "kpi,kpi_title,measure,label,unit,value,previous,change"


def test_the_formatter_follows_the_crm_locale_setting(demo_report):
    """No locale given: the report keeps the formatter of its CRM (en_US here unless LANG says otherwise)."""
    assert isinstance(demo_report.formatter_for(), Formatter)
    assert str(demo_report.formatter_for("zh_CN").locale) == "zh_Hans_CN"
    with pytest.raises(ValueError, match="unknown locale"):
        demo_report.to_html(locale="xx_YY")
