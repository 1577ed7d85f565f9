"""The paper's comparison: every way of choosing, under each hardware budget, over several seeds.

Two phases, kept apart on purpose. :func:`choose` builds every subset from the space's graph
features, statistics and costs alone; :func:`measure` only then joins a benchmark table to
measure them. The seed changes the clustering's initialisation, the bootstrap and the random
baseline; the statistics are those of the store.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cbred_ray.cluster.space import Clustering, SpaceClustering, cluster_space
from cbred_ray.config import RunConfig
from cbred_ray.errors import BadInput
from cbred_ray.evaluate.benchmark import accuracy_columns
from cbred_ray.evaluate.metrics import evaluate_subset
from cbred_ray.seeds import RunSeeds
from cbred_ray.select.constraints import within_budget
from cbred_ray.select.methods import choose_subsets, first_by_statistics
from cbred_ray.select.reduction import Reduction, ensemble_rank, reduce_space, top_by_rank
from cbred_ray.select.scoring import oriented_ranks
from cbred_ray.select.settings import Selection
from cbred_ray.spaces.base import Space as SearchSpace

ORACLE = "Oracle (best by accuracy)"
"""A reference row, not a method: the best networks by the measured accuracy, as many as Q + C keeps."""
DEFAULT_TOP_FRACTION = 0.05
SET_MARK = " · "
"""Joins a method and the label of another statistic set it was run on ("C-BRED (Q + C) · paper")."""
StatisticSets = dict[str, tuple[tuple[str, ...], str]]
"""Other statistic sets to compare on: label -> (statistics, how their ranks combine)."""


def budget_label(max_params: float | None) -> str:
    return "none" if max_params is None else f"≤{max_params / 1000:g}K params"


@dataclass(frozen=True)
class Space:
    """What the choosing reads: one row per architecture, indexed by ``arch_index``."""

    ids: pd.Series  # each architecture's identifier (the benchmark table's key column)
    features: pd.DataFrame  # the graph features the clustering reads
    canonical: pd.Series  # canonical index (the edit distance reads the space's rows of it)
    stats: pd.DataFrame  # the statistics, raw
    costs: pd.DataFrame  # params, macs of the network the space's cost model describes
    space: SearchSpace  # the space itself (its identifier column, its edit-distance rows)


@dataclass(frozen=True)
class Choice:
    """The subsets of one (budget, seed)."""

    budget: float | None
    seed: int
    subsets: dict[str, pd.Index]
    ranks: pd.DataFrame
    reduction: Reduction
    clustering: SpaceClustering
    clusters: pd.Series
    combine: str = "mean"  # how the statistics' ranks make one order (select.combine)


def choose(space: Space, config: RunConfig, budget: float | None, seed: int,
           also: StatisticSets | None = None) -> Choice:
    """Every method's subset for one parameter budget and seed (no accuracy read). ``also``: other statistic
    sets of the store, on which Quantiled and C-BRED (Q + C) run too, on the same clusters and at the same size
    (methods "Quantiled · LABEL", "C-BRED (Q + C) · LABEL")."""
    select = config.select
    if select.union_share is not None:
        raise BadInput(f"the full comparison sets C-BRED (C) and (Q + C) beside the other methods: a config that "
                       f"keeps a union of clusters (select.union_share {select.union_share}) is reported on a "
                       "statistics budget (select.quick)")
    if select.top_fraction is None:
        select = select.model_copy(update={"top_fraction": DEFAULT_TOP_FRACTION})
    inside = within_budget(space.costs, max_params=budget)
    index = space.ids.index
    clustered = index[inside.to_numpy()] if select.constraints.apply == "before" else index
    features = space.features.loc[clustered].to_numpy()
    canonical = space.canonical.loc[clustered].to_numpy()
    cells = space.space.edit_rows(canonical) if config.cluster.distance == "edit" else canonical[:, None]
    seeds = RunSeeds(seed)  # the draws a run with this seed makes, so that its choice is the run's
    clustering = cluster_space(features, cells, Clustering.of(config.cluster), seeds.of("cluster"))
    clusters = pd.Series(clustering.labels, index=clustered).loc[index[inside.to_numpy()]]
    ranks = oriented_ranks(space.stats.loc[clusters.index], select.statistics)
    reduction = reduce_space(ranks, clusters, Selection.of(select), len(clusters), seeds.of("selection"))
    subsets = choose_subsets(ranks, space.costs.loc[clusters.index, "macs"], reduction, seeds.of("baselines"),
                             combine=select.combine)
    for name in select.statistics:  # each statistic alone, for reference
        subsets[f"Quantiled [{name}]"] = top_by_rank(ranks[name], reduction.target).sort_values()
    for label, (names, combine) in (also or {}).items():
        other = oriented_ranks(space.stats.loc[clusters.index], names)
        settings = Selection.of(select.model_copy(update={"statistics": names, "combine": combine}))
        subsets[f"Quantiled{SET_MARK}{label}"] = top_by_rank(ensemble_rank(other, combine), reduction.target).sort_values()
        subsets[f"C-BRED (Q + C){SET_MARK}{label}"] = reduce_space(other, clusters, settings, len(clusters),
                                                                       seeds.of("selection")).selected
    return Choice(budget, seed, subsets, ranks, reduction, clustering, clusters, select.combine)


def measure(choice: Choice, space: Space, table: pd.DataFrame) -> list[dict]:
    """One row per (method, dataset): the subset measured against the budgeted space."""
    key = space.space.id_column
    in_space = space.ids.loc[choice.clusters.index]
    budgeted = table[table[key].isin(in_space)]
    accuracy = budgeted.set_index(key)
    rows = []

    def row(method: str, dataset: str, measured: dict, first_ranked: float) -> dict:
        return {
            "budget": budget_label(choice.budget), "seed": choice.seed, "method": method, "dataset": dataset,
            "size": measured["subset_size"], "share": measured["subset_share"], "mean": measured["subset_mean"],
            "top1_recall": measured["top1_recall"], "best_kept": measured["best_kept"],
            "top01_kept": measured["top01_kept"],
            "best_of_10": measured["expected_best_random_10"], "best_of_100": measured["expected_best_random_100"],
            "first_ranked": first_ranked, "space_mean": measured["space_mean"],
        }

    for method, subset in choice.subsets.items():
        report = evaluate_subset(space.ids.loc[subset].tolist(), budgeted, key=key)
        first = space.ids.loc[first_by_statistics(choice.ranks, subset, choice.combine)]
        for dataset, column in accuracy_columns(budgeted).items():
            rows.append(row(method, dataset, report["datasets"][dataset], float(accuracy.loc[first, column])))
    for dataset, column in accuracy_columns(budgeted).items():
        best = budgeted.nlargest(choice.reduction.target, column)[key].tolist()
        rows.append(row(ORACLE, dataset, evaluate_subset(best, budgeted, key=key)["datasets"][dataset], float("nan")))
    return rows


def summarise(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean and spread (standard deviation over seeds) of every measure, per budget, method and dataset."""
    measures = ["size", "mean", "top1_recall", "best_kept", "top01_kept", "best_of_10", "best_of_100", "first_ranked"]
    grouped = rows.groupby(["dataset", "budget", "method"], sort=False)[measures]
    summary = grouped.mean().join(grouped.std(ddof=0).add_suffix("_std")).reset_index()
    summary["seeds"] = grouped.size().to_numpy()
    return summary


def spread_of_choice(choices: list[Choice]) -> pd.DataFrame:
    """Per (budget, seed): the chosen K (and η), the criterion, the selected cluster and its size."""
    return pd.DataFrame([{
        "budget": budget_label(c.budget), "seed": c.seed, "k": c.clustering.k, "eta": c.clustering.eta,
        "criterion": c.clustering.criterion, "cluster": c.reduction.cluster, "cluster_size": len(c.reduction.members),
        "target": c.reduction.target, "score": float(c.reduction.scores.loc[c.reduction.scores["selected"], "score"].iloc[0]),
    } for c in choices])


def distinct_points(space: Space, clusters: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct feature vectors of the clustered architectures, each one's cluster and multiplicity."""
    features = space.features.loc[clusters.index].to_numpy()
    distinct, first, counts = np.unique(features, axis=0, return_index=True, return_counts=True)
    return distinct, clusters.to_numpy()[first], counts
