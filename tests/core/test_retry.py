"""Transient failures are retried per ``retries``; real failures and missed thresholds never."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pytest_spilot.core.execution import execute
from pytest_spilot.core.retry import transient_reason
from pytest_spilot.plan.expand import PlannedValidation, expand
from pytest_spilot.plan.model import RetryOn, ValidationFile
from pytest_spilot.registry import Registry, plugin_manager
from pytest_spilot.runners.base import RunOutcome

# Fails the first time with a FlexNet-style message, passes the second time.
LICENCE_FLAKY = (
    'if [ ! -e "$SPILOT_PLAN_DIR/tried" ]; then touch "$SPILOT_PLAN_DIR/tried"; '
    'echo "ERROR: FLEXnet Licensing error:-4,132. Licensed number of users already reached."; '
    "exit 1; fi; echo SPS=900"
)


def planned(tmp_path: Path, entry: dict) -> PlannedValidation:
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump({"validations": [entry]}))
    plan = ValidationFile.model_validate(yaml.safe_load(path.read_text()))
    return next(expand(plan, path, "plan.yaml"))


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.from_hook(plugin_manager().hook)


def test_licence_failure_is_retried_and_each_attempt_logged(tmp_path, registry) -> None:
    validation = planned(tmp_path, {"name": "lic", "run": LICENCE_FLAKY, "retries": 2})
    run = execute(validation, registry, tmp_path / "run")
    assert run.outcome == "passed" and run.attempts == 2
    assert run.retried_because[0].startswith("licence checkout failed: ERROR: FLEXnet")
    log = Path(run.log).read_text()
    assert "Licensed number of users already reached" in log  # the first attempt's output kept
    assert "attempt 2 of 3" in log and log.rstrip().endswith("SPS=900")


def test_a_real_failure_is_never_retried(tmp_path, registry) -> None:
    counter = tmp_path / "count"
    entry = {"name": "real", "run": f"echo x >> {counter}; echo 'syntax error'; exit 2"}
    run = execute(planned(tmp_path, {**entry, "retries": 3}), registry, tmp_path / "run")
    assert run.outcome == "failed" and run.attempts == 1 and run.retried_because == []
    assert counter.read_text() == "x\n"


def test_missed_threshold_is_not_a_reason_to_run_again(tmp_path, registry) -> None:
    counter = tmp_path / "count"
    entry = {
        "name": "slow",
        "run": f"echo x >> {counter}; echo SPS=10",
        "retries": 2,
        "metrics": {"sps": {"regex": "SPS=([0-9]+)"}},
        "acceptance": [{"metric": "sps", "op": ">=", "value": 1000}],
    }
    run = execute(planned(tmp_path, entry), registry, tmp_path / "run")
    assert run.outcome == "passed" and run.metrics == {"sps": 10.0} and run.attempts == 1
    assert counter.read_text() == "x\n"


def test_retry_on_exit_codes_and_own_patterns(tmp_path, registry) -> None:
    entry = {
        "name": "own",
        "run": 'if [ ! -e "$SPILOT_PLAN_DIR/t" ]; then touch "$SPILOT_PLAN_DIR/t"; exit 75; fi',
        "retries": 1,
        "retry_on": {"exit_codes": [75]},
    }
    run = execute(planned(tmp_path, entry), registry, tmp_path / "run")
    assert run.attempts == 2 and "exit code 75 is listed" in run.retried_because[0]
    outcome = RunOutcome(exit_code=1, duration_s=0)
    own = RetryOn(patterns=[r"NFS server \S+ not responding"], builtin=False)
    assert transient_reason(outcome, ["NFS server fs1 not responding"], own).startswith(
        "retry_on pattern"
    )
    # builtin: false turns the built-in patterns off.
    assert transient_reason(outcome, ["Licensed number of users already reached"], own) == ""


@pytest.mark.parametrize(
    ("line", "transient"),
    [
        ("srun: error: Unable to allocate resources: Socket timed out on send/recv", True),
        ("srun: error: Unable to allocate resources: Invalid partition name specified", False),
        ("Job not submitted.", True),
        ("Checkout failed for Innovus_Impl_System", True),
        ("the session was not ready within 120 s (ready_timeout_s ...); it was killed", True),
        ("**ERROR: (IMPSYT-6000): No such file", False),
        ("timing__setup__ws = -0.2 FAILED", False),
    ],
)
def test_builtin_patterns(line: str, transient: bool) -> None:
    outcome = RunOutcome(exit_code=1, duration_s=0)
    assert bool(transient_reason(outcome, [line], RetryOn())) is transient
