"""A segment rule editor: live validation, live member count, a preview, save as a segment."""

from __future__ import annotations

from html import escape
from typing import Any, Callable

import ipywidgets as widgets
import traitlets

from crmkit import CrmError, RuleError

from .. import queries
from ..formatting import formatter
from .base import Composite, error_html, note_html
from .paged_table import PagedTable
from .sources import SqlSource


class RuleEditor(Composite):
    """Type a rule; see at once whether it is valid, how many customers match and who they are.

    Every change of the text is checked with ``crm.segments.check`` (a bad rule shows the
    message and the position). A valid rule is counted and previewed as of ``as_of`` (default:
    the CRM's clock when the editor was made) — the count is recomputed only when the normalised
    rule changes. "Save" calls ``crm.segments.define`` (or ``update`` when "replace" is ticked),
    the same call code would make. CSS: ``crmkit-rule-editor``, ``crmkit-rule-input``,
    ``crmkit-rule-message``, ``crmkit-rule-count``, ``crmkit-rule-name``, ``crmkit-rule-replace``,
    ``crmkit-rule-save``, ``crmkit-rule-status``; the preview is a ``crmkit-paged-table``.
    """

    rule = traitlets.Unicode("", help="The rule text as typed.")
    valid = traitlets.Bool(False, help="Whether the rule compiles.")
    count = traitlets.Int(None, allow_none=True, help="Members of the rule, None while invalid.")
    message = traitlets.Unicode("", help="The validation message (empty when valid).")

    def __init__(self, crm: Any, rule: str = "", *, as_of: Any = None, preview_size: int = 10, name: str = ""):
        super().__init__("crmkit-rule-editor")
        self.crm = crm
        self.as_of = crm.as_of(as_of)
        self.normalised: str | None = None
        self.input = self.own(widgets.Textarea(
            value=rule, placeholder="e.g. spend_365d >= 500 and region = 'EU'", continuous_update=True,
            layout=widgets.Layout(width="100%", height="64px"),
        ), "crmkit-rule-input")
        self.message_html = self.own(widgets.HTML(), "crmkit-rule-message")
        self.count_html = self.own(widgets.HTML(), "crmkit-rule-count")
        self.preview = self.own(PagedTable(
            columns=queries.MEMBER_COLUMNS, page_size=preview_size, empty="No customer matches this rule.",
        ))
        self.name_input = self.own(widgets.Text(value=name, placeholder="segment name", description="Name:"), "crmkit-rule-name")
        self.description_input = self.own(widgets.Text(placeholder="what the segment is for", description="About:"), "crmkit-rule-description")
        self.replace_box = self.own(widgets.Checkbox(value=False, description="replace a segment of that name", indent=False), "crmkit-rule-replace")
        self.save_button = self.own(widgets.Button(description="Save segment", button_style="primary", icon="save", layout=widgets.Layout(width="auto")), "crmkit-rule-save")
        self.status_html = self.own(widgets.HTML(), "crmkit-rule-status")
        save_row = self.own(widgets.HBox([self.name_input, self.description_input, self.replace_box, self.save_button]))
        self.children = [self.input, self.message_html, self.count_html, self.preview, save_row, self.status_html]
        self.watch(self.input, self._typed)
        self.on_click(self.save_button, self.save)
        self._check(rule)

    # --- public API -----------------------------------------------------------------------

    def set_rule(self, rule: str, name: str | None = None) -> None:
        """Put a rule (and optionally a name) in the editor, as if typed."""
        if name is not None:
            self.name_input.value = name
        self.input.value = rule

    def on_save(self, callback: Callable[[Any], Any], remove: bool = False) -> None:
        """Call ``callback(segment_view)`` after a segment was saved from the editor."""
        self._register("save", callback, remove)

    def save(self) -> Any:
        """Save the rule under the typed name; returns the saved segment, or None on error."""
        name = self.name_input.value.strip()
        description = self.description_input.value.strip() or None
        try:
            if not self.valid:
                raise RuleError(f"fix the rule first: {self.message}")
            if not name:
                raise CrmError("give the segment a name")
            if self.replace_box.value and name in self.crm.segments:
                segment = self.crm.segments.update(name, self.rule, description)
                verb = "updated"
            else:
                segment = self.crm.segments.define(name, self.rule, description)
                verb = "saved"
        except CrmError as error:
            self.status_html.value = error_html(str(error))
            return None
        self.status_html.value = note_html(f"Segment {name!r} {verb}: {segment.count():,} customers.", "crmkit-rule-saved")
        self._fire("save", segment)
        return segment

    # --- internals ------------------------------------------------------------------------

    def _typed(self, change) -> None:
        self._check(change["new"])

    def _check(self, text: str) -> None:
        self.rule = text
        if not text.strip():
            self._invalid("", "Type a rule; the fields you can use are listed below.")
            return
        try:
            normalised = self.crm.segments.check(text)
        except RuleError as error:
            self._invalid(str(error), str(error))
            return
        except CrmError as error:
            self._invalid(str(error), str(error))
            return
        self.valid = True
        self.message = ""
        self.message_html.value = f"<div class='crmkit-rule-ok' style='color:#1a7f37'>✓ valid: <code>{escape(normalised)}</code></div>"
        if normalised != self.normalised:
            self.normalised = normalised
            self._count()

    def _invalid(self, message: str, shown: str) -> None:
        self.valid = False
        self.message = message
        self.normalised = None
        self.count = None
        self.message_html.value = error_html(shown, "crmkit-rule-invalid") if message else note_html(shown)
        self.count_html.value = ""
        self.preview.layout.display = "none"  # members of an earlier rule must not pass for this one's

    def _count(self) -> None:
        try:
            compiled = self.crm.segments.compile(self.rule, self.as_of)
            sql, params = queries.rule_members(compiled)
            source = SqlSource(self.crm.db, sql, params, columns=queries.MEMBER_COLUMNS, sortable=("id", "name"),
                               search=("name", "email"))
            total, _ = source.count()
        except CrmError as error:
            self._invalid(str(error), str(error))
            return
        self.count = total
        self.count_html.value = (
            f"<b class='crmkit-rule-count-value' data-count='{total}'>{total:,}</b> customers match "
            f"<span style='color:#666'>(as of {escape(formatter(self.crm).local_time(self.as_of))})</span>"
        )
        self.preview.set_source(source, (total, True))
        self.preview.layout.display = None
