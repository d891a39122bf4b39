"""``spilot``: what is not a test run — render a saved release state, compare two releases,
print the file formats."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from pytest_spilot.atomic import write_atomic
from pytest_spilot.doctor import doctor, render_checks
from pytest_spilot.errors import SpilotError
from pytest_spilot.redact import Redactor
from pytest_spilot.registry import Registry, plugin_manager
from pytest_spilot.regressions import DEFAULT_MARGIN, compare_states, render_table, to_json
from pytest_spilot.reporting.junit import state_to_junit
from pytest_spilot.reporting.table import ReleaseTable
from pytest_spilot.rules import render_changes, tighten
from pytest_spilot.schema import FORMATS, json_schema
from pytest_spilot.settings import SPILOT_DIR
from pytest_spilot.siteconfig import load_site_config
from pytest_spilot.state import ReleaseState
from pytest_spilot.store import ReleaseStore, read_release


def _report(args: argparse.Namespace) -> int:
    state = _redacted(_load(str(args.state)))
    if args.junit:
        write_atomic(args.junit, state_to_junit(state))
        print(f"wrote {args.junit}")
    table = ReleaseTable.from_state(state)
    print(table.render([f"release {state.version}: {len(state.validations)} validations"]))
    failed = [r for r in table.rows.values() if r.result in ("failed", "error")]
    return 1 if failed else 0


def _redacted(state: ReleaseState) -> ReleaseState:
    """``state`` without the values of this site's secrets (a state written elsewhere, or by
    an older version, may hold them)."""
    try:
        secrets = load_site_config(Path.cwd()).secrets(os.environ)
    except SpilotError as exc:
        print(f"spilot: {exc}; redacting secret-looking variables only", file=sys.stderr)
        secrets = Redactor((), os.environ)
    if not secrets.values:
        return state
    return ReleaseState.model_validate_json(secrets.text(state.model_dump_json()))


def _load(arg: str) -> ReleaseState:
    """A state file's path, or a version whose state is ``.spilot/<version>.json``.

    The document is folded with its journal first, so a run still going is read as it stands.
    """
    for path in (Path(arg), Path(SPILOT_DIR) / f"{arg}.json"):
        if ReleaseStore(path).exists():
            state = read_release(path)
            if state is not None:
                return state
    raise SpilotError(
        f"{arg}: no such release state, neither there nor at {Path(SPILOT_DIR) / f'{arg}.json'}; "
        "give a state file's path or a version that has one under .spilot/ (pytest writes "
        "them: --spilot-version, --spilot-state)"
    )


def _compare(args: argparse.Namespace) -> int:
    old, new = _load(args.old), _load(args.new)
    changes = compare_states(old, new, args.margin / 100)
    if not args.all:
        changes = [c for c in changes if c.verdict not in ("same", "no direction")]
    if args.json:
        print(to_json(changes))
    else:
        print(render_table(changes, f"release {old.version} -> {new.version}"))
    return 1 if any(c.verdict == "regressed" for c in changes) else 0


def _tighten(args: argparse.Namespace) -> int:
    state = _load(args.state)
    root = args.root.resolve()
    changes = tighten(state, root, args.mode, args.clock_period, write=not args.dry_run)
    print(render_changes(changes, root, wrote=not args.dry_run))
    return 0


def _doctor(args: argparse.Namespace) -> int:
    root = args.root.resolve()
    site = load_site_config(root, args.config)
    nodes = args.nodes
    if nodes is None:
        nodes = next((p for p in (root / "validations" / "nodes.yaml",) if p.is_file()), None)
    registry = Registry.from_hook(plugin_manager().hook)
    checks = doctor(site, registry, nodes, args.backend, say=lambda t: print(t, file=sys.stderr))
    print(render_checks(checks))
    return 1 if any(c.status == "FAIL" for c in checks) else 0


def _schema(args: argparse.Namespace) -> int:
    print(json_schema(args.name))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="spilot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    report = sub.add_parser("report", help="show a saved release state; --junit writes JUnit XML")
    report.add_argument(
        "state", type=Path, help="release state file (.spilot/2026.11.json) or a version (2026.11)"
    )
    report.add_argument("--junit", type=Path, metavar="OUT", help="write JUnit XML to OUT")
    report.set_defaults(func=_report)
    compare = sub.add_parser(
        "compare", help="metrics of two releases side by side; exits 1 on a regression"
    )
    compare.add_argument("old", help="the earlier release: a state file or a version")
    compare.add_argument("new", help="the later release: a state file or a version")
    compare.add_argument("--json", action="store_true", help="print JSON instead of a table")
    compare.add_argument(
        "--margin",
        type=float,
        default=DEFAULT_MARGIN * 100,
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
    doc = sub.add_parser(
        "doctor", help="check this environment against the site configuration; exit 1 on FAIL"
    )
    doc.add_argument("--config", type=Path, help="site configuration YAML (default: pyproject)")
    doc.add_argument("--nodes", type=Path, help="node inventory (default: validations/nodes.yaml)")
    doc.add_argument("--backend", choices=("pseudo", "tcl", "real"), help="Innovus backend")
    doc.add_argument("--root", type=Path, default=Path("."), help="project folder (default .)")
    doc.set_defaults(func=_doctor)
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
