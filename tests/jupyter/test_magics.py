"""The %crm magic in a real IPython shell, against real CRM files."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

import crmkit
from crmkit import Chart, Section, hookimpl
from jupyter_helpers import admin_count, fill


@pytest.fixture
def ip():
    shell = InteractiveShell.instance()
    shell.extension_manager.load_extension("crmkit_jupyter")
    yield shell
    magics = shell.magics_manager.registry["CrmMagics"]
    if magics.crm is not None:
        magics.crm.close()
        magics.crm = None
    shell.user_ns.pop("crm", None)
    shell.user_ns.pop("shop", None)
    shell.extension_manager.unload_extension("crmkit_jupyter")


@pytest.fixture
def shop_file(crm_path, clock):
    """The 30-customer shop written to a file and closed again, for %crm open."""
    fill(crmkit.open(crm_path, plugins=[], clock=clock)).close()
    return crm_path


def crm_line(ip, line):
    return ip.run_line_magic("crm", line)


class TestOpen:
    def test_open_binds_crm(self, ip, shop_file, monkeypatch):
        monkeypatch.setenv("CRMKIT_PLUGINS", "")
        out = crm_line(ip, f"open {shop_file}")
        assert isinstance(ip.user_ns["crm"], crmkit.CRM)
        assert "30 customers" in out._repr_html_() and "plugins: none" in repr(out)

    def test_open_as_another_name_with_plugins(self, ip, shop_file):
        crm_line(ip, f"open {shop_file} --plugins '' --as shop")
        assert ip.user_ns["shop"].plugins.names() == []
        assert "crm" not in ip.user_ns

    def test_missing_file_is_refused_unless_create(self, ip, tmp_path):
        target = tmp_path / "new.db"
        with pytest.raises(UsageError, match="no CRM file at"):
            crm_line(ip, f"open {target}")
        assert not target.exists()
        crm_line(ip, f"open {target} --create --plugins ''")
        assert target.exists() and ip.user_ns["crm"].customers.count() == 0

    @pytest.mark.parametrize("line, message", [
        ("open", "needs a path"), ("open a.db b.db", "one path only"), ("open a.db --colour", "unknown option"),
        ("open a.db --as 1x", "Python name"), ("frobnicate", "unknown %crm command"),
    ])
    def test_usage_errors(self, ip, line, message):
        with pytest.raises(UsageError, match=message):
            crm_line(ip, line)

    def test_commands_need_an_open_crm(self, ip):
        with pytest.raises(UsageError, match="no CRM is open"):
            crm_line(ip, "segment")

    def test_a_crm_variable_is_used_when_nothing_was_opened(self, ip, shop):
        ip.user_ns["crm"] = shop
        assert "No segment saved yet" in crm_line(ip, "segment")._repr_html_()

    def test_help(self, ip, capsys):
        crm_line(ip, "help")
        assert "%crm segment NAME RULE" in capsys.readouterr().out


class TestSegment:
    def test_define_show_update_and_list(self, ip, shop):
        ip.user_ns["crm"] = shop
        # EU = multiples of 3 -> 10 customers
        out = crm_line(ip, "segment eu region = 'EU'")
        assert shop.segments.get("eu").rule == "region = 'EU'"
        assert "data-count='10'" in out._repr_html_() and "(saved)" in out._repr_html_()
        assert out._repr_html_().count("<tr>") == 1 + 10  # header + 10 preview rows (the default limit)
        shown = crm_line(ip, "segment --limit 3 eu")
        assert shown._repr_html_().count("<tr>") == 1 + 3 and "first 3 of 10" in shown._repr_html_()
        crm_line(ip, "segment eu region = 'US'")
        assert shop.segments.get("eu").rule == "region = 'US'"
        listing = crm_line(ip, "segment")
        assert "eu: 20 (region = 'US')" in repr(listing)

    def test_unsaved_rule_and_as_of(self, ip, shop):
        ip.user_ns["crm"] = shop
        out = crm_line(ip, "segment - ltv >= 295")
        # ltv >= 295: 29 (290)? no; 30 (300 - 5 = 295) yes -> 1
        assert "data-count='1'" in out._repr_html_() and "Customer 30" in out._repr_html_()
        past = crm_line(ip, "segment --as-of 2024-10-01 - ltv > 0")
        assert "data-count='0'" in past._repr_html_() and "2024-10-01" in repr(past)
        assert admin_count(shop, "segments") == 0

    def test_quoted_names(self, ip, shop):
        ip.user_ns["crm"] = shop
        crm_line(ip, "segment 'big spenders' ltv >= 250")
        # ltv >= 250: 25, 26, 27, 28, 29 (250..290) and 30 (295) -> 6
        assert shop.segments["big spenders"].count() == 6

    def test_bad_rules_write_nothing(self, ip, shop):
        ip.user_ns["crm"] = shop
        before = admin_count(shop, "segments"), admin_count(shop, "audit_log")
        with pytest.raises(UsageError, match="did you mean 'region'"):
            crm_line(ip, "segment eu regon = 'EU'")
        with pytest.raises(UsageError, match="no segment named 'nope'"):
            crm_line(ip, "segment nope")
        with pytest.raises(UsageError, match="--limit needs a whole number"):
            crm_line(ip, "segment --limit many eu")
        with pytest.raises(UsageError, match="needs a rule"):
            crm_line(ip, "segment -")
        assert (admin_count(shop, "segments"), admin_count(shop, "audit_log")) == before


class FakeReports:
    """A stand-in for the reports plugin's service: it builds a report of sections."""

    def __init__(self, crm):
        self.crm = crm
        self.asked = []

    def build(self, as_of=None):
        as_of = self.crm.as_of(as_of)
        self.asked.append(as_of)
        return FakeReport([
            Section("core.customers", "Customers", figures={"customers": self.crm.customers.count()},
                    rows=[{"month": "2024-11", "buyers": 30}], charts=[Chart("bar", "Buyers", "month", ("buyers",))]),
            Section("broken.part", "Broken part", error="ZeroDivisionError: division by zero"),
        ])


class FakeReport:
    def __init__(self, sections):
        self.sections = sections

    def __str__(self):
        return f"report of {len(self.sections)} sections"


class ReportsPlugin:
    name = "reports"

    @hookimpl
    def crmkit_extend(self, crm):
        return {"reports": FakeReports(crm)}


class TestReportAndPlugins:
    def test_report_without_the_plugin_says_so(self, ip, shop):
        ip.user_ns["crm"] = shop
        out = crm_line(ip, "report")
        assert "crmkit-report-missing" in out._repr_html_()
        assert "reports plugin is not active" in repr(out)

    def test_report_through_the_service(self, ip, crm_path, clock):
        crm = fill(crmkit.open(crm_path, plugins=[ReportsPlugin()], clock=clock))
        ip.user_ns["crm"] = crm
        html = crm_line(ip, "report --as-of 2024-12-31")._repr_html_()
        assert crm.reports.asked[0].isoformat() == "2024-12-31T00:00:00+00:00"
        assert "Report as of 2024-12-31" in html and "crmkit-chart-svg" in html
        assert "This section failed: ZeroDivisionError" in html
        crm_line(ip, "report")
        assert crm.reports.asked[1] == clock()
        with pytest.raises(UsageError, match="an ISO-8601 date"):
            crm_line(ip, "report --as-of yesterday")
        with pytest.raises(UsageError, match="usage: %crm report"):
            crm_line(ip, "report --html x.html")
        crm.close()

    def test_plugins(self, ip, crm_path, clock):
        crm = fill(crmkit.open(crm_path, plugins=[ReportsPlugin()], clock=clock))
        ip.user_ns["crm"] = crm
        out = crm_line(ip, "plugins")
        assert "reports" in out._repr_html_() and "crmkit_extend" in repr(out)
        crm.close()
