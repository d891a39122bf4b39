"""The real LibreLane through its command line, as a site's engineers run it.

``python -m pytest_spilot.librelane.cli_flow SPEC.json``; SPEC: ``run_dir`` (LibreLane's run
folder; the spilot files go beside it), ``argv`` (the whole ``librelane`` command line, built by
:func:`cli_argv`), ``config`` (the config file it loads) and ``flow`` (the flow named with
``--flow``, if any). Announces the flow's step list when this Python can import ``librelane``
(the flow LibreLane's CLI would pick: ``--flow``, else the config's ``meta.flow``, else
Classic), runs the command with its output passed through, and writes ``spilot-result.json``
from its exit code (LibreLane's: 0 success, 1 configuration or internal error, 2 a step failed)
and the errors it printed.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pytest_spilot.launchers.base import NOT_FOUND_EXIT_CODE
from pytest_spilot.librelane.flow_child import announce_steps, child_main, write_result

# One line of LibreLane's console log: ``[12:18:13] ERROR    message    __main__.py:162``;
# a long message goes on in lines indented past the level column.
LOG_LINE = re.compile(r"^(?:\[[\d:.]+\])?\s*(DEBUG|VERBOSE|INFO|WARNING|ERROR|CRITICAL)\s+(.*)$")
SOURCE = re.compile(r"\s+[\w.]+\.py:\d+\s*$")
CONTINUATION = re.compile(r"^\s{8,}(\S.*)$")
FLOW_ERROR = "The following error was encountered while running the flow:"
CONFIG_ERROR = "Errors have occurred while loading the"
QUITTING = ("LibreLane will now quit",)


def cli_argv(
    command: Sequence[str],
    config: Path,
    *,
    run_dir: Path,
    design_dir: Path,
    pdk_root: Path | None,
    pdk: str | None,
    scl: str | None,
    flow: str | None,
    frm: str | None,
    to: str | None,
    skip: Iterable[str],
    overrides: Iterable[str],
) -> list[str]:
    """The ``librelane`` command line for one run (its own flags only)."""
    argv = [*command]
    if pdk_root is not None:
        argv += ["--manual-pdk", "--pdk-root", str(pdk_root)]
    argv += ["--pdk", pdk] if pdk else []
    argv += ["--scl", scl] if scl else []
    argv += ["--flow", flow] if flow else []
    argv += ["--design-dir", str(design_dir)]
    # LibreLane's own folder would be <design>/runs/<tag>; the harness keeps every run in its
    # run directory (the flag is LibreLane's, hidden among its debug flags).
    argv += ["--force-run-dir", str(run_dir)]
    argv += ["--from", frm] if frm else []
    argv += ["--to", to] if to else []
    for step in skip:
        argv += ["--skip", step]
    for override in overrides:
        argv += ["-c", override]
    return [*argv, str(config)]


def flow_steps(flow: str | None, config: str) -> list[str] | None:
    """The step ids of the flow LibreLane's CLI would run; None without ``librelane`` here."""
    try:
        from librelane.config.config import Config
        from librelane.flows.flow import Flow
        from librelane.flows.sequential import SequentialFlow
    except ImportError:
        return None
    flow_class: Any = None
    if flow:
        flow_class = Flow.factory.get(flow)
    else:
        try:
            meta_flow = Config.get_meta(config).flow
        except Exception:  # LibreLane reports a broken config itself
            meta_flow = None
        if isinstance(meta_flow, str):
            flow_class = Flow.factory.get(meta_flow)
        elif isinstance(meta_flow, list):
            flow_class = SequentialFlow.Make(meta_flow)
        else:
            flow_class = Flow.factory.get("Classic")
    if flow_class is None:
        return None  # LibreLane names the unknown flow itself
    return [s.id for s in flow_class.Steps]


def error_messages(lines: Iterable[str]) -> list[str]:
    """The messages LibreLane logged at ERROR or CRITICAL, continuation lines joined."""
    messages: list[str] = []
    current: list[str] | None = None
    for raw in lines:
        line = raw.rstrip("\n")
        if match := LOG_LINE.match(line):
            if current is not None:
                messages.append(" ".join(current))
            level, text = match.groups()
            current = [SOURCE.sub("", text).strip()] if level in ("ERROR", "CRITICAL") else None
        elif current is not None and (more := CONTINUATION.match(line)):
            current.append(SOURCE.sub("", more.group(1)).strip())
        elif current is not None:
            messages.append(" ".join(current))
            current = None
    if current is not None:
        messages.append(" ".join(current))
    return [m for m in messages if m and not m.startswith(QUITTING)]


def judge(exit_code: int, output: Sequence[str], config: str) -> tuple[str, str, str]:
    """Status, message and error class of a finished ``librelane`` run."""
    if exit_code == 0:
        return "passed", "", ""
    errors = error_messages(output)
    if any(e.startswith(CONFIG_ERROR) for e in errors):
        detail = "; ".join(e for e in errors if not e.startswith(CONFIG_ERROR))
        return "error", f"{config}: LibreLane rejects this configuration: {detail}", "InvalidConfig"
    # A failed step logs its error, then the flow repeats it as the reason it stopped.
    flow_errors = [e.removeprefix(FLOW_ERROR).strip() for e in errors if e.startswith(FLOW_ERROR)]
    errors = [e for e in flow_errors if e] or list(dict.fromkeys(errors))
    message = "; ".join(errors) or (
        " | ".join(line.strip() for line in output[-5:] if line.strip())
        or f"librelane exited with code {exit_code}"
    )
    if exit_code == 2:
        return "failed", message, "FlowError"
    return "error", message, ""


def run(spec: dict[str, Any]) -> int:
    run_dir = Path(spec["run_dir"])
    argv = [str(a) for a in spec["argv"]]
    run_dir.mkdir(parents=True, exist_ok=True)  # --force-run-dir wants it to exist
    print(f"[spilot] $ {shlex.join(argv)}", flush=True)
    steps = flow_steps(spec.get("flow"), spec["config"])
    if steps is not None:
        announce_steps(run_dir.parent, steps)
    output: list[str] = []
    try:
        process = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
    except OSError as exc:
        write_result(run_dir.parent, "error", f"cannot start {argv[0]}: {exc}", "OSError")
        return NOT_FOUND_EXIT_CODE
    assert process.stdout is not None
    for line in process.stdout:
        sys.stdout.write(line)
        sys.stdout.flush()
        output.append(line)
        del output[:-400]  # the errors come last
    exit_code = process.wait()
    status, message, error = judge(exit_code, output, spec["config"])
    write_result(run_dir.parent, status, message, error)
    return exit_code


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1:], "pytest_spilot.librelane.cli_flow", run))
