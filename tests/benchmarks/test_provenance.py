"""What a benchmark result says of its worktree: a changed source counts, a changed result file does not."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from provenance import changed_sources, provenance  # noqa: E402


def test_result_files_are_not_changed_sources():
    porcelain = "\n".join([" M benchmarks/results/cell5_end_to_end.json", " D benchmarks/results/old.json",
                           "?? benchmarks/results/new_report/", " M cbred_ray/api.py",
                           'R  docs/old.md -> "docs/new name.md"', "?? benchmarks/new_script.py", ""])
    assert changed_sources(porcelain) == ["benchmarks/new_script.py", "cbred_ray/api.py", "docs/new name.md"]
    assert changed_sources(" M benchmarks/results/a.json\n") == []


@pytest.mark.skipif(shutil.which("git") is None or not (Path(__file__).resolve().parents[2] / ".git").exists(),
                    reason="not a git checkout")
def test_provenance_names_the_commit_and_what_differs_from_it():
    made = provenance(gpu="none")
    assert re.fullmatch(r"[0-9a-f]{40}", made["git_commit"]) and made["machine"]["gpu"] == "none"
    assert made["git_worktree"] == ("with uncommitted changes" if made.get("git_changed") else "clean")
    assert all(not path.startswith("benchmarks/results/") for path in made.get("git_changed", []))
