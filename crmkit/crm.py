"""The CRM object: one SQLite file, its plugins and the services on top."""

from __future__ import annotations

import getpass
import json
import os
import warnings
from contextlib import contextmanager, nullcontext
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Iterator

from attrs import frozen

from . import engine, migrations, store, variant
from .engine.errors import NewerSchema, ReadOnly
from .engine.files import remove_file
from .engine.identity import recognise
from .audit import Audit
from .calendar import DEFAULT_ZONE, WEEKDAYS, HomeCalendar, weekday_number, zone_named
from .customers import Customers
from .erasure import Erasure
from .errors import CrmError, NotFound, PluginError
from .fields import FieldRegistry, core_fields
from .interactions import Interactions
from .kinds import CORE_KINDS, KindRegistry
from .money import exponent_of
from .permissions import CORE_PERMISSIONS, Permissions
from .plugins import PluginSet, load_plugins, selection_from_config_file, selection_from_environment
from .segments import Segments
from .settings import Settings
from .tasks import Tasks
from .timeutil import Clock, system_clock, to_datetime, to_iso
from .users import Users

DEFAULT_CURRENCY = "USD"
_CORE_NAMES = frozenset({
    "db", "path", "plugins", "customers", "interactions", "segments", "tasks", "audit",
    "settings", "fields", "kinds", "currency", "exponent", "actor", "now", "transaction",
    "run_due", "forget", "close", "extensions", "acting_as", "panels", "report_sections",
    "users", "permissions", "zone", "calendar", "set_timezone",
})


@frozen
class DueReport:
    """What ``run_due`` did: each plugin's summary, and the plugins that failed."""

    now: datetime
    results: dict[str, Any]
    errors: dict[str, str]

    @property
    def ok(self) -> bool:
        return not self.errors


class CRM:
    """A customer relationship database with its plugins. Make one with :func:`crmkit.open`."""

    def __init__(self, db, plugins: PluginSet, *, path: str, clock: Clock | None, actor: str | None):
        self.db = db
        self.path = path
        self.plugins = plugins
        self._clock = clock or system_clock
        self._wall_clock = self._clock  # the frozen moment below never stands in for it
        self.actor = actor or os.environ.get("CRMKIT_ACTOR") or _login_name()
        self.extensions: dict[str, Any] = {}
        self._extension_owner: dict[str, str] = {}
        self.audit = Audit(self)
        self.settings = Settings(self)
        frozen_at = self.settings.get("core.frozen_at")
        if clock is None and frozen_at:
            # A file frozen at a moment (a demo CRM) keeps that moment as its "now".
            frozen = to_datetime(frozen_at, "core.frozen_at")
            self._clock = lambda: frozen
        self.currency: str = self.settings.get("core.currency", DEFAULT_CURRENCY)
        self.exponent = exponent_of(self.currency)
        self.calendar = HomeCalendar(
            self.settings.get("core.timezone", DEFAULT_ZONE), self.settings.get("core.first_weekday", 0), db,
        )
        self.kinds = KindRegistry()
        for kind in CORE_KINDS:
            self.kinds.add(kind)
        for plugin, kinds in self.plugins.each_or_raise("crmkit_interaction_kinds"):
            for kind in kinds or []:
                self.kinds.add(kind, plugin)
        self.fields = FieldRegistry(self.calendar)
        for item in core_fields(
            self.kinds.names(money="in"), self.kinds.names(money="out"), self.kinds.names(contact=True), self.calendar,
        ):
            self.fields.add(item)
        self.customers = Customers(self)
        self.interactions = Interactions(self)
        self.tasks = Tasks(self)
        self.segments = Segments(self)
        self.users = Users(self)
        self.permissions = Permissions()
        for permission in CORE_PERMISSIONS:
            self.permissions.add(permission)
        for plugin, declared in self.plugins.each_or_raise("crmkit_permissions"):
            for permission in declared or []:
                self.permissions.add(permission, f"plugin {plugin!r}")
        for plugin, fields in self.plugins.each_or_raise("crmkit_fields", crm=self):
            for item in fields or []:
                self.fields.add(item, plugin)
        for plugin, services in self.plugins.each_or_raise("crmkit_extend", crm=self):
            for name, service in (services or {}).items():
                self._attach(name, service, plugin)

    # --- plumbing -------------------------------------------------------------------------

    def __getattr__(self, name: str) -> Any:
        extensions = self.__dict__.get("extensions", {})
        if name in extensions:
            return extensions[name]
        hint = f"; active plugins: {', '.join(self.plugins.names()) or 'none'}" if "plugins" in self.__dict__ else ""
        raise AttributeError(f"CRM has no attribute or plugin service {name!r}{hint}")

    def _attach(self, name: str, service: Any, plugin: str) -> None:
        if name in _CORE_NAMES or name.startswith("_"):
            raise CrmError(f"plugin {plugin!r} cannot add service {name!r}: the core uses that name")
        if name in self.extensions:
            raise CrmError(
                f"service name {name!r} is claimed by both plugin {self._extension_owner[name]!r} and plugin {plugin!r}"
            )
        self.extensions[name] = service
        self._extension_owner[name] = plugin

    @property
    def zone(self):
        """The home time zone (a ``zoneinfo.ZoneInfo``): days, weeks and months are counted in it."""
        return self.calendar.zone

    def set_timezone(self, timezone: str, first_weekday: int | str | None = None) -> None:
        """Change the home time zone (and, if given, the first day of the week), with a warning.

        Every day-based figure moves with it: report months, recency and day counts, cadence and
        claim-limit days. Stored times do not change. Segment fields of this CRM object keep the
        old zone until the CRM is opened again.
        """
        zone = zone_named(timezone)
        weekday = self.calendar.first_weekday if first_weekday is None else weekday_number(first_weekday)
        if zone.key == self.calendar.name and weekday == self.calendar.first_weekday:
            return
        with self.transaction():
            self.settings.set("core.timezone", zone.key)
            self.settings.set("core.first_weekday", WEEKDAYS[weekday])
        self.calendar = HomeCalendar(zone, weekday, self.db)
        warnings.warn(
            f"home time zone is now {zone.key} (weeks start on {WEEKDAYS[weekday]}): day, week and month "
            "figures (reports, recency, day counts, claim limits, due dates) now count in it and may move",
            TimezoneChanged, stacklevel=2,
        )

    def now(self) -> datetime:
        """The CRM's clock: the default ``as_of``/``now`` of every computation."""
        return to_datetime(self._clock())

    def wall_now(self) -> datetime:
        """The time for security decisions (API tokens: issued, expired, revoked): the clock given
        to :func:`crmkit.open`, else the system's. Never the moment of ``core.frozen_at``, which
        stops a demo file's business clock but must not keep an expired token working."""
        return to_datetime(self._wall_clock())

    def as_of(self, value: Any = None) -> datetime:
        """``value`` as an aware UTC datetime, or the CRM's clock when it is None; a date means its
        midnight in the home zone, a time without an offset the home zone's wall-clock time."""
        return self.now() if value is None else self.calendar.to_datetime(value, "as_of")

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """One write, one transaction; nested use becomes a savepoint."""
        with store.transaction(self.db) as db:
            yield db

    @contextmanager
    def acting_as(self, actor: str) -> Iterator["CRM"]:
        """Record changes made inside the block in the audit log under ``actor``."""
        previous, self.actor = self.actor, actor
        try:
            yield self
        finally:
            self.actor = previous

    def close(self) -> None:
        """Close the database connection."""
        self.db.close()

    def __enter__(self) -> "CRM":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<CRM {self.db.target.describe()} plugins={self.plugins.names()}>"

    # --- work across plugins --------------------------------------------------------------

    def run_due(self, now: Any = None, progress: Any = None) -> DueReport:
        """Run every plugin's scheduled work as of ``now``, each plugin in its own transaction.

        ``now`` is read like ``as_of``: a date means its midnight in the home zone, so
        ``run_due("2025-07-01")`` is the start of the local day, and each plugin counts its days
        (recycling, cooldowns, reminders, cadences) on the home calendar from there.
        Idempotent for the same ``now``. A failing plugin's work is rolled back and reported;
        the other plugins' work still happens. ``progress(plugin_name)``, when given, is called
        as each plugin starts.
        """
        moment = self.as_of(now)
        results, errors = {}, {}
        caller = self.plugins.hook.crmkit_due
        for impl in reversed(caller.get_hookimpls()):
            if progress is not None:
                progress(impl.plugin_name)
            args = {"crm": self, "now": moment}
            try:
                with self.transaction():
                    results[impl.plugin_name] = impl.function(*[args[a] for a in impl.argnames])
                    self.audit.record("due.run", "plugin", impl.plugin_name, after={"now": to_iso(moment)}, source=impl.plugin_name)
            except Exception as error:  # noqa: BLE001 - reported per plugin, others go on
                errors[impl.plugin_name] = str(PluginError(impl.plugin_name, "crmkit_due", error))
        return DueReport(moment, results, errors)

    def forget(self, customer_id: int) -> None:
        """Erase a customer's personal data everywhere (right to erasure), in one transaction.

        The customer row keeps its id, stage, region, size, industry and dates so that figures
        still add up; name, contact details, free text and attributes are removed from the core,
        from the audit log and, through ``crmkit_customer_forgotten``, from every plugin, which
        receives a :class:`crmkit.erasure.Erasure` of the values that identified the person to
        scrub them out of the text its rows hold about them. Interactions stay with amounts,
        dates and the numbers and flags of their ``data`` (a survey's score); their notes and
        any text in ``data`` are erased.
        """
        with self.transaction():
            self.customers.get(customer_id)
            now = to_iso(self.now())
            people = self._merged_into(customer_id)
            erasure = Erasure.collect(self.db, customer_id, people)
            self.db.execute(
                """UPDATE customers SET name = 'forgotten customer ' || id, external_id = NULL,
                   email = NULL, email_norm = NULL, phone = NULL, phone_norm = NULL,
                   address = NULL, company = NULL, tags = '[]', attributes = '{}',
                   updated_at = :now, forgotten_at = :now WHERE id = :id""",
                {"id": customer_id, "now": now},
            )
            self.customers.scrub_history(customer_id)
            self._erase_interaction_text(customer_id)
            self.db.execute("UPDATE tasks SET reason = NULL, data = '{}' WHERE customer_id = ?", [customer_id])
            # The audit log about this person: their own entries, those of duplicates merged into
            # them and those of their tasks, whose before/after hold the reason and closing note.
            marks = ", ".join("?" * len(people))
            self.db.execute(
                f"UPDATE audit_log SET before = NULL, after = NULL WHERE (entity = 'customer' AND entity_id IN ({marks})) "
                "OR (entity = 'task' AND entity_id IN (SELECT CAST(id AS TEXT) FROM tasks WHERE customer_id = ?))",
                [str(p) for p in people] + [customer_id],
            )
            self.plugins.call("crmkit_customer_forgotten", crm=self, customer_id=customer_id, erasure=erasure)
            self.audit.record("customer.forget", "customer", customer_id)

    def _merged_into(self, customer_id: int) -> list[int]:
        """The customer's id and those of duplicates merged into them, at any depth (the
        duplicates' rows are gone; their audit entries and ids in plugin rows are not)."""
        people = [customer_id]
        for known in people:
            for (before,) in self.db.execute(
                "SELECT before FROM audit_log WHERE entity = 'customer' AND entity_id = ? "
                "AND action = 'customer.merge' AND before IS NOT NULL", [str(known)],
            ):
                merged = (json.loads(before).get("merged") or {}).get("id")
                if merged is not None and int(merged) not in people:
                    people.append(int(merged))
        return people

    def _erase_interaction_text(self, customer_id: int) -> None:
        # Numbers and flags in `data` (a survey's score, a referral's customer id) are kept so
        # that figures hold; text, which may say anything about the person, is dropped.
        rows = self.db.execute(
            "SELECT id, data FROM interactions WHERE customer_id = ? AND (notes IS NOT NULL OR data IS NOT NULL)",
            [customer_id],
        ).fetchall()
        for interaction_id, data in rows:
            document = json.loads(data) if data else {}
            kept = {
                key: value for key, value in (document if isinstance(document, dict) else {}).items()
                if isinstance(value, (int, float)) and not (isinstance(value, float) and value != value)
            }
            self.db.execute(
                "UPDATE interactions SET notes = NULL, data = ? WHERE id = ?",
                [json.dumps(kept, sort_keys=True) if kept else None, interaction_id],
            )


def _login_name() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "system"


def open(  # noqa: A001 - mirrors the builtin on purpose: crmkit.open(path)
    path: str | Path | None = ":memory:", plugins: Iterable[Any] | None = None, clock: Clock | None = None,
    *, currency: str | None = None, actor: str | None = None, timezone: str | None = None,
    first_weekday: int | str | None = None,
) -> CRM:
    """Open (or create) a CRM and return the CRM object.

    ``path`` names the CRM: a file path (SQLite, created when missing), ``":memory:"``, or a
    ``postgresql://user:password@host:port/dbname`` URL of a server database (which must exist;
    its tables are created on first open). ``None`` takes ``$CRMKIT_DATABASE``.

    ``plugins`` selects the active plugins (entry point names or plugin objects); without it the
    ``CRMKIT_PLUGINS`` environment variable, then a ``crmkit.toml`` settings file
    (``$CRMKIT_CONFIG``, the current folder, or beside the database file), then the database's
    ``plugins`` setting decide (:func:`plugin_selection`); a new CRM gets every installed plugin
    and remembers its set, so a plugin installed later is not switched on (:mod:`crmkit.variant`).
    Pending migrations of the core and of every active plugin are applied in one transaction,
    with the plugins' registrations (kinds, fields, permissions, services): an open that fails
    leaves an existing CRM as it was. ``clock`` is a callable returning the current time (tests fix
    it). ``currency`` is fixed when the file is created; so are ``timezone``, the home time zone
    (an IANA name, default UTC), and ``first_weekday`` (default Monday), which
    :meth:`CRM.set_timezone` can change later.
    """
    target = engine.parse(path)
    created = not target.is_server and target.path != ":memory:" and not Path(target.path).exists()
    db = store.connect(target)
    try:
        recognise(db, target.describe())
        selection = plugin_selection(db, path, plugins)
        if selection is None:
            selection = variant.inferred(db)
        plugin_set = load_plugins(selection)
        shown_as = target.describe()
        owners: dict[int, str] = {}
        sets = _migration_sets(plugin_set, owners)
        migrating = any([_pending(db, m_set, shown_as) for m_set in sets])  # a list: every set is checked
        # What opening writes (migrations, a new CRM's settings) and what can still refuse the
        # plugins after it (a field or service claimed twice, a hook raising) are one transaction:
        # a failed open leaves an existing CRM as it was. An open that writes nothing takes no lock.
        if migrating:
            _refuse_read_only(db, shown_as)
        writes = migrating or _stores_settings(db, selection, currency, timezone, first_weekday)
        with store.transaction(db) if writes else nullcontext():
            if migrating:
                _migrate(db, sets, owners)
            _check_core_columns(db, shown_as)
            _fix_currency(db, currency)
            variant.remember(db, selection)
            _fix_calendar(db, timezone, first_weekday)
            crm = CRM(db, plugin_set, path=target.path if not target.is_server else target.url, clock=clock, actor=actor)
        return crm
    except BaseException:
        db.close()
        if created:
            # A file this call created and could not set up is removed, not left half-made.
            remove_file(target.path)
        raise


def plugin_selection(db, path: str | Path, plugins: Iterable[Any] | None = None) -> list | None:
    """Which plugins a CRM file opens with; None when nothing chose (see :func:`crmkit.variant.inferred`).

    In order: the ``plugins`` argument, ``CRMKIT_PLUGINS``, the ``crmkit.toml`` settings file, the
    database's own ``plugins`` setting. Reads only.
    """
    if plugins is not None:
        return list(plugins)
    selection = selection_from_environment()
    if selection is None:
        selection = selection_from_config_file(path)
    if selection is None:
        selection = variant.stored(db)
    return selection


def pending_migrations(db, plugin_set: PluginSet) -> list[tuple[str, str]]:
    """``(set name, migration name)`` of every migration not yet applied. Reads only.

    A CRM from a newer crmkit is refused (:class:`NewerSchema`): it is not "up to date"."""
    shown_as = db.target.describe()
    return [(m_set.name, m.name) for m_set in _migration_sets(plugin_set) for m in _pending(db, m_set, shown_as)]


def _migration_sets(plugin_set: PluginSet, owners: dict | None = None) -> list:
    """The core's set and every plugin's; ``owners`` (if given) maps ``id(set)`` to its plugin."""
    sets = [migrations.core]
    for plugin, result in plugin_set.each_or_raise("crmkit_migrations"):
        if result is not None:
            sets.append(result)
            if owners is not None:
                owners[id(result)] = plugin
    return sets


def _stores_settings(db, selection: list, currency, timezone, first_weekday) -> bool:
    """Whether opening a CRM whose schema is up to date stores a setting: the currency, plugin
    set, home zone or first weekday it does not have yet (see the ``_fix_*`` functions and
    :func:`crmkit.variant.remember`). Reads only."""
    keys = {key for (key,) in db.execute(
        "SELECT key FROM settings WHERE key IN ('core.currency', 'core.timezone', 'core.first_weekday', ?)",
        [variant.SETTING],
    )}
    return (
        "core.currency" not in keys
        or (variant.SETTING not in keys and all(isinstance(item, str) for item in selection))
        or (timezone is not None and "core.timezone" not in keys)
        or (first_weekday is not None and "core.first_weekday" not in keys)
    )


def _refuse_read_only(db, shown_as: str) -> None:
    """A read-only CRM that needs migrations is one clear error, before any transaction begins."""
    if getattr(db, "read_only", False):
        raise ReadOnly(
            f"{shown_as} is read-only and needs schema migrations before this crmkit can use it; "
            f"make the file writable once (or run `crmkit migrate` as its owner)"
        )


def _migrate(db, sets: list, owners: dict[int, str]) -> None:
    """Apply the pending migrations of ``sets`` (the core's and the plugins', ``owners`` naming
    each plugin's set), inside the transaction of the open that calls it."""
    with store.transaction(db):
        for m_set in sets:
            try:
                m_set.apply(db)
            except Exception as error:
                if id(m_set) in owners:  # a plugin's migration: name the plugin, as every hook error does
                    raise PluginError(owners[id(m_set)], "crmkit_migrations", error) from error
                raise CrmError(f"migration set {m_set.name!r} failed: {error}; the file was left as it was") from error


def _pending(db, m_set, shown_as: str) -> list:
    """The migrations of ``m_set`` not yet applied, from one read of the migrations table.

    A CRM whose table records migrations of ``m_set`` that this crmkit does not know was written
    by a newer crmkit: refused (:class:`NewerSchema`), naming both schema versions, before any write.
    """
    applied = [m.name for m in m_set.applied(db)]
    # Both crmkit's and sqlite-utils' sets keep their registered list as ``_migrations``.
    known = [m.name for m in m_set._migrations]
    if not set(applied) <= set(known):
        from . import __version__

        raise NewerSchema(
            f"{shown_as} was written by a newer crmkit: its {m_set.name!r} schema is at version "
            f"{len(applied)} ({applied[-1]}), this crmkit {__version__} knows version {len(known)} "
            f"({known[-1] if known else 'none'}); upgrade crmkit to open it"
        )
    done = set(applied)
    return [m for m in m_set._migrations if m.name not in done]


class TimezoneChanged(UserWarning):
    """The home time zone changed: day-based figures count in the new zone."""


def _fix_calendar(db, timezone: str | None, first_weekday: int | str | None) -> None:
    """Store the home zone and first weekday of a new CRM; an existing CRM keeps its own."""
    wanted = {}
    if timezone is not None:
        wanted["core.timezone"] = zone_named(timezone).key
    if first_weekday is not None:
        wanted["core.first_weekday"] = WEEKDAYS[weekday_number(first_weekday)]
    rows = dict(db.execute("SELECT key, value FROM settings WHERE key IN ('core.timezone', 'core.first_weekday')").fetchall())
    fresh = db.execute("SELECT COUNT(*) FROM customers").fetchone()[0] == 0 and "core.timezone" not in rows
    for key, value in wanted.items():
        if key in rows and json.loads(rows[key]) != value:
            raise CrmError(
                f"this CRM's {key[5:]} is {json.loads(rows[key])}; change it with `crmkit timezone DB` "
                "(crm.set_timezone), not when opening"
            )
        if key not in rows and not fresh and key == "core.timezone" and value != DEFAULT_ZONE:
            raise CrmError(
                f"this CRM already holds data counted in UTC; change its zone with `crmkit timezone DB {value}`"
            )
    missing = {key: value for key, value in wanted.items() if key not in rows}
    if missing:
        with store.transaction(db):
            for key, value in missing.items():
                db.execute("INSERT INTO settings(key, value) VALUES (?, ?)", [key, json.dumps(value)])


# The columns the core reads by name from its most used tables (see crmkit.migrations).
_CORE_COLUMNS = {
    "settings": ("key", "value"),
    "customers": (
        "id", "external_id", "name", "email", "email_norm", "phone", "phone_norm", "address", "region",
        "company", "industry", "size", "source", "owner", "stage", "tags", "attributes", "created_at",
        "updated_at", "forgotten_at",
    ),
    "interactions": (
        "id", "customer_id", "kind", "channel", "occurred_at", "amount", "product", "category", "rep",
        "notes", "data", "recorded_at", "external_key",
    ),
}


def _check_core_columns(db, shown_as: str) -> None:
    """A CRM whose core tables lost a column (renamed or dropped by another tool) is one clear
    error at opening, not a KeyError deep in whatever command reads it first."""
    for table, expected in _CORE_COLUMNS.items():
        present = set(db.columns_of(table))
        missing = [column for column in expected if column not in present]
        if missing:
            raise CrmError(
                f"{shown_as} does not have the schema this crmkit expects: table {table} has no column "
                f"{', '.join(missing)} (renamed or removed by another tool?); restore it from a backup"
            )


def _fix_currency(db, currency: str | None) -> None:
    row = db.execute("SELECT value FROM settings WHERE key = 'core.currency'").fetchone()
    if row is None:
        code = (currency or DEFAULT_CURRENCY).upper()
        exponent_of(code)
        with store.transaction(db):
            db.execute("INSERT INTO settings(key, value) VALUES ('core.currency', ?)", [json.dumps(code)])
    elif currency is not None and json.loads(row[0]) != currency.upper():
        raise CrmError(f"this CRM keeps money in {json.loads(row[0])}; it cannot be opened as {currency.upper()}")
