"""A small shop whose KPIs are worked out by hand in the tests (see test_kpis.py).

As of 2024-07-01 with a 60-day churn window the period "month" is June 2024 and the previous
period May 2024. Who bought what (amounts in USD):

    A  web       EU  2024-04-10 100.00 books | 2024-06-05 50.00 music (cost 20.00)
    B  referral  EU  2024-05-20 200.00 books (cost 120.00) | refund 2024-06-10 40.00
    C  web       EU  2024-03-15 80.00 books
    D  fair      US  2024-06-20 30.00 toys | 2024-06-25 20.00 toys
    E  web       US  2024-01-10 60.00 books | 2024-06-15 70.00 music
    F  -         -   no purchase (a prospect who answered a survey)
    G  referral  US  2024-04-20 90.00 books
    H  web       EU  2024-06-01T00:00:00 10.00 books | 2024-07-01T00:00:00 999.00 books (after the period)
    I  fair      US  2024-05-31T23:59:59 25.00 books | 2024-06-03 15.00 books
"""

from __future__ import annotations

AS_OF = "2024-07-01"

CUSTOMERS = {
    "A": {"source": "web", "region": "EU"},
    "B": {"source": "referral", "region": "EU"},
    "C": {"source": "web", "region": "EU"},
    "D": {"source": "fair", "region": "US"},
    "E": {"source": "web", "region": "US"},
    "F": {"stage": "prospect"},
    "G": {"source": "referral", "region": "US"},
    "H": {"source": "web", "region": "EU"},
    "I": {"source": "fair", "region": "US"},
}

PURCHASES = [
    ("A", "purchase", "2024-04-10T10:00:00Z", "100.00", "books", None),
    ("A", "purchase", "2024-06-05T10:00:00Z", "50.00", "music", {"cost": "20.00"}),
    ("B", "purchase", "2024-05-20T10:00:00Z", "200.00", "books", {"cost": "120.00"}),
    ("B", "refund", "2024-06-10T10:00:00Z", "40.00", "books", None),
    ("C", "purchase", "2024-03-15T10:00:00Z", "80.00", "books", None),
    ("D", "purchase", "2024-06-20T10:00:00Z", "30.00", "toys", None),
    ("D", "purchase", "2024-06-25T10:00:00Z", "20.00", "toys", None),
    ("E", "purchase", "2024-01-10T10:00:00Z", "60.00", "books", None),
    ("E", "purchase", "2024-06-15T10:00:00Z", "70.00", "music", None),
    ("G", "purchase", "2024-04-20T10:00:00Z", "90.00", "books", None),
    ("H", "purchase", "2024-06-01T00:00:00Z", "10.00", "books", None),
    ("H", "purchase", "2024-07-01T00:00:00Z", "999.00", "books", None),
    ("I", "purchase", "2024-05-31T23:59:59Z", "25.00", "books", None),
    ("I", "purchase", "2024-06-03T10:00:00Z", "15.00", "books", None),
]

ANSWERS = [
    ("F", "survey", "2024-06-10T10:00:00Z", {"score": 5, "topic": "service"}),
    ("A", "survey", "2024-06-12T10:00:00Z", {"score": 3}),
    ("B", "survey", "2024-06-15T10:00:00Z", {"score": 4, "topic": "complaint", "complaint_id": 1}),
    ("D", "feedback", "2024-06-20T10:00:00Z", {"score": 2, "topic": "service"}),
    ("B", "feedback", "2024-06-21T10:00:00Z", {"topic": "service"}),
    ("C", "survey", "2024-05-20T10:00:00Z", {"score": 1}),
]


def load_shop(crm) -> dict[str, int]:
    """Add the customers and interactions above; returns letter -> customer id."""
    ids = {}
    for letter, fields in CUSTOMERS.items():
        ids[letter] = crm.customers.add(name=f"Customer {letter}", **fields).id
    rows = [
        {"customer_id": ids[who], "kind": kind, "occurred_at": at, "amount": amount, "category": category, "data": data or {}}
        for who, kind, at, amount, category, data in PURCHASES
    ]
    rows += [{"customer_id": ids[who], "kind": kind, "occurred_at": at, "data": data} for who, kind, at, data in ANSWERS]
    crm.interactions.record_many(rows)
    crm.reports.configure(churn_days=60)
    return ids
