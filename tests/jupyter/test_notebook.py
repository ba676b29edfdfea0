"""The example notebooks run top to bottom in a real kernel (nbclient), widget state stored."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[2] / "examples" / "notebooks"


def run_notebook(name: str, folder: Path):
    shutil.copy(NOTEBOOKS / name, folder / name)
    nb = nbformat.read(folder / name, as_version=4)
    client = NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(folder)}},
                            store_widget_state=True)
    client.execute()
    return nb


def outputs(cell) -> str:
    return json.dumps(cell.get("outputs", []))


@pytest.mark.slow
def test_quickstart_runs_and_stores_the_dashboard(tmp_path, monkeypatch):
    monkeypatch.delenv("CRMKIT_PLUGINS", raising=False)
    nb = run_notebook("quickstart.ipynb", tmp_path)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert not [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert "400 customers written" in outputs(code[0])
    assert "Opened quickstart.db as `crm`" in outputs(code[1])
    assert "crmkit-segment" in outputs(code[2]) and "(saved)" in outputs(code[2])
    assert "crmkit-plugins" in outputs(code[4])
    assert "crmkit-report" in outputs(code[5])  # a report, or the "not active" message
    assert "application/vnd.jupyter.widget-view+json" in outputs(code[6])
    assert "'regulars'" in outputs(code[7])
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    tabs = [m["state"] for m in state.values() if m["model_name"] == "TabModel"]
    assert len(tabs) == 1 and tabs[0]["titles"][:2] == ["Customers", "Segments"]
    statuses = [m["state"]["value"] for m in state.values() if "crmkit-page-status" in m["state"].get("_dom_classes", [])]
    assert any("rows 1–20 of 400" in s for s in statuses)
