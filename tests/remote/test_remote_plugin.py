"""Remote nodes through pytest: two real sshd nodes with different PATHs, YAML validations on a
node, retries of a dropped connection, secrets kept out of JUnit, node parametrization."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from junit_kit import outcomes, properties
from sshd_kit import SshServer, node_entry, write_inventory

SECRET = "27000@licence-host-secret"

NODE_TESTS = """
import pytest

def test_flowtool(remote_node):
    result = remote_node.run(["flowtool"])
    assert result.stdout == f"{remote_node.name}'s flowtool\\n"

@pytest.mark.remote(tags=["gpu"])
def test_gpu_only(remote_node):
    assert "gpu" in remote_node.tags
"""

PLAN = """
version: 1
defaults: {timeout_s: 30}
validations:
  - name: on_alpha
    location: alpha
    run: [flowtool]
    metrics: {hits: {regex: "alpha's flowtool", aggregate: count}}
    acceptance: [{metric: hits, op: "==", value: 1}]
  - name: dropped_once
    location: beta
    retries: 1
    run: |
      if [ ! -e "$SPILOT_PLAN_DIR/dropped" ]; then
        touch "$SPILOT_PLAN_DIR/dropped"; kill -9 $(ps -o ppid= -p $PPID); sleep 5
      fi
      echo survived
  - name: real_failure
    location: alpha
    retries: 2
    run: 'echo attempt >> "$SPILOT_PLAN_DIR/real_failure"; exit 3'
  - name: leaky
    location: alpha
    run: 'echo "licence is $CDS_LIC_FILE"; exit 1'
"""


@pytest.fixture(scope="module")
def two_nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, SshServer]]:
    """alpha and beta: two sshd with different PATHs, each with its own ``flowtool``."""
    root = tmp_path_factory.mktemp("two_nodes")
    servers = {}
    for name in ("alpha", "beta"):
        tools = root / name / "bin"
        tools.mkdir(parents=True)
        (tools / "flowtool").write_text(f'#!/bin/sh\necho "{name}\'s flowtool"\n')
        (tools / "flowtool").chmod(0o755)
        servers[name] = SshServer(root / f"{name}-sshd", path=f"{tools}:/usr/bin:/bin").start()
    yield servers
    for server in servers.values():
        server.stop()


@pytest.fixture
def inventory(pytester: pytest.Pytester, two_nodes: dict[str, SshServer]) -> Path:
    return write_inventory(
        pytester.path / "validations" / "nodes.yaml",
        {
            "alpha": node_entry(two_nodes["alpha"], tags=["cpu"]),
            "beta": node_entry(two_nodes["beta"], tags=["gpu", "innovus"]),
        },
        defaults={"env": {"CDS_LIC_FILE": SECRET}, "secret_env": ["CDS_LIC_FILE"]},
    )


def test_remote_node_is_parametrized_over_the_inventory(
    pytester: pytest.Pytester, inventory: Path
) -> None:
    pytester.makepyfile(test_nodes=NODE_TESTS)
    result = pytester.runpytest_subprocess("test_nodes.py", "-v", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)
    for line in ("test_flowtool[alpha]", "test_flowtool[beta]", "test_gpu_only[beta]"):
        assert f"test_nodes.py::{line} PASSED" in result.stdout.str()
    only_beta = pytester.runpytest_subprocess("test_nodes.py", "-k", "beta", "-m", "remote")
    only_beta.assert_outcomes(passed=2)


def test_unknown_node_in_a_marker_is_a_clear_error(
    pytester: pytest.Pytester, inventory: Path
) -> None:
    pytester.makepyfile(
        test_nodes="""
        import pytest
        @pytest.mark.remote(nodes=["gamma"])
        def test_x(remote_node):
            pass
        """
    )
    result = pytester.runpytest_subprocess("test_nodes.py")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*test_x: *unknown node 'gamma'*known nodes: alpha, beta*"])
    assert "During handling" not in result.stdout.str()


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_validations_on_nodes(
    pytester: pytest.Pytester, inventory: Path, workers: list[str]
) -> None:
    pytester.makefile(".yaml", **{"validations/remote": PLAN})
    junit = pytester.path / "out.xml"
    result = pytester.runpytest_subprocess(
        *workers, "validations", "-o", "junit_family=xunit1", f"--junitxml={junit}"
    )
    assert outcomes(junit) == {
        "on_alpha::run": "passed",
        "on_alpha::hits==1": "passed",
        "dropped_once::run": "passed",
        "real_failure::run": "failed",
        "leaky::run": "failed",
    }, result.stdout.str()
    dropped = properties(junit, "dropped_once::run")
    assert dropped["attempts"] == "2" and "connection dropped" in dropped["retried_because"]
    assert dropped["location"] == "beta"
    log = Path(dropped["log"]).read_text()
    assert "attempt 2 of 2" in log and log.rstrip().endswith("survived")
    # A real failure is never retried.
    assert properties(junit, "real_failure::run")["attempts"] == "1"
    assert (pytester.path / "validations" / "real_failure").read_text() == "attempt\n"
    # The secret was printed by the job, yet appears in no log, report or state.
    leaky_log = Path(properties(junit, "leaky::run")["log"]).read_text()
    assert "licence is ***" in leaky_log
    state = pytester.path / ".spilot" / "dev.json"
    for text in (junit.read_text(), leaky_log, state.read_text(), result.stdout.str()):
        assert SECRET not in text
    assert "licence is ***" in junit.read_text()  # the failure message shows the log's tail
    record = json.loads(state.read_text())["validations"]["validations/remote.yaml::dropped_once"]
    assert record["run"]["retried_because"] and record["run"]["attempts"] == 2


def test_broken_inventory_stops_the_run_with_its_line(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", **{"validations/nodes": "nodes:\n  a: {host: x, prot: 2}\n"})
    result = pytester.runpytest_subprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*nodes.yaml:2: nodes.a.prot: unknown key 'prot'*'port'*"])
    assert "Traceback" not in result.stderr.str()


def test_node_named_like_a_launcher_is_refused(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", **{"validations/nodes": "nodes:\n  srun: {host: x}\n"})
    result = pytester.runpytest_subprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*node 'srun' has the name of a launcher*rename the node*"])


def test_plan_shows_how_remote_validations_are_reached(pytester: pytest.Pytester) -> None:
    """--spilot-plan connects to nothing: the node's address need not exist."""
    pytester.makefile(
        ".yaml",
        **{
            "validations/nodes": "nodes:\n  gpu2: {host: 10.0.0.12, port: 2222, user: cad}\n",
            "validations/r": "validations:\n"
            "  - {name: on_gpu, location: gpu2, run: [innovus, -version]}\n"
            "  - {name: on_slurm, location: slurm, run: 'echo hi'}\n",
        },
    )
    result = pytester.runpytest_subprocess("--spilot-plan")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "*r.yaml::on_gpu  command @ gpu2*",
            "*via: ssh -p 2222 cad@10.0.0.12 -- innovus -version",
            "*r.yaml::on_slurm  command @ slurm*",
            "*via: srun --unbuffered --job-name=spilot.on_slurm*/bin/sh -c 'echo hi'",
        ]
    )
