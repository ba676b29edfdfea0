"""CSV export of what a paged table shows, written by the core's formula-safe CSV writer."""

from __future__ import annotations

import base64
import io
from html import escape
from typing import Any, Callable, Sequence

from crmkit import csvfile

from .sources import PageSource

CSV_LIMIT = 100_000
CHUNK = 1_000


def csv_text(
    source: PageSource, columns: Sequence[str], label: Callable[[str], str],
    value: Callable[[dict, str], Any], limit: int = CSV_LIMIT,
) -> tuple[str, int]:
    """``(csv, rows written)``: a header of labels, then up to ``limit`` rows of ``source`` in
    its order, read a chunk at a time with the source's own paging."""
    out = io.StringIO()
    writer = csvfile.writer(out)
    writer.writerow([label(c) for c in columns])
    written, last = 0, None
    while written < limit:
        rows = source.page(min(CHUNK, limit - written), after=last) if last is not None else source.page(min(CHUNK, limit))
        if not rows:
            break
        writer.writerows([value(row, c) for c in columns] for row in rows)
        written += len(rows)
        last = rows[-1]
    return out.getvalue(), written


def csv_link(text: str, filename: str, rows: int) -> str:
    """An HTML download link holding ``text`` (no file is written on the server)."""
    data = base64.b64encode(text.encode("utf-8")).decode("ascii")
    more = f" (the first {rows:,})" if rows >= CSV_LIMIT else ""
    return (
        f"<a class='crmkit-csv-link' download='{escape(filename)}' href='data:text/csv;charset=utf-8;base64,{data}'>"
        f"download {escape(filename)}</a> <span style='color:#555'>{rows:,} rows{more}</span>"
    )
