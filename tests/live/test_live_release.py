"""A real release under ``-n 2 --spilot-live`` watched in Debian's Chromium while it runs:
statuses change, a LibreLane progress bar advances, a running job's log line appears; then the
run ends, its server with it, and no process of it is left."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from flow_kit import DESIGNS, PDK

CHROMIUM = Path("/usr/bin/chromium")
VERSION = "lv1"
FILE = "validations/live.yaml"
FLOW = f"{FILE}::flow"
COMMANDS = {"greet": "passed", "broken": "failed", "late": "passed"}
SECOND = {"greet": "greet: still here", "broken": "broken: giving up", "late": "late: still here"}
PLAN = f"""
version: 1
defaults:
  timeout_s: 120
validations:
  - name: flow
    kind: librelane
    design: {DESIGNS / "counter"}
    pdk: {PDK}
    preset: minimal
    pseudo: {{step_s: 1.0}}
  - name: greet
    run: 'echo "greet: hello from the job"; sleep 1; echo "greet: still here"; sleep 2'
  - name: broken
    run: 'echo "broken: hello from the job"; sleep 1; echo "broken: giving up"; sleep 2; exit 3'
  - name: late
    run: 'echo "late: hello from the job"; sleep 1; echo "late: still here"; sleep 2'
"""
URL_LINE = re.compile(r"spilot live view: (http://127\.0\.0\.1:(\d+)/)#(\S+)")
# Every row the page (re)draws and every progress bar value, as they land: rows are replaced
# whole on each change, so each addition of a <tr> is one state the page showed.
WATCH = """
window.spilotSeenRows = [];
new MutationObserver((mutations) => {
  for (const m of mutations) for (const node of m.addedNodes) {
    if (!(node instanceof Element) || !node.matches("tr[data-key]")) continue;
    const bar = node.querySelector("progress[data-key]");
    window.spilotSeenRows.push([node.dataset.key, node.dataset.status,
                                bar ? Number(bar.getAttribute("value")) : null]);
  }
}).observe(document, {subtree: true, childList: true});
"""
# The log line of the clicked row once it shows, with the detail panel's status at that moment.
LOG_SHOWN = """
(line) => {
  if (!document.querySelector("#detail-log").textContent.includes(line)) return null;
  return document.querySelector("#detail").dataset.status;
}
"""

# Each row's status as the page shows it now; whether it shows every one wanted.
ROWS = """Object.fromEntries([...document.querySelectorAll("tr[data-key]")]
  .map((tr) => [tr.dataset.key, tr.dataset.status]))"""
ALL_SHOWN = f"""(want) => {{
  const rows = {ROWS};
  return Object.keys(want).every((k) => rows[k] === want[k]);
}}"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(what: str, check: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def released(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "api/releases", timeout=2) as response:
            return any(r["version"] == VERSION for r in json.load(response))
    except OSError:
        return False


def left_over(sid: int, mark: str) -> dict[int, str]:
    """Live processes of session ``sid`` or with ``mark`` in their environment (jobs that
    went into sessions of their own keep it): pid -> command line."""
    found = {}
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            ours = int(fields[3]) == sid or mark.encode() in (proc / "environ").read_bytes()
            if ours and fields[0] != "Z":
                found[int(proc.name)] = (proc / "cmdline").read_bytes().decode(errors="replace")
        except (OSError, ValueError):
            continue
    return found


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def test_a_release_under_xdist_in_the_browser(pytester: pytest.Pytester, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (.ci/run does)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    pytester.makefile(".yaml", **{"validations/live": PLAN})
    port = free_port()
    out = tmp_path / "pytest-out.txt"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS")}
    mark = env["SPILOT_LIVE_TEST_RUN"] = f"{os.getpid()}-{port}"
    command = [
        *(sys.executable, "-m", "pytest", "-n", "2", "-p", "no:randomly", "-p", "no:benchmark"),
        *("-p", "no:cacheprovider", "--spilot-version", VERSION, "--spilot-backend", "pseudo"),
        *("--spilot-live", f"127.0.0.1:{port}"),
    ]
    with sync_api.sync_playwright() as p, out.open("w") as sink:
        # The browser starts first: the page should be open before most jobs start.
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        proc = subprocess.Popen(
            command,
            cwd=pytester.path,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own session: what is left of it can be found
        )
        try:
            found = wait_for("the live view's URL", lambda: URL_LINE.search(out.read_text()), 60)
            url, version = found.group(1), found.group(3)
            assert (int(found.group(2)), version) == (port, VERSION)
            # The page chooses among the releases it finds when it opens: wait for this one.
            wait_for("the release to appear", lambda: released(url), 60)
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.add_init_script(WATCH)
            page.goto(f"{url}#{version}")
            page.locator(f'tr[data-key="{FLOW}"]').wait_for(timeout=30_000)

            # A command row while it runs: click it, its log follows.
            running = page.wait_for_function(
                """(keys) => {
                  const tr = keys.map((k) => document.querySelector(
                    `tr[data-key="${k}"][data-status="running"]`)).find(Boolean);
                  return tr ? tr.dataset.key : null;
                }""",
                arg=[f"{FILE}::{name}" for name in COMMANDS],
                timeout=60_000,
            ).json_value()
            page.locator(f'tr[data-key="{running}"]').click()
            name = running.rsplit("::", 1)[1]
            # Its first line may come with the log's tail; the second is printed a second
            # later, when the stream is open: it is pushed while the job runs.
            for line in (f"{name}: hello from the job", SECOND[name]):
                status = page.wait_for_function(LOG_SHOWN, arg=line, timeout=10_000).json_value()
                assert status == "running", f"{line!r} showed only once {name} was {status}"
            assert page.locator("#log-title").inner_text().lower() == "log (live)"
            page.screenshot(path=str(tmp_path / "live-running.png"))

            # Every validation reaches its verdict on the open page.
            verdicts = {f"{FILE}::{n}": v for n, v in {**COMMANDS, "flow": "passed"}.items()}
            try:
                page.wait_for_function(ALL_SHOWN, arg=verdicts, timeout=90_000)
            except sync_api.TimeoutError:
                shown = page.evaluate(ROWS)
                pytest.fail(
                    f"the page shows {shown}, not {verdicts}; pytest exited {proc.poll()} with\n"
                    + "\n".join(out.read_text().splitlines()[-30:])
                )
            page.screenshot(path=str(tmp_path / "live-done.png"))
            seen = page.evaluate("window.spilotSeenRows")
            assert errors == []
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
                for pid in left_over(proc.pid, mark):
                    os.kill(pid, signal.SIGKILL)
            browser.close()
    output = out.read_text()
    assert proc.returncode == 1, output  # 'broken' fails
    assert (tmp_path / "live-running.png").stat().st_size > 10_000

    statuses: dict[str, list[str]] = {}  # per row, the statuses it showed, in order
    for key, status, _ in seen:
        shown = statuses.setdefault(key, [])
        if not shown or shown[-1] != status:
            shown.append(status)
    for command_name, verdict in COMMANDS.items():
        shown = statuses[f"{FILE}::{command_name}"]
        assert shown[-2:] == ["running", verdict], (command_name, shown)
    # The page was open before some job started: it saw that one go from queued to running.
    assert any(
        s[:2] in (["queued", "running"], ["waiting", "running"]) for s in statuses.values()
    ), statuses
    bar = [value for key, _, value in seen if key == FLOW and value is not None]
    assert bar == sorted(bar) and len(set(bar)) >= 2, f"the progress bar did not advance: {bar}"

    # The run is over: its server stopped with it, and nothing it started lives on.
    assert not listening(port)
    deadline = time.monotonic() + 10
    while left_over(proc.pid, mark) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert left_over(proc.pid, mark) == {}
