"""The ways of choosing that the comparison sets side by side, each checked against its definition."""
import numpy as np
import pandas as pd
import pytest

from cbred_ray.config import SelectConfig
from cbred_ray.select.methods import METHODS, choose_subsets, first_by_statistics
from cbred_ray.select.reduction import ensemble_rank, reduce_space
from cbred_ray.select.scoring import oriented_ranks
from cbred_ray.select.settings import Selection


@pytest.fixture()
def space():
    rng = np.random.default_rng(3)
    index = pd.Index(np.arange(1000, 1600), name="arch_index")
    clusters = pd.Series(rng.integers(0, 4, size=len(index)), index=index)
    stats = pd.DataFrame({"naswot_v2": rng.normal(size=len(index)) + clusters.to_numpy(),
                          "logsynflow": rng.normal(size=len(index))}, index=index)
    ranks = oriented_ranks(stats, ("naswot_v2", "logsynflow"))
    macs = pd.Series(rng.uniform(1e6, 1e8, size=len(index)), index=index)
    cfg = Selection.of(SelectConfig(statistics=("naswot_v2", "logsynflow"), top_fraction=0.05, bootstrap=0))
    return ranks, clusters, macs, reduce_space(ranks, clusters, cfg, len(index), seed=0)


def test_every_method_keeps_what_its_definition_says(space):
    ranks, clusters, macs, reduction = space
    subsets = choose_subsets(ranks, macs, reduction, seed=0)
    order = ensemble_rank(ranks)
    size = reduction.target
    assert list(subsets) == list(METHODS)
    assert len(subsets["Whole space"]) == len(ranks)
    assert subsets["Intrinsic"].tolist() == [order.idxmax()]
    for name in ("Random", "Quantiled", "MAC-Quantiled", "C-BRED (Q + C)"):
        assert len(subsets[name]) == size, name
    assert order.loc[subsets["Quantiled"]].min() >= order.drop(subsets["Quantiled"]).max()
    cheap = macs <= macs.median()
    assert cheap.loc[subsets["MAC-Quantiled"]].all()
    assert order.loc[subsets["MAC-Quantiled"]].min() >= order[cheap].drop(subsets["MAC-Quantiled"]).max()
    assert subsets["C-BRED (C)"].equals(reduction.members)
    assert subsets["C-BRED (Q + C)"].equals(reduction.selected)


def test_the_random_baseline_depends_on_the_seed_only(space):
    ranks, _, macs, reduction = space
    a, b, c = (choose_subsets(ranks, macs, reduction, seed=s)["Random"] for s in (1, 1, 2))
    assert a.equals(b) and not a.equals(c)


def test_first_by_statistics_is_the_best_ranked_member(space):
    ranks, _, _, reduction = space
    first = first_by_statistics(ranks, reduction.members)
    assert first in reduction.members
    assert ensemble_rank(ranks).loc[first] == ensemble_rank(ranks).loc[reduction.members].max()
