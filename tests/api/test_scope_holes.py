"""Row scope where it was found to leak (both engines): a lead a rep has claimed, a list as of a
past date, a team manager's plugin lists and audit log, rules near the parser's limits, numbers
past 64 bits, and API tokens on a CRM whose business clock is frozen (a demo file).

The app runs in-process (FastAPI's test client) over the same CRM; every answer is a problem
document, never a 500.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

import crmkit
from crmkit.testing import FixedClock
from crmkit_api.app import create_app

START = "2025-03-03T09:00:00Z"


def _client(crm, user: str) -> TestClient:
    token = crm.users.issue_token(user)[1]
    return TestClient(create_app(crm), headers={"Authorization": f"Bearer {token}"}, raise_server_exceptions=False)


@pytest.fixture
def team(crm_path):
    """Reps rep0 and rep2 (team north) and rep5 (team south), manager mia of north, admin root."""
    clock = FixedClock(START)
    with crmkit.open(crm_path, plugins=["leads", "loyalty", "complaints"], clock=clock) as crm:
        crm.users.add("root", "Root", role="admin")
        crm.users.add("mia", "Mia", role="manager", team="north")
        for rep, team_name in (("rep0", "north"), ("rep2", "north"), ("rep5", "south")):
            crm.leads.add_rep(rep, rep.title(), team=team_name, capacity=10, claim_limit=5)
        yield crm, clock


def test_a_claimed_lead_leaves_other_reps_scope(team):
    crm, _ = team
    lead = crm.leads.add("Hot lead", email="buyer@bigco.example")
    rep0, rep2 = _client(crm, "rep0"), _client(crm, "rep2")
    assert rep0.get(f"/customers/{lead.id}").status_code == 200  # in the pool: everyone's

    assert rep2.post(f"/leads/{lead.id}/claim").status_code == 200
    assert crm.customers.get(lead.id).owner is None  # the customer's own owner stays empty

    assert rep0.get(f"/customers/{lead.id}").status_code == 403
    listed = rep0.get("/customers", params={"rule": "lead_owner = 'rep2'"})
    assert listed.status_code == 200 and listed.json()["items"] == []
    assert rep0.patch(f"/customers/{lead.id}", json={"owner": "rep0"}).status_code == 403
    assert rep0.post(f"/customers/{lead.id}/interactions", json={"kind": "call"}).status_code == 403
    assert crm.customers.get(lead.id).owner is None

    mine = rep2.get(f"/customers/{lead.id}")
    assert mine.status_code == 200 and mine.json()["name"] == "Hot lead"
    assert [c["id"] for c in rep2.get("/customers").json()["items"]] == [lead.id]


def test_a_released_lead_is_back_in_everyones_scope(team):
    crm, _ = team
    lead = crm.leads.add("Warm lead")
    crm.leads.claim(lead.id, "rep2")
    rep0 = _client(crm, "rep0")
    assert rep0.get(f"/customers/{lead.id}").status_code == 403
    crm.leads.release(lead.id, "rep2", "not my region")
    assert rep0.get(f"/customers/{lead.id}").status_code == 200


def test_a_list_as_of_a_past_date_keeps_to_todays_scope(team):
    crm, clock = team
    secret = crm.customers.add(name="Secret Corp", email="ceo@secret.example")  # in the pool then
    earlier = crm.now()
    clock.advance(days=1)
    crm.customers.update(secret.id, owner="rep5")
    rep0 = _client(crm, "rep0")
    as_of = {"as_of": (earlier + timedelta(hours=1)).isoformat()}

    assert rep0.get(f"/customers/{secret.id}").status_code == 403
    listed = rep0.get("/customers", params=as_of)
    assert listed.status_code == 200 and listed.json()["items"] == [] and listed.json()["total"] == 0
    crm.segments.define("everyone", "id > 0")
    members = rep0.get("/segments/everyone/members", params=as_of)
    assert members.status_code == 200 and members.json()["items"] == []
    assert rep0.get("/segments/everyone/count", params=as_of).json()["count"] == 0
    # The rule itself still reads the past: the customer had no owner then.
    root = _client(crm, "root")
    past = root.get("/customers", params={"rule": "owner is null", **as_of}).json()["items"]
    assert [c["id"] for c in past] == [secret.id]


def test_a_team_manager_sees_only_the_teams_leads_tickets_and_audit(team):
    crm, clock = team
    north = crm.leads.add("North lead")
    south = crm.leads.add("South lead")
    crm.leads.claim(north.id, "rep2")
    crm.leads.claim(south.id, "rep5")
    crm.complaints.add_handler("rep5")
    south_customer = crm.customers.add(name="South Customer", owner="rep5", phone="+1 555 0100")
    north_customer = crm.customers.add(name="North Customer", owner="rep0")
    crm.complaints.open(south_customer.id, category="delivery", severity="normal")
    crm.complaints.open(north_customer.id, category="delivery", severity="normal")
    mia = _client(crm, "mia")

    assert mia.get(f"/customers/{south_customer.id}").status_code == 403
    recycling = mia.get("/leads/recycling", params={"before": "2030-01-01T00:00:00Z"}).json()["items"]
    assert [lead["id"] for lead in recycling] == [north.id]
    queue = mia.get("/complaints/queue").json()["items"]
    assert [row["customer_id"] for row in queue] == [north_customer.id]

    refused = mia.get("/audit")
    assert refused.status_code == 403 and "one customer in scope" in refused.json()["detail"]
    assert mia.get("/audit", params={"entity": "customer", "entity_id": str(south_customer.id)}).status_code == 403
    assert mia.get("/audit", params={"entity": "customer", "entity_id": "9" * 40}).status_code == 403
    own = mia.get("/audit", params={"entity": "customer", "entity_id": str(north_customer.id)})
    assert own.status_code == 200 and [e["action"] for e in own.json()["items"]] == ["customer.add"]
    # An admin still reads the whole log.
    assert len(_client(crm, "root").get("/audit", params={"limit": 500}).json()["items"]) > 5


def test_a_saved_segment_at_the_rule_limits_works_for_scoped_users(team):
    crm, _ = team
    crm.customers.add(name="Ada", owner="rep0")
    rule = " or ".join(f"id = {n}" for n in range(1, 400))  # 399 conditions, one under the limit
    crm.segments.define("many", rule)
    for user in ("root", "rep0", "mia"):
        answer = _client(crm, user).get("/segments/many/count")
        assert answer.status_code == 200, answer.text
        assert answer.json()["count"] == 1


@pytest.mark.parametrize("rule", [
    "customer_days > 3000000", "id > 99999999999999999999999", "id in (1, 99999999999999999999)",
    "last_purchase_days > 2000000", "purchases > 99999999999999999999", "customer_days >= 999999999d",
])
def test_numbers_out_of_range_in_a_rule_are_a_422(team, rule):
    crm, _ = team
    crm.customers.add(name="Ada")
    answer = _client(crm, "rep0").get("/customers", params={"rule": rule})
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert "out of range" in answer.json()["detail"]
    with pytest.raises(crmkit.RuleError, match="out of range"):
        crm.segments.evaluate(rule).count()


def test_tokens_expire_by_the_wall_clock_on_a_frozen_crm(crm_path):
    with crmkit.open(crm_path, plugins=[]) as crm:
        crm.settings.set("core.frozen_at", "2020-06-30T12:00:00Z")
    with crmkit.open(crm_path, plugins=[]) as crm:
        assert crm.now().year == 2020
        crm.users.add("boss", "Boss", role="admin")
        with pytest.raises(crmkit.ValidationError, match="a time after now"):
            crm.users.issue_token("boss", expires="2021-01-01")  # after the frozen moment, long past
        token, secret = crm.users.issue_token("boss")
        assert token.created_at > crm.now()
        crm.db.execute("UPDATE api_tokens SET expires_at = '2021-01-01T00:00:00Z' WHERE id = ?", [token.id])
        answer = TestClient(create_app(crm), headers={"Authorization": f"Bearer {secret}"}).get("/customers")
        assert answer.status_code == 401 and answer.json()["detail"] == "the API token has expired"
        assert crm.users.revoke_token(token.id).revoked_at > crm.now()


def test_a_nul_in_an_audit_filter_is_a_422_on_both_engines(team):
    crm, _ = team
    answer = _client(crm, "root").get("/audit", params={"actor": "a\u0000"})
    assert answer.status_code == 422 and answer.json()["detail"].startswith("actor: a text without NUL characters")


def test_one_interaction_names_its_field_without_a_row_number(team):
    crm, _ = team
    ada = crm.customers.add(name="Ada")
    answer = _client(crm, "root").post(f"/customers/{ada.id}/interactions", json={"kind": "phonecall"})
    assert answer.status_code == 422 and answer.json()["detail"].startswith("kind: one of ")
    with pytest.raises(crmkit.ValidationError, match="^kind: one of "):
        crm.interactions.record(ada.id, "phonecall")


def test_a_taken_external_id_names_its_customer_only_to_those_who_may_see_it(team):
    crm, _ = team
    hidden = crm.customers.add(name="Rival's account", external_id="ACME-7", owner="rep5")
    mine = crm.customers.add(name="My account", owner="rep0")
    rep0, root = _client(crm, "rep0"), _client(crm, "root")

    for answer in (
        rep0.post("/customers", json={"name": "Acme", "external_id": "ACME-7", "owner": "rep0"}),
        rep0.patch(f"/customers/{mine.id}", json={"external_id": "ACME-7"}),
    ):
        assert answer.status_code == 409
        detail = answer.json()["detail"]
        assert "ACME-7" in detail and "outside your scope" in detail
        assert str(hidden.id) not in detail.replace("ACME-7", "")
    assert crm.customers.get(mine.id).external_id is None
    assert len(crm.customers.find(name="Acme")) == 0

    seen = root.post("/customers", json={"name": "Acme", "external_id": "ACME-7"})
    assert seen.status_code == 409 and f"customer {hidden.id}" in seen.json()["detail"]
