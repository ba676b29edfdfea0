"""DuckDB scanning the SQLite file for the same segment counts, against crmkit on the same file.

DuckDB reads the tables through its sqlite_scanner extension, loaded from the
``duckdb-extension-sqlite-scanner`` package (DuckDB cannot download extensions here). Both
rules are run the way DuckDB users would: re-aggregating the interaction log, and for rule A
also from the summary table. If DuckDB or the extension is missing, the baseline is reported
as unavailable with the reason.
"""

from __future__ import annotations

from pathlib import Path

from ..measure import Context, measurement, ratio, timed, unavailable
from . import _rules


def connect_duckdb(path: Path):
    """A DuckDB connection with views over the SQLite file's tables; raises with the reason if it cannot."""
    import importlib.util

    import duckdb

    spec = importlib.util.find_spec("duckdb_extension_sqlite_scanner")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the duckdb-extension-sqlite-scanner package is not installed (pip install crmkit[bench])")
    found = sorted(Path(spec.submodule_search_locations[0]).rglob("sqlite_scanner.duckdb_extension"))
    wanted = [f for f in found if f.parent.name == f"v{duckdb.__version__}"] or found
    if not wanted:
        raise RuntimeError("no sqlite_scanner.duckdb_extension file in the duckdb-extension-sqlite-scanner package")
    con = duckdb.connect()
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    con.execute(f"LOAD '{wanted[-1]}'")
    for table in ("customers", "customer_summary", "interactions"):
        con.execute(f"CREATE VIEW {table} AS SELECT * FROM sqlite_scan('{_quote(path)}', '{table}')")
    return con


def _quote(path: Path) -> str:
    return str(path).replace("'", "''")


def run(ctx: Context) -> dict:
    import crmkit
    from crmkit.testing import FixedClock

    out = {"measurements": [], "ratios": [], "notes": []}
    crm = crmkit.open(ctx.data, plugins=[], clock=FixedClock(_rules.AS_OF))
    try:
        a_crm, a_n = timed(lambda: crm.segments.evaluate(_rules.RULE_A).count(), ctx.repeat)
        b_crm, b_n = timed(lambda: crm.segments.evaluate(_rules.RULE_B).count(), ctx.repeat)
    finally:
        crm.close()
    out["measurements"] += [
        measurement("crmkit count, rule A (lifetime fields)", a_crm, result=a_n),
        measurement("crmkit count, rule B (365-day window)", b_crm, result=b_n),
    ]
    try:
        con = connect_duckdb(ctx.data)
    except Exception as error:  # noqa: BLE001 - any failure makes the baseline unavailable, not the run
        reason = f"{type(error).__name__}: {error}"
        out["measurements"].append(unavailable("DuckDB sqlite_scan", reason))
        out["ratios"].append(ratio("crmkit count ÷ DuckDB count", None, note=f"DuckDB unavailable: {reason}"))
        return out
    params = _rules.params()

    def duck(sql):
        text = sql
        for name, value in params.items():
            text = text.replace(f":{name}", f"'{value}'")
        return lambda: con.execute(text).fetchone()[0]

    try:
        repeat = max(1, ctx.repeat // 2)
        d_a_sum, d_a_sum_n = timed(duck(_rules.A_SUMMARY), repeat)
        d_a_re, d_a_re_n = timed(duck(_rules.A_REAGGREGATE), repeat)
        d_b, d_b_n = timed(duck(_rules.B_GROUPED), repeat)
    finally:
        con.close()
    if not (a_n == d_a_sum_n == d_a_re_n and b_n == d_b_n):
        raise AssertionError(f"DuckDB and crmkit disagree: A {a_n}/{d_a_sum_n}/{d_a_re_n}, B {b_n}/{d_b_n}")
    out["measurements"] += [
        measurement("DuckDB sqlite_scan, rule A from the summary table", d_a_sum, result=d_a_sum_n),
        measurement("DuckDB sqlite_scan, rule A re-aggregating the log", d_a_re, result=d_a_re_n),
        measurement("DuckDB sqlite_scan, rule B re-aggregating the window", d_b, result=d_b_n),
    ]
    out["ratios"] += [
        ratio("DuckDB (summary table) ÷ crmkit, rule A (time; > 1: crmkit faster)", d_a_sum / a_crm),
        ratio("DuckDB (re-aggregating) ÷ crmkit, rule A (time; > 1: crmkit faster)", d_a_re / a_crm),
        ratio("DuckDB (re-aggregating) ÷ crmkit, rule B (time; > 1: crmkit faster)", d_b / b_crm),
    ]
    out["notes"].append("DuckDB's values are literals in its SQL (it has no named parameters); counts were checked equal to crmkit's.")
    return out
