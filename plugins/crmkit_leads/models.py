"""Records of the leads plugin: leads, reps, assignments and allocation plans."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from attrs import field, frozen

from crmkit import ValidationError
from crmkit.timeutil import from_iso

from .config import MAX_COUNT

STATUSES = ("pool", "assigned", "following_up", "converted", "lost")
OPEN_STATUSES = ("pool", "assigned", "following_up")
OWNED_STATUSES = ("assigned", "following_up")
_REP_ID = re.compile(r"^[A-Za-z0-9_.@\-]{1,100}$")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def _text_list(name: str):
    def convert(value: Any) -> tuple[str, ...]:
        if value is None or value == "":
            return ()
        if isinstance(value, str):
            value = json.loads(value) if value.startswith("[") else value.split(",")
        if not isinstance(value, (list, tuple, set, frozenset)):
            raise ValidationError(name, value, "a list of texts")
        cleaned = []
        for item in value:
            if not isinstance(item, str):
                raise ValidationError(name, item, "a text")
            item = item.strip()
            if item and item not in cleaned:
                cleaned.append(item)
        return tuple(cleaned)

    return convert


def _int_between(name: str, low: int, high: int | None = None, optional: bool = False):
    def convert(value: Any) -> int | None:
        if value is None or value == "":
            if optional:
                return None
            raise ValidationError(name, value, "a whole number")
        if isinstance(value, bool):
            raise ValidationError(name, value, "a whole number")
        try:
            number = int(value)
        except (TypeError, ValueError, OverflowError):  # OverflowError: an infinite float
            raise ValidationError(name, value, "a whole number") from None
        if number != value and not isinstance(value, str):
            raise ValidationError(name, value, "a whole number")
        if number < low or (high is not None and number > high):
            span = f"from {low} to {high}" if high is not None else f"{low} or more"
            raise ValidationError(name, value, f"a whole number {span}")
        return number

    return convert


def _rep_id(instance, attribute, value) -> None:
    if value is None or not _REP_ID.match(value):
        raise ValidationError("rep", value, "a rep id of letters, digits, _ . @ or - (at most 100)")


def _required(instance, attribute, value) -> None:
    if not value:
        raise ValidationError(attribute.name, value, "a non-empty text")


@frozen(kw_only=True)
class Rep:
    """A sales rep who works leads: skills, experience, capacity and a daily claim limit."""

    id: str = field(converter=_text, validator=_rep_id)
    name: str = field(converter=_text, validator=_required)
    team: str | None = field(default=None, converter=_text)
    industries: tuple[str, ...] = field(default=(), converter=_text_list("industries"))
    products: tuple[str, ...] = field(default=(), converter=_text_list("products"))
    languages: tuple[str, ...] = field(default=(), converter=_text_list("languages"))
    experience: int = field(default=1, converter=_int_between("experience", 1, 5))
    capacity: int = field(default=20, converter=_int_between("capacity", 1, MAX_COUNT))
    claim_limit: int | None = field(default=None, converter=_int_between("claim_limit", 0, MAX_COUNT, optional=True))
    active: bool = field(default=True, converter=bool)

    EDITABLE = ("name", "team", "industries", "products", "languages", "experience", "capacity", "claim_limit", "active")

    @classmethod
    def from_row(cls, row: dict) -> "Rep":
        """Build a record from a ``leads_reps`` row."""
        # A count stored before the bounds existed reads as the bound (the same in practice), so
        # that the rep can still be read and changed.
        claim_limit = None if row["claim_limit"] is None else min(row["claim_limit"], MAX_COUNT)
        return cls(
            id=row["id"], name=row["name"], team=row["team"], industries=json.loads(row["industries"]),
            products=json.loads(row["products"]), languages=json.loads(row["languages"]),
            experience=row["experience"], capacity=min(row["capacity"], MAX_COUNT), claim_limit=claim_limit,
            active=bool(row["active"]),
        )

    def to_row(self) -> dict:
        """The ``leads_reps`` row of this record (without the timestamps)."""
        return {
            "id": self.id, "name": self.name, "team": self.team,
            "industries": json.dumps(list(self.industries)), "products": json.dumps(list(self.products)),
            "languages": json.dumps(list(self.languages)), "experience": self.experience,
            "capacity": self.capacity, "claim_limit": self.claim_limit, "active": int(self.active),
        }


@frozen(kw_only=True)
class Lead:
    """A lead: a customer in stage ``prospect`` plus the lead's own columns.

    ``id`` is the customer's id. ``status`` is one of pool, assigned, following_up, converted,
    lost; ``stage`` the sales stage in the configured funnel.
    """

    id: int
    name: str
    status: str
    stage: str | None
    source: str | None
    industry: str | None
    size: str | None
    region: str | None
    priority: int
    needs: str | None
    product: str | None
    language: str | None
    lead_class: str
    owner: str | None
    assigned_at: datetime | None
    first_followed_up_at: datetime | None
    last_followed_up_at: datetime | None
    recycle_at: datetime | None
    extensions: int
    protected: bool
    protected_by: str | None
    protected_reason: str | None
    previous_owner: str | None
    cooldown_until: datetime | None
    recycles: int
    lost_reason: str | None
    closed_at: datetime | None
    received_at: datetime
    score: float | None

    @classmethod
    def from_row(cls, row: dict) -> "Lead":
        """Build a record from a row of ``leads_leads`` joined with its customer."""
        times = ("assigned_at", "first_followed_up_at", "last_followed_up_at", "recycle_at", "cooldown_until", "closed_at", "received_at")
        values = {
            "id": row["customer_id"], "name": row["name"], "status": row["status"], "stage": row["stage"],
            "source": row["source"], "industry": row["industry"], "size": row["size"], "region": row["region"],
            "priority": row["priority"], "needs": row["needs"], "product": row["product"],
            "language": row["language"], "lead_class": row["lead_class"], "owner": row["owner"],
            "extensions": row["extensions"], "protected": bool(row["protected"]),
            "protected_by": row["protected_by"], "protected_reason": row["protected_reason"],
            "previous_owner": row["previous_owner"], "recycles": row["recycles"],
            "lost_reason": row["lost_reason"], "score": row["score"],
        }
        for name in times:
            values[name] = from_iso(row[name])
        return cls(**values)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


@frozen
class Assignment:
    """One spell of a lead with a rep: how it came, how (and whether) it ended."""

    lead_id: int
    rep: str
    how: str
    reason: str | None
    started_at: datetime
    first_follow_up_at: datetime | None
    ended_at: datetime | None
    end_how: str | None
    end_reason: str | None


@frozen
class Move:
    """One line of an allocation plan: lead → rep, and why."""

    lead_id: int
    rep: str
    reason: str


@frozen
class AllocationResult:
    """What ``allocate`` did (or, in a dry run, would do)."""

    strategy: str
    dry_run: bool
    moves: list[Move]
    unassigned: list[int]
    unassigned_reason: dict[int, str]

    @property
    def count(self) -> int:
        return len(self.moves)

    def by_rep(self) -> dict[str, int]:
        """Leads per rep in this plan."""
        out: dict[str, int] = {}
        for move in self.moves:
            out[move.rep] = out.get(move.rep, 0) + 1
        return dict(sorted(out.items()))
