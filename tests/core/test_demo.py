"""The demo generator: deterministic, realistic, written through the public API, all or nothing."""

from __future__ import annotations

import hashlib
from decimal import Decimal

import numpy as np
import pytest

import crmkit
from crmkit import CrmError, PluginError, ValidationError, hookimpl
from crmkit.demo import DEMO_TODAY, build
from crmkit.demo.history import Events, event_rows
from crmkit.demo.timeline import Timeline
from crmkit.testing import FixedClock

CUSTOMERS = 1000
SEED = 2  # plants three duplicates among 1000 customers (seed 7 plants none at this size)


def table_digest(path) -> dict[str, str]:
    """A hash of every row of every table, except the migration bookkeeping (it holds the
    wall-clock time the migrations ran)."""
    from crmkit.engine import connect

    db = connect(path)
    try:
        out = {}
        for table in db.table_names():
            if table.endswith("_migrations"):
                continue
            columns = db.columns_of(table)
            order = ", ".join(f'"{c}"' for c in (db.primary_key(table) or columns))
            digest = hashlib.sha256()
            for row in db.execute(f'SELECT * FROM "{table}" ORDER BY {order}'):
                digest.update(repr(tuple(row)).encode())
            out[table] = digest.hexdigest()
        return out
    finally:
        db.close()


def leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".building-" in p.name)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """One core-only demo file shared by the read-only tests, and its summary."""
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    summary = build(path, customers=CUSTOMERS, seed=SEED, plugins=[])
    return path, summary


@pytest.fixture
def demo_crm(demo):
    crm = crmkit.open(demo[0], plugins=[], clock=FixedClock(DEMO_TODAY))
    yield crm
    crm.close()


class TestSummary:
    def test_summary_matches_the_file(self, demo, demo_crm):
        """Every count in the summary is what the file holds."""
        path, summary = demo
        db = demo_crm.db
        assert summary["customers"] == CUSTOMERS == db.execute("SELECT count(*) FROM customers").fetchone()[0]
        by_kind = dict(db.execute("SELECT kind, count(*) FROM interactions GROUP BY kind").fetchall())
        assert summary["interactions_by_kind"] == by_kind
        assert summary["interactions"] == sum(by_kind.values()) == demo_crm.interactions.count()
        assert set(by_kind) == {"purchase", "refund", "call", "email", "visit", "meeting", "complaint", "feedback", "survey", "referral"}
        assert summary["segments"] == [s.name for s in sorted(demo_crm.segments, key=lambda s: summary["segments"].index(s.name))]
        assert summary["today"] == DEMO_TODAY and summary["seed"] == SEED and summary["plugins"] == []
        assert summary["seconds"] > 0
        assert demo_crm.settings.get("demo.today") == DEMO_TODAY
        assert not leftovers(path.parent)

    def test_with_plugins_the_summary_and_the_plugins_additions_add_up_to_the_file(self, tmp_path):
        """`make demo` printed 5,000 customers for a file holding 5,136: the leads plugin adds
        prospects of its own. The summary now says what the plugins added."""
        path = tmp_path / "plugins.db"
        summary = build(path, customers=200, seed=SEED, plugins=["leads", "loyalty", "complaints"])
        with crmkit.open(path, plugins=[]) as crm:
            customers = crm.db.execute("SELECT count(*) FROM customers").fetchone()[0]
            interactions = crm.db.execute("SELECT count(*) FROM interactions").fetchone()[0]
        added = summary["added_by_plugins"]
        assert summary["customers"] + added["customers"] == customers
        assert summary["interactions"] + added["interactions"] == interactions
        assert added["customers"] > 0  # the leads plugin's prospects

    def test_about_ten_interactions_per_customer(self, demo):
        """The size the benchmarks rely on: N customers give roughly 10 N interactions."""
        _, summary = demo
        assert 8 * CUSTOMERS <= summary["interactions"] <= 13 * CUSTOMERS

    def test_segments_are_usable_and_non_trivial(self, demo_crm):
        """Each demo segment compiles and has members, but not everybody."""
        for view in demo_crm.segments:
            assert 0 < view.count() < CUSTOMERS, view.name

    def test_vip_count_equals_hand_written_sql(self, demo_crm):
        """vip = spend over 365 days >= 5000.00 and a purchase fewer than 91 days ago (2025-03-31T12:00)."""
        expected = demo_crm.db.execute(
            """SELECT count(*) FROM customers c JOIN customer_summary s ON s.customer_id = c.id
               WHERE s.last_purchase_at > '2025-03-31T12:00:00Z' AND (
                 SELECT SUM(CASE i.kind WHEN 'purchase' THEN i.amount WHEN 'refund' THEN -i.amount ELSE 0 END)
                 FROM interactions i WHERE i.customer_id = c.id
                   AND i.occurred_at > '2024-06-30T12:00:00Z' AND i.occurred_at <= '2025-06-30T12:00:00Z') >= 500000"""
        ).fetchone()[0]
        assert demo_crm.segments["vip"].count() == expected > 0


class TestRealism:
    def test_times_lie_between_arrival_and_today(self, demo_crm):
        """No interaction before its customer was created, none after the demo's today."""
        db = demo_crm.db
        assert db.execute(
            "SELECT count(*) FROM interactions i JOIN customers c ON c.id = i.customer_id WHERE i.occurred_at < c.created_at"
        ).fetchone()[0] == 0
        assert db.execute("SELECT count(*) FROM interactions WHERE occurred_at > ?", [DEMO_TODAY]).fetchone()[0] == 0
        first, last = db.execute("SELECT min(created_at), max(created_at) FROM customers").fetchone()
        assert "2022-06-30" <= first < "2022-08-01" and "2025-06-01" <= last <= DEMO_TODAY

    def test_ids_follow_arrival_time(self, demo_crm):
        """Customer ids are in creation order (so a referral can point at a later customer)."""
        created = [r[0] for r in demo_crm.db.execute("SELECT created_at FROM customers ORDER BY id")]
        assert created == sorted(created)

    def test_referrals_point_at_later_customers(self, demo_crm):
        """data.referred_customer_id is a customer created after the referrer, and referred by them."""
        rows = demo_crm.db.execute(
            """SELECT r.id, r.created_at, i.occurred_at, t.id, t.created_at, t.source
               FROM interactions i JOIN customers r ON r.id = i.customer_id
               JOIN customers t ON t.id = CAST(json_extract(i.data, '$.referred_customer_id') AS INTEGER)
               WHERE i.kind = 'referral'"""
        ).fetchall()
        assert rows and len(rows) == demo_crm.db.execute("SELECT count(*) FROM interactions WHERE kind = 'referral'").fetchone()[0]
        for referrer, referrer_created, when, referred, referred_created, source in rows:
            assert referred > referrer
            assert referrer_created <= when <= referred_created
            assert source == "referral"

    def test_revenue_is_pareto_skewed(self, demo_crm):
        """The top 20% of customers by net spend hold 65-85% of the revenue."""
        spend = [r[0] for r in demo_crm.db.execute("SELECT net_spend FROM customer_summary ORDER BY net_spend DESC")]
        share = sum(spend[: CUSTOMERS // 5]) / sum(spend)
        assert 0.65 <= share <= 0.85

    def test_refunds_are_about_three_percent_and_never_exceed_a_purchase(self, demo_crm):
        db = demo_crm.db
        purchases, refunds = db.execute(
            "SELECT sum(kind = 'purchase'), sum(kind = 'refund') FROM interactions"
        ).fetchone()
        assert 0.015 <= refunds / purchases <= 0.045
        assert db.execute("SELECT count(*) FROM interactions WHERE kind = 'refund' AND amount > 1000000000").fetchone()[0] == 0

    def test_money_is_exact_cents(self, demo_crm):
        """Amounts are whole cents, positive, and only on money kinds; API reads give 2 decimals."""
        db = demo_crm.db
        assert db.execute("SELECT count(*) FROM interactions WHERE kind IN ('purchase', 'refund') AND (amount IS NULL OR amount <= 0)").fetchone()[0] == 0
        assert db.execute("SELECT count(*) FROM interactions WHERE kind NOT IN ('purchase', 'refund') AND amount IS NOT NULL").fetchone()[0] == 0
        purchase = demo_crm.interactions.history(1, kinds=["purchase"], limit=1) or demo_crm.interactions.history(2, kinds=["purchase"], limit=1)
        assert purchase and purchase[0].amount.as_tuple().exponent == -2

    def test_kind_data_is_complete(self, demo_crm):
        """Surveys score 1-5; complaints carry category, severity and product."""
        db = demo_crm.db
        scores = {r[0] for r in db.execute("SELECT DISTINCT CAST(json_extract(data, '$.score') AS INTEGER) FROM interactions WHERE kind = 'survey'")}
        assert scores == {1, 2, 3, 4, 5}
        missing = db.execute(
            """SELECT count(*) FROM interactions WHERE kind = 'complaint' AND (
               json_extract(data, '$.category') IS NULL OR json_extract(data, '$.product') IS NULL
               OR json_extract(data, '$.severity') NOT IN ('low', 'medium', 'high', 'critical'))"""
        ).fetchone()[0]
        assert missing == 0

    def test_customer_columns_use_the_documented_values(self, demo_crm):
        db = demo_crm.db
        assert {r[0] for r in db.execute("SELECT DISTINCT size FROM customers")} == {"micro", "small", "medium", "large", "enterprise"}
        assert {r[0] for r in db.execute("SELECT DISTINCT source FROM customers")} == {
            "referral", "trade show", "web search", "social", "purchased list", "event", "cold call"}
        archetypes = {r[0] for r in db.execute("SELECT DISTINCT json_extract(attributes, '$.archetype') FROM customers")}
        assert archetypes == {"growing", "steady", "declining", "churned", "one-off", "prospect"}
        assert db.execute("SELECT count(*) FROM customers WHERE owner IS NULL OR email IS NULL AND phone IS NULL").fetchone()[0] == 0

    def test_planted_duplicates_are_found(self, demo_crm):
        """Every planted duplicate (a second sign-up without external id) is in duplicates()."""
        planted = {r[0] for r in demo_crm.db.execute("SELECT id FROM customers WHERE external_id IS NULL")}
        found = {pair.second.id for pair in demo_crm.customers.duplicates()}
        assert len(planted) == 3 and planted <= found


class TestDeterminism:
    def test_same_seed_gives_identical_data(self, demo, tmp_path):
        """Every table, row for row, is the same for the same seed and size."""
        again = tmp_path / "again.db"
        build(again, customers=CUSTOMERS, seed=SEED, plugins=[])
        assert table_digest(again) == table_digest(demo[0])

    def test_another_seed_gives_other_data(self, demo, tmp_path):
        other = tmp_path / "other.db"
        build(other, customers=CUSTOMERS, seed=SEED + 1, plugins=[])
        assert table_digest(other)["interactions"] != table_digest(demo[0])["interactions"]


class TestGeneratorPieces:
    def test_arrival_inverts_the_growth_curve(self):
        """F(x) = (x + 1.5 x^2 / 2) / 1.75; F^-1(0.5) = (sqrt(1 + 3 * 0.875) - 1) / 1.5 = 0.602629..."""
        timeline = Timeline(today=1_000_001, start=1)
        got = timeline.arrival(np.array([0.0, 0.5, 1.0]))
        # start + floor(x * (today - 1 - start)) = 1 + floor(x * 999_999)
        assert got.tolist() == [1, 1 + int(0.6026292735 * 999_999), 1_000_000]

    def test_rows_carry_money_text_and_kind_data(self):
        """Cents 12345 → '123.45' and 5 → '0.05'; times as storage text; data per kind."""
        timeline = Timeline.ending(DEMO_TODAY)
        events = Events(
            customer=np.array([3, 4]), time=np.array([timeline.today - 86_400, timeline.today]),
            kind=np.array([0, 8]), cents=np.array([12345, -1]), product=np.array([0, -1]),
            channel=np.array([0, -1]), rep=np.array([-1, 2]), detail=np.array([-1, 4]), extra=np.array([-1, -1]),
        )
        first, second = list(event_rows(events, timeline))
        assert first == {"customer_id": 3, "kind": "purchase", "occurred_at": "2025-06-29T12:00:00Z", "amount": "123.45",
                         "product": "Laptop Pro 14", "category": "hardware", "channel": "web shop"}
        assert second == {"customer_id": 4, "kind": "survey", "occurred_at": DEMO_TODAY, "rep": "rep-cora", "data": {"score": 4}}
        events = Events(*(np.array([v]) for v in (1, timeline.today, 1, 5, 0, 0, -1, -1, -1)))
        assert next(event_rows(events, timeline))["amount"] == "0.05"


class RecordingPlugin:
    """Counts what the demo feeds through the event hooks."""

    name = "recorder"

    def __init__(self, fail_in_demo_data: bool = False):
        self.customers = self.interactions = self.batches = 0
        self.demo_data_calls: list[tuple] = []
        self.fail_in_demo_data = fail_in_demo_data

    @hookimpl
    def crmkit_customers_added(self, customers):
        self.customers += len(customers)

    @hookimpl
    def crmkit_interactions_recorded(self, interactions):
        self.interactions += len(interactions)
        self.batches += 1

    @hookimpl
    def crmkit_demo_data(self, crm, seed, now):
        self.demo_data_calls.append((seed, now))
        if self.fail_in_demo_data:
            raise RuntimeError("no demo data today")


class TestPublicApiAndPlugins:
    def test_plugins_see_every_row_in_batches(self, tmp_path):
        """The event hooks see all customers and interactions; crmkit_demo_data runs once with the seed and today."""
        plugin = RecordingPlugin()
        summary = build(tmp_path / "p.db", customers=200, seed=3, plugins=[plugin])
        assert plugin.customers == 200
        assert plugin.interactions == summary["interactions"]
        assert 1 <= plugin.batches < summary["interactions"]
        assert plugin.demo_data_calls == [(3, crmkit.timeutil.to_datetime(DEMO_TODAY))]
        assert summary["plugins"] == ["recorder"]

    def test_progress_reports_customers_written(self, tmp_path):
        calls = []
        build(tmp_path / "p.db", customers=250, plugins=[], progress=lambda done, total: calls.append((done, total)))
        assert calls[0] == (0, 250) and calls[-1] == (250, 250)
        assert [c[0] for c in calls] == sorted(c[0] for c in calls)


class TestRefusals:
    def test_existing_file_is_refused_and_untouched(self, tmp_path):
        path = tmp_path / "mine.db"
        path.write_bytes(b"precious")
        with pytest.raises(CrmError, match=r"mine.db exists; pass replace=True"):
            build(path, customers=50, plugins=[])
        assert path.read_bytes() == b"precious"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.db"]

    def test_replace_overwrites(self, tmp_path):
        path = tmp_path / "mine.db"
        path.write_bytes(b"old")
        summary = build(path, customers=50, plugins=[], replace=True)
        with crmkit.open(path, plugins=[]) as crm:
            assert crm.customers.count() == 50 == summary["customers"]

    @pytest.mark.parametrize(
        "kwargs, error, message",
        [
            ({"customers": 0}, ValidationError, "customers: a whole number of customers, 1 or more"),
            ({"customers": 2.5}, ValidationError, "customers"),
            ({"seed": -1}, ValidationError, "seed: a whole number, 0 or more"),
        ],
    )
    def test_bad_arguments_write_nothing(self, tmp_path, kwargs, error, message):
        with pytest.raises(error, match=message):
            build(tmp_path / "x.db", plugins=[], **kwargs)
        assert list(tmp_path.iterdir()) == []

    def test_memory_and_missing_folder_are_refused(self, tmp_path):
        with pytest.raises(CrmError, match="not :memory:"):
            build(":memory:", plugins=[])
        with pytest.raises(CrmError, match="does not exist"):
            build(tmp_path / "no" / "such" / "x.db", plugins=[])
        assert list(tmp_path.iterdir()) == []

    def test_a_failing_plugin_leaves_no_file_and_keeps_the_old_one(self, tmp_path):
        """A plugin raising in crmkit_demo_data: PluginError naming it; the file being replaced survives."""
        path = tmp_path / "keep.db"
        build(path, customers=40, plugins=[])
        before = table_digest(path)
        with pytest.raises(PluginError, match="recorder.*crmkit_demo_data.*no demo data today"):
            build(path, customers=60, plugins=[RecordingPlugin(fail_in_demo_data=True)], replace=True)
        assert table_digest(path) == before
        assert not leftovers(tmp_path)
        with pytest.raises(PluginError):
            build(tmp_path / "new.db", customers=30, plugins=[RecordingPlugin(fail_in_demo_data=True)])
        assert not (tmp_path / "new.db").exists() and not leftovers(tmp_path)


class TestRecordManyFastPath:
    """The demo loads through record_many's fast path for plain dict rows; it must store exactly
    what the full path (Interaction records) stores."""

    ROWS = [
        {"customer_id": 1, "kind": "purchase", "occurred_at": "2024-05-01T10:00:00Z", "amount": "12.5", "product": "P", "data": {"b": 1, "a": [1, 2]}},
        {"customer_id": 1, "kind": "purchase", "occurred_at": "2024-05-01T10:00:00Z", "amount": 7},
        {"customer_id": 1, "kind": "refund", "occurred_at": "2024-05-02T10:00:00Z", "amount": Decimal("1.10"), "notes": "x"},
        {"customer_id": 1, "kind": "survey", "occurred_at": "2024-05-02T10:00:00Z", "data": {"score": 4}},
        {"customer_id": 1, "kind": "call", "occurred_at": "2024-05-03T10:00:00Z", "channel": "phone", "rep": "r1"},
        {"customer_id": 1, "kind": "referral", "occurred_at": "2024-05-04T10:00:00Z", "data": {"referred_customer_id": 1}},
    ]

    def test_same_rows_and_records_as_the_full_path(self):
        stored, records = [], []
        for as_records in (False, True):
            crm = crmkit.open(":memory:", plugins=[], clock=FixedClock(DEMO_TODAY))
            crm.customers.add(name="A")
            rows = [crmkit.Interaction(**row) for row in self.ROWS] if as_records else self.ROWS
            crm.interactions.record_many(rows)
            stored.append(crm.db.execute("SELECT * FROM interactions ORDER BY id").fetchall())
            records.append(crm.interactions.history(1, limit=10))
            crm.close()
        assert stored[0] == stored[1]
        assert records[0] == records[1]
        assert stored[0][0][5] == 1250 and stored[0][1][5] == 700 and stored[0][2][5] == 110  # cents

    @pytest.mark.parametrize(
        "change, field",
        [
            ({"amount": "1.234"}, "row 2: amount"),
            ({"occurred_at": "2024-02-30T10:00:00Z"}, "row 2: occurred_at"),
            ({"kind": "survey", "amount": None, "data": {"score": 9}}, "row 2: data.score"),
            ({"kind": "teleport"}, "row 2: kind"),
            ({"customer_id": 99}, "row 2: customer_id"),
        ],
    )
    def test_bad_rows_fail_like_the_full_path_and_write_nothing(self, fresh_crm, change, field):
        fresh_crm.customers.add(name="A")
        good = {"customer_id": 1, "kind": "purchase", "occurred_at": "2024-05-01T10:00:00Z", "amount": "1.00"}
        with pytest.raises(ValidationError) as raised:
            fresh_crm.interactions.record_many([good, {**good, **change}])
        assert str(raised.value).startswith(field)
        assert fresh_crm.interactions.count() == 0


class TestIndexesDeferred:
    """The demo loads with non-unique indexes dropped and builds them once at the end."""

    @staticmethod
    def indexes(crm) -> dict[str, str]:
        return {name: sql for name, sql, _ in crm.db.index_definitions(("customers", "interactions", "audit_log"))}

    def test_dropped_inside_rebuilt_after(self, fresh_crm):
        from crmkit.store import indexes_deferred

        before = self.indexes(fresh_crm)
        with indexes_deferred(fresh_crm.db, ("customers", "interactions", "audit_log")) as deferred:
            inside = self.indexes(fresh_crm)
            fresh_crm.customers.add(name="Loaded while deferred", email="a@b.example")
        assert "ix_interactions_kind_time" in deferred and "idx_customers_email_norm" in deferred
        assert set(inside) == {"idx_customers_external_id", "ix_interactions_external_key"}  # unique: kept, constraints hold
        assert self.indexes(fresh_crm) == before
        assert fresh_crm.customers.find(email="A@B.example")[0].name == "Loaded while deferred"

    def test_rebuilt_after_a_failure(self, fresh_crm):
        from crmkit.store import indexes_deferred

        before = self.indexes(fresh_crm)
        with pytest.raises(RuntimeError):
            with indexes_deferred(fresh_crm.db, ("interactions",)):
                raise RuntimeError("load failed")
        assert self.indexes(fresh_crm) == before


def test_a_duplicate_is_never_made_of_a_duplicate():
    """Customer 3 drawn as a duplicate of customer 2, itself a duplicate of 1: only 2 becomes one."""
    from crmkit.demo.people import customer_rows, make_profiles

    timeline = Timeline.ending(DEMO_TODAY)
    profiles = make_profiles(np.random.default_rng(1), 1, 3, 3, timeline)
    profiles.duplicate_of[:] = [0, 1, 2]
    first, second, third = customer_rows(np.random.default_rng(2), profiles, timeline)
    assert second["external_id"] is None and second["name"] == first["name"]
    assert third["external_id"] == "DEMO-0000003"
