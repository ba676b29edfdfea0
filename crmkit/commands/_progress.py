"""Progress of long commands on stderr: a bar on a terminal, one line per step elsewhere.

Work that ends within the first seconds prints nothing (``CRMKIT_PROGRESS_AFTER``, in seconds,
default 2, sets how long to stay quiet; 0 reports from the start). After that, a terminal gets
click's progress bar; a pipe or a log file gets plain lines (``Making demo data: 2,000 of
5,000 (40%)``), one per tenth of the way and one when done, so a log shows that work goes on.
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import click

QUIET_SECONDS = 2.0
# Without a known total, a pipe gets a line at most this often.
LINE_EVERY_SECONDS = 5.0


def quiet_seconds() -> float:
    """How long work runs before its progress is shown (``CRMKIT_PROGRESS_AFTER``, default 2)."""
    try:
        return max(0.0, float(os.environ.get("CRMKIT_PROGRESS_AFTER", QUIET_SECONDS)))
    except ValueError:
        return QUIET_SECONDS


def say(text: str) -> None:
    """Print one progress line on stderr at once (a pipe would otherwise hold it back)."""
    click.echo(text, err=True)
    sys.stderr.flush()


class _Lines:
    """``update(done, total)`` as plain lines: one per tenth of the way (or every few seconds
    without a total), then one when done."""

    def __init__(self, label: str, started: float, quiet: float):
        self.label, self.started, self.quiet = label, started, quiet
        self.tenth, self.said_at, self.last = -1, None, (0, None)

    def update(self, done: int, total: int | None) -> None:
        self.last = (done, total)
        now = time.monotonic()
        if now - self.started < self.quiet:
            return
        if total:
            tenth = min(10, max(0, done) * 10 // total)
            if tenth <= self.tenth:
                return
            self.tenth = tenth
            say(f"{self.label}: {done:,} of {total:,} ({tenth * 10}%)")
        elif self.said_at is None or now - self.said_at >= LINE_EVERY_SECONDS:
            say(f"{self.label}: {done:,}")
        self.said_at = now

    def close(self) -> None:
        done, total = self.last
        if self.said_at is not None and not (total and self.tenth == 10):
            say(f"{self.label}: done, {done:,}" + (f" of {total:,}" if total else ""))


class _Bar:
    """``update(done, total)`` as one click progress bar, drawn once the quiet time is over."""

    def __init__(self, label: str, started: float, quiet: float):
        self.label, self.started, self.quiet = label, started, quiet
        self.bar: Any = None
        self.drawn = 0

    def update(self, done: int, total: int | None) -> None:
        if self.bar is None:
            if time.monotonic() - self.started < self.quiet:
                return
            self.bar = click.progressbar(length=total or None, label=self.label, file=sys.stderr)
            self.bar.__enter__()
        self.bar.update(max(0, done - self.drawn))
        self.drawn = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int, int | None], None]]:
    """A ``progress(done, total)`` callback on stderr: a bar on a terminal, lines elsewhere."""
    kind = _Bar if sys.stderr.isatty() else _Lines
    shown = kind(label, time.monotonic(), quiet_seconds())
    try:
        yield shown.update
    finally:
        shown.close()


@contextmanager
def stage_progress(labels: dict[str, str]) -> Iterator[Callable[[str, int, int | None], None]]:
    """A ``progress(stage, done, total)`` callback: one bar (or run of lines) per stage, on stderr.

    The quiet time counts from the start of the whole work, not of each stage."""
    started, quiet = time.monotonic(), quiet_seconds()
    kind = _Bar if sys.stderr.isatty() else _Lines
    current: dict[str, Any] = {"stage": None, "shown": None}

    def close() -> None:
        if current["shown"] is not None:
            current["shown"].close()
            current["shown"] = None

    def update(stage: str, done: int, total: int | None) -> None:
        if stage != current["stage"]:
            close()
            current["stage"] = stage
            current["shown"] = kind(labels.get(stage, stage), started, quiet)
        current["shown"].update(done, total)

    try:
        yield update
    finally:
        close()


@contextmanager
def steps(label: str) -> Iterator[Callable[[str], None]]:
    """A ``step(text)`` callback printing ``label: text`` on stderr for each step of a long
    work (a table copied, a plugin's scheduled work), once the quiet time is over."""
    started, quiet = time.monotonic(), quiet_seconds()

    def step(text: str) -> None:
        if time.monotonic() - started >= quiet:
            say(f"{label}: {text}")

    yield step
