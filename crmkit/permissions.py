"""Roles, permissions and row scope: what a user may do, and to which customers.

Four roles are built in:

* ``admin`` — every permission, every row; manages users and tokens.
* ``manager`` — every permission but user management, on the customers owned by their team's
  members and on the unowned ones (the pool).
* ``rep`` — reads and writes the customers they own and the unowned ones.
* ``analyst`` — reads everything, writes nothing.

Permissions are names like ``customers.read``; the core declares its own and plugins add
theirs through the ``crmkit_permissions`` hook, each saying which roles hold it. A permission
marked ``write`` is never given to an analyst, whatever a plugin says. Row scope is a segment
rule (``owner = 'alice' or owner is null``), so every list the segment language gives is scoped
the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

from attrs import field, frozen

from .errors import CrmError, PermissionDenied, ValidationError

if TYPE_CHECKING:
    from .users import User

ROLES = ("admin", "manager", "rep", "analyst")
ALL_ROLES = frozenset(ROLES)
STAFF = frozenset({"admin", "manager", "rep"})


def _roles(value: Iterable[str]) -> frozenset[str]:
    roles = frozenset(value)
    unknown = roles - ALL_ROLES
    if unknown:
        raise ValidationError("roles", sorted(unknown), "roles among " + ", ".join(ROLES))
    return roles


@frozen
class Permission:
    """One thing a user may be allowed to do, and the roles that hold it.

    ``write`` permissions change data: an analyst never holds one. ``admin`` always holds every
    permission.
    """

    name: str
    description: str
    roles: frozenset[str] = field(converter=_roles, default=STAFF)
    write: bool = True

    def holders(self) -> frozenset[str]:
        """The roles that hold this permission once the built-in rules are applied."""
        roles = set(self.roles) | {"admin"}
        if self.write:
            roles.discard("analyst")
        return frozenset(roles)


def _read(name: str, description: str) -> Permission:
    return Permission(name, description, ALL_ROLES, write=False)


CORE_PERMISSIONS = (
    _read("customers.read", "List and read customers in scope, with the plugins' facts"),
    Permission("customers.write", "Add customers and change those in scope"),
    Permission("customers.merge", "Merge a duplicate customer into another", {"admin", "manager"}),
    Permission("customers.forget", "Erase a customer's personal data", {"admin", "manager"}),
    _read("interactions.read", "Read the interactions of customers in scope"),
    Permission("interactions.write", "Record interactions of customers in scope"),
    _read("segments.read", "Count and list segments (members limited to scope)"),
    Permission("segments.write", "Define and change saved segments", {"admin", "manager"}),
    _read("tasks.read", "List tasks"),
    Permission("tasks.write", "Create tasks and close them"),
    Permission("audit.read", "Read the audit log", {"admin", "manager", "analyst"}, write=False),
    Permission("users.manage", "Add, change and deactivate users; issue and revoke tokens", {"admin"}),
)


class Permissions:
    """The permission registry of one CRM: the core's and every active plugin's."""

    def __init__(self) -> None:
        self._by_name: dict[str, Permission] = {}
        self._owner: dict[str, str] = {}

    def add(self, permission: Permission, owner: str = "core") -> None:
        """Register a permission; a name declared twice is an error naming both owners."""
        if not isinstance(permission, Permission):
            raise CrmError(f"{owner} declared {permission!r}, which is not a crmkit.Permission")
        if permission.name in self._by_name:
            raise CrmError(
                f"permission {permission.name!r} is declared by both {self._owner[permission.name]} and {owner}"
            )
        self._by_name[permission.name] = permission
        self._owner[permission.name] = owner

    def get(self, name: str) -> Permission:
        """The permission of that name (an error naming the known ones if there is none)."""
        try:
            return self._by_name[name]
        except KeyError:
            raise CrmError(f"unknown permission {name!r}; known: {', '.join(sorted(self._by_name))}") from None

    def all(self) -> list[Permission]:
        """Every permission, by name."""
        return [self._by_name[name] for name in sorted(self._by_name)]

    def owner(self, name: str) -> str:
        """``core`` or the plugin that declared the permission."""
        return self._owner[name]

    def of_role(self, role: str) -> list[str]:
        """The names of the permissions a role holds."""
        return [p.name for p in self.all() if role in p.holders()]

    def allows(self, user: "User", name: str) -> bool:
        """Whether ``user`` (active) holds permission ``name``."""
        return user.active and user.role in self.get(name).holders()

    def require(self, user: "User", name: str) -> None:
        """Raise :class:`crmkit.PermissionDenied` unless ``user`` holds permission ``name``."""
        if not self.allows(user, name):
            raise PermissionDenied(f"user {user.id!r} ({user.role}) may not {self.get(name).description.lower()}")


def owners_in_scope(user: "User", team_members: Iterable[str] = ()) -> frozenset[str] | None:
    """The owners whose customers ``user`` sees and acts on, besides the unowned ones; None: all.

    A rep: themselves. A manager: the members of their team and themselves (a manager without a
    team: everyone). An admin and an analyst: everyone.
    """
    if user.role in ("admin", "analyst") or (user.role == "manager" and not user.team):
        return None
    if user.role == "manager":
        return frozenset(team_members) | {user.id}
    return frozenset({user.id})


def scope_rule(user: "User", team_members: Iterable[str] = (), holders: Iterable[str] = ()) -> str | None:
    """The segment rule limiting the customers ``user`` sees and acts on; None means every one.

    The customers owned by :func:`owners_in_scope`, and the unowned ones (the pool) that no
    ``holders`` field (segment fields naming who holds a customer besides its owner, such as
    the leads plugin's ``lead_owner``; see :meth:`crmkit.fields.FieldRegistry.holders`) gives
    to someone outside the scope: a lead a rep has claimed is theirs, not the pool's.
    """
    from .segments import F  # here, not at import: `crmkit --help` needs the roles, not the rule builder

    owners = owners_in_scope(user, team_members)
    if owners is None:
        return None

    def held_by_scope(field):
        return field == next(iter(owners)) if len(owners) == 1 else field.in_(sorted(owners))

    unowned = F.owner.is_null()
    for name in holders:
        holder = getattr(F, name)
        unowned = unowned & (holder.is_null() | held_by_scope(holder))
    return str(held_by_scope(F.owner) | unowned)

