"""A plugin author's path from the tutorial to an installed package: the entry point forms that
work, a clear refusal for those that would register nothing, a failed open that changes nothing,
and one ``Error:`` line for a plugin set-up error on the command line."""

from __future__ import annotations

import itertools
import re
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

import crmkit
from crmkit import CrmError, Field, Migrations, hookimpl
from crmkit.cli import main
from crmkit.testing import FixedClock

ROOT = Path(__file__).resolve().parents[2]
TUTORIAL = ROOT / "docs" / "plugins" / "writing-plugins.md"
_numbers = itertools.count()

CLASS_PLUGIN = '''
from crmkit import InteractionKind, Migrations, hookimpl

migrations = Migrations("crmkit_{package}")

@migrations()
def m001(db):
    db.execute("CREATE TABLE {package}_rows (id INTEGER PRIMARY KEY)")

class {cls}:
    name = "{name}"

    @hookimpl
    def crmkit_migrations(self):
        return migrations

    @hookimpl
    def crmkit_interaction_kinds(self):
        return [InteractionKind("{name}_kind", "A kind of the {name} plugin.")]
'''


@pytest.fixture
def install(tmp_path, monkeypatch):
    """``install(modules, entry_points)``: a distribution on ``sys.path`` with the modules of a
    fresh package (``{package}`` in their text is its name) and ``[crmkit]`` entry points
    (``{package}`` in a value likewise); returns the package name. Its modules are forgotten after."""
    packages = []

    def make(modules: dict[str, str], entry_points: dict[str, str]) -> str:
        package = f"crmkit_author_{next(_numbers)}_{tmp_path.name[-8:].lower()}"
        package = re.sub(r"\W", "_", package)
        site = tmp_path / f"site-{package}"
        (site / package).mkdir(parents=True)
        (site / package / "__init__.py").write_text("")
        for module, text in modules.items():
            (site / package / f"{module}.py").write_text(textwrap.dedent(text).replace("{package}", package))
        info = site / f"{package}-0.1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: 0.1.0\n")
        lines = [f"{name} = {value.replace('{package}', package)}" for name, value in entry_points.items()]
        (info / "entry_points.txt").write_text("[crmkit]\n" + "\n".join(lines) + "\n")
        monkeypatch.syspath_prepend(str(site))
        packages.append(package)
        return package

    monkeypatch.delenv("CRMKIT_PLUGINS", raising=False)
    monkeypatch.delenv("CRMKIT_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    yield make
    for name in list(sys.modules):
        if any(name == p or name.startswith(p + ".") for p in packages):
            del sys.modules[name]


def run_crmkit(*args) -> tuple[int, str]:
    """``crmkit ARGS`` as a person runs it: the command line is built inside the run, so what it
    prints while starting up (before the command) is in the output too."""
    with CliRunner().isolation() as (_, _, output):
        try:
            main([str(arg) for arg in args])
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
        return code, output.getvalue().decode()


def _lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.strip()]


def class_plugin(name: str, cls: str = "AuthorPlugin") -> str:
    return CLASS_PLUGIN.replace("{name}", name).replace("{cls}", cls)


class TestEntryPoints:
    """What an entry point may name, and what crmkit says when it names something that would do nothing."""

    def test_a_module_whose_hooks_are_methods_of_a_class_is_refused_naming_the_fix(self, install, tmp_path):
        """The tutorial's packaging, taken literally, registered a module with no hooks: listed as
        active, doing nothing, without a word."""
        package = install({"plugin": class_plugin("votes", "VotesPlugin")}, {"votes": "{package}.plugin"})
        with pytest.raises(CrmError) as refused:
            crmkit.open(tmp_path / "a.db", plugins=["votes"])
        message = str(refused.value)
        assert f"plugin 'votes', entry point {package}.plugin ({package}), implements no crmkit hook" in message
        assert f'point the entry point at the class ("{package}.plugin:VotesPlugin")' in message
        assert not (tmp_path / "a.db").exists()

    def test_an_entry_point_naming_the_class_gets_one_instance(self, install, tmp_path):
        """Pointing at the class failed on every hook call: 'missing 1 required positional argument: self'."""
        install({"plugin": class_plugin("votes", "VotesPlugin")}, {"votes": "{package}.plugin:VotesPlugin"})
        with crmkit.open(tmp_path / "a.db", plugins=["votes"]) as crm:
            info = {p.name: p for p in crm.plugins.info()}
            assert info["votes"].hooks == ("crmkit_interaction_kinds", "crmkit_migrations")
            assert "votes_kind" in crm.kinds
            assert any(name.endswith("_rows") for name in crm.db.table_names())

    def test_an_entry_point_naming_an_instance_works(self, install, tmp_path):
        install(
            {"plugin": class_plugin("votes", "VotesPlugin") + "\nvotes_plugin = VotesPlugin()\n"},
            {"votes": "{package}.plugin:votes_plugin"},
        )
        with crmkit.open(tmp_path / "a.db", plugins=["votes"]) as crm:
            assert "votes_kind" in crm.kinds

    def test_a_class_that_cannot_be_made_without_arguments_is_refused(self, install, tmp_path):
        text = class_plugin("votes", "VotesPlugin") + "\n    def __init__(self, level):\n        self.level = level\n"
        install({"plugin": text}, {"votes": "{package}.plugin:VotesPlugin"})
        with pytest.raises(CrmError, match=r"cannot make an instance of it without arguments .*name an instance in the entry point"):
            crmkit.open(tmp_path / "a.db", plugins=["votes"])

    def test_a_module_without_any_hook_is_refused(self, install, tmp_path):
        install({"plugin": "def crmkit_migrations():\n    return None\n"}, {"empty": "{package}.plugin"})
        with pytest.raises(CrmError, match=r"plugin 'empty', entry point .* implements no crmkit hook.*@crmkit.hookimpl"):
            crmkit.open(tmp_path / "a.db", plugins=["empty"])

    def test_a_plugin_object_without_any_hook_is_refused(self, tmp_path):
        class Nothing:
            name = "nothing"

            def crmkit_fields(self, crm):  # not marked @hookimpl
                return []

        with pytest.raises(CrmError, match="plugin 'nothing' implements no crmkit hook"):
            crmkit.open(":memory:", plugins=[Nothing()])

    def test_a_plugin_class_given_to_open_gets_one_instance(self, clock):
        class Counting:
            name = "counting"

            @hookimpl
            def crmkit_interaction_kinds(self):
                return [crmkit.InteractionKind("counted", "A counted thing.")]

        with crmkit.open(":memory:", plugins=[Counting], clock=clock) as crm:
            assert "counted" in crm.kinds

    def test_crmkit_plugins_names_the_useless_plugin_in_one_error_line(self, install, monkeypatch):
        install({"plugin": class_plugin("votes", "VotesPlugin")}, {"votes": "{package}.plugin"})
        monkeypatch.setenv("CRMKIT_PLUGINS", "votes")
        code, output = run_crmkit("plugins")
        assert code == 1, output
        assert [line for line in output.splitlines() if line.strip()] == [
            line for line in output.splitlines() if line.startswith("Error: plugin 'votes'")
        ], output
        assert "VotesPlugin" in output


def _tutorial_plugin_module() -> str:
    """The tutorial's Python blocks up to and including its plugin class: what an author saves as
    the package's plugin module."""
    text = TUTORIAL.read_text(encoding="utf-8")
    out = []
    for block in re.findall(r"```python\n(.*?)```", text, re.S):
        out.append(block)
        if block.startswith("class NpsPlugin"):
            return "\n".join(out)
    raise AssertionError("the tutorial has no plugin class")


def _entry_points_shown(section: str) -> list[str]:
    text = TUTORIAL.read_text(encoding="utf-8")
    part = text.split(f"## {section}", 1)[1].split("\n## ", 1)[0]
    return re.findall(r'^nps = "(crmkit_nps\.plugin[:\w]*)"$', part, re.M)


def test_the_tutorials_packaging_instructions_give_a_working_plugin(install, tmp_path):
    """The entry point the tutorial gives for its plugin class works: the table, the kind and the
    field are there (naming the module registered nothing)."""
    shown = _entry_points_shown("Putting it together")
    assert len(shown) == 1, shown
    install({"plugin": _tutorial_plugin_module()}, {"nps": shown[0].replace("crmkit_nps", "{package}")})
    with crmkit.open(tmp_path / "t.db", plugins=["nps"], clock=FixedClock("2025-03-01")) as crm:
        assert "nps" in crm.kinds
        assert "nps_responses" in crm.db.table_names()
        assert "nps_category" in crm.fields


def test_the_tutorials_first_entry_point_is_what_new_plugin_writes():
    """Section 0's entry point names the module, as the scaffold's pyproject.toml does (its hooks
    are module-level functions)."""
    from crmkit.scaffold import _files

    assert _entry_points_shown("0. The shape of a plugin") == ["crmkit_nps.plugin"]
    assert 'nps = "crmkit_nps.plugin"' in _files("nps")["pyproject.toml"].splitlines()


# --- a failed open changes nothing ---------------------------------------------------------------

acme_migrations = Migrations("crmkit_acme_author")


@acme_migrations()
def m001_things(db):
    db.execute("CREATE TABLE acme_things (id INTEGER PRIMARY KEY)")


def acme(failure: str):
    """A plugin with a migration whose registration fails in the way named."""

    class Acme:
        name = "acme"

        @hookimpl
        def crmkit_migrations(self):
            return acme_migrations

        @hookimpl
        def crmkit_fields(self, crm):
            if failure == "field":  # the loyalty plugin's field
                return [Field("tier", "text", "A clash.", "(SELECT 'x')")]
            return []

        @hookimpl
        def crmkit_interaction_kinds(self):
            return [crmkit.InteractionKind("purchase", "A clash with the core's.")] if failure == "kind" else []

        @hookimpl
        def crmkit_permissions(self):
            return [crmkit.Permission("customers.write", "A clash with the core's.")] if failure == "permission" else []

        @hookimpl
        def crmkit_extend(self, crm):
            if failure == "raises":
                raise RuntimeError("cannot start")
            return {"loyalty": object()} if failure == "service" else {}

    return Acme()


FAILURES = {
    "field": "field 'tier' is registered by both",
    "kind": "purchase",
    "permission": "customers.write",
    "service": "'loyalty'",
    "raises": "cannot start",
}


@pytest.mark.parametrize("failure", FAILURES)
def test_an_open_refused_by_a_plugin_leaves_an_existing_crm_as_it_was(failure, crm_path, clock):
    """The plugin's migrations ran and were committed although the open raised."""
    with crmkit.open(crm_path, plugins=["loyalty"], clock=clock) as crm:
        crm.customers.add(name="Ada")
        before = sorted(crm.db.table_names()), crm.settings.all()
    with pytest.raises(CrmError, match=re.escape(FAILURES[failure])):
        crmkit.open(crm_path, plugins=["loyalty", acme(failure)], clock=clock)
    with crmkit.open(crm_path, plugins=["loyalty"], clock=clock) as crm:
        assert (sorted(crm.db.table_names()), crm.settings.all()) == before
        assert "acme_things" not in crm.db.table_names()
        assert acme_migrations.applied(crm.db) == []
        assert crm.customers.count() == 1
    # The same plugin, fixed, then opens the CRM and gets its table.
    with crmkit.open(crm_path, plugins=["loyalty", acme("none")], clock=clock) as crm:
        assert "acme_things" in crm.db.table_names()


FAILING_SERVICE = """
from crmkit import hookimpl

@hookimpl
def crmkit_extend(crm):
    raise RuntimeError("cannot start")
"""


def test_an_open_refused_after_choosing_the_plugin_set_stores_nothing(install, crm_path, clock):
    """A CRM without a stored plugin set (made before there was one) stores the set it is opened
    with, but not from an open that fails, even when no migration is pending."""
    install({"plugin": FAILING_SERVICE}, {"failing": "{package}.plugin"})
    with crmkit.open(crm_path, plugins=["loyalty"], clock=clock) as crm:
        crm.db.execute("DELETE FROM settings WHERE key = 'plugins'")
    with pytest.raises(CrmError, match="cannot start"):
        crmkit.open(crm_path, plugins=["loyalty", "failing"], clock=clock)
    with crmkit.open(crm_path, plugins=["loyalty"], clock=clock) as crm:  # stores the set it opens with
        assert crm.settings.get("plugins") == ["loyalty"]


@pytest.mark.sqlite_only
def test_an_open_refused_by_a_plugin_creates_no_file(crm_path, clock):
    with pytest.raises(CrmError):
        crmkit.open(crm_path, plugins=["loyalty", acme("field")], clock=clock)
    assert not crm_path.exists()


CLASHING_FIELD = """
from crmkit import Field, Migrations, hookimpl

migrations = Migrations("crmkit_{package}")

@migrations()
def m001(db):
    db.execute("CREATE TABLE {package}_things (id INTEGER PRIMARY KEY)")

@hookimpl
def crmkit_migrations():
    return migrations

@hookimpl
def crmkit_fields(crm):
    return [Field("tier", "text", "A clash with the loyalty plugin's.", "(SELECT 'x')")]
"""


def test_a_command_refused_by_a_plugin_leaves_the_crm_as_it_was(install, crm_path, clock, monkeypatch):
    """`CRMKIT_PLUGINS=loyalty,acme crmkit customers add e.db ...` failed, yet acme's tables were in e.db."""
    package = install({"plugin": CLASHING_FIELD}, {"acme": "{package}.plugin"})
    crmkit.open(crm_path, plugins=["loyalty"], clock=clock).close()
    monkeypatch.setenv("CRMKIT_PLUGINS", "loyalty,acme")
    code, output = run_crmkit("customers", "add", str(crm_path), "--name", "Ada")
    assert code == 1, output
    lines = _lines(output)
    assert len(lines) == 1 and lines[0].startswith("Error: field 'tier' is registered by both"), output
    with crmkit.open(crm_path, plugins=[], clock=clock) as crm:
        assert f"{package}_things" not in crm.db.table_names()
        assert crm.customers.count() == 0


# --- one Error line for a plugin set-up error -----------------------------------------------------

@pytest.fixture
def cli_crm(tmp_path, monkeypatch):
    monkeypatch.delenv("CRMKIT_PLUGINS", raising=False)
    monkeypatch.delenv("CRMKIT_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "shop.db"
    crmkit.open(path, plugins=["leads"]).close()
    return path


@pytest.mark.parametrize("how, message", [
    ("environment", "Error: unknown plugin 'nope'; installed plugins: "),
    ("settings file", "Error: unknown plugin 'nope'; installed plugins: "),
    ("bad settings file", "Error: cannot read settings file "),
])
def test_a_plugin_set_up_error_is_one_error_line(cli_crm, monkeypatch, how, message):
    """Every such command printed 'Warning: plugins not loaded: ...' and then the same as 'Error: ...'."""
    if how == "environment":
        monkeypatch.setenv("CRMKIT_PLUGINS", "leads,nope")
    elif how == "settings file":
        Path("crmkit.toml").write_text('[crmkit]\nplugins = ["leads", "nope"]\n')
    else:
        Path("crmkit.toml").write_text("[crmkit\n")
    code, output = run_crmkit("customers", "list", str(cli_crm))
    assert code == 1, output
    lines = _lines(output)
    assert len(lines) == 1 and lines[0].startswith(message), output


def test_a_plugin_failing_to_import_is_one_error_line(cli_crm, install, monkeypatch):
    install({"plugin": "import no_such_module_anywhere\n"}, {"broken": "{package}.plugin"})
    monkeypatch.setenv("CRMKIT_PLUGINS", "broken")
    code, output = run_crmkit("customers", "list", str(cli_crm))
    assert code == 1, output
    lines = _lines(output)
    assert len(lines) == 1 and lines[0].startswith("Error: plugin 'broken' failed in load"), output


def test_an_unknown_hook_is_one_error_line(cli_crm, install, monkeypatch):
    install(
        {"plugin": "from crmkit import hookimpl\n\n@hookimpl\ndef crmkit_interaction_recorded(interactions):\n    pass\n"},
        {"typo": "{package}.plugin"},
    )
    monkeypatch.setenv("CRMKIT_PLUGINS", "typo")
    code, output = run_crmkit("customers", "list", str(cli_crm))
    assert code == 1, output
    lines = _lines(output)
    assert len(lines) == 1 and lines[0].startswith("Error: plugin 'typo' is invalid"), output


def test_help_still_warns_and_lists_the_cores_commands(cli_crm, monkeypatch):
    monkeypatch.setenv("CRMKIT_PLUGINS", "leads,nope")
    code, output = run_crmkit("--help")
    assert code == 0, output
    assert "Warning: plugins not loaded: unknown plugin 'nope'" in output
    assert "customers" in output and "  leads " not in output


def test_a_plugin_command_missing_because_plugins_did_not_load_says_why(cli_crm, monkeypatch):
    monkeypatch.setenv("CRMKIT_PLUGINS", "leads,nope")
    code, output = run_crmkit("leads", "pool", str(cli_crm))
    assert code == 2, output
    errors = [line for line in _lines(output) if line.startswith("Error:")]
    assert len(errors) == 1, output
    assert errors[0].startswith("Error: No such command 'leads'. Plugins' commands are missing: unknown plugin 'nope'")
    assert "Warning" not in output


# --- strategies for the leads plugin, without importing it ------------------------------------------

LEADS_PAGE = ROOT / "docs" / "plugins" / "leads.md"


def test_the_leads_strategies_example_imports_no_plugin():
    """The page told authors `from crmkit_leads import Candidates, Picker, Selector`, against
    "a plugin never imports another plugin"."""
    section = LEADS_PAGE.read_text(encoding="utf-8").split("### Strategies from other plugins", 1)[1].split("\n## ", 1)[0]
    code = "\n".join(re.findall(r"```python\n(.*?)```", section, re.S))
    assert "optionalhook=True" in code
    assert not re.search(r"^\s*(from|import)\s+crmkit_(leads|loyalty|complaints|reports)\b", code, re.M), code


class Shaped:
    """A plugin describing its strategies with plain mappings and objects, importing nothing of leads."""

    name = "shaped"

    @hookimpl(optionalhook=True)
    def crmkit_leads_strategies(self, crm):
        class Ranked:  # any object with the attributes will do
            kind, name = "selector", "ranked"

            @staticmethod
            def fn(ctx):
                """Ranked: the rep with the most points."""
                return {None: {"reps": None, "label": "ranked {best}", "scores": {"bo": 2, "ann": 1}}}

        return [{"kind": "picker", "name": "newest_first", "fn": lambda ctx: "-s.rotation"}, Ranked()]


def test_strategies_given_as_mappings_and_objects_allocate(clock):
    with crmkit.open(":memory:", plugins=["leads", Shaped()], clock=clock) as crm:
        crm.leads.add_rep("ann", "Ann", capacity=5)
        crm.leads.add_rep("bo", "Bo", capacity=5)
        listed = {s["name"]: s for s in crm.leads.strategy_list()}
        assert (listed["ranked"]["kind"], listed["ranked"]["plugin"]) == ("selector", "shaped")
        assert listed["ranked"]["description"] == "Ranked: the rep with the most points."
        assert listed["newest_first"]["kind"] == "picker"
        crm.leads.add("Mill")
        moves = crm.leads.allocate(strategy="ranked > least_loaded").moves
        assert [(m.rep, m.reason.split(";")[0]) for m in moves] == [("bo", "ranked 2")]


@pytest.mark.parametrize("item, message", [
    ({"kind": "chooser", "name": "x", "fn": len}, "returned {'kind': 'chooser'"),
    ({"kind": "picker", "name": "", "fn": len}, "returned {'kind': 'picker', 'name': ''"),
    ("least_loaded", "returned 'least_loaded' as a strategy"),
])
def test_a_strategy_of_the_wrong_shape_is_refused_naming_the_plugin(clock, item, message):
    class Wrong:
        name = "wrong"

        @hookimpl(optionalhook=True)
        def crmkit_leads_strategies(self, crm):
            return [item]

    with pytest.raises(CrmError, match=re.escape(f"plugin 'wrong' {message}")):
        crmkit.open(":memory:", plugins=["leads", Wrong()], clock=clock)


def test_candidates_of_the_wrong_shape_are_refused_naming_the_selector(clock):
    class Sloppy:
        name = "sloppy"

        @hookimpl(optionalhook=True)
        def crmkit_leads_strategies(self, crm):
            return [{"kind": "selector", "name": "sloppy", "fn": lambda ctx: {None: ["ann"]}}]

    with crmkit.open(":memory:", plugins=["leads", Sloppy()], clock=clock) as crm:
        crm.leads.add_rep("ann", "Ann", capacity=5)
        crm.leads.add("Mill")
        with pytest.raises(CrmError, match="selector 'sloppy' of plugin 'sloppy' named \\['ann'\\] as candidates"):
            crm.leads.allocate(strategy="sloppy")
