"""Site configuration from pyproject.toml or YAML, with errors naming the file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_spilot.errors import PlanError
from pytest_spilot.siteconfig import load_site_config


def test_defaults_without_config(tmp_path: Path) -> None:
    site = load_site_config(tmp_path)
    assert site.innovus.backend == "auto" and site.innovus.launcher == "local"


def test_pyproject_section(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        """
[tool.spilot.innovus]
backend = "real"
binary = "/tools/cadence/INNOVUS231/bin/innovus"
launcher = "bsub"
queue = "innovus"
license = "invs_xl"
env = {CDS_LIC_FILE = "5280@lic1"}
"""
    )
    site = load_site_config(tmp_path)
    assert site.innovus.resolved_backend() == "real"
    assert site.innovus.queue == "innovus"
    assert "CDS_LIC_FILE" in site.innovus.secret_names


def test_yaml_error_names_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text("innovus:\n  backend: real\n  heartbeat_timeout_s: soon\n")
    with pytest.raises(PlanError) as err:
        load_site_config(tmp_path, path)
    assert err.value.line == 3 and err.value.field == "innovus.heartbeat_timeout_s"
    assert str(path) in str(err.value)


def test_toml_unknown_key(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.spilot.innovus]\nbinnary = 'innovus'\n")
    with pytest.raises(PlanError, match=r"tool\.spilot\.innovus\.binnary"):
        load_site_config(tmp_path)


def test_backend_override_and_auto(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = load_site_config(tmp_path)
    assert site.innovus.resolved_backend("pseudo") == "pseudo"
    monkeypatch.setenv("PATH", str(tmp_path))
    assert site.innovus.resolved_backend() == "pseudo"  # no tclsh on PATH
