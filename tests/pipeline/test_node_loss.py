"""Nodes lost in the middle of a run, on a real multi-node Ray cluster on this machine (a head that only
drives and worker nodes of one CPU each, as raylets): the statistics stage does a lost node's shards again on
the nodes that remain, waits for the cluster to have room when it has none (a node added back), says so in
the log, and ends with the statistics of an undisturbed run, every architecture exactly once."""
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pandas as pd
import pytest
import ray
from conftest import local_cluster

from cbred_ray.config import ResourcesConfig, StatsConfig
from cbred_ray.pipeline.run import run_statistics
from cbred_ray.spaces.cell import nb201
from cbred_ray.spaces.cell.canonical import canonical_cells

CFG = StatsConfig(names=("naswot_v2", "logsynflow", "params"), data={"batch_size": 16}, shard_size=1)


def _archs(n):
    cells = nb201.cell_range(5000, 5400)
    cells = cells[cells[:, 5] != nb201.OPS.index("none")]
    _, first = np.unique(canonical_cells(cells), axis=0, return_index=True)
    return [nb201.format_cell(cells[i]) for i in np.sort(first)[:n]]


def _done(store):
    folder = store / "stats"
    return len(list(folder.glob("shard-*.parquet"))) if folder.is_dir() else 0


def _table(store):
    return pd.read_parquet(store / "stats").sort_values("arch_index").reset_index(drop=True)


def test_the_statistics_survive_losing_every_node_they_started_on(ray_local_put_back, monkeypatch, tmp_path, caplog):
    archs = _archs(14)
    reference = tmp_path / "undisturbed"
    run_statistics(archs, CFG, str(reference), seed=3, progress=False, resources=ResourcesConfig(num_actors=2))
    ray.shutdown()

    store, events = tmp_path / "disturbed", []
    with local_cluster(monkeypatch, workers=2) as cluster:
        first, second = cluster.worker_nodes

        def disturb():
            deadline = time.monotonic() + 300
            while _done(store) < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
            cluster.remove_node(first, allow_graceful=False)  # its raylet and workers killed: a lost node
            events.append(("lost", _done(store)))
            while _done(store) < 7 and time.monotonic() < deadline:
                time.sleep(0.05)
            cluster.remove_node(second, allow_graceful=False)  # no node with a CPU left: the stage waits
            events.append(("lost", _done(store)))
            time.sleep(3)
            # the autoscaler brings one back: a raylet joining with `ray start --address`, as a new node does
            added.append(subprocess.Popen([sys.executable, "-m", "ray.scripts.scripts", "start", "--address",
                                           cluster.address, "--num-cpus", "1", "--block"], start_new_session=True,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            events.append(("added", _done(store)))

        thread, added = threading.Thread(target=disturb), []
        thread.start()
        try:
            with caplog.at_level(logging.WARNING, logger="cbred"):
                manifest = run_statistics(archs, CFG, str(store), seed=3, progress=False,
                                          resources=ResourcesConfig(num_actors=2, wait_seconds=120))
        finally:
            thread.join()
            for node in added:
                os.killpg(node.pid, signal.SIGKILL)
                node.wait()

    assert [e[0] for e in events] == ["lost", "lost", "added"] and events[-1][1] < len(archs), events
    record = manifest["stages"]["stats"]
    assert manifest["status"] == "done" and record["actors_lost"] >= 2
    assert len(record["shards_per_node"]) == 3  # the first two nodes, then the one added
    lost = [r.getMessage() for r in caplog.records if "lost the statistics actor" in r.getMessage()]
    assert len(lost) == record["actors_lost"]
    a = _table(store)
    assert a["arch_index"].is_unique and len(a) == len(archs)
    pd.testing.assert_frame_equal(a, _table(reference))


def test_a_stage_with_no_room_says_so_and_gives_up_after_its_wait(ray_local_put_back, monkeypatch, tmp_path, caplog):
    from cbred_ray.pipeline import losses

    monkeypatch.setattr(losses, "NOTICE_EVERY", 0.5)
    ray.shutdown()  # the session's Ray: the run joins the cluster instead
    with local_cluster(monkeypatch, workers=0):  # a head with no CPU: no statistics actor can be placed
        with caplog.at_level(logging.WARNING, logger="cbred"), pytest.raises(losses.ClusterTooSmall, match="no room"):
            run_statistics(_archs(2), CFG, str(tmp_path / "s"), seed=3, progress=False,
                           resources=ResourcesConfig(num_actors=1, wait_seconds=3))
    assert any("waiting for the cluster to have room" in r.getMessage() for r in caplog.records)
    manifest = json.loads((tmp_path / "s" / "manifest.json").read_text())
    assert manifest["status"] == "failed" and manifest["stopped"]["by"] == "ClusterTooSmall"


def test_the_clustering_holders_of_a_lost_node_are_reloaded_from_the_store(ray_local_put_back, monkeypatch, tmp_path,
                                                                           caplog):
    from ray.util.state import get_actor

    from cbred_ray.pipeline.kmeans_stage import distributed_kmeans
    from cbred_ray.pipeline.shard_holders import Holders

    space, store = _cell_store(tmp_path)
    ray.shutdown()
    with local_cluster(monkeypatch, workers=2) as cluster:
        ray.init(address=cluster.address)
        holders = Holders.from_store(store, "op_usage", 3)  # spread: at least two on the worker nodes
        before = distributed_kmeans(holders, k=12, seed=5)
        workers = {n.node_id: n for n in cluster.worker_nodes}
        lost = next(a for a in holders.actors if get_actor(a._actor_id.hex()).node_id in workers)
        # the node does not come back: its holder's replacement goes where the cluster has a node left
        cluster.remove_node(workers[get_actor(lost._actor_id.hex()).node_id], allow_graceful=False)
        deadline = time.monotonic() + 60  # its worker process outlives the raylet by a moment
        while get_actor(lost._actor_id.hex()).state != "DEAD" and time.monotonic() < deadline:
            time.sleep(0.2)
        with caplog.at_level(logging.WARNING, logger="cbred"):
            after = distributed_kmeans(holders, k=12, seed=5)
        assert holders.lost >= 1 and any("lost the holder of graphs shards" in r.getMessage() for r in caplog.records)
        assert sum(holders.each("count")) == space.size  # every row held again, none twice
        holders.close()
    np.testing.assert_array_equal(after.centers, before.centers)
    np.testing.assert_array_equal(after.sizes, before.sizes)
    assert after.inertia == before.inertia


def _cell_store(tmp_path, shards=6):
    from cbred_ray.pipeline.graphs_stage import graphs_table
    from cbred_ray.spaces.cell import CellSpace
    from cbred_ray.store import Store

    space, store = CellSpace(4), Store(tmp_path / "s")
    store.write_manifest({"config_hash": "t", "status": "running", "stages": {}})
    for n, part in enumerate(np.array_split(np.arange(space.size), shards)):
        store.write_shard("graphs", n, graphs_table(space, part, "op_usage"))
    return space, store


def test_the_graphs_stage_with_no_cpu_left_says_so_and_gives_up_after_its_wait(ray_local_put_back, monkeypatch,
                                                                               tmp_path, caplog):
    from cbred_ray.config import config_from_dict
    from cbred_ray.pipeline import losses
    from cbred_ray.pipeline.context import RunContext
    from cbred_ray.pipeline.graphs_stage import run_graphs_stage
    from cbred_ray.spaces.cell import CellSpace
    from cbred_ray.store import Store

    monkeypatch.setattr(losses, "NOTICE_EVERY", 0.5)
    store = Store(tmp_path / "s")
    store.write_manifest({"config_hash": "t", "status": "running", "stages": {}})
    ray.shutdown()
    with local_cluster(monkeypatch, workers=0):  # a head that keeps no CPU for tasks, and no worker node
        ray.init()
        started = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="cbred"), pytest.raises(losses.ClusterTooSmall, match="graphs"):
            config = config_from_dict({"graphs": {"shard_size": 1000}, "cluster": {"features": "op_usage"},
                                       "resources": {"wait_seconds": 3}})
            run_graphs_stage(RunContext.of_run(config, store, CellSpace(4), progress=False))
        assert time.monotonic() - started < 60
    assert any("graphs: waiting for the cluster to have room" in r.getMessage() for r in caplog.records)
    assert not store.shard_files("graphs")


def test_clustering_holders_are_placed_on_a_cluster_with_no_cpu(ray_local_put_back, monkeypatch, tmp_path):
    from cbred_ray.pipeline.shard_holders import ShardHolder

    _, store = _cell_store(tmp_path, shards=2)
    ray.shutdown()
    with local_cluster(monkeypatch, workers=0):  # what a cluster that lost every worker node has left
        ray.init()
        holder = ShardHolder.remote()
        loaded = holder.load.remote(str(store.root), [0, 1], "op_usage")
        ready, _ = ray.wait([loaded], timeout=60)
        assert ready, "a holder was not placed on a cluster with no CPU"
        assert ray.get(loaded) == store.count_rows("graphs")
