"""The dashboard: one tab per panel, each built the first time its tab is opened."""

from __future__ import annotations

import traceback
from html import escape
from typing import Any

import ipywidgets as widgets

from crmkit import Panel

from .panels import core_panels
from .toolkit import Composite
from .toolkit.date_range import DateRange, share


# On a narrow screen (a phone) tab titles and rows of controls wrap instead of being cut ("Cu…",
# "Evaluate ch…") or pushing the page sideways; buttons are as wide as their labels.
TAB_STYLE = (
    "<style>"
    ".crmkit-dashboard .widget-hbox{flex-wrap:wrap}"
    ".crmkit-dashboard button.jupyter-button{width:auto;max-width:100%}"
    ".crmkit-dashboard-tabs > .lm-TabBar, .crmkit-dashboard-tabs > .lm-TabBar .lm-TabBar-content"
    "{height:auto;min-height:0;overflow:visible;flex-wrap:wrap}"
    ".crmkit-dashboard-tabs > .lm-TabBar .lm-TabBar-tab{flex:0 0 auto;min-width:0;max-width:none}"
    "</style>"
)


def collect_panels(crm: Any) -> tuple[list[Panel], list[tuple[str, BaseException]]]:
    """The extension's panels plus every plugin's ``crmkit_panels``, sorted by (order, title).

    Returns the panels and the ``(plugin, error)`` of every plugin whose hook itself failed.
    """
    panels = core_panels()
    failures = []
    for plugin, result, error in crm.plugins.each("crmkit_panels", crm=crm):
        if error is not None:
            failures.append((plugin, error))
            continue
        for panel in result or []:
            if panel.plugin == "core" and plugin:
                panel = Panel(panel.name, panel.title, panel.factory, panel.order, plugin)
            panels.append(panel)
    panels.sort(key=lambda p: (p.order, p.title))
    return panels, failures


class Dashboard(Composite):
    """An ipywidgets app over one CRM: a :class:`~ipywidgets.Tab` whose tabs are panels.

    A tab's widget is made by its panel's factory the first time the tab is selected; a factory
    that raises leaves its error in its tab (class ``crmkit-panel-error``) and the other tabs
    work. A plugin whose ``crmkit_panels`` hook fails gets one error tab. ``dates`` is the
    :class:`~crmkit_jupyter.toolkit.DateRange` above the tabs that every panel with dates follows.
    CSS: ``crmkit-dashboard``, ``crmkit-dashboard-dates``, ``crmkit-dashboard-tabs``, ``crmkit-panel`` plus
    ``crmkit-panel-<name>`` on each tab's container.
    """

    def __init__(self, crm: Any):
        super().__init__("crmkit-dashboard")
        self.crm = crm
        self.panels, failures = collect_panels(crm)
        for plugin, error in failures:
            self.panels.append(Panel(f"{plugin}-failed", f"{plugin} (failed)", _raiser(plugin, error), order=10_000, plugin=plugin))
        self.built: dict[str, Any] = {}
        self.errors: dict[str, str] = {}
        self.containers = []
        for panel in self.panels:
            box = self.own(widgets.VBox([]), "crmkit-panel")
            box.add_class(f"crmkit-panel-{panel.name}")
            self.containers.append(box)
        self.header = self.own(widgets.HTML(self._header_html()), "crmkit-dashboard-header")
        self.dates = self.own(DateRange(crm), "crmkit-dashboard-dates")
        share(crm, self.dates)
        self.tabs = self.own(widgets.Tab(children=self.containers, titles=[p.title for p in self.panels]), "crmkit-dashboard-tabs")
        self.children = [self.header, self.dates, self.tabs]
        self.watch(self.tabs, self._selected, "selected_index")
        if self.panels:
            self.tabs.selected_index = 0
            self._build(0)

    # --- public API -----------------------------------------------------------------------

    @property
    def titles(self) -> list[str]:
        """The tab titles, in order."""
        return [p.title for p in self.panels]

    def select(self, name_or_title: str) -> Any:
        """Switch to a tab by panel name or title; returns the panel's widget."""
        self.tabs.selected_index = self._index(name_or_title)
        return self.panel(name_or_title)

    def panel(self, name_or_title: str) -> Any:
        """The widget of a panel (built now if its tab was never opened), or None if it failed."""
        index = self._index(name_or_title)
        self._build(index)
        return self.built.get(self.panels[index].name)

    # --- internals ------------------------------------------------------------------------

    def _index(self, name_or_title: str) -> int:
        for index, panel in enumerate(self.panels):
            if name_or_title in (panel.name, panel.title):
                return index
        known = ", ".join(p.name for p in self.panels)
        raise KeyError(f"no panel {name_or_title!r}; panels: {known}")

    def _selected(self, change) -> None:
        if change["new"] is not None:
            self._build(change["new"])

    def _build(self, index: int) -> None:
        panel = self.panels[index]
        if panel.name in self.built or panel.name in self.errors:
            return
        box = self.containers[index]
        try:
            widget = panel.factory(self.crm)
            if not isinstance(widget, widgets.Widget):
                raise TypeError(f"the panel factory returned {type(widget).__name__}, not an ipywidgets widget")
        except Exception as error:  # noqa: BLE001 - a broken panel must not break the dashboard
            detail = "".join(traceback.format_exception(error))
            self.errors[panel.name] = f"{type(error).__name__}: {error}"
            message = self.own(widgets.HTML(
                f"<div style='color:#a40000'><b>The {escape(panel.title)} panel (plugin {escape(panel.plugin)}) failed:</b> "
                f"{escape(self.errors[panel.name])}</div><details><summary>traceback</summary><pre>{escape(detail)}</pre></details>"
            ), "crmkit-panel-error")
            box.children = [message]
            return
        self.own(widget)
        self.built[panel.name] = widget
        box.children = [widget]

    def _header_html(self) -> str:
        plugins = ", ".join(self.crm.plugins.names()) or "none"
        return (
            TAB_STYLE + f"<div style='color:#444'><b>crmkit</b> · {escape(str(self.crm.path))} · plugins: {escape(plugins)}</div>"
        )


def _raiser(plugin: str, error: BaseException):
    def factory(crm):
        raise error

    return factory


def dashboard(crm: Any) -> Dashboard:
    """The dashboard of a CRM: display it in a notebook cell (it is an ipywidgets widget)."""
    return Dashboard(crm)
