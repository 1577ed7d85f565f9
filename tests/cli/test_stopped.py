"""A run stopped by SIGTERM (a preempted pod) or SIGINT (Ctrl-C), sent to the driver alone or to its whole
process group (Ray's processes too): one `cbred:` line, exit 128 + the signal, the manifest saying
`interrupted`, the store's lock released, and the same command resuming to the result of an uninterrupted run."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from cbred_ray.spaces.cell import nb201
from cbred_ray.spaces.cell.canonical import canonical_cells

SHARDS = 16


def _command(archs, out):
    return [sys.executable, "-m", "cbred_ray.cli", "stats", "--archs", str(archs), "--stats", "naswot_v2,logsynflow",
            "--batch-size", "32", "--shard-size", "1", "--out", str(out), "--quiet"]


def _shards(store):
    folder = store / "stats"
    return sorted(p.name for p in folder.glob("shard-*.parquet")) if folder.is_dir() else []


@pytest.fixture(scope="module")
def archs(tmp_path_factory):
    cells = nb201.cell_range(7000, 7400)
    _, first = np.unique(canonical_cells(cells), axis=0, return_index=True)
    path = tmp_path_factory.mktemp("archs") / "archs.txt"
    path.write_text("\n".join(nb201.format_cell(cells[i]) for i in np.sort(first)[:SHARDS]) + "\n")
    return path


@pytest.fixture(scope="module")
def uninterrupted(archs, tmp_path_factory):
    store = tmp_path_factory.mktemp("fresh") / "store"
    done = subprocess.run(_command(archs, store), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return pd.read_parquet(store / "stats").sort_values("arch_index").reset_index(drop=True)


@pytest.mark.parametrize(("signum", "group"), [(signal.SIGTERM, False), (signal.SIGTERM, True), (signal.SIGINT, True)],
                         ids=["sigterm-driver", "sigterm-group", "sigint-group"])
def test_a_stopped_run_says_so_in_one_line_releases_its_store_and_resumes(archs, uninterrupted, tmp_path, signum,
                                                                             group):
    store = tmp_path / "stopped"
    run = subprocess.Popen(_command(archs, store), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                           start_new_session=True)
    deadline = time.monotonic() + 300
    while len(_shards(store)) < 2 and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    (os.killpg if group else os.kill)(run.pid, signum)
    try:
        _, stderr = run.communicate(timeout=60)
    finally:
        if run.poll() is None or group is False:
            try:
                os.killpg(run.pid, signal.SIGKILL)  # whatever Ray left behind
            except ProcessLookupError:
                pass
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert run.returncode == 128 + signum, stderr
    ours = [line for line in lines if line.startswith("cbred:")]
    assert ours == [lines[-1]] and signal.Signals(signum).name in ours[0] and len(ours[0]) <= 300, stderr
    done_before = _shards(store)
    assert len(done_before) < SHARDS, "the run ended before it was stopped"
    manifest = json.loads((store / "manifest.json").read_text())
    assert manifest["status"] == "interrupted" and manifest["stopped"]["by"] == signal.Signals(signum).name
    assert (store / ".cbred-lock").read_text() == ""  # the lease is released

    resumed = subprocess.run(_command(archs, store), capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    manifest = json.loads((store / "manifest.json").read_text())
    assert manifest["status"] == "done" and manifest["stages"]["stats"]["shards_reused"] >= len(done_before)
    stats = pd.read_parquet(store / "stats").sort_values("arch_index").reset_index(drop=True)
    pd.testing.assert_frame_equal(stats, uninterrupted)
