"""One of several processes stepping the same complaints at once (see test_complaints_race.py).

Usage: race_worker.py DB SEED. For every complaint, in an order of its own, it tries to
acknowledge, assess, then resolve (even seeds) or reject (odd seeds); a step another process
took first is refused. Prints the steps it made, as JSON.
"""

from __future__ import annotations

import json
import random
import sys

import crmkit
from crmkit.errors import ConflictError


def main(path: str, seed: int) -> None:
    made = {"acknowledged": 0, "assessing": 0, "answered": 0, "refused": 0}
    with crmkit.open(path, plugins=["complaints"]) as crm:
        ids = [row[0] for row in crm.db.execute("SELECT id FROM complaints_complaints ORDER BY id")]
        random.Random(seed).shuffle(ids)
        steps = [("acknowledged", crm.complaints.acknowledge), ("assessing", crm.complaints.assess)]
        if seed % 2:
            steps.append(("answered", lambda complaint_id: crm.complaints.reject(complaint_id, f"worker {seed}")))
        else:
            steps.append(("answered", lambda complaint_id: crm.complaints.resolve(complaint_id, "refund")))
        for name, step in steps:
            for complaint_id in ids:
                try:
                    step(complaint_id)
                    made[name] += 1
                except ConflictError:
                    made["refused"] += 1
    print(json.dumps(made))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
