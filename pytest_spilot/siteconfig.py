"""Site configuration: which Innovus to run and how, and the site's grid launchers.

Read from ``[tool.spilot]`` in the project's pyproject.toml, or from a YAML file of the same
shape (``--spilot-config``). Nothing about a site is hard-coded; all of it is this data.
"""

from __future__ import annotations

import dataclasses
import shutil
import tomllib
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pytest_spilot.backend_names import FLOW_BACKENDS, PSEUDO, TCL
from pytest_spilot.errors import PlanError
from pytest_spilot.launchers.template import (
    ALIASES,
    BUILTIN_CONTROL,
    BUILTIN_TEMPLATES,
    TemplateLauncher,
)
from pytest_spilot.redact import Redactor
from pytest_spilot.yamlsource import dotted, load_yaml

if TYPE_CHECKING:
    from pytest_spilot.registry import Registry

AUTO = "auto"  # the Innovus backend: tcl where tclsh is on PATH, else pseudo

# Any registered backend: built-in (pseudo, tcl, real) or a plugin's; the registry checks the
# name when the run starts (Registry.check_backend), since plugins are not known here.
Backend = Annotated[str, Field(min_length=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Resources(_Strict):
    """What a grid submitter asks for; unset fields leave their template words out."""

    queue: str | None = None
    walltime_min: int | None = Field(None, gt=0)
    cores: int | None = Field(None, gt=0)
    memory_mb: int | None = Field(None, gt=0)
    license: str | None = Field(None, description="licence resource, e.g. innovus or invs_xl")


class GridLauncherConfig(Resources):
    template: list[str] = Field(
        description="submitter words; {command} marks the job's argv (see launchers/template.py)"
    )
    cancel: list[str] | None = Field(
        None, description="command that cancels the job named {job_name} (srun: scancel)"
    )
    job_id: list[str] | None = Field(
        None, description="command printing the id of the job named {job_name}, also finished"
    )
    active: list[str] | None = Field(
        None, description="command printing the id while the job named {job_name} is in the queue"
    )


class InnovusConfig(Resources):
    """How this site starts Innovus sessions."""

    backend: Backend = Field(
        AUTO,
        description="auto (tcl where tclsh is on PATH, else pseudo), pseudo, tcl, real, or a "
        "session backend a plugin registers",
    )
    binary: str = "innovus"
    flags: list[str] = Field(default_factory=lambda: ["-no_gui"])
    tclsh: str = "tclsh"
    launcher: str = Field("local", description="local, srun, bsub, dsub or a site launcher")
    env: dict[str, str] = Field(default_factory=dict, description="added to the session's env")
    license_env: list[str] = Field(
        default_factory=lambda: ["CDS_LIC_FILE", "LM_LICENSE_FILE"],
        description="licence variables: checked by the gates, redacted everywhere",
    )
    secret_env: list[str] = Field(default_factory=list, description="redacted everywhere")
    skills: list[Path] = Field(default_factory=list, description="extra skill folders")
    licenses: int | None = Field(None, gt=0, description="live sessions at once, all workers")
    heartbeat_interval_s: float = Field(1.0, gt=0)
    heartbeat_timeout_s: float = Field(10.0, gt=0)
    poll_interval_s: float = Field(0.5, gt=0)
    ready_timeout_s: float = Field(120.0, gt=0)
    request_timeout_s: float = Field(600.0, gt=0)
    socket: bool = True

    def resolved_backend(self, override: str | None = None) -> Backend:
        choice = override or self.backend
        if choice == AUTO:
            return TCL if shutil.which(self.tclsh) else PSEUDO
        return choice

    @property
    def secret_names(self) -> list[str]:
        return [*self.license_env, *self.secret_env]


class LibreLaneConfig(_Strict):
    """How this site runs LibreLane flows."""

    backend: Backend = Field(
        PSEUDO,
        description="pseudo, real, or a flow backend a plugin registers; "
        "--spilot-backend NAME overrides",
    )
    pdk: str = Field("sky130A", description="default PDK: a name under PDK_ROOT, or a path")
    pdk_root: str | None = Field(None, description="default: $PDK_ROOT, else ~/.ciel")
    path_prepend: list[str] = Field(
        default_factory=list, description="folders put before PATH for the flow (tools)"
    )
    env: dict[str, str] = Field(default_factory=dict)
    launcher: str = "local"
    runner: Literal["api", "cli"] = Field(
        "api",
        description="real backend: api (LibreLane's Python API in a child) or cli (its "
        "command line, as engineers run it); a validation's runner overrides",
    )
    command: list[str] = Field(
        default_factory=list,
        description="runner cli: the librelane command, e.g. [librelane] or "
        "[/tools/ll/bin/python, -m, librelane]; default: this Python's -m librelane",
    )

    def resolved_backend(
        self, override: str | None = None, flow_backends: Collection[str] = FLOW_BACKENDS
    ) -> str:
        # "tcl" names the Innovus stand-in (an override that is no flow backend): flows keep
        # their configured backend then.
        if override is not None and override in flow_backends:
            return override
        return self.backend


class ResourcePools(_Strict):
    """The machine-wide pools that validations' ``resources`` draw from (all workers, all runs
    sharing .spilot/); --spilot-cpus and --spilot-license FEATURE=N override."""

    cpus: int | None = Field(
        None, gt=0, description="CPU tokens (default: the CPUs this process may run on)"
    )
    licenses: dict[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.\-]*$")], int] = Field(
        default_factory=dict,
        description="licence feature: how many jobs' worth at once, e.g. {innovus = 4, genus = 2}",
    )
    batch_licenses: bool = Field(
        False,
        description="the batch system accounts for the licences its jobs ask for (srun "
        "--licenses, bsub rusage): jobs sent to it take no local licence tokens",
    )

    @field_validator("licenses")
    @classmethod
    def _positive(cls, value: dict[str, int]) -> dict[str, int]:
        bad = [f"{k} = {n}" for k, n in value.items() if n < 1]
        if bad:
            raise ValueError(f"licence pools need at least 1 each, not {', '.join(bad)}")
        return value


class SiteConfig(_Strict):
    innovus: InnovusConfig = Field(default_factory=InnovusConfig)
    librelane: LibreLaneConfig = Field(default_factory=LibreLaneConfig)
    launchers: dict[str, GridLauncherConfig] = Field(default_factory=dict)
    resources: ResourcePools = Field(default_factory=ResourcePools)

    def secrets(self, env: Mapping[str, str]) -> Redactor:
        """The site's secret set: licence and secret names, valued in ``env`` or the configs."""
        secrets = Redactor(self.innovus.secret_names, {**env, **self.innovus.env})
        secrets.add((), self.librelane.env)
        return secrets

    def check_backends(self, registry: Registry) -> None:
        """Raise SpilotError unless each configured backend is registered (a plugin's too)."""
        if self.innovus.backend != AUTO:
            registry.check_backend(
                self.innovus.backend, "[tool.spilot.innovus] backend", registry.session_backends
            )
        registry.check_backend(
            self.librelane.backend, "[tool.spilot.librelane] backend", registry.flow_backends
        )

    def with_backend(self, override: str | None, registry: Registry) -> SiteConfig:
        """This configuration under ``--spilot-backend``: Innovus sessions switch when it names
        a session backend, flows when it names a flow backend (``tcl`` leaves flows alone)."""
        if override is None:
            return self
        update: dict[str, object] = {}
        if override in registry.session_backends:
            update["innovus"] = self.innovus.model_copy(update={"backend": override})
        if override in registry.flow_backends:
            update["librelane"] = self.librelane.model_copy(update={"backend": override})
        return self.model_copy(update=update)

    def grid_launchers(self) -> list[TemplateLauncher]:
        """The built-in submitters with the site's overrides, and the site's own."""
        configured = {name: GridLauncherConfig(template=t) for name, t in BUILTIN_TEMPLATES.items()}
        configured.update(self.launchers)
        launchers = []
        for name, cfg in configured.items():
            control = {
                **BUILTIN_CONTROL.get(name, {}),
                **cfg.model_dump(include={"cancel", "job_id", "active"}, exclude_none=True),
            }
            launchers.append(
                TemplateLauncher(
                    name=name,
                    template=cfg.template,
                    fields=cfg.model_dump(exclude={"template", *control}, exclude_none=True),
                    **control,
                )
            )
        by_name = {launcher.name: launcher for launcher in launchers}
        for alias, target in ALIASES.items():
            if alias not in by_name and target in by_name:
                launchers.append(dataclasses.replace(by_name[target], name=alias))
        return launchers


def load_site_config(root: Path, path: Path | None = None) -> SiteConfig:
    """``path`` (YAML), else ``[tool.spilot]`` of ``root/pyproject.toml``, else defaults."""
    if path is not None:
        doc = load_yaml(path)
        data, line_of = doc.data or {}, doc.line_of
    else:
        pyproject = root / "pyproject.toml"
        if not pyproject.is_file():
            return SiteConfig()
        path = pyproject
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise PlanError(pyproject, f"cannot read it as TOML: {exc}") from None
        data = data.get("tool", {}).get("spilot", {})
        line_of = None
    try:
        return SiteConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        where = dotted(loc) if path.suffix != ".toml" else "tool.spilot." + dotted(loc)
        raise PlanError(
            path,
            f"{err['msg']}; see README.md (Configuring a production site)",
            line=line_of(loc) if line_of else None,
            field=where,
        ) from None
