"""Flow runs on every backend and runner through one harness: results, failures, timeouts,
no leftovers; the design's own config reaching LibreLane untouched."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from flow_kit import (
    CLI_TO_SYNTHESIS,
    DESIGNS,
    PDK,
    TOOLS,
    librelane_example,
    require_real_librelane,
)

from pytest_spilot.errors import SpilotError
from pytest_spilot.launchers.local import LocalLauncher
from pytest_spilot.librelane.backends.pseudo import PseudoFlowBackend
from pytest_spilot.librelane.backends.real import RealFlowBackend
from pytest_spilot.librelane.progress import read_progress
from pytest_spilot.librelane.service import LibreLaneFlows
from pytest_spilot.siteconfig import LibreLaneConfig

METRICS = (
    "design__instance__count",
    "design__instance__area",
    "design__lint_error__count",
    "design__instance_unmapped__count",
)


def make_flows(tmp_path: Path, backend: str, runner: str = "api") -> LibreLaneFlows:
    if backend == "real":
        require_real_librelane()
    config = LibreLaneConfig(
        backend=backend, pdk=str(PDK), path_prepend=[str(TOOLS)], runner=runner
    )
    return LibreLaneFlows(
        config,
        {"pseudo": PseudoFlowBackend(), "real": RealFlowBackend()},
        {"local": LocalLauncher()},
        tmp_path / "flows",
    )


@pytest.fixture(params=["pseudo", "real-api", "real-cli"])
def flows(request: pytest.FixtureRequest, tmp_path: Path) -> LibreLaneFlows:
    backend, _, runner = str(request.param).partition("-")
    return make_flows(tmp_path, backend, runner or "api")


def cut(flows: LibreLaneFlows) -> dict[str, Any]:
    """Lint to synthesis, as each runner says it."""
    return dict(CLI_TO_SYNTHESIS) if flows.config.runner == "cli" else {}


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def leftovers(run_root: Path) -> list[str]:
    """Live processes whose command line names this run (the child's spec file does)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            stat = (proc / "stat").read_text()
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(run_root) in cmd and stat.rsplit(")", 1)[1].split()[0] != "Z":
            found.append(cmd)
    return found


def test_counter_passes_with_real_shaped_results(flows: LibreLaneFlows) -> None:
    result = flows.run(DESIGNS / "counter", preset="minimal", timeout=300, **cut(flows))
    assert result.passed, result.message
    assert set(METRICS) <= set(result.metrics)
    assert result.metrics["design__lint_error__count"] == 0
    assert result.metrics["design__instance__count"] > 0
    assert result.metrics_source.endswith("final/metrics.json")
    names = {p.name for p in result.artifacts}
    assert {"flow.log", "metrics.json"} <= names
    progress = read_progress(result.run_dir.parent)
    assert progress[0].step_id == "Verilator.Lint" and progress[-1].state == "complete"
    # The API runs its six steps; the CLI Classic's first eight of its eighty.
    steps = 8 if flows.config.runner == "cli" else 6
    assert [p.step_index for p in progress if p.state == "running"] == list(range(1, steps + 1))
    resolved = json.loads((result.run_dir / "resolved.json").read_text())
    assert resolved["SYNTH_STRATEGY"] == "AREA 0"  # the preset, as an override


def test_lint_error_fails_at_the_checker_and_keeps_metrics(flows: LibreLaneFlows) -> None:
    pseudo = {"fail_at": "Checker.LintErrors", "profile": {"design__lint_error__count": 1}}
    result = flows.run(DESIGNS / "counter_lint", timeout=300, pseudo=pseudo, **cut(flows))
    assert not result.passed and result.exit_code == 2
    assert result.failed_step == "Checker.LintErrors"
    assert result.message.startswith("Checker.LintErrors: ")
    assert "design__lint_error__count" in result.metrics  # the failed run's metrics are kept
    assert read_progress(result.run_dir.parent)[-1].state == "failed"


def test_timeout_kills_the_tree_and_keeps_the_logs(flows: LibreLaneFlows) -> None:
    # Real: 0.5 s is less than the flow needs; pseudo: told to hang in synthesis.
    result = flows.run(
        DESIGNS / "counter",
        timeout=0.5,
        pseudo={"hang_at": "Yosys.Synthesis"},
        **cut(flows),
    )
    assert result.timed_out and result.exit_code == 124 and not result.passed
    run_root = result.run_dir.parent
    assert leftovers(run_root) == []
    assert (run_root / "librelane.log").is_file()
    assert "timed out after 0.5 s" in result.message


@pytest.mark.parametrize("runner", ["api", "cli"])
def test_librelanes_own_example_runs_untouched(tmp_path: Path, runner: str) -> None:
    """spm's config: a dir:: glob, pdk::/scl:: sections, YAML; LibreLane reads it itself."""
    flows = make_flows(tmp_path, "real", runner)
    design = tmp_path / "spm"
    shutil.copytree(librelane_example("spm"), design)
    result = flows.run(
        design,
        flow="Classic",
        to="Yosys.JsonHeader",
        preset="balanced",
        config={"VERILOG_DEFINES": ["A=1", "B C"], "FP_CORE_UTIL": 40},
        timeout=300,
    )
    assert result.passed, result.message
    assert tree_bytes(design) == tree_bytes(librelane_example("spm"))  # untouched, no runs/
    resolved = json.loads((result.run_dir / "resolved.json").read_text())
    assert resolved["VERILOG_FILES"] == [str(design / "src" / "spm.v")]  # LibreLane's glob
    assert resolved["VERILOG_DEFINES"] == ["A=1", "B C"]
    assert resolved["SYNTH_STRATEGY"] == "AREA 2" and resolved["FP_CORE_UTIL"] == 40


@pytest.mark.parametrize("runner", ["api", "cli"])
def test_json_without_meta_and_with_conditionals(tmp_path: Path, runner: str) -> None:
    """No meta: LibreLane's version 1 for JSON (a glob string is fine); a pdk:: section;
    the config named by its path, under a name of its own."""
    flows = make_flows(tmp_path, "real", runner)
    design = tmp_path / "counter"
    design.mkdir()
    shutil.copy(DESIGNS / "counter" / "counter.v", design)
    (design / "counter-spilot130.json").write_text(
        '{"DESIGN_NAME": "counter", "VERILOG_FILES": "dir::*.v", "CLOCK_PORT": "clk",\n'
        ' "CLOCK_PERIOD": 10, "pdk::spilot130": {"CLOCK_PERIOD": 12.5}}\n'
    )
    result = flows.run(design / "counter-spilot130.json", timeout=300, **CLI_TO_SYNTHESIS)
    assert result.passed, result.message
    assert result.run_dir.parent.name == "counter-001"
    resolved = json.loads((result.run_dir / "resolved.json").read_text())
    assert resolved["CLOCK_PERIOD"] == 12.5 and resolved["meta"]["version"] == 1


@pytest.mark.parametrize("runner", ["api", "cli"])
def test_a_config_librelane_rejects_is_named_with_its_message(tmp_path: Path, runner: str) -> None:
    flows = make_flows(tmp_path, "real", runner)
    design = tmp_path / "counter"
    shutil.copytree(DESIGNS / "counter", design)
    result = flows.run(design, config={"CLOCK_PERIOD": "soon"}, timeout=300, **CLI_TO_SYNTHESIS)
    assert not result.passed and result.exit_code == 1
    assert result.message == (
        f"{design / 'config.json'}: LibreLane rejects this configuration: Value provided for "
        "variable 'CLOCK_PERIOD' of type Decimal is invalid: 'soon'"
    )


def test_the_cli_runs_named_flows_only(tmp_path: Path) -> None:
    flows = make_flows(tmp_path, "pseudo", "api")  # a run's own runner wins over the site's
    with pytest.raises(SpilotError, match=r"runs named flows.*steps: Yosys\.Synthesis"):
        flows.run(DESIGNS / "counter", steps=["Yosys.Synthesis"], runner="cli")


def test_missing_pdk_and_empty_design_are_clear(tmp_path: Path) -> None:
    flows = LibreLaneFlows(
        LibreLaneConfig(backend="real", pdk="nopdk", pdk_root=str(tmp_path)),
        {"real": RealFlowBackend()},
        {"local": LocalLauncher()},
        tmp_path / "flows",
    )
    with pytest.raises(SpilotError, match=r"PDK 'nopdk' not found: looked for"):
        flows.run(DESIGNS / "counter")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SpilotError, match=r"has no \.v or \.sv file"):
        flows.run(empty, pdk=str(PDK))
