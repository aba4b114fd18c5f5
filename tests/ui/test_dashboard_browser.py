"""The dashboard in a real browser: headless Chromium against `searcher ui` on localhost."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from searcher.study.frontier import pareto_front
from tests.conftest import TrainedStudy
from tests.ui.server import dashboard_server
from ui.data import load_records

pytestmark = pytest.mark.slow  # a dashboard server and a browser

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(os.environ.get("DIVCO_TEST_OUTPUT", ROOT / "test-output"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip


@pytest.fixture
def dashboard(tmp_path: Path, tiny_study: TrainedStudy) -> Iterator[tuple[str, str]]:
    storage = tiny_study.storage  # the dashboard only reads it
    with dashboard_server(storage, "tiny", tmp_path) as server:  # stopped even if the test fails
        yield server.url, storage


def test_frontier_renders_with_the_stored_trials_and_pareto_rows(
    dashboard: tuple[str, str],
) -> None:
    if not CHROMIUM.exists():
        pytest.skip("chromium is not installed (make test installs it with apt-get)")
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    url, storage = dashboard
    records = load_records(storage, "tiny")
    front = pareto_front(records)
    trained = [r for r in records if r.status == "trained"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1800})
        page.goto(url)
        page.get_by_text(re.compile(r"Pareto front: \d+ of \d+ trials")).wait_for(timeout=60_000)
        chart = page.locator('[data-testid="stVegaLiteChart"]').first
        chart.locator("canvas, svg").first.wait_for(timeout=30_000)
        page.wait_for_timeout(1500)  # let Vega finish drawing before the screenshot
        heading = page.get_by_text(re.compile(r"Pareto front: \d+ of \d+ trials")).inner_text()
        table_rows = page.locator('[data-testid="stTable"]').first.locator("tbody tr")
        table_rows.first.wait_for(timeout=30_000)  # a busy machine draws the table after the chart
        rows = table_rows.all_inner_texts()
        shown = page.locator('[data-testid="stMetric"]').first.inner_text()
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "dashboard-frontier.png"), full_page=True)
        box = chart.bounding_box()
        browser.close()
    assert heading == f"Pareto front: {len(front)} of {len(records)} trials"
    assert [int(row.split()[0]) for row in rows] == [r.number for r in front]
    assert box is not None and box["width"] > 300 and box["height"] > 200
    assert shown.split()[-1] == str(len(trained))
