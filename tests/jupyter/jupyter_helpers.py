"""Shared pieces of the Jupyter extension's tests: the small shop and a test plugin."""

from __future__ import annotations

from crmkit import Field, Panel, hookimpl

N_CUSTOMERS = 30


def shop_rows():
    """Customer i (1..30): region EU when i is a multiple of 3, else US; company Acme when i is a
    multiple of 5. Each bought 10*i.00 on 2024-11-01; multiples of 10 got 5.00 refunded."""
    customers = [
        {"name": f"Customer {i:02d}", "email": f"c{i}@example.com", "region": "EU" if i % 3 == 0 else "US",
         "company": "Acme" if i % 5 == 0 else None, "owner": "rep1" if i % 2 else "rep2"}
        for i in range(1, N_CUSTOMERS + 1)
    ]
    interactions = [{"customer_id": i, "kind": "purchase", "amount": f"{10 * i}.00", "occurred_at": "2024-11-01"}
                    for i in range(1, N_CUSTOMERS + 1)]
    interactions += [{"customer_id": i, "kind": "refund", "amount": "5.00", "occurred_at": "2024-11-15"}
                     for i in range(10, N_CUSTOMERS + 1, 10)]
    return customers, interactions


def fill(crm):
    customers, interactions = shop_rows()
    crm.customers.add_many(customers)
    crm.interactions.record_many(interactions)
    return crm


class FactsPlugin:
    """A test plugin adding one field per type the 360° view formats, and one panel."""

    name = "facts"

    @hookimpl
    def crmkit_fields(self, crm):
        return [
            Field("big_spender", "bool", "Net spend of 200 or more.", "COALESCE(s.net_spend, 0) >= 20000"),
            Field("spend_doubled", "money", "Twice the net spend.", "COALESCE(s.net_spend, 0) * 2"),
            Field("tier_name", "text", "A tier by region.", "CASE c.region WHEN 'EU' THEN 'gold' ELSE 'silver' END"),
        ]

    @hookimpl
    def crmkit_panels(self, crm):
        import ipywidgets

        return [Panel("facts", "Facts", lambda crm: ipywidgets.HTML("facts panel"), order=50)]


def admin_count(crm, table: str) -> int:
    return crm.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
