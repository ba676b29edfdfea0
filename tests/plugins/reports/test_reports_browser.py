"""The demo CRM's HTML report in a real headless Chromium: every chart renders, nothing is fetched.

Chromium is Debian's package (``/usr/bin/chromium``) driven by Playwright's Python API. In CI
(``CI`` set) a missing browser fails the test; elsewhere it is skipped with the reason. A
screenshot of the whole page is kept in the test's tmp dir as an artefact.
"""

from __future__ import annotations

import pytest

from crmkit import demo


@pytest.mark.slow
def test_demo_report_renders_its_charts_in_chromium(tmp_path, chromium_browser):
    db = tmp_path / "demo.db"
    demo.build(db, customers=300, seed=7, plugins=["reports"])
    import crmkit

    with crmkit.open(db, plugins=["reports"]) as crm:
        report = crm.reports.build()  # as of the demo's today
        html = report.write_html(tmp_path / "report.html")
    assert report.header()["as_of"] == demo.DEMO_TODAY and report.failed == []

    outside = []
    page = chromium_browser.new_page(viewport={"width": 1280, "height": 900})
    try:

        def only_the_file(route):
            if route.request.url.startswith("file://"):
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        page.route("**/*", only_the_file)
        page.goto(html.resolve().as_uri())
        charts = page.evaluate(
            """() => [...document.querySelectorAll('svg.chart')].map(svg => {
                const box = svg.getBoundingClientRect();
                const marks = [...svg.querySelectorAll('rect, polyline, circle, path')].filter(el => {
                    const b = el.getBBox(); return b.width > 0 || b.height > 0;
                });
                return {kind: svg.getAttribute('class'), width: box.width, height: box.height,
                        marks: marks.length, section: svg.closest('section').dataset.key};
            })"""
        )
        statuses = page.eval_on_selector_all("section.report-section", "els => els.map(e => e.dataset.status)")
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    finally:
        page.close()

    assert outside == []
    assert statuses and set(statuses) == {"ok"}
    kinds = {c["kind"] for c in charts}
    assert {"chart chart-line", "chart chart-bar", "chart chart-hbar", "chart chart-heatmap", "chart chart-pareto"} <= kinds
    for chart in charts:
        assert chart["width"] > 100 and chart["height"] > 50, chart
        assert chart["marks"] >= 2, chart  # the background plus at least one bar, point, cell or slice
    assert sum(c["marks"] for c in charts) > 100
    assert (tmp_path / "report.png").stat().st_size > 10_000
