"""The shell script a node runs for one command: environment, PATH, setup lines, then the command.

The script goes to ``/bin/sh -s`` on the channel's stdin, so it works whatever the account's
login shell is (csh included) and never depends on the server's ``AcceptEnv``. Every value is
quoted; only ``$NAME``/``${NAME}`` references to the node's own variables stay live.

Without a terminal nothing on the node notices when the harness dies, so a job script keeps the
channel's stdin open and a watcher reads it: end of input (the harness died, the connection
dropped, the channel was closed, or the command ended) ends the whole process group.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence

from pytest_spilot.launchers.process import TOKEN_VAR

# The login shell replaces itself with this sh, so its pid is the session's process group.
SHELL_COMMAND = "exec /bin/sh -s"
PID_MARKER = b"SPILOT-REMOTE-PGID="
_VAR_RE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Waits for the end of the channel's stdin, then ends the script's process group ($$ is its
# leader; the watcher is a member, so the id cannot be reused before the KILL): SIGTERM, a
# moment, SIGKILL, all within half a second. `sleep 0.3` needs a sleep that takes fractions.
WATCHER = (
    "while read -r _; do :; done; trap '' TERM; kill -s TERM -- -$$; kill -s CONT -- -$$; "
    "sleep 0.3 || sleep 1; kill -s KILL -- -$$"
)


def shell_value(value: str) -> str:
    """``value`` as one shell word: literal text single-quoted, ``$NAME``/``${NAME}`` expanded
    in double quotes, ``$$`` a literal ``$``, and a leading ``~/`` the node's ``$HOME``."""
    if value == "~" or value.startswith("~/"):
        value = "${HOME}" + value[1:]
    parts: list[str] = []
    pos = 0
    for match in _VAR_RE.finditer(value):
        if match.start() > pos:
            parts.append(shlex.quote(value[pos : match.start()]))
        name = match.group(1) or match.group(2)
        parts.append(f'"${{{name}}}"' if name else "'$'")
        pos = match.end()
    if pos < len(value):
        parts.append(shlex.quote(value[pos:]))
    return "".join(parts) or "''"


def command_text(command: str | Sequence[str]) -> str:
    """A string is shell code as written (like ``ssh host 'cmd'``); an argv is quoted per word."""
    if isinstance(command, str):
        return command
    # Not exec'd: sh reports a signal death as 128+N (paramiko drops SSH's exit-signal).
    return shlex.join(command)


def check_env_names(env: Mapping[str, str]) -> None:
    bad = [name for name in env if not _ENV_NAME_RE.match(name)]
    if bad:
        raise ValueError(
            f"environment variable name {bad[0]!r} is not valid in a shell; use letters, "
            "digits and '_', not starting with a digit"
        )


def script(
    command: str,
    *,
    env: Mapping[str, str] = {},
    path_prepend: Sequence[str] = (),
    setup: Sequence[str] = (),
    cwd: str | None = None,
    announce_pgid: bool = False,
    watch_channel: bool = False,
) -> str:
    """The whole script for ``command`` (already shell text, see :func:`command_text`).

    With ``watch_channel`` the channel's stdin must stay open (see the module docstring).
    """
    check_env_names(env)
    lines = []
    if announce_pgid:
        lines.append(f"printf '{PID_MARKER.decode()}%s\\n' $$")
    if watch_channel:
        lines += [
            "exec 3<&0 </dev/null",
            "{ " + WATCHER + "; } <&3 >/dev/null 2>&1 &",
            "exec 3<&-",
        ]
    lines += [f"{name}={shell_value(value)}; export {name}" for name, value in env.items()]
    if path_prepend:
        folders = ":".join(shell_value(p) for p in path_prepend)
        lines.append(f'PATH={folders}:"$PATH"; export PATH')
    if setup:
        # Setup output (nvm, modules) goes to stderr so the command's stdout stays its own.
        lines.append(f"eval {shlex.quote(chr(10).join(setup))} >&2")
    if cwd:
        quoted = shlex.quote(cwd)
        lines.append(
            f"mkdir -p -- {quoted} 2>/dev/null; cd -- {quoted} || "
            f"{{ echo 'spilot: cannot enter the working directory '{quoted} >&2; exit 126; }}"
        )
    # eval: a syntax error in the command (an unclosed quote) fails it instead of making the
    # shell wait for more script on a stdin that stays open.
    lines.append(f"eval {shlex.quote(command)} </dev/null")
    # A shell that kept the script's stdin aside (bash as sh) would wait on it for more.
    lines.append("exit")
    # One brace group: the shell reads all of it before running any of it, so nothing the
    # command does can read the script, and the watcher's stdin holds nothing but the end.
    return "{\n" + "\n".join(lines) + "\n}\n"


def lookup_script(tools: Sequence[str]) -> str:
    """Prints ``found TOOL PATH`` or ``missing TOOL`` per tool, then ``PATH=...``."""
    words = " ".join(shlex.quote(t) for t in tools)
    return (
        f'for t in {words}; do p=$(command -v "$t" 2>/dev/null) && '
        'printf "found %s %s\\n" "$t" "$p" || printf "missing %s\\n" "$t"; done\n'
        'printf "PATH=%s\\n" "$PATH"'
    )


def stop_script(pgid: int, grace_s: float, token: str | None = None) -> str:
    """SIGTERM the process group, SIGKILL what is left after ``grace_s``; exit 0 if it existed.

    With ``token`` the group is ended only if one of its processes carries
    ``SPILOT_JOB_TOKEN=<token>``: an old job's group id may since have been reused.
    """
    if pgid <= 1:
        raise ValueError(f"not a job's process group: {pgid}")
    tries = max(1, int(grace_s * 10))
    check = ""
    if token is not None:
        needle = shlex.quote(f"{TOKEN_VAR}={token}")
        check = (
            f"found=; for p in $(ps -e -o pid= -o pgid= | awk '$2 == {pgid} {{print $1}}'); do "
            f"tr '\\0' '\\n' < /proc/$p/environ 2>/dev/null | grep -qxF -- {needle} && "
            "{ found=1; break; }; done\n"
            '[ -n "$found" ] || exit 1\n'
        )
    return check + (
        f"kill -s TERM -- -{pgid} 2>/dev/null || exit 1\n"
        f"kill -s CONT -- -{pgid} 2>/dev/null\n"
        f"i=0; while [ $i -lt {tries} ] && kill -s 0 -- -{pgid} 2>/dev/null; "
        "do sleep 0.1; i=$((i+1)); done\n"
        f"kill -s KILL -- -{pgid} 2>/dev/null; exit 0"
    )
