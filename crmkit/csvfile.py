"""The one CSV writer behind every file crmkit writes: exports, import reports, report sections
and plugins' CSV files.

A cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is run as a formula by
spreadsheet programs (CSV injection); such cells get a leading ``'``, which spreadsheets show as
text. Real numbers (``-12.50``) are written as they are, so they stay numbers.
"""

from __future__ import annotations

import csv
import re
from typing import IO, Any, Iterable

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?\Z")


def safe_cell(value: Any) -> str:
    """The text of one CSV cell that a spreadsheet will not run as a formula (None is empty)."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_START) and not _NUMBER.match(text):
        return "'" + text
    return text


class SafeWriter:
    """A ``csv.writer`` whose every cell goes through :func:`safe_cell`."""

    def __init__(self, out: IO[str], **options: Any):
        self._writer = csv.writer(out, **options)
        # csv quotes only the line breaks of its own line terminator; a bare CR or LF left
        # unquoted would start a new row in a reader (and a formula cell at its start).
        self._quoting = csv.writer(out, **dict(options, quoting=csv.QUOTE_ALL))

    def writerow(self, row: Iterable[Any]) -> None:
        """Write one row of cells."""
        cells = [safe_cell(cell) for cell in row]
        breaks = any("\r" in cell or "\n" in cell for cell in cells)
        (self._quoting if breaks else self._writer).writerow(cells)

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        """Write many rows of cells."""
        for row in rows:
            self.writerow(row)


def writer(out: IO[str], **options: Any) -> SafeWriter:
    """A CSV writer on ``out`` (options as for ``csv.writer``) that neutralises formula cells."""
    return SafeWriter(out, **options)
