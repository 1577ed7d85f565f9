"""`cbred run` on the DARTS space: a seeded sample of its 10^18 genotypes through the one driver (graphs,
clusters of the closed-form features, statistics of DARTS networks, a selection), identifiers in the
written compact form."""
from __future__ import annotations

import json

import numpy as np
import pytest

from cbred_ray.config import config_from_dict
from cbred_ray.pipeline.run import run_reduction
from cbred_ray.seeds import RunSeeds
from cbred_ray.spaces import build_space
from cbred_ray.store import Store

CONFIG = {"name": "darts_small", "seed": 5, "space": {"name": "darts", "sample": 1500},
          "graphs": {"shard_size": 600},
          "stats": {"names": ["naswot_v2", "params"], "num_classes": 10, "width": 4, "data": {"batch_size": 8}, "shard_size": 4},
          "cluster": {"method": "kmeans", "features": "op_counts", "k": 3, "n_init": 2},
          "select": {"statistics": ["naswot_v2"], "bootstrap": 0, "min_cluster_size": 2,
                     "quick": {"enabled": True, "sample_per_cluster": 2}}}


@pytest.fixture(scope="module")
def darts_run(ray_local, tmp_path_factory):
    """One finished run of CONFIG: (store folder, manifest)."""
    out = tmp_path_factory.mktemp("darts") / "s"
    return out, run_reduction(config_from_dict(CONFIG), str(out), progress=False)


def test_a_sample_of_the_darts_space_is_reduced_end_to_end(darts_run):
    root, manifest = darts_run
    space = build_space("darts")
    store = Store(root)
    clusters = store.read("clusters").sort_by("arch_index").to_pandas()
    expected = space.sample(1500, seed=RunSeeds(CONFIG["seed"]).of("sample"))
    np.testing.assert_array_equal(clusters["arch_index"].to_numpy(), expected)
    np.testing.assert_array_equal(clusters["canonical_index"].to_numpy(), space.canonical_indices(expected))
    np.testing.assert_array_equal(clusters["arch_params"].to_numpy(), space.costs(expected, 10)[0])
    selection = store.read("selection").to_pandas()
    assert manifest["status"] == "done" and manifest["rows"]["stats"] == 6
    assert (space.parse_ids(selection["compact"].tolist()) == selection["arch_index"].to_numpy()).all()
    assert set(selection["cluster"]) == {manifest["stages"]["selection"]["cluster"]}


def test_the_run_stores_its_region_and_the_reduced_space_is_drawn_from_it(darts_run, tmp_path, capsys):
    from cbred_ray.api import open_store
    from cbred_ray.cli import main

    root, _ = darts_run
    result = open_store(root)
    region = result.manifest["stages"]["selection"]["region"]
    assert result.sampled and region["agreement"] == 1.0 and region["kept"] == [result.cluster]
    assert result.contains(result.ids).all()  # the rule keeps what the run kept
    others = result.clusters.index[result.clusters["cluster"] != result.cluster]
    assert not result.contains(result.space.format_ids(others.to_numpy()[:50])).any()
    size = result.estimated_size()
    assert 0 < size["share_low"] <= size["share"] <= size["share_high"] < 1 and not size["exact"]

    drawn = result.sample(40, seed=2)
    assert len(set(drawn)) == 40 and result.contains(drawn).all() and result.sample(40, seed=2) == drawn
    assert not set(drawn) <= set(result.ids)  # drawn from the whole space, not the run's sample

    capsys.readouterr()
    assert main(["sample", str(root), "-n", "5", "--seed", "4", "--out", str(tmp_path / "d.txt")]) == 0
    assert main(["contains", str(root), result.ids[0], "--file", str(tmp_path / "d.txt")]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 6 and all(line["member"] for line in lines)
    assert main(["contains", str(root), "[[(0, 9)]]"]) == 2
    assert "cbred: error: DARTS genotype" in capsys.readouterr().err


def test_evaluate_says_how_the_labelled_architectures_fall_in_the_region(darts_run, capsys):
    from cbred_ray.api import open_store
    from cbred_ray.cli import main
    from cbred_ray.evaluate.benchmark import builtin_table, load_benchmark

    root, _ = darts_run
    result = open_store(root)
    table = load_benchmark(builtin_table(result.space), result.space)
    capsys.readouterr()
    assert main(["evaluate", str(root), "--compact"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    inside = result.contains(table["compact"].tolist())
    assert report["labelled"] == 400 and report["inside"] == int(inside.sum()) > 0
    measured = report["datasets"]["cifar10_val"]
    assert measured["mean_inside"] == pytest.approx(table["cifar10_val_acc"][inside].mean(), abs=1e-6)
    low, high = measured["difference_interval"]
    assert low <= measured["difference"] <= high
    assert "labelled architectures inside" in captured.err


def test_a_region_read_from_its_store_gives_the_same_membership_after_a_restart_and_on_another_node(
        darts_run, ray_local_put_back, monkeypatch, tmp_path):
    import subprocess
    import sys

    import ray
    from conftest import local_cluster
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    from cbred_ray.api import open_store

    root, _ = darts_run
    result = open_store(root)
    candidates = result.ids[:20] + result.space.format_ids(result.space.sample(300, seed=11))
    here = result.contains(candidates).tolist()
    assert any(here) and not all(here)

    # a restart: a new process reads the region from the store and says the same of every identifier
    (tmp_path / "ids.txt").write_text("\n".join(candidates) + "\n")
    done = subprocess.run([sys.executable, "-m", "cbred_ray.cli", "contains", str(root), "--file",
                           str(tmp_path / "ids.txt")], capture_output=True, text=True, check=True)
    assert [json.loads(line)["member"] for line in done.stdout.splitlines()] == here

    # another node: a task on a worker node of a multi-node cluster (its own raylet and worker process) opens
    # the store itself
    @ray.remote(num_cpus=1)
    def membership(store: str, ids: list[str]) -> tuple[str, list[bool]]:
        from cbred_ray.api import open_store

        return ray.get_runtime_context().get_node_id(), open_store(store).contains(ids).tolist()

    ray.shutdown()
    with local_cluster(monkeypatch, workers=1) as cluster:
        ray.init(address=cluster.address)
        (worker,), head = (node.node_id for node in cluster.worker_nodes), cluster.head_node.node_id
        pinned = membership.options(scheduling_strategy=NodeAffinitySchedulingStrategy(worker, soft=False))
        node, there = ray.get(pinned.remote(str(root), candidates))
    assert node == worker != head and there == here
