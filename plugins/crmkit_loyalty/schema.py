"""The loyalty plugin's tables, as its own ``Migrations`` set. Append; never edit."""

from __future__ import annotations

from crmkit import Migrations
from crmkit.engine import Database

migrations = Migrations("crmkit_loyalty")
CUSTOMERS = ("customer_id", "customers", "id")


@migrations()
def m001_loyalty_tables(db: Database) -> None:
    """Create all loyalty tables and their indexes.

    Runs: ``loyalty_runs`` (unique on kind, as_of) and the per-run tables ``loyalty_rfm``,
    ``loyalty_scores``, ``loyalty_churn``, ``loyalty_clv`` (each keyed by run_id, customer_id, indexed
    by customer_id, run_id). Tiers: ``loyalty_tiers`` and ``loyalty_tier_history`` (indexed by
    customer_id, as_of and by as_of). Points: the ledger ``loyalty_points`` (unique key; indexes on
    customer_id, occurred_at / interaction_id / kind, expires_at) and ``loyalty_point_allocations``
    (keyed by entry_id, batch_id; indexed by batch_id).
    """
    # Stored runs of computed figures (RFM, loyalty score, churn warnings, CLV), one per kind and as_of.
    db["loyalty_runs"].create(
        {"id": int, "kind": str, "as_of": str, "created_at": str, "params": str, "customers": int},
        pk="id", not_null={"kind", "as_of", "created_at"},
    )
    db["loyalty_runs"].create_index(["kind", "as_of"], unique=True)

    db["loyalty_rfm"].create(
        {
            "run_id": int, "customer_id": int, "recency_days": int, "frequency": int, "monetary": int,
            "r": int, "f": int, "m": int, "code": str, "score": int, "segment": str,
        },
        pk=("run_id", "customer_id"),
        foreign_keys=[("run_id", "loyalty_runs", "id"), CUSTOMERS],
    )
    db["loyalty_rfm"].create_index(["customer_id", "run_id"])

    db["loyalty_scores"].create(
        {
            "run_id": int, "customer_id": int, "score": float, "tenure": float, "repeat": float,
            "rhythm": float, "wallet": float, "satisfaction": float, "referrals": float,
            "retention": float,
        },
        pk=("run_id", "customer_id"),
        foreign_keys=[("run_id", "loyalty_runs", "id"), CUSTOMERS],
    )
    db["loyalty_scores"].create_index(["customer_id", "run_id"])

    db["loyalty_churn"].create(
        {"run_id": int, "customer_id": int, "class": str, "level": str, "score": int, "evidence": str},
        pk=("run_id", "customer_id"),
        foreign_keys=[("run_id", "loyalty_runs", "id"), CUSTOMERS],
    )
    db["loyalty_churn"].create_index(["customer_id", "run_id"])

    db["loyalty_clv"].create(
        {
            "run_id": int, "customer_id": int, "frequency": int, "recency": float, "age": float,
            "monetary": float, "historical": int, "historical_margin": int, "expected_purchases_90d": float, "p_alive": float,
            "expected_spend": int, "clv": int,
        },
        pk=("run_id", "customer_id"),
        foreign_keys=[("run_id", "loyalty_runs", "id"), CUSTOMERS],
    )
    db["loyalty_clv"].create_index(["customer_id", "run_id"])

    # Tier definitions (rank 1 is the lowest tier) and the history of every tier change.
    db["loyalty_tiers"].create(
        {"name": str, "rank": int, "rule": str, "benefits": str, "multiplier_milli": int},
        pk="name", not_null={"rank", "rule", "multiplier_milli"},
    )
    db["loyalty_tier_history"].create(
        {
            "id": int, "customer_id": int, "as_of": str, "from_tier": str, "to_tier": str,
            "direction": str, "reason": str,
        },
        pk="id", not_null={"customer_id", "as_of", "direction"}, foreign_keys=[CUSTOMERS],
    )
    db["loyalty_tier_history"].create_index(["customer_id", "as_of"])
    db["loyalty_tier_history"].create_index(["as_of"])

    # The points ledger: append-only. Positive rows are earned batches; negative rows are
    # redemptions, expiries and clawbacks, each tied to the batches it consumed by allocations.
    db["loyalty_points"].create(
        {
            "id": int, "customer_id": int, "kind": str, "points": int, "occurred_at": str,
            "available_at": str, "expires_at": str, "interaction_id": int, "batch_id": int,
            "key": str, "reason": str, "note": str, "created_at": str,
        },
        pk="id", not_null={"customer_id", "kind", "points", "occurred_at", "created_at"},
        foreign_keys=[CUSTOMERS],
    )
    db["loyalty_points"].create_index(["key"], unique=True)
    db["loyalty_points"].create_index(["customer_id", "occurred_at"])
    db["loyalty_points"].create_index(["interaction_id"])
    db["loyalty_points"].create_index(["kind", "expires_at"])
    db["loyalty_point_allocations"].create(
        {"entry_id": int, "batch_id": int, "points": int},
        pk=("entry_id", "batch_id"),
        foreign_keys=[("entry_id", "loyalty_points", "id"), ("batch_id", "loyalty_points", "id")],
    )
    db["loyalty_point_allocations"].create_index(["batch_id"])


@migrations()
def m002_lean_points_ledger(db: Database) -> None:
    """Slim the earn side of the points ledger: one row per purchase, without what it can read back.

    An ``earn`` row no longer stores its key (``earn:<purchase id>``) or its reason (``purchase
    <id>``, kept only when a tier multiplied the points), and no row stores an ``available_at``
    equal to its ``occurred_at`` (no lock); the reads put them back (``queries.LEDGER_COLUMNS``),
    so balances, entries, debits and expiry read exactly as before. Indexes: the key is unique
    where there is one; a purchase earns once by a unique index on ``interaction_id`` of earn
    rows; keyed rows (bonus, clawback) are found by ``interaction_id``; a customer's rows by
    ``customer_id`` alone (a customer's rows are few; the time is in the row); expire entries by
    ``batch_id``. Measured on a 100,000-purchase import: the ledger and its indexes take 11.3 MB
    instead of 23.7 MB.
    """
    db.execute("UPDATE loyalty_points SET key = NULL WHERE kind = 'earn' AND key = 'earn:' || interaction_id")
    db.execute("UPDATE loyalty_points SET reason = NULL WHERE kind = 'earn' AND reason = 'purchase ' || interaction_id")
    db.execute("UPDATE loyalty_points SET available_at = NULL WHERE available_at = occurred_at")
    for name in ("key", "customer_id_occurred_at", "interaction_id", "kind_expires_at"):
        db.execute(f"DROP INDEX idx_loyalty_points_{name}")
    db.execute("CREATE UNIQUE INDEX idx_loyalty_points_key ON loyalty_points (key) WHERE key IS NOT NULL")
    db.execute("CREATE UNIQUE INDEX idx_loyalty_points_earned ON loyalty_points (interaction_id) WHERE kind = 'earn'")
    db.execute(
        "CREATE INDEX idx_loyalty_points_keyed_interaction ON loyalty_points (interaction_id) "
        "WHERE key IS NOT NULL AND interaction_id IS NOT NULL"
    )
    db["loyalty_points"].create_index(["customer_id"])
    db.execute("CREATE INDEX idx_loyalty_points_expire ON loyalty_points (batch_id) WHERE kind = 'expire'")
