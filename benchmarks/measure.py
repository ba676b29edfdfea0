"""Small helpers the workloads share: timing, ratios against targets, the run context."""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any, Callable

from attrs import define, field


@define
class Context:
    """What a workload gets: the size, the demo file (read only), a scratch folder, its variant."""

    size: str
    customers: int
    data: Path
    work: Path
    variant: dict = field(factory=dict)
    repeat: int = 5


def timed(func: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    """Median wall time of ``repeat`` calls (one warm-up call first when repeating) and the last result."""
    if repeat > 1:
        func()
    times, result = [], None
    for _ in range(max(1, repeat)):
        started = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def measurement(name: str, seconds: float, *, rows: int | None = None, result: Any = None, note: str | None = None) -> dict:
    """One timed line of a workload's result (rows/s when ``rows`` is given)."""
    item = {"name": name, "seconds": round(seconds, 6)}
    if rows is not None:
        item["rows"] = rows
        item["rows_per_s"] = round(rows / seconds) if seconds > 0 else None
    if result is not None:
        item["result"] = result
    if note:
        item["note"] = note
    return item


def ratio(name: str, value: float | None, target: str | None = None, met: bool | None = None, note: str | None = None) -> dict:
    """A ratio of two measurements of the same run, with its target from issue 10 when it has one."""
    item = {"name": name, "value": None if value is None else round(value, 3), "target": target, "met": met}
    if note:
        item["note"] = note
    return item


def unavailable(name: str, reason: str) -> dict:
    """A baseline that could not run here, and why (reported instead of crashing the run)."""
    return {"name": name, "seconds": None, "unavailable": reason}
