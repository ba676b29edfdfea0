"""Text layout for CLI tables: widths as a terminal shows them, padding, cutting and wrapping.

A Chinese, Japanese or Korean character takes two terminal columns and a combining accent none,
so ``len()`` misaligns tables of such names. Widths come from ``wcwidth``, imported only when a
text is not plain ASCII, so commands that print none (and ``crmkit --help``) never load it.
"""

from __future__ import annotations

import shutil


def display_width(text: str) -> int:
    """How many terminal columns ``text`` takes (a wide character counts two, a combining one none)."""
    if text.isascii():
        return len(text)
    from wcwidth import wcswidth, wcwidth

    width = wcswidth(text)
    if width >= 0:
        return width
    # A control character makes wcswidth give up; count the others and show those as one column.
    return sum(max(wcwidth(ch), 0) or (1 if not ch.isprintable() else 0) for ch in text)


def pad(text: str, width: int, right: bool = False) -> str:
    """``text`` filled with spaces to ``width`` columns, on the left when ``right`` (numbers)."""
    fill = " " * max(0, width - display_width(text))
    return fill + text if right else text + fill


def cut(text: str, width: int) -> str:
    """``text`` on one line of at most ``width`` columns, ending in ``…`` when it was cut."""
    text = " ".join(text.split())
    if display_width(text) <= width:
        return text
    kept, used = [], 0
    for ch in text:
        step = display_width(ch)
        if used + step > width - 1:
            break
        kept.append(ch)
        used += step
    return "".join(kept) + "…"


def wrap(text: str, width: int) -> list[str]:
    """``text`` as lines of at most ``width`` columns, broken at spaces (a longer word, or text
    without spaces such as Chinese, is broken between characters)."""
    width = max(width, 1)
    lines: list[str] = []
    line, used = "", 0
    for word in " ".join(text.split()).split(" "):
        size = display_width(word)
        if line and used + 1 + size <= width:
            line, used = f"{line} {word}", used + 1 + size
            continue
        if line:
            lines.append(line)
        line, used = "", 0
        for ch in word:
            step = display_width(ch)
            if used + step > width and line:
                lines.append(line)
                line, used = "", 0
            line, used = line + ch, used + step
    if line or not lines:
        lines.append(line)
    return lines


def terminal_width() -> int:
    """Columns of the terminal (``COLUMNS`` when set; 100 when not on a terminal)."""
    return shutil.get_terminal_size((100, 24)).columns
