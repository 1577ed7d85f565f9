"""Cluster stage (driver): k-means over the graph features in the store."""
from __future__ import annotations

import numpy as np
import pyarrow as pa

from cbred_ray.cluster.kmeans import kmeans
from cbred_ray.config import ClusterConfig
from cbred_ray.store import Store


def run_cluster_stage(store: Store, cfg: ClusterConfig, seed: int) -> dict:
    graphs = store.read("graphs", columns=["arch_index", "arch_str", "canonical_index", cfg.features])
    graphs = graphs.sort_by("arch_index")
    features = np.asarray(graphs.column(cfg.features).to_pylist(), dtype=np.float64)
    result = kmeans(features, cfg.k, seed, n_init=cfg.n_init)
    table = pa.table({
        "arch_index": graphs.column("arch_index"),
        "arch_str": graphs.column("arch_str"),
        "canonical_index": graphs.column("canonical_index"),
        "cluster": pa.array(result.labels, pa.int32()),
    })
    store.write_stage("clusters", table)
    return {"rows": table.num_rows, "k": cfg.k, "inertia": result.inertia,
            "sizes": np.bincount(result.labels, minlength=cfg.k).tolist()}
