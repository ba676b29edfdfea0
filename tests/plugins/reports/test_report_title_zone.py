"""The HTML report's title names its moment as the CLI and the dashboard print times (the home
zone's clock and abbreviation) followed by the zone's IANA name, in every locale."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

import crmkit

# 2025-06-30 23:00 UTC is 2025-07-01 07:00 in Shanghai (UTC+8 all year)
AS_OF = "2025-06-30T23:00:00Z"


@pytest.mark.parametrize("locale", ["en_US", "zh_CN"])
@pytest.mark.parametrize("zone, expected", [
    ("Asia/Shanghai", "Report as of 2025-07-01 07:00 CST (Asia/Shanghai)"),
    ("America/New_York", "Report as of 2025-06-30 19:00 EDT (America/New_York)"),
    (None, "Report as of 2025-06-30 23:00 UTC"),
])
def test_title_names_the_home_zone_by_its_iana_name(crm_path, clock, locale, zone, expected):
    # the clock of the expected texts, worked out independently of crmkit
    home = ZoneInfo(zone or "UTC")
    moment = datetime(2025, 6, 30, 23, tzinfo=ZoneInfo("UTC")).astimezone(home)
    assert expected.startswith(f"Report as of {moment:%Y-%m-%d %H:%M} ")
    options = {"timezone": zone} if zone else {}
    with crmkit.open(crm_path, plugins=["reports"], clock=clock, **options) as crm:
        html = crm.reports.build(as_of=AS_OF).to_html(locale=locale)
    assert re.search(r"<title>([^<]*)</title>", html).group(1) == expected
    assert re.search(r"<h1>([^<]*)</h1>", html).group(1) == expected
    assert "GMT" not in html.split("</header>")[0]


@pytest.mark.parametrize("locale", ["en_US", "zh_CN"])
@pytest.mark.parametrize("zone, expected", [
    ("Asia/Shanghai", "Report as of 2025-07-01 07:00 CST (Asia/Shanghai)  period "),
    (None, "Report as of 2025-06-30 23:00 UTC  period "),
])
def test_terminal_report_names_the_zone_as_the_html_title_does(crm_path, clock, locale, zone, expected):
    options = {"timezone": zone} if zone else {}
    with crmkit.open(crm_path, plugins=["reports"], clock=clock, **options) as crm:
        report = crm.reports.build(as_of=AS_OF)
        text, html = report.to_text(locale=locale), report.to_html(locale=locale)
    first = text.splitlines()[0]
    assert first.startswith(expected)
    assert "GMT" not in first
    title = re.search(r"<title>([^<]*)</title>", html).group(1)
    assert first.startswith(title + "  period ")
