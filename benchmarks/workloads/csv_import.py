"""The user's import path: `crmkit import` of a purchases CSV against sqlite-utils and a plain load.

The file has one purchase per line (customer external id, date, amount, category), a tenth as
many customers as purchases; the customers are imported first from their own CSV (also timed).
Each method loads the same file into a fresh CRM file holding the same customers:

- ``crmkit import`` through the CLI, with only the core active and with every installed plugin;
- ``sqlite-utils insert --csv`` of the file into a table of its own (no checks at all);
- a plain load: the sqlite3 command-line shell's ``.import`` when installed, else Python's csv
  module and sqlite3 ``executemany`` in one transaction (the stand-in is named in the results).

Time and the size of the resulting file are reported for each.

A customers file of its own, 100,000 customers whatever the size (issue 19's customers target,
at most 1 s; 1,000 at the tiny size), is imported into a fresh CRM file with only the core and with every plugin, against
``sqlite-utils insert --csv`` of the same file, and against the floor: the same customers, history
versions and audit entries written into a fresh CRM file by raw sqlite3
(:mod:`benchmarks.workloads._customers_floor`).

The same purchases as JSON lines (one object a line, the amount a JSON number such as 12.34,
as most JSON writers spell money) are imported with every plugin into a fresh CRM file holding
the same customers, against ``sqlite-utils insert --nl`` of that file. Which path the JSON lines
take (by column, or row by row where msgspec is not installed) is named in the results.

The same purchases as a spreadsheet in Germany saves them (cp1252, semicolons, CRLF, day-first
wall times in Berlin) are imported with ``--encoding cp1252 --date-format "%d.%m.%Y %H:%M"
--timezone Europe/Berlin``, every plugin, against the plain file's import.

A second file is a real, mixed history: the demo's interactions as ``crmkit export --kind
interactions`` writes them (every kind, JSON ``data`` in quoted cells, surveys and referrals whose
``data`` is validated), imported with every plugin into a copy of the demo (whose customers they
name) against ``sqlite-utils insert --csv`` of the same file.
"""

from __future__ import annotations

import csv
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from ..measure import Context, measurement, ratio

CATEGORIES = ("books", "garden", "kitchen", "toys", "music", "sports", "beauty", "tools")
PER_CUSTOMER = 10
#: Customers in the customers file timed on its own (the target is for 100k).
CUSTOMERS_FILE = 100_000


def write_files(folder: Path, purchases: int, seed: int = 19) -> tuple[Path, Path]:
    """Write ``customers.csv`` (external_id, name, email) and ``purchases.csv`` (customer
    external id, date, amount, category) into ``folder``; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    customers = max(1, purchases // PER_CUSTOMER)
    people, orders = folder / "customers.csv", folder / "purchases.csv"
    rng = random.Random(seed)
    write_customers(people, customers)
    with open(orders, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["customer_external_id", "occurred_at", "amount", "category"])
        for _ in range(purchases):
            day = rng.randrange(3 * 365)
            writer.writerow([
                f"C{rng.randrange(1, customers + 1):07d}",
                f"{2022 + day // 365}-{1 + day % 365 // 31:02d}-{1 + day % 31 % 28:02d}",
                f"{rng.randrange(100, 50000) // 100}.{rng.randrange(100):02d}",
                CATEGORIES[rng.randrange(len(CATEGORIES))],
            ])
    return people, orders


def write_json_lines(orders: Path, target: Path) -> Path:
    """Write the purchases of the CSV ``orders`` as JSON lines to ``target``: the same rows, the
    amount a JSON number (its digits as in the CSV), the other values strings."""
    with open(orders, newline="", encoding="utf-8") as source, open(target, "w", encoding="utf-8") as out:
        reader = csv.reader(source)
        next(reader)
        for customer, day, amount, category in reader:
            out.write(f'{{"customer_external_id": "{customer}", "occurred_at": "{day}", "amount": {amount}, "category": "{category}"}}\n')
    return target


def write_customers(path: Path, count: int) -> Path:
    """Write ``count`` customers (external_id, name, email) as CSV to ``path``."""
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["external_id", "name", "email"])
        writer.writerows((f"C{i:07d}", f"Customer {i}", f"c{i}@example.com") for i in range(1, count + 1))
    return path


def run(ctx: Context) -> dict:
    rows = ctx.customers  # purchases in the file: 10k (quick), 100k, 1M
    people, orders = write_files(ctx.work / "files", rows)
    out = {"measurements": [], "ratios": [], "notes": []}
    crm = {}
    for mode in ("core", "all"):
        path = ctx.work / f"crm-{mode}.db"
        _cli(["init", str(path)], mode)
        customers_s, _ = _cli(["import", str(path), str(people), "--kind", "customers"], mode)
        seconds, rss = _cli(["import", str(path), str(orders), "--kind", "interactions", "--set", "kind=purchase"], mode)
        crm[mode] = {"seconds": seconds, "size": _size(path), "rss": rss}
        label = "only the core" if mode == "core" else "all plugins"
        out["measurements"] += [
            measurement(f"crmkit import --kind customers ({rows // PER_CUSTOMER:,}), {label}", customers_s, rows=rows // PER_CUSTOMER),
            measurement(f"crmkit import --kind interactions, {label}", seconds, rows=rows,
                        result=f"{crm[mode]['size'] / 1e6:.1f} MB file", note=f"peak RSS {rss:.0f} MB"),
        ]
    utils_db = ctx.work / "sqlite-utils.db"
    utils_s, _ = _run([str(Path(sys.executable).parent / "sqlite-utils"), "insert", str(utils_db), "purchases", str(orders), "--csv"])
    plain_db = ctx.work / "plain.db"
    shell = shutil.which("sqlite3")
    if shell:
        plain_name = "sqlite3 shell .import --csv"
        plain_s, _ = _run([shell, str(plain_db), f".import --csv {orders} purchases"])
    else:
        plain_name = "Python csv + sqlite3 executemany (stand-in: no sqlite3 shell here)"
        plain_s = _cpu(lambda: _executemany(plain_db, orders))
    out["measurements"] += [
        measurement("sqlite-utils insert --csv (no checks)", utils_s, rows=rows, result=f"{_size(utils_db) / 1e6:.1f} MB file"),
        measurement(f"{plain_name} (no checks)", plain_s, rows=rows, result=f"{_size(plain_db) / 1e6:.1f} MB file"),
    ]
    lines_s, lines_utils_s = _json_lines(ctx, out, people, orders)
    european_s = _european_export(ctx, out, people, orders, crm["all"]["seconds"])
    history_s, _, history_utils_s = _mixed_history(ctx, out)
    _customers_file(ctx, out)
    every = crm["all"]["seconds"]
    utils_s, plain_s = max(utils_s, 1e-6), max(plain_s, 1e-6)
    out["ratios"] += [
        ratio("crmkit import, all plugins ÷ sqlite-utils insert --csv (time)", every / utils_s, "≤ 0.5", every / utils_s <= 0.5),
        ratio(f"crmkit import, all plugins ÷ {plain_name.split(' (')[0]} (time)", every / plain_s, "≤ 10 (stretch)", every / plain_s <= 10),
        ratio("crmkit import, only the core ÷ sqlite-utils insert --csv (time)", crm["core"]["seconds"] / utils_s),
        ratio("file size, all plugins ÷ only the core", crm["all"]["size"] / crm["core"]["size"], "≤ 1.5",
              crm["all"]["size"] / crm["core"]["size"] <= 1.5),
        ratio("crmkit import of the JSON lines purchases, all plugins ÷ sqlite-utils insert --nl (time)",
              lines_s / max(lines_utils_s, 1e-6)),
        ratio("crmkit import of the JSON lines purchases ÷ of the CSV purchases, all plugins (time)", lines_s / every),
        ratio("crmkit import of the European export (cp1252, day-first Berlin times) ÷ of the CSV purchases, all plugins (time)",
              european_s / every),
        ratio("crmkit import of the exported history (mixed kinds), all plugins ÷ sqlite-utils insert --csv (time)",
              history_s / max(history_utils_s, 1e-6), "≤ 0.5", history_s / max(history_utils_s, 1e-6) <= 0.5),
    ]
    out["notes"].append(
        f"{rows:,} purchases of {rows // PER_CUSTOMER:,} customers; each command runs once, as a user runs it "
        "(process start included); seconds are the command's CPU time (user + system). crmkit's files hold the customers, the summary, the audit and the plugins' tables; "
        "the baselines hold the purchases as text."
    )
    return out


def _customers_file(ctx: Context, out: dict) -> None:
    """Import :data:`CUSTOMERS_FILE` customers into fresh CRM files (core only, all plugins) and
    into sqlite-utils; measurements and ratios go to ``out``."""
    count = 1_000 if ctx.size == "tiny" else CUSTOMERS_FILE  # the harness's own test runs tiny
    people = write_customers(ctx.work / "files" / "customers-file.csv", count)
    seconds = {}
    for mode in ("core", "all"):
        path = ctx.work / f"customers-{mode}.db"
        _cli(["init", str(path)], mode)
        seconds[mode], rss = _cli(["import", str(path), str(people), "--kind", "customers"], mode)
        label = "only the core" if mode == "core" else "all plugins"
        out["measurements"].append(measurement(
            f"crmkit import --kind customers ({count:,}, fresh file), {label}", seconds[mode], rows=count,
            result=f"{_size(path) / 1e6:.1f} MB file", note=f"peak RSS {rss:.0f} MB"))
    utils_db = ctx.work / "sqlite-utils-customers.db"
    utils_s, _ = _run([str(Path(sys.executable).parent / "sqlite-utils"), "insert", str(utils_db), "customers", str(people), "--csv"])
    out["measurements"].append(measurement(f"sqlite-utils insert --csv of the {count:,} customers (no checks)", utils_s,
                                           rows=count, result=f"{_size(utils_db) / 1e6:.1f} MB file"))
    floor_db = ctx.work / "customers-floor.db"
    _cli(["init", str(floor_db)], "all")
    floor_s, _ = _run([sys.executable, "-m", "benchmarks.workloads._customers_floor", str(floor_db), str(people)])
    if _stored_counts(floor_db) != _stored_counts(ctx.work / "customers-all.db"):
        raise RuntimeError("the raw sqlite3 floor did not store what crmkit stored")
    out["measurements"].append(measurement(
        "the same customers, history and audit rows written by raw sqlite3 (floor: no checks, no plugins)", floor_s,
        rows=count, result=f"{_size(floor_db) / 1e6:.1f} MB file"))
    every = seconds["all"]
    out["ratios"] += [
        ratio(f"crmkit import --kind customers ({count:,}), all plugins: CPU seconds", every, "≤ 1 s", every <= 1),
        ratio("crmkit import --kind customers, all plugins ÷ sqlite-utils insert --csv (time)", every / max(utils_s, 1e-6)),
        ratio("crmkit import --kind customers, all plugins ÷ raw sqlite3 writing the same rows (time)", every / max(floor_s, 1e-6)),
    ]


def _stored_counts(path: Path) -> tuple[int, int, int]:
    """Customers, history versions and customer.add audit entries in a CRM file."""
    with sqlite3.connect(path) as conn:
        return tuple(conn.execute(
            "SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM customer_history), "
            "(SELECT count(*) FROM audit_log WHERE action = 'customer.add')"
        ).fetchone())


def _json_lines(ctx: Context, out: dict, people: Path, orders: Path) -> tuple[float, float]:
    """Import the purchases as JSON lines into a fresh CRM file holding the customers (all
    plugins) and into sqlite-utils; (crmkit seconds, sqlite-utils seconds)."""
    from crmkit import columnar_json

    lines = write_json_lines(orders, ctx.work / "files" / "purchases.jsonl")
    path = ctx.work / "crm-jsonl.db"
    _cli(["init", str(path)], "all")
    _cli(["import", str(path), str(people), "--kind", "customers"], "all")
    seconds, rss = _cli(["import", str(path), str(lines), "--kind", "interactions", "--set", "kind=purchase"], "all")
    utils_db = ctx.work / "sqlite-utils-jsonl.db"
    utils_s, _ = _run([str(Path(sys.executable).parent / "sqlite-utils"), "insert", str(utils_db), "purchases", str(lines), "--nl"])
    rows = ctx.customers
    how = "by column" if columnar_json.available() else "row by row: pyarrow or msgspec not installed"
    out["measurements"] += [
        measurement(f"crmkit import of the purchases as JSON lines ({how}), all plugins", seconds, rows=rows,
                    result=f"{lines.stat().st_size / 1e6:.1f} MB JSON lines", note=f"peak RSS {rss:.0f} MB"),
        measurement("sqlite-utils insert --nl of the JSON lines purchases (no checks)", utils_s, rows=rows,
                    result=f"{_size(utils_db) / 1e6:.1f} MB file"),
    ]
    return seconds, utils_s


def write_european(orders: Path, target: Path) -> Path:
    """The purchases as a spreadsheet in Germany saves them: cp1252, semicolons, CRLF line ends,
    day-first wall times in Berlin (``%d.%m.%Y %H:%M``, each a real time there) and an umlaut."""
    zone = ZoneInfo("Europe/Berlin")
    with open(orders, newline="", encoding="utf-8") as source, open(target, "w", newline="", encoding="cp1252") as out:
        reader, writer = csv.reader(source), csv.writer(out, delimiter=";", lineterminator="\r\n")
        writer.writerow(next(reader))
        for n, (customer, day, amount, category) in enumerate(reader):
            moment = datetime.fromisoformat(day).replace(tzinfo=timezone.utc) + timedelta(minutes=37 * n % 1440)
            wall = moment.astimezone(zone).strftime("%d.%m.%Y %H:%M")
            writer.writerow([customer, wall, amount, "Küche" if category == "kitchen" else category])
    return target


def _european_export(ctx: Context, out: dict, people: Path, orders: Path, plain_s: float) -> float:
    """Import the purchases as :func:`write_european` writes them (``--encoding cp1252
    --date-format "%d.%m.%Y %H:%M" --timezone Europe/Berlin``) into a fresh CRM file holding the
    customers, all plugins; its seconds. The purchases stored must be those of the plain file."""
    source = write_european(orders, ctx.work / "files" / "purchases-de.csv")
    path = ctx.work / "crm-european.db"
    _cli(["init", str(path)], "all")
    _cli(["import", str(path), str(people), "--kind", "customers"], "all")
    seconds, rss = _cli(["import", str(path), str(source), "--kind", "interactions", "--set", "kind=purchase",
                         "--encoding", "cp1252", "--date-format", "%d.%m.%Y %H:%M", "--timezone", "Europe/Berlin"], "all")
    with sqlite3.connect(path) as conn:
        stored = conn.execute("SELECT count(*), sum(amount) FROM interactions").fetchone()
    with sqlite3.connect(ctx.work / "crm-all.db") as conn:
        if stored != conn.execute("SELECT count(*), sum(amount) FROM interactions").fetchone():
            raise RuntimeError("the European export did not store the purchases of the plain file")
    out["measurements"].append(measurement(
        "crmkit import of the purchases as a European export (cp1252, ';', day-first Berlin times), all plugins",
        seconds, rows=ctx.customers, result=f"{_size(path) / 1e6:.1f} MB file",
        note=f"peak RSS {rss:.0f} MB; the plain CSV: {plain_s:.2f} s"))
    return seconds


def _mixed_history(ctx: Context, out: dict) -> tuple[float, int, float]:
    """Export the demo's interactions, import them into a copy of the demo (all plugins) and
    into sqlite-utils; (crmkit seconds, rows, sqlite-utils seconds)."""
    target = ctx.work / "history-crm.db"
    source = sqlite3.connect(f"file:{ctx.data}?mode=ro", uri=True)
    copy = sqlite3.connect(target)
    source.backup(copy)
    copy.close()
    source.close()
    history = ctx.work / "files" / "history.csv"
    _cli(["export", str(target), str(history), "--kind", "interactions"], "all")
    with open(history, "rb") as handle:
        rows = sum(1 for _ in handle) - 1
    seconds, rss = _cli(["import", str(target), str(history), "--kind", "interactions"], "all")
    utils_db = ctx.work / "sqlite-utils-history.db"
    utils_s, _ = _run([str(Path(sys.executable).parent / "sqlite-utils"), "insert", str(utils_db), "interactions", str(history), "--csv"])
    out["measurements"] += [
        measurement("crmkit import of the exported history (mixed kinds, JSON data), all plugins", seconds, rows=rows,
                    result=f"{history.stat().st_size / 1e6:.1f} MB CSV", note=f"peak RSS {rss:.0f} MB"),
        measurement("sqlite-utils insert --csv of the exported history (no checks)", utils_s, rows=rows),
    ]
    return seconds, rows, utils_s


def _cli(args: list[str], mode: str) -> tuple[float, float]:
    """Run ``crmkit ARGS`` with only the core (``core``) or every installed plugin; (seconds, peak RSS MB)."""
    env = dict(os.environ)
    env.pop("CRMKIT_PLUGINS", None)
    if mode == "core":
        env["CRMKIT_PLUGINS"] = ""
    return _run([str(Path(sys.executable).parent / "crmkit"), *args], env)


def _run(command: list[str], env: dict | None = None) -> tuple[float, float]:
    """Run a command to its end; (its CPU seconds, user and system, and its peak RSS in MB).

    CPU time rather than wall time: on a machine shared with other work the wall time measures
    the neighbours too. A failure raises."""
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    error = process.stderr.read().decode(errors="replace") if process.stderr else ""
    _, status, usage = os.wait4(process.pid, 0)
    seconds = usage.ru_utime + usage.ru_stime
    if os.waitstatus_to_exitcode(status):
        raise RuntimeError(f"{' '.join(command[:3])} failed: {error[-500:]}")
    return seconds, usage.ru_maxrss / 1024


def _cpu(work) -> float:
    """CPU seconds of this process spent in ``work()``."""
    started = time.process_time()
    work()
    return time.process_time() - started


def _executemany(path: Path, orders: Path) -> None:
    with open(orders, newline="", encoding="utf-8") as source:
        reader = csv.reader(source)
        header = next(reader)
        conn = sqlite3.connect(path)
        conn.execute(f"CREATE TABLE purchases ({', '.join(header)})")
        with conn:
            conn.executemany(f"INSERT INTO purchases VALUES ({', '.join('?' * len(header))})", reader)
        conn.close()


def _size(path: Path) -> int:
    return sum(Path(f"{path}{suffix}").stat().st_size for suffix in ("", "-wal") if Path(f"{path}{suffix}").exists())
