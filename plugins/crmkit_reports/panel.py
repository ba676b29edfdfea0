"""The Reports tab of the dashboard: KPI cards and the report's charts as of a date and period.

The panel asks ``crm.reports.build`` for the whole report (the KPIs and every active plugin's
sections), the call code makes, and shows the headline measures as KPI cards against the
previous period and every section's :class:`crmkit.Chart` as a chart. Its dates are the
dashboard's shared date range (home-zone dates; a panel built alone shows a range of its own):
the report is as of its As of date, over the calendar month, quarter or year ending there, or
over the range itself. Changing the dates, the period or the segment computes the report again.

``ipywidgets`` and ``crmkit_jupyter`` are imported inside the factory only, so the plugin keeps
working where Jupyter is not installed.
"""

from __future__ import annotations

import functools
import time
from typing import Any

from crmkit import CrmError
PERIODS = ("month", "quarter", "year", "range")
#: How the period choices read: "range" is the shared From … As of range.
PERIOD_LABELS = {"month": "Month", "quarter": "Quarter", "year": "Year", "range": "From … As of"}
ALL_CUSTOMERS = "(all customers)"

#: The measures shown as cards: (measure, which direction is good news).
HEADLINE = (
    ("new_customers", "up"), ("active_end", "up"), ("churn_rate", "down"), ("retention_rate", "up"),
    ("net_revenue", "up"), ("average_customer_value", "up"),
)


def reports_panel(crm: Any, *, as_of: Any = None, period: str = "month") -> Any:
    """The Reports tab: the widget the dashboard shows (``crmkit.Panel`` factory).

    In a dashboard the panel follows the dashboard's date range and never sets it (unless
    ``as_of`` is given): untouched, that range starts where ``crmkit report DB`` without
    ``--as-of`` does (the CRM's clock, or a demo file's "today"). Alone, the panel shows a range
    of its own starting at ``as_of`` or that same default. ``period`` is ``month``, ``quarter``, ``year`` or ``range`` (the date range's
    From … As of).
    """
    return _panel_class()(crm, as_of=as_of, period=period)


def headline_cards(report: Any) -> list[dict]:
    """The headline measures of a report's overview section: one dict per card with measure,
    label, unit, value, previous and good ("up"/"down"), in :data:`HEADLINE` order.

    A measure missing from the report (its KPI failed) is left out.
    """
    try:
        rows = report.section("reports.overview").rows
    except KeyError:
        return []
    found: dict[str, dict] = {}
    for row in rows:
        found.setdefault(row["measure"], row)
    return [
        {"measure": name, "label": found[name]["label"], "unit": found[name]["unit"],
         "value": found[name]["value"], "previous": found[name]["previous"], "good": good}
        for name, good in HEADLINE if name in found
    ]


def chart_specs(report: Any) -> list[tuple[str, Any, list[dict]]]:
    """Every chart of every built section: ``(chart id, Chart, rows)`` in report order.

    The rows are the chart's own rows or else its section's; the id is ``<section key>/<n>``.
    """
    out = []
    for section in report.sections:
        if section.error:
            continue
        for number, chart in enumerate(section.charts, start=1):
            rows = chart.rows if chart.rows is not None else section.rows
            out.append((f"{section.key}/{number}", chart, list(rows)))
    return out


@functools.cache
def _panel_class() -> type:
    import ipywidgets as widgets

    from crmkit_jupyter.formatting import formatter
    from crmkit_jupyter.toolkit import ChartView, Composite, KpiCard, error_html, note_html, shared_range

    class ReportsPanel(Composite):
        """KPI cards and charts of ``crm.reports.build(as_of, period, segment)``.

        ``recompute()`` builds the report for the current controls; it runs on every change of
        the dates, period or segment. ``dates`` is the date range followed (``date_picker`` its
        As of picker). CSS: ``crmkit-reports``, ``crmkit-reports-as-of``,
        ``crmkit-reports-period``, ``crmkit-reports-segment``, ``crmkit-reports-recompute``,
        ``crmkit-reports-status``, ``crmkit-reports-cards`` and ``crmkit-reports-charts``;
        each chart has ``crmkit-chart``.
        """

        def __init__(self, crm: Any, *, as_of: Any = None, period: str = "month"):
            super().__init__("crmkit-reports")
            self.crm = crm
            # Read the dashboard's range, never set it: opening the tab must not move the dates the
            # analyst picked (nor the other tabs' As of). Untouched, the range starts where
            # `crmkit report DB` without --as-of does (the clock, or a demo file's "today"); a
            # panel alone gets a range of its own, at ``as_of`` when one is given.
            self.dates = shared_range(crm) if as_of is None else shared_range(crm, as_of=as_of)
            self.report = None
            self.cards: dict[str, Any] = {}
            self.charts: dict[str, Any] = {}
            segments = [ALL_CUSTOMERS] + [s.name for s in crm.segments.list()]
            self.date_picker = self.dates.as_of_picker
            self.date_picker.add_class("crmkit-reports-as-of")
            self.period_choice = self.own(widgets.Dropdown(
                options=[(PERIOD_LABELS[p], p) for p in PERIODS], value=period, description="Period:",
                layout=widgets.Layout(width="auto"), style={"description_width": "initial"}), "crmkit-reports-period")
            self.segment_choice = self.own(widgets.Dropdown(
                options=segments, value=ALL_CUSTOMERS, description="Segment:",
                layout=widgets.Layout(width="auto"), style={"description_width": "initial"}), "crmkit-reports-segment")
            self.recompute_button = self.own(widgets.Button(description="Recompute", icon="refresh"), "crmkit-reports-recompute")
            self.status = self.own(widgets.HTML(), "crmkit-reports-status")
            self.card_box = self.own(widgets.HBox(layout=widgets.Layout(flex_flow="row wrap")), "crmkit-reports-cards")
            self.chart_box = self.own(widgets.HBox(layout=widgets.Layout(flex_flow="row wrap")), "crmkit-reports-charts")
            controls = self.own(widgets.HBox(
                [self.period_choice, self.segment_choice, self.recompute_button],
                layout=widgets.Layout(flex_flow="row wrap"),
            ))
            own_dates = [] if self.dates.in_dashboard else [self.own(self.dates)]
            self.children = [*own_dates, controls, self.status, self.card_box, self.chart_box]
            self.dates.on_change(self._dates_changed)
            self.watch(self.period_choice, self._changed)
            self.watch(self.segment_choice, self._changed)
            self.on_click(self.recompute_button, self.recompute)
            self.recompute()

        # --- public API -------------------------------------------------------------------

        @property
        def as_of(self) -> Any:
            """The moment (UTC) the report is as of: the date range's."""
            return self.dates.as_of

        @property
        def period(self) -> Any:
            """The chosen period kind, or for ``range`` the date range's ``(start, end)``."""
            kind = self.period_choice.value
            return self.dates.bounds() if kind == "range" else kind

        @property
        def segment(self) -> str | None:
            """The chosen saved segment, or None for all customers."""
            value = self.segment_choice.value
            return None if value in (None, ALL_CUSTOMERS) else value

        def recompute(self) -> Any:
            """Build the report for the chosen date, period and segment; returns it (None on error)."""
            controls = (self.period_choice, self.segment_choice, self.recompute_button)
            for control in controls:
                control.disabled = True
            self.status.value = note_html(f"working… computing the report as of {formatter(self.crm).local_time(self.as_of)}", "crmkit-working")
            started = time.perf_counter()
            try:
                report = self.crm.reports.build(as_of=self.as_of, period=self.period, segment=self.segment)
            except Exception as error:  # noqa: BLE001 - shown in the panel, not lost in a callback
                self.status.value = error_html(_message(error))
                return None
            finally:
                for control in controls:
                    control.disabled = False
            self.report = report
            self._show_cards(report)
            self._show_charts(report)
            seconds = time.perf_counter() - started
            fmt = formatter(self.crm)
            text = (
                f"Report as of {fmt.local_time(report.as_of)} · period {_period_words(report.period, fmt)} compared with "
                f"{_period_words(report.previous, fmt) if report.previous else '—'} · {report.segment or 'all customers'} · "
                f"{len(report.sections)} sections in {seconds:.2f} s"
            )
            # A failed section shows its error, as in the HTML report (error_html escapes it).
            self.status.value = note_html(text, "crmkit-reports-done") + "".join(
                error_html(f"The section {s.title} ({s.key}) failed: {s.error}", "crmkit-error crmkit-reports-failed")
                for s in report.failed
            )
            return report

        # --- internals --------------------------------------------------------------------

        def _dates_changed(self, _dates) -> None:
            self.recompute()

        def close(self) -> None:
            """Close the panel and stop following the (shared) date range."""
            self.dates.on_change(self._dates_changed, remove=True)
            super().close()

        def _changed(self, change) -> None:
            self.recompute()

        def _show_cards(self, report) -> None:
            currency = report.currency
            fmt = formatter(self.crm)
            period = fmt.period(report.period.start, report.period.end, report.period.kind)
            if report.previous:  # Jun 2025 vs May 2025, not 2025-06 vs 2025-05
                period += " vs " + fmt.period(report.previous.start, report.previous.end, report.previous.kind)
            wanted = headline_cards(report)
            for item in wanted:
                card = self.cards.get(item["measure"])
                note = period + (f" · {currency}" if item["unit"] == "money" else "")
                fmt = {"rate": "percent", "money": "amount"}.get(item["unit"])  # money here is Decimal, major units
                if card is None:
                    card = self.own(KpiCard(item["label"], item["value"], previous=item["previous"], note=note,
                                            good=item["good"], fmt=fmt, crm=self.crm), f"crmkit-reports-card-{item['measure']}")
                    self.cards[item["measure"]] = card
                else:
                    with card.hold_trait_notifications():
                        card.figure, card.previous, card.note = item["value"], item["previous"], note
            self.card_box.children = [self.cards[item["measure"]] for item in wanted]

        def _show_charts(self, report) -> None:
            specs = chart_specs(report)
            keep = {chart_id for chart_id, _, _ in specs}
            for chart_id in list(self.charts):
                if chart_id not in keep:
                    self._drop(self.charts.pop(chart_id))
            shown = []
            for chart_id, chart, rows in specs:
                view = self.charts.get(chart_id)
                if view is not None and (view.kind, view.x, view.y) != (chart.kind, chart.x, tuple(chart.y)):
                    self._drop(self.charts.pop(chart_id))
                    view = None
                if view is None:
                    from .charts import terms  # read as in the HTML report: the section's titles and kinds
                    section = report.section(chart_id.rsplit("/", 1)[0])
                    view = self.own(ChartView.from_spec(chart, rows, **terms(chart, section, formatter(self.crm))))
                    self.charts[chart_id] = view
                else:
                    with view.hold_trait_notifications():
                        view.rows, view.title = rows, chart.title
                shown.append(view)
            self.chart_box.children = shown

        def _drop(self, widget) -> None:
            if widget in self._owned:
                self._owned.remove(widget)
            widget.close()

    return ReportsPanel


def _period_words(period: Any, fmt: Any) -> str:
    """A period as people read it: a whole month, quarter or year by name (``Jun 2025``), any
    other span by the first and last day it counts (``Jul 1, 2025 – Jul 9, 2025``, as the HTML
    report's header)."""
    from .render_html import period_text

    if period.complete and period.kind in ("month", "quarter", "year"):
        return fmt.period(period.start, period.end, period.kind)
    return period_text(period, fmt)


def _message(error: BaseException) -> str:
    return str(error) if isinstance(error, CrmError) else f"{type(error).__name__}: {error}"
