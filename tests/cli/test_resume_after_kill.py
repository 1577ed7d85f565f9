"""`cbred stats` killed with SIGKILL in the middle of its statistics resumes on the same store:
finished shards are not recomputed and the result equals an uninterrupted run."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd

from cbred_ray.spaces.cell import nb201
from cbred_ray.spaces.cell.canonical import canonical_cells


def _command(archs, out):
    return [sys.executable, "-m", "cbred_ray.cli", "stats", "--archs", str(archs), "--stats", "naswot_v1,naswot_v2",
            "--batch-size", "32", "--shard-size", "1", "--out", str(out), "--quiet"]


def _shards(store):
    folder = store / "stats"
    return sorted(p.name for p in folder.glob("shard-*.parquet")) if folder.is_dir() else []


def test_a_killed_statistics_run_resumes_without_recomputing_finished_shards(tmp_path):
    cells = nb201.cell_range(9000, 9400)
    _, first = np.unique(canonical_cells(cells), axis=0, return_index=True)
    archs = tmp_path / "archs.txt"
    archs.write_text("\n".join(nb201.format_cell(cells[i]) for i in np.sort(first)[:20]) + "\n")  # 20 distinct cells
    store = tmp_path / "killed"

    run = subprocess.Popen(_command(archs, store), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           start_new_session=True)
    deadline = time.monotonic() + 300
    while len(_shards(store)) < 3 and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(run.pid, signal.SIGKILL)  # the driver and the Ray processes it started
    run.wait()
    done_before = _shards(store)
    assert 3 <= len(done_before) < 20, "the run was not killed in the middle of its statistics"
    assert json.loads((store / "manifest.json").read_text())["status"] == "running"

    resumed = subprocess.run(_command(archs, store), capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    manifest = json.loads((store / "manifest.json").read_text())
    record = manifest["stages"]["stats"]
    assert manifest["status"] == "done" and record["shards_total"] == 20
    assert record["shards_reused"] >= len(done_before)
    assert record["cells_computed"] == 20 - record["shards_reused"]

    fresh = subprocess.run(_command(archs, tmp_path / "fresh"), capture_output=True, text=True, timeout=600)
    assert fresh.returncode == 0, fresh.stderr
    a, b = (pd.read_parquet(p / "stats").sort_values("arch_index").reset_index(drop=True)
            for p in (store, tmp_path / "fresh"))
    assert len(a) == 20 and a["arch_index"].is_unique
    pd.testing.assert_frame_equal(a, b)
