"""Gates end to end: evaluated once per run also under -n 2, a failing required gate skips the
validations of its file without starting them, node and Python gates."""

from __future__ import annotations

import pytest
from junit_kit import outcomes, properties

VALIDATIONS = "".join(
    f"  - name: v{i}\n    run: 'echo v{i} >> \"$SPILOT_PLAN_DIR/started\"'\n" for i in range(6)
)


def plan(gate: str) -> str:
    return f"version: 1\ngates:\n{gate}\nvalidations:\n{VALIDATIONS}"


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_a_gate_runs_once_per_run(pytester: pytest.Pytester, workers: list[str]) -> None:
    gate = "  - {name: tool, required: true, run: 'echo gate >> \"$SPILOT_PLAN_DIR/gate_runs\"'}"
    pytester.makefile(".yaml", **{"validations/plan": plan(gate)})
    junit = pytester.path / "out.xml"
    result = pytester.runpytest_subprocess(*workers, f"--junitxml={junit}")
    result.assert_outcomes(passed=7)
    assert (pytester.path / "validations" / "gate_runs").read_text() == "gate\n"
    assert outcomes(junit)["tool::run"] == "passed"  # the gate is a test of its own
    # A second run evaluates it again: results are never reused across runs.
    pytester.runpytest_subprocess(*workers)
    assert (pytester.path / "validations" / "gate_runs").read_text() == "gate\ngate\n"


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_failing_required_gate_skips_without_starting(
    pytester: pytest.Pytester, workers: list[str]
) -> None:
    gates = (
        "  - {name: innovus_on_path, required: true, run: 'echo innovus: not found; exit 127'}\n"
        "  - {name: optional_check, run: ['false']}"
    )
    pytester.makefile(".yaml", **{"validations/plan": plan(gates)})
    other = "validations:\n  - {name: o, run: ['true']}"  # another file: not behind the gate
    pytester.makefile(".yaml", **{"validations/other": other})
    junit = pytester.path / "out.xml"
    result = pytester.runpytest_subprocess(*workers, "-rs", f"--junitxml={junit}")
    result.assert_outcomes(passed=1, failed=2, skipped=6)
    assert not (pytester.path / "validations" / "started").exists(), "a dependent job started"
    result.stdout.fnmatch_lines(["*required gate 'innovus_on_path' failed: exit code 127*"])
    assert properties(junit, "v3::run")["skipped_by_gate"] == "innovus_on_path"
    # -k that leaves the gate's own test out still honours the gate.
    only = pytester.runpytest_subprocess("-k", "v1", "-rs")
    only.assert_outcomes(skipped=1)


def test_python_gate_from_a_hook(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        from pytest_spilot.core.gates import GateVerdict

        class LicenceServer:
            name = "licence_server"

            def check(self, args):
                if args["server"] == "down":
                    return GateVerdict(False, "lmstat: Cannot connect to license server")
                return GateVerdict(True, f"{args['server']} answers")

        class Broken:
            name = "broken"

            def check(self, args):
                raise RuntimeError("no lmstat here")

        def pytest_spilot_gate_checks():
            return [LicenceServer(), Broken()]
        """
    )
    gates = (
        "  - {name: lic, kind: python, check: licence_server, args: {server: down}, "
        "required: true}\n"
        "  - {name: up, kind: python, check: licence_server, args: {server: lic1}}\n"
        "  - {name: broken, kind: python, check: broken}\n"
        "  - {name: unknown, kind: python, check: nosuch}"
    )
    pytester.makefile(".yaml", **{"validations/plan": plan(gates)})
    result = pytester.runpytest_subprocess("-rs")
    result.assert_outcomes(passed=1, failed=3, skipped=6)
    text = result.stdout.str()
    assert "required gate 'lic' failed: lmstat: Cannot connect to license server" in text
    assert "check 'broken' raised RuntimeError: no lmstat here" in text
    assert "no gate check 'nosuch' is installed (known: broken, licence_server)" in text


def test_node_gate_without_inventory_is_a_clear_failure(pytester: pytest.Pytester) -> None:
    gates = "  - {name: gpu_up, kind: node, node: gpu2, required: true}"
    pytester.makefile(".yaml", **{"validations/plan": plan(gates)})
    result = pytester.runpytest_subprocess("-rs")
    result.assert_outcomes(failed=1, skipped=6)
    assert "checks node 'gpu2', but there is no node inventory" in result.stdout.str()


def test_bad_gate_kind_is_a_plan_error(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", **{"validations/plan": "gates:\n  - {name: g, kind: librelane}\n"})
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(errors=1)
    assert "a gate's 'kind' must be one of command, node, python" in result.stdout.str()
