"""The leads plugin's tables, as one ``Migrations`` set. Append; never edit."""

from __future__ import annotations

from crmkit import Migrations
from crmkit.engine import Database

migrations = Migrations("crmkit_leads")


@migrations()
def m001_leads_tables(db: Database) -> None:
    """Reps, leads, assignment spells, allocation rules and the score model."""
    db.execute(
        """CREATE TABLE leads_reps (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            team TEXT,
            industries TEXT NOT NULL DEFAULT '[]',
            products TEXT NOT NULL DEFAULT '[]',
            languages TEXT NOT NULL DEFAULT '[]',
            experience INTEGER NOT NULL DEFAULT 1,
            capacity INTEGER NOT NULL,
            claim_limit INTEGER,
            active INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX ix_leads_reps_team ON leads_reps(team)")
    # One row per lead; the lead IS the customer (stage 'prospect' while open), so the primary
    # key is the customer id.
    db.execute(
        """CREATE TABLE leads_leads (
            customer_id INTEGER PRIMARY KEY REFERENCES customers(id),
            status TEXT NOT NULL DEFAULT 'pool',
            stage TEXT,
            priority INTEGER NOT NULL DEFAULT 0,
            needs TEXT,
            product TEXT,
            language TEXT,
            lead_class TEXT NOT NULL DEFAULT 'default',
            owner TEXT REFERENCES leads_reps(id),
            assigned_at TEXT,
            first_followed_up_at TEXT,
            last_followed_up_at TEXT,
            recycle_at TEXT,
            extensions INTEGER NOT NULL DEFAULT 0,
            protected INTEGER NOT NULL DEFAULT 0,
            protected_by TEXT,
            protected_reason TEXT,
            previous_owner TEXT,
            cooldown_until TEXT,
            recycles INTEGER NOT NULL DEFAULT 0,
            lost_reason TEXT,
            closed_at TEXT,
            received_at TEXT NOT NULL,
            score REAL,
            scored_at TEXT
        )"""
    )
    db.execute("CREATE INDEX ix_leads_status_recycle ON leads_leads(status, recycle_at)")
    db.execute("CREATE INDEX ix_leads_owner_status ON leads_leads(owner, status)")
    db.execute("CREATE INDEX ix_leads_received ON leads_leads(received_at)")
    # Who had which lead, from when to when, how it came and how it went: the lead's history,
    # the reps' track record, daily claim counts and cooldowns all read this table.
    db.execute(
        """CREATE TABLE leads_assignments (
            id INTEGER PRIMARY KEY,
            lead_id INTEGER NOT NULL REFERENCES customers(id),
            rep_id TEXT NOT NULL,
            how TEXT NOT NULL,
            reason TEXT,
            started_at TEXT NOT NULL,
            first_follow_up_at TEXT,
            ended_at TEXT,
            end_how TEXT,
            end_reason TEXT
        )"""
    )
    db.execute("CREATE INDEX ix_leads_assignments_lead ON leads_assignments(lead_id, started_at)")
    db.execute("CREATE INDEX ix_leads_assignments_rep ON leads_assignments(rep_id, started_at)")
    db.execute(
        "CREATE UNIQUE INDEX ix_leads_assignments_open ON leads_assignments(lead_id) WHERE ended_at IS NULL"
    )
    db.execute(
        """CREATE TABLE leads_rules (
            id INTEGER PRIMARY KEY,
            position INTEGER NOT NULL,
            name TEXT NOT NULL UNIQUE,
            rule TEXT NOT NULL,
            team TEXT,
            reps TEXT NOT NULL DEFAULT '[]',
            created_at TEXT NOT NULL
        )"""
    )
    # The trained naive-Bayes model behind lead_score: one row per (feature, value); value NULL
    # holds the weight of values never seen in training.
    db.execute(
        """CREATE TABLE leads_model (
            feature TEXT NOT NULL,
            value TEXT,
            won INTEGER NOT NULL,
            lost INTEGER NOT NULL,
            weight REAL NOT NULL
        )"""
    )
    db.execute("CREATE UNIQUE INDEX ix_leads_model ON leads_model(feature, value)")


@migrations()
def m002_reps_are_users(db: Database) -> None:
    """Every rep is a user of the CRM (the core's one staff list): reps without one get a user
    with role ``rep``, their name, team and active flag. ``leads_reps`` keeps what allocation
    needs, keyed by the user's id."""
    db.execute(
        "INSERT INTO users(id, name, role, team, active, created_at, updated_at) "
        "SELECT r.id, r.name, 'rep', r.team, r.active, r.created_at, r.updated_at FROM leads_reps r "
        "WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = r.id)"
    )
