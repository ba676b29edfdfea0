"""The example notebooks (tour, churn study, plugin prototype) run top to bottom in a real kernel.

Each notebook checks itself with ``assert`` cells (crmkit's figures against a pandas
recomputation, snapshot arithmetic, idempotent due runs...). The tests below execute it with
nbclient in a temporary folder, fail on any error, and add one cell just before the notebook's
clean-up cell that prints the results the test then checks. The committed files must have no
outputs, so they stay small and diff cleanly.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

NOTEBOOKS = Path(__file__).resolve().parents[2] / "examples" / "notebooks"
OURS = ("tour.ipynb", "churn-study.ipynb", "plugin-prototype.ipynb")
MARK = "NOTEBOOK-CHECKS "


def run_notebook(name: str, folder: Path, checks: str, source: Path = NOTEBOOKS) -> tuple[nbformat.NotebookNode, dict]:
    """Execute notebook ``name`` in ``folder`` with ``checks`` (code printing a dict) run just
    before the cell tagged ``cleanup``; returns the executed notebook and the printed dict."""
    if source != folder:
        shutil.copy(source / name, folder / name)
    nb = nbformat.read(folder / name, as_version=4)
    cleanup = [i for i, cell in enumerate(nb.cells) if "cleanup" in cell.metadata.get("tags", [])]
    assert len(cleanup) == 1, f"{name} needs exactly one cell tagged 'cleanup'"
    probe = nbformat.v4.new_code_cell(f"import json as _json\nprint({MARK!r} + _json.dumps({checks}, default=str))")
    probe["id"] = "test-checks"
    nb.cells.insert(cleanup[0], probe)
    client = NotebookClient(nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(folder)}})
    client.execute()
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    errors = [o for cell in code for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors
    assert all(cell.get("execution_count") for cell in code), "a code cell did not run"
    printed = "".join(o.get("text", "") for o in probe.get("outputs", []) if o.get("output_type") == "stream")
    line = next(line for line in printed.splitlines() if line.startswith(MARK))
    return nb, json.loads(line[len(MARK):])


def output_of(nb, starts_with: str) -> str:
    """Every output of the first code cell whose source starts with ``starts_with``, as text."""
    cell = next(c for c in nb.cells if c.cell_type == "code" and c.source.startswith(starts_with))
    return json.dumps(cell.get("outputs", []))


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """A clean folder; the notebooks choose their plugins themselves."""
    monkeypatch.delenv("CRMKIT_PLUGINS", raising=False)
    monkeypatch.delenv("CRMKIT_CONFIG", raising=False)
    return tmp_path


class TestCommittedFiles:
    def test_every_notebook_is_committed_without_outputs(self):
        """Outputs are cleared in the committed files (small files, clean diffs)."""
        for name in OURS:
            nb = nbformat.read(NOTEBOOKS / name, as_version=4)
            nbformat.validate(nb)
            code = [c for c in nb.cells if c.cell_type == "code"]
            assert code, name
            assert [c.get("outputs") for c in code] == [[] for _ in code], name
            assert {c.get("execution_count") for c in code} == {None}, name

    def test_readme_lists_every_notebook(self):
        """examples/notebooks/README.md names each notebook and how to run it."""
        readme = (NOTEBOOKS / "README.md").read_text(encoding="utf-8")
        for name in OURS + ("quickstart.ipynb",):
            assert name in readme
        assert "make lab" in readme


def write_notebook(folder: Path, name: str, *sources: str, cleanup: bool = True) -> None:
    cells = [nbformat.v4.new_code_cell(text) for text in sources]
    if cleanup:
        cells.append(nbformat.v4.new_code_cell("done = True"))
        cells[-1].metadata["tags"] = ["cleanup"]
    nbformat.write(nbformat.v4.new_notebook(cells=cells), folder / name)


class TestHarness:
    def test_a_failing_assert_cell_fails_the_run(self, folder):
        """The notebooks' assert cells are checks only if a failing one fails the test."""
        write_notebook(folder, "broken.ipynb", "x = 2 + 2", "assert x == 5, 'x is not 5'")
        with pytest.raises(CellExecutionError, match="x is not 5"):
            run_notebook("broken.ipynb", folder, '{"x": x}', source=folder)

    def test_a_notebook_without_a_cleanup_cell_is_refused(self, folder):
        """The checks run before the clean-up cell, so every notebook must tag exactly one."""
        write_notebook(folder, "untagged.ipynb", "x = 1", cleanup=False)
        with pytest.raises(AssertionError, match="exactly one cell tagged 'cleanup'"):
            run_notebook("untagged.ipynb", folder, '{"x": x}', source=folder)

    def test_the_checks_see_the_notebook_state_before_cleanup(self, folder):
        write_notebook(folder, "fine.ipynb", "total = sum(range(5))")
        nb, got = run_notebook("fine.ipynb", folder, '{"total": total, "done": "done" in globals()}', source=folder)
        assert got == {"total": 10, "done": False}                  # 0+1+2+3+4, before the cleanup cell ran
        assert nb.cells[-1].outputs == [] and nb.cells[-1].execution_count


@pytest.mark.slow
def test_tour_runs_and_its_figures_hold_together(folder):
    """The tour builds a 1,500-customer demo, and its segments, snapshots, RFM, Pareto, report,
    magics and dashboard agree with each other."""
    nb, got = run_notebook("tour.ipynb", folder, """{
        "customers": summary["customers"], "workdir": str(workdir),
        "vip_march": march.members, "vip_june": june.members, "vip_now": crm.segments["vip"].count(),
        "joined": len(change.joined), "left": len(change.left), "stayed": change.stayed,
        "segments": sorted(s.name for s in crm.segments.list()),
        "regulars": regulars.count(), "regulars_by_size": int(by_size["regulars"].sum()),
        "rfm_scored": len(scores), "buyers": crm.segments.evaluate("purchases >= 1").count(),
        "top_share": pareto.top_share, "top_revenue": str(pareto.top_revenue), "pandas_top": str(top.sum()),
        "report_failed": len(report.failed), "titles": dash.titles,
    }""")
    assert got["customers"] == 1500
    assert got["vip_june"] == got["vip_now"]                     # the June snapshot is "now"
    assert got["vip_march"] - got["left"] + got["joined"] == got["vip_june"]
    assert got["stayed"] == got["vip_june"] - got["joined"]
    assert "eu-regulars" in got["segments"] and "typo" not in got["segments"]
    assert got["regulars"] == got["regulars_by_size"] > 0
    assert got["rfm_scored"] == got["buyers"] > 1000
    assert got["top_revenue"] == got["pandas_top"]             # exact to the cent
    assert 0.6 < got["top_share"] < 0.95                         # the demo's Pareto skew: about 80 %
    assert got["report_failed"] == 0
    assert got["titles"][:2] == ["Customers", "Segments"]
    assert "eu-regulars: " in output_of(nb, "%crm segment")     # the first, bare one: every saved segment
    assert "customers as of 2025-06-30 12:00 UTC" in output_of(nb, "%crm segment --limit 5 vip")
    assert "crmkit-report" in output_of(nb, "%crm report")
    assert "application/vnd.jupyter.widget-view+json" in output_of(nb, "import crmkit_jupyter")
    # The last cell only defines clean_up(), so the dashboard stays live after Run All.
    assert "def clean_up():" in nb.cells[-1].source and Path(got["workdir"]).exists()
    shutil.rmtree(got["workdir"])


@pytest.mark.slow
def test_churn_study_runs_and_turns_findings_into_a_segment_a_file_and_tasks(folder):
    """The churn study's definition table, KPIs per class, CLV, warnings, saved segments, export
    and due tasks agree with each other and with what the notebook says."""
    nb, got = run_notebook("churn-study.ipynb", folder, """{
        "customers": summary["customers"], "workdir": str(workdir),
        "recall": definitions["recall"].tolist(), "flagged": definitions["flagged"].tolist(),
        "churn_days": crm.reports.settings()["churn_days"],
        "configured": [e.action for e in crm.audit.query(source="reports", action="reports.configure")],
        "size_churned": int(by_size["churned"].sum()), "all_churned": overall["churned"],
        "valued": clv.customers, "buyers": crm.segments.evaluate("purchases >= 1").count(),
        "classes": [c.name for c in crm.loyalty.churn_classes()],
        "segments": sorted(s.name for s in crm.segments.list()),
        "watch": sorted(crm.segments["churn-watch"].ids()), "exported": exported.rows,
        "csv_rows": len(pd.read_csv(workdir / "churn-watch.csv")), "call_list": len(pd.read_csv(workdir / "call-list.csv")),
        "task_customers": sorted({t.customer_id for t in crm.tasks.open(kind="churn_warning", limit=100_000)}),
        "second_run": again.results["loyalty"], "due_ok": due.ok and again.ok,
    }""")
    assert got["customers"] == 1500
    assert got["flagged"] == sorted(got["flagged"], reverse=True)     # a longer window flags a subset
    assert got["recall"][0] == 1.0 and got["recall"][2] >= 0.9        # 90 days catches all; 180 nearly all
    assert got["churn_days"] == 180 and got["configured"]             # the choice is stored and audited
    assert got["size_churned"] == got["all_churned"] > 0
    assert got["valued"] == got["buyers"]                             # CLV values everyone who bought
    assert got["classes"] == ["key accounts", "valuable", "others"]
    assert {"valuable-repeaters", "churn-watch"} <= set(got["segments"])
    assert len(got["watch"]) == got["exported"] == got["csv_rows"] == got["call_list"] > 0
    assert set(got["watch"]) <= set(got["task_customers"])            # everyone on the list has a task
    assert got["second_run"]["churn_tasks_created"] == 0 and got["second_run"]["cadence_tasks_created"] == 0
    assert got["due_ok"]
    assert "BG/NBD:" in output_of(nb, "clv = crm.loyalty.clv(")
    assert not Path(got["workdir"]).exists()


@pytest.mark.slow
def test_plugin_prototype_runs_and_its_plugin_works_on_demo_data_and_as_a_package(folder):
    """The notebook's plugin passes its hand-worked checks, matches a pandas recomputation on the
    demo, contributes a report section and idempotent tasks; the scaffolded package's tests pass."""
    nb, got = run_notebook("plugin-prototype.ipynb", folder, """{
        "workdir": str(workdir), "states": states, "state_counts": state_counts.to_dict(),
        "milestones": len(stored), "pandas_milestones": len(expected),
        "section_keys": [s.key for s in report.sections], "failed": [s.key for s in report.failed],
        "figures": ours.figures, "rows": ours.rows,
        "nudges": due.results["onboarding"]["tasks_created"], "again": again.results["onboarding"],
        "package_files": sorted(str(p.relative_to(package)) for p in package.rglob("*.py")),
        "package_tests": tests.returncode,
    }""")
    assert got["states"] == {"Ann": ["repeat"], "Bob": ["stalled"], "Cy": ["onboarding"], "Dee": ["late repeat"],
                             "Eve": ["onboarding"]}
    assert got["milestones"] == got["pandas_milestones"] == sum(got["state_counts"].values()) > 1000
    assert "onboarding.second_purchase" in got["section_keys"] and got["failed"] == []
    rows = got["rows"]
    assert rows and all(0 <= r["bought_again"] <= r["new_buyers"] for r in rows)
    last4 = rows[-4:]                                             # the headline is the last four quarters
    assert got["figures"]["new_buyers_last_4_quarters"] == sum(r["new_buyers"] for r in last4)
    assert got["figures"]["bought_again"] == sum(r["bought_again"] for r in last4)
    assert got["nudges"] > 0 and got["again"] == {"tasks_created": 0}
    assert "crmkit_onboarding/plugin.py" in got["package_files"] and "tests/test_plugin.py" in got["package_files"]
    assert got["package_tests"] == 0
    # The scaffold's tests: its hooks, its report section, its task and its HTTP route.
    assert "4 passed" in output_of(nb, "site = workdir") and "failed" not in output_of(nb, "site = workdir")
    assert not Path(got["workdir"]).exists()
