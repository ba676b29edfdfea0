"""Progress of long commands when stderr is a pipe (a log, CI, cron): plain lines, one per step,
never a redrawn bar; quiet when the work ends within the first seconds."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

import crmkit


def cli(*args, quiet_seconds: str | None = "0") -> subprocess.CompletedProcess:
    """Run ``crmkit`` in its own process with stdout and stderr as pipes."""
    env = dict(os.environ)
    env.pop("CRMKIT_PROGRESS_AFTER", None)
    if quiet_seconds is not None:
        env["CRMKIT_PROGRESS_AFTER"] = quiet_seconds
    return subprocess.run(
        [sys.executable, "-c", "from crmkit.cli import main; main()", *map(str, args)],
        capture_output=True, text=True, env=env, timeout=600,
    )


def test_demo_reports_each_tenth_as_a_line(tmp_path):
    done = cli("demo", tmp_path / "demo.db", "--customers", 300)
    assert done.returncode == 0, done.stderr
    assert "\r" not in done.stderr and "\x1b" not in done.stderr  # no bar redrawn in place
    lines = [line for line in done.stderr.splitlines() if line.startswith("Making demo data")]
    found = [re.fullmatch(r"Making demo data: ([\d,]+) of 300 \((\d+)%\)", line) for line in lines]
    assert all(found), lines
    percents = [int(m.group(2)) for m in found]
    assert percents == sorted(set(percents)) and percents[-1] == 100 and len(percents) <= 11
    for m in found:  # each line's share agrees with its count
        assert int(m.group(2)) == int(m.group(1).replace(",", "")) * 10 // 300 * 10


def test_import_reports_its_stages(tmp_path):
    rows = "\n".join(f"Customer {n},c{n}@example.com" for n in range(1, 51))
    (tmp_path / "people.csv").write_text("name,email\n" + rows + "\n", encoding="utf-8")
    crmkit.open(tmp_path / "shop.db", plugins=[]).close()
    done = cli("import", tmp_path / "shop.db", tmp_path / "people.csv", "--kind", "customers")
    assert done.returncode == 0, done.stderr
    stages = [line.split(":")[0] for line in done.stderr.splitlines()]
    # A CSV is checked as bytes are read (it said "Checking rows" of a byte count); its rows are written.
    assert "Checking the file (bytes read)" in stages and "Writing rows" in stages
    assert stages.index("Checking the file (bytes read)") < stages.index("Writing rows")
    size = (tmp_path / "people.csv").stat().st_size
    assert f"Checking the file (bytes read): {size:,} of {size:,} (100%)" in done.stderr
    assert "\r" not in done.stderr


def test_due_and_copy_print_one_line_per_step(tmp_path):
    source = tmp_path / "shop.db"
    with crmkit.open(source, plugins=["loyalty", "leads"]) as crm:
        crm.customers.add_many([{"name": f"c{n}"} for n in range(25)])
        tables = [t for t in crm.db.table_names()]
    due = cli("due", source, "--now", "2025-06-01")
    assert due.returncode == 0, due.stderr
    assert sorted(due.stderr.splitlines()) == ["Due work: leads...", "Due work: loyalty..."]
    copied = cli("copy", source, tmp_path / "copy.db")
    assert copied.returncode == 0, copied.stderr
    lines = copied.stderr.splitlines()
    assert "Copying: customers, 25 rows" in lines
    assert all(re.fullmatch(r"Copying: \w+, [\d,]+ rows", line) for line in lines), lines
    assert {line.split(",")[0].removeprefix("Copying: ") for line in lines} <= set(tables)


def test_quick_work_prints_no_progress(tmp_path):
    rows = "\n".join(f"Customer {n},c{n}@example.com" for n in range(1, 11))
    (tmp_path / "people.csv").write_text("name,email\n" + rows + "\n", encoding="utf-8")
    crmkit.open(tmp_path / "shop.db", plugins=[]).close()
    done = cli("import", tmp_path / "shop.db", tmp_path / "people.csv", "--kind", "customers", quiet_seconds=None)
    assert done.returncode == 0 and done.stderr == ""


@pytest.mark.parametrize("value", ["soon", "-1"])
def test_a_bad_quiet_time_falls_back_to_the_default(tmp_path, value):
    done = cli("due", tmp_path / "x.db", quiet_seconds=value)
    assert "Traceback" not in done.stderr
