"""Sampled cluster scoring (successive halving) against exhaustive scoring and a regressor, on NB201.

    python benchmarks/sampled_scoring.py --store STORE \\
        --benchmark ../shared/nb201/nb201_test_accuracy.parquet --out benchmarks/results/sampled_scoring.json

STORE is a finished `cbred run configs/nb201_cifar100_paper.yaml` (statistics of every
architecture, read from the committed export). Its clusters are kept; the statistics of the
store play the part of the statistics actors, and every architecture they are asked for
counts against the budget (1 %, 2 % and 5 % of the space). For 10 seeds and two eligibility rules
(C-BRED (Q + C): clusters of at least 5 % of the space; C-BRED (C): every cluster of at least
``min_cluster_size``), successive halving chooses a cluster, which is compared with the
cluster exhaustive scoring chooses. Then, at the same statistics budget and the same subset
size, the chosen cluster is set beside a gradient-boosting regressor on graph features
(one-hot cell adjacency and kernel counts), trained on the same measured architectures or on
a uniform sample of as many, whose best predictions are kept. Accuracies are read only to
measure the finished subsets.
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from provenance import provenance

from cbred_ray.evaluate.benchmark import load_benchmark
from cbred_ray.evaluate.metrics import top_recall
from cbred_ray.report.report import load_space, portable
from cbred_ray.seeds import RunSeeds
from cbred_ray.select.halving import successive_halving
from cbred_ray.select.reduction import ensemble_rank, reduce_space, top_by_rank
from cbred_ray.select.scoring import oriented_ranks
from cbred_ray.select.settings import Selection, top_count
from cbred_ray.select.surrogate import predicted_rank
from cbred_ray.store import Store

SEEDS = range(10)
BUDGET_FRACTIONS = (0.01, 0.02, 0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True)
    parser.add_argument("--benchmark", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--dataset", default="cifar100")
    args = parser.parse_args()

    store = Store(args.store)
    space, config = load_space(store, features="adjacency")
    counts = load_space(store, features="op_counts")[0].features.add_prefix("count_")
    features = pd.concat([space.features.add_prefix("adj_"), counts], axis=1)
    clusters = store.read("clusters", columns=["arch_index", "cluster"]).to_pandas().set_index("arch_index")["cluster"]
    clusters = clusters.loc[space.stats.index]
    names = config.select.statistics
    ranks = oriented_ranks(space.stats, names)
    size = len(space.stats)
    measure = lambda archs: space.stats.loc[archs]  # noqa: E731 - the statistics actors' part

    table = load_benchmark(args.benchmark).set_index("arch_str")
    accuracy = pd.Series(table.loc[space.ids, f"{args.dataset}_test_acc"].to_numpy(), index=space.ids.index)

    def measured(subset) -> dict:
        acc = accuracy.loc[subset].to_numpy()
        return {"size": int(len(subset)), "mean": round(float(acc.mean()), 4),
                "top1_recall": round(top_recall(accuracy.to_numpy(), accuracy.index.isin(subset)), 4)}

    rules = {
        "C-BRED (Q + C): clusters of >= 5 % of the space": Selection.of(config.select),
        "C-BRED (C): clusters of >= min_cluster_size": Selection.of(config.select.model_copy(update={"top_fraction": None})),
    }
    results = []
    for (rule, select), fraction in itertools.product(rules.items(), BUDGET_FRACTIONS):
        budget = int(np.floor(fraction * size))
        exhaustive = reduce_space(ranks, clusters, select, size, RunSeeds(config.seed).of("selection"))
        min_size = max(select.min_cluster_size, top_count(size, select.top_fraction) if select.top_fraction else 0)
        sizes = clusters.value_counts()
        eligible = sorted(int(c) for c in sizes.index[sizes >= min_size])
        runs = []
        for seed in SEEDS:
            halving = successive_halving(clusters, eligible, measure, names, budget, seed, select.scoring,
                                         select.combine, select.bootstrap, select.quantile)
            chosen = clusters.index[clusters.to_numpy() == halving.cluster]
            on_measured = predicted_rank(features, ensemble_rank(oriented_ranks(space.stats.loc[halving.measured],
                                                                                names)), seed)
            uniform = np.random.default_rng(seed).choice(clusters.index.to_numpy(), len(halving.measured), replace=False)
            on_uniform = predicted_rank(features, ensemble_rank(oriented_ranks(space.stats.loc[uniform], names)), seed)
            runs.append({
                "seed": seed, "cluster": halving.cluster, "agrees": halving.cluster == exhaustive.cluster,
                "measured": int(len(halving.measured)), "measured_fraction": round(len(halving.measured) / size, 4),
                "rounds": len(halving.rounds),
                "sampled_cbred_c": measured(chosen),
                "regressor_on_measured": measured(top_by_rank(on_measured, len(chosen))),
                "regressor_on_uniform_sample": measured(top_by_rank(on_uniform, len(chosen))),
            })
            print(json.dumps({"rule": rule[:16], "budget": budget, **{k: runs[-1][k] for k in (
                "seed", "cluster", "agrees", "measured")}}), file=sys.stderr)
        summary = {"agreement": f"{sum(r['agrees'] for r in runs)} of {len(runs)}",
                   "measured_fraction_max": max(r["measured_fraction"] for r in runs)}
        for method in ("sampled_cbred_c", "regressor_on_measured", "regressor_on_uniform_sample"):
            summary[method] = {key: round(float(np.mean([r[method][key] for r in runs])), 4)
                               for key in ("size", "mean", "top1_recall")}
        results.append({"rule": rule, "budget_fraction": fraction, "eligible_clusters": len(eligible), "exhaustive_cluster": exhaustive.cluster,
                        "exhaustive_cbred_c": measured(exhaustive.members), "budget": budget, "summary": summary,
                        "runs": runs})
    Path(args.out).write_text(json.dumps({
        "command": f"python benchmarks/sampled_scoring.py --store STORE --benchmark {args.benchmark} --out {args.out}",
        **provenance(),
        "store_config": portable(store.read_manifest()["config"]), "dataset": args.dataset, "results": results,
    }, indent=1))


if __name__ == "__main__":
    main()
