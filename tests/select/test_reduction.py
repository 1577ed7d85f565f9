"""The reduction: C-BRED (C) keeps the best cluster, (Q + C) the best-ranked members of it."""
import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from cbred_ray.config import SelectConfig
from cbred_ray.errors import BadInput
from cbred_ray.select.reduction import ensemble_rank, reduce_space, top_by_rank
from cbred_ray.select.scoring import oriented_ranks
from cbred_ray.select.settings import Selection


def _space(n=400, seed=0):
    rng = np.random.default_rng(seed)
    index = pd.Index(rng.permutation(10 * n)[:n], name="arch_index")
    clusters = pd.Series(rng.integers(0, 5, size=n), index=index)
    quality = clusters.to_numpy() + rng.normal(scale=2.0, size=n)  # cluster 4 is best on average
    stats = pd.DataFrame({"naswot_v2": quality + rng.normal(size=n), "ntk_cond": -quality + rng.normal(size=n)},
                         index=index)
    return oriented_ranks(stats, ("naswot_v2", "ntk_cond")), clusters


def test_c_keeps_the_whole_best_cluster():
    ranks, clusters = _space()
    cfg = Selection.of(SelectConfig(statistics=("naswot_v2", "ntk_cond"), bootstrap=0))
    result = reduce_space(ranks, clusters, cfg, len(clusters), seed=0)
    assert result.cluster == 4 and result.target is None
    assert list(result.selected) == sorted(clusters.index[clusters == 4])


def test_q_plus_c_keeps_the_target_share_of_the_space_best_ranked_inside_the_cluster():
    ranks, clusters = _space()
    cfg = Selection.of(SelectConfig(statistics=("naswot_v2", "ntk_cond"), top_fraction=0.05, bootstrap=0))
    result = reduce_space(ranks, clusters, cfg, space_size=len(clusters), seed=0)
    assert result.target == math.ceil(0.05 * len(clusters)) == len(result.selected)
    assert set(result.selected) <= set(result.members)
    inside = ensemble_rank(ranks.loc[result.members])
    assert inside.loc[result.selected].min() >= inside.drop(result.selected).max()


def test_clusters_smaller_than_the_target_cannot_be_chosen():
    ranks, clusters = _space()
    best = clusters == 4
    small = clusters.copy()
    small[best] = np.where(np.arange(best.sum()) < 10, 4, 3)  # cluster 4 shrinks to 10 members
    cfg = Selection.of(SelectConfig(statistics=("naswot_v2", "ntk_cond"), top_fraction=0.1, bootstrap=0))
    result = reduce_space(ranks, small, cfg, len(small), seed=0)
    assert result.cluster != 4 and (small == result.cluster).sum() >= result.target
    with pytest.raises(BadInput, match="no cluster has 400 scored members"):
        reduce_space(ranks, small, dataclasses.replace(cfg, top_fraction=1.0), len(small), seed=0)


def test_clusters_larger_than_the_largest_share_cannot_be_chosen():
    ranks, clusters = _space()
    cfg = Selection.of(SelectConfig(statistics=("naswot_v2", "ntk_cond"), bootstrap=0))
    free = reduce_space(ranks, clusters, cfg, len(clusters), seed=0)
    limit = (clusters == free.cluster).sum() - 1  # the best cluster is one member too large
    capped = reduce_space(ranks, clusters, dataclasses.replace(cfg, max_cluster_fraction=limit / len(clusters)),
                          len(clusters), seed=0)
    assert capped.cluster != free.cluster and len(capped.members) <= limit
    assert np.isnan(capped.scores.set_index("cluster").loc[free.cluster, "score"])
    with pytest.raises(BadInput, match="at most 4 members"):
        reduce_space(ranks, clusters, dataclasses.replace(cfg, max_cluster_fraction=0.01), len(clusters), seed=0)


def test_top_by_rank_skips_missing_and_breaks_ties_by_label():
    rank = pd.Series([0.5, np.nan, 0.9, 0.5, 0.1], index=[7, 3, 9, 2, 1])
    assert list(top_by_rank(rank, 3)) == [9, 2, 7]
    assert list(top_by_rank(rank, 10)) == [9, 2, 7, 1]


def test_the_log_rank_ensemble_orders_architectures_by_their_ranks_log_sum():
    ranks = pd.DataFrame({"a": [0.9, 0.45, 1.0, np.nan], "b": [0.1, 0.45, 0.3, 0.5]}, index=[10, 11, 12, 13])
    mean, logs = ensemble_rank(ranks), ensemble_rank(ranks, "log_rank")
    assert list(top_by_rank(mean, 3)) == [12, 10, 11]
    assert list(top_by_rank(logs, 3)) == [12, 11, 10]  # log 0.3 > log 0.2025 > log 0.09
    assert logs.loc[11] == pytest.approx(2 * math.log(0.45)) and np.isnan(logs.loc[13])
    assert SelectConfig(combine="log_rank").combine == "log_rank"


def _union_settings(**union):
    return Selection.of(SelectConfig(statistics=("naswot_v2", "ntk_cond"), bootstrap=0, **union))


def test_a_union_keeps_clusters_in_order_of_score_until_they_hold_the_share():
    ranks, clusters = _space()
    result = reduce_space(ranks, clusters, _union_settings(union_share=0.3), len(clusters), seed=0)
    order = result.scores.sort_values(["score", "cluster"], ascending=[False, True])["cluster"].tolist()
    sizes = clusters.value_counts()
    assert list(result.kept) == order[:len(result.kept)] and result.kept[0] == result.cluster
    held = sizes.loc[list(result.kept)].cumsum()
    assert held.iloc[-1] >= math.ceil(0.3 * len(clusters)) > (held.iloc[-2] if len(held) > 1 else 0)
    assert list(result.selected) == sorted(clusters.index[clusters.isin(result.kept)])
    assert set(result.scores.loc[result.scores["selected"], "cluster"]) == set(result.kept)


def test_a_cut_union_keeps_exactly_the_share_largest_networks_first():
    ranks, clusters = _space()
    costs = pd.DataFrame({"params": np.arange(len(clusters))[::-1] * 1.0, "macs": 1.0}, index=clusters.index)
    whole = reduce_space(ranks, clusters, _union_settings(union_share=0.3), len(clusters), seed=0)
    cut = reduce_space(ranks, clusters, _union_settings(union_share=0.3, union_cut="params"), len(clusters), seed=0,
                       costs=costs)
    assert cut.kept == whole.kept and len(cut.selected) == cut.target == math.ceil(0.3 * len(clusters))
    assert set(cut.selected) <= set(whole.selected)
    left_out = whole.selected.difference(cut.selected)
    assert costs.loc[cut.selected, "params"].min() >= costs.loc[left_out, "params"].max()
    with pytest.raises(ValueError, match="needs the costs"):
        reduce_space(ranks, clusters, _union_settings(union_share=0.3, union_cut="params"), len(clusters), seed=0)


@pytest.mark.parametrize("bad, message", [
    ({"union_cut": "params"}, "set union_share"),
    ({"union_share": 0.1, "top_fraction": 0.1}, "set one"),
    ({"union_share": 0.1, "halving": {"enabled": True, "budget": 0.1}}, "halving keeps one cluster"),
    ({"union_share": 1.5}, "union_share"),
    ({"union_share": 0.1, "union_cut": "flops"}, "union_cut"),
])
def test_union_settings_are_checked(bad, message):
    with pytest.raises(ValueError, match=message):
        SelectConfig(**bad)
