"""NAS-Bench-101 through the one driver: the cells of at most 5 vertices (2,532) reduced end to end,
then measured with the built-in table."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import NB101_TABLE

from cbred_ray.cli import main
from cbred_ray.config import config_from_dict
from cbred_ray.errors import BadInput
from cbred_ray.pipeline.run import run_reduction
from cbred_ray.seeds import RunSeeds
from cbred_ray.spaces.nb101 import nb101_space
from cbred_ray.stats.engine import compute_stats
from cbred_ray.store import Store

CONFIG = {
    "name": "nb101_small", "seed": 1, "space": {"name": "nb101", "max_vertices": 5},
    "graphs": {"shard_size": 1000},
    "stats": {"names": ["logsynflow", "params"], "num_classes": 10, "width": 8, "shard_size": 10,
              "data": {"source": "cifar10-sample20", "batch_size": 4}},
    "cluster": {"method": "kmeans", "features": "op_usage", "k": 4, "n_init": 2},
    "select": {"statistics": ["logsynflow"], "bootstrap": 0, "quick": {"enabled": True, "sample_per_cluster": 3}},
}


@pytest.fixture(scope="module")
def nb101_store(ray_local, tmp_path_factory):
    out = tmp_path_factory.mktemp("nb101") / "store"
    manifest = run_reduction(config_from_dict(CONFIG), str(out), progress=False)
    return Store(out), manifest


def test_every_stage_is_keyed_by_the_module_hash(nb101_store):
    store, manifest = nb101_store
    space = nb101_space(5)
    assert manifest["space"]["name"] == "nb101" and manifest["rows"]["graphs"] == space.size == 2532
    clusters = store.read("clusters").to_pandas().sort_values("arch_index")
    np.testing.assert_array_equal(clusters["arch_index"], np.arange(space.size))
    params, _ = space.costs(clusters["arch_index"].to_numpy(), 10)
    np.testing.assert_array_equal(clusters["arch_params"], params)  # the benchmark's network, 128 channels
    stats = store.read("stats").to_pandas()
    assert len(stats) == 12 and stats["hash"].tolist() == space.format_ids(stats["arch_index"].to_numpy())
    row = stats.iloc[0]
    direct = compute_stats(space.networks(int(row["arch_index"]), width=8), ["logsynflow", "params"], None,
                           seed=RunSeeds(CONFIG["seed"]).of("stats", 0), num_classes=10)
    assert (row["logsynflow"], row["params"]) == (direct["logsynflow"][0], direct["params"][0])
    assert row["params"] < params[int(row["arch_index"])]  # computed at width 8, not the benchmark's 128
    selection = store.read("selection").to_pandas()
    assert set(selection["cluster"]) == {manifest["stages"]["selection"]["cluster"]}
    assert selection["hash"].tolist() == space.format_ids(selection["arch_index"].to_numpy())


def test_evaluate_joins_the_built_in_table_on_the_hash(nb101_store, capsys):
    store, manifest = nb101_store
    assert main(["evaluate", str(store.root), "--compact"]) == 0
    report = json.loads(capsys.readouterr().out)
    cifar10 = report["datasets"]["cifar10"]
    assert cifar10["subset_size"] == manifest["rows"]["selection"]
    if NB101_TABLE.is_file():  # the whole-space figures are those of the 2,532 cells of at most 5 vertices
        table = pd.read_parquet(NB101_TABLE, columns=["hash", "num_vertices", "cifar10_test_acc"])
        small = table[table["num_vertices"] <= 5]
        assert cifar10["space_mean"] == pytest.approx(small["cifar10_test_acc"].mean())
        chosen = small.set_index("hash").loc[store.read("selection").column("hash").to_pylist()]
        assert cifar10["subset_mean"] == pytest.approx(chosen["cifar10_test_acc"].mean())


def test_report_on_a_statistics_budget_sets_cbred_beside_equal_budget_baselines(nb101_store, tmp_path):
    from cbred_ray.config import StatsConfig
    from cbred_ray.pipeline.run import run_statistics
    from cbred_ray.report.report import write_report

    store, manifest = nb101_store
    space = nb101_space(5)
    measured = manifest["rows"]["stats"]
    sample = space.format_ids(space.sample(measured, seed=9))
    stats_cfg = config_from_dict(CONFIG).stats
    run_statistics(sample, StatsConfig(**stats_cfg.model_dump()), str(tmp_path / "sample"), seed=1, space=space)
    Store(tmp_path / "sample").export("stats", str(tmp_path / "sample.parquet"))
    path = write_report(store.root, out=tmp_path / "report", seeds=2, progress=False,
                        sample_stats=tmp_path / "sample.parquet")
    results = json.loads((path.parent / "results.json").read_text())
    rows = pd.DataFrame(results["rows"])
    assert results["measured_architectures"] == measured and results["sample_statistics"] == measured
    sizes = rows[rows["seed"] == 1].set_index("method")["size"]
    chosen = manifest["rows"]["selection"]
    for method in ("C-BRED (C)", "Random", "Regressor", "Params-Quantiled", "MACs-Quantiled"):
        assert sizes[method] == chosen  # equal size
    share = max(1, int(np.ceil(chosen / space.size * measured - 1e-9)))
    in_cluster = int(store.read("stats").to_pandas()["arch_index"].isin(
        store.read("selection").column("arch_index").to_numpy()).sum())
    assert sizes["Quantiled (random sample)"] == share
    assert sizes["C-BRED (Q + C)"] == min(share, in_cluster)  # only the cluster's measured members are ranked
    assert sizes["Whole space"] == space.size
    text = path.read_text()
    assert "C-BRED (C)" in text and "Regressor" in text and "not given" not in text
    without = write_report(store.root, out=tmp_path / "report2", seeds=1, progress=False)
    assert "not given (--sample-stats)" in without.read_text()
    also = write_report(store.root, out=tmp_path / "report3", seeds=1, progress=False,
                        sample_stats=tmp_path / "sample.parquet", also=["cost=params"])
    assert "C-BRED (Q + C) · cost" in also.read_text() and "Quantiled (random sample) · cost" in also.read_text()
    pd.read_parquet(tmp_path / "sample.parquet").drop(columns="params").to_parquet(tmp_path / "lacking.parquet")
    with pytest.raises(BadInput, match="lacks the statistic 'params'"):
        write_report(store.root, out=tmp_path / "report4", seeds=1, progress=False,
                     sample_stats=tmp_path / "lacking.parquet", also=["cost=params"])
    assert not (tmp_path / "report4").exists()
    with pytest.raises(BadInput, match="no such file or folder"):
        write_report(store.root, out=tmp_path / "report5", seeds=1, progress=False, sample_stats=tmp_path / "none")
    parts = tmp_path / "parts"  # a sample kept in parts reads as one
    parts.mkdir()
    whole = pd.read_parquet(tmp_path / "sample.parquet")
    whole.iloc[: len(whole) // 2].to_parquet(parts / "part-1.parquet")
    whole.iloc[len(whole) // 2:].to_parquet(parts / "part-2.parquet")
    in_parts = write_report(store.root, out=tmp_path / "report6", seeds=1, progress=False, sample_stats=parts,
                            also=["cost=params"])
    assert json.loads((in_parts.parent / "results.json").read_text())["summary"] == \
        json.loads((also.parent / "results.json").read_text())["summary"]
