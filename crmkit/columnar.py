"""The columnar path of an interactions import from CSV: whole columns at a time.

The file is cut into chunks of whole lines (about a megabyte each). Within a chunk, each line is
one record unless a quoted cell runs over a line end (then the whole chunk takes the row path). The
plain lines (no quote, no export formula guard, not blank) are read by pyarrow's CSV reader; those
of kinds without a ``data`` validator are checked and converted column by column: times, kinds,
exact money in integer minor units (integer arithmetic on the digits, never a float), text limits,
``data`` empty, and the customer references resolved with one query per reference kind and chunk,
or from the whole table's keys read once (:mod:`crmkit.columnar_refs`). The chunk's other lines
(quoted cells such as the JSON ``data`` an export writes, kinds that validate ``data`` such as
survey, unknown kinds, blank lines) go through the row-by-row checks of :mod:`crmkit.importing`,
one line at a time with its own line number, which report their problems exactly as before (row,
column, field, value, reason). A chunk whose plain lines are not plain after all (a cell count, bad
UTF-8) or hold a single value these checks cannot vouch for goes through the row path whole.

Like the row path it runs in two passes: the check reads every chunk, and keeps what it converted
in a scratch file (:mod:`crmkit.columnar_chunks`); unless a bad row was found (and
``skip_invalid`` is false) the write pass hands each chunk to ``crm.interactions.record_checked``
in one transaction, its rows in file order (the lines the row path checked converted to stored
form as ``record_many`` stores them), so ids follow the file and plugins hear of every chunk,
once, through ``crmkit_interactions_recorded``. The rows written are the rows checked, each
customer the one its reference named when the file was checked. Memory holds one chunk at a time.

It applies to interactions from a CSV (UTF-8 or one byte a character: :func:`by_column`) whose
columns feed the plain fields (the customer references, kind, occurred_at, amount, channel,
product, category, rep, notes, data: the columns ``crmkit export`` writes; and external_key,
from ``--key`` or a column of that name; and customer_name, with ``--create-customers``), with
a ``--date-format`` only of the numbers :mod:`crmkit.columnar_times` reads (which also moves times
from a ``--timezone`` to UTC), of at least :data:`ROW_PATH_BELOW_BYTES`; everything else takes
the row path. It needs pyarrow (``pip install 'crmkit[fast]'``); without it every import takes
the row path. JSON lines files are read into the same columns by :mod:`crmkit.columnar_json`.
"""

from __future__ import annotations

import heapq
import io
import json
import re
from contextlib import contextmanager, nullcontext
from functools import lru_cache
from itertools import repeat
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from .columnar_arrays import falses, int64, int64s, string, strings
from .columnar_chunks import CheckedChunks
from .columnar_refs import CustomerKeys
from .columnar_times import format_pattern, in_utc, stored_times
from .csvread import StrictReader
from .customers import STORED_COLUMNS
from .engine.errors import IntegrityError
from .engine.scratch import insert_rows
from .errors import CrmError, ValidationError
from .importing import (
    _batches, _Checker, _csv_rows, _CsvSource, _LineDecoder, _Source, new_customer_fields, new_customer_key, Progress,
)
from .interactions import CHECKED_COLUMNS
from .models import SIZES, STAGES, Customer, Interaction
from .money import AMOUNT_DIGITS, to_amount
from .store import indexes_deferred, json_values
from .timeutil import to_iso

if TYPE_CHECKING:
    from .crm import CRM

#: Bytes read at a time (then up to the end of the line, or of a quoted cell running on).
CHUNK_BYTES = 1 << 20
#: Rows from which a load at least as large as the interactions table defers its indexes.
DEFER_INDEXES = 20_000
#: Files smaller than this take the row path: for them, importing pyarrow costs more than the
#: columns save. `crmkit import`, by rows and by column, wall seconds, every plugin: 2,000
#: customers (80 kB) 0.38-0.59 against 0.40-0.67; 5,000 (203 kB) 0.63-0.70 against 0.47-0.58.
#: 5,000 purchases (167 kB) 0.56-0.57 against 0.52-0.56; 10,000 (333 kB) 0.84-0.86 against
#: 0.66-0.70.
ROW_PATH_BELOW_BYTES = 128 * 1024
TEXT_LIMITS = {"channel": 50, "product": 200, "category": 100, "rep": 100, "notes": 10_000}
KEY_LIMIT = 200
REFERENCES = ("customer_id", "customer_external_id", "customer_email")
FIELDS = frozenset(REFERENCES + ("kind", "occurred_at", "amount", "data") + tuple(TEXT_LIMITS))
#: What str.strip() takes off: every character str.isspace() calls space. A value with one at
#: either end takes the row path.
SPACES = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
# The export's formula guard ('=1+2), which the row path takes off again.
_GUARDED = (b"'=", b"'+", b"'-", b"'@", b"'\t", b"'\r")
_GUARD = re.compile(rb"'[=+\-@\t\r]")
_PLAIN_DATE = r"^[1-9]\d{3}-\d\d-\d\d$"
_STORED_TIME = r"^[1-9]\d{3}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def _pyarrow():
    """(pyarrow, pyarrow.csv, pyarrow.compute), or None when pyarrow is not installed."""
    try:
        import pyarrow
        import pyarrow.compute
        import pyarrow.csv
    except ImportError:
        return None
    return pyarrow, pyarrow.csv, pyarrow.compute


#: The shifts of stateful encodings (ISO 2022's escapes and SO/SI, HZ, UTF-7), after which the
#: same bytes are other characters.
_SHIFTS = b"\x1b$B!!\x1b(B\x0e!!\x0f~{!!~}+AGE-"


@lru_cache(maxsize=None)
def by_column(codec: str) -> bool:
    """Whether a CSV file in ``codec`` can be read by column: UTF-8, or an encoding of one byte a
    character, without shifts, whose first 128 are ASCII and whose others are not (cp1252,
    latin-1, the ISO 8859 and DOS code pages, KOI8), so that a chunk's lines, quotes and
    delimiters are where its bytes say and it can be read as UTF-8 once decoded. In an encoding
    of several bytes a character (GBK, Shift JIS) or with shifts (ISO-2022-JP) a byte may look
    like ASCII and be part of another character, so those files take the row path."""
    if codec == "utf-8":
        return True
    sample = bytes(range(256)) + _SHIFTS
    decoded = sample.decode(codec, errors="replace")
    return (
        len(decoded) == len(sample)
        and decoded[:128] == "".join(map(chr, range(128)))
        and min(map(ord, decoded[128:256])) >= 128
        and decoded[256:] == _SHIFTS.decode("ascii")
    )


def available() -> bool:
    """Whether the columnar path can run here (pyarrow installed)."""
    return _pyarrow() is not None


def columnar_import(checker: _Checker, source, path: Path, codec: str, times, file_format: str) -> "ColumnarImport | None":
    """The columnar import of this file, or None when the row path must or should do it."""
    if path.stat().st_size < ROW_PATH_BELOW_BYTES:
        return None
    plan = checker.plan
    if file_format == "jsonl":
        from .columnar_json import json_lines_import

        return json_lines_import(checker, source, path, codec, times)
    if checker.kind == "customers":
        return _columnar_customers(checker, source, path, codec, file_format)
    if (
        checker.kind != "interactions" or file_format != "csv" or not by_column(codec) or not isinstance(source, _CsvSource)
        or checker.key not in (None, "external_key")
    ):
        return None
    date_pattern = None if times.date_format is None else format_pattern(times.date_format)
    if times.date_format is not None and date_pattern is None:
        return None
    fields = set(plan.column_fields().values()) | set(plan.defaults)
    allowed = FIELDS | {"external_key"} | ({"customer_name"} if checker.create_customers else set())
    if not fields <= allowed or {"data", "external_key", "customer_name"} & set(plan.defaults):
        return None
    if not all(isinstance(value, str) for value in plan.defaults.values()):
        return None
    modules = _pyarrow()
    if modules is None:
        return None
    zone = None if times.zone is None else times.zone.key
    return ColumnarImport(checker, source, path, modules, codec, date_pattern, zone)


class ColumnarImport:
    """The two passes of one columnar import (see the module's docstring)."""

    def __init__(
        self, checker: _Checker, source: _CsvSource, path: Path, modules, codec: str = "utf-8",
        date_pattern: str | None = None, zone: str | None = None,
    ):
        self._prepare(checker, path, modules)
        self.codec, self.date_pattern, self.zone = codec, date_pattern, zone
        self.columns = source.columns
        self.delimiter = source.delimiter
        self.start, self.header_lines = source.header_end
        self.total = source.total
        plan = checker.plan
        # The file's columns by position, and which field each feeds.
        self.fields = {f"c{i}": plan.field_of(column) for i, column in enumerate(self.columns) if column}
        self.fields = {name: field for name, field in self.fields.items() if field is not None}
        self.keyed = "external_key" in self.fields.values()

    def _prepare(self, checker: _Checker, path: Path, modules) -> None:
        """What the checks need whatever the file's format: the CRM's kinds and currency."""
        self.checker = checker
        self.crm: "CRM" = checker.crm
        self.path = path
        self.pa, self.csv, self.pc = modules
        kinds = list(self.crm.kinds)
        self.plain_kinds = strings(self.pa, [k.name for k in kinds if k.validate is None])
        self.money_kinds = strings(self.pa, [k.name for k in kinds if k.money and k.validate is None])
        exponent = self.crm.exponent
        self.exponent = exponent
        whole = rf"\d{{1,{AMOUNT_DIGITS - exponent}}}"  # at most MAX_AMOUNT
        self.amount_pattern = rf"^{whole}(\.\d{{1,{exponent}}})?$" if exponent else rf"^{whole}$"
        pa = self.pa
        text = pa.string()
        #: A chunk's converted rows: their line numbers, then the stored columns of CHECKED_COLUMNS
        #: but ``data`` (no row converted by column has any), then the external key, then the
        #: staging key of the customer ``--create-customers`` makes for the row (its
        #: ``customer_id`` null until the write pass has made it).
        self.converted_schema = pa.schema([
            ("line", pa.int64()), ("customer_id", pa.int64()), ("kind", text), ("channel", text), ("occurred_at", text),
            ("amount", pa.int64()), ("product", text), ("category", text), ("rep", text), ("notes", text),
            ("external_key", text), ("new_customer", text),
        ])
        #: Whether a column feeds ``external_key`` (``--key``, or a column of that name): rows
        #: whose key is recorded already for their customer and kind are skipped, as by
        #: ``record_many``.
        self.keyed = False
        self.checked: CheckedChunks | None = None
        #: The file's encoding (:func:`by_column`): its chunks are read as UTF-8 by pyarrow.
        self.codec = "utf-8"
        #: How ``--date-format`` times are read (:func:`crmkit.columnar_times.format_pattern`), or None.
        self.date_pattern: str | None = None
        #: The ``--timezone`` of times without an offset (an IANA name), or None: UTC.
        self.zone: str | None = None

    # --- the two passes ------------------------------------------------------------------------

    def _rows_to_write(self) -> int:
        """The rows the write pass writes: every row read, less those with a problem."""
        return self.checker.rows - len({p.row for p in self.checker.problems})

    def check(self, progress: Progress | None) -> None:
        """Read every chunk: its plain rows are checked and converted by column, the others
        checked row by row; what each gave is kept for the write pass."""
        checker = self.checker
        self.customer_keys = CustomerKeys(self.crm.db, self.pa, self.pc)
        self.checked = CheckedChunks(self.pa, self.converted_schema)
        for first, data, done in self._chunks():
            split = self._split(first, data)
            if split is None:
                self.checked.add_row_path(first, _last_line(first, data))
                for batch in _batches(self._chunk_rows(first, data), checker.plan, None):
                    checker.check(batch)
            else:
                converted, slow = split
                checker.rows += 0 if converted is None else converted.num_rows
                self.checked.add_converted(converted, (slow[0][0], slow[-1][0]) if slow else None)
                if slow:
                    for batch in _batches(self._line_rows(slow), checker.plan, None):
                        checker.check(batch)
            if progress is not None:
                progress("check", done, self.total)
        checker.future_rows.sort()

    def close(self) -> None:
        """Delete what the check pass kept."""
        if self.checked is not None:
            self.checked.close()

    def write(self, progress: Progress | None) -> tuple[int, int]:
        """Write every good row in one transaction; returns (added, updated)."""
        crm = self.crm
        total = self._rows_to_write()
        if total <= 0:
            return 0, 0
        written = [0]

        def batches() -> Iterator[list]:
            for chunk in self.checked:
                if chunk.whole:
                    batch = self.checker.staged_rows(*chunk.row_path_lines)
                else:
                    batch = self._merged(chunk.converted, chunk.row_path_lines)
                if batch:
                    yield batch
                written[0] += len(batch)
                if progress is not None:
                    progress("write", written[0], total)

        try:
            return self._write_in_one_transaction(batches(), total)
        except ValidationError as error:  # found as the rows were written
            if not error.field.endswith("customer_id"):
                raise
            gone = error.value
        except IntegrityError as error:  # found by a large load's checks before its commit
            if (error.table, error.parent) != ("interactions", "customers"):
                raise
            gone = error.value
        # Checked, a reference named this customer; since then it was merged or deleted.
        raise CrmError(
            f"{self.path.name} was not imported: the CRM changed while the file was checked "
            f"(customer {gone} is gone); import it again"
        )

    def _write_in_one_transaction(self, batches: Iterator[list], total: int) -> tuple[int, int]:
        """Record the batches in one transaction, as a large load when they are many."""
        crm = self.crm
        existing = crm.db.execute("SELECT count(*) FROM interactions").fetchone()[0]
        # A load as large as the table is faster with its secondary indexes, and the summary's
        # (every batch updates most of its customers), built once at the end than kept up row
        # by row (the rows come in file order, scattered over them); and with its references
        # checked once, before the commit (every customer was there when the file was checked).
        large = total >= max(DEFER_INDEXES, existing)
        with crm.db.bulk_transaction(first=["interactions"]) if large else crm.transaction():
            self.checker.add_new_customers()  # --create-customers: first row first, before any row names them
            tables = ("interactions", "customer_summary", *self._plugin_tables()) if large else ()
            with _large_load_if(large, crm.db, tables):
                recorded = crm.interactions.record_checked(batches, fold_at_end=large, keyed=self.keyed)
            added, self.checker.already_recorded = recorded.count, recorded.skipped
            self.checker.audit_run(added, 0)
        return added, 0

    def _plugin_tables(self) -> list[str]:
        """The tables plugins fill as interactions are loaded (``crmkit_bulk_load_tables``)."""
        named = self.crm.plugins.call("crmkit_bulk_load_tables", crm=self.crm)
        return [table for tables in named for table in tables or ()]

    def _merged(self, converted, row_path_lines: tuple[int, int] | None) -> list[tuple]:
        """A chunk's rows in file order and stored form (:data:`CHECKED_COLUMNS`): those
        converted by column (a record batch of :attr:`converted_schema`, or None) and the good
        rows the row path checked (staged) among ``row_path_lines``, the latter converted as
        ``record_many`` stores them."""
        rows = [] if converted is None else _stored_rows(self._with_new_customers(converted), self.keyed)
        staged = self.checker.staged_numbered(*row_path_lines) if row_path_lines is not None else []
        if not staged:
            return rows
        exponent = self.crm.exponent
        checked = [(number, _stored(values, exponent, self.keyed)) for number, values in staged]
        numbers = [] if converted is None else converted.column(0).to_pylist()
        return [row for _, row in heapq.merge(zip(numbers, rows), checked, key=itemgetter(0))]

    def _with_new_customers(self, converted):
        """``converted`` with the ids of the customers ``--create-customers`` made for its rows."""
        pc, pa = self.pc, self.pa
        new = converted.column("new_customer")
        if new.null_count == len(new):
            return converted
        ids = self.checker.new_customer_ids(pc.unique(pc.drop_null(new)).to_pylist())
        made = pc.take(int64s(pa, list(ids.values())), pc.index_in(new, value_set=strings(pa, list(ids))))
        columns = list(converted.columns)
        columns[1] = pc.coalesce(columns[1], made)
        return pa.RecordBatch.from_arrays(columns, schema=converted.schema)

    # --- reading chunks ------------------------------------------------------------------------

    def _chunks(self) -> Iterator[tuple[int, bytes, int]]:
        """(first line number, bytes of whole records, bytes read so far) after the header."""
        line = self.header_lines + 1
        with open(self.path, "rb") as handle:
            handle.seek(self.start)
            while True:
                data = handle.read(CHUNK_BYTES)
                if not data:
                    return
                parts = [data]
                if not data.endswith(b"\n"):
                    parts.append(handle.readline())
                quotes = sum(part.count(b'"') for part in parts)
                while quotes % 2:  # a quoted cell runs on past the cut: read to its end
                    more = handle.readline()
                    if not more:
                        break
                    parts.append(more)
                    quotes += more.count(b'"')
                data = b"".join(parts)
                yield line, data, handle.tell()
                line += data.count(b"\n")

    def _split(self, first: int, data: bytes):
        """The chunk (lines from ``first``) as (its rows converted by column: a record batch of
        :attr:`converted_schema`, or None when it has none; the other lines as (line number,
        bytes)), or None when the whole chunk must take the row path.

        A line takes the row path when it has a quote, an export formula guard, or nothing but
        blanks, or when its kind validates ``data`` or is not known; the other lines are read
        by pyarrow and converted by column. None when a quoted cell runs over a line end (the
        lines are not its records), when the plain lines are not plain after all (a cell count,
        bad UTF-8) or when any of their values needs the row path."""
        if data.count(b"\r") != data.count(b"\r\n"):
            return None
        lines = data.split(b"\n")
        if lines and not lines[-1]:
            lines.pop()
        numbers = range(first, first + len(lines))
        slow: list[tuple[int, bytes]] = []
        if b'"' in data or b"'" in data and any(guard in data for guard in _GUARDED) or b"\n\n" in data \
                or b"\n\r\n" in data or data.startswith((b"\n", b"\r")) or not lines or not lines[-1].strip():
            special = _special_lines(data, lines)
            slow = [(first + i, lines[i]) for i in special]
            if any(line.count(b'"') % 2 for _, line in slow):
                return None  # a quoted cell runs on over the line end
            numbers = [first + i for i in range(len(lines)) if i not in special]
            lines = [lines[i] for i in range(len(lines)) if i not in special]
            data = b"\n".join(lines) + b"\n"
        if not lines:
            return None, slow
        table = self._table(data)
        if table is None or table.num_rows != len(lines):
            return None
        columns: dict[str, Any] = {field: table.column(name).combine_chunks() for name, field in self.fields.items()}
        return self._plain_rows(columns, numbers, lines, slow)

    def _plain_rows(self, columns: dict, numbers, lines: list[bytes], slow: list[tuple[int, bytes]]):
        """:meth:`_split`'s answer for a chunk's plain lines read as string columns (``columns``:
        field -> column, empty values null; ``numbers``: their line numbers; ``lines``: their
        bytes) and its other lines (``slow``, in order): the ``--set`` defaults filled in, the
        lines of kinds without a plain check moved to ``slow``, the rest converted by column."""
        pc = self.pc
        for field, value in self.checker.plan.defaults.items():
            column = columns.get(field)
            value = string(self.pa, value)
            columns[field] = self.pa.repeat(value, len(lines)) if column is None else pc.fill_null(column, value)
        kind = columns.get("kind")
        if kind is None:
            return None
        plain = pc.is_in(kind, value_set=self.plain_kinds)  # false where null
        if not pc.all(plain).as_py():
            others = pc.indices_nonzero(pc.invert(plain)).to_pylist()
            slow = sorted(slow + [(numbers[i], lines[i]) for i in others])
            keep = pc.indices_nonzero(plain)
            columns = {field: column.take(keep) for field, column in columns.items()}
            numbers = [numbers[i] for i in keep.to_pylist()]
            if not numbers:
                return None, slow
        converted = self._convert(columns, numbers)
        if converted is None:
            return None
        return converted, slow

    def _chunk_rows(self, first: int, data: bytes) -> _Source:
        """The rows of a chunk (lines from ``first``) as the row path reads the file."""
        return _ChunkRows(self, first, data)

    def _line_rows(self, lines: list[tuple[int, bytes]]) -> _Source:
        """The rows of single lines (line number, bytes) as the row path reads the file."""
        return _LineRows(self, lines)

    def _table(self, data: bytes):
        """Plain lines as a table of string columns (empty cells null), or None when pyarrow
        cannot read them so (a line's cell count, bad UTF-8)."""
        pa, csv = self.pa, self.csv
        names = [f"c{i}" for i in range(len(self.columns))]
        if self.codec != "utf-8":
            try:
                data = data.decode(self.codec).encode()
            except UnicodeDecodeError:
                return None  # the row path names the bad byte's line
        try:
            return csv.read_csv(
                io.BytesIO(data),
                read_options=csv.ReadOptions(column_names=names, use_threads=False, block_size=len(data) + 1),
                parse_options=csv.ParseOptions(delimiter=self.delimiter, quote_char=False, newlines_in_values=False,
                                               ignore_empty_lines=False),
                convert_options=csv.ConvertOptions(
                    column_types={name: pa.string() for name in names}, include_columns=list(self.fields),
                    null_values=[""], strings_can_be_null=True, quoted_strings_can_be_null=True,
                ),
            )
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            return None

    # --- checking and converting whole columns -------------------------------------------------

    def _untrimmed(self, column) -> bool:
        """Whether a value of the string ``column`` has what str.strip() takes off at either end
        (trimming and comparing costs a fifth of an anchored regular expression)."""
        pc = self.pc
        return bool(pc.any(pc.not_equal(pc.utf8_trim(column, characters=SPACES), column)).as_py())

    def _convert(self, columns: dict, numbers) -> Any:
        """Rows of plain kinds (``columns``: field -> string column; ``numbers``: their lines) in
        stored form, a record batch of :attr:`converted_schema`, or None when any value needs
        the row path (a bad row, or a spelling these checks do not vouch for). Notes the rows
        dated ahead of the clock."""
        pc, pa = self.pc, self.pa
        rows = len(numbers)
        for field, column in columns.items():
            if self._untrimmed(column):
                return None
        data = columns.get("data")
        if data is not None and data.null_count != rows and not pc.all(pc.equal(pc.drop_null(data), string(pa, "{}"))).as_py():
            return None  # a plain kind's data other than {} takes the row path
        kind = columns["kind"]
        occurred = self._times(columns.get("occurred_at"))
        amount = self._amounts(columns.get("amount"), kind)
        customers = self._customers(columns, numbers)
        if occurred is None or amount is None or customers is None:
            return None
        customer, new_customers, to_stage = customers
        for field, limit in TEXT_LIMITS.items():
            column = columns.get(field)
            if column is not None and ((pc.max(pc.utf8_length(column)).as_py() or 0) > limit
                                       or pc.any(pc.match_substring(column, "\x00")).as_py()):
                return None
        key = columns.get("external_key")
        if key is not None and (
            (self.checker.key is not None and key.null_count)  # --key: every row has one
            or (pc.max(pc.utf8_length(key)).as_py() or 0) > KEY_LIMIT
            or pc.any(pc.match_substring(key, "\x00")).as_py()
        ):
            return None  # a key missing, too long or not storable: the row path's problem
        # Only now: a chunk refused above is checked by the row path, which notes them and
        # stages only the new customers of its good rows.
        ahead = pc.indices_nonzero(pc.greater(occurred, string(pa, self.checker.warn_after))).to_pylist()
        self.checker.future_rows.extend(numbers[index] for index in ahead)
        if to_stage:
            self.checker.stage_new_customers(to_stage)
        texts = {field: pa.nulls(rows, pa.string()) if columns.get(field) is None else columns[field] for field in TEXT_LIMITS}
        return pa.RecordBatch.from_arrays([
            int64s(pa, numbers), customer, kind, texts["channel"], occurred, amount,
            texts["product"], texts["category"], texts["rep"], texts["notes"],
            pa.nulls(rows, pa.string()) if key is None else key,
            pa.nulls(rows, pa.string()) if new_customers is None else new_customers,
        ], schema=self.converted_schema)

    def _times(self, column):
        """Storage text of ``occurred_at`` (plain dates and stored times, or times in the
        ``--date-format``; those without an offset moved from the ``--timezone`` to UTC), or None."""
        pc = self.pc
        if column is None or column.null_count:
            return None
        pa = self.pa
        if self.date_pattern is not None:
            column = stored_times(pa, pc, column, self.date_pattern)
            if column is None:
                return None
        dates = pc.match_substring_regex(column, _PLAIN_DATE)
        if pc.all(dates).as_py():
            # Only plain dates (a purchases file, say): midnight needs neither the time's pattern
            # nor the second's test, and the dates parse as they are (1M values: 0.18 s, not 0.39).
            stamps = pc.binary_join_element_wise(column, string(pa, "T00:00:00Z"), string(pa, ""))
            written, written_format, has_seconds = column, "%Y-%m-%d", False
        else:
            stamps = pc.if_else(dates, pc.binary_join_element_wise(column, string(pa, "T00:00:00Z"), string(pa, "")), column)
            if not pc.all(pc.match_substring_regex(stamps, _STORED_TIME)).as_py():
                return None
            written, written_format, has_seconds = stamps, _TIME_FORMAT, True
        parsed = pc.strptime(written, format=written_format, unit="s", error_is_null=True)
        if parsed.null_count:
            return None
        # strptime rolls a day or second past the end over (02-30 is 03-01, :60 the next minute):
        # the parsed day and second must be the written ones (strftime round trips cost 10x this).
        same = pc.equal(pc.day(parsed), pc.cast(pc.utf8_slice_codeunits(written, 8, 10), pa.int64()))
        if has_seconds:
            same = pc.and_(same, pc.equal(pc.second(parsed), pc.cast(pc.utf8_slice_codeunits(written, 17, 19), pa.int64())))
        if not pc.all(same).as_py():
            return None
        if self.zone is not None:
            # Every cell of a --date-format is a wall time; else the plain dates (midnight there).
            stamps = in_utc(pa, pc, parsed, stamps, None if self.date_pattern is not None else dates, self.zone)
            if stamps is None:
                return None
        checker = self.checker
        if checker.latest is not None and pc.any(pc.greater(stamps, string(pa, checker.latest))).as_py():
            return None
        return stamps

    def _amounts(self, column, kind):
        """Amounts in integer minor units (an int64 column, null where the kind moves no money),
        or None."""
        pc, pa = self.pc, self.pa
        money = pc.is_in(kind, value_set=self.money_kinds)
        given = pc.is_valid(column) if column is not None else falses(pa, len(kind))
        if not pc.all(pc.equal(money, given)).as_py():
            return None
        if column is None or column.null_count == len(column):
            return pa.nulls(len(kind), pa.int64())
        if not pc.all(pc.match_substring_regex(column, self.amount_pattern)).as_py():
            return None
        point = pc.find_substring(column, ".")
        zero, one = int64(pa, 0), int64(pa, 1)
        decimals = pc.if_else(pc.less(point, zero), zero, pc.subtract(pc.subtract(pc.utf8_length(column), point), one))
        digits = pc.cast(pc.replace_substring(column, ".", ""), pa.int64())
        scale = pc.power(int64(pa, 10), pc.cast(pc.subtract(int64(pa, self.exponent), decimals), pa.int64()))
        return pc.multiply(digits, scale)

    def _customers(self, columns: dict, numbers):
        """(each row's customer id by its first reference (id, external id, email), null where
        ``--create-customers`` makes one; the staging key of that new customer, or None when
        no row needs one; the new customers to stage: see :meth:`_new_customers`), or None when
        a reference is missing, unknown (without ``--create-customers``), ambiguous or not
        plainly spelt."""
        pc, pa = self.pc, self.pa
        rows = len(columns["kind"])
        nothing = falses(pa, rows)
        resolved = pa.nulls(rows, pa.int64())
        new_keys, to_stage = None, []
        taken = nothing
        for field in REFERENCES:
            column = columns.get(field)
            if column is None:
                continue
            use = pc.and_not(pc.is_valid(column), taken)
            taken = pc.or_(taken, use)
            wanted = pc.filter(column, use)
            if len(wanted) == 0:
                continue
            found = self._lookup(field, wanted)
            if found is None:
                return None
            keys, ids = found
            if field == "customer_id":
                column = pc.cast(pc.if_else(use, column, pa.nulls(1, column.type)[0]), pa.int64())
                if not pc.all(pc.is_in(pc.filter(column, use), value_set=keys)).as_py():
                    return None
                resolved = pc.if_else(use, column, resolved)
                continue
            if field == "customer_email":
                column = pc.utf8_lower(column)
            matched = pc.take(ids, pc.index_in(column, value_set=keys))
            unknown = pc.and_(use, pc.is_null(matched))
            if pc.any(unknown).as_py():
                if not self.checker.create_customers:
                    return None
                made = self._new_customers(field, column, unknown, numbers, columns.get("customer_name"))
                if made is None:
                    return None
                new_keys = made[0] if new_keys is None else pc.coalesce(new_keys, made[0])
                to_stage += made[1]
            resolved = pc.if_else(use, matched, resolved)
        if new_keys is None and resolved.null_count:
            return None
        if new_keys is not None and not pc.all(pc.not_equal(pc.is_valid(resolved), pc.is_valid(new_keys))).as_py():
            return None
        return resolved, new_keys, to_stage

    def _new_customers(self, field: str, column, unknown, numbers, names):
        """For the rows (``unknown``) whose reference (``column``: external ids, or lower-cased
        emails) matched no one: (a string column of the staging key of the customer each asks
        for, null elsewhere; the customers to stage, (key, first row, fields), for the
        references no earlier row staged), or None when such a customer's fields (its
        ``customer_name``) are not valid: the row path reports them."""
        pc, pa = self.pc, self.pa
        prefix = string(pa, new_customer_key(field, ""))
        asked = pc.filter(column, unknown)
        distinct = pc.unique(asked)  # each reference once, in the order of its first row
        first_rows = pc.take(pc.indices_nonzero(unknown), pc.index_in(distinct, value_set=asked))
        first = first_rows.to_pylist()
        given = [None] * len(first) if names is None else pc.take(names, first_rows).to_pylist()
        keys = pc.binary_join_element_wise(prefix, distinct, string(pa, "")).to_pylist()
        staged = self.checker.new_customer_ids(keys)  # by an earlier chunk's rows
        to_stage = []
        for reference, key, position, name in zip(distinct.to_pylist(), keys, first, given):
            if key in staged:
                continue
            fields = new_customer_fields(field, reference, name)
            try:
                Customer(**fields)
            except ValidationError:
                return None
            to_stage.append((key, numbers[position], fields))
        made = pc.binary_join_element_wise(prefix, column, string(pa, ""))
        return pc.if_else(unknown, made, pa.nulls(1, pa.string())[0]), to_stage

    def _lookup(self, field: str, wanted):
        """(keys, ids) of the customers the references name (see :mod:`crmkit.columnar_refs`;
        ids None for ``customer_id``, whose keys are the ids), or None when the references are
        not plainly spelt or an email belongs to several customers."""
        pc, pa = self.pc, self.pa
        distinct = pc.unique(wanted)
        if field == "customer_id":
            if not pc.all(pc.match_substring_regex(distinct, r"^\d{1,18}$")).as_py():
                return None
            keys, _, _ = self.customer_keys.find(field, pc.cast(distinct, pa.int64()))
            return keys, None
        if field == "customer_email":
            if not pc.all(pc.string_is_ascii(distinct)).as_py():
                return None  # the row path lower-cases beyond ASCII
            distinct = pc.unique(pc.utf8_lower(distinct))
        keys, ids, holders = self.customer_keys.find(field, distinct)
        if field == "customer_email" and pc.any(pc.greater(holders, int64(pa, 1))).as_py():
            return None
        return keys, ids


def _stored_rows(converted, keyed: bool) -> list[tuple]:
    """The rows of a record batch of :attr:`ColumnarImport.converted_schema` in stored form
    (:data:`CHECKED_COLUMNS`, then the external key when ``keyed``)."""
    assert CHECKED_COLUMNS == ("customer_id", "kind", "channel", "occurred_at", "amount", "product", "category", "rep", "notes", "data")
    rows = converted.num_rows
    *values, keys = [repeat(None, rows) if column.null_count == rows else column.to_pylist() for column in converted.columns[1:-1]]
    return list(zip(*values, repeat(None, rows), keys)) if keyed else list(zip(*values, repeat(None, rows)))


def _special_lines(data: bytes, lines: list[bytes]) -> dict[int, None]:
    """Indices of the ``lines`` of ``data`` with a quote, a formula guard or only blanks, in order."""
    found = {i for i, line in enumerate(lines) if b'"' in line or not line.strip()}
    if b"'" in data:
        index, at = 0, 0
        for match in _GUARD.finditer(data):
            index += data.count(b"\n", at, match.start())
            at = match.start()
            found.add(index)
    return dict.fromkeys(sorted(i for i in found if i < len(lines)))


def _stored(values: dict, exponent: int, keyed: bool) -> tuple:
    """A row the row path checked and staged, in stored form (:data:`CHECKED_COLUMNS`, then the
    external key when ``keyed``), as ``record_many`` stores it."""
    record = Interaction(**values)
    stored = (
        record.customer_id, record.kind, record.channel, to_iso(record.occurred_at),
        None if record.amount is None else to_amount(record.amount, exponent), record.product, record.category,
        record.rep, record.notes, json.dumps(record.data, sort_keys=True) if record.data else None,
    )
    return stored + (record.external_key,) if keyed else stored


class _LineRows(_Source):
    """Single-line records of a chunk (line number, bytes), read as the row path reads a file."""

    def __init__(self, owner: ColumnarImport, lines: list[tuple[int, bytes]]):
        self.columns = owner.columns
        self._owner = owner
        self._items = lines

    def done(self) -> int:
        return 0

    def rows(self):
        owner = self._owner
        for number, line in self._items:
            decoder = _LineDecoder(io.BytesIO(line + b"\n"), owner.codec)
            decoder.line = number - 1
            reader = StrictReader(iter(decoder), delimiter=owner.delimiter, offset=number - 1)
            reader.width = len(self.columns)
            yield from _csv_rows(iter(reader), decoder, self.columns, owner.path.name)

    def close(self) -> None:
        """Nothing to close: the lines are in memory."""


class _ChunkRows(_Source):
    """The rows of one chunk, read as the row path reads a whole file (line numbers kept)."""

    def __init__(self, owner: ColumnarImport, first: int, data: bytes):
        self.columns = owner.columns
        self._lines = _LineDecoder(io.BytesIO(data), owner.codec)
        self._lines.line = first - 1
        reader = StrictReader(iter(self._lines), delimiter=owner.delimiter, offset=first - 1)
        reader.width = len(owner.columns)
        self._records = iter(reader)
        self._name = owner.path.name

    def done(self) -> int:
        return self._lines.bytes_read

    def rows(self):
        return _csv_rows(self._records, self._lines, self.columns, self._name)

    def close(self) -> None:
        """Nothing to close: the chunk is in memory."""


# --- customers --------------------------------------------------------------------------------

#: The text fields of a customer the columnar path checks, with their length limits.
CUSTOMER_TEXTS = {
    "name": 200, "external_id": 100, "email": 254, "phone": 40, "address": 500, "region": 100,
    "company": 200, "industry": 100, "source": 100, "owner": 100,
}
CUSTOMER_FIELDS = frozenset(CUSTOMER_TEXTS) | {"size", "stage"}
# What the row path's one-line rule refuses in a name (a plain line holds no \n or \r).
_LINE_BREAK = r"[\x{0b}\x{0c}\x{1c}-\x{1e}\x{85}\x{2028}\x{2029}]"
# Emails and phones in printable ASCII only: there the row path's rules read the same in RE2.
_PLAIN_EMAIL = r"^[!-?A-~]+@[!-?A-~]+\.[!-?A-~]+$"
#: A phone of these characters, at least three of them digits.
_PLAIN_PHONE = "^" + "[0-9]".join(["[0-9+()./ -]*"] * 4) + "$"
#: What the normalised phone leaves out: every character but the digits and a leading + (group 1).
_NOT_PHONE_DIGIT = r"(^\+)|[^0-9]"


def _columnar_customers(checker: _Checker, source, path: Path, codec: str, file_format: str) -> "ColumnarCustomers | None":
    """The columnar import of a customers CSV, or None when the row path must do it: an encoding
    :func:`by_column` refuses, ``--set`` defaults, or a column feeding tags, attributes or
    created_at."""
    plan = checker.plan
    if file_format != "csv" or not by_column(codec) or not isinstance(source, _CsvSource) or plan.defaults:
        return None
    if not set(plan.column_fields().values()) <= CUSTOMER_FIELDS:
        return None
    modules = _pyarrow()
    if modules is None:
        return None
    return ColumnarCustomers(checker, source, path, modules, codec)


class ColumnarCustomers(ColumnarImport):
    """The two passes of a columnar customers import.

    A chunk is checked by column when every line is plain (no quote, formula guard or blank
    line) and every row is a new customer whose values these checks vouch for: trimmed texts
    within their limits, a one-line name, a plain ASCII email and phone, a known size and stage,
    no external id or email met before in the file, none belonging to a customer already. Any
    other chunk (a bad row, an update, a duplicate, a spelling these checks do not vouch for)
    goes through the row path whole, which reports and stages it exactly as before. Both kinds
    of chunk register their external ids and emails in the same staging table, so duplicates
    are found across them in file order.

    The check pass keeps each column-checked chunk's columns (:mod:`crmkit.columnar_chunks`),
    so the write pass does not read the file again: it hands every good row, in file order, to
    ``crm.customers.upsert_checked``, the column-checked rows as stored tuples, the others as
    the row path staged them; batches, ids, audit entries and events are those of the row path,
    and the customers written are the ones checked even if the file changes meanwhile.
    """

    def check(self, progress: Progress | None) -> None:
        """Read every chunk: check it by column, or row by row when it must; what each gave is
        kept for the write pass."""
        checker = self.checker
        fields = list(self.fields.values())
        schema = self.pa.schema([(field, self.pa.string()) for field in fields])
        self.checked = CheckedChunks(self.pa, schema)
        for first, data, done in self._chunks():
            columns = self._check_by_column(first, data)
            if columns is None:
                self.checked.add_row_path(first, _last_line(first, data))
                for batch in _batches(self._chunk_rows(first, data), checker.plan, None):
                    checker.check(batch)
            else:
                self.checked.add_converted(self.pa.record_batch([columns[field] for field in fields], schema=schema), None)
            if progress is not None:
                progress("check", done, self.total)

    def write(self, progress: Progress | None) -> tuple[int, int]:
        """Write every good row in one transaction; returns (added, updated)."""
        crm = self.crm
        total = self._rows_to_write()
        if total <= 0:
            return 0, 0
        written = [0]

        def rows() -> Iterator:
            for checked in self.checked:
                if checked.whole:
                    chunk = self.checker.staged_rows(*checked.row_path_lines)
                else:
                    chunk = self._stored(checked.converted)
                yield from chunk
                written[0] += len(chunk)
                if progress is not None:
                    progress("write", written[0], total)

        with crm.transaction():
            existing = crm.db.execute("SELECT count(*) FROM customers").fetchone()[0]
            # Only new customers (no chunk of the row path, whose updates look customers up by
            # email): the secondary indexes are built once at the end, as for interactions.
            large = not self.checked.row_path_checked and total >= max(DEFER_INDEXES, existing)
            with _large_load_if(large, crm.db, ("customers",)):
                counts = crm.customers.upsert_checked(rows(), columns=self.stored_columns)
            self.checker.audit_run(counts["added"], counts["updated"])
        return counts["added"], counts["updated"]

    # --- one chunk --------------------------------------------------------------------------

    def _columns(self, data: bytes) -> dict | None:
        """The chunk's checked columns (field -> string column; ``rows``: their count), or None
        when a line or a value needs the row path."""
        read = self._read_columns(data)
        return None if read is None else self._vouched(*read)

    def _read_columns(self, data: bytes) -> tuple[dict, int] | None:
        """The chunk's lines as string columns (field -> column, empty cells null) and their
        count, or None when a line is not plain (a quote, a formula guard, a blank line, a cell
        count pyarrow refuses)."""
        if b'"' in data or b"\r" in data and data.count(b"\r") != data.count(b"\r\n") or b"'" in data and _GUARD.search(data):
            return None
        if b"\n\n" in data or b"\n\r\n" in data or data.startswith((b"\n", b"\r")):
            return None
        lines = data.count(b"\n") + (not data.endswith(b"\n"))
        table = self._table(data)
        if table is None or table.num_rows != lines or lines == 0:
            return None
        return {field: table.column(name).combine_chunks() for name, field in self.fields.items()}, lines

    def _vouched(self, columns: dict, lines: int) -> dict | None:
        """``columns`` (``lines`` rows) with ``rows`` set to their count, or None when any value
        is one these checks do not vouch for."""
        pc = self.pc
        for field, column in columns.items():
            if column.null_count == lines:
                continue
            if self._untrimmed(column) or pc.any(pc.match_substring(column, "\x00")).as_py():
                return None
            limit = CUSTOMER_TEXTS.get(field)
            if limit is not None and (pc.max(pc.utf8_length(column)).as_py() or 0) > limit:
                return None
            if field == "size" and not pc.all(pc.is_in(pc.drop_null(column), value_set=strings(self.pa, SIZES))).as_py():
                return None
            if field == "stage" and not pc.all(pc.is_in(pc.drop_null(column), value_set=strings(self.pa, STAGES))).as_py():
                return None
        name = columns.get("name")
        if name is None or name.null_count or pc.any(pc.match_substring_regex(name, _LINE_BREAK)).as_py():
            return None  # a row without a name is new here (it matches no one) and needs one
        email = columns.get("email")
        if email is not None and not pc.all(pc.match_substring_regex(pc.drop_null(email), _PLAIN_EMAIL)).as_py():
            return None
        phone = columns.get("phone")
        if phone is not None:
            given = pc.drop_null(phone)
            if not pc.all(pc.match_substring_regex(given, _PLAIN_PHONE)).as_py():
                return None
        columns["rows"] = lines
        return columns

    def _check_by_column(self, first: int, data: bytes) -> dict | None:
        """Check a chunk by column and register its keys: its checked columns (see
        :meth:`_columns`), or None when the row path must check it."""
        columns = self._columns(data)
        if columns is None:
            return None
        pc = self.pc
        keys = {}
        for field in ("external_id", "email"):
            column = columns.get(field)
            if column is not None and column.null_count < columns["rows"]:
                keys[field] = pc.utf8_lower(column) if field == "email" else column
        db, staging = self.crm.db, self.checker.staging
        for field, column in (("external_id", "external_id"), ("email", "email_norm")):
            if field in keys and db.execute(
                f"SELECT 1 FROM customers WHERE {column} IN ({json_values('?')}) LIMIT 1", [json.dumps(pc.drop_null(keys[field]).to_pylist())]
            ).fetchone():
                return None  # an update: the row path does it
        numbers = range(first, first + columns["rows"])
        registered = []
        unkeyed = None  # the emails of rows without an external id also register as "f:" (see the row path)
        if "email" in keys:
            unkeyed = pc.is_valid(keys["email"])
            if "external_id" in keys:
                unkeyed = pc.and_(unkeyed, pc.is_null(keys["external_id"]))
        for field, prefix, given in (("external_id", "x:", None), ("email", "e:", None), ("email", "f:", unkeyed)):
            if field in keys:
                given = pc.is_valid(keys[field]) if given is None else given
                rows = [numbers[i] for i in pc.indices_nonzero(given).to_pylist()]
                prefixed = pc.binary_join_element_wise(string(self.pa, prefix), pc.filter(keys[field], given), string(self.pa, ""))
                registered.extend(zip(prefixed.to_pylist(), rows))
        # A key met before, in this chunk or an earlier one, is a duplicate the row path names.
        staging.execute("SAVEPOINT chunk_keys")
        added = insert_rows(staging, "row_keys", ("key", "row"), registered, or_ignore=True)
        if added != len(registered):
            staging.execute("ROLLBACK TO chunk_keys")
        staging.execute("RELEASE chunk_keys")
        if added != len(registered):
            return None
        self.checker.rows += columns["rows"]
        return columns

    def _stored(self, checked) -> list[tuple]:
        """A chunk's checked columns (a record batch, a string column per field) as new
        customers' values of :attr:`stored_columns`."""
        pc = self.pc
        rows = checked.num_rows
        values = []
        for name in self.stored_columns:
            if name in ("created_at", "updated_at"):
                values.append(repeat(to_iso(self.crm.now()), rows))
            elif name == "email_norm":
                values.append(pc.utf8_lower(checked.column("email")).to_pylist())
            elif name == "phone_norm":  # its digits, a leading + kept (the values are trimmed)
                values.append(pc.replace_substring_regex(checked.column("phone"), _NOT_PHONE_DIGIT, r"\1").to_pylist())
            elif name == "stage":
                values.append(pc.fill_null(checked.column("stage"), string(self.pa, "new")).to_pylist())
            else:
                values.append(checked.column(name).to_pylist())
        return list(zip(*values))

    @property
    def stored_columns(self) -> tuple[str, ...]:
        """The stored columns the file's columns feed (with the normalised email and phone and
        the times); the others take the table's defaults, as the row path stores them."""
        fed = set(self.fields.values())
        derived = {"email_norm": "email", "phone_norm": "phone", "created_at": "name", "updated_at": "name"}
        return tuple(c for c in STORED_COLUMNS if c in fed or c in derived and derived[c] in fed)


@contextmanager
def _large_load_if(large: bool, db, tables: tuple[str, ...]) -> Iterator[None]:
    """For a large load, the engine's settings for one (:meth:`~crmkit.engine.base.Database.loading`:
    a larger page cache on SQLite) and ``tables``' secondary indexes dropped and built again at
    its end, inside the import's transaction, where readers on other connections cannot tell
    (SQLite keeps their snapshot). Where dropping an index would lock every reader out until the
    commit (PostgreSQL), the indexes are kept up as the rows come, as they are for a small load."""
    if not large:
        yield
        return
    with db.loading(), indexes_deferred(db, tables) if db.features.private_schema_changes else nullcontext():
        yield


def _last_line(first: int, data: bytes) -> int:
    """The number of a chunk's last line, its first being ``first``."""
    return first + data.count(b"\n") - data.endswith(b"\n")
