"""Complaint steps taken by many processes at once: each step happens exactly once.

Every step reads the complaint's state and writes the transition in one transaction, whose
outermost level takes the engine's write lock, so of eight processes trying the same step on the
same complaint one makes it and the others are refused.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import crmkit

pytestmark = [pytest.mark.postgresql_only, pytest.mark.slow]

WORKER = str(Path(__file__).with_name("race_worker.py"))
PROCESSES = 8
COMPLAINTS = 12


def test_eight_processes_step_the_same_complaints(tmp_path):
    path = tmp_path / "race.db"
    with crmkit.open(path, plugins=["complaints"]) as crm:
        crm.complaints.add_handler("ann")
        customer = crm.customers.add(name="Alice Ng")
        ids = [crm.complaints.open(customer.id, category="billing").id for _ in range(COMPLAINTS)]

    workers = [
        subprocess.Popen([sys.executable, WORKER, str(path), str(seed)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for seed in range(PROCESSES)
    ]
    results = []
    for worker in workers:
        out, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))

    for step in ("acknowledged", "assessing", "answered"):
        assert sum(r[step] for r in results) == COMPLAINTS, (step, results)
    assert sum(r["refused"] for r in results) == 3 * COMPLAINTS * (PROCESSES - 1)
    with crmkit.open(path, plugins=["complaints"]) as crm:
        for complaint_id in ids:
            complaint = crm.complaints.get(complaint_id)
            assert complaint.status in ("resolved", "rejected")
            steps = [entry.event for entry in crm.complaints.history(complaint_id)]
            answer = complaint.status
            assert steps == ["received", "acknowledged", "assessing", answer], steps
            audited = crm.db.execute(
                "SELECT count(*) FROM audit_log WHERE entity = 'complaint' AND entity_id = ? AND action LIKE 'complaint.%'",
                [str(complaint_id)],
            ).fetchone()[0]
            assert audited == 3 + 1  # open + three steps
