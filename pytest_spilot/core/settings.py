"""Where a release's files go and what it compares with: resolved once per run."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from pytest_spilot.core.state import ReleaseState
from pytest_spilot.core.store import ReleaseStore, read_release
from pytest_spilot.errors import SpilotError

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
        return load_release(
            self.baseline, self.root, self.state_path.parent, what="--spilot-baseline"
        )


def release_path(arg: str, root: Path, state_dir: Path | None = None) -> Path:
    """The state that ``arg`` names: a state file's path (relative to ``root``) or a version
    whose state is ``<state_dir>/<version>.json`` (default ``root/.spilot``).

    The one reading of "a path or a version" for ``spilot report``/``compare``/``rules`` and
    ``--spilot-baseline``; a path wins when both exist.
    """
    state_dir = state_dir if state_dir is not None else root / SPILOT_DIR
    as_path = root / arg
    if as_path.suffix == ".json" and ReleaseStore(as_path).exists():
        return as_path
    by_version = state_dir / f"{arg}.json"
    if ReleaseStore(by_version).exists():
        return by_version
    if as_path.is_file():
        return as_path
    found = release_versions(state_dir)
    known = (
        f"versions with a state there: {', '.join(found)}"
        if found
        else f"no release has a state in {state_dir} yet"
    )
    raise SpilotError(
        f"{arg}: no such release state, neither a file {as_path} nor a version's state "
        f"{by_version} ({known}); give a state file's path or a version (pytest writes "
        "them: --spilot-version, --spilot-state)"
    )


def load_release(
    arg: str, root: Path, state_dir: Path | None = None, *, what: str = ""
) -> ReleaseState:
    """The release ``arg`` names (see ``release_path``), folded with its journal first, so a
    run still going is read as it stands."""
    try:
        path = release_path(arg, root, state_dir)
        state = read_release(path)
    except SpilotError as exc:
        raise SpilotError(f"{what} {exc}" if what else str(exc)) from None
    if state is None:
        raise SpilotError(
            f"{what + ' ' if what else ''}{arg}: {path} holds no release yet (its run wrote "
            "nothing); give an earlier release's state file or version"
        )
    return state


def release_versions(state_dir: Path) -> list[str]:
    """The versions with a state (document or journal) in ``state_dir``, oldest write first."""
    if not state_dir.is_dir():
        return []
    found: dict[str, float] = {}
    for entry in state_dir.iterdir():
        if (entry.suffix == ".json" and _is_state(entry)) or (
            entry.suffix == ".journal" and entry.is_dir()
        ):
            mtime = entry.stat().st_mtime
            found[entry.stem] = max(found.get(entry.stem, 0.0), mtime)
    return sorted(found, key=lambda v: (found[v], v))


def _is_state(path: Path) -> bool:
    """A release document, not another JSON file kept there (README suggests a schema)."""
    try:
        with path.open("rb") as f:
            head = f.read(64)
    except OSError:
        return False
    # ReleaseState's first field; every schema version writes it first.
    return head.lstrip().startswith(b'{"schema_version"')
