"""N days in the home zone: `spend_<N>d`-style windows and "N days later" in SQL count local days.

Expected values are worked by hand from the zones' rules: Asia/Shanghai is UTC+8 all year;
Europe/Berlin is UTC+1, and UTC+2 from 2025-03-30 01:00 UTC to 2025-10-26 01:00 UTC.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

import crmkit


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def open_in(zone: str, clock):
    return crmkit.open(":memory:", plugins=[], clock=clock, timezone=zone)


def members(crm, rule: str, as_of) -> list[str]:
    return sorted(c.name for c in crm.segments.evaluate(rule, as_of=as_of).customers())


class TestSpendWindows:
    """spend_7d as of 2025-07-08 covers local 1 July 00:00 (excluded) to 8 July 00:00 (included)."""

    @pytest.mark.parametrize("zone, first_day_0700, just_before", [
        # Shanghai: 07:00 on 1 July is 23:00 UTC on 30 June; the window opens at 30 June 16:00 UTC
        ("Asia/Shanghai", "2025-06-30T23:00:00Z", "2025-06-30T15:59:00Z"),
        # Berlin in summer (UTC+2): 07:00 on 1 July is 05:00 UTC; the window opens at 30 June 22:00 UTC
        ("Europe/Berlin", "2025-07-01T05:00:00Z", "2025-06-30T21:59:00Z"),
    ])
    def test_a_7_day_window_holds_seven_local_days(self, clock, zone, first_day_0700, just_before):
        with open_in(zone, clock) as crm:
            inside = crm.customers.add(name="Inside")
            outside = crm.customers.add(name="Outside")
            crm.interactions.record(inside.id, "purchase", occurred_at=first_day_0700, amount="30")
            crm.interactions.record(outside.id, "purchase", occurred_at=just_before, amount="50")
            as_of = crm.as_of("2025-07-08")
            assert members(crm, "spend_7d >= 30", as_of) == ["Inside"]
            assert members(crm, "purchases_7d = 1", as_of) == ["Inside"]
            assert members(crm, "interactions_7d = 0", as_of) == ["Outside"]
            # one local day later the window has moved past the first purchase as well
            assert members(crm, "spend_7d > 0", crm.as_of("2025-07-09")) == []
            assert members(crm, "spend_8d >= 80", as_of) == []
            assert members(crm, "spend_8d > 0", as_of) == ["Inside", "Outside"]

    def test_the_window_keeps_the_wall_clock_time_of_a_time_of_day(self, clock):
        """As of 1 July 15:00 in Shanghai, spend_1d starts at 30 June 15:00 local (07:00 UTC)."""
        with open_in("Asia/Shanghai", clock) as crm:
            early = crm.customers.add(name="Early")
            late = crm.customers.add(name="Late")
            crm.interactions.record(early.id, "purchase", occurred_at="2025-06-30T07:00:00Z", amount="5")
            crm.interactions.record(late.id, "purchase", occurred_at="2025-06-30T07:00:01Z", amount="5")
            assert members(crm, "spend_1d > 0", "2025-07-01T07:00:00Z") == ["Late"]

    def test_across_the_spring_change_seven_days_are_seven_calendar_days(self, clock):
        """As of 2025-04-02 in Berlin, spend_7d opens at local 26 March 00:00 (25 March 23:00 UTC),
        7 x 24 - 1 = 167 hours before as_of (1 April 22:00 UTC)."""
        with open_in("Europe/Berlin", clock) as crm:
            first_minute = crm.customers.add(name="First minute")
            last_before = crm.customers.add(name="Last before")
            crm.interactions.record(first_minute.id, "purchase", occurred_at="2025-03-25T23:00:01Z", amount="1")
            crm.interactions.record(last_before.id, "purchase", occurred_at="2025-03-25T23:00:00Z", amount="1")
            as_of = crm.as_of("2025-04-02")
            assert as_of == utc("2025-04-01T22:00:00Z")
            assert members(crm, "spend_7d > 0", as_of) == ["First minute"]

    def test_across_the_autumn_change_seven_days_are_seven_calendar_days(self, clock):
        """As of 2025-10-29 in Berlin (28 October 23:00 UTC) spend_7d opens at local 22 October
        00:00, i.e. 21 October 22:00 UTC: 7 x 24 + 1 = 169 hours back."""
        with open_in("Europe/Berlin", clock) as crm:
            inside = crm.customers.add(name="Inside")
            outside = crm.customers.add(name="Outside")
            crm.interactions.record(inside.id, "purchase", occurred_at="2025-10-21T22:30:00Z", amount="1")
            crm.interactions.record(outside.id, "purchase", occurred_at="2025-10-21T22:00:00Z", amount="1")
            assert members(crm, "spend_7d > 0", crm.as_of("2025-10-29")) == ["Inside"]

    def test_a_utc_crm_keeps_n_times_24_hours(self, clock):
        with open_in("UTC", clock) as crm:
            inside = crm.customers.add(name="Inside")
            outside = crm.customers.add(name="Outside")
            crm.interactions.record(inside.id, "purchase", occurred_at="2025-07-01T00:00:01Z", amount="3")
            crm.interactions.record(outside.id, "purchase", occurred_at="2025-07-01T00:00:00Z", amount="3")
            assert members(crm, "spend_7d = 3", "2025-07-08") == ["Inside"]


class TestAddDaysInSql:
    """crm.calendar.add_days_sql moves a time by local days, as the Python calendar does."""

    @pytest.mark.parametrize("start, days, expected", [
        # Saturday 29 March 12:00 Berlin (11:00 UTC) + 1 day = Sunday 12:00 CEST (10:00 UTC): 23 hours
        ("2025-03-29T11:00:00Z", 1, "2025-03-30T10:00:00Z"),
        # Saturday 25 October 12:00 CEST (10:00 UTC) + 1 day = Sunday 12:00 CET (11:00 UTC): 25 hours
        ("2025-10-25T10:00:00Z", 1, "2025-10-26T11:00:00Z"),
        # Monday 31 March 00:00 CEST (30 March 22:00 UTC) - 7 days = Monday 24 March 00:00 CET
        ("2025-03-30T22:00:00Z", -7, "2025-03-23T23:00:00Z"),
        # a summer day away from the changes is 24 hours
        ("2025-07-01T10:00:00Z", 3, "2025-07-04T10:00:00Z"),
        # 02:30 on 30 March is skipped in Berlin: the earlier offset (+01:00) gives 01:30 UTC
        ("2025-03-29T01:30:00Z", 1, "2025-03-30T01:30:00Z"),
        # 02:30 on 26 October happens twice: the first (CEST) one, 00:30 UTC
        ("2025-10-25T00:30:00Z", 1, "2025-10-26T00:30:00Z"),
    ])
    def test_berlin(self, clock, start, days, expected):
        with open_in("Europe/Berlin", clock) as crm:
            sql = f"SELECT {crm.calendar.add_days_sql(':t', ':d')}"
            assert crm.db.execute(sql, {"t": start, "d": days}).fetchone()[0] == expected
            assert crm.calendar.add_days(utc(start), days) == utc(expected)

    def test_null_stays_null_and_shanghai_days_are_24_hours(self, clock):
        with open_in("Asia/Shanghai", clock) as crm:
            sql = f"SELECT {crm.calendar.add_days_sql(':t', ':d')}"
            assert crm.db.execute(sql, {"t": None, "d": 3}).fetchone()[0] is None
            assert crm.db.execute(sql, {"t": "2025-06-30T23:00:00Z", "d": 3}).fetchone()[0] == "2025-07-03T23:00:00Z"

    def test_sql_agrees_with_python_hour_by_hour_across_both_changes(self, clock):
        starts = [f"2025-03-{day:02d}T{hour:02d}:30:00Z" for day in (28, 29, 30) for hour in range(24)]
        starts += [f"2025-10-{day:02d}T{hour:02d}:30:00Z" for day in (24, 25, 26) for hour in range(24)]
        with open_in("Europe/Berlin", clock) as crm:
            sql = f"SELECT {crm.calendar.add_days_sql(':t', ':d')}"
            for start in starts:
                for days in (-2, -1, 1, 2):
                    got = crm.db.execute(sql, {"t": start, "d": days}).fetchone()[0]
                    wall = utc(start).astimezone(crm.zone).replace(tzinfo=None)
                    expected = (wall + timedelta(days=days)).replace(tzinfo=crm.zone)  # zoneinfo, fold=0
                    assert utc(got) == expected.astimezone(timezone.utc), (start, days)


class TestDemo:
    def test_a_shanghai_demo_ends_at_noon_local_time_on_its_today(self, tmp_path):
        """The demo's today is 30 June 2025 12:00 in Shanghai (04:00 UTC); the leads plugin's
        days start at 09:00 local (01:00 UTC), not 09:00 UTC."""
        from crmkit.demo import build

        summary = build(tmp_path / "demo.db", customers=40, seed=1, plugins=["leads"], timezone="Asia/Shanghai")
        assert (summary["today"], summary["timezone"]) == ("2025-06-30T04:00:00Z", "Asia/Shanghai")
        with crmkit.open(tmp_path / "demo.db", plugins=["leads"]) as crm:
            assert crm.zone.key == "Asia/Shanghai"
            assert crm.now() == utc("2025-06-30T04:00:00Z")
            latest = crm.db.execute("SELECT max(occurred_at) FROM interactions WHERE kind = 'purchase'").fetchone()[0]
            assert latest <= "2025-06-30T04:00:00Z"
            # the leads plugin's own demo leads follow the 40 core customers
            arrivals = {row[0][10:] for row in crm.db.execute("SELECT received_at FROM leads_leads WHERE customer_id > 40")}
            assert arrivals == {"T01:00:00Z"}
            newest = crm.db.execute("SELECT max(received_at) FROM leads_leads").fetchone()[0]
            assert newest == "2025-06-30T01:00:00Z"

    def test_a_utc_demo_keeps_its_today_and_a_bad_zone_writes_nothing(self, tmp_path):
        from crmkit import ValidationError
        from crmkit.demo import DEMO_TODAY, build

        with pytest.raises(ValidationError, match="timezone"):
            build(tmp_path / "demo.db", customers=10, plugins=[], timezone="Mars/Olympus")
        assert list(tmp_path.iterdir()) == []
        summary = build(tmp_path / "demo.db", customers=10, seed=1, plugins=["leads"])
        assert (summary["today"], summary["timezone"]) == (DEMO_TODAY, "UTC")
        with crmkit.open(tmp_path / "demo.db", plugins=["leads"]) as crm:
            arrivals = {row[0][10:] for row in crm.db.execute("SELECT received_at FROM leads_leads WHERE customer_id > 10")}
            assert arrivals == {"T09:00:00Z"}

    def test_the_demo_command_takes_a_zone_and_refuses_a_bad_one(self, tmp_path, monkeypatch):
        from click.testing import CliRunner

        from crmkit.cli import make_cli

        monkeypatch.setenv("CRMKIT_PLUGINS", "")
        path = tmp_path / "demo.db"

        def run(*args):
            return CliRunner().invoke(make_cli(), ["demo", str(path), "--customers", "5", *args], catch_exceptions=False)

        bad = run("--timezone", "Mars/Olympus")
        assert bad.exit_code == 1
        errors = [line for line in bad.output.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1 and "timezone" in errors[0] and "Traceback" not in bad.output
        assert not path.exists()
        good = run("--timezone", "Europe/Berlin")
        assert good.exit_code == 0, good.output
        with crmkit.open(path, plugins=[]) as crm:
            assert crm.zone.key == "Europe/Berlin"
            assert crm.now() == utc("2025-06-30T10:00:00Z")  # 12:00 in Berlin's summer (UTC+2)
