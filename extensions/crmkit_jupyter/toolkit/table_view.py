"""One page of a table drawn in the browser: click a header to sort, click a row to open it.

An anywidget: Python sends the page as text cells, the browser draws an HTML table and sends
back which header or row was clicked. Sorting and paging stay in Python (in SQL), so the browser
never holds more than one page.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import anywidget
import traitlets

_ESM = r"""
function render({ model, el }) {
  el.classList.add("crmkit-table-view");
  const draw = () => {
    const columns = model.get("columns");
    const rows = model.get("rows");
    const sortBy = model.get("sort_by");
    const descending = model.get("descending");
    const box = document.createElement("div");
    box.className = "crmkit-table-scroll";
    if (model.get("error")) {
      const message = document.createElement("div");
      message.className = "crmkit-error";
      message.textContent = model.get("error");
      box.append(message);
    } else if (!rows.length) {
      const empty = document.createElement("div");
      empty.className = "crmkit-empty";
      empty.textContent = model.get("empty");
      box.append(empty);
    } else {
      const table = document.createElement("table");
      table.className = "crmkit-table";
      const head = table.createTHead().insertRow();
      columns.forEach((column) => {
        const th = document.createElement("th");
        th.textContent = column.label + (column.key === sortBy ? (descending ? " ▼" : " ▲") : "");
        th.className = column.align === "right" ? "crmkit-num" : "";
        if (column.sortable) {
          th.classList.add("crmkit-sortable");
          th.title = "sort by " + column.label;
          th.addEventListener("click", () => model.send({ event: "sort", column: column.key }));
        }
        head.append(th);
      });
      const body = table.createTBody();
      const clickable = model.get("clickable");
      rows.forEach((cells, index) => {
        const tr = body.insertRow();
        if (clickable) {
          tr.className = "crmkit-row-link";
          tr.title = "open";
          tr.addEventListener("click", () => model.send({ event: "row", index }));
        }
        cells.forEach((text, i) => {
          const td = tr.insertCell();
          td.textContent = text;
          if (columns[i] && columns[i].align === "right") td.className = "crmkit-num";
        });
      });
      box.append(table);
    }
    el.replaceChildren(box);
  };
  model.on("change", draw);
  draw();
}
export default { render };
"""

_CSS = """
.crmkit-table-scroll { max-width: 100%; overflow-x: auto; }
.crmkit-table-view table.crmkit-table { border-collapse: collapse; font-size: 13px; }
.crmkit-table-view th, .crmkit-table-view td { padding: 3px 8px; text-align: left; vertical-align: top;
  max-width: 28em; overflow-wrap: anywhere; }
.crmkit-table-view th { border-bottom: 1px solid #bbb; white-space: nowrap; }
.crmkit-table-view .crmkit-num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
.crmkit-table-view th.crmkit-sortable { cursor: pointer; color: #1f4e99; }
.crmkit-table-view tr.crmkit-row-link { cursor: pointer; }
.crmkit-table-view tr.crmkit-row-link:hover { background: #eef3fb; }
.crmkit-table-view tbody tr:nth-child(even) { background: #fafafa; }
.crmkit-table-view .crmkit-empty { color: #555; }
.crmkit-table-view .crmkit-error { color: #a40000; white-space: pre-wrap; }
"""


class TableView(anywidget.AnyWidget):
    """A page of rows drawn as an HTML table; header and row clicks come back to Python.

    ``columns`` is a list of ``{key, label, align, sortable}``; ``rows`` the cells as text, one
    list per row. :meth:`on_sort` and :meth:`on_row` register what a click does;
    :meth:`click_header` and :meth:`click_row` do from code what a click in the browser does.
    CSS: ``crmkit-table-view``; inside, ``table.crmkit-table``, ``th.crmkit-sortable``,
    ``tr.crmkit-row-link``, ``.crmkit-empty``, ``.crmkit-error``.
    """

    _esm = _ESM
    _css = _CSS
    columns = traitlets.List(help="The columns: dicts of key, label, align, sortable.").tag(sync=True)
    rows = traitlets.List(help="The shown page: one list of cell texts per row.").tag(sync=True)
    sort_by = traitlets.Unicode("", help="The column the rows are sorted by ('' for the default).").tag(sync=True)
    descending = traitlets.Bool(False, help="Whether the sort is descending.").tag(sync=True)
    clickable = traitlets.Bool(False, help="Whether rows open on click.").tag(sync=True)
    empty = traitlets.Unicode("No rows.", help="Shown when there are no rows.").tag(sync=True)
    error = traitlets.Unicode("", help="An error shown instead of the rows.").tag(sync=True)

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self._on_sort: list[Callable[[str], Any]] = []
        self._on_row: list[Callable[[int], Any]] = []
        self.on_msg(self._message)

    def show(self, columns: Sequence[dict], rows: Sequence[Sequence[str]]) -> None:
        """Draw ``rows`` (cell texts) under ``columns`` and clear any error."""
        with self.hold_sync():
            self.columns = [dict(c) for c in columns]
            self.rows = [list(r) for r in rows]
            self.error = ""

    def on_sort(self, callback: Callable[[str], Any], remove: bool = False) -> None:
        """Call ``callback(column_key)`` when a sortable header is clicked."""
        _toggle(self._on_sort, callback, remove)

    def on_row(self, callback: Callable[[int], Any], remove: bool = False) -> None:
        """Call ``callback(row_index)`` when a row is clicked (only when ``clickable``)."""
        _toggle(self._on_row, callback, remove)

    def click_header(self, column: str) -> None:
        """What clicking the header of ``column`` does (nothing unless it is sortable)."""
        if any(c["key"] == column and c.get("sortable") for c in self.columns):
            for callback in list(self._on_sort):
                callback(column)

    def click_row(self, index: int) -> None:
        """What clicking the ``index``-th shown row does (nothing unless rows are clickable)."""
        if self.clickable and 0 <= index < len(self.rows):
            for callback in list(self._on_row):
                callback(index)

    def close(self) -> None:
        """Close the widget and forget its callbacks."""
        self._on_sort.clear()
        self._on_row.clear()
        super().close()

    def _message(self, _widget: Any, content: dict, _buffers: Any) -> None:
        if content.get("event") == "sort":
            self.click_header(str(content.get("column", "")))
        elif content.get("event") == "row":
            self.click_row(int(content.get("index", -1)))


def _toggle(callbacks: list, callback: Callable, remove: bool) -> None:
    if remove:
        if callback in callbacks:
            callbacks.remove(callback)
    else:
        callbacks.append(callback)
