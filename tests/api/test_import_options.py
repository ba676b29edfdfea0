"""``POST /interactions/import`` takes the options ``crmkit import`` takes, under the same names
(``map``, ``set``, ``encoding``, ``date_format``, ``timezone``, ``key``, ``max_future``), so that
a shop's own export goes in over HTTP as it does on the command line (both engines).

The app runs in-process (FastAPI's test client) over the same CRM."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

import crmkit
from crmkit.testing import FixedClock
from crmkit_api.app import create_app

# A shop system's orders: its own column names, German dates, no kind column.
ORDERS = (
    "Order No,Customer No,Order Date,Total,Note\n"
    "A-1,K-1,02.03.2025 10:30,19.90,Café au lait\n"
    "A-2,K-2,03.03.2025 00:15,5.00,\n"
)
OPTIONS = {
    "map": ["Customer No=customer_external_id", "Order Date=occurred_at", "Total=amount", "Note=notes"],
    "set": ["kind=purchase"],
    "date_format": "%d.%m.%Y %H:%M",
    "timezone": "Europe/Berlin",
    "key": "Order No",
}


@pytest.fixture
def crm(crm_path):
    with crmkit.open(crm_path, plugins=[], clock=FixedClock("2025-06-01T09:00:00Z")) as crm:
        crm.users.add("root", "Root", role="admin")
        for ref in ("K-1", "K-2"):
            crm.customers.add(name=f"Customer {ref}", external_id=ref)
        yield crm


@pytest.fixture
def root(crm) -> TestClient:
    token = crm.users.issue_token("root")[1]
    return TestClient(create_app(crm), headers={"Authorization": f"Bearer {token}"}, raise_server_exceptions=False)


def _post(client: TestClient, body: bytes, **params):
    return client.post("/interactions/import", content=body, params={"format": "csv", **params},
                       headers={"Content-Type": "application/octet-stream"})


def _purchases(crm) -> list[tuple]:
    return [
        (row[0], row[1], row[2], row[3])
        for row in crm.db.execute(
            "SELECT c.external_id, i.occurred_at, i.amount, i.notes FROM interactions i "
            "JOIN customers c ON c.id = i.customer_id WHERE i.kind = 'purchase' ORDER BY i.occurred_at"
        )
    ]


def test_a_shop_export_goes_in_with_the_clis_options(crm, root):
    answer = _post(root, ORDERS.encode(), **OPTIONS)
    assert answer.status_code == 200, answer.text
    assert answer.json()["added"] == 2
    # 10:30 in Berlin on 2 March is 09:30 UTC (winter time); amounts in cents.
    assert _purchases(crm) == [
        ("K-1", "2025-03-02T09:30:00Z", 1990, "Café au lait"),
        ("K-2", "2025-03-02T23:15:00Z", 500, None),
    ]
    again = _post(root, ORDERS.encode(), **OPTIONS)
    assert again.status_code == 200 and again.json()["already_recorded"] == 2
    assert len(_purchases(crm)) == 2


def test_the_encoding_option_reads_a_legacy_file(crm, root):
    answer = _post(root, ORDERS.encode("cp1252"), **OPTIONS, encoding="cp1252")
    assert answer.status_code == 200, answer.text
    assert _purchases(crm)[0][3] == "Café au lait"


def test_max_future_refuses_rows_dated_too_far_ahead(crm, root):
    late = ORDERS.replace("03.03.2025 00:15", "03.03.2031 00:15")
    answer = _post(root, late.encode(), **OPTIONS, max_future=30)
    assert answer.status_code == 422
    assert [p["row"] for p in answer.json()["problems"]] == [3]
    assert _purchases(crm) == []


@pytest.mark.parametrize(
    ("params", "status", "detail"),
    [
        ({"map": ["Total"]}, 422, "map: write it as COLUMN=FIELD"),
        ({"set": ["kind"]}, 422, "set: write it as FIELD=VALUE"),
        ({"map": ["Total=amount", "Total=notes"]}, 422, "map Total: one field per column"),
        ({"encoding": "no-such-codec"}, 422, "no-such-codec"),
        ({"timezone": "Mars/Olympus"}, 422, "Mars/Olympus"),
        ({"max_future": -1}, 422, None),  # refused by the route's own validation
    ],
)
def test_bad_options_are_refused_before_anything_is_written(crm, root, params, status, detail):
    answer = _post(root, ORDERS.encode(), **{**OPTIONS, **params})
    assert answer.status_code == status, answer.text
    if detail is not None:
        assert detail in answer.json()["detail"]
    assert _purchases(crm) == []


def test_the_options_are_in_the_openapi_document(root):
    operation = root.get("/openapi.json").json()["paths"]["/interactions/import"]["post"]
    names = {parameter["name"] for parameter in operation["parameters"]}
    assert names >= {"format", "skip_invalid", "create_customers", "map", "set", "encoding", "date_format",
                     "timezone", "key", "max_future"}
