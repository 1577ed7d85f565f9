"""The Quantiled baseline's uniform sample: its parts, written one by one, are the whole sample in order."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _sample(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "benchmarks" / "uniform_sample.py"), "--config",
                           str(ROOT / "configs" / "nb101_cifar10.yaml"), "--n", "50", "--seed", "3", *extra],
                          capture_output=True, text=True, cwd=tmp_path)


def test_parts_make_the_whole_sample_and_a_bad_part_is_refused(tmp_path):
    assert _sample(tmp_path, "--out", "all.txt").returncode == 0
    for k in (1, 2, 3):
        assert _sample(tmp_path, "--part", f"{k}/3", "--out", f"part{k}.txt").returncode == 0
    whole = (tmp_path / "all.txt").read_text().split()
    parts = [(tmp_path / f"part{k}.txt").read_text().split() for k in (1, 2, 3)]
    assert len(whole) == 50 == len(set(whole)) and sum(parts, []) == whole and all(parts)
    bad = _sample(tmp_path, "--part", "0/3", "--out", "bad.txt")
    assert bad.returncode == 2 and "--part '0/3'" in bad.stderr and not (tmp_path / "bad.txt").exists()
