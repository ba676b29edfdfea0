"""CSV and JSON files per section, byte-identical for the same data and ``as_of``.

Nothing in a file depends on when it was written: no generation time, keys and rows in a fixed
order, exact values (Decimals as text, times as ISO text).
"""

from __future__ import annotations

import io
import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crmkit import CrmError, csvfile
from crmkit.timeutil import to_iso

if TYPE_CHECKING:
    from crmkit import Section

    from .assembly import Report


def plain(value: Any) -> Any:
    """A JSON-ready copy of ``value``: Decimal as text, times as ISO text, tuples as lists."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return to_iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [plain(v) for v in value]
        return sorted(items, key=str) if isinstance(value, (set, frozenset)) else items
    return str(value)


def columns_of(section: "Section") -> list[str]:
    """The section's columns, or the keys of its rows in first-seen order."""
    if section.columns:
        return list(section.columns)
    seen: dict[str, None] = {}
    for row in section.rows:
        for key in row:
            seen.setdefault(str(key), None)
    return list(seen)


def section_dict(section: "Section") -> dict:
    """Everything a section holds, JSON-ready."""
    return {
        "key": section.key, "title": section.title, "plugin": section.plugin, "error": section.error,
        "notes": section.notes, "figures": plain(section.figures), "columns": columns_of(section),
        "rows": [plain(row) for row in section.rows],
        "charts": [
            {"kind": c.kind, "title": c.title, "x": c.x, "y": list(c.y), "rows": None if c.rows is None else plain(c.rows)}
            for c in section.charts
        ],
    }


def section_json(report: "Report", section: "Section") -> str:
    """One section as JSON text, with the report's identity (as_of, period, segment)."""
    return json.dumps({"report": report.header(), "section": section_dict(section)}, indent=2, ensure_ascii=False) + "\n"


def section_csv(section: "Section") -> str:
    """One section's table as CSV text (figures when it has no rows, the error when it failed)."""
    buffer = io.StringIO(newline="")
    writer = csvfile.writer(buffer, lineterminator="\n")
    if section.error:
        writer.writerows([["error"], [section.error]])
    elif section.rows:
        columns = columns_of(section)
        writer.writerow(columns)
        for row in section.rows:
            writer.writerow([_cell(row.get(column)) for column in columns])
    else:
        writer.writerow(["figure", "value"])
        writer.writerows([[name, _cell(value)] for name, value in section.figures.items()])
    return buffer.getvalue()


def write_csv(report: "Report", folder: Path) -> list[Path]:
    """Write one ``<section key>.csv`` per report section into ``folder`` (created if missing;
    the folder it is in must exist).

    Returns the paths written; an unwritable folder or file is a CrmError.
    """
    from .assembly import file_stem

    return _write_all(folder, [(f"{file_stem(s.key)}.csv", section_csv(s)) for s in report.sections])


def write_json(report: "Report", folder: Path) -> list[Path]:
    """Write one ``<section key>.json`` per report section, with the report's header, into ``folder``
    (created if missing; the folder it is in must exist).

    Returns the paths written; an unwritable folder or file is a CrmError.
    """
    from .assembly import file_stem

    return _write_all(folder, [(f"{file_stem(s.key)}.json", section_json(report, s)) for s in report.sections])


def write_text(path: Path, text: str) -> Path:
    """Write ``text`` as UTF-8; an unwritable place is a CrmError, and no partial file stays."""
    if path.exists() and path.is_dir():
        raise CrmError(f"cannot write {path}: it is a folder")
    if not path.parent.is_dir():
        raise CrmError(f"cannot write {path}: folder {path.parent} does not exist")
    partial = path.with_name(path.name + ".partial")
    try:
        partial.write_text(text, encoding="utf-8", newline="\n")
        partial.replace(path)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise CrmError(f"cannot write {path}: {error.strerror or error}") from None
    return path


def check_folder(folder: str | Path, what: str | None = None) -> Path:
    """``folder`` as a Path once files may be written into it: a folder, or a missing one whose
    parent exists (one level is created, never a chain: a typo in the path is not a new tree).
    Otherwise a CrmError, prefixed with ``what`` (an option such as ``--csv``) when given."""
    folder = Path(folder)
    prefix = f"{what}: " if what else ""
    if folder.exists() and not folder.is_dir():
        raise CrmError(f"{prefix}cannot write into {folder}: it is a file, not a folder")
    if not folder.expanduser().parent.is_dir():
        raise CrmError(f"{prefix}cannot write into {folder}: folder {folder.parent} does not exist")
    return folder


def _write_all(folder: Path, files: list[tuple[str, str]]) -> list[Path]:
    """Render first (done by the caller), then create the folder and write every file."""
    check_folder(folder)
    try:
        folder.mkdir(exist_ok=True)
    except OSError as error:
        raise CrmError(f"cannot create folder {folder}: {error.strerror or error}") from None
    return [write_text(folder / name, text) for name, text in files]


def _cell(value: Any) -> str:
    value = plain(value)
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
