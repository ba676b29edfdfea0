"""The dependency direction of DESIGN.md, read from the source's import statements.

Plugins and front ends depend on the core, never the reverse; no plugin imports another; the
front ends (the Jupyter extension, the HTTP API) import no plugin and the core and the Jupyter
extension never import the API. A plugin reaches a front end's toolkit only from inside a
function (its panel or routes module, imported by the hook that needs it), so the plugin imports
without the front end installed.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PLUGINS = sorted(p.name for p in (ROOT / "plugins").iterdir() if (p / "__init__.py").exists())
EXTENSIONS = sorted(p.name for p in (ROOT / "extensions").iterdir() if (p / "__init__.py").exists())
PACKAGES = {"crmkit": ROOT / "crmkit"} | {name: ROOT / "plugins" / name for name in PLUGINS} | {
    name: ROOT / "extensions" / name for name in EXTENSIONS
}


def imports_of(package: Path, root: Path = ROOT) -> list[tuple[str, int, str, bool]]:
    """(file, line, top-level package imported, at module level?) for every import in a package."""
    found = []
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        module_level = {id(node) for node in tree.body}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            top = id(node) in module_level or _inside_module_level_block(tree, node)
            for name in names:
                found.append((str(path.relative_to(root)), node.lineno, name.split(".")[0], top))
    return found


def _inside_module_level_block(tree: ast.Module, target: ast.AST) -> bool:
    """An import under a module-level ``if``/``try`` (not in a function) runs at import time too,
    except under ``if TYPE_CHECKING:``, which never runs."""
    for node in tree.body:
        if isinstance(node, (ast.If, ast.Try)) and any(child is target for child in ast.walk(node)):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                return False
            return True
    return False


def test_the_packages_are_found():
    assert {"crmkit_leads", "crmkit_loyalty", "crmkit_complaints", "crmkit_reports"} <= set(PLUGINS)
    assert {"crmkit_jupyter", "crmkit_api"} <= set(EXTENSIONS)


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_dependency_direction(package):
    wrong = []
    for file, line, imported, module_level in imports_of(PACKAGES[package]):
        if imported == package or imported not in PACKAGES:
            continue
        if package == "crmkit":
            wrong.append(f"{file}:{line} the core imports {imported}")
        elif package in PLUGINS and imported in PLUGINS:
            wrong.append(f"{file}:{line} plugin {package} imports plugin {imported}")
        elif package in EXTENSIONS and imported in PLUGINS:
            wrong.append(f"{file}:{line} front end {package} imports plugin {imported}")
        elif package == "crmkit_jupyter" and imported == "crmkit_api":
            wrong.append(f"{file}:{line} the Jupyter extension imports the HTTP API")
    assert wrong == []


@pytest.mark.parametrize("plugin", PLUGINS)
def test_a_plugin_imports_without_any_front_end(plugin):
    """Importing a plugin and its hook module must not need the Jupyter extension, the HTTP API
    or their libraries: a plugin installed beside the core alone works from the CLI."""
    blocked = EXTENSIONS + ["fastapi", "ipywidgets", "anywidget", "altair"]
    program = (
        "import sys\n"
        f"for name in {blocked!r}: sys.modules[name] = None\n"
        f"import {plugin}, importlib\n"
        f"importlib.import_module('{plugin}.plugin')\n"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]


def test_the_check_sees_a_wrong_import(tmp_path):
    """The reader finds imports inside functions and under module-level blocks."""
    package = tmp_path / "crmkit_example"
    package.mkdir()
    (package / "mod.py").write_text(
        "import os\ntry:\n    import crmkit_loyalty.points\nexcept ImportError:\n    pass\n"
        "def later():\n    from crmkit_jupyter.toolkit import base\n",
        encoding="utf-8",
    )
    found = {(name, top) for _, _, name, top in imports_of(package, tmp_path)}
    assert found == {("os", True), ("crmkit_loyalty", True), ("crmkit_jupyter", False)}

