"""Machine-wide token pools (CPUs, licence features) shared by every process using one folder."""

from pytest_spilot.resources.pools import CPUS, Held, TokenPool, license_pool, pool_label
from pytest_spilot.resources.request import JobTokens, Placement, job_env, job_tokens
from pytest_spilot.resources.sizes import PoolSizes, parse_license_option, usable_cpus

__all__ = [
    "CPUS",
    "Held",
    "JobTokens",
    "Placement",
    "PoolSizes",
    "TokenPool",
    "job_env",
    "job_tokens",
    "license_pool",
    "parse_license_option",
    "pool_label",
    "usable_cpus",
]
