"""``--spilot-plan``: every threshold with its level and tolerance, retries, the regressions test
and the baseline; a plan file that fails its static checks is shown as an error, nothing runs."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from pytest_spilot.core.settings import Settings
from pytest_spilot.plan.expand import expand
from pytest_spilot.plan.loader import load_validation_file
from pytest_spilot.registry import Registry, plugin_manager
from pytest_spilot.reporting.plan import render_plan

PLAN = """
version: 1
defaults:
  timeout_s: 30
validations:
  - name: area
    retries: 2
    retry_on: {exit_codes: [75], patterns: ['queue full'], builtin: false}
    run: 'echo area=10 cells=3; touch "$SPILOT_PLAN_DIR/ran"'
    metrics:
      area: {regex: 'area=(\\d+)'}
      cells: {regex: 'cells=(\\d+)'}
    regressions: {area: {direction: lower_is_better, margin: 0.1}}
    acceptance:
      - {metric: area, op: "<=", value: 12}
      - {metric: area, op: "<=", value: 10.5, tolerance: 0.25, level: warning}
      - {metric: cells, op: "<=", baseline: 1.05}
gates:
  - name: tool
    run: ['true']
    required: true
"""


def _render(tmp_path: Path, **settings: object) -> list[str]:
    path = tmp_path / "validations" / "plan.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(PLAN)
    planned = list(expand(load_validation_file(path), path, "validations/plan.yaml"))
    base = Settings.resolve(tmp_path, version="2026.12")
    registry = Registry.from_hook(plugin_manager().hook)
    text = render_plan(planned, registry, dataclasses.replace(base, **settings))
    return text.splitlines()


def test_plan_shows_levels_tolerances_retries_and_regressions(tmp_path: Path) -> None:
    lines = _render(tmp_path)
    assert lines[1] == (
        "baseline: none (baseline thresholds and --spilot-regressions need --spilot-baseline)"
    )
    assert "validations/plan.yaml::tool  command gate @ local  timeout 30s, no retries" in lines
    assert (
        "validations/plan.yaml::area  command @ local  timeout 30s, 2 retries on exit code 75, "
        "log matching 'queue full', launcher-reported drops"
    ) in lines
    assert "    threshold area<=12  (error, no tolerance)" in lines
    assert "    threshold area<=10.5  (warning, tolerance 0.25)" in lines
    assert (
        "    threshold cells<=baseline*1.05  (error, no tolerance, no baseline given "
        "(pass --spilot-baseline))"
    ) in lines
    assert (
        "    regressions: no test (--spilot-regressions adds one); rules: area "
        "lower_is_better margin 0.1"
    ) in lines
    # A gate never gets a regressions test.
    assert sum(line.startswith("    regressions:") for line in lines) == 1


def test_plan_shows_the_baseline_it_would_use(tmp_path: Path) -> None:
    state = tmp_path / ".spilot" / "2026.11.json"
    state.parent.mkdir()
    state.write_text("{}")
    lines = _render(tmp_path, baseline="2026.11", regressions=True)
    assert lines[1] == f"baseline: 2026.11 ({state})"
    assert (
        "    threshold cells<=baseline*1.05  (error, no tolerance, against baseline 2026.11)"
    ) in lines
    assert (
        "    regressions: test added, against 2026.11; rules: area lower_is_better margin 0.1"
    ) in lines
    missing = _render(tmp_path, baseline="2025.01")[1]
    assert missing == (
        f"baseline: 2025.01 [no state file at {tmp_path}/2025.01 nor "
        f"{tmp_path}/.spilot/2025.01.json]"
    )


def test_plan_of_a_broken_file_shows_the_error_and_runs_nothing(
    pytester: pytest.Pytester,
) -> None:
    broken = PLAN.replace(
        '{metric: area, op: "<=", value: 12}', '{metric: aera, op: "<=", value: 12}'
    )
    broken = broken.replace(
        "name: tool\n    run: ['true']", "name: tool\n    cwd: nowhere\n    run: ['true']"
    )
    pytester.makefile(".yaml", **{"validations/broken": broken, "validations/good": PLAN})
    result = pytester.runpytest_subprocess("--spilot-plan")
    out = result.stdout.str()
    path = pytester.path / "validations" / "broken.yaml"
    lines = path.read_text().splitlines()
    metric_line = 1 + next(i for i, line in enumerate(lines) if "aera" in line)
    cwd_line = 1 + lines.index("    cwd: nowhere")
    # Both problems of the file, each a paragraph with file, line, field and a suggestion.
    assert (
        f"{path}:{metric_line}: validations[0].acceptance[0].metric: validation 'area': "
        "threshold on metric 'aera', which is not declared under 'metrics:'; did you mean 'area'?"
    ) in out
    assert f"{path}:{cwd_line}: gates[0].cwd: gate 'tool': working directory 'nowhere'" in out
    # The good file is still planned; nothing of either file ran.
    result.stdout.fnmatch_lines(["validations/good.yaml::area  command @ local*"])
    assert "validations/broken.yaml::area  command" not in out
    assert not (pytester.path / "validations" / "ran").exists()
    assert not (pytester.path / ".spilot" / "runs").exists()
    assert result.ret != pytest.ExitCode.OK
    # Run for real, the broken file is a collection error: its job never starts.
    result = pytester.runpytest_subprocess("validations/broken.yaml")
    result.assert_outcomes(errors=1)
    assert not (pytester.path / "validations" / "ran").exists()


POOLS_PLAN = """
version: 1
defaults:
  resources: {licenses: {lic: 1}}
validations:
  - name: here
    run: ['true']
    resources: {cpus: 2}
  - name: batch
    location: srun
    run: ['true']
    resources: {cpus: 2, licenses: {lic: 1, genus: 1}}
"""


def test_plan_shows_each_validations_resources_and_the_pools(tmp_path: Path) -> None:
    from pytest_spilot.core.release import Release
    from pytest_spilot.launchers.template import BUILTIN_TEMPLATES, TemplateLauncher
    from pytest_spilot.resources import PoolSizes

    path = tmp_path / "validations" / "plan.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(POOLS_PLAN)
    planned = list(expand(load_validation_file(path), path, "validations/plan.yaml"))
    settings = Settings.resolve(tmp_path, version="v1")
    registry = Registry.from_hook(plugin_manager().hook)
    registry.launchers["srun"] = TemplateLauncher(name="srun", template=BUILTIN_TEMPLATES["srun"])
    pools = PoolSizes.resolve(cli_cpus=4, cli_licenses=["lic=1"])
    release = Release(settings, registry, pools=pools)
    text = render_plan(planned, registry, settings, pools=pools, tokens=release.job_tokens)
    release.close()
    assert "resource pools: cpus 4 (--spilot-cpus), licence lic 1 (--spilot-license)" in text
    assert "    resources: cpus 2, licence lic 1; holds 2 cpus, licence lic 1" in text
    assert (
        "    resources: cpus 2, licence lic 1, licence genus 1; holds licence lic 1 "
        "(2 cpus asked of the batch system; licence genus: no pool, not capped)"
    ) in text
    # The request reaches the submitter's command line.
    assert "--cpus-per-task=2 --licenses=lic:1,genus:1 '--chdir=<run dir>' true" in text
