"""``users`` (add, list, update, deactivate, token, tokens, revoke): the people who work in a CRM."""

from __future__ import annotations

import click

from ..cli import db_argument, open_crm
from ..permissions import ROLES
from ._common import ID, MOMENT, Choice, table


@click.group("users")
def group() -> None:
    """Users, their roles and their API tokens (for `crmkit serve`)."""


@group.command("add")
@db_argument
@click.argument("user_id")
@click.option("--name", required=True, help="The person's name.")
@click.option("--email", help="Their email address.")
@click.option("--role", type=Choice(ROLES), default="rep", show_default=True, help="What they may do.")
@click.option("--team", help="Their team (a manager acts for their team).")
def add(db: str, user_id: str, name: str, email: str | None, role: str, team: str | None) -> None:
    """Add a user.

    Example: crmkit users add shop.db alice --name "Alice Ng" --role rep --team north
    """
    with open_crm(db) as crm:
        user = crm.users.add(user_id, name, email=email, role=role, team=team)
    click.echo(f"User {user.id} ({user.role}) added.")


@group.command("update")
@db_argument
@click.argument("user_id")
@click.option("--name", help="A new name.")
@click.option("--email", help="A new email address.")
@click.option("--role", type=Choice(ROLES), help="A new role.")
@click.option("--team", help="A new team.")
@click.option("--active/--inactive", default=None, help="Activate or deactivate.")
def update(db: str, user_id: str, **options) -> None:
    """Change a user's name, email, role, team or active flag.

    Example: crmkit users update shop.db alice --role manager
    """
    changes = {key: value for key, value in options.items() if value is not None}
    if not changes:
        raise click.ClickException("nothing to change: give --name, --email, --role, --team or --active/--inactive")
    with open_crm(db) as crm:
        before = crm.users.get(user_id)
        user = crm.users.update(user_id, **changes)
    done = "updated" if user != before else "unchanged: it already had these values"
    click.echo(f"User {user.id} ({user.role}{', inactive' if not user.active else ''}) {done}.")


@group.command("list")
@db_argument
@click.option("--role", type=Choice(ROLES), help="Only users of this role.")
@click.option("--team", help="Only this team's users.")
def list_users(db: str, role: str | None, team: str | None) -> None:
    """List users by id.

    Example: crmkit users list shop.db --role rep
    """
    with open_crm(db) as crm:
        users = crm.users.list(role=role, team=team)
    table(
        [(u.id, u.name, u.email, u.role, u.team, "yes" if u.active else "no") for u in users],
        ["id", "name", "email", "role", "team", "active"], empty="No users.",
    )


@group.command("deactivate")
@db_argument
@click.argument("user_id")
def deactivate(db: str, user_id: str) -> None:
    """Deactivate a user: their tokens stop working; their records and history stay.

    Example: crmkit users deactivate shop.db alice
    """
    with open_crm(db) as crm:
        was_active = crm.users.get(user_id).active
        user = crm.users.deactivate(user_id)
    click.echo(f"User {user.id} deactivated." if was_active else f"User {user.id} was inactive already.")


@group.command("token")
@db_argument
@click.argument("user_id")
@click.option("--label", help="What the token is for (e.g. 'phone app').")
@click.option("--expires", type=MOMENT, help="When it stops working (default: never).")
def token(db: str, user_id: str, label: str | None, expires) -> None:
    """Issue an API token for a user and print it once: it is not stored, only its hash.

    Example: crmkit users token shop.db alice --label phone --expires 2026-12-31
    """
    with open_crm(db) as crm:
        record, secret = crm.users.issue_token(user_id, label=label, expires=expires)
    click.echo(secret)
    click.echo(f"Token {record.id} for {record.user_id}: copy it now, it is not shown again.", err=True)


@group.command("tokens")
@db_argument
@click.option("--user", "user_id", help="Only this user's tokens.")
def tokens(db: str, user_id: str | None) -> None:
    """List API tokens (never their secrets), newest first.

    Example: crmkit users tokens shop.db --user alice
    """
    with open_crm(db) as crm:
        found = crm.users.tokens(user_id)
    table(
        [(t.id, t.user_id, t.label, t.created_at, t.expires_at, t.revoked_at) for t in found],
        ["id", "user", "label", "created", "expires", "revoked"], empty="No tokens.", zone=crm.zone,
    )


@group.command("revoke")
@db_argument
@click.argument("token_id", type=ID)
def revoke(db: str, token_id: int) -> None:
    """Revoke an API token: it stops working at once.

    Example: crmkit users revoke shop.db 3
    """
    with open_crm(db) as crm:
        record = crm.users.revoke_token(token_id)
    click.echo(f"Token {record.id} of {record.user_id} revoked.")
