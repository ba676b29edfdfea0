"""The baseline of the ``http_api`` workload: bare FastAPI endpoints, each running the single
query the crmkit route's answer rests on, with no authentication, permission, scope or service.

Run with ``uvicorn --factory benchmarks.workloads._bare_api:app``; ``BENCH_DATABASE`` names the CRM.
"""

from __future__ import annotations

import os
import threading

from fastapi import FastAPI

from crmkit import store


def app() -> FastAPI:
    db = store.connect(os.environ["BENCH_DATABASE"])
    lock = threading.Lock()  # one connection, as in crmkit's server
    bare = FastAPI()

    @bare.get("/customers/{customer_id}")
    def customer(customer_id: int) -> dict:
        with lock:
            return next(db.query("SELECT * FROM customers WHERE id = ?", [customer_id]))

    @bare.get("/customers")
    def customers(offset: int = 0) -> dict:
        with lock:
            rows = list(db.query("SELECT * FROM customers ORDER BY id LIMIT 50 OFFSET ?", [offset]))
        return {"items": rows}

    @bare.post("/leads/{lead_id}/claim")
    def claim(lead_id: int) -> dict:
        with lock, db.transaction():
            db.execute(
                "UPDATE leads_leads SET status = 'assigned', owner = 'rita' WHERE customer_id = ? AND status = 'pool'",
                [lead_id],
            )
        return {"id": lead_id}

    return bare
