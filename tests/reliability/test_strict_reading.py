"""Strict file reading: a CSV file whose structure is broken — an unterminated quote, a stray quote,
a line with more cells than the header — is refused as a whole with the line where the break
starts, and leaves the CRM as it was; well-formed quoting (doubled quotes, quoted line breaks,
trailing empty cells) still reads. A name may not hold a line break."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

import crmkit
from crmkit import CrmError, ValidationError
from crmkit.cli import make_cli
from crmkit.csvread import CsvSyntaxError, StrictReader
from crmkit.importing import import_file
from crmkit.plugins import installed_entry_points
from crmkit.testing import FixedClock

BROKEN = {
    "unterminated quote": ('name,email\nAnn,ann@example.com\n"Bo,bo@example.com\nCy,cy@example.com\nDi,di@example.com\n', 3),
    "quote inside a quoted cell": ('name,email\n"Ann "The Boss" Lee",ann@example.com\nBo,bo@example.com\n', 2),
    "quote inside an unquoted cell": ('name,email\nAnn,ann@example.com\nBo "Boss" Lee,bo@example.com\n', 3),
    "more cells than the header": ("name,email\nAnn,ann@example.com\nLee, Bo,bo@example.com\n", 3),
    "quote closed on a later line": ('name,email\n"Ann,ann@example.com\nBo,bo@example.com\n"Cy",cy@example.com\n', 2),
}


def write(tmp_path, text: str, name: str = "customers.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


class TestStrictReader:
    @pytest.mark.parametrize("case", sorted(BROKEN))
    def test_broken_structure_names_its_line(self, case):
        text, line = BROKEN[case]
        with pytest.raises(CsvSyntaxError) as caught:
            list(StrictReader(text.splitlines(keepends=True)))
        assert caught.value.line == line, str(caught.value)
        assert str(caught.value).startswith(f"line {line}: ")

    def test_well_formed_quoting_reads(self):
        text = 'name,notes,,\n"Ann ""The Boss"" Lee","two\nlines",,\n"Bo, Jr.",plain,,\n'
        assert list(StrictReader(text.splitlines(keepends=True))) == [
            (1, 1, ["name", "notes", "", ""]), (2, 3, ['Ann "The Boss" Lee', "two\nlines", "", ""]),
            (4, 4, ["Bo, Jr.", "plain", "", ""]),
        ]


class TestImportRefusesBrokenFiles:
    @pytest.mark.parametrize("case", sorted(BROKEN))
    @pytest.mark.parametrize("skip_invalid", [False, True])
    def test_refused_with_the_line_and_nothing_written(self, tmp_path, case, skip_invalid):
        text, line = BROKEN[case]
        path = write(tmp_path, text)
        with crmkit.open(tmp_path / "crm.db", plugins=[], clock=FixedClock()) as crm:
            with pytest.raises(CrmError, match=f"line {line}: "):
                import_file(crm, path, kind="customers", skip_invalid=skip_invalid)
            assert crm.customers.count() == 0

    def test_cli_gives_one_error_line(self, tmp_path):
        path = write(tmp_path, BROKEN["unterminated quote"][0])
        crmkit.open(tmp_path / "crm.db", plugins=[]).close()
        result = CliRunner().invoke(make_cli(), ["import", str(tmp_path / "crm.db"), str(path), "--kind", "customers"],
                                    env={"CRMKIT_PLUGINS": ""})
        assert result.exit_code != 0
        assert result.output.strip().splitlines() == [f"Error: {path.name} was not imported: line 3: a quoted cell opened here is never closed (the file ends on line 5)"]

    def test_a_name_with_a_line_break_is_a_bad_row(self, tmp_path):
        path = write(tmp_path, 'name,email\n"Ann\nLee",ann@example.com\nBo,bo@example.com\n')
        with crmkit.open(tmp_path / "crm.db", plugins=[], clock=FixedClock()) as crm:
            result = import_file(crm, path, kind="customers", skip_invalid=True)
            assert (result.added, [(p.row, p.field) for p in result.problems]) == (1, [(2, "name")])


class TestNamesAreOneLine:
    @pytest.mark.parametrize("name", ["Ann\nLee", "Ann\rLee", "Ann\u2028Lee", "Ann\x0bLee"])
    def test_refused(self, fresh_crm, name):
        with pytest.raises(ValidationError, match="one line"):
            fresh_crm.customers.add(name=name)
        person = fresh_crm.customers.add(name="Ann Lee")
        with pytest.raises(ValidationError, match="one line"):
            fresh_crm.customers.update(person.id, name=name)


@pytest.mark.skipif("leads" not in installed_entry_points(), reason="needs the leads plugin")
class TestLeadsImport:
    @pytest.mark.parametrize("case", sorted(BROKEN))
    def test_refused_with_the_line(self, tmp_path, case):
        text, line = BROKEN[case]
        path = write(tmp_path, text, "leads.csv")
        db = tmp_path / "crm.db"
        crmkit.open(db, plugins=["leads"]).close()
        result = CliRunner().invoke(make_cli(), ["leads", "import", str(db), str(path)], env={"CRMKIT_PLUGINS": "leads"})
        assert result.exit_code != 0
        assert len(result.output.strip().splitlines()) == 1 and f"line {line} of " in result.output, result.output
        with crmkit.open(db, plugins=["leads"]) as crm:
            assert crm.customers.count() == 0

    def test_well_formed_file_imports(self, tmp_path):
        path = write(tmp_path, 'name,needs,,\n"Ann ""The Boss"" Lee","two\nlines",,\nBo,,,\n', "leads.csv")
        db = tmp_path / "crm.db"
        crmkit.open(db, plugins=["leads"]).close()
        result = CliRunner().invoke(make_cli(), ["leads", "import", str(db), str(path)], env={"CRMKIT_PLUGINS": "leads"})
        assert result.exit_code == 0, result.output
        with crmkit.open(db, plugins=["leads"]) as crm:
            assert sorted(c.name for c in crm.customers.list()) == ['Ann "The Boss" Lee', "Bo"]
