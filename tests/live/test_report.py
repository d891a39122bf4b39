"""``spilot report VERSION --html``: one self-contained file, opened in a real browser offline."""

from __future__ import annotations

import html.parser
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_spilot.live.report import render_report, write_report
from pytest_spilot.live.view import ReportData
from pytest_spilot.redact import Redactor

CHROMIUM = Path("/usr/bin/chromium")
PLAN = r"""
version: 1
defaults:
  regressions: {area: {direction: lower_is_better}}
validations:
  - name: area
    run: 'echo "AREA=$((100 + 6 * $STEP))"; echo "CELLS=$((50 + $STEP))"'
    metrics:
      area: {regex: 'AREA=([0-9]+)'}
      cells: {regex: 'CELLS=([0-9]+)'}
    acceptance:
      - {metric: area, op: "<=", value: 120}
  - name: broken
    run: |
      echo "placing <b>cells</b> & nets"
      echo "</script><script>window.pwned=1</script>"
      echo "ERROR: placement diverged"
      exit 3
"""
PYTEST = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"]
BROKEN = "validations/p.yaml::broken"
AREA = "validations/p.yaml::area"


def run_release(root: Path, version: str, step: int, *options: str) -> None:
    env = {**os.environ, "STEP": str(step)}
    subprocess.run(
        [*PYTEST, "--spilot-version", version, *options],
        cwd=root,
        env=env,
        capture_output=True,
        check=False,
        timeout=120,
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three releases of a real plan: r2's area regresses against r1, r3 recovers."""
    root = tmp_path_factory.mktemp("project")
    (root / "validations").mkdir()
    (root / "validations" / "p.yaml").write_text(PLAN)
    (root / "pytest.ini").write_text("[pytest]\n")
    run_release(root, "r1", 0)
    run_release(root, "r2", 1, "--spilot-baseline", "r1", "--spilot-regressions")
    run_release(root, "r3", 0, "--spilot-baseline", "r2", "--spilot-regressions")
    assert sorted(p.name for p in (root / ".spilot").glob("r*.json")) == [
        "r1.json",
        "r2.json",
        "r3.json",
    ]
    return root


@pytest.fixture(scope="module")
def report(project: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ReportData]:
    out = tmp_path_factory.mktemp("report") / "r3.html"
    data = write_report(project / ".spilot", "r3", out, Redactor(), compare_with="r2")
    return out, data


class _Tags(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def test_report_data_of_a_real_release(report: tuple[Path, ReportData]) -> None:
    _, data = report
    rows = {r.key: r for r in data.release.rows}
    assert set(rows) == {AREA, BROKEN}
    assert rows[AREA].status == "passed" and rows[AREA].metrics == {"area": 100.0, "cells": 50.0}
    assert [t.outcome for t in rows[AREA].thresholds] == ["passed"]
    broken = rows[BROKEN]
    assert broken.status == "failed"
    assert "exit" in broken.message.lower() or "3" in broken.message
    assert "ERROR: placement diverged" in broken.log_tail
    assert broken.rerun == "python3 -m pytest validations/p.yaml::broken --spilot-version r3"
    assert data.release.summary.counts == {"passed": 1, "failed": 1}
    assert not data.release.summary.running
    assert data.history.versions == ["r1", "r2", "r3"]
    area = next(s for s in data.history.series if (s.key, s.metric) == (AREA, "area"))
    assert [(p.value, p.regressed) for p in area.points] == [
        (100.0, False),
        (106.0, True),
        (100.0, False),
    ]
    assert (area.threshold_op, area.threshold, area.direction) == ("<=", 120.0, "lower_is_better")
    assert data.compare is not None and (data.compare.old, data.compare.new) == ("r2", "r3")
    assert {(r.metric, r.verdict) for r in data.compare.rows} >= {("area", "better")}


def test_report_file_is_self_contained(report: tuple[Path, ReportData]) -> None:
    out, data = report
    text = out.read_text()
    parser = _Tags()
    parser.feed(text)
    # Nothing to fetch: no src, no stylesheet link, no URL outside the page.
    assert [t for t, a in parser.tags if a.get("src") or a.get("href")] == []
    assert not re.search(r"https?://(?!github\.com/leeoniya)", text)
    scripts = [a for t, a in parser.tags if t == "script"]
    assert len(scripts) == 3  # the data, uPlot, the page's script
    # The log's '</script>' stays inside the JSON: the data parses back whole.
    found = re.search(r'<script type="application/json" id="spilot-report">(.*?)</script>', text)
    assert found is not None
    assert ReportData.model_validate_json(found.group(1)) == data
    assert "<script>window.pwned" not in text


def test_render_report_needs_only_the_shipped_assets() -> None:
    from pytest_spilot.live.view import HistoryView, ReleaseSummary, ReleaseView

    data = ReportData(
        release=ReleaseView(
            summary=ReleaseSummary(version="v<&>", running=False), rows=[], gates={}
        ),
        history=HistoryView(versions=[], series=[]),
        generated="2026-12-01T00:00:00Z",  # type: ignore[arg-type]
    )
    page = render_report(data)
    assert "v\\u003c\\u0026\\u003e" in page and "v<&>" not in page


def test_write_report_of_an_unknown_release_says_which(project: Path, tmp_path: Path) -> None:
    from pytest_spilot.errors import SpilotError

    with pytest.raises(SpilotError, match="r9: no such release state"):
        write_report(project / ".spilot", "r9", tmp_path / "x.html", Redactor())
    assert not (tmp_path / "x.html").exists()


@pytest.fixture
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (.ci/run does)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


# The report's script must neither stream nor fetch: both are recorded (and refused).
NO_NETWORK = """
window.spilotNetwork = [];
window.EventSource = function (url) {
  window.spilotNetwork.push(String(url));
  throw new Error("a report opened an EventSource");
};
const nativeFetch = window.fetch;
window.fetch = function (url) {
  window.spilotNetwork.push(String(url));
  return nativeFetch.apply(this, arguments);
};
"""
NON_BLANK_PIXELS = """canvas => {
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let inked = 0;
    for (let i = 0; i < data.length; i += 4) if (data[i + 3] > 0) inked++;
    return inked;
}"""


def test_report_renders_offline_in_chromium(
    report: tuple[Path, ReportData], browser: Any, tmp_path: Path
) -> None:
    out, data = report
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        attempted: list[str] = []
        errors: list[str] = []

        def refuse(route: Any) -> None:
            attempted.append(route.request.url)
            route.abort()

        context.route(lambda url: not url.startswith("file:"), refuse)
        page = context.new_page()
        page.add_init_script(NO_NETWORK)
        page.on("request", lambda r: None if r.url.startswith("file:") else attempted.append(r.url))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(out.as_uri())

        rows = page.locator("#rows tbody tr[data-key]")
        assert rows.count() == 2
        statuses = {
            rows.nth(i).get_attribute("data-key"): rows.nth(i).get_attribute("data-status")
            for i in range(2)
        }
        assert statuses == {AREA: "passed", BROKEN: "failed"}
        assert page.locator(f'tr[data-key="{AREA}"] td.metrics').inner_text() == (
            "area=100, cells=50"
        )
        assert page.locator("body").get_attribute("data-mode") == "static"

        page.locator(f'tr[data-key="{BROKEN}"]').click()
        detail = page.locator("#detail")
        assert detail.is_visible() and detail.get_attribute("data-key") == BROKEN
        log = page.locator("#detail-log").inner_text()
        assert "ERROR: placement diverged" in log
        # Data is text: the log's markup is shown, never run or parsed.
        assert "placing <b>cells</b> & nets" in log and "</script><script>" in log
        assert page.locator("#detail-log b").count() == 0
        assert page.evaluate("window.pwned") is None
        assert page.locator("#detail .rerun code").inner_text() == (
            "python3 -m pytest validations/p.yaml::broken --spilot-version r3"
        )
        assert page.locator("#detail .message").inner_text().strip()
        page.screenshot(path=str(tmp_path / "release.png"))

        page.locator('button[data-tab="history"]').click()
        charts = page.locator("#charts .chart")
        charts.first.locator("canvas").wait_for()
        assert charts.count() == len(data.history.series)
        area = page.locator(f'#charts .chart[data-key="{AREA}"][data-metric="area"]')
        assert area.get_attribute("data-regressed") == "1"
        canvas = area.locator("canvas")
        box = canvas.bounding_box()
        assert box is not None and box["width"] > 200 and box["height"] > 100
        assert canvas.evaluate(NON_BLANK_PIXELS) > 500
        legend = area.locator(".u-legend").inner_text()
        assert "threshold <=" in legend and "regressed" in legend
        page.screenshot(path=str(tmp_path / "history.png"), full_page=True)

        page.locator('button[data-tab="compare"]').click()
        compared = page.locator("#compare tbody tr")
        assert compared.count() >= 1
        assert page.locator('#compare tr[data-metric="area"]').get_attribute("data-verdict") == (
            "better"
        )
        page.screenshot(path=str(tmp_path / "compare.png"))

        assert errors == []
        assert attempted == []
        assert page.evaluate("window.spilotNetwork") == []
    finally:
        context.close()
    assert (tmp_path / "history.png").stat().st_size > 10_000


def test_report_is_redacted(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "r3.html"
    write_report(project / ".spilot", "r3", out, Redactor(["X_SECRET"], {"X_SECRET": "diverged"}))
    text = out.read_text()
    assert "diverged" not in text and "placement ***" in text


def test_the_report_needs_no_web_server() -> None:
    code = "import sys, pytest_spilot.live.report; print('aiohttp' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
