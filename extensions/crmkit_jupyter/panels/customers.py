"""The Customers panel: search, a table paged through SQL, and a customer 360° view."""

from __future__ import annotations

from html import escape
from typing import Any

import ipywidgets as widgets

from crmkit import CrmError
from crmkit.display import customer_html

from .. import formatting, queries
from ..facts import customer_facts
from ..toolkit import Composite, PagedTable, SqlSource, error_html, note_html

SEARCH_COUNT_CAP = 10_000
ORDERS = (("id, oldest first", ("id", False)), ("id, newest first", ("id", True)),
          ("name A–Z", ("name", False)), ("name Z–A", ("name", True)))


class CustomersPanel(Composite):
    """Search customers, page through them, and open one to see everything about them.

    The table pages through SQL (keyset paging on an indexed column), so it behaves the same
    with a hundred or a million customers. A text search matches name, email or company; its
    count stops at 10,000 to stay quick on large files. CSS: ``crmkit-customers``,
    ``crmkit-customer-search``, ``crmkit-customer-order``, ``crmkit-customer-360`` and the parts
    of the 360° view (``-profile``, ``-facts``, ``-timeline``, ``-tasks``, ``-note``,
    ``-note-save``).
    """

    def __init__(self, crm: Any, *, page_size: int = 20, timeline_size: int = 20):
        super().__init__("crmkit-customers")
        self.crm = crm
        self.timeline_size = timeline_size
        self.customer_id: int | None = None
        self.search = self.own(widgets.Text(placeholder="name, email or company — Enter to search", description="Search:",
                                            continuous_update=False), "crmkit-customer-search")
        self.order = self.own(widgets.Dropdown(options=ORDERS, value=ORDERS[0][1], description="Order:"), "crmkit-customer-order")
        self.table = self.own(PagedTable(
            page_size=page_size, selectable=True, row_label=lambda row: f"#{row['id']} {row['name']}",
            empty="No customer matches.",
        ))
        self.profile = self.own(widgets.HTML(), "crmkit-customer-profile")
        self.facts = self.own(widgets.HTML(), "crmkit-customer-facts")
        self.timeline = self.own(widgets.HTML(), "crmkit-customer-timeline")
        self.tasks = self.own(widgets.HTML(), "crmkit-customer-tasks")
        self.note = self.own(widgets.Textarea(placeholder="add a note to this customer's history"), "crmkit-customer-note")
        self.note_button = self.own(widgets.Button(description="Add note", icon="sticky-note"), "crmkit-customer-note-save")
        self.note_status = self.own(widgets.HTML(), "crmkit-customer-note-status")
        note_row = self.own(widgets.HBox([self.note, self.note_button, self.note_status]))
        self.view = self.own(widgets.VBox([
            self.profile, self.facts, self.timeline, self.tasks, note_row,
        ], layout=widgets.Layout(display="none")), "crmkit-customer-360")
        controls = self.own(widgets.HBox([self.search, self.order]))
        self.children = [controls, self.table, self.view]
        self.watch(self.search, self._searched)
        self.watch(self.order, self._searched)
        self.table.on_select(self.show)
        self.on_click(self.note_button, self.add_note)
        self.load()

    # --- public API -----------------------------------------------------------------------

    def load(self) -> None:
        """(Re)load the table for the current search text and order."""
        text = self.search.value.strip()
        sql, params = queries.customer_list(text or None)
        order, descending = self.order.value
        source = SqlSource(
            self.crm.db, sql, params, key="id", order=order, descending=descending,
            columns=queries.CUSTOMER_COLUMNS, count_cap=SEARCH_COUNT_CAP if text else None,
        )
        self.table.set_source(source)

    def show(self, customer_id: int, as_of: Any = None) -> None:
        """Open the 360° view of a customer: profile, plugin facts, timeline and open tasks."""
        crm = self.crm
        try:
            customer = crm.customers.get(int(customer_id))
        except CrmError as error:
            self.view.layout.display = None
            self.profile.value = error_html(str(error))
            self.facts.value = self.timeline.value = self.tasks.value = ""
            return
        moment = crm.as_of(as_of)
        self.customer_id = customer.id
        self.view.layout.display = None
        self.profile.value = customer_html(customer)
        self.facts.value = self._facts_html(customer.id, moment)
        self.refresh_history()

    def refresh_history(self) -> None:
        """Re-read the shown customer's timeline and open tasks."""
        if self.customer_id is None:
            return
        crm = self.crm
        history = crm.interactions.history(self.customer_id, limit=self.timeline_size)
        rows = [
            {"when": i.occurred_at, "kind": i.kind, "amount": i.amount, "channel": i.channel,
             "product": i.product, "rep": i.rep, "notes": i.notes}
            for i in history
        ]
        total = crm.interactions.count(self.customer_id)
        caption = f"<b>Interactions</b> (latest {len(rows)} of {total:,})"
        self.timeline.value = caption + formatting.table(
            rows, ("when", "kind", "amount", "channel", "product", "rep", "notes"), empty="No interactions yet.",
        )
        tasks = crm.tasks.open(customer_id=self.customer_id, limit=50)
        task_rows = [{"id": t.id, "kind": t.kind, "due": t.due_at, "owner": t.owner, "reason": t.reason, "from": t.source} for t in tasks]
        self.tasks.value = "<b>Open tasks</b>" + formatting.table(
            task_rows, ("id", "kind", "due", "owner", "reason", "from"), empty="No open tasks.",
        )

    def add_note(self) -> None:
        """Record the typed note as a ``note`` interaction of the shown customer."""
        text = self.note.value.strip()
        if self.customer_id is None or not text:
            self.note_status.value = error_html("open a customer and type a note first")
            return
        try:
            self.crm.interactions.record(self.customer_id, "note", notes=text)
        except CrmError as error:
            self.note_status.value = error_html(str(error))
            return
        self.note.value = ""
        self.note_status.value = note_html("note added", "crmkit-customer-note-added")
        self.refresh_history()

    # --- internals ------------------------------------------------------------------------

    def _searched(self, change) -> None:
        self.load()

    def _facts_html(self, customer_id: int, moment) -> str:
        facts = customer_facts(self.crm, customer_id, moment)
        if not facts:
            return "<b>Plugin facts</b>" + note_html("No active plugin adds customer fields.")
        rows = []
        for fact in facts:
            value = fact["error"] if fact["error"] else fact["value"]
            rows.append({"plugin": fact["plugin"], "fact": fact["name"], "value": value, "meaning": fact["description"]})
        return (
            f"<b>Plugin facts</b> <span style='color:#666'>(as of {escape(f'{moment:%Y-%m-%d %H:%M}')} UTC)</span>"
            + formatting.table(rows, ("plugin", "fact", "value", "meaning"))
        )
