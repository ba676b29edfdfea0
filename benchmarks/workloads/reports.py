"""Reports: every KPI for a month and the month before, and the whole report as HTML, on the demo file.

The reports plugin's own part (KPIs, trend) is timed with only that plugin active; the report as
``crmkit report`` builds it (every plugin) is timed too, with each plugin's
``crmkit_report_sections`` on its own, so the sections' time is told apart from the KPIs'.

Baseline: what an analyst writes instead — pandas reading the purchases and refunds up to the
period end with ``read_sql`` and computing the customer counts (new, active at start and end,
churned, buyers) and the net revenue with groupby. The figures of both are checked equal.
"""

from __future__ import annotations

import sqlite3
from datetime import timedelta

from ..measure import Context, measurement, ratio, timed, unavailable

AS_OF = "2025-06-30T12:00:00Z"  # the demo's today


def _pandas_figures(raw, start: str, end: str, start_window: str, end_window: str, exponent: int) -> dict:
    import pandas as pd

    frame = pd.read_sql(
        "SELECT customer_id, kind, occurred_at, amount FROM interactions "
        "WHERE kind IN ('purchase', 'refund') AND occurred_at < ?", raw, params=[end],
    )
    buys = frame[frame.kind == "purchase"]
    per = buys.groupby("customer_id").occurred_at
    first, last = per.min(), per.max()
    before = buys[buys.occurred_at < start].groupby("customer_id").occurred_at.max().reindex(first.index)
    in_period = frame[frame.occurred_at >= start]
    active_start = before >= start_window
    net = int(in_period.loc[in_period.kind == "purchase", "amount"].sum() - in_period.loc[in_period.kind == "refund", "amount"].sum())
    return {
        "new_customers": int((first >= start).sum()),
        "active_start": int(active_start.sum()),
        "active_end": int((last >= end_window).sum()),
        "churned": int((active_start & (last < end_window)).sum()),
        "buyers": int(in_period.loc[in_period.kind == "purchase", "customer_id"].nunique()),
        "net_minor": net,
    }


def _with_every_plugin(data) -> list[dict]:
    """The whole report with every plugin active, and each plugin's report sections timed alone (one run each)."""
    import crmkit
    from crmkit.plugins import installed_entry_points

    # The data file is core-only and remembers that; the report here is every plugin's.
    crm = crmkit.open(data, plugins=sorted(installed_entry_points()))
    try:
        as_of = crm.as_of(AS_OF)
        t_all, report = timed(lambda: crm.reports.build(as_of=AS_OF))
        found = [measurement("crmkit: whole report, every plugin (what `crmkit report` builds)", t_all, result=len(report.sections))]
        for impl in reversed(crm.plugins.pm.hook.crmkit_report_sections.get_hookimpls()):
            if impl.plugin_name == "reports":
                continue
            arguments = {"crm": crm, "as_of": as_of}
            t_section, sections = timed(lambda impl=impl: impl.function(*[arguments[a] for a in impl.argnames]))
            found.append(measurement(f"sections of plugin {impl.plugin_name} (crmkit_report_sections)", t_section,
                                     result=len(sections or [])))
        return found
    finally:
        crm.close()


def run(ctx: Context) -> dict:
    import crmkit
    from crmkit.timeutil import to_iso

    out = {"measurements": [], "ratios": [], "notes": []}
    crm = crmkit.open(ctx.data, plugins=["reports"])
    raw = sqlite3.connect(f"file:{ctx.data}?mode=ro", uri=True)
    try:
        repeat = max(1, ctx.repeat)
        t_kpis, kpis = timed(lambda: crm.reports.kpis(as_of=AS_OF), repeat)
        t_build, report = timed(lambda: crm.reports.build(as_of=AS_OF), max(1, repeat // 2))
        t_trend, _ = timed(lambda: crm.reports.trend(as_of=AS_OF), repeat)
        t_html, html = timed(report.to_html, repeat)
        html_path = ctx.work / "report.html"
        html_path.write_text(html, encoding="utf-8")
        out["measurements"] += [
            measurement("crmkit: all 10 KPIs, June 2025 to date and the month before", t_kpis),
            measurement("crmkit: whole report (KPIs, trend, sections)", t_build, result=len(report.sections)),
            measurement("crmkit: monthly trend (12 months, one grouped query)", t_trend),
            measurement("crmkit: render the report as one HTML file", t_html, result=f"{len(html) // 1024} KiB"),
        ]
        out["measurements"] += _with_every_plugin(ctx.data)
        period = kpis["churn"].period
        window = timedelta(days=crm.reports.settings()["churn_days"])
        bounds = [to_iso(period.start), to_iso(period.end), to_iso(period.start - window), to_iso(period.end - window)]
        t_counts, _ = timed(lambda: crm.reports.scope(as_of=AS_OF, compare=False).counts(crm.db, period), repeat)
        out["measurements"].append(measurement("crmkit: customer counts of one period (counts pass + cross-sell probe)", t_counts))
        try:
            import pandas  # noqa: F401
        except ImportError:
            out["measurements"].append(unavailable("pandas read_sql + groupby, same counts", "pandas is not installed"))
            return out
        t_pandas, figures = timed(lambda: _pandas_figures(raw, *bounds, crm.exponent), repeat)
        mine = {
            "new_customers": kpis["acquisition"]["new_customers"], "active_start": kpis["churn"]["active_start"],
            "active_end": kpis["retention"]["active_end"], "churned": kpis["churn"]["churned"],
            "buyers": kpis["value"]["buyers"], "net_minor": int(kpis["value"]["net_revenue"].scaleb(crm.exponent)),
        }
        if mine != figures:
            raise AssertionError(f"crmkit and pandas disagree: {mine} != {figures}")
        out["measurements"].append(measurement("pandas read_sql + groupby, same counts and net revenue", t_pandas))
        out["ratios"] += [
            ratio("crmkit one-period counts ÷ pandas", t_counts / t_pandas if t_pandas else None),
            ratio("crmkit all KPIs with comparison ÷ pandas one-period counts", t_kpis / t_pandas if t_pandas else None),
        ]
        out["notes"].append("New, active, churned, buyers and net revenue of crmkit and pandas were checked equal.")
        out["notes"].append(f"Median of {repeat} runs after a warm-up (whole report: {max(1, repeat // 2)}; "
                            "every plugin and each plugin's sections: one run).")
    finally:
        raw.close()
        crm.close()
    return out
