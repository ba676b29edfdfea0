"""What the core commands share: option types with one-line errors, tables, progress bars."""

from __future__ import annotations

from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any, Sequence

import click

from ..errors import CrmError
from ..timeutil import to_datetime
from ._layout import cut, display_width, pad, terminal_width
from ._layout import wrap as wrap_text
from ._progress import progress_bar, stage_progress, steps  # noqa: F401 - shared by the commands

MAX_CELL = 40


class _OneLineErrors:
    """Mixin for click types: a bad value is a CrmError, i.e. one line and exit status 1."""

    def convert(self, value, param, ctx):
        try:
            return super().convert(value, param, ctx)
        except click.BadParameter as error:
            raise CrmError(f"{_label(param)}: {error.message}") from None


def _label(param: click.Parameter | None) -> str:
    if param is None:
        return "value"
    if isinstance(param, click.Option):
        return max(param.opts, key=len)
    return (param.name or "value").upper()


class Choice(_OneLineErrors, click.Choice):
    """A choice among fixed values."""


class LazyChoice(Choice):
    """A choice among the values of ``module.NAME``, read when the option is first used, so
    that listing commands (``crmkit --help``) does not import the module that defines them."""

    def __init__(self, module: str, name: str, case_sensitive: bool = True):
        self._source = (module, name)
        self.case_sensitive = case_sensitive

    @property
    def choices(self) -> tuple:
        from importlib import import_module

        module, name = self._source
        return tuple(getattr(import_module(module), name))


class IntRange(_OneLineErrors, click.IntRange):
    """A whole number within bounds."""

    def convert(self, value, param, ctx):
        if isinstance(value, str) and not value.strip().lstrip("+-").isdigit():
            raise CrmError(f"{_label(param)}: {value!r} is not a whole number")
        return super().convert(value, param, ctx)


class Moment(click.ParamType):
    """A date or time (ISO-8601, e.g. 2025-03-31 or 2025-03-31T18:00:00Z), read as UTC."""

    name = "TIME"

    def convert(self, value, param, ctx) -> datetime:
        if isinstance(value, datetime):
            return value
        return to_datetime(value, _label(param))


class AsOf(click.ParamType):
    """An ``--as-of``/``--now`` date or time, checked here and read by the CRM in its home zone
    (a date means its local midnight; ``Z`` or ``+08:00`` name the instant)."""

    name = "TIME"

    def convert(self, value, param, ctx) -> str | datetime:
        if isinstance(value, datetime):
            return value
        to_datetime(value, _label(param))  # a bad value is one clear error before the CRM opens
        return str(value).strip()


MOMENT = Moment()
AS_OF = AsOf()
#: The largest whole number either engine stores (a signed 64-bit integer).
LARGEST_INTEGER = 2**63 - 1
ID = IntRange(min=1, max=LARGEST_INTEGER)
LIMIT = IntRange(min=0, max=LARGEST_INTEGER)


def limit_option(default: int = 50):
    """``--limit`` and ``--offset`` for paged listings."""

    def decorate(func):
        func = click.option("--offset", type=LIMIT, default=0, show_default=True, help="Rows to skip first.")(func)
        return click.option("--limit", type=LIMIT, default=default, show_default=True, help="Rows to show at most.")(func)

    return decorate


def cell(value: Any, zone: tzinfo | None = None) -> str:
    """A value as table text; a time on ``zone``'s clock (the CRM's home zone), naming the zone."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return when(value, zone)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (list, tuple)):
        return ", ".join(cell(v, zone) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={cell(v, zone)}" for k, v in value.items())
    return str(value)


def when(moment: Any, zone: tzinfo | None = None) -> str:
    """A time as commands print it: on ``zone``'s clock, naming the zone (``2025-07-01 07:00 CST``)."""
    from ..formatting import local_time  # babel loads only when a command prints a time

    return local_time(moment, zone)


def table(
    rows: Sequence[Sequence[Any]], headers: Sequence[str], *, empty: str = "(none)", zone: tzinfo | None = None,
    wrap: str | None = None,
) -> None:
    """Print rows as an aligned text table; numbers right-aligned, long cells cut at 40, times
    on ``zone``'s clock (pass the CRM's ``crm.zone``; UTC when None). The column named ``wrap``
    (the last, e.g. a description) is not cut but wrapped to the terminal's width. Widths are
    measured as the terminal shows them, so wide (Chinese) characters stay aligned."""
    if not rows:
        click.echo(empty)
        return
    wrapped = list(headers).index(wrap) if wrap is not None else None
    texts = [[cell(v, zone) if i == wrapped else _cut(cell(v, zone)) for i, v in enumerate(row)] for row in rows]
    numeric = [
        all(isinstance(row[i], (int, Decimal)) and not isinstance(row[i], bool) or row[i] is None for row in rows)
        for i in range(len(headers))
    ]
    widths = [max(display_width(headers[i]), *(display_width(t[i]) for t in texts)) for i in range(len(headers))]
    if wrapped is not None:
        room = terminal_width() - sum(w + 2 for i, w in enumerate(widths) if i != wrapped)
        widths[wrapped] = max(20, min(widths[wrapped], room))

    def line(values: Sequence[str]) -> str:
        parts = [pad(v, w, right=num) for v, w, num in zip(values, widths, numeric)]
        return "  ".join(parts).rstrip()

    click.echo(line(list(headers)))
    click.echo(line(["-" * w for w in widths]))
    for t in texts:
        if wrapped is None:
            click.echo(line(t))
            continue
        for n, part in enumerate(wrap_text(t[wrapped], widths[wrapped])):
            click.echo(line([part if i == wrapped else (v if n == 0 else "") for i, v in enumerate(t)]))


def _cut(text: str) -> str:
    return cut(text, MAX_CELL)


def pairs(items: Sequence[tuple[str, Any]], zone: tzinfo | None = None) -> None:
    """Print ``label: value`` lines, labels aligned; empty values left out; times on ``zone``'s clock."""
    shown = [(k, cell(v, zone)) for k, v in items if v not in (None, "", (), [], {})]
    width = max((len(k) for k, _ in shown), default=0)
    for key, value in shown:
        click.echo(f"{key.rjust(width)}: {value}")


def summary(value: Any, indent: int = 0) -> None:
    """Print a (nested) summary dict as indented ``key: value`` lines."""
    pad = "  " * indent
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict):
                click.echo(f"{pad}{key}:")
                summary(item, indent + 1)
            else:
                click.echo(f"{pad}{key}: {cell(item)}")
    else:
        click.echo(f"{pad}{cell(value)}")
