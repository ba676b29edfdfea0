"""The Leads tab of the dashboard: the shared pool, load per rep, and the pool's actions.

The pool pages through ``crm.leads.pool(limit, offset)`` (highest priority and score first),
one page at a time; load per rep is ``crm.leads.fairness()``. The actions are the service's:
``allocate`` (any strategy chain, optionally as a dry run that writes nothing), ``claim`` of the
chosen pool lead by a rep, and ``recycle`` (what ``crmkit due`` runs for leads). So everything
done here is validated and audited as it is from code.

``ipywidgets`` and ``crmkit_jupyter`` are imported inside the factory only.
"""

from __future__ import annotations

import functools
from typing import Any

from crmkit.timeutil import to_iso

POOL_COLUMNS = ("id", "name", "priority", "score", "source", "industry", "lead_class", "received_at", "previous_owner")
MOVES_SHOWN = 50


def leads_panel(crm: Any, *, page_size: int = 15) -> Any:
    """The Leads tab: the widget the dashboard shows (``crmkit.Panel`` factory)."""
    return _panel_class()(crm, page_size=page_size)


class PoolPages:
    """The pool as a page source for the toolkit's ``PagedTable``.

    Pages come from ``crm.leads.pool(limit, offset)``; each row remembers its offset so the
    next and previous pages start where the shown one ends. The count is the pool's entry of
    ``crm.leads.counts()``.
    """

    key = "id"
    columns = POOL_COLUMNS

    def __init__(self, leads: Any):
        self.leads = leads

    def count(self) -> tuple[int, bool]:
        """The number of leads in the pool (exact)."""
        return self.leads.counts()["pool"], True

    def page(self, limit: int, *, after: dict | None = None, before: dict | None = None, last: bool = False) -> list[dict]:
        """Up to ``limit`` pool leads: the first ones, those right after or before a shown row, or the last ones."""
        if after is not None:
            offset = after["_offset"] + 1
        elif before is not None:
            offset = max(0, before["_offset"] - limit)
            limit = before["_offset"] - offset
        elif last:
            offset = max(0, self.count()[0] - limit)
        else:
            offset = 0
        if limit <= 0:
            return []
        return [dict(lead_row(lead), _offset=offset + n) for n, lead in enumerate(self.leads.pool(limit, offset))]


def lead_row(lead: Any) -> dict:
    """A :class:`~crmkit_leads.models.Lead` as a table row (the pool's columns)."""
    return {
        "id": lead.id, "name": lead.name, "priority": lead.priority,
        "score": None if lead.score is None else round(lead.score, 3), "source": lead.source,
        "industry": lead.industry, "lead_class": lead.lead_class, "received_at": to_iso(lead.received_at),
        "previous_owner": lead.previous_owner,
    }


def strategy_names(leads: Any) -> list[str]:
    """Strategy choices: every picker alone, then every selector followed by ``least_loaded``."""
    listed = leads.strategy_list()
    pickers = [s["name"] for s in listed if s["kind"] == "picker"]
    selectors = [f"{s['name']} > least_loaded" for s in listed if s["kind"] == "selector"]
    return pickers + selectors


@functools.cache
def _panel_class() -> type:
    import ipywidgets as widgets

    from crmkit_jupyter import formatting
    from crmkit_jupyter.toolkit import ChartView, Composite, PagedTable, error_html, note_html, run_busy

    class LeadsPanel(Composite):
        """The pool (paged), open load against capacity per rep, and allocate/claim/recycle.

        ``refresh()`` re-reads everything; ``allocate()``, ``claim()`` and ``recycle()`` are the
        buttons. CSS: ``crmkit-leads``, ``crmkit-leads-counts``, ``crmkit-leads-load``,
        ``crmkit-leads-strategy``, ``crmkit-leads-dry-run``, ``crmkit-leads-allocate``,
        ``crmkit-leads-rep``, ``crmkit-leads-claim``, ``crmkit-leads-recycle``,
        ``crmkit-leads-status``, ``crmkit-leads-result``; the pool is a ``crmkit-paged-table``.
        """

        def __init__(self, crm: Any, *, page_size: int = 15):
            super().__init__("crmkit-leads")
            self.crm = crm
            self.last_result: Any = None
            self.seconds = 0.0
            strategies = strategy_names(crm.leads)
            fits = {"layout": widgets.Layout(width="auto"), "style": {"description_width": "initial"}}  # labels never cut
            reps = [(f"{r.id} · {r.name}", r.id) for r in crm.leads.reps() if r.active]
            self.counts = self.own(widgets.HTML(), "crmkit-leads-counts")
            self.pool = self.own(PagedTable(
                page_size=page_size, selectable=True, empty="The pool is empty.", crm=crm,
                kinds={"lead_class": "words", "source": "words"},
            ))
            self.load_chart = self.own(ChartView("bar", [], "rep", ("open_leads", "capacity"), title="Open leads against capacity",
                                               formatter=formatting.formatter(crm)))  # the CRM's locale, as the report's charts
            self.load_table = self.own(widgets.HTML(), "crmkit-leads-load")
            self.strategy = self.own(widgets.Combobox(
                options=strategies, value=strategies[0] if strategies else "least_loaded", ensure_option=False,
                description="Strategy:", placeholder="e.g. rules > skill_match > least_loaded", **fits,
            ), "crmkit-leads-strategy")
            self.dry_run = self.own(widgets.Checkbox(value=True, description="dry run (write nothing)", indent=False, **fits), "crmkit-leads-dry-run")
            self.allocate_button = self.own(widgets.Button(description="Allocate pool", icon="random", button_style="primary", layout=widgets.Layout(width="auto")), "crmkit-leads-allocate")
            self.rep = self.own(widgets.Dropdown(options=reps, value=reps[0][1] if reps else None, description="Rep:", **fits), "crmkit-leads-rep")
            self.claim_button = self.own(widgets.Button(description="Claim chosen lead", icon="hand-paper-o", layout=widgets.Layout(width="auto")), "crmkit-leads-claim")
            self.recycle_button = self.own(widgets.Button(description="Recycle lapsed leads", icon="recycle", layout=widgets.Layout(width="auto")), "crmkit-leads-recycle")
            self.status = self.own(widgets.HTML(), "crmkit-leads-status")
            self.result = self.own(widgets.HTML(), "crmkit-leads-result")
            self.buttons = (self.allocate_button, self.claim_button, self.recycle_button)
            def row(children):  # a row that wraps on a narrow screen instead of cutting or overflowing
                return self.own(widgets.HBox(children, layout=widgets.Layout(flex_flow="row wrap", align_items="center")))

            allocate_row = row([self.strategy, self.dry_run, self.allocate_button])
            claim_row = row([self.rep, self.claim_button, self.recycle_button])
            load = row([self.load_chart, self.load_table])
            self.children = [
                self.counts, self.own(widgets.HTML("<b>Pool</b>")), self.pool, allocate_row, claim_row,
                self.status, self.result, self.own(widgets.HTML("<b>Load per rep</b>")), load,
            ]
            self.on_click(self.allocate_button, self.allocate)
            self.on_click(self.claim_button, self.claim)
            self.on_click(self.recycle_button, self.recycle)
            self.pool.set_source(PoolPages(crm.leads))
            self.refresh_figures()

        # --- public API -------------------------------------------------------------------

        def refresh(self) -> None:
            """Re-read the pool (from its first page), the counts and the load per rep."""
            self.pool.refresh()
            self.refresh_figures()

        def refresh_figures(self) -> None:
            """Re-read the leads per status and the open load per rep (as of now)."""
            counts = self.crm.leads.counts()
            self.counts.value = "<b>Leads</b> " + formatting.table([counts], tuple(counts), crm=self.crm)
            fairness = self.crm.leads.fairness()
            self.load_chart.rows = fairness["reps"]
            fmt = formatting.formatter(self.crm)
            self.load_table.value = formatting.table(
                fairness["reps"], ("rep", "team", "open_leads", "capacity", "utilisation"), empty="No active rep.",
                kinds={"utilisation": "rate"}, crm=self.crm,
            ) + note_html(f"Fairness (capacity-weighted Gini of open load): {fmt.number(fairness['gini'], 2)}", "crmkit-leads-gini")

        def allocate(self) -> Any:
            """Allocate the whole pool with the chosen strategy (a dry run writes nothing);
            returns the service's result, or None when it refused."""
            strategy, dry_run = self.strategy.value.strip(), self.dry_run.value
            result = self._run(f"allocating the pool with {strategy}", lambda: self.crm.leads.allocate("pool", strategy, dry_run=dry_run))
            if result is None:
                return None
            self.last_result = result
            verb = "would assign" if dry_run else "assigned"
            count = formatting.formatter(self.crm).number
            self.status.value = note_html(
                f"{strategy}: {verb} {count(result.count)} leads; {count(len(result.unassigned))} stay in the pool"
                + (" (dry run: nothing written)" if dry_run else "") + f" · {self.seconds:.2f} s", "crmkit-leads-allocated",
            )
            moves = [{"lead": m.lead_id, "rep": m.rep, "why": m.reason} for m in result.moves[:MOVES_SHOWN]]
            per_rep = [{"rep": rep, "leads": n} for rep, n in result.by_rep().items()]
            waiting = [{"lead": lead, "why": result.unassigned_reason.get(lead)} for lead in result.unassigned[:MOVES_SHOWN]]
            ids = {"lead": "id"}
            self.result.value = (
                formatting.table(per_rep, ("rep", "leads"), empty="No lead placed.", crm=self.crm)
                + f"<b>Moves</b> (first {count(min(len(result.moves), MOVES_SHOWN))} of {count(len(result.moves))})"
                + formatting.table(moves, ("lead", "rep", "why"), empty="none", kinds=ids, crm=self.crm)
                + (("<b>Left in the pool</b>" + formatting.table(waiting, ("lead", "why"), kinds=ids, crm=self.crm)) if waiting else "")
            )
            if not dry_run:
                self.refresh()
            return result

        def claim(self) -> Any:
            """The chosen rep claims the lead chosen in the pool table; returns the lead, or None."""
            lead_id, rep = self.pool.selected, self.rep.value
            if lead_id is None or rep is None:
                self.status.value = error_html("choose a lead in the pool (Open:) and a rep first")
                return None
            lead = self._run(f"{rep} claims lead {lead_id}", lambda: self.crm.leads.claim(lead_id, rep))
            if lead is None:
                return None
            self.status.value = note_html(f"lead #{lead.id} {lead.name} is now {lead.status}, owner {lead.owner}", "crmkit-leads-claimed")
            self.result.value = ""
            self.pool.selected = None
            self.refresh()
            return lead

        def recycle(self) -> Any:
            """Send lapsed leads back to the pool and remind owners, as of now (the leads part of
            ``crmkit due``); returns the service's summary, or None."""
            summary = self._run("recycling lapsed leads", lambda: self.crm.leads.recycle())
            if summary is None:
                return None
            fmt = formatting.formatter(self.crm)
            shown = ", ".join(f"{key} {fmt.number(value)}" if isinstance(value, int) else f"{key} {value}" for key, value in summary.items())
            self.status.value = note_html(f"recycle as of {fmt.local_time(self.crm.now())}: {shown}", "crmkit-leads-recycled")
            self.result.value = ""
            self.refresh()
            return summary

        # --- internals --------------------------------------------------------------------

        def _run(self, what: str, work) -> Any:
            """Run ``work()`` with "working…" shown and the buttons off; errors go to the status."""
            result, self.seconds = run_busy(self.buttons, self.status, what, work)
            if result is None and "crmkit-error" in self.status.value:
                self.result.value = ""
            return result

    return LeadsPanel
