"""Every extension point from a conftest: a runner of a new kind (with its own model, and
without), an Innovus session backend, a LibreLane flow backend, a launcher and a metric source,
each used by a validation end to end, serially and under ``-n 2``."""

from __future__ import annotations

from pathlib import Path

import pytest
from flow_kit import DESIGNS, PDK, TOOLS
from junit_kit import outcomes

INNOVUS = Path(__file__).resolve().parents[2] / "fixtures" / "innovus"

CONFTEST = """
import json
from pathlib import Path
from typing import ClassVar, Literal

from pytest_spilot.innovus.backends.pseudo import PseudoBackend
from pytest_spilot.launchers.local import LocalLauncher
from pytest_spilot.librelane.backends.pseudo import PseudoFlowBackend
from pytest_spilot.plan.model import ValidationBase
from pytest_spilot.runners.base import RunOutcome

USED = Path(__file__).parent / "used"


def used(what):
    with USED.open("a") as out:
        out.write(what + "\\n")


class EchoValidation(ValidationBase):
    \"\"\"Write a text to the log, some times.\"\"\"

    kind: Literal["echo"]
    text: str
    times: int = 1


class EchoRunner:
    kind: ClassVar[str] = "echo"
    model: ClassVar[type] = EchoValidation

    def run(self, validation, ctx):
        spec = validation.spec
        ctx.log_path.write_text((spec.text + "\\n") * spec.times)
        return RunOutcome(exit_code=0, duration_s=0.0, metrics={"echoes": spec.times})


class LooseRunner:
    kind: ClassVar[str] = "loose"  # no model: its entries' other keys are passed on

    def run(self, validation, ctx):
        extra = validation.spec.model_extra
        ctx.log_path.write_text(json.dumps(extra))
        return RunOutcome(exit_code=0, duration_s=0.0, metrics={"size": extra["size"]})


class WrappedLauncher(LocalLauncher):
    name: ClassVar[str] = "wrapped"

    def command_line(self, job):
        return ["env", "SITE_WRAPPED=yes", *job.argv]


class SiteSessions(PseudoBackend):
    name: ClassVar[str] = "site_sessions"

    def create(self, spec):
        used("site_sessions")
        return super().create(spec)


class SiteFlows(PseudoFlowBackend):
    name: ClassVar[str] = "site_flows"

    def command(self, request, flow_dir, config_path):
        used("site_flows")
        return super().command(request, flow_dir, config_path)


class WordCount:
    key: ClassVar[str] = "word_count"

    def read(self, spec, ctx):
        return float(ctx.log_path.read_text().split().count(spec.word))


def pytest_spilot_runners():
    return [EchoRunner(), LooseRunner()]


def pytest_spilot_launchers():
    return [WrappedLauncher()]


def pytest_spilot_session_backends():
    return [SiteSessions()]


def pytest_spilot_flow_backends():
    return [SiteFlows()]


def pytest_spilot_metric_sources():
    return [WordCount()]
"""

PLAN = f"""
version: 1
validations:
  - name: echoed
    kind: echo
    text: hello
    times: 3
    metrics:
      hellos: {{source: word_count, word: hello}}
    acceptance:
      - {{metric: echoes, op: "==", value: 3}}
      - {{metric: hellos, op: "==", value: 3}}
  - name: loose
    kind: loose
    size: 7
    colour: blue
    acceptance:
      - {{metric: size, op: "==", value: 7}}
  - name: wrapped
    location: wrapped
    run: 'echo "wrapped=$SITE_WRAPPED"'
    metrics:
      wrapped: {{source: word_count, word: wrapped=yes}}
    acceptance:
      - {{metric: wrapped, op: "==", value: 1}}
  - name: session
    kind: innovus
    skill: summary_health
    design: {INNOVUS / "clean.json"}
    args: {{top: counter}}
    acceptance:
      - {{metric: setup_wns_ns, op: ">=", value: 0}}
  - name: flow
    kind: librelane
    design: {DESIGNS / "counter"}
    pdk: {PDK}
    preset: minimal
    timeout_s: 300
    acceptance:
      - {{metric: design__lint_error__count, op: "==", value: 0}}
"""

EXPECTED = {
    "echoed::run": "passed",
    "echoed::echoes==3": "passed",
    "echoed::hellos==3": "passed",
    "loose::run": "passed",
    "loose::size==7": "passed",
    "wrapped::run": "passed",
    "wrapped::wrapped==1": "passed",
    "session::run": "passed",
    "session::setup_wns_ns>=0": "passed",
    "flow::run": "passed",
    "flow::design__lint_error__count==0": "passed",
}

SCHEMA_TEST = """
import json

from pytest_spilot.registry import Registry
from pytest_spilot.cli.schema import json_schema


def test_schema_has_the_plugin_kinds(request):
    schema = json.loads(json_schema("validations", Registry.from_hook(request.config.hook)))
    echo = schema["$defs"]["EchoValidation"]
    assert echo["properties"]["kind"]["const"] == "echo"
    assert echo["additionalProperties"] is False and "text" in echo["required"]
    loose = schema["$defs"]["LooseValidation"]
    assert loose["properties"]["kind"]["const"] == "loose"
    assert loose.get("additionalProperties", True) is not False
    assert schema["title"] == "ValidationFile"
    members = schema["properties"]["validations"]["items"]["oneOf"]
    refs = {m["$ref"].rsplit("/", 1)[-1] for m in members}
    assert {"CommandValidation", "EchoValidation", "LooseValidation"} <= refs
"""


def project(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makefile(".yaml", **{"validations/plan": PLAN})
    pytester.makepyprojecttoml(
        f'[tool.spilot.librelane]\nbackend = "site_flows"\npath_prepend = ["{TOOLS}"]\n'
    )


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_each_extension_point_from_a_conftest(
    pytester: pytest.Pytester, workers: list[str]
) -> None:
    project(pytester)
    junit = pytester.path / "out.xml"
    result = pytester.runpytest_subprocess(
        *workers,
        "-p",
        "no:randomly",
        "--spilot-backend=site_sessions",
        "-o",
        "junit_family=xunit1",
        f"--junitxml={junit}",
        timeout=300,
    )
    result.assert_outcomes(passed=len(EXPECTED))
    got = outcomes(junit)
    assert {k: got.get(k) for k in EXPECTED} == EXPECTED
    used = (pytester.path / "used").read_text().split()
    assert "site_sessions" in used and "site_flows" in used


def test_schema_lists_the_plugin_kinds(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_schema=SCHEMA_TEST)
    pytester.runpytest_subprocess("test_schema.py").assert_outcomes(passed=1)


def test_unknown_backend_names_the_registered_ones(pytester: pytest.Pytester) -> None:
    project(pytester)
    result = pytester.runpytest_subprocess("--spilot-backend=site_session")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*--spilot-backend 'site_session' is not a registered backend; use one of pseudo, "
            "real, site_flows, site_sessions, tcl,*"
        ]
    )


def test_site_backend_must_be_registered(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makefile(".yaml", **{"validations/plan": "validations:\n  - {name: a, run: 'true'}"})
    pytester.makepyprojecttoml('[tool.spilot.librelane]\nbackend = "site_sessions"\n')
    result = pytester.runpytest_subprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*[[]tool.spilot.librelane[]] backend 'site_sessions' is not a registered backend; "
            "use one of pseudo, real, site_flows,*"
        ]
    )


def test_plugin_kinds_are_checked_like_the_built_in_ones(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    bad = (
        "validations:\n"
        "  - {name: a, kind: echo, text: hi, times: many}\n"
        "  - {name: b, kind: echo, text: hi, colour: blue}\n"
        "  - {name: c, kind: ecco}\n"
    )
    pytester.makefile(".yaml", **{"validations/plan": bad})
    result = pytester.runpytest_subprocess()
    result.stdout.fnmatch_lines_random(
        [
            "*plan.yaml:2: validations[[]0[]].times: expected an integer (got 'many')*",
            "*plan.yaml:3: validations[[]1[]].colour: unknown key 'colour'*",
            "*plan.yaml:4: validations[[]2[]].kind: 'kind' must be one of command, innovus, "
            "librelane, echo, loose*",
        ]
    )


def test_the_plan_shows_what_a_plugin_kind_runs(pytester: pytest.Pytester) -> None:
    project(pytester)
    result = pytester.runpytest_subprocess("--spilot-plan", "--spilot-backend=site_sessions")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    result.stdout.fnmatch_lines(["*echoed  echo @*", "    run: text=hello times=3*"])
    result.stdout.fnmatch_lines(["*loose  loose @*", "    run: *size=7*"])
