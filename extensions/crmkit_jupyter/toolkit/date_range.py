"""One date range for every panel of a dashboard, in the CRM's home time zone.

The range is two local dates, "From" and "As of": it covers ``[From, As of)``, from local
midnight at the start of From to local midnight at the start of As of, which is what
``crm.as_of(date)`` and ``crmkit report --as-of DATE`` mean by a date (2025-06-01 closes May).
The CRM's calendar (``crm.calendar``) turns the dates into times, so a Shanghai CRM's day starts
at 16:00 UTC the evening before.

The dashboard makes one :class:`DateRange` and shows it above its tabs; a panel asks for it
with :func:`shared_range` in its factory and follows its changes with :meth:`DateRange.on_change`.
A panel built on its own (outside a dashboard) gets a range of its own and shows it itself.
"""

from __future__ import annotations

import weakref
from datetime import date, datetime, timedelta
from html import escape
from typing import Any, Callable

import ipywidgets as widgets

from .base import Composite

_SHARED: "weakref.WeakKeyDictionary[Any, DateRange]" = weakref.WeakKeyDictionary()


class DateRange(Composite):
    """Two date pickers, From and As of, in ``crm``'s home zone.

    ``as_of`` is the moment figures are computed at: the starting moment given (default: a demo
    file's "today", else the CRM's clock) until a date is picked, then that date's local midnight.
    ``start`` and ``end`` are the UTC bounds of ``[From, As of)``. CSS: ``crmkit-date-range``,
    ``crmkit-date-range-from``, ``crmkit-date-range-as-of``, ``crmkit-date-range-zone``.
    """

    def __init__(self, crm: Any, *, as_of: Any = None, start: Any = None):
        super().__init__("crmkit-date-range")
        self.crm = crm
        self._as_of = default_as_of(crm) if as_of is None else crm.as_of(as_of)
        first = crm.calendar.local_date(crm.as_of(start)) if start is not None else default_start(crm, self._as_of)
        self.in_dashboard = False
        self.from_picker = self.own(widgets.DatePicker(value=first, description="From"), "crmkit-date-range-from")
        self.as_of_picker = self.own(
            widgets.DatePicker(value=crm.calendar.local_date(self._as_of), description="As of"), "crmkit-date-range-as-of"
        )
        for picker in (self.from_picker, self.as_of_picker):
            picker.layout = widgets.Layout(width="auto")
            picker.style = {"description_width": "initial"}
        self.zone_note = self.own(widgets.HTML(self._note()), "crmkit-date-range-zone")
        self.children = [self.own(widgets.HBox(
            [self.from_picker, self.as_of_picker, self.zone_note],
            layout=widgets.Layout(flex_flow="row wrap", align_items="center"),
        ))]
        self.watch(self.from_picker, self._picked)
        self.watch(self.as_of_picker, self._picked)

    # --- public API -----------------------------------------------------------------------

    @property
    def as_of(self) -> datetime:
        """The moment (UTC) figures are computed at."""
        return self._as_of

    @property
    def first_day(self) -> date:
        """The From date (local)."""
        return self.from_picker.value

    @property
    def as_of_day(self) -> date:
        """The As of date (local)."""
        return self.as_of_picker.value

    @property
    def start(self) -> datetime:
        """Local midnight at the start of From, in UTC."""
        return self.crm.calendar.midnight(self.first_day)

    @property
    def end(self) -> datetime:
        """The end of the range (excluded), in UTC: :attr:`as_of`."""
        return self._as_of

    def bounds(self) -> tuple[datetime, datetime]:
        """``(start, end)`` in UTC, half-open; what ``crm.reports.build(period=...)`` takes as a range."""
        return self.start, self.end

    def set(self, first_day: date | None = None, as_of_day: date | None = None) -> None:
        """Pick dates from code (as a click in the pickers does); listeners run once."""
        self._quiet = True
        try:
            if first_day is not None:
                self.from_picker.value = first_day
            if as_of_day is not None:
                self.as_of_picker.value = as_of_day
        finally:
            self._quiet = False
        self._update()

    def close(self) -> None:
        """Close the pickers; panels built afterwards get a range of their own."""
        self.closed = True
        super().close()

    def on_change(self, callback: Callable[["DateRange"], Any], remove: bool = False) -> None:
        """Call ``callback(range)`` after every change of the dates."""
        self._register("change", callback, remove)

    def describe(self) -> str:
        """The range in words, for status lines: ``2025-06-01 to 2025-06-30 (Asia/Shanghai)``."""
        last = self.crm.calendar.local_date(self.end - timedelta(seconds=1))
        return f"{self.first_day} to {last} ({self.crm.calendar.name})"

    # --- internals ------------------------------------------------------------------------

    _quiet = False
    closed = False

    def _note(self) -> str:
        """The zone of the dates and what the As of date means: its local midnight once picked,
        the starting moment's local time of day until then."""
        calendar = self.crm.calendar
        if self._as_of == calendar.midnight(calendar.local_date(self._as_of)):
            meaning = "the start of that day"
        else:
            meaning = f"{calendar.local(self._as_of):%H:%M} on that day"
        return f"<span style='color:#555'>dates in {escape(calendar.name)}; as of = {meaning}</span>"

    def _picked(self, change) -> None:
        if not self._quiet and change["new"] is not None:
            self._update()

    def _update(self) -> None:
        if self.as_of_picker.value is None or self.from_picker.value is None:
            return
        self._as_of = self.crm.calendar.midnight(self.as_of_picker.value)
        self.zone_note.value = self._note()
        if self.from_picker.value >= self.as_of_picker.value:
            self._quiet = True
            try:  # an empty range is no range: From moves back to the day before As of
                self.from_picker.value = self.as_of_picker.value - timedelta(days=1)
            finally:
                self._quiet = False
        self._fire("change", self)


def default_as_of(crm: Any) -> datetime:
    """Where the dates start: a demo file's "today" (setting ``demo.today``), else the clock."""
    today = crm.settings.get("demo.today")
    return crm.as_of(today) if today else crm.now()


def default_start(crm: Any, as_of: datetime) -> date:
    """The first day of the local month holding the last moment before ``as_of`` (the month, or
    month to date, a report as of ``as_of`` covers)."""
    return crm.calendar.local_date(as_of - timedelta(seconds=1)).replace(day=1)


def shared_range(crm: Any, *, as_of: Any = None) -> DateRange:
    """The date range a panel of ``crm`` follows: the dashboard's when one is open, else a new
    one (the panel then shows it itself; its ``in_dashboard`` is False). ``as_of`` picks the
    As of date of the range returned."""
    found = _SHARED.get(crm)
    if found is None or found.closed:  # none, or its dashboard was closed
        return DateRange(crm, as_of=as_of)
    if as_of is not None:
        found.set(as_of_day=crm.calendar.local_date(crm.as_of(as_of)))
    return found


def share(crm: Any, dates: DateRange) -> None:
    """Make ``dates`` the range every panel of ``crm`` built from now on follows (the dashboard does this)."""
    dates.in_dashboard = True
    _SHARED[crm] = dates
