"""SLA policy: targets per severity (and per segment), escalation levels, the calendar in use.

Everything is read from the CRM's settings (``complaints.sla``, ``complaints.sla_segments``,
``complaints.escalation``, ``complaints.calendar``) and validated here, so a bad setting fails
with a message naming the key before anything is written.
"""

from __future__ import annotations

import re
from typing import Any

from attrs import frozen

from crmkit import ValidationError

from .calendar import BusinessCalendar
from .models import SEVERITIES

_DURATION = re.compile(r"^\s*(\d+)\s*(min|h|d|w)\s*$")
_UNIT_SECONDS = {"min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}

# Counted time: round the clock by default, working time when a calendar is set.
DEFAULT_TARGETS = {
    "acknowledge": {"low": "24h", "normal": "24h", "high": "8h", "critical": "2h"},
    "resolve": {"low": "10d", "normal": "5d", "high": "3d", "critical": "24h"},
}
DEFAULT_ESCALATION = [
    {"level": 1, "name": "acknowledge overdue", "target": "acknowledge", "trigger": "breach", "action": "task"},
    {"level": 2, "name": "about to breach", "target": "resolve", "trigger": "share", "share": 0.75, "action": "task"},
    {"level": 3, "name": "supervisor", "target": "resolve", "trigger": "breach", "action": "escalate"},
    {"level": 4, "name": "manager", "target": "resolve", "trigger": "after_breach", "after": "24h", "action": "escalate"},
]
TRIGGERS = ("share", "breach", "after_breach")
ACTIONS = ("task", "escalate")
TARGETS = ("acknowledge", "resolve")


def duration_seconds(value: Any, field: str = "duration") -> int:
    """``'90min'``, ``'8h'``, ``'5d'`` (24-hour days), ``'2w'`` or whole seconds, as seconds (> 0)."""
    if isinstance(value, bool):
        raise ValidationError(field, value, "a duration like 8h, 5d or 90min")
    if isinstance(value, int):
        seconds = value
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValidationError(field, value, "a duration like 8h, 5d, 2w or 90min")
        seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds <= 0:
        raise ValidationError(field, value, "a duration longer than zero")
    return seconds


def _targets(value: Any, base: dict[str, dict[str, int]] | None, field: str) -> dict[str, dict[str, int]]:
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise ValidationError(field, value, "a dict like {'resolve': {'critical': '24h'}}")
    unknown = set(value) - set(TARGETS)
    if unknown:
        raise ValidationError(field, sorted(unknown)[0], "acknowledge or resolve")
    out = {}
    for clock in TARGETS:
        given = value.get(clock) or {}
        if not isinstance(given, dict):
            raise ValidationError(f"{field}.{clock}", given, "a dict severity -> duration")
        bad = set(given) - set(SEVERITIES)
        if bad:
            raise ValidationError(f"{field}.{clock}", sorted(bad)[0], "a severity: " + ", ".join(SEVERITIES))
        start = dict(base[clock]) if base else {s: duration_seconds(DEFAULT_TARGETS[clock][s]) for s in SEVERITIES}
        for severity, duration in given.items():
            start[severity] = duration_seconds(duration, f"{field}.{clock}.{severity}")
        out[clock] = start
    return out


def _levels(value: Any) -> list[dict]:
    if value is None:
        value = DEFAULT_ESCALATION
    if not isinstance(value, list):
        raise ValidationError("complaints.escalation", value, "a list of levels")
    levels, seen = [], set()
    for position, item in enumerate(value, start=1):
        where = f"complaints.escalation[{position}]"
        if not isinstance(item, dict):
            raise ValidationError(where, item, "a dict with level, name, target, trigger, action")
        level = item.get("level")
        if isinstance(level, bool) or not isinstance(level, int) or level < 1 or level in seen:
            raise ValidationError(f"{where}.level", level, "a unique whole number from 1")
        seen.add(level)
        target, trigger, action = item.get("target", "resolve"), item.get("trigger"), item.get("action", "task")
        if target not in TARGETS:
            raise ValidationError(f"{where}.target", target, "acknowledge or resolve")
        if trigger not in TRIGGERS:
            raise ValidationError(f"{where}.trigger", trigger, "one of " + ", ".join(TRIGGERS))
        if action not in ACTIONS:
            raise ValidationError(f"{where}.action", action, "task or escalate")
        out = {"level": level, "name": str(item.get("name") or f"level {level}"), "target": target,
               "trigger": trigger, "action": action}
        if trigger == "share":
            share = item.get("share")
            if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share < 1:
                raise ValidationError(f"{where}.share", share, "a share of the target between 0 and 1, e.g. 0.75")
            out["share"] = share
        if trigger == "after_breach":
            out["after_seconds"] = duration_seconds(item.get("after"), f"{where}.after")
            out["after"] = item.get("after")
        levels.append(out)
    return sorted(levels, key=lambda item: item["level"])


@frozen
class SlaPolicy:
    """Targets in seconds of counted time, per clock and severity, with per-segment overrides."""

    targets: dict[str, dict[str, int]]
    segments: tuple[tuple[str, dict[str, dict[str, int]]], ...]
    levels: tuple[dict, ...]
    calendar: BusinessCalendar

    @classmethod
    def from_settings(cls, settings, home_zone: str = "UTC") -> "SlaPolicy":
        """Read and check the settings ``complaints.sla``, ``complaints.sla_segments``,
        ``complaints.escalation`` and ``complaints.calendar`` (defaults where unset)."""
        targets = _targets(settings.get("complaints.sla"), None, "complaints.sla")
        overrides = settings.get("complaints.sla_segments") or []
        if not isinstance(overrides, list):
            raise ValidationError("complaints.sla_segments", overrides, "a list of {'segment': ..., 'resolve': {...}}")
        segments = []
        for position, item in enumerate(overrides, start=1):
            if not isinstance(item, dict) or not item.get("segment"):
                raise ValidationError(f"complaints.sla_segments[{position}]", item, "a dict with a segment name or rule")
            rest = {k: v for k, v in item.items() if k != "segment"}
            segments.append((item["segment"], _targets(rest, targets, f"complaints.sla_segments[{position}]")))
        levels = _levels(settings.get("complaints.escalation"))
        calendar = BusinessCalendar.from_setting(settings.get("complaints.calendar"), home_zone)
        return cls(targets, tuple(segments), tuple(levels), calendar)
