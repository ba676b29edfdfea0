"""Time cells written in a ``--date-format`` or in a ``--timezone``, read by column as the row
path reads them.

The row path reads such a cell with ``datetime.strptime(cell, format)``, which matches it against
a regular expression made of the format: each directive's pattern from Python's ``_strptime``,
the other characters literal (case ignored), a run of spaces as ``\\s+``. A format made of
``%d %m %Y %H %M %S`` (day, month and year all present) and ``%%`` becomes the same expression
here, run by pyarrow's RE2 over the whole column. RE2 picks among alternatives as Python's
backtracking does, so where both match they take the same parts; the match must reach the end
of the cell, as ``strptime`` requires. RE2's ``\\d`` and ``\\s`` are ASCII alone (Python's are
not), so a cell with other digits or spaces does not match here and takes the row path. The
parts become the stored form, ``YYYY-MM-DDTHH:MM:SSZ``, which the columnar checks then test as
any stored time: a day the month lacks, a 60th second or a year before 1000 sends the chunk to
the row path, which reports it. Any other directive (names, ``%y``, ``%z``, ...) leaves the whole
file to the row path.

Times without an offset in a ``--timezone`` are moved to UTC by pyarrow's ``assume_timezone``
(:func:`in_utc`); on Linux it reads the system's zone files, as ``zoneinfo`` does.
"""

from __future__ import annotations

import re

from .columnar_arrays import string

# Python's _strptime patterns of the numeric directives (CPython 3.11 to 3.13).
_DIRECTIVES = {
    "d": r"(?P<d>3[0-1]|[1-2]\d|0[1-9]|[1-9]| [1-9])",
    "m": r"(?P<m>1[0-2]|0[1-9]|[1-9])",
    "Y": r"(?P<Y>\d\d\d\d)",
    "H": r"(?P<H>2[0-3]|[0-1]\d|\d)",
    "M": r"(?P<M>[0-5]\d|\d)",
    "S": r"(?P<S>6[0-1]|[0-5]\d|\d)",
}
_REQUIRED = {"d", "m", "Y"}
_RULES_FROM = "2037"
_TOKENS = re.compile(r"%(.)|(\s+)|([^%\s]+)", re.DOTALL)


def format_pattern(date_format: str) -> str | None:
    """The RE2 expression reading cells written in ``date_format``, the whole match named
    ``all``, or None when the format has a directive this module does not read, or lacks
    the day, month or year."""
    parts, used = [], set()
    position = 0
    for match in _TOKENS.finditer(date_format):
        if match.start() != position:
            return None  # a lone % at the end
        position = match.end()
        directive, spaces, literal = match.groups()
        if directive == "%":
            parts.append(re.escape("%"))
        elif directive is not None:
            if directive not in _DIRECTIVES or directive in used:
                return None
            used.add(directive)
            parts.append(_DIRECTIVES[directive])
        elif spaces is not None:
            parts.append(r"\s+")
        else:
            parts.append(re.escape(literal))
    if position != len(date_format) or not _REQUIRED <= used:
        return None
    return "(?i)^(?P<all>" + "".join(parts) + ")"


def stored_times(pa, pc, column, pattern: str):
    """The cells of a string ``column`` without nulls, written in the format of ``pattern``, as
    stored text (not yet checked as times), or None when a cell does not match the whole of it."""
    try:
        parts = pc.extract_regex(column, pattern)
    except pa.ArrowInvalid:  # an expression RE2 does not take: the row path reads the cells
        return None
    if parts.null_count:
        return None
    if not pc.all(pc.equal(pc.utf8_length(parts.field("all")), pc.utf8_length(column))).as_py():
        return None  # strptime's "unconverted data remains"
    fields = {field.name for field in parts.type}

    def number(name: str, width: int):
        if name not in fields:
            return string(pa, "0" * width)
        digits = pc.utf8_trim(parts.field(name), characters=" ")  # " 5", a day strptime reads
        return pc.utf8_lpad(digits, width=width, padding="0")

    pieces = [number("Y", 4), "-", number("m", 2), "-", number("d", 2), "T",
              number("H", 2), ":", number("M", 2), ":", number("S", 2), "Z"]
    pieces = [string(pa, piece) if isinstance(piece, str) else piece for piece in pieces]
    return pc.binary_join_element_wise(*pieces, string(pa, ""))


def in_utc(pa, pc, parsed, stamps, local, zone: str):
    """``stamps`` (stored text, each the time ``parsed`` holds as a naive timestamp) with those
    that are ``local`` (a boolean column, or None: all of them) read as wall times in the IANA
    ``zone`` and written in UTC, as the row path's ``to_datetime`` moves them: a wall time the
    zone passes twice (clocks going back) is the earlier. None when one falls in a gap (clocks
    going forward: the row path decides), when one is in 2037 or later, when its UTC time is
    outside years 1000 to 9999, or when pyarrow does not know the zone."""
    if local is not None and not pc.any(local).as_py():
        return stamps
    # The zone files list each change up to 2037 and give a rule for the years after, which
    # pyarrow does not apply (it keeps 2037's last offset): later times are the row path's.
    if pc.any(pc.greater_equal(stamps, string(pa, _RULES_FROM))).as_py():
        return None
    try:
        placed = pc.assume_timezone(parsed, timezone=zone, ambiguous="earliest", nonexistent="raise")
        moved = pc.strftime(placed.cast(pa.timestamp("s", "UTC")), format="%Y-%m-%dT%H:%M:%SZ")
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if not pc.all(pc.match_substring_regex(moved, r"^[1-9]\d{3}-")).as_py():
        return None
    return moved if local is None else pc.if_else(local, moved, stamps)
