"""Segment fields of the complaints plugin, exact as of any ``:as_of``.

A complaint's state at a time is its latest step at or before that time: its own columns when it
has not moved since, its history otherwise (see ``queries.state_at_sql``), so the fields give the
same answer for a past date today as they gave on that date.
"""

from __future__ import annotations

from crmkit import Field
from crmkit.store import days_between, shift_days

from .queries import open_states_sql, outcome_at_sql, state_at_sql

_STATE_AT = state_at_sql("x")
_OUTCOME_AT = outcome_at_sql("x")


def complaint_fields() -> list[Field]:
    """The segment fields ``open_complaints``, ``complaints_365d``, ``last_complaint_days`` and
    ``unresolved_complaint``, each exact as of ``:as_of``."""
    listed, params = open_states_sql("_cmpf_open")
    mine = "FROM complaints_complaints x WHERE x.customer_id = c.id AND x.received_at <= :as_of"
    year = f"x.received_at > {shift_days(':as_of', -365)}"
    open_now = f"{_STATE_AT} IN ({listed})"
    return [
        Field(
            "open_complaints", "number", "Complaints not yet resolved or rejected at as_of.",
            f"(SELECT count(*) {mine} AND {open_now})", params=params,
        ),
        Field(
            "complaints_365d", "number", "Complaints received in the 365 days up to as_of.",
            f"(SELECT count(*) {mine} AND {year})",
        ),
        Field(
            "last_complaint_days", "number", "Whole days since the latest complaint (null: never complained).",
            f"CAST({days_between(f'(SELECT max(x.received_at) {mine})', ':as_of')} AS INTEGER)",
        ),
        Field(
            "unresolved_complaint", "bool",
            "An open complaint, or one from the last 365 days that was rejected or whose resolution "
            "the customer did not accept.",
            f"(CASE WHEN EXISTS (SELECT 1 {mine} AND ({open_now} OR ({year} AND ({_OUTCOME_AT} = 'rejected' "
            "OR (x.accepted = 0 AND x.followed_up_at <= :as_of))))) THEN 1 ELSE 0 END)",
            params=params,
        ),
    ]
