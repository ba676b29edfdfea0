"""``crm.complaints.feedback``: suggestions and stated needs, classified, merged and ranked.

Priority (documented in docs/plugins/complaints.md) of an item that is not done or declined::

    priority = (importance + urgency)
               × (1 + log2(requesters))
               × (1 + log10(1 + value / 100))
               / cost

with importance, urgency and cost scored 1–5 (default 3), ``requesters`` the distinct customers
who asked, and ``value`` their net spend in major units over the 365 days up to ``as_of``.
"""

from __future__ import annotations

import json
import math
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from crmkit import ConflictError, NotFound, ValidationError
from crmkit.money import from_minor
from crmkit.timeutil import to_iso

from . import queries_feedback as sql
from .models import FEEDBACK_ALIASES, FEEDBACK_CLASSES, FEEDBACK_STATUSES, Feedback, check_choice, check_score, check_text

if TYPE_CHECKING:
    from crmkit import CRM

SOURCE = "complaints"
RANKED_STATUSES = ("new", "validated", "planned")


def priority(importance: int, urgency: int, requesters: int, value: Decimal, cost: int) -> float:
    """The documented priority of a suggestion (higher first)."""
    spend = max(float(value), 0.0)
    return round(
        (importance + urgency) * (1 + math.log2(max(requesters, 1))) * (1 + math.log10(1 + spend / 100)) / cost, 4
    )


class FeedbackService:
    """Suggestions and needs customers state: record, classify, merge, set status, rank."""

    def __init__(self, crm: "CRM"):
        self._crm = crm

    def record(
        self, customer_id: int | None, text: str, *, title: str | None = None,
        classification: str = "other", urgency: int = 3, importance: int = 3, cost: int = 3,
        received_at: Any = None,
    ) -> Feedback:
        """Record a suggestion directly (``feedback`` interactions are recorded automatically)."""
        crm = self._crm
        text = check_text(text, "text", limit=None)
        title = check_text(title, "title", limit=None)
        if not text:
            raise ValidationError("text", text, "the suggestion or need, in words")
        check_choice("classification", classification, FEEDBACK_CLASSES, optional=False)
        for name, value in (("urgency", urgency), ("importance", importance), ("cost", cost)):
            check_score(name, value)
        moment = to_iso(crm.as_of(received_at))
        with crm.transaction():
            if customer_id is not None:
                crm.customers.get(customer_id)
            new_id = sql.insert(crm.db, {
                "customer_id": customer_id, "interaction_id": None, "received_at": moment,
                "title": title, "text": text, "classification": classification,
                "status": "new", "urgency": urgency, "importance": importance, "cost": cost,
                "status_at": moment, "created_at": to_iso(crm.now()),
            })
            crm.audit.record("feedback.record", "feedback", new_id, after={"classification": classification}, source=SOURCE)
            return self.get(new_id)

    def from_interactions(self, first_id: int, last_id: int) -> int:
        """Items for every ``feedback`` interaction in the id range, set-based."""
        return sql.insert_from_interactions(self._crm.db, first_id, last_id, FEEDBACK_CLASSES, FEEDBACK_ALIASES, to_iso(self._crm.now()))

    def get(self, feedback_id: int) -> Feedback:
        """One feedback item by id, with its number of distinct requesters; NotFound if there is
        none."""
        row = sql.get(self._crm.db, feedback_id)
        if row is None:
            raise NotFound(f"no feedback item with id {feedback_id}")
        return Feedback.from_row(row)

    def list(self, *, status: str | None = None, classification: str | None = None, limit: int = 100, offset: int = 0) -> list[Feedback]:
        """Items that were not merged into another, oldest first."""
        check_choice("status", status, FEEDBACK_STATUSES)
        check_choice("classification", classification, FEEDBACK_CLASSES)
        return [Feedback.from_row(r) for r in sql.listing(self._crm.db, status, classification, limit, offset)]

    def classify(
        self, feedback_id: int, *, classification: str | None = None, urgency: int | None = None,
        importance: int | None = None, cost: int | None = None, title: str | None = None,
    ) -> Feedback:
        """Change the classification and the scores that drive the priority."""
        check_choice("classification", classification, FEEDBACK_CLASSES)
        for name, value in (("urgency", urgency), ("importance", importance), ("cost", cost)):
            check_score(name, value)
        title = check_text(title, "title", limit=None)
        changes = {k: v for k, v in {"classification": classification, "urgency": urgency, "importance": importance,
                                      "cost": cost, "title": title}.items() if v is not None}
        if not changes:
            raise ValidationError("classify", None, "at least one of classification, urgency, importance, cost, title")
        return self._change(feedback_id, changes, "feedback.classify")

    def set_status(self, feedback_id: int, status: str) -> Feedback:
        """new → validated (with the customer) → planned → done, or declined at any point."""
        check_choice("status", status, FEEDBACK_STATUSES, optional=False)
        return self._change(feedback_id, {"status": status, "status_at": to_iso(self._crm.now())}, "feedback.status")

    def merge(self, keep_id: int, duplicate_id: int) -> Feedback:
        """Fold a duplicate into ``keep_id``: its requesters move over; it is marked merged."""
        crm = self._crm
        if keep_id == duplicate_id:
            raise ValidationError("duplicate_id", duplicate_id, "another item than keep_id")
        with crm.transaction():
            keep, duplicate = self.get(keep_id), self.get(duplicate_id)
            for item in (keep, duplicate):
                if item.merged_into is not None:
                    raise ConflictError(f"feedback {item.id} was merged into {item.merged_into} already")
            moved = sql.move_requests(crm.db, keep_id, duplicate_id)
            sql.update(crm.db, duplicate_id, {"merged_into": keep_id, "status": "declined", "status_at": to_iso(crm.now())})
            crm.audit.record("feedback.merge", "feedback", keep_id, before={"duplicate": duplicate_id},
                             after={"requests_moved": moved}, source=SOURCE)
            return self.get(keep_id)

    def requesters(self, feedback_id: int) -> list[dict]:
        """Who asked (customer id, name, email, first asked), to tell them when it is done."""
        self.get(feedback_id)
        return sql.requesters(self._crm.db, feedback_id)

    def top(self, as_of: Any = None, limit: int = 10) -> list[dict]:
        """The top requested improvements by priority, with who asked (new, validated, planned)."""
        crm = self._crm
        moment = crm.as_of(as_of)
        rows = sql.ranking_inputs(
            crm.db, to_iso(moment), to_iso(moment - timedelta(days=365)), RANKED_STATUSES,
            crm.kinds.names(money="in"), crm.kinds.names(money="out"),
        )
        out = []
        for row in rows:
            value = from_minor(row["value_minor"], crm.exponent)
            out.append({
                "id": row["id"], "title": row["title"] or (row["text"] or "")[:60], "classification": row["classification"],
                "status": row["status"], "requesters": row["requesters"], "value": value,
                "urgency": row["urgency"], "importance": row["importance"], "cost": row["cost"],
                "priority": priority(row["importance"], row["urgency"], row["requesters"], value, row["cost"]),
                "customer_ids": sorted(json.loads(row["customer_ids"])),
            })
        out.sort(key=lambda item: (-item["priority"], -item["requesters"], item["id"]))
        return out[: int(limit)]

    def _change(self, feedback_id: int, changes: dict, action: str) -> Feedback:
        crm = self._crm
        with crm.transaction():
            before = self.get(feedback_id)
            if before.merged_into is not None:
                raise ConflictError(f"feedback {feedback_id} was merged into {before.merged_into}; change that item instead")
            sql.update(crm.db, feedback_id, changes)
            crm.audit.record(action, "feedback", feedback_id,
                             before={k: getattr(before, k) for k in changes if hasattr(before, k) and k != "status_at"},
                             after={k: v for k, v in changes.items() if k != "status_at"}, source=SOURCE)
            return self.get(feedback_id)
