"""The ``real`` backend's command line and launchers, run with the stand-in as the binary.

There is no Innovus binary or licence here: ``binary`` points at ``tclsh standin/innovus.tcl``
(the same bootstrap and skills run), and the batch submitter is a small script that parses
``bsub -I``-style options and execs the command, as a real interactive submitter would.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from pytest_spilot.innovus.queue_supervisor import skill_script
from pytest_spilot.innovus.supervisor import SessionError
from pytest_spilot.launchers.template import TemplateLauncher

FAKE_SUBMITTER = """#!/bin/sh
printf '%s\\n' "$@" > "$SUBMIT_LOG"
while [ $# -gt 0 ]; do
  case "$1" in
    -I) shift ;;
    -q|-J|-n|-W|-R|-cwd) shift 2 ;;
    *) break ;;
  esac
done
exec "$@"
"""


def test_real_backend_command_line(start_session) -> None:
    session = start_session("real")
    argv = session.command
    assert argv[-6:-4] == ["-no_gui", "-init"] and argv[-4].endswith("scripts/bootstrap.tcl")
    assert argv[-3:] == ["-log", str(session.dir.file("innovus")), "-overwrite"]
    assert session.submit(skill_script("noop"), {}).passed
    assert session.dir.file("innovus.log").is_file(), "the -log prefix was not honoured"


def test_real_backend_through_a_batch_submitter(start_session, tmp_path: Path) -> None:
    fake = tmp_path / "fakesub"
    fake.write_text(FAKE_SUBMITTER)
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / "submitted.txt"
    launcher = TemplateLauncher(
        name="bsub",
        template=[str(fake), "-I", "-q {queue}", "-J {job_name}", "-n {cores}", "{command}"],
        fields={"queue": "innovus_q"},
    )
    session = start_session("real", launcher=launcher, env={"SUBMIT_LOG": str(log)})
    submitted = log.read_text().splitlines()
    assert submitted[:5] == ["-I", "-q", "innovus_q", "-J", "spilot-innovus"]
    assert "-n" not in submitted, "an unset field's words must be dropped"
    # Not a local launcher: no socket, the directory poll carries the requests.
    assert session._sock is None
    ack = session.submit(skill_script("noop"), {})
    assert ack.passed
    session.stop("test")
    assert session.process.poll() == 0


def test_missing_binary_is_a_clear_error(start_session) -> None:
    with pytest.raises(SessionError, match=r"cannot start '/nonexistent/innovus'.*binary"):
        start_session("real", binary="/nonexistent/innovus")


def test_binary_that_exits_before_ready(start_session, tmp_path: Path) -> None:
    fake = tmp_path / "innovus"
    fake.write_text("#!/bin/sh\necho 'licence checkout failed' >&2\nexit 3\n")
    fake.chmod(0o755)
    with pytest.raises(SessionError, match=r"(?s)exited with code 3.*licence checkout failed"):
        start_session("real", binary=str(fake))
