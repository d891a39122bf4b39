"""Live view latency: a journal event written to the open page showing it (headless Chromium).

A release of N validations (300 and 3,000, ``--sizes``) is planned in a journal; LiveServer
serves its folder on 127.0.0.1 and Debian's Chromium opens the page. Then 200 events (each
validation's ``run_started``, then its ``run_finished``) are written through the core's
JournalWriter, ~50 ms apart, while the page streams. Latency: the wall clock at the write to
the page's own ``Date.now()`` once it applied the message that holds that row in that status
(``window.spilotApplied``); the page's update cost is its ``cost_ms`` for that message (its
script only: style, layout and paint come after it, so a note gives the time to the message's
arrival and to the next painted frame too).
"""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import dataclass, field
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
        const seen = {seq: msg.seq, rows: msg.rows.map(r => [r.key, r.status]),
                      received: Date.now(), painted: null};
        window.spilotSeen.push(seen);
        // The frame after the one that draws the change has begun: that change is painted.
        requestAnimationFrame(() => requestAnimationFrame(() => { seen.painted = Date.now(); }));
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


@dataclass
class Sample:
    """Per event, milliseconds from its write to the page receiving, applying and painting it,
    and the page's cost of applying it; the cost of the first view."""

    first_ms: float
    received: list[float] = field(default_factory=list)
    applied: list[float] = field(default_factory=list)
    painted: list[float] = field(default_factory=list)
    cost: list[float] = field(default_factory=list)
    merged: int = 0  # events the server read together with the next one


def measure(size: int, root: Path, browser: Any) -> Sample:
    """EVENTS events written to a release of ``size`` validations open in ``browser``."""
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
                "m => m.painted !== null && m.rows.some(r => r[0] === k && r[1] === s))",
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
    shown: dict[tuple[str, str], tuple[dict[str, Any], dict[str, Any]]] = {}
    for message in seen:
        for key, status in message["rows"]:
            shown.setdefault((key, status), (message, applied[message["seq"]]))
    sample = Sample(first_ms=first)
    for n, (key, status, at) in enumerate(written):
        found = shown.get((key, status))
        if found is None and n + 1 < len(written) and written[n + 1][0] == key:
            # Started and finished within one read of the journal: the page showed the
            # second state at once, and that is when it showed the first event too.
            sample.merged += 1
            found = shown[written[n + 1][:2]]
        if found is None:
            raise RuntimeError(f"the page never showed {key} {status}")
        message, done = found
        sample.received.append(message["received"] - at)
        sample.applied.append(done["at"] - at)
        sample.painted.append(message["painted"] - at)
        sample.cost.append(done["cost_ms"])
    return sample


def latency_rows(size: int, sample: Sample) -> list[Result]:
    def at(samples: list[float], q: float) -> str:
        return f"{percentile(samples, q):.1f}"

    notes = [
        f"{EVENTS} events {SPACING_S * 1000:g} ms apart; the server reads the journal every "
        f"{FOLLOW_S * 1000:g} ms; the page's first view of {size:,} rows cost "
        f"{sample.first_ms:.0f} ms; {sample.merged} of {EVENTS} events were read with the "
        "next one and shown in its message",
        f"p50/p99/max ms: received {at(sample.received, 0.5)}/{at(sample.received, 0.99)}/"
        f"{max(sample.received):.1f}, applied {at(sample.applied, 0.5)}/"
        f"{at(sample.applied, 0.99)}/{max(sample.applied):.1f}, painted (the next frame) "
        f"{at(sample.painted, 0.5)}/{at(sample.painted, 0.99)}/{max(sample.painted):.1f}, "
        f"page cost {at(sample.cost, 0.5)}/{at(sample.cost, 0.99)}/{max(sample.cost):.1f}",
    ]
    rows: list[Result] = []
    for label, q, limit in (("p50", 0.5, P50_S), ("p99", 0.99, P99_S)):
        rows.append(
            Latency(
                name=f"live latency {label} (N = {size:,})",
                measured_label="journal line -> page applied",
                measured_s=percentile(sample.applied, q) / 1000,
                baseline_label="the page's own update cost",
                baseline_s=percentile(sample.cost, q) / 1000,
                target=1.0,
                limit_s=limit,
                runs={
                    "received_ms": sample.received,
                    "applied_ms": sample.applied,
                    "painted_ms": sample.painted,
                    "cost_ms": sample.cost,
                },
                notes=notes if label == "p99" else [],
            )
        )
    return rows


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
                    sample = measure(size, Path(tmp), browser)
                except Exception as exc:  # one size failing must not hide the others
                    rows.append(error_result(f"live latency (N = {size:,})", 1.0, exc))
                    continue
                rows += latency_rows(size, sample)
        finally:
            browser.close()
    return rows


if __name__ == "__main__":
    sys.exit(main(__doc__.splitlines()[0], bench))
