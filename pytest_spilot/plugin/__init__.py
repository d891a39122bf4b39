"""The pytest plugin: wires pytest's hooks onto the pytest-spilot library."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_spilot import builtin_plugin, hookspecs
from pytest_spilot.backend_names import SESSION_BACKENDS
from pytest_spilot.core.gates import GateBoard
from pytest_spilot.core.regressions import DEFAULT_MARGIN_PCT
from pytest_spilot.core.release import Release
from pytest_spilot.core.settings import SPILOT_DIR, Settings
from pytest_spilot.core.store import ReleaseStore, journal_dir
from pytest_spilot.errors import SpilotError
from pytest_spilot.launchers.configured import check_node_names, configured_launchers
from pytest_spilot.librelane.service import LibreLaneFlows
from pytest_spilot.plan.loader import PLAN_SUFFIXES
from pytest_spilot.plugin import remote
from pytest_spilot.plugin.nodes import RELEASE_KEY, PlanFile, SpilotItem
from pytest_spilot.plugin.secrets import ReportRedaction, process_secrets
from pytest_spilot.project import INVENTORY_NAMES
from pytest_spilot.redact import Redactor
from pytest_spilot.registry import Registry
from pytest_spilot.siteconfig import SiteConfig, load_site_config

# Every pytest process imports this plugin (the controller and each xdist worker): what only
# some runs use (the Innovus session machinery, the LibreLane flows, paramiko, the release
# reporter of the controller, the plan printer) is imported where it is used (issue 12).
if TYPE_CHECKING:
    from xdist.remote import Producer
    from xdist.scheduler.protocol import Scheduling

    from pytest_spilot.innovus.session import InnovusSession, SkillResult
    from pytest_spilot.launchers.base import Launcher
    from pytest_spilot.librelane.progress import Progress
    from pytest_spilot.remote.node import NodePool
    from pytest_spilot.resources import PoolSizes

FOLD_WARNINGS_KEY = pytest.StashKey[list[str]]()
RUN_ID_KEY = pytest.StashKey[str]()

MARKERS = {
    "release": "a release validation or acceptance threshold",
    "gate": "a migration or release gate: must hold before validations are worth running",
    "smoke": "a fast check on the pseudo backends",
    "innovus": "needs an Innovus session (pseudo, Tcl stand-in or real)",
    "librelane": "needs a LibreLane flow (pseudo or real)",
    "remote": "needs a remote node (SSH) or a batch system",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("spilot", "release validation (pytest-spilot)")
    group.addoption(
        "--spilot-version",
        metavar="VERSION",
        help="release version the results belong to (default: git describe, "
        "else 'dev'; ini: spilot_version)",
    )
    group.addoption(
        "--spilot-state",
        metavar="PATH",
        help="release state file (default: .spilot/<version>.json)",
    )
    group.addoption(
        "--spilot-resume",
        action="store_true",
        help="skip validations that already passed for this version",
    )
    group.addoption(
        "--spilot-baseline",
        metavar="PATH|VERSION",
        help="earlier release's state that 'baseline:' thresholds compare with",
    )
    group.addoption(
        "--spilot-regressions",
        action="store_true",
        help="add a 'regressions' test per validation: every metric with a direction that "
        "worsened against --spilot-baseline by more than its margin fails it",
    )
    group.addoption(
        "--spilot-regression-margin",
        type=float,
        default=DEFAULT_MARGIN_PCT,
        metavar="PCT",
        help="allowed worsening in percent of the baseline value (default 5; "
        "'regressions:' in a validation file sets it per metric)",
    )
    group.addoption(
        "--spilot-evidence",
        metavar="PATH",
        help="write the evidence matrix of the run's migration gates (kind: migration) as JSON",
    )
    group.addoption(
        "--spilot-runs", metavar="DIR", help="root of the run directories (default: .spilot/runs)"
    )
    group.addoption(
        "--spilot-plan", action="store_true", help="print the expanded release plan and run nothing"
    )
    group.addoption(
        "--spilot-live",
        metavar="[HOST:]PORT",
        help="serve a live page of this run from the controller (127.0.0.1 unless HOST says "
        "otherwise; another address gets a token, printed with the URL; PORT 0: any free one)",
    )
    group.addoption(
        "--spilot-backend",
        # Any registered backend is accepted (checked against the registry in configure);
        # the metavar shows the built-in ones.
        metavar="{" + ",".join(SESSION_BACKENDS) + "}",
        help="backend of Innovus sessions (pseudo|tcl|real; default: [tool.spilot.innovus] "
        "backend, else tcl where tclsh exists, else pseudo) and of LibreLane flows (pseudo|real; "
        "tcl leaves flows on [tool.spilot.librelane] backend): 'real' switches both; or a "
        "backend a plugin registers, for sessions or flows, whichever it is",
    )
    group.addoption(
        "--spilot-innovus-licenses",
        type=int,
        metavar="N",
        help="at most N live Innovus sessions across all xdist workers: the innovus licence "
        "pool (an alias of --spilot-license innovus=N)",
    )
    group.addoption(
        "--spilot-cpus",
        type=int,
        metavar="N",
        help="CPU tokens that validations' resources: {cpus: N} share across all xdist "
        "workers (default: [tool.spilot.resources] cpus, else this machine's CPUs)",
    )
    group.addoption(
        "--spilot-license",
        action="append",
        default=[],
        metavar="FEATURE=N",
        help="a licence pool: at most N jobs' worth of FEATURE at once across all workers "
        "(repeatable; over [tool.spilot.resources] licenses)",
    )
    group.addoption(
        "--spilot-nodes",
        metavar="PATH",
        help="node inventory YAML (default: nodes.yaml beside the validations; ini: spilot_nodes)",
    )
    group.addoption(
        "--spilot-config",
        metavar="PATH",
        help="site configuration YAML (default: [tool.spilot] in pyproject.toml; "
        "ini: spilot_config)",
    )
    parser.addini(
        "spilot_paths",
        type="paths",
        default=[],
        help="folders whose *.yaml/*.yml files are validation files (default: validations)",
    )
    parser.addini("spilot_version", default="", help="default for --spilot-version")
    parser.addini("spilot_config", default="", help="default for --spilot-config")
    parser.addini("spilot_nodes", default="", help="default for --spilot-nodes")


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)
    pluginmanager.register(builtin_plugin, "spilot-builtins")
    pluginmanager.register(remote, "spilot-remote")


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    if config.getoption("spilot_plan"):
        # The plan is printed by the process that collects: keep it in this one.
        config.option.numprocesses = 0
        config.option.dist = "no"
        config.option.tx = []


def pytest_configure(config: pytest.Config) -> None:
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    try:
        settings = Settings.resolve(
            config.rootpath,
            version=config.getoption("spilot_version") or config.getini("spilot_version") or None,
            state_path=config.getoption("spilot_state"),
            runs_root=config.getoption("spilot_runs"),
            resume=config.getoption("spilot_resume"),
            baseline=config.getoption("spilot_baseline"),
            regressions=config.getoption("spilot_regressions"),
        )
        worker = getattr(config, "workerinput", {}).get("workerid", "main")
        folded = None
        if settings.resume and worker == "main":
            # Folded once here, before any worker starts: the workers then read a document
            # and an almost empty journal instead of each folding the whole release.
            folded = ReleaseStore(settings.state_path, settings.version).fold()
            config.stash[FOLD_WARNINGS_KEY] = folded.warnings
        site = _site_config(config)
        nodes = remote.node_pool(
            config,
            remote.inventory_path(config, _plan_dirs(config)),
            settings.runs_root / settings.version / "nodes",
        )
        config.stash[remote.NODES_KEY] = nodes
        if nodes is not None:
            check_node_names(nodes.inventory, ["local", *(g.name for g in site.grid_launchers())])
        config.pluginmanager.register(
            ConfiguredLaunchers(site, nodes), "spilot-configured-launchers"
        )
        secrets = process_secrets(site, nodes.inventory if nodes is not None else None)
        if nodes is not None:
            nodes.secrets = secrets
        config.pluginmanager.register(ReportRedaction(secrets), "spilot-report-redaction")
        registry = Registry.from_hook(config.hook)
        registry.check_backend(config.getoption("spilot_backend"))
        site.check_backends(registry)
        site = site.with_backend(config.getoption("spilot_backend"), registry)
        if folded is not None and folded.state is not None:
            from pytest_spilot.core.orphans import end_orphans

            # Before any job of this run starts: a crashed run's copy must not run beside it.
            config.stash[FOLD_WARNINGS_KEY] += end_orphans(folded.state, registry.launchers)
        from pytest_spilot.resources import PoolSizes

        pools = PoolSizes.resolve(
            site_cpus=site.resources.cpus,
            site_licenses=site.resources.licenses,
            batch_licenses=site.resources.batch_licenses,
            cli_cpus=config.getoption("spilot_cpus"),
            cli_licenses=config.getoption("spilot_license"),
            site_innovus=site.innovus.licenses,
            cli_innovus=config.getoption("spilot_innovus_licenses"),
        )
        innovus = _innovus_session(config, settings, site, registry, secrets, pools)
        run_id = getattr(config, "workerinput", {}).get("testrunuid") or uuid.uuid4().hex
        release = Release(
            settings,
            registry,
            notify=lambda record: config.hook.pytest_spilot_validation_finished(record=record),
            innovus=innovus,
            librelane=LibreLaneFlows(
                site.librelane,
                registry.flow_backends,
                registry.launchers,
                settings.runs_root / settings.version / "flows",
                backend=None,
                root=config.rootpath,
                on_progress=FlowProgressLine(config),
                secrets=secrets,
            ),
            nodes=nodes,
            gates=GateBoard(settings.root / SPILOT_DIR / "gates", run_id),
            worker=worker,
            secrets=secrets,
            pools=pools,
        )
    except SpilotError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[RELEASE_KEY] = release
    config.stash[RUN_ID_KEY] = run_id
    config.pluginmanager.register(PlanFileErrors(), "spilot-plan-file-errors")
    if not hasattr(config, "workerinput"):
        from pytest_spilot.plugin.reporter import ReleaseReporter

        evidence = config.getoption("spilot_evidence")
        fold_warnings: list[str] = config.stash.get(FOLD_WARNINGS_KEY, [])
        config.pluginmanager.register(
            ReleaseReporter(settings, Path(evidence) if evidence else None, fold_warnings),
            "spilot-reporter",
        )
        if not config.getoption("spilot_plan"):
            from pytest_spilot.plugin.progress import ReleaseProgressView

            config.pluginmanager.register(
                ReleaseProgressView(journal_dir(settings.state_path)), "spilot-progress"
            )
            address = config.getoption("spilot_live")
            if address:
                from pytest_spilot.plugin.live import LiveView

                try:
                    live = LiveView(
                        address,
                        settings.state_path.parent,
                        settings.runs_root,
                        settings.version,
                        secrets,
                    )
                except SpilotError as exc:
                    raise pytest.UsageError(str(exc)) from None
                config.pluginmanager.register(live, "spilot-live")


def pytest_unconfigure(config: pytest.Config) -> None:
    release = config.stash.get(RELEASE_KEY, None)
    if release is not None:
        release.close()
    if release is not None and release.innovus is not None:
        release.innovus.close()
    nodes = config.stash.get(remote.NODES_KEY, None)
    if nodes is not None:
        nodes.close()


def _site_config(config: pytest.Config) -> SiteConfig:
    path = config.getoption("spilot_config") or config.getini("spilot_config")
    return load_site_config(config.rootpath, config.rootpath / path if path else None)


def _innovus_session(
    config: pytest.Config,
    settings: Settings,
    site: SiteConfig,
    registry: Registry,
    secrets: Redactor,
    pools: PoolSizes,
) -> InnovusSession:
    from pytest_spilot.innovus.session import InnovusSession

    cfg = site.innovus
    # The innovus licence pool caps the sessions (one token each), as it caps the jobs.
    licenses = pools.licenses.get("innovus")
    slots = None
    if licenses:
        from pytest_spilot.innovus.licenses import LicenseSlots

        slots = LicenseSlots(settings.root / SPILOT_DIR / "resources", licenses)
    worker = getattr(config, "workerinput", {}).get("workerid", "main")
    return InnovusSession(
        cfg,
        registry.session_backends,
        registry.launchers,
        settings.runs_root / settings.version / "sessions",
        worker=worker,
        licenses=slots,
        skill_dirs=[config.rootpath / d for d in cfg.skills],
        say=lambda text: print(
            f"[spilot {worker}] {secrets.text(text)}", file=sys.stderr, flush=True
        ),
        secrets=secrets,
    )


class FlowProgressLine:
    """A long LibreLane run's position on the terminal (not under xdist: workers have no
    terminal; the run's ``spilot-progress.jsonl`` has it there)."""

    QUIET_S = 2.0  # short runs stay silent

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.first: float | None = None

    def __call__(self, progress: Progress) -> None:
        release = self.config.stash.get(RELEASE_KEY, None)
        if release is not None:
            release.progress(progress)
        if hasattr(self.config, "workerinput"):
            return
        if progress.state == "running" and progress.step_index <= 1:
            self.first = progress.ts
        if self.first is None or progress.ts - self.first < self.QUIET_S:
            return
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"[librelane] {progress.line()}")


class ConfiguredLaunchers:
    """The site's grid submitters and the inventory's nodes, offered through the launcher hook."""

    def __init__(self, site: SiteConfig, nodes: NodePool | None) -> None:
        self.site = site
        self.nodes = nodes

    @pytest.hookimpl
    def pytest_spilot_launchers(self) -> list[Launcher]:
        return configured_launchers(self.site, self.nodes)


def _plan_dirs(config: pytest.Config) -> list[Path]:
    return list(config.getini("spilot_paths")) or [config.rootpath / "validations"]


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> PlanFile | None:
    if file_path.suffix not in PLAN_SUFFIXES or file_path.name in INVENTORY_NAMES:
        return None
    under_plan_dir = any(file_path.is_relative_to(d) for d in _plan_dirs(parent.config))
    if under_plan_dir or parent.session.isinitpath(file_path):
        return PlanFile.from_parent(parent, path=file_path)
    return None


class PlanFileErrors:
    """A broken plan file is its own collection error and the other files still run.

    Only when every collection error is a plan file's: Python modules keep pytest's usual rule.
    """

    def __init__(self) -> None:
        self.nodeids: set[str] = set()

    @pytest.hookimpl
    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed and report.nodeid.endswith(PLAN_SUFFIXES):
            self.nodeids.add(report.nodeid)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> None:
        if self.nodeids and session.testsfailed == len(self.nodeids):
            session.config.option.continue_on_collection_errors = True


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    if not config.getoption("spilot_plan"):
        return
    planned = {
        item.validation.key: item.validation for item in items if isinstance(item, SpilotItem)
    }
    validations = list(planned.values())
    release = config.stash[RELEASE_KEY]
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    where = {}
    if release.innovus is not None:
        innovus = release.innovus
        where["innovus"] = f"innovus:{innovus.backend_name} via {innovus.config.launcher}"
        where["migration"] = f"innovus:{innovus.backend_name}"  # unless target: says otherwise
    if release.librelane is not None:
        flows = release.librelane
        where["librelane"] = f"librelane:{flows.backend_name} via {flows.config.launcher}"
    from pytest_spilot.reporting.plan import render_plan

    text = render_plan(
        validations,
        release.registry,
        release.settings,
        where,
        pools=release.pools,
        tokens=release.job_tokens,
    )
    if reporter is not None:
        reporter.write_line(text)
    config.hook.pytest_deselected(items=list(items))
    items.clear()


def pytest_collection_finish(session: pytest.Session) -> None:
    config = session.config
    release = config.stash.get(RELEASE_KEY, None)
    worker = getattr(config, "workerinput", {}).get("workerid", "main")
    # Every xdist worker collects the same items: the first one says what the run will run.
    if release is None or config.getoption("spilot_plan") or worker not in ("main", "gw0"):
        return
    planned = {
        item.validation.key: item.validation
        for item in session.items
        if isinstance(item, SpilotItem)
    }
    if planned:
        release.planned(list(planned.values()), config.stash[RUN_ID_KEY])


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # Closed before xdist tells the controller this worker is done: the controller's fold
    # then finds the journal file finished and removes it.
    release = session.config.stash.get(RELEASE_KEY, None)
    if release is not None:
        release.close()
    if session.config.getoption("spilot_plan") and exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
        session.exitstatus = pytest.ExitCode.OK


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Producer) -> Scheduling | None:
    if config.getoption("dist") != "load":
        return None
    from pytest_spilot.plugin.scheduler import ValidationScopeScheduling

    return ValidationScopeScheduling(config, log)


@pytest.fixture(scope="session")
def innovus_session(request: pytest.FixtureRequest) -> Iterator[InnovusSession]:
    """This worker's Innovus session, started and ready; replaced after a crash, stopped last."""
    session = request.config.stash[RELEASE_KEY].innovus
    assert session is not None, "pytest_configure gives every release its Innovus session"
    try:
        session.supervisor()
    except SpilotError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield session


@pytest.fixture
def innovus_skill(innovus_session: InnovusSession) -> Callable[..., SkillResult]:
    """Run one skill: ``innovus_skill("summary_health", check=True, **args)`` → SkillResult.

    A session lost under the request fails the test with SESSION_LOST and the debug bundle's
    path; the next test gets a new session.
    """
    from pytest_spilot.innovus.protocol import ErrorType

    def run_skill(
        name: str, /, *, timeout_s: float | None = None, check: bool = False, **args: Any
    ) -> SkillResult:
        try:
            result = innovus_session.run_skill(name, args, timeout_s=timeout_s, check=check)
        except SpilotError as exc:
            pytest.fail(str(exc), pytrace=False)
        if result.ack.error_type is ErrorType.SESSION_LOST:
            pytest.fail(f"SESSION_LOST: {result.ack.message}", pytrace=False)
        return result

    return run_skill


@pytest.fixture(scope="session")
def librelane_flow(request: pytest.FixtureRequest) -> LibreLaneFlows:
    """This worker's LibreLane flows: ``librelane_flow.run(design, preset=, pdk=, flow=,
    steps=, timeout=, config=)`` → FlowResult (status, run_dir, metrics, artifacts, ...)."""
    flows = request.config.stash[RELEASE_KEY].librelane
    assert flows is not None
    return flows
