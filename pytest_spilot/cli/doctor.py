"""``spilot doctor``: this environment against the site configuration and the plan pytest would
run, one row per check with a fix for every failure — the validation files, tools on PATH,
licence variables, the Innovus backend reaching ``ready``, the skills the plan runs,
LibreLane's toolchain and the PDKs the plan names, the locations it uses, every inventory node,
and Slurm."""

from __future__ import annotations

import dataclasses
import difflib
import importlib.util
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pytest_spilot.backend_names import PSEUDO, REAL, TCL
from pytest_spilot.errors import SpilotError
from pytest_spilot.innovus.contracts import contract_for, find_skills, pseudo_cannot_run
from pytest_spilot.innovus.environment import backend_tool, find_program, licence_state
from pytest_spilot.innovus.session import InnovusSession
from pytest_spilot.launchers.configured import configured_launchers, submit_command
from pytest_spilot.librelane.config import PdkChoice, resolve_pdk
from pytest_spilot.plan.expand import PlannedValidation
from pytest_spilot.plan.model import (
    InnovusValidation,
    LibreLaneValidation,
    MigrationGate,
    NodeGate,
)
from pytest_spilot.project import ProjectPlan
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
        plan: ProjectPlan | None = None,
    ) -> None:
        # As the pytest plugin: the override switches whichever of the two it names.
        self.site = site = site.with_backend(backend, registry)
        self.nodes = nodes
        self.plan = plan
        self.backend = site.innovus.resolved_backend()
        self.flow_backend = site.librelane.resolved_backend()
        self.skill_dirs = [plan.root / d for d in site.innovus.skills] if plan else []
        launchers = dict(registry.launchers)
        launchers.update({x.name: x for x in configured_launchers(site, nodes)})
        self.registry = dataclasses.replace(registry, launchers=launchers)

    @property
    def planned(self) -> list[PlannedValidation]:
        return self.plan.validations if self.plan is not None else []

    def uses(self, *kinds: type) -> list[PlannedValidation]:
        """The planned validations of these spec types (none when no plan was read)."""
        return [v for v in self.planned if isinstance(v.spec, kinds)]

    def checks(self) -> Iterator[Check]:
        yield _job_tracking()
        yield from self._plan()
        yield from self._innovus()
        yield from self._librelane()
        yield from self._locations()
        yield from self._nodes()
        yield from self._slurm()

    # -- the plan -----------------------------------------------------------------------------

    def _plan(self) -> Iterator[Check]:
        if self.plan is None:
            return
        yield Check("plan", "ok", self.plan.summary())
        for path, error in self.plan.broken:
            first = error.splitlines()[0] if error else "cannot be read"
            yield Check(
                f"plan file {self.plan.rel(path)}",
                "FAIL",
                first[:300],
                "fix it as the message says; pytest --collect-only lists every problem",
            )

    def _read_plan_only(self) -> bool:
        """The whole plan was read: check what it uses, not every default."""
        return self.plan is not None and bool(self.plan.files) and not self.plan.broken

    # -- Innovus ------------------------------------------------------------------------------

    def _innovus(self) -> Iterator[Check]:
        cfg = self.site.innovus
        if self._read_plan_only() and not self.uses(InnovusValidation, MigrationGate):
            yield Check("innovus", "skip", "no innovus validation or migration gate in the plan")
            return
        if self.backend == REAL:
            tool = backend_tool(REAL, cfg.binary, cfg.tclsh)
            yield _on_path(
                "innovus binary",
                tool[0] if tool else "",
                "set binary in [tool.spilot.innovus] or put it on PATH",
            )
            for name, is_set in licence_state(cfg).items():
                yield (
                    Check(f"licence variable {name}", "ok", "set (value not shown)")
                    if is_set
                    else Check(
                        f"licence variable {name}",
                        "FAIL",
                        "not set",
                        f"export {name}=PORT@SERVER, or set it under env in "
                        "[tool.spilot.innovus]; drop it from license_env if unused",
                    )
                )
        elif self.backend == TCL:
            yield _on_path("tclsh (Innovus stand-in)", cfg.tclsh, "apt-get install -y tcl")
        yield from self._launcher("innovus launcher", cfg.launcher)
        yield self._session_ready()
        yield from self._skills()

    def _skills(self) -> Iterator[Check]:
        """Every skill the plan runs: found, with a contract that loads and fits its args."""
        found = find_skills(self.skill_dirs)
        by_skill: dict[str, list[PlannedValidation]] = {}
        args: dict[str, dict[str, Any]] = {}  # by validation key: what the skill step gets
        for validation in self.uses(InnovusValidation):
            spec = validation.spec
            assert isinstance(spec, InnovusValidation)
            by_skill.setdefault(spec.skill, []).append(validation)
            # As runners/innovus.py: 'top' goes to restore_design, the rest to the skill.
            args[validation.key] = {k: a for k, a in spec.args.items() if k != "top"}
        for skill, users in sorted(by_skill.items()):
            name = f"skill {skill}"
            first = users[0]
            script = found.get(skill)
            if script is None:
                near = difflib.get_close_matches(skill, list(found), n=1, cutoff=0.6)
                hint = f"did you mean {near[0]!r}? " if near else ""
                yield Check(
                    name,
                    "FAIL",
                    f"no such skill, used at {self.plan_where(first, 'skill')}; "
                    f"known: {', '.join(sorted(found))}",
                    f"{hint}fix the name, or add {skill}.tcl and {skill}.yaml to a folder "
                    "of [tool.spilot.innovus] skills",
                )
                continue
            if not script.with_suffix(".yaml").is_file():
                yield (
                    Check(
                        name,
                        "FAIL",
                        f"{script} has no contract: the pseudo backend cannot run it",
                        f"write {skill}.yaml beside it, or use --backend tcl|real",
                    )
                    if self.backend == PSEUDO
                    else Check(name, "ok", f"{script} (no contract; used by {_count(users)})")
                )
                continue
            try:
                contract = contract_for(script)
            except SpilotError as exc:
                yield Check(name, "FAIL", str(exc)[:300], "fix the contract beside the script")
                continue
            problems = [
                f"{self.plan_where(v, 'args')}: {p}"
                for v in users
                for p in contract.check_args(args[v.key])
            ]
            gaps = contract.pseudo_gaps() if self.backend == PSEUDO else []
            if problems:
                yield Check(
                    name,
                    "FAIL",
                    "; ".join(problems)[:300],
                    f"give the arguments {script.with_suffix('.yaml').name} declares",
                )
            elif gaps:
                yield Check(
                    name,
                    "FAIL",
                    pseudo_cannot_run(skill, gaps)[:300],
                    f"give each metric a pseudo: figure in {skill}.yaml, or --backend tcl|real",
                )
            else:
                yield Check(name, "ok", f"{script} (used by {_count(users)})")

    def plan_where(self, validation: PlannedValidation, *loc: str | int) -> str:
        return self.plan.where(validation, *loc) if self.plan is not None else validation.key

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
                skill_dirs=self.skill_dirs,
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
        elif (template := submit_command(launcher)) is not None:
            yield _on_path(f"{name} {launcher_name}", template[0], "install the submitter")
        else:
            yield Check(f"{name} {launcher_name}", "ok", type(launcher).__name__)

    # -- LibreLane ----------------------------------------------------------------------------

    def _librelane(self) -> Iterator[Check]:
        cfg = self.site.librelane
        flows = self.uses(LibreLaneValidation)
        if self._read_plan_only() and not flows:
            yield Check("librelane", "skip", "no librelane validation in the plan")
            return
        if self.flow_backend != REAL:
            yield Check("librelane backend", "ok", "pseudo (no toolchain needed)")
        else:
            yield Check("librelane backend", "ok", REAL)
            for module in ("librelane", "pyosys"):
                found = importlib.util.find_spec(module) is not None
                yield Check(
                    f"python module {module}",
                    "ok" if found else "FAIL",
                    "importable" if found else "not installed",
                    "" if found else "pip install 'pytest-spilot[librelane]'",
                )
            yield _on_path("verilator", "verilator", "apt-get install -y verilator")
        yield from self._pdks(flows)
        yield from self._launcher("librelane launcher", cfg.launcher)

    def _pdks(self, flows: list[PlannedValidation]) -> Iterator[Check]:
        """The PDKs the plan's flows name (each as the runner resolves it), else the default."""
        cfg = self.site.librelane
        wanted: dict[str, list[PlannedValidation]] = {}
        for validation in flows:
            assert isinstance(validation.spec, LibreLaneValidation)
            written = validation.spec.pdk
            # As runners/librelane.py: a PDK with a '/' is a path relative to the file.
            text = (
                str(validation.resolve(written))
                if written and "/" in written
                else written or cfg.pdk
            )
            wanted.setdefault(text, []).append(validation)
        if not flows:
            wanted[cfg.pdk] = []
        for text, users in wanted.items():
            shown = self.plan.rel(Path(text)) if self.plan and Path(text).is_absolute() else text
            name = f"PDK {shown}"
            used = f" (used by {_count(users)})" if users else ""
            try:
                pdk = resolve_pdk(text, cfg.pdk_root)
            except SpilotError as exc:
                if self.flow_backend != REAL:
                    yield Check(
                        name,
                        "skip",
                        f"not found{used}; the pseudo backend needs none, the real one will",
                    )
                    continue
                where = f"named at {self.plan_where(users[0], 'pdk')}; " if users else ""
                yield Check(
                    name,
                    "FAIL",
                    f"{where}{str(exc)[:300]}",
                    "set pdk: in the validation (a name under PDK_ROOT or a path), "
                    "pdk/pdk_root in [tool.spilot.librelane], or PDK_ROOT",
                )
            else:
                yield Check(name, "ok", f"{pdk_text(pdk)}{used}")

    # -- where validations run ----------------------------------------------------------------

    def _locations(self) -> Iterator[Check]:
        """Every location the plan names: a node of the inventory or a known launcher."""
        by_location: dict[str, list[PlannedValidation]] = {}
        for validation in self.planned:
            if validation.spec.location != "local":
                by_location.setdefault(validation.spec.location, []).append(validation)
            if isinstance(validation.spec, NodeGate):  # its node: must be in the inventory
                by_location.setdefault(validation.spec.node, []).append(validation)
        inventory = set(self.nodes.inventory.nodes) if self.nodes is not None else set()
        for location, users in sorted(by_location.items()):
            name = f"location {location}"
            if location in inventory:
                yield Check(name, "ok", f"a node of the inventory (used by {_count(users)})")
            elif location in self.registry.launchers:
                launcher = self.registry.launchers[location]
                if (template := submit_command(launcher)) is not None:
                    yield _on_path(name, template[0], "install the submitter")
                else:
                    yield Check(name, "ok", f"{type(launcher).__name__} (used by {_count(users)})")
            else:
                known = sorted({*inventory, *self.registry.launchers})
                near = difflib.get_close_matches(location, known, n=1, cutoff=0.6)
                yield Check(
                    name,
                    "FAIL",
                    f"named at {self.plan_where(users[0], _location_field(users[0]))}: "
                    "neither a node of "
                    f"the inventory nor a launcher (known: {', '.join(known)})",
                    f"did you mean {near[0]!r}?"
                    if near
                    else "add the node to nodes.yaml (--nodes) or the launcher to "
                    "[tool.spilot.launchers]",
                )

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
        launchers = {self.site.innovus.launcher, self.site.librelane.launcher}
        launchers.update(v.spec.location for v in self.planned)
        used = launchers & {"srun", "slurm"}
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


def _location_field(validation: PlannedValidation) -> str:
    return "node" if isinstance(validation.spec, NodeGate) else "location"


def pdk_text(pdk: PdkChoice) -> str:
    """A PDK as its folder (and standard-cell library), the way a user writes it."""
    return str(pdk.root / pdk.name) + (f" (scl {pdk.scl})" if pdk.scl else "")


def _count(users: list[PlannedValidation]) -> str:
    shown = ", ".join(v.key for v in users[:3])
    return shown + (f" and {len(users) - 3} more" if len(users) > 3 else "")


def _on_path(name: str, tool: str, fix: str) -> Check:
    program = find_program(tool)
    if program.where is None:
        return Check(name, "FAIL", program.detail, fix)
    return Check(name, "ok", program.where)


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
    plan: ProjectPlan | None = None,
) -> list[Check]:
    nodes = NodePool(load_inventory(nodes_path), say=say) if nodes_path else None
    try:
        return list(Doctor(site, registry, nodes, backend, plan).checks())
    finally:
        if nodes is not None:
            nodes.close()


def render_checks(checks: list[Check], title: str = "") -> str:
    """The table; ``title`` (where and what was checked) comes first, so that the header is
    never the output's first line (a viewer that capitalises that line showed "Check" in one
    project and "check" in another, depending on whether anything was printed before it)."""
    header = ("check", "status", "detail", "fix")
    rows = [(c.name, c.status, c.detail, c.fix) for c in checks]
    lines = [title] if title else []
    lines += columns(header, rows)
    failed = sum(c.status == "FAIL" for c in checks)
    lines.append(f"{failed} of {len(checks)} checks failed" if failed else "all checks passed")
    return "\n".join(lines)
