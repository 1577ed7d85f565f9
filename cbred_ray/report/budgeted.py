"""The comparison for a run on a statistics budget (quick mode or successive halving).

Such a run measured the statistics of only ``B`` architectures and kept a cluster of ``S``. Its
C-BRED subsets are set beside the baselines that a user with the same budget could have chosen
instead (choose first, then measure, as in :mod:`cbred_ray.report.comparison`; no accuracy is read
while choosing):

- at the size ``S`` of C-BRED (C), the run's reduced space (one cluster, or a union of clusters): **Random** (seeded); **Regressor** (gradient boosting on the graph
  features, trained on the rank ensemble of the ``B`` measured architectures, its ``S`` best
  predictions: :mod:`cbred_ray.select.surrogate`); **Params-Quantiled** and **MACs-Quantiled** (the
  ``S`` largest networks, statistics that cost nothing, over the whole space);
- at ``s = ceil(S / N x B)``, the same share of the ``B`` measured architectures: **C-BRED (Q + C)**
  (the best-ranked measured members of the run's reduced space) and **Quantiled (random sample)** (the best
  ``s`` of a seeded uniform sample of ``B`` architectures scored with the same statistics; given as a
  statistics file, since the run did not compute it, and left out with a note when absent);
- both again on each other statistic set of the store (``cbred report --also``), on the same cluster and
  sample, e.g. the paper's statistics beside newer ones that the run scored with.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cbred_ray.evaluate.benchmark import accuracy_columns
from cbred_ray.evaluate.metrics import evaluate_subset
from cbred_ray.report.comparison import SET_MARK
from cbred_ray.seeds import RunSeeds
from cbred_ray.select.reduction import ensemble_rank, top_by_rank
from cbred_ray.select.scoring import oriented_ranks
from cbred_ray.select.settings import top_count
from cbred_ray.select.surrogate import predicted_rank

AT_CLUSTER_SIZE = ("Whole space", "C-BRED (C)", "Random", "Regressor", "Params-Quantiled", "MACs-Quantiled")
AT_BUDGET_SHARE = ("C-BRED (Q + C)", "Quantiled (random sample)")
ORACLE = "Oracle (best by accuracy)"


@dataclass(frozen=True)
class BudgetRun:
    """What a budget run's comparison reads, one row per architecture of the (budgeted) space."""

    ids: pd.Series  # the space's identifier of each architecture, indexed by arch_index
    clusters: pd.Series  # the run's cluster of each architecture
    costs: pd.DataFrame  # params, macs of the benchmark's network
    features: pd.DataFrame  # the graph features the run clustered on
    measured: pd.DataFrame  # the statistics the run computed (its B architectures)
    kept: pd.Index  # the run's reduced space (its stored selection): one cluster, or a union of clusters
    statistics: tuple[str, ...]  # the statistics that score
    combine: str = "mean"  # how their ranks make one order (select.combine)
    also: dict[str, tuple[tuple[str, ...], str]] = field(default_factory=dict)  # label: (statistics, combine)


def choose_on_budget(run: BudgetRun, seed: int, sample: pd.DataFrame | None = None) -> dict[str, pd.Index]:
    """Every method's subset (arch_index labels) for one seed; ``sample``: statistics of a seeded uniform
    sample of as many architectures as the run measured (None: that baseline is left out)."""
    space = run.ids.index.sort_values()
    members = run.kept
    size, budget = len(members), len(run.measured)
    share = top_count(budget, size / len(space))
    measured_ranks = oriented_ranks(run.measured, run.statistics)
    seed = RunSeeds(seed).of("baselines")  # the other methods' draws, apart from the run's own
    rng = np.random.default_rng(seed)
    inside = measured_ranks.loc[measured_ranks.index.intersection(members)]
    subsets = {
        "Whole space": space,
        "C-BRED (C)": members,
        "Random": pd.Index(np.sort(rng.choice(space.to_numpy(), size=size, replace=False))),
        "Regressor": top_by_rank(predicted_rank(run.features.loc[space], ensemble_rank(measured_ranks, run.combine),
                                                seed),
                                 size).sort_values(),
        "Params-Quantiled": top_by_rank(run.costs.loc[space, "params"], size).sort_values(),
        "MACs-Quantiled": top_by_rank(run.costs.loc[space, "macs"], size).sort_values(),
        "C-BRED (Q + C)": top_by_rank(ensemble_rank(inside, run.combine), share).sort_values(),
    }
    if sample is not None:
        subsets["Quantiled (random sample)"] = top_by_rank(
            ensemble_rank(oriented_ranks(sample, run.statistics), run.combine), share).sort_values()
    for label, (names, combine) in run.also.items():
        other = oriented_ranks(run.measured, names)
        subsets[f"C-BRED (Q + C){SET_MARK}{label}"] = top_by_rank(
            ensemble_rank(other.loc[inside.index], combine), share).sort_values()
        if sample is not None:
            subsets[f"Quantiled (random sample){SET_MARK}{label}"] = top_by_rank(
                ensemble_rank(oriented_ranks(sample, names), combine), share).sort_values()
    return subsets


def measure_on_budget(subsets: dict[str, pd.Index], run: BudgetRun, table: pd.DataFrame, key: str,
                      seed: int) -> list[dict]:
    """One row per (method, dataset): each subset measured against the table (restricted to the space)."""
    budgeted = table[table[key].isin(run.ids)]
    rows = []
    for method, subset in subsets.items():
        report = evaluate_subset(run.ids.loc[subset].tolist(), budgeted, key=key)
        for dataset, figures in report["datasets"].items():
            rows.append(_row(seed, method, dataset, figures))
    size = len(subsets["C-BRED (C)"])
    for dataset, column in accuracy_columns(budgeted).items():
        best = budgeted.nlargest(size, column)[key].tolist()
        rows.append(_row(seed, ORACLE, dataset, evaluate_subset(best, budgeted, key=key)["datasets"][dataset]))
    return rows


def describe_on_budget(subsets: dict[str, pd.Index], run: BudgetRun, seed: int) -> list[dict]:
    """For a space nobody has trained (no benchmark table): each subset described by what is known without
    training: its size and share, the mean parameters and MACs of its networks, how much of it the kept
    cluster holds, and the mean percentile rank (among the run's measured architectures, 1 the best) of the statistics
    of its members that were measured. It says what each way of choosing keeps, not how well it chose."""
    chosen = subsets["C-BRED (C)"]
    rank = ensemble_rank(oriented_ranks(run.measured, run.statistics), run.combine)
    rows = []
    for method, subset in subsets.items():
        measured = rank.loc[rank.index.intersection(subset)].dropna()
        rows.append({"seed": seed, "method": method, "size": len(subset), "share": len(subset) / len(run.ids),
                     "params_mean": float(run.costs.loc[subset, "params"].mean()),
                     "macs_mean": float(run.costs.loc[subset, "macs"].mean()),
                     "in_kept_cluster": len(subset.intersection(chosen)) / max(len(subset), 1),
                     "measured": len(measured), "statistics_rank_mean": float(measured.mean()) if len(measured)
                     else float("nan")})
    return rows


def _row(seed: int, method: str, dataset: str, measured: dict) -> dict:
    return {"budget": "none", "seed": seed, "method": method, "dataset": dataset, "size": measured["subset_size"],
            "share": measured["subset_share"], "mean": measured["subset_mean"], "top1_recall": measured["top1_recall"],
            "best_kept": measured["best_kept"], "top01_kept": measured["top01_kept"],
            "best_of_10": measured["expected_best_random_10"], "best_of_100": measured["expected_best_random_100"],
            "first_ranked": float("nan"), "space_mean": measured["space_mean"]}
