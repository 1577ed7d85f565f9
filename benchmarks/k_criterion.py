"""The silhouette that chooses K, over the rows or over the distinct feature vectors, and what each choice keeps.

    cbred run configs/nb201_cifar100_paper.yaml --out STORE
    python benchmarks/k_criterion.py --store STORE --dataset cifar10 --seeds 5 \\
        --out benchmarks/results/k_criterion_nb201_cifar10.json

For each seed, k-means of the store's config clusters the space at every K of its grid; each
clustering's silhouette is computed over the rows (every architecture, the criterion before this
measurement) and over the distinct feature vectors, each once (:func:`cbred_ray.cluster.space.distinct_silhouette`,
the criterion since). Each criterion's K is then run through the config's selection (``choose``, with
K fixed to it: the same clustering as the search's), and C-BRED (Q + C), Quantiled and C-BRED (C) are
measured on ``--dataset``. The rule (use the distinct vectors) was fixed on CIFAR-10; CIFAR-100 is the
held-out measurement.
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
from sklearn.metrics import silhouette_score

from cbred_ray.cluster.kmeans import kmeans
from cbred_ray.cluster.space import SILHOUETTE_SAMPLE, distinct_silhouette
from cbred_ray.evaluate.benchmark import load_benchmark
from cbred_ray.report.comparison import choose, measure
from cbred_ray.report.report import load_space
from cbred_ray.store import Store

METHODS = ("C-BRED (Q + C)", "Quantiled", "C-BRED (C)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", required=True, help="a finished run of a config whose cluster.k is a grid")
    parser.add_argument("--benchmark", default=str(Path(__file__).resolve().parents[2] / "shared" / "nb201" /
                                                   "nb201_test_accuracy.parquet"))
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    started = time.perf_counter()
    space, config = load_space(Store(args.store))
    grid, n_init = list(config.cluster.ks), config.cluster.n_init
    features = space.features.to_numpy(dtype=np.float64)
    table = load_benchmark(args.benchmark)
    runs = []
    for seed in range(args.seeds):
        values = {"rows": {}, "distinct": {}}
        for k in grid:
            labels = kmeans(features, k, seed, n_init=n_init).labels
            values["rows"][k] = float(silhouette_score(features, labels, sample_size=min(len(features),
                                                       SILHOUETTE_SAMPLE), random_state=seed))
            values["distinct"][k] = distinct_silhouette(features, labels, seed)
        for criterion, by_k in values.items():
            k = max(by_k, key=lambda c: (by_k[c], -c))
            fixed = config.model_copy(update={"seed": seed,
                                              "cluster": config.cluster.model_copy(update={"k": k})})
            choice = choose(space, fixed, None, seed)  # chosen without accuracies; measured below
            measured = pd.DataFrame(measure(choice, space, table))
            measured = measured[measured["dataset"] == args.dataset].set_index("method")
            runs.append({"seed": seed, "criterion": criterion, "k": k, "values": {str(c): round(v, 4) for c, v in
                                                                                  by_k.items()},
                         **{f"{m} {key}": float(measured.loc[m, key]) for m in METHODS
                            for key in ("size", "mean", "top1_recall")}})
        print(f"seed {seed}: K {[r['k'] for r in runs[-2:]]}, {time.perf_counter() - started:.0f} s", file=sys.stderr)
    frame = pd.DataFrame(runs).drop(columns="values")
    summary = frame.groupby("criterion", sort=False).mean(numeric_only=True).drop(columns="seed").round(4)
    out = {"command": f"python benchmarks/k_criterion.py --store STORE --dataset {args.dataset} --seeds {args.seeds} "
                      f"--out {args.out}", **provenance(), "store_config": config.name, "grid": grid,
           "dataset": args.dataset, "wall_seconds": round(time.perf_counter() - started, 1),
           "summary": summary.reset_index().to_dict(orient="records"), "runs": runs}
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print(summary.T.to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
