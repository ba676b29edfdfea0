"""Records and vocabulary of the complaints plugin: states, transitions, complaints, feedback.

Records are immutable values built from table rows with ``from_row``; only this module and the
query module know the table layout.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

from attrs import frozen

from crmkit import ConflictError, ValidationError
from crmkit.models import check_storable_text
from crmkit.money import from_minor
from crmkit.timeutil import from_iso

# --- the process ------------------------------------------------------------------------------

STATES = (
    "received", "acknowledged", "assessing", "resolved", "rejected", "followed_up", "closed",
    "reopened",
)
OPEN_STATES = ("received", "acknowledged", "assessing", "reopened")
ANSWERED_STATES = ("resolved", "rejected")
PAUSABLE_STATES = ("acknowledged", "assessing", "reopened")

TRANSITIONS: dict[str, tuple[str, ...]] = {
    "received": ("acknowledged",),
    "acknowledged": ("assessing",),
    "assessing": ("resolved", "rejected"),
    "resolved": ("followed_up",),
    "rejected": ("followed_up", "reopened"),
    "followed_up": ("closed",),
    "closed": ("reopened",),
    "reopened": ("assessing", "resolved", "rejected"),
}

# What the customer is told at each step unless the handler writes their own message.
CUSTOMER_MESSAGES = {
    "received": "We have received your complaint and registered it.",
    "acknowledged": "Your complaint has been acknowledged; {owner} is handling it.",
    "assessing": "We are looking into your complaint.",
    "resolved": "We have resolved your complaint: {resolution}.",
    "rejected": "After looking into it we could not uphold your complaint: {reason}.",
    "followed_up": "We have checked with you that the matter is settled.",
    "closed": "Your complaint is closed. Thank you for telling us.",
    "reopened": "Your complaint has been reopened: {reason}.",
    "paused": "We are waiting for information from you: {reason}.",
    "resumed": "Thank you, we have what we need and are working on your complaint again.",
    "escalated": "Your complaint has been passed to a senior colleague.",
    "reassigned": "{owner} is now handling your complaint.",
}

SEVERITIES = ("low", "normal", "high", "critical")
# Labels other systems use, read as ours (compared in lower case).
SEVERITY_ALIASES = {"minor": "low", "medium": "normal", "moderate": "normal", "major": "high", "urgent": "critical"}


def normalise_severity(value):
    """Our severity for ``value`` (aliases such as ``medium`` accepted); unknown values stay as given."""
    if isinstance(value, str):
        text = value.strip().lower()
        return SEVERITY_ALIASES.get(text, text)
    return value
CHANNELS = ("phone", "email", "web", "in_person", "social", "letter", "chat")
RESOLUTIONS = ("refund", "replacement", "repair", "apology", "explanation", "credit", "other")
ROLES = ("handler", "supervisor", "manager")

# What complaint figures can be broken down by, and the figures' columns (crmkit_complaints.figures).
BREAKDOWNS = ("category", "product", "channel", "handler", "severity", "segment")
COLUMNS = (
    "group", "received", "open", "resolved", "rejected", "acknowledged_within_sla",
    "resolved_within_sla", "median_hours_to_resolve", "p90_hours_to_resolve", "reopen_rate",
    "complainants", "repeat_complainants", "satisfaction", "satisfied_share",
    "per_100_customers", "per_1000_orders",
)

FEEDBACK_CLASSES = ("product", "service", "price", "delivery", "website", "other")
FEEDBACK_ALIASES = {
    "pricing": "price", "prices": "price", "product range": "product", "new feature request": "product",
    "feature": "product", "delivery options": "delivery", "shipping": "delivery", "support hours": "service",
    "support": "service", "web": "website", "app": "website",
}
FEEDBACK_STATUSES = ("new", "validated", "planned", "done", "declined")


class TransitionRefused(ConflictError):
    """A step the complaint's current state does not allow; names the state and the allowed steps."""

    def __init__(self, complaint_id: int, current: str, wanted: str, paused: bool = False):
        self.complaint_id = complaint_id
        self.current = current
        self.wanted = wanted
        allowed = TRANSITIONS.get(current, ())
        shown = ", ".join(allowed) if allowed else "none"
        pause_note = " (it is paused, waiting on the customer)" if paused else ""
        super().__init__(
            f"complaint {complaint_id} is {current}{pause_note}; it cannot move to {wanted}. "
            f"Allowed next: {shown}"
        )


def check_choice(field: str, value, choices: tuple[str, ...], optional: bool = True):
    """``value`` if it is one of ``choices`` (None allowed when optional), else ValidationError."""
    if value is None and optional:
        return None
    if value not in choices:
        raise ValidationError(field, value, "one of " + ", ".join(choices))
    return value


def check_text(value, field: str, limit: int | None = 10_000) -> str | None:
    """``value`` as stripped text (None when empty), refused when longer than ``limit`` (None: no
    limit) or when it holds what one of the engines cannot store: a NUL character or a lone
    surrogate."""
    if value is None:
        return None
    text = str(value).strip()
    if limit is not None and len(text) > limit:
        raise ValidationError(field, text[:40] + "...", f"at most {limit} characters")
    return check_storable_text(text, field) or None


def check_score(field: str, value, low: int = 1, high: int = 5):
    """An integer from ``low`` to ``high`` (None allowed)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationError(field, value, f"a whole number from {low} to {high}")
    return value


# --- records ----------------------------------------------------------------------------------

def _time(text: str | None) -> datetime | None:
    return from_iso(text)


@frozen(kw_only=True)
class Complaint:
    """A complaint ticket: what happened, who handles it, where it stands, and the SLA clocks."""

    id: int
    customer_id: int
    interaction_id: int | None
    channel: str | None
    category: str | None
    product: str | None
    severity: str
    description: str | None
    desired_outcome: str | None
    received_at: datetime
    owner: str | None
    status: str
    status_at: datetime
    decision: str | None
    decision_reason: str | None
    resolution: str | None
    resolution_detail: str | None
    resolution_amount: Decimal | None
    satisfaction: int | None
    accepted: bool | None
    ack_target_seconds: int
    resolve_target_seconds: int
    ack_due_at: datetime | None
    acknowledged_at: datetime | None
    resolve_due_at: datetime | None
    answered_at: datetime | None
    first_answered_at: datetime | None
    first_resolve_due_at: datetime | None
    paused_at: datetime | None
    reopen_count: int
    followed_up_at: datetime | None
    closed_at: datetime | None
    escalation_level: int

    @property
    def is_open(self) -> bool:
        """True while the complaint awaits an answer (received, acknowledged, assessing, reopened)."""
        return self.status in OPEN_STATES

    @property
    def allowed_next(self) -> tuple[str, ...]:
        """The states the complaint may move to from where it stands."""
        return TRANSITIONS[self.status]

    @classmethod
    def from_row(cls, row: dict, exponent: int) -> "Complaint":
        """Build a record from a ``complaints_complaints`` row; ``exponent`` is the currency's places."""
        return cls(
            id=row["id"], customer_id=row["customer_id"], interaction_id=row["interaction_id"],
            channel=row["channel"], category=row["category"], product=row["product"],
            severity=row["severity"], description=row["description"],
            desired_outcome=row["desired_outcome"], received_at=_time(row["received_at"]),
            owner=row["owner"], status=row["status"], status_at=_time(row["status_at"]),
            decision=row["decision"], decision_reason=row["decision_reason"],
            resolution=row["resolution"], resolution_detail=row["resolution_detail"],
            resolution_amount=from_minor(row["resolution_amount"], exponent),
            satisfaction=row["satisfaction"],
            accepted=None if row["accepted"] is None else bool(row["accepted"]),
            ack_target_seconds=row["ack_target_s"], resolve_target_seconds=row["resolve_target_s"],
            ack_due_at=_time(row["ack_due_at"]), acknowledged_at=_time(row["acknowledged_at"]),
            resolve_due_at=_time(row["resolve_due_at"]), answered_at=_time(row["answered_at"]),
            first_answered_at=_time(row["first_answered_at"]),
            first_resolve_due_at=_time(row["first_resolve_due_at"]),
            paused_at=_time(row["paused_at"]), reopen_count=row["reopen_count"],
            followed_up_at=_time(row["followed_up_at"]), closed_at=_time(row["closed_at"]),
            escalation_level=row["escalation_level"],
        )


@frozen(kw_only=True)
class HistoryEntry:
    """A customer-visible step of a complaint: what the customer would be told, and when."""

    id: int
    complaint_id: int
    at: datetime
    event: str
    status_from: str | None
    status_to: str | None
    message: str | None
    actor: str | None

    @classmethod
    def from_row(cls, row: dict) -> "HistoryEntry":
        """Build a record from a ``complaints_history`` row."""
        return cls(
            id=row["id"], complaint_id=row["complaint_id"], at=_time(row["at"]), event=row["event"],
            status_from=row["status_from"], status_to=row["status_to"], message=row["message"],
            actor=row["actor"],
        )


@frozen(kw_only=True)
class Note:
    """An internal note on a complaint; never shown to the customer."""

    id: int
    complaint_id: int
    at: datetime
    author: str | None
    text: str | None

    @classmethod
    def from_row(cls, row: dict) -> "Note":
        """Build a record from a ``complaints_notes`` row."""
        return cls(id=row["id"], complaint_id=row["complaint_id"], at=_time(row["at"]), author=row["author"], text=row["text"])


@frozen(kw_only=True)
class Handler:
    """A person who handles complaints: role, supervisor, skills (categories) and whether active."""

    name: str
    role: str
    supervisor: str | None
    skills: tuple[str, ...]
    active: bool

    @classmethod
    def from_row(cls, row: dict) -> "Handler":
        """Build a record from a ``complaints_handlers`` row."""
        return cls(
            name=row["name"], role=row["role"], supervisor=row["supervisor"],
            skills=tuple(json.loads(row["skills"] or "[]")), active=bool(row["active"]),
        )


@frozen(kw_only=True)
class Feedback:
    """A suggestion or stated need, with its classification, status and who asked for it."""

    id: int
    customer_id: int | None
    title: str | None
    text: str | None
    classification: str
    status: str
    urgency: int
    importance: int
    cost: int
    received_at: datetime
    merged_into: int | None
    requesters: int = 0

    @classmethod
    def from_row(cls, row: dict) -> "Feedback":
        """Build a record from a ``complaints_feedback`` row."""
        return cls(
            id=row["id"], customer_id=row["customer_id"], title=row["title"], text=row["text"],
            classification=row["classification"], status=row["status"], urgency=row["urgency"],
            importance=row["importance"], cost=row["cost"], received_at=_time(row["received_at"]),
            merged_into=row["merged_into"], requesters=row.get("requesters") or 0,
        )
