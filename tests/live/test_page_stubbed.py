"""The live page's script against a stubbed API (the contract's JSON, served by the browser's
router): stream messages applied in order, the hooks the benchmark reads, a row's live log,
the History and Compare tabs fetched on opening. The real server is tested with its own tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import pytest
from pydantic import BaseModel

from pytest_spilot.core.state import Progress, ThresholdRecord
from pytest_spilot.live.view import (
    CompareRow,
    CompareView,
    HistoryView,
    LogLines,
    MetricPoint,
    MetricSeries,
    ReleaseSummary,
    ReleaseView,
    RowsChanged,
    ValidationRow,
)

CHROMIUM = Path("/usr/bin/chromium")
STATIC = Path(__file__).parents[2] / "pytest_spilot" / "live" / "static"
ORIGIN = "http://spilot.test"
FLOW = "validations/p.yaml::flow[ss]"
GATED = "validations/p.yaml::gated"
T = "2026-12-01T10:00:00Z"


def row(key: str, status: str, **fields: Any) -> ValidationRow:
    name = key.rsplit("::", 1)[1]
    return ValidationRow(
        key=key,
        id=name,
        name=name.split("[")[0],
        file="validations/p.yaml",
        kind="librelane",
        status=status,  # type: ignore[arg-type]
        **fields,
    )


def summary(live: bool, **counts: int) -> ReleaseSummary:
    return ReleaseSummary(version="r2", running=live, counts=counts)  # type: ignore[arg-type]


def progress(i: int) -> Progress:
    return Progress(state="running", step_index=i, step_count=10, stage="placement")


def events(*messages: BaseModel) -> str:
    # One body holds every message; retry keeps the browser from reconnecting during the test.
    return "retry: 600000\n\n" + "".join(f"data: {m.model_dump_json()}\n\n" for m in messages)


RELEASE = ReleaseView(
    summary=summary(True, queued=1, waiting=1),
    rows=[
        row(FLOW, "queued"),
        row(GATED, "waiting", waiting_for="gate smoke", log="runs/gated/job.log"),
    ],
    gates={"smoke": "passed"},
)
CHANGES = [
    RowsChanged(
        seq=1,
        summary=summary(True, running=1, waiting=1),
        rows=[
            row(
                FLOW,
                "running",
                worker="gw0",
                location="srun",
                node="n7",
                job_id="4711",
                started=T,  # type: ignore[arg-type]
                elapsed_s=65.0,
                progress=progress(3),
                log="runs/flow/job.log",
            )
        ],
    ),
    RowsChanged(
        seq=2,
        summary=summary(True, running=1, failed=1),
        rows=[
            row(
                GATED,
                "failed",
                message="area <b>too</b> large",
                thresholds=[
                    ThresholdRecord(
                        id="area<=100",
                        metric="area",
                        op="<=",
                        outcome="failed",
                        value=120.0,
                        expected=100.0,
                    )
                ],
                metrics={"area": 120.0},
                rerun="python3 -m pytest validations/p.yaml::gated --spilot-version r2",
                log="runs/gated/job.log",
            )
        ],
    ),
    RowsChanged(
        seq=3,
        summary=summary(True, running=1, failed=1),
        rows=[
            row(
                FLOW,
                "running",
                worker="gw0",
                location="srun",
                node="n7",
                job_id="4711",
                started=T,  # type: ignore[arg-type]
                elapsed_s=70.0,
                progress=progress(7),
                log="runs/flow/job.log",
            )
        ],
    ),
]
HISTORY = HistoryView(
    versions=["r1", "r2"],
    series=[
        MetricSeries(
            key=GATED,
            metric="area",
            direction="lower_is_better",
            threshold_op="<=",
            threshold=100.0,
            points=[
                MetricPoint(version="r1", value=90.0),
                MetricPoint(version="r2", value=120.0, regressed=True),
            ],
        ),
        # A metric the run could not read: a series without one value still draws.
        MetricSeries(key=FLOW, metric="wns", points=[MetricPoint(version="r2", value=None)]),
    ],
)
COMPARE = CompareView(
    old="r1",
    new="r2",
    rows=[
        CompareRow(
            key="gated", metric="area", old=90, new=120, change="+33.3%", verdict="regressed"
        ),
        CompareRow(key="gated", metric="cells", old=5, new=5, change="±0", verdict="same"),
    ],
)


# Every EventSource the page opens, and whether it closed it.
TRACK_SOURCES = """
window.spilotSources = [];
const Native = window.EventSource;
window.EventSource = class extends Native {
  constructor(url) { super(url); this.closedByPage = false; window.spilotSources.push(this); }
  close() { this.closedByPage = true; super.close(); }
};
"""
SOURCES = "window.spilotSources.map(s => [decodeURIComponent(s.url), s.closedByPage])"


def responses() -> dict[str, tuple[str, str]]:
    """URL path -> (content type, body) of the stubbed server."""
    releases = [summary(True).model_dump(mode="json"), {"version": "r1", "running": False}]
    log = f"/api/releases/r2/log/{quote(FLOW, safe='')}/stream"
    served = {
        "/": ("text/html", (STATIC / "index.html").read_text()),
        "/api/releases": ("application/json", json.dumps(releases)),
        "/api/releases/r2/stream": ("text/event-stream", events(RELEASE, *CHANGES)),
        log: (
            "text/event-stream",
            events(
                LogLines(key=FLOW, lines=["[step 1] synthesis", "[step 2] floorplan"]),
                LogLines(key=FLOW, lines=["[step 3] placement <started>"]),
            ),
        ),
        f"/api/releases/r2/log/{quote(GATED, safe='')}/stream": (
            "text/event-stream",
            events(LogLines(key=GATED, lines=["area = 120"])),
        ),
        "/api/history": ("application/json", HISTORY.model_dump_json()),
        "/api/compare": ("application/json", COMPARE.model_dump_json()),
    }
    for asset in STATIC.iterdir():
        kind = {"js": "text/javascript", "css": "text/css"}.get(asset.suffix[1:], "text/plain")
        served[f"/static/{asset.name}"] = (kind, asset.read_text())
    return served


@pytest.fixture
def page(tmp_path: Path) -> Iterator[tuple[Any, list[str], list[str]]]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (.ci/run does)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    served = responses()
    asked: list[str] = []
    errors: list[str] = []

    def serve(route: Any) -> None:
        url = route.request.url
        asked.append(url)
        parts = urlsplit(url)
        found = served.get(parts.path) if f"{parts.scheme}://{parts.netloc}" == ORIGIN else None
        if found is None:
            route.fulfill(status=404, body="not stubbed")
            return
        route.fulfill(status=200, content_type=found[0], body=found[1])

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            context.route("**/*", serve)
            tab = context.new_page()
            tab.add_init_script(TRACK_SOURCES)
            tab.on("pageerror", lambda e: errors.append(str(e)))
            tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            tab.goto(ORIGIN + "/")
            yield tab, asked, errors
            tab.screenshot(path=str(tmp_path / "live.png"))
        finally:
            browser.close()


def test_stream_messages_are_applied_in_order(page: tuple[Any, list[str], list[str]]) -> None:
    tab, asked, errors = page
    tab.wait_for_function("document.body.dataset.seq === '3'")
    assert tab.evaluate("window.spilotApplied.map(a => a.seq)") == [None, 1, 2, 3]
    costs = tab.evaluate("window.spilotApplied.map(a => a.cost_ms)")
    assert all(isinstance(c, int | float) and 0 <= c < 1000 for c in costs)
    # The running release is chosen, not the newest finished one.
    assert tab.locator("#release-picker").input_value() == "r2"
    assert tab.locator(f'tr[data-key="{FLOW}"]').get_attribute("data-status") == "running"
    assert tab.locator(f'tr[data-key="{GATED}"]').get_attribute("data-status") == "failed"
    bar = tab.locator(f'progress[data-key="{FLOW}"]')
    assert (bar.get_attribute("value"), bar.get_attribute("max")) == ("7", "10")
    flow = tab.locator(f'tr[data-key="{FLOW}"]')
    assert "7/10 placement" in flow.locator("td.progress").inner_text()
    assert flow.locator("td.where").inner_text() == "gw0 · srun · n7 · job 4711"
    # Elapsed time of a running row ticks in the page: 70 s at the message, more a bit later.
    elapsed = f"document.querySelector('tr[data-key=\"{FLOW}\"] td.elapsed').textContent"
    tab.wait_for_function(f"/^1m (1[1-9]|[2-5][0-9])s$/.test({elapsed})")
    counts = tab.locator("#counts .count")
    assert {counts.nth(i).get_attribute("data-status") for i in range(counts.count())} == {
        "running",
        "failed",
    }
    assert errors == []
    assert all(u.startswith(ORIGIN) for u in asked)


def test_a_picked_row_follows_its_log_live(page: tuple[Any, list[str], list[str]]) -> None:
    tab, asked, errors = page
    tab.wait_for_function("document.body.dataset.seq === '3'")
    tab.locator(f'tr[data-key="{FLOW}"]').click()
    tab.wait_for_function("document.body.dataset.logLines === '3'")
    log = tab.locator("#detail-log").inner_text()
    assert log.splitlines() == [
        "[step 1] synthesis",
        "[step 2] floorplan",
        "[step 3] placement <started>",
    ]
    assert tab.locator("#log-title").inner_text().lower() == "log (live)"
    encoded = quote(FLOW, safe="")
    assert f"{ORIGIN}/api/releases/r2/log/{encoded}/stream" in asked

    tab.locator(f'tr[data-key="{GATED}"]').click()
    detail = tab.locator("#detail")
    assert detail.get_attribute("data-key") == GATED
    assert tab.locator("#detail .message").inner_text() == "area <b>too</b> large"
    assert tab.locator("#detail .message b").count() == 0
    assert tab.locator('#detail table.thresholds tr[data-outcome="failed"]').count() == 1
    assert "--spilot-version r2" in tab.locator("#detail .rerun code").inner_text()
    tab.wait_for_function("document.body.dataset.logLines === '4'")
    assert tab.locator("#detail-log").inner_text().splitlines() == ["area = 120"]
    # The first row's log stream was closed when the second row was picked; the release's not.
    assert tab.evaluate(SOURCES) == [
        [f"{ORIGIN}/api/releases/r2/stream", False],
        [f"{ORIGIN}/api/releases/r2/log/{FLOW}/stream", True],
        [f"{ORIGIN}/api/releases/r2/log/{GATED}/stream", False],
    ]
    tab.keyboard.press("Escape")
    assert tab.evaluate(SOURCES)[2][1] is True and not tab.locator("#detail").is_visible()
    assert errors == []
    assert [unquote(u) for u in asked if "/log/" in u] == [
        f"{ORIGIN}/api/releases/r2/log/{FLOW}/stream",
        f"{ORIGIN}/api/releases/r2/log/{GATED}/stream",
    ]


def test_history_and_compare_tabs_fetch_on_opening(page: tuple[Any, list[str], list[str]]) -> None:
    tab, asked, errors = page
    tab.wait_for_function("document.body.dataset.seq === '3'")
    assert not [u for u in asked if "/api/history" in u or "/api/compare" in u]
    tab.locator('button[data-tab="history"]').click()
    chart = tab.locator(f'#charts .chart[data-key="{GATED}"]')
    chart.locator("canvas").wait_for()
    assert chart.get_attribute("data-regressed") == "1"
    assert tab.locator("#charts .chart canvas").count() == 2
    tab.locator('button[data-tab="compare"]').click()
    tab.locator("#compare tbody tr").first.wait_for()
    assert f"{ORIGIN}/api/compare?old=r1&new=r2" in asked
    verdicts = tab.locator("#compare tbody tr")
    assert [verdicts.nth(i).get_attribute("data-verdict") for i in range(verdicts.count())] == [
        "regressed"
    ]
    tab.locator("#compare-all").check()
    assert tab.locator("#compare tbody tr").count() == 2
    assert errors == []
