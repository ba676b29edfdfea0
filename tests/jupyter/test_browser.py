"""End to end: JupyterLab on 127.0.0.1, Debian's Chromium driven by Playwright, the quickstart
notebook run through the Run menu, the dashboard used with real clicks and keystrokes."""

from __future__ import annotations

import json
import re
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import crmkit

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "notebooks" / "quickstart.ipynb"
TOKEN = "crmkit-browser-test"


def _need_browser() -> None:
    missing = []
    if not CHROMIUM.exists():
        missing.append("Chromium (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright package")
    if missing:
        message = "real-browser test needs " + " and ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(message + " in CI")
        pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    """A JupyterLab server on a free port, its state isolated in a temporary folder."""
    _need_browser()
    root = tmp_path_factory.mktemp("lab")
    shutil.copy(NOTEBOOK, root / NOTEBOOK.name)
    state = tmp_path_factory.mktemp("lab-state")
    env = dict(os.environ)
    for name, sub in (("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"), ("JUPYTER_RUNTIME_DIR", "runtime"),
                      ("JUPYTERLAB_SETTINGS_DIR", "settings"), ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"), ("IPYTHONDIR", "ipython")):
        (state / sub).mkdir()
        env[name] = str(state / sub)
    env.pop("CRMKIT_PLUGINS", None)
    overrides = state / "config" / "labconfig"
    overrides.mkdir()
    (overrides / "default_setting_overrides.json").write_text(json.dumps({
        "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
    }))
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={root}",
         "--LabApp.news_url=None", "--LabApp.extension_manager=readonly"],
        env=env, cwd=root, stdout=subprocess.DEVNULL, stderr=open(state / "server.log", "wb"),
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            request = urllib.request.Request(f"{url}/api/status", headers={"Authorization": f"token {TOKEN}"})
            with urllib.request.urlopen(request, timeout=2) as answer:
                if answer.status == 200:
                    break
        except OSError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            pytest.fail("JupyterLab did not start: " + (state / "server.log").read_text()[-2000:])
        time.sleep(0.3)
    yield {"url": url, "root": root}
    server.terminate()
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()


@pytest.fixture(scope="session")
def browser(lab, chromium_browser):
    """The session's shared Chromium (tests/conftest.py), once JupyterLab is up."""
    return chromium_browser


SHOTS = ("customers.png", "segments.png", "loyalty.png")


def _shot(page, board, path: Path) -> None:
    """A PNG of the dashboard as far as the notebook shows it: scrolled to its top, cropped to it."""
    board.evaluate("element => element.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(300)  # let JupyterLab's windowed notebook settle after the scroll
    box = board.bounding_box()
    shown = page.locator(".jp-NotebookPanel-notebook").first.bounding_box()
    top, bottom = max(box["y"], shown["y"]), min(box["y"] + box["height"], shown["y"] + shown["height"])
    page.screenshot(path=str(path), clip={"x": box["x"], "y": top, "width": box["width"], "height": bottom - top})


def test_dashboard_in_jupyterlab(lab, browser, tmp_path):
    """Screenshots of the dashboard (cropped to it) go to ``tmp_path``: Customers, Segments, Loyalty."""
    page = browser.new_page(viewport={"width": 1400, "height": 1300})  # the width docs/images shows
    page.goto(f"{lab['url']}/lab/tree/{NOTEBOOK.name}?token={TOKEN}")
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=60_000)
    if page.locator("#jp-left-stack").is_visible():
        page.keyboard.press("Control+b")  # fold the file browser away: the notebook gets the width
    page.locator(".lm-MenuBar-item", has_text="Run").first.click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()

    output = page.locator(".jp-OutputArea-output")
    board = output.locator(".crmkit-dashboard")
    board.wait_for(timeout=120_000)
    output.locator(".crmkit-page-status", has_text="of 400").wait_for(timeout=30_000)
    _shot(page, board, tmp_path / "customers.png")

    board.get_by_role("tab", name="Segments", exact=True).click()
    rule = "purchases >= 2 and region = 'EU'"
    board.locator(".crmkit-rule-input textarea").fill(rule)
    count = board.locator(".crmkit-rule-count-value")
    count.wait_for(timeout=30_000)
    board.locator(".crmkit-rule-name input").fill("eu-repeat")
    board.locator("button.crmkit-rule-save").click()
    board.locator(".crmkit-rule-saved").wait_for(timeout=30_000)
    shown = int(count.get_attribute("data-count"))
    _shot(page, board, tmp_path / "segments.png")

    board.get_by_role("tab", name="Customers", exact=True).click()
    board.locator(".crmkit-customer-search input").fill("Customer 007")
    board.locator(".crmkit-customer-search input").press("Enter")
    board.locator(".crmkit-page-status", has_text="rows 1–1 of 1").wait_for(timeout=30_000)

    board.get_by_role("tab", name="Loyalty", exact=True).click()  # a plugin's panel, one action
    board.locator("button.crmkit-loyalty-run-rfm").click()
    done = board.locator(".crmkit-loyalty-done")
    done.wait_for(timeout=60_000)
    scored = int(done.inner_text().split(": ")[1].split(" customers")[0].replace(",", ""))
    board.locator(".crmkit-loyalty-grid svg").wait_for(timeout=30_000)
    _shot(page, board, tmp_path / "loyalty.png")

    with crmkit.open(lab["root"] / "quickstart.db") as crm:  # what the browser did is in the file
        assert crm.segments.get("eu-repeat").rule == rule
        assert shown == crm.segments.evaluate(rule).count()
        assert crm.loyalty.runs("rfm")[-1].customers == scored > 0
    for shot in SHOTS:
        assert (tmp_path / shot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and (tmp_path / shot).stat().st_size > 10_000
    page.close()


# What a reader of the dashboard would trip over, measured in the page: labels cut off inside
# their own box, labels overlapping each other, chart texts overlapping within a chart, and the
# notebook scrolling sideways.
LAYOUT = """(board) => {
  const shown = e => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  const overlap = (a, b) => {
    const r = a.getBoundingClientRect(), s = b.getBoundingClientRect();
    return Math.min(r.right, s.right) - Math.max(r.left, s.left) > 2 && Math.min(r.bottom, s.bottom) - Math.max(r.top, s.top) > 2;
  };
  const pairs = (elements) => {
    const found = [];
    for (let i = 0; i < elements.length; i++)
      for (let j = i + 1; j < elements.length; j++)
        if (!elements[i].contains(elements[j]) && !elements[j].contains(elements[i]) && overlap(elements[i], elements[j]))
          found.push([elements[i].textContent.trim(), elements[j].textContent.trim()]);
    return found;
  };
  const labels = [...board.querySelectorAll('button, .widget-label, .widget-label-basic, .lm-TabBar-tabLabel')]
    .filter(shown).filter(e => e.textContent.trim());
  const cut = labels.filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.textContent.trim());
  const charts = [...board.querySelectorAll('svg')].filter(shown)
    .flatMap(svg => pairs([...svg.querySelectorAll('text')].filter(shown).filter(t => t.textContent.trim())
      // rotated axis labels have tilted boxes that touch although the words do not; Vega thins them itself
      .filter(t => !/rotate/.test((t.getAttribute('transform') || '') + (t.parentElement.getAttribute('transform') || '')))));
  const scroller = board.closest('.jp-WindowedPanel-outer') || document.scrollingElement;
  return {cut, labels: pairs(labels), charts, scroll: [scroller.scrollWidth, scroller.clientWidth],
          right: board.getBoundingClientRect().right, width: innerWidth, text: board.innerText};
}"""
TABS = ("Customers", "Segments", "Leads", "Loyalty", "Complaints", "Reports")
WAIT_FOR = {"Customers": ".crmkit-page-status", "Segments": ".crmkit-rule-input", "Leads": ".crmkit-leads-allocate",
            "Loyalty": ".crmkit-loyalty-grid", "Complaints": ".crmkit-complaints-refresh", "Reports": ".crmkit-reports-done"}
SHOWN_IN_DOCS = {"Customers": "customers", "Leads": "leads", "Reports": "reports"}


@pytest.mark.parametrize("width", (1400, 390))
def test_dashboard_reads_at_desktop_and_phone_widths(lab, browser, tmp_path, width):
    """Every tab at 1,400 and 390 px: no sideways scroll, no cut or overlapping label, no raw key
    or "None". Screenshots ``dashboard-<tab>-<width>.png`` go to ``tmp_path`` (docs/images holds
    copies)."""
    page = browser.new_page(viewport={"width": width, "height": 1300 if width > 1000 else 1600})
    page.goto(f"{lab['url']}/lab/tree/{NOTEBOOK.name}?token={TOKEN}")
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=60_000)
    if page.locator("#jp-left-stack").is_visible():
        page.keyboard.press("Control+b")
    page.locator(".lm-MenuBar-item", has_text="Run").first.click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    board = page.locator(".jp-OutputArea-output .crmkit-dashboard")
    board.wait_for(timeout=120_000)
    problems = []
    for tab in TABS:
        board.get_by_role("tab", name=tab, exact=True).click()
        board.locator(f".crmkit-panel-{tab.lower()} {WAIT_FOR[tab]}").first.wait_for(timeout=60_000)
        page.wait_for_timeout(400)  # let the tab's charts finish drawing
        found = board.evaluate(LAYOUT)
        if tab in SHOWN_IN_DOCS:
            _shot(page, board, tmp_path / f"dashboard-{SHOWN_IN_DOCS[tab]}-{width}.png")
        text = found.pop("text")
        if found["scroll"][0] > found["scroll"][1] or found["right"] > found["width"] + 1:
            problems.append(f"{tab}: scrolls sideways {found['scroll']}, right edge {found['right']} of {found['width']}")
        for kind in ("cut", "labels", "charts"):
            if found[kind]:
                problems.append(f"{tab}: {kind} {found[kind][:5]}")
        if re.search(r"\bNone\b", text):
            problems.append(f"{tab}: shows None")
        keys = re.findall(r"\b[a-z]+(?:_[a-z0-9]+)+\b", text)
        if keys:
            problems.append(f"{tab}: raw keys {sorted(set(keys))[:8]}")
    page.close()
    assert not problems, "\n".join(problems)
