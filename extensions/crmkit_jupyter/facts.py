"""Plugin facts: every plugin's segment fields evaluated for one customer.

This is how the customer 360° view shows tier, RFM score or open complaints without importing
any plugin: plugins register fields (``crmkit_fields``), and a field is an SQL expression per
customer, so its value for one customer is one small query.
"""

from __future__ import annotations

from typing import Any

from crmkit.money import from_minor
from crmkit.timeutil import to_iso

from . import queries


def plugin_fields(crm: Any) -> list:
    """The registered fields that plugins (not the core) contribute, by plugin then name."""
    return sorted((f for f in crm.fields if f.plugin != "core"), key=lambda f: (f.plugin, f.name))


def customer_facts(crm: Any, customer_id: int, as_of: Any = None) -> list[dict]:
    """``{plugin, name, type, description, value, error}`` for every plugin field, for one customer.

    Values are as of ``as_of`` (default: the CRM's clock); money comes back as Decimal in major
    units. A field whose SQL fails is reported with its error instead of hiding the others.
    """
    crm.customers.get(customer_id)
    moment = crm.as_of(as_of)
    stamp = to_iso(moment)
    horizon = crm.settings.get("core.log_horizon")
    use_history = horizon is not None and stamp < horizon
    facts = []
    for field in plugin_fields(crm):
        sql = field.sql_as_of if use_history and field.sql_as_of else field.sql
        fact = {"plugin": field.plugin, "name": field.name, "type": field.type, "description": field.description, "value": None, "error": None}
        try:
            value = queries.field_value(crm.db, sql, dict(field.params, as_of=stamp), customer_id)
        except Exception as error:  # noqa: BLE001 - one broken field must not hide the rest
            fact["error"] = f"{type(error).__name__}: {error}"
        else:
            if field.type == "money" and value is not None:
                value = from_minor(int(value), crm.exponent)
            elif field.type == "bool" and value is not None:
                value = bool(value)
            fact["value"] = value
        facts.append(fact)
    return facts
