"""Lookups and filters given a text no engine stores (a NUL, a lone surrogate), on both engines.

PostgreSQL cannot even be asked about a text holding a NUL: each of these raised its statement
error there (a 500 over HTTP), while SQLite answered "nothing found". No stored value can equal
such a text, so a lookup by id or key finds nothing and a filter is a ValidationError naming it,
alike on both engines; nothing is written either way.
"""

from __future__ import annotations

import pytest

import crmkit
from crmkit import NotFound, ValidationError

BAD = ["a\x00b", "\ud800"]


@pytest.fixture
def crm(crm_path):
    with crmkit.open(crm_path, plugins=["leads", "complaints"]) as crm:
        customer = crm.customers.add(name="Ann")
        crm.interactions.record(customer.id, "call", "2025-01-01")
        yield crm


@pytest.mark.parametrize("text", BAD)
def test_a_lookup_by_id_or_key_finds_nothing(crm, text):
    with pytest.raises(NotFound):
        crm.users.get(text)
    assert crm.users.find(text) is None
    assert crm.settings.get(text, "unset") == "unset"


@pytest.mark.parametrize("text", BAD)
@pytest.mark.parametrize(("name", "call"), [
    ("owner", lambda crm, text: crm.tasks.open(owner=text)),
    ("kind", lambda crm, text: crm.tasks.open(kind=text)),
    ("kinds", lambda crm, text: crm.interactions.history(1, kinds=["call", text])),
    ("owner", lambda crm, text: crm.leads.leads(owner=text)),
    ("owner", lambda crm, text: crm.complaints.list(owner=text)),
    ("category", lambda crm, text: crm.complaints.list(category=text)),
    ("product", lambda crm, text: crm.complaints.list(product=text)),
    ("channel", lambda crm, text: crm.complaints.list(channel=text)),
])
def test_a_filter_is_a_validation_error_naming_it(crm, text, name, call):
    with pytest.raises(ValidationError, match=f"^{name}: "):
        call(crm, text)
