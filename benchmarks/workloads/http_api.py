"""The HTTP API (``crmkit serve``) against bare FastAPI endpoints doing the same single query,
on SQLite and on PostgreSQL in the same run.

Both servers run as uvicorn processes on 127.0.0.1, first over a copy of the demo file, then over
a copy of it on a PostgreSQL server (``$CRMKIT_BENCH_POSTGRES_URL``, or a throw-away server as in
the ``postgres`` workload; without one that half is reported unavailable). A small async client
(httpx, 8 requests in flight) times each request. Reported per engine and operation: requests
per second and p50/p99 latency for reading a customer, listing a page of customers (an admin's
token: every customer in scope) as clients page (the total counted on the first page only) and
with ``total=true`` on every page, and a rep claiming a pool lead; the ratio crmkit / bare of the
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
from contextlib import ExitStack

from ..measure import Context, measurement, ratio, unavailable

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
        tokens = {"admin": crm.users.issue_token("root")[1], "rep": crm.users.issue_token("rita")[1]}
        customers = [row[0] for row in crm.db.execute("SELECT id FROM customers ORDER BY id LIMIT ?", [count])]
        leads = crm.leads.add_many([{"name": f"Bench lead {n}"} for n in range(2 * count)])
    out = {"measurements": [], "ratios": [], "notes": [f"{IN_FLIGHT} requests in flight, {count} requests per operation"]}
    with ExitStack() as stack:
        targets = {"SQLite": str(copy)}
        server = _postgres_copy(copy, out, stack)  # before any claim, so both engines start alike
        if server is not None:
            targets["PostgreSQL"] = server
        for engine, target in targets.items():
            _measure(engine, target, count, customers, leads, tokens, out)
    return out


def _postgres_copy(copy, out: dict, stack: ExitStack) -> str | None:
    """A new database on a PostgreSQL server holding a copy of ``copy``; None (reported) without one."""
    os.environ.pop("CRMKIT_TEST_SERVER", None)
    try:
        import psycopg

        from crmkit.copying import copy_crm

        from .postgres import _server
    except ImportError:
        out["measurements"].append(unavailable("PostgreSQL", "psycopg is not installed (pip install 'crmkit[postgres]')"))
        return None
    try:
        url = _server(stack)
    except (RuntimeError, psycopg.Error) as error:
        out["measurements"].append(unavailable("PostgreSQL", f"no server: {error}"))
        return None
    copy_crm(copy, url)
    return url


def _measure(engine: str, target: str, count: int, customers: list[int], leads: list[int], tokens: dict, out: dict) -> None:
    ours, bare = _port(), _port()
    env = dict(os.environ, CRMKIT_PLUGINS="leads", BENCH_DATABASE=target)
    servers = [
        _start([sys.executable, "-c", "from crmkit.cli import main; main()", "serve", target, "--port", str(ours)], env, ours),
        _start([sys.executable, "-m", "uvicorn", "--factory", "benchmarks.workloads._bare_api:app",
                "--port", str(bare), "--log-level", "warning"], env, bare),
    ]
    pages = [(n % 20) * 50 for n in range(count)]
    try:
        operations = {
            "read a customer": ([("GET", f"/customers/{c}") for c in customers], tokens["admin"]),
            "list a segment page": ([("GET", f"/customers?limit=50&offset={o}") for o in pages], tokens["admin"]),
            "list a segment page, total=true": ([("GET", f"/customers?limit=50&offset={o}&total=true") for o in pages], tokens["admin"]),
            "claim a lead": None,
        }
        for name, spec in operations.items():
            rates = {}
            for label, port in (("crmkit", ours), ("bare", bare)):
                if spec is None:  # each server claims its own half of the leads
                    half = leads[:count] if label == "crmkit" else leads[count:]
                    requests, token = [("POST", f"/leads/{lead}/claim") for lead in half], tokens["rep"]
                else:
                    requests, token = spec
                if spec is not None:  # warm up on reads; a claim can be made only once
                    asyncio.run(_load(f"http://127.0.0.1:{port}", requests[: max(1, count // 10)], {"Authorization": f"Bearer {token}"}))
                total, latencies = asyncio.run(_load(f"http://127.0.0.1:{port}", requests, {"Authorization": f"Bearer {token}"}))
                item, rates[label] = _figures(f"{engine}, {name}: {label}", total, latencies)
                out["measurements"].append(item)
            value = rates["crmkit"] / rates["bare"]
            out["ratios"].append(ratio(f"{engine}, {name}: crmkit / bare requests per second", value, ">= 0.5", value >= 0.5))
    finally:
        for process in servers:
            process.terminate()
            process.wait(timeout=10)
