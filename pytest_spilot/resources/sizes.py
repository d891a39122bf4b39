"""How big each pool is: site configuration, then the command line; and how jobs ask."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from pytest_spilot.errors import SpilotError
from pytest_spilot.resources.pools import CPUS, license_pool

_FEATURE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask), else the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def parse_license_option(value: str) -> tuple[str, int]:
    """``FEATURE=N`` of ``--spilot-license`` as (feature, N); SpilotError naming the fix."""
    feature, sep, count = value.partition("=")
    feature = feature.strip()
    try:
        n = int(count) if sep else 0
    except ValueError:
        n = 0
    if not _FEATURE_RE.match(feature) or n < 1:
        raise SpilotError(
            f"--spilot-license {value!r}: give FEATURE=N, a licence feature name (letters, "
            "digits, '_', '.', '-') and a count of at least 1, e.g. --spilot-license innovus=4"
        )
    return feature, n


@dataclass(frozen=True)
class PoolSizes:
    """The pools of a run: CPUs (always capped) and the licence features the site caps."""

    cpus: int
    licenses: Mapping[str, int] = field(default_factory=dict)
    # Jobs sent to a batch system leave their licences to it, not to the local pools.
    batch_licenses: bool = False
    # Where each size came from, for messages: "--spilot-cpus", "[tool.spilot.resources]" ...
    origins: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def resolve(
        cls,
        *,
        site_cpus: int | None = None,
        site_licenses: Mapping[str, int] | None = None,
        batch_licenses: bool = False,
        cli_cpus: int | None = None,
        cli_licenses: Iterable[str] = (),
        site_innovus: int | None = None,
        cli_innovus: int | None = None,
    ) -> PoolSizes:
        """Command line over site; the older Innovus session caps (``[tool.spilot.innovus]
        licenses``, ``--spilot-innovus-licenses``) name the ``innovus`` pool, each under the
        general setting of its own level."""
        if cli_cpus is not None and cli_cpus < 1:
            raise SpilotError(f"--spilot-cpus {cli_cpus}: give at least 1")
        origins: dict[str, str] = {}
        licenses: dict[str, int] = {}
        if cli_innovus is not None and cli_innovus < 1:
            raise SpilotError(f"--spilot-innovus-licenses {cli_innovus}: give at least 1")
        if site_innovus is not None:
            licenses["innovus"] = site_innovus
            origins[license_pool("innovus")] = "[tool.spilot.innovus] licenses"
        for feature, n in (site_licenses or {}).items():
            licenses[feature] = n
            origins[license_pool(feature)] = "[tool.spilot.resources] licenses"
        if cli_innovus is not None:
            licenses["innovus"] = cli_innovus
            origins[license_pool("innovus")] = "--spilot-innovus-licenses"
        for value in cli_licenses:
            feature, n = parse_license_option(value)
            licenses[feature] = n
            origins[license_pool(feature)] = "--spilot-license"
        if cli_cpus is not None:
            cpus, origins[CPUS] = cli_cpus, "--spilot-cpus"
        elif site_cpus is not None:
            cpus, origins[CPUS] = site_cpus, "[tool.spilot.resources] cpus"
        else:
            cpus, origins[CPUS] = usable_cpus(), "this machine's CPUs"
        return cls(cpus, licenses, batch_licenses, origins)

    @property
    def tokens(self) -> dict[str, int]:
        """Pool name to size, as TokenPool takes them."""
        return {CPUS: self.cpus, **{license_pool(f): n for f, n in self.licenses.items()}}

    def describe(self) -> str:
        """One line: ``cpus 4 (--spilot-cpus), licence innovus 2 (--spilot-license)``."""
        parts = [f"cpus {self.cpus} ({self.origins.get(CPUS, 'default')})"]
        for feature, n in sorted(self.licenses.items()):
            origin = self.origins.get(license_pool(feature), "default")
            parts.append(f"licence {feature} {n} ({origin})")
        if self.batch_licenses:
            parts.append("batch jobs' licences left to the batch system")
        return ", ".join(parts)
