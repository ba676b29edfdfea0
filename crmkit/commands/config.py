"""``config get/set``: read and change the settings the core and the plugins declare."""

from __future__ import annotations

import json
from typing import Any

import click

from ..cli import open_crm
from ._common import table


def _shown(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _parsed(text: str) -> Any:
    """A VALUE as typed: JSON when it reads as JSON (5, true, null, ["a","b"], {"default": 7}),
    otherwise the text itself (so `cost` needs no quotes)."""
    try:
        return json.loads(text)
    except ValueError:
        return text


@click.group("config")
def group() -> None:
    """Read and change settings of the core and the plugins (checked before anything is written)."""


@group.command("get")
@click.argument("db", type=click.Path(dir_okay=False))
@click.argument("key", required=False)
def get(db: str, key: str | None) -> None:
    """Show one setting's value (as JSON), or without KEY every setting with its value.

    Examples: crmkit config get shop.db; crmkit config get shop.db leads.cooldown_days
    """
    with open_crm(db) as crm:
        if key is None:
            rows = [(s.key, _shown(value), s.description) for s, value in crm.settings.current()]
        else:
            setting = crm.settings.declaration(key)
            value = crm.settings.get(key, setting.default)
    if key is not None:
        click.echo(_shown(value))
        return
    table(rows, ["key", "value", "description"], wrap="description", empty="No settings.")


@group.command("set", context_settings={"ignore_unknown_options": True})  # a VALUE of -1 is a value
@click.argument("db", type=click.Path(dir_okay=False))
@click.argument("key")
@click.argument("value")
def set_command(db: str, key: str, value: str) -> None:
    """Change one setting; VALUE is JSON (5, true, null, '["call","visit"]') or plain text.

    The key must be one `config get DB` lists and the value pass its check; otherwise one Error
    line and nothing is written. The change goes to the audit log.

    Example: crmkit config set shop.db leads.cooldown_days 5
    """
    with open_crm(db) as crm:
        before = crm.settings.get(key, crm.settings.declaration(key).default)
        after = crm.settings.change(key, _parsed(value))
    if after == before:
        click.echo(f"{key} stays {_shown(after)}")
    else:
        click.echo(f"{key}: {_shown(before)} -> {_shown(after)}")
