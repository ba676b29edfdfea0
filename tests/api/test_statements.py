"""How many statements the HTTP API sends the database per request (both engines).

On a server every statement sent on its own is a round trip, so the fixed cost of a request is mostly its count
of statements; these tests catch a route that starts asking more without timing anything. The
app runs in-process (FastAPI's test client) over the same CRM, and the statements are counted
where they leave for the database: SQLite's trace callback, the PostgreSQL connection's
``execute`` and its transactions (BEGIN and COMMIT). On PostgreSQL the round trips are counted
too: statements sent together in one pipeline (a transaction's BEGIN and write lock with its
first statement, the writes of ``db.pipelined()`` with the next one) wait for the server once.

Nothing is cached between requests: a revoked token, a deactivated user, a changed role and a
customer handed to another rep take effect on the very next request.
"""

from __future__ import annotations

from collections import Counter
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient

import crmkit
from crmkit.testing import FixedClock
from crmkit_api.app import create_app



class Sent(Counter):
    """The statements sent (text -> times), and on PostgreSQL the round trips they took."""

    round_trips = 0


class _CountingConnection:
    """A PostgreSQL connection that counts what it sends (statements, BEGIN, COMMIT) and how
    many times it waits for the server: once per statement, or once per pipeline however many
    statements it carries."""

    def __init__(self, conn, seen: Sent):
        self._conn, self._seen = conn, seen
        self._pipelines = 0

    def __getattr__(self, name):
        return getattr(self._conn, name)

    def _trip(self, count: int = 1) -> None:
        if not self._pipelines:
            self._seen.round_trips += count

    def execute(self, sql, *args, **kwargs):
        self._seen[" ".join(str(sql).split())] += 1
        self._trip()
        return self._conn.execute(sql, *args, **kwargs)

    def cursor(self, *args, **kwargs):  # executemany, COPY (which waits twice: for COPY, for its end)
        self._seen["(cursor)"] += 1
        self._trip(2)
        return self._conn.cursor(*args, **kwargs)

    @contextmanager
    def pipeline(self, *args, **kwargs):
        self._pipelines += 1
        try:
            with self._conn.pipeline(*args, **kwargs) as inner:
                yield inner
        finally:
            self._pipelines -= 1
        self._trip()

    @contextmanager
    def transaction(self, *args, **kwargs):  # a savepoint inside crmkit's transaction
        self._seen["BEGIN"] += 1
        self._trip()
        with self._conn.transaction(*args, **kwargs) as inner:
            yield inner
        self._seen["COMMIT"] += 1
        self._trip()


@contextmanager
def counted(crm):
    """The statements sent to the database while the block runs (a :class:`Sent`)."""
    seen = Sent()
    db = crm.db
    if db.engine == "sqlite":
        def trace(sql: str) -> None:
            if not sql.startswith("--"):  # a trigger's statements are reported as comments
                seen[" ".join(sql.split())] += 1
                seen.round_trips += 1  # none really (SQLite runs in the process): one per statement
        db.conn.set_trace_callback(trace)
        try:
            yield seen
        finally:
            db.conn.set_trace_callback(None)
    else:
        plain = db.conn
        db.conn = _CountingConnection(plain, seen)
        try:
            yield seen
        finally:
            db.conn = plain


@pytest.fixture
def served(tmp_path):
    """(CRM, test client, tokens) over a CRM with an admin, two reps, customers and pool leads."""
    crm = crmkit.open(tmp_path / "team.db", plugins=["leads"], clock=FixedClock("2025-03-03T10:00:00Z"))
    crm.users.add("root", "Root", role="admin")
    crm.leads.add_rep("rita", "Rita", capacity=50, claim_limit=20)
    crm.leads.add_rep("ron", "Ron", capacity=50, claim_limit=20)
    tokens = {user: crm.users.issue_token(user)[1] for user in ("root", "rita", "ron")}
    for n in range(60):
        crm.customers.add(name=f"Customer {n}", owner=("rita", "ron", None)[n % 3])
    crm.leads.add_many([{"name": f"Lead {n}"} for n in range(6)])
    with TestClient(create_app(crm)) as client:
        yield crm, client, tokens
    crm.close()


def _get(client, token, path):
    return client.get(path, headers={"Authorization": f"Bearer {token}"})


def _post(client, token, path, body=None):
    return client.post(path, headers={"Authorization": f"Bearer {token}"}, json=body)


def _ids(crm, sql, params=()):
    return [row[0] for row in crm.db.execute(sql, list(params))]


def test_reading_a_customer_takes_four_statements(served):
    crm, client, tokens = served
    rita_customer = _ids(crm, "SELECT id FROM customers WHERE owner = 'rita' ORDER BY id LIMIT 1")[0]
    for token in (tokens["root"], tokens["rita"]):  # an admin's and a rep's (scoped) read cost alike
        with counted(crm) as seen:
            response = _get(client, token, f"/customers/{rita_customer}")
        assert response.status_code == 200 and response.json()["owner"] == "rita"
        # the token with its user, the customer (its owner answers the scope), and the facts
        assert sum(seen.values()) <= 4, seen


def test_a_page_of_customers_takes_three_statements(served):
    crm, client, tokens = served
    with counted(crm) as seen:
        response = _get(client, tokens["rita"], "/customers?limit=10&offset=10")
    expected = _ids(crm, "SELECT id FROM customers WHERE owner = 'rita' OR owner IS NULL ORDER BY id LIMIT 10 OFFSET 10")
    assert [item["id"] for item in response.json()["items"]] == expected
    # the token with its user, the log's horizons (for as_of), the page
    assert sum(seen.values()) <= 3, seen


def test_a_claim_takes_seven_statements_one_more_for_the_servers_lock_in_four_round_trips(served):
    crm, client, tokens = served
    pool = _ids(crm, "SELECT customer_id FROM leads_leads WHERE status = 'pool' ORDER BY customer_id")
    with counted(crm) as seen:
        response = _post(client, tokens["rita"], f"/leads/{pool[0]}/claim")
    assert response.status_code == 200, response.text
    assert response.json()["owner"] == "rita" and response.json()["status"] == "assigned"
    row = next(crm.db.query("SELECT status, owner, recycle_at FROM leads_leads WHERE customer_id = ?", [pool[0]]))
    assert (row["status"], row["owner"]) == ("assigned", "rita")
    assert response.json()["recycle_at"] == row["recycle_at"]  # the answer is the stored row
    # token; BEGIN; the lead with the rep, their load, claims today and the options; the update;
    # the assignment spell; the audit entry; COMMIT (PostgreSQL: and the write lock)
    budget = 7 + (1 if crm.db.engine == "postgresql" else 0)
    assert sum(seen.values()) <= budget, seen
    if crm.db.engine == "postgresql":
        # waits on the server: the token; BEGIN, the write lock and the checks, together; the
        # update; the spell, the entry and COMMIT, together (they were nine: one per statement,
        # two for the entry's COPY)
        assert seen.round_trips <= 4, (seen.round_trips, seen)


def test_a_refused_claim_writes_nothing(served):
    crm, client, tokens = served
    pool = _ids(crm, "SELECT customer_id FROM leads_leads WHERE status = 'pool' ORDER BY customer_id")
    crm.leads.configure(daily_claim_cap=1)  # the stored option, for a rep without a limit of their own
    crm.leads.add_rep("rex", "Rex", capacity=50)
    token = crm.users.issue_token("rex")[1]
    assert _post(client, token, f"/leads/{pool[0]}/claim").status_code == 200
    before = _ids(crm, "SELECT count(*) FROM leads_assignments")
    refused = _post(client, token, f"/leads/{pool[1]}/claim")
    assert refused.status_code == 409
    assert "daily claim limit (1 of 1 today)" in refused.json()["detail"]
    assert _ids(crm, "SELECT count(*) FROM leads_assignments") == before
    assert _ids(crm, "SELECT status FROM leads_leads WHERE customer_id = ?", [pool[1]]) == ["pool"]
    missing = _post(client, token, "/leads/999999/claim")
    assert missing.status_code == 404 and missing.json()["detail"] == "no lead with id 999999"


def test_nothing_is_cached_between_requests(served):
    crm, client, tokens = served
    customer = _ids(crm, "SELECT id FROM customers WHERE owner = 'rita' ORDER BY id LIMIT 1")[0]
    assert _get(client, tokens["rita"], f"/customers/{customer}").status_code == 200
    crm.customers.update(customer, owner="ron")  # handed to another rep: out of rita's scope
    assert _get(client, tokens["rita"], f"/customers/{customer}").status_code == 403
    crm.users.update("rita", role="analyst")  # an analyst reads everything and writes nothing
    assert _get(client, tokens["rita"], f"/customers/{customer}").status_code == 200
    assert _post(client, tokens["rita"], "/customers", {"name": "New"}).status_code == 403
    crm.users.deactivate("rita")
    assert _get(client, tokens["rita"], f"/customers/{customer}").status_code == 401
    assert _get(client, tokens["ron"], f"/customers/{customer}").status_code == 200
    token = next(t for t in crm.users.tokens("ron"))
    crm.users.revoke_token(token.id)
    assert _get(client, tokens["ron"], f"/customers/{customer}").status_code == 401
