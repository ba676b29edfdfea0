"""The points ledger: earning, lock, expiry, FIFO-by-expiry redemption, clawback, idempotency."""

from __future__ import annotations

import pytest

from crmkit import ConflictError, NotFound, ValidationError


@pytest.fixture
def ledger(crm, add_customers):
    """Rate 1 point per unit, 14-day lock, 100-day expiry. Customer c1 earns:
    purchase 2024-01-01 100.00 → 100 points (usable 01-15, expire 04-10);
    award 2024-01-05 20 points (usable 01-19, expire 04-14);
    purchase 2024-02-01 50.00 → 50 points (usable 02-15, expire 05-11)."""
    crm.loyalty.points.set_policy(rate="1", lock_days=14, expiry_days=100)
    (cid,) = add_customers(crm, 1)
    crm.interactions.record(cid, "purchase", "2024-01-01", amount="100.00")
    crm.loyalty.points.award(cid, 20, key="welcome", reason="welcome bonus", at="2024-01-05")
    crm.interactions.record(cid, "purchase", "2024-02-01", amount="50.00")
    return cid


class TestEarning:
    def test_batches_lock_and_expiry_dates(self, crm, ledger):
        batches = crm.loyalty.points.batches(ledger)
        assert [(b["points"], f"{b['available_at']:%m-%d}", f"{b['expires_at']:%m-%d}") for b in batches] == [
            (100, "01-15", "04-10"), (20, "01-19", "04-14"), (50, "02-15", "05-11"),
        ]
        points = crm.loyalty.points
        assert (points.balance(ledger, "2024-01-14"), points.locked(ledger, "2024-01-14")) == (0, 120)
        assert (points.balance(ledger, "2024-01-15"), points.locked(ledger, "2024-01-15")) == (100, 20)
        assert points.balance(ledger, "2024-02-15") == 170
        assert points.balance(ledger, "2024-04-10") == 70  # the first batch expired at 04-10 00:00
        assert crm.segments.evaluate("points_balance = 170", as_of="2024-03-01").count() == 1

    def test_rate_multiplier_and_bonus_rules_floor_exactly(self, crm, add_customers):
        """Rate 1.5: 99.99 → floor(149.985) = 149. Gold (×1.5) from 2024-01-02: 10.05 → floor(1.5 × 1.5
        × 10.05 = 22.6125) = 22; bonus 5 per purchase of gold members; 3 per survey."""
        crm.loyalty.points.set_policy(rate="1.5", lock_days=0, expiry_days=None, bonuses=[
            {"name": "gold_extra", "points": 5, "segment": "tier = 'gold'"}, {"name": "survey", "points": 3, "kind": "survey"},
        ])
        (cid,) = add_customers(crm, 1)
        crm.interactions.record(cid, "purchase", "2024-01-01", amount="99.99")
        crm.loyalty.tiers.define([{"name": "gold", "rule": "purchases_365d >= 1", "multiplier": "1.5"}])
        crm.loyalty.tiers.evaluate("2024-01-02")
        crm.interactions.record(cid, "purchase", "2024-01-03", amount="10.05")
        crm.interactions.record(cid, "survey", "2024-01-04", data={"score": 5})
        got = [(e.kind, e.points) for e in crm.loyalty.points.entries(cid)]
        assert got == [("earn", 149), ("earn", 22), ("bonus", 5), ("bonus", 3)]
        assert crm.loyalty.points.balance(cid) == 149 + 22 + 5 + 3
        assert crm.segments.evaluate("points_earned_365d = 179", as_of="2024-06-01").count() == 1

    def test_earning_again_for_the_same_batch_changes_nothing(self, crm, ledger):
        before = crm.db.execute("SELECT COUNT(*), SUM(points) FROM loyalty_points").fetchone()
        crm.loyalty.points.earn_for_batch(1, crm.db.execute("SELECT MAX(id) FROM interactions").fetchone()[0])
        assert crm.db.execute("SELECT COUNT(*), SUM(points) FROM loyalty_points").fetchone() == before

    def test_bulk_import_awards_every_purchase(self, crm, add_customers):
        """12,000 purchases of (k % 50) + 1 units: Σ = 240 × (1 + ... + 50) = 306,000 points."""
        ids = add_customers(crm, 30)
        rows = ({"customer_id": ids[k % 30], "kind": "purchase", "occurred_at": "2024-06-01", "amount": str(k % 50 + 1)}
                for k in range(12_000))
        crm.interactions.record_many(rows, batch_size=5000)
        count, total = crm.db.execute("SELECT COUNT(*), SUM(points) FROM loyalty_points").fetchone()
        assert (count, total) == (12_000, 306_000)
        earned = crm.audit.query(action="loyalty.points.earn", source="loyalty")
        assert sorted(e.after["rows"] for e in earned) == [2000, 5000, 5000]  # one entry per batch


class TestRedemption:
    def test_nearest_expiry_first(self, crm, ledger):
        """130 on 2024-03-01: 100 from the purchase batch (04-10), 20 from the award (04-14),
        10 from the February batch (05-11); 40 left."""
        entry = crm.loyalty.points.redeem(ledger, 130, key="r1", at="2024-03-01")
        allocations = crm.db.execute(
            "SELECT b.points, a.points FROM loyalty_point_allocations a JOIN loyalty_points b ON b.id = a.batch_id "
            "WHERE a.entry_id = ? ORDER BY b.expires_at", [entry.id]).fetchall()
        assert allocations == [(100, 100), (20, 20), (50, 10)]
        assert crm.loyalty.points.balance(ledger, "2024-03-01") == 40
        assert crm.loyalty.points.balance(ledger, "2024-02-29") == 170  # as of before the redemption

    def test_idempotent_by_key(self, crm, ledger):
        first = crm.loyalty.points.redeem(ledger, 30, key="r1", at="2024-03-01")
        again = crm.loyalty.points.redeem(ledger, 30, key="r1", at="2024-03-01")
        assert again == first
        assert crm.loyalty.points.balance(ledger, "2024-03-01") == 140
        with pytest.raises(ConflictError, match="already used for redeem of 30 points by customer"):
            crm.loyalty.points.redeem(ledger, 31, key="r1")

    def test_a_key_another_customer_used_tells_nothing_about_them(self, crm, ledger):
        crm.loyalty.points.redeem(ledger, 30, key="order-42", at="2024-03-01")
        other = crm.customers.add(name="Other").id
        crm.loyalty.points.award(other, 100, key="gift-1", reason="gift")
        with pytest.raises(ConflictError) as refused:
            crm.loyalty.points.redeem(other, 30, key="order-42")
        assert str(refused.value) == "key 'order-42' was already used for another customer; give each request a key of its own"

    def test_more_than_the_balance_is_refused_and_writes_nothing(self, crm, ledger, snapshot):
        crm.loyalty.points.redeem(ledger, 130, key="r1", at="2024-03-01")
        before = snapshot(crm)
        with pytest.raises(ConflictError, match="has 40 spendable points; cannot redeem 41"):
            crm.loyalty.points.redeem(ledger, 41, key="r2", at="2024-03-02")
        with pytest.raises(ConflictError, match="has 0 spendable"):
            crm.loyalty.points.redeem(ledger, 1, key="r3", at="2024-01-10")  # everything still locked
        with pytest.raises(ValidationError, match="points"):
            crm.loyalty.points.redeem(ledger, 0, key="r4")
        with pytest.raises(ValidationError, match="key"):
            crm.loyalty.points.redeem(ledger, 1, key="")
        with pytest.raises(ValidationError, match="used by the plugin"):
            crm.loyalty.points.redeem(ledger, 1, key="earn:1")
        with pytest.raises(NotFound):
            crm.loyalty.points.redeem(999, 1, key="r5")
        with pytest.raises(ValidationError, match="reason"):
            crm.loyalty.points.award(ledger, 5, key="a1", reason=" ")
        assert snapshot(crm) == before
        assert crm.db.execute("SELECT MIN(points - COALESCE((SELECT SUM(a.points) FROM loyalty_point_allocations a "
                              "WHERE a.batch_id = b.id), 0)) FROM loyalty_points b WHERE points > 0").fetchone()[0] >= 0


class TestExpiryAndClawback:
    def test_expiry_posts_what_remains_once(self, crm, ledger):
        crm.loyalty.points.redeem(ledger, 130, key="r1", at="2024-03-01")
        report = crm.run_due("2024-05-12")
        assert report.results["loyalty"]["points_batches_expired"] == 1
        expired = [(e.kind, e.points) for e in crm.loyalty.points.entries(ledger) if e.kind == "expire"]
        assert expired == [("expire", -40)]
        assert crm.run_due("2024-05-12").results["loyalty"]["points_batches_expired"] == 0
        assert crm.loyalty.points.balance(ledger, "2024-05-12") == 0
        assert crm.loyalty.points.liability("2024-05-12").spendable == 0
        assert crm.loyalty.points.liability("2024-03-01").spendable == 40

    def test_a_back_dated_redemption_after_the_expiry_run_spends_what_was_there(self, crm, ledger):
        """The expiry run (05-12) posted all three batches (100, 20, 50) as expired; a redemption
        of 130 dated 03-01 is then recorded (a till that was offline). On 03-01 the customer held
        170 spendable points, so it is accepted, and the expiry keeps only what the redemption
        left: the same ledger as when the redemption came before the run (40 expired, from the
        February batch)."""
        crm.run_due("2024-05-12")
        assert crm.loyalty.points.balance(ledger, "2024-03-01") == 170
        crm.loyalty.points.redeem(ledger, 130, key="r1", at="2024-03-01")
        expired = [(e.kind, e.points) for e in crm.loyalty.points.entries(ledger) if e.kind == "expire"]
        assert expired == [("expire", -40)]
        assert crm.loyalty.points.balance(ledger, "2024-03-01") == 40
        assert crm.loyalty.points.balance(ledger, "2024-05-12") == 0
        assert crm.loyalty.points.liability("2024-05-12").spendable == 0
        assert crm.run_due("2024-05-12").results["loyalty"]["points_batches_expired"] == 0
        # Every batch's debits add up to its points, never more.
        assert crm.db.execute(
            "SELECT b.points, COALESCE((SELECT SUM(a.points) FROM loyalty_point_allocations a WHERE a.batch_id = b.id), 0) "
            "FROM loyalty_points b WHERE b.points > 0 ORDER BY b.id").fetchall() == [(100, 100), (20, 20), (50, 50)]
        with pytest.raises(ConflictError, match="has 40 spendable points; cannot redeem 41"):
            crm.loyalty.points.redeem(ledger, 41, key="r2", at="2024-03-02")

    def test_a_back_dated_refund_after_the_expiry_run_claws_back(self, crm, ledger):
        """A refund of the January purchase dated 03-01, recorded after the expiry run, takes its
        100 points back from that batch (it had not expired on 03-01), not "not recoverable";
        the expiry of that batch shrinks to nothing."""
        purchase_id = crm.db.execute("SELECT MIN(id) FROM interactions WHERE kind = 'purchase'").fetchone()[0]
        crm.run_due("2024-05-12")
        crm.interactions.record(ledger, "refund", "2024-03-01", amount="100.00", data={"purchase_id": purchase_id})
        entries = crm.loyalty.points.entries(ledger)
        assert [(e.kind, e.points) for e in entries if e.kind in ("clawback", "expire")] == [
            ("clawback", -100), ("expire", -20), ("expire", -50)]
        assert crm.loyalty.points.balance(ledger, "2024-03-01") == 70

    def test_refunds_claw_back_proportionally_never_below_zero(self, crm, ledger):
        """Purchase 2024-06-01 of 80.00 earns 80 (locked). Refund 20.00 of it → 80 × 20/80 = 20;
        refund 60.00 → 60 (the rest); an unlinked refund of 10.00 owes 10 but nothing is left."""
        crm.run_due("2024-05-12")  # the older batches expire first
        purchase = crm.interactions.record(ledger, "purchase", "2024-06-01", amount="80.00")
        crm.interactions.record(ledger, "refund", "2024-06-05", amount="20.00", data={"purchase_id": purchase.id})
        crm.interactions.record(ledger, "refund", "2024-06-06", amount="60.00", data={"purchase_id": purchase.id})
        crm.interactions.record(ledger, "refund", "2024-06-07", amount="10.00")
        claws = [(e.points, e.reason) for e in crm.loyalty.points.entries(ledger) if e.kind == "clawback"]
        assert [c[0] for c in claws] == [-20, -60, 0]
        assert "10 not recoverable" in claws[2][1]
        assert crm.loyalty.points.balance(ledger, "2024-07-01") == 0
        assert crm.loyalty.points.locked(ledger, "2024-06-10") == 0


class TestMergeAndForget:
    def test_merge_moves_the_ledger_and_forget_erases_notes(self, crm, ledger, add_customers):
        other = crm.customers.add(name="dup").id
        crm.loyalty.points.award(other, 7, key="dup-award", reason="goodwill", note="called about a late parcel", at="2024-02-01")
        crm.customers.merge(ledger, other)
        assert crm.loyalty.points.balance(ledger, "2024-03-01") == 177
        crm.forget(ledger)
        assert crm.db.execute("SELECT COUNT(*) FROM loyalty_points WHERE note IS NOT NULL").fetchone()[0] == 0
        assert crm.loyalty.points.balance(ledger, "2024-03-01") == 177
