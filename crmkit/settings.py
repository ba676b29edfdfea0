"""Settings stored in the CRM file itself (currency, active plugins, plugin options)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .crm import CRM

_MISSING = object()


class Settings:
    """Key → JSON value settings of one CRM file; plugins namespace keys as ``plugin.key``."""

    def __init__(self, crm: "CRM"):
        self._crm = crm

    def get(self, key: str, default: Any = None) -> Any:
        """The value of ``key``, or ``default`` when it was never set."""
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
