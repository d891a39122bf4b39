"""The pseudo LibreLane: writes a LibreLane-shaped run directory, with injectable failures.

Run as a child process (``python -m pytest_spilot.librelane.pseudo_flow SPEC.json``) exactly like
the real flow, so the same launcher, timeout, log follower, metric and artifact code serve
both. SPEC: ``run_dir``, ``config`` (the design config), ``steps`` (step ids), ``profile``
(metric → value the design reports), and optionally ``fail_at`` (a step id: the flow fails
there, exit 2), ``hang_at`` (a step id: the flow hangs there), ``step_s`` (time per step).
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path
from typing import Any

from pytest_spilot.librelane.flow_child import announce_steps, child_main, write_result

ELLIPSIS = "\u2026"
# What a small design reports after synthesis; a design profile overrides any of it.
DEFAULT_PROFILE: dict[str, float] = {
    "design__lint_error__count": 0,
    "design__lint_warning__count": 0,
    "design__lint_timing_construct__count": 0,
    "design__inferred_latch__count": 0,
    "design__instance__count": 48,
    "design__instance__area": 612.5,
    "design__instance_unmapped__count": 0,
    "synthesis__check_error__count": 0,
}
# Which metrics a step brings into the state: the lint steps, then synthesis, then the rest.
STEP_METRICS = (
    (re.compile(r"^Verilator\."), "design__lint_"),
    (re.compile(r"^Verilator\."), "design__inferred_latch"),
    (re.compile(r"^Yosys\.Synthesis"), "design__instance"),
    (re.compile(r"^Checker\.YosysSynthChecks"), "synthesis__"),
)


def slug(step: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", step.lower()).strip("-")


def _metrics_after(
    step: str, profile: dict[str, float], so_far: dict[str, float]
) -> dict[str, float]:
    for pattern, prefix in STEP_METRICS:
        if pattern.search(step):
            so_far.update({k: v for k, v in profile.items() if k.startswith(prefix)})
    return so_far


def run(spec: dict[str, Any]) -> int:
    run_dir = Path(spec["run_dir"])
    steps: list[str] = spec["steps"]
    profile = {**DEFAULT_PROFILE, **spec.get("profile", {})}
    config = spec.get("config", {})
    step_s = float(spec.get("step_s", 0.01))
    run_dir.mkdir(parents=True, exist_ok=True)
    announce_steps(run_dir.parent, steps)
    (run_dir / "resolved.json").write_text(json.dumps(config, indent=2))
    width = len(str(len(steps)))
    metrics: dict[str, float] = {}
    with (run_dir / "flow.log").open("a", encoding="utf-8", buffering=1) as log:
        for i, step in enumerate(steps, 1):
            folder = run_dir / f"{i:0{width}d}-{slug(step)}"
            (folder / "reports").mkdir(parents=True, exist_ok=True)
            log.write(f"Running '{step}' at '{folder}'{ELLIPSIS}\n")
            (folder / "config.json").write_text(json.dumps(config))
            (folder / "state_in.json").write_text(json.dumps({"metrics": dict(metrics)}))
            (folder / "COMMANDS").write_text(f"pseudo {step}\n")
            if step == spec.get("hang_at"):
                while True:
                    time.sleep(60)
            time.sleep(step_s)
            if step == spec.get("fail_at"):
                message = "injected failure (pseudo LibreLane)"
                log.write(f"{message}\n")
                log.write("The following error was encountered while running the flow:\n")
                log.write(f"{message}\n")
                (run_dir / "error.log").write_text(message + "\n")
                write_result(run_dir.parent, "failed", message, "FlowError")
                return 2
            metrics = _metrics_after(step, profile, metrics)
            (folder / f"{slug(step)}.log").write_text(f"{step} done\n")
            (folder / "reports" / f"{slug(step)}.rpt").write_text(
                "".join(f"{k}: {v}\n" for k, v in sorted(metrics.items()))
            )
            (folder / "runtime.txt").write_text(f"00:00:{step_s:06.3f}\n")
            (folder / "state_out.json").write_text(json.dumps({"metrics": dict(metrics)}))
        final = run_dir / "final"
        (final / "gds").mkdir(parents=True, exist_ok=True)
        (final / "gds" / f"{config.get('DESIGN_NAME', 'design')}.gds").write_bytes(b"")
        (final / "metrics.json").write_text(json.dumps(metrics, indent=2))
        log.write("Flow complete.\n")
    write_result(run_dir.parent, "passed")
    return 0


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1:], "pytest_spilot.librelane.pseudo_flow", run))
