"""Run every benchmark (overhead, scale, scaling, collection, session, log, remote, migration)."""

from __future__ import annotations

import sys

import bench_collection
import bench_live
import bench_logfollow
import bench_migration
import bench_overhead
import bench_pools
import bench_remote
import bench_scale
import bench_scaling
import bench_session
from _common import Options, Result, main

BENCHES = (
    bench_overhead,
    bench_scale,
    bench_scaling,
    bench_collection,
    bench_session,
    bench_logfollow,
    bench_remote,
    bench_migration,
    bench_live,
    bench_pools,
)


def bench(options: Options) -> list[Result]:
    results: list[Result] = []
    for module in BENCHES:
        results += module.bench(options)
    return results


if __name__ == "__main__":
    sys.exit(main(__doc__.splitlines()[0], bench))
