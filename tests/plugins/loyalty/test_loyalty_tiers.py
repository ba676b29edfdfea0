"""Tiers: qualification, history, downgrade policies, interactions, upsell candidates."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crmkit import ConflictError, RuleError, ValidationError

TIERS = [
    {"name": "bronze", "metric": "purchases", "threshold": 1},
    {"name": "silver", "metric": "spend", "threshold": 100, "multiplier": "1.25", "benefits": "free shipping"},
    {"name": "gold", "metric": "spend", "threshold": "500"},
]


@pytest.fixture
def members(crm, add_customers):
    """a bought 600.00, b 150.00, c 150.00, all on 2024-01-10; d 85.00 on 2024-01-20; e nothing."""
    crm.loyalty.tiers.define(TIERS)
    ids = dict(zip("abcde", add_customers(crm, 5)))
    for who, amount, day in (("a", "600.00", "2024-01-10"), ("b", "150.00", "2024-01-10"), ("c", "150.00", "2024-01-10"), ("d", "85.00", "2024-01-20")):
        crm.interactions.record(ids[who], "purchase", day, amount=amount)
    return ids


class TestDefinitions:
    def test_metric_tiers_become_rules(self, crm, members):
        tiers = crm.loyalty.tiers.list()
        assert [(t.name, t.rank, t.rule, t.multiplier) for t in tiers] == [
            ("bronze", 1, "purchases_365d >= 1", Decimal("1")), ("silver", 2, "spend_365d >= 100", Decimal("1.25")),
            ("gold", 3, "spend_365d >= 500", Decimal("1")),
        ]

    def test_bad_definitions_write_nothing(self, crm, members, snapshot):
        before = snapshot(crm)
        with pytest.raises(RuleError, match="unknown field"):
            crm.loyalty.tiers.define([{"name": "x", "rule": "spend_356 >= 1"}])
        with pytest.raises(ValidationError, match="either a rule or a metric"):
            crm.loyalty.tiers.define([{"name": "x", "rule": "purchases >= 1", "metric": "spend", "threshold": 1}])
        with pytest.raises(ValidationError, match="distinct"):
            crm.loyalty.tiers.define([{"name": "x", "rule": "purchases >= 1"}, {"name": "x", "rule": "purchases >= 2"}])
        with pytest.raises(ValidationError, match="metric"):
            crm.loyalty.tiers.define([{"name": "x", "metric": "visits", "threshold": 1}])
        with pytest.raises(ValidationError, match="threshold"):
            crm.loyalty.tiers.define([{"name": "x", "metric": "spend", "threshold": 1.5}])
        with pytest.raises(ValidationError, match="policy"):
            crm.loyalty.tiers.set_downgrade_policy("sometimes")
        assert snapshot(crm) == before


class TestEvaluation:
    def test_highest_qualifying_tier_with_history_and_interactions(self, crm, members):
        done = crm.loyalty.tiers.evaluate("2024-02-01")
        assert (done.upgrades, done.downgrades) == (4, 0)
        assert done.members == {"gold": 1, "silver": 2, "bronze": 1}
        (change,) = crm.loyalty.tiers.history(members["a"])
        assert (change.from_tier, change.to_tier, change.direction) == (None, "gold", "upgrade")
        assert change.reason == "qualifies for gold: spend_365d >= 500"
        (logged,) = crm.interactions.history(members["a"], kinds=["tier_upgrade"])
        assert logged.data == {"from": None, "to": "gold", "reason": change.reason, "history_id": change.id}
        assert list(crm.segments.evaluate("tier = 'silver'").ids()) == [members["b"], members["c"]]
        assert crm.segments.evaluate("tier is null").count() == 1  # e never bought
        assert crm.loyalty.tiers.of(members["d"]) == "bronze"
        assert crm.loyalty.tiers.of(members["d"], "2024-01-31") is None
        again = crm.loyalty.tiers.evaluate("2024-02-01")
        assert (again.upgrades, again.downgrades) == (0, 0)

    def test_review_policy_downgrades_only_after_the_period(self, crm, members):
        """Review every 365 days. On 2025-01-15 a's purchase is out of the window but a has been
        gold for 349 days: kept. On 2025-02-02 (367 days): down to no tier."""
        crm.loyalty.tiers.evaluate("2024-02-01")
        kept = crm.loyalty.tiers.evaluate("2025-01-15")
        assert kept.downgrades == 0
        dropped = crm.loyalty.tiers.evaluate("2025-02-02")
        assert dropped.downgrades == 4
        last = crm.loyalty.tiers.history(members["a"])[-1]
        assert (last.from_tier, last.to_tier, last.direction) == ("gold", None, "downgrade")
        assert "no longer qualifies for gold (downgrade policy review)" == last.reason
        assert crm.interactions.history(members["a"], kinds=["tier_downgrade"])[0].data["to"] is None
        movement = crm.loyalty.tiers.movement(since="2024-01-01", until="2025-12-31")
        assert (movement["upgrades"], movement["downgrades"]) == (4, 4)

    def test_never_policy_keeps_tiers(self, crm, members):
        crm.loyalty.tiers.set_downgrade_policy("never")
        crm.loyalty.tiers.evaluate("2024-02-01")
        assert crm.loyalty.tiers.evaluate("2026-01-01").downgrades == 0
        assert crm.loyalty.tiers.of(members["a"], "2026-01-01") == "gold"

    def test_on_returns_policy_downgrades_only_after_a_refund(self, crm, members):
        """b returns 100.00 of 150.00 → spend 50: silver → bronze. c made no return: stays silver."""
        crm.loyalty.tiers.set_downgrade_policy("on_returns")
        crm.loyalty.tiers.evaluate("2024-02-01")
        crm.interactions.record(members["b"], "refund", "2024-03-01", amount="100.00")
        done = crm.loyalty.tiers.evaluate("2024-03-02")
        assert [(c.customer_id, c.from_tier, c.to_tier) for c in done.changes] == [(members["b"], "silver", "bronze")]
        assert crm.loyalty.tiers.evaluate("2025-06-01").downgrades == 0  # no further returns

    def test_evaluating_the_past_or_without_tiers_is_refused(self, crm, members, snapshot, add_customers):
        crm.loyalty.tiers.evaluate("2024-02-01")
        before = snapshot(crm)
        with pytest.raises(ConflictError, match="last changed as of 2024-02-01"):
            crm.loyalty.tiers.evaluate("2024-01-15")
        assert snapshot(crm) == before

    def test_without_tiers(self, crm):
        with pytest.raises(ConflictError, match="no tiers are defined"):
            crm.loyalty.tiers.evaluate()

    def test_removed_tier_is_left(self, crm, members):
        crm.loyalty.tiers.evaluate("2024-02-01")
        crm.loyalty.tiers.define([TIERS[0], TIERS[1]])
        done = crm.loyalty.tiers.evaluate("2024-02-02")
        assert [(c.from_tier, c.to_tier, c.direction, c.reason) for c in done.changes] == [
            ("gold", "silver", "downgrade", "tier gold is no longer defined"),
        ]


class TestUpsell:
    def test_close_to_the_next_tier_or_spending_like_its_members(self, crm, members):
        """d (bronze, 85.00) is within 20% of silver's 100; nobody else is near gold
        (b and c spend 150, gold's lower quartile is a's 600)."""
        crm.loyalty.tiers.evaluate("2024-02-01")
        found = crm.loyalty.upsell_candidates(as_of="2024-02-01")
        assert [(c.customer_id, c.current_tier, c.next_tier, c.value, c.target) for c in found] == [
            (members["d"], "bronze", "silver", Decimal("85.00"), Decimal("100")),
        ]
        wide = crm.loyalty.upsell_candidates(as_of="2024-02-01", closeness="0.8")
        assert {(c.customer_id, c.next_tier) for c in wide} == {(members["d"], "silver"), (members["b"], "gold"), (members["c"], "gold")}
        with pytest.raises(ValidationError, match="closeness"):
            crm.loyalty.upsell_candidates(closeness=0.2)
