"""Read a documentation page into runnable steps and run them as a reader would.

The convention (written out for authors in docs/index.md, "How the examples are checked"):

- ```python blocks run in one namespace per page, in page order, in the page's current folder.
- ```console blocks hold shell commands after a ``$ `` prompt (a line ending in ``\\`` continues
  the command); the lines up to the next prompt are what the command prints (stdout and stderr
  as a terminal shows them). A command shown without output prints nothing. In the shown output
  a line ``...`` stands for any number of lines and ``...`` inside a line for any text: used only
  where output truly varies (timings, random tokens) or is too long to show.
  A command may fail only when its shown output has an ``Error:`` line.
- Commands of one page share one shell session: ``cd``, ``source`` and variables carry on.
- An HTML comment on the line right before a block changes how it is treated:
  ``<!-- docs-test: file NAME -->`` the block is the content of the file NAME the reader saves;
  ``<!-- docs-test: skip REASON -->`` the block is not run, for the REASON given;
  ``<!-- docs-test: sqlite-only REASON -->`` the block runs only when the suite runs on SQLite
  (with ``--engine postgresql`` the page's CRM files live on the server, so a command about the
  file itself, such as ``backup``, has no file to work on).
- Other blocks (```text, ```toml, unmarked) are shown, not run.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

MARKER = re.compile(r"^<!--\s*docs-test:\s*(file|skip|sqlite-only)\s+(.+?)\s*-->\s*$")
FENCE = re.compile(r"^```(\w*)\s*$")
SHELL_LANGUAGES = {"bash", "sh", "shell", "console"}


@dataclass
class Block:
    """One fenced block of a page with the marker written right before it."""

    language: str
    text: str
    line: int
    marker: tuple[str, str] | None = None


@dataclass
class Command:
    """One shell command and the output the page shows for it."""

    command: str
    expected: list[str] = field(default_factory=list)
    line: int = 0


def blocks(markdown: str) -> list[Block]:
    """Every fenced block of ``markdown`` in page order, with its ``docs-test`` marker if any."""
    found: list[Block] = []
    lines = markdown.splitlines()
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        start = index
        index += 1
        body: list[str] = []
        while index < len(lines) and lines[index].rstrip() != "```":
            body.append(lines[index])
            index += 1
        index += 1
        previous = MARKER.match(lines[start - 1]) if start else None
        marker = (previous.group(1), previous.group(2)) if previous else None
        found.append(Block(opening.group(1), "\n".join(body) + "\n", start + 1, marker))
    return found


def commands(block: Block) -> list[Command]:
    """The commands of a ```console block, each with the output lines shown after it."""
    found: list[Command] = []
    continuing = False
    for offset, line in enumerate(block.text.splitlines(), start=1):
        if continuing:
            found[-1].command += "\n" + line
        elif line.startswith("$ "):
            found.append(Command(line[2:], line=block.line + offset))
        elif found:
            found[-1].expected.append(line)
        else:
            raise ValueError(f"line {block.line + offset}: output before any `$ ` command: {line!r}")
        continuing = line.endswith("\\") and (continuing or line.startswith("$ "))
    return found


def output_matches(expected: list[str], actual: str) -> bool:
    """Whether ``actual`` is the shown output, ``...`` lines and ``...`` in a line matching anything."""
    pattern = []
    for line in _trimmed(expected):
        if line.strip() == "...":
            pattern.append(r"(?:[^\n]*\n)*?")
        else:
            pattern.append(".*?".join(re.escape(part) for part in line.split("...")) + r"\n")
    return re.fullmatch("".join(pattern), "".join(line + "\n" for line in _trimmed(actual.splitlines()))) is not None


def _trimmed(lines: list[str]) -> list[str]:
    lines = [line.rstrip() for line in lines]
    while lines and not lines[-1]:
        lines.pop()
    return lines


class Shell:
    """A reader's shell session: each command runs in bash, ``cd`` and exported variables carry on."""

    def __init__(self, folder: Path, state: Path, environment: dict[str, str]) -> None:
        self.cwd = folder
        self._variables = state / "variables.sh"
        self._cwd_file = state / "cwd"
        self._environment = environment
        self._variables.write_text("")

    def run(self, command: str, timeout: float = 600) -> tuple[int, str]:
        """Run ``command`` as typed at the prompt; its exit status and everything it printed."""
        script = "\n".join([
            "set -a",
            f"source {shlex.quote(str(self._variables))}",
            f"cd {shlex.quote(str(self.cwd))}",
            command,
            "__status=$?",
            f"export -p > {shlex.quote(str(self._variables))}",
            f"pwd > {shlex.quote(str(self._cwd_file))}",
            "exit $__status",
        ])
        done = subprocess.run(
            ["bash", "-c", script], env=self._environment, cwd=self.cwd, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, timeout=timeout,
        )
        if self._cwd_file.exists():
            self.cwd = Path(self._cwd_file.read_text().strip())
        return done.returncode, done.stdout


def reader_environment(venv: Path, activated: bool) -> dict[str, str]:
    """The environment of a newcomer's shell: the project's ``.venv`` on PATH only when activated."""
    environment = dict(os.environ)
    bin_folder = str(venv / "bin")
    path = [entry for entry in environment.get("PATH", "").split(os.pathsep) if entry and entry != bin_folder]
    environment.pop("VIRTUAL_ENV", None)
    environment.pop("CRMKIT_PLUGINS", None)
    if activated:
        path.insert(0, bin_folder)
        environment["VIRTUAL_ENV"] = str(venv)
    environment["PATH"] = os.pathsep.join(path)
    environment["COLUMNS"] = "100"
    # Progress lines appear once work has taken 2 s, which on a busy machine a 3-row import can:
    # they tell the machine's speed, not what the page documents.
    environment["CRMKIT_PROGRESS_AFTER"] = "600"
    return environment
