"""The Segments panel: the rule editor, the saved segments and their snapshots."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from crmkit import CrmError

from .. import formatting, queries
from ..toolkit import Composite, RuleEditor, error_html, note_html


class SegmentsPanel(Composite):
    """Build a rule with live feedback, save it, and look after saved segments.

    Choosing a saved segment shows its snapshots and who joined or left between the latest two;
    "Edit" loads it into the editor; "Snapshot now" stores its membership (``snapshot()``, the
    same call code makes). CSS: ``crmkit-segments``, ``crmkit-segment-table``,
    ``crmkit-segment-list``, ``crmkit-segment-edit``, ``crmkit-segment-snapshot``,
    ``crmkit-segment-snapshots``, ``crmkit-segment-fields``.
    """

    def __init__(self, crm: Any, *, as_of: Any = None):
        super().__init__("crmkit-segments")
        self.crm = crm
        self.editor = self.own(RuleEditor(crm, as_of=as_of))
        self.table = self.own(widgets.HTML(), "crmkit-segment-table")
        self.chooser = self.own(widgets.Select(options=[], rows=6, description="Saved:"), "crmkit-segment-list")
        self.edit_button = self.own(widgets.Button(description="Edit", icon="pencil"), "crmkit-segment-edit")
        self.snapshot_button = self.own(widgets.Button(description="Snapshot now", icon="camera"), "crmkit-segment-snapshot")
        self.snapshots = self.own(widgets.HTML(), "crmkit-segment-snapshots")
        self.fields = self.own(widgets.HTML(self._fields_html()), "crmkit-segment-fields")
        reference = self.own(widgets.Accordion(children=[self.fields], titles=("Fields you can use in rules",)))
        reference.selected_index = None
        actions = self.own(widgets.VBox([self.edit_button, self.snapshot_button]))
        saved = self.own(widgets.HBox([self.chooser, actions, self.snapshots]))
        self.children = [
            self.own(widgets.HTML("<b>Rule</b>")), self.editor, reference,
            self.own(widgets.HTML("<b>Saved segments</b>")), self.table, saved,
        ]
        self.editor.on_save(self._saved)
        self.watch(self.chooser, self._chosen)
        self.on_click(self.edit_button, self.edit)
        self.on_click(self.snapshot_button, self.take_snapshot)
        self.refresh()

    # --- public API -----------------------------------------------------------------------

    def refresh(self) -> None:
        """Re-read the saved segments and their member counts."""
        rows = []
        for view in self.crm.segments:
            try:
                members: Any = view.count(as_of=self.editor.as_of)
            except CrmError as error:
                members = f"error: {error}"
            rows.append({"name": view.name, "rule": view.rule, "members": members, "description": view.description})
        self.table.value = formatting.table(rows, ("name", "rule", "members", "description"), empty="No segment saved yet.")
        current = self.chooser.value
        names = [row["name"] for row in rows]
        self.chooser.options = names
        self.chooser.value = current if current in names else None

    def edit(self) -> None:
        """Load the chosen saved segment into the editor (tick "replace" to save changes)."""
        name = self.chooser.value
        if name is None:
            return
        segment = self.crm.segments.get(name)
        self.editor.replace_box.value = True
        self.editor.description_input.value = segment.description or ""
        self.editor.set_rule(segment.rule, name=name)

    def take_snapshot(self) -> None:
        """Store the chosen segment's membership now."""
        name = self.chooser.value
        if name is None:
            self.snapshots.value = error_html("choose a saved segment first")
            return
        try:
            self.crm.segments[name].snapshot()
        except CrmError as error:
            self.snapshots.value = error_html(str(error))
            return
        self.show_snapshots(name)

    def show_snapshots(self, name: str) -> None:
        """The chosen segment's snapshots, and who joined or left between the latest two."""
        rows = queries.snapshot_rows(self.crm.db, name)
        html = f"<b>Snapshots of {formatting.text(name)}</b>" + formatting.table(
            rows, ("id", "as_of", "members", "rule"), empty="No snapshot yet: take one to track changes.",
        )
        if len(rows) >= 2:
            diff = self.crm.segments.diff(rows[1]["id"], rows[0]["id"])
            html += note_html(
                f"Since snapshot {rows[1]['id']}: {len(diff.joined):,} joined, {len(diff.left):,} left, {diff.stayed:,} stayed.",
                "crmkit-segment-diff",
            )
        self.snapshots.value = html

    # --- internals ------------------------------------------------------------------------

    def _saved(self, segment) -> None:
        self.refresh()
        self.chooser.value = segment.name

    def _chosen(self, change) -> None:
        if change["new"] is not None:
            self.show_snapshots(change["new"])
        else:
            self.snapshots.value = ""

    def _fields_html(self) -> str:
        rows = [{"field": f.name, "type": f.type, "from": f.plugin, "meaning": f.description} for f in self.crm.fields]
        rows += [{"field": family.example, "type": "pattern", "from": family.plugin, "meaning": family.description}
                 for family in self.crm.fields.families()]
        return formatting.table(rows, ("field", "type", "from", "meaning"))
