"""The real LibreLane, driven through its Python API in a child process.

``python -m pytest_spilot.librelane.real_flow SPEC.json``; SPEC: ``run_dir`` (LibreLane's
run folder; the spilot files go beside it), ``config`` (path of the config file LibreLane
loads as it is), ``overrides`` (``KEY=VALUE`` strings LibreLane applies on top, as its CLI's
``-c``), ``design_dir``, ``pdk_root``, ``pdk``, ``scl``, and either ``flow`` (a flow name, e.g.
``Classic``) or ``steps`` (step ids for a sequential flow), with optional ``frm``, ``to``,
``skip``. Announces the step list in ``spilot-steps.json`` first, writes
``spilot-result.json`` last. Exit codes as LibreLane's
CLI: 0 success, 1 configuration or internal error, 2 a step failed.
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path
from typing import Any

from pytest_spilot.librelane.flow_child import announce_steps, child_main, write_result


def run(spec: dict[str, Any]) -> int:
    run_dir = Path(spec["run_dir"])
    try:
        # The defining modules: the packages re-export these names without an __all__.
        from librelane.config.config import InvalidConfig
        from librelane.flows.flow import Flow, FlowError
        from librelane.flows.sequential import SequentialFlow
        from librelane.logging.logger import options as log_options
        from librelane.steps.step import Step
    except ImportError as exc:
        write_result(
            run_dir.parent, "error", f"librelane is not installed here: {exc}", "ImportError"
        )
        return 1
    log_options.set_show_progress_bar(False)
    try:
        if spec.get("steps"):
            step_classes = [Step.factory.get(s) for s in spec["steps"]]
            missing = [s for s, c in zip(spec["steps"], step_classes, strict=True) if c is None]
            if missing:
                raise ValueError(f"unknown LibreLane step(s): {', '.join(missing)}")
            flow_class: Any = type("SpilotSteps", (SequentialFlow,), {"Steps": step_classes})
        else:
            flow_class = Flow.factory.get(spec.get("flow") or "Classic")
            if flow_class is None:
                raise ValueError(f"unknown LibreLane flow {spec.get('flow')!r}")
        announce_steps(run_dir.parent, [s.id for s in flow_class.Steps])
        flow = flow_class(
            spec["config"],
            pdk_root=spec.get("pdk_root"),
            pdk=spec.get("pdk"),
            scl=spec.get("scl"),
            design_dir=spec["design_dir"],
            config_override_strings=spec.get("overrides") or [],
        )
        kwargs = {k: spec[k] for k in ("frm", "to", "skip") if spec.get(k)}
        flow.start(tag=run_dir.name, overwrite=True, _force_run_dir=str(run_dir), **kwargs)
    except FlowError as exc:
        write_result(run_dir.parent, "failed", str(exc), "FlowError")
        return 2
    except InvalidConfig as exc:
        detail = "; ".join(str(e) for e in getattr(exc, "errors", [])) or str(exc)
        message = f"{spec['config']}: LibreLane rejects this configuration: {detail}"
        write_result(run_dir.parent, "error", message, "InvalidConfig")
        return 1
    except Exception as exc:
        traceback.print_exc()
        write_result(run_dir.parent, "error", f"{type(exc).__name__}: {exc}", type(exc).__name__)
        return 1
    write_result(run_dir.parent, "passed")
    return 0


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1:], "pytest_spilot.librelane.real_flow", run))
