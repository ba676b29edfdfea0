"""The demo's calendar: a fixed "today" and about three years of history before it.

Times are int64 seconds since the epoch (UTC) inside the generator and storage text
(``2025-06-30T12:00:00Z``) at the API boundary.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
from attrs import frozen

from ..timeutil import to_datetime

DAY = 86_400
YEAR = 365 * DAY
DEMO_TODAY = "2025-06-30T12:00:00Z"
HISTORY_DAYS = 3 * 365
# Customer arrivals speed up over the years: the density of arrival times grows linearly
# from 1 at the start to 1 + GROWTH at "today".
GROWTH = 1.5


@frozen
class Timeline:
    """The demo's "today" and where its history starts, in epoch seconds."""

    today: int
    start: int

    @classmethod
    def ending(cls, today: str | datetime = DEMO_TODAY, days: int = HISTORY_DAYS) -> "Timeline":
        end = int(to_datetime(today, "today").timestamp())
        return cls(end, end - days * DAY)

    def arrival(self, fraction: np.ndarray) -> np.ndarray:
        """Arrival times for cumulative fractions in [0, 1] (monotone: a later fraction is later).

        Inverts F(x) = (x + g x^2 / 2) / (1 + g / 2), the CDF of a density growing linearly.
        """
        g = GROWTH
        share = np.clip(fraction, 0.0, 1.0) * (1 + g / 2)
        x = (np.sqrt(1 + 2 * g * share) - 1) / g
        return self.start + np.floor(x * (self.today - 1 - self.start)).astype(np.int64)

    def iso(self, seconds: np.ndarray) -> list[str]:
        """Storage text of epoch seconds (``YYYY-MM-DDTHH:MM:SSZ``)."""
        text = np.datetime_as_string(np.asarray(seconds, dtype="datetime64[s]"), unit="s")
        return [t + "Z" for t in text.tolist()]
