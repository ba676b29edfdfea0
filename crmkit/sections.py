"""Report sections: what a plugin contributes to a report, independent of the output format."""

from __future__ import annotations

from typing import Any

from attrs import field, frozen


@frozen
class Chart:
    """A chart a report renderer draws for a section.

    ``kind`` is one of ``line``, ``bar``, ``hbar``, ``heatmap``, ``funnel``, ``pareto``, ``pie``.
    ``x`` names the column for the categories or the x axis and ``y`` the columns plotted
    (one series each); ``rows`` default to the section's rows.
    """

    kind: str
    title: str
    x: str
    y: tuple[str, ...] = field(converter=tuple)
    rows: list[dict] | None = None


@frozen
class Section:
    """A titled block of a report: headline figures, a table and optional charts.

    ``key`` is unique in a report (prefix it with the plugin name), ``figures`` holds headline
    numbers (name → value), ``rows``/``columns`` a table, and ``notes`` explains definitions.
    Values must be JSON-ready (numbers, text, None); money as Decimal is rendered as text.

    How people read it (the HTML and terminal report; CSV and JSON stay raw):

    - ``labels``: a human title per figure or column name (missing ones are derived from the name);
    - ``kinds``: how a figure or column is formatted — ``number``, ``money`` (integer minor units),
      ``amount`` (a Decimal in major units), ``rate`` (a fraction), ``score``, ``hours``,
      ``date``, ``datetime``, ``id``, ``code`` (``at_risk`` reads "At risk") or ``text`` (missing ones are inferred, see
      :mod:`crmkit.formatting`);
    - ``previous``: the same figures for the previous period, shown as each figure's change;
    - ``hidden``: columns kept for CSV and JSON but not shown to people.
    """

    key: str
    title: str
    figures: dict[str, Any] = field(factory=dict)
    rows: list[dict] = field(factory=list)
    columns: tuple[str, ...] = field(default=(), converter=tuple)
    charts: tuple[Chart, ...] = field(default=(), converter=tuple)
    notes: str | None = None
    plugin: str = "core"
    error: str | None = None
    labels: dict[str, str] = field(factory=dict)
    kinds: dict[str, str] = field(factory=dict)
    previous: dict[str, Any] = field(factory=dict)
    hidden: tuple[str, ...] = field(default=(), converter=tuple)
