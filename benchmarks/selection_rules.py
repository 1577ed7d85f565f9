"""Rules for what a statistics-budget run keeps, measured against the free baselines of the same size.

    python benchmarks/selection_rules.py --dataset cifar10 --seeds 5 \\
        --out benchmarks/results/selection_rules_nb201_cifar10.json

A development measurement on NB201: the README's quick default (k-means on operation usage, each
cluster scored from 24 sampled members by the median ranks of NASWOT v2 and log-synflow, 200
bootstrap resamplings) is simulated from the whole-space statistics of
``results/nb201_stats.parquet`` (each run measures only the sampled members; the file is read for
those alone). For each seed and each rule, the subset is chosen without accuracies, then measured
beside what a user with the same budget could keep instead, at the same size: the networks with the
most parameters (Params-Quantiled), the most MACs (MACs-Quantiled), and the best predictions of a
regressor on the graph features trained on the sampled members' rank ensemble.

The rules:
- **one cluster**: the best-scored cluster (today's C-BRED (C));
- **union ≥ S**: the clusters in order of score until they hold a share ``S`` of the space;
- **union, top by params to S**: that union cut to exactly ``S`` by parameters (free);
- **params in the score**: parameters as a third statistic of the cluster score.

Development is on CIFAR-10 (the statistics were computed on CIFAR-100 images, with a 100-class head;
CIFAR-10 accuracy judges the rules). CIFAR-100 is the held-out measurement, run once a rule is fixed.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from provenance import provenance

from cbred_ray.cluster.space import Clustering, cluster_space
from cbred_ray.config import ClusterConfig
from cbred_ray.evaluate.metrics import top_recall
from cbred_ray.select.reduction import ensemble_rank, top_by_rank
from cbred_ray.select.scoring import best_cluster, oriented_ranks, sample_members, score_clusters
from cbred_ray.select.surrogate import predicted_rank
from cbred_ray.spaces.cell import NB201Space

REPO = Path(__file__).resolve().parents[1]
STATS = REPO / "benchmarks" / "results" / "nb201_stats.parquet"
TABLE = REPO.parent / "shared" / "nb201" / "nb201_test_accuracy.parquet"
PAPER = ("naswot_v2", "logsynflow")
"""The quick default's statistics (configs/nb201_cifar100.yaml)."""
PER_CLUSTER, MIN_SCORED, BOOTSTRAP = 24, 8, 200
SHARES = (0.05, 0.10)
KS = (16, 64)


def _ordered(scores: pd.DataFrame) -> list[int]:
    valid = scores.dropna(subset=["score"])
    return valid.sort_values(["score", "cluster"], ascending=[False, True])["cluster"].astype(int).tolist()


def _union(clusters: pd.Series, order: list[int], target: int) -> pd.Index:
    """The clusters in ``order`` until they hold at least ``target`` architectures."""
    kept = []
    for cluster in order:
        kept.append(clusters.index[clusters.to_numpy() == cluster])
        if sum(map(len, kept)) >= target:
            break
    return pd.Index(np.sort(np.concatenate(kept)))


def rules(stats: pd.DataFrame, features: np.ndarray, k: int, seed: int) -> tuple[dict[str, pd.Index], pd.Series]:
    """Every rule's subset for one seed (no accuracy read), and the rank ensemble of the measured members."""
    clustering = cluster_space(features, np.zeros((len(features), 1)), Clustering.of(ClusterConfig(k=k, n_init=10)),
                               seed)
    clusters = pd.Series(clustering.labels, index=stats.index)
    measured = sample_members(clusters, PER_CLUSTER, seed)

    def scored(names: tuple[str, ...]) -> pd.DataFrame:
        ranks = oriented_ranks(stats.loc[measured], names)
        return score_clusters(ranks, clusters.loc[measured], "median_rank", 0.5, MIN_SCORED, BOOTSTRAP, seed)

    paper, with_params = scored(PAPER), scored((*PAPER, "params"))
    subsets = {"one cluster": clusters.index[clusters.to_numpy() == best_cluster(paper)],
               "params in the score, one cluster": clusters.index[clusters.to_numpy() == best_cluster(with_params)]}
    for share in SHARES:
        target = int(np.ceil(share * len(stats)))
        union = _union(clusters, _ordered(paper), target)
        subsets[f"union >= {share:.0%}"] = union
        subsets[f"union, top by params to {share:.0%}"] = top_by_rank(stats.loc[union, "params"], target).sort_values()
    return subsets, ensemble_rank(oriented_ranks(stats.loc[measured], PAPER))


def measure(subset: pd.Index, accuracy: pd.Series) -> tuple[float, float]:
    mask = accuracy.index.isin(subset)
    return float(accuracy[mask].mean()), top_recall(accuracy.to_numpy(), mask)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="cifar10", choices=("cifar10", "cifar100"))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    started = time.perf_counter()
    stats = pd.read_parquet(STATS).set_index("arch_index").sort_index()
    space = NB201Space()
    features = space.features(space.canonical_indices(stats.index.to_numpy()), "op_usage")
    graph_features = pd.DataFrame(features, index=stats.index)
    table = pd.read_parquet(TABLE).set_index("arch_str")
    # the accuracies measure subsets already chosen: rules() never receives them
    accuracy = pd.Series(table.loc[stats["arch_str"], f"{args.dataset}_test_acc"].to_numpy(), index=stats.index)
    rows = []
    for k in KS:
        for seed in range(args.seeds):
            subsets, ensemble = rules(stats, features, k, seed)
            predicted = predicted_rank(graph_features, ensemble, seed)
            for rule, subset in subsets.items():
                n = len(subset)
                row = {"k": k, "seed": seed, "rule": rule, "size": n}
                for name, chosen in (("rule", subset), ("params", top_by_rank(stats["params"], n)),
                                     ("macs", top_by_rank(stats["macs"], n)), ("regressor", top_by_rank(predicted, n))):
                    row[f"{name}_mean"], row[f"{name}_recall"] = measure(chosen, accuracy)
                rows.append(row)
            print(f"K {k} seed {seed}: {time.perf_counter() - started:.0f} s", file=sys.stderr)
    frame = pd.DataFrame(rows)
    summary = frame.groupby(["k", "rule"], sort=False).mean(numeric_only=True).drop(columns="seed").reset_index()
    summary["at_or_above_params"] = [
        bool((g["rule_mean"] >= g["params_mean"]).all() and (g["rule_recall"] >= g["params_recall"]).all())
        for _, g in frame.groupby(["k", "rule"], sort=False)]
    out = {"command": f"python benchmarks/selection_rules.py --dataset {args.dataset} --seeds {args.seeds} "
                      f"--out {args.out}", **provenance(), "dataset": args.dataset,
           "setup": {"statistics": PAPER, "per_cluster": PER_CLUSTER, "min_scored": MIN_SCORED,
                     "bootstrap": BOOTSTRAP, "shares": SHARES, "ks": KS, "features": "op_usage",
                     "statistics_file": "benchmarks/results/nb201_stats.parquet (CIFAR-100 images)"},
           "wall_seconds": round(time.perf_counter() - started, 1),
           "summary": summary.round(4).to_dict(orient="records"), "runs": frame.round(4).to_dict(orient="records")}
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print(summary.round(3).to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
