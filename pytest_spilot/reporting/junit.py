"""``spilot report STATE --junit OUT``: a saved release state as JUnit XML (junit-xml package)."""

from __future__ import annotations

from junit_xml import TestCase, TestSuite, to_xml_report_string

from pytest_spilot.core.acceptance import format_value
from pytest_spilot.core.state import ReleaseState, RunRecord, ValidationRecord
from pytest_spilot.plan.expand import item_id


def _attachments(run: RunRecord) -> str:
    """Jenkins' attachment lines, one per log and artifact."""
    return "\n".join(f"[[ATTACHMENT|{p}]]" for p in [run.log, *run.artifacts])


def _case(record: ValidationRecord, part: str, elapsed_sec: float | None = None) -> TestCase:
    """Named as pytest's own JUnit XML names the item: classname ``dir.file.yaml.entry``."""
    validation, name = item_id(record.id, part).split("::", 1)
    classname = f"{record.file.replace('/', '.')}.{validation}"
    return TestCase(name, classname=classname, elapsed_sec=elapsed_sec)


def _run_case(record: ValidationRecord) -> TestCase:
    run = record.run
    case = _case(record, "run", run.duration_s if run else None)
    if run is None:
        case.add_error_info("the run never finished (the release was interrupted)")
        return case
    case.stdout = _attachments(run)
    if run.outcome != "passed":
        case.add_failure_info(f"run failed: {run.message or f'exit code {run.exit_code}'}")
    return case


def _regressions_case(record: ValidationRecord) -> TestCase:
    case = _case(record, "regressions")
    verdict = record.regressions
    if verdict is None:
        case.add_skipped_info("not judged in this release (interrupted or deselected)")
        return case
    case.stdout = "\n".join([verdict.message, *verdict.changes])
    if verdict.outcome == "failed":
        case.add_failure_info(
            "\n".join([verdict.message, *(c for c in verdict.changes if c.endswith("regressed"))])
        )
    return case


def state_to_junit(state: ReleaseState) -> str:
    """One test case per validation run, threshold and regressions test; metrics as properties."""
    suites = []
    for record in state.validations.values():
        cases = [_run_case(record)]
        for tid in record.thresholds_declared:
            case = _case(record, tid)
            verdict = record.thresholds.get(tid)
            if verdict is None:
                case.add_skipped_info("not judged in this release (interrupted or deselected)")
            else:
                case.stdout = verdict.message + (
                    "\n" + _attachments(record.run) if record.run else ""
                )
                if verdict.outcome == "failed":
                    case.add_failure_info(verdict.message)
            cases.append(case)
        if record.regressions_declared or record.regressions is not None:
            cases.append(_regressions_case(record))
        properties = {"version": state.version, "kind": record.kind}
        if record.run:
            properties |= {f"metric.{k}": format_value(v) for k, v in record.run.metrics.items()}
            properties |= {"exit_code": str(record.run.exit_code), "log": record.run.log}
        suites.append(TestSuite(record.key, cases, properties=properties))
    # junit_xml has no types: say what it returns (a str, as it is given an encoding).
    report: str = to_xml_report_string(suites, prettyprint=True, encoding="utf-8")
    return report
