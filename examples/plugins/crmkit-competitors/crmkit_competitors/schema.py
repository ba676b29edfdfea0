"""The plugin's tables, as its own sqlite-utils Migrations set."""

from sqlite_utils import Database, Migrations

migrations = Migrations("crmkit_competitors")

POSITIONINGS = ("budget", "mid-market", "premium")
RELATIONS = ("also_serves", "lost_to", "won_from")


@migrations()
def m001_competitors(db: Database) -> None:
    db["competitors_competitors"].create(
        {"id": int, "name": str, "products": str, "positioning": str, "strengths": str,
         "weaknesses": str, "created_at": str},
        pk="id", not_null={"name", "created_at"},
    )
    db["competitors_competitors"].create_index(["name"], unique=True)
    db["competitors_links"].create(
        {"id": int, "customer_id": int, "competitor_id": int, "relation": str, "noted_at": str, "notes": str},
        pk="id", not_null={"customer_id", "competitor_id", "relation", "noted_at"},
        foreign_keys=[("customer_id", "customers", "id"), ("competitor_id", "competitors_competitors", "id")],
    )
    db["competitors_links"].create_index(["customer_id", "relation", "noted_at"])
    db["competitors_links"].create_index(["competitor_id", "relation", "noted_at"])
