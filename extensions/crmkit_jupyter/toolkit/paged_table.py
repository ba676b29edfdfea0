"""A table that pages through a source one page at a time (first, previous, next, last)."""

from __future__ import annotations

from html import escape
from typing import Any, Callable, Sequence

import ipywidgets as widgets
import traitlets

from .. import formatting
from .base import Composite, error_html
from .sources import PageSource


class PagedTable(Composite):
    """Rows of a :class:`PageSource`, ``page_size`` at a time; only the shown page is fetched.

    ``columns`` picks and orders the columns (default: the source's), ``labels`` renames headers,
    ``formatters`` turn values into text. With ``selectable=True`` a drop-down lists the rows of
    the page; choosing one sets :attr:`selected` (the row's key) and calls the callbacks given to
    :meth:`on_select`. CSS classes: ``crmkit-paged-table`` on the whole, ``crmkit-page-status``,
    ``crmkit-page-body``, ``crmkit-page-first/prev/next/last`` and ``crmkit-page-select``.
    """

    page_size = traitlets.Int(25, help="Rows per page.")
    selected = traitlets.Any(None, allow_none=True, help="Key of the selected row, or None.")

    def __init__(
        self, source: PageSource | None = None, *, columns: Sequence[str] | None = None,
        labels: dict[str, str] | None = None, formatters: dict[str, Callable[[Any], str]] | None = None,
        page_size: int = 25, selectable: bool = False, row_label: Callable[[dict], str] | None = None,
        empty: str = "No rows.",
    ):
        super().__init__("crmkit-paged-table")
        self.page_size = page_size
        self._columns = tuple(columns) if columns else None
        self.labels = dict(labels or {})
        self.formatters = dict(formatters or {})
        self.empty = empty
        self.row_label = row_label
        self.rows: list[dict] = []
        self.start = 0  # 0-based position of the first shown row; None when unknown
        self.total: int | None = None
        self.exact = True
        self.error: str | None = None
        self.source: PageSource | None = None

        self.first_button = self.own(widgets.Button(description="«", tooltip="First page", layout=_narrow()), "crmkit-page-first")
        self.prev_button = self.own(widgets.Button(description="‹", tooltip="Previous page", layout=_narrow()), "crmkit-page-prev")
        self.next_button = self.own(widgets.Button(description="›", tooltip="Next page", layout=_narrow()), "crmkit-page-next")
        self.last_button = self.own(widgets.Button(description="»", tooltip="Last page", layout=_narrow()), "crmkit-page-last")
        self.status = self.own(widgets.HTML(), "crmkit-page-status")
        self.body = self.own(widgets.HTML(), "crmkit-page-body")
        self.chooser = self.own(widgets.Dropdown(description="Open:", options=[], value=None), "crmkit-page-select")
        bar = self.own(widgets.HBox([self.first_button, self.prev_button, self.next_button, self.last_button, self.status]))
        self.on_click(self.first_button, self.first_page)
        self.on_click(self.prev_button, self.prev_page)
        self.on_click(self.next_button, self.next_page)
        self.on_click(self.last_button, self.last_page)
        self.watch(self.chooser, self._chosen)
        self.watch(self, self._resized, "page_size")
        self.children = [bar, self.body] + ([self.chooser] if selectable else [])
        if source is not None:
            self.set_source(source)

    # --- public API -----------------------------------------------------------------------

    @property
    def columns(self) -> tuple[str, ...]:
        if self._columns:
            return self._columns
        return tuple(self.source.columns) if self.source is not None else ()

    def set_source(self, source: PageSource, count: tuple[int, bool] | None = None) -> None:
        """Show another source (e.g. after a new search) from its first page.

        ``count`` is the source's ``count()`` when the caller has it already (saves a query).
        """
        self.source = source
        self.refresh(count)

    def refresh(self, count: tuple[int, bool] | None = None) -> None:
        """Count the rows again (unless ``count`` is given) and show the first page."""
        if self.source is None:
            return

        def fetch():
            self.total, self.exact = count if count is not None else self.source.count()
            return self.source.page(self.page_size), 0

        self._go(fetch)

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
        """Call ``callback(key)`` when a row is chosen in the drop-down."""
        self._register("select", callback, remove)

    def select(self, key: Any) -> None:
        """Select a row by key, as if chosen in the drop-down, and fire the callbacks."""
        self.selected = key
        self._fire("select", key)

    # --- internals ------------------------------------------------------------------------

    def _ok(self) -> bool:
        return self.error is None

    def _fail(self, error: BaseException) -> None:
        self.error = str(error) or type(error).__name__
        self.rows = []
        self.body.value = error_html(self.error)
        self.status.value = ""
        self.chooser.options = []

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
        self.body.value = formatting.table(
            rows, self.columns, labels=self.labels, formatters=self.formatters, empty=self.empty,
        )
        self.status.value = f"<span class='crmkit-page-status-text'>{escape(self._status_text())}</span>"
        at_start = start == 0 or not rows
        at_end = not rows or (self.exact and start is not None and self.total is not None and start + len(rows) >= self.total)
        self.first_button.disabled = self.prev_button.disabled = at_start
        self.next_button.disabled = self.last_button.disabled = at_end
        key = self.source.key if self.source is not None else "id"
        labeller = self.row_label or (lambda row: " · ".join(formatting.text(row.get(c)) for c in self.columns[:3]))
        options = [(labeller(row), row.get(key)) for row in rows]
        self.chooser.unobserve(self._chosen, "value")
        try:
            self.chooser.options = options
            self.chooser.value = self.selected if self.selected in [v for _, v in options] else None
        finally:
            self.chooser.observe(self._chosen, "value")

    def _status_text(self) -> str:
        total = "?" if self.total is None else f"{self.total:,}" + ("" if self.exact else "+")
        if not self.rows:
            return f"no rows (of {total})" if self.total else "no rows"
        if self.start is None:
            return f"{len(self.rows):,} rows of {total}"
        return f"rows {self.start + 1:,}–{self.start + len(self.rows):,} of {total}"

    def _chosen(self, change) -> None:
        if change["new"] is not None:
            self.select(change["new"])

    def _resized(self, change) -> None:
        if self.source is not None:
            self.first_page()


def _narrow() -> widgets.Layout:
    return widgets.Layout(width="36px")
