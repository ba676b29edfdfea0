"""Report periods: a calendar day, week, month, quarter or year ending at ``as_of``, or an explicit range.

Calendar periods are the home time zone's (``zone``, the CRM's ``crm.zone``; UTC when not given):
a month starts at local midnight on the 1st, a week on the CRM's first weekday (``first_weekday``,
0 = Monday).

A period is half-open, ``start <= t < end``. A calendar period *ends at* ``as_of`` and includes
it: as of 2024-06-15 10:00 the month is 2024-06-01 .. 2024-06-15 10:00 inclusive (month to date;
stored as ``end`` = 10:00:01, times having whole seconds). A date means its local midnight and
closes the day before it: as of 2024-06-15 (what ``--as-of 2024-06-15`` means) the month is June
1 .. 14, ``end`` = the midnight itself, so a label read from ``end`` names the last day counted;
as of 2024-06-01 it is the whole of May, ending before June starts. The previous
period is the same span one period earlier, like for like (May 1 .. May 15 10:00; or all of
April). An explicit range ``(start, end)`` excludes ``end`` and is compared with the range of the
same length just before it.
"""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta, tzinfo
from typing import Any

from attrs import field, frozen

from crmkit import ValidationError
from crmkit.calendar import HomeCalendar
from crmkit.timeutil import UTC, to_datetime, to_iso

KINDS = ("day", "week", "month", "quarter", "year")
_SECOND = timedelta(seconds=1)
# The moments a report may touch: Python's dates run from year 1 to 9999; a day of slack at each
# end leaves room for any time zone's local midnight.
EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
LATEST = datetime(9999, 12, 30, tzinfo=UTC)
_MONTHS = {"month": 1, "quarter": 3, "year": 12}
_DAYS = {"day": 1, "week": 7}


@frozen
class Period:
    """A half-open span of time ``[start, end)`` with a label such as ``2024-05`` or ``2024-Q2``."""

    start: datetime
    end: datetime
    kind: str = "range"
    label: str = ""
    #: the home zone whose calendar the period follows (UTC when None)
    zone: tzinfo | None = field(default=None, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        if self.end <= self.start:
            raise ValidationError("period", f"{to_iso(self.start)} .. {to_iso(self.end)}", "an end after the start")

    @property
    def complete(self) -> bool:
        """True when the period is a whole calendar month/quarter/year (not cut short by as_of)."""
        if self.kind not in _MONTHS and self.kind not in _DAYS:
            return True
        return self.end == _step(self.start, self.kind, 1, self.zone)

    def previous(self) -> "Period":
        """The period to compare with: one calendar period earlier, or the same length before."""
        if self.kind in _MONTHS or self.kind in _DAYS:
            start = _step(self.start, self.kind, -1, self.zone)
            end = self.start if self.complete else _step(self.end, self.kind, -1, self.zone)
            return Period(start, max(end, start + _SECOND), self.kind, _label(start, self.kind, self.zone), self.zone)
        length = self.end - self.start
        first = self.start - length
        return Period(first, self.start, "range", _range_label(first, self.start, self.zone), self.zone)

    def to_dict(self) -> dict:
        """JSON-ready description: kind, label, start and end as ISO text."""
        return {"kind": self.kind, "label": self.label, "start": to_iso(self.start), "end": to_iso(self.end)}

    def __str__(self) -> str:
        if self.kind == "range":
            return self.label
        suffix = "" if self.complete else f" through {_local_text(self.end - _SECOND, self.zone)}"
        return f"{self.label}{suffix}"


def calendar_period(kind: str, as_of: Any, zone: tzinfo | None = None, first_weekday: int = 0) -> Period:
    """The calendar ``kind`` (day, week, month, quarter, year) of ``zone`` ending at ``as_of``, cut
    at ``as_of``."""
    if kind not in _MONTHS and kind not in _DAYS:
        raise ValidationError("period", kind, "day, week, month, quarter, year or a (start, end) range")
    moment = to_datetime(as_of, "as_of", zone=zone)
    anchor = (moment - _SECOND).astimezone(zone or UTC)  # as_of on a boundary closes the period before it
    if kind in _DAYS:
        back = (anchor.weekday() - first_weekday) % 7 if kind == "week" else 0
        day = anchor.date() - timedelta(days=back)
        local = datetime(day.year, day.month, day.day, tzinfo=zone or UTC)
    else:
        first_month = anchor.month if kind == "month" else (1 if kind == "year" else 3 * ((anchor.month - 1) // 3) + 1)
        local = anchor.replace(month=first_month, day=1, hour=0, minute=0, second=0)
    start = local.astimezone(UTC)
    boundary = _step(start, kind, 1, zone)
    if moment == boundary or moment == _day_start(moment, zone):
        end = moment  # a date (local midnight) closes the day before it, as a boundary closes the period
    else:
        end = moment + _SECOND  # a period to date includes the moment of as_of
    return Period(start, end, kind, _label(start, kind, zone), zone)


def explicit_period(start: Any, end: Any, zone: tzinfo | None = None) -> Period:
    """The range ``[start, end)``; a date means its midnight in ``zone`` (default UTC), so
    ``end`` is not included."""
    first, last = to_datetime(start, "period start", zone=zone), to_datetime(end, "period end", zone=zone)
    return Period(first, last, "range", _range_label(first, last, zone), zone)


def resolve_period(period: Any, as_of: datetime, zone: tzinfo | None = None, first_weekday: int = 0) -> Period:
    """A Period from ``"day"``/``"week"``/``"month"``/``"quarter"``/``"year"``, a ``(start, end)``
    pair or a Period, on the calendar of ``zone``."""
    if isinstance(period, Period):
        return period
    if isinstance(period, str):
        return calendar_period(period.strip().lower(), as_of, zone, first_weekday)
    if isinstance(period, (tuple, list)) and len(period) == 2:
        return explicit_period(*period, zone=zone)
    raise ValidationError("period", period, "day, week, month, quarter, year, a (start, end) pair or a Period")


def check_reach(period: Period, previous: Period | None, days_back: int, months_back: int, months_ahead: int) -> bool:
    """True when the periods, ``days_back`` days and ``months_back`` months before them and
    ``months_ahead`` months after the end all lie within the years 1 to 9999."""
    first = (previous or period).start
    try:
        reach_back = min(first - timedelta(days=days_back), _add_months(period.start, -months_back, period.zone))
        reach_ahead = _add_months(period.end, months_ahead, period.zone)
    except (OverflowError, ValueError):  # the arithmetic itself left Python's years
        return False
    return EARLIEST <= reach_back and reach_ahead <= LATEST


def month_starts(end: datetime, count: int, zone: tzinfo | None = None) -> list[datetime]:
    """Starts of the ``count`` calendar months of ``zone`` up to ``end`` (the last may be cut by ``end``)."""
    last = calendar_period("month", end, zone).start
    return [_add_months(last, -offset, zone) for offset in range(count - 1, -1, -1)]


def add_months(moment: datetime, months: int, zone: tzinfo | None = None) -> datetime:
    """``moment`` moved by whole calendar months on ``zone``'s wall clock, the day clamped to the
    month's length."""
    return _add_months(moment, months, zone)


def _day_start(moment: datetime, zone: tzinfo | None) -> datetime:
    """The start (UTC) of the home-zone day ``moment`` falls on (the core calendar's rule)."""
    return HomeCalendar(zone if zone is not None else "UTC").start_of_day(moment)


def _step(moment: datetime, kind: str, count: int, zone: tzinfo | None) -> datetime:
    if kind in _DAYS:
        local = moment.astimezone(zone or UTC)
        wall = local.replace(tzinfo=None) + timedelta(days=_DAYS[kind] * count)
        return wall.replace(tzinfo=zone or UTC).astimezone(UTC)
    return _add_months(moment, _MONTHS[kind] * count, zone)


def _add_months(moment: datetime, months: int, zone: tzinfo | None = None) -> datetime:
    local = moment.astimezone(zone) if zone is not None else moment
    index = local.year * 12 + local.month - 1 + months
    year, month = divmod(index, 12)
    day = min(local.day, calendar.monthrange(year, month + 1)[1])
    moved = local.replace(year=year, month=month + 1, day=day)
    return moved.astimezone(UTC) if zone is not None else moved


def _local_text(moment: datetime, zone: tzinfo | None) -> str:
    if zone is None:
        return to_iso(moment)
    local = moment.astimezone(zone)
    return f"{local.strftime('%Y-%m-%dT%H:%M:%S')} {local.tzname()}"


def _label(start: datetime, kind: str, zone: tzinfo | None = None) -> str:
    start = start.astimezone(zone) if zone is not None else start
    if kind == "day":
        return start.strftime("%Y-%m-%d")
    if kind == "week":
        return f"week of {start.strftime('%Y-%m-%d')}"
    if kind == "month":
        return f"{start.year:04d}-{start.month:02d}"
    if kind == "quarter":
        return f"{start.year:04d}-Q{(start.month - 1) // 3 + 1}"
    return f"{start.year:04d}"


def _range_label(start: datetime, end: datetime, zone: tzinfo | None = None) -> str:
    if zone is not None:
        start, end = start.astimezone(zone), end.astimezone(zone)
    return f"{start.strftime('%Y-%m-%d')} .. {end.strftime('%Y-%m-%d')}"
