"""Where the HTTP API lives: the ``crmkit_api`` extension, which the core, the Jupyter extension and
the plugins' hook modules never import, and which ``crmkit serve`` reaches through an entry point.

Runtime checks run in a fresh interpreter (the test process has imported everything already).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import crmkit
import crmkit_api

ROOT = Path(crmkit.__file__).resolve().parent.parent


def _imported_modules(source: Path, *, top_level_only: bool = False) -> set[str]:
    """Top-level package names a module imports (all imports, or only those at module level)."""
    tree = ast.parse(source.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else ast.walk(tree)
    names = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _importers_of(package: str, folders: list[Path], *, skip=lambda path: False, top_level_only=False) -> list[str]:
    return sorted(
        str(path.relative_to(ROOT))
        for folder in folders for path in folder.rglob("*.py")
        if not skip(path) and package in _imported_modules(path, top_level_only=top_level_only)
    )


def test_the_api_lives_beside_the_jupyter_extension():
    assert Path(crmkit_api.__file__).resolve().parent == ROOT / "extensions" / "crmkit_api"
    assert not (ROOT / "crmkit" / "http").exists()


def test_the_core_and_the_jupyter_extension_never_import_the_api():
    folders = [ROOT / "crmkit", ROOT / "extensions" / "crmkit_jupyter"]
    assert _importers_of("crmkit_api", folders) == []
    assert _importers_of("fastapi", folders) == []


def test_a_plugin_imports_the_api_only_in_its_routes_module():
    """Routes modules are imported by the ``crmkit_routes`` hook alone, so every other module
    of a plugin works where the server extra is missing."""
    plugins = [ROOT / "plugins"]
    outside_routes = lambda path: path.name == "routes.py"  # noqa: E731
    assert _importers_of("crmkit_api", plugins, skip=outside_routes) == []
    assert _importers_of("fastapi", plugins, skip=outside_routes) == []
    # plugin.py reaches its routes module inside the hook, never at module level
    for plugin in (ROOT / "plugins").glob("*/plugin.py"):
        top_level = ast.parse(plugin.read_text(encoding="utf-8")).body
        assert not [n for n in top_level if isinstance(n, ast.ImportFrom) and "routes" in
                    [n.module, *(a.name for a in n.names)]], plugin


def test_the_api_imports_no_plugin():
    plugin_packages = [p.name for p in (ROOT / "plugins").iterdir() if (p / "__init__.py").exists()]
    api = [ROOT / "extensions" / "crmkit_api"]
    assert plugin_packages and all(_importers_of(name, api) == [] for name in plugin_packages)


def _modules_after(code: str) -> list[str]:
    watched = ("crmkit_api", "crmkit_api.app", "fastapi", "uvicorn")
    script = f"import json, sys\n{code}\nprint(json.dumps(sorted(m for m in {watched!r} if m in sys.modules)))"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_opening_a_crm_with_every_plugin_and_the_notebook_extension_imports_no_api(tmp_path):
    code = (
        "import crmkit, crmkit_jupyter\n"
        f"crm = crmkit.open({str(tmp_path / 'x.db')!r}, plugins=['leads', 'loyalty', 'complaints', 'reports'])\n"
        "crm.run_due(); crm.close()"
    )
    assert _modules_after(code) == []


def test_the_cli_gets_serve_from_the_extension_without_importing_fastapi():
    code = "import crmkit.cli\ncli = crmkit.cli.make_cli()\nassert 'serve' in cli.commands, sorted(cli.commands)"
    assert _modules_after(code) == ["crmkit_api"]


def _cli(args: list[str], prelude: str = "") -> subprocess.CompletedProcess:
    code = f"import sys\n{prelude}\nfrom crmkit.cli import main\nmain({args!r})"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)


def test_serve_without_the_server_extra_names_what_to_install(tmp_path):
    """With FastAPI missing, ``crmkit serve`` is one Error line saying which extra to install."""
    done = _cli(["serve", str(tmp_path / "crm.db")], prelude="sys.modules['fastapi'] = None")
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("Error: crmkit serve needs the server extra: pip install 'crmkit[server]'")
    help_text = _cli(["serve", "--help"], prelude="sys.modules['fastapi'] = None")
    assert help_text.returncode == 0 and "--port" in help_text.stdout


def test_serve_of_a_missing_file_is_one_error_line(tmp_path):
    done = _cli(["serve", str(tmp_path / "nowhere.db")])
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [f"Error: no CRM file at {tmp_path / 'nowhere.db'}; "
                                                f"create one with `crmkit init {tmp_path / 'nowhere.db'}` or "
                                                f"`crmkit demo {tmp_path / 'nowhere.db'}`"]
