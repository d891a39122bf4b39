"""Grid submitter templates: words dropped for unset fields, argv kept verbatim, bad templates."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from pytest_spilot.errors import SpilotError
from pytest_spilot.launchers.base import Job, batch_job_name
from pytest_spilot.launchers.template import BUILTIN_TEMPLATES, TemplateLauncher, expand
from pytest_spilot.siteconfig import SiteConfig

ARGV = ["innovus", "-init", "a b.tcl", "x;$(rm -rf /)"]


def job() -> Job:
    return Job(ARGV, Path("/work/run"), Path("/tmp/log"), 10, name="spilot-innovus-gw0")


def test_srun_with_some_fields() -> None:
    launcher = TemplateLauncher(
        name="srun", template=BUILTIN_TEMPLATES["srun"], fields={"queue": "debug", "cores": 4}
    )
    assert launcher.command_line(job()) == [
        "srun",
        "--unbuffered",
        "--job-name=spilot-innovus-gw0",
        "--partition=debug",
        "--cpus-per-task=4",
        "--chdir=/work/run",
        *ARGV,
    ]


def test_bsub_values_with_spaces_stay_one_word() -> None:
    launcher = TemplateLauncher(
        name="bsub",
        template=BUILTIN_TEMPLATES["bsub"],
        fields={"queue": "long queue", "license": "invs_xl", "memory_mb": 8000},
    )
    line = launcher.command_line(job())
    assert line[:2] == ["bsub", "-I"]
    assert line[line.index("-q") : line.index("-q") + 2] == ["-q", "long queue"]
    assert "rusage[mem=8000]" in line and "rusage[invs_xl=1]" in line
    assert line[-4:] == ARGV


def test_unknown_field_and_missing_command_are_errors() -> None:
    with pytest.raises(SpilotError, match=r"unknown field \{partition\}"):
        expand(["srun", "-p {partition}", "{command}"], ARGV, {})
    with pytest.raises(SpilotError, match=r"must contain the word '\{command\}'"):
        TemplateLauncher(name="x", template=["srun"])


def test_site_config_overrides_and_adds_launchers() -> None:
    site = SiteConfig.model_validate(
        {
            "launchers": {
                "srun": {"template": ["srun", "-p {queue}", "{command}"], "queue": "eda"},
                "mygrid": {"template": ["qrsh", "-now", "no", "{command}"]},
            }
        }
    )
    launchers = {launcher.name: launcher for launcher in site.grid_launchers()}
    assert set(launchers) == {"srun", "bsub", "dsub", "mygrid", "slurm", "lsf"}
    assert launchers["srun"].command_line(job()) == ["srun", "-p", "eda", *ARGV]
    # The aliases follow the site's override; Slurm's cancel and lookup stay built in.
    assert launchers["slurm"].command_line(job()) == ["srun", "-p", "eda", *ARGV]
    assert launchers["slurm"].cancel == ["scancel", "--name={job_name}"]
    assert launchers["mygrid"].command_line(job())[:3] == ["qrsh", "-now", "no"]


def test_template_launcher_runs_the_wrapped_command(tmp_path: Path) -> None:
    log = tmp_path / "job.log"
    launcher = TemplateLauncher(name="wrap", template=["env", "VIA=grid", "{command}"])
    result = launcher.run(Job(["sh", "-c", 'echo "via=$VIA"; exit 3'], tmp_path, log, 10))
    assert result.exit_code == 3
    assert log.read_text().strip() == "via=grid"


def test_batch_job_names_are_the_validations_and_safe_everywhere() -> None:
    assert batch_job_name("timing_report[ss-low]") == "spilot.timing_report_ss-low"
    assert batch_job_name("a b/c") == "spilot.a_b_c"
    assert len(batch_job_name("x" * 500)) == len("spilot.") + 64


def test_a_jobs_resources_reach_srun_and_bsub() -> None:
    asked = dataclasses.replace(job(), env={"SPILOT_CPUS": "2", "SPILOT_LICENSES": "innovus:1"})
    srun = TemplateLauncher(
        name="srun", template=BUILTIN_TEMPLATES["srun"], fields={"cores": 8, "license": "invs_xl"}
    )
    line = srun.command_line(asked)
    # The job's own request wins over the site's cores; the site's licence is asked too.
    assert "--cpus-per-task=2" in line and "--cpus-per-task=8" not in line
    assert "--licenses=invs_xl:1,innovus:1" in line
    bsub = TemplateLauncher(name="bsub", template=BUILTIN_TEMPLATES["bsub"])
    line = bsub.command_line(asked)
    assert line[line.index("-n") + 1] == "2"
    assert "rusage[innovus=1]" in line
    # Without a request, nothing of it: the words are dropped.
    assert not any("licenses" in w or "rusage" in w for w in bsub.command_line(job()))
    assert expand(["x", "--cpus={cpus}", "-R rusage[{rusage}]", "{command}"], [], {}) == ["x"]
