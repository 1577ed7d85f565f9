"""`cbred run` killed with SIGKILL and started again with the same arguments finishes with the
same store as an uninterrupted run, without computing again a shard that was finished.
One store is killed three times, at its start, in its graphs and in its statistics.

Each run is a subprocess in its own process group (its driver and the Ray it starts); a kill
sends SIGKILL to that group alone. The config is small: the whole NB201 space in 8 graphs
shards, 6 clusters scored from 4 sampled members each, one distinct cell per statistics shard.
"""
import json
import subprocess
import sys
import time

import pandas as pd
import pytest
import yaml
from fault_injection import kill_group, manifest_stage, settle, shard_files

from cbred_ray.store.lock import LOCK_NAME

CONFIG = {
    "name": "killed", "seed": 3,
    "graphs": {"shard_size": 2000},
    "stats": {"names": ["naswot_v2", "logsynflow", "params", "macs"], "data": {"batch_size": 8}, "shard_size": 1},
    "resources": {"torch_threads": 1},
    "cluster": {"k": 6, "n_init": 2},
    "select": {"statistics": ["naswot_v2", "logsynflow"], "min_cluster_size": 2, "bootstrap": 50,
               "quick": {"enabled": True, "sample_per_cluster": 4}},
}
GRAPH_SHARDS = 8  # ceil(15,625 / 2,000)
TABLES = ("graphs", "clusters", "stats", "scores", "selection")


def _start(config, store, log, *options):
    return subprocess.Popen([sys.executable, "-m", "cbred_ray.cli", "run", str(config), "--out", str(store), "--quiet",
                             *options], stdout=subprocess.DEVNULL, stderr=log.open("ab"), start_new_session=True)


def _run(config, store, log, *options):
    run = _start(config, store, log, *options)
    assert run.wait(timeout=900) == 0, log.read_text()[-3000:]


def _kill_when(run, ready, store, timeout=600):
    """SIGKILL the run's process group as soon as ``ready()``; False if it ended first.

    Ray's workers run in process groups of their own and end when the Ray processes of the
    killed group are gone, a moment later: a shard one of them was writing may still land.
    This returns once the store has stopped changing."""
    deadline = time.monotonic() + timeout
    while not ready() and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    alive = run.poll() is None
    kill_group(run.pid)
    run.wait()
    settle(store)
    return alive and ready()


def _table(store, stage):
    frame = pd.read_parquet(store / stage)
    key = "arch_index" if "arch_index" in frame else "cluster"
    return frame.sort_values(key).reset_index(drop=True)


def _assert_same_store(store, reference):
    for stage in TABLES:
        pd.testing.assert_frame_equal(_table(store, stage), _table(reference, stage), obj=stage)
        assert sorted(p.name for p in (store / stage).iterdir()) == sorted(p.name for p in (reference / stage).iterdir())
    stats = _table(store, "stats")
    assert stats["arch_index"].is_unique


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    path = tmp_path_factory.mktemp("config") / "killed.yaml"
    path.write_text(yaml.safe_dump(CONFIG))
    return path


@pytest.fixture(scope="module")
def reference(config, tmp_path_factory):
    """An uninterrupted run of the same config."""
    folder = tmp_path_factory.mktemp("reference")
    _run(config, folder / "store", folder / "log.txt")
    return folder / "store"


def test_a_run_killed_at_its_start_in_its_graphs_and_in_its_statistics_resumes_each_time(config, reference, tmp_path):
    """One store, three kills (right after the manifest appears, in the graphs, in the statistics),
    each followed by the same command: no finished shard is computed again, the lock each killed
    driver leaves does not block the next, and the store ends equal to an uninterrupted run's. The
    killed runs compute the statistics with 1 actor, the last with 2 (resources are not the config)."""
    store, log = tmp_path / "store", tmp_path / "log.txt"
    one, two = ("--set", "resources.num_actors=1"), ("--set", "resources.num_actors=2")

    run = _start(config, store, log, *one)
    assert _kill_when(run, lambda: (store / "manifest.json").is_file(), store), "the run ended before it was killed"
    assert not (store / "graphs").exists() or not shard_files(store, "graphs")
    assert json.loads((store / LOCK_NAME).read_text())["pid"] == run.pid  # the killed driver's lease is left

    run = _start(config, store, log, *one)
    assert _kill_when(run, lambda: len(shard_files(store, "graphs")) >= 2, store)
    graphs = shard_files(store, "graphs")
    assert 2 <= len(graphs) < GRAPH_SHARDS, "the run was not killed in the middle of its graphs"
    assert json.loads((store / "manifest.json").read_text())["stages"]["graphs"]["status"] == "running"

    run = _start(config, store, log, *one)
    assert _kill_when(run, lambda: len(shard_files(store, "stats")) >= 3, store), "the run ended before it was killed"
    after = shard_files(store, "graphs")
    assert {name: after[name] for name in graphs} == graphs  # the same files: not computed again
    killed = json.loads((store / "manifest.json").read_text())
    record = killed["stages"]["graphs"]
    assert record["shards_reused"] == len(graphs) and record["shards"]["done"] == GRAPH_SHARDS
    assert record["shards"]["status"].count("R") == len(graphs)
    finished = shard_files(store, "stats")
    total = manifest_stage(reference, "stats")["shards_total"]
    assert 3 <= len(finished) < total, "the run was not killed in the middle of its statistics"
    assert killed["status"] == "running" and killed["stages"]["stats"]["status"] == "running"
    recorded = killed["stages"]["stats"]["shards"]
    assert recorded["total"] == total and len(recorded["status"]) == total
    # the manifest, rewritten as shards finish, never claims a shard that has no whole file
    claimed = {f"shard-{i:05d}.parquet" for i, code in enumerate(recorded["status"]) if code != "."}
    assert claimed <= set(finished)

    different = config.with_name("different.yaml")
    different.write_text(yaml.safe_dump({**CONFIG, "seed": 4}))
    before = {p: p.read_bytes() for p in store.rglob("*") if p.is_file()}
    refused = subprocess.run([sys.executable, "-m", "cbred_ray.cli", "run", str(different), "--out", str(store)],
                             capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2 and "use a new --out directory" in refused.stderr
    assert {p: p.read_bytes() for p in store.rglob("*") if p.is_file()} == before

    _run(config, store, log, *two)
    after = shard_files(store, "stats")
    assert {name: after[name] for name in finished} == finished
    manifest = json.loads((store / "manifest.json").read_text())
    record = manifest["stages"]["stats"]
    assert manifest["status"] == "done" and record["shards_reused"] == len(finished)
    assert [s["resources"]["num_actors"] for s in manifest["sessions"]] == [1, 1, 1, 2]
    assert record["actors"] == 2
    assert record["shards"]["status"] == "".join(
        "R" if f"shard-{i:05d}.parquet" in finished else "C" for i in range(total))
    assert record["cells_computed"] == total - len(finished)
    assert manifest["stages"]["graphs"] == killed["stages"]["graphs"]  # done before the last kill: reused as it was
    _assert_same_store(store, reference)
