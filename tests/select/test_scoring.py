import numpy as np
import pandas as pd
import pytest

from cbred_ray.select.scoring import best_cluster, oriented_ranks, sample_members, score_clusters


def test_ranks_follow_each_statistics_orientation():
    stats = pd.DataFrame({"naswot_v2": [1.0, 3.0, 2.0], "params": [1.0, 3.0, 2.0]})
    ranks = oriented_ranks(stats, ("naswot_v2", "params"))
    assert list(ranks["naswot_v2"].rank()) == [1, 3, 2]  # higher is better
    assert list(ranks["params"].rank()) == [3, 1, 2]  # fewer parameters is better


def test_nulls_are_left_out_of_cluster_scores():
    ranks = pd.DataFrame({"a": [0.9, 0.8, np.nan, 0.1, 0.2]}, index=[10, 11, 12, 13, 14])
    clusters = pd.Series([0, 0, 0, 1, 1], index=[10, 11, 12, 13, 14])
    scores = score_clusters(ranks, clusters)
    assert scores.set_index("cluster")["n_scored"].to_dict() == {0: 2, 1: 2}
    assert scores.set_index("cluster")["score"][0] == pytest.approx(0.85)
    assert best_cluster(scores) == 0


# by hand, for ranks 0.1, 0.5, 0.6: the median, the mean, and the 25 % quantile interpolated
# linearly between the order statistics (position 0.5 between 0.1 and 0.5)
@pytest.mark.parametrize("method, expected", [("median_rank", 0.5), ("mean_rank", 0.4), ("quantile_rank", 0.3)])
def test_summaries(method, expected):
    ranks = pd.DataFrame({"a": [0.1, 0.5, 0.6]})
    scores = score_clusters(ranks, pd.Series([0, 0, 0]), method, quantile=0.25)
    assert scores["score"][0] == pytest.approx(expected)


def test_small_clusters_get_no_score_and_ties_go_to_the_lowest_id():
    ranks = pd.DataFrame({"a": [0.5, 0.5, 0.9]})
    scores = score_clusters(ranks, pd.Series([1, 0, 2]), min_cluster_size=1)
    scores.loc[scores.cluster == 2, "score"] = 0.5
    assert best_cluster(scores) == 0
    small = score_clusters(ranks, pd.Series([1, 0, 2]), min_cluster_size=2)
    with pytest.raises(ValueError, match="no cluster has a score"):
        best_cluster(small)


def test_quick_sample_is_seeded_and_stays_within_each_cluster():
    clusters = pd.Series(np.repeat([0, 1, 2], [50, 3, 20]), index=np.arange(100, 173))
    a, b = sample_members(clusters, 5, seed=7), sample_members(clusters, 5, seed=7)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, sample_members(clusters, 5, seed=8))
    assert clusters.loc[a].value_counts().sort_index().tolist() == [5, 3, 5]


def test_bootstrap_interval_brackets_the_score_and_narrows_with_size():
    rng = np.random.default_rng(0)
    stats = pd.DataFrame({"naswot_v2": rng.normal(size=600), "logsynflow": rng.normal(size=600)})
    clusters = pd.Series(np.r_[np.zeros(500, int), np.ones(100, int)])
    ranks = oriented_ranks(stats, ("naswot_v2", "logsynflow"))
    scores = score_clusters(ranks, clusters, bootstrap=200, seed=1).set_index("cluster")
    assert (scores["score_low"] <= scores["score"]).all() and (scores["score"] <= scores["score_high"]).all()
    width = scores["score_high"] - scores["score_low"]
    assert width[0] < width[1]  # 500 members give a tighter interval than 100
    again = score_clusters(ranks, clusters, bootstrap=200, seed=1).set_index("cluster")
    pd.testing.assert_frame_equal(scores, again)
    assert "score_low" not in score_clusters(ranks, clusters).columns
    small = score_clusters(ranks, clusters, min_cluster_size=200, bootstrap=20).set_index("cluster")
    assert np.isnan(small.loc[1, ["score", "score_low", "score_high"]].astype(float)).all()


@pytest.mark.parametrize("combine, reduce", [("mean", np.mean), ("median", np.median), ("min", np.min),
                                             ("log_rank", lambda v: float(np.log(v).sum()))])
def test_the_score_combines_the_per_statistic_summaries(combine, reduce):
    rng = np.random.default_rng(4)
    index = pd.RangeIndex(90)
    ranks = pd.DataFrame(rng.uniform(size=(90, 3)), columns=["a", "b", "c"], index=index)
    clusters = pd.Series(np.repeat([0, 1, 2], 30), index=index)
    table = score_clusters(ranks, clusters, "median_rank", combine=combine, bootstrap=50, seed=0)
    for _, row in table.iterrows():
        members = ranks[clusters == row["cluster"]]
        assert row["score"] == pytest.approx(reduce(members.median().to_numpy()))
        assert row["score_low"] <= row["score"] <= row["score_high"]


def test_min_prefers_a_cluster_good_by_every_statistic():
    index = pd.RangeIndex(4)
    ranks = pd.DataFrame({"a": [0.99, 0.99, 0.6, 0.6], "b": [0.3, 0.3, 0.55, 0.55]}, index=index)
    clusters = pd.Series([0, 0, 1, 1], index=index)
    assert best_cluster(score_clusters(ranks, clusters, combine="mean")) == 0
    assert best_cluster(score_clusters(ranks, clusters, combine="min")) == 1


def test_log_rank_prefers_a_cluster_without_a_weak_statistic_where_the_mean_does_not():
    index = pd.RangeIndex(4)
    # cluster 0: 0.9 and 0.1 (mean 0.5, log sum log 0.09); cluster 1: 0.45 and 0.45 (mean 0.45, log sum log 0.2025)
    ranks = pd.DataFrame({"a": [0.9, 0.9, 0.45, 0.45], "b": [0.1, 0.1, 0.45, 0.45]}, index=index)
    clusters = pd.Series([0, 0, 1, 1], index=index)
    assert best_cluster(score_clusters(ranks, clusters, combine="mean")) == 0
    assert best_cluster(score_clusters(ranks, clusters, combine="log_rank")) == 1


def _scored(rows):
    return pd.DataFrame(rows, columns=["cluster", "score", "score_low", "score_high"])


def test_near_ties_are_the_clusters_whose_interval_overlaps_the_kept_one_best_first():
    from cbred_ray.select.scoring import near_ties

    scores = _scored([(0, 0.90, 0.85, 0.95), (1, 0.80, 0.70, 0.86), (2, 0.70, 0.60, 0.84), (3, 0.88, 0.86, 0.90),
                      (4, np.nan, np.nan, np.nan)])
    assert near_ties(scores, 0)["cluster"].tolist() == [3, 1]
    assert near_ties(scores, 2)["cluster"].tolist() == [1]
    assert near_ties(scores.drop(columns=["score_low", "score_high"]), 0).empty


def test_under_halving_only_the_kept_clusters_last_round_competes():
    from cbred_ray.select.scoring import near_ties

    scores = _scored([(0, 0.9, 0.8, 1.0), (1, 0.85, 0.8, 0.9), (2, 0.85, 0.8, 0.9)]).assign(last_round=[2, 2, 1])
    assert near_ties(scores, 0)["cluster"].tolist() == [1]
