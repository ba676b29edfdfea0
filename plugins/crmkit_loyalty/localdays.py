"""Whole days of the loyalty plugin on the CRM's home calendar, in Python and in SQL.

"N days later" keeps the wall-clock time in the home zone (a day across a daylight-saving
change has 23 or 25 hours), as :meth:`crmkit.calendar.HomeCalendar.add_days` does. A points
batch's expiry may also run to the end of that local day or month (``expiry_end``). The SQL
forms give the same instants as the Python ones for a whole batch of rows in one statement; in
a UTC CRM they are the plain ``N × 24 hours`` of the store helpers.
"""

from __future__ import annotations

from datetime import datetime

from crmkit.calendar import HomeCalendar
from crmkit.store import epoch_seconds, shift_days, time_from_epoch

def days_later(calendar: HomeCalendar, moment: datetime, days: int) -> datetime:
    """``moment`` moved by ``days`` local days, keeping its wall-clock time."""
    return calendar.add_days(moment, days)


def expiry(calendar: HomeCalendar, moment: datetime, days: int, end: str = "day") -> datetime:
    """When a batch earned at ``moment`` expires: ``days`` local days later, and with ``end``
    ``day`` or ``month`` at the end of that local day or month (unchanged if it falls on the
    local midnight that ends it)."""
    later = calendar.add_days(moment, days)
    if end == "exact":
        return later
    start = calendar.period_start("day" if end == "day" else "month", later)
    return later if later == start else calendar.add_periods(start, end, 1)


def days_later_sql(crm, time_sql: str, days: int) -> str:
    """SQL for a storage time (a column or a parameter) moved by ``days`` local days, keeping
    its wall-clock time; as storage text."""
    if crm.calendar.is_utc:
        return shift_days(time_sql, days)
    return crm.calendar.add_days_sql(time_sql, str(int(days)))


def to_utc_sql(crm, origin_sql: str, moved_sql: str) -> str:
    """SQL for the instant whose wall-clock time is ``moved_sql``'s, when ``moved_sql`` (storage
    text) was reached from ``origin_sql`` by moving by a wall-clock duration as if in UTC: the
    zone's offsets at both ends put back the daylight-saving change between them (exact unless
    the result lies within that change's hour of it). Both should be columns or parameters
    (each is written many times)."""
    if crm.calendar.is_utc:
        return moved_sql
    shift = f"({_offset(crm, origin_sql)} - {_offset(crm, moved_sql)})"
    return time_from_epoch(f"{epoch_seconds(moved_sql)} + {shift}")


def local_target_sql(local_sql: str, days: int, end: str) -> str:
    """SQL for the wall-clock text (storage format) ``days`` days after the wall-clock text
    ``local_sql``; with ``end`` ``day`` or ``month`` rounded up to the next local midnight or
    first of a month (unchanged when already there)."""
    moved = shift_days(local_sql, days)
    if end == "exact":
        return moved
    if end == "day":
        # Whole days keep the time of day, so the test and the next midnight read ``local_sql``
        # itself: one date shift per row instead of three (a 1M-purchase import spent 1 s on them).
        return (f"CASE WHEN substr({local_sql}, 12, 8) = '00:00:00' THEN {moved} "
                f"ELSE substr({shift_days(local_sql, days + 1)}, 1, 10) || 'T00:00:00Z' END")
    month_start = f"substr({moved}, 1, 7) || '-01T00:00:00Z'"
    return (f"CASE WHEN substr({moved}, 9, 11) = '01T00:00:00' THEN {moved} "
            f"ELSE substr({shift_days(month_start, 32)}, 1, 7) || '-01T00:00:00Z' END")


class BatchDates:
    """The unlock and expiry times of points earned by a batch of interactions, in SQL.

    ``source(where)`` is the FROM clause naming the batch's interactions ``i`` (``where``
    selects them); ``available_at`` and ``expires_at`` are expressions over it. In a zone other
    than UTC the batch is first read with its wall-clock times, then moved (each step
    materialized, so a zone's offset table is written once per column, not once per use).
    """

    def __init__(self, crm, lock_days: int, expiry_days: int | None, expiry_end: str = "day"):
        self._crm = crm
        self.lock_days = lock_days
        self.expiry_days = expiry_days
        self.expiry_end = expiry_end

    def source(self, where: str) -> str:
        """``FROM ...`` of the batch's interactions as ``i`` (with the moved times when needed)."""
        calendar = self._crm.calendar
        if calendar.is_utc:
            return f"FROM interactions i WHERE {where}"
        moved = [f"{shift_days('w.occurred_at', self.lock_days)} AS lock_wall"] if self.lock_days else []
        if self.expiry_days is not None:
            moved.append(f"{_moved('w.local_at', self.expiry_days, self.expiry_end)} AS expiry_wall")
        return f"""FROM (
            WITH w AS MATERIALIZED (
                SELECT i.id, i.customer_id, i.kind, i.amount, i.occurred_at, {calendar.local_sql('i.occurred_at')} AS local_at
                FROM interactions i WHERE {where}),
            m AS MATERIALIZED (SELECT w.*{''.join(', ' + column for column in moved)} FROM w)
            SELECT * FROM m
        ) AS i"""

    @property
    def available_at(self) -> str:
        """SQL of the batch row's unlock time."""
        if self.lock_days == 0:
            return "i.occurred_at"
        if self._crm.calendar.is_utc:
            return shift_days("i.occurred_at", self.lock_days)
        return to_utc_sql(self._crm, "i.occurred_at", "i.lock_wall")

    @property
    def expires_at(self) -> str:
        """SQL of the batch row's expiry time (NULL when points never expire)."""
        if self.expiry_days is None:
            return "NULL"
        if self._crm.calendar.is_utc:
            return local_target_sql("i.occurred_at", self.expiry_days, self.expiry_end)
        return to_utc_sql(self._crm, "i.occurred_at", "i.expiry_wall")


def _moved(local_sql: str, days: int, end: str) -> str:
    """``i.occurred_at`` moved by the wall-clock duration to the target of ``local_sql``."""
    target = local_target_sql(local_sql, days, end)
    return time_from_epoch(f"{epoch_seconds('w.occurred_at')} + {epoch_seconds(target)} - {epoch_seconds(local_sql)}")


def _offset(crm, time_sql: str) -> str:
    return crm.db.utc_offset(time_sql, crm.calendar.name)
