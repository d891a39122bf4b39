"""Which pool tokens one job takes: its ``resources`` against the pools and where it runs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from pytest_spilot.resources.pools import CPUS, license_pool
from pytest_spilot.resources.sizes import PoolSizes

# Where a job's processes run, as far as the local pools are concerned.
Placement = Literal["here", "batch", "remote"]


@dataclass(frozen=True)
class JobTokens:
    """The tokens a job takes locally (pool name to count), and why some were not taken."""

    tokens: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """``cpus 2, licence innovus 1`` (or ``none``), then the notes."""
        parts = [
            f"{n} {pool}" if pool == CPUS else f"licence {pool.split('.', 1)[1]} {n}"
            for pool, n in self.tokens.items()
        ]
        text = ", ".join(parts) or "none"
        return f"{text} ({'; '.join(self.notes)})" if self.notes else text


def job_tokens(
    cpus: int | None,
    licenses: Mapping[str, int],
    sizes: PoolSizes,
    *,
    placement: Placement = "here",
    session_feature: str | None = None,
) -> JobTokens:
    """The local tokens of a job asking ``cpus`` and ``licenses``.

    A job sent to a batch system (``placement="batch"``) asks the batch system for its CPUs
    (and for its licences too when the site says ``batch_licenses``); one on a remote node
    uses that node's CPUs. ``session_feature`` is the licence that the process's tool session
    holds for the job (``innovus`` for kind innovus): the session takes it, not the job.
    A CPU request above the pool is lowered to the pool (the job runs, on fewer CPUs);
    a licence request above its pool stays, and fails when taken.
    """
    tokens: dict[str, int] = {}
    notes: list[str] = []
    if cpus:
        if placement == "batch":
            notes.append(f"{cpus} cpus asked of the batch system")
        elif placement == "remote":
            notes.append(f"{cpus} cpus on the remote node, none here")
        elif cpus > sizes.cpus:
            tokens[CPUS] = sizes.cpus
            notes.append(f"asks {cpus} cpus, the pool has {sizes.cpus}: holds all of them")
        else:
            tokens[CPUS] = cpus
    for feature, n in licenses.items():
        if feature == session_feature:
            notes.append(f"licence {feature} held by the session")
        elif feature not in sizes.licenses:
            notes.append(f"licence {feature}: no pool, not capped")
        elif placement == "batch" and sizes.batch_licenses:
            notes.append(f"licence {feature} left to the batch system")
        else:
            tokens[license_pool(feature)] = n
    return JobTokens(tokens, notes)


def job_env(cpus: int | None, licenses: Mapping[str, int]) -> dict[str, str]:
    """What the job is told of its request (and batch templates read): SPILOT_CPUS and
    SPILOT_LICENSES (``innovus:1,genus:2``); empty for a job that asks nothing."""
    env = {}
    if cpus:
        env["SPILOT_CPUS"] = str(cpus)
    if licenses:
        env["SPILOT_LICENSES"] = ",".join(f"{f}:{n}" for f, n in licenses.items())
    return env
