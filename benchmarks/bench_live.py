"""Live view latency: a journal event written to the open page showing it (headless Chromium).

A release of N validations (300 and 3,000, ``--sizes``) is planned in a journal; LiveServer
serves its folder on 127.0.0.1 and Debian's Chromium opens the page. Then 200 events (each
validation's ``run_started``, then its ``run_finished``) are written through the core's
JournalWriter, ~50 ms apart, while the page streams. Latency: the wall clock at the write to
the page's own ``Date.now()`` once it applied the message that holds that row in that status
(``window.spilotApplied``); the page's update cost is its ``cost_ms`` for that message.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from _common import Options, Result, error_result, main

from pytest_spilot.core.journal import JournalWriter, RunFinished, RunStarted, ValidationsPlanned
from pytest_spilot.core.state import RunRecord, ValidationInfo, now
from pytest_spilot.core.store import ReleaseStore
from pytest_spilot.live.server import FOLLOW_S, LiveServer

CHROMIUM = "/usr/bin/chromium"
EVENTS = 200
SPACING_S = 0.05
SIZES = (300, 3000)
VERSION = "bench"
P50_S, P99_S = 0.100, 0.500

# Every stream message the page receives, with the statuses of the rows it carries. This
# listener is added in the constructor, before the page sets ``onmessage``, so it runs first
# and the page's ``spilotApplied`` entry for the same ``seq`` follows it.
SEEN = """
window.spilotSeen = [];
const Native = window.EventSource;
window.EventSource = class extends Native {
  constructor(url) {
    super(url);
    this.addEventListener("message", (ev) => {
      const msg = JSON.parse(ev.data);
      if (msg.type === "rows") {
        window.spilotSeen.push({seq: msg.seq, rows: msg.rows.map(r => [r.key, r.status])});
      }
    });
  }
};
"""


class Latency(Result):
    """A latency row: the absolute target decides; the page's own cost is printed beside it."""

    def line(self) -> str:
        if self.error:
            return super().line()
        return (
            f"{self.name}: {self.measured_label} {self.measured_s * 1000:.1f} ms "
            f"(target <= {(self.limit_s or 0) * 1000:g} ms) {self.verdict}; "
            f"{self.baseline_label} {self.baseline_s * 1000:.2f} ms"
        )


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def info(i: int) -> ValidationInfo:
    name = f"v{i:05d}"
    return ValidationInfo(
        key=f"validations/bench.yaml::{name}",
        id=name,
        name=name,
        file="validations/bench.yaml",
        kind="command",
    )


def finished(started: Any, folder: Path, i: int) -> RunRecord:
    return RunRecord(
        outcome="passed" if i % 7 else "failed",
        exit_code=0 if i % 7 else 1,
        started=started,
        finished=started + timedelta(seconds=0.05),
        duration_s=0.05,
        run_dir=str(folder / "runs" / f"v{i:05d}"),
        log=str(folder / "runs" / f"v{i:05d}" / "job.log"),
        metrics={"value": float(i)},
    )


def measure(size: int, root: Path, browser: Any) -> tuple[list[float], list[float], float]:
    """Latencies and page costs (seconds) of EVENTS events; the first view's cost."""
    folder = root / f"n{size}" / ".spilot"
    folder.mkdir(parents=True)
    infos = [info(i) for i in range(size)]
    writer: JournalWriter = ReleaseStore(folder / f"{VERSION}.json", VERSION).writer(
        "gw0", folder.parent
    )
    server = LiveServer(folder, "127.0.0.1", 0)
    try:
        writer.write(ValidationsPlanned(session="bench", validations=infos))
        server.start()
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        try:
            page.add_init_script(SEEN)
            page.goto(f"{server.base_url}#{VERSION}")
            page.wait_for_function(
                f"document.querySelectorAll('tr[data-key]').length === {size}", timeout=60_000
            )
            first = page.evaluate("window.spilotApplied.find(a => a.type === 'release').cost_ms")
            written: list[tuple[str, str, float]] = []  # key, status, epoch ms at the write
            started = {}
            for n in range(EVENTS):
                i = n // 2
                key = infos[i].key
                at = time.time() * 1000
                if n % 2 == 0:
                    started[i] = now()
                    event: RunStarted | RunFinished = RunStarted(
                        validation=infos[i],
                        started=started[i],
                        worker="gw0",
                        host="bench",
                        location="local",
                    )
                    status = "running"
                else:
                    run = finished(started[i], folder, i)
                    event = RunFinished(key=key, run=run, verdict=run.outcome)
                    status = run.outcome
                writer.write(event)
                written.append((key, status, at))
                time.sleep(max(0.0, SPACING_S - (time.time() * 1000 - at) / 1000))
            last_key, last_status, _ = written[-1]
            page.wait_for_function(
                # Both listeners run in one dispatch: a message seen here is applied too.
                "([k, s]) => window.spilotSeen.some("
                "m => m.rows.some(r => r[0] === k && r[1] === s))",
                arg=[last_key, last_status],
                timeout=30_000,
            )
            seen = page.evaluate("window.spilotSeen")
            applied = {a["seq"]: a for a in page.evaluate("window.spilotApplied") if a["seq"]}
        finally:
            page.close()
    finally:
        writer.close()
        server.stop()
    shown: dict[tuple[str, str], dict[str, float]] = {}
    for message in seen:
        done = applied[message["seq"]]
        for key, status in message["rows"]:
            shown.setdefault((key, status), done)
    latencies, costs = [], []
    for key, status, at in written:
        done = shown[(key, status)]
        latencies.append((done["at"] - at) / 1000)
        costs.append(done["cost_ms"] / 1000)
    return latencies, costs, first / 1000


def bench(options: Options) -> list[Result]:
    sizes = options.sizes or SIZES
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        return [error_result(f"live latency (N = {n:,})", 1.0, exc) for n in sizes]
    rows = []
    with tempfile.TemporaryDirectory(prefix="spilot-bench-live-") as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            for size in sizes:
                try:
                    latencies, costs, first = measure(size, Path(tmp), browser)
                except Exception as exc:  # one size failing must not hide the others
                    rows.append(error_result(f"live latency (N = {size:,})", 1.0, exc))
                    continue
                note = (
                    f"{EVENTS} events {SPACING_S * 1000:g} ms apart; server reads the journal "
                    f"every {FOLLOW_S * 1000:g} ms; page cost of the first view of {size:,} "
                    f"rows {first * 1000:.0f} ms; latency max {max(latencies) * 1000:.1f} ms, "
                    f"page cost max {max(costs) * 1000:.1f} ms"
                )
                for label, q, limit in (("p50", 0.5, P50_S), ("p99", 0.99, P99_S)):
                    rows.append(
                        Latency(
                            name=f"live latency {label} (N = {size:,})",
                            measured_label="journal line -> page applied",
                            measured_s=percentile(latencies, q),
                            baseline_label="the page's own update cost",
                            baseline_s=percentile(costs, q),
                            target=1.0,
                            limit_s=limit,
                            runs={
                                "latency_ms": [round(x * 1000, 2) for x in latencies],
                                "cost_ms": [round(x * 1000, 2) for x in costs],
                            },
                            notes=[note] if label == "p99" else [],
                        )
                    )
                print(
                    f"# N = {size:,}: median latency {statistics.median(latencies) * 1000:.1f} ms",
                    file=sys.stderr,
                )
        finally:
            browser.close()
    return rows


if __name__ == "__main__":
    sys.exit(main(__doc__.splitlines()[0], bench))
