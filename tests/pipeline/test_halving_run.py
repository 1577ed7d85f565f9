"""Sampled scoring by successive halving as a run mode: the statistics actors score the clusters
round by round within the budget, the selection replays the halving over the store, and a run
that lost shards of a later round computes only those again."""
import json
import shutil

import numpy as np
import pandas as pd
import pytest

from cbred_ray.config import config_from_dict
from cbred_ray.errors import BadInput
from cbred_ray.pipeline.run import run_reduction
from cbred_ray.seeds import RunSeeds
from cbred_ray.select.halving import halve_clusters
from cbred_ray.select.settings import Selection
from cbred_ray.spaces.cell import nb201
from cbred_ray.store import Store

HALVING = {
    "name": "halving", "seed": 3,
    "stats": {"names": ["naswot_v2", "logsynflow", "params", "macs"], "data": {"batch_size": 8}, "shard_size": 6},
    "cluster": {"k": 6, "n_init": 2},
    "select": {"min_cluster_size": 2, "bootstrap": 50, "halving": {"enabled": True, "budget": 0.004}},
}


@pytest.fixture(scope="module")
def halving_run(ray_local, tmp_path_factory):
    out = tmp_path_factory.mktemp("halving") / "store"
    manifest = run_reduction(config_from_dict(HALVING), str(out), progress=False)
    return out, manifest


def _clusters(store: Store) -> pd.Series:
    return store.read("clusters", columns=["arch_index", "cluster"]).to_pandas().set_index("arch_index")["cluster"]


def test_statistics_are_computed_round_by_round_within_the_budget(halving_run):
    out, manifest = halving_run
    store, record = Store(out), manifest["stages"]["stats"]
    halving = record["halving"]
    stats = store.read("stats").to_pandas()
    budget = int(0.004 * nb201.SPACE_SIZE)
    assert len(stats) == halving["measured"] == record["archs_requested"] <= budget
    assert stats["arch_index"].is_unique
    assert halving["fraction_measured"] == pytest.approx(len(stats) / nb201.SPACE_SIZE, abs=1e-6)
    rounds = halving["rounds"]
    assert len(rounds) == 2 and rounds[0]["contenders"] == list(range(6)) and len(rounds[1]["contenders"]) == 3
    assert set(rounds[1]["contenders"]) < set(rounds[0]["contenders"])
    assert [r["spent"] for r in rounds] == sorted(r["spent"] for r in rounds) and rounds[-1]["spent"] == len(stats)
    # every measured architecture belongs to a cluster in contention, as many as the round says
    clusters = _clusters(store)
    per_cluster = clusters.loc[stats["arch_index"]].value_counts()
    for cluster, count in per_cluster.items():
        last = max(i for i, r in enumerate(rounds) if cluster in r["contenders"])
        assert count == rounds[last]["measured_per_cluster"][rounds[last]["contenders"].index(cluster)]
    assert set(per_cluster.index) == set(rounds[0]["contenders"])
    # the shards of the rounds are numbered on, all computed by this run
    assert record["shards"]["status"] == "C" * record["shards_total"]
    # one computation per canonical cell over all rounds: a later round copies the rows of cells known
    assert record["cells_computed"] == stats["canonical_index"].nunique()
    assert (stats.groupby("canonical_index")[["naswot_v2", "logsynflow"]].nunique(dropna=False) == 1).all().all()


def test_the_selection_is_the_whole_cluster_the_halving_chose(halving_run):
    out, manifest = halving_run
    store = Store(out)
    halving = manifest["stages"]["stats"]["halving"]
    chosen = manifest["stages"]["selection"]["cluster"]
    assert chosen == halving["cluster"] == halving["rounds"][-1]["leader"]
    clusters = _clusters(store)
    selection = store.read("selection").to_pandas()
    assert sorted(selection["arch_index"]) == sorted(clusters.index[clusters == chosen])
    scores = store.read("scores").to_pandas().set_index("cluster")
    assert scores["selected"].sum() == 1 and scores.index[scores["selected"]][0] == chosen
    assert scores.loc[chosen, "last_round"] == len(halving["rounds"]) - 1
    assert (scores["size"] == clusters.value_counts().loc[scores.index]).all()
    # the halving is a function of the stored statistics: replayed with the run's halving seed, it makes the same
    # choice and asks for nothing that was not computed
    stats = store.read("stats").to_pandas().set_index("arch_index")
    asked = []
    select = config_from_dict(HALVING).select
    replay = halve_clusters(clusters, lambda new: asked.append(new) or stats.loc[new], Selection.of(select),
                            select.halving.budget, seed=RunSeeds(HALVING["seed"]).of("halving"))
    assert replay.cluster == chosen and sorted(np.concatenate(asked)) == sorted(stats.index)


def test_a_rerun_computes_only_the_lost_shards_of_any_round(halving_run, tmp_path):
    out, manifest = halving_run
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    store = Store(copy)
    total = manifest["stages"]["stats"]["shards_total"]
    lost = [1, total - 1]  # one of the first round, the last of the last round
    for shard in lost:
        store.shard_path("stats", shard).unlink()
    again = run_reduction(config_from_dict(HALVING), str(copy), progress=False)
    status = again["stages"]["stats"]["shards"]["status"]
    assert [i for i, code in enumerate(status) if code == "C"] == lost
    assert set(status) == {"R", "C"} and len(status) == total
    for stage in ("stats", "scores", "selection"):
        before = Store(out).read(stage).to_pandas().sort_values(Store(out).read(stage).column_names[0])
        after = store.read(stage).to_pandas().sort_values(before.columns[0])
        pd.testing.assert_frame_equal(after.reset_index(drop=True), before.reset_index(drop=True))
    assert again["stages"]["stats"]["halving"] == manifest["stages"]["stats"]["halving"]


def _precomputed(stats_file, **halving):
    return {
        "seed": 1, "stats": {"names": ["naswot_v2", "logsynflow", "ntk_cond"], "precomputed": str(stats_file)},
        "cluster": {"k": 8, "n_init": 2},
        "select": {"statistics": ["naswot_v2", "logsynflow", "ntk_cond"], "min_cluster_size": 8, "bootstrap": 50,
                   "halving": {"enabled": True, **halving}},
    }


def test_precomputed_statistics_are_read_round_by_round_and_only_the_measured_stored(
        ray_local, synthetic_stats_file, tmp_path):
    manifest = run_reduction(config_from_dict(_precomputed(synthetic_stats_file, budget=0.02)), str(tmp_path / "s"),
                             progress=False)
    store = Store(tmp_path / "s")
    halving = manifest["stages"]["stats"]["halving"]
    stats = store.read("stats").to_pandas().set_index("arch_index")
    assert len(stats) == halving["measured"] <= int(0.02 * nb201.SPACE_SIZE)
    given = pd.read_parquet(synthetic_stats_file).set_index("arch_str")
    pd.testing.assert_series_equal(stats.set_index("arch_str")["naswot_v2"], given.loc[stats["arch_str"], "naswot_v2"],
                                   check_names=False)
    assert manifest["stages"]["selection"]["cluster"] == halving["cluster"]
    assert json.loads((tmp_path / "s" / "manifest.json").read_text())["stages"]["stats"]["halving"] == halving


def test_a_budget_too_small_for_k_clusters_is_refused_before_the_store_is_touched(synthetic_stats_file, tmp_path):
    config = config_from_dict(_precomputed(synthetic_stats_file, budget=0.001))
    with pytest.raises(BadInput, match=r"select\.halving\.budget 0\.001 is 15 of 15625 architectures: too few to "
                                       r"score 8 clusters"):
        run_reduction(config, str(tmp_path / "s"), progress=False)
    assert not (tmp_path / "s").exists()


def test_a_budget_is_a_share_of_the_space_within_the_hardware_budget(ray_local, synthetic_stats_file, tmp_path):
    data = _precomputed(synthetic_stats_file, budget=0.02)
    data["select"]["constraints"] = {"max_params": 300_000, "apply": "after"}  # clustered whole, then cut
    manifest = run_reduction(config_from_dict(data), str(tmp_path / "s"), progress=False)
    store = Store(tmp_path / "s")
    within = manifest["stages"]["selection"]["space_size"]
    assert within < nb201.SPACE_SIZE
    halving = manifest["stages"]["stats"]["halving"]
    assert halving["measured"] <= int(0.02 * within) and halving["fraction_measured"] == pytest.approx(
        halving["measured"] / within, abs=1e-6)
    measured = store.read("stats", columns=["arch_index"]).column("arch_index").to_numpy()
    clusters = store.read("clusters").to_pandas().set_index("arch_index")
    assert (clusters.loc[measured, "arch_params"] <= 300_000).all()  # nothing outside the budget is measured
    assert (clusters.loc[store.read("selection").to_pandas()["arch_index"], "arch_params"] <= 300_000).all()
