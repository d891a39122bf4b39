"""Issue 14, point 3: what can be checked without running is checked at collection.

Each check refuses a broken plan with file, line, field and a near name, and accepts the
shipped plans; where the harness cannot know (a site skill without a contract, LibreLane's
open set of metrics) it accepts.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_spilot.errors import PlanErrors
from pytest_spilot.plan.checks import check_plan, check_plan_file
from pytest_spilot.plan.expand import PlannedValidation, expand
from pytest_spilot.plan.loader import load_validation_file
from pytest_spilot.plan.model import CommandValidation

REPO = Path(__file__).resolve().parents[2]
SHIPPED = sorted((REPO / "validations").glob("*.yaml"))
SKILLS = "drc_health, noop, restore_design, summary_health, timing_health"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A plan folder beside a design database, a LibreLane design and a PDK."""
    (tmp_path / "designs" / "counter").mkdir(parents=True)
    (tmp_path / "pdk" / "spilot130").mkdir(parents=True)
    (tmp_path / "clean.json").write_text("{}")
    (tmp_path / "work").mkdir()
    return tmp_path


def problems(folder: Path, text: str, skill_dirs: list[Path] | None = None) -> list[str]:
    path = folder / "plan.yaml"
    path.write_text(text)
    return [str(e) for e in check_plan_file(path, skill_dirs or [])]


def only(folder: Path, text: str, skill_dirs: list[Path] | None = None) -> str:
    [problem] = problems(folder, text, skill_dirs)
    return problem


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_plans_pass(path: Path) -> None:
    assert check_plan_file(path) == []


def test_threshold_on_undeclared_metric(project: Path) -> None:
    plan = """validations:
  - name: area_check
    run: [x]
    metrics:
      area: {regex: 'area=(\\d+)'}
      cells: {regex: 'cells=(\\d+)'}
    acceptance:
      - {metric: area, op: "<=", value: 5}
      - {metric: aera, op: "<=", value: 10}
"""
    assert only(project, plan) == (
        f"{project}/plan.yaml:9: validations[0].acceptance[1].metric: validation "
        "'area_check': threshold on metric 'aera', which is not declared under 'metrics:'; "
        "did you mean 'area'? known here: area, cells; fix the name, or declare the metric "
        "under 'metrics:'"
    )


def test_metric_with_nothing_near_lists_what_is_declared(project: Path) -> None:
    plan = (
        "validations:\n  - name: a\n    run: [x]\n    acceptance: [{metric: q, op: '<', value: 1}]"
    )
    assert only(project, plan).endswith(
        "validations[0].acceptance[0].metric: validation 'a': threshold on metric 'q', which "
        "is not declared under 'metrics:'; it declares no metrics; fix the name, or declare "
        "the metric under 'metrics:'"
    )


def test_innovus_threshold_against_the_skill_contract(project: Path) -> None:
    plan = """validations:
  - name: blk
    kind: innovus
    skill: timing_health
    design: clean.json
    args: {top: counter}
    acceptance:
      - {metric: setup_wns_ns, op: ">=", value: 0}
      - {metric: setup_wns, op: ">=", value: 0}
"""
    contract = REPO / "tcl" / "skills" / "timing_health.yaml"
    assert only(project, plan) == (
        f"{project}/plan.yaml:9: validations[0].acceptance[1].metric: validation 'blk': "
        "threshold on metric 'setup_wns', which is neither declared under 'metrics:' nor "
        f"reported by skill 'timing_health' ({contract}); did you mean 'setup_wns_ns'? known "
        "here: hold_tns_ns, hold_violating_paths, hold_wns_ns, setup_tns_ns, "
        "setup_violating_paths, setup_wns_ns; fix the name, or declare the metric under "
        "'metrics:'"
    )


def test_innovus_declared_metric_is_accepted(project: Path) -> None:
    plan = """validations:
  - name: blk
    kind: innovus
    skill: noop
    metrics: {lines: {regex: 'x', aggregate: count}}
    acceptance: [{metric: lines, op: ">=", value: 0}]
"""
    assert problems(project, plan) == []


def test_unknown_skill(project: Path) -> None:
    plan = """validations:
  - name: blk
    kind: innovus
    skill: timing_helth
    acceptance: [{metric: anything, op: ">=", value: 0}]
"""
    assert only(project, plan) == (
        f"{project}/plan.yaml:4: validations[0].skill: validation 'blk': unknown skill "
        f"'timing_helth'; did you mean 'timing_health'? known: {SKILLS} (a site's skills go "
        "in a folder named by 'skills' in [tool.spilot.innovus])"
    )


def test_site_skill_without_contract_accepts_any_metric(project: Path) -> None:
    site = project / "site_skills"
    site.mkdir()
    (site / "my_check.tcl").write_text("# a site skill\n")
    plan = """validations:
  - name: mine
    kind: innovus
    skill: my_check
    acceptance: [{metric: whatever_it_acks, op: ">=", value: 0}]
"""
    assert problems(project, plan, [site]) == []
    # Without the site's folder the skill is unknown, and the message lists the site's way.
    assert "unknown skill 'my_check'" in only(project, plan)


def test_site_skill_with_contract_is_held_to_it(project: Path) -> None:
    site = project / "site_skills"
    site.mkdir()
    (site / "my_check.tcl").write_text("# a site skill\n")
    (site / "my_check.yaml").write_text("name: my_check\nmetrics: {fanout_max: {}}\n")
    plan = """validations:
  - name: mine
    kind: innovus
    skill: my_check
    acceptance: [{metric: fanout, op: "<=", value: 9}]
"""
    assert "did you mean 'fanout_max'? known here: fanout_max;" in only(project, plan, [site])


def test_missing_innovus_design(project: Path) -> None:
    plan = """validations:
  - name: blk
    kind: innovus
    skill: noop
    design: cleen.json
    args: {top: counter}
"""
    assert only(project, plan) == (
        f"{project}/plan.yaml:5: validations[0].design: validation 'blk': design 'cleen.json' "
        f"does not exist (looked for {project}/cleen.json); did you mean 'clean.json'? fix the "
        "path (it resolves relative to the validation file)"
    )


def test_innovus_design_needs_a_top_cell(project: Path) -> None:
    plan = "validations:\n  - {name: blk, kind: innovus, skill: noop, design: clean.json}\n"
    assert only(project, plan) == (
        f"{project}/plan.yaml:2: validations[0].args: validation 'blk': 'design' needs the top "
        "cell's name in args.top (restoreDesign takes the database and the top cell); add "
        "args: {top: CELL}"
    )


def test_missing_librelane_design_folder(project: Path) -> None:
    plan = """validations:
  - name: flow
    kind: librelane
    design: designs/countr
"""
    assert only(project, plan) == (
        f"{project}/plan.yaml:4: validations[0].design: validation 'flow': design folder "
        f"'designs/countr' does not exist (looked for {project}/designs/countr); did you mean "
        "'designs/counter'? fix the path (it resolves relative to the validation file)"
    )


def test_librelane_design_must_be_a_folder(project: Path) -> None:
    plan = "validations:\n  - {name: flow, kind: librelane, design: clean.json}\n"
    assert only(project, plan).endswith(
        f"validations[0].design: validation 'flow': design folder 'clean.json' is "
        f"{project}/clean.json, which is not a directory; fix the path (it resolves relative "
        "to the validation file)"
    )


def test_librelane_metrics(project: Path) -> None:
    plan = """validations:
  - name: flow
    kind: librelane
    design: designs/counter
    pdk: sky130A
    pseudo: {profile: {my_count: 3}}
    acceptance:
      - {metric: timing__setup__ws__corner:nom_tt_025C_1v80, op: ">=", value: 0}
      - {metric: some_step__new_metric__count, op: "==", value: 0}
      - {metric: my_count, op: "==", value: 3}
      - {metric: design_instance_count, op: "<=", value: 200}
"""
    assert only(project, plan) == (
        f"{project}/plan.yaml:11: validations[0].acceptance[3].metric: validation 'flow': "
        "threshold on metric 'design_instance_count', which is neither declared under "
        "'metrics:' nor a LibreLane metric (those are named like design__instance__count); "
        "did you mean 'design__instance__count'? known here: my_count; fix the name, or "
        "declare the metric under 'metrics:'"
    )


def test_missing_pdk_path(project: Path) -> None:
    plan = """validations:
  - name: flow
    kind: librelane
    design: designs/counter
    pdk: pdk/spilot13
"""
    assert only(project, plan) == (
        f"{project}/plan.yaml:5: validations[0].pdk: validation 'flow': PDK folder "
        f"'pdk/spilot13' does not exist (looked for {project}/pdk/spilot13); did you mean "
        "'pdk/spilot130'? fix the path (it resolves relative to the validation file)"
    )


def test_pdk_by_name_is_not_a_path(project: Path) -> None:
    plan = "validations:\n  - {name: f, kind: librelane, design: designs/counter, pdk: nopdk}\n"
    assert problems(project, plan) == []


def test_cwd_after_matrix_expansion(project: Path) -> None:
    plan = """validations:
  - name: job
    matrix: {where: [work, wrok]}
    cwd: '{where}'
    run: [x]
"""
    assert only(project, plan) == (
        f"{project}/plan.yaml:4: validations[0].cwd: validation 'job': working directory "
        f"'wrok' does not exist (looked for {project}/wrok); did you mean 'work'? fix the path "
        "(it resolves relative to the validation file)"
    )


def test_cwd_from_defaults_points_at_defaults(project: Path) -> None:
    plan = "defaults:\n  cwd: nowhere\nvalidations:\n  - {name: a, run: [x]}\n  - {name: b}"
    plan = plan.replace("{name: b}", "{name: b, run: [y]}")
    assert only(project, plan).startswith(
        f"{project}/plan.yaml:2: defaults.cwd: working directory 'nowhere' does not exist"
    )


def test_regression_rule_on_undeclared_metric(project: Path) -> None:
    plan = """validations:
  - name: a
    run: [x]
    metrics: {area: {regex: 'a=(\\d+)'}}
    regressions: {arae: {direction: lower_is_better}}
"""
    assert only(project, plan) == (
        f"{project}/plan.yaml:5: validations[0].regressions.arae: validation 'a': regression "
        "rule for metric 'arae', which is not declared under 'metrics:'; did you mean 'area'? "
        "known here: area; fix the name, or declare the metric under 'metrics:'"
    )


def test_default_regression_rule_needs_one_validation_with_the_metric(project: Path) -> None:
    plan = """defaults:
  regressions: {area: {margin: 0.1}, cels: {}}
validations:
  - {name: a, run: [x], metrics: {area: {regex: 'a=(\\d+)'}}}
  - {name: b, run: [y], metrics: {cells: {regex: 'c=(\\d+)'}}}
"""
    assert only(project, plan) == (
        f"{project}/plan.yaml:2: defaults.regressions.cels: regression rule for metric "
        "'cels': no validation of this file declares or reports it; did you mean 'cells'? fix "
        "the name, or remove the rule"
    )


def test_every_problem_of_a_file_together(project: Path) -> None:
    plan = """validations:
  - name: a
    cwd: nowhere
    run: [x]
    acceptance: [{metric: q, op: '<', value: 1}]
  - {name: b, kind: innovus, skill: nop}
  - {name: c, kind: librelane, design: nodesign}
"""
    found = problems(project, plan)
    assert [p.split(": ", 2)[1] for p in found] == [
        "validations[0].cwd",
        "validations[0].acceptance[0].metric",
        "validations[1].skill",
        "validations[2].design",
    ]
    path = project / "plan.yaml"
    planned = list(expand(load_validation_file(path), path, "plan.yaml"))
    with pytest.raises(PlanErrors) as info:
        check_plan(planned)
    assert str(info.value).splitlines() == found


def test_a_broken_file_reports_its_load_error(project: Path) -> None:
    found = problems(project, "validations:\n  - {name: a, runn: [x]}\n")
    assert any("unknown key 'runn'; did you mean 'run'?" in p for p in found)


def test_a_validation_built_in_code_is_named_by_file_and_field(tmp_path: Path) -> None:
    """Without the YAML it came from, the error still names the file and the field."""
    spec = CommandValidation(name="job", run=["x"], cwd="nowhere")
    path = tmp_path / "plan.yaml"
    planned = PlannedValidation(spec=spec, file=path, key="plan.yaml::job", id="job")
    with pytest.raises(PlanErrors) as info:
        check_plan([planned])
    assert str(info.value) == (
        f"{path}: cwd: validation 'job': working directory 'nowhere' does not exist (looked "
        f"for {tmp_path}/nowhere); fix the path (it resolves relative to the validation file)"
    )
