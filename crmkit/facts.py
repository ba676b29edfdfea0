"""Customer facts: what each plugin knows about a customer, for a profile page.

A fact is a labelled value (a loyalty tier, a lead's rep, a count of open complaints) that a plugin
states about one customer. Plugins give them through the ``crmkit_customer_facts`` hook, for a batch
of customers in one query; :meth:`crmkit.customers.Customers.facts` gathers them so the CLI's
``customers show``, the dashboard and the HTTP API show the same facts without importing a plugin.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Iterable

import attrs
from attrs import frozen

from .errors import ValidationError
from .store import json_values

if TYPE_CHECKING:
    from .crm import CRM


@frozen
class Fact:
    """One thing a plugin states about one customer.

    ``name`` is a stable key (``"tier"``), ``label`` what a person reads (``"Loyalty tier"``),
    ``value`` a plain value (text, number, Decimal, datetime, bool) or None when the plugin has
    nothing to say (e.g. no tier yet). ``plugin`` is filled in by the core from the implementing
    plugin's name.
    """

    customer_id: int
    name: str
    label: str
    value: Any = None
    plugin: str = ""


def known_ids(crm: "CRM", customer_ids: Iterable[int]) -> list[int]:
    """The ids among ``customer_ids`` that name a customer, in the order given, without repeats."""
    wanted: list[int] = []
    for value in customer_ids:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError("customer_ids", value, "whole-number customer ids")
        if value not in wanted:
            wanted.append(value)
    if not wanted:
        return []
    rows = crm.db.execute(
        f"SELECT id FROM customers WHERE id IN ({json_values('?', 'INTEGER')})", [json.dumps(wanted)],
    ).fetchall()
    found = {row[0] for row in rows}
    return [i for i in wanted if i in found]


def collect(crm: "CRM", customer_ids: Iterable[int], as_of: Any = None) -> dict[int, list[Fact]]:
    """Every plugin's facts for a batch of customers as of ``as_of`` (default: the CRM's clock).

    Returns ``{customer_id: [Fact, ...]}`` with an entry for every existing customer asked for
    (ids naming no customer are left out), facts in plugin order, each plugin's in its own order.
    A failing plugin raises :class:`crmkit.PluginError` naming it.
    """
    ids = known_ids(crm, customer_ids)
    out: dict[int, list[Fact]] = {i: [] for i in ids}
    if not ids:
        return out
    moment = crm.as_of(as_of)
    for plugin, facts in crm.plugins.each_or_raise("crmkit_customer_facts", crm=crm, customer_ids=ids, as_of=moment):
        for fact in facts or []:
            if not isinstance(fact, Fact):
                raise ValidationError(f"{plugin}: crmkit_customer_facts", fact, "a list of crmkit.facts.Fact")
            if fact.customer_id in out:
                out[fact.customer_id].append(attrs.evolve(fact, plugin=plugin))
    return out
