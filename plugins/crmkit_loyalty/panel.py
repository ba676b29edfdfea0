"""The Loyalty tab of the dashboard: the RFM grid, tiers and churn warnings as of a date.

- **RFM**: a heat map of customers per recency score (rows, 5 = most recent) and frequency score
  (columns) from the newest stored RFM run as of the chosen date, the named segments of that
  run, and a button that runs ``crm.loyalty.rfm(as_of)`` (which stores a new run).
- **Tiers**: members per tier as of the date (``crm.loyalty.tiers.members``) and the upgrades
  and downgrades of the days before it (``crm.loyalty.tiers.movement``).
- **Churn**: the warnings of the newest stored churn run as of the date
  (``crm.loyalty.churn_warnings``), by level, and a button that evaluates churn again
  (``crm.loyalty.churn(as_of)``).
- **CLV**: the fitted parameters and totals of the newest stored CLV run as of the date, or why
  the models could not be fitted, and a button that fits them (``crm.loyalty.clv(as_of)``).

``ipywidgets`` and ``crmkit_jupyter`` are imported inside the factory only.
"""

from __future__ import annotations

import functools
from typing import Any


from . import churn, panel_queries, value
from . import queries as q

SCORES = (1, 2, 3, 4, 5)
LEVELS = ("low", "medium", "high")
MOVEMENT_DAYS = 90
WARNINGS_LIMIT = 1000


def loyalty_panel(crm: Any, *, as_of: Any = None, page_size: int = 15) -> Any:
    """The Loyalty tab: the widget the dashboard shows (``crmkit.Panel`` factory)."""
    return _panel_class()(crm, as_of=as_of, page_size=page_size)


def default_as_of(crm: Any) -> Any:
    """The panel's starting date: a demo file's "today" (setting ``demo.today``), else the clock."""
    today = crm.settings.get("demo.today")
    return crm.as_of(today) if today else crm.now()


def latest_run(crm: Any, kind: str, as_of: Any) -> Any:
    """The newest stored run of ``kind`` (rfm, churn, ...) as of a time, or None."""
    moment = crm.as_of(as_of)
    runs = [run for run in crm.loyalty.runs(kind) if run.as_of <= moment]
    return max(runs, key=lambda run: (run.as_of, run.id)) if runs else None


def rfm_grid(crm: Any, run_id: int) -> list[dict]:
    """Customers per R × F score of a stored run, as heat map rows: one row per recency score
    from R5 (most recent) down to R1, with columns ``F1`` .. ``F5``."""
    counts = {(r, f): n for r, f, n in crm.db.execute(panel_queries.RFM_GRID, [run_id])}
    return [{"R": f"R{r}", **{f"F{f}": counts.get((r, f), 0) for f in SCORES}} for r in reversed(SCORES)]


def clv_text(crm: Any, as_of: Any) -> str:
    """What the panel says about CLV as of a time: the newest stored run's parameters and
    totals, or why the models could not be fitted (a recorded failure newer than that run)."""
    moment = crm.as_of(as_of)
    run = latest_run(crm, "clv", moment)
    failed = value.failure(crm, moment, run)
    if failed is not None:
        return f"CLV could not be fitted as of {crm.calendar.local_date(crm.as_of(failed['as_of']))}: {failed['reason']}"
    if run is None:
        return f"No CLV run as of {crm.calendar.local_date(moment)}: press “Fit CLV”."
    b, g = run.params.get("bgnbd", {}), run.params.get("gamma_gamma", {})
    left_out = run.params.get("spend_left_out") or 0
    return (
        f"Run #{run.id} as of {crm.calendar.local_date(run.as_of)}: {run.customers:,} customers valued. "
        f"BG/NBD r={b.get('r', 0):.4f} alpha={b.get('alpha', 0):.4f} a={b.get('a', 0):.4f} b={b.get('b', 0):.4f}; "
        f"Gamma-Gamma p={g.get('p', 0):.4f} q={g.get('q', 0):.4f} v={g.get('v', 0):.4f}."
        + (f" {value.left_out_text(left_out)}." if left_out else "")
    )


def churn_levels(crm: Any, run_id: int) -> dict[str, int]:
    """Warnings per level of a stored churn run (levels without warnings show 0)."""
    found = dict(crm.db.execute(q.CHURN_LEVELS, [run_id]).fetchall())
    return {level: found.get(level, 0) for level in LEVELS}


WARNING_COLUMNS = ("customer_id", "customer", "class", "level", "score", "signals", "owner")
LEVEL_RANK = {level: rank for rank, level in enumerate(LEVELS)}
# The level column sorts by rank (low < medium < high), not alphabetically.
WARNING_SORT_KEYS = {"level": lambda row: LEVEL_RANK.get(row.get("level"))}


def level_warnings(crm: Any, run: Any, level: str, levels: dict[str, int], limit: int = WARNINGS_LIMIT) -> list:
    """Up to ``limit`` warnings of exactly ``level`` in a stored churn run, highest score first.

    Warnings are listed by score, and a level is a band of scores, so the warnings of the levels
    above ``level`` (their counts in ``levels``) come first and are skipped in the query."""
    above = sum(n for other, n in levels.items() if LEVEL_RANK[other] > LEVEL_RANK[level])
    found = churn.warnings(crm, run, level, limit, offset=above)
    return [w for w in found if w.level == level]


def warning_row(warning: Any, names: dict | None = None) -> dict:
    """A :class:`~crmkit_loyalty.models.ChurnWarning` as a table row, with the customer's name
    from ``names`` (id → name)."""
    return {
        "customer_id": warning.customer_id, "customer": (names or {}).get(warning.customer_id),
        "class": warning.customer_class, "level": warning.level,
        "score": warning.score, "signals": ", ".join(warning.signals), "owner": warning.owner,
    }


def customer_names(crm: Any, ids: list[int], chunk: int = 500) -> dict[int, str]:
    """The names of customers by id, read ``chunk`` ids per query."""
    names: dict[int, str] = {}
    ids = sorted(set(int(i) for i in ids))
    for start in range(0, len(ids), chunk):
        part = ids[start:start + chunk]
        params = {f"id{n}": value for n, value in enumerate(part)}
        marks = ", ".join(f":{name}" for name in params)
        for row in crm.db.execute(f"SELECT id, name FROM customers WHERE id IN ({marks})", params).fetchall():
            names[row[0]] = row[1]
    return names


@functools.cache
def _panel_class() -> type:
    import ipywidgets as widgets

    from crmkit_jupyter import formatting
    from crmkit_jupyter.toolkit import (
        ChartView, Composite, ListSource, PagedTable, error_html, error_message, note_html, run_busy, shared_range,
    )

    class LoyaltyPanel(Composite):
        """The RFM grid, tiers and churn warnings as of a date, with RFM and churn run buttons.

        ``refresh()`` re-reads everything for the chosen date; ``run_rfm()`` and
        ``evaluate_churn()`` are the buttons. CSS: ``crmkit-loyalty``, ``crmkit-loyalty-as-of``,
        ``crmkit-loyalty-run-rfm``, ``crmkit-loyalty-run-churn``, ``crmkit-loyalty-status``,
        ``crmkit-loyalty-rfm-run``, ``crmkit-loyalty-rfm-segments``, ``crmkit-loyalty-tiers``,
        ``crmkit-loyalty-movement``, ``crmkit-loyalty-churn-levels``, ``crmkit-loyalty-level``,
        ``crmkit-loyalty-run-clv``, ``crmkit-loyalty-clv``;
        the grid is a ``crmkit-chart`` with class ``crmkit-loyalty-grid``.
        """

        def __init__(self, crm: Any, *, as_of: Any = None, page_size: int = 15):
            super().__init__("crmkit-loyalty")
            self.crm = crm
            self.dates = shared_range(crm, as_of=as_of)  # the dashboard's date range, or one of its own
            self.rfm_run: Any = None
            self.churn_run: Any = None
            self.grid_rows: list[dict] = []
            self.seconds = 0.0
            self.date_picker = self.dates.as_of_picker
            self.date_picker.add_class("crmkit-loyalty-as-of")
            charted = {"formatter": formatting.formatter(crm)}  # the CRM's locale and currency, as the report's charts
            self.rfm_button = self.own(widgets.Button(description="Run RFM", icon="th", button_style="primary"), "crmkit-loyalty-run-rfm")
            self.churn_button = self.own(widgets.Button(description="Evaluate churn", icon="warning"), "crmkit-loyalty-run-churn")
            self.clv_button = self.own(widgets.Button(description="Fit CLV", icon="line-chart"), "crmkit-loyalty-run-clv")
            self.clv_info = self.own(widgets.HTML(), "crmkit-loyalty-clv")
            self.status = self.own(widgets.HTML(), "crmkit-loyalty-status")
            self.rfm_info = self.own(widgets.HTML(), "crmkit-loyalty-rfm-run")
            self.grid = self.own(ChartView("heatmap", [], "R", tuple(f"F{f}" for f in SCORES), title="Customers per R × F score", **charted),
                                 "crmkit-loyalty-grid")
            self.segments = self.own(widgets.HTML(), "crmkit-loyalty-rfm-segments")
            self.tier_chart = self.own(ChartView("bar", [], "tier", ("customers",), title="Customers per tier", **charted))
            self.tiers = self.own(widgets.HTML(), "crmkit-loyalty-tiers")
            self.movement = self.own(widgets.HTML(), "crmkit-loyalty-movement")
            self.churn_info = self.own(widgets.HTML(), "crmkit-loyalty-churn-levels")
            self.level = self.own(widgets.Dropdown(options=LEVELS, value="low", description="At least:"), "crmkit-loyalty-level")
            self.warnings = self.own(PagedTable(page_size=page_size, empty="No churn warning.", crm=crm, kinds={"signals": "words"},
                                                labels={"customer_id": "#", "class": "Class"}, csv_name="churn-warnings.csv"))
            self.level_chart = self.own(ChartView("bar", [], "level", ("customers",), title="Warnings per level (click to filter)", **charted),
                                        "crmkit-loyalty-level-chart")
            self.drilled_level: str | None = None  # the bar of the level chart last clicked
            self.clear_drill_button = self.own(widgets.Button(description="Show all levels", icon="times",
                                                              layout=widgets.Layout(display="none")), "crmkit-loyalty-clear-drill")
            self.level_chart.on_pick(self.drill_level)
            self.on_click(self.clear_drill_button, self.clear_drill)
            self.buttons = (self.rfm_button, self.churn_button, self.clv_button)
            controls = self.own(widgets.HBox([self.rfm_button, self.churn_button, self.clv_button],
                                             layout=widgets.Layout(flex_flow="row wrap")))
            rfm = self.own(widgets.HBox([self.grid, self.segments]))
            tiers = self.own(widgets.HBox([self.tier_chart, self.own(widgets.VBox([self.tiers, self.movement]))]))
            self.children = [
                *([] if self.dates.in_dashboard else [self.own(self.dates)]), controls, self.status,
                self.own(widgets.HTML("<b>RFM</b>")), self.rfm_info, rfm,
                self.own(widgets.HTML("<b>Tiers</b>")), tiers,
                self.own(widgets.HTML("<b>Churn warnings</b>")), self.churn_info, self.level, self.level_chart, self.clear_drill_button, self.warnings,
                self.own(widgets.HTML("<b>Lifetime value</b>")), self.clv_info,
            ]
            self.dates.on_change(self._dates_changed)
            self.watch(self.level, self._level_changed)
            self.on_click(self.rfm_button, self.run_rfm)
            self.on_click(self.churn_button, self.evaluate_churn)
            self.on_click(self.clv_button, self.fit_clv)
            self.refresh()

        # --- public API -------------------------------------------------------------------

        def refresh(self) -> None:
            """Re-read the RFM grid, tiers and churn warnings for the chosen date."""
            try:
                self.show_rfm()
                self.show_tiers()
                self.show_churn()
                self.show_clv()
            except Exception as error:  # noqa: BLE001 - shown in the panel
                self.status.value = error_html(error_message(error))

        def show_rfm(self) -> None:
            """The grid and named segments of the newest stored RFM run as of the date."""
            crm = self.crm
            self.rfm_run = run = latest_run(crm, "rfm", self.as_of)
            if run is None:
                self.grid_rows = []
                self.grid.rows = []
                self.rfm_info.value = note_html(f"No RFM run as of {self._when(self.as_of)}: press “Run RFM”.", "crmkit-loyalty-no-run")
                self.segments.value = ""
                return
            self.grid_rows = rfm_grid(crm, run.id)
            self.grid.rows = self.grid_rows
            self.rfm_info.value = note_html(
                f"Run #{run.id} as of {self._when(run.as_of)}: {self._count(run.customers)} customers scored "
                f"({run.params.get('method', '')}, {run.params.get('window_days', '')} days). "
                "Rows: recency score (5 = most recent); columns: frequency score (5 = most frequent).",
                "crmkit-loyalty-run-info",
            )
            self.segments.value = "<b>Named segments</b>" + formatting.table(
                crm.loyalty.rfm_distribution(run.id), ("segment", "customers", "monetary", "avg_recency_days", "avg_frequency"),
                kinds={"segment": "words", "monetary": "amount"},  # about_to_sleep -> About to sleep; money in major units
                labels={"monetary": "Net spend", "avg_recency_days": "Avg days since purchase"}, crm=crm,
            )

        def show_tiers(self) -> None:
            """Members per tier as of the date, and the moves of the days before it."""
            crm = self.crm
            members = crm.loyalty.tiers.members(self.as_of)
            rows = [{"tier": tier, "customers": n} for tier, n in members.items()]
            self.tier_chart.rows = rows
            self.tiers.value = formatting.table(rows, ("tier", "customers"), empty="No tier defined (crm.loyalty.tiers.define).", crm=crm)
            moved = crm.loyalty.tiers.movement(since=crm.calendar.add_days(self.as_of, -MOVEMENT_DAYS), until=self.as_of)
            self.movement.value = (
                f"<b>Moves in the {MOVEMENT_DAYS} days to {crm.calendar.local_date(self.as_of)}</b>: "
                f"{self._count(moved['upgrades'])} upgrades, {self._count(moved['downgrades'])} downgrades"
                + formatting.table(moved["moves"], ("direction", "from", "to", "customers"), empty="No tier change.", crm=crm)
            )

        def show_churn(self) -> None:
            """The warnings of the newest stored churn run as of the date: at the chosen level or
            above, or, after a click on a bar of the level chart, of exactly that level."""
            crm = self.crm
            self.churn_run = run = latest_run(crm, "churn", self.as_of)
            self.clear_drill_button.layout.display = None if self.drilled_level else "none"
            if run is None:
                self.churn_info.value = note_html(f"No churn run as of {self._when(self.as_of)}: press “Evaluate churn”.", "crmkit-loyalty-no-run")
                self.warnings.set_source(ListSource([], key="customer_id", columns=WARNING_COLUMNS))
                self.level_chart.rows = []
                return
            levels = churn_levels(crm, run.id)
            if self.drilled_level:
                found = level_warnings(crm, run, self.drilled_level, levels, WARNINGS_LIMIT + 1)
                total = levels[self.drilled_level]
            else:
                found = crm.loyalty.churn_warnings(self.as_of, self.level.value, limit=WARNINGS_LIMIT + 1)
                total = sum(n for level, n in levels.items() if LEVEL_RANK[level] >= LEVEL_RANK[self.level.value])
            found_here = found[:WARNINGS_LIMIT]
            names = customer_names(crm, [w.customer_id for w in found_here])
            rows = [warning_row(w, names) for w in found_here]
            self.churn_info.value = note_html(
                f"Run #{run.id} as of {self._when(run.as_of)}: " + ", ".join(f"{level} {self._count(n)}" for level, n in levels.items())
                + self._listed_text(len(found_here), total),
                "crmkit-loyalty-churn-info",
            )
            self.warnings.set_source(ListSource(rows, key="customer_id", columns=WARNING_COLUMNS, sort_keys=WARNING_SORT_KEYS))
            if self.drilled_level:
                self.warnings.drill("level", self.drilled_level)  # every row is of the level: the status names it
            self.level_chart.rows = [{"level": level, "customers": n} for level, n in levels.items() if n]

        def drill_level(self, level: Any) -> None:
            """List the warnings of exactly ``level`` (a click on its bar); None lists the chosen
            level and above again."""
            self.drilled_level = level if level in LEVELS else None
            self.show_churn()

        def clear_drill(self) -> None:
            """Undo a click on the level chart ("Show all levels")."""
            self.drill_level(None)

        def show_clv(self) -> None:
            """The newest stored CLV run as of the date, or why CLV could not be fitted."""
            self.clv_info.value = note_html(clv_text(self.crm, self.as_of), "crmkit-loyalty-clv-info")

        def fit_clv(self) -> Any:
            """Fit CLV as of the chosen date and store it, then show it; returns the result, or
            None when it cannot be fitted (the reason is shown in the status and the CLV text)."""
            result = self._run(f"fitting CLV as of {self._when(self.as_of)}", lambda: self.crm.loyalty.clv(self.as_of))
            if result is not None:
                self.status.value = note_html(
                    f"CLV as of {self._when(self.as_of)}: {self._count(result.customers)} customers valued in {self.seconds:.2f} s", "crmkit-loyalty-done",
                )
            self.show_clv()
            return result

        def run_rfm(self) -> Any:
            """Compute and store RFM as of the chosen date, then show it; returns the result or None."""
            result = self._run(f"scoring RFM as of {self._when(self.as_of)}", lambda: self.crm.loyalty.rfm(self.as_of))
            if result is not None:
                self.status.value = note_html(
                    f"RFM as of {self._when(self.as_of)}: {self._count(result.customers)} customers scored in {self.seconds:.2f} s", "crmkit-loyalty-done",
                )
                self.show_rfm()
            return result

        def evaluate_churn(self) -> Any:
            """Evaluate and store churn warnings as of the chosen date, then show them; returns
            the warnings at the chosen level or above, or None."""
            found = self._run(f"evaluating churn as of {self._when(self.as_of)}",
                              lambda: self.crm.loyalty.churn(self.as_of, self.level.value, limit=WARNINGS_LIMIT))
            if found is not None:
                self.status.value = note_html(f"churn as of {self._when(self.as_of)} evaluated in {self.seconds:.2f} s", "crmkit-loyalty-done")
                self.show_churn()
            return found

        # --- internals --------------------------------------------------------------------

        def _run(self, what: str, work) -> Any:
            """Run ``work()`` with "working…" shown and the buttons off; errors go to the status."""
            result, self.seconds = run_busy(self.buttons, self.status, what, work)
            return result

        @property
        def as_of(self) -> Any:
            """The moment (UTC) the panel shows: the date range's As of."""
            return self.dates.as_of

        def close(self) -> None:
            """Close the panel and stop following the (shared) date range."""
            self.dates.on_change(self._dates_changed, remove=True)
            super().close()

        def _when(self, moment: Any) -> str:
            return formatting.formatter(self.crm).local_time(moment)

        def _count(self, n: int) -> str:
            return formatting.formatter(self.crm).number(n)

        def _dates_changed(self, _dates) -> None:
            self.status.value = ""
            self.refresh()

        def _listed_text(self, listed: int, total: int) -> str:
            """How many of the warnings the table holds, when not all of them: '' or a sentence."""
            which = f"{self.drilled_level} warnings" if self.drilled_level else f"warnings at {self.level.value} or above"
            if listed >= total:
                return f"; listed: the {self._count(total)} {which}" if self.drilled_level else ""
            return f"; listed: the first {self._count(listed)} of {self._count(total)} {which}, highest score first"

        def _level_changed(self, change) -> None:
            self.drilled_level = None
            self.show_churn()

    return LoyaltyPanel
