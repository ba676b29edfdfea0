"""Export customers, interactions or a segment's members to CSV or JSON lines, streamed.

Rows come from one SQL cursor and go straight to the file, so memory stays flat however big
the CRM is. Money is decimal text in the CRM's currency (``"120.50"``), times are ISO-8601 UTC.

CSV cells that start with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return get a leading
``'`` so that a spreadsheet shows them as text instead of running them as a formula (CSV
injection). crmkit's import removes that quote again, so an export can be imported back.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Iterator

from attrs import frozen

from . import csvfile, history
from .csvfile import safe_cell
from .errors import CrmError, RuleError, ValidationError
from .money import from_minor
from .outputs import check_output
from .segments import FROM_CUSTOMERS

if TYPE_CHECKING:
    from .crm import CRM

KINDS = ("customers", "interactions", "segment")
FORMATS = ("csv", "jsonl")
CUSTOMER_COLUMNS = (
    "id", "external_id", "name", "email", "phone", "address", "region", "company", "industry",
    "size", "source", "owner", "stage", "tags", "attributes", "created_at", "updated_at",
)
INTERACTION_COLUMNS = (
    "id", "customer_id", "kind", "channel", "occurred_at", "amount", "product", "category", "rep",
    "notes", "data", "recorded_at",
)


@frozen
class ExportResult:
    """What an export wrote."""

    kind: str
    path: str
    format: str
    rows: int


csv_safe = safe_cell  # the name this module exported before crmkit.csvfile existed


def records(crm: "CRM", kind: str, *, segment: str | None = None, as_of: Any = None) -> Iterator[dict]:
    """The rows an export writes, as JSON-ready dicts (streamed from one query).

    ``kind="segment"`` gives the customers in ``segment`` (a saved segment's name or a rule)
    as of ``as_of`` (default: the CRM's clock), with the fields kept per version (region,
    company, industry, size, source, owner, stage, tags, attributes) as they were then; identity
    and contact fields are today's, as rules read them.
    """
    sql, params, columns = _query(crm, kind, segment, as_of)
    exponent = crm.exponent
    cursor = crm.db.execute(sql, params)
    for values in cursor:
        row = dict(zip(columns, values))
        if "tags" in row:
            row["tags"] = json.loads(row["tags"] or "[]")
            row["attributes"] = json.loads(row["attributes"] or "{}")
        else:
            amount = from_minor(row["amount"], exponent)
            row["amount"] = None if amount is None else format(amount, "f")
            row["data"] = json.loads(row["data"]) if row["data"] else {}
        yield row


def export_file(
    crm: "CRM", target: str | Path | IO[str], kind: str = "customers", *, segment: str | None = None,
    as_of: Any = None, format: str | None = None,  # noqa: A002 - the CLI's --format
) -> ExportResult:
    """Write customers, interactions or a segment's members to ``target`` (a path or a text stream).

    The format comes from ``format`` or the file's extension (``.csv``, ``.jsonl``); a stream
    defaults to CSV. A path is written through a temporary file and renamed at the end, so a
    failed export never leaves half a file.
    """
    is_path = isinstance(target, (str, Path))
    file_format = _format_of(target if is_path else None, format)
    _query(crm, kind, segment, as_of)  # refuse a bad kind, segment or rule before writing
    if not is_path:
        count = _write(crm, target, kind, segment, as_of, file_format)
        return ExportResult(kind, getattr(target, "name", "<stream>"), file_format, count)
    path = check_output(crm, target, "the export")
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent.resolve())
    try:
        with os.fdopen(handle, "w", newline="", encoding="utf-8") as out:
            count = _write(crm, out, kind, segment, as_of, file_format)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    return ExportResult(kind, str(path), file_format, count)


def _write(crm: "CRM", out: IO[str], kind: str, segment: str | None, as_of: Any, file_format: str) -> int:
    columns = INTERACTION_COLUMNS if kind == "interactions" else CUSTOMER_COLUMNS
    count = 0
    if file_format == "jsonl":
        for row in records(crm, kind, segment=segment, as_of=as_of):
            out.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
            count += 1
        return count
    writer = csvfile.writer(out, lineterminator="\r\n" if out is not sys.stdout else "\n")
    writer.writerow(columns)
    for row in records(crm, kind, segment=segment, as_of=as_of):
        writer.writerow([_cell(row[c]) for c in columns])
        count += 1
    return count


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True) if value else ""
    if isinstance(value, list):
        # Comma-separated like the import reads them; JSON when a tag holds a comma itself.
        return json.dumps(value, ensure_ascii=False) if any("," in t for t in value) else ",".join(value)
    return str(value)


def _format_of(path: str | Path | None, given: str | None) -> str:
    if given:
        name = given.lower().lstrip(".")
        name = {"json": "jsonl", "ndjson": "jsonl"}.get(name, name)
        if name not in FORMATS:
            raise ValidationError("format", given, "one of " + ", ".join(FORMATS))
        return name
    if path is None:
        return "csv"
    suffix = Path(path).suffix.lower()
    found = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}.get(suffix)
    if found is None:
        raise CrmError(f"cannot tell the format of {Path(path).name} from its extension; pass --format csv|jsonl")
    return found


def _query(crm: "CRM", kind: str, segment: str | None, as_of: Any) -> tuple[str, dict, tuple[str, ...]]:
    if kind not in KINDS:
        raise ValidationError("kind", kind, "one of " + ", ".join(KINDS))
    if kind != "segment" and segment is not None:
        raise ValidationError("segment", segment, "given only with kind 'segment'")
    if kind == "interactions":
        return f"SELECT {', '.join(INTERACTION_COLUMNS)} FROM interactions ORDER BY id", {}, INTERACTION_COLUMNS
    columns = ", ".join(f"c.{name}" for name in CUSTOMER_COLUMNS)
    if kind == "customers":
        return f"SELECT {columns} FROM customers c ORDER BY c.id", {}, CUSTOMER_COLUMNS
    if not segment:
        raise ValidationError("segment", segment, "a saved segment's name or a rule")
    compiled = crm.segments.compile(_rule_of(crm, segment), crm.as_of(as_of))
    if as_of is None:
        sql = f"SELECT {columns} FROM {FROM_CUSTOMERS} WHERE {compiled.where} ORDER BY c.id"
        return sql, compiled.params, CUSTOMER_COLUMNS
    # As of a date, the members' versioned fields are those of their version valid then (the
    # ones the rule read): a member of "region = 'EU'" in March is exported with March's region.
    sql = (
        f"SELECT {', '.join(_as_of_column(name) for name in CUSTOMER_COLUMNS)} FROM {FROM_CUSTOMERS} "
        f"LEFT JOIN customer_history h ON h.customer_id = c.id AND {history.VALID_AT} "
        f"WHERE {compiled.where} ORDER BY c.id"
    )
    return sql, compiled.params, CUSTOMER_COLUMNS


def _as_of_column(name: str) -> str:
    """A customer column as of ``:as_of``: a versioned one from the version ``h`` valid then
    (the stored row when there is none), ``updated_at`` as that version's start."""
    if name in history.COLUMNS:
        return f"CASE WHEN h.customer_id IS NULL THEN c.{name} ELSE h.{name} END"
    if name == "updated_at":
        return "CASE WHEN h.customer_id IS NULL THEN c.updated_at ELSE h.valid_from END"
    return f"c.{name}"


def _rule_of(crm: "CRM", segment: str) -> str:
    """A saved segment's rule, or ``segment`` itself as a rule. A lone unknown word is reported
    as an unknown segment name, which is what it most likely is."""
    if segment in crm.segments:
        return crm.segments.get(segment).rule
    try:
        crm.segments.compile(segment)
    except RuleError:
        if segment.replace("_", "").replace("-", "").isalnum():
            crm.segments.get(segment)  # raises NotFound naming the saved segments
        raise
    return segment

