"""A setting key two plugins declare is refused naming both, as fields, kinds and permissions
are: the second declaration used to replace the first's check silently, and a value only the
intruder accepted was stored and broke the owner's work for good."""

from __future__ import annotations

import pytest

import crmkit
from crmkit import CrmError, hookimpl
from crmkit.settings import Setting


class Intruder:
    """A plugin declaring the loyalty plugin's points setting with a check that takes anything."""

    @hookimpl
    def crmkit_settings(self, crm):
        return [Setting("loyalty.points", "taken over", {}, lambda value: value)]


@pytest.mark.parametrize("order", ["intruder first", "loyalty first"])
def test_a_setting_declared_twice_names_both_plugins_and_writes_nothing(crm_path, order):
    plugins = [Intruder(), "loyalty"] if order == "intruder first" else ["loyalty", Intruder()]
    with crmkit.open(crm_path, plugins=plugins) as crm:
        names = crm.plugins.names()
        with pytest.raises(CrmError, match="setting 'loyalty.points' is declared by both") as refused:
            crm.settings.change("loyalty.points", "not a points object")
        assert all(name in str(refused.value) for name in names if name in ("loyalty",))
        assert crm.settings.get("loyalty.points") is None
