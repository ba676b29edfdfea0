"""Settings stored in the CRM file itself (currency, active plugins, plugin options).

Settings a person may change are *declared*: the core declares its own and each plugin its
options through the ``crmkit_settings`` hook, as :class:`Setting` objects with a description, a
default and a check. ``crm.settings.change(key, value)`` refuses an undeclared key or a bad value
before anything is written; ``crmkit config get/set`` is its command line.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Callable

from attrs import frozen

from .errors import CrmError, ValidationError
from .models import is_storable_text

if TYPE_CHECKING:
    from .crm import CRM

_MISSING = object()


@frozen
class Setting:
    """A setting a person may change: its key (``plugin.name``), what it means, its default.

    ``check(value)`` returns the value to store (normalised) or raises
    :class:`crmkit.ValidationError`. ``apply(crm, value)``, when given, writes it instead of a
    plain ``crm.settings.set`` (a plugin's ``configure`` that also recomputes what depends on it);
    it runs inside the change's transaction and must check before it writes.
    """

    key: str
    description: str
    default: Any = None
    check: Callable[[Any], Any] | None = None
    apply: Callable[["CRM", Any], None] | None = None


def _check_locale(value: Any) -> Any:
    if value is None:
        return None
    from .formatting import parse_locale  # babel loads only when a locale is set

    try:
        parse_locale(value)
    except ValueError as error:
        raise ValidationError("core.locale", value, "a locale such as en_US or zh_CN") from error
    return str(value).split(".")[0].replace("-", "_")  # as named (babel would store zh_CN as zh_Hans_CN)


CORE_SETTINGS = (
    Setting(
        "core.locale", "How reports and tables print numbers, money and dates (en_US, de_DE, zh_CN); "
        "null: the LANG of the environment.", None, _check_locale,
    ),
)


class Settings:
    """Key → JSON value settings of one CRM file; plugins namespace keys as ``plugin.key``."""

    def __init__(self, crm: "CRM"):
        self._crm = crm

    def get(self, key: str, default: Any = None) -> Any:
        """The value of ``key``, or ``default`` when it was never set."""
        if not is_storable_text(key):
            return default  # no key is stored so (PostgreSQL cannot even be asked about a NUL)
        row = self._crm.db.execute("SELECT value FROM settings WHERE key = ?", [key]).fetchone()
        return default if row is None else json.loads(row[0])

    def set(self, key: str, value: Any) -> None:
        """Store ``value`` (anything JSON can hold) under ``key``; written to the audit log."""
        text = json.dumps(value, sort_keys=True)
        with self._crm.transaction():
            before = self.get(key, _MISSING)
            self._crm.db.execute(
                "INSERT INTO settings(key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [key, text],
            )
            self._crm.audit.record(
                "setting.set", "setting", key,
                before=None if before is _MISSING else {"value": before}, after={"value": value},
            )

    def all(self) -> dict[str, Any]:
        """Every setting."""
        return {k: json.loads(v) for k, v in self._crm.db.execute("SELECT key, value FROM settings ORDER BY key")}

    # --- declared settings: what a person may change -------------------------------------------

    def declared(self) -> dict[str, Setting]:
        """Every changeable setting, the core's then each plugin's (``crmkit_settings``), by key."""
        found: dict[str, Setting] = {s.key: s for s in CORE_SETTINGS}
        owners: dict[str, str] = {}
        for plugin, items in self._crm.plugins.each_or_raise("crmkit_settings", crm=self._crm):
            for item in items or []:
                if not isinstance(item, Setting) or "." not in item.key or item.key.startswith("core."):
                    raise ValidationError(f"{plugin}: crmkit_settings", item, "a Setting keyed '<plugin>.<name>'")
                if item.key in owners:
                    # As for fields, kinds and permissions: one would silently replace the other's check.
                    raise CrmError(f"setting {item.key!r} is declared by both {owners[item.key]} and {plugin}")
                owners[item.key] = plugin
                found[item.key] = item
        return dict(sorted(found.items()))

    def declaration(self, key: str) -> Setting:
        """The declared setting ``key``; an unknown key is a ValidationError naming the close ones."""
        declared = self.declared()
        if key in declared:
            return declared[key]
        import difflib

        close = difflib.get_close_matches(key, list(declared), n=1)
        hint = f"did you mean {close[0]}?" if close else "`crmkit config get DB` lists them"
        raise ValidationError("setting", key, f"a declared setting; {hint}")

    def current(self) -> list[tuple[Setting, Any]]:
        """Every declared setting with the value in force (its default when never set)."""
        stored = self.all()
        return [(s, stored.get(key, s.default)) for key, s in self.declared().items()]

    def change(self, key: str, value: Any) -> Any:
        """Check and store a declared setting in one transaction (audited); returns the value in force.

        An undeclared key or a value its check refuses raises ValidationError and writes nothing.
        """
        setting = self.declaration(key)
        checked = setting.check(value) if setting.check is not None else value
        with self._crm.transaction():
            if setting.apply is not None:
                setting.apply(self._crm, checked)
            else:
                self.set(key, checked)
        return self.get(key, setting.default)
