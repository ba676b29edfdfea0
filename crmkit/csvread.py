"""Strict reading of CSV text: a file whose structure is broken is refused, with its line.

Python's ``csv`` module, left lenient, lets an unterminated quote swallow the rest of a file into
one cell and silently drops or keeps stray quotes. Here every record must be well-formed:

- a quoted cell must be closed, and be followed by a delimiter or the end of the line;
- a quote inside an unquoted cell (``Ann "The Boss" Lee``) is refused: quote the cell and double
  the quote (``"Ann ""The Boss"" Lee"``);
- a record may not have more non-empty cells than the header names (an unquoted delimiter).

Errors are :class:`CsvSyntaxError`, which carries the line where the bad record starts.
"""

from __future__ import annotations

import csv
import re
from typing import Iterable, Iterator

from .errors import CrmError

QUOTE = '"'


class CsvSyntaxError(CrmError):
    """A CSV file's structure is broken at ``line``; the file cannot be read reliably."""

    def __init__(self, line: int, message: str):
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.reason = message


class StrictReader:
    """Records of CSV text lines as ``(first line, last line, cells)``; broken structure raises.

    ``lines`` are the file's lines with their line ends (as read from a file). The first record
    is the header (unless ``width`` is set first); once it is read, ``width`` is its number of cells, and a later record with a
    non-empty cell beyond it is refused (empty trailing cells, as spreadsheets write, pass).
    """

    def __init__(self, lines: Iterable[str], delimiter: str = ",", offset: int = 0):
        self.delimiter = delimiter
        self.offset = offset  # lines before ``lines`` (a part of a file read on its own)
        self.width: int | None = None
        self._pending: list[str] = []
        self._reader = csv.reader(self._remember(lines), delimiter=delimiter, strict=True)

    def _remember(self, lines: Iterable[str]) -> Iterator[str]:
        for line in lines:
            self._pending.append(line)
            yield line

    def __iter__(self) -> Iterator[tuple[int, int, list[str]]]:
        reader = self._reader
        offset = self.offset
        previous = offset
        while True:
            self._pending.clear()
            try:
                record = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                raise self._broken(previous + 1, offset + reader.line_num, error) from None
            start = previous + 1
            previous = offset + reader.line_num
            if any(QUOTE in cell for cell in record) and _quote_in_unquoted_cell("".join(self._pending), self.delimiter):
                raise CsvSyntaxError(start, f"a quote inside an unquoted cell; quote the cell and double the quote ({_EXAMPLE})")
            if self.width is None:
                self.width = len(record)
            elif len(record) > self.width and any(cell.strip() for cell in record[self.width:]):
                raise CsvSyntaxError(
                    start, f"the row has {len(record)} cells but the header names {self.width} columns; "
                    f"quote cells that hold a {self.delimiter!r}",
                )
            yield start, previous, record

    def _broken(self, start: int, end: int, error: csv.Error) -> CsvSyntaxError:
        if "field larger than field limit" in str(error):
            return CsvSyntaxError(start, f"a cell longer than {csv.field_size_limit():,} characters, more than any field holds")
        if "new-line character seen in unquoted field" in str(error):
            return CsvSyntaxError(
                start, "a carriage return (CR) on its own inside a cell or as a line end; save the file with "
                "LF or CRLF line ends, and quote a cell that holds a line break",
            )
        if "unexpected end of data" in str(error):
            return CsvSyntaxError(start, f"a quoted cell opened here is never closed (the file ends on line {end})")
        if end > start:
            return CsvSyntaxError(
                start, f"a quoted cell opened here runs on to line {end}, where a quote is followed by text; "
                f"a quote inside a cell must be doubled ({_EXAMPLE})",
            )
        return CsvSyntaxError(start, f"a quote is followed by text inside a cell; a quote inside a cell must be doubled ({_EXAMPLE})")


_EXAMPLE = '"Ann ""The Boss"" Lee"'


_WELL_FORMED: dict[str, "re.Pattern[str]"] = {}


def _well_formed(delimiter: str) -> "re.Pattern[str]":
    """A record whose every cell is either quoted whole (inner quotes doubled) or has no quote."""
    pattern = _WELL_FORMED.get(delimiter)
    if pattern is None:
        d = re.escape(delimiter)
        cell = rf'(?:"(?:[^"]|"")*"|[^"{d}\r\n]*)'
        pattern = _WELL_FORMED[delimiter] = re.compile(rf"{cell}(?:{d}{cell})*(?:\r\n|\n|\r)?")
    return pattern


def _quote_in_unquoted_cell(text: str, delimiter: str) -> bool:
    """Whether a record's raw text has a quote in a cell that does not start with one."""
    if _well_formed(delimiter).fullmatch(text):
        return False  # the common case, in C; the scan below finds the offending quote
    quoted = in_quotes = False
    at_start = True
    i = 0
    while i < len(text):
        char = text[i]
        if in_quotes:
            if char == QUOTE:
                if text[i + 1:i + 2] == QUOTE:
                    i += 1
                else:
                    in_quotes = False
        elif char == delimiter or char in "\r\n":
            quoted, at_start = False, True
        elif char == QUOTE:
            if not at_start or quoted:
                return True
            quoted = in_quotes = True
            at_start = False
        else:
            at_start = False
        i += 1
    return False
