"""The business calendar SLA clocks run on: working hours per weekday, holidays, a time zone.

Without a calendar the clocks run round the clock (24/7). With one, only working time counts:
the calendar is laid out as intervals of working time in epoch seconds, each carrying the total
of working seconds before it, so SQL turns any moment into "working seconds so far" with one
index look-up and back again (see ``queries.business_seconds`` / ``queries.from_business``).
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date, datetime, time, timedelta
from typing import Any, Iterator
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from attrs import frozen

from crmkit import ValidationError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPAN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def _parse_spans(day: str, text: Any) -> tuple[tuple[time, time], ...]:
    """``'09:00-12:00,13:00-17:00'`` as sorted (start, end) pairs; ``24:00`` is ``time.max``."""
    if text in (None, "", []):
        return ()
    parts = text.split(",") if isinstance(text, str) else list(text)
    spans = []
    for part in parts:
        match = _SPAN.match(str(part))
        if not match:
            raise ValidationError(f"hours.{day}", text, "working hours like '09:00-17:00' or '09:00-12:00,13:00-17:00'")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2):
            raise ValidationError(f"hours.{day}", part, "times from 00:00 to 24:00")
        start, end = time(h1, m1), (time.max if h2 == 24 else time(h2, m2))
        if end <= start:
            raise ValidationError(f"hours.{day}", part, "a span whose end is after its start")
        spans.append((start, end))
    spans.sort()
    for (_, first_end), (second_start, _) in zip(spans, spans[1:]):
        if second_start < first_end:
            raise ValidationError(f"hours.{day}", text, "spans that do not overlap")
    return tuple(spans)


def _clock_text(moment: time) -> str:
    """``09:30``; ``time.max`` (the end of the day) is ``24:00``."""
    return "24:00" if moment == time.max else moment.strftime("%H:%M")


def _span_seconds(start: time, end: time) -> int:
    """Seconds from ``start`` to ``end`` on one day; ``time.max`` ends the day at midnight."""
    finish = 86400 if end == time.max else end.hour * 3600 + end.minute * 60
    return finish - (start.hour * 3600 + start.minute * 60)


@frozen
class BusinessCalendar:
    """Working hours per weekday in a time zone, minus holidays. ``always`` means 24/7."""

    timezone: str = "UTC"
    hours: tuple[tuple[tuple[time, time], ...], ...] = ((),) * 7
    holidays: frozenset[date] = frozenset()
    always: bool = True

    @classmethod
    def from_setting(cls, value: dict | None, home_zone: str = "UTC") -> "BusinessCalendar":
        """Read the ``complaints.calendar`` setting (None or ``{}`` means round the clock).

        A calendar without a ``timezone`` of its own keeps the CRM's home zone (``home_zone``):
        a team may work in another zone than the company, but need not say so when it does not.

        ``{"timezone": "Europe/Berlin", "hours": {"mon": "09:00-17:00", ...},
        "holidays": ["2025-12-25", ...]}``; a weekday left out is not worked.
        """
        if not value:
            return cls()
        if not isinstance(value, dict):
            raise ValidationError("calendar", value, "a dict with timezone, hours and holidays")
        unknown = set(value) - {"timezone", "hours", "holidays"}
        if unknown:
            raise ValidationError("calendar", sorted(unknown)[0], "keys timezone, hours, holidays")
        zone = value.get("timezone") or home_zone
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationError("calendar.timezone", zone, "an IANA time zone such as Europe/Berlin") from None
        hours = value.get("hours") or {}
        if not isinstance(hours, dict):
            raise ValidationError("calendar.hours", hours, "a dict of weekday -> '09:00-17:00'")
        bad_days = set(hours) - set(WEEKDAYS)
        if bad_days:
            raise ValidationError("calendar.hours", sorted(bad_days)[0], "weekdays " + ", ".join(WEEKDAYS))
        spans = tuple(_parse_spans(day, hours.get(day)) for day in WEEKDAYS)
        if not any(spans):
            raise ValidationError("calendar.hours", hours, "working hours on at least one weekday")
        holidays = set()
        for item in value.get("holidays") or []:
            try:
                holidays.add(date.fromisoformat(str(item)))
            except ValueError:
                raise ValidationError("calendar.holidays", item, "dates like 2025-12-25") from None
        return cls(zone, spans, frozenset(holidays), False)

    def to_setting(self) -> dict | None:
        """The calendar as a ``complaints.calendar`` value that reads back to it, zone spelled out
        (None for round the clock)."""
        if self.always:
            return None
        return {
            "timezone": self.timezone,
            "hours": {
                day: ",".join(f"{_clock_text(start)}-{_clock_text(end)}" for start, end in spans)
                for day, spans in zip(WEEKDAYS, self.hours) if spans
            },
            "holidays": sorted(d.isoformat() for d in self.holidays),
        }

    def weekly_seconds(self) -> int:
        """Working seconds in a week without holidays, by the wall clock of each span."""
        return sum(_span_seconds(start, end) for spans in self.hours for start, end in spans)

    def fingerprint(self) -> str:
        """A short digest that changes whenever the calendar does."""
        text = json.dumps(
            [self.timezone, [[[s.isoformat(), e.isoformat()] for s, e in day] for day in self.hours],
             sorted(d.isoformat() for d in self.holidays), self.always]
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def intervals(self, first: date, last: date) -> Iterator[tuple[int, int]]:
        """Working intervals ``(start, end)`` in epoch seconds for the local days first..last."""
        zone = ZoneInfo(self.timezone)
        day = first
        while day <= last:
            if day not in self.holidays:
                for start, end in self.hours[day.weekday()]:
                    begin = datetime.combine(day, start, zone)
                    finish = (
                        datetime.combine(day + timedelta(days=1), time(0), zone) if end == time.max
                        else datetime.combine(day, end, zone)
                    )
                    begin_s, finish_s = int(begin.timestamp()), int(finish.timestamp())
                    if finish_s > begin_s:
                        yield begin_s, finish_s
            day += timedelta(days=1)
