"""What every benchmark result records about how it was made: the date, the commit and the machine."""
from __future__ import annotations

import os
import platform
import subprocess
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = "benchmarks/results/"  # what benchmarks write: a changed result is not a changed source


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def changed_sources(porcelain: str) -> list[str]:
    """The paths of ``git status --porcelain`` output, less the result files (renames: their new path)."""
    paths = (line[3:].split(" -> ")[-1].strip('"') for line in porcelain.splitlines() if line.strip())
    return sorted(path for path in paths if not path.startswith(RESULTS))


def provenance(**machine: object) -> dict:
    """``date``, ``git_commit``, ``git_worktree`` (clean, or with uncommitted changes; result files do not
    count), ``git_changed`` (those changed files, when there are any) and ``machine`` (platform, CPUs,
    Python, and whatever else ``machine`` names: a GPU, the torch version)."""
    status, head = _git("status", "--porcelain"), _git("rev-parse", "HEAD")
    changed = None if status is None else changed_sources(status)
    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "git_commit": None if head is None else head.strip(),
        "git_worktree": None if changed is None else "with uncommitted changes" if changed else "clean",
        **({"git_changed": changed} if changed else {}),
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(), "python": platform.python_version(),
                    **machine},
    }
