"""``spilot``: what is not a test run — render a saved release state, compare two releases,
print the file formats."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pytest_spilot.atomic import write_atomic
from pytest_spilot.backend_names import SESSION_BACKENDS
from pytest_spilot.cli import serve as serve_cmd
from pytest_spilot.cli.doctor import doctor, render_checks
from pytest_spilot.cli.rules import add_orfs_arguments, run_tighten
from pytest_spilot.cli.schema import FORMATS, json_schema
from pytest_spilot.cli.site import site_redactor
from pytest_spilot.core.regressions import DEFAULT_MARGIN_PCT, compare_states, render_table, to_json
from pytest_spilot.core.settings import SPILOT_DIR, load_release, release_path, release_versions
from pytest_spilot.core.state import ReleaseState
from pytest_spilot.errors import SpilotError
from pytest_spilot.innovus.contracts import SkillContract, contract_for, find_skills
from pytest_spilot.project import read_plan
from pytest_spilot.redact import Redactor
from pytest_spilot.registry import Registry, plugin_manager
from pytest_spilot.reporting.junit import state_to_junit
from pytest_spilot.reporting.table import ReleaseTable, columns
from pytest_spilot.siteconfig import load_site_config


def _report(args: argparse.Namespace) -> int:
    arg = args.state if args.state is not None else _latest()
    secrets = site_redactor()
    state = _redacted(_load(arg), secrets)
    if args.junit:
        write_atomic(args.junit, state_to_junit(state))
        print(f"wrote {args.junit}")
    if args.html:
        from pytest_spilot.live.report import write_report

        document = release_path(arg, Path.cwd(), _state_dir())
        write_report(document.parent, state.version, args.html, secrets, compare_with=args.compare)
        print(f"wrote {args.html}")
    table = ReleaseTable.from_state(state)
    print(table.render([f"release {state.version}: {len(state.validations)} validations"]))
    failed = [r for r in table.rows.values() if r.result in ("failed", "error")]
    return 1 if failed else 0


def _redacted(state: ReleaseState, secrets: Redactor) -> ReleaseState:
    """``state`` without the values of this site's secrets (a state written elsewhere, or by
    an older version, may hold them)."""
    if not secrets.values:
        return state
    return ReleaseState.model_validate_json(secrets.text(state.model_dump_json()))


def _load(arg: str) -> ReleaseState:
    """A state file's path, or a version whose state is ``.spilot/<version>.json``."""
    return load_release(arg, Path.cwd(), _state_dir())


def _state_dir() -> Path:
    """``.spilot/`` of the project this command runs in: here, else in the nearest folder
    above, up to the project's root (its ini file; pytest writes ``.spilot/`` there)."""
    here = Path.cwd()
    for folder in (here, *here.parents):
        if (folder / SPILOT_DIR).is_dir() or any((folder / n).is_file() for n in _INI_FILES):
            return folder / SPILOT_DIR
    return here / SPILOT_DIR


_INI_FILES = ("pytest.toml", "pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg")


def _latest() -> str:
    """The most recently written release under ``.spilot/``, said on stderr."""
    state_dir = _state_dir()
    found = release_versions(state_dir)
    if not found:
        raise SpilotError(
            f"no release state in {state_dir}: run pytest first (it writes "
            ".spilot/<version>.json; --spilot-version names it), or give a state file's path: "
            "spilot report PATH|VERSION"
        )
    if len(found) > 1:
        print(
            f"spilot: reporting {found[-1]}, the latest written of {', '.join(found)} "
            "(spilot report VERSION picks another)",
            file=sys.stderr,
        )
    return found[-1]


def _compare(args: argparse.Namespace) -> int:
    old, new = _load(args.old), _load(args.new)
    changes = compare_states(old, new, args.margin / 100)
    if args.markdown:
        from pytest_spilot.reporting.markdown import compare_markdown

        print(compare_markdown(changes, old.version, new.version), end="")
        return 1 if any(c.failed for c in changes) else 0
    if not args.all:
        changes = [c for c in changes if c.verdict not in ("same", "no direction")]
    if args.json:
        print(to_json(changes))
    else:
        print(render_table(changes, f"release {old.version} -> {new.version}"))
    # A regression LibreLane does not mark critical is reported, not failed (as in the run).
    return 1 if any(c.failed for c in changes) else 0


def _tighten(args: argparse.Namespace) -> int:
    return run_tighten(args, _load)


def _doctor(args: argparse.Namespace) -> int:
    root = args.root.resolve()
    # First: it makes the plugin kinds of installed `spilot` entry points known to the plan.
    registry = Registry.from_hook(plugin_manager().hook)
    registry.check_backend(args.backend, "--backend")
    plan = read_plan(root)
    site_path = args.config or plan.setting("spilot_config")
    site = load_site_config(root, site_path)
    site.check_backends(registry)
    plan.check(root / d for d in site.innovus.skills)
    nodes = args.nodes or plan.inventory()
    checks = doctor(site, registry, nodes, args.backend, say=_to_stderr, plan=plan)
    site_text = site_path or (
        "[tool.spilot] of pyproject.toml" if (root / "pyproject.toml").is_file() else "defaults"
    )
    print(render_checks(checks, f"spilot doctor in {root} (site configuration: {site_text})"))
    return 1 if any(c.status == "FAIL" for c in checks) else 0


def _skills(args: argparse.Namespace) -> int:
    """Every skill a session would have (shipped, then the site's folders), from its contract."""
    root = args.root.resolve()
    site = load_site_config(root, args.config)
    scripts = find_skills([root / d for d in site.innovus.skills])
    wanted = set(args.names)
    unknown = sorted(wanted - set(scripts))
    if unknown:
        raise SpilotError(
            f"no skill {', '.join(unknown)}; known: {', '.join(sorted(scripts))} (a site's "
            "skills come from the folders named by skills in [tool.spilot.innovus])"
        )
    blocks = []
    for name, script in sorted(scripts.items()):
        if wanted and name not in wanted:
            continue
        if not script.with_suffix(".yaml").is_file():
            blocks.append(
                f"{name}  ({script})\n  no contract: runs on the tcl and real backends only"
            )
            continue
        blocks.append(_skill_text(contract_for(script), script))
    print("\n\n".join(blocks))
    return 0


def _skill_text(contract: SkillContract, script: Path) -> str:
    lines = [f"{contract.name}  ({script})"]
    if contract.description:
        lines.append(f"  {contract.description}")
    lines.append(f"  needs a loaded design: {'yes' if contract.requires_design else 'no'}")
    arg_rows = [
        (
            f"    {name}",
            arg.type,
            "required" if arg.required else f"default {arg.default!r}",
            arg.description,
        )
        for name, arg in contract.args.items()
    ]
    lines.append("  args:" + ("" if arg_rows else " none"))
    lines += columns(("    arg", "type", "", "meaning"), arg_rows)[1:] if arg_rows else []
    metric_rows = [
        (f"    {name}", m.unit or "-", m.direction or "-", m.description)
        for name, m in contract.metrics.items()
    ]
    lines.append("  metrics:" + ("" if metric_rows else " none"))
    lines += (
        columns(("    metric", "unit", "direction", "meaning"), metric_rows)[1:]
        if metric_rows
        else []
    )
    lines.append(f"  reports: {', '.join(contract.reports) or 'none'}")
    return "\n".join(lines)


def _to_stderr(text: str) -> None:
    print(text, file=sys.stderr)


def _schema(args: argparse.Namespace) -> int:
    print(json_schema(args.name))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="spilot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    report = sub.add_parser("report", help="show a saved release state; --junit writes JUnit XML")
    report.add_argument(
        "state",
        nargs="?",
        help="release state file (.spilot/2026.11.json) or a version (2026.11); "
        "default: the latest written under .spilot/",
    )
    report.add_argument("--junit", type=Path, metavar="OUT", help="write JUnit XML to OUT")
    report.add_argument(
        "--html",
        type=Path,
        metavar="OUT",
        help="write one self-contained HTML page (the release and its history; opens offline)",
    )
    report.add_argument(
        "--compare", metavar="OLD", help="with --html: include the comparison OLD -> this release"
    )
    report.set_defaults(func=_report)
    compare = sub.add_parser(
        "compare", help="metrics of two releases side by side; exits 1 on a regression"
    )
    compare.add_argument("old", help="the earlier release: a state file or a version")
    compare.add_argument("new", help="the later release: a state file or a version")
    compare.add_argument("--json", action="store_true", help="print JSON instead of a table")
    compare.add_argument(
        "--markdown", action="store_true", help="print a table for a pull-request comment"
    )
    compare.add_argument(
        "--margin",
        type=float,
        default=DEFAULT_MARGIN_PCT,
        metavar="PCT",
        help="allowed worsening where the state gives none (default 5)",
    )
    compare.add_argument(
        "--all", action="store_true", help="also metrics that did not move or have no direction"
    )
    compare.set_defaults(func=_compare)
    rules = sub.add_parser("rules", help="threshold rules from a good run")
    rules_sub = rules.add_subparsers(dest="rules_command", required=True)
    tighten_cmd = rules_sub.add_parser(
        "tighten",
        help="write new 'value:' thresholds from a good run into the validation files "
        "(comments and order kept)",
    )
    tighten_cmd.add_argument("state", help="the good run: a state file or a version")
    which = tighten_cmd.add_mutually_exclusive_group()
    which.add_argument(
        "--update",
        dest="mode",
        action="store_const",
        const="update",
        help="rewrite every rule from the run",
    )
    which.add_argument(
        "--tighten",
        dest="mode",
        action="store_const",
        const="tighten",
        help="only where the new rule is stricter (default)",
    )
    which.add_argument(
        "--failing",
        dest="mode",
        action="store_const",
        const="failing",
        help="only rules that the run fails",
    )
    tighten_cmd.set_defaults(mode="tighten", func=_tighten)
    tighten_cmd.add_argument(
        "--clock-period", type=float, metavar="NS", help="clock period for slack padding"
    )
    tighten_cmd.add_argument("--dry-run", action="store_true", help="print, write nothing")
    tighten_cmd.add_argument(
        "--root",
        type=Path,
        default=Path("."),
        help="folder the state's file paths are relative to (pytest's rootdir; default .)",
    )
    add_orfs_arguments(tighten_cmd)
    doc = sub.add_parser(
        "doctor",
        help="check this environment against the site configuration and the plan pytest would "
        "run (its PDKs, skills, locations); exit 1 on FAIL",
    )
    doc.add_argument(
        "--config",
        type=Path,
        help="site configuration YAML (default: ini spilot_config, else [tool.spilot] in "
        "pyproject.toml)",
    )
    doc.add_argument(
        "--nodes",
        type=Path,
        help="node inventory (default: ini spilot_nodes, else nodes.yaml in a plan folder)",
    )
    doc.add_argument(
        "--backend",
        # Any registered backend is accepted (checked against the registry in _doctor).
        metavar="{" + ",".join(SESSION_BACKENDS) + "}",
        help="as pytest's --spilot-backend: the Innovus backend; pseudo and real also switch "
        "LibreLane; or a backend a plugin registers",
    )
    doc.add_argument("--root", type=Path, default=Path("."), help="project folder (default .)")
    doc.set_defaults(func=_doctor)
    skills = sub.add_parser(
        "skills",
        help="the Innovus skills a session has, with their arguments, metrics and reports "
        "(from their contracts: tcl/skills/*.yaml and the site's skill folders)",
    )
    skills.add_argument("names", nargs="*", metavar="SKILL", help="only these (default: all)")
    skills.add_argument("--config", type=Path, help="site configuration YAML (default: pyproject)")
    skills.add_argument("--root", type=Path, default=Path("."), help="project folder (default .)")
    skills.set_defaults(func=_skills)
    serve = sub.add_parser(
        "serve", help="the live page of the releases under DIR (default .spilot/)"
    )
    serve_cmd.add_arguments(serve)
    serve.set_defaults(func=serve_cmd.run)
    schema = sub.add_parser("schema", help="print the JSON Schema of a file format")
    schema.add_argument("name", choices=sorted(FORMATS))
    schema.set_defaults(func=_schema)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except SpilotError as exc:
        print(f"spilot: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
