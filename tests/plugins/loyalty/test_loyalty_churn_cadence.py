"""Churn warnings per class, their tasks, lifecycle stages and contact cadence (now 2025-01-01 09:00)."""

from __future__ import annotations

import pytest

from crmkit import ValidationError


@pytest.fixture
def people(crm):
    """x buys coffee (10.00) every 10 days 2024-09-01..10-01; y once 2024-06-01; z 2024-12-20;
    v (large) 2024-10-15; w never. Default class: 120 days, 3 × gap, 90-day periods, 50% drop."""
    ids = {}
    for name, size in (("x", None), ("y", None), ("z", None), ("v", "large"), ("w", None)):
        ids[name] = crm.customers.add(name=name, size=size, owner=f"rep-{name}").id
    rows = [(ids["x"], day, "coffee") for day in ("2024-09-01", "2024-09-11", "2024-09-21", "2024-10-01")]
    rows += [(ids["y"], "2024-06-01", "tea"), (ids["z"], "2024-12-20", "tea"), (ids["v"], "2024-10-15", "tea")]
    crm.interactions.record_many(
        {"customer_id": cid, "kind": "purchase", "occurred_at": day, "amount": "10.00", "category": cat} for cid, day, cat in rows
    )
    return ids


class TestChurn:
    def test_signals_scores_and_evidence_by_hand(self, crm, people):
        """x: idle 92.4 days (< 120), gap (Oct 1 - Sep 1) / 3 = 10 days → 92.4 > 30: rhythm (25);
        spend in the last 90 days 0 against 40.00 before: drop (20); coffee bought 4 times before,
        not since: lost category (15) → 60, high. y: idle 214 > 120: inactive (40) → medium.
        z (11 days) and v (78 days, default class) have no signal."""
        warnings = {w.customer_id: w for w in crm.loyalty.churn()}
        assert set(warnings) == {people["x"], people["y"]}
        x = warnings[people["x"]]
        assert (x.level, x.score, x.signals) == ("high", 60, ("rhythm", "spend_drop", "lost_category"))
        assert x.evidence["typical_gap_days"] == 10.0 and x.evidence["days_since_purchase"] == 92
        assert (x.evidence["spend_recent"], x.evidence["spend_previous"]) == ("0.00", "40.00")
        assert x.evidence["lost_categories"] == ["coffee"]
        y = warnings[people["y"]]
        assert (y.level, y.score, y.signals, y.owner) == ("medium", 40, ("inactive",), "rep-y")
        assert crm.segments.evaluate("churn_risk = 'none'").count() == 3
        assert list(crm.segments.evaluate("churn_score >= 50").ids()) == [people["x"]]

    def test_rhythm_with_a_typical_gap_of_zero(self, crm, add_customers):
        """Three purchases of 10.00 on one day: the typical gap is 0 days, so any idle day is
        more than 3 × 0. As of 2025-06-30 00:00 (90-day periods from 2025-04-01 and 2024-12-31):
        a bought 2025-01-02, 179 days idle: inactive 40 + rhythm 25 + spend drop 20 (0.00
        against 30.00) = 85, high. b bought 2025-06-29, 1 day idle: rhythm 25, medium. c bought
        at 00:00 on 2025-06-30, 0 days idle, not more than 0: no warning."""
        a, b, c = add_customers(crm, 3)
        crm.interactions.record_many(
            {"customer_id": cid, "kind": "purchase", "occurred_at": at, "amount": "10.00"}
            for cid, at in ((a, "2025-01-02"), (b, "2025-06-29"), (c, "2025-06-30T00:00:00Z")) for _ in range(3)
        )
        warnings = {w.customer_id: w for w in crm.loyalty.churn("2025-06-30T00:00:00Z", min_level="low")}
        got = {cid: (w.level, w.score, w.signals, w.evidence["typical_gap_days"], w.evidence["days_since_purchase"])
               for cid, w in warnings.items()}
        assert got == {
            a: ("high", 40 + 25 + 20, ("inactive", "rhythm", "spend_drop"), 0.0, 179),
            b: ("medium", 25, ("rhythm",), 0.0, 1),
        }

    def test_classes_have_their_own_thresholds(self, crm, people):
        """Large accounts warn after 60 days: v (78 days idle) becomes medium."""
        crm.loyalty.set_churn_classes([{"name": "large", "segment": "size = 'large'", "max_days": 60}, {"name": "others"}])
        warnings = {w.customer_id: w for w in crm.loyalty.churn()}
        assert (warnings[people["v"]].customer_class, warnings[people["v"]].level) == ("large", "medium")
        assert warnings[people["x"]].customer_class == "others"

    def test_due_raises_one_task_per_warning_episode(self, crm, people, clock):
        """x (92 days idle) is slipping now: a task. y (214 days) lapsed more than 120 + 30 days
        ago: still warned, but a win-back case, not a task."""
        report = crm.run_due()
        assert report.results["loyalty"]["churn_tasks_created"] == 1
        assert crm.run_due().results["loyalty"]["churn_tasks_created"] == 0
        tasks = crm.tasks.open(kind="churn_warning")
        assert {(t.customer_id, t.owner) for t in tasks} == {(people["x"], "rep-x")}
        assert people["y"] in {w.customer_id for w in crm.loyalty.churn_warnings(limit=None)}
        crm.tasks.complete(next(t.id for t in tasks if t.customer_id == people["x"]))
        clock.advance(days=1)
        assert crm.run_due().results["loyalty"]["churn_tasks_created"] == 0  # same episode, task closed
        crm.interactions.record(people["x"], "purchase", "2024-12-31", amount="1.00")
        crm.interactions.record(people["x"], "purchase", clock() , amount="1.00")
        clock.advance(days=130)
        assert crm.loyalty.warn()["tasks_created"] >= 1  # a new episode after new purchases
        assert len(crm.tasks.open(kind="churn_warning", customer_id=people["x"])) == 1

    def test_the_task_lookback_is_counted_from_the_threshold(self, crm, people):
        """y's last purchase was 214 days before the run: with max_days 120 a task needs a
        lookback of at least 94 days (214 - 120); 93 is one day short."""
        crm.loyalty.set_churn_classes([{"name": "all", "task_lookback_days": 93}])
        assert crm.loyalty.warn()["tasks_created"] == 1  # x only
        crm.loyalty.set_churn_classes([{"name": "all", "task_lookback_days": 94}])
        assert crm.loyalty.warn()["tasks_created"] == 1  # now y too
        assert {t.customer_id for t in crm.tasks.open(kind="churn_warning")} == {people["x"], people["y"]}

    def test_bad_classes_are_refused(self, crm, people, snapshot):
        before = snapshot(crm)
        with pytest.raises(ValidationError, match="max_days"):
            crm.loyalty.set_churn_classes([{"name": "a", "max_days": 0}])
        with pytest.raises(Exception, match="unknown field"):
            crm.loyalty.set_churn_classes([{"name": "a", "segment": "sise = 'large'"}])
        with pytest.raises(ValidationError, match="min_level"):
            crm.loyalty.churn(min_level="severe")
        assert snapshot(crm) == before


class TestLifecycle:
    def test_stages_by_hand(self, crm, people):
        """w prospect; z new (first purchase 12 days ago); y declining (0 in the last 180 days
        against 10.00 before); x growing (40.00 in the last 180 days, 0 before); an old buyer
        (2023-06-01, 580 days) churned; equal spend in both periods: mature."""
        old = crm.customers.add(name="old").id
        steady = crm.customers.add(name="steady").id
        crm.interactions.record(old, "purchase", "2023-06-01", amount="5.00")
        crm.interactions.record(steady, "purchase", "2024-05-01", amount="10.00")
        crm.interactions.record(steady, "purchase", "2024-12-01", amount="10.00")
        stage = {name: crm.loyalty.lifecycle_of(cid) for name, cid in {**people, "old": old, "steady": steady}.items()}
        assert stage == {"x": "growing", "y": "declining", "z": "new", "v": "new", "w": "prospect", "old": "churned", "steady": "mature"}
        assert crm.loyalty.lifecycle() == {"prospect": 1, "new": 2, "growing": 1, "mature": 1, "declining": 1, "churned": 1}
        assert list(crm.segments.evaluate("lifecycle = 'churned'").ids()) == [old]
        assert crm.loyalty.lifecycle_of(people["z"], "2024-12-19") == "prospect"


class TestCadence:
    def test_default_rules_create_each_task_once(self, crm, people):
        """thank_you: t bought 2024-12-31 (u too, but got an email since); satisfaction_check:
        s bought 2024-11-15 (30 to 60 days ago); retention_call: x's last purchase 2024-10-01
        (90 to 120 days ago)."""
        t = crm.customers.add(name="t", owner="ann").id
        u = crm.customers.add(name="u").id
        s = crm.customers.add(name="s").id
        crm.interactions.record(t, "purchase", "2024-12-31", amount="1.00")
        crm.interactions.record(u, "purchase", "2024-12-30", amount="1.00")
        crm.interactions.record(u, "email", "2024-12-31")
        crm.interactions.record(s, "purchase", "2024-11-15", amount="1.00")
        planned = crm.loyalty.cadence(dry_run=True)
        assert sum(planned["created"].values()) == 0 and crm.tasks.open() == []
        result = crm.loyalty.cadence()
        assert result["created"] == {"thank_you": 1, "satisfaction_check": 1, "retention_call": 1}
        tasks = {t.kind: t for t in crm.tasks.open()}
        assert (tasks["thank_you"].customer_id, tasks["thank_you"].owner, f"{tasks['thank_you'].due_at:%Y-%m-%d}") == (t, "ann", "2025-01-03")
        assert (tasks["satisfaction_check"].customer_id, f"{tasks['satisfaction_check'].due_at:%Y-%m-%d}") == (s, "2024-12-22")
        assert tasks["retention_call"].customer_id == people["x"]
        crm.tasks.complete(tasks["thank_you"].id)
        assert sum(crm.loyalty.cadence()["created"].values()) == 0
        assert crm.run_due().results["loyalty"]["cadence_tasks_created"] == 0

    def test_custom_rule_limited_to_a_segment(self, crm, people):
        crm.loyalty.set_cadence_rules([
            {"name": "large_check", "kind": "purchase", "delay_days": 60, "task": "account_review", "segment": "size = 'large'", "lookback_days": 60},
        ])
        created = crm.loyalty.cadence()["created"]
        assert created == {"large_check": 1}
        assert [t.customer_id for t in crm.tasks.open(kind="account_review")] == [people["v"]]

    def test_bad_rules_are_refused(self, crm, snapshot):
        before = snapshot(crm)
        with pytest.raises(ValidationError, match="kind"):
            crm.loyalty.set_cadence_rules([{"name": "a", "kind": "purchace", "delay_days": 1, "task": "t"}])
        with pytest.raises(ValidationError, match="delay_days"):
            crm.loyalty.set_cadence_rules([{"name": "a", "kind": "purchase", "delay_days": -1, "task": "t"}])
        with pytest.raises(ValidationError, match="distinct"):
            crm.loyalty.set_cadence_rules([{"name": "a", "kind": "purchase", "delay_days": 1, "task": "t"}] * 2)
        assert snapshot(crm) == before
