"""Every CSV file crmkit writes is safe to open in a spreadsheet: no cell starts a formula
(``=``, ``+``, ``-``, ``@``, tab, carriage return), while real numbers such as ``-12.50`` stay
numbers. The test feeds hostile text into every field the reports, exports, import reports and
plugin CSVs show, writes them all and scans every cell."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

import crmkit
from crmkit.csvfile import safe_cell
from crmkit.exporting import export_file
from crmkit.importing import import_file
from crmkit.plugins import installed_entry_points
from crmkit.testing import FixedClock

HOSTILE = ['=HYPERLINK("http://x","y")', "=cmd|' /C calc'!A0", "+1+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0",
           "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1", "\r=1+1"]
NUMBER = re.compile(r"-?\d+(\.\d+)?\Z")
PLUGINS = sorted(installed_entry_points())


def hostile(i: int) -> str:
    return HOSTILE[i % len(HOSTILE)]


def live_formulas(paths: list[Path]) -> list[tuple[str, str]]:
    """(file, cell) for every cell of every file a spreadsheet would run as a formula."""
    found = []
    for path in paths:
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.reader(handle):
                found += [(path.name, cell) for cell in row if cell[:1] in ("=", "+", "-", "@", "\t", "\r") and not NUMBER.match(cell)]
    return found


def build(crm) -> None:
    """Customers, purchases, refunds, surveys, reps, leads and complaints whose every text is hostile."""
    names = set(crm.plugins.names())
    if "leads" in names:
        for i in range(3):
            crm.leads.add_rep(f"rep-{i}", hostile(i), team=hostile(i + 1))
    for i in range(14):
        text = hostile(i)
        fields = {"email": f"c{i}@example.com", "company": text, "region": hostile(i + 1), "industry": hostile(i + 2),
                  "source": hostile(i + 3), "size": "small", "owner": hostile(i + 4), "tags": [hostile(i + 5)]}
        if "leads" in names and i % 2:
            person = crm.leads.add(text, **fields)
            crm.leads.claim(person.id, f"rep-{i % 3}")
            if i % 4 == 1:
                crm.leads.convert(person.id)
            else:
                crm.leads.lose(person.id, crm.leads.options.lost_reasons[0])
        else:
            person = crm.customers.add(name=text, **fields)
        crm.interactions.record_many([
            {"customer_id": person.id, "kind": "purchase", "occurred_at": f"2024-0{1 + i % 6}-0{1 + i % 9}", "amount": "112.50",
             "product": hostile(i + 6), "category": hostile(i + 7), "channel": hostile(i + 1), "rep": hostile(i + 2),
             "notes": hostile(i + 3)},
            {"customer_id": person.id, "kind": "refund", "occurred_at": "2024-06-20", "amount": "12.50", "product": hostile(i + 6)},
            {"customer_id": person.id, "kind": "survey", "occurred_at": "2024-06-21", "data": {"topic": hostile(i), "score": 1 + i % 5}},
        ])
        if "complaints" in names and i % 3 == 0:
            crm.complaints.open(person.id, category=hostile(i), description=hostile(i + 1), product=hostile(i + 2))


@pytest.fixture
def hostile_crm(tmp_path):
    with crmkit.open(tmp_path / "hostile.db", plugins=PLUGINS, clock=FixedClock("2024-07-01T09:00:00Z")) as crm:
        build(crm)
        crm.segments.define("everyone", "id > 0", description=hostile(0))
        yield crm


class TestSafeCell:
    @pytest.mark.parametrize("value, cell", [
        ("-12.50", "-12.50"), ("-1", "-1"), ("12", "12"), (-12.5, "-12.5"), (3, "3"), (None, ""),
        ("-1+2", "'-1+2"), ("+1", "'+1"), ("=1", "'=1"), ("@x", "'@x"), ("\t1", "'\t1"), ("\r1", "'\r1"),
        ("- item", "'- item"), ("plain", "plain"), ("a=b", "a=b"),
    ])
    def test_formulas_are_quoted_and_numbers_stay_numbers(self, value, cell):
        assert safe_cell(value) == cell


@pytest.mark.skipif("reports" not in PLUGINS, reason="needs the reports plugin")
def test_every_report_section_csv_is_safe(hostile_crm, tmp_path):
    report = hostile_crm.reports.build(as_of="2024-07-01")
    paths = report.write_csv(tmp_path / "report")
    assert len(paths) == len(report.sections) > 5
    assert live_formulas(paths) == []


def test_every_export_is_safe(hostile_crm, tmp_path):
    paths = []
    for kind, segment in (("customers", None), ("interactions", None), ("segment", "everyone")):
        path = tmp_path / f"{kind}.csv"
        export_file(hostile_crm, path, kind, segment=segment)
        paths.append(path)
    assert live_formulas(paths) == []


def test_the_import_report_is_safe(hostile_crm, tmp_path):
    source = tmp_path / "bad.csv"
    with source.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "email", "region"])
        for i, text in enumerate(HOSTILE):
            writer.writerow([text, f"not-an-email {text}", text])
    report = tmp_path / "problems.csv"
    result = import_file(hostile_crm, source, kind="customers", skip_invalid=True, report=report)
    assert result.problems and report.exists()
    assert live_formulas([report]) == []


@pytest.mark.skipif("leads" not in PLUGINS, reason="needs the leads plugin")
def test_the_lead_scores_export_is_safe(hostile_crm, tmp_path):
    hostile_crm.leads.train()
    path = tmp_path / "scores.csv"
    hostile_crm.leads.export_scores(path)
    assert live_formulas([path]) == []
