"""Flow runs on both backends through one runner: results, failures, timeouts, no leftovers."""

from __future__ import annotations

from pathlib import Path

import pytest
from flow_kit import DESIGNS, PDK, TOOLS, require_real_librelane

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


@pytest.fixture(params=["pseudo", "real"])
def flows(request: pytest.FixtureRequest, tmp_path: Path) -> LibreLaneFlows:
    if request.param == "real":
        require_real_librelane()
    config = LibreLaneConfig(backend=request.param, pdk=str(PDK), path_prepend=[str(TOOLS)])
    return LibreLaneFlows(
        config,
        {"pseudo": PseudoFlowBackend(), "real": RealFlowBackend()},
        {"local": LocalLauncher()},
        tmp_path / "flows",
    )


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
    result = flows.run(DESIGNS / "counter", preset="minimal", timeout=300)
    assert result.passed, result.message
    assert set(METRICS) <= set(result.metrics)
    assert result.metrics["design__lint_error__count"] == 0
    assert result.metrics["design__instance__count"] > 0
    assert result.metrics_source.endswith("final/metrics.json")
    names = {p.name for p in result.artifacts}
    assert {"flow.log", "metrics.json"} <= names
    progress = read_progress(result.run_dir.parent)
    assert progress[0].step_id == "Verilator.Lint" and progress[-1].state == "complete"
    assert [p.step_index for p in progress if p.state == "running"] == list(range(1, 7))


def test_lint_error_fails_at_the_checker_and_keeps_metrics(flows: LibreLaneFlows) -> None:
    pseudo = {"fail_at": "Checker.LintErrors", "profile": {"design__lint_error__count": 1}}
    result = flows.run(DESIGNS / "counter_lint", timeout=300, pseudo=pseudo)
    assert not result.passed and result.exit_code == 2
    assert result.failed_step == "Checker.LintErrors"
    assert result.message.startswith("Checker.LintErrors: ")
    assert "design__lint_error__count" in result.metrics  # the failed run's metrics are kept
    assert read_progress(result.run_dir.parent)[-1].state == "failed"


def test_timeout_kills_the_tree_and_keeps_the_logs(flows: LibreLaneFlows) -> None:
    # Real: 0.5 s is less than the flow needs; pseudo: told to hang in synthesis.
    result = flows.run(DESIGNS / "counter", timeout=0.5, pseudo={"hang_at": "Yosys.Synthesis"})
    assert result.timed_out and result.exit_code == 124 and not result.passed
    run_root = result.run_dir.parent
    assert leftovers(run_root) == []
    assert (run_root / "librelane.log").is_file()
    assert "timed out after 0.5 s" in result.message


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
