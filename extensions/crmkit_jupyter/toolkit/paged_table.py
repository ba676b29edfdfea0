"""A table that pages through a source one page at a time, sorted and filtered by the source."""

from __future__ import annotations

from html import escape
from typing import Any, Callable, Sequence

import ipywidgets as widgets
import traitlets

from .. import formatting
from .base import Composite
from .export import csv_link
from .sources import ListSource, PageSource
from .table_view import TableView


class PagedTable(Composite):
    """Rows of a :class:`PageSource`, ``page_size`` at a time; only the shown page is fetched.

    ``columns`` picks and orders the columns (default: the source's), ``labels`` renames headers
    (default: the column name in words), ``kinds`` says how a column's values read (``id``,
    ``number``, ``money``, ``percent``, ``date``, ``datetime``, ``text``, ``words`` for keys shown
    as words while the CSV keeps the key; default from the value, ids plain), ``formatters`` override that per column with a function. ``money`` values are
    integer minor units, shown with the currency of ``crm`` (through the core formatter).

    A click on a header the source can sort by (:attr:`PageSource.sortable`) sorts by it (again:
    the other way); the source sorts, so sorting a million rows costs one page. When the source
    is filterable a filter box narrows the rows. "CSV" writes the shown rows (filtered and
    sorted, up to :data:`CSV_LIMIT`) through the core's CSV writer to a download link. With
    ``selectable=True`` a click on a row sets :attr:`selected` (the row's key) and calls the
    callbacks given to :meth:`on_select`.

    CSS classes: ``crmkit-paged-table`` on the whole, ``crmkit-page-status``, ``crmkit-page-body``
    (a :class:`~crmkit_jupyter.toolkit.TableView`), ``crmkit-page-first/prev/next/last``,
    ``crmkit-page-filter``, ``crmkit-page-csv`` and ``crmkit-page-download``.
    """

    page_size = traitlets.Int(25, help="Rows per page.")
    selected = traitlets.Any(None, allow_none=True, help="Key of the selected row, or None.")

    def __init__(
        self, source: PageSource | None = None, *, columns: Sequence[str] | None = None,
        labels: dict[str, str] | None = None, kinds: dict[str, str] | None = None,
        formatters: dict[str, Callable[[Any], str]] | None = None, page_size: int = 25,
        selectable: bool = False, empty: str = "No rows.", crm: Any = None, filterable: bool = True,
        csv_name: str = "table.csv", **legacy: Any,
    ):
        super().__init__("crmkit-paged-table")
        legacy.pop("row_label", None)  # the drop-down it labelled is gone: rows are clicked
        if legacy:
            raise TypeError(f"unexpected arguments: {', '.join(legacy)}")
        self.page_size = page_size
        self._columns = tuple(columns) if columns else None
        self.labels = dict(labels or {})
        self.kinds = dict(kinds or {})
        self.formatters = dict(formatters or {})
        self.crm = crm
        self.csv_name = csv_name
        self.rows: list[dict] = []
        self.start = 0  # 0-based position of the first shown row; None when unknown
        self.total: int | None = None
        self.exact = True
        self.error: str | None = None
        self.base: PageSource | None = None  # the source as given: sorting and filtering start from it
        self.drilled: tuple[str, Any] | None = None  # (column, value) a chart click narrowed the rows to
        self.source: PageSource | None = None

        self.first_button = self.own(widgets.Button(description="«", tooltip="First page", layout=_narrow()), "crmkit-page-first")
        self.prev_button = self.own(widgets.Button(description="‹", tooltip="Previous page", layout=_narrow()), "crmkit-page-prev")
        self.next_button = self.own(widgets.Button(description="›", tooltip="Next page", layout=_narrow()), "crmkit-page-next")
        self.last_button = self.own(widgets.Button(description="»", tooltip="Last page", layout=_narrow()), "crmkit-page-last")
        self.status = self.own(widgets.HTML(), "crmkit-page-status")
        self.filter = self.own(widgets.Text(placeholder="filter rows — Enter", continuous_update=False,
                                            layout=widgets.Layout(width="220px", display="none")), "crmkit-page-filter")
        self.csv_button = self.own(widgets.Button(description="CSV", icon="download", tooltip="Export the shown rows as CSV",
                                                  layout=widgets.Layout(width="80px")), "crmkit-page-csv")
        self.download = self.own(widgets.HTML(), "crmkit-page-download")
        self.body = self.own(TableView(clickable=selectable, empty=empty), "crmkit-page-body")
        bar = self.own(widgets.HBox(
            [self.first_button, self.prev_button, self.next_button, self.last_button, self.status,
             self.filter, self.csv_button, self.download],
            layout=widgets.Layout(flex_flow="row wrap", align_items="center"),
        ))
        self.filterable = filterable
        self.on_click(self.first_button, self.first_page)
        self.on_click(self.prev_button, self.prev_page)
        self.on_click(self.next_button, self.next_page)
        self.on_click(self.last_button, self.last_page)
        self.on_click(self.csv_button, self.export)
        self.watch(self.filter, self._filtered)
        self.watch(self, self._resized, "page_size")
        self.body.on_sort(self.sort)
        self.body.on_row(self._clicked)
        self.children = [bar, self.body]
        if source is not None:
            self.set_source(source)

    # --- public API -----------------------------------------------------------------------

    @property
    def columns(self) -> tuple[str, ...]:
        if self._columns:
            return self._columns
        return tuple(self.source.columns) if self.source is not None else ()

    @property
    def empty(self) -> str:
        return self.body.empty

    def set_source(self, source: PageSource, count: tuple[int, bool] | None = None) -> None:
        """Show another source (e.g. after a new search) from its first page, unsorted and
        unfiltered. ``count`` is the source's ``count()`` when the caller has it already."""
        self.base = self.source = source
        self.body.sort_by, self.body.descending = "", False
        self.drilled = None
        self.filter.unobserve(self._filtered, "value")
        self.filter.value = ""
        self.filter.observe(self._filtered, "value")
        self.filter.layout.display = None if self.filterable and getattr(source, "filterable", False) else "none"
        self.download.value = ""
        self.refresh(count)

    def refresh(self, count: tuple[int, bool] | None = None) -> None:
        """Count the rows again (unless ``count`` is given) and show the first page."""
        if self.source is None:
            return

        def fetch():
            self.total, self.exact = count if count is not None else self.source.count()
            return self.source.page(self.page_size), 0

        self._go(fetch)

    def sort(self, column: str, descending: bool | None = None) -> None:
        """Sort by ``column`` (a header click): ascending first, the other way on the next call
        for the same column; ``descending`` forces a direction. Keeps the filter."""
        if self.base is None or column not in getattr(self.base, "sortable", ()):
            return
        if descending is None:
            descending = column == self.body.sort_by and not self.body.descending
        self.body.sort_by, self.body.descending = column, descending
        # The same rows in another order: the count stands (recounting a joined million-row
        # list takes longer than the page itself).
        self._reshape(count=None if self.total is None else (self.total, self.exact))

    def apply_filter(self, text: str) -> None:
        """Show only rows containing ``text`` (what typing in the filter box does)."""
        self.filter.value = text

    def drill(self, column: str, value: Any) -> None:
        """Show only rows whose ``column`` equals ``value`` (None: all rows again); wire a
        chart's :meth:`~crmkit_jupyter.toolkit.ChartView.on_pick` here for drill-down."""
        self.drilled = None if value is None else (column, value)
        if self.base is not None:
            self._reshape()

    def export(self) -> str:
        """The shown rows (filtered and sorted, up to :data:`CSV_LIMIT`) as CSV text; also put
        into a download link next to the button."""
        if self.source is None:
            return ""
        from .export import csv_text

        text, rows = csv_text(self.source, self.columns, self._label, self._csv_value)
        self.download.value = csv_link(text, self.csv_name, rows)
        return text

    def first_page(self) -> None:
        """Show the first page."""
        self._go(lambda: (self.source.page(self.page_size), 0))

    def next_page(self) -> None:
        """Show the page after the current one (nothing happens on the last page)."""
        if not self.rows:
            return
        rows = self._try(lambda: self.source.page(self.page_size, after=self.rows[-1]))
        if rows:
            self._load(rows, None if self.start is None else self.start + len(self.rows))

    def prev_page(self) -> None:
        """Show the page before the current one (nothing happens on the first page)."""
        if not self.rows:
            return
        rows = self._try(lambda: self.source.page(self.page_size, before=self.rows[0]))
        if rows:
            start = None if self.start is None else max(0, self.start - len(rows))
            if start is None and len(rows) < self.page_size:
                start = 0
            self._load(rows, start)

    def last_page(self) -> None:
        """Show the last page."""
        def fetch():
            rows = self.source.page(self.page_size, last=True)
            start = self.total - len(rows) if self.exact and self.total is not None else None
            return rows, start

        self._go(fetch)

    def on_select(self, callback: Callable[[Any], Any], remove: bool = False) -> None:
        """Call ``callback(key)`` when a row is clicked."""
        self._register("select", callback, remove)

    def select(self, key: Any) -> None:
        """Select a row by key, as if it were clicked, and fire the callbacks."""
        self.selected = key
        self._fire("select", key)

    def text(self, row: dict, column: str) -> str:
        """A cell as the table shows it."""
        value = row.get(column)
        if column in self.formatters:
            return self.formatters[column](value)
        return formatting.cell(value, self._kind(column, value), self.crm)

    # --- internals ------------------------------------------------------------------------

    def _label(self, column: str) -> str:
        return self.labels.get(column) or formatting.label(column)

    def _kind(self, column: str, value: Any) -> str:
        if column in self.kinds:
            return self.kinds[column]
        key = self.source.key if self.source is not None else "id"
        return formatting.kind_of(column, value, key)

    def _csv_value(self, row: dict, column: str) -> Any:
        value = row.get(column)
        if column in self.formatters or value is None:
            return self.text(row, column) if value is not None else ""
        return formatting.raw(value, self._kind(column, value), self.crm)

    def _reshape(self, count: tuple[int, bool] | None = None) -> None:
        """Show the base source drilled, sorted and filtered as the table says, from its first
        page; ``count`` is the rows' count when the caller knows it is unchanged."""
        source = self.base
        if self.drilled is not None:
            source = source.matching(*self.drilled)
        if self.body.sort_by:
            source = source.with_order(self.body.sort_by, self.body.descending)
        text = self.filter.value.strip()
        if text and getattr(source, "filterable", False):
            source = self._filter(source, text)
        self.source = source
        self.download.value = ""
        self.refresh(count)

    def _filter(self, source: PageSource, text: str) -> PageSource:
        """``source`` narrowed to ``text``; a list is matched against the shown cells too."""
        if isinstance(source, ListSource):
            return source.filtered(text, shown=self.text)
        return source.filtered(text)

    def _fail(self, error: BaseException) -> None:
        self.error = str(error) or type(error).__name__
        self.rows = []
        self.body.error = self.error
        self.status.value = ""

    def _try(self, fetch: Callable[[], list[dict]]) -> list[dict] | None:
        try:
            return fetch()
        except Exception as error:  # noqa: BLE001 - shown in the widget
            self._fail(error)
            return None

    def _go(self, fetch: Callable[[], tuple[list[dict], int | None]]) -> None:
        if self.source is None:
            return
        try:
            rows, start = fetch()
        except Exception as error:  # noqa: BLE001 - shown in the widget
            self._fail(error)
            return
        self._load(rows, start)

    def _load(self, rows: list[dict], start: int | None) -> None:
        self.error = None
        self.rows = rows
        self.start = start
        sortable = set(getattr(self.base, "sortable", ()))
        first = rows[0] if rows else {}
        header = [
            {"key": c, "label": self._label(c), "sortable": c in sortable,
             "align": "right" if self._kind(c, first.get(c)) in formatting.RIGHT_ALIGNED else "left"}
            for c in self.columns
        ]
        self.body.show(header, [[self.text(row, c) for c in self.columns] for row in rows])
        self.status.value = f"<span class='crmkit-page-status-text'>{escape(self._status_text())}</span>"
        at_start = start == 0 or not rows
        at_end = not rows or (self.exact and start is not None and self.total is not None and start + len(rows) >= self.total)
        self.first_button.disabled = self.prev_button.disabled = at_start
        self.next_button.disabled = self.last_button.disabled = at_end

    def _status_text(self) -> str:
        count = self._count
        total = "?" if self.total is None else count(self.total) + ("" if self.exact else "+")
        narrowed = "" if self.drilled is None else f" · {self._label(self.drilled[0])} = {self.drilled[1]}"
        if not self.rows:
            return (f"no rows (of {total})" if self.total else "no rows") + narrowed
        if self.start is None:
            return f"{count(len(self.rows))} rows of {total}{narrowed}"
        return f"rows {count(self.start + 1)}–{count(self.start + len(self.rows))} of {total}{narrowed}"

    def _count(self, number: int) -> str:
        """A row count grouped as the table's numbers are (the CRM's locale; 1,234 without one)."""
        return f"{number:,}" if self.crm is None else formatting.cell(number, "number", self.crm)

    def _clicked(self, index: int) -> None:
        key = self.source.key if self.source is not None else "id"
        if 0 <= index < len(self.rows):
            self.select(self.rows[index].get(key))

    def _filtered(self, change) -> None:
        if self.base is not None:
            self._reshape()

    def _resized(self, change) -> None:
        if self.source is not None:
            self.first_page()


def _narrow() -> widgets.Layout:
    return widgets.Layout(width="36px")
