"""Dashboard panels as plugins describe them. The core never imports ipywidgets."""

from __future__ import annotations

from typing import Any, Callable

from attrs import field, frozen


@frozen
class Panel:
    """A dashboard tab: ``factory(crm)`` builds its widget when the tab is first opened.

    ``order`` sorts the tabs (lower first, then by title); the core's panels use 10 and 20.
    """

    name: str
    title: str
    factory: Callable[[Any], Any] = field(eq=False, repr=False)
    order: int = 100
    plugin: str = "core"
