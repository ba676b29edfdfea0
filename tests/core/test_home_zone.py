"""The home time zone: dates mean local midnight, whole days count on the local wall clock.

Expected values are worked by hand from the zones' rules: Asia/Shanghai is UTC+8 all year;
Europe/Berlin is UTC+1, and UTC+2 from 2025-03-30 01:00 UTC to 2025-10-26 01:00 UTC.
"""

from __future__ import annotations

import warnings
from datetime import datetime, timezone

import pytest

import crmkit
from crmkit import CrmError, ValidationError
from crmkit.calendar import HomeCalendar
from crmkit.crm import TimezoneChanged

UTC = timezone.utc


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def open_in(zone: str, clock):
    return crmkit.open(":memory:", plugins=[], clock=clock, timezone=zone)


class TestCreation:
    def test_a_new_crm_is_utc_with_weeks_from_monday(self, fresh_crm):
        """Without a choice the home zone is UTC, so existing files keep their answers."""
        assert fresh_crm.zone.key == "UTC"
        assert fresh_crm.calendar.first_weekday == 0
        assert fresh_crm.as_of("2025-07-01") == utc("2025-07-01T00:00:00Z")

    def test_the_zone_and_first_weekday_are_kept_in_the_file(self, crm_path, clock):
        with crmkit.open(crm_path, plugins=[], clock=clock, timezone="Asia/Shanghai", first_weekday="sunday"):
            pass
        with crmkit.open(crm_path, plugins=[], clock=clock) as crm:
            assert crm.zone.key == "Asia/Shanghai"
            assert crm.calendar.first_weekday == 6
            assert crm.settings.get("core.timezone") == "Asia/Shanghai"

    def test_a_bad_zone_name_is_refused_and_leaves_no_file(self, crm_path, clock):
        with pytest.raises(ValidationError, match="timezone.*IANA time zone name"):
            crmkit.open(crm_path, plugins=[], clock=clock, timezone="Mars/Olympus")
        assert not crm_path.exists()
        with pytest.raises(ValidationError, match="timezone"):
            crmkit.open(":memory:", plugins=[], clock=clock, timezone="x'; DROP TABLE customers; --")

    def test_an_existing_crm_is_not_moved_by_opening_it_with_another_zone(self, crm_path, clock):
        with crmkit.open(crm_path, plugins=[], clock=clock, timezone="Europe/Berlin"):
            pass
        with pytest.raises(CrmError, match="timezone is Europe/Berlin; change it with `crmkit timezone"):
            crmkit.open(crm_path, plugins=[], clock=clock, timezone="Asia/Shanghai")

    def test_set_timezone_warns_that_day_figures_move(self, fresh_crm):
        with pytest.warns(TimezoneChanged, match="Asia/Shanghai.*may move"):
            fresh_crm.set_timezone("Asia/Shanghai")
        assert fresh_crm.as_of("2025-07-01") == utc("2025-06-30T16:00:00Z")
        assert fresh_crm.settings.get("core.timezone") == "Asia/Shanghai"
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            fresh_crm.set_timezone("Asia/Shanghai")  # no change, no warning
        with pytest.raises(ValidationError, match="first_weekday"):
            fresh_crm.set_timezone("UTC", first_weekday="someday")
        assert fresh_crm.settings.get("core.timezone") == "Asia/Shanghai"


class TestDates:
    def test_a_date_means_local_midnight(self, clock):
        with open_in("Asia/Shanghai", clock) as crm:
            assert crm.as_of("2025-07-01") == utc("2025-06-30T16:00:00Z")
            assert crm.as_of("2025-07-01T07:00:00") == utc("2025-06-30T23:00:00Z")
            assert crm.as_of("2025-07-01T07:00:00Z") == utc("2025-07-01T07:00:00Z")
        with open_in("Europe/Berlin", clock) as crm:
            assert crm.as_of("2025-01-01") == utc("2024-12-31T23:00:00Z")
            assert crm.as_of("2025-07-01") == utc("2025-06-30T22:00:00Z")


class TestDaylightSaving:
    berlin = HomeCalendar("Europe/Berlin")

    def test_the_spring_sunday_has_23_hours_and_the_autumn_one_25(self):
        spring = self.berlin.midnight(datetime(2025, 3, 30).date())
        assert self.berlin.add_days(spring, 1) - spring == utc("2025-03-30T22:00:00Z") - utc("2025-03-29T23:00:00Z")
        assert (self.berlin.add_days(spring, 1) - spring).total_seconds() == 23 * 3600
        autumn = self.berlin.midnight(datetime(2025, 10, 26).date())
        assert (self.berlin.add_days(autumn, 1) - autumn).total_seconds() == 25 * 3600

    def test_the_dst_sunday_is_one_day_where_days_count(self):
        saturday_noon = utc("2025-03-29T11:00:00Z")  # 12:00 in Berlin
        sunday_noon = utc("2025-03-30T10:00:00Z")  # 12:00 in Berlin, 23 hours later
        assert self.berlin.days_between(saturday_noon, sunday_noon) == 1
        assert HomeCalendar("UTC").days_between(saturday_noon, sunday_noon) == 0

    def test_whole_day_fields_count_the_dst_sunday_as_one_day(self, clock):
        """Saturday 00:00 to Monday 00:00 in Berlin is two days on the wall clock, 47 hours."""
        def count(crm, rule, as_of):
            return crm.segments.evaluate(rule, as_of=as_of).count()

        with open_in("Europe/Berlin", clock) as crm:
            customer = crm.customers.add(name="Ada")
            crm.interactions.record(customer.id, "purchase", occurred_at="2025-03-28T23:00:00Z", amount="10")
            as_of = crm.as_of("2025-03-31")
            assert as_of == utc("2025-03-30T22:00:00Z")
            assert count(crm, "last_purchase_days = 2", as_of) == 1
            assert count(crm, "last_purchase_days <= 1", as_of) == 0
            assert count(crm, "last_purchase_days >= 2", as_of) == 1
            assert count(crm, "last_purchase_days between 2 and 2", as_of="2025-03-30T22:00:00Z") == 1
        with open_in("UTC", clock) as crm:
            customer = crm.customers.add(name="Ada")
            crm.interactions.record(customer.id, "purchase", occurred_at="2025-03-28T23:00:00Z", amount="10")
            assert count(crm, "last_purchase_days = 1", "2025-03-30T22:00:00Z") == 1  # 47 hours

    def test_day_counts_agree_between_sql_and_python_across_the_change(self, clock):
        """The SQL count (both engines) equals the Python count for times around both changes."""
        times = ["2025-03-29T22:59:59Z", "2025-03-30T00:30:00Z", "2025-03-30T01:00:00Z", "2025-03-30T23:30:00Z",
                 "2025-10-25T23:30:00Z", "2025-10-26T00:59:59Z", "2025-10-26T01:00:00Z", "2025-10-26T23:00:00Z"]
        with open_in("Europe/Berlin", clock) as crm:
            for earlier in times:
                for later in times:
                    sql = f"SELECT CAST({crm.calendar.days_sql(':a', ':b')} AS INTEGER), {crm.calendar.local_sql(':b')}"
                    days, local = crm.db.execute(sql, {"a": earlier, "b": later}).fetchone()
                    expected_days = crm.calendar.days_between(utc(earlier), utc(later))
                    assert days == expected_days, (earlier, later)
                    assert local == crm.calendar.local(utc(later)).strftime("%Y-%m-%dT%H:%M:%S")


class TestImportedOffsets:
    def test_plus_eight_purchases_count_in_their_local_month_only_in_a_shanghai_crm(self, clock):
        """The same +08:00 purchases: June/July split by Shanghai days, or by UTC days."""
        rows = [("2025-06-30T23:30:00+08:00", 100), ("2025-07-01T07:00:00+08:00", 200), ("2025-07-31T23:59:00+08:00", 400)]
        expected = {"Asia/Shanghai": {"06": 100, "07": 600}, "UTC": {"06": 300, "07": 400}}
        for zone, months in expected.items():
            with open_in(zone, clock) as crm:
                customer = crm.customers.add(name="Li")
                for at, amount in rows:
                    crm.interactions.record(customer.id, "purchase", occurred_at=at, amount=amount)
                sql = (f"SELECT substr({crm.calendar.local_sql('occurred_at')}, 6, 2) AS m, SUM(amount) "
                       "FROM interactions GROUP BY m ORDER BY m")
                totals = {m: amount // 100 for m, amount in crm.db.execute(sql).fetchall()}
                assert totals == months, zone


class TestCommandLine:
    def test_init_sets_the_zone_and_timezone_changes_it_with_a_warning(self, crm_path):
        from click.testing import CliRunner

        from crmkit.cli import make_cli

        runner = CliRunner()
        result = runner.invoke(make_cli(), ["init", str(crm_path), "--plugins", "", "--timezone", "Asia/Shanghai"])
        assert result.exit_code == 0, result.output
        assert "home time zone Asia/Shanghai" in result.output
        result = runner.invoke(make_cli(), ["timezone", str(crm_path)])
        assert result.output.strip() == "Home time zone: Asia/Shanghai; weeks start on monday"
        result = runner.invoke(make_cli(), ["timezone", str(crm_path), "Europe/Berlin", "--first-weekday", "sun"])
        assert result.exit_code == 0, result.output
        assert "Warning: home time zone is now Europe/Berlin" in result.output
        with crmkit.open(crm_path, plugins=[]) as crm:
            assert (crm.calendar.name, crm.calendar.first_weekday) == ("Europe/Berlin", 6)

    def test_a_bad_zone_is_one_error_line_and_changes_nothing(self, crm_path):
        from click.testing import CliRunner

        from crmkit.cli import make_cli

        runner = CliRunner()
        result = runner.invoke(make_cli(), ["init", str(crm_path), "--timezone", "Nowhere/Town"])
        assert result.exit_code != 0
        assert result.output.startswith("Error:") and "timezone" in result.output
        assert not crm_path.exists()
        runner.invoke(make_cli(), ["init", str(crm_path), "--plugins", ""])
        result = runner.invoke(make_cli(), ["timezone", str(crm_path), "Nowhere/Town"])
        assert result.exit_code != 0 and result.output.startswith("Error:")
        with crmkit.open(crm_path, plugins=[]) as crm:
            assert crm.calendar.name == "UTC"

    def test_as_of_on_the_command_line_is_a_local_date(self, crm_path):
        """In Shanghai, --as-of 2025-07-01 is 30 June 16:00 UTC: a customer added at 17:00 UTC is not yet there."""
        from click.testing import CliRunner

        from crmkit.cli import make_cli

        clock_now = "2025-06-30T17:00:00Z"
        with crmkit.open(crm_path, plugins=[], clock=lambda: utc(clock_now), timezone="Asia/Shanghai") as crm:
            crm.customers.add(name="Late")
        runner = CliRunner()
        result = runner.invoke(make_cli(), ["segments", "count", str(crm_path), "--rule", "customer_days >= 0", "--as-of", "2025-07-01"])
        assert result.exit_code == 0, result.output
        assert result.output.strip() == "0"
        result = runner.invoke(make_cli(), ["segments", "count", str(crm_path), "--rule", "customer_days >= 0", "--as-of", "2025-07-02"])
        assert result.output.strip() == "1"
        result = runner.invoke(make_cli(), ["segments", "count", str(crm_path), "--rule", "id > 0", "--as-of", "someday"])
        assert result.exit_code != 0 and result.output.startswith("Error:")
