"""Grid submitters (``dsub -I``, ``bsub -I``, ``srun``) as command templates from site config.

A template is a list of words; each word is split like a shell would and may name fields:
``{queue}``, ``{walltime_min}``, ``{cores}``, ``{memory_mb}``, ``{license}``, ``{job_name}``,
``{cwd}``, and from the validation's ``resources``: ``{cpus}``, ``{licenses}`` (Slurm's
``innovus:1,genus:2``) and ``{rusage}`` (LSF's ``innovus=1:genus=2``). ``{cores}`` is the
validation's ``cpus`` where it asks, else the site's; ``{licenses}`` and ``{rusage}`` add the
site's ``license`` (one of it). A word naming a field left unset is dropped whole, so
``"-q {queue}"`` disappears without a queue. ``{command}`` is the job's own argv, inserted
word for word.
The submitter runs in the foreground (interactive mode), so the local process tree *is* the
job: streaming and the exit code work as for ``local``. Where the batch system keeps the job
apart from the submitter (Slurm's ``srun``, LSF's ``bsub -I``), a ``cancel`` template kills the
job itself on timeout and a ``job_id`` template finds its id for the report; both get a
``{job_name}`` made unique per run. With a ``cancel`` template the submitter runs under a
guard that cancels the job the moment the harness dies, SIGKILL included (batch_guard.py).
"""

from __future__ import annotations

import dataclasses
import errno
import os
import re
import shlex
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

from pytest_spilot.core.state import JobHandle
from pytest_spilot.errors import SpilotError
from pytest_spilot.launchers import batch_guard
from pytest_spilot.launchers.base import Job, JobResult
from pytest_spilot.launchers.local import LocalLauncher, LocalProcess
from pytest_spilot.launchers.process import end_leftover_job

COMMAND = "{command}"
FIELD_RE = re.compile(r"\{([a-z_]+)\}")
FIELDS = (
    "queue",
    "walltime_min",
    "cores",
    "memory_mb",
    "license",
    "job_name",
    "cwd",
    "cpus",
    "licenses",
    "rusage",
)

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
        "--licenses={licenses}",
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
        "-R rusage[{rusage}]",
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


# How each built-in submitter's jobs are cancelled and found again (by their unique name).
BUILTIN_CONTROL: dict[str, dict[str, list[str]]] = {
    "srun": {
        "cancel": ["scancel", "--name={job_name}"],
        "job_id": ["squeue", "--noheader", "--states=all", "--name={job_name}", "--format=%i"],
        "active": ["squeue", "--noheader", "--name={job_name}", "--format=%i"],
    },
    "bsub": {
        "cancel": ["bkill", "-J", "{job_name}"],
        "job_id": ["bjobs", "-a", "-noheader", "-J", "{job_name}", "-o", "jobid"],
        "active": ["bjobs", "-noheader", "-J", "{job_name}", "-o", "jobid"],
    },
}
CONTROL_TIMEOUT_S = 30.0
# Other names a validation may use for a batch system (``location: slurm``).
ALIASES = {"slurm": "srun", "lsf": "bsub"}


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


def request_fields(env: Mapping[str, str], site: Mapping[str, object]) -> dict[str, object]:
    """The template fields of a job's ``resources`` (SPILOT_CPUS and SPILOT_LICENSES in its
    environment, see pytest_spilot/resources/request.py) with the site's ``license``."""
    counts: dict[str, int] = {}
    if site.get("license"):
        counts[str(site["license"])] = 1
    for item in filter(None, env.get("SPILOT_LICENSES", "").split(",")):
        feature, _, n = item.partition(":")
        counts[feature] = max(counts.get(feature, 0), int(n or 1))
    fields: dict[str, object] = {}
    cpus = env.get("SPILOT_CPUS")
    if cpus:
        fields["cpus"] = fields["cores"] = cpus
    if counts:
        fields["licenses"] = ",".join(f"{f}:{n}" for f, n in counts.items())
        fields["rusage"] = ":".join(f"{f}={n}" for f, n in counts.items())
    return fields


@dataclass
class TemplateLauncher(LocalLauncher):
    """A launcher named by the site whose command line wraps the job in a submitter."""

    name: str = "srun"  # type: ignore[misc]  # the site names each; LocalLauncher has a ClassVar
    template: list[str] = field(default_factory=lambda: list(BUILTIN_TEMPLATES["srun"]))
    fields: dict[str, object] = field(default_factory=dict)
    grace_s: float = 1.0
    cancel: list[str] = field(default_factory=list)  # kills the job in the batch system
    job_id: list[str] = field(default_factory=list)  # prints the job's id
    active: list[str] = field(default_factory=list)  # prints the id while the job is queued/runs

    def __post_init__(self) -> None:
        if COMMAND not in self.template:
            raise SpilotError(
                f"launcher {self.name!r}: its template must contain the word {COMMAND!r} "
                "where the job's command goes"
            )
        expand(self.template, [], self.fields)  # unknown fields fail now, not at the first job

    def command_line(self, job: Job) -> list[str]:
        fields = {"job_name": job.name, "cwd": str(job.cwd), **self.fields}
        fields.update(request_fields(job.env, self.fields))
        return expand(self.template, list(job.argv), fields)

    def start(self, job: Job) -> LocalProcess:
        job = self._unique(job)
        process = GridJob(job, self.command_line(job), self)
        if job.on_start is not None:
            job.on_start(self.handle(process))
        return process

    def handle(self, process: LocalProcess) -> JobHandle:
        """How a later run finds this harness's job: batch job name, submitter's tree."""
        handle = super().handle(process)
        if isinstance(process, GridJob) and (self.cancel or self.job_id):
            handle = handle.model_copy(update={"job_name": process.job_name})
        return handle

    def end(self, handle: JobHandle, grace_s: float = 1.0) -> bool:
        """End the job of a dead harness: cancel it in the batch system (by its unique name)
        and, on the host it was started from, its submitter's process tree. True if either
        was still there."""
        ended = False
        if handle.job_name:
            ended = self.cancel_job(handle.job_name, grace_s)
        if handle.host == socket.gethostname() and handle.pgid and handle.token:
            ended |= end_leftover_job(handle.pgid, handle.token, handle.cgroup, grace_s)
        return ended

    def run(self, job: Job) -> JobResult:
        job = self._unique(job)
        result = super().run(job)
        job_id = self.control(self.job_id, job.name)
        return dataclasses.replace(result, job_id=job_id.split()[0] if job_id else None)

    def _unique(self, job: Job) -> Job:
        """The job with a name of its own, so cancel/job_id find exactly this run's job."""
        if not (self.cancel or self.job_id) or _UNIQUE_RE.search(job.name):
            return job
        return dataclasses.replace(job, name=f"{job.name}.{uuid.uuid4().hex[:8]}")

    def control_argv(self, template: list[str], job_name: str) -> list[str]:
        """A cancel/job_id/active template's command line for ``job_name``."""
        return [w.replace("{job_name}", job_name) for w in template]

    def control(self, template: list[str], job_name: str) -> str:
        """Run a cancel/job_id/active template for ``job_name``; its stdout ("" on failure)."""
        if not template:
            return ""
        argv = self.control_argv(template, job_name)
        try:
            out = subprocess.run(
                argv, capture_output=True, text=True, timeout=CONTROL_TIMEOUT_S, check=False
            )
        except (OSError, subprocess.SubprocessError):
            return ""
        return out.stdout.strip() if out.returncode == 0 else ""

    def cancel_job(self, job_name: str, grace_s: float = 1.0) -> bool:
        """Cancel the job named ``job_name`` with the ``cancel`` template and wait (a bounded
        time) until it has left the queue. True if it was still queued or running (without an
        ``active`` template: if the cancel command succeeded)."""
        if not self.cancel:
            return False
        was_active = bool(self.control(self.active, job_name)) if self.active else None
        # Cancelled even when not listed: a job just submitted may not be listed yet.
        try:
            cancelled = (
                subprocess.run(
                    self.control_argv(self.cancel, job_name),
                    capture_output=True,
                    timeout=CONTROL_TIMEOUT_S,
                    check=False,
                ).returncode
                == 0
            )
        except (OSError, subprocess.SubprocessError):
            cancelled = False
        deadline = time.monotonic() + max(grace_s, 5.0)
        while self.active and time.monotonic() < deadline:
            if not self.control(self.active, job_name):
                break
            time.sleep(0.1)
        return cancelled if was_active is None else was_active


_UNIQUE_RE = re.compile(r"\.[0-9a-f]{8}$")


class GridJob(LocalProcess):
    """The submitter's local process tree, plus the batch job it stands for.

    With a ``cancel`` template the submitter runs under a guard (see
    :mod:`pytest_spilot.launchers.batch_guard`) that cancels the batch job if this process dies.
    """

    def __init__(self, job: Job, argv: list[str], launcher: TemplateLauncher) -> None:
        self.job_name = job.name
        self.launcher = launcher
        if launcher.cancel:
            # Found as Popen would find it; if not, what Popen would raise: "cannot start 'srun'".
            path = job.env.get("PATH", os.environ.get("PATH", os.defpath))
            exe = os.path.join(job.cwd, argv[0]) if os.sep in argv[0] else argv[0]
            if shutil.which(exe, path=path) is None:
                raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), argv[0])
            cancel = launcher.control_argv(launcher.cancel, job.name)
            argv = batch_guard.guard_argv(os.getpid(), cancel, argv)
        super().__init__(job, argv)

    def stop(self, grace_s: float = 1.0) -> int | None:
        # The batch system first: a killed submitter may leave its job queued or running.
        if self.proc.poll() is None:
            self.launcher.cancel_job(self.job_name, grace_s)
        return super().stop(grace_s)
