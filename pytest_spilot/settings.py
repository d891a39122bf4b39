"""Where a release's files go and what it compares with: resolved once per run."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from pytest_spilot.errors import SpilotError
from pytest_spilot.state import ReleaseState
from pytest_spilot.store import ReleaseStore, read_release

SPILOT_DIR = ".spilot"


def default_version(root: Path) -> str:
    """``git describe --tags`` of ``root``, else ``dev``."""
    try:
        out = subprocess.run(
            ["git", "describe", "--tags"], cwd=root, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return "dev"
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else "dev"


@dataclass(frozen=True)
class Settings:
    root: Path
    version: str
    state_path: Path
    runs_root: Path
    resume: bool = False
    baseline: str | None = None
    regressions: bool = False  # a 'regressions' verdict is part of every validation's result

    @classmethod
    def resolve(
        cls,
        root: Path,
        *,
        version: str | None = None,
        state_path: str | None = None,
        runs_root: str | None = None,
        resume: bool = False,
        baseline: str | None = None,
        regressions: bool = False,
    ) -> Settings:
        version = version or default_version(root)
        if not version.replace(".", "").replace("-", "").replace("_", "").isalnum():
            raise SpilotError(
                f"--spilot-version {version!r}: use letters, digits, '.', '-' and '_' only "
                "(it names files and folders)"
            )
        return cls(
            root=root,
            version=version,
            state_path=root / (state_path or f"{SPILOT_DIR}/{version}.json"),
            runs_root=root / (runs_root or f"{SPILOT_DIR}/runs"),
            resume=resume,
            baseline=baseline,
            regressions=regressions,
        )

    def load_baseline(self) -> ReleaseState | None:
        """The baseline release: a state file path, or a version whose state sits beside ours."""
        if not self.baseline:
            return None
        candidate = self.root / self.baseline
        if not ReleaseStore(candidate).exists():
            candidate = self.state_path.parent / f"{self.baseline}.json"
        state = read_release(candidate)
        if state is None:
            raise SpilotError(
                f"--spilot-baseline {self.baseline!r}: no state file at "
                f"{self.root / self.baseline} "
                f"nor {candidate}; give the path of an earlier release's state or its version"
            )
        return state
