"""Import customers or interactions from CSV, JSON lines or Excel (.xlsx) files.

The import runs in two passes and holds only one batch of rows in memory at a time:

1. *Check*: every row is read, mapped to fields and validated exactly as the store would
   validate it; references to customers are resolved in SQL per batch; duplicate keys within the
   file are found through a throwaway staging database (a temporary SQLite file). Good rows are
   staged there, bad rows become :class:`ImportProblem` entries.
2. *Write*: unless a bad row was found and ``skip_invalid`` is false, the staged rows are streamed
   into ``crm.customers.upsert_many`` or ``crm.interactions.record_many`` inside one transaction,
   so plugins see the usual batched events and a failure leaves the CRM file as it was.

Row numbers are the ones a user sees: the line where a CSV record or a JSON line starts (the
header is line 1), the worksheet row of an Excel file.
"""

from __future__ import annotations

import codecs
import json
import os
import re
from datetime import date, datetime, time, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

from attrs import evolve, frozen

from . import csvfile
from .csvread import CsvSyntaxError, StrictReader
from .engine import scratch
from .engine.scratch import insert_rows
from .errors import CrmError, ImportRefused, ValidationError
from .models import MAX_NESTING, Customer, Interaction, check_json_value, normalise_email
from .money import to_amount
from .outputs import check_output
from .store import json_values
from .timeutil import to_datetime, to_iso

if TYPE_CHECKING:
    from .crm import CRM

KINDS = ("customers", "interactions")
FORMATS = ("csv", "jsonl", "xlsx")
EXTENSIONS = {
    ".csv": "csv", ".txt": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
    ".xlsx": "xlsx", ".xlsm": "xlsx",
}
CUSTOMER_FIELDS = Customer.EDITABLE + ("created_at",)
INTERACTION_FIELDS = (
    "customer_id", "customer_external_id", "customer_email", "customer_name", "kind", "occurred_at",
    "amount", "channel", "product", "category", "rep", "notes", "data", "external_key",
)
CUSTOMER_REFERENCES = ("customer_id", "customer_external_id", "customer_email")
# A mapped field "attributes.<key>" (customers) or "data.<key>" (interactions) sets one key.
NESTED_PREFIX = {"customers": "attributes.", "interactions": "data."}
REPORT_COLUMNS = ("row", "column", "field", "value", "reason")
BATCH_SIZE = 1000
IGNORE = ("", "-")

# Export prefixes these with a quote so spreadsheets do not run them; import takes it off again.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Text that a data/attributes key stores as a number: ASCII digits without a leading zero (a zip
# code such as 01234 is an identifier and stays text), short enough to keep every digit.
_INTEGER = re.compile(r"^[+-]?(0|[1-9][0-9]{0,17})$")
_DECIMAL = re.compile(r"^[+-]?((0|[1-9][0-9]*)\.[0-9]*|\.[0-9]+)$")
_DECIMAL_DIGITS = 15  # a float holds 15 significant digits exactly
# The tokens of JSON text that tell its nesting: strings (skipped whole), brackets and colons.
_JSON_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}:]')
_WHOLE = re.compile(r"^[+-]?\d+$")  # a customer id as written (007 is 7)
_STORED_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
_PLAIN_DATE = re.compile(r"^\d{4}-\d\d-\d\d$")
_NESTED_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")

_UNKNOWN_KIND = "?"

Progress = Callable[[str, int, "int | None"], None]


class RowPathNeeded(Exception):
    """The columnar check of a file met something only the row path does (a JSON line feeding
    ``external_key``): the import starts again row by row. Nothing has been written by then."""


#: How much of a bad value a problem line shows (the report file has all of it).
SHOWN_VALUE = 200


@frozen
class ImportProblem:
    """One thing wrong with one row: where (row, column, field), what (value) and why."""

    row: int
    column: str
    field: str
    value: str
    reason: str

    def __str__(self) -> str:
        where = f"row {self.row}"
        if self.field:
            where += f", {self.field}"
            if self.column and self.column != self.field:
                where += f" (column {self.column!r})"
        value = self.value
        if len(value) > SHOWN_VALUE:  # the report file keeps it whole
            value = f"{value[:SHOWN_VALUE]}... ({len(self.value):,} characters)"
        shown = f" {value!r}" if value != "" else ""
        return f"{where}{shown}: {self.reason}"


@frozen
class ImportResult:
    """What an import did. ``added``/``updated`` are customers; interactions are all ``added``."""

    kind: str
    path: str
    format: str
    rows: int
    added: int
    updated: int
    skipped: int
    problems: list[ImportProblem]
    columns: dict[str, str]
    ignored_columns: tuple[str, ...]
    report_path: str | None = None
    #: Customers an interactions import created for references no customer had (``create_customers``).
    customers_added: int = 0
    #: Interactions not written because their external key was already recorded (``key``).
    already_recorded: int = 0
    #: Rows imported although dated more than a day after the CRM's now (without ``max_future``).
    future_rows: tuple[int, ...] = ()

    @property
    def imported(self) -> int:
        """Rows written to the CRM."""
        return self.added + self.updated


#: Rows written from which an import refreshes the planner's statistics (PostgreSQL: ANALYZE;
#: until autovacuum does, the server plans for the tables as they were before the load).
REFRESH_STATISTICS_AFTER = 20_000


def import_file(
    crm: "CRM", path: str | Path, *, kind: str, mapping: dict[str, str] | None = None,
    skip_invalid: bool = False, report: str | Path | None = None, encoding: str | None = None,
    progress: Progress | None = None, format: str | None = None,  # noqa: A002 - the CLI's --format
    defaults: dict[str, Any] | None = None, date_format: str | None = None, timezone: str | None = None,
    create_customers: bool = False, key: str | None = None, max_future: int | None = None,
) -> ImportResult:
    """Import customers or interactions from a file; all-or-nothing unless ``skip_invalid``.

    ``mapping`` maps file columns to fields (``{"E-mail": "email"}``; a field of ``""`` or ``"-"``
    ignores the column); other columns named like a field (case, spaces and hyphens aside) map
    themselves. Any bad row refuses the whole import with :class:`crmkit.ImportRefused`, whose
    ``problems`` list every bad row; with ``skip_invalid=True`` the good rows are imported and the
    problems are returned in the result. ``report`` writes the problems as CSV either way.
    ``progress(stage, done, total)`` is called with stage ``"check"`` (bytes or rows read) and
    ``"write"`` (rows written).

    For files exported by other systems: ``defaults`` gives a value to fields that a row leaves
    empty or that no column feeds (``{"kind": "purchase"}``); ``date_format`` reads times written
    another way than ISO-8601 (a :func:`~datetime.datetime.strptime` format such as
    ``"%d.%m.%Y %H:%M"``); ``timezone`` (an IANA name such as ``"Europe/Berlin"``) is the zone of
    times written without an offset, which are otherwise UTC.

    ``create_customers`` (interactions only): a row whose ``customer_external_id`` or
    ``customer_email`` belongs to no customer creates one, named by the ``customer_name`` column
    when the file has one (else by the reference itself); rows naming the same new reference share
    that customer. Without it such rows are bad rows.

    ``key`` (interactions only) makes an import repeatable: the interaction's external key, a
    column of the file (``"Order No"``) or a mapped field (``"data.order_id"``); a row whose key
    is already recorded for its customer and kind (or came earlier in the file) is skipped and
    counted in ``already_recorded``; a row without a key value is a bad row. A column named
    ``external_key`` (or mapped to it) sets the key without ``key``. Without a key every row is
    recorded, so importing a file twice records its interactions twice.

    ``max_future`` (days) makes a row dated (``occurred_at``, a customer's ``created_at``) more
    than that many days after the CRM's now a bad row; without it such rows import, and those
    dated more than a day ahead are listed in ``future_rows`` (the CLI warns about them).
    """
    if max_future is not None and (isinstance(max_future, bool) or not isinstance(max_future, int) or max_future < 0):
        raise ValidationError("max_future", max_future, "a whole number of days, 0 or more")
    if kind not in KINDS:
        raise ValidationError("kind", kind, "one of " + ", ".join(KINDS))
    if create_customers and kind != "interactions":
        raise ValidationError("create_customers", create_customers, "only for an interactions import")
    if key is not None and kind != "interactions":
        raise ValidationError("--key", key, "only for an interactions import")
    times = TimeReader(date_format, timezone)
    source_path = Path(path)
    file_format = format_of(source_path, format)
    if not source_path.is_file():
        raise CrmError(f"no file at {path}")
    codec = _codec(encoding)
    report_path = str(report) if report is not None else None
    if report_path is not None:
        check_output(crm, report_path, "--report")
    with _open_source(source_path, file_format, codec) as source:

        def start() -> tuple[_Plan, _Checker]:
            plan = _Plan(crm, kind, source.columns, mapping or {}, strict=source.has_header, defaults=defaults or {})
            return plan, _Checker(crm, kind, plan, source_path.name, times, create_customers=create_customers,
                                  key=_key_field(plan, key, source.columns), max_future=max_future)

        plan, checker = start()
        columnar = None
        try:
            from .columnar import columnar_import

            columnar = columnar_import(checker, source, source_path, codec, times, file_format)
            if columnar is not None:
                try:
                    columnar.check(progress)
                except RowPathNeeded:
                    # Met in a JSON line (its fields are known only as it is read): the row
                    # path checks the file from the start, with a fresh plan and staging.
                    checker.close()
                    columnar.close()
                    columnar = None
                    plan, checker = start()
            if columnar is None:
                for batch in _batches(source, plan, progress):
                    checker.check(batch)
            checker.place_columns()
            problems = checker.problems = sorted(checker.problems, key=lambda p: p.row)
            if report_path is not None:
                write_report(problems, report_path)
            if problems and not skip_invalid:
                raise ImportRefused(problems, report_path)
            added, updated = (columnar or checker).write(progress)
        finally:
            checker.close()
            if columnar is not None:
                columnar.close()
    if added + updated >= REFRESH_STATISTICS_AFTER:
        crm.db.refresh_statistics(crm.db.table_names())
    return ImportResult(
        kind=kind, path=str(path), format=file_format, rows=checker.rows, added=added,
        updated=updated, skipped=len({p.row for p in checker.problems}), problems=checker.problems,
        columns=plan.column_fields(), ignored_columns=tuple(plan.ignored), report_path=report_path,
        customers_added=checker.customers_added, already_recorded=checker.already_recorded,
        future_rows=tuple(checker.future_rows),
    )


def parse_mapping(pairs: Iterable[str], option: str = "--map") -> dict[str, str]:
    """``COLUMN=FIELD`` texts (the CLI's ``--map``, the HTTP import's ``map``) as the ``mapping``
    of :func:`import_file`; the last ``=`` splits, so a column name may hold one. A pair without
    ``=`` or a column, or a column mapped twice, is a :class:`~crmkit.ValidationError` naming
    ``option``."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        column, sep, field = pair.rpartition("=")
        column, field = column.strip(), field.strip()
        if not sep or not column:
            raise ValidationError(option, pair, "write it as COLUMN=FIELD, e.g. 'E-Mail Address=email'")
        if mapping.get(column, field) != field:
            raise ValidationError(f"{option} {column}", field, f"one field per column; {mapping[column]!r} was given too")
        mapping[column] = field
    return mapping


def parse_defaults(pairs: Iterable[str], option: str = "--set") -> dict[str, str]:
    """``FIELD=VALUE`` texts (the CLI's ``--set``, the HTTP import's ``set``) as the ``defaults``
    of :func:`import_file`; the first ``=`` splits, so a value may hold one. A pair without a
    field or a value, or a field given twice, is a :class:`~crmkit.ValidationError` naming
    ``option``."""
    defaults: dict[str, str] = {}
    for pair in pairs:
        field, sep, value = pair.partition("=")
        field, value = field.strip(), value.strip()
        if not sep or not field or not value:
            raise ValidationError(option, pair, "write it as FIELD=VALUE, e.g. kind=purchase")
        if defaults.get(field, value) != value:
            raise ValidationError(f"{option} {field}", value, f"one value per field; {defaults[field]!r} was given too")
        defaults[field] = value
    return defaults


def _key_field(plan: "_Plan", key: str | None, columns: list[str] | None) -> str | None:
    """The field whose value is each row's external key: ``key`` itself when it names a field
    (``external_key``, ``data.<key>``), else the field its column feeds; a column that feeds no
    field feeds ``external_key``."""
    if key is None:
        return None
    if key == "external_key":
        return key
    if key.startswith(plan.prefix):
        if not _NESTED_KEY.match(key[len(plan.prefix):]):
            raise ValidationError("--key", key, f"a column of the file or a field {plan.prefix}<key> (letters, digits, _)")
        return key
    if columns is not None and key not in columns:
        raise ValidationError("--key", key, "a column of the file (" + ", ".join(map(repr, columns)) + ") or a field data.<key>")
    target = plan.field_of(key)
    if target is None:
        if "external_key" in plan.column_fields().values():
            raise ValidationError("--key", key, "the one source of external_key (another column maps to it)")
        plan._resolved[key] = "external_key"
        if key in plan.ignored:
            plan.ignored.remove(key)
        target = "external_key"
    return target


def new_customer_key(field: str, reference: str) -> str:
    """The staging key of the customer a reference (``customer_external_id`` or a normalised
    ``customer_email``) that matched no one creates."""
    return ("x:" if field == "customer_external_id" else "e:") + reference


def new_customer_fields(field: str, reference: str, name: str | None) -> dict:
    """The fields of the customer ``--create-customers`` makes of a reference: its external id
    or email, and the row's ``customer_name`` (the reference when it has none)."""
    fields = {"external_id": reference} if field == "customer_external_id" else {"email": reference}
    fields["name"] = name or reference
    return fields


def write_report(problems: list[ImportProblem], path: str | Path) -> None:
    """Write problems as CSV (row, column, field, value, reason), cells made spreadsheet-safe."""
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csvfile.writer(out)
        writer.writerow(REPORT_COLUMNS)
        for p in problems:
            writer.writerow([p.row, p.column, p.field, p.value, p.reason])


# --- formats and encodings -------------------------------------------------------------------

def format_of(path: Path, given: str | None = None) -> str:
    """The format of the file to import (``csv``, ``jsonl`` or ``xlsx``): ``given`` (``--format``,
    with its aliases json, ndjson, excel), else the file's extension."""
    if given:
        name = given.lower().lstrip(".")
        name = {"json": "jsonl", "ndjson": "jsonl", "excel": "xlsx"}.get(name, name)
        if name not in FORMATS:
            raise ValidationError("format", given, "one of " + ", ".join(FORMATS))
        return name
    found = EXTENSIONS.get(path.suffix.lower())
    if found is None:
        raise CrmError(
            f"cannot tell the format of {path.name} from its extension; pass --format "
            + "|".join(FORMATS)
        )
    return found


def _codec(encoding: str | None) -> str:
    name = encoding or "utf-8"
    try:
        info = codecs.lookup(name)
        newline = "\n".encode(info.name)
    except (LookupError, ValueError):  # unknown, bytes to bytes (base64, rot13), "undefined", a NUL
        raise ValidationError("encoding", name, "an encoding Python knows for text, e.g. utf-8, gbk, cp1252, latin-1") from None
    if newline != b"\n":
        raise ValidationError("encoding", name, "an encoding where a line ends in one byte (UTF-8, GBK, cp1252, ...); save UTF-16 files as UTF-8")
    return "utf-8" if info.name in ("utf-8", "utf-8-sig") else info.name


class _LineDecoder:
    """Binary lines of a file decoded one by one, so a bad byte is pinned to its line."""

    def __init__(self, handle, codec: str):
        self._handle = handle
        self._codec = codec
        self.line = 0
        self.bytes_read = 0
        self.bad_lines: dict[int, str] = {}

    def __iter__(self) -> Iterator[str]:
        for raw in self._handle:
            self.line += 1
            self.bytes_read += len(raw)
            if self.line == 1 and self._codec == "utf-8" and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8):]
            try:
                yield raw.decode(self._codec)
            except UnicodeDecodeError as error:
                bad = raw[error.start:error.end]
                self.bad_lines[self.line] = (
                    f"bytes {bad!r} at byte {error.start + 1} of line {self.line} are not valid "
                    f"{self._codec}; save the file as UTF-8 or pass the right --encoding"
                )
                yield raw.decode(self._codec, errors="replace")


class _Source:
    """Rows of a file: ``columns`` (None for JSON lines) and ``rows()`` of (row number, cells, error)."""

    has_header = True
    columns: list[str] | None = None
    total: int | None = None

    def done(self) -> int:
        raise NotImplementedError

    def rows(self) -> Iterator[tuple[int, Any, str | None]]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _CsvSource(_Source):
    def __init__(self, path: Path, codec: str):
        self._handle = open(path, "rb")
        self.total = os.path.getsize(path)
        self._lines = _LineDecoder(self._handle, codec)
        lines = iter(self._lines)
        first = next(lines, None)
        if first is None or not first.strip():
            self.close()
            raise CrmError(f"{path.name} has no header row: the first line must name the columns")
        if 1 in self._lines.bad_lines:
            self.close()
            raise CrmError(f"{path.name}, header: {self._lines.bad_lines[1]}")
        delimiter = max((",", ";", "\t"), key=first.count) if any(d in first for d in ",;\t") else ","

        def all_lines() -> Iterator[str]:
            yield first
            yield from lines

        self._reader = StrictReader(all_lines(), delimiter=delimiter)
        self._records = iter(self._reader)
        try:
            _, _, header = next(self._records)
        except CsvSyntaxError as error:
            self.close()
            raise CrmError(f"{path.name}, header: {error.reason}") from None
        self.columns = [cell.strip() for cell in header]
        self._name = path.name

    def done(self) -> int:
        return self._lines.bytes_read

    @property
    def delimiter(self) -> str:
        return self._reader.delimiter

    @property
    def header_end(self) -> tuple[int, int]:
        """(bytes, lines) the header takes, BOM included: where the rows start."""
        return self._lines.bytes_read, self._lines.line

    def rows(self):
        return _csv_rows(self._records, self._lines, self.columns, self._name)

    def close(self) -> None:
        self._handle.close()


def _csv_rows(records: Iterator[tuple[int, int, list[str]]], lines: _LineDecoder, columns: list[str], name: str, offset: int = 0):
    """(row number, cells, error) of strict CSV records; ``offset`` is added to the record's line
    numbers (a part of a file read on its own)."""
    # Broken structure (an unclosed or stray quote, an unquoted delimiter) refuses the whole
    # file, even with skip_invalid: the rows after it cannot be told apart reliably.
    while True:
        try:
            start, end, record = next(records)
        except StopIteration:
            return
        except CsvSyntaxError as error:
            raise CrmError(f"{name} was not imported: {CsvSyntaxError(error.line + offset, error.reason)}") from None
        start, end = start + offset, end + offset
        if not any(cell.strip() for cell in record):
            continue
        bad = [lines.bad_lines.pop(n) for n in range(start, end + 1) if n in lines.bad_lines]
        cells = {column: _unquote(cell) for column, cell in zip(columns, record)}
        yield start, cells, "; ".join(bad) or None


class _JsonLinesSource(_Source):
    has_header = False

    def __init__(self, path: Path, codec: str):
        self._handle = open(path, "rb")
        self.total = os.path.getsize(path)
        self._lines = _LineDecoder(self._handle, codec)

    def done(self) -> int:
        return self._lines.bytes_read

    def rows(self):
        return _json_rows(self._lines)

    def close(self) -> None:
        self._handle.close()


def _json_rows(lines: _LineDecoder):
    """(row number, object, error) of the JSON lines ``lines`` decodes; blank lines are no rows."""
    for text in lines:
        number = lines.line
        if not text.strip():
            continue
        if number in lines.bad_lines:
            yield number, {}, lines.bad_lines.pop(number)
            continue
        try:
            value = json.loads(text, parse_float=Decimal, parse_int=_whole_number)
        except json.JSONDecodeError as error:
            yield number, {}, f"not valid JSON ({error.msg} at character {error.pos + 1})"
            continue
        except RecursionError:
            key = _too_deep_key(text)
            yield number, {}, f"{key + ': ' if key else ''}nested deeper than {MAX_NESTING} levels"
            continue
        if not isinstance(value, dict):
            yield number, {}, "not a JSON object; each line must be one object like {\"name\": \"Ada\"}"
            continue
        yield number, value, None


class _ExcelSource(_Source):
    def __init__(self, path: Path):
        try:
            import openpyxl
        except ImportError:
            raise CrmError("reading .xlsx files needs openpyxl: pip install 'crmkit[excel]'") from None
        from zipfile import BadZipFile

        from openpyxl.utils.exceptions import InvalidFileException

        try:
            self._book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except (BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as error:
            raise CrmError(f"{path.name} is not a readable .xlsx workbook: {error}") from None
        sheet = self._book.worksheets[0]
        self.total = sheet.max_row
        self._rows = enumerate(sheet.iter_rows(values_only=True), start=1)
        self._done = 0
        header = None
        for number, values in self._rows:
            self._done = number
            if any(v is not None and str(v).strip() for v in values):
                header = values
                break
        if header is None:
            self.close()
            raise CrmError(f"{path.name}: the first sheet is empty; its first row must name the columns")
        self.columns = ["" if v is None else str(v).strip() for v in header]

    def done(self) -> int:
        return self._done

    def rows(self):
        width = len(self.columns)
        for number, values in self._rows:
            self._done = number
            if not any(v is not None and (not isinstance(v, str) or v.strip()) for v in values):
                continue
            extra = [v for v in values[width:] if v is not None and str(v).strip()]
            error = f"the row has cells beyond the {width} named columns" if extra else None
            yield number, dict(zip(self.columns, values)), error

    def close(self) -> None:
        self._book.close()


def _open_source(path: Path, file_format: str, codec: str) -> _Source:
    if file_format == "csv":
        return _CsvSource(path, codec)
    if file_format == "jsonl":
        return _JsonLinesSource(path, codec)
    return _ExcelSource(path)


def _unquote(cell: str) -> str:
    """Undo the export's formula guard: ``'=1+2`` read back is ``=1+2``."""
    if len(cell) > 1 and cell[0] == "'" and cell[1] in _FORMULA_START:
        return cell[1:]
    return cell


# --- mapping columns to fields ---------------------------------------------------------------

def _normalise(name: str) -> str:
    """A column name as compared with field names: case, spaces, hyphens and underscores aside."""
    return re.sub(r"[\s\-_]+", "", str(name).strip().lower())


class _Plan:
    """Which column feeds which field."""

    def __init__(
        self, crm: "CRM", kind: str, columns: list[str] | None, mapping: dict[str, str], strict: bool,
        defaults: dict[str, Any] | None = None,
    ):
        self.kind = kind
        self.fields = CUSTOMER_FIELDS if kind == "customers" else INTERACTION_FIELDS
        self.prefix = NESTED_PREFIX[kind]
        self._field_normal = {_normalise(f): f for f in self.fields}
        self.mapping = {str(k): ("" if v is None else str(v).strip()) for k, v in mapping.items()}
        self._mapping_normal = {_normalise(k): v for k, v in self.mapping.items()}
        for column, target in self.mapping.items():
            if target not in IGNORE:
                self._check_field(f"--map {column}", target)
        self.defaults: dict[str, Any] = {}
        for target, value in (defaults or {}).items():
            target = str(target).strip()
            self._check_field(f"--set {target}", target)
            if not _is_empty(value):
                self.defaults[target] = value
        self.ignored: list[str] = []
        self._resolved: dict[str, str | None] = {}
        # JSON lines: no header; each row has its own keys, planned as they are first met.
        self.keyed = columns is None
        self._first_row: dict[str, int] = {}  # a key -> the row (counted from 1) it was first met in
        if columns is not None:
            self._plan_columns(columns)

    def _check_field(self, option: str, target: str) -> None:
        """Refuse a ``target`` that is no field; ``option`` names where it was given."""
        if target in self.fields:
            return
        if target.startswith(self.prefix) and _NESTED_KEY.match(target[len(self.prefix):]):
            return
        noun = self.kind[:-1]
        article = "an" if noun[0] in "aeiou" else "a"
        raise ValidationError(option, target, f"{article} {noun} field: {', '.join(self.fields)}, or {self.prefix}<key>")

    def _plan_columns(self, columns: list[str]) -> None:
        normal_columns = {_normalise(c) for c in columns}
        for given in self.mapping:
            if given not in columns and _normalise(given) not in normal_columns:
                raise ValidationError("--map", given, "a column of the file: " + ", ".join(repr(c) for c in columns))
        taken: dict[str, str] = {}
        for column in columns:
            if not column:
                continue
            if column in self._resolved:
                raise CrmError(f"the file has two columns named {column!r}")
            target = self._target(column)
            self._resolved[column] = target
            if target is None:
                self.ignored.append(column)
                continue
            if target in taken:
                raise CrmError(f"columns {taken[target]!r} and {column!r} both map to {target}; map one of them elsewhere or to '-'")
            taken[target] = column
        self._check_required(set(taken) | set(self.defaults))

    def _target(self, column: str) -> str | None:
        normal = _normalise(column)
        explicit = self.mapping.get(column, self._mapping_normal.get(normal))
        if explicit is not None:
            return None if explicit in IGNORE else explicit
        if normal in self._field_normal:
            return self._field_normal[normal]
        key = str(column).strip()[len(self.prefix):]
        if _normalise(column).startswith(_normalise(self.prefix)) and _NESTED_KEY.match(key):
            return self.prefix + key
        return None

    def _check_required(self, fields: set[str]) -> None:
        hint = "; name a column so or map one with --map COLUMN=FIELD"
        if self.kind == "customers":
            if not fields & {"name", "external_id", "email"}:
                raise CrmError("a customers file needs a name, external_id or email column" + hint)
            return
        for required in ("kind", "occurred_at"):
            if required not in fields:
                raise CrmError(f"an interactions file needs a {required} column" + hint)
        if not fields & set(CUSTOMER_REFERENCES):
            raise CrmError("an interactions file needs a customer_id, customer_external_id or customer_email column" + hint)

    def field_of(self, column: str, row: int = 0) -> str | None:
        """The field a column feeds (columns first seen in JSON lines, in the ``row``-th row
        counted from 1, are planned on the fly)."""
        try:
            return self._resolved[column]
        except KeyError:
            target = self._target(column) if column else None
            self._resolved[column] = target
            self._first_row[column] = row
            if target is None:
                self.ignored.append(column)
            return target

    def column_of(self, field: str, row: int | None = None) -> str:
        """The column feeding ``field`` ("" when none does). For the ``row``-th row of a JSON
        lines file: the key feeding it as first met in the rows up to the end of that row's
        batch of :data:`BATCH_SIZE` (those the row path had read when it checked the row)."""
        column = next((c for c, f in self._resolved.items() if f == field), "")
        if column and row is not None and self._first_row.get(column, 0) > -(-row // BATCH_SIZE) * BATCH_SIZE:
            return ""
        return column

    def column_fields(self) -> dict[str, str]:
        return {column: target for column, target in self._resolved.items() if target is not None}


# --- reading rows into field values ----------------------------------------------------------

@frozen
class _Row:
    number: int
    cells: dict[str, tuple[str, Any]]  # field -> (column, raw value)
    error: str | None
    #: A JSON line's place among the file's rows, counted from 1 (0 for other formats).
    ordinal: int = 0


def _batches(source: _Source, plan: _Plan, progress: Progress | None) -> Iterator[list[_Row]]:
    batch: list[_Row] = []
    # A part of a JSON lines file read on its own (the columnar path) knows its rows' places.
    ordinal_of = getattr(source, "ordinal_of", None)
    count = 0
    for number, cells, error in source.rows():
        count += 1
        ordinal = 0 if not plan.keyed else count if ordinal_of is None else ordinal_of(number)
        by_field: dict[str, tuple[str, Any]] = {}
        for column, value in cells.items():
            target = plan.field_of(column, ordinal)
            if target is not None and not _is_empty(value):
                by_field[target] = (column, value)
        if plan.keyed and error is None:  # a CSV header with two such columns is refused whole (_Plan)
            error = _two_keys_for_one_field(cells, plan, ordinal)
        for target, value in plan.defaults.items():
            by_field.setdefault(target, (f"--set {target}", value))
        batch.append(_Row(number, by_field, error, ordinal))
        if len(batch) >= BATCH_SIZE:
            yield batch
            batch = []
            if progress is not None:
                progress("check", source.done(), source.total)
    if batch:
        yield batch
    if progress is not None:
        progress("check", source.total or source.done(), source.total)


def _two_keys_for_one_field(cells: dict, plan: "_Plan", ordinal: int) -> str | None:
    """A JSON line's error when two of its keys feed one field, else None."""
    fed: dict[str, str] = {}
    for column in cells:
        target = plan.field_of(column, ordinal)
        if target is None:
            continue
        if target in fed:
            return f"keys {fed[target]!r} and {column!r} both feed {target}; keep one of them"
        fed[target] = column
    return None


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _shown(value: Any) -> str:
    """A raw cell as text for the report."""
    if isinstance(value, (dict, list)):
        try:
            return json.dumps(value, default=str, ensure_ascii=False)
        except RecursionError:
            return f"<a {type(value).__name__} nested deeper than {MAX_NESTING} levels>"
    if isinstance(value, float):
        return _float_text(value)
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 900 \
            or isinstance(value, Decimal) and len(value.as_tuple().digits) > 270:
        return format(Decimal(value), ".12e")  # 270 digits or more, which str() may refuse
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    return "" if value is None else str(value)


def _float_text(value: float) -> str:
    """A spreadsheet number as the decimal text it displays (1.1 stays 1.1, never 1.100000000000000088)."""
    if value.is_integer():
        return str(int(value))
    return format(Decimal(repr(value)), "f")


#: The most digits a number written out as text may have: more than any text field holds.
LONGEST_NUMBER = 10_000
# Python refuses to turn a whole number of more digits than this into text (or back).
_INT_DIGITS = 4_300


def _whole_number(digits: str) -> int | Decimal:
    """A JSON whole number: an int, or a Decimal when it is too long for Python's int parser."""
    return int(digits) if len(digits.lstrip("-")) <= _INT_DIGITS else Decimal(digits)


def _number_text(value: int | Decimal, field: str) -> str:
    """A number's plain decimal digits, refused before it is written out when it would be
    longer than any text field (1e99999999999 would take gigabytes)."""
    if isinstance(value, int):
        value = Decimal(value)
    if not value.is_finite():
        raise ValidationError(field, value, "a finite number")
    _, digits, exponent = value.as_tuple()
    written = len(digits) + exponent if exponent >= 0 else max(len(digits), -exponent) + 1
    if written > LONGEST_NUMBER:
        raise ValidationError(field, _shown(value), f"a number of at most {LONGEST_NUMBER:,} digits")
    return format(value, "f")


def _text(value: Any, field: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _float_text(value)
    if isinstance(value, int) and value.bit_length() < 64:
        return str(value)
    if isinstance(value, (int, Decimal)):
        return _number_text(value, field)
    if isinstance(value, datetime):
        return to_iso(value, field)
    if isinstance(value, date):
        return value.isoformat()
    raise ValidationError(field, value, "a single value, not a list or object")


def _time(value: Any, field: str) -> str:
    """Storage text of a time; the common spellings skip the general parser."""
    if isinstance(value, str):
        text = value.strip()
        try:
            if _STORED_TIME.match(text):
                datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")
                return text
            if _PLAIN_DATE.match(text):
                date.fromisoformat(text)
                return text + "T00:00:00Z"
        except ValueError:
            raise ValidationError(field, value, "an ISO-8601 date or time like 2024-05-01") from None
    return to_iso(value, field)


class TimeReader:
    """Reads the time cells of an import: ISO-8601 by default, or a ``strptime`` format; times
    without an offset are in ``timezone`` (default UTC). Returns storage text (UTC)."""

    def __init__(self, date_format: str | None = None, timezone: str | None = None):
        self.date_format = date_format or None
        self.zone: tzinfo | None = None
        if self.date_format is not None and "%" not in self.date_format:
            raise ValidationError("date_format", date_format, "a strptime format such as %d.%m.%Y %H:%M")
        if timezone:
            from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

            try:
                self.zone = ZoneInfo(str(timezone).strip())
            except (ZoneInfoNotFoundError, ValueError):
                raise ValidationError("timezone", timezone, "a time zone name such as Europe/Berlin or America/New_York") from None

    def __call__(self, value: Any, field: str) -> str:
        if self.date_format is None and self.zone is None:
            return _time(value, field)
        if self.date_format is not None and isinstance(value, str):
            value = self._strptime(value, field)
        return to_iso(to_datetime(value, field, zone=self.zone), field)

    def _strptime(self, value: str, field: str) -> datetime:
        try:
            return datetime.strptime(value.strip(), self.date_format)
        except ValueError:
            example = datetime(2024, 5, 1, 14, 30).strftime(self.date_format)
            raise ValidationError(field, value, f"a time written as {self.date_format}, like {example}") from None


def _money(value: Any) -> str:
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        return format(value, "f")
    if isinstance(value, float):
        return _float_text(value)
    return _text(value, "amount").strip().replace(" ", "")


def _plain(value: Any, field: str) -> Any:
    """A value for a JSON ``data``/``attributes`` key: numbers from text, Decimal as int/float."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v, field) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v, field) for v in value]
    if isinstance(value, str):
        text = value.strip()
        if _INTEGER.match(text):
            return int(text)
        if _DECIMAL.match(text) and sum(c.isdigit() for c in text.lstrip("+-0.")) <= _DECIMAL_DIGITS:
            return float(text)
        return text
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, (datetime, date)):
        return _text(value, field)
    return value


def _json_object(value: Any, field: str) -> dict:
    if isinstance(value, dict):
        return _plain(check_json_value(value, field), field)
    try:
        parsed = json.loads(_text(value, field), parse_float=Decimal, parse_int=_whole_number)
    except json.JSONDecodeError:
        raise ValidationError(field, value, "a JSON object like {\"key\": \"value\"}") from None
    except RecursionError:
        raise ValidationError(field, value, f"nested at most {MAX_NESTING} levels deep") from None
    if not isinstance(parsed, dict):
        raise ValidationError(field, value, "a JSON object like {\"key\": \"value\"}")
    return _plain(check_json_value(parsed, field), field)


def _too_deep_key(text: str) -> str | None:
    """The key of the JSON object ``text`` whose value nests past :data:`MAX_NESTING` levels
    (None when it is not a key's value), read from the text's tokens: for a line too deep to decode."""
    depth, key, previous = 0, None, None
    for match in _JSON_TOKENS.finditer(text):
        token = match.group()
        if token == ":" and depth == 1 and previous is not None and previous.startswith('"'):
            key = json.loads(previous)
        elif token in "[{":
            depth += 1
            if depth > MAX_NESTING + 1:
                return key
        elif token in "]}":
            depth -= 1
        previous = token
    return None


def _customer_id(value: Any) -> int:
    if isinstance(value, bool):
        raise ValidationError("customer_id", value, "a customer id (a whole number)")
    if isinstance(value, int):
        return value
    if isinstance(value, (float, Decimal)) and value == int(value):
        return int(value)
    text = _text(value, "customer_id").strip()
    if not _WHOLE.match(text):
        raise ValidationError("customer_id", value, "a customer id (a whole number)")
    return int(text)


# --- checking rows ---------------------------------------------------------------------------

# The scratch database is always SQLite (crmkit.engine.scratch). The keys are stored in their
# index alone: registering 200,000 keys takes 0.10-0.11 s instead of 0.13-0.15 s.
_STAGING_SCHEMA = """
CREATE TABLE staged (row INTEGER PRIMARY KEY, payload TEXT NOT NULL, matched INTEGER, new_customer TEXT);
CREATE TABLE row_keys (key TEXT PRIMARY KEY, row INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE new_customers (key TEXT PRIMARY KEY, row INTEGER NOT NULL, payload TEXT NOT NULL, id INTEGER);
"""


class _Checker:
    """Validates batches of rows, stages the good ones and writes them in the end."""

    def __init__(
        self, crm: "CRM", kind: str, plan: _Plan, name: str, times: TimeReader | None = None,
        *, create_customers: bool = False, key: str | None = None, max_future: int | None = None,
    ):
        self.crm = crm
        now = crm.now()
        self.max_future = max_future
        self.latest = None if max_future is None else to_iso(crm.calendar.add_days(now, max_future))
        self.earliest_stored, self.latest_stored = crm.calendar.stored_range
        if self.latest is None or self.latest > self.latest_stored:
            # The column checks send a chunk with a later time to the rows, which report it.
            self.latest = self.latest_stored
        self.warn_after = to_iso(crm.calendar.add_days(now, 1))
        self.future_rows: list[int] = []
        self.key = key
        self.already_recorded = 0
        self.times = times or TimeReader()
        self.create_customers = create_customers
        self.customers_added = 0
        self.name = name
        self.kind = kind
        self.plan = plan
        self.problems: list[ImportProblem] = []
        self._unplaced: list[tuple[int, str, int]] = []  # (problem, field, row's ordinal): see place_columns
        self.rows = 0
        # A private temporary database, deleted on close. It keeps memory flat on big files.
        self.staging = scratch(_STAGING_SCHEMA)

    def close(self) -> None:
        self.staging.close()

    def _in_time(self, row: _Row, field: str, stamp: str) -> bool:
        """False (a bad row) for a time past ``max_future`` or with no date in the home zone;
        notes rows more than a day ahead."""
        if not self.earliest_stored <= stamp <= self.latest_stored:
            self._problem(row, field, self.crm.calendar.range_expected())
            return False
        if self.max_future is not None and stamp > self.latest:
            self._problem(row, field, f"more than {self.max_future} day(s) in the future (after {self.latest}; --max-future)")
            return False
        if stamp > self.warn_after:
            self.future_rows.append(row.number)
        return True

    def _problem(self, row: _Row, field: str, reason: str, value: Any = None) -> None:
        found = row.cells.get(field)
        if found is None and field and row.ordinal:
            # A JSON line without the field: the column is named once the whole file is read.
            self._unplaced.append((len(self.problems), field, row.ordinal))
        column, raw = found or (self.plan.column_of(field), value)
        self.problems.append(ImportProblem(row.number, column, field, _shown(raw if raw is not None else value), reason))

    def place_columns(self) -> None:
        """Name the column of the problems of JSON lines that lack the field, as the row path
        names it when it checks the row: the key feeding the field in the rows read by then
        (up to the end of the row's batch), or none. Any reader, by row or by column, gives the
        same report."""
        for index, field, ordinal in self._unplaced:
            self.problems[index] = evolve(self.problems[index], column=self.plan.column_of(field, ordinal))
        self._unplaced = []

    def check(self, batch: list[_Row]) -> None:
        self.rows += len(batch)
        good = []
        for row in batch:
            if row.error:
                self._problem(row, "", row.error)
                continue
            values = self._customer_values(row) if self.kind == "customers" else self._interaction_values(row)
            if values is not None:
                good.append((row, values))
        if self.kind == "customers":
            staged = self._match_customers(good)
        else:
            staged = self._resolve_customers(good)
        rows = []
        for row, values, matched in staged:
            new_customer = values.pop("_new_customer", None)
            rows.append((row.number, json.dumps(values, separators=(",", ":")), matched, new_customer))
        insert_rows(self.staging, "staged", ("row", "payload", "matched", "new_customer"), rows)

    # --- one row at a time: conversions and the record's own validation ----------------------

    def _convert(self, row: _Row, converters: dict[str, Callable[[Any], Any]]) -> dict | None:
        values: dict[str, Any] = {}
        nested: dict[str, Any] = {}
        ok = True
        prefix = self.plan.prefix
        for field, (column, raw) in row.cells.items():
            try:
                convert = converters.get(field)
                if convert is not None:
                    values[field] = convert(raw)
                elif field.startswith(prefix):
                    nested[field[len(prefix):]] = _plain(check_json_value(raw, field), field)
                else:
                    values[field] = raw.strip() if isinstance(raw, str) else _text(raw, field).strip()
            except ValidationError as error:
                self._problem(row, field, error.expected)
                ok = False
        if nested:
            container = prefix[:-1]
            values[container] = {**values.get(container, {}), **nested}
        return values if ok else None

    def _validate(self, row: _Row, build: Callable[[dict, set], Any], values: dict, placeholders: dict) -> bool:
        """Build the record; on each refusal note the problem, drop that field and try again,
        so that every bad field of the row is reported, not only the first. ``build`` gets the
        fields dropped so far, so that it does not also complain that they are missing."""
        trial = dict(values)
        ok = True
        dropped: set[str] = set()
        for _ in range(len(values) + 2):
            try:
                build(trial, dropped)
                return ok
            except ValidationError as error:
                ok = False
                field = error.field.split(".")[0]
                if field in dropped:
                    # Its value is gone, and a check that needs one (a kind's validator asking for
                    # data.score) complains again about the same field: reported once already.
                    return False
                shown = error.field if error.field in row.cells or field not in row.cells else field
                self._problem(row, shown, error.expected, error.value)
                if field not in trial or field in placeholders and trial[field] == placeholders[field]:
                    return False
                dropped.add(field)
                if field in placeholders:
                    trial[field] = placeholders[field]
                else:
                    trial.pop(field)
        return False

    def _customer_values(self, row: _Row) -> dict | None:
        values = self._convert(row, {
            "attributes": lambda v: _json_object(v, "attributes"),
            "tags": lambda v: list(v) if isinstance(v, list) else _text(v, "tags"),
            "created_at": lambda v: self.times(v, "created_at"),
        })
        if values is None or ("created_at" in values and not self._in_time(row, "created_at", values["created_at"])):
            return None
        checked = {"name": values.get("name") or "placeholder", **{k: v for k, v in values.items() if k != "name"}}
        if not self._validate(row, lambda v, dropped: Customer(**v), checked, {"name": "placeholder"}):
            return None
        if "tags" in values:
            values["tags"] = list(Customer(name="x", tags=values["tags"]).tags)
        return values

    def _interaction_values(self, row: _Row) -> dict | None:
        crm = self.crm
        values = self._convert(row, {
            "customer_id": _customer_id,
            "amount": _money,
            "occurred_at": lambda v: self.times(v, "occurred_at"),
            "data": lambda v: _json_object(v, "data"),
        })
        if values is None:
            return None
        if not values.keys() & set(CUSTOMER_REFERENCES):
            self._problem(row, "customer_id", "no customer: fill customer_id, customer_external_id or customer_email")
            return None
        for required in ("kind", "occurred_at"):
            if required not in values:
                self._problem(row, required, "missing: every interaction needs one")
        if "kind" not in values or "occurred_at" not in values or not self._in_time(row, "occurred_at", values["occurred_at"]):
            return None
        record_fields = {k: v for k, v in values.items() if k not in ("customer_external_id", "customer_email", "customer_name")}
        record_fields.setdefault("customer_id", 0)

        def build(fields: dict, dropped: set) -> None:
            record = Interaction(**fields)
            if record.kind == _UNKNOWN_KIND:
                return  # the kind was refused already; amount and data depend on it
            kind = crm.kinds[record.kind]
            if kind.money and record.amount is None and "amount" not in dropped:
                raise ValidationError("amount", None, f"an amount: a {record.kind} moves money")
            if not kind.money and record.amount is not None and "amount" not in dropped:
                raise ValidationError("amount", fields["amount"], f"no amount: a {record.kind} moves no money")
            if record.amount is not None:
                to_amount(record.amount, crm.exponent)
            if kind.validate is not None:
                try:
                    kind.validate(record.data)
                except ValidationError as error:
                    field = error.field if error.field.startswith("data") else f"data.{error.field}"
                    raise ValidationError(field, error.value, error.expected) from None

        if not self._validate(row, build, record_fields, {"kind": _UNKNOWN_KIND, "occurred_at": "2000-01-01"}):
            return None
        if self.key is not None and not self._external_key(row, values):
            return None
        if "customer_email" in values:
            values["customer_email"] = normalise_email(values["customer_email"])
        return values

    def _external_key(self, row: _Row, values: dict) -> bool:
        """Set the row's ``external_key`` from the key field's value; False (a problem noted)
        when the row has none or it is too long."""
        found = row.cells.get(self.key)
        if found is None:
            self._problem(row, self.key, "missing: the key (--key) of every row")
            return False
        try:
            text = found[1].strip() if isinstance(found[1], str) else _text(found[1], self.key).strip()
            values["external_key"] = Interaction(customer_id=1, kind="k", occurred_at="2000-01-01", external_key=text).external_key
        except ValidationError as error:
            self._problem(row, self.key, error.expected)
            return False
        return True

    # --- one batch at a time: keys, references and duplicates in SQL ------------------------

    def _first_rows(self, keyed: list[tuple[int, str]], looked_up: Iterable[str] = ()) -> dict[str, int]:
        """Register keys (first row wins) and return the first row of each key of the batch, and
        of each key ``looked_up`` (without registering it) that an earlier row registered."""
        insert_rows(self.staging, "row_keys", ("key", "row"), [(k, r) for r, k in keyed], or_ignore=True)
        wanted = json.dumps(sorted({k for _, k in keyed} | set(looked_up)))
        return dict(self.staging.execute(f"SELECT key, row FROM row_keys WHERE key IN ({json_values('?')})", [wanted]))

    def _match_customers(self, good: list[tuple[_Row, dict]]) -> list[tuple[_Row, dict, int | None]]:
        db = self.crm.db
        external = sorted({v["external_id"] for _, v in good if v.get("external_id")})
        emails = sorted({normalise_email(v["email"]) for _, v in good if v.get("email")})
        by_external = dict(db.execute(
            f"SELECT external_id, id FROM customers WHERE external_id IN ({json_values('?')})", [json.dumps(external)]
        ))
        # Per email: (its customer, how many have it), and the same among customers without an
        # external id (the only ones a row with an external id of its own matches; see
        # Customers.upsert_many). An email two customers have matches neither: it is ambiguous.
        by_email, unkeyed_by_email = {}, {}
        for email, first_id, holders, first_unkeyed, unkeyed_holders in db.execute(
            "SELECT email_norm, min(id), count(*), min(CASE WHEN external_id IS NULL THEN id END), "
            f"count(CASE WHEN external_id IS NULL THEN 1 END) FROM customers WHERE email_norm IN ({json_values('?')}) "
            "GROUP BY email_norm",
            [json.dumps(emails)],
        ):
            by_email[email] = (first_id, holders)
            if unkeyed_holders:
                unkeyed_by_email[email] = (first_unkeyed, unkeyed_holders)
        keyed, looked_up = [], set()
        for row, values in good:
            if values.get("external_id"):
                keyed.append((row.number, "x:" + values["external_id"]))
            if values.get("email"):
                email = normalise_email(values["email"])
                keyed.append((row.number, "e:" + email))
                # "f:": the email of a row without an external id, which a later row with an
                # external id and this email would update (Customers.upsert_many applies rows in order).
                if values.get("external_id"):
                    looked_up.add("f:" + email)
                else:
                    keyed.append((row.number, "f:" + email))
        first = self._first_rows(keyed, looked_up)
        staged, attribute_rows = [], []
        for row, values in good:
            email = normalise_email(values.get("email"))
            if values.get("external_id"):
                earlier = first["x:" + values["external_id"]]
                if earlier != row.number:
                    self._problem(row, "external_id", f"duplicate: row {earlier} has the same external_id")
                    continue
                unkeyed = first.get("f:" + email) if email else None
                if unkeyed is not None and unkeyed < row.number:
                    self._problem(row, "email", f"duplicate: row {unkeyed} has the same email and no external_id tells them apart")
                    continue
            elif email:
                earlier = first["e:" + email]
                if earlier != row.number:
                    self._problem(row, "email", f"duplicate: row {earlier} has the same email and no external_id tells them apart")
                    continue
            matched = by_external.get(values["external_id"]) if values.get("external_id") else None
            if matched is None and email:
                matched, holders = (unkeyed_by_email if values.get("external_id") else by_email).get(email, (None, 0))
                if holders > 1:
                    self._problem(row, "email", f"ambiguous: {holders} customers have this email; give the row the external_id of the one it updates")
                    continue
            if matched is None and not values.get("name"):
                self._problem(row, "name", "missing: a new customer needs a name (no customer matches its external_id or email)")
                continue
            staged.append((row, values, matched))
        first = self._first_rows([(row.number, f"m:{matched}") for row, _, matched in staged if matched is not None])
        kept = []
        for row, values, matched in staged:
            if matched is not None and first[f"m:{matched}"] != row.number:
                self._problem(row, "external_id" if values.get("external_id") else "email",
                              f"duplicate: row {first[f'm:{matched}']} updates the same customer ({matched})")
                continue
            if matched is not None and "attributes" in values:
                attribute_rows.append((matched, values))
            kept.append((row, values, matched))
        staged = kept
        if attribute_rows:
            # Keys set by the file are merged into the customer's existing attributes, not swapped.
            ids = json.dumps(sorted({m for m, _ in attribute_rows}))
            current = {i: json.loads(a or "{}") for i, a in db.execute(
                f"SELECT id, attributes FROM customers WHERE id IN ({json_values('?', 'INTEGER')})", [ids]
            )}
            for matched, values in attribute_rows:
                values["attributes"] = {**current.get(matched, {}), **values["attributes"]}
        return staged

    def _resolve_customers(self, good: list[tuple[_Row, dict]]) -> list[tuple[_Row, dict, int | None]]:
        db = self.crm.db
        ids = sorted({v["customer_id"] for _, v in good if "customer_id" in v})
        external = sorted({v["customer_external_id"] for _, v in good if "customer_id" not in v and "customer_external_id" in v})
        emails = sorted({v["customer_email"] for _, v in good if not v.keys() & {"customer_id", "customer_external_id"}})
        known_ids = {r[0] for r in db.execute(f"SELECT id FROM customers WHERE id IN ({json_values('?', 'INTEGER')})", [json.dumps(ids)])}
        by_external = dict(db.execute(
            f"SELECT external_id, id FROM customers WHERE external_id IN ({json_values('?')})", [json.dumps(external)]
        ))
        by_email = {e: (first, n) for e, first, n in db.execute(
            f"SELECT email_norm, min(id), count(*) FROM customers WHERE email_norm IN ({json_values('?')}) GROUP BY email_norm",
            [json.dumps(emails)],
        )}
        staged = []
        for row, values in good:
            if "customer_id" in values:
                field, customer = "customer_id", values["customer_id"] if values["customer_id"] in known_ids else None
            elif "customer_external_id" in values:
                field, customer = "customer_external_id", by_external.get(values["customer_external_id"])
            else:
                field = "customer_email"
                customer, count = by_email.get(values["customer_email"], (None, 0))
                if count > 1:
                    self._problem(row, field, f"ambiguous: {count} customers have this email; use customer_id")
                    continue
            record = {k: v for k, v in values.items() if k not in CUSTOMER_REFERENCES and k != "customer_name"}
            if customer is None and self.create_customers and field != "customer_id":
                key = self._new_customer(row, field, values)
                if key is None:
                    continue
                record["customer_id"], record["_new_customer"] = None, key
                staged.append((row, record, None))
                continue
            if customer is None:
                why = "no customer has this " + field.replace("customer_", "").replace("_", " ")
                if field != "customer_id":
                    why += " (--create-customers adds one)"
                self._problem(row, field, why)
                continue
            record["customer_id"] = customer
            staged.append((row, record, customer))
        return staged

    def _new_customer(self, row: _Row, field: str, values: dict) -> str | None:
        """Stage the customer a reference that matched no one asks for; returns its key (None: bad row).

        The first row naming a reference decides the new customer's name."""
        reference = values[field]
        key = new_customer_key(field, reference)
        if self.staging.execute("SELECT 1 FROM new_customers WHERE key = ? AND row < ?", (key, row.number)).fetchone():
            return key  # staged by an earlier row, which named it
        fields = new_customer_fields(field, reference, values.get("customer_name"))
        try:
            Customer(**fields)
        except ValidationError as error:
            shown = "customer_name" if error.field == "name" else field
            self._problem(row, shown, f"cannot create the customer: {error.expected}", error.value)
            return None
        self.stage_new_customers([(key, row.number, fields)])
        return key

    def stage_new_customers(self, customers: list[tuple[str, int, dict]]) -> None:
        """Stage new customers (key, the row naming it, its fields), each by the first row that
        names it: a row earlier in the file than the one that staged a key takes it over, so the
        order in which chunks and lines are checked does not matter."""
        self.staging.executemany(
            "INSERT INTO new_customers(key, row, payload) VALUES (?, ?, ?) "
            "ON CONFLICT(key) DO UPDATE SET row = excluded.row, payload = excluded.payload WHERE excluded.row < new_customers.row",
            [(key, number, json.dumps(fields, separators=(",", ":"))) for key, number, fields in customers],
        )

    def new_customer_ids(self, keys: list[str]) -> dict[str, int | None]:
        """The new customers staged among ``keys``, each with the id it was given (None until
        :meth:`add_new_customers` has made it)."""
        return dict(self.staging.execute(
            f"SELECT key, id FROM new_customers WHERE key IN ({json_values('?')})", [json.dumps(keys)],
        ))

    # --- the write pass ----------------------------------------------------------------------

    def _staged(self, progress: Progress | None, total: int) -> Iterator[dict]:
        done = 0
        for _, values in self._staged_between(1, None):
            yield values
            done += 1
            if progress is not None and done % BATCH_SIZE == 0:
                progress("write", done, total)

    def _staged_between(self, first: int, last: int | None) -> Iterator[tuple[int, dict]]:
        """(row number, staged row as written) from row ``first`` to ``last`` (None: the end), in
        row order; a row naming a new customer has its id (after :meth:`add_new_customers`)."""
        rows = self.staging.execute(
            "SELECT s.row, s.payload, n.id FROM staged s LEFT JOIN new_customers n ON n.key = s.new_customer "
            "WHERE s.row BETWEEN ? AND coalesce(?, s.row) ORDER BY s.row", [first, last],
        )
        for row, payload, new_id in rows:
            values = json.loads(payload)
            if new_id is not None:
                values["customer_id"] = new_id
            yield row, values

    def add_new_customers(self) -> None:
        """Create the staged new customers (first row first) and note their ids for the rows."""
        keys, payloads = [], []
        # Every staged new customer has staged rows: the row that staged it is staged itself.
        for key, payload in self.staging.execute("SELECT key, payload FROM new_customers ORDER BY row"):
            keys.append(key)
            payloads.append(json.loads(payload))
        if not payloads:
            return
        ids = self.crm.customers.add_many(payloads)
        self.staging.executemany("UPDATE new_customers SET id = ? WHERE key = ?", list(zip(ids, keys)))
        self.customers_added = len(ids)

    def audit_run(self, added: int, updated: int) -> None:
        """The audit entry of the import (none when it changed nothing)."""
        if added or updated or self.customers_added:  # a file whose every row is already recorded changes nothing
            self.crm.audit.record(
                "import.run", "file", self.name,
                after={"kind": self.kind, "added": added, "updated": updated, "skipped": len({p.row for p in self.problems}),
                       **({"already_recorded": self.already_recorded} if self.already_recorded else {}),
                       **({"customers_added": self.customers_added} if self.customers_added else {})},
            )

    def staged_rows(self, first: int, last: int) -> list[dict]:
        """The staged rows (as written) from row ``first`` to ``last``, in row order."""
        return [values for _, values in self.staged_numbered(first, last)]

    def staged_numbered(self, first: int, last: int) -> list[tuple[int, dict]]:
        """(row number, staged row as written) from row ``first`` to ``last``, in row order; a
        row naming a new customer has its id (after :meth:`add_new_customers`)."""
        return list(self._staged_between(first, last))

    def write(self, progress: Progress | None) -> tuple[int, int]:
        """Write the staged rows in one transaction; returns (added, updated)."""
        total = self.staging.execute("SELECT count(*) FROM staged").fetchone()[0]
        if total == 0:
            return 0, 0
        crm = self.crm
        with crm.transaction():
            if self.kind == "interactions":
                self.add_new_customers()
            if self.kind == "customers":
                counts = crm.customers.upsert_many(self._staged(progress, total))
                added, updated = counts["added"], counts["updated"]
            else:
                recorded = crm.interactions.record_many(self._staged(progress, total))
                added, updated, self.already_recorded = recorded.count, 0, recorded.skipped
            self.audit_run(added, updated)
        if progress is not None:
            progress("write", total, total)
        return added, updated
