"""What a backend needs of the environment, probed one way for doctor, migration and provenance."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from pytest_spilot.core.provenance import tool_probe, version_output
from pytest_spilot.innovus.environment import (
    backend_tool,
    find_program,
    licence_state,
    version_command,
)
from pytest_spilot.siteconfig import InnovusConfig


def test_find_program_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tool = tmp_path / "fakeinnovus"
    tool.write_text("#!/bin/sh\necho 'Innovus 23.1'\n")
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    found = find_program("fakeinnovus")
    assert found.where == str(tool) and found.detail == str(tool)
    missing = find_program("no-such-tool-spilot")
    assert (missing.where, missing.detail) == (None, "no-such-tool-spilot: not on PATH")
    assert find_program("").detail == "(empty): not on PATH"


def test_each_backends_tool_and_version_command() -> None:
    assert backend_tool("real", "/opt/innovus -stylus", "tclsh") == ["/opt/innovus", "-stylus"]
    assert backend_tool("tcl", "innovus", "/usr/bin/tclsh8.6") == ["/usr/bin/tclsh8.6"]
    assert backend_tool("pseudo", "innovus", "tclsh") is None
    assert backend_tool("site_sessions", "innovus", "tclsh") is None  # a plugin's backend
    assert version_command("real", "innovus", "tclsh") == (["innovus", "-version"], "")
    assert version_command("tcl", "innovus", "tclsh") == (["tclsh"], "puts [info patchlevel]\n")
    assert version_command("pseudo", "innovus", "tclsh") is None
    # The release's provenance asks the same command.
    assert tool_probe("innovus:real", "innovus", "tclsh") == (
        "innovus",
        ["innovus", "-version"],
        "",
    )
    assert tool_probe("innovus:tcl", "innovus", "tclsh") == (
        "tclsh",
        ["tclsh"],
        "puts [info patchlevel]\n",
    )
    assert tool_probe("innovus:pseudo", "innovus", "tclsh") is None


def test_the_tcl_version_command_runs(tmp_path: Path) -> None:
    command = version_command("tcl", "innovus", "tclsh")
    assert command is not None
    if find_program("tclsh").where is None:
        pytest.skip("tclsh is not installed (apt-get install -y tcl)")
    assert version_output(*command).split(".")[0].isdigit()


def test_licence_state_says_set_or_not_never_the_value() -> None:
    config = InnovusConfig(license_env=["CDS_LIC_FILE", "LM_LICENSE_FILE", "SNPSLMD"])
    config = config.model_copy(update={"env": {"SNPSLMD": "27000@lic2"}})
    state = licence_state(config, {"CDS_LIC_FILE": "5280@lic1", "LM_LICENSE_FILE": ""})
    assert state == {"CDS_LIC_FILE": True, "LM_LICENSE_FILE": False, "SNPSLMD": True}
