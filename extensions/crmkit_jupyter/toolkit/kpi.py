"""A KPI card: a headline figure, its change against a previous value, and a note."""

from __future__ import annotations

from decimal import Decimal
from html import escape
from typing import Any, Callable

import ipywidgets as widgets
import traitlets

from .. import formatting

_GOOD, _BAD, _FLAT = "#1a7f37", "#a40000", "#555"


class KpiCard(widgets.HTML):
    """A small card: ``title``, the ``figure``, its change from ``previous`` and a ``note``.

    ``good`` says which direction is good news ("up" or "down"; colours the change).
    ``fmt`` turns the figure into text: a function, or a kind of the core formatter (``number``,
    ``money`` for minor units, ``amount`` for major units, ``rate`` — also ``"percent"`` — for a
    ratio shown as a percentage whose change reads in points); default: by the value's type.
    ``crm`` gives the locale and currency. Setting any trait redraws the card. CSS: ``crmkit-kpi``,
    with ``crmkit-kpi-title``, ``crmkit-kpi-figure``, ``crmkit-kpi-delta``, ``crmkit-kpi-note``
    inside.
    """

    title = traitlets.Unicode(help="What the figure is.")
    figure = traitlets.Any(None, allow_none=True, help="The figure (int, Decimal, float or text).")
    previous = traitlets.Any(None, allow_none=True, help="The figure of the previous period, for the change.")
    note = traitlets.Unicode("", help="A line under the figure: definition, period, as-of.")
    good = traitlets.Enum(("up", "down"), "up", help="Which direction of change is good news.")

    def __init__(self, title: str, figure: Any = None, *, previous: Any = None, note: str = "",
                 good: str = "up", fmt: str | Callable[[Any], str] | None = None, crm: Any = None, **kwargs: Any):
        self._fmt = "rate" if fmt == "percent" else fmt
        self._formatter = formatting.formatter(crm)
        super().__init__(**kwargs)
        self.add_class("crmkit-kpi")
        self.layout.min_width = "160px"
        self.set_trait("title", title)
        self.set_trait("figure", figure)
        self.set_trait("previous", previous)
        self.set_trait("note", note)
        self.set_trait("good", good)
        self.observe(self._redraw, ["title", "figure", "previous", "note", "good"])
        self._redraw()

    def show(self, value: Any) -> str:
        """The text of a value as this card formats it."""
        if callable(self._fmt):
            return self._fmt(value) if value is not None else formatting.MISSING
        return self._formatter.value(value, self._fmt)

    @property
    def change(self) -> Any:
        """``figure - previous`` (exact for ints and Decimals), or None when either is missing."""
        if self.figure is None or self.previous is None:
            return None
        if not all(isinstance(v, (int, float, Decimal)) and not isinstance(v, bool) for v in (self.figure, self.previous)):
            return None
        if isinstance(self.figure, float) or isinstance(self.previous, float):
            return float(self.figure) - float(self.previous)
        return Decimal(self.figure) - Decimal(self.previous) if isinstance(self.figure, Decimal) or isinstance(self.previous, Decimal) else self.figure - self.previous

    def _redraw(self, change: Any = None) -> None:
        delta_html = ""
        delta = self.change
        if delta is not None:
            colour = _FLAT if delta == 0 else (_GOOD if (delta > 0) == (self.good == "up") else _BAD)
            if callable(self._fmt):
                shown = ("+" if delta > 0 else "") + self.show(delta)
            else:
                shown = self._formatter.change(delta, self._fmt)
            relative = ""
            if self._fmt != "rate" and self.previous:
                ratio = float(delta) / float(self.previous)
                relative = f" ({'+' if ratio > 0 else '-' if ratio < 0 else ''}{self._formatter.rate(abs(ratio))})"
            delta_html = f"<div class='crmkit-kpi-delta' style='color:{colour}'>{escape(shown + relative)}</div>"
        note_html = f"<div class='crmkit-kpi-note' style='color:#666;font-size:85%'>{escape(self.note)}</div>" if self.note else ""
        self.value = (
            "<div style='border:1px solid #ddd;border-radius:6px;padding:6px 10px'>"
            f"<div class='crmkit-kpi-title' style='color:#444'>{escape(self.title)}</div>"
            f"<div class='crmkit-kpi-figure' style='font-size:160%;font-weight:600'>{escape(self.show(self.figure))}</div>"
            f"{delta_html}{note_html}</div>"
        )
