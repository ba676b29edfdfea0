"""The ``crmkit`` command starts at once: loading the CLI imports no numerical library.

Each check runs in a fresh interpreter (``sys.modules`` of the test process already holds
everything the suite imported). The timing itself is in ``benchmarks/workloads/cli_startup.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys

import crmkit

HEAVY = ("numpy", "scipy", "pandas", "sqlite_utils")


def _imported_after(code: str) -> list[str]:
    script = f"import json, sys\n{code}\nprint(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_the_cli_imports_no_numerical_library():
    """``import crmkit.cli`` leaves numpy, scipy, pandas and sqlite-utils unimported."""
    assert _imported_after("import crmkit.cli") == []


def test_building_the_command_tree_with_every_plugin_imports_no_numerical_library():
    """Registering every installed plugin's commands (what ``crmkit --help`` does) stays light."""
    code = "import os\nos.environ.pop('CRMKIT_PLUGINS', None)\nimport crmkit.cli\ncrmkit.cli.make_cli()"
    assert _imported_after(code) == []


def test_the_public_names_still_resolve():
    """The lazily imported names of ``crmkit`` are the real objects, and unknown names fail."""
    import crmkit
    from crmkit.crm import open as real_open

    assert crmkit.open is real_open
    assert "Customer" in dir(crmkit)
    try:
        crmkit.no_such_name  # noqa: B018 - the access is the test
    except AttributeError as error:
        assert "no_such_name" in str(error)
    else:  # pragma: no cover - a failure
        raise AssertionError("an unknown name must raise AttributeError")


def test_building_the_command_tree_reads_the_installed_packages_once():
    """Finding the extensions' commands and the plugins takes one read of every installed
    distribution's metadata (about 20 ms each on this project's environment), not one per group."""
    script = (
        "import importlib.metadata as md, os\n"
        "os.environ.pop('CRMKIT_PLUGINS', None)\n"
        "reads = []\n"
        "real = md.entry_points\n"
        "md.entry_points = lambda **kw: reads.append(kw) or real(**kw)\n"
        "import crmkit.cli\n"
        "cli = crmkit.cli.make_cli()\n"
        "assert 'serve' in cli.commands and 'loyalty' in cli.commands, sorted(cli.commands)\n"
        "print(len(reads))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "1"


def test_reading_an_up_to_date_crm_imports_no_numerical_library(crm_path):
    """``customers show`` on a CRM whose schema is current reads the migration record only:
    sqlite-utils (which imports pandas and numpy when they are installed) stays unimported."""
    crm = crmkit.open(crm_path)
    alice = crm.customers.add(name="Alice Ng", email="alice@example.com")
    crm.close()
    code = (
        "import contextlib, io, sys\n"
        "from crmkit.cli import main\n"
        f"sys.argv = ['crmkit', 'customers', 'show', {str(crm_path)!r}, '{alice.id}']\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        "    try:\n"
        "        main()\n"
        "    except SystemExit as done:\n"
        "        assert not done.code, done.code\n"
        "assert 'Alice Ng' in out.getvalue(), out.getvalue()\n"
    )
    assert _imported_after(code) == []
