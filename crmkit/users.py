"""Users and their API tokens: the one staff list of a CRM.

A user has an id (a short name such as ``alice``), a name, an email, a role (see
:mod:`crmkit.permissions`), a team and an active flag. The leads plugin's reps and the complaints
plugin's handlers are users: their plugin rows keep only what the plugin needs (capacity,
skills), keyed by the user's id.

An API token is a random secret shown once, when it is issued; the CRM stores only its SHA-256
hash. Tokens can be revoked and may expire. Every change here is in the audit log, never the
secret.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime
from typing import TYPE_CHECKING, Any

from attrs import field, frozen

from .errors import ConflictError, NotAuthenticated, NotFound, ValidationError
from .models import is_storable_text
from .permissions import ROLES
from .timeutil import from_iso, to_datetime, to_iso

if TYPE_CHECKING:
    from .crm import CRM

TOKEN_PREFIX = "crm_"
_USER_ID = re.compile(r"^[^\s\x00-\x1f\x7f](?:[^\x00-\x1f\x7f]{0,98}[^\s\x00-\x1f\x7f])?$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _user_id(instance, attribute, value) -> None:
    if not isinstance(value, str) or not _USER_ID.match(value):
        raise ValidationError("id", value, "a user id of at most 100 characters, not starting or ending with a space")


def _name(instance, attribute, value) -> None:
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise ValidationError("name", value, "a non-empty name of at most 200 characters")


def _email(instance, attribute, value) -> None:
    if value is not None and (not isinstance(value, str) or not _EMAIL.match(value) or len(value) > 254):
        raise ValidationError("email", value, "an email address like alice@example.com")


def _role(instance, attribute, value) -> None:
    if value not in ROLES:
        raise ValidationError("role", value, "one of " + ", ".join(ROLES))


def _team(instance, attribute, value) -> None:
    if value is not None and (not isinstance(value, str) or not value.strip() or len(value) > 100):
        raise ValidationError("team", value, "a team name of at most 100 characters")


@frozen(kw_only=True)
class User:
    """A person who works in the CRM (or a program acting for them)."""

    id: str = field(validator=_user_id)
    name: str = field(validator=_name)
    email: str | None = field(default=None, validator=_email)
    role: str = field(default="rep", validator=_role)
    team: str | None = field(default=None, validator=_team)
    active: bool = True

    EDITABLE = ("name", "email", "role", "team", "active")

    @classmethod
    def from_row(cls, row: dict) -> "User":
        """Build a record from a ``users`` row."""
        return cls(
            id=row["id"], name=row["name"], email=row["email"], role=row["role"],
            team=row["team"], active=bool(row["active"]),
        )

    def to_row(self) -> dict:
        """The ``users`` row of this record (without the timestamps)."""
        return {
            "id": self.id, "name": self.name, "email": self.email, "role": self.role,
            "team": self.team, "active": 1 if self.active else 0,
        }


@frozen(kw_only=True)
class Token:
    """An API token's record (never its secret)."""

    id: int
    user_id: str
    label: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def from_row(cls, row: dict) -> "Token":
        """Build a record from an ``api_tokens`` row."""
        return cls(
            id=row["id"], user_id=row["user_id"], label=row["label"],
            created_at=from_iso(row["created_at"]), expires_at=from_iso(row["expires_at"]),
            revoked_at=from_iso(row["revoked_at"]),
        )

    def usable_at(self, moment: datetime) -> bool:
        """Not revoked and not expired at ``moment``."""
        return self.revoked_at is None and (self.expires_at is None or moment < self.expires_at)


def hash_secret(secret: str) -> str:
    """The stored form of a token's secret: its SHA-256, in hex."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class Users:
    """Add, change and deactivate users; issue, check and revoke their API tokens."""

    def __init__(self, crm: "CRM"):
        self._crm = crm

    # --- users --------------------------------------------------------------------------------

    def add(self, id: str, name: str, **fields: Any) -> User:  # noqa: A002 - the user's id
        """Add a user (``email``, ``role`` (default rep), ``team``, ``active``); the id must be new."""
        self._check_fields(fields)
        user = User(id=id, name=name, **fields)
        with self._crm.transaction():
            if self.find(user.id) is not None:
                raise ConflictError(f"a user with id {user.id!r} exists already; change it with `crmkit users update`")
            self._write(user, None)
        return user

    def ensure(self, id: str, name: str, **fields: Any) -> User:  # noqa: A002
        """The user with this id, added with these fields when missing (plugins' staff rows)."""
        found = self.find(id)
        return found if found is not None else self.add(id, name, **fields)

    def update(self, id: str, **changes: Any) -> User:  # noqa: A002
        """Change some fields of a user (``name``, ``email``, ``role``, ``team``, ``active``)."""
        self._check_fields(changes)
        with self._crm.transaction():
            before = self.get(id)
            values = {name: getattr(before, name) for name in User.EDITABLE}
            values.update(changes)
            user = User(id=before.id, **values)
            if user != before:
                self._write(user, before)
        return user

    def deactivate(self, id: str) -> User:  # noqa: A002
        """Mark a user inactive: their tokens stop working; their rows and history stay."""
        return self.update(id, active=False)

    def get(self, id: str) -> User:  # noqa: A002
        """The user with this id (NotFound if there is none)."""
        found = self.find(id)
        if found is None:
            raise NotFound(f"no user with id {id!r}; add one with `crmkit users add`")
        return found

    def find(self, id: str) -> User | None:  # noqa: A002
        """The user with this id, or None."""
        if not is_storable_text(str(id)):
            return None  # no user has such an id (PostgreSQL cannot even be asked about a NUL)
        rows = list(self._crm.db.query("SELECT * FROM users WHERE id = ?", [str(id)]))
        return User.from_row(rows[0]) if rows else None

    def list(self, *, role: str | None = None, team: str | None = None, active: bool | None = None) -> list[User]:
        """Users by id, optionally only of a role, a team, or active (True) / inactive (False)."""
        where, params = [], []
        for column, value in (("role", role), ("team", team)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if active is not None:
            where.append("active = ?")
            params.append(1 if active else 0)
        sql = "SELECT * FROM users" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id"
        return [User.from_row(row) for row in self._crm.db.query(sql, params)]

    def team_members(self, team: str | None) -> list[str]:
        """The ids of a team's users (empty for no team)."""
        if not team:
            return []
        return [row["id"] for row in self._crm.db.query("SELECT id FROM users WHERE team = ? ORDER BY id", [team])]

    def _check_fields(self, fields: dict) -> None:
        unknown = set(fields) - set(User.EDITABLE)
        if unknown:
            key = sorted(unknown)[0]
            raise ValidationError(key, fields[key], "a user field: " + ", ".join(User.EDITABLE))

    def _write(self, user: User, before: User | None) -> None:
        now = to_iso(self._crm.now())
        row = dict(user.to_row(), now=now)
        if before is None:
            self._crm.db.execute(
                "INSERT INTO users(id, name, email, role, team, active, created_at, updated_at) "
                "VALUES (:id, :name, :email, :role, :team, :active, :now, :now)", row,
            )
        else:
            self._crm.db.execute(
                "UPDATE users SET name = :name, email = :email, role = :role, team = :team, "
                "active = :active, updated_at = :now WHERE id = :id", row,
            )
        self._crm.audit.record(
            "user.add" if before is None else "user.update", "user", user.id,
            before=before.to_row() if before else None, after=user.to_row(),
        )

    # --- tokens -------------------------------------------------------------------------------

    def issue_token(self, user_id: str, *, label: str | None = None, expires: Any = None) -> tuple[Token, str]:
        """A new API token for an active user: its record and its secret, which is shown only now.

        ``expires`` is a time after which the token no longer works (None: never).
        """
        with self._crm.transaction():
            user = self.get(user_id)
            if not user.active:
                raise ConflictError(f"user {user.id!r} is inactive; activate them before issuing a token")
            now = self._crm.wall_now()
            expires_at = None if expires is None else to_datetime(expires, "expires")
            if expires_at is not None and expires_at <= now:
                raise ValidationError("expires", to_iso(expires_at), f"a time after now ({to_iso(now)})")
            if label is not None and (not isinstance(label, str) or len(label) > 100):
                raise ValidationError("label", label, "a text of at most 100 characters")
            secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
            row = self._crm.db.execute(
                "INSERT INTO api_tokens(user_id, token_hash, label, created_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?) RETURNING id",
                [user.id, hash_secret(secret), label, to_iso(now), None if expires_at is None else to_iso(expires_at)],
            ).fetchone()
            token = self.token(row[0])
            self._crm.audit.record(
                "token.issue", "user", user.id,
                after={"token": token.id, "label": label, "expires_at": None if expires_at is None else to_iso(expires_at)},
            )
        return token, secret

    def revoke_token(self, token_id: int) -> Token:
        """Revoke a token: it stops working at once. Revoking twice is an error."""
        with self._crm.transaction():
            token = self.token(token_id)
            if token.revoked_at is not None:
                raise ConflictError(f"token {token.id} was revoked already, at {to_iso(token.revoked_at)}")
            self._crm.db.execute("UPDATE api_tokens SET revoked_at = ? WHERE id = ?", [to_iso(self._crm.wall_now()), token.id])
            self._crm.audit.record("token.revoke", "user", token.user_id, after={"token": token.id})
        return self.token(token.id)

    def token(self, token_id: int) -> Token:
        """A token's record by its id (NotFound if there is none)."""
        rows = list(self._crm.db.query(
            "SELECT id, user_id, label, created_at, expires_at, revoked_at FROM api_tokens WHERE id = ?", [int(token_id)],
        ))
        if not rows:
            raise NotFound(f"no API token with id {token_id}")
        return Token.from_row(rows[0])

    def tokens(self, user_id: str | None = None) -> list[Token]:
        """Token records, newest first, optionally of one user (NotFound if there is no such user)."""
        sql = "SELECT id, user_id, label, created_at, expires_at, revoked_at FROM api_tokens"
        params: list = []
        if user_id is not None:
            self.get(user_id)
            sql += " WHERE user_id = ?"
            params.append(user_id)
        return [Token.from_row(row) for row in self._crm.db.query(sql + " ORDER BY id DESC", params)]

    def authenticate(self, secret: str | None) -> User:
        """The active user a token's secret belongs to; :class:`NotAuthenticated` otherwise."""
        if not secret:
            raise NotAuthenticated("an API token is required: send the header Authorization: Bearer <token>")
        rows = list(self._crm.db.query(
            "SELECT t.expires_at, t.revoked_at, u.* FROM api_tokens t JOIN users u ON u.id = t.user_id "
            "WHERE t.token_hash = ?", [hash_secret(secret)],
        ))
        if not rows:
            raise NotAuthenticated("the API token is not valid")
        row = rows[0]
        if row["revoked_at"] is not None:
            raise NotAuthenticated("the API token was revoked")
        if row["expires_at"] is not None and from_iso(row["expires_at"]) <= self._crm.wall_now():
            raise NotAuthenticated("the API token has expired")
        user = User.from_row(row)
        if not user.active:
            raise NotAuthenticated(f"user {user.id!r} is inactive")
        return user
