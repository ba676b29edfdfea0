"""The Complaints tab of the dashboard: the queue with its SLA state, and the process steps.

The queue is ``crm.complaints.sla(now)`` (open complaints, most urgent first, with the running
clock and a state: ok, at_risk, breached, paused); other states list through
``crm.complaints.list(status=...)``. Choosing a complaint shows it with its customer-visible
history; the step buttons call the service's transitions (acknowledge, assess, resolve, reject,
follow up, close, reopen), so every step is validated and audited exactly as from code, and a
step the state does not allow shows the service's refusal and changes nothing.

``ipywidgets`` and ``crmkit_jupyter`` are imported inside the factory only.
"""

from __future__ import annotations

import functools
from datetime import timedelta
from typing import Any

from crmkit import CrmError, ValidationError
from crmkit.timeutil import to_iso

from .models import RESOLUTIONS, SEVERITIES, STATES

QUEUE = "open: SLA queue"
ALL_OWNERS = "(every handler)"
LIST_LIMIT = 1000
QUEUE_COLUMNS = ("id", "customer_id", "owner", "severity", "status", "due_at", "left", "state")
LIST_COLUMNS = ("id", "customer_id", "owner", "severity", "status", "category", "received_at", "status_at")
STEPS = ("acknowledge", "assess", "resolve", "reject", "follow_up", "close", "reopen")
# The state each step moves a complaint to: a step's button is enabled when the complaint's
# ``allowed_next`` holds its state.
STEP_STATES = {"acknowledge": "acknowledged", "assess": "assessing", "resolve": "resolved", "reject": "rejected",
               "follow_up": "followed_up", "close": "closed", "reopen": "reopened"}
LABELS = {"customer_id": "Customer", "due_at": "Due", "left": "Time left", "received_at": "Received",
          "status_at": "Status since"}
KINDS = {"due_at": "datetime", "received_at": "datetime", "status_at": "datetime", "state": "words", "status": "words"}
# SLA states from the most to the least urgent, as the queue lists them.
STATE_RANK = {state: rank for rank, state in enumerate(("breached", "at_risk", "ok", "paused"))}
SEVERITY_RANK = {severity: rank for rank, severity in enumerate(SEVERITIES)}
# Columns whose shown text is not their order: time left in words sorts by the seconds left,
# a severity or SLA state by its rank.
SORT_KEYS = {
    "left": lambda row: row.get("left_s"),
    "severity": lambda row: SEVERITY_RANK.get(row.get("severity")),
    "state": lambda row: STATE_RANK.get(row.get("state")),
}


def complaints_panel(crm: Any, *, page_size: int = 15) -> Any:
    """The Complaints tab: the widget the dashboard shows (``crmkit.Panel`` factory)."""
    return _panel_class()(crm, page_size=page_size)


def queue_rows(crm: Any, now: Any = None, owner: str | None = None, limit: int = LIST_LIMIT, formatter: Any = None) -> list[dict]:
    """The SLA queue as table rows: ``crm.complaints.sla`` plus ``left``, the counted time left
    in words ("due in 8 hours", "3 days overdue") in ``formatter``'s language (default: the
    CRM's, :meth:`crmkit.formatting.Formatter.for_crm`)."""
    if formatter is None:
        from crmkit.formatting import Formatter

        formatter = Formatter.for_crm(crm)
    return [dict(row, left=time_left(formatter, row["left_s"])) for row in crm.complaints.sla(now, owner=owner, limit=limit)]


def state_rows(crm: Any, status: str, owner: str | None = None, limit: int = LIST_LIMIT) -> list[dict]:
    """Complaints in one state (oldest first) as table rows."""
    return [
        {"id": c.id, "customer_id": c.customer_id, "owner": c.owner, "severity": c.severity, "status": c.status,
         "category": c.category, "received_at": to_iso(c.received_at), "status_at": to_iso(c.status_at)}
        for c in crm.complaints.list(status=status, owner=owner, limit=limit)
    ]


def time_left(formatter: Any, seconds: int | None) -> str:
    """Counted seconds left (negative when overdue) in words: ``due in 8 hours``, ``3 days overdue``."""
    if seconds is None:
        return ""
    return formatter.lateness(timedelta(seconds=-int(seconds)))


def take_step(crm: Any, complaint_id: int, step: str, *, resolution: str | None = None, amount: Any = None,
              reason: str | None = None, score: int | None = None, accepted: bool | None = None,
              message: str | None = None) -> Any:
    """Call the service's transition ``step`` (one of :data:`STEPS`) with the inputs it takes;
    returns the complaint after the step. Raises the service's errors unchanged."""
    service = crm.complaints
    message = message or None
    if step in ("acknowledge", "assess", "close"):
        return getattr(service, step)(complaint_id, message=message)
    if step == "resolve":
        return service.resolve(complaint_id, resolution, amount=amount, message=message)
    if step == "reject":
        return service.reject(complaint_id, reason or "", message=message)
    if step == "follow_up":
        return service.follow_up(complaint_id, score=score, accepted=accepted, message=message)
    if step == "reopen":
        return service.reopen(complaint_id, reason or "", message=message)
    raise ValidationError("step", step, "one of " + ", ".join(STEPS))


@functools.cache
def _panel_class() -> type:
    import ipywidgets as widgets

    from crmkit_jupyter import formatting
    from crmkit_jupyter.toolkit import Composite, ListSource, PagedTable, error_html, note_html

    class ComplaintsPanel(Composite):
        """The complaint queue with SLA state, one complaint's details, and its process steps.

        ``load()`` re-reads the list; ``show(id)`` opens a complaint; ``act(step)`` takes a
        step on the shown complaint with the inputs typed in the panel. CSS:
        ``crmkit-complaints``, ``crmkit-complaints-show``, ``crmkit-complaints-owner``,
        ``crmkit-complaints-refresh``, ``crmkit-complaints-id``, ``crmkit-complaints-open``,
        ``crmkit-complaint-detail``, ``crmkit-complaint-<step>`` on each step button,
        ``crmkit-complaint-status``.
        """

        def __init__(self, crm: Any, *, page_size: int = 15):
            super().__init__("crmkit-complaints")
            self.crm = crm
            self.complaint_id: int | None = None
            owners = [ALL_OWNERS] + [h.name for h in crm.complaints.handlers()]
            self.show_choice = self.own(widgets.Dropdown(options=[(QUEUE, QUEUE)] + [(state.replace("_", " "), state) for state in STATES], value=QUEUE, description="Show:"), "crmkit-complaints-show")
            self.owner_choice = self.own(widgets.Dropdown(options=owners, value=ALL_OWNERS, description="Handler:"), "crmkit-complaints-owner")
            self.refresh_button = self.own(widgets.Button(description="Refresh", icon="refresh"), "crmkit-complaints-refresh")
            self.summary = self.own(widgets.HTML(), "crmkit-complaints-summary")
            self.table = self.own(PagedTable(
                page_size=page_size, selectable=True, empty="No complaint here.", crm=crm, labels=LABELS,
                kinds=KINDS, csv_name="complaints.csv",
            ))
            self.id_input = self.own(widgets.BoundedIntText(value=0, min=0, max=2**62, description="Complaint #:", style={"description_width": "initial"}), "crmkit-complaints-id")
            self.open_button = self.own(widgets.Button(description="Open", icon="folder-open"), "crmkit-complaints-open")
            self.detail = self.own(widgets.HTML(), "crmkit-complaint-detail")
            self.resolution = self.own(widgets.Dropdown(options=RESOLUTIONS, value=RESOLUTIONS[0], description="Resolution:"), "crmkit-complaint-resolution")
            self.amount = self.own(widgets.Text(placeholder="e.g. 24.90 (optional)", description="Amount:"), "crmkit-complaint-amount")
            self.reason = self.own(widgets.Text(placeholder="for reject and reopen", description="Reason:"), "crmkit-complaint-reason")
            self.score = self.own(widgets.Dropdown(options=[("—", None)] + [(str(n), n) for n in range(1, 6)], value=None, description="Score:"), "crmkit-complaint-score")
            self.accepted = self.own(widgets.Dropdown(options=[("—", None), ("yes", True), ("no", False)], value=None, description="Accepted:"), "crmkit-complaint-accepted")
            self.message = self.own(widgets.Text(placeholder="what the customer is told (optional)", description="Message:"), "crmkit-complaint-message")
            self.step_buttons = {}
            for step in STEPS:
                button = self.own(widgets.Button(description=step.replace("_", " ")), f"crmkit-complaint-{step.replace('_', '-')}")
                self.on_click(button, functools.partial(self.act, step))
                self.step_buttons[step] = button
            self.status = self.own(widgets.HTML(), "crmkit-complaint-status")
            def row(children):  # wraps on a narrow screen instead of overflowing
                return self.own(widgets.HBox(children, layout=widgets.Layout(flex_flow="row wrap", align_items="center")))

            filters = row([self.show_choice, self.owner_choice, self.refresh_button])
            opener = row([self.id_input, self.open_button])
            inputs = self.own(widgets.VBox([
                row([self.resolution, self.amount, self.reason]),
                row([self.score, self.accepted, self.message]),
            ]))
            steps = self.own(widgets.HBox(list(self.step_buttons.values()), layout=widgets.Layout(flex_flow="row wrap")))
            self._enable_steps(())
            self.children = [filters, self.summary, self.table, opener, self.detail, inputs, steps, self.status]
            self.watch(self.show_choice, self._filtered)
            self.watch(self.owner_choice, self._filtered)
            self.on_click(self.refresh_button, self.load)
            self.on_click(self.open_button, self._open_typed)
            self.table.on_select(self.show)
            self.load()

        # --- public API -------------------------------------------------------------------

        @property
        def owner(self) -> str | None:
            """The handler the list is limited to, or None for every handler."""
            value = self.owner_choice.value
            return None if value in (None, ALL_OWNERS) else value

        def load(self) -> None:
            """Re-read the list: the SLA queue as of now, or the complaints in the chosen state."""
            shown = self.show_choice.value
            try:
                if shown == QUEUE:
                    rows = queue_rows(self.crm, None, self.owner, LIST_LIMIT + 1, formatting.formatter(self.crm))
                    columns = QUEUE_COLUMNS
                else:
                    rows = state_rows(self.crm, shown, self.owner, LIST_LIMIT + 1)
                    columns = LIST_COLUMNS
            except Exception as error:  # noqa: BLE001 - shown in the panel
                self.summary.value = error_html(_message(error))
                return
            more = len(rows) > LIST_LIMIT
            rows = rows[:LIST_LIMIT]
            if shown == QUEUE:
                states = {}
                for row in rows:
                    states[row["state"]] = states.get(row["state"], 0) + 1
                counts = ", ".join(f"{state.replace('_', ' ')} {states.get(state, 0):,}" for state in ("breached", "at_risk", "ok", "paused"))
                text = (f"{len(rows):,}{'+' if more else ''} open complaints as of {formatting.formatter(self.crm).local_time(self.crm.now())}, "
                        f"most urgent first: {counts}")
            else:
                text = f"{len(rows):,}{'+' if more else ''} complaints {shown}, oldest first"
            if more:
                text += f" (only the first {LIST_LIMIT:,} are listed)"
            self.summary.value = note_html(text, "crmkit-complaints-summary-text")
            self.table.set_source(ListSource(rows, key="id", columns=columns, sort_keys=SORT_KEYS))

        def show(self, complaint_id: int) -> None:
            """Show a complaint: its facts, the steps its state allows and its history."""
            try:
                complaint = self.crm.complaints.get(int(complaint_id))
                history = self.crm.complaints.history(complaint.id)
            except CrmError as error:
                self.detail.value = error_html(str(error))
                self.complaint_id = None
                self._enable_steps(())
                return
            self.complaint_id = complaint.id
            self._enable_steps(complaint.allowed_next)
            fmt = formatting.formatter(self.crm)
            self.id_input.value = complaint.id
            facts = [{
                "id": complaint.id, "customer": complaint.customer_id, "status": complaint.status,
                "severity": complaint.severity, "owner": complaint.owner, "category": complaint.category,
                "product": complaint.product, "received": fmt.local_time(complaint.received_at),
                "resolve due": fmt.local_time(complaint.resolve_due_at) if complaint.resolve_due_at else None,
                "paused": "yes" if complaint.paused_at else "",
            }]
            steps = [{"at": fmt.local_time(h.at), "event": h.event, "told the customer": h.message, "by": h.actor} for h in history]
            allowed = ", ".join(complaint.allowed_next) or "none"
            self.detail.value = (
                f"<b>Complaint #{complaint.id}</b>" + formatting.table(facts, tuple(facts[0]), kinds={"customer": "id"}, crm=self.crm)
                + f"<div>Allowed next: <b class='crmkit-complaint-allowed'>{formatting.text(allowed)}</b></div>"
                + (f"<div class='crmkit-complaint-description'>{formatting.text(complaint.description)}</div>" if complaint.description else "")
                + "<b>History (what the customer sees)</b>"
                + formatting.table(steps, ("at", "event", "told the customer", "by"), kinds={"event": "words"}, crm=self.crm)
            )

        def act(self, step: str) -> Any:
            """Take ``step`` on the shown complaint with the typed inputs; returns the complaint
            after the step, or None when the service refused (its message is shown)."""
            if self.complaint_id is None:
                self.status.value = error_html("choose a complaint first")
                return None
            try:
                complaint = take_step(
                    self.crm, self.complaint_id, step, resolution=self.resolution.value,
                    amount=self.amount.value.strip() or None, reason=self.reason.value.strip() or None,
                    score=self.score.value, accepted=self.accepted.value, message=self.message.value.strip() or None,
                )
            except Exception as error:  # noqa: BLE001 - the refusal is the message to show
                self.status.value = error_html(_message(error), "crmkit-error crmkit-complaint-refused")
                return None
            self.status.value = note_html(f"complaint #{complaint.id} is now {complaint.status}", "crmkit-complaint-moved")
            self.message.value = ""
            self.show(complaint.id)
            self.load()
            return complaint

        # --- internals --------------------------------------------------------------------

        def _filtered(self, change) -> None:
            self.load()

        def _enable_steps(self, allowed) -> None:
            for step, button in self.step_buttons.items():
                button.disabled = STEP_STATES[step] not in allowed

        def _open_typed(self) -> None:
            self.show(self.id_input.value)

    return ComplaintsPanel


def _message(error: BaseException) -> str:
    return str(error) if isinstance(error, CrmError) else f"{type(error).__name__}: {error}"
