"""A reduction from precomputed statistics: C-BRED (Q + C), hardware budgets before and after
clustering, and bad input refused before the store is touched."""
import math

import numpy as np
import pandas as pd
import pytest

from cbred_ray.config import config_from_dict
from cbred_ray.errors import BadInput
from cbred_ray.pipeline.run import run_reduction
from cbred_ray.select.reduction import ensemble_rank
from cbred_ray.select.scoring import oriented_ranks
from cbred_ray.spaces.cell import nb201
from cbred_ray.spaces.cell.cost import cell_costs
from cbred_ray.store import Store

SCORED = ["naswot_v2", "logsynflow", "ntk_cond"]


def _literal_params():
    params, _ = cell_costs(nb201.SPACE, nb201.cell_range(0, nb201.SPACE_SIZE))
    return pd.Series(params, index=np.arange(nb201.SPACE_SIZE))


def test_q_plus_c_keeps_the_best_ranked_five_percent_of_the_best_cluster(precomputed_store):
    store, manifest, stats_file = precomputed_store
    selection = store.read("selection").to_pandas()
    clusters = store.read("clusters").to_pandas().set_index("arch_index")
    assert len(selection) == math.ceil(0.05 * nb201.SPACE_SIZE) == manifest["stages"]["selection"]["target"]
    best = manifest["stages"]["selection"]["cluster"]
    assert (selection["cluster"] == best).all()
    stats = pd.read_parquet(stats_file)
    stats.index = nb201.indices_of(np.array([nb201.parse(a) for a in stats["arch_str"]]))
    order = ensemble_rank(oriented_ranks(stats, tuple(SCORED)))
    members = clusters.index[clusters["cluster"] == best]
    kept = selection["arch_index"].to_numpy()
    assert order.loc[kept].min() >= order.loc[members.difference(kept)].max()


def test_precomputed_statistics_are_stored_as_given_and_the_choice_of_k_recorded(precomputed_store):
    store, manifest, stats_file = precomputed_store
    stored = store.read("stats").to_pandas().set_index("arch_str").sort_index()
    given = pd.read_parquet(stats_file).set_index("arch_str").sort_index()
    assert len(stored) == nb201.SPACE_SIZE
    pd.testing.assert_series_equal(stored["naswot_v2"], given["naswot_v2"], check_names=False)
    record = manifest["stages"]["clusters"]
    assert record["criterion"] == "silhouette" and [row["k"] for row in record["search"]] == [4, 8]
    assert record["k"] == max(record["search"], key=lambda row: row["value"])["k"]
    assert manifest["stages"]["stats"]["precomputed"] == str(stats_file)


@pytest.mark.parametrize("apply", ["before", "after"])
def test_a_parameter_budget_before_or_after_clustering(ray_local, synthetic_stats_file, precomputed_config, tmp_path,
                                                      apply):
    config = precomputed_config(synthetic_stats_file, constraints={"max_params": 300_000, "apply": apply})
    manifest = run_reduction(config, str(tmp_path / "s"), progress=False)
    store = Store(tmp_path / "s")
    params = _literal_params()
    within = int((params <= 300_000).sum())
    # the budget is applied once, by the cluster stage: clusters/ holds exactly the architectures within it,
    # whether only they were clustered (before) or the whole space was (after)
    assert store.read("clusters").num_rows == within == manifest["stages"]["clusters"]["rows"]
    assert manifest["stages"]["clusters"]["clustered"] == (within if apply == "before" else nb201.SPACE_SIZE)
    selection = store.read("selection").to_pandas()
    assert (params.loc[selection["arch_index"]] <= 300_000).all()
    assert len(selection) == math.ceil(0.05 * within)
    assert manifest["stages"]["selection"]["space_size"] == within


@pytest.mark.parametrize("change, message", [
    ({"select": {"constraints": {"max_params": 1000}}}, "no architecture meets the budget"),
    ({"stats": {"precomputed": "/nonexistent/stats.parquet"}}, "is not a readable Parquet file"),
])
def test_bad_input_is_refused_before_the_store_is_touched(synthetic_stats_file, precomputed_config, tmp_path, change,
                                                         message):
    data = precomputed_config(synthetic_stats_file).model_dump(mode="json")
    for section, values in change.items():
        data[section].update(values)
    with pytest.raises(BadInput, match=message):
        run_reduction(config_from_dict(data), str(tmp_path / "s"), progress=False)
    assert not (tmp_path / "s").exists()


def test_precomputed_statistics_missing_part_of_the_space_are_refused(synthetic_stats_file, precomputed_config,
                                                                     tmp_path):
    partial = tmp_path / "partial.parquet"
    pd.read_parquet(synthetic_stats_file).iloc[1:].to_parquet(partial)
    with pytest.raises(BadInput, match="lacks 1 architectures of the space"):
        run_reduction(precomputed_config(partial), str(tmp_path / "s"), progress=False)
    assert not (tmp_path / "s").exists()


def test_a_union_of_the_best_clusters_cut_to_the_share_by_parameters(ray_local, synthetic_stats_file,
                                                                     precomputed_config, tmp_path):
    config = precomputed_config(synthetic_stats_file, top_fraction=None, union_share=0.2, union_cut="params")
    record = run_reduction(config, str(tmp_path / "s"), progress=False)["stages"]["selection"]
    store = Store(tmp_path / "s")
    selection = store.read("selection").to_pandas()
    clusters = store.read("clusters").to_pandas().set_index("arch_index")
    scores = store.read("scores").to_pandas().sort_values(["score", "cluster"], ascending=[False, True])
    kept = record["clusters"]
    assert kept == scores["cluster"].head(len(kept)).tolist() and record["cluster"] == kept[0]
    assert set(scores.loc[scores["selected"], "cluster"]) == set(kept)
    assert len(selection) == record["rows"] == math.ceil(0.2 * nb201.SPACE_SIZE)
    union = clusters.index[clusters["cluster"].isin(kept)]
    assert len(union) >= len(selection) > len(clusters.index[clusters["cluster"].isin(kept[:-1])])
    params = _literal_params()
    chosen = selection["arch_index"].to_numpy()
    assert set(chosen) <= set(union)
    assert params.loc[chosen].min() >= params.loc[union.difference(chosen)].max()


def test_a_listed_reduced_space_is_drawn_from_and_checked_against_its_selection(precomputed_store):
    from cbred_ray.api import open_store

    store, manifest, _ = precomputed_store
    result = open_store(store.root)
    assert not result.sampled
    drawn = result.sample(25, seed=1)
    assert len(set(drawn)) == 25 and set(drawn) <= set(result.ids) and result.sample(25, seed=1) == drawn
    outside = sorted(set(nb201.SPACE.format_ids(np.arange(200))) - set(result.ids))[:5]
    assert result.contains([*drawn[:5], *outside]).tolist() == [True] * 5 + [False] * 5
    assert result.estimated_size() == {"architectures": len(result.ids), "share": len(result.ids) / nb201.SPACE_SIZE,
                                       "exact": True, "space_size": nb201.SPACE_SIZE}
    with pytest.raises(BadInput, match=f"holds {len(result.ids)} architectures"):
        result.sample(len(result.ids) + 1)
