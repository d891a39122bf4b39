"""spilot doctor: a row per check, a fix for every failure, exit 1 when anything fails."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import ClassVar

import pytest

from pytest_spilot.cli.doctor import doctor
from pytest_spilot.cli.main import main
from pytest_spilot.innovus.backends.pseudo import PseudoBackend
from pytest_spilot.registry import Registry, plugin_manager
from pytest_spilot.siteconfig import SiteConfig

REPO = Path(__file__).resolve().parents[2]
PDK = REPO / "fixtures" / "librelane" / "pdk" / "spilot130"
DESIGN = REPO / "fixtures" / "librelane" / "designs" / "counter"


def rows(out: str) -> dict[str, str]:
    """Check name -> its row (the title line and the header line come first)."""
    return {line.split("  ")[0].strip(): line for line in out.splitlines()[2:-1]}


def flow_plan(pdk: str) -> str:
    return f"""
version: 1
validations:
  - name: counter
    kind: librelane
    design: {DESIGN}
    pdk: {pdk}
"""


def test_pseudo_site_passes(tmp_path: Path, capsys) -> None:
    assert main(["doctor", "--root", str(tmp_path), "--backend", "pseudo"]) == 0
    out = capsys.readouterr().out
    table = rows(out)
    assert "ok" in table["innovus session (pseudo) ready"]
    assert "ended by a reaper when pytest dies" in table["job tracking"]
    assert out.rstrip().endswith("all checks passed")


@pytest.mark.parametrize("switch", ["auto", "0"])
def test_job_tracking_names_the_method_in_use(
    switch: str, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pytest_spilot.launchers import cgroup

    monkeypatch.setenv(cgroup.SWITCH, switch)
    found = cgroup.tracking()
    main(["doctor", "--root", str(tmp_path), "--backend", "pseudo"])
    row = rows(capsys.readouterr().out)["job tracking"]
    assert " ok " in row
    if found.kind is None:
        assert "process group + SPILOT_JOB_TOKEN" in row and found.reason in row
        assert "'setsid env -i' escapes" in row
    else:
        assert f"({found.parent}): a cgroup per job, so nothing escapes" in row
        assert "SPILOT_CGROUPS=0" in row
    if switch == "0":
        assert "turned off by SPILOT_CGROUPS=0" in row and "unset SPILOT_CGROUPS" in row


def test_tcl_session_reaches_ready(tmp_path: Path, capsys) -> None:
    if shutil.which("tclsh") is None:
        pytest.skip("tclsh is not installed (apt-get install -y tcl)")
    main(["doctor", "--root", str(tmp_path), "--backend", "tcl"])
    table = rows(capsys.readouterr().out)
    assert "ready in" in table["innovus session (tcl) ready"]
    assert "ok" in table["tclsh (Innovus stand-in)"]


def test_real_site_without_innovus_lists_fixes(
    tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No Innovus binary exists here: the doctor must say so, with the fix."""
    monkeypatch.delenv("CDS_LIC_FILE", raising=False)
    monkeypatch.setenv("LM_LICENSE_FILE", "5280@lic-secret-host")
    config = tmp_path / "site.yaml"
    config.write_text(
        "innovus: {backend: real, binary: /opt/cadence/no/innovus, launcher: nosuch}\n"
        "librelane: {backend: real, pdk: nopdk, pdk_root: /nonexistent}\n"
    )
    assert main(["doctor", "--root", str(tmp_path), "--config", str(config)]) == 1
    out = capsys.readouterr().out
    table = rows(out)
    assert "FAIL" in table["innovus binary"] and "put it on PATH" in table["innovus binary"]
    assert "export CDS_LIC_FILE=PORT@SERVER" in table["licence variable CDS_LIC_FILE"]
    assert "ok" in table["licence variable LM_LICENSE_FILE"]
    assert "lic-secret-host" not in out  # a licence value is never printed
    assert "'nosuch' is not a known launcher" in table["innovus launcher"]
    assert "FAIL" in table["innovus session (real) ready"]
    assert "FAIL" in table["PDK nopdk"]
    assert "checks failed" in out.splitlines()[-1]


def test_doctor_checks_the_pdk_the_plan_names_not_the_site_default(
    tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every validation names its PDK by path: no 'PDK sky130A' row, and a path, not a repr."""
    monkeypatch.setenv("PDK_ROOT", str(tmp_path / "no-pdks-here"))
    plan_dir = tmp_path / "validations"
    plan_dir.mkdir()
    shutil.copytree(PDK, tmp_path / "pdk" / "spilot130")
    (plan_dir / "flows.yaml").write_text(flow_plan("../pdk/spilot130"))
    main(["doctor", "--root", str(tmp_path), "--backend", "real"])
    out = capsys.readouterr().out
    table = rows(out)
    assert not any(name.startswith("PDK sky130A") for name in table), out
    row = table["PDK pdk/spilot130"]
    assert " ok " in row and f"{tmp_path / 'pdk' / 'spilot130'}" in row
    assert "used by validations/flows.yaml::counter" in row
    assert "PdkChoice" not in out and "PosixPath" not in out
    assert "no innovus validation or migration gate in the plan" in table["innovus"]
    assert "1 validations in 1 files under validations/" in table["plan"]


def test_doctor_fails_a_missing_pdk_where_the_plan_names_it(tmp_path: Path, capsys) -> None:
    plan_dir = tmp_path / "validations"
    plan_dir.mkdir()
    (plan_dir / "flows.yaml").write_text(flow_plan("../pdk/nosuch130"))
    assert main(["doctor", "--root", str(tmp_path), "--backend", "real"]) == 1
    row = rows(capsys.readouterr().out)["PDK pdk/nosuch130"]
    assert "FAIL" in row and "named at validations/flows.yaml:7 (counter)" in row
    # pseudo flows need no PDK: the same plan is not a failure there
    main(["doctor", "--root", str(tmp_path), "--backend", "pseudo"])
    row = rows(capsys.readouterr().out)["PDK pdk/nosuch130"]
    assert " skip " in row and "the pseudo backend needs none" in row


def test_doctor_reads_the_plan_folders_of_the_ini(tmp_path: Path, capsys) -> None:
    """spilot_paths of pytest.ini: skills, locations and broken files of that plan are checked."""
    (tmp_path / "pytest.ini").write_text("[pytest]\nspilot_paths = checks\n")
    (tmp_path / "validations").mkdir()  # not a plan folder here: never read
    (tmp_path / "validations" / "ignored.yaml").write_text("version: 1\nvalidations: [oops]\n")
    (tmp_path / "checks" / "sub").mkdir(parents=True)
    (tmp_path / "checks" / "sub" / "block.yaml").write_text(
        """version: 1
validations:
  - name: summary
    kind: innovus
    skill: sumary_health
  - name: drc
    kind: innovus
    skill: drc_health
    args: {top: counter, layers: 3}
  - name: far
    run: "true"
    location: slrum
"""
    )
    (tmp_path / "checks" / "broken.yaml").write_text("version: 1\nvalidations:\n  - {}\n")
    assert main(["doctor", "--root", str(tmp_path), "--backend", "pseudo"]) == 1
    out = capsys.readouterr().out
    table = rows(out)
    assert "3 validations in 2 files under checks/" in table["plan"]
    assert "ignored.yaml" not in out
    broken = table["plan file checks/broken.yaml"]
    assert "FAIL" in broken and "broken.yaml:3" in broken
    skill = table["skill sumary_health"]
    assert "FAIL" in skill and "checks/sub/block.yaml:5 (summary)" in skill
    assert "did you mean 'summary_health'?" in skill
    args = table["skill drc_health"]
    assert "FAIL" in args and "unknown argument 'layers'" in args and "'top'" not in args
    where = table["location slrum"]
    assert "FAIL" in where and "did you mean 'slurm'?" in where
    # a broken file may hold flows: with it, the site's LibreLane defaults are checked too
    assert "librelane backend" in table and "librelane" not in table


@pytest.mark.parametrize("noise", [False, True])
def test_header_is_the_same_in_every_project(
    noise: bool, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The table starts with a title line, whatever is printed before it: the header is never
    the output's first line, and reads 'check' everywhere."""
    if noise:  # a project with a plan and its own pyproject
        (tmp_path / "pyproject.toml").write_text(
            '[tool.pytest.ini_options]\nspilot_paths = ["v"]\n'
            '[tool.spilot.innovus]\nbackend = "pseudo"\n'
        )
        (tmp_path / "v").mkdir()
        (tmp_path / "v" / "a.yaml").write_text(
            'version: 1\nvalidations: [{name: a, run: "true"}]\n'
        )
    main(["doctor", "--root", str(tmp_path), "--backend", "pseudo"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"spilot doctor in {tmp_path} (site configuration: ")
    assert lines[1].split() == ["check", "status", "detail", "fix"]


def test_doctor_checks_a_site_skill_on_the_backend_it_would_run(tmp_path: Path, capsys) -> None:
    """A site skill with a metric the pseudo backend has no figure for fails there, not on tcl."""
    own = tmp_path / "flow" / "skills"
    own.mkdir(parents=True)
    (own / "power_health.tcl").write_text("# a site skill\n")
    (own / "power_health.yaml").write_text(
        "name: power_health\nreports: []\nmetrics: {total_mw: {unit: mW}}\n"
    )
    (tmp_path / "pyproject.toml").write_text('[tool.spilot.innovus]\nskills = ["flow/skills"]\n')
    (tmp_path / "validations").mkdir()
    (tmp_path / "validations" / "power.yaml").write_text(
        "version: 1\nvalidations: [{name: power, kind: innovus, skill: power_health}]\n"
    )
    assert main(["doctor", "--root", str(tmp_path), "--backend", "pseudo"]) == 1
    row = rows(capsys.readouterr().out)["skill power_health"]
    assert "FAIL" in row and "no figure for metric(s) total_mw" in row
    if shutil.which("tclsh") is not None:
        main(["doctor", "--root", str(tmp_path), "--backend", "tcl"])
        row = rows(capsys.readouterr().out)["skill power_health"]
        assert " ok " in row and str(own / "power_health.tcl") in row


class SiteSessions(PseudoBackend):
    """A plugin's session backend (the pseudo one under another name)."""

    name: ClassVar[str] = "site_sessions"


class SitePlugin:
    @pytest.hookimpl
    def pytest_spilot_session_backends(self) -> list[PseudoBackend]:
        return [SiteSessions()]


def test_doctor_runs_a_plugins_backend_as_pytest_would(tmp_path: Path) -> None:
    """Resolved through the registry: a plugin's session backend is checked, flows stay put."""
    manager = plugin_manager()
    manager.register(SitePlugin(), "site")
    registry = Registry.from_hook(manager.hook)
    checks = {c.name: c for c in doctor(SiteConfig(), registry, None, backend="site_sessions")}
    assert checks["innovus session (site_sessions) ready"].status == "ok"
    assert checks["librelane backend"].detail == "pseudo (no toolchain needed)"


SITE_PLUGIN = """
import pluggy

from pytest_spilot.innovus.backends.pseudo import PseudoBackend

hookimpl = pluggy.HookimplMarker("pytest")


class SiteSessions(PseudoBackend):
    name = "site_sessions"


@hookimpl
def pytest_spilot_session_backends():
    return [SiteSessions()]
"""


def test_the_command_accepts_an_installed_plugins_backend(
    tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plugin installed with a ``spilot`` entry point, as a site would ship its backend."""
    site = tmp_path / "site"
    info = site / "spilot_site_backend-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: spilot-site-backend\nVersion: 1.0\n"
    )
    (info / "entry_points.txt").write_text("[spilot]\nsite = spilot_site_backend\n")
    (site / "spilot_site_backend.py").write_text(SITE_PLUGIN)
    monkeypatch.syspath_prepend(str(site))
    project = tmp_path / "project"
    project.mkdir()
    assert main(["doctor", "--root", str(project), "--backend", "site_sessions"]) == 0
    table = rows(capsys.readouterr().out)
    assert " ok " in table["innovus session (site_sessions) ready"]


def test_an_unregistered_backend_is_refused_with_the_known_ones(tmp_path: Path, capsys) -> None:
    assert main(["doctor", "--root", str(tmp_path), "--backend", "reall"]) == 2
    assert capsys.readouterr().err == (
        "spilot: --backend 'reall' is not a registered backend; use one of pseudo, real, tcl, "
        "or install the plugin that registers it (hooks pytest_spilot_session_backends, "
        "pytest_spilot_flow_backends)\n"
    )


def test_a_site_backend_is_checked_as_pytest_checks_it(tmp_path: Path, capsys) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.spilot.librelane]\nbackend = "tcl"\n')
    assert main(["doctor", "--root", str(tmp_path), "--backend", "pseudo"]) == 2
    assert capsys.readouterr().err.startswith(
        "spilot: [tool.spilot.librelane] backend 'tcl' is not a registered backend; use one of "
        "pseudo, real, or install"
    )
