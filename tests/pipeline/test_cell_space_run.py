"""`cbred run` on a cell space: the one driver, with distributed k-means (or Nyström spectral
clustering) over holder actors, statistics of N-node networks and a selection."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml

from cbred_ray.config import config_from_dict
from cbred_ray.errors import BadInput
from cbred_ray.pipeline.run import run_reduction
from cbred_ray.seeds import RunSeeds
from cbred_ray.spaces.cell import CellSpace
from cbred_ray.stats.engine import compute_stats
from cbred_ray.store import Store

STATS = {"names": ["logsynflow", "params"], "data": {"batch_size": 4}, "shard_size": 8}
QUICK = {"statistics": ["logsynflow"], "bootstrap": 0, "quick": {"enabled": True, "sample_per_cluster": 2}}
SAMPLE = {"name": "cell5_small", "seed": 4, "space": {"name": "cell", "nodes": 5, "sample": 6000},
          "graphs": {"shard_size": 1700}, "stats": STATS, "select": QUICK,
          "cluster": {"method": "kmeans", "engine": "distributed", "features": "op_usage", "k": 6, "n_init": 2}}


def test_sampled_space_is_clustered_row_per_architecture(ray_local, tmp_path):
    manifest = run_reduction(config_from_dict(SAMPLE), str(tmp_path / "s"), progress=False)
    store = Store(tmp_path / "s")
    clusters = store.read("clusters").sort_by("arch_index").to_pandas()
    space = CellSpace(5)
    expected = space.sample(6000, seed=RunSeeds(SAMPLE["seed"]).of("sample"))
    np.testing.assert_array_equal(clusters["arch_index"].to_numpy(), expected)
    np.testing.assert_array_equal(clusters["canonical_index"].to_numpy(), space.canonical_indices(expected))
    assert set(clusters["cluster"]) == set(range(6))
    assert manifest["status"] == "done" and manifest["rows"]["graphs"] == manifest["rows"]["clusters"] == 6000
    assert manifest["rows"]["stats"] == 12 and manifest["stages"]["clusters"]["engine"] == "distributed"
    assert manifest["space"]["unique_cells"] == len(np.unique(clusters["canonical_index"]))
    assert manifest["stages"]["graphs"]["shards_total"] == 4
    record = manifest["stages"]["clusters"]
    assert record["k"] == 6 and record["init"] == "k-means||" and sum(record["sizes"]) == 6000
    # equivalent architectures share features, so they share a cluster
    assert (clusters.groupby("canonical_index")["cluster"].nunique() == 1).all()
    # the statistics are those of the 5-node networks of the canonical cells, as the engine computes them
    stats = store.read("stats").to_pandas()
    row = stats.iloc[0]
    direct = compute_stats(space.networks(int(row["canonical_index"])), ["logsynflow", "params"], None,
                           seed=RunSeeds(SAMPLE["seed"]).of("stats", 0))
    assert (row["logsynflow"], row["params"]) == (direct["logsynflow"][0], direct["params"][0])
    assert row["arch_str"] == space.format_cell(space.cells_of(np.array([row["arch_index"]]))[0])
    # a run on a sample of a cell space keeps a region of the whole space, as DARTS's does, and draws from it
    from cbred_ray.api import open_store

    result = open_store(tmp_path / "s")
    assert result.sampled and manifest["stages"]["selection"]["region"]["agreement"] == 1.0
    assert result.contains(result.ids).all()
    drawn = result.sample(30, seed=1)
    assert len(set(drawn)) == 30 and result.contains(drawn).all() and not set(drawn) <= set(result.ids)
    assert 0 < result.estimated_size()["share"] < 1
    assert row["arch_str"].count("+") == 3  # a 5-node string
    selection = store.read("selection").to_pandas()
    assert set(selection["cluster"]) == {manifest["stages"]["selection"]["cluster"]}
    again = run_reduction(config_from_dict(SAMPLE), str(tmp_path / "s"), progress=False)
    assert again["stages"]["graphs"]["seconds"] == manifest["stages"]["graphs"]["seconds"]  # reused


def test_whole_small_space_with_a_different_shard_size_gives_the_same_clusters(ray_local, tmp_path):
    config = {**SAMPLE, "space": {"name": "cell", "nodes": 4, "ops": ["none", "skip_connect", "nor_conv_3x3"]},
              "cluster": {**SAMPLE["cluster"], "features": "adjacency", "k": 5}}
    tables = []
    for shard_size in (100, 729):
        out = tmp_path / f"s{shard_size}"
        run_reduction(config_from_dict({**config, "graphs": {"shard_size": shard_size}}), str(out), progress=False)
        tables.append(Store(out).read("clusters").sort_by("arch_index").to_pandas())
    assert len(tables[0]) == 3**6
    assert tables[0].equals(tables[1])


def test_spectral_clustering_of_a_sample_with_landmarks(ray_local, tmp_path):
    config = {**SAMPLE, "cluster": {"method": "spectral", "engine": "distributed", "features": "op_usage",
                                    "distance": "hellinger", "k": 5,
                                    "eta": 0.05, "landmarks": 80, "fit_sample": 1500}}
    tables, manifests = [], []
    for shard_size in (1700, 6000):
        out = tmp_path / f"s{shard_size}"
        manifests.append(run_reduction(config_from_dict({**config, "graphs": {"shard_size": shard_size}}), str(out),
                                       progress=False))
        tables.append(Store(out).read("clusters").sort_by("arch_index").to_pandas())
    assert tables[0].equals(tables[1])  # the fit sample and the assignment do not depend on the shards
    record = manifests[0]["stages"]["clusters"]
    assert record["method"] == "spectral" and record["landmarks"] == 80 and 1000 < record["fit_rows"] < 2000
    assert sum(record["sizes"]) == 6000 and set(tables[0]["cluster"]) == set(range(5))
    assert (tables[0].groupby("canonical_index")["cluster"].nunique() == 1).all()


@pytest.mark.parametrize("change, match", [
    ({"cluster": {"engine": "distributed", "k": [4, 8]}}, "one K"),
    ({"cluster": {"method": "spectral", "distance": "edit", "k": 4}}, "edit distance is defined on NB201"),
    ({"space": {"name": "cell", "nodes": 9}}, "less than or equal to 8"),
    ({"space": {"name": "cell", "nodes": 4, "sample": 20000}}, "sample 20000 exceeds the 15625"),
    ({"space": {"name": "cell", "ops": ["none", "conv7x7"]}}, "unknown operation 'conv7x7'"),
    ({"space": {"name": "nb201", "nodes": 5}}, "space 'nb201' has no parameter 'nodes'"),
    ({"space": {"name": "nb101", "max_vertices": 5}, "stats": {"names": ["linear_regions"]},
      "select": {"statistics": ["linear_regions"]}}, "needs the thin network"),
])
def test_bad_cell_configs_are_refused(change, match):
    with pytest.raises(BadInput, match=match):
        config_from_dict({**SAMPLE, **change})


def test_cli_refuses_a_bad_cell_config_and_writes_nothing(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump({**SAMPLE, "space": {"name": "cell", "nodes": 5, "sample": 10**8}}))
    done = subprocess.run([sys.executable, "-m", "cbred_ray.cli", "run", str(config), "--out", str(tmp_path / "s")],
                          capture_output=True, text=True)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "100000000" in lines[0]
    assert not (tmp_path / "s").exists()



@pytest.mark.parametrize("apply", ["before", "after"])
def test_the_distributed_engine_applies_a_hardware_budget_once_before_or_after_clustering(ray_local, tmp_path, apply):
    space = CellSpace(5)
    drawn = space.sample(6000, seed=RunSeeds(SAMPLE["seed"]).of("sample"))
    params = pd.Series(space.costs(drawn, config_from_dict(SAMPLE).stats.num_classes)[0], index=drawn)
    limit = float(params.median())  # about half the sample is within it
    config = config_from_dict({**SAMPLE, "select": {**QUICK, "constraints": {"max_params": limit, "apply": apply}}})
    manifest = run_reduction(config, str(tmp_path / "s"), progress=False)
    store = Store(tmp_path / "s")
    clusters = store.read("clusters").to_pandas().set_index("arch_index").sort_index()
    within = params[params <= limit].index
    np.testing.assert_array_equal(clusters.index.to_numpy(), within.to_numpy())  # exactly the rows within
    record = manifest["stages"]["clusters"]
    assert record["engine"] == "distributed" and record["rows"] == len(within) == sum(record["sizes"])
    assert record["clustered"] == (len(within) if apply == "before" else 6000)
    assert manifest["stages"]["selection"]["space_size"] == len(within)
    measured = store.read("stats", columns=["arch_index"]).column("arch_index").to_numpy()
    assert np.isin(measured, within).all()  # nothing outside the budget is measured
