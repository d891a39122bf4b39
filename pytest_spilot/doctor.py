"""``spilot doctor``: this environment against the site configuration, one row per check with a
fix for every failure — tools on PATH, licence variables, the Innovus backend reaching
``ready``, LibreLane's toolchain and PDK, every inventory node, and Slurm."""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pytest_spilot.errors import SpilotError
from pytest_spilot.innovus.session import InnovusSession
from pytest_spilot.launchers.base import Launcher
from pytest_spilot.launchers.ssh import SshLauncher
from pytest_spilot.launchers.template import TemplateLauncher
from pytest_spilot.librelane.config import resolve_pdk
from pytest_spilot.registry import Registry
from pytest_spilot.remote.inventory import load_inventory
from pytest_spilot.remote.node import NodePool
from pytest_spilot.reporting.table import columns
from pytest_spilot.siteconfig import SiteConfig

Status = Literal["ok", "FAIL", "skip"]


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""


class Doctor:
    """Runs every check that the configuration makes relevant."""

    def __init__(
        self,
        site: SiteConfig,
        registry: Registry,
        nodes: NodePool | None = None,
        backend: str | None = None,
    ) -> None:
        self.site = site
        self.nodes = nodes
        self.backend = site.innovus.resolved_backend(backend)
        launchers: dict[str, Launcher] = dict(registry.launchers)
        launchers.update({g.name: g for g in site.grid_launchers()})
        if nodes is not None:
            launchers.update({n: SshLauncher(nodes.get(n)) for n in nodes.inventory.nodes})
        self.registry = dataclasses.replace(registry, launchers=launchers)

    def checks(self) -> Iterator[Check]:
        yield _job_tracking()
        yield from self._innovus()
        yield from self._librelane()
        yield from self._nodes()
        yield from self._slurm()

    # -- Innovus ------------------------------------------------------------------------------

    def _innovus(self) -> Iterator[Check]:
        cfg = self.site.innovus
        if self.backend == "real":
            tool = shlex.split(cfg.binary)[0]
            yield _on_path(
                "innovus binary", tool, "set binary in [tool.spilot.innovus] or put it on PATH"
            )
            for name in cfg.license_env:
                value = cfg.env.get(name) or os.environ.get(name)
                yield (
                    Check(f"licence variable {name}", "ok", "set (value not shown)")
                    if value
                    else Check(
                        f"licence variable {name}",
                        "FAIL",
                        "not set",
                        f"export {name}=PORT@SERVER, or set it under env in "
                        "[tool.spilot.innovus]; drop it from license_env if unused",
                    )
                )
        elif self.backend == "tcl":
            yield _on_path("tclsh (Innovus stand-in)", cfg.tclsh, "apt-get install -y tcl")
        yield from self._launcher("innovus launcher", cfg.launcher)
        yield self._session_ready()

    def _session_ready(self) -> Check:
        name = f"innovus session ({self.backend}) ready"
        cfg = self.site.innovus
        with tempfile.TemporaryDirectory(prefix="spilot-doctor-") as tmp:
            session = InnovusSession(
                cfg,
                self.registry.session_backends,
                self.registry.launchers,
                Path(tmp),
                backend=self.backend,
                worker="doctor",
            )
            start = time.monotonic()
            try:
                session.supervisor()
            except SpilotError as exc:
                return Check(
                    name,
                    "FAIL",
                    str(exc).splitlines()[0][:300],
                    "see the message; the session's logs are under its run directory",
                )
            finally:
                session.close()
        return Check(name, "ok", f"ready in {time.monotonic() - start:.2f} s")

    def _launcher(self, name: str, launcher_name: str) -> Iterator[Check]:
        launcher = self.registry.launchers.get(launcher_name)
        if launcher is None:
            yield Check(
                name,
                "FAIL",
                f"{launcher_name!r} is not a known launcher",
                f"use one of {', '.join(sorted(self.registry.launchers))}, or define it under "
                "[tool.spilot.launchers]",
            )
        elif isinstance(launcher, TemplateLauncher):
            yield _on_path(f"{name} {launcher_name}", launcher.template[0], "install the submitter")
        else:
            yield Check(f"{name} {launcher_name}", "ok", type(launcher).__name__)

    # -- LibreLane ----------------------------------------------------------------------------

    def _librelane(self) -> Iterator[Check]:
        cfg = self.site.librelane
        if cfg.backend != "real":
            yield Check("librelane backend", "ok", "pseudo (no toolchain needed)")
            return
        for module in ("librelane", "pyosys"):
            found = importlib.util.find_spec(module) is not None
            yield Check(
                f"python module {module}",
                "ok" if found else "FAIL",
                "importable" if found else "not installed",
                "" if found else "pip install 'pytest-spilot[librelane]'",
            )
        yield _on_path("verilator", "verilator", "apt-get install -y verilator")
        try:
            pdk = resolve_pdk(cfg.pdk, cfg.pdk_root)
        except SpilotError as exc:
            yield Check(f"PDK {cfg.pdk}", "FAIL", str(exc)[:300], "set pdk/pdk_root, or PDK_ROOT")
        else:
            yield Check(f"PDK {cfg.pdk}", "ok", str(pdk))
        yield from self._launcher("librelane launcher", cfg.launcher)

    # -- nodes and Slurm ----------------------------------------------------------------------

    def _nodes(self) -> Iterator[Check]:
        if self.nodes is None:
            yield Check("node inventory", "skip", "none (only needed for remote validations)")
            return
        for name in self.nodes.inventory.nodes:
            node = self.nodes.get(name)
            try:
                node.connection()
                path = node.effective_path()
            except SpilotError as exc:
                yield Check(f"node {name}", "FAIL", str(exc)[:300], _fix_of(str(exc)))
            else:
                yield Check(f"node {name}", "ok", f"reachable, preflight passed; PATH={path}")

    def _slurm(self) -> Iterator[Check]:
        used = {self.site.innovus.launcher, self.site.librelane.launcher} & {"srun", "slurm"}
        if shutil.which("srun") is None:
            status: Status = "FAIL" if used else "skip"
            yield Check(
                "slurm",
                status,
                "srun not on PATH (needed for location: srun)",
                "install slurm-client and point SLURM_CONF at the cluster" if used else "",
            )
            return
        out = _run(["sinfo", "--noheader", "--format=%P %a %D %T"])
        if out is None or out.returncode != 0:
            lines = out.stderr.strip().splitlines() if out is not None else []
            detail = lines[-1][:300] if lines else "sinfo did not answer"
            yield Check(
                "slurm",
                "FAIL" if used else "skip",
                detail,
                "check SLURM_CONF and that slurmctld runs (needed for location: srun)",
            )
        else:
            yield Check("slurm", "ok", " | ".join(out.stdout.split("\n")[:3]).strip())


def _job_tracking() -> Check:
    from pytest_spilot.launchers import cgroup
    from pytest_spilot.launchers.reaper import tracking_method

    complete, how = tracking_method()
    if not complete:
        return Check(
            "job tracking", "FAIL", how, "run on Linux, where /proc finds a job's processes"
        )
    if cgroup.tracking().kind is not None:
        return Check("job tracking", "ok", how)
    if os.environ.get(cgroup.SWITCH, "auto").strip().lower() not in ("", "auto"):
        return Check("job tracking", "ok", how, f"unset {cgroup.SWITCH} to use cgroups")
    return Check(
        "job tracking",
        "ok",
        how,
        "for cgroups run as root where /sys/fs/cgroup is writable, or delegate a cgroup",
    )


def _on_path(name: str, tool: str, fix: str) -> Check:
    where = shutil.which(tool)
    return Check(name, "ok", where) if where else Check(name, "FAIL", f"{tool}: not on PATH", fix)


def _run(argv: list[str]) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.SubprocessError):
        return None


def _fix_of(message: str) -> str:
    """The fix is the message's last clause (every node error ends with one)."""
    return message.rsplit("; ", 1)[-1][:200] if "; " in message else ""


def doctor(
    site: SiteConfig,
    registry: Registry,
    nodes_path: Path | None,
    backend: str | None = None,
    say: Callable[[str], None] | None = None,
) -> list[Check]:
    nodes = NodePool(load_inventory(nodes_path), say=say) if nodes_path else None
    try:
        return list(Doctor(site, registry, nodes, backend).checks())
    finally:
        if nodes is not None:
            nodes.close()


def render_checks(checks: list[Check]) -> str:
    header = ("check", "status", "detail", "fix")
    rows = [(c.name, c.status, c.detail, c.fix) for c in checks]
    lines = columns(header, rows)
    failed = sum(c.status == "FAIL" for c in checks)
    lines.append(f"{failed} of {len(checks)} checks failed" if failed else "all checks passed")
    return "\n".join(lines)
