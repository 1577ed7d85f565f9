"""A statistics actor killed in the middle of a run is restarted by Ray and its shard retried:
the run completes with every architecture exactly once, as an undisturbed run."""
import os
import signal
import threading
import time

import numpy as np
import pandas as pd
from fault_injection import descendants_named

from cbred_ray.config import ResourcesConfig, StatsConfig
from cbred_ray.pipeline.run import run_statistics
from cbred_ray.spaces.cell import nb201
from cbred_ray.spaces.cell.canonical import canonical_cells


def _archs(n):
    cells = nb201.cell_range(6000, 6400)
    _, first = np.unique(canonical_cells(cells), axis=0, return_index=True)
    return [nb201.format_cell(cells[i]) for i in np.sort(first)[:n]]


def test_a_killed_statistics_actor_is_restarted_and_no_row_is_lost_or_doubled(ray_local, tmp_path):
    cfg = StatsConfig(names=("naswot_v1", "naswot_v2"), data={"batch_size": 32}, shard_size=1)
    archs = _archs(30)
    killed = []

    def kill_one_actor_mid_run():
        deadline = time.monotonic() + 300
        folder = tmp_path / "disturbed" / "stats"
        while time.monotonic() < deadline:
            done = len(list(folder.glob("shard-*.parquet"))) if folder.is_dir() else 0
            pids = descendants_named(b"ray::StatsWorker")  # this test's own actors, never another's
            if 2 <= done < 25 and pids:
                os.kill(pids[0], signal.SIGKILL)
                killed.append((pids[0], done))
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_one_actor_mid_run)
    killer.start()
    manifest = run_statistics(archs, cfg, str(tmp_path / "disturbed"), seed=1, progress=False,
                              resources=ResourcesConfig(num_actors=2))
    killer.join()
    assert killed, "no actor was killed in the middle of the run"
    assert manifest["rows"]["stats"] == 30

    run_statistics(archs, cfg, str(tmp_path / "undisturbed"), seed=1, progress=False,
                   resources=ResourcesConfig(num_actors=2))
    a, b = (pd.read_parquet(tmp_path / name / "stats").sort_values("arch_index").reset_index(drop=True)
            for name in ("disturbed", "undisturbed"))
    assert a["arch_index"].is_unique and len(a) == 30
    pd.testing.assert_frame_equal(a, b)
