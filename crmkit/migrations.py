"""The core's schema, as a ``Migrations`` set. Append migrations; never edit one."""

from __future__ import annotations

from .engine import Database
from .engine.migrations import Migrations

core = Migrations("crmkit")


@core()
def m001_core_tables(db: Database) -> None:
    """Customers, interactions, their summary, segments and snapshots, tasks, audit log, settings."""
    db["settings"].create({"key": str, "value": str}, pk="key")
    db["customers"].create(
        {
            "id": int, "external_id": str, "name": str, "email": str, "email_norm": str,
            "phone": str, "phone_norm": str, "address": str, "region": str, "company": str,
            "industry": str, "size": str, "source": str, "owner": str, "stage": str,
            "tags": str, "attributes": str, "created_at": str, "updated_at": str,
            "forgotten_at": str,
        },
        pk="id",
        not_null={"name", "stage", "created_at", "updated_at"},
        defaults={"tags": "[]", "attributes": "{}", "stage": "new"},
    )
    db["customers"].create_index(["external_id"], unique=True)
    for column in ("email_norm", "phone_norm", "owner", "stage", "created_at", "company", "name"):
        db["customers"].create_index([column])

    db["interactions"].create(
        {
            "id": int, "customer_id": int, "kind": str, "channel": str, "occurred_at": str,
            "amount": int, "product": str, "category": str, "rep": str, "notes": str,
            "data": str, "recorded_at": str,
        },
        pk="id",
        not_null={"customer_id", "kind", "occurred_at", "recorded_at"},
        foreign_keys=[("customer_id", "customers", "id")],
    )
    # Covering index: a customer's history in time order, and windowed sums of amounts by kind,
    # answered from the index alone.
    db["interactions"].create_index(
        ["customer_id", "occurred_at", "kind", "amount"], index_name="ix_interactions_customer_time"
    )
    db["interactions"].create_index(["kind", "occurred_at"], index_name="ix_interactions_kind_time")

    db["customer_summary"].create(
        {
            "customer_id": int, "first_purchase_at": str, "last_purchase_at": str,
            "purchases": int, "refunds": int, "net_spend": int, "last_contact_at": str,
            "first_interaction_at": str, "last_interaction_at": str, "interactions": int,
        },
        pk="customer_id",
        foreign_keys=[("customer_id", "customers", "id")],
        defaults={"purchases": 0, "refunds": 0, "net_spend": 0, "interactions": 0},
    )

    db["segments"].create(
        {"name": str, "rule": str, "description": str, "created_at": str, "updated_at": str},
        pk="name",
        not_null={"rule"},
    )
    db["segment_snapshots"].create(
        {"id": int, "segment": str, "rule": str, "as_of": str, "taken_at": str, "members": int},
        pk="id",
    )
    db["segment_snapshots"].create_index(["segment", "as_of"])
    db["segment_snapshot_members"].create(
        {"snapshot_id": int, "customer_id": int},
        pk=("snapshot_id", "customer_id"),
        foreign_keys=[("snapshot_id", "segment_snapshots", "id")],
    )

    db["tasks"].create(
        {
            "id": int, "kind": str, "customer_id": int, "owner": str, "due_at": str,
            "reason": str, "source": str, "status": str, "key": str, "created_at": str,
            "closed_at": str, "data": str,
        },
        pk="id",
        not_null={"kind", "source", "status", "created_at"},
        foreign_keys=[("customer_id", "customers", "id")],
    )
    db["tasks"].create_index(["owner", "status", "due_at"])
    db["tasks"].create_index(["customer_id", "status"])
    # A plugin's task rule may run every day: the key keeps it to one open task per reason.
    db.execute(
        "CREATE UNIQUE INDEX ix_tasks_open_key ON tasks(key) WHERE status = 'open' AND key IS NOT NULL"
    )

    db["audit_log"].create(
        {
            "id": int, "at": str, "actor": str, "action": str, "entity": str, "entity_id": str,
            "before": str, "after": str, "source": str,
        },
        pk="id",
        not_null={"at", "actor", "action", "entity", "source"},
    )
    db["audit_log"].create_index(["entity", "entity_id"])
    db["audit_log"].create_index(["at"])


@core()
def m002_customer_history(db: Database) -> None:
    """Versions of the customer fields rules read (see ``crmkit.history``), valid over
    ``[valid_from, valid_to)``; each existing customer gets its current values, valid from its
    ``created_at``."""
    db.execute(
        "CREATE TABLE customer_history (customer_id INTEGER NOT NULL, valid_from TEXT NOT NULL, "
        "valid_to TEXT, region TEXT, company TEXT, industry TEXT, size TEXT, source TEXT, owner TEXT, "
        "stage TEXT, tags TEXT, attributes TEXT, PRIMARY KEY (customer_id, valid_from))"
    )
    db.execute("CREATE INDEX ix_customer_history_from ON customer_history(valid_from)")
    db.execute(
        "INSERT INTO customer_history(customer_id, valid_from, valid_to, region, company, industry, "
        "size, source, owner, stage, tags, attributes) SELECT id, created_at, NULL, region, company, "
        "industry, size, source, owner, stage, tags, attributes FROM customers"
    )


@core()
def m003_interaction_external_key(db: Database) -> None:
    """An interaction's key in the system it came from (an order number, ...): a row whose key is
    already recorded for the same customer and kind is not recorded again. Null: no key."""
    db["interactions"].add_column("external_key", str)
    db.execute(
        "CREATE UNIQUE INDEX ix_interactions_external_key ON interactions(customer_id, kind, external_key) "
        "WHERE external_key IS NOT NULL"
    )


@core()
def m004_users_and_tokens(db: Database) -> None:
    """Users (the one staff list; see ``crmkit.users``) and their API tokens, stored hashed."""
    db.execute(
        "CREATE TABLE users (id TEXT PRIMARY KEY, name TEXT NOT NULL, email TEXT, "
        "role TEXT NOT NULL DEFAULT 'rep', team TEXT, active INTEGER NOT NULL DEFAULT 1, "
        "created_at TEXT NOT NULL, updated_at TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX ix_users_team ON users(team)")
    db.execute(
        "CREATE TABLE api_tokens (id INTEGER PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users(id), "
        "token_hash TEXT NOT NULL UNIQUE, label TEXT, created_at TEXT NOT NULL, expires_at TEXT, "
        "revoked_at TEXT)"
    )
    db.execute("CREATE INDEX ix_api_tokens_user ON api_tokens(user_id)")


@core()
def m005_summary_sort_indexes(db: Database) -> None:
    """Lifetime value and last purchase, each with the customer id: the customer list sorted by
    either reads its page from an index instead of sorting every customer."""
    db.execute("CREATE INDEX ix_customer_summary_net_spend ON customer_summary(net_spend, customer_id)")
    db.execute("CREATE INDEX ix_customer_summary_last_purchase ON customer_summary(last_purchase_at, customer_id)")
