"""The live Slurm cluster of slurm_kit: it answers srun and leaves nothing running."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator

import pytest
from slurm_kit import SlurmCluster, require_slurm


@pytest.fixture(scope="module")
def cluster() -> Iterator[SlurmCluster]:
    require_slurm()
    with SlurmCluster() as started:
        yield started


def test_srun_output_and_exit_codes(cluster: SlurmCluster) -> None:
    hi = cluster.run_client(["srun", "-N1", "echo", "hi"])
    assert (hi.returncode, hi.stdout) == (0, "hi\n"), hi.stderr
    false = cluster.run_client(["srun", "-N1", "false"])
    assert false.returncode == 1
    assert "Exited with exit code 1" in false.stderr
    # A finished job may be listed a moment longer while it is COMPLETING.
    deadline = time.monotonic() + 10
    while cluster.squeue_ids() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert cluster.squeue_ids() == []


def test_stop_leaves_no_daemon_alive() -> None:
    require_slurm()
    cluster = SlurmCluster()
    with cluster:
        daemons = {cmd.split()[0].rsplit("/", 1)[-1] for _, cmd in cluster.leftover_processes()}
        assert {"munged", "slurmctld", "slurmd"} <= daemons
        # A job still running at stop() is cancelled and its slurmstepd is gone afterwards.
        job = subprocess.Popen(
            ["srun", "--job-name=kit-leftover", "sleep", "60"],
            env=cluster.client_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            while not cluster.run_client(["squeue", "-h", "-t", "R", "-o", "%i"]).stdout.strip():
                assert job.poll() is None
        finally:
            cluster.stop()
            job.wait(timeout=30)
    assert cluster.leftover_processes() == []
    assert not cluster.dir.exists()
