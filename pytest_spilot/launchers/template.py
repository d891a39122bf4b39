"""Grid submitters (``dsub -I``, ``bsub -I``, ``srun``) as command templates from site config.

A template is a list of words; each word is split like a shell would and may name fields:
``{queue}``, ``{walltime_min}``, ``{cores}``, ``{memory_mb}``, ``{license}``, ``{job_name}``,
``{cwd}``. A word naming a field the site left unset is dropped whole, so ``"-q {queue}"``
disappears without a queue. ``{command}`` is the job's own argv, inserted word for word.
The submitter runs in the foreground (interactive mode), so the local process tree *is* the
job: streaming, exit code and killing work as for ``local``.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field

from pytest_spilot.errors import SpilotError
from pytest_spilot.launchers.base import Job
from pytest_spilot.launchers.local import LocalLauncher

COMMAND = "{command}"
FIELD_RE = re.compile(r"\{([a-z_]+)\}")
FIELDS = ("queue", "walltime_min", "cores", "memory_mb", "license", "job_name", "cwd")

# Starting points; a site overrides any of them (or adds its own) under [tool.spilot.launchers].
BUILTIN_TEMPLATES: dict[str, list[str]] = {
    "srun": [
        "srun",
        "--unbuffered",
        "--job-name={job_name}",
        "--partition={queue}",
        "--time={walltime_min}",
        "--cpus-per-task={cores}",
        "--mem={memory_mb}M",
        "--licenses={license}",
        "--chdir={cwd}",
        COMMAND,
    ],
    "bsub": [
        "bsub",
        "-I",
        "-J {job_name}",
        "-q {queue}",
        "-W {walltime_min}",
        "-n {cores}",
        "-R rusage[mem={memory_mb}]",
        "-R rusage[{license}=1]",
        "-cwd {cwd}",
        COMMAND,
    ],
    "dsub": [
        "dsub",
        "-I",
        "-n {job_name}",
        "-q {queue}",
        "-T {walltime_min}",
        "-R cpu={cores};mem={memory_mb}",
        "-l {license}",
        COMMAND,
    ],
}


def expand(template: list[str], argv: list[str], fields: Mapping[str, object]) -> list[str]:
    """The submitter's command line for ``argv``; see the module docstring for the rules."""
    out: list[str] = []
    for word in template:
        if word == COMMAND:
            out.extend(argv)
            continue
        names = FIELD_RE.findall(word)
        unknown = [n for n in names if n not in FIELDS]
        if unknown:
            raise SpilotError(
                f"launcher template word {word!r}: unknown field {{{unknown[0]}}}; "
                f"use {', '.join('{' + f + '}' for f in (*FIELDS, 'command'))}"
            )
        if any(fields.get(n) in (None, "") for n in names):
            continue
        out.extend(
            FIELD_RE.sub(lambda m: str(fields[m.group(1)]), token) for token in shlex.split(word)
        )
    return out


@dataclass
class TemplateLauncher(LocalLauncher):
    """A launcher named by the site whose command line wraps the job in a submitter."""

    name: str = "srun"  # type: ignore[misc]  # per instance here, a ClassVar elsewhere
    template: list[str] = field(default_factory=lambda: list(BUILTIN_TEMPLATES["srun"]))
    fields: dict[str, object] = field(default_factory=dict)
    grace_s: float = 1.0

    def __post_init__(self) -> None:
        if COMMAND not in self.template:
            raise SpilotError(
                f"launcher {self.name!r}: its template must contain the word {COMMAND!r} "
                "where the job's command goes"
            )
        expand(self.template, [], self.fields)  # unknown fields fail now, not at the first job

    def command_line(self, job: Job) -> list[str]:
        fields = {"job_name": job.name, "cwd": str(job.cwd), **self.fields}
        return expand(self.template, list(job.argv), fields)
