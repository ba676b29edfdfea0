"""How values read for people, in one place: numbers, money, rates, dates, durations and ids.

Every human-facing view (the HTML and terminal report, the dashboard) formats through a
:class:`Formatter`, so a rate reads the same everywhere and money always carries the CRM's
currency. Machine-readable outputs (CSV, JSON) never go through it: they keep raw values.

The locale comes from, in order: the caller, the CRM's ``core.locale`` setting, the environment
(``LC_ALL``, ``LC_MESSAGES``, ``LANG``), else ``en_US``. Formats are babel's (CLDR data).
"""

from __future__ import annotations

import os
import re
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Mapping

from babel import Locale, UnknownLocaleError
from babel import dates as babel_dates
from babel import numbers as babel_numbers

from .money import exponent_of, from_minor
from .timeutil import UTC, to_datetime

if TYPE_CHECKING:
    from .crm import CRM

DEFAULT_LOCALE = "en_US"
LOCALE_SETTING = "core.locale"
MISSING = "–"
RATE_PATTERN = "#,##0.0%"

# Phrases CLDR does not hold, per language; other languages fall back to babel's "in 3 days" /
# "3 days ago" wording.
_PHRASES = {
    "en": {"overdue": "{0} overdue", "due": "due in {0}", "points": "{0} pp"},
    "zh": {"overdue": "逾期{0}", "due": "{0}后到期", "points": "{0}个百分点"},
}


class Formatter:
    """Formats values for one locale, currency and display time zone."""

    def __init__(self, locale: str = DEFAULT_LOCALE, currency: str = "USD", zone: tzinfo | None = None):
        self.locale = parse_locale(locale)
        self.currency = currency.upper()
        self.exponent = exponent_of(self.currency)
        self.zone = zone or UTC
        self._phrases = _PHRASES.get(self.locale.language)

    @classmethod
    def for_crm(cls, crm: "CRM", locale: str | None = None, zone: tzinfo | None = None) -> "Formatter":
        """The formatter for ``crm``: its currency, its locale setting, its display zone."""
        chosen = locale or crm.settings.get(LOCALE_SETTING) or locale_from_environment()
        return cls(chosen or DEFAULT_LOCALE, crm.currency, zone or getattr(crm, "zone", None))

    def __repr__(self) -> str:
        return f"Formatter(locale={str(self.locale)!r}, currency={self.currency!r}, zone={self.zone!s})"

    # -- numbers -----------------------------------------------------------------------------

    def number(self, value: int | float | Decimal | None, places: int | None = None) -> str:
        """A quantity with the locale's separators: ``1,234,567``; ``places`` fixes the decimals."""
        if value is None:
            return MISSING
        if places is None:
            if isinstance(value, float):
                places = 0 if abs(value) >= 100 else 2
                return babel_numbers.format_decimal(
                    round(value, places), format=_decimal_pattern(0, places), locale=self.locale
                )
            return babel_numbers.format_decimal(value, locale=self.locale)
        return babel_numbers.format_decimal(
            value, format=_decimal_pattern(places, places), locale=self.locale
        )

    def signed(self, value: int | float | Decimal | None, places: int | None = None) -> str:
        """A change with its sign: ``+1,234``, ``-5``, ``0``."""
        if value is None:
            return MISSING
        text = self.number(value, places)
        return f"+{text}" if value > 0 else text

    def ident(self, value: Any) -> str:
        """An id as it is stored: ``1234``, never ``1,234``."""
        return MISSING if value is None else str(value)

    # -- money -------------------------------------------------------------------------------

    def money(self, minor: int | None) -> str:
        """Money from integer minor units, with the currency symbol: ``$1,234.50``."""
        if minor is None:
            return MISSING
        return self.amount(from_minor(int(minor), self.exponent))

    def amount(self, value: Decimal | int | None) -> str:
        """Money already in major units (a Decimal), with the currency symbol."""
        if value is None:
            return MISSING
        return babel_numbers.format_currency(value, self.currency, locale=self.locale)

    def money_change(self, minor: int | None) -> str:
        """A change in money with its sign: ``+$12.00``."""
        if minor is None:
            return MISSING
        text = self.money(minor)
        return f"+{text}" if minor > 0 else text

    # -- rates -------------------------------------------------------------------------------

    def rate(self, fraction: float | Decimal | None) -> str:
        """A fraction as a percentage with one decimal: ``0.0838`` → ``8.4%``."""
        if fraction is None:
            return MISSING
        return babel_numbers.format_percent(fraction, RATE_PATTERN, locale=self.locale)

    def rate_change(self, fraction: float | Decimal | None) -> str:
        """A change between two rates in percentage points: ``0.012`` → ``+1.2 pp``."""
        if fraction is None:
            return MISSING
        points = self.signed(Decimal(str(fraction)) * 100, places=1)
        template = self._phrases["points"] if self._phrases else _PHRASES["en"]["points"]
        return template.format(points)

    # -- dates and times ---------------------------------------------------------------------

    def date(self, value: date | datetime | str | None) -> str:
        """A calendar date in the locale's medium form: ``Dec 5, 2026``; a time gives its local date."""
        if value is None or value == "":
            return MISSING
        if isinstance(value, date) and not isinstance(value, datetime):
            day = value
        else:
            day = to_datetime(value).astimezone(self.zone).date()
        return babel_dates.format_date(day, "medium", locale=self.locale)

    def month(self, value: date | datetime | str | None) -> str:
        """A calendar month: ``Jun 2025``; takes a date, a time or ``YYYY-MM`` text."""
        if value is None or value == "":
            return MISSING
        if isinstance(value, str) and len(value) == 7:
            value = f"{value}-01"
        if isinstance(value, date) and not isinstance(value, datetime):
            day = value
        else:
            day = to_datetime(value).astimezone(self.zone).date()
        return babel_dates.format_skeleton("yMMM", day, locale=self.locale)

    def period(self, start: datetime | str, end: datetime | str, kind: str = "range") -> str:
        """A span of time ``[start, end)`` as a calendar reads it: a whole ``month`` ``Jun 2025``,
        ``quarter`` ``Q2 2025`` or ``year`` ``2025``; one cut short (a month to date) and any other
        span from its first to its last day (``Jun 1 – 29, 2025``); on the display zone's calendar."""
        first = to_datetime(start).astimezone(self.zone).date()
        last = (to_datetime(end) - timedelta(microseconds=1)).astimezone(self.zone).date()
        skeleton = {"month": "yMMM", "quarter": "yQQQ", "year": "y"}.get(kind)
        if skeleton and self._whole(to_datetime(start), to_datetime(end), first, kind):
            return babel_dates.format_skeleton(skeleton, first, locale=self.locale)
        # A month, quarter or year cut short (to date) reads as the days it covers.
        if last <= first:
            return self.date(first)
        return babel_dates.format_interval(first, last, "yMMMd", locale=self.locale)

    def _whole(self, start: datetime, end: datetime, first: date, kind: str) -> bool:
        """Whether ``[start, end)`` is the whole calendar ``kind`` beginning on ``first``: from
        its first local midnight to the next period's (not to a moment of its last day)."""
        last = _last_day(first, kind)
        if last == date.max:
            return start == _midnight(first, self.zone)
        return start == _midnight(first, self.zone) and end == _midnight(last + timedelta(days=1), self.zone)

    def datetime(self, value: datetime | str | None) -> str:
        """A moment in the display zone, to the minute, naming the zone: ``Dec 5, 2026, 2:11 PM UTC``."""
        if value is None or value == "":
            return MISSING
        moment = to_datetime(value)
        glue = babel_dates.get_datetime_format("medium", locale=self.locale)
        pattern = (
            glue.replace("{1}", babel_dates.get_date_format("medium", locale=self.locale).pattern)
            .replace("{0}", babel_dates.get_time_format("short", locale=self.locale).pattern + " z")
        )
        return babel_dates.format_datetime(moment, pattern, tzinfo=self.zone, locale=self.locale)

    def local_time(self, value: datetime | str | None) -> str:
        """A moment on the display zone's clock with the zone, locale-neutral: ``2025-07-01 07:00 CST``."""
        return local_time(value, self.zone)

    def duration(self, value: timedelta | None) -> str:
        """A length of time in words, rounded to its largest unit: ``3 days``, ``2 hours``."""
        if value is None:
            return MISSING
        return babel_dates.format_timedelta(abs(value), threshold=1.5, locale=self.locale)

    def lateness(self, late_by: timedelta | None) -> str:
        """Time past a deadline (positive) or left before it (negative): ``3 days overdue``, ``due in 2 hours``."""
        if late_by is None:
            return MISSING
        words = self.duration(late_by)
        if self._phrases is None:
            return babel_dates.format_timedelta(
                -late_by, threshold=1.5, add_direction=True, locale=self.locale
            )
        key = "overdue" if late_by > timedelta(0) else "due"
        return self._phrases[key].format(words)

    # -- by kind -----------------------------------------------------------------------------

    def value(self, value: Any, kind: str | None = None) -> str:
        """``value`` formatted as ``kind`` (number, money, rate, date, datetime, duration, id, text).

        Without a kind, the value's type decides: numbers get separators, dates read as dates,
        times as times with zone, missing values as a dash.
        """
        if value is None or value == "":
            return MISSING
        if kind is not None:
            return self._by_kind(value, kind)
        if isinstance(value, bool):
            return "✓" if value else "✗"
        if isinstance(value, (int, float, Decimal)):
            return self.number(value)
        if isinstance(value, datetime):
            return self.datetime(value)
        if isinstance(value, date):
            return self.date(value)
        if isinstance(value, timedelta):
            return self.duration(value)
        if isinstance(value, (list, tuple)):
            return ", ".join(self.value(item) for item in value)
        return str(value)

    def change(self, value: Any, kind: str | None = None) -> str:
        """A difference between two periods of a ``kind`` of figure, with its sign; money
        (``money`` in minor units, ``amount`` in major units) keeps its currency: ``+$12.00``."""
        if value is None:
            return MISSING
        if kind == "rate":
            return self.rate_change(value)
        if kind == "money":
            return self.money_change(value)
        if kind == "amount":
            text = self.amount(value)
            return f"+{text}" if value > 0 else text
        return self.signed(value)

    def _by_kind(self, value: Any, kind: str) -> str:
        formats = {
            "number": self.number, "money": self.money, "amount": self.amount, "rate": self.rate,
            "date": self.date, "month": self.month, "datetime": self.datetime, "duration": self.duration,
            "lateness": self.lateness, "id": self.ident, "text": str,
        }
        if kind not in formats:
            raise ValueError(f"unknown kind of value {kind!r}; one of {', '.join(formats)}")
        return formats[kind](value)


_MONTH_KEY = re.compile(r"^m(\d+)$")
# Abbreviations that read in capitals; every other word keeps its case.
_ABBREVIATIONS = {"sla": "SLA", "rfm": "RFM", "clv": "CLV", "id": "ID", "csat": "CSAT", "kpi": "KPI", "p90": "90th percentile"}


def heading(name: str) -> str:
    """A title from a key: ``new_customers`` → "New customers", ``sla_due`` → "SLA due",
    ``m3`` → "Month 3" (the report's cohort columns)."""
    month = _MONTH_KEY.match(name)
    if month:
        return f"Month {month.group(1)}"
    words = [_ABBREVIATIONS.get(word.lower(), word) for word in re.split(r"[_\s]+", name.strip()) if word]
    if not words:
        return name
    first = words[0]
    return " ".join([first[:1].upper() + first[1:], *words[1:]])


def local_time(value: datetime | date | str | None, zone: tzinfo | None = None) -> str:
    """A stored moment as people read it, on ``zone``'s clock (the CRM's home zone; UTC when None)
    to the minute and naming the zone: ``2025-07-01 07:00 CST``, ``2025-06-30 23:00 UTC``.

    The zone is its abbreviation when it has a lettered one, else its offset (``+04:00``), so a
    time never reads without its zone. The CLI, the report and the dashboard print times
    through this; machine-readable exports keep UTC ISO-8601 instead. Missing values are a dash.
    """
    if value is None or value == "":
        return MISSING
    local = to_datetime(value).astimezone(zone or UTC)
    return f"{local.year:04d}{local:-%m-%d %H:%M} {_zone_text(local)}"


def _midnight(day: date, zone: tzinfo) -> datetime:
    """The moment ``day`` begins on ``zone``'s wall clock."""
    return datetime(day.year, day.month, day.day, tzinfo=zone)


def _last_day(first: date, kind: str) -> date:
    """The last day of the calendar month, quarter or year that starts on ``first``."""
    months = {"month": 1, "quarter": 3, "year": 12}[kind]
    index = first.year * 12 + first.month - 1 + months
    if index // 12 > date.max.year:
        return date.max
    return date(index // 12, index % 12 + 1, 1) - timedelta(days=1)


def _zone_text(local: datetime) -> str:
    name = local.tzname() or ""
    if name.isalpha():
        return name
    offset = local.utcoffset() or timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    minutes = int(abs(offset).total_seconds()) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def parse_locale(name: str) -> Locale:
    """A babel Locale from ``en_US``, ``zh-CN`` or ``zh_CN.UTF-8``; an unknown name is an error."""
    text = str(name).split(".")[0].split("@")[0].replace("-", "_")
    try:
        return Locale.parse(text)
    except (UnknownLocaleError, ValueError):
        raise ValueError(f"unknown locale {name!r}; give one like en_US or zh_CN") from None


def locale_from_environment(environ: Mapping[str, str] | None = None) -> str | None:
    """The locale named by ``LC_ALL``, ``LC_MESSAGES`` or ``LANG``; None for C/POSIX or unknown names."""
    environ = os.environ if environ is None else environ
    for variable in ("LC_ALL", "LC_MESSAGES", "LANG"):
        name = environ.get(variable, "")
        if not name:
            continue
        if name.split(".")[0] in ("C", "POSIX"):
            return None
        try:
            return str(parse_locale(name))
        except ValueError:
            return None
    return None


def _decimal_pattern(least: int, most: int) -> str:
    return "#,##0" + ("." + "0" * least + "#" * (most - least) if most else "")
