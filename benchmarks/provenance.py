"""What every benchmark result records about how it was made: the date, the commit and the machine."""
from __future__ import annotations

import os
import platform
import subprocess
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def provenance(**machine: object) -> dict:
    """``date``, ``git_commit``, ``git_worktree`` (clean, or with uncommitted changes) and ``machine``
    (platform, CPUs, Python, and whatever else ``machine`` names: a GPU, the torch version)."""
    status = _git("status", "--porcelain")
    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "git_commit": _git("rev-parse", "HEAD"),
        "git_worktree": None if status is None else "with uncommitted changes" if status else "clean",
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(), "python": platform.python_version(),
                    **machine},
    }
