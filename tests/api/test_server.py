"""The HTTP API against a real ``crmkit serve`` process on 127.0.0.1 (both engines).

Each role's allowed and refused actions, row scope over every listing route of the OpenAPI
document, problem details, the audit log's actor, concurrent claims and idempotent redemption.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error

import crmkit
from crmkit.engine import parse
from crmkit.engine.redirect import server_for

REPS = [f"rep{n}" for n in range(8)]
PLUGINS = ["leads", "loyalty", "complaints", "reports"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Client:
    """A tiny HTTP client: (status, headers, JSON body) of one request."""

    def __init__(self, base: str, token: str | None = None):
        self.base, self.token = base, token

    def __call__(self, method: str, path: str, body=None, headers: dict | None = None):
        request = urllib.request.Request(self.base + path, method=method, headers=dict(headers or {}))
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        if body is not None:
            request.data = json.dumps(body).encode()
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.headers, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, error.headers, json.loads(error.read() or b"null")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A CRM with users of every role, customers of each rep and the pool, leads and points,
    served by a ``crmkit serve`` subprocess; yields (base URL, tokens by user, CRM path)."""
    path = tmp_path_factory.mktemp("served") / "team.db"
    tokens = {}
    with crmkit.open(path, plugins=PLUGINS) as crm:
        crm.users.add("root", "Root", role="admin")
        crm.users.add("mia", "Mia", role="manager", team="north")
        crm.users.add("ann", "Ann", role="analyst")
        for n, rep in enumerate(REPS):
            crm.leads.add_rep(rep, f"Rep {n}", team="north" if n < 4 else "south", capacity=50, claim_limit=2)
        for user in ["root", "mia", "ann", *REPS]:
            tokens[user] = crm.users.issue_token(user)[1]
        for rep in REPS:
            crm.customers.add(name=f"Customer of {rep}", owner=rep)
        pool_customer = crm.customers.add(name="Pool customer")
        crm.loyalty.points.award(pool_customer.id, 100, key="welcome", reason="welcome gift")
        for n in range(10):
            crm.leads.add(f"Lead {n}")
        crm.complaints.add_handler("rep0")
        crm.complaints.add_handler("rep1")
        # The server is given what the CRM really is: the file, or the server database a
        # PostgreSQL test run puts in its place.
        redirected = server_for(parse(str(path)))
        served = redirected.url if redirected is not None else str(path)
    port = free_port()
    env = dict(os.environ, CRMKIT_PLUGINS=",".join(PLUGINS))
    process = subprocess.Popen(
        [sys.executable, "-c", "from crmkit.cli import main; main()", "serve", served, "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(base + "/openapi.json", timeout=2).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"server did not start: {process.stderr.read().decode()[-2000:]}")
            time.sleep(0.2)
    yield base, tokens, path, pool_customer.id
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="module")
def as_user(server):
    base, tokens, _, _ = server
    return lambda user: Client(base, tokens[user] if user else None)


def owners(items) -> set:
    return {item.get("owner") for item in items}


class TestAuthentication:
    def test_no_or_bad_token_is_401_problem(self, server, as_user):
        for client in (as_user(None), Client(server[0], "crm_not-a-token")):
            status, headers, body = client("GET", "/customers")
            assert status == 401
            assert headers["Content-Type"] == "application/problem+json"
            assert headers["WWW-Authenticate"] == "Bearer"
            assert body["status"] == 401 and body["detail"]

    def test_openapi_document_and_docs_page_are_served(self, server):
        with urllib.request.urlopen(server[0] + "/openapi.json") as response:
            paths = json.loads(response.read())["paths"]
        assert {"/customers", "/leads/pool", "/loyalty/customers/{customer_id}/redeem"} <= set(paths)
        with urllib.request.urlopen(server[0] + "/docs") as response:
            assert b"swagger" in response.read().lower()


class TestRoles:
    def test_rep_sees_only_own_and_pool_customers(self, as_user):
        status, _, body = as_user("rep0")("GET", "/customers?limit=500")
        assert status == 200
        assert owners(body["items"]) == {"rep0", None} and body["total"] == len(body["items"])

    def test_rep_is_refused_another_reps_customer(self, as_user):
        _, _, everyone = as_user("root")("GET", "/customers?rule=owner%20%3D%20%27rep1%27")
        other = everyone["items"][0]["id"]
        client = as_user("rep0")
        assert client("GET", f"/customers/{other}")[0] == 403
        assert client("PATCH", f"/customers/{other}", {"region": "EU"})[0] == 403
        assert client("GET", f"/customers/{other}/interactions")[0] == 403
        assert client("POST", "/customers", {"name": "Gift", "owner": "rep1"})[0] == 403
        status, headers, body = client("GET", f"/customers/{other}")
        assert headers["Content-Type"] == "application/problem+json"
        assert "outside the scope of user 'rep0'" in body["detail"]

    def test_only_the_first_page_counts_the_total_unless_asked(self, as_user):
        client = as_user("rep0")
        everything = client("GET", "/customers?limit=500")[2]["items"]
        first = client("GET", "/customers?limit=1")[2]
        assert first["total"] == len(everything) and len(first["items"]) == 1
        later = client("GET", "/customers?limit=1&offset=1")[2]
        assert "total" not in later and later["items"] == everything[1:2]
        assert client("GET", "/customers?limit=1&offset=1&total=true")[2]["total"] == len(everything)
        assert "total" not in client("GET", "/customers?limit=1&total=false")[2]

    def test_manager_sees_team_and_pool(self, as_user):
        _, _, body = as_user("mia")("GET", "/customers?limit=500")
        assert owners(body["items"]) == {None, "rep0", "rep1", "rep2", "rep3"}

    def test_analyst_reads_all_and_writes_nothing(self, as_user):
        client = as_user("ann")
        _, _, body = client("GET", "/customers?limit=500")
        assert owners(body["items"]) == {None, *REPS}
        first = body["items"][0]["id"]
        for method, path, payload in [
            ("POST", "/customers", {"name": "Nope"}), ("PATCH", f"/customers/{first}", {"region": "EU"}),
            ("POST", f"/customers/{first}/interactions", {"kind": "call"}), ("PUT", "/segments/eu", {"rule": "region = 'EU'"}),
            ("POST", "/tasks", {"kind": "call"}), ("POST", "/leads/allocate", None),
        ]:
            status, _, problem = client(method, path, payload)
            assert status == 403, (method, path, problem)
            assert "(analyst) may not" in problem["detail"]
        assert client("GET", "/audit")[0] == 200

    def test_rep_may_not_read_the_audit_log_or_merge(self, as_user):
        client = as_user("rep0")
        assert client("GET", "/audit")[0] == 403
        assert client("POST", "/customers/1/merge", {"duplicate_id": 2})[0] == 403

    def test_every_write_names_its_user_in_the_audit_log(self, as_user):
        status, _, made = as_user("rep3")("POST", "/customers", {"name": "Walk-in", "owner": "rep3"})
        assert status == 201
        as_user("rep3")("POST", f"/customers/{made['id']}/interactions", {"kind": "call", "notes": "hello"})
        _, _, log = as_user("root")("GET", f"/audit?entity=customer&entity_id={made['id']}")
        assert log["items"] and {e["actor"] for e in log["items"]} == {"rep3"}

    def test_bad_input_is_a_problem_with_the_clis_message(self, as_user):
        status, headers, body = as_user("root")("GET", "/customers?rule=nonsense%20%3E%201")
        assert status == 422 and headers["Content-Type"] == "application/problem+json"
        assert "unknown field 'nonsense'" in body["detail"]
        status, _, body = as_user("root")("GET", "/customers/999999")
        assert status == 404 and "999999" in body["detail"]


class TestScopeOverEveryRoute:
    """Every GET route of the OpenAPI document, called by a rep for every customer: no other
    rep's customer or lead comes back (routes are taken from the document, not picked by hand)."""

    def test_no_other_reps_data(self, server, as_user):
        base = server[0]
        with urllib.request.urlopen(base + "/openapi.json") as response:
            paths = [p for p, ops in json.loads(response.read())["paths"].items() if "get" in ops]
        _, _, everyone = as_user("root")("GET", "/customers?limit=500")
        ids = [c["id"] for c in everyone["items"]]
        others = {c["id"] for c in everyone["items"] if c["owner"] not in (None, "rep0")}
        client = as_user("rep0")
        checked = 0
        for path in paths:
            fills = [path.replace("{customer_id}", str(i)) for i in ids] if "{customer_id}" in path else [path]
            for concrete in fills:
                if "{" in concrete:
                    continue
                status, _, body = client("GET", concrete)
                text = json.dumps(body)
                if status == 200:
                    checked += 1
                    assert not any(f'"Customer of rep{n}"' in text for n in range(1, 8)), concrete
                    assert not any(f'"owner": "rep{n}"' in text for n in range(1, 8)), concrete
                else:
                    assert status in (403, 404, 422), (concrete, status, body)
                    if "{customer_id}" in path and int(concrete.split("/")[2 if concrete.startswith("/customers") else 3]) in others:
                        assert status == 403, concrete
        assert checked > 5


class TestConcurrentClaims:
    def test_eight_reps_claiming_at_once_break_no_limit(self, server, as_user):
        _, _, pool = as_user("root")("GET", "/leads/pool?limit=500")
        lead_ids = [lead["id"] for lead in pool["items"]]
        assert len(lead_ids) == 10

        def claims(rep):
            client = as_user(rep)
            return [client("POST", f"/leads/{lead}/claim") for lead in lead_ids]

        with ThreadPoolExecutor(len(REPS)) as workers:
            answers = [a for result in workers.map(claims, REPS) for a in result]
        statuses = [status for status, _, _ in answers]
        assert set(statuses) <= {200, 409}, [body for status, _, body in answers if status not in (200, 409)][:3]
        with crmkit.open(server[2], plugins=PLUGINS) as crm:
            held = {rep: len(crm.leads.leads(owner=rep, limit=100)) for rep in REPS}
            pooled = len(crm.leads.pool(limit=100))
        # Each lead went to at most one rep, no rep exceeded its daily claim limit of 2, and
        # with 16 possible claims for 10 leads every lead was taken.
        assert statuses.count(200) == sum(held.values()) == 10
        assert max(held.values()) <= 2 and pooled == 0


class TestIdempotentRedemption:
    def test_a_repeated_key_returns_the_first_result(self, server, as_user):
        customer = server[3]
        client = as_user("rep5")
        first = client("POST", f"/loyalty/customers/{customer}/redeem", {"points": 30}, {"Idempotency-Key": "order-1"})
        again = client("POST", f"/loyalty/customers/{customer}/redeem", {"points": 30}, {"Idempotency-Key": "order-1"})
        assert first[0] == again[0] == 200
        assert first[2]["entry"] == again[2]["entry"]
        assert first[2]["balance"] == again[2]["balance"] == 70
        status, _, body = client("POST", f"/loyalty/customers/{customer}/redeem", {"points": 40}, {"Idempotency-Key": "order-1"})
        assert status == 409 and body["detail"]
        assert client("POST", f"/loyalty/customers/{customer}/redeem", {"points": 30})[0] == 422
        assert client("GET", f"/loyalty/customers/{customer}/points")[2]["balance"] == 70


class TestRoutesOverTheServices:
    """Routes added over existing services: each one's answer, and its refusal as a problem
    document carrying the service's (the CLI's) message."""

    def test_a_customer_comes_with_the_plugins_facts(self, as_user):
        root = as_user("root")
        made = root("POST", "/customers", {"name": "Fact check"})[2]
        for _ in range(2):
            assert root("POST", "/complaints", {"customer_id": made["id"]})[0] == 201
        status, _, body = root("GET", f"/customers/{made['id']}")
        assert status == 200 and body["name"] == "Fact check"
        facts = {(f["plugin"], f["name"]): f["value"] for f in body["facts"]}
        assert {plugin for plugin, _ in facts} >= {"loyalty", "complaints"}
        # two complaints opened just now, no points ever awarded
        assert [v for (plugin, name), v in facts.items() if plugin == "complaints" and "open" in name] == [2]
        assert [v for (plugin, name), v in facts.items() if plugin == "loyalty" and "point" in name] in ([0], ["0"])
        assert as_user(None)("GET", f"/customers/{made['id']}")[0] == 401

    def test_importing_interactions_is_all_or_nothing(self, server, as_user):
        root = as_user("root")
        _, _, listed = root("GET", "/customers?rule=owner%20%3D%20%27rep6%27")
        customer = listed["items"][0]["id"]

        def calls() -> int:
            return len(root("GET", f"/customers/{customer}/interactions?limit=500")[2]["items"])

        before = calls()
        good = f"customer_id,kind,occurred_at,notes\n{customer},call,2024-05-01T10:00:00Z,first\n{customer},call,2024-05-02T10:00:00Z,second\n"
        status, _, result = post_bytes(root, "/interactions/import?format=csv", good.encode())
        assert status == 200 and result["added"] == 2 and result["rows"] == 2
        assert calls() == before + 2
        bad = f"customer_id,kind,occurred_at\n{customer},call,2024-05-03T10:00:00Z\n{customer},call,not a time\n999999,call,2024-05-03T10:00:00Z\n"
        status, headers, problem = post_bytes(root, "/interactions/import?format=csv", bad.encode())
        assert status == 422 and headers["Content-Type"] == "application/problem+json"
        assert problem["detail"].startswith("import refused: 2 problem(s) in 2 row(s)")
        assert sorted({p["row"] for p in problem["problems"]}) == [3, 4]  # file lines, after the header
        assert calls() == before + 2
        status, _, refused = post_bytes(as_user("rep6"), "/interactions/import?format=csv", good.encode())
        assert status == 403 and "may import only with every customer in scope" in refused["detail"]
        status, _, refused = post_bytes(as_user("ann"), "/interactions/import?format=csv", good.encode())
        assert status == 403 and "(analyst) may not" in refused["detail"]
        status, _, refused = post_bytes(root, "/interactions/import?format=xlsx", b"not a workbook")
        assert status == 400 and refused["detail"]
        assert calls() == before + 2

    def test_recycling_preview_and_allocation_plan_change_nothing(self, server, as_user):
        with crmkit.open(server[2], plugins=PLUGINS) as crm:
            owned = {lead.id: lead.owner for status in ("assigned", "following_up")
                     for lead in crm.leads.leads(status=status, limit=500) if not lead.protected}
            counts = crm.leads.counts()
        assert owned  # the claims above left leads with reps
        status, _, due = as_user("mia")("GET", "/leads/recycling?before=2100-01-01T00:00:00Z&limit=500")
        north = {f"rep{n}" for n in range(4)} | {"mia"}  # mia manages team north: its leads only
        assert {owner for owner in owned.values()} - north  # south's leads exist, and stay hidden
        assert status == 200 and {lead["id"]: lead["owner"] for lead in due["items"]} == {
            i: owner for i, owner in owned.items() if owner in north
        }
        status, _, everyone = as_user("root")("GET", "/leads/recycling?before=2100-01-01T00:00:00Z&limit=500")
        assert status == 200 and {lead["id"]: lead["owner"] for lead in everyone["items"]} == owned
        _, _, mine = as_user("rep0")("GET", "/leads/recycling?before=2100-01-01T00:00:00Z&limit=500")
        assert {lead["id"] for lead in mine["items"]} == {i for i, owner in owned.items() if owner == "rep0"}
        assert as_user("mia")("GET", "/leads/recycling?before=2000-01-01T00:00:00Z")[2]["items"] == []
        status, _, plan = as_user("mia")("POST", "/leads/allocate?dry_run=true")
        assert status == 200 and plan["dry_run"] is True
        assert as_user("rep0")("POST", "/leads/allocate?dry_run=true")[0] == 403
        with crmkit.open(server[2], plugins=PLUGINS) as crm:
            assert crm.leads.counts() == counts

    def test_rfm_and_tiers_in_the_callers_scope(self, server, as_user):
        status, _, problem = as_user("root")("GET", "/loyalty/rfm")
        assert status == 404 and "no stored rfm run" in problem["detail"]
        with crmkit.open(server[2], plugins=PLUGINS) as crm:
            buyers = {}
            for rep, amount in (("rep0", "120.00"), ("rep1", "80.00"), ("rep2", "15.50")):
                customer = crm.customers.add(name=f"Buyer of {rep}", owner=rep)
                crm.interactions.record(customer.id, "purchase", crm.now() - timedelta(days=10), amount=amount)
                buyers[rep] = customer.id
            crm.loyalty.rfm()
            crm.loyalty.tiers.define([{"name": "silver", "rule": "points_balance >= 0"},
                                      {"name": "gold", "rule": "points_balance >= 1000000"}])
        status, _, everyone = as_user("root")("GET", "/loyalty/rfm?limit=500")
        assert status == 200 and set(buyers.values()) <= {s["customer_id"] for s in everyone["items"]}
        spent = {s["customer_id"]: s["monetary"] for s in everyone["items"]}
        assert [spent[buyers[r]] for r in ("rep0", "rep1", "rep2")] == ["120.00", "80.00", "15.50"]
        _, _, mine = as_user("rep0")("GET", "/loyalty/rfm?limit=500")
        assert buyers["rep0"] in {s["customer_id"] for s in mine["items"]}
        assert not {buyers["rep1"], buyers["rep2"]} & {s["customer_id"] for s in mine["items"]}
        status, _, tiers = as_user("rep0")("GET", "/loyalty/tiers")
        assert status == 200 and [t["name"] for t in tiers["items"]] == ["gold", "silver"]
        assert as_user(None)("GET", "/loyalty/tiers")[0] == 401


def post_bytes(client: Client, path: str, content: bytes):
    """POST raw bytes (an uploaded file) with the client's token."""
    request = urllib.request.Request(client.base + path, method="POST", data=content,
                                     headers={"Content-Type": "application/octet-stream"})
    request.add_header("Authorization", f"Bearer {client.token}")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.headers, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, error.headers, json.loads(error.read() or b"null")


class TestPluginRoutes:
    def test_complaints_open_step_pause_and_a_reps_queue(self, as_user):
        _, _, listed = as_user("rep0")("GET", "/customers?rule=owner%20%3D%20%27rep0%27")
        customer = listed["items"][0]["id"]
        status, _, opened = as_user("rep0")("POST", "/complaints", {"customer_id": customer, "severity": "high"})
        assert status == 201
        status, _, stepped = as_user("rep0")("POST", f"/complaints/{opened['id']}/steps/acknowledge", {})
        assert status == 200 and stepped["status"] != opened["status"]
        assert as_user("rep0")("POST", f"/complaints/{opened['id']}/pause", {"reason": "waiting for photos"})[0] == 200
        assert as_user("rep2")("POST", f"/complaints/{opened['id']}/pause", {"reason": "x"})[0] == 403
        _, _, queue = as_user("rep1")("GET", "/complaints/queue")
        assert all(item.get("owner") == "rep1" for item in queue["items"])
        assert as_user("ann")("POST", "/complaints", {"customer_id": customer})[0] == 403

    def test_reading_the_churn_list_stores_no_churn_run(self, server, as_user):
        """GET /loyalty/churn lists the newest stored run; an analyst's read writes nothing."""
        path = server[2]

        def runs() -> int:
            with crmkit.open(path, plugins=PLUGINS) as crm:
                return crm.db.execute("SELECT count(*) FROM loyalty_runs").fetchone()[0]

        before = runs()
        status, _, body = as_user("ann")("GET", "/loyalty/churn")
        assert status == 200 and isinstance(body["items"], list)
        assert runs() == before

    def test_reports_for_managers_and_analysts_only(self, as_user):
        status, _, figures = as_user("ann")("GET", "/reports/kpis")
        assert status == 200 and figures
        assert as_user("rep0")("GET", "/reports/kpis")[0] == 403
        request = urllib.request.Request(as_user("mia").base + "/reports/html", headers={"Authorization": f"Bearer {as_user('mia').token}"})
        with urllib.request.urlopen(request, timeout=60) as response:
            assert response.headers["Content-Type"].startswith("text/html")
            assert b"<html" in response.read().lower()


# --- schema-driven fuzzing of every route ----------------------------------------------------

OTHER_REPS = [f'"rep{n}"' for n in range(1, 8)] + [f'"Customer of rep{n}"' for n in range(1, 8)]


def fuzz_every_route(base: str, token: str, check=None) -> int:
    """A few generated requests per route of the OpenAPI document; returns the routes covered.

    Fails on any server error (5xx); ``check(response)`` may assert more about a success.
    """
    schema = schemathesis.openapi.from_url(base + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        @settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck), phases=[Phase.generate], database=None)
        @given(case=operation.as_strategy())
        def call(case):
            response = case.call(headers={"Authorization": f"Bearer {token}"})
            case.validate_response(response, checks=[not_a_server_error])
            if check is not None and response.status_code < 300:
                check(case, response)

        call()
    return len(operations)


def test_fuzzed_rep_requests_never_fail_nor_show_other_reps_data(server):
    """Every route, with generated input and a rep's token: no server error, and no other rep's
    id or customer in any answer."""
    def no_other_rep(case, response):
        assert not [name for name in OTHER_REPS if name in response.text], (case.method, case.formatted_path)

    assert fuzz_every_route(server[0], server[1]["rep0"], no_other_rep) >= 20


def test_fuzzed_admin_requests_never_fail(server):
    """Every route, with generated input and an admin's token (everything in scope): no 5xx."""
    assert fuzz_every_route(server[0], server[1]["root"]) >= 20
