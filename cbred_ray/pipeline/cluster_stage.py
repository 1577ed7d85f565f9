"""Cluster stage (driver): the hardware budget, then the clustering of the graphs in the store.

Two engines, one stage. The *driver* engine reads the features of every architecture (held as their
distinct points) and runs any clustering of ``cbred_ray.cluster.space``: k-means or spectral
clustering on any distance, with K (and η) searched over a grid; it serves spaces up to a few
million architectures (NB201, NB101). The *distributed* engine leaves the features in holder actors
(:mod:`~cbred_ray.pipeline.shard_holders`) and runs k-means (or a Nyström spectral clustering
fitted on a seeded sample) as steps over them, so the driver never holds the space: for the cell
spaces of millions. Either way ``clusters/`` gets one row per architecture: its canonical index,
cluster and the costs of its network.
"""
from __future__ import annotations

import time

import numpy as np
import pyarrow as pa
import ray

from cbred_ray.cluster.nystrom import fit_nystrom
from cbred_ray.cluster.space import Clustering, cluster_space, serial_blocks
from cbred_ray.config import ClusterConfig, ConstraintsConfig
from cbred_ray.pipeline.graphs_stage import GRAPH_KEY, representatives
from cbred_ray.pipeline.kmeans_stage import distributed_kmeans
from cbred_ray.pipeline.shard_holders import Holders, write_clusters
from cbred_ray.select.constraints import arch_costs, budget_mask
from cbred_ray.spaces.base import Space
from cbred_ray.store import Store

RAY_BLOCKS_FROM = 2048
"""Distance matrices over at least this many distinct points are computed as Ray tasks."""


@ray.remote
def _block(fn, rows: np.ndarray) -> np.ndarray:
    return fn(rows)


def ray_blocks(fn, rows: np.ndarray, block: int) -> np.ndarray:
    """The rows of a distance matrix, one Ray task per block of ``block`` rows."""
    return np.vstack(ray.get([_block.remote(fn, rows[start : start + block]) for start in range(0, len(rows), block)]))


def run_cluster_stage(store: Store, space: Space, cfg: ClusterConfig, constraints: ConstraintsConfig,
                      num_classes: int, seed: int, progress: bool, holders: int | None = None) -> dict:
    """Cluster the graphs of the store into ``clusters/``; ``holders``: the holder actors of the distributed
    engine (None: one per CPU of the cluster)."""
    if cfg.engine_for(store.count_rows("graphs")) == "distributed":
        return _distributed(store, space, cfg, num_classes, seed, progress, holders)
    return _driver(store, space, cfg, constraints, num_classes, seed)


def _driver(store: Store, space: Space, cfg: ClusterConfig, constraints: ConstraintsConfig, num_classes: int,
            seed: int) -> dict:
    stored = store.columns("graphs")
    keyed, costed = GRAPH_KEY in stored, "arch_params" in stored  # what the graphs stage measured already
    extra = [GRAPH_KEY] * keyed + ["arch_params", "arch_macs"] * costed
    graphs = store.read("graphs", columns=["arch_index", "canonical_index", cfg.features, *extra])
    graphs = graphs.sort_by("arch_index").to_pandas()
    if keyed:  # one representative per key, over the whole run
        graphs["canonical_index"] = representatives(graphs["arch_index"].to_numpy(), graphs[GRAPH_KEY].to_numpy())
    if not costed:
        costs = arch_costs(space, graphs["arch_index"].to_numpy(), num_classes)
        graphs["arch_params"], graphs["arch_macs"] = costs["params"].to_numpy(), costs["macs"].to_numpy()
    if constraints.apply == "before":
        graphs = graphs[budget_mask(graphs, constraints.max_params, constraints.max_macs).to_numpy()]
    features = np.stack(graphs[cfg.features].to_numpy()).astype(np.float64)
    canonical = graphs["canonical_index"].to_numpy()
    # the edit distance reads the cells themselves; every other clustering reads only the features
    cells = space.edit_rows(canonical) if cfg.distance == "edit" else canonical[:, None]
    points = len(np.unique(cells if cfg.distance == "edit" else features, axis=0))
    blocks = ray_blocks if cfg.method == "spectral" and points >= RAY_BLOCKS_FROM else serial_blocks
    result = cluster_space(features, cells, Clustering.of(cfg), seed, blocks)
    table = pa.table({
        "arch_index": pa.array(graphs["arch_index"].to_numpy(), pa.int64()),
        "canonical_index": pa.array(canonical, pa.int64()),
        "cluster": pa.array(result.labels, pa.int32()),
        "arch_params": pa.array(graphs["arch_params"].to_numpy(), pa.float64()),
        "arch_macs": pa.array(graphs["arch_macs"].to_numpy(), pa.float64()),
    })
    store.write_stage("clusters", table)
    return {"rows": table.num_rows, "engine": "driver", "method": cfg.method, **result.record()}


def _distributed(store: Store, space: Space, cfg: ClusterConfig, num_classes: int, seed: int,
                 progress: bool, count: int | None) -> dict:
    holders = Holders.from_store(store, cfg.features, count)
    started = time.perf_counter()
    if cfg.method == "kmeans":
        result = distributed_kmeans(holders, cfg.ks[0], seed, cfg.n_init, cfg.max_iter, progress)
        assign, record = result.assign, {**result.record(), "n_init": cfg.n_init}
    else:
        total = sum(holders.each("count"))
        drawn = holders.each("sample", seed, min(1.0, cfg.fit_sample / total))
        sample = np.vstack([d[1] for d in drawn])
        distinct, counts = np.unique(sample, axis=0, return_counts=True)
        model = fit_nystrom(distinct, cfg.ks[0], cfg.etas[0], seed, cfg.landmarks, cfg.distance, counts)
        assign = model.assign
        record = {"k": cfg.ks[0], "eta": cfg.etas[0], "distance": cfg.distance, "fit_rows": int(len(sample)),
                  "fit_distinct": int(len(distinct)), "landmarks": int(len(model.landmarks)), "init": "nystrom"}
    fitted = time.perf_counter() - started
    sizes = write_clusters(store, holders, assign, cfg.ks[0], space, num_classes)
    holders.close()
    return {"rows": int(sizes.sum()), "engine": "distributed", "method": cfg.method, "features": cfg.features,
            "holders": len(holders), "holders_lost": holders.lost, "graph_shards": len(store.shard_files("graphs")),
            "fit_seconds": round(fitted, 3), **record, "sizes": [int(s) for s in sizes]}
