"""Cluster stage (driver): the hardware budget, then the clustering of the graphs in the store.

The budget is applied here and nowhere after: ``clusters/`` holds exactly the architectures within it
(``apply: before``: only they are clustered; ``after``: the whole run is clustered, and the others are
left out when the clusters are written), so the statistics, halving and the selection read it as it is.

Two engines, one stage. The *driver* engine reads the features of every architecture (held as their
distinct points) and runs any clustering of ``cbred_ray.cluster.space``: k-means or spectral
clustering on any distance, with K (and η) searched over a grid; it serves spaces up to a few
million architectures (NB201, NB101). The *distributed* engine leaves the features in holder actors
(:mod:`~cbred_ray.pipeline.shard_holders`) and runs k-means (or a Nyström spectral clustering
fitted on a seeded sample) as steps over them, so the driver never holds the space: for the cell
spaces of millions. Either way ``clusters/`` gets one row per architecture: its canonical index,
cluster and the costs of its network (measured by the graphs stage).
"""
from __future__ import annotations

import time

import numpy as np
import pyarrow as pa
import ray

from cbred_ray.cluster.nystrom import fit_nystrom
from cbred_ray.cluster.space import Clustering, cluster_space, serial_blocks
from cbred_ray.config import ConstraintsConfig
from cbred_ray.pipeline.context import RunContext
from cbred_ray.pipeline.graphs_stage import GRAPH_KEY, representatives
from cbred_ray.pipeline.kmeans_stage import distributed_kmeans
from cbred_ray.pipeline.shard_holders import Holders, write_clusters
from cbred_ray.select.constraints import rows_within

RAY_BLOCKS_FROM = 2048
"""Distance matrices over at least this many distinct points are computed as Ray tasks."""


@ray.remote
def _block(fn, rows: np.ndarray) -> np.ndarray:
    return fn(rows)


def ray_blocks(fn, rows: np.ndarray, block: int) -> np.ndarray:
    """The rows of a distance matrix, one Ray task per block of ``block`` rows."""
    return np.vstack(ray.get([_block.remote(fn, rows[start : start + block]) for start in range(0, len(rows), block)]))


def budget_of(constraints: ConstraintsConfig) -> tuple[float | None, float | None] | None:
    """The run's (max_params, max_macs), or None when it has no hardware budget."""
    limits = (constraints.max_params, constraints.max_macs)
    return None if limits == (None, None) else limits


def run_cluster_stage(ctx: RunContext) -> dict:
    """Cluster the run's graphs into ``clusters/`` (the architectures within its hardware budget)."""
    if ctx.config.cluster.engine_for(ctx.store.count_rows("graphs")) == "distributed":
        return _distributed(ctx)
    return _driver(ctx)


def _driver(ctx: RunContext) -> dict:
    store, space, cfg, constraints = ctx.store, ctx.space, ctx.config.cluster, ctx.config.select.constraints
    keyed = GRAPH_KEY in store.columns("graphs")
    graphs = store.read("graphs", columns=["arch_index", "canonical_index", cfg.features, *[GRAPH_KEY] * keyed,
                                           "arch_params", "arch_macs"])
    graphs = graphs.sort_by("arch_index")
    budget = budget_of(constraints)
    inside = np.ones(graphs.num_rows, bool) if budget is None else rows_within(graphs, budget)
    graphs = graphs.to_pandas()
    if keyed:  # one representative per key, over the whole run
        graphs["canonical_index"] = representatives(graphs["arch_index"].to_numpy(), graphs[GRAPH_KEY].to_numpy())
    if constraints.apply == "before":
        graphs, inside = graphs[inside], inside[inside]
    features = np.stack(graphs[cfg.features].to_numpy()).astype(np.float64)
    canonical = graphs["canonical_index"].to_numpy()
    # the edit distance reads the cells themselves; every other clustering reads only the features
    cells = space.edit_rows(canonical) if cfg.distance == "edit" else canonical[:, None]
    points = len(np.unique(cells if cfg.distance == "edit" else features, axis=0))
    blocks = ray_blocks if cfg.method == "spectral" and points >= RAY_BLOCKS_FROM else serial_blocks
    result = cluster_space(features, cells, Clustering.of(cfg), ctx.seeds.of("cluster"), blocks)
    table = pa.table({
        "arch_index": pa.array(graphs["arch_index"].to_numpy(), pa.int64()),
        "canonical_index": pa.array(canonical, pa.int64()),
        "cluster": pa.array(result.labels, pa.int32()),
        "arch_params": pa.array(graphs["arch_params"].to_numpy(), pa.float64()),
        "arch_macs": pa.array(graphs["arch_macs"].to_numpy(), pa.float64()),
    }).filter(pa.array(inside))  # after: clustered with the rest, left out now
    store.write_stage("clusters", table)
    return {"rows": table.num_rows, "clustered": len(graphs), "engine": "driver", "method": cfg.method,
            **result.record()}


def _distributed(ctx: RunContext) -> dict:
    store, cfg, constraints, progress = ctx.store, ctx.config.cluster, ctx.config.select.constraints, ctx.progress
    seed, budget = ctx.seeds.of("cluster"), budget_of(constraints)
    holders = Holders.from_store(store, cfg.features, ctx.resources.holders,
                                 budget if constraints.apply == "before" else None)
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
    fitted, clustered = time.perf_counter() - started, sum(holders.each("count"))
    sizes = write_clusters(store, holders, assign, cfg.ks[0], budget if constraints.apply == "after" else None)
    holders.close()
    return {"rows": int(sizes.sum()), "clustered": int(clustered), "engine": "distributed", "method": cfg.method,
            "features": cfg.features, "holders": len(holders), "holders_lost": holders.lost,
            "graph_shards": len(store.shard_files("graphs")), "fit_seconds": round(fitted, 3), **record,
            "sizes": [int(s) for s in sizes]}
