"""Every block of README.md and docs/ runs as written, in a fresh folder per page, and prints what the page shows.

How a page is read is in tests/docs_pages.py and, for authors, in docs/index.md.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from crmkit.engine.redirect import redirects
from docs_pages import Shell, blocks, commands, output_matches, reader_environment

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(sys.prefix)  # the environment running the tests stands for the reader's .venv
README = ROOT / "README.md"
RUNNABLE = {"python", "console", "bash", "sh", "shell"}


def _runs(page: Path) -> bool:
    return any(block.language in RUNNABLE for block in blocks(page.read_text(encoding="utf-8")))


PAGES = [README] + sorted(p for p in (ROOT / "docs").rglob("*.md") if _runs(p))


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_page_runs_as_written(page, tmp_path, monkeypatch):
    """The examples a reader copies from the page work as written and print what the page shows.

    README.md runs in a folder standing for the project after `make demo` (it holds `.venv`);
    every docs page in an empty folder, with the project's environment active only when the page
    tells the reader to activate it.
    """
    text = page.read_text(encoding="utf-8")
    folder = tmp_path / "reader"
    folder.mkdir()
    state = tmp_path / "session"
    state.mkdir()
    if page == README:
        (folder / ".venv").symlink_to(VENV)
    activated = page != README and ".venv/bin/activate" in text
    shell = Shell(folder, state, reader_environment(VENV, activated))
    monkeypatch.delenv("CRMKIT_PLUGINS", raising=False)
    namespace: dict = {"__name__": f"docs_{page.stem}"}
    where = page.relative_to(ROOT)
    for block in blocks(text):
        if block.marker and block.marker[0] == "skip":
            continue
        if block.marker and block.marker[0] == "sqlite-only" and redirects(folder / "page.db"):
            continue
        if block.marker and block.marker[0] == "file":
            (shell.cwd / block.marker[1]).write_text(block.text, encoding="utf-8")
        elif block.language == "python":
            monkeypatch.chdir(shell.cwd)
            code = compile(block.text, f"{where}:{block.line}", "exec")
            exec(code, namespace)  # noqa: S102 - running our own documentation
            shell.cwd = Path(os.getcwd())
        elif block.language in RUNNABLE:
            assert block.language == "console", f"{where}:{block.line}: write shell examples as ```console with `$ ` prompts"
            for command in commands(block):
                status, output = shell.run(command.command)
                failed_as_shown = any(line.startswith("Error:") for line in command.expected)
                assert status == 0 or failed_as_shown, (
                    f"{where}:{command.line}: `{command.command}` exited with {status}:\n{output}"
                )
                assert output_matches(command.expected, output), (
                    f"{where}:{command.line}: `{command.command}` printed\n{output}\n"
                    f"but the page shows\n" + "\n".join(command.expected)
                )
