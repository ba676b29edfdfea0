"""The Customers panel: search, a table paged through SQL, and a customer page.

The customer page is summary cards (lifetime value, last purchase, tier, points, open
complaints, churn risk, owner) above a paged timeline, open tasks and every plugin fact. Tier,
points and the rest come from plugins' segment fields (``crmkit_fields``), so the panel names no
plugin: a card whose field no active plugin registers reads "–".
"""

from __future__ import annotations

from html import escape
from typing import Any

import ipywidgets as widgets

from crmkit import CrmError
from crmkit.display import customer_html
from crmkit.timeutil import to_iso

from .. import formatting, queries
from ..facts import customer_facts
from ..toolkit import Composite, KpiCard, Nullable, PagedTable, SqlSource, error_html, note_html

SEARCH_COUNT_CAP = 10_000
# Summary cards taken from plugin fields: (card title, field name, how its value reads).
FACT_CARDS = (("Tier", "tier", "text"), ("Points", "points_balance", "number"),
              ("Open complaints", "open_complaints", "number"), ("Churn risk", "p_alive", "rate"))
TIER_FIELD = "tier"
LIST_KINDS = {"lifetime_value": "money", "last_purchase": "date"}
# The summary's columns the list sorts by (see ``Nullable``): customers without purchases have
# none and come last either way; ties are ordered by the summary's own customer id.
SORTABLE_SUMMARY = {"lifetime_value": Nullable(-(2 ** 63), "summary_id"), "last_purchase": Nullable("", "summary_id")}
TIMELINE_KINDS = {"amount": "money", "occurred_at": "datetime", "kind": "words"}
TIMELINE_COLUMNS = ("occurred_at", "kind", "amount", "channel", "product", "rep", "notes")


# The customer page's widgets, made on first use.
_PAGE_PARTS = frozenset({"cards", "profile", "facts", "timeline_caption", "timeline", "tasks", "note", "note_button", "note_status"})


class CustomersPanel(Composite):
    """Search customers, page through them, and click one to open its customer page.

    The table pages through SQL (keyset paging on an indexed column: sort by #, name, lifetime
    value or last purchase with a header click; customers without purchases come last), so it
    behaves the same with a hundred or a million customers. The tier is not sortable: it is
    read from the tier history as of the CRM's time, so a sort by it would read every customer. A text search
    matches name, email or company; its count stops at 10,000 to stay quick on large files.
    CSS: ``crmkit-customers``, ``crmkit-customer-search``, ``crmkit-customer-360`` and the parts
    of the customer page (``-cards``, ``-profile``, ``-facts``, ``-timeline``, ``-tasks``,
    ``-note``, ``-note-save``).
    """

    def __init__(self, crm: Any, *, page_size: int = 20, timeline_size: int = 10):
        super().__init__("crmkit-customers")
        self.crm = crm
        self.customer_id: int | None = None
        self.tier_field = next((f for f in crm.fields if f.name == TIER_FIELD and f.plugin != "core"), None)
        self.search = self.own(widgets.Text(placeholder="name, email or company — Enter to search", description="Search:",
                                            continuous_update=False), "crmkit-customer-search")
        self.table = self.own(PagedTable(
            page_size=page_size, selectable=True, empty="No customer matches.", crm=crm, kinds=LIST_KINDS,
            labels={"lifetime_value": "Lifetime value"}, filterable=False, csv_name="customers.csv",
        ))
        # The customer page is built when it is first needed (a customer opened): the list's
        # first page then waits for a third of the widgets only.
        self.view = self.own(widgets.VBox([], layout=widgets.Layout(display="none")), "crmkit-customer-360")
        self._timeline_size = timeline_size
        self._page_built = False
        self.children = [self.search, self.table, self.view]
        self.watch(self.search, self._searched)
        self.table.on_select(self.show)
        self.load()

    def __getattr__(self, name: str) -> Any:
        # A part of the customer page (cards, timeline, note, ...) asked for before any customer
        # was opened: build the page now.
        if name in _PAGE_PARTS and not self.__dict__.get("_page_built", True):
            self._build_page()
            return getattr(self, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    # --- public API -----------------------------------------------------------------------

    def load(self) -> None:
        """(Re)load the table for the current search text (sorted as the headers say)."""
        text = self.search.value.strip()
        extra = {"lifetime_value": "s.net_spend", "last_purchase": "s.last_purchase_at"}
        params: dict = {}
        if self.tier_field is not None:
            extra["tier"] = self.tier_field.sql
            params = dict(self.tier_field.params, as_of=to_iso(self.crm.as_of(None)))
        shown = (*queries.CUSTOMER_COLUMNS, *extra)
        sql, params = queries.customer_list(text or None, extra=dict(extra, summary_id="s.customer_id"), extra_params=params)
        source = SqlSource(
            self.crm.db, sql, params, key="id", columns=shown, sortable=("id", "name"),
            nulls_last=SORTABLE_SUMMARY, count_cap=SEARCH_COUNT_CAP if text else None,
        )
        # The same rows as the customers table alone (the summary join is one row per customer):
        # counted there, the count walks one index instead of joining a million rows.
        count = SqlSource(self.crm.db, *queries.customer_list(text or None), key="id", columns=("id",),
                          count_cap=source.count_cap).count()
        sort_by, descending = self.table.body.sort_by, self.table.body.descending
        self.table.set_source(source, count)
        if sort_by:
            self.table.sort(sort_by, descending)

    def show(self, customer_id: int, as_of: Any = None) -> None:
        """Open the customer page: summary cards, profile, paged timeline, open tasks, plugin facts."""
        crm = self.crm
        try:
            customer = crm.customers.get(int(customer_id))
        except CrmError as error:
            self.view.layout.display = None
            self.customer_id = None
            self.cards.children = ()
            self.profile.value = error_html(str(error))
            self.facts.value = self.tasks.value = ""
            self.timeline.layout.display = "none"  # not the timeline of the customer shown before
            return
        moment = crm.as_of(as_of)
        self.customer_id = customer.id
        self.view.layout.display = None
        self.timeline.layout.display = None
        facts = customer_facts(crm, customer.id, moment)
        self._show_cards(customer, facts)
        self.profile.value = customer_html(customer)
        self.facts.value = self._facts_html(facts, moment)
        self.refresh_history()

    def refresh_history(self) -> None:
        """Re-read the shown customer's timeline (from its newest page) and open tasks."""
        if self.customer_id is None:
            return
        sql, params = queries.customer_timeline(self.customer_id)
        self.timeline.set_source(SqlSource(
            self.crm.db, sql, params, key="id", order="occurred_at", descending=True,
            sortable=("occurred_at", "id"),
        ))
        fmt = formatting.formatter(self.crm)
        tasks = self.crm.tasks.open(customer_id=self.customer_id, limit=50)
        task_rows = [{"id": t.id, "kind": t.kind, "due": fmt.date(t.due_at) if t.due_at else None, "owner": t.owner,
                      "reason": t.reason, "from": t.source} for t in tasks]
        self.tasks.value = "<b>Open tasks</b>" + formatting.table(
            task_rows, ("id", "kind", "due", "owner", "reason", "from"), empty="No open tasks.", crm=self.crm,
            kinds={"kind": "words", "from": "words"},
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
        self.load()

    # --- internals ------------------------------------------------------------------------

    def _build_page(self) -> None:
        """Make the customer page's widgets (once)."""
        crm = self.crm
        self._page_built = True
        self.cards = self.own(widgets.HBox(layout=widgets.Layout(flex_flow="row wrap", grid_gap="6px")), "crmkit-customer-cards")
        self.profile = self.own(widgets.HTML(), "crmkit-customer-profile")
        self.facts = self.own(widgets.HTML(), "crmkit-customer-facts")
        self.timeline_caption = self.own(widgets.HTML("<b>Timeline</b>"))
        self.timeline = self.own(PagedTable(
            page_size=self._timeline_size, empty="No interactions yet.", crm=crm, kinds=TIMELINE_KINDS,
            columns=TIMELINE_COLUMNS, labels={"occurred_at": "When"}, csv_name="timeline.csv",
        ), "crmkit-customer-timeline")
        self.tasks = self.own(widgets.HTML(), "crmkit-customer-tasks")
        self.note = self.own(widgets.Textarea(placeholder="add a note to this customer's history"), "crmkit-customer-note")
        self.note_button = self.own(widgets.Button(description="Add note", icon="sticky-note"), "crmkit-customer-note-save")
        self.note_status = self.own(widgets.HTML(), "crmkit-customer-note-status")
        note_row = self.own(widgets.HBox([self.note, self.note_button, self.note_status], layout=widgets.Layout(flex_flow="row wrap")))
        self.view.children = [self.cards, self.profile, self.timeline_caption, self.timeline, self.tasks, note_row, self.facts]
        self.on_click(self.note_button, self.add_note)

    def _searched(self, change) -> None:
        self.load()

    def _show_cards(self, customer, facts: list[dict]) -> None:
        crm = self.crm
        summary = crm.db.execute(
            "SELECT net_spend, last_purchase_at FROM customer_summary WHERE customer_id = :id", {"id": customer.id},
        ).fetchone()
        net, last = (summary[0], summary[1]) if summary else (None, None)
        by_name = {f["name"]: f["value"] for f in facts if f["error"] is None}
        cards = [("Lifetime value", net, "money"), ("Last purchase", last, "date")]
        for title, name, kind in FACT_CARDS:
            value = by_name.get(name)
            if name == "p_alive" and value is not None:
                value = 1 - float(value)
            cards.append((title, value, kind))
        cards.append(("Owner", customer.owner, "text"))
        made = []
        for title, value, kind in cards:
            card = KpiCard(title, value, fmt=kind, crm=crm)
            card.add_class("crmkit-customer-card")
            made.append(self.own(card))
        for old in self.cards.children:
            if old in self._owned:
                self._owned.remove(old)
            old.close()
        self.cards.children = made

    def _facts_html(self, facts: list[dict], moment) -> str:
        if not facts:
            return "<b>Plugin facts</b>" + note_html("No active plugin adds customer fields.")
        kinds = {"money": "amount", "number": "number", "bool": "text"}
        rows = []
        fmt = formatting.formatter(self.crm)
        for fact in facts:
            value = fact["error"] if fact["error"] else formatting.cell(fact["value"], kinds.get(fact["type"], "text"), self.crm)
            rows.append({"fact": formatting.label(fact["name"]), "value": value, "from": fact["plugin"], "meaning": fact["description"]})
        return (
            f"<details class='crmkit-customer-all-facts'><summary><b>All plugin facts</b> "
            f"<span style='color:#666'>(as of {escape(fmt.local_time(moment))})</span></summary>"
            + formatting.table(rows, ("fact", "value", "from", "meaning")) + "</details>"
        )
