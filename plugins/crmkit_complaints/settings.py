"""The complaints plugin's SLA targets, escalation levels and business calendar as declared
settings (``crmkit config get/set``), each written through the service method that checks it."""

from __future__ import annotations

from typing import Any

from crmkit import hookimpl


def _set_targets(crm, value: Any) -> None:
    crm.complaints.set_targets(value)  # checks every duration before it writes; overrides stay


def _set_segment_targets(crm, value: Any) -> None:
    # Checked against the base targets in force, which stay as they are; null: no overrides.
    crm.complaints.set_targets(crm.settings.get("complaints.sla"), segments=[] if value is None else value)


def _set_escalation(crm, value: Any) -> None:
    crm.complaints.set_escalation(value)  # checks every level before it writes


def _set_calendar(crm, value: Any) -> None:
    crm.complaints.set_calendar(value)  # checks the zone, hours and holidays before it writes


@hookimpl
def crmkit_settings(crm):
    from crmkit.settings import Setting

    from .sla import DEFAULT_ESCALATION, DEFAULT_TARGETS, MAX_DURATION_TEXT

    return [
        Setting("complaints.sla", "SLA targets per clock and severity, e.g. "
                '{"acknowledge": {"critical": "2h"}, "resolve": {"critical": "24h"}} (min, h, d, w; '
                f"at most {MAX_DURATION_TEXT}); counted in working time when a calendar is set.",
                DEFAULT_TARGETS, apply=_set_targets),
        Setting("complaints.sla_segments", "SLA targets for customers of a segment, the first listed "
                'segment a customer is in when the complaint opens winning: [{"segment": "vip", "resolve": '
                '{"normal": "24h"}}, ...] (a saved segment or a rule); severities not named keep the base targets.',
                [], apply=_set_segment_targets),
        Setting("complaints.escalation", 'Escalation levels, run in order by `crmkit due`: [{"level": 1, '
                '"name": "supervisor", "target": "resolve", "trigger": "breach", "action": "escalate"}, ...]; '
                'triggers share (with "share": 0.75), breach, after_breach (with "after": "24h"); actions task, '
                "escalate; null: the defaults.", DEFAULT_ESCALATION, apply=_set_escalation),
        Setting("complaints.calendar", 'The team\'s working time: {"timezone": "Europe/Berlin", "hours": '
                '{"mon": "09:00-17:00", ...}, "holidays": ["2025-12-25"]}; null: round the clock.',
                None, apply=_set_calendar),
    ]
