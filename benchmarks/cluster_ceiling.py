"""The most that keeping one cluster can give: the best cluster *by accuracy*, against the free baselines.

    python benchmarks/cluster_ceiling.py --out benchmarks/results/cluster_ceiling.json

C-BRED keeps one cluster of a clustering of the space's graph features. However its clusters are
scored, the subset it keeps is one of them, so the cluster with the best mean accuracy (an oracle: it
reads the accuracies, which no run may) bounds what any scoring can reach on that clustering. This
measures that bound for each feature map and K, on the two spaces with ground truth and the targets set
for them, and sets it beside the free baseline a user has without any statistic: the networks with the
most parameters (Params-Quantiled), as many as the cluster holds.

- **NB201, CIFAR-10** (the development dataset; CIFAR-100 is held out): every cluster of 50 or more
  architectures; how many of them are at or above Params-Quantiled of their own size in mean accuracy,
  and the one with the largest margin.
- **NB101, CIFAR-10**: the clusters a run may keep under ``configs/nb101_cifar10.yaml``'s size limits
  (1,000 architectures to 2 % of the space, the target's share): the best mean, and the best top-1 %
  recall among clusters whose mean reaches the target (93.0 %).

Each row is one clustering seed (k-means, 10 restarts, as the configs run it).
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
from cbred_ray.select.reduction import top_by_rank
from cbred_ray.spaces import space_of

SHARED = Path(__file__).resolve().parents[2] / "shared"
SPACES = {
    "nb201": {"table": SHARED / "nb201" / "nb201_test_accuracy.parquet", "accuracy": "cifar10_test_acc",
              "params": None, "ks": (4, 8, 16, 32, 64), "sizes": (50, None), "target_mean": None},
    "nb101": {"table": SHARED / "nb101" / "nb101_test_accuracy.parquet", "accuracy": "cifar10_test_acc",
              "params": "trainable_parameters", "ks": (32, 64, 128), "sizes": (1000, 0.02), "target_mean": 93.0},
}
FEATURES = ("op_usage", "op_counts")


def ground_truth(name: str) -> tuple[object, pd.Series, np.ndarray]:
    """(space, accuracy, parameters of the benchmark's network), one per architecture in index order."""
    spec, space = SPACES[name], space_of(name)
    table = pd.read_parquet(spec["table"]).set_index(space.id_column)
    ids = space.format_ids(np.arange(space.size))
    accuracy = pd.Series(table.loc[ids, spec["accuracy"]].to_numpy(), index=np.arange(space.size))
    params = (table.loc[ids, spec["params"]].to_numpy() if spec["params"]
              else space.costs(np.arange(space.size), 10)[0])
    return space, accuracy, np.asarray(params, dtype=np.float64)


def ceiling(labels: np.ndarray, accuracy: pd.Series, params: pd.Series, fewest: int, most: int | None,
            target_mean: float | None) -> dict:
    """The clusters of one clustering against Params-Quantiled of their size, and the best of them."""
    acc = accuracy.to_numpy()
    rows = []
    for cluster in np.unique(labels):
        members = labels == cluster
        size = int(members.sum())
        if size < fewest or (most is not None and size > most):
            continue
        free = accuracy.loc[top_by_rank(params, size)].mean()
        rows.append({"cluster": int(cluster), "size": size, "mean": float(acc[members].mean()),
                     "recall": top_recall(acc, members), "params_mean": float(free)})
    frame = pd.DataFrame(rows)
    frame["margin"] = frame["mean"] - frame["params_mean"]
    best = frame.loc[frame["mean"].idxmax()]
    out = {"eligible": len(frame), "at_or_above_params": int((frame["margin"] >= 0).sum()),
           "best_mean": round(float(best["mean"]), 3), "best_mean_size": int(best["size"]),
           "best_mean_recall": round(float(best["recall"]), 3),
           "best_margin_to_params": round(float(frame["margin"].max()), 3)}
    if target_mean is not None:
        reaching = frame[frame["mean"] >= target_mean]
        out["reaching_target_mean"] = len(reaching)
        out["best_recall_reaching_target_mean"] = round(float(reaching["recall"].max()), 3) if len(reaching) else None
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    started = time.perf_counter()
    rows = []
    for name, spec in SPACES.items():
        space, accuracy, params = ground_truth(name)
        fewest, most = spec["sizes"]
        most = None if most is None else int(most * space.size)
        params = pd.Series(params, index=accuracy.index)
        for feature in FEATURES:
            features = space.features(space.canonical_indices(np.arange(space.size)), feature)
            for k in spec["ks"]:
                for seed in range(args.seeds):
                    clustering = cluster_space(features, np.zeros((len(features), 1)),
                                               Clustering.of(ClusterConfig(k=k, n_init=10)), seed)
                    rows.append({"space": name, "features": feature, "k": k, "seed": seed,
                                 **ceiling(clustering.labels, accuracy, params, fewest, most, spec["target_mean"])})
                print(f"{name} {feature} K {k}: {time.perf_counter() - started:.0f} s", file=sys.stderr)
    frame = pd.DataFrame(rows)
    summary = frame.drop(columns="seed").groupby(["space", "features", "k"], sort=False).agg(
        lambda column: column.max() if column.name.startswith(("best", "reaching", "at_or")) else column.mean())
    out = {"command": f"python benchmarks/cluster_ceiling.py --seeds {args.seeds} --out {args.out}", **provenance(),
           "setup": {name: {key: (str(Path(value).relative_to(SHARED.parent)) if key == "table" else value)
                            for key, value in spec.items()} for name, spec in SPACES.items()},
           "summary_note": "per space, features and K: the largest value over the seeds of each best_/count column",
           "wall_seconds": round(time.perf_counter() - started, 1),
           "summary": summary.reset_index().to_dict(orient="records"), "runs": frame.to_dict(orient="records")}
    Path(args.out).write_text(json.dumps(out, indent=1, default=float) + "\n")
    print(summary.to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
