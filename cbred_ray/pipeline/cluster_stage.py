"""Cluster stage (driver): the hardware budget, then the clustering of the graphs in the store."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import ray

from cbred_ray.cluster.space import cluster_space, serial_blocks
from cbred_ray.config import ClusterConfig, ConstraintsConfig
from cbred_ray.select.constraints import arch_costs, budget_mask
from cbred_ray.spaces import nb201
from cbred_ray.store import Store

RAY_BLOCKS_FROM = 2048
"""Distance matrices over at least this many distinct points are computed as Ray tasks."""


@ray.remote
def _block(fn, rows: np.ndarray) -> np.ndarray:
    return fn(rows)


def ray_blocks(fn, rows: np.ndarray, block: int) -> np.ndarray:
    """The rows of a distance matrix, one Ray task per block of ``block`` rows."""
    return np.vstack(ray.get([_block.remote(fn, rows[start : start + block]) for start in range(0, len(rows), block)]))


def run_cluster_stage(store: Store, cfg: ClusterConfig, constraints: ConstraintsConfig, num_classes: int,
                      seed: int) -> dict:
    graphs = store.read("graphs", columns=["arch_index", "arch_str", "canonical_index", cfg.features])
    graphs = graphs.sort_by("arch_index").to_pandas()
    costs = arch_costs(graphs["arch_index"].to_numpy(), num_classes)
    graphs["arch_params"], graphs["arch_macs"] = costs["params"].to_numpy(), costs["macs"].to_numpy()
    if constraints.apply == "before":
        graphs = graphs[budget_mask(graphs, constraints).to_numpy()]
    features = np.stack(graphs[cfg.features].to_numpy()).astype(np.float64)
    cells = nb201.cells_of(graphs["canonical_index"].to_numpy())
    points = len(np.unique(cells if cfg.distance == "edit" else features, axis=0))
    blocks = ray_blocks if cfg.method == "spectral" and points >= RAY_BLOCKS_FROM else serial_blocks
    result = cluster_space(features, cells, cfg, seed, blocks)
    table = pa.table({
        "arch_index": pa.array(graphs["arch_index"].to_numpy(), pa.int64()),
        "arch_str": pa.array(graphs["arch_str"].to_numpy()),
        "canonical_index": pa.array(graphs["canonical_index"].to_numpy(), pa.int64()),
        "cluster": pa.array(result.labels, pa.int32()),
        "arch_params": pa.array(graphs["arch_params"].to_numpy(), pa.float64()),
        "arch_macs": pa.array(graphs["arch_macs"].to_numpy(), pa.float64()),
    })
    store.write_stage("clusters", table)
    return {"rows": table.num_rows, "method": cfg.method, **result.record()}
