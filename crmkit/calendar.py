"""The business's own clock: the home time zone and first weekday every calendar notion uses.

Times are stored in UTC; days, weeks, months, quarters and years are counted in the CRM's home
zone. A date given as ``as_of`` means its midnight there; "N days after" keeps the wall-clock
time (so a day across a daylight-saving change has 23 or 25 hours); whole days between two times
are counted on the wall clock. :class:`HomeCalendar` does this in Python and writes the SQL that
does the same in a statement, on either engine.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .engine.zones import checked_zone_name, is_utc
from .errors import ValidationError
from .store import days_between, epoch_seconds, shift_days_by, time_from_epoch
from .timeutil import UTC, to_datetime, to_iso

DEFAULT_ZONE = "UTC"
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
PERIODS = ("day", "week", "month", "quarter", "year")
_MONTHS = {"month": 1, "quarter": 3, "year": 12}


def zone_named(name: Any, field: str = "timezone") -> ZoneInfo:
    """The zone of an IANA name such as ``Asia/Shanghai``; a ValidationError for anything else."""
    expected = "an IANA time zone name such as Asia/Shanghai, Europe/Berlin or UTC"
    try:
        return ZoneInfo(checked_zone_name(str(name).strip()))
    except (ValueError, ZoneInfoNotFoundError, IsADirectoryError):
        raise ValidationError(field, name, expected) from None


def weekday_number(value: Any, field: str = "first_weekday") -> int:
    """0 (Monday) to 6 (Sunday) from a day name (``monday``, ``Sun``) or that number."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 6:
        return value
    text = str(value).strip().lower()
    for number, name in enumerate(WEEKDAYS):
        if len(text) >= 3 and name.startswith(text):
            return number
    raise ValidationError(field, value, "a day of the week such as monday or sunday")


class HomeCalendar:
    """Days, weeks and months in one zone, starting weeks on ``first_weekday`` (0 = Monday).

    Methods take and return aware datetimes; results are in UTC. ``db`` (optional) is the
    database whose SQL dialect the ``*_sql`` methods write.
    """

    def __init__(self, zone: str | ZoneInfo = DEFAULT_ZONE, first_weekday: int | str = 0, db: Any = None):
        self.zone = zone if isinstance(zone, ZoneInfo) else zone_named(zone)
        self.first_weekday = weekday_number(first_weekday)
        self._db = db

    @property
    def name(self) -> str:
        """The zone's IANA name."""
        return self.zone.key

    @property
    def is_utc(self) -> bool:
        """True when local time is UTC (every figure then is the plain UTC one)."""
        return is_utc(self.name)

    def __repr__(self) -> str:
        return f"HomeCalendar({self.name!r}, first_weekday={WEEKDAYS[self.first_weekday]!r})"

    # --- moments and days --------------------------------------------------------------------

    def to_datetime(self, value: Any, field: str = "time") -> datetime:
        """``value`` as UTC; a date means its local midnight, a time without offset local time."""
        return to_datetime(value, field, zone=self.zone)

    def local(self, moment: datetime) -> datetime:
        """``moment`` on the home zone's wall clock (aware)."""
        return to_datetime(moment).astimezone(self.zone)

    def local_date(self, moment: datetime) -> date:
        """The home-zone date ``moment`` falls on."""
        return self.local(moment).date()

    def midnight(self, day: date) -> datetime:
        """The UTC instant at which local ``day`` begins."""
        return _utc(datetime.combine(day, time(0), self.zone))

    def start_of_day(self, moment: datetime) -> datetime:
        """The start (UTC) of the local day ``moment`` falls on."""
        return self.midnight(self.local_date(moment))

    def add_days(self, moment: datetime, days: int) -> datetime:
        """``moment`` moved by whole local days, keeping its wall-clock time (23 or 25 hours
        for a day across a daylight-saving change)."""
        wall = self.local(moment).replace(tzinfo=None) + timedelta(days=days)
        return _utc(wall.replace(tzinfo=self.zone))

    def days_between(self, earlier: datetime, later: datetime) -> int:
        """Whole days from ``earlier`` to ``later`` counted on the wall clock (cut towards zero),
        as ``CAST(days_sql(...) AS INTEGER)`` counts them in SQL."""
        gap = self.local(later).replace(tzinfo=None) - self.local(earlier).replace(tzinfo=None)
        return int(gap.total_seconds() / 86400)

    @cached_property
    def stored_range(self) -> tuple[str, str]:
        """The earliest and latest storage times whose wall-clock time in the home zone falls in
        years 1 to 9999, the years a time can be shown, counted and compared in (a zone east of
        UTC ends before 9999-12-31T23:59:59Z, one west of it starts after 0001-01-01T00:00:00Z)."""
        return (
            self._utc_bound(datetime(1, 1, 1), "0001-01-01T00:00:00Z"),
            self._utc_bound(datetime(9999, 12, 31, 23, 59, 59), "9999-12-31T23:59:59Z"),
        )

    def check_stored(self, stamp: str, field: str) -> None:
        """Refuse a storage time outside :attr:`stored_range` with a ValidationError naming ``field``."""
        earliest, latest = self.stored_range
        if not earliest <= stamp <= latest:
            raise ValidationError(field, stamp, self.range_expected())

    def range_expected(self) -> str:
        """What :meth:`check_stored` expects, for messages."""
        earliest, latest = self.stored_range
        return f"a time whose date in the home zone ({self.name}) is in years 1 to 9999: {earliest} to {latest}"

    def _utc_bound(self, wall: datetime, beyond: str) -> str:
        try:
            return to_iso(wall.replace(tzinfo=self.zone))
        except ValidationError:  # the zone's bound lies outside UTC's range: UTC's own bound holds
            return beyond

    # --- periods -----------------------------------------------------------------------------

    def period_start(self, kind: str, moment: datetime) -> datetime:
        """The start (UTC) of the local day, week, month, quarter or year holding ``moment``."""
        day = self.local_date(moment)
        if kind == "day":
            first = day
        elif kind == "week":
            first = day - timedelta(days=(day.weekday() - self.first_weekday) % 7)
        elif kind in _MONTHS:
            month = day.month if kind == "month" else (1 if kind == "year" else 3 * ((day.month - 1) // 3) + 1)
            first = day.replace(month=month, day=1)
        else:
            raise ValidationError("period", kind, "day, week, month, quarter or year")
        return self.midnight(first)

    def add_periods(self, start: datetime, kind: str, count: int) -> datetime:
        """The start (UTC) of the local period ``count`` periods of ``kind`` after the one
        beginning at ``start`` (negative: before)."""
        day = self.local_date(start)
        if kind == "day":
            return self.midnight(day + timedelta(days=count))
        if kind == "week":
            return self.midnight(day + timedelta(days=7 * count))
        if kind in _MONTHS:
            return self.midnight(add_months(day, _MONTHS[kind] * count))
        raise ValidationError("period", kind, "day, week, month, quarter or year")

    # --- SQL ---------------------------------------------------------------------------------

    def local_sql(self, time_sql: str) -> str:
        """SQL for a storage time as local wall-clock text: ``substr(x, 1, 10)`` is its local day,
        ``substr(x, 1, 7)`` its local month. ``time_sql`` should be a column or parameter."""
        return time_sql if self.is_utc else self._database().local_time(time_sql, self.name)

    def days_sql(self, earlier_sql: str, later_sql: str) -> str:
        """SQL for the (fractional) days between two storage times on the local wall clock;
        ``CAST(... AS INTEGER)`` of it is :meth:`days_between`."""
        if self.is_utc:
            return days_between(earlier_sql, later_sql)
        db = self._database()
        # whole seconds, so a wall-clock day across a change is exactly 1.0, not 0.99999...
        seconds = f"({epoch_seconds(later_sql)} - {epoch_seconds(earlier_sql)})"
        shift = f"({db.utc_offset(later_sql, self.name)} - {db.utc_offset(earlier_sql, self.name)})"
        return f"(({seconds} + {shift}) / 86400.0)"

    def add_days_sql(self, time_sql: str, days_sql: str) -> str:
        """SQL for :meth:`add_days`: a storage time moved by ``days_sql`` (an SQL number of whole
        days) on the local wall clock, as storage text; NULL when either is NULL.

        A scalar subquery: the arguments are written once, so they may be any expressions
        (correlated ones included); the engine works out a bound made of parameters once per
        statement.
        """
        if self.is_utc:
            return shift_days_by(time_sql, days_sql)
        db = self._database()

        def offset(column: str) -> str:
            return db.utc_offset(column, self.name)

        # w: the target wall-clock time as if it were UTC (seconds). The storage time is w minus
        # the offset in force then; starting from the 24-hour shift, two steps reach it and,
        # like zoneinfo's fold=0, take the earlier offset for a wall time skipped or repeated.
        moved = f"{epoch_seconds('x.t')} + CAST(round((x.d) * 86400.0) AS INTEGER)"
        # OFFSET keeps each step a subquery of its own: merged into one, the steps would copy
        # each other's long offset expressions into every branch.
        step = "LIMIT 1 OFFSET 0"
        guess = f"SELECT {time_from_epoch(moved)} AS c, {moved} + {offset('x.t')} AS w FROM (SELECT {time_sql} AS t, {days_sql} AS d {step}) AS x {step}"
        nearer = time_from_epoch("y.w - " + offset("y.c"))
        closer = f"SELECT y.w AS w, {nearer} AS r FROM ({guess}) AS y {step}"
        return f"(SELECT {time_from_epoch('z.w - ' + offset('z.r'))} FROM ({closer}) AS z)"

    def _database(self):
        if self._db is None:
            raise ValueError("this calendar has no database to write SQL for")
        return self._db


def add_months(day: date, months: int) -> date:
    """``day`` moved by whole calendar months, clamped to the month's length."""
    import calendar as _stdlib_calendar

    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = _stdlib_calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(microsecond=0)
