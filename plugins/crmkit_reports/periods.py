"""Report periods: a calendar month, quarter or year ending at ``as_of``, or an explicit range.

A period is half-open, ``start <= t < end``. A calendar period *ends at* ``as_of`` and includes
it: as of 2024-06-15 10:00 the month is 2024-06-01 .. 2024-06-15 10:00 inclusive (month to date;
stored as ``end`` = 10:00:01, times having whole seconds). As of 2024-06-01 (midnight, what
``--as-of 2024-06-01`` means) it is the whole of May, ending before June starts. The previous
period is the same span one period earlier, like for like (May 1 .. May 15 10:00; or all of
April). An explicit range ``(start, end)`` excludes ``end`` and is compared with the range of the
same length just before it.
"""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta
from typing import Any

from attrs import frozen

from crmkit import ValidationError
from crmkit.timeutil import to_datetime, to_iso

KINDS = ("month", "quarter", "year")
_SECOND = timedelta(seconds=1)
_MONTHS = {"month": 1, "quarter": 3, "year": 12}


@frozen
class Period:
    """A half-open span of time ``[start, end)`` with a label such as ``2024-05`` or ``2024-Q2``."""

    start: datetime
    end: datetime
    kind: str = "range"
    label: str = ""

    def __attrs_post_init__(self) -> None:
        if self.end <= self.start:
            raise ValidationError("period", f"{to_iso(self.start)} .. {to_iso(self.end)}", "an end after the start")

    @property
    def complete(self) -> bool:
        """True when the period is a whole calendar month/quarter/year (not cut short by as_of)."""
        if self.kind not in _MONTHS:
            return True
        return self.end == _add_months(self.start, _MONTHS[self.kind])

    def previous(self) -> "Period":
        """The period to compare with: one calendar period earlier, or the same length before."""
        if self.kind in _MONTHS:
            months = _MONTHS[self.kind]
            start = _add_months(self.start, -months)
            end = self.start if self.complete else _add_months(self.end, -months)
            return Period(start, max(end, start + _SECOND), self.kind, _label(start, self.kind))
        length = self.end - self.start
        return Period(self.start - length, self.start, "range", _range_label(self.start - length, self.start))

    def to_dict(self) -> dict:
        """JSON-ready description: kind, label, start and end as ISO text."""
        return {"kind": self.kind, "label": self.label, "start": to_iso(self.start), "end": to_iso(self.end)}

    def __str__(self) -> str:
        if self.kind == "range":
            return self.label
        suffix = "" if self.complete else f" through {to_iso(self.end - _SECOND)}"
        return f"{self.label}{suffix}"


def calendar_period(kind: str, as_of: Any) -> Period:
    """The calendar ``kind`` (month, quarter, year) ending at ``as_of``, cut at ``as_of``."""
    if kind not in _MONTHS:
        raise ValidationError("period", kind, "month, quarter, year or a (start, end) range")
    moment = to_datetime(as_of, "as_of")
    anchor = moment - _SECOND  # as_of on a boundary closes the period before it
    first_month = anchor.month if kind == "month" else (1 if kind == "year" else 3 * ((anchor.month - 1) // 3) + 1)
    start = anchor.replace(month=first_month, day=1, hour=0, minute=0, second=0)
    boundary = _add_months(start, _MONTHS[kind])
    end = boundary if moment == boundary else moment + _SECOND  # a period to date includes as_of
    return Period(start, end, kind, _label(start, kind))


def explicit_period(start: Any, end: Any) -> Period:
    """The range ``[start, end)``; a date means its midnight UTC, so ``end`` is not included."""
    first, last = to_datetime(start, "period start"), to_datetime(end, "period end")
    return Period(first, last, "range", _range_label(first, last))


def resolve_period(period: Any, as_of: datetime) -> Period:
    """A Period from ``"month"``/``"quarter"``/``"year"``, a ``(start, end)`` pair or a Period."""
    if isinstance(period, Period):
        return period
    if isinstance(period, str):
        return calendar_period(period.strip().lower(), as_of)
    if isinstance(period, (tuple, list)) and len(period) == 2:
        return explicit_period(*period)
    raise ValidationError("period", period, "month, quarter, year, a (start, end) pair or a Period")


def month_starts(end: datetime, count: int) -> list[datetime]:
    """Starts of the ``count`` calendar months up to ``end`` (the last may be cut by ``end``)."""
    last = calendar_period("month", end).start
    return [_add_months(last, -offset) for offset in range(count - 1, -1, -1)]


def add_months(moment: datetime, months: int) -> datetime:
    """``moment`` moved by whole calendar months, the day clamped to the month's length."""
    return _add_months(moment, months)


def _add_months(moment: datetime, months: int) -> datetime:
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def _label(start: datetime, kind: str) -> str:
    if kind == "month":
        return f"{start.year:04d}-{start.month:02d}"
    if kind == "quarter":
        return f"{start.year:04d}-Q{(start.month - 1) // 3 + 1}"
    return f"{start.year:04d}"


def _range_label(start: datetime, end: datetime) -> str:
    return f"{to_iso(start)[:10]} .. {to_iso(end)[:10]}"
