"""Site configuration from pyproject.toml or YAML, with errors naming the file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_spilot.errors import PlanError, SpilotError
from pytest_spilot.registry import Registry, plugin_manager
from pytest_spilot.siteconfig import SiteConfig, load_site_config


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


def test_an_override_switches_whichever_backend_it_names() -> None:
    """As in pytest and ``spilot doctor``: real switches both, tcl only sessions."""

    registry = Registry.from_hook(plugin_manager().hook)
    site = SiteConfig.model_validate({"innovus": {"backend": "pseudo"}})
    assert site.with_backend(None, registry) is site
    real = site.with_backend("real", registry)
    assert (real.innovus.backend, real.librelane.backend) == ("real", "real")
    tcl = site.with_backend("tcl", registry)
    assert (tcl.innovus.backend, tcl.librelane.backend) == ("tcl", "pseudo")
    assert site.innovus.backend == "pseudo"  # the configuration itself is unchanged


def test_configured_backends_are_checked_against_the_registry() -> None:

    registry = Registry.from_hook(plugin_manager().hook)
    SiteConfig().check_backends(registry)  # auto and pseudo
    with pytest.raises(SpilotError) as err:
        SiteConfig.model_validate({"innovus": {"backend": "reall"}}).check_backends(registry)
    assert str(err.value).startswith(
        "[tool.spilot.innovus] backend 'reall' is not a registered backend; use one of pseudo, "
        "real, tcl, or install the plugin"
    )


def test_resource_pools_section(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[tool.spilot.resources]\ncpus = 6\nlicenses = {innovus = 4, genus = 2}\n"
        "batch_licenses = true\n"
    )
    pools = load_site_config(tmp_path).resources
    assert (pools.cpus, dict(pools.licenses), pools.batch_licenses) == (
        6,
        {"innovus": 4, "genus": 2},
        True,
    )
    assert SiteConfig().resources.cpus is None  # the machine's CPUs, decided at run time


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ("cpus = 0", "tool.spilot.resources.cpus", "greater than 0"),
        ("licenses = {innovus = 0}", "tool.spilot.resources.licenses", "at least 1 each"),
        ('licenses = {"a b" = 1}', "tool.spilot.resources.licenses.a b", "pattern"),
        ("gpus = 2", "tool.spilot.resources.gpus", "Extra inputs"),
    ],
)
def test_bad_resource_pools_name_the_field(
    tmp_path: Path, body: str, field: str, says: str
) -> None:
    (tmp_path / "pyproject.toml").write_text(f"[tool.spilot.resources]\n{body}\n")
    with pytest.raises(PlanError) as info:
        load_site_config(tmp_path)
    assert field in str(info.value) and says in str(info.value)
    assert "pyproject.toml" in str(info.value)
