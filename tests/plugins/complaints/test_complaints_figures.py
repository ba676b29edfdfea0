"""Figures and segment fields against values worked out by hand, today and as of a past date."""

from __future__ import annotations

import math

import pytest

import crmkit


@pytest.fixture
def shop(team, clock):
    """Three customers (created 2025-01-01), eight 10.00 purchases on 2025-01-05, four complaints.

    1. A billing normal, rec 01-10 09:00, ack +3 h (met), resolved 01-12 09:00 (48 h, met), survey 5, closed.
    2. A billing high, rec 01-20 09:00, ack 01-21 09:00 (24 h > 8 h: breached), rejected 01-25 09:00
       (120 h > 72 h: breached), survey 2 not accepted, closed 01-27, reopened 02-01, resolved 02-03.
    3. B delivery normal, rec 02-01 09:00, ack 10:00 (met), assessing: resolve due 02-06 09:00, still open.
    4. C delivery low, rec 02-20 09:00, never acknowledged (due 02-21 09:00), resolve due 03-02 09:00.
    Clock then stands at 2025-03-01 09:00.
    """
    crm = team
    a, b, c = (crm.customers.add(name=n) for n in ("A", "B", "C"))
    crm.interactions.record_many(
        [{"customer_id": [a.id, b.id][i % 2], "kind": "purchase", "amount": "10.00", "occurred_at": "2025-01-05T12:00:00Z"}
         for i in range(8)]
    )
    clock.set("2025-03-01T09:00:00Z")
    s = crm.complaints
    one = s.open(a.id, category="billing", product="kettle", received_at="2025-01-10T09:00:00Z").id
    s.acknowledge(one, at="2025-01-10T12:00:00Z")
    s.assess(one, at="2025-01-10T12:00:00Z")
    s.resolve(one, "replacement", at="2025-01-12T09:00:00Z")
    s.follow_up(one, score=5, accepted=True, at="2025-01-13T09:00:00Z")
    s.close(one, at="2025-01-14T09:00:00Z")
    two = s.open(a.id, category="billing", severity="high", received_at="2025-01-20T09:00:00Z").id
    s.acknowledge(two, at="2025-01-21T09:00:00Z")
    s.assess(two, at="2025-01-21T09:00:00Z")
    s.reject(two, "used wrongly", at="2025-01-25T09:00:00Z")
    s.follow_up(two, score=2, accepted=False, at="2025-01-26T09:00:00Z")
    s.close(two, at="2025-01-27T09:00:00Z")
    s.reopen(two, "new evidence", at="2025-02-01T09:00:00Z")
    s.resolve(two, "refund", amount="30.00", at="2025-02-03T09:00:00Z")
    three = s.open(b.id, category="delivery", received_at="2025-02-01T09:00:00Z").id
    s.acknowledge(three, at="2025-02-01T10:00:00Z")
    s.assess(three, at="2025-02-01T10:00:00Z")
    s.open(c.id, category="delivery", severity="low", received_at="2025-02-20T09:00:00Z")
    return crm, (a, b, c)


class TestFigures:
    def test_today(self, shop):
        crm, _ = shop
        [row] = crm.complaints.stats()
        assert row == {
            "group": "all", "received": 4, "open": 2, "resolved": 2, "rejected": 0,
            "acknowledged_within_sla": 0.5,          # 1 and 3 met, 2 late, 4 overdue
            "resolved_within_sla": round(1 / 3, 4),  # 1 met; 2 late; 3 overdue; 4 still running
            "median_hours_to_resolve": 48.0,         # first answers: 48 h and 120 h
            "p90_hours_to_resolve": 120.0,
            "reopen_rate": 0.5,                      # 1 reopened of 2 answered
            "complainants": 3, "repeat_complainants": 1,
            "satisfaction": 3.5, "satisfied_share": 0.5,  # scores 5 and 2
            "per_100_customers": round(100 * 4 / 3, 2), "per_1000_orders": 500.0,  # 4 / 8 orders
        }

    def test_as_of_a_past_date(self, shop):
        crm, _ = shop
        [row] = crm.complaints.stats("2025-01-22T09:00:00Z")
        assert (row["received"], row["open"], row["resolved"], row["rejected"]) == (2, 1, 1, 0)
        assert row["acknowledged_within_sla"] == 0.5
        assert row["resolved_within_sla"] == 1.0  # 2 was still within its deadline (01-23 09:00)
        assert (row["median_hours_to_resolve"], row["p90_hours_to_resolve"]) == (48.0, 48.0)
        assert (row["reopen_rate"], row["satisfaction"]) == (0.0, 5.0)
        assert row["per_100_customers"] == round(100 * 2 / 3, 2)
        assert row["per_1000_orders"] == 250.0
        # between the rejection and the reopening: 2 counts as rejected
        [late_jan] = crm.complaints.stats("2025-01-30T00:00:00Z")
        assert (late_jan["resolved"], late_jan["rejected"], late_jan["open"]) == (1, 1, 0)

    def test_by_category_and_product(self, shop):
        crm, _ = shop
        rows = {r["group"]: r for r in crm.complaints.stats(by="category")}
        assert (rows["billing"]["received"], rows["billing"]["open"], rows["billing"]["resolved"]) == (2, 0, 2)
        assert (rows["delivery"]["received"], rows["delivery"]["open"]) == (2, 2)
        assert rows["delivery"]["acknowledged_within_sla"] == 0.5
        products = {r["group"]: r["received"] for r in crm.complaints.stats(by="product")}
        assert products == {"kettle": 1, "(none)": 3}

    def test_by_segment_and_handler(self, shop):
        crm, (a, b, c) = shop
        crm.segments.define("bought", "purchases >= 1")
        [bought] = crm.complaints.stats(by="segment")
        assert (bought["group"], bought["received"], bought["per_100_customers"]) == ("bought", 3, 150.0)
        handlers = crm.complaints.stats(by="handler")
        assert sum(r["received"] for r in handlers) == 4

    def test_period_and_errors(self, shop):
        crm, _ = shop
        [row] = crm.complaints.stats(since="2025-02-01T00:00:00Z")
        assert row["received"] == 2
        with pytest.raises(crmkit.ValidationError, match="by"):
            crm.complaints.stats(by="colour")
        with pytest.raises(crmkit.ValidationError, match="before as_of"):
            crm.complaints.stats("2025-01-01", since="2025-02-01")


class TestFields:
    def values(self, crm, customer, as_of=None):
        names = ("open_complaints", "complaints_365d", "last_complaint_days")
        out = {n: crm.db.execute(
            f"SELECT {crm.fields.get(n).sql} FROM customers c WHERE c.id = :id",
            dict(crm.fields.get(n).params, id=customer.id, as_of=crmkit.timeutil.to_iso(crm.as_of(as_of)))
        ).fetchone()[0] for n in names}
        out["unresolved"] = customer.id in [x.id for x in crm.segments.evaluate("unresolved_complaint", as_of).customers()]
        return out

    def test_today(self, shop):
        crm, (a, b, c) = shop
        assert self.values(crm, a) == {"open_complaints": 0, "complaints_365d": 2, "last_complaint_days": 40, "unresolved": False}
        assert self.values(crm, b) == {"open_complaints": 1, "complaints_365d": 1, "last_complaint_days": 28, "unresolved": True}
        assert crm.segments.evaluate("open_complaints >= 1").count() == 2

    def test_as_of_a_past_date(self, shop):
        crm, (a, b, c) = shop
        assert self.values(crm, a, "2025-01-22T09:00:00Z") == {
            "open_complaints": 1, "complaints_365d": 2, "last_complaint_days": 2, "unresolved": True}
        assert self.values(crm, a, "2025-01-30T00:00:00Z")["unresolved"] is True  # rejected then
        assert self.values(crm, b, "2025-01-22T09:00:00Z") == {
            "open_complaints": 0, "complaints_365d": 0, "last_complaint_days": None, "unresolved": False}


class TestReportSection:
    def test_section(self, shop):
        crm, _ = shop
        sections = crm.plugins.call("crmkit_report_sections", crm=crm, as_of=crm.now())[0]
        overview = sections[0]
        assert overview.key == "complaints.overview" and overview.figures["received"] == 4
        assert {r["group"] for r in overview.rows} == {"billing", "delivery"}


class TestFeedback:
    def test_record_merge_rank(self, shop):
        crm, (a, b, c) = shop
        fb = crm.complaints.feedback
        first = fb.record(a.id, "Please add a dark mode", classification="website")
        dup = fb.record(b.id, "dark mode please!", classification="website")
        cheap = fb.record(c.id, "Cheaper delivery", classification="delivery", importance=2, urgency=1, cost=1)
        merged = fb.merge(first.id, dup.id)
        assert merged.requesters == 2
        assert fb.get(dup.id).merged_into == first.id
        assert [i.id for i in fb.list()] == [first.id, cheap.id]
        top = fb.top()
        # dark mode: (3+3) × (1 + log2 2) × (1 + log10(1 + 80.00/100)) / 3 (A and B spent 40.00 each)
        assert top[0]["id"] == first.id and top[0]["customer_ids"] == [a.id, b.id]
        assert top[0]["priority"] == round(6 * 2 * (1 + math.log10(1.8)) / 3, 4)
        # cheaper delivery: (2+1) × 1 × (1 + log10(1)) / 1 = 3
        assert top[1]["priority"] == 3.0
        fb.set_status(first.id, "done")
        assert [r["customer_id"] for r in fb.requesters(first.id)] == [a.id, b.id]
        assert [t["id"] for t in fb.top()] == [cheap.id]

    def test_from_interactions(self, crm, customer):
        crm.interactions.record(customer.id, "feedback", notes="gift wrapping", data={"topic": "Service"})
        crm.interactions.record(customer.id, "feedback", data={"text": "faster app", "classification": "spaceships"})
        items = crm.complaints.feedback.list()
        assert [(i.text, i.classification, i.requesters) for i in items] == [("gift wrapping", "service", 1), ("faster app", "other", 1)]

    def test_refusals(self, crm, customer, snapshot):
        fb = crm.complaints.feedback
        a = fb.record(customer.id, "x")
        b = fb.record(customer.id, "y")
        fb.merge(a.id, b.id)
        before = snapshot(crm)
        with pytest.raises(crmkit.ValidationError, match="text"):
            fb.record(customer.id, " ")
        with pytest.raises(crmkit.ValidationError, match="classification"):
            fb.record(customer.id, "z", classification="vibes")
        with pytest.raises(crmkit.ValidationError, match="urgency"):
            fb.classify(a.id, urgency=9)
        with pytest.raises(crmkit.ConflictError, match="merged into"):
            fb.set_status(b.id, "planned")
        with pytest.raises(crmkit.ConflictError, match="merged into"):
            fb.merge(a.id, b.id)
        with pytest.raises(crmkit.NotFound):
            fb.get(42)
        assert snapshot(crm) == before
