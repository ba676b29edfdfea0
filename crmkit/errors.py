"""The exceptions crmkit raises.

Every error a user can cause is a :class:`CrmError`; the CLI prints its message as one line.
"""

from __future__ import annotations

from datetime import date, datetime


class CrmError(Exception):
    """Base class of every error crmkit raises on purpose."""


class ValidationError(CrmError, ValueError):
    """A value does not fit the field it was given for."""

    def __init__(self, field: str, value: object, expected: str):
        self.field = field
        self.value = value
        self.expected = expected
        super().__init__(f"{field}: {expected} (got {_short_repr(value)})")


def _short_repr(value: object, limit: int = 200) -> str:
    """repr() for messages: cut to ``limit`` characters; never fails (huge ints refuse repr).
    A date or time reads as ISO text, as it was typed, not as Python's constructor call."""
    if isinstance(value, (date, datetime)):
        return repr(value.isoformat())
    try:
        text = repr(value)
    except (ValueError, RecursionError):
        return f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[:limit] + "..."


class NotFound(CrmError, LookupError):
    """A record asked for by id or name does not exist."""


class ConflictError(CrmError):
    """The write would break a rule of the data (a duplicate, a limit, a state).

    A unique value already held by a customer (an external id) names it: ``field``, ``value``
    and ``held_by``, the holder's id, so that a front end can leave the id out for a user who
    may not see that customer.
    """

    def __init__(self, message: str, *, field: str | None = None, value: object = None, held_by: int | None = None):
        super().__init__(message)
        self.field = field
        self.value = value
        self.held_by = held_by


class RuleError(CrmError):
    """A segment rule does not parse, names an unknown field or compares the wrong types."""

    def __init__(self, message: str, rule: str | None = None, position: int | None = None):
        self.rule = rule
        self.position = position
        self.reason = message
        if rule is not None and position is not None:
            pointer = " " * position + "^"
            message = f"{message} at position {position}\n  {rule}\n  {pointer}"
        super().__init__(message)


class PluginError(CrmError):
    """A plugin failed inside a hook; names the plugin and the hook."""

    def __init__(self, plugin: str, hook: str, error: BaseException):
        self.plugin = plugin
        self.hook = hook
        self.error = error
        super().__init__(f"plugin {plugin!r} failed in {hook}: {type(error).__name__}: {error}")


class ImportRefused(CrmError):
    """An import found bad rows and, being all-or-nothing, wrote nothing."""

    def __init__(self, problems: list, report_path: str | None = None):
        self.problems = problems
        self.report_path = report_path
        rows = sorted({p.row for p in problems})
        shown = ", ".join(str(r) for r in rows[:10]) + (" ..." if len(rows) > 10 else "")
        where = f"; report written to {report_path}" if report_path else ""
        super().__init__(
            f"import refused: {len(problems)} problem(s) in {len(rows)} row(s) "
            f"(rows {shown}); nothing was imported{where}"
        )


class NotAuthenticated(CrmError):
    """No valid API token was given (missing, unknown, revoked or expired)."""


class PermissionDenied(CrmError):
    """The acting user's role or row scope does not allow the action."""
