"""The HTTP API (``crmkit serve``) against bare FastAPI endpoints doing the same single query.

Both servers run as uvicorn processes on 127.0.0.1 over a copy of the demo file; a small async
client (httpx, 8 requests in flight) times each request. Reported per operation: requests per
second and p50/p99 latency for reading a customer, listing a page of a segment (an admin's
token: every customer in scope), and a rep claiming a pool lead; the ratio crmkit / bare of the
requests per second has the target of issue 22: within 2x (ratio >= 0.5).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time

from ..measure import Context, measurement, ratio

IN_FLIGHT = 8


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start(argv: list[str], env: dict, port: int) -> subprocess.Popen:
    import httpx

    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1)
            return process
        except httpx.HTTPError:
            if process.poll() is not None:
                break
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"server did not start: {process.stderr.read().decode(errors='replace')[-400:]}")


async def _load(base: str, requests: list[tuple[str, str]], headers: dict) -> tuple[float, list[float]]:
    import httpx

    latencies: list[float] = []
    queue = list(reversed(requests))

    async def worker(client):
        while queue:
            method, path = queue.pop()
            started = time.perf_counter()
            response = await client.request(method, path, headers=headers)
            latencies.append(time.perf_counter() - started)
            if response.status_code >= 500:
                raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:200]}")

    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(IN_FLIGHT)))
        return time.perf_counter() - started, latencies


def _figures(name: str, total: float, latencies: list[float]) -> tuple[dict, float]:
    cuts = statistics.quantiles(latencies, n=100)
    rps = len(latencies) / total
    note = f"{rps:.0f} req/s, p50 {cuts[49] * 1000:.1f} ms, p99 {cuts[98] * 1000:.1f} ms"
    return measurement(name, total, rows=len(latencies), note=note), rps


def run(ctx: Context) -> dict:
    import crmkit

    count = 200 if ctx.size == "tiny" else 1000
    copy = ctx.work / "api.db"
    shutil.copyfile(ctx.data, copy)
    with crmkit.open(copy, plugins=["leads"]) as crm:
        crm.users.add("root", "Root", role="admin")
        crm.leads.add_rep("rita", "Rita Rep", capacity=10 * count, claim_limit=10 * count)
        admin, rep = crm.users.issue_token("root")[1], crm.users.issue_token("rita")[1]
        customers = [row[0] for row in crm.db.execute("SELECT id FROM customers ORDER BY id LIMIT ?", [count])]
        leads = crm.leads.add_many([{"name": f"Bench lead {n}"} for n in range(2 * count)])
    ours, bare = _port(), _port()
    env = dict(os.environ, CRMKIT_PLUGINS="leads", BENCH_DATABASE=str(copy))
    servers = [
        _start([sys.executable, "-c", "from crmkit.cli import main; main()", "serve", str(copy), "--port", str(ours)], env, ours),
        _start([sys.executable, "-m", "uvicorn", "--factory", "benchmarks.workloads._bare_api:app",
                "--port", str(bare), "--log-level", "warning"], env, bare),
    ]
    out = {"measurements": [], "ratios": [], "notes": [f"{IN_FLIGHT} requests in flight, {count} requests per operation"]}
    try:
        operations = {
            "read a customer": ([("GET", f"/customers/{c}") for c in customers], admin),
            "list a segment page": ([("GET", f"/customers?limit=50&offset={(n % 20) * 50}") for n in range(count)], admin),
            "claim a lead": None,
        }
        for name, spec in operations.items():
            rates = {}
            for label, port in (("crmkit", ours), ("bare", bare)):
                if spec is None:  # each server claims its own half of the leads
                    half = leads[:count] if label == "crmkit" else leads[count:]
                    requests, token = [("POST", f"/leads/{lead}/claim") for lead in half], rep
                else:
                    requests, token = spec
                if spec is not None:  # warm up on reads; a claim can be made only once
                    asyncio.run(_load(f"http://127.0.0.1:{port}", requests[: max(1, count // 10)], {"Authorization": f"Bearer {token}"}))
                total, latencies = asyncio.run(_load(f"http://127.0.0.1:{port}", requests, {"Authorization": f"Bearer {token}"}))
                item, rates[label] = _figures(f"{name}: {label}", total, latencies)
                out["measurements"].append(item)
            value = rates["crmkit"] / rates["bare"]
            out["ratios"].append(ratio(f"{name}: crmkit / bare requests per second", value, ">= 0.5", value >= 0.5))
    finally:
        for process in servers:
            process.terminate()
            process.wait(timeout=10)
    return out
