"""Helpers for testing crmkit and crmkit plugins: a clock you can set and move."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from .timeutil import to_datetime


class FixedClock:
    """A clock standing still at ``start`` until moved: ``crmkit.open(path, clock=FixedClock(...))``."""

    def __init__(self, start: Any = "2025-01-01T09:00:00Z"):
        self.current: datetime = to_datetime(start)

    def __call__(self) -> datetime:
        return self.current

    def set(self, moment: Any) -> None:
        """Jump to ``moment``."""
        self.current = to_datetime(moment)

    def advance(self, **delta: float) -> datetime:
        """Move forward by a timedelta's keywords (``days=3``, ``hours=2``); returns the new time."""
        self.current += timedelta(**delta)
        return self.current
