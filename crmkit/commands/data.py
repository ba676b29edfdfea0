"""``import`` and ``export``: customers and interactions in and out of files."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..cli import db_argument, open_crm
from ..errors import CrmError, ImportRefused
from ._common import AS_OF, LazyChoice, stage_progress

SHOWN_PROBLEMS = 20


def _show_problems(problems: list) -> None:
    for problem in problems[:SHOWN_PROBLEMS]:
        click.echo(f"  {problem}", err=True)
    if len(problems) > SHOWN_PROBLEMS:
        click.echo(f"  ... and {len(problems) - SHOWN_PROBLEMS} more; --report FILE writes them all", err=True)


@click.command("import")
@db_argument
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--kind", type=LazyChoice("crmkit.importing", "KINDS"), required=True, help="What the file holds.")
@click.option("--map", "mappings", multiple=True, metavar="COLUMN=FIELD", help="Read COLUMN as FIELD (repeatable); FIELD '-' ignores the column.")
@click.option("--skip-invalid", is_flag=True, help="Import the good rows and skip the bad ones (default: any bad row refuses the whole file).")
@click.option("--report", type=click.Path(dir_okay=False), help="Write every problem (row, column, field, value, reason) to this CSV file.")
@click.option("--encoding", help="Text encoding of a CSV or JSON lines file, e.g. gbk or cp1252 (default UTF-8, with or without BOM).")
@click.option("--format", "file_format", type=LazyChoice("crmkit.importing", "FORMATS"), help="File format when the extension does not tell.")
@click.option("--set", "defaults", multiple=True, metavar="FIELD=VALUE",
              help="Give FIELD this VALUE on every row that leaves it empty (repeatable), e.g. --set kind=purchase.")
@click.option("--date-format", metavar="FORMAT",
              help="How the file writes times when not ISO-8601: a strptime format, e.g. '%d.%m.%Y %H:%M'.")
@click.option("--timezone", metavar="ZONE",
              help="Time zone of times written without an offset, e.g. Europe/Berlin (default UTC).")
@click.option("--create-customers", is_flag=True,
              help="Interactions: a customer_external_id or customer_email no customer has creates that customer "
                   "(named by a customer_name column, else by the reference).")
@click.option("--key", metavar="COLUMN",
              help="Interactions: the column (or a field such as data.order_id) holding each row's key in the source "
                   "system; a row whose key is already recorded for its customer and kind is skipped, so the file "
                   "can be imported again. Without it every row is recorded.")
@click.option("--max-future", type=click.IntRange(min=0), metavar="DAYS",
              help="Refuse rows dated more than DAYS days after now as bad rows. Without it they import, with a "
                   "warning for rows more than a day ahead (a 2099 typo).")
def import_command(
    db, file, kind, mappings, skip_invalid, report, encoding, file_format, defaults, date_format, timezone, create_customers,
    key, max_future,
) -> None:
    """Import customers or interactions from a CSV, JSON lines or Excel (.xlsx) file.

    Columns named like fields map themselves; customers are matched on external_id, then email,
    and updated, others added. Interactions name their customer by customer_id,
    customer_external_id or customer_email. Every row is checked first: any bad row means
    nothing is imported, unless --skip-invalid.

    Example: crmkit import shop.db contacts.csv --kind customers --map "E-Mail Address=email"

    Orders exported by a shop system, with German dates and no kind column:

    \b
      crmkit import shop.db orders.csv --kind interactions --set kind=purchase \\
        --map "Customer No=customer_external_id" --map "Order Date=occurred_at" \\
        --map Total=amount --date-format "%d.%m.%Y %H:%M" --timezone Europe/Berlin \\
        --key "Order No"
    """
    from .. import importing

    mapping = importing.parse_mapping(mappings)
    fixed = importing.parse_defaults(defaults)
    with open_crm(db) as crm:
        try:

            # The check counts a sheet's rows, or the bytes read of any other file.
            sheet = importing.format_of(Path(file), file_format) == "xlsx"
            checking = "Checking rows" if sheet else "Checking the file (bytes read)"
            with stage_progress({"check": checking, "write": "Writing rows"}) as progress:
                result = importing.import_file(
                    crm, file, kind=kind, mapping=mapping, skip_invalid=skip_invalid, report=report,
                    encoding=encoding, progress=progress, format=file_format,
                    defaults=fixed, date_format=date_format, timezone=timezone, create_customers=create_customers,
                    key=key, max_future=max_future,
                )
        except ImportRefused as refused:
            if not refused.report_path:
                _show_problems(refused.problems)
            raise
    if kind == "customers":
        click.echo(f"Imported {result.imported} customers from {file}: {result.added} added, {result.updated} updated.")
    else:
        created = f"; {result.customers_added} new customer(s) created" if result.customers_added else ""
        click.echo(f"Imported {result.added} interactions from {file}{created}.")
        if key is not None or result.already_recorded:
            bad = f", {result.skipped:,} bad" if result.skipped else ""
            click.echo(f"{result.rows:,} read: {result.added:,} new, {result.already_recorded:,} already recorded{bad}.")
    if result.future_rows:
        rows = ", ".join(map(str, result.future_rows[:10])) + (", ..." if len(result.future_rows) > 10 else "")
        click.echo(f"Warning: {len(result.future_rows)} row(s) dated more than a day in the future (rows {rows}); "
                   "check the dates, or refuse such rows with --max-future DAYS.", err=True)
    if result.ignored_columns:
        click.echo(f"Ignored columns: {', '.join(result.ignored_columns)}", err=True)
    if result.problems:
        where = f"; report in {result.report_path}" if result.report_path else ""
        click.echo(f"Skipped {result.skipped} bad row(s){where}:", err=True)
        if not result.report_path:
            _show_problems(result.problems)


@click.command("export")
@db_argument
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--kind", type=LazyChoice("crmkit.exporting", "KINDS"), help="What to export (default: customers, or segment with --segment).")
@click.option("--segment", help="Name of a saved segment, or a rule, whose members to export.")
@click.option("--as-of", type=AS_OF, help="Segment membership as of this date or time (default: now).")
@click.option("--format", "file_format", type=LazyChoice("crmkit.exporting", "FORMATS"), help="Output format (default: from the extension; csv for -).")
def export_command(db, file, kind, segment, as_of, file_format) -> None:
    """Export customers, interactions or a segment's members to CSV or JSON lines ('-' for stdout).

    CSV cells starting with = + - @ get a leading ' so spreadsheets do not run them as formulas.

    Example: crmkit export shop.db vip.csv --segment vip --as-of 2025-03-31
    """
    kind = kind or ("segment" if segment else "customers")
    if kind == "segment" and not segment:
        raise CrmError("--kind segment needs --segment NAME: a saved segment's name, or a rule")
    with open_crm(db) as crm:
        target = sys.stdout if file == "-" else file
        from .. import exporting

        result = exporting.export_file(crm, target, kind, segment=segment, as_of=as_of, format=file_format)
    label = "customers" if kind != "interactions" else "interactions"
    click.echo(f"Exported {result.rows} {label} to {'stdout' if file == '-' else file}.", err=file == "-")
