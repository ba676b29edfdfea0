"""Start-up of the ``crmkit`` command against sqlite-utils' own ``--help``, in the same run.

Each command is a fresh process, timed from start to exit (median of several runs, the three
commands interleaved so that a busy machine slows them alike): ``crmkit --help`` (target: at
most half of ``sqlite-utils --help``) and ``crmkit customers show DB ID`` on a copy of the demo
file opened with every installed plugin (target: within 1.3x of ``sqlite-utils --help``).
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from ..measure import Context, measurement, ratio, unavailable


def _script(name: str, module: str) -> list[str]:
    """The console script beside this interpreter, or ``python -m module`` without one."""
    script = Path(sys.executable).with_name(name)
    return [str(script)] if script.exists() else [sys.executable, "-m", module]


def _crmkit() -> list[str]:
    script = Path(sys.executable).with_name("crmkit")
    return [str(script)] if script.exists() else [sys.executable, "-c", "from crmkit.cli import main; main()"]


def run(ctx: Context) -> dict:
    import crmkit

    out = {"measurements": [], "ratios": [], "notes": []}
    copy = ctx.work / "startup.db"
    shutil.copyfile(ctx.data, copy)
    with crmkit.open(copy, plugins=sorted(_installed())) as crm:  # migrate once, outside the timing
        customer = crm.db.execute("SELECT min(id) FROM customers").fetchone()[0]
    commands = {
        "sqlite-utils --help": _script("sqlite-utils", "sqlite_utils") + ["--help"],
        "crmkit --help": _crmkit() + ["--help"],
        "crmkit customers show": _crmkit() + ["customers", "show", str(copy), str(customer)],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    runs = 3 if ctx.size == "tiny" else max(7, ctx.repeat)
    for _ in range(runs + 1):  # the first round warms the file cache and is dropped
        for name, argv in commands.items():
            started = time.perf_counter()
            done = subprocess.run(argv, capture_output=True)
            times[name].append(time.perf_counter() - started)
            if done.returncode != 0:
                if name.startswith("sqlite-utils"):
                    out["measurements"].append(unavailable(name, done.stderr.decode(errors="replace")[-200:]))
                    return out
                raise RuntimeError(f"{name} failed: {done.stderr.decode(errors='replace')[-400:]}")
    median = {name: statistics.median(values[1:]) for name, values in times.items()}
    for name, seconds in median.items():
        out["measurements"].append(measurement(name, seconds, note=f"median of {runs} processes"))
    base = median["sqlite-utils --help"]
    help_ratio = median["crmkit --help"] / base
    show_ratio = median["crmkit customers show"] / base
    out["ratios"] += [
        ratio("crmkit --help / sqlite-utils --help", help_ratio, "<= 0.5", help_ratio <= 0.5),
        ratio("crmkit customers show / sqlite-utils --help", show_ratio, "<= 1.3", show_ratio <= 1.3),
    ]
    out["notes"].append(
        "sqlite-utils imports pandas and numpy when they are installed, so its own --help pays for "
        "them; crmkit imports sqlite-utils only when a schema migration runs, so a command that "
        "opens an up-to-date CRM does not"
    )
    return out


def _installed() -> list[str]:
    from crmkit.plugins import installed_entry_points

    return list(installed_entry_points())
