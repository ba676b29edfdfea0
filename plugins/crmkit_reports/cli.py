"""``crmkit report DB ...`` and the ``crmkit reports`` group (KPI definitions, settings)."""

from __future__ import annotations

from pathlib import Path

import click

from crmkit import CrmError
from crmkit.cli import db_argument, open_crm
from crmkit.formatting import parse_locale
from crmkit.outputs import check_output

from .periods import KINDS
from .render_files import check_folder


@click.command("report")
@db_argument
@click.option("--as-of", "as_of", metavar="DATE", help="Report as of this date or time (default: now; for a demo file, the demo's today). A date means its midnight in the home time zone.")
@click.option("--period", type=click.Choice(KINDS), default="month", show_default=True,
              help="Calendar period ending at --as-of; compared with the one before it.")
@click.option("--from", "start", metavar="DATE", help="Explicit period start (with --to; replaces --period).")
@click.option("--to", "end", metavar="DATE", help="Explicit period end, not included (with --from).")
@click.option("--segment", metavar="NAME", help="Only the members of this saved segment (or a rule), as of --as-of.")
@click.option("--html", "html", type=click.Path(dir_okay=False), help="Write the whole report as one self-contained HTML file.")
@click.option("--csv", "csv_dir", type=click.Path(file_okay=False), help="Write one CSV file per section into this folder (created if missing, inside a folder that exists).")
@click.option("--json", "json_dir", type=click.Path(file_okay=False), help="Write one JSON file per section into this folder (created if missing, inside a folder that exists).")
@click.option("--no-compare", is_flag=True, help="Do not compute the previous period.")
@click.option("--rows", default=15, show_default=True, type=click.IntRange(1, 10_000), help="Rows per table in the terminal.")
@click.option("--locale", metavar="LOCALE", help="How numbers, money and dates read in the terminal and HTML, e.g. zh_CN "
              "(default: the core.locale setting, then LC_ALL/LANG, then en_US). CSV and JSON stay raw.")
def report_command(db, as_of, period, start, end, segment, html, csv_dir, json_dir, no_compare, rows, locale):
    """Print the report of DB (KPIs and every plugin's sections), or write it as HTML, CSV or JSON."""
    if (start is None) != (end is None):
        raise CrmError("give both --from and --to for an explicit period")
    if locale is not None:
        try:
            parse_locale(locale)
        except ValueError as error:
            raise CrmError(str(error)) from None
    crm = open_crm(db, plugin="reports")
    try:
        if html:  # every output checked before anything is computed or written
            check_output(crm, html, "--html")
        for folder, option in ((csv_dir, "--csv"), (json_dir, "--json")):
            if folder:
                check_folder(folder, option)
        chosen = (start, end) if start is not None else period
        report = crm.reports.build(as_of=as_of, period=chosen, segment=segment, compare=not no_compare)
        if not (html or csv_dir or json_dir):
            click.echo(report.to_text(max_rows=rows, locale=locale), nl=False)
        failed = report.failed
        if html:
            path = report.write_html(html, locale=locale)
            click.echo(f"HTML report written to {Path(path).resolve()}")
        if csv_dir:
            paths = report.write_csv(csv_dir)
            click.echo(f"{len(paths)} CSV files written to {Path(csv_dir).resolve()}")
        if json_dir:
            paths = report.write_json(json_dir)
            click.echo(f"{len(paths)} JSON files written to {Path(json_dir).resolve()}")
        if failed:
            names = ", ".join(f"{s.key} ({s.error})" for s in failed)
            click.echo(f"Warning: {len(failed)} section(s) failed: {names}", err=True)
    finally:
        crm.close()


@click.group("reports")
def reports_group():
    """KPI definitions and the settings of the reports plugin (the report itself: `crmkit report`)."""


@reports_group.command("definitions")
def definitions_command():
    """List every KPI with its definition."""
    from .kpis import CATALOGUE

    for definition in CATALOGUE.values():
        click.echo(f"{definition.key}: {definition.title}")
        click.echo(f"    {definition.definition}")


@reports_group.command("configure")
@db_argument
@click.option("--churn-days", type=int, help="Churn window: days without a purchase after which a customer is no longer active.")
@click.option("--cost-key", help="Key in a purchase's data holding its cost (for margins).")
@click.option("--cohort-months", type=int, help="Months of cohorts in the cohort table.")
def configure_command(db, churn_days, cost_key, cohort_months):
    """Show or change the reports settings stored in DB."""
    values = {k: v for k, v in {"churn_days": churn_days, "cost_key": cost_key, "cohort_months": cohort_months}.items() if v is not None}
    crm = open_crm(db, plugin="reports")
    try:
        settings = crm.reports.configure(**values) if values else crm.reports.settings()
        for key, value in settings.items():
            click.echo(f"reports.{key} = {value}")
    finally:
        crm.close()
