"""``crm.competitors``: the plugin's Python API."""

from __future__ import annotations

import json
from typing import Any

from attrs import frozen

from crmkit import ConflictError, NotFound, ValidationError
from crmkit.timeutil import to_iso

from . import queries
from .schema import POSITIONINGS, RELATIONS


@frozen
class Competitor:
    """A competitor as entered by hand."""

    id: int
    name: str
    products: tuple[str, ...]
    positioning: str | None
    strengths: str | None
    weaknesses: str | None


class CompetitorService:
    """Competitors, their links to customers, and wins and losses against them."""

    def __init__(self, crm):
        self._crm = crm

    def add(self, name: str, products=(), positioning: str | None = None,
            strengths: str | None = None, weaknesses: str | None = None) -> Competitor:
        """Add a competitor; the name must be new."""
        name = (name or "").strip()
        if not name:
            raise ValidationError("name", name, "a competitor name")
        if positioning is not None and positioning not in POSITIONINGS:
            raise ValidationError("positioning", positioning, "one of " + ", ".join(POSITIONINGS))
        products = [p.strip() for p in (products.split(",") if isinstance(products, str) else products) if p.strip()]
        with self._crm.transaction():
            if self._crm.db.execute("SELECT 1 FROM competitors_competitors WHERE name = ?", [name]).fetchone():
                raise ConflictError(f"competitor {name!r} exists")
            self._crm.db.execute(
                "INSERT INTO competitors_competitors(name, products, positioning, strengths, weaknesses, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [name, json.dumps(products), positioning, strengths, weaknesses, to_iso(self._crm.now())],
            )
            self._crm.audit.record("competitor.add", "competitor", name, after={"positioning": positioning}, source="competitors")
        return self.get(name)

    def get(self, name: str) -> Competitor:
        """The competitor called ``name``."""
        rows = list(self._crm.db.query("SELECT * FROM competitors_competitors WHERE name = ?", [name]))
        if not rows:
            raise NotFound(f"no competitor named {name!r}")
        row = rows[0]
        return Competitor(row["id"], row["name"], tuple(json.loads(row["products"] or "[]")),
                          row["positioning"], row["strengths"], row["weaknesses"])

    def list(self) -> list[Competitor]:
        """Every competitor, by name."""
        return [self.get(r[0]) for r in self._crm.db.execute("SELECT name FROM competitors_competitors ORDER BY name")]

    def link(self, customer_id: int, competitor: str, relation: str = "also_serves",
             noted_at: Any = None, notes: str | None = None) -> None:
        """Note that a customer is also served by, was lost to, or was won from a competitor."""
        if relation not in RELATIONS:
            raise ValidationError("relation", relation, "one of " + ", ".join(RELATIONS))
        with self._crm.transaction():
            self._crm.customers.get(customer_id)
            found = self.get(competitor)
            when = to_iso(noted_at if noted_at is not None else self._crm.now(), "noted_at")
            self._crm.db.execute(
                "INSERT INTO competitors_links(customer_id, competitor_id, relation, noted_at, notes) VALUES (?, ?, ?, ?, ?)",
                [customer_id, found.id, relation, when, notes],
            )
            self._crm.audit.record("competitor.link", "customer", customer_id,
                                   after={"competitor": found.name, "relation": relation}, source="competitors")

    def links(self, customer_id: int) -> list[dict]:
        """A customer's links to competitors, oldest first."""
        return [dict(r) for r in self._crm.db.query(queries.LINKS_OF_CUSTOMER, [customer_id])]

    def wins_and_losses(self, as_of: Any = None, since: Any = None) -> list[dict]:
        """Per competitor: customers lost to it, won from it, and also served by it."""
        params = {"as_of": to_iso(self._crm.as_of(as_of)), "since": to_iso(since, "since") if since else None}
        return [dict(r) for r in self._crm.db.query(queries.WINS_AND_LOSSES, params)]
