"""The lean earn side of the points ledger: what an earn row leaves out is read back exactly,
a purchase earns once, a refund claws back exactly what its purchase earned, and a ledger written
in the old shape reads the same after the migration."""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal

import pytest

import crmkit
from crmkit import NotFound

from crmkit_loyalty import schema


def _floor_points(amount: str, rate: str) -> int:
    return int((Decimal(amount) * Decimal(rate)).to_integral_value(rounding=ROUND_FLOOR))


def _raw_earn_rows(crm, customer_id):
    return crm.db.execute(
        "SELECT key, reason, available_at FROM loyalty_points WHERE customer_id = ? AND kind = 'earn' ORDER BY id",
        [customer_id],
    ).fetchall()


class TestLeanEarnRows:
    def test_purchases_store_no_key_reason_or_unlock_time_and_read_them_back(self, crm, add_customers):
        """Five purchases of one customer on one day (no lock): five earn rows, none storing a key,
        a reason or an unlock time; each reads back as earn:<id>, "purchase <id>", spendable at once."""
        crm.loyalty.points.set_policy(rate="1", lock_days=0, expiry_days=100)
        (cid,) = add_customers(crm, 1)
        amounts = ["10.00", "20.50", "3.99", "7.00", "100.00"]
        purchases = [crm.interactions.record(cid, "purchase", "2024-03-01T10:00:00Z", amount=a) for a in amounts]
        assert _raw_earn_rows(crm, cid) == [(None, None, None)] * 5
        for purchase, amount in zip(purchases, amounts):
            entry = crm.loyalty.points.entry(f"earn:{purchase.id}")
            assert (entry.kind, entry.points, entry.interaction_id) == ("earn", _floor_points(amount, "1"), purchase.id)
            assert (entry.key, entry.reason) == (f"earn:{purchase.id}", f"purchase {purchase.id}")
            assert entry.available_at == entry.occurred_at
        assert crm.loyalty.points.balance(cid, "2024-03-01T10:00:00Z") == sum(_floor_points(a, "1") for a in amounts)

    def test_a_purchase_earns_once(self, crm, add_customers):
        (cid,) = add_customers(crm, 1)
        purchase = crm.interactions.record(cid, "purchase", "2024-03-01", amount="12.00")
        crm.loyalty.points.earn_for_batch(purchase.id, purchase.id)
        crm.loyalty.points.earn_for_batch(1, purchase.id)
        assert crm.db.execute("SELECT COUNT(*), SUM(points) FROM loyalty_points").fetchone() == (1, 12)

    def test_a_lock_and_a_tier_are_kept(self, crm, add_customers):
        """With a 7-day lock the unlock time is stored; a tier's multiplier names the tier in the reason."""
        crm.loyalty.points.set_policy(rate="1", lock_days=7, expiry_days=None)
        (cid,) = add_customers(crm, 1)
        crm.interactions.record(cid, "purchase", "2024-01-01", amount="1.00")  # 1 point, spendable 01-08
        crm.loyalty.tiers.define([{"name": "gold", "rule": "purchases_365d >= 1", "multiplier": "2"}])
        crm.loyalty.tiers.evaluate("2024-01-02")
        purchase = crm.interactions.record(cid, "purchase", "2024-03-01", amount="5.00")
        entry = crm.loyalty.points.entry(f"earn:{purchase.id}")
        assert (entry.points, entry.reason) == (10, f"purchase {purchase.id} (tier gold)")
        assert f"{entry.available_at:%Y-%m-%d}" == "2024-03-08"
        assert (crm.loyalty.points.balance(cid, "2024-03-07"), crm.loyalty.points.locked(cid, "2024-03-07")) == (1, 10)
        assert crm.loyalty.points.balance(cid, "2024-03-08") == 1 + 10

    def test_unknown_earn_keys_are_not_found(self, crm):
        for key in ("earn:999", "earn:x", "earn:"):
            with pytest.raises(NotFound):
                crm.loyalty.points.entry(key)


class TestClawbackAmongSeveral:
    def test_a_refund_takes_back_exactly_what_its_purchase_earned(self, crm, add_customers):
        """Rate 1.5, three purchases at the same time (same unlock and expiry): 30.00 → 45,
        45.50 → 68 (68.25 floored), 12.25 → 18 (18.375). A full refund of the second takes back
        its 68 from its own batch; 45 + 18 stay spendable."""
        crm.loyalty.points.set_policy(rate="1.5", lock_days=0, expiry_days=365)
        (cid,) = add_customers(crm, 1)
        amounts = ["30.00", "45.50", "12.25"]
        purchases = [crm.interactions.record(cid, "purchase", "2024-05-01T12:00:00Z", amount=a) for a in amounts]
        earned = [_floor_points(a, "1.5") for a in amounts]
        assert earned == [45, 68, 18]
        crm.interactions.record(cid, "refund", "2024-05-03", amount="45.50", data={"purchase_id": purchases[1].id})
        claws = [e for e in crm.loyalty.points.entries(cid) if e.kind == "clawback"]
        assert [(c.points, c.interaction_id) for c in claws] == [(-68, purchases[1].id)]
        taken = crm.db.execute(
            "SELECT b.interaction_id, a.points FROM loyalty_point_allocations a JOIN loyalty_points b ON b.id = a.batch_id "
            "WHERE a.entry_id = ?", [claws[0].id]).fetchall()
        assert taken == [(purchases[1].id, 68)]
        assert crm.loyalty.points.balance(cid, "2024-05-04") == earned[0] + earned[2]
        crm.interactions.record(cid, "refund", "2024-05-04", amount="45.50", data={"purchase_id": purchases[1].id})
        assert crm.loyalty.points.balance(cid, "2024-05-05") == earned[0] + earned[2]  # nothing more owed


# --- a ledger written in the old shape ------------------------------------------------------------

_OLD_ROW = (
    "INSERT INTO loyalty_points(customer_id, kind, points, occurred_at, available_at, expires_at, "
    "interaction_id, batch_id, key, reason, note, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"
)
_CREATED = "2024-06-01T00:00:00Z"


def _old_file(path, clock):
    """A CRM whose loyalty tables are those of the first migration only, holding a ledger as the
    earlier plugin wrote it (rate 1, expiry 100 days):

    - purchase P1 2024-01-01 100.00: earn 100, no lock, expires 04-10;
    - award "welcome" 2024-01-05: 20, no lock, expires 04-14;
    - purchase P2 2024-02-01 50.00 (a 14-day lock then): earn 50, spendable 02-15, expires 05-11;
    - redeem "r1" 2024-03-01 of 110: 100 from P1, 10 from the award;
    - expire 2024-04-14: the award's last 10.

    Returns the customer, both purchases, and the ledger rows as (id, kind, points, occurred_at,
    available_at, expires_at, interaction_id, batch_id, key, reason, note).
    """
    crm = crmkit.open(path, plugins=[], clock=clock)
    old = type(schema.migrations)("crmkit_loyalty")  # the plugin's set as it was: the first migration only
    old()(schema.m001_loyalty_tables)
    with crm.transaction():
        old.apply(crm.db)
    cid = crm.customers.add(name="old ledger").id
    p1 = crm.interactions.record(cid, "purchase", "2024-01-01T00:00:00Z", amount="100.00").id
    p2 = crm.interactions.record(cid, "purchase", "2024-02-01T00:00:00Z", amount="50.00").id
    rows = []

    def write(*row):
        with crm.transaction():
            rows.append((crm.db.execute(_OLD_ROW, [cid, *row, _CREATED]).fetchone()[0], *row))
        return rows[-1][0]

    earn1 = write("earn", 100, "2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z", "2024-04-10T00:00:00Z", p1, None, f"earn:{p1}", f"purchase {p1}", None)
    award = write("adjust", 20, "2024-01-05T00:00:00Z", "2024-01-05T00:00:00Z", "2024-04-14T00:00:00Z", None, None, "welcome", "welcome bonus", "first order")
    write("earn", 50, "2024-02-01T00:00:00Z", "2024-02-15T00:00:00Z", "2024-05-11T00:00:00Z", p2, None, f"earn:{p2}", f"purchase {p2}", None)
    redeem = write("redeem", -110, "2024-03-01T00:00:00Z", "2024-03-01T00:00:00Z", None, None, None, "r1", "redemption", None)
    expire = write("expire", -10, "2024-04-14T00:00:00Z", "2024-04-14T00:00:00Z", None, None, award, f"expire:{award}", f"batch {award} expired", None)
    allocations = [(redeem, earn1, 100), (redeem, award, 10), (expire, award, 10)]
    with crm.transaction():
        crm.db.executemany("INSERT INTO loyalty_point_allocations(entry_id, batch_id, points) VALUES (?, ?, ?)", allocations)
    crm.close()
    return cid, p1, p2, rows, allocations


class TestMigrationFromTheOldShape:
    def test_balances_history_and_expiry_are_unchanged(self, crm_path, clock):
        cid, p1, p2, rows, allocations = _old_file(crm_path, clock)
        crm = crmkit.open(crm_path, plugins=["loyalty"], clock=clock)
        try:
            points = crm.loyalty.points
            # Every entry reads as it was written, debits and their allocations included.
            got = [(e.id, e.kind, e.points, f"{e.occurred_at:%Y-%m-%dT%H:%M:%SZ}", f"{e.available_at:%Y-%m-%dT%H:%M:%SZ}",
                    e.expires_at and f"{e.expires_at:%Y-%m-%dT%H:%M:%SZ}", e.interaction_id, e.batch_id, e.key, e.reason, e.note)
                   for e in points.entries(cid)]
            assert got == rows
            assert crm.db.execute("SELECT entry_id, batch_id, points FROM loyalty_point_allocations ORDER BY entry_id, batch_id"
                                  ).fetchall() == allocations
            assert _raw_earn_rows(crm, cid) == [(None, None, None), (None, None, "2024-02-15T00:00:00Z")]
            # Balances by hand: 01-10 P1 100 + award 20 (P2 not yet earned); 02-10 P2 locked;
            # 03-01 after the redemption: award 10 + P2 50; 04-20 the award has expired: P2 50.
            assert [(points.balance(cid, d), points.locked(cid, d)) for d in ("2024-01-10", "2024-02-10", "2024-03-01", "2024-04-20")] == [
                (120, 0), (120, 50), (60, 0), (50, 0)]
            assert points.liability("2024-03-01").spendable == 60
            assert points.entry(f"earn:{p2}").points == 50
            # Earning again for the old purchases changes nothing; the expiry still posts P2's 50 once.
            before = crm.db.execute("SELECT COUNT(*), SUM(points) FROM loyalty_points").fetchone()
            points.earn_for_batch(p1, p2)
            assert crm.db.execute("SELECT COUNT(*), SUM(points) FROM loyalty_points").fetchone() == before
            assert points.expire("2024-05-12") == 1
            assert points.expire("2024-05-12") == 0
            assert [(e.kind, e.points, e.batch_id) for e in points.entries(cid)][-1] == ("expire", -50, rows[2][0])
            assert points.balance(cid, "2024-05-12") == 0
        finally:
            crm.close()

    def test_a_refund_after_the_migration_claws_back_from_its_old_purchase(self, crm_path, clock):
        """Refund 25.00 of P2 (50.00, earned 50) on 2024-03-02: 50 × 25 / 50 = 25 from P2's batch."""
        cid, p1, p2, _, _ = _old_file(crm_path, clock)
        crm = crmkit.open(crm_path, plugins=["loyalty"], clock=clock)
        try:
            crm.interactions.record(cid, "refund", "2024-03-02T00:00:00Z", amount="25.00", data={"purchase_id": p2})
            (claw,) = [e for e in crm.loyalty.points.entries(cid) if e.kind == "clawback"]
            assert (claw.points, claw.interaction_id) == (-25, p2)
            assert crm.loyalty.points.balance(cid, "2024-03-02") == 60 - 25
            # On 03-03 the award (expiring 04-14) still held 10, nearest expiry: the redemption
            # takes those 10, then 15 from P2, and the award's posted expiry gives its 10 back.
            crm.loyalty.points.redeem(cid, 25, key="r2", at="2024-03-03")
            assert crm.loyalty.points.balance(cid, "2024-04-20") == 50 - 25 - 15
            assert not [e for e in crm.loyalty.points.entries(cid) if e.kind == "expire"]
        finally:
            crm.close()


class TestLargeImport:
    """A large CSV import builds the ledger's customer index at its end; refunds in the file get
    it back sooner, and claw back as they would one at a time."""

    @staticmethod
    def _file(path):
        """Purchases of c1..c20 through 2024, then a refund of each of the first ten (no purchase
        named: the points come from the customer's batches); floor(amount) points each."""
        lines = ["customer_id,kind,occurred_at,amount"]
        earned, owed = {}, {}
        for n in range(400):
            cid, amount = 1 + n % 20, f"{1 + n % 37}.{n % 100:02d}"
            lines.append(f"{cid},purchase,2024-{1 + n % 11:02d}-{1 + n % 28:02d},{amount}")
            earned[cid] = earned.get(cid, 0) + int(Decimal(amount))
        for cid in range(1, 11):
            amount = f"{cid * 40}.50"
            lines.append(f"{cid},refund,2024-12-15,{amount}")
            owed[cid] = int(Decimal(amount))
        path.write_text("\n".join(lines) + "\n")
        return path, {cid: max(0, earned[cid] - owed.get(cid, 0)) for cid in earned}

    def test_balances_and_indexes_after_a_large_import_with_refunds(self, crm, add_customers, crm_path, monkeypatch):
        from crmkit import columnar
        from crmkit.importing import import_file
        from crmkit.store import restore_deferred_indexes
        from crmkit_loyalty import points

        pytest.importorskip("pyarrow")
        monkeypatch.setattr(columnar, "CHUNK_BYTES", 1024)
        monkeypatch.setattr(columnar, "DEFER_INDEXES", 10)
        crm.loyalty.points.set_policy(rate="1", lock_days=0, expiry_days=None)
        add_customers(crm, 20)
        indexes = sorted(crm.db.index_definitions(["loyalty_points"]))
        path, expected = self._file(crm_path.parent / "history.csv")
        restored = []

        def restore(db, table):  # the clawbacks' lookups by customer find the index there
            restore_deferred_indexes(db, table)
            restored.append((table, "idx_loyalty_points_customer_id" in {n for n, _, _ in db.index_definitions([table])}))

        monkeypatch.setattr(points, "restore_deferred_indexes", restore)
        result = import_file(crm, path, kind="interactions")
        assert restored and set(restored) == {("loyalty_points", True)}
        assert (result.added, result.problems) == (410, [])
        assert sorted(crm.db.index_definitions(["loyalty_points"])) == indexes
        balances = {cid: crm.loyalty.points.balance(cid, "2025-01-01") for cid in expected}
        assert balances == expected
        clawbacks = crm.db.execute("SELECT count(*) FROM loyalty_points WHERE kind = 'clawback'").fetchone()[0]
        assert clawbacks == 10
