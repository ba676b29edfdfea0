"""The dashboard panel. ipywidgets is imported inside the factory only."""

from __future__ import annotations


def competitors_panel(crm):
    """A table of wins and losses per competitor, refreshed on demand."""
    import ipywidgets as widgets
    from crmkit.display import table_html

    table = widgets.HTML()

    def refresh(_=None):
        rows = crm.competitors.wins_and_losses()
        table.value = table_html(rows, ["competitor", "positioning", "lost_to", "won_from", "also_serves"])

    button = widgets.Button(description="Refresh", icon="refresh")
    button.on_click(refresh)
    refresh()
    box = widgets.VBox([button, table])
    box.add_class("crmkit-competitors-panel")
    return box
