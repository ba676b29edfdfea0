"""The demo CRM's HTML report in a real headless Chromium, at a desktop's 1,400 px and a phone's 390 px.

Chromium is Debian's package (``/usr/bin/chromium``) driven by Playwright's Python API. In CI
(``CI`` set) a missing browser fails the test; elsewhere it is skipped with the reason. Every
chart renders, nothing is fetched, the page never scrolls sideways (wide tables scroll inside
their own box) and the text holds no internal key and no "None". Screenshots of the top of the
page at both widths are kept in the test's tmp dir (docs/images/report-*.png are copies).
"""

from __future__ import annotations

import re

import pytest

import crmkit
from crmkit import demo

WIDTHS = (1400, 390)
CHARTS = """() => [...document.querySelectorAll('figure.chart')].map(figure => {
    const svg = figure.querySelector('svg'); const box = svg.getBoundingClientRect();
    const marks = [...svg.querySelectorAll('path, rect')].filter(el => {
        const b = el.getBBox(); return b.width > 0 && b.height > 0;
    });
    return {kind: figure.dataset.kind, width: box.width, height: box.height, right: box.right,
            marks: marks.length, section: figure.closest('section').dataset.key};
})"""


@pytest.fixture(scope="module")
def report_html(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    demo.build(folder / "demo.db", customers=300, seed=7)
    with crmkit.open(folder / "demo.db") as crm:
        report = crm.reports.build()  # as of the demo's today
        assert report.header()["as_of"] == demo.DEMO_TODAY and report.failed == []
        return report.write_html(folder / "report.html", locale="en_US")


@pytest.mark.slow
@pytest.mark.parametrize("width", WIDTHS)
def test_demo_report_in_chromium(report_html, chromium_browser, tmp_path, width):
    outside = []
    page = chromium_browser.new_page(viewport={"width": width, "height": 900})
    try:

        def only_the_file(route):
            if route.request.url.startswith("file://"):
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        page.route("**/*", only_the_file)
        page.goto(report_html.resolve().as_uri())
        charts = page.evaluate(CHARTS)
        statuses = page.eval_on_selector_all("section.report-section", "els => els.map(e => e.dataset.status)")
        scroll = page.evaluate("() => [document.scrollingElement.scrollWidth, window.innerWidth]")
        text = page.evaluate("() => document.body.innerText")
        notes = page.evaluate("() => [...document.querySelectorAll('.notes')].map(n => n.innerText).join(' ')")
        page.screenshot(path=str(tmp_path / f"report-{width}.png"))
        page.screenshot(path=str(tmp_path / f"report-{width}-full.png"), full_page=True)
    finally:
        page.close()

    assert outside == []
    assert statuses and set(statuses) == {"ok"}
    assert scroll[0] <= scroll[1], f"the page scrolls sideways at {width} px: {scroll}"
    kinds = {c["kind"] for c in charts}
    assert {"line", "bar", "hbar", "heatmap", "pareto", "funnel"} <= kinds
    for chart in charts:
        assert chart["width"] > 100 and chart["height"] > 50, chart
        assert chart["right"] <= width, chart
        assert chart["marks"] >= 2, chart
    assert "None" not in text
    for note in notes.split():
        text = text.replace(note, "")  # notes may name settings, e.g. churn_days
    assert re.findall(r"\b[a-z]+(?:_[a-z0-9]+)+\b", text) == []
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", text)


@pytest.mark.slow
def test_demo_report_prints_on_a4_without_cut_tables(report_html, chromium_browser, tmp_path):
    """Printed (A4 less 12 mm margins: 718 CSS px wide), every table fits the page width."""
    page = chromium_browser.new_page(viewport={"width": 718, "height": 1000})
    try:
        page.goto(report_html.resolve().as_uri())
        page.emulate_media(media="print")
        widths = page.evaluate(
            "() => [document.scrollingElement.scrollWidth, innerWidth,"
            " Math.max(...[...document.querySelectorAll('table')].map(t => t.getBoundingClientRect().right))]"
        )
        page.pdf(path=str(tmp_path / "report.pdf"), format="A4")
    finally:
        page.close()
    assert widths[0] <= widths[1] and widths[2] <= widths[1], widths
    assert (tmp_path / "report.pdf").stat().st_size > 10_000
