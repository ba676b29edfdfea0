"""The columnar path of a JSON lines import: each chunk's objects decoded at once, then checked
and converted by column with the CSV path's checks (:mod:`crmkit.columnar`).

The file is cut into chunks of whole lines (about a megabyte each). Each line is decoded by
msgspec, numbers as Python's ``json`` module with ``parse_float=Decimal`` reads them (exact; a
float never holds an amount). msgspec is stricter than ``json``: what it decodes, ``json``
decodes to the same value; what it refuses (a broken line, a blank line, ``NaN``, bad UTF-8, a
lone surrogate) goes to the row path, which reports it as before. The plain objects of a chunk
become the same string columns the CSV path builds from its cells: a text a string (an empty
one, like null or a missing key, is no value), a customer id a string or a whole number, an
amount a string or a JSON number (written as its decimal digits), ``data`` empty (``{}``,
``"{}"``, ``""`` or null). Those columns go through the CSV path's checks unchanged
(:meth:`ColumnarImport._plain_rows`: the ``--set`` defaults, the kinds checked by column, times,
exact amounts, text limits, the customer references resolved with one query per chunk).

A line takes the row path of :mod:`crmkit.importing` on its own, with its own line number,
when it is not a plain object: it does not decode, it is not an object, a key feeds a field
these checks do not cover (``data.<key>``, ``customer_name``) or two keys feed one field, a
value is not of the types above (a number where a text is wanted, a boolean, a list, nested
``data``), or its kind validates ``data`` or is unknown. Keys that feed no field are ignored, as
the row path ignores them. A chunk whose plain lines hold a single value these checks cannot
vouch for takes the row path whole, as for CSV. A key feeding ``external_key`` sends the whole
file to the row path (the JSON lines columns carry no external keys), started again from its
first line before anything is written.

Customers: a chunk is checked by column when every line is a plain object whose keys feed only
the fields the CSV customers path covers and whose values are strings (or null); any other
chunk takes the row path whole (see :class:`~crmkit.columnar.ColumnarCustomers`).

It needs pyarrow and msgspec (``pip install 'crmkit[fast]'``); without either, JSON lines
imports take the row path. The file must be UTF-8 (with or without a byte order mark), and
the options that send a CSV file to the row path do the same here, and so does any
``--date-format``.
"""

from __future__ import annotations

import codecs
import io
import json
from bisect import bisect_left
from decimal import Decimal
from itertools import repeat
from pathlib import Path
from typing import Any, Iterator

from . import columnar
from .columnar import CUSTOMER_FIELDS, FIELDS, ColumnarCustomers, ColumnarImport
from .importing import _Checker, _json_rows, _JsonLinesSource, _LineDecoder, _Source, RowPathNeeded

# The JSON types a field's plain value may have (None: null or no key); other fields: text.
_TEXT = frozenset({str, type(None)})
_TYPES = {
    "customer_id": _TEXT | {int},
    "amount": _TEXT | {int, Decimal},
    "data": _TEXT | {dict},
}


def _msgspec():
    """(decode, the errors it raises) of a msgspec JSON decoder reading numbers with a fraction
    or exponent as Decimal, or None when msgspec is not installed."""
    try:
        import msgspec
    except ImportError:
        return None
    return msgspec.json.Decoder(float_hook=Decimal).decode, (msgspec.DecodeError, ValueError, RecursionError)


def available() -> bool:
    """Whether JSON lines imports can take the columnar path here (pyarrow and msgspec installed)."""
    return columnar._pyarrow() is not None and _msgspec() is not None


def json_lines_import(checker: _Checker, source, path: Path, codec: str, times) -> "ColumnarImport | None":
    """The columnar import of a JSON lines file, or None when the row path must do it."""
    if codec != "utf-8" or not isinstance(source, _JsonLinesSource):
        return None
    plan = checker.plan
    if checker.kind == "customers":
        if plan.defaults:
            return None
        cls = JsonLinesCustomers
    else:
        if checker.key is not None or checker.create_customers or times.date_format is not None or times.zone is not None:
            return None
        defaults = plan.defaults
        if not set(defaults) <= FIELDS or "data" in defaults or not all(isinstance(v, str) for v in defaults.values()):
            return None
        cls = JsonLinesImport
    modules, decoder = columnar._pyarrow(), _msgspec()
    if modules is None or decoder is None:
        return None
    return cls(checker, path, source.total, modules, decoder)


class _JsonLines:
    """Reading a JSON lines file by chunks: shared by the interactions and customers imports."""

    checker: _Checker
    path: Path

    def _open(self, total: int | None, decoder) -> None:
        self.total = total
        self.columns = None
        self._decode, self._errors = decoder
        self._chunk = _Chunk(b"", 1, [], [], 0, [])

    def _chunks(self) -> Iterator[tuple[int, bytes, int]]:
        """(first line number, bytes of whole lines, bytes read so far); a BOM is skipped.
        The chunk being read is decoded once (:attr:`_chunk`), its rows' places counted."""
        line, rows = 1, 0
        with open(self.path, "rb") as handle:
            if handle.read(len(codecs.BOM_UTF8)) != codecs.BOM_UTF8:
                handle.seek(0)
            while True:
                data = handle.read(columnar.CHUNK_BYTES)
                if not data:
                    return
                if not data.endswith(b"\n"):
                    data += handle.readline()
                lines, values = self._decode_lines(data)
                # The lines the row path skips: blank once decoded as it decodes them.
                blank = [i for i, v in enumerate(values) if v is None and not lines[i].decode("utf-8", "replace").strip()]
                self._chunk = _Chunk(data, line, lines, values, rows, blank)
                yield line, data, handle.tell()
                line += data.count(b"\n")
                rows += len(lines) - len(blank)

    def _decoded(self, data: bytes) -> tuple[list[bytes], list[Any]]:
        """The chunk's lines and the value of each (None where msgspec refuses the line)."""
        chunk = self._chunk
        if chunk.data is data:
            return chunk.lines, chunk.values
        return self._decode_lines(data)

    def _decode_lines(self, data: bytes) -> tuple[list[bytes], list[Any]]:
        lines = data.split(b"\n")
        if not lines[-1]:
            lines.pop()
        decode, errors = self._decode, self._errors
        try:
            return lines, list(map(decode, lines))
        except errors:
            values = []
            for line in lines:
                try:
                    values.append(decode(line))
                except errors:
                    values.append(_refused(line))
            return lines, values

    def _fields(self, values: list, every: bool) -> dict[tuple, tuple]:
        """Each order of keys the chunk's objects have (in the order first met) -> the fields
        they feed (``every``: every value is an object). The plan learns the keys in the order
        the row path meets them, each with the place of the row it first met it in."""
        orders = [tuple(v) if every or isinstance(v, dict) else None for v in values]
        first: dict[tuple | None, int] = dict.fromkeys(orders)  # type: ignore[arg-type]
        first.pop(None, None)
        if len(first) <= 16:
            for order in first:
                first[order] = orders.index(order)
        else:
            first = {}
            for index, order in enumerate(orders):
                if order is not None and order not in first:
                    first[order] = index
        field_of, ordinal = self.checker.plan.field_of, self._chunk.ordinal
        return {order: tuple(field_of(key, ordinal(self._chunk.first + index)) for key in order) for order, index in first.items()}

    def _strings(self, values: list):
        """A string column of ``values`` (str or None), the empty string null."""
        pa, pc = self.pa, self.pc
        column = pa.array(values, pa.string())
        empty = pc.equal(column, "")
        if pc.any(empty).as_py():
            column = pc.if_else(empty, pa.scalar(None, pa.string()), column)
        return column

    def _chunk_rows(self, first: int, data: bytes) -> _Source:
        return _JsonChunkRows(first, data, self._chunk.ordinal)

    def _line_rows(self, lines: list[tuple[int, bytes]]) -> _Source:
        return _JsonLineRows(lines, self._chunk.ordinal)


class _Odd(dict):
    """The object of a line msgspec refuses but the row path reads (``NaN``, a lone surrogate):
    not plain (it is no ``dict`` by type), but its keys are planned where the row path meets them."""


def _refused(line: bytes) -> "_Odd | None":
    """A line msgspec refuses, as the row path reads it: its object (:class:`_Odd`), or None
    (not an object, not JSON, not UTF-8, blank)."""
    try:
        value = json.loads(line.decode("utf-8"), parse_float=Decimal)
    except (ValueError, RecursionError):
        return None
    return _Odd(value) if isinstance(value, dict) else None


class _Chunk:
    """A chunk being read: its bytes, first line number, lines, their values (None: refused by
    msgspec), the rows before it and the indices of its blank lines (no rows)."""

    def __init__(self, data: bytes, first: int, lines: list[bytes], values: list, before: int, blank: list[int]):
        self.data, self.first, self.lines, self.values, self.before, self.blank = data, first, lines, values, before, blank

    def ordinal(self, number: int) -> int:
        """The place among the file's rows (counted from 1) of the row on line ``number``."""
        index = number - self.first
        return self.before + index + 1 - bisect_left(self.blank, index)


def _keys_by_field(orders: dict[tuple, tuple]) -> dict[str, list[str]]:
    """The keys feeding each field in ``orders`` (key order -> fields)."""
    keys: dict[str, list[str]] = {}
    for order, fields in orders.items():
        for key, field in zip(order, fields):
            if field is not None and key not in keys.setdefault(field, []):
                keys[field].append(key)
    return keys


def _column(objects: list[dict], keys: list[str]) -> list:
    """Each object's value of the one of ``keys`` it has (None when it has none)."""
    if len(keys) == 1:
        return list(map(dict.get, objects, repeat(keys[0])))
    return [next((o[k] for k in keys if k in o), None) for o in objects]


def _one_each(fields: tuple) -> bool:
    """Whether no field is fed twice by one object's keys."""
    named = [f for f in fields if f is not None]
    return len(named) == len(set(named))


class JsonLinesImport(_JsonLines, ColumnarImport):
    """The two passes of a columnar interactions import from JSON lines (see the module's
    docstring); the write pass is :meth:`ColumnarImport.write`."""

    def __init__(self, checker: _Checker, path: Path, total: int | None, modules, decoder):
        self._prepare(checker, path, modules)
        self._open(total, decoder)

    def _split(self, first: int, data: bytes):
        """As :meth:`ColumnarImport._split`: (the rows converted by column, or None; the other
        lines as (line number, bytes)), or None when the whole chunk takes the row path."""
        lines, values = self._decoded(data)
        numbers = range(first, first + len(lines))
        every = set(map(type, values)) == {dict}
        orders = self._fields(values, every)
        plain = {}
        for order, fields in orders.items():
            if "external_key" in fields:
                raise RowPathNeeded  # start again row by row
            if set(fields) - {None} <= FIELDS and _one_each(fields):
                plain[order] = fields
        if every and len(plain) == len(orders):
            keep: list[int] | range = range(len(lines))
            objects = values
        else:
            keep = [i for i, v in enumerate(values) if type(v) is dict and tuple(v) in plain]
            objects = [values[i] for i in keep]
        keys = _keys_by_field(plain)
        raw = {field: _column(objects, names) for field, names in keys.items()}
        odd: set[int] = set()  # positions in ``objects`` of values of other types
        for field, column in raw.items():
            allowed = _TYPES.get(field, _TEXT)
            if not set(map(type, column)) <= allowed:
                odd.update(i for i, v in enumerate(column) if type(v) not in allowed)
            if field == "data":  # only an empty data is plain: {} "{}" "" null
                odd.update(i for i, v in enumerate(column) if v and v != "{}")
        if odd:
            kept = [i for i in range(len(objects)) if i not in odd]
            keep = [keep[i] for i in kept]
            raw = {field: [column[i] for i in kept] for field, column in raw.items()}
        slow = []
        if len(keep) != len(lines):
            taken = set(keep)
            slow = [(numbers[i], lines[i]) for i in range(len(lines)) if i not in taken]
        if not keep:
            return None, slow
        raw.pop("data", None)  # every value left is empty: stored as no data, as the row path does
        columns = {}
        for field, column in raw.items():
            if field in ("customer_id", "amount") and not set(map(type, column)) <= _TEXT:
                # A JSON number as the row path reads it: a whole number's digits, a Decimal's
                # text (an exponent such as 1E+2 is no plain amount: the chunk takes the row path).
                column = [v if v is None or type(v) is str else str(v) for v in column]
            columns[field] = self._strings(column)
        return self._plain_rows(columns, [numbers[i] for i in keep], [lines[i] for i in keep], slow)


class JsonLinesCustomers(_JsonLines, ColumnarCustomers):
    """The two passes of a columnar customers import from JSON lines (see the module's
    docstring); the write pass is :meth:`ColumnarCustomers.write`."""

    def __init__(self, checker: _Checker, path: Path, total: int | None, modules, decoder):
        self._prepare(checker, path, modules)
        self._open(total, decoder)
        # Every field a chunk checked by column may feed (absent keys are null, as the table's
        # defaults are): the stored columns of its rows.
        self.fields = {field: field for field in sorted(CUSTOMER_FIELDS)}

    def _read_columns(self, data: bytes) -> tuple[dict, int] | None:
        """The chunk's objects as string columns (every field; absent or empty values null) and
        their count, or None when a line is not a plain object of text values."""
        lines, values = self._decoded(data)
        if not lines or set(map(type, values)) != {dict}:
            return None
        orders = self._fields(values, True)
        if not all(set(fields) - {None} <= CUSTOMER_FIELDS and _one_each(fields) for fields in orders.values()):
            return None
        keys = _keys_by_field(orders)
        columns = {}
        for field in self.fields:
            names = keys.get(field)
            if not names:
                columns[field] = self.pa.nulls(len(values), self.pa.string())
                continue
            column = _column(values, names)
            if not set(map(type, column)) <= _TEXT:
                return None
            columns[field] = self._strings(column)
        return columns, len(values)


class _JsonLineRows(_Source):
    """Single lines (line number, bytes) read as the row path reads a JSON lines file;
    ``ordinal_of(line number)``: a row's place among the file's rows."""

    def __init__(self, lines: list[tuple[int, bytes]], ordinal_of):
        self._items = lines
        self.ordinal_of = ordinal_of

    def done(self) -> int:
        return 0

    def rows(self):
        for number, line in self._items:
            decoder = _LineDecoder(io.BytesIO(line + b"\n"), "utf-8")
            decoder.line = number - 1
            yield from _json_rows(decoder)

    def close(self) -> None:
        """Nothing to close: the lines are in memory."""


class _JsonChunkRows(_Source):
    """The lines of one chunk read as the row path reads a JSON lines file (line numbers kept)."""

    def __init__(self, first: int, data: bytes, ordinal_of):
        self._lines = _LineDecoder(io.BytesIO(data), "utf-8")
        self._lines.line = first - 1
        self.ordinal_of = ordinal_of

    def done(self) -> int:
        return self._lines.bytes_read

    def rows(self):
        return _json_rows(self._lines)

    def close(self) -> None:
        """Nothing to close: the chunk is in memory."""
