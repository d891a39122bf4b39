"""What runs where, on the controller's terminal under ``-n 2``: progress lines in a log without
a terminal, a live block per worker in a real pseudo-terminal that leaves pytest's output whole."""

from __future__ import annotations

import fcntl
import json
import os
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
from flow_kit import DESIGNS, PDK

PLAN = f"""
version: 1
validations:
  - name: flow
    kind: librelane
    design: {DESIGNS / "counter"}
    pdk: {PDK}
    pseudo: {{step_s: 0.5}}
  - name: slow
    matrix: {{i: [1, 2]}}
    run: 'sleep 2; echo v={{i}}'
  - name: broken
    run: 'sleep 1; exit 3'
"""
VALIDATIONS = 4
ARGS = (
    "-n",
    "2",
    "--spilot-version",
    "r1",
    "--spilot-backend",
    "pseudo",
    "-p",
    "no:randomly",
    "-p",
    "no:benchmark",  # its workers warn on stderr, past any terminal view
)
RESULT = re.compile(rb"\x1b\[3\dm[.F]\x1b\[0m")  # one of pytest's result letters, coloured
LINE = re.compile(r"^spilot: \[(\d+)/(\d+)\] (\d+) passed (\d+) failed; running: (.*)$")


@pytest.fixture
def plan(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makefile(".yaml", **{"validations/plan": PLAN})
    return pytester


def progress_lines(output: list[str]) -> list[re.Match[str]]:
    return [m for m in map(LINE.match, output) if m]


def test_a_line_at_each_validations_end_without_a_terminal(
    plan: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SPILOT_PROGRESS_S", raising=False)
    result = plan.runpytest_subprocess(*ARGS)
    result.assert_outcomes(passed=3, failed=1)
    lines = progress_lines(result.outlines)
    # The default interval (60 s) is longer than the run: only the validations' ends print.
    assert [int(m[1]) for m in lines] == [1, 2, 3, 4], result.stdout.str()
    assert {m[2] for m in lines} == {"4"}
    last = lines[-1]
    assert (last[3], last[4], last[5]) == ("3", "1", "none")
    assert result.outlines.index(lines[-1].string) < result.outlines.index(
        next(line for line in result.outlines if "[100%]" in line)
    )


def test_a_line_every_interval_while_validations_run(
    plan: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPILOT_PROGRESS_S", "1")
    result = plan.runpytest_subprocess(*ARGS)
    result.assert_outcomes(passed=3, failed=1)
    lines = progress_lines(result.outlines)
    running = [m[5] for m in lines if m[5] != "none"]
    text = result.stdout.str()
    # Each 2 s validation is seen running by a line of the interval, with its worker.
    assert any(re.search(r"gw\d slow\[1\] [12]s", r) for r in running), text
    assert any(re.search(r"gw\d slow\[2\] [12]s", r) for r in running), text
    # The LibreLane run's step, from the journal its worker writes.
    assert any(re.search(r"gw\d flow \d/6 \w+\.\w+ \ds", r) for r in running), text
    assert len(lines) >= VALIDATIONS + 3, text


def test_without_xdist_lines_reach_the_terminal_not_a_tests_capture(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = "version: 1\nvalidations: [{name: broken, run: 'sleep 2.5; exit 3'}]"
    pytester.makefile(".yaml", **{"validations/plan": plan})
    monkeypatch.setenv("SPILOT_PROGRESS_S", "1")
    result = pytester.runpytest_subprocess("--spilot-version", "r1", "-p", "no:randomly")
    result.assert_outcomes(failed=1)
    lines = progress_lines(result.outlines)
    text = result.stdout.str()
    # The test runs in this process, its output captured: the lines still reach the terminal.
    assert any(m[5] in ("main broken 1s", "main broken 2s") for m in lines), text
    assert lines[-1].groups() == ("1", "1", "0", "1", "none"), text
    captured = text.split("Captured stdout call", 1)[1]
    assert "spilot:" not in captured, text


def test_a_bad_interval_is_a_usage_error(
    plan: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPILOT_PROGRESS_S", "soon")
    result = plan.runpytest_subprocess(*ARGS)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*SPILOT_PROGRESS_S='soon': not a number of seconds above 0*"])


class Screen:
    """Just enough of a VT100 to replay pytest's output: text, CR, LF, cursor up/forward,
    erase below and to the end of line; colours ignored; a screen of ``rows`` lines that
    scrolls into an endless history."""

    CSI = re.compile(rb"\x1b\[([0-9;?]*)([@-~])")

    def __init__(self, columns: int, rows: int) -> None:
        self.columns, self.rows = columns, rows
        self.lines: list[list[str]] = [[]]
        self.row = self.col = 0

    def feed(self, data: bytes) -> None:
        at = 0
        while at < len(data):
            match = self.CSI.match(data, at)
            if match:
                self._control(match[1].decode(), match[2].decode())
                at = match.end()
                continue
            end = at + 1
            while end < len(data) and data[end] >= 0x80 and data[end] < 0xC0:
                end += 1  # the rest of a UTF-8 character
            self._char(data[at:end].decode("utf-8", "replace"))
            at = end

    def _char(self, c: str) -> None:
        if c == "\r":
            self.col = 0
        elif c == "\n":
            self.row += 1
            if self.row == len(self.lines):
                self.lines.append([])
        elif c >= " ":
            if self.col >= self.columns:
                self._char("\r")
                self._char("\n")
            line = self.lines[self.row]
            line += [" "] * (self.col + 1 - len(line))
            line[self.col] = c
            self.col += 1

    def _control(self, args: str, op: str) -> None:
        n = int(args) if args.isdigit() else 0
        if op == "A":
            self.row = max(self.row - max(n, 1), len(self.lines) - self.rows, 0)
        elif op == "C":
            self.col = min(self.col + max(n, 1), self.columns - 1)
        elif op == "J":
            del self.lines[self.row][self.col :]
            for below in range(self.row + 1, len(self.lines)):
                self.lines[below] = []
        elif op == "K":
            del self.lines[self.row][self.col :]

    def text(self) -> list[str]:
        return ["".join(line).rstrip() for line in self.lines]


def run_in_a_terminal(
    cwd: Path, args: tuple[str, ...], columns: int = 110, rows: int = 30
) -> tuple[bytes, int]:
    """Run pytest with a pseudo-terminal as its stdout and stderr: all it wrote, and its exit."""
    main, child = os.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("COLUMNS", "LINES", "NO_COLOR", "PY_COLORS", "FORCE_COLOR", "PYTEST_ADDOPTS")
    }
    env["TERM"] = "xterm"
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=child,
        stderr=child,
        env=env,
        start_new_session=True,
    )
    os.close(child)
    out = bytearray()
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([main], [], [], 1.0)
            if not ready:
                continue
            try:
                chunk = os.read(main, 65536)
            except OSError:  # EIO: every writer closed the terminal
                break
            if not chunk:
                break
            out += chunk
        return bytes(out), proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        os.close(main)


def test_a_live_line_per_worker_in_a_terminal(plan: pytest.Pytester) -> None:
    raw, code = run_in_a_terminal(plan.path, ARGS)
    assert code == pytest.ExitCode.TESTS_FAILED, raw.decode(errors="replace")
    text = raw.decode(errors="replace")
    # The block, while validations run: each worker, what it runs, for how long, the step.
    assert re.search(r"\[gw[01]\]  slow\[1\]  local  [01]s", text), text
    assert re.search(r"\[gw[01]\]  flow  local  \ds  step \d/6 \w+\.\w+ \[\w+\]", text), text
    workers = text.index("2 workers [4 items]")
    first_dot = min(text.index(c, workers) for c in ".F" if c in text[workers:])
    assert text.find("[gw", workers) < first_dot, "nothing shown before the first result"
    # Replayed on a terminal: whenever pytest writes a result, the block is out of its way...
    results = list(RESULT.finditer(raw, raw.index(b"2 workers [4 items]")))
    assert len(results) == 4, text
    for result in results:
        screen = Screen(110, 30)
        screen.feed(raw[: result.end()])
        lines = screen.text()
        below = lines[lines.index("2 workers [4 items]") + 2 :]
        assert not any(below), "\n".join(lines)
    # ... and at the end it is gone and pytest's own output is whole.
    screen = Screen(110, 30)
    screen.feed(raw)
    lines = screen.text()
    shown = "\n".join(lines)
    assert not [line for line in lines if re.match(r"\[gw\d\]  ", line)], shown
    assert re.fullmatch(r"[.F]{4} +\[100%\]", lines[lines.index("2 workers [4 items]") + 1]), shown
    assert re.search(r"^=+ 1 failed, 3 passed in [\d.]+s =+$", shown, re.M), shown
    assert "FAILED validations/plan.yaml::broken::run - run failed: exit code 3" in lines, shown


def test_a_killed_earlier_runs_journal_is_not_this_run(
    plan: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its run never finished: it must not show as running for the whole of this run."""
    monkeypatch.delenv("SPILOT_PROGRESS_S", raising=False)
    journal = plan.path / ".spilot" / "r1.journal"
    journal.mkdir(parents=True)
    host = socket.gethostname()
    old = "2026-01-01T00:00:00Z"
    info = {"key": "validations/plan.yaml::ghost", "id": "ghost", "name": "ghost"}
    lines = [
        {"event": "process_started", "ts": old, "version": "r1", "host": host, "pid": 4,
         "worker": "gw7", "plugin_version": "0"},
        {"event": "run_started", "ts": old, "started": old, "worker": "gw7", "host": host,
         "location": "local", "validation": {**info, "file": "validations/plan.yaml",
                                             "kind": "command"}},
    ]  # fmt: skip
    (journal / f"4-dead@{host}.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    result = plan.runpytest_subprocess(*ARGS)
    result.assert_outcomes(passed=3, failed=1)
    running = [m[5] for m in progress_lines(result.outlines)]
    assert running and not any("ghost" in r for r in running), result.stdout.str()
