"""Build a demo CRM file: customers, their histories, plugins' own demo data, then segments.

The file is written under a temporary name next to the target and moved into place only when
everything succeeded, so a failed or interrupted build never leaves a half-made CRM behind.
Customers and interactions go in through the public API (``customers.add_many``,
``interactions.record_many``), chunk by chunk, so every active plugin's event hooks see them
and memory stays flat whatever the size.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from ..calendar import HomeCalendar, zone_named
from ..engine.files import remove_file, replace_file
from ..errors import CrmError, ValidationError
from ..store import indexes_deferred
from ..testing import FixedClock
from ..timeutil import to_iso
from . import catalog
from .history import KINDS, event_rows, make_events
from .people import customer_rows, make_profiles
from .timeline import DEMO_TODAY, Timeline

CHUNK = 10_000
ACTOR = "demo"
# Non-unique indexes of these tables are built once after the load instead of row by row.
BULK_TABLES = ("customers", "interactions", "audit_log")
Progress = Callable[[int, int], None]


def build(
    path: str | os.PathLike, *, customers: int = 5000, seed: int = 7, replace: bool = False,
    progress: Progress | None = None, plugins: Iterable[Any] | None = None, timezone: str = "UTC",
) -> dict:
    """Create a realistic synthetic CRM file at ``path`` and return a summary of it.

    The same ``seed`` and ``customers`` give byte-identical data. "Today" in the demo is
    ``crmkit.demo.DEMO_TODAY`` (2025-06-30 12:00 UTC); open the file with
    ``clock=FixedClock(DEMO_TODAY)`` to see it as of that day. ``timezone`` is the CRM's home
    zone (an IANA name); the demo's "today" is then 30 June 2025 at 12:00 on that zone's wall
    clock (``summary["today"]``, in UTC), and the history ends there. ``plugins`` selects the
    active plugins as in :func:`crmkit.open` (``[]`` for the core alone). ``progress(done, total)``
    is called with the number of customers written so far. The summary's ``customers``,
    ``interactions`` and ``interactions_by_kind`` are the core's generated data;
    ``added_by_plugins`` counts what the plugins' own demo data added on top (the leads
    plugin's prospects, for one), so the two add up to what the file holds.

    Refuses an existing file unless ``replace=True``; nothing is written before the checks pass.
    """
    import crmkit
    from ..engine import is_server_url, redirect

    if is_server_url(str(path)):
        return _build_on_server(str(path), customers=customers, seed=seed, replace=replace, progress=progress,
                                plugins=plugins, timezone=timezone)
    target = Path(path)
    if str(path) == ":memory:":
        raise CrmError("the demo builds a file; give a path such as demo.db, not :memory:")
    if isinstance(customers, bool) or not isinstance(customers, int) or customers < 1:
        raise ValidationError("customers", customers, "a whole number of customers, 1 or more")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValidationError("seed", seed, "a whole number, 0 or more")
    today = local_today(timezone)
    if target.is_dir():
        raise CrmError(f"{target} is a folder; give the path of the CRM file to create")
    if target.exists() and not replace:
        raise CrmError(f"{target} exists; pass replace=True (crmkit demo --replace) to overwrite it")
    if not target.resolve().parent.is_dir():
        raise CrmError(f"cannot create {target}: folder {target.resolve().parent} does not exist")

    if redirect.redirects(target) and all(isinstance(p, str) for p in plugins or ()):
        # Under the test redirect the path names a server schema: build the way a server is built
        # (a copy can only open installed plugins by name, so plugin objects build in place).
        return _build_on_server(str(target), customers=customers, seed=seed, replace=replace, progress=progress,
                                plugins=plugins, timezone=timezone)
    started = time.perf_counter()
    building = target.with_name(f".{target.name}.building-{os.getpid()}")
    remove_file(building)
    timeline = Timeline.ending(today)
    try:
        crm = crmkit.open(building, plugins=plugins, clock=FixedClock(today), actor=ACTOR, timezone=timezone)
        try:
            with indexes_deferred(crm.db, BULK_TABLES):
                kinds = load_core_data(crm, customers, seed, timeline, progress)
            add_plugin_data(crm, seed)
            # What the plugins' demo data added (leads, their contacts...), so the totals printed
            # add up to what the file holds.
            by_plugins = {
                "customers": crm.db.execute("SELECT count(*) FROM customers").fetchone()[0] - customers,
                "interactions": crm.db.execute("SELECT count(*) FROM interactions").fetchone()[0] - sum(kinds.values()),
            }
            segments = define_segments(crm)
            with crm.transaction():
                crm.settings.set("demo.seed", seed)
                crm.settings.set("demo.today", today)
                # The demo world stands still at its "today", so every default as_of makes sense.
                crm.settings.set("core.frozen_at", today)
            plugin_names = crm.plugins.names()
        finally:
            crm.close()
        replace_file(building, target)
    except BaseException:
        remove_file(building)
        raise
    return {
        "path": str(target),
        "customers": customers,
        "interactions": sum(kinds.values()),
        "interactions_by_kind": {kind: kinds[kind] for kind in KINDS if kinds[kind]},
        "added_by_plugins": by_plugins,
        "segments": segments,
        "plugins": plugin_names,
        "seed": seed,
        "today": today,
        "timezone": zone_named(timezone).key,
        "seconds": round(time.perf_counter() - started, 2),
    }


def local_today(timezone: str = "UTC") -> str:
    """The demo's "today" in a CRM of home zone ``timezone``: :data:`DEMO_TODAY`'s wall-clock
    time (30 June 2025, 12:00) on that zone's clock, as UTC storage text."""
    calendar = HomeCalendar(zone_named(timezone))
    if calendar.is_utc:
        return DEMO_TODAY
    return to_iso(calendar.to_datetime(DEMO_TODAY.removesuffix("Z")))


def _build_on_server(url: str, **options: Any) -> dict:
    """The demo on a PostgreSQL database: built as a file, then copied across and checked.

    The copy gives the server exactly the file's rows (the same seed gives the same data on both
    engines); a database that holds rows is refused unless ``replace``.
    """
    import tempfile

    from ..copying import copy_crm
    from ..engine import connect, describe, parse, redirect

    replace = options.pop("replace")
    redirected = redirect.redirects(url)
    with tempfile.TemporaryDirectory(prefix="crmkit-demo-") as folder:
        built = Path(folder) / "demo.db"
        with redirect.suspended():
            summary = build(built, replace=False, **options)
        server = url
        if redirected:
            connect(url).close()  # creates the path's schema
            server = redirect.server_for(parse(url)).url
        with redirect.suspended():
            copy_crm(built, server, replace=replace)
    summary["path"] = url if redirected else describe(url)
    return summary


def load_core_data(crm, customers: int, seed: int, timeline: Timeline, progress: Progress | None = None) -> Counter:
    """Add ``customers`` customers and their histories, one chunk at a time; counts by kind."""
    kinds: Counter = Counter()
    if progress is not None:
        progress(0, customers)
    for index, first_id in enumerate(range(1, customers + 1, CHUNK)):
        count = min(CHUNK, customers - first_id + 1)
        profiles = make_profiles(np.random.default_rng([seed, index, 0]), first_id, count, customers, timeline)
        rows = customer_rows(np.random.default_rng([seed, index, 1]), profiles, timeline)
        ids = crm.customers.add_many(rows)
        if ids and ids[0] != first_id:
            raise CrmError(f"the demo needs an empty CRM: customer ids start at {ids[0]}, not {first_id}")
        events = make_events(np.random.default_rng([seed, index, 2]), profiles, timeline)
        crm.interactions.record_many(event_rows(events, timeline))
        kinds.update({KINDS[code]: int(n) for code, n in enumerate(np.bincount(events.kind, minlength=len(KINDS)))})
        if progress is not None:
            progress(first_id + count - 1, customers)
    return kinds


def add_plugin_data(crm, seed: int) -> None:
    """Let each active plugin add its own demo data (reps, tiers, tickets...) in one transaction."""
    with crm.transaction():
        crm.plugins.call("crmkit_demo_data", crm=crm, seed=seed, now=crm.now())


def define_segments(crm) -> list[str]:
    """Define the demo's segments (``catalog.SEGMENTS``); returns their names."""
    with crm.transaction():
        for name, rule, description in catalog.SEGMENTS:
            crm.segments.define(name, rule, description)
    return [name for name, _, _ in catalog.SEGMENTS]
