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

_DURATION = re.compile(r"^\s*(\d+)\s*(min|h|d|w)\s*$", re.ASCII)
_UNIT_SECONDS = {"min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
# The longest target, escalation delay or deadline duration: far beyond any real SLA, and short
# enough that every deadline from today lands well inside the years both engines can store.
MAX_DURATION_SECONDS = 3650 * 86400
MAX_DURATION_TEXT = "3650d (10 years)"
DURATION_RANGE = f"a duration like 8h, 5d, 2w or 90min, longer than zero and at most {MAX_DURATION_TEXT}"

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
    """``'90min'``, ``'8h'``, ``'5d'`` (24-hour days), ``'2w'`` or whole seconds, as seconds:
    more than zero and at most :data:`MAX_DURATION_SECONDS` (10 years)."""
    if isinstance(value, bool):
        raise ValidationError(field, value, DURATION_RANGE)
    if isinstance(value, int):
        seconds = value
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValidationError(field, value, DURATION_RANGE)
        digits = match.group(1).lstrip("0") or "0"
        # More digits than the longest allowed count can hold is out of range, however many.
        seconds = MAX_DURATION_SECONDS + 1 if len(digits) > 12 else int(digits) * _UNIT_SECONDS[match.group(2)]
    if not 0 < seconds <= MAX_DURATION_SECONDS:
        raise ValidationError(field, value, DURATION_RANGE)
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


LEVEL_KEYS = ("level", "name", "target", "trigger", "share", "after", "action")
MAX_LEVELS = 20
MAX_LEVEL_NUMBER = 999


def escalation_levels(value: Any) -> list[dict]:
    """Check a ``complaints.escalation`` value (None: the defaults) and return its levels in order,
    each with ``after_seconds`` for an ``after_breach`` trigger; a mistake names the key and level."""
    if value is None:
        value = DEFAULT_ESCALATION
    if not isinstance(value, list) or len(value) > MAX_LEVELS:
        raise ValidationError("complaints.escalation", value, f"a list of at most {MAX_LEVELS} levels")
    levels, seen = [], set()
    for position, item in enumerate(value, start=1):
        level = _level(item, f"complaints.escalation[{position}]")
        if level["level"] in seen:
            raise ValidationError(f"complaints.escalation[{position}].level", level["level"], "a level number not used before")
        seen.add(level["level"])
        levels.append(level)
    return sorted(levels, key=lambda item: item["level"])


def _level(item: Any, where: str) -> dict:
    """One escalation level, checked and with its defaults filled in."""
    if not isinstance(item, dict):
        raise ValidationError(where, item, "a dict with level, name, target, trigger, action")
    unknown = sorted(str(key) for key in set(item) - set(LEVEL_KEYS))
    if unknown:
        raise ValidationError(where, unknown[0], "keys " + ", ".join(LEVEL_KEYS))
    level = item.get("level")
    if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= MAX_LEVEL_NUMBER:
        raise ValidationError(f"{where}.level", level, f"a whole number from 1 to {MAX_LEVEL_NUMBER}")
    name = item.get("name")
    if name is not None and (not isinstance(name, str) or not name.strip() or len(name) > 100 or "\x00" in name):
        raise ValidationError(f"{where}.name", name, "a text of 1 to 100 characters without NUL")
    target, trigger, action = item.get("target", "resolve"), item.get("trigger"), item.get("action", "task")
    if target not in TARGETS:
        raise ValidationError(f"{where}.target", target, "acknowledge or resolve")
    if trigger not in TRIGGERS:
        raise ValidationError(f"{where}.trigger", trigger, "one of " + ", ".join(TRIGGERS))
    if action not in ACTIONS:
        raise ValidationError(f"{where}.action", action, "task or escalate")
    out = {"level": level, "name": name.strip() if name else f"level {level}", "target": target,
           "trigger": trigger, "action": action}
    for key, needed_by in (("share", "share"), ("after", "after_breach")):
        if key in item and trigger != needed_by:
            raise ValidationError(f"{where}.{key}", item[key], f"no {key} unless the trigger is {needed_by}")
    if trigger == "share":
        share = item.get("share")
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share < 1:
            raise ValidationError(f"{where}.share", share, "a share of the target between 0 and 1, e.g. 0.75")
        out["share"] = share
    if trigger == "after_breach":
        out["after_seconds"] = duration_seconds(item.get("after"), f"{where}.after")
        out["after"] = item.get("after")
    return out


@frozen
class SlaPolicy:
    """Targets in seconds of counted time, per clock and severity, with per-segment overrides."""

    targets: dict[str, dict[str, int]]
    segments: tuple[tuple[str, dict[str, dict[str, int]]], ...]
    levels: tuple[dict, ...]
    calendar: BusinessCalendar

    def longest_target(self) -> int:
        """The longest target in seconds, of either clock, base or segment override."""
        return max(seconds for targets in (self.targets, *(t for _, t in self.segments))
                   for clock in targets.values() for seconds in clock.values())

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
        levels = escalation_levels(settings.get("complaints.escalation"))
        calendar = BusinessCalendar.from_setting(settings.get("complaints.calendar"), home_zone)
        return cls(targets, tuple(segments), tuple(levels), calendar)
