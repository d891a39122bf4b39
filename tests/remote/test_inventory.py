"""The node inventory: defaults merged into nodes, and one clear error per broken entry."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest

from pytest_spilot.errors import PlanError, PlanErrors, SpilotError
from pytest_spilot.remote.inventory import load_inventory
from pytest_spilot.remote.shell import shell_value

SPEC_EXAMPLE = """\
defaults:                    # applies to every node unless it overrides
  user: cad
  key: ~/.ssh/id_ed25519
  known_hosts: keys/known_hosts
  env: {LANG: C.UTF-8}
  setup: ['[ -s "$HOME/.nvm/nvm.sh" ] && . "$HOME/.nvm/nvm.sh"']
  tags: [linux]
nodes:
  gpu1: {host: 10.0.0.11}
  gpu2:
    host: 10.0.0.12
    port: 2222
    path_prepend: [/opt/cadence/INNOVUS231/bin]
    env: {CDS_LIC_FILE: 5280@lic1, NVM_DIR: $HOME/.nvm}
    secret_env: [CDS_LIC_FILE]     # redacted in every log and report
    requires: [innovus, npm]       # preflight: each must be found on the node
    tags: [innovus, gpu]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "nodes.yaml"
    path.write_text(text)
    return path


def test_defaults_are_merged_beneath_each_node(tmp_path: Path) -> None:
    inventory = load_inventory(write(tmp_path, SPEC_EXAMPLE))
    gpu1, gpu2 = inventory.node("gpu1"), inventory.node("gpu2")
    assert (gpu1.user, gpu1.port, gpu1.env) == ("cad", 22, {"LANG": "C.UTF-8"})
    assert gpu2.port == 2222
    assert gpu2.env == {"LANG": "C.UTF-8", "CDS_LIC_FILE": "5280@lic1", "NVM_DIR": "$HOME/.nvm"}
    assert gpu2.setup == gpu1.setup and len(gpu2.setup) == 1
    assert gpu2.tags == ["linux", "innovus", "gpu"]
    assert gpu2.secret_values == ["5280@lic1"]
    assert gpu2.key_path == Path("~/.ssh/id_ed25519").expanduser()
    assert gpu2.known_hosts_path == tmp_path / "keys" / "known_hosts"  # beside the inventory
    assert [n.name for n in inventory.select(tags=["gpu"])] == ["gpu2"]
    assert [n.name for n in inventory.select(tags=["linux"])] == ["gpu1", "gpu2"]


def test_unknown_node_names_the_known_ones(tmp_path: Path) -> None:
    inventory = load_inventory(write(tmp_path, SPEC_EXAMPLE))
    with pytest.raises(SpilotError) as err:
        inventory.node("gpu3")
    assert "unknown node 'gpu3'" in str(err.value)
    assert "did you mean 'gpu2'" in str(err.value) and "gpu1, gpu2" in str(err.value)
    with pytest.raises(SpilotError, match="unknown node 'cpu9'"):
        inventory.select(names=["cpu9"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "nodes:\n  a: {host: x, prot: 22}\n",
            "nodes.yaml:2: nodes.a.prot: unknown key 'prot'; did you mean 'port'?",
        ),
        ("nodes:\n  a: {port: 22}\n", "nodes.yaml:2: nodes.a.host: required key 'host'"),
        ("nodes:\n  a: {host: x, port: ssh}\n", "nodes.a.port: expected an integer (got 'ssh')"),
        (
            "defaults: {usr: cad}\nnodes: {}\n",
            "nodes.yaml:1: defaults.usr: unknown key 'usr'; did you mean 'user'?",
        ),
        (
            "nodes:\n  a:\n    host: x\n    secret_env: [TOKEN]\n",
            "nodes.yaml:4: nodes.a.secret_env: secret_env names TOKEN but env has no such variable",
        ),
        ("nodes: [a, b]\n", "nodes.yaml:1: nodes: expected a mapping (got a list)"),
        ("- a\n", "a node inventory is a mapping"),
        ("nodes:\n  a: {host: x\n", "YAML syntax error"),
        ("nodes:\n  'bad name': {host: x}\n", "is not a valid name"),
    ],
)
def test_broken_inventory_is_one_clear_error(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises((PlanError, PlanErrors)) as err:
        load_inventory(write(tmp_path, text))
    assert expected in str(err.value)
    assert "Traceback" not in str(err.value)


@pytest.mark.parametrize(
    "value",
    ["plain", "a b", "it's", 'say "hi"', "x; rm -rf /", "$(id)", "`id`", "a\nb", "100%", ""],
)
def test_literal_values_reach_the_shell_verbatim(value: str) -> None:
    out = subprocess.run(
        ["sh", "-c", f"printf %s {shell_value(value)}"], capture_output=True, text=True, check=True
    )
    assert out.stdout == value


def test_variable_references_expand_on_the_node() -> None:
    env = {"HOME": "/home/cad", "PATH": "/bin", "X": "a b"}
    cases = {
        "$HOME/.nvm": "/home/cad/.nvm",
        "${HOME}x": "/home/cadx",
        "~/bin": "/home/cad/bin",
        "$$HOME": "$HOME",
        "$X;$(id)": "a b;$(id)",
    }
    for value, expected in cases.items():
        out = subprocess.run(
            ["sh", "-c", f"printf %s {shell_value(value)}"],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
        assert out.stdout == expected, (value, shlex.quote(shell_value(value)))
