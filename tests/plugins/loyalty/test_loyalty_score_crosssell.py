"""Loyalty score parts, association rules, recommendations and referral value, worked by hand."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from crmkit import ValidationError


class TestLoyaltyScore:
    def test_parts_and_score_by_hand(self, crm):
        """As of 2025-01-01 09:00. a: purchases 2024-01-01 and 2024-07-01 (100.00 each), surveys 4
        and 5, one referral, a complaint 2024-03-01 followed by a purchase, wallet estimate 400.
        b: one purchase 2024-12-01. c: never bought (no score)."""
        a = crm.customers.add(name="a", attributes={"wallet_estimate": "400"}).id
        b = crm.customers.add(name="b").id
        c = crm.customers.add(name="c").id
        log = [
            (a, "purchase", "2024-01-01", "100.00", None), (a, "complaint", "2024-03-01", None, None),
            (a, "purchase", "2024-07-01", "100.00", None), (a, "survey", "2024-07-05", None, {"score": 4}),
            (a, "survey", "2024-08-05", None, {"score": 5}), (a, "referral", "2024-09-01", None, {"referred_customer_id": c}),
            (b, "purchase", "2024-12-01", "50.00", None),
        ]
        crm.interactions.record_many(
            {"customer_id": cid, "kind": kind, "occurred_at": at, "amount": amount, "data": data} for cid, kind, at, amount, data in log
        )
        scores = {s.customer_id: s for s in crm.loyalty.score()}
        assert set(scores) == {a, b}
        tenure = 366 / 730            # 2024-01-01 00:00 → 2025-01-01 09:00: 366 whole days
        rhythm = 1 - (184 / 182 - 1) / 2  # idle 184 whole days against a 182-day gap
        expected_parts = {
            "tenure": tenure, "repeat": 0.5, "rhythm": rhythm, "wallet": 100 / 400, "satisfaction": (4.5 - 1) / 4,
            "referrals": 1 / 3, "retention": 1.0,
        }
        assert scores[a].parts == {k: pytest.approx(v, abs=1e-4) for k, v in expected_parts.items()}
        weights = {"tenure": 15, "repeat": 20, "rhythm": 20, "wallet": 10, "satisfaction": 15, "referrals": 10, "retention": 10}
        expected = 100 * sum(weights[k] * v for k, v in expected_parts.items()) / 100
        assert scores[a].score == pytest.approx(expected, abs=0.01)
        # b: wallet, satisfaction and retention do not apply; weights 15 + 20 + 20 + 10 = 65;
        # rhythm 1 (31 days idle against the default 90-day gap).
        expected_b = 100 * (15 * (31 / 730) + 20 * 0 + 20 * 1 + 10 * 0) / 65
        assert scores[b].score == pytest.approx(expected_b, abs=0.01)
        assert scores[b].parts["wallet"] is None and scores[b].parts["retention"] is None
        assert crm.loyalty.score_of(a).score == scores[a].score
        assert crm.loyalty.score_of(c) is None
        assert list(crm.segments.evaluate("loyalty_score >= 60").ids()) == [a]

    @pytest.mark.parametrize("first, last", [
        ("2024-11-02T00:00:00Z", "2024-12-20T00:00:00Z"),  # the loyalty page's Ann: 60 days 9 hours of tenure
        ("2024-11-10T18:00:00Z", "2024-12-01T06:00:00Z"),  # a 20.5-day gap, idle 31 days 3 hours
    ])
    def test_tenure_and_rhythm_count_whole_days(self, crm, first, last):
        """Tenure, the typical gap and the days since the last purchase are whole days, as
        ``first_purchase_days`` and ``last_purchase_days`` count them: hours past the last
        whole day do not count. Expected values from datetime arithmetic, not from crmkit."""
        as_of = datetime(2025, 1, 1, 9, tzinfo=timezone.utc)
        first_at, last_at = (datetime.fromisoformat(t.replace("Z", "+00:00")) for t in (first, last))
        tenure_days, gap_days, idle_days = (as_of - first_at).days, (last_at - first_at).days, (as_of - last_at).days
        cid = crm.customers.add(name="ann").id
        crm.interactions.record_many(
            {"customer_id": cid, "kind": "purchase", "occurred_at": at, "amount": "10.00"} for at in (first, last)
        )
        (score,) = crm.loyalty.score(store=False)
        rhythm = min(1.0, max(0.0, 1 - (idle_days / gap_days - 1) / 2))
        assert (score.parts["tenure"], score.parts["rhythm"]) == (round(tenure_days / 730, 4), round(rhythm, 4))
        assert crm.segments.evaluate(f"first_purchase_days = {tenure_days} and last_purchase_days = {idle_days}").count() == 1

    def test_weights(self, crm, snapshot):
        assert crm.loyalty.set_score_weights(tenure=0)["tenure"] == 0
        before = snapshot(crm)
        with pytest.raises(ValidationError, match="one of"):
            crm.loyalty.set_score_weights(loudness=3)
        with pytest.raises(ValidationError, match="weights.repeat"):
            crm.loyalty.set_score_weights(repeat=-1)
        assert snapshot(crm) == before


@pytest.fixture
def baskets(crm, add_customers):
    """1 {shoes, socks}, 2 {shoes, socks}, 3 {shoes}, 4 {hats}, 5 {shoes, hats}."""
    ids = add_customers(crm, 5, owner="ann")
    bought = {1: ["shoes", "socks"], 2: ["socks", "shoes"], 3: ["shoes"], 4: ["hats"], 5: ["shoes", "hats"]}
    crm.interactions.record_many(
        {"customer_id": ids[n - 1], "kind": "purchase", "occurred_at": "2024-06-01", "amount": "5.00", "category": cat}
        for n, cats in bought.items() for cat in cats
    )
    return ids


class TestAssociationRules:
    def test_support_confidence_lift_by_hand(self, crm, baskets):
        """n = 5; shoes 4, socks 2, hats 2. shoes&socks 2: support 0.4; shoes→socks confidence
        2/4 = 0.5, lift 0.5 / (2/5) = 1.25; socks→shoes confidence 1, lift 1 / (4/5) = 1.25.
        shoes&hats 1 (below min_count 2)."""
        rules = crm.loyalty.association_rules()
        got = {(r.antecedent, r.consequent): (r.customers_both, r.support, r.confidence, r.lift) for r in rules}
        assert got == {
            ("socks", "shoes"): (2, pytest.approx(0.4), pytest.approx(1.0), pytest.approx(1.25)),
            ("shoes", "socks"): (2, pytest.approx(0.4), pytest.approx(0.5), pytest.approx(1.25)),
        }
        loose = crm.loyalty.association_rules(min_count=1)
        hats = next(r for r in loose if (r.antecedent, r.consequent) == ("hats", "shoes"))
        assert (hats.confidence, hats.lift) == (pytest.approx(0.5), pytest.approx(0.5 / 0.8))
        assert crm.loyalty.association_rules(as_of="2024-05-31") == []

    def test_recommendations_and_tasks(self, crm, baskets):
        recs = crm.loyalty.recommendations()
        assert [(r.customer_id, r.category, r.because, r.confidence) for r in recs] == [
            (baskets[2], "socks", "shoes", pytest.approx(0.5)), (baskets[4], "socks", "shoes", pytest.approx(0.5)),
        ]
        assert [r.category for r in crm.loyalty.recommendations(baskets[3], min_count=1)] == ["shoes"]
        assert crm.loyalty.recommendation_tasks() == 2
        assert crm.loyalty.recommendation_tasks() == 0  # one open task per customer and category
        assert {t.owner for t in crm.tasks.open(kind="cross_sell")} == {"ann"}
        with pytest.raises(ValidationError, match="min_support"):
            crm.loyalty.association_rules(min_support=2)
        with pytest.raises(ValidationError, match="per_customer"):
            crm.loyalty.recommendations(per_customer=0)


class TestReferralValue:
    def test_referred_revenue_apart_from_own(self, crm, add_customers):
        """r1 refers c2 and c3 and, first, c4; r5 refers c4 later (not counted) and itself.
        c2 net 100.00; c3 50.00 - 20.00 = 30.00; c4 nothing. r1's own revenue 10.00."""
        r1, c2, c3, c4, r5 = add_customers(crm, 5)
        log = [
            (r1, "purchase", "2024-01-01", "10.00", None), (c2, "purchase", "2024-02-01", "100.00", None),
            (c3, "purchase", "2024-02-01", "50.00", None), (c3, "refund", "2024-02-02", "20.00", None),
            (r1, "referral", "2024-01-15", None, {"referred_customer_id": c2}),
            (r1, "referral", "2024-01-16", None, {"referred_customer_id": c3}),
            (r1, "referral", "2024-01-17", None, {"referred_customer_id": c4}),
            (r5, "referral", "2024-03-01", None, {"referred_customer_id": c4}),
            (r5, "referral", "2024-03-01", None, {"referred_customer_id": r5}),
        ]
        crm.interactions.record_many(
            {"customer_id": cid, "kind": kind, "occurred_at": at, "amount": amount, "data": data} for cid, kind, at, amount, data in log
        )
        (value,) = crm.loyalty.referral_value()
        assert (value.customer_id, value.referred, value.referred_revenue, value.own_revenue) == (
            r1, (c2, c3, c4), Decimal("130.00"), Decimal("10.00"),
        )
        assert crm.loyalty.referral_value(as_of="2024-01-15T12:00:00Z")[0].referred_revenue == Decimal("0.00")
        assert crm.loyalty.referral_value(customer_id=r5) == []
