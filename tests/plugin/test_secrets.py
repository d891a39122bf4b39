"""A secret set three ways (site licence variable, site secret, a validation's own) reaches
none of the harness's outputs: stdout, JUnit, job logs, session logs, bundles, state, journal,
``spilot report --junit``."""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

import pytest

from pytest_spilot.cli.main import main

SECRETS = {
    "CDS_LIC_FILE": "5280@licsrv-alpha",  # [tool.spilot.innovus] license_env
    "SITE_VAULT": "vault-bravo-123",  # [tool.spilot.innovus] secret_env
}
OWN_SECRET = "key-charlie-9"  # secret_env: on the validation, valued in its env:
VALUES = [*SECRETS.values(), OWN_SECRET]

PLAN = """\
validations:
  - name: leaky
    secret_env: [VAL_KEY]
    env: {VAL_KEY: key-charlie-9}
    run: |
      echo "lic=$CDS_LIC_FILE vault=$SITE_VAULT key=$VAL_KEY"
      printf 'partial line %s' "$SITE_VAULT"
      echo
      echo "err $VAL_KEY $CDS_LIC_FILE" >&2
      echo "value=$SITE_VAULT"
    metrics:
      value: {regex: 'value=(\\S+)'}
    acceptance:
      - {metric: value, op: "<=", value: 1}
  - name: session_leak
    kind: innovus
    skill: leak
    secret_env: [VAL_KEY]
    env: {VAL_KEY: key-charlie-9}
  - name: session_crash
    kind: innovus
    skill: crash
"""

LEAK_SKILL = """\
# Writes the licence variables to the session's stdout, then fails naming them.
puts "session sees $::env(CDS_LIC_FILE) and $::env(SITE_VAULT)"
flush stdout
error "cannot reach $::env(CDS_LIC_FILE) with $::env(SITE_VAULT)"
"""

CRASH_SKILL = """\
# Kills its own session after printing a secret: the debug bundle must not carry it.
puts "dying with $::env(SITE_VAULT)"
flush stdout
exec kill -9 [pid]
"""


def _leaks(text: str, where: str) -> list[str]:
    return [f"{where}: {value}" for value in VALUES if value in text]


def _scan_tree(root: Path) -> list[str]:
    found: list[str] = []
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        if path.name.endswith(".tar.gz"):
            with tarfile.open(path) as tar:
                for member in tar.getmembers():
                    data = tar.extractfile(member)
                    if data is not None:
                        text = data.read().decode("utf-8", "replace")
                        found += _leaks(text, f"{path}:{member.name}")
            continue
        found += _leaks(path.read_text(encoding="utf-8", errors="replace"), str(path))
    return found


def test_a_secret_set_three_ways_leaves_no_trace(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not shutil.which("tclsh"):
        pytest.skip("tclsh is not installed (apt-get install -y tcl)")
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    pytester.makefile(".yaml", **{"validations/leaks": PLAN})
    skills = pytester.mkdir("skills")
    (skills / "leak.tcl").write_text(LEAK_SKILL)
    (skills / "crash.tcl").write_text(CRASH_SKILL)
    pytester.makepyprojecttoml(
        "[tool.spilot.innovus]\n"
        'skills = ["skills"]\n'
        'license_env = ["CDS_LIC_FILE"]\n'
        'secret_env = ["SITE_VAULT"]\n'
    )
    result = pytester.runpytest_subprocess(
        "-n", "2", "--spilot-backend=tcl", "--junitxml=junit.xml", "-rA", "--spilot-version=s1"
    )
    output = result.stdout.str() + result.stderr.str()
    # The secrets were really there: each job and session saw them, then was redacted.
    assert "***" in (pytester.path / ".spilot/runs/s1/validations/leaks/leaky/job.log").read_text()
    assert result.ret == 1, output
    found = _leaks(output, "pytest's stdout/stderr")
    found += _scan_tree(pytester.path / ".spilot")
    found += _leaks((pytester.path / "junit.xml").read_text(), "junit.xml")
    monkeypatch.chdir(pytester.path)
    main(["report", "s1", "--junit", "report.xml"])
    found += _leaks((pytester.path / "report.xml").read_text(), "spilot report --junit")
    bundles = list((pytester.path / ".spilot").rglob("*.tar.gz"))
    assert bundles, "the crashed session left no debug bundle to check"
    assert not found, "\n".join(found)
