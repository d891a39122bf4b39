"""spilot doctor: a row per check, a fix for every failure, exit 1 when anything fails."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pytest_spilot.cli import main


def rows(out: str) -> dict[str, str]:
    return {line.split("  ")[0].strip(): line for line in out.splitlines()[1:-1]}


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
