"""Successive halving over clusters: finds the best cluster on a budget, measures each architecture once."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cbred_ray.errors import BadInput
from cbred_ray.select.halving import halve_clusters, successive_halving
from cbred_ray.select.scoring import oriented_ranks, score_clusters
from cbred_ray.select.settings import Selection

STATS = ("naswot_v2", "logsynflow")


def _space(n_clusters=12, per_cluster=400, seed=0):
    rng = np.random.default_rng(seed)
    clusters = pd.Series(np.repeat(np.arange(n_clusters), per_cluster), index=np.arange(n_clusters * per_cluster) + 50)
    level = np.linspace(0, 1.5, n_clusters)[clusters.to_numpy()]  # the last cluster is the best
    stats = pd.DataFrame({s: level + rng.normal(size=len(clusters)) for s in STATS}, index=clusters.index)
    return clusters, stats


class Counter:
    def __init__(self, stats):
        self.stats, self.calls = stats, []

    def __call__(self, archs):
        self.calls.append(np.asarray(archs))
        return self.stats.loc[archs]


def test_finds_the_exhaustive_choice_on_a_small_budget():
    clusters, stats = _space()
    exhaustive = score_clusters(oriented_ranks(stats, STATS), clusters).sort_values("score").iloc[-1]["cluster"]
    measure = Counter(stats)
    result = successive_halving(clusters, range(12), measure, STATS, budget=240, seed=3, bootstrap=100)
    assert result.cluster == exhaustive == 11
    measured = np.concatenate(measure.calls)
    assert len(measured) == len(np.unique(measured)) == len(result.measured) <= 240  # each measured once
    assert len(result.rounds) >= 2 and result.rounds[0]["contenders"] == list(range(12))
    assert len(result.rounds[1]["contenders"]) == 6  # the better half stays


def test_same_seed_same_choice_and_samples():
    clusters, stats = _space(seed=1)
    a = successive_halving(clusters, range(12), Counter(stats), STATS, budget=120, seed=5, bootstrap=50)
    b = successive_halving(clusters, range(12), Counter(stats), STATS, budget=120, seed=5, bootstrap=50)
    assert a.cluster == b.cluster and a.measured.equals(b.measured) and a.rounds == b.rounds


def test_stops_early_when_the_leader_is_separated():
    clusters, stats = _space(n_clusters=4)
    stats.loc[clusters.index[clusters == 2]] += 10.0
    result = successive_halving(clusters, range(4), Counter(stats), STATS, budget=400, seed=0, bootstrap=100)
    assert result.cluster == 2 and len(result.rounds) == 1 and result.rounds[0]["separated"]


def test_only_eligible_clusters_are_measured():
    clusters, stats = _space()
    measure = Counter(stats)
    result = successive_halving(clusters, [0, 3, 5], measure, STATS, budget=90, seed=0, bootstrap=20)
    assert result.cluster in (0, 3, 5)
    assert set(clusters.loc[np.concatenate(measure.calls)]) <= {0, 3, 5}


def test_clusters_outside_the_size_limits_are_not_contenders():
    sizes = [40, 300, 300, 900]  # the largest cluster is also the best
    clusters = pd.Series(np.repeat(np.arange(4), sizes), index=np.arange(sum(sizes)))
    level = np.array([0.0, 0.5, 1.0, 2.0])[clusters.to_numpy()]
    stats = pd.DataFrame({s: level for s in STATS}, index=clusters.index)
    free = halve_clusters(clusters, Counter(stats), Selection(STATS, bootstrap=0), 0.2, seed=0)
    assert free.cluster == 3
    measure = Counter(stats)
    capped = halve_clusters(clusters, measure, Selection(STATS, bootstrap=0, min_cluster_size=50,
                                                         max_cluster_fraction=0.5), 0.2, seed=0)
    assert capped.cluster == 2 and set(clusters.loc[np.concatenate(measure.calls)]) == {1, 2}
    with pytest.raises(BadInput, match="at least 50 members and at most 15"):
        halve_clusters(clusters, measure, Selection(STATS, min_cluster_size=50, max_cluster_fraction=0.01), 0.2, 0)
    with pytest.raises(BadInput, match="too few to score 4 clusters"):
        halve_clusters(clusters, measure, Selection(STATS), 0.001, seed=0)


def test_budget_too_small_is_refused():
    clusters, stats = _space()
    with pytest.raises(ValueError, match="budget of 10 cannot give 12 clusters"):
        successive_halving(clusters, range(12), Counter(stats), STATS, budget=10, seed=0)


def test_without_a_bootstrap_there_are_no_intervals_and_no_early_stop():
    clusters, stats = _space(n_clusters=4)
    stats.loc[clusters.index[clusters == 2]] += 10.0
    result = successive_halving(clusters, range(4), Counter(stats), STATS, budget=80, seed=0, bootstrap=0)
    assert result.cluster == 2 and len(result.rounds) == 2
    assert all(not r["separated"] and r["interval"] == [[None, None]] * len(r["contenders"]) for r in result.rounds)


def test_a_cluster_whose_statistics_are_all_null_has_no_score_and_goes_out():
    clusters, stats = _space(n_clusters=4)
    stats.loc[clusters.index[clusters == 3]] = np.nan  # e.g. disconnected cells: no gradient, no kernel
    result = successive_halving(clusters, range(4), Counter(stats), STATS, budget=80, seed=0, bootstrap=20)
    first = result.rounds[0]
    assert first["score"][3] is None and first["interval"][3] == [None, None]
    assert 3 not in result.rounds[1]["contenders"] and result.cluster != 3
