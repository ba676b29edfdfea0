"""The hook specifications: the whole contract between the core and every plugin.

A plugin implements any subset of these with ``@crmkit.hookimpl``. An implementation may take
any subset of a hook's arguments, so more context can be passed later without breaking plugins.
Each hook is documented in ``docs/hooks.md`` too; a test keeps the two in step.

Rules every implementation keeps:

* **Batches.** Event hooks receive lists. Update the plugin's tables with one set-based SQL
  statement per batch, never one per row.
* **Transactions.** Event hooks run inside the writing transaction. Raising rolls the whole write
  back; the error reaching the caller is a :class:`crmkit.PluginError` naming the plugin and hook.
* **Idempotence.** ``crmkit_due`` may run twice for the same ``now``; the second run changes
  nothing.
* **Direction.** A plugin never imports another plugin; it sees other plugins' data only through
  hooks, segment fields and the core's tables.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:  # pragma: no cover - imported for type hints only
    from datetime import datetime

    import click

    from .crm import CRM
    from .engine.migrations import Migrations
    from .erasure import Erasure
    from .facts import Fact
    from .fields import Field
    from .kinds import InteractionKind
    from .models import Customer, CustomerChange, Interaction
    from .panels import Panel
    from .permissions import Permission
    from .sections import Section
    from .settings import Setting

hookspec = pluggy.HookspecMarker("crmkit")


# --- set-up: called while a CRM object is being opened --------------------------------------

@hookspec
def crmkit_addhooks(pm: pluggy.PluginManager) -> None:
    """Add the plugin's own hook specifications, for other plugins to implement.

    Called once per plugin manager, before ``check_pending()``. Call
    ``pm.add_hookspecs(module_or_class)``. Implementations of such hooks in other plugins should
    be marked ``@hookimpl(optionalhook=True)`` so that they load when the defining plugin is not
    active.
    """


@hookspec
def crmkit_migrations() -> "Migrations | None":
    """Return the plugin's :class:`crmkit.Migrations` set (a ``sqlite_utils.Migrations`` set,
    sqlite-utils >= 4, works too: same interface, same record).

    The core applies every set when a CRM opens, after its own, all inside one transaction: if
    any migration fails, the file is left exactly as it was. Name the set after the plugin and
    never edit an applied migration; append new ones.
    """


@hookspec
def crmkit_interaction_kinds() -> "list[InteractionKind]":
    """Return the interaction kinds the plugin adds, as :class:`crmkit.InteractionKind`.

    A kind may carry a ``validate(data)`` callable that raises :class:`crmkit.ValidationError`
    for a bad ``data`` payload; it runs for every recorded interaction of that kind. Registering
    a kind that already exists is an error naming both plugins.
    """


@hookspec
def crmkit_extend(crm: "CRM") -> "dict[str, Any]":
    """Return named service objects to attach to the CRM, e.g. ``{"loyalty": LoyaltyService(crm)}``.

    Each becomes an attribute (``crm.loyalty``). A name used by two plugins, or by the core, is an
    error naming both.
    """


@hookspec
def crmkit_fields(crm: "CRM") -> "list[Field]":
    """Return fields usable in segment rules and report breakdowns, as :class:`crmkit.Field`.

    A field's ``sql`` is an SQL expression with one value per customer: the customer row is
    aliased ``c`` and the evaluation time is the named parameter ``:as_of`` (ISO-8601 UTC text).
    Values must never be spliced into the text; use ``params`` for constants.
    """


@hookspec
def crmkit_settings(crm: "CRM") -> "list[Setting]":
    """Return the plugin's settings a person may change, as :class:`crmkit.settings.Setting`.

    Keys start with the plugin's name (``leads.cooldown_days``). Each carries a description, its
    default and a ``check(value)`` that returns the value to store or raises
    :class:`crmkit.ValidationError`; ``apply(crm, value)`` writes it when more than the setting
    must change (e.g. recomputed deadlines). ``crm.settings.change`` and ``crmkit config set`` use
    them, so a bad key or value is refused before anything is written.
    """


# --- events: called inside the writing transaction, always with batches -----------------------

@hookspec
def crmkit_customers_added(crm: "CRM", customers: "list[Customer]") -> None:
    """Customers were added (a single add is a batch of one). Runs inside the transaction.

    The batch is in id order, its ids consecutive: ``customers[0].id`` to ``customers[-1].id``
    bound an ``id BETWEEN ? AND ?`` query. A large batch's records are built as they are read.
    """


@hookspec
def crmkit_customers_updated(crm: "CRM", changes: "list[CustomerChange]") -> None:
    """Customers were changed; each :class:`crmkit.CustomerChange` holds ``before`` and ``after``."""


@hookspec
def crmkit_interactions_recorded(crm: "CRM", interactions: "list[Interaction]") -> None:
    """Interactions were recorded: one call per batch (``record`` is a batch of one).

    The batch is in the ``interactions`` table already, with ids, in id order: the first and
    last ids bound an ``id BETWEEN ? AND ?`` query for set-based work. A large batch's records
    are built as they are read, so a plugin that needs only some of them (a kind, say) asks
    the database over that id range rather than reading every record. A large import folds
    the per-customer summary at its end: a hook that reads ``customer_summary`` calls
    ``crm.interactions.update_summary()`` first.
    """


@hookspec
def crmkit_bulk_load_tables(crm: "CRM") -> "list[str]":
    """Return the plugin's tables that a large import fills a row or more per imported row.

    While an import as large as the CRM's interactions runs on SQLite, such a table's plain
    indexes (not unique, not partial) are dropped and built once at the end, as the core's own
    are: rows arriving scattered over an index cost several times as much as building it. A
    hook that looks the table's rows up by such an index during the load calls
    :func:`crmkit.store.restore_deferred_indexes` first. PostgreSQL keeps every index up.
    """


@hookspec
def crmkit_customer_forgotten(crm: "CRM", customer_id: int, erasure: "Erasure") -> None:
    """Erase the plugin's personal data about the customer (right to erasure).

    Keep non-personal figures (amounts, dates) so that aggregates still add up; remove or blank
    names and contact details. Free text your rows hold about the customer (reasons, notes,
    descriptions, the before/after of your audit entries) must lose the values that identified
    them: ``erasure`` (a :class:`crmkit.erasure.Erasure`) holds those values as they were before
    the core blanked the row, and scrubs them with ``erasure.scrub_rows(table, columns, where,
    params)`` and ``erasure.scrub_audit(entity, ids)``; ``erasure.people`` also lists the ids of
    duplicates merged into the customer. Implementations written before ``erasure`` existed
    (taking ``crm, customer_id``) keep working. Runs inside the transaction of ``crm.forget``.
    """


@hookspec
def crmkit_customers_merged(crm: "CRM", kept_id: int, merged_id: int) -> None:
    """Move the plugin's rows of the duplicate ``merged_id`` onto ``kept_id``.

    Called inside ``crm.customers.merge`` after the core moved interactions and tasks and before
    the duplicate's row is deleted: rows left pointing at ``merged_id`` would block the delete.
    """


# --- work and output ------------------------------------------------------------------------

@hookspec
def crmkit_due(crm: "CRM", now: "datetime") -> "Any":
    """Do the plugin's scheduled work as of ``now``: recycle, escalate, warn, create tasks.

    Must be idempotent for the same ``now``. Runs in its own transaction per plugin; return a
    small JSON-ready summary (e.g. ``{"tasks_created": 3}``) that ``crmkit due`` prints.
    """


@hookspec
def crmkit_report_sections(crm: "CRM", as_of: "datetime") -> "list[Section]":
    """Return the sections the plugin contributes to reports, as :class:`crmkit.Section`.

    A section that raises is shown in the report as failed, with its error; it does not stop
    the report.
    """


@hookspec
def crmkit_customer_facts(crm: "CRM", customer_ids: "list[int]", as_of: "datetime") -> "list[Fact]":
    """Return what the plugin knows about a batch of customers, as :class:`crmkit.facts.Fact`.

    ``customer_ids`` are existing customers (a profile page asks for one, a list page for a
    page of them); answer with one set-based query per kind of fact, never one per customer.
    Give each fact for every customer asked, with ``value=None`` where there is nothing to say,
    so a profile shows the same rows for everyone. Values are as of ``as_of``. The core fills in
    ``plugin``; ``crm.customers.facts(ids)`` gathers every plugin's facts.
    """


@hookspec
def crmkit_panels(crm: "CRM") -> "list[Panel]":
    """Return dashboard panels as :class:`crmkit.Panel` (a title and a widget factory).

    The factory is called only when its tab is first opened; import ``ipywidgets`` and
    ``crmkit_jupyter`` inside it, never at module level, so the plugin works without Jupyter.
    """


@hookspec
def crmkit_demo_data(crm: "CRM", seed: int, now: "datetime") -> None:
    """Add the plugin's own demo data after ``crmkit demo`` has loaded customers and interactions.

    E.g. sales reps and their leads, tier definitions, complaint handlers. Must be deterministic
    for the same ``seed``; ``now`` is the demo's "today". Runs inside the demo's transaction.
    """


@hookspec
def crmkit_commands(cli: "click.Group") -> None:
    """Add CLI commands or groups to the ``crmkit`` command (``cli.add_command(...)``).

    Commands that use a CRM take the database path as their first argument and open it with
    :func:`crmkit.cli.open_crm`.
    """


# --- people and the HTTP API ------------------------------------------------------------------

@hookspec
def crmkit_permissions() -> "list[Permission]":
    """Return the permissions the plugin's actions need, as :class:`crmkit.Permission`.

    Name them ``<plugin>.<action>`` (``leads.claim``) and say which roles hold them; ``admin``
    holds every permission and an ``analyst`` never holds one marked ``write``. A name declared
    twice is an error naming both plugins. Routes check them with ``require(user, name)``.
    """


@hookspec
def crmkit_routes(crm: "CRM") -> "list[Any]":
    """Return the plugin's HTTP routes for ``crmkit serve``, as a list of ``fastapi.APIRouter``.

    Import FastAPI and ``crmkit_api`` inside the implementation (a plugin's ``routes`` module),
    never at module level, so the plugin works where the server extra is not installed. Each
    route authenticates through ``crmkit_api.toolkit`` (the acting user, their permissions and
    row scope) and calls the plugin's service: no business rule lives in a route. Mount paths
    under ``/<plugin>/``.
    """
