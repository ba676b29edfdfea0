"""A time zone's UTC offsets as data, for engines without zone support of their own (SQLite).

PostgreSQL converts times between zones itself (``AT TIME ZONE``); SQLite knows only UTC and the
machine's zone. For SQLite the engine layer spells "the UTC offset of this stored time in the
home zone" as a balanced search over the zone's transition instants, written into the statement:
a handful of text comparisons per row, all in SQLite's own C code.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

UTC = timezone.utc
FIRST_YEAR, LAST_YEAR = 1900, 2100
_ZONE_NAME = re.compile(r"^[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*$")


def checked_zone_name(name: str) -> str:
    """``name`` when it is safe to write into SQL as a literal (an IANA name); else ValueError."""
    if not isinstance(name, str) or not _ZONE_NAME.match(name):
        raise ValueError(f"not a time zone name: {name!r}")
    return name


def is_utc(name: str) -> bool:
    """True for the names of UTC itself, whose local time is the stored time."""
    return name in ("UTC", "Etc/UTC", "Etc/UCT", "UCT", "Zulu", "Etc/Zulu", "Universal", "Etc/Universal", "GMT", "Etc/GMT")


@lru_cache(maxsize=32)
def transitions(name: str) -> tuple[tuple[str, int], ...]:
    """``(start, offset)`` intervals of zone ``name`` from 1900 to 2100: each start is storage
    text (the first is ``''``, i.e. "since ever") and offset the UTC offset in seconds from then on.
    """
    zone = ZoneInfo(checked_zone_name(name))
    if is_utc(name):
        return (("", 0),)

    def offset(moment: datetime) -> int:
        return int(moment.astimezone(zone).utcoffset().total_seconds())

    moment = datetime(FIRST_YEAR, 1, 1, tzinfo=UTC)
    end = datetime(LAST_YEAR, 1, 1, tzinfo=UTC)
    current = offset(moment)
    found: list[tuple[str, int]] = [("", current)]
    # A week's step: no zone changes its offset and back again within a week.
    step = timedelta(days=7)
    while moment < end:
        following = moment + step
        after = offset(following)
        if after != current:
            low, high = moment, following  # offset(low) == current, offset(high) == after
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                middle = middle.replace(microsecond=0)
                if offset(middle) == current:
                    low = middle
                else:
                    high = middle
            found.append((high.strftime("%Y-%m-%dT%H:%M:%SZ"), after))
            current = after
        moment = following
    return tuple(found)


def offset_case(time_sql: str, name: str) -> str:
    """SQL for the UTC offset in seconds, in zone ``name``, of the storage time ``time_sql``.

    A balanced CASE over the transition instants: about log2(transitions) comparisons per row.
    ``time_sql`` is written once per transition: pass a column or a parameter.
    """
    intervals = transitions(name)
    if len(intervals) == 1:
        return str(intervals[0][1])

    def search(low: int, high: int) -> str:
        if low == high:
            return str(intervals[low][1])
        middle = (low + high + 1) // 2
        return f"CASE WHEN {time_sql} < '{intervals[middle][0]}' THEN {search(low, middle - 1)} ELSE {search(middle, high)} END"

    return f"({search(0, len(intervals) - 1)})"
