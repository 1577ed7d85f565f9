"""C-BRED variants side by side against Quantiled, from one store's statistics.

    python benchmarks/cbred_variants.py --store STORE \\
        --benchmark ../shared/nb201/nb201_test_accuracy.parquet --out benchmarks/results/cbred_variants.json

STORE is a finished run with statistics for every architecture (e.g. of
configs/nb201_cifar100_paper.yaml). For each clustering (features, algorithm, K) and each
cluster score, the C-BRED (Q + C) subset of 5 % of the space is chosen without accuracies,
then measured next to Quantiled (the same statistics' rank ensemble, no clustering) at the
same size. This is an investigation of what the clustering adds: the configuration that
`cbred run` uses is fixed in its config, not picked from this table.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pandas as pd
from provenance import provenance

from cbred_ray.config import ClusterConfig
from cbred_ray.evaluate.benchmark import load_benchmark
from cbred_ray.report.comparison import choose, measure
from cbred_ray.report.report import load_space, portable
from cbred_ray.store import Store

GRID = [4, 6, 8, 12, 16, 24, 32]
PAPER = {"method": "kmeans", "features": "op_usage", "k": GRID, "criterion": "silhouette"}
CLUSTERINGS = [
    *({"method": "kmeans", "features": "op_usage", "k": k} for k in (4, 8, 16, 32)),
    *({"method": "kmeans", "features": "op_counts", "k": k} for k in (8, 16)),
    PAPER,
    {"method": "kmeans", "features": "op_usage", "k": GRID, "criterion": "stability"},
    {"method": "spectral", "features": "op_usage", "distance": "hellinger", "k": GRID, "eta": [0.01, 0.05, 0.2],
     "criterion": "eigengap"},
    {"method": "spectral", "features": "op_usage", "distance": "jensen_shannon", "k": GRID, "eta": [0.01, 0.05, 0.2],
     "criterion": "silhouette"},
]
MEDIAN = {"scoring": "median_rank"}
SCORINGS = [{"scoring": "mean_rank"}, {"scoring": "quantile_rank", "quantile": 0.9},
            {"scoring": "median_rank", "combine": "min"}]
VARIANTS = [*((clustering, MEDIAN) for clustering in CLUSTERINGS), *((PAPER, scoring) for scoring in SCORINGS)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True)
    parser.add_argument("--benchmark", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--dataset", default="cifar100")
    args = parser.parse_args()

    store = Store(args.store)
    table = load_benchmark(args.benchmark)
    results = []
    spaces = {}
    for clustering, scoring in VARIANTS:
        started = time.perf_counter()
        features = clustering["features"]
        if features not in spaces:
            spaces[features] = load_space(store, features=features)
        space, config = spaces[features]
        base = {**config.cluster.model_dump(mode="json"), "criterion": "silhouette", "distance": "hellinger",
                "eta": 0.1}
        config = config.model_copy(update={"cluster": ClusterConfig.model_validate({**base, **clustering}),
                                           "select": config.select.model_copy(update=scoring)})
        choice = choose(space, config, None, config.seed)
        rows = pd.DataFrame(measure(choice, space, table))
        rows = rows[rows["dataset"] == args.dataset].set_index("method")
        result = {"clustering": clustering, "scoring": scoring, "k": choice.clustering.k,
                  "eta": choice.clustering.eta, "cluster_size": len(choice.reduction.members),
                  "seconds": round(time.perf_counter() - started, 1)}
        for method in ("C-BRED (C)", "C-BRED (Q + C)", "Quantiled"):
            result[method] = {key: round(float(rows.loc[method, key]), 4)
                              for key in ("size", "mean", "top1_recall", "best_of_100", "first_ranked")}
        results.append(result)
        print(json.dumps({k: result[k] for k in ("clustering", "scoring", "k", "cluster_size")}),
              {m: result[m]["mean"] for m in ("C-BRED (C)", "C-BRED (Q + C)", "Quantiled")}, file=sys.stderr)
    Path(args.out).write_text(json.dumps({
        "command": f"python benchmarks/cbred_variants.py --store STORE --benchmark {args.benchmark} --out {args.out}",
        **provenance(),
        "store_config": portable(store.read_manifest()["config"]), "dataset": args.dataset, "results": results,
    }, indent=1))


if __name__ == "__main__":
    main()
