"""End-to-end runs on a real local Ray cluster, on a small quick config."""
import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from cbred_ray.config import ResourcesConfig, StatsConfig, config_from_dict
from cbred_ray.pipeline.run import run_reduction, run_statistics
from cbred_ray.seeds import RunSeeds
from cbred_ray.spaces.cell import nb201
from cbred_ray.spaces.cell.canonical import canonical_cells
from cbred_ray.store import Store

SMALL = {
    "name": "small", "seed": 3,
    "stats": {"names": ["naswot_v2", "logsynflow", "params", "macs"], "data": {"batch_size": 8}, "shard_size": 4},
    "cluster": {"k": 6, "n_init": 2},
    "select": {"min_cluster_size": 2, "quick": {"enabled": True, "sample_per_cluster": 3}},
}


@pytest.fixture(scope="module")
def small_run(ray_local, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "store"
    manifest = run_reduction(config_from_dict(SMALL), str(out), progress=False)
    return out, manifest


def test_store_holds_every_stage_and_a_manifest(small_run):
    out, manifest = small_run
    on_disk = json.loads((out / "manifest.json").read_text())
    assert on_disk == json.loads(json.dumps(manifest, default=str))
    assert manifest["config_hash"] == config_from_dict(SMALL).hash()
    assert manifest["status"] == "done"
    assert {"graphs", "clusters", "stats", "selection"} <= set(manifest["stages"])
    assert manifest["stages"]["stats"]["batch"]["kind"] == "builtin"  # the default: 25 real CIFAR-100 images
    store = Store(out)
    assert store.read("graphs").num_rows == nb201.SPACE_SIZE == store.read("clusters").num_rows
    for stage, rows in manifest["rows"].items():
        assert store.read(stage).num_rows == rows


def test_stats_contract_and_one_computation_per_canonical_cell(small_run):
    out, manifest = small_run
    stats = Store(out).read("stats").to_pandas()
    for column in ("arch_str", "naswot_v2", "logsynflow", "params", "macs"):
        assert column in stats.columns
    assert stats["arch_str"].is_unique
    # quick mode: a seeded sample of 3 members from each of the 6 clusters
    assert len(stats) == 6 * 3
    assert manifest["stages"]["stats"]["cells_computed"] == stats["canonical_index"].nunique()
    canon = nb201.indices_of(canonical_cells(np.array([nb201.parse(a) for a in stats["arch_str"]])))
    np.testing.assert_array_equal(canon, stats["canonical_index"].to_numpy())


def test_selection_is_the_best_scored_cluster(small_run):
    out, manifest = small_run
    store = Store(out)
    selection = pq.read_table(out / "selection").to_pandas()
    clusters = store.read("clusters").to_pandas()
    scores = store.read("scores").to_pandas()
    best = scores.loc[scores["score"].idxmax(), "cluster"]
    scored = scores.dropna(subset=["score"])
    assert ((scored["score_low"] <= scored["score"]) & (scored["score"] <= scored["score_high"])).all()
    assert set(selection["cluster"]) == {best} == {manifest["stages"]["selection"]["cluster"]}
    assert sorted(selection["arch_index"]) == sorted(clusters.loc[clusters.cluster == best, "arch_index"])
    assert selection["arch_str"].tolist() == [nb201.format_cell(c) for c in nb201.cells_of(selection["arch_index"])]


def test_rerun_of_the_same_config_reuses_everything(small_run):
    out, _ = small_run
    files = {p: p.stat().st_mtime_ns for p in out.rglob("*.parquet")}
    manifest = run_reduction(config_from_dict(SMALL), str(out), progress=False)
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.parquet")} == files
    assert manifest["status"] == "done"


@pytest.mark.parametrize("damage", ["lost", "truncated"])
def test_a_lost_or_broken_shard_is_recomputed_alone(small_run, tmp_path, damage):
    out, manifest = small_run
    copy = tmp_path / "copy"
    import shutil

    shutil.copytree(out, copy)
    store = Store(copy)
    stages = json.loads((copy / "manifest.json").read_text())
    stages["stages"].pop("stats")
    stages["stages"].pop("selection")
    store.write_manifest(stages)
    before = store.read("stats").to_pandas().sort_values("arch_index").reset_index(drop=True)
    shard = store.shard_path("stats", 1)
    if damage == "lost":
        shard.unlink()
    else:
        shard.write_bytes(shard.read_bytes()[:100])
    again = run_reduction(config_from_dict(SMALL), str(copy), progress=False)
    assert again["stages"]["stats"]["shards_reused"] == again["stages"]["stats"]["shards_total"] - 1
    assert again["stages"]["stats"]["shards_broken_redone"] == (damage == "truncated")
    after = store.read("stats").to_pandas().sort_values("arch_index").reset_index(drop=True)
    assert after.equals(before)
    assert store.read("selection").equals(Store(out).read("selection"))


def test_statistics_of_a_list_fan_out_to_equivalent_architectures(ray_local, tmp_path):
    archs = [
        "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|nor_conv_1x1~2|",
        # the same function: node 2's edges swap with node 1's when edge (2<-1) is none
        "|none~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|nor_conv_1x1~1|none~2|",
        "|avg_pool_3x3~0|+|nor_conv_1x1~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
    ]
    manifest = run_statistics(archs, StatsConfig(names=("naswot_v2", "params")), str(tmp_path / "s"), seed=1,
                              progress=False)
    stats = Store(tmp_path / "s").read("stats").to_pandas().set_index("arch_str")
    assert manifest["stages"]["stats"]["cells_computed"] == 2
    assert manifest["stages"]["stats"]["statistics"]["naswot_v2"]["images"] == 128  # the defaults, written out
    assert stats.loc[archs[0], "naswot_v2"] == stats.loc[archs[1], "naswot_v2"]
    assert stats.loc[archs[0], "params"] == stats.loc[archs[1], "params"]
    assert stats.loc[archs[2], "params"] > stats.loc[archs[0], "params"]


def test_repeats_store_the_mean_and_spread_over_seeds(ray_local, tmp_path):
    from cbred_ray.stats.data import load_batch
    from cbred_ray.stats.engine import compute_stats

    # each repeat's seed is the run's own child (seed 4, repeat r), never seed 4 + r: that is seed 5's
    seeds = RunSeeds(4).stats(3)
    assert set(seeds).isdisjoint(RunSeeds(5).stats(3)) and len(set(seeds)) == 3

    arch = "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"
    cfg = StatsConfig(names=("naswot_v2", "logsynflow"), repeats=3, data={"batch_size": 8})
    run_statistics([arch], cfg, str(tmp_path / "s"), seed=4, progress=False)
    row = Store(tmp_path / "s").read("stats").to_pylist()[0]
    values = [compute_stats(nb201.op_names(nb201.parse(arch)), cfg.names,
                            load_batch(cfg.data.source, 8, seed)[0], seed) for seed in seeds]
    naswot = np.array([v["naswot_v2"][0] for v in values])
    # the actors run one torch thread, this process several: equal up to float rounding
    assert row["naswot_v2"] == pytest.approx(naswot.mean(), rel=1e-6)
    assert row["naswot_v2_std"] == pytest.approx(naswot.std(ddof=1), rel=1e-2)
    assert row["logsynflow_std"] > 0  # different initialisations


def test_the_manifest_says_which_input_batch_was_used(ray_local, tmp_path):
    from conftest import CIFAR_SAMPLE

    if not CIFAR_SAMPLE.is_file():
        pytest.skip("CIFAR-100 sample not present beside the checkout")
    cfg = StatsConfig(names=("naswot_v2",), data={"source": str(CIFAR_SAMPLE), "batch_size": 32})
    manifest = run_statistics([nb201.format_cell((3,) * 6)], cfg, str(tmp_path / "s"), progress=False)
    batch = manifest["stages"]["stats"]["batch"]
    assert batch["kind"] == "npz" and batch["path"] == str(CIFAR_SAMPLE) and batch["batch_size"] == 32
    assert manifest["config"]["stats"]["data"]["source"] == str(CIFAR_SAMPLE)


def test_statistics_do_not_depend_on_the_number_of_actors_or_shards(ray_local, tmp_path):
    rng = np.random.default_rng(11)
    archs = [nb201.format_cell(c) for c in nb201.cells_of(rng.choice(nb201.SPACE_SIZE, 10, replace=False))]
    names = ("naswot_v1", "naswot_v2", "ntk_cond", "linear_regions", "synflow", "logsynflow", "params", "macs")
    tables = []
    for actors, shard_size in ((1, 100), (2, 3)):
        cfg = StatsConfig(names=names, data={"batch_size": 16}, shard_size=shard_size)
        manifest = run_statistics(archs, cfg, str(tmp_path / f"s{actors}"), seed=2, progress=False,
                                  resources=ResourcesConfig(num_actors=actors))
        stage = manifest["stages"]["stats"]
        assert stage["shards_total"] == -(-stage["cells_computed"] // shard_size)
        tables.append(Store(tmp_path / f"s{actors}").read("stats").to_pandas().sort_values("arch_index")
                      .reset_index(drop=True))
    assert tables[0].drop(columns="error").equals(tables[1].drop(columns="error"))
    assert tables[0]["error"].fillna("").tolist() == tables[1]["error"].fillna("").tolist()
    assert tables[0][list(names)].notna().any().all()


def test_a_batch_smaller_than_a_published_setup_is_said_and_one_without_labels_refused(caplog):
    from cbred_ray.errors import BadInput
    from cbred_ray.pipeline.run import check_batch

    with caplog.at_level("INFO", logger="cbred"):
        check_batch(StatsConfig(names=("zico", "params"), data={"batch_size": 16}), seed=0)
    assert any("zico reads 256 images but the batch holds 16" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level("INFO", logger="cbred"):
        check_batch(StatsConfig(names=("zico",), data={"batch_size": 256}), seed=0)
    assert not caplog.records
    with pytest.raises(BadInput, match="need labelled images"):
        check_batch(StatsConfig(names=("snip",), data={"source": None, "batch_size": 64}), seed=0)
