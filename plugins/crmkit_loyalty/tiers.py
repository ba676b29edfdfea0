"""Tiers: ordered definitions, evaluation as of a date with a downgrade policy, and history.

Evaluation is set-based: each tier's rule is compiled by the core's segment compiler and its
members are given the tier's rank in one INSERT (highest tier first, so a customer keeps the
highest tier they qualify for); one INSERT ... SELECT then writes every change to the history.
Every change is also recorded as a ``tier_upgrade`` / ``tier_downgrade`` interaction.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Iterable

from crmkit import ConflictError, ValidationError
from crmkit.timeutil import from_iso, to_iso

from . import queries as q
from .config import DowngradePolicy, TierDefinition, exact_number
from .models import Tier, TierChange, TierEvaluation, UpsellCandidate


class Tiers:
    """``crm.loyalty.tiers``: define tiers, evaluate them, read the history."""

    def __init__(self, crm):
        self._crm = crm

    # --- definitions ----------------------------------------------------------------------------

    def define(self, tiers: Iterable[TierDefinition | dict]) -> list[Tier]:
        """Replace the tier definitions; list them lowest first. Rules are checked before writing."""
        crm = self._crm
        definitions = [t if isinstance(t, TierDefinition) else TierDefinition(**t) for t in tiers]
        if not definitions:
            raise ValidationError("tiers", [], "at least one tier")
        names = [d.name for d in definitions]
        if len(set(names)) != len(names):
            raise ValidationError("tiers", names, "distinct tier names")
        for definition in definitions:
            crm.segments.check(definition.rule_text())
        with crm.transaction():
            before = [t.name for t in self.list()]
            crm.db.execute(q.TIERS_DELETE)
            crm.db.executemany(q.TIERS_INSERT, [
                (d.name, rank, d.rule_text(), d.benefits, int(d.multiplier * 1000))
                for rank, d in enumerate(definitions, start=1)
            ])
            crm.audit.record(
                "loyalty.tiers.define", "loyalty_tiers", None, before={"tiers": before},
                after={"tiers": [{"name": d.name, "rule": d.rule_text(), "multiplier": str(d.multiplier)} for d in definitions]},
                source="loyalty",
            )
        return self.list()

    def list(self) -> list[Tier]:
        """The tier definitions, lowest first."""
        return [
            Tier(name, rank, rule, benefits, Decimal(multiplier) / 1000)
            for name, rank, rule, benefits, multiplier in self._crm.db.execute(q.TIERS_LIST)
        ]

    def downgrade_policy(self) -> DowngradePolicy:
        """The downgrade policy in force: the stored ``loyalty.downgrade`` setting, else ``review`` after 365 days."""
        return DowngradePolicy(**self._crm.settings.get("loyalty.downgrade", {}))

    def set_downgrade_policy(self, policy: str, days: int = 365) -> DowngradePolicy:
        """``never``, ``on_returns`` or ``review`` (downgrade after ``days`` in the tier)."""
        chosen = DowngradePolicy(policy, days)
        self._crm.settings.set("loyalty.downgrade", {"policy": chosen.policy, "days": chosen.days})
        return chosen

    # --- evaluation -----------------------------------------------------------------------------

    def evaluate(self, as_of: Any = None) -> TierEvaluation:
        """Assign tiers as of a time, record every change (history + interaction); returns counts.

        Evaluations go forward in time: one as of a time before the latest evaluation that
        changed a tier is refused, because the history after it would no longer follow.
        """
        crm = self._crm
        moment = crm.as_of(as_of)
        stamp = to_iso(moment)
        tiers = self.list()
        if not tiers:
            raise ConflictError("no tiers are defined; call crm.loyalty.tiers.define([...]) first")
        policy = self.downgrade_policy()
        latest = crm.db.execute(q.TIER_LAST_EVALUATION).fetchone()[0]
        if latest is not None and stamp < latest:
            raise ConflictError(f"tiers were last changed as of {latest}; evaluate as of that time or later, not {stamp}")
        in_list, out_list, kinds = q.kind_params(crm)
        with crm.transaction():
            db = crm.db
            db.execute(q.TIER_QUALIFIED_CREATE)
            db.execute(q.TIER_QUALIFIED_CLEAR)
            for tier in sorted(tiers, key=lambda t: -t.rank):
                compiled = crm.segments.compile(tier.rule, moment)
                db.execute(q.tier_qualify(compiled.id_query()), dict(compiled.params, _lt_rank=tier.rank))
            first_new = db.execute(q.TIER_MAX_HISTORY_ID).fetchone()[0]
            db.execute(
                q.tier_changes(in_list, out_list, crm.calendar),
                dict(kinds, as_of=stamp, policy=policy.policy, review_days=policy.days),
            )
            changes = [self._change(row) for row in db.execute(q.TIER_HISTORY_SINCE, [first_new])]
            db.execute(q.TIER_QUALIFIED_CLEAR)
            if changes:
                crm.interactions.record_many(
                    {
                        "customer_id": c.customer_id, "kind": f"tier_{c.direction}", "occurred_at": moment,
                        "data": {"from": c.from_tier, "to": c.to_tier, "reason": c.reason, "history_id": c.id},
                    }
                    for c in changes
                )
            upgrades = sum(c.direction == "upgrade" for c in changes)
            downgrades = len(changes) - upgrades
            crm.audit.record(
                "loyalty.tiers.evaluate", "loyalty_tiers", None,
                after={"as_of": stamp, "policy": policy.policy, "upgrades": upgrades, "downgrades": downgrades},
                source="loyalty",
            )
        return TierEvaluation(moment, policy.policy, upgrades, downgrades, changes, self.members(moment))

    @staticmethod
    def _change(row) -> TierChange:
        return TierChange(row[0], row[1], from_iso(row[2]), row[3], row[4], row[5], row[6])

    def members(self, as_of: Any = None) -> dict[str, int]:
        """Number of customers in each tier as of a time (tiers without members show 0)."""
        counts = dict(self._crm.db.execute(q.TIER_COUNTS, {"as_of": to_iso(self._crm.as_of(as_of))}).fetchall())
        return {t.name: counts.get(t.name, 0) for t in reversed(self.list())}

    def of(self, customer_id: int, as_of: Any = None) -> str | None:
        """The customer's tier as of a time (None: no tier)."""
        self._crm.customers.get(customer_id)
        row = self._crm.db.execute(
            q.TIER_OF, {"cid": customer_id, "as_of": to_iso(self._crm.as_of(as_of))}
        ).fetchone()
        return row[0] if row else None

    def history(self, customer_id: int) -> list[TierChange]:
        """Every tier change of a customer, oldest first."""
        self._crm.customers.get(customer_id)
        return [self._change(row) for row in self._crm.db.execute(q.TIER_HISTORY_OF, [customer_id])]

    def movement(self, since: Any = None, until: Any = None) -> dict:
        """Upgrades and downgrades between two times (default: the 365 days up to now)."""
        end = self._crm.as_of(until)
        start = self._crm.as_of(since) if since is not None else self._crm.calendar.add_days(end, -365)
        rows = self._crm.db.execute(q.TIER_MOVEMENT, {"since": to_iso(start), "until": to_iso(end)}).fetchall()
        return {
            "since": start, "until": end,
            "upgrades": sum(r[3] for r in rows if r[0] == "upgrade"),
            "downgrades": sum(r[3] for r in rows if r[0] == "downgrade"),
            "moves": [{"direction": r[0], "from": r[1], "to": r[2], "customers": r[3]} for r in rows],
        }

    # --- upsell ---------------------------------------------------------------------------------

    def upsell_candidates(self, as_of: Any = None, closeness: Any = "0.2") -> list[UpsellCandidate]:
        """Customers near the next tier.

        Metric tiers: the customer's metric is within ``closeness`` (a fraction) below the next
        tier's threshold. Every tier: the customer's ``spend_365d`` is at least the lower
        quartile of the next tier's current members (they spend like its typical member).
        """
        import numpy as np

        from crmkit.money import from_minor

        crm = self._crm
        moment = crm.as_of(as_of)
        expected = "a fraction between 0 and 1 as text or Decimal"
        near = exact_number("closeness", closeness, expected)
        if not Decimal(0) < near < Decimal(1):
            raise ValidationError("closeness", closeness, expected)
        tiers = self.list()
        out: dict[tuple[int, str], UpsellCandidate] = {}
        for lower, upper in zip([None] + tiers[:-1], tiers):
            current = f"tier = '{lower.name}'" if lower else "tier is null"
            metric = _metric_of(upper.rule)
            if metric is not None:
                name, threshold = metric
                floor = threshold * (1 - near)
                rule = f"{current} and {name} >= {floor} and {name} < {threshold}"
                for cid, value in self._values(name, rule, moment):
                    field = crm.fields.get(name)
                    shown = from_minor(value, crm.exponent) if field.type == "money" else value
                    out[(cid, upper.name)] = UpsellCandidate(
                        cid, lower.name if lower else None, upper.name,
                        f"{name} is within {near * 100:.0f}% of {upper.name}'s {threshold}", shown, threshold,
                    )
            member_spend = [v for _, v in self._values("spend_365d", f"tier = '{upper.name}'", moment)]
            if member_spend:
                quartile = int(np.percentile(np.array(member_spend, dtype=np.int64), 25, method="lower"))
                typical = from_minor(quartile, crm.exponent)
                rule = f"{current} and spend_365d >= {typical} and purchases_365d > 0"
                for cid, value in self._values("spend_365d", rule, moment):
                    out.setdefault((cid, upper.name), UpsellCandidate(
                        cid, lower.name if lower else None, upper.name,
                        f"spends like a typical {upper.name} member (lower quartile {typical})",
                        from_minor(value, crm.exponent), typical,
                    ))
        return sorted(out.values(), key=lambda c: (c.customer_id, c.next_tier))

    def _values(self, field_name: str, rule: str, moment) -> list[tuple[int, Any]]:
        crm = self._crm
        compiled = crm.segments.compile(rule, moment)
        field = crm.fields.get(field_name)
        horizon = crm.settings.get("core.log_horizon")
        sql = field.sql_as_of if (field.sql_as_of and horizon and to_iso(moment) < horizon) else field.sql
        params = dict(compiled.params, **field.params)
        return [tuple(r) for r in crm.db.execute(q.field_values(sql, compiled.id_query()), params)]


def _metric_of(rule: str) -> tuple[str, Decimal] | None:
    """``(field, threshold)`` of a metric tier's rule ``<field> >= <number>``, else None."""
    import re

    match = re.fullmatch(r"((?:spend|purchases|points_earned)_\d+d) >= (\d+(?:\.\d+)?)", rule)
    return (match.group(1), Decimal(match.group(2))) if match else None
