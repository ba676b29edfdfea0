"""Customer history: rules as of a past date read the customer fields as they were then."""

from __future__ import annotations

from datetime import timedelta

import pytest
from click.testing import CliRunner

import crmkit
from crmkit import history
from crmkit.cli import make_cli
from crmkit.demo import DEMO_TODAY, build
from crmkit.engine import connect
from crmkit.testing import FixedClock
from crmkit.timeutil import to_datetime, to_iso


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A small core-only demo file; tests copy it before writing."""
    path = tmp_path_factory.mktemp("history") / "demo.db"
    build(path, customers=400, seed=3, plugins=[])
    return path


def open_copy(demo, tmp_path, clock=DEMO_TODAY):
    from crmkit.copying import copy_crm

    target = tmp_path / "copy.db"
    copy_crm(demo, target)
    return crmkit.open(target, plugins=[], clock=FixedClock(clock))


def midpoint(path) -> str:
    conn = connect(path)
    first = conn.execute("SELECT min(created_at) FROM customers").fetchone()[0]
    conn.close()
    start, end = to_datetime(first), to_datetime(DEMO_TODAY)
    return to_iso(start + (end - start) / 2)


def existing_at(path, moment: str, region: str | None = None) -> int:
    """Customers that existed at ``moment``, counted from the raw tables in Python (added by
    then, or with an interaction by then), optionally only those of one region."""
    conn = connect(path)
    first_seen = dict(conn.execute("SELECT customer_id, min(occurred_at) FROM interactions GROUP BY customer_id"))
    rows = conn.execute("SELECT id, created_at, region FROM customers").fetchall()
    conn.close()
    return sum(
        1 for cid, created, reg in rows
        if (created <= moment or (first_seen.get(cid) or "9999") <= moment) and (region is None or reg == region)
    )


class TestAsOfThePast:
    def test_before_the_first_customer_nobody_is_a_member(self, demo):
        """The demo's first customer arrived in 2022: as of 2000 a rule matching everyone counts 0."""
        with crmkit.open(demo, plugins=[], clock=FixedClock(DEMO_TODAY)) as crm:
            assert crm.segments.evaluate("id > 0", as_of="2000-01-01").count() == 0
            assert crm.segments.evaluate("id > 0").count() == crm.customers.count()
        result = CliRunner().invoke(make_cli(), ["segments", "count", str(demo), "--rule", "id > 0", "--as-of", "2000-01-01"])
        assert result.exit_code == 0, result.output
        assert result.output.strip() == "0"

    def test_the_midpoint_counts_the_customers_that_existed_then(self, demo):
        """As of the middle of the demo's time, members are the customers that existed then."""
        mid = midpoint(demo)
        expected = existing_at(demo, mid)
        with crmkit.open(demo, plugins=[], clock=FixedClock(DEMO_TODAY)) as crm:
            total = crm.customers.count()
            assert 0 < expected < total
            assert crm.segments.evaluate("id > 0", as_of=mid).count() == expected
            region = crm.customers.get(1).region
            assert crm.segments.evaluate(f"region = '{region}'", as_of=mid).count() == existing_at(demo, mid, region)
            ids = list(crm.segments.evaluate("id > 0", as_of=mid).ids())
            assert len(ids) == expected

    def test_editing_today_leaves_a_past_count_alone(self, demo, tmp_path):
        """Moving twenty customers to another region today changes today's count, not the past's."""
        crm = open_copy(demo, tmp_path, clock="2025-07-15T10:00:00Z")
        mid = midpoint(demo)
        rule = "region = 'Atlantis'"
        past_before = crm.segments.evaluate(rule, as_of=mid).count()
        today_before = crm.segments.evaluate(rule).count()
        movers = list(crm.segments.evaluate("id > 0", as_of=mid).ids())[:20]
        for customer_id in movers:
            crm.customers.update(customer_id, region="Atlantis")
        assert (past_before, today_before) == (0, 0)
        assert crm.segments.evaluate(rule, as_of=mid).count() == 0
        assert crm.segments.evaluate(rule, as_of=DEMO_TODAY).count() == 0
        assert crm.segments.evaluate(rule).count() == 20
        crm.close()

    def test_every_change_is_a_version(self, fresh_crm, clock):
        """Each change closes the version before it; changes at one clock time make one version."""
        crm = fresh_crm
        ada = crm.customers.add(name="Ada", region="EU", stage="new", created_at="2024-01-01")
        clock.set("2024-06-01T00:00:00Z")
        crm.customers.update(ada.id, stage="growing")
        crm.customers.update(ada.id, owner="rep-1")
        clock.set("2024-09-01T00:00:00Z")
        crm.customers.update(ada.id, region="US", tags=["vip"])
        versions = history.versions(crm.db, ada.id)
        assert [(v["valid_from"], v["valid_to"], v["region"], v["stage"], v["owner"]) for v in versions] == [
            ("2024-01-01T00:00:00Z", "2024-06-01T00:00:00Z", "EU", "new", None),
            ("2024-06-01T00:00:00Z", "2024-09-01T00:00:00Z", "EU", "growing", "rep-1"),
            ("2024-09-01T00:00:00Z", None, "US", "growing", "rep-1"),
        ]

        def count(rule, as_of):
            return crm.segments.evaluate(rule, as_of=as_of).count()

        assert count("stage = 'new' and region = 'EU'", "2024-03-01") == 1
        assert count("stage = 'growing' and owner = 'rep-1' and region = 'EU'", "2024-07-01") == 1
        assert count("tags contains 'vip'", "2024-07-01") == 0
        assert count("tags contains 'vip'", "2024-09-01") == 1
        assert count("updated_at < 2024-05-01", "2024-03-01") == 1
        assert count("id > 0", "2023-12-31") == 0

    def test_customers_added_later_count_from_their_first_interaction(self, fresh_crm):
        """A customer entered today with purchases from last year existed last year; before it
        was added its fields read as they were when added."""
        crm = fresh_crm
        ben = crm.customers.add(name="Ben", region="EU")
        crm.customers.add(name="Cy", region="EU")
        crm.interactions.record(ben.id, "purchase", "2024-03-01", amount="10")
        assert crm.segments.evaluate("region = 'EU'", as_of="2024-06-01").count() == 1
        assert crm.segments.evaluate("region = 'EU'", as_of="2024-01-01").count() == 0

    def test_attributes_as_of_the_past(self, fresh_crm, clock):
        crm = fresh_crm
        ada = crm.customers.add(name="Ada", attributes={"tier": "gold"}, created_at="2024-01-01")
        clock.set("2025-02-01T00:00:00Z")
        crm.customers.update(ada.id, attributes={"tier": "silver"})
        assert crm.segments.evaluate("attr_tier = 'gold'", as_of="2024-06-01").count() == 1
        assert crm.segments.evaluate("attr_tier = 'gold'").count() == 0

    def test_a_snapshot_of_a_past_date_inherits_the_history(self, fresh_crm, clock):
        crm = fresh_crm
        ids = crm.customers.add_many([{"name": f"c{i}", "region": "EU", "created_at": "2024-01-01"} for i in range(3)])
        crm.segments.define("eu", "region = 'EU'")
        clock.set("2025-02-01T00:00:00Z")
        crm.customers.update(ids[0], region="US")
        assert crm.segments["eu"].snapshot(as_of="2024-06-01").members == 3
        assert crm.segments["eu"].snapshot().members == 2

    def test_now_keeps_the_fast_path(self, fresh_crm, clock):
        """At or after the newest change the rule reads the customer row; only a past date reads
        the history table."""
        crm = fresh_crm
        ada = crm.customers.add(name="Ada", region="EU", created_at="2024-01-01")
        assert "customer_history" not in crm.segments.compile("region = 'EU'", "2024-06-01").where
        crm.customers.update(ada.id, region="US")
        assert "customer_history" not in crm.segments.compile("region = 'EU'").where
        assert "customer_history" in crm.segments.compile("region = 'EU'", "2024-06-01").where
        assert "customer_history" not in crm.segments.compile("ltv > 0", "2024-06-01").where


class TestMergeAndForget:
    def test_merge_keeps_the_older_duplicates_past(self, fresh_crm, clock):
        crm = fresh_crm
        old = crm.customers.add(name="Ada L", region="UK", created_at="2023-01-01")
        new = crm.customers.add(name="Ada", region="EU", created_at="2024-06-01")
        crm.customers.merge(new.id, old.id)
        assert crm.customers.get(new.id).created_at == to_datetime("2023-01-01")
        assert crm.segments.evaluate("region = 'UK'", as_of="2023-06-01").count() == 1
        assert crm.segments.evaluate("region = 'EU'", as_of="2024-07-01").count() == 1
        assert crm.segments.evaluate("id > 0", as_of="2024-07-01").count() == 1
        assert [v["valid_from"] for v in history.versions(crm.db, old.id)] == []

    def test_forget_scrubs_personal_values_from_every_version(self, fresh_crm, clock):
        """Erasure reaches the history table: company, tags and attributes of every version are
        gone; the region, stage and size that figures need stay."""
        crm = fresh_crm
        ada = crm.customers.add(
            name="Ada Lovelace", company="Lovelace Engines", region="UK", tags=["analytical-engine"],
            attributes={"dob": "1815-12-10"}, created_at="2024-01-01",
        )
        clock.set("2024-06-01T00:00:00Z")
        crm.customers.update(ada.id, company="Babbage & Lovelace", tags=["difference-engine"], stage="growing")
        clock.set("2025-02-01T00:00:00Z")
        crm.forget(ada.id)
        crm.db.execute("VACUUM")
        rows = "\n".join(repr(row) for row in crm.db.execute("SELECT * FROM customer_history"))
        for secret in ("Lovelace", "Babbage", "engine", "1815"):
            assert secret not in rows, secret
        assert [(v["region"], v["stage"]) for v in history.versions(crm.db, ada.id)] == [
            ("UK", "new"), ("UK", "growing"), ("UK", "growing"),
        ]
        assert crm.segments.evaluate("stage = 'new' and region = 'UK'", as_of="2024-03-01").count() == 1


class TestMigration:
    def test_existing_files_are_backfilled_from_created_at(self, crm_path):
        """A file made before the history table gets its current values valid from created_at."""
        with crmkit.open(crm_path, plugins=[], clock=FixedClock("2025-01-01T00:00:00Z")) as crm:
            crm.customers.add_many([{"name": "Ada", "region": "EU", "created_at": "2024-01-01"},
                                    {"name": "Ben", "region": "US", "created_at": "2024-08-01"}])
            crm.db.execute("DROP TABLE customer_history")
            crm.db.execute("DELETE FROM _sqlite_migrations WHERE name = 'm002_customer_history'")
            crm.db.conn.commit()
        with crmkit.open(crm_path, plugins=[], clock=FixedClock("2025-01-01T00:00:00Z")) as crm:
            assert [v["valid_from"] for v in history.versions(crm.db, 1)] == ["2024-01-01T00:00:00Z"]
            assert crm.segments.evaluate("id > 0", as_of="2024-03-01").count() == 1
            assert crm.segments.evaluate("region in ('EU', 'US')", as_of="2024-09-01").count() == 2


def test_imports_write_history(fresh_crm, clock, tmp_path):
    """Customers added and updated by an import get their versions too."""
    crm = fresh_crm
    crm.customers.upsert_many([{"external_id": "A1", "name": "Ada", "region": "EU", "created_at": "2024-01-01"}])
    clock.set(to_datetime("2025-01-01T09:00:00Z") + timedelta(days=30))
    crm.customers.upsert_many([{"external_id": "A1", "name": "Ada", "region": "US"}])
    assert [v["region"] for v in history.versions(crm.db, 1)] == ["EU", "US"]
    assert crm.segments.evaluate("region = 'EU'", as_of="2025-01-15").count() == 1
