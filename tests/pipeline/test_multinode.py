"""A multi-node Ray cluster on one machine (a head without GPUs and two worker nodes that
advertise one GPU each): the statistics actors are planned and placed one per advertised
GPU, each on its own GPU node; where torch sees no CUDA device they compute on the CPU and
say so; and the statistics equal those of a single-node run."""
from contextlib import contextmanager

import numpy as np
import pandas as pd
import pytest
import ray
from conftest import local_cluster

from cbred_ray.config import ResourcesConfig, StatsConfig
from cbred_ray.pipeline.run import run_statistics
from cbred_ray.pipeline.runtime import ActorPlan, plan_actors
from cbred_ray.spaces.cell import nb201
from cbred_ray.spaces.cell.canonical import canonical_cells
from cbred_ray.store import Store

CFG = StatsConfig(names=("naswot_v2", "logsynflow", "params", "macs"), data={"batch_size": 8}, shard_size=2)


def _archs(n):
    """``n`` architectures of distinct canonical cells whose output node has a live input."""
    cells = nb201.cell_range(9000, 9400)
    cells = cells[cells[:, 5] != nb201.OPS.index("none")]
    _, first = np.unique(canonical_cells(cells), axis=0, return_index=True)
    return [nb201.format_cell(cells[i]) for i in np.sort(first)[:n]]


@contextmanager
def _gpu_cluster(monkeypatch):
    """A head that only drives and two worker nodes of 1 CPU and 1 GPU each."""
    with local_cluster(monkeypatch, workers=2, num_gpus=1) as cluster:
        yield cluster


def _table(out):
    return Store(out).read("stats").to_pandas().sort_values("arch_index").reset_index(drop=True)


def test_statistics_actors_go_one_per_advertised_gpu_and_match_a_single_node_run(ray_local_put_back, monkeypatch,
                                                                                  tmp_path):
    archs = _archs(10)
    single = run_statistics(archs, CFG, str(tmp_path / "single"), seed=5, progress=False)["stages"]["stats"]
    ray.shutdown()

    with _gpu_cluster(monkeypatch) as cluster:
        with pytest.warns(RuntimeWarning, match=r"2 of 2 statistics actors .*torch.cuda.is_available\(\) is False"):
            multi = run_statistics(archs, CFG, str(tmp_path / "multi"), seed=5, progress=False)["stages"]["stats"]
        ray.init(address=cluster.address)  # the run joined the cluster and left it: join it again to look
        assert plan_actors(ResourcesConfig()) == ActorPlan(num_actors=2, num_gpus=1.0, num_cpus=1.0)
        advertised = {n["NodeID"]: n["Resources"].get("GPU", 0) for n in ray.nodes() if n["Alive"]}
        gpu_nodes = {node.node_id for node in cluster.worker_nodes}
        head = cluster.head_node.node_id

    # one actor per advertised GPU, each on its own GPU worker node, holding that node's GPU
    assert advertised == {head: 0, **{node: 1 for node in gpu_nodes}} and len(gpu_nodes) == 2
    assert multi["actors"] == 2 and multi["num_gpus_per_actor"] == 1.0
    placement = multi["placement"]
    assert {p["node_id"] for p in placement} == gpu_nodes
    assert all(len(p["gpu_ids"]) == 1 for p in placement)
    # both nodes computed shards (the pool hands each actor one first), every shard once
    assert set(multi["shards_per_node"]) == gpu_nodes
    assert sum(multi["shards_per_node"].values()) == multi["shards_total"] == 5
    # assigned a GPU that torch cannot see: the CPU, said in the record (and on stderr, as the warning)
    assert multi["device"] == "cpu" and {p["device"] for p in placement} == {"cpu"}
    assert len(multi["warnings"]) == 1 and "computing on the CPU" in multi["warnings"][0]

    assert single["num_gpus_per_actor"] == 0.0 and single["device"] == "cpu" and single["warnings"] == []
    assert all(p["gpu_ids"] == [] for p in single["placement"])
    assert multi["cells_computed"] == single["cells_computed"] == 10

    a, b = _table(tmp_path / "multi"), _table(tmp_path / "single")
    assert len(a) == 10 and a["error"].isna().all() and a[list(CFG.names)].notna().all().all()
    pd.testing.assert_frame_equal(a, b, check_exact=True)
