"""Skill contracts: one spelling of direction, and every backend holds a skill to its contract.

Issue 14: a contract metric the Tcl never emitted still passed on the ``tcl`` backend, and a
site's own skill could never run on ``pseudo``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from innovus_kit import DESIGNS, REPO

from pytest_spilot.cli.schema import json_schema
from pytest_spilot.errors import SpilotError
from pytest_spilot.innovus.contracts import (
    SkillContract,
    SkillMetric,
    contract_for,
    find_skills,
    load_contract,
)
from pytest_spilot.innovus.design import FACT_NAMES, load_design
from pytest_spilot.innovus.queue_supervisor import skill_script

# Writes one of its two reports and one of its two metrics.
HALF_TCL = """\
set fh [open [spilot::report kept.rpt] w]
puts $fh kept
close $fh
spilot::metric kept_count 3
spilot::metric extra_count 1
"""
HALF_YAML = """\
name: half
reports: [kept.rpt, sub/lost.rpt]
metrics:
  kept_count: {direction: lower_is_better}
  lost_count: {direction: lower_is_better, pseudo: 7}
"""


def write_skill(folder: Path, name: str, tcl: str, contract: str | None) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.tcl").write_text(tcl)
    if contract is not None:
        (folder / f"{name}.yaml").write_text(contract)
    return folder


@pytest.mark.parametrize(
    "metric",
    [
        {"direction": "lower_is_better"},
        {"better": "lower"},  # the old spelling still loads
        {"better": "lower", "direction": "lower_is_better"},
    ],
)
def test_direction_spellings(metric: dict[str, str]) -> None:
    assert SkillMetric.model_validate(metric).direction == "lower_is_better"


def test_contradicting_or_unknown_direction_names_file_line_and_fix(tmp_path: Path) -> None:
    path = tmp_path / "odd.yaml"
    path.write_text("name: odd\nmetrics:\n  a: {direction: lower_is_better}\n  b: {better: up}\n")
    with pytest.raises(SpilotError, match=r"odd\.yaml:4: skill contract field 'metrics\.b'") as exc:
        load_contract(path)
    assert "write direction: lower_is_better or direction: higher_is_better" in str(exc.value)
    with pytest.raises(ValueError, match="contradicts direction"):
        SkillMetric.model_validate({"better": "higher", "direction": "lower_is_better"})


def test_shipped_contracts_and_schema_use_the_validation_files_spelling() -> None:
    for path in sorted((REPO / "tcl" / "skills").glob("*.yaml")):
        assert "better:" not in path.read_text(), path
    metric = json.loads(json_schema("skill"))["$defs"]["SkillMetric"]["properties"]
    assert "better" not in metric
    assert set(metric["direction"]["anyOf"][0]["enum"]) == {"higher_is_better", "lower_is_better"}
    summary = contract_for(find_skills([])["summary_health"])
    assert summary.metrics["setup_wns_ns"].direction == "higher_is_better"


def test_fact_names_are_what_a_design_reports() -> None:
    assert set(load_design(DESIGNS / "clean.json").facts()) == FACT_NAMES
    shipped = [contract_for(s) for s in find_skills([]).values()]
    assert all(c.pseudo_gaps() == [] for c in shipped), "pseudo answers every shipped skill"


def test_broken_by_names_what_is_missing() -> None:
    contract = SkillContract.model_validate(
        {"name": "half", "reports": ["kept.rpt", "sub/lost.rpt"], "metrics": {"a": {}, "b": {}}}
    )
    assert contract.broken_by(["kept.rpt", "sub/lost.rpt", "more.log"], ["a", "b", "c"]) == ""
    message = contract.broken_by(["kept.rpt"], ["a"])
    assert message.startswith(
        "skill 'half' broke its contract: report(s) sub/lost.rpt not written; "
        "metric(s) b not reported; "
    )


@pytest.mark.parametrize(
    ("backend", "env"),
    [("tcl", {}), ("tcl", {"SPILOT_TCL_JSON": "builtin"}), ("real", {})],
)
def test_session_fails_a_pass_that_breaks_the_contract(
    start_session, tmp_path: Path, backend: str, env: dict[str, str]
) -> None:
    """The bootstrap (tcl and real alike) names the missing report and metric; extra ones and
    skills without a contract pass; the pseudo backend words a contract break the same way."""
    site = write_skill(tmp_path / "site", "half", HALF_TCL, HALF_YAML)
    write_skill(site, "bare", "spilot::metric x 1\n", None)
    session = start_session(backend, env=env, skill_dirs=[site])
    ack = session.submit(skill_script("half"), {})
    expected = SkillContract.model_validate(
        {"name": "half", "reports": ["kept.rpt", "sub/lost.rpt"], "metrics": {"k": {}, "l": {}}}
    ).broken_by(["kept.rpt"], ["k"])
    assert (ack.status, ack.error_type) == ("FAIL", "CMD_FAIL")
    assert ack.message == expected.replace("metric(s) l ", "metric(s) lost_count ")
    assert ack.metrics == {"kept_count": 3, "extra_count": 1}, "what it did report is kept"
    assert [Path(r).name for r in ack.reports] == ["kept.rpt"]
    assert session.submit(skill_script("bare"), {}).passed
    assert session.submit(skill_script("noop"), {}).passed
    # Fixed: the skill writes the rest, and passes.
    (site / "half.tcl").write_text(
        HALF_TCL + "close [open [spilot::report sub/lost.rpt] w]\nspilot::metric lost_count 0\n"
    )
    fixed = start_session(backend, env=env, skill_dirs=[site]).submit(skill_script("half"), {})
    assert fixed.passed, fixed.message


def test_pseudo_answers_a_site_skill_from_its_contract(start_session, tmp_path: Path) -> None:
    """Figures declared for the pseudo backend win; the design's fill the rest."""
    contract = HALF_YAML.replace("kept_count: {", "kept_count: {pseudo: 2.5, ") + (
        "  instance_count: {direction: lower_is_better}\n"
    )
    site = write_skill(tmp_path / "site", "half", HALF_TCL, contract)
    session = start_session("pseudo", skill_dirs=[site])
    restored = session.submit(
        skill_script("restore_design"), {"design": str(DESIGNS / "clean.json"), "top": "counter"}
    )
    assert restored.passed
    ack = session.submit(skill_script("half"), {})
    assert ack.passed, ack.message
    facts = load_design(DESIGNS / "clean.json").facts()
    assert ack.metrics == {
        "kept_count": 2.5,
        "lost_count": 7,
        "instance_count": facts["instance_count"],
    }
    assert sorted(
        Path(r).relative_to(f"reports/{ack.request_id}").as_posix() for r in ack.reports
    ) == [
        "kept.rpt",
        "sub/lost.rpt",
    ]


def test_pseudo_says_why_it_cannot_run_a_site_skill(start_session, tmp_path: Path) -> None:
    site = write_skill(tmp_path / "site", "half", HALF_TCL, HALF_YAML)
    write_skill(site, "bare", "spilot::metric x 1\n", None)
    session = start_session("pseudo", skill_dirs=[site])
    ack = session.submit(skill_script("half"), {})
    assert ack.error_type == "CMD_FAIL"
    assert ack.message == (
        "the pseudo backend cannot run skill 'half': it runs no Tcl and answers from half.yaml, "
        "which gives no figure for metric(s) kept_count; add one to each there (e.g. "
        "kept_count: {pseudo: 0}) or run it on the tcl or real backend (--spilot-backend)"
    )
    bare = session.submit(skill_script("bare"), {})
    assert bare.error_type == "CMD_FAIL"
    assert "bare.yaml does not exist beside bare.tcl; write one" in bare.message
