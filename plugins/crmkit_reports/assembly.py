"""Report assembly: the KPI sections plus every active plugin's ``crmkit_report_sections``.

A section that cannot be built, the plugin's hook raising or returning something that is not a
list of :class:`crmkit.Section`, becomes a failed section carrying the error; the report goes on.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import attrs
from attrs import field, frozen

from crmkit import Chart, Section
from crmkit.formatting import Formatter
from crmkit.timeutil import to_iso

from . import kpis
from .periods import Period
from .presentation import UNIT_KINDS

if TYPE_CHECKING:
    from crmkit import CRM

PLUGIN = "reports"
# Breakdown columns holding money (Decimal in major units).
MONEY_COLUMNS = {"revenue": "amount", "net_revenue": "amount"}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")

# Which chart each KPI's breakdown gets: (kind, title, x, y).
_CHARTS = {
    "acquisition": ("hbar", "New customers by source", "source", ("new_customers",)),
    "value": ("bar", "Revenue by category", "category", ("revenue",)),
    "cohorts": ("heatmap", "Cohort retention (share buying in month k after the first)", "cohort", None),
    "satisfaction": ("bar", "Average score by topic", "topic", ("average_score",)),
    "upgrades": ("hbar", "Tier changes", "label", ("changes",)),
}


@frozen
class Report:
    """A report as of a moment: its period, optional segment and sections, ready to render."""

    as_of: datetime
    period: Period
    previous: Period | None
    segment: str | None
    sections: tuple[Section, ...] = field(converter=tuple)
    currency: str = "USD"
    formatter: Formatter | None = field(default=None, eq=False, repr=False)

    def formatter_for(self, locale: str | None = None) -> Formatter:
        """How this report's values read: the CRM's locale and zone, or ``locale`` when given."""
        base = self.formatter or Formatter(currency=self.currency)
        return base if locale is None else Formatter(locale, self.currency, base.zone)

    def section(self, key: str) -> Section:
        """The section with this key."""
        for item in self.sections:
            if item.key == key:
                return item
        raise KeyError(f"no section {key!r}; sections: {', '.join(s.key for s in self.sections)}")

    @property
    def failed(self) -> list[Section]:
        """Sections that could not be built."""
        return [s for s in self.sections if s.error]

    def header(self) -> dict:
        """The report's identity: as_of, period, previous period, segment, currency."""
        return {
            "as_of": to_iso(self.as_of), "period": self.period.to_dict(),
            "previous": self.previous.to_dict() if self.previous else None,
            "segment": self.segment, "currency": self.currency,
        }

    def to_text(self, max_rows: int = 15, locale: str | None = None) -> str:
        """The report as plain-text tables for a terminal, formatted for ``locale`` (default: the CRM's)."""
        from .render_text import render

        return render(self, max_rows, self.formatter_for(locale))

    def write_csv(self, folder: str | Path) -> list[Path]:
        """One CSV file per section in ``folder`` (created if needed, in a folder that exists);
        returns the paths."""
        from .render_files import write_csv

        return write_csv(self, Path(folder))

    def write_json(self, folder: str | Path) -> list[Path]:
        """One JSON file per section in ``folder`` (created if needed, in a folder that exists);
        returns the paths."""
        from .render_files import write_json

        return write_json(self, Path(folder))

    def to_html(self, locale: str | None = None) -> str:
        """The whole report as one self-contained HTML document (inline CSS, inline SVG charts),
        formatted for ``locale`` (default: the CRM's, see :mod:`crmkit.formatting`)."""
        from .render_html import render

        return render(self, self.formatter_for(locale))

    def write_html(self, path: str | Path, locale: str | None = None) -> Path:
        """Write :meth:`to_html` to ``path``; returns the path."""
        from .render_files import write_text

        return write_text(Path(path), self.to_html(locale))


def file_stem(key: str) -> str:
    """A section key as a safe file name."""
    return _UNSAFE.sub("_", key).strip("._") or "section"


def build_report(crm: "CRM", scope: kpis.Scope, as_of: datetime) -> Report:
    """Compute every KPI section and collect the plugins' sections."""
    sections: list[Section] = []
    results = {}
    for key, definition in kpis.CATALOGUE.items():
        try:
            results[key] = definition.compute(crm.db, scope)
        except Exception as error:  # noqa: BLE001 - shown as a failed section
            results[key] = error
    sections.append(_overview(results))
    sections.append(_guarded("reports.trend", "Monthly trend", lambda: _trend(crm, scope)))
    for key, result in results.items():
        if isinstance(result, Exception):
            sections.append(_failed(f"reports.{key}", kpis.CATALOGUE[key].title, PLUGIN, result))
        else:
            sections.append(_guarded(f"reports.{key}", result.title, lambda r=result: _kpi_section(r)))
    sections.extend(_plugin_sections(crm, as_of))
    return Report(as_of, scope.period, scope.previous, scope.segment, _unique(sections), crm.currency,
                  Formatter.for_crm(crm))


def _overview(results: dict) -> Section:
    rows, headline = [], []
    wanted = ("new_customers", "active_end", "churn_rate", "retention_rate", "net_revenue", "average_customer_value")
    for key, result in results.items():
        if isinstance(result, Exception):
            continue
        for measure in result.measures:
            rows.append({"kpi": key, "kpi_title": result.title, **measure.to_row()})
            if measure.name in wanted and measure.name not in (m.name for m in headline):
                headline.append(measure)
    return Section(
        "reports.overview", "Key figures", rows=rows,
        columns=("kpi", "kpi_title", "measure", "label", "unit", "value", "previous", "change"),
        notes="Every measure of every KPI, with the previous period and the change (CSV and JSON: rates as fractions).",
        plugin=PLUGIN, hidden=("kpi", "measure", "unit"), **_figures_of(headline, {"kpi_title": "KPI"}),
    )


def _figures_of(measures, labels: dict | None = None) -> dict:
    """A section's figures, previous figures, titles and kinds from KPI measures."""
    return {
        "figures": {m.name: m.value for m in measures},
        "previous": {m.name: m.previous for m in measures if m.previous is not None},
        "labels": {**{m.name: m.label for m in measures}, **(labels or {})},
        "kinds": {**MONEY_COLUMNS, **{m.name: UNIT_KINDS.get(m.unit, "number") for m in measures}},
    }


def _trend(crm: "CRM", scope: kpis.Scope) -> Section:
    rows = kpis.trend(crm.db, scope)
    return Section(
        "reports.trend", "Monthly trend", rows=rows,
        columns=("month", "new_customers", "active_customers", "buyers", "net_revenue"),
        charts=(
            Chart("line", "Customers per month", "month", ("new_customers", "active_customers", "buyers")),
            Chart("bar", "Net revenue per month", "month", ("net_revenue",)),
        ),
        notes="The twelve calendar months up to the period end; active = a purchase in the churn window before the month end.",
        plugin=PLUGIN, kinds=MONEY_COLUMNS,
        labels={"active_customers": "Active customers", "buyers": "Buying customers", "net_revenue": "Net revenue"},
    )


def _kpi_section(result) -> Section:
    shown = _figures_of(result.measures)
    notes = result.definition + (f" ({result.note})" if result.note else "")
    if result.rows:
        rows, columns = result.rows, result.columns
    else:
        rows = result.to_rows()
        columns = ("measure", "label", "unit", "value", "previous", "change")
        shown["hidden"] = ("measure", "unit")
    charts = []
    if result.key == "concentration" and result.rows:
        charts.append(Chart("pareto", "Pareto: revenue share per 5% of customers", "customers_share",
                            ("added_share", "revenue_share"), _pareto_bars(result.rows)))
        shown["labels"]["added_share"] = "Revenue share of the band"
        shown["labels"]["revenue_share"] = "Cumulative share of revenue"
        shown["labels"]["customers_share"] = "Top customers (share)"
    elif result.key == "upgrades" and result.rows:
        labelled = [dict(r, label=f"{r['change'].capitalize()}: {r['from_tier'] or 'no tier'} → {r['to_tier'] or 'no tier'}") for r in result.rows]
        charts.append(Chart("hbar", "Tier changes", "label", ("changes",), labelled))
    elif result.key in _CHARTS and result.rows:
        kind, title, x, y = _CHARTS[result.key]
        # m0 is 100% by definition: leaving it out keeps the colour scale for the months that vary
        months = tuple(c for c in result.columns if re.fullmatch(r"m\d+", c))
        charts.append(Chart(kind, title, x, y or (months[1:] or months)))
    return Section(f"reports.{result.key}", result.title, rows=rows, columns=columns,
                   charts=charts, notes=notes, plugin=PLUGIN, **shown)


def _pareto_bars(curve: list[dict]) -> list[dict]:
    """The Pareto curve as the share of revenue each band of customers adds, with the cumulative share."""
    out, before_share = [], 0
    for point in curve:
        out.append({
            "customers_share": point["customers_share"],
            "added_share": point["revenue_share"] - before_share,
            "revenue_share": point["revenue_share"],
        })
        before_share = point["revenue_share"]
    return out


def _plugin_sections(crm: "CRM", as_of: datetime) -> list[Section]:
    """Every plugin's sections, plugins in the order they were loaded."""
    out = []
    order = {name: index for index, name in enumerate(crm.plugins.names())}
    answers = crm.plugins.each("crmkit_report_sections", crm=crm, as_of=as_of)
    for plugin, result, error in sorted(answers, key=lambda answer: order.get(answer[0], len(order))):
        if error is not None:
            out.append(_failed(f"{plugin}.sections", f"Sections of plugin {plugin}", plugin, error))
            continue
        if result is None:
            continue
        if not isinstance(result, (list, tuple)) or not all(isinstance(s, Section) for s in result):
            problem = TypeError(f"crmkit_report_sections returned {type(result).__name__}, not a list of crmkit.Section")
            out.append(_failed(f"{plugin}.sections", f"Sections of plugin {plugin}", plugin, problem))
            continue
        out.extend(attrs.evolve(s, plugin=plugin) for s in result)
    return out


def _guarded(key: str, title: str, make) -> Section:
    try:
        return make()
    except Exception as error:  # noqa: BLE001 - shown as a failed section
        return _failed(key, title, PLUGIN, error)


def _failed(key: str, title: str, plugin: str, error: BaseException) -> Section:
    return Section(key, title, plugin=plugin, error=f"{type(error).__name__}: {error}")


def _unique(sections: list[Section]) -> list[Section]:
    """Section keys made unique (a repeated key gets ``-2``, ``-3``...) so files do not collide."""
    seen: dict[str, int] = {}
    out = []
    for section in sections:
        stem = file_stem(section.key)
        seen[stem] = seen.get(stem, 0) + 1
        out.append(section if seen[stem] == 1 else attrs.evolve(section, key=f"{section.key}-{seen[stem]}"))
    return out
