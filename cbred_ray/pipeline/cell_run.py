"""The driver of a cell-space run: graphs (Ray Data) -> distributed k-means -> clusters.

For spaces too large to score whole (the 5-node space has 9,765,625 architectures):
every architecture, or a seeded sample, is enumerated by index ranges, reduced to its
canonical cell and described by the clustering feature in one streaming pass; then
holder actors keep those shards in memory while k-means runs over them (or a Nyström
spectral clustering is fitted on a seeded sample of rows), and ``clusters/`` gets one
row per architecture with its cluster id. The driver holds K-by-d sums and the sample,
never the features of the whole space.
"""
from __future__ import annotations

import time

import numpy as np
import ray

from cbred_ray.cluster.nystrom import NystromModel, fit_nystrom
from cbred_ray.config import ClusterConfig, RunConfig
from cbred_ray.pipeline.graphs_stage import run_cell_graphs_stage
from cbred_ray.pipeline.kmeans_stage import distributed_kmeans
from cbred_ray.pipeline.manifest import Stages, claim, finish
from cbred_ray.pipeline.runtime import init_ray
from cbred_ray.pipeline.shard_holders import hold_store_shards, write_clusters
from cbred_ray.spaces.cell import distinct_sorted
from cbred_ray.store import Store


def _spectral(holders: list, cfg: ClusterConfig, seed: int) -> tuple[NystromModel, dict]:
    """Nyström spectral clustering fitted on a seeded sample of the rows (their distinct features, weighted)."""
    total = sum(ray.get([h.count.remote() for h in holders]))
    drawn = ray.get([h.sample.remote(seed, min(1.0, cfg.fit_sample / total)) for h in holders])
    sample = np.vstack([d[1] for d in drawn])
    distinct, counts = np.unique(sample, axis=0, return_counts=True)
    model = fit_nystrom(distinct, cfg.k, float(cfg.eta), seed, cfg.landmarks, cfg.distance, counts)
    return model, {"k": cfg.k, "eta": float(cfg.eta), "distance": cfg.distance, "fit_rows": int(len(sample)),
                   "fit_distinct": int(len(distinct)), "landmarks": int(len(model.landmarks)), "init": "nystrom"}


def _cluster(store: Store, config: RunConfig, progress: bool) -> dict:
    cfg = config.cluster
    holders = hold_store_shards(store, cfg.features)
    started = time.perf_counter()
    if cfg.method == "kmeans":
        result = distributed_kmeans(holders, cfg.k, config.seed, cfg.n_init, cfg.max_iter, progress)
        assign, record = result.assign, result.record()
    else:
        model, record = _spectral(holders, cfg, config.seed)
        assign = model.assign
    fitted = time.perf_counter() - started
    sizes = write_clusters(store, holders, assign, cfg.k)
    for holder in holders:
        ray.kill(holder)
    if cfg.method == "kmeans":
        record["n_init"] = cfg.n_init
    return {"rows": int(sizes.sum()), "method": cfg.method, "features": cfg.features, "holders": len(holders),
            "graph_shards": len(store.finished_shards("graphs")), "fit_seconds": round(fitted, 3),
            **record, "sizes": [int(s) for s in sizes]}


def unique_cells(store: Store) -> int:
    """Distinct canonical cells among the architectures of the run (one column read, sorted once)."""
    return int(len(distinct_sorted(store.read("graphs", columns=["canonical_index"]).column("canonical_index").to_numpy())))


def run_cell_space(config: RunConfig, out: str, progress: bool = True) -> dict:
    """Cluster a cell space into the store ``out``; returns the manifest."""
    space = config.space.cell_space()
    store = Store(out)
    manifest = claim(store, store.check_owner(config.hash()), "run", config.model_dump(mode="json"), config.hash(),
                     config.seed)
    init_ray()
    started = time.perf_counter()
    stages = Stages(store, manifest, progress)
    stages.run("graphs", lambda: run_cell_graphs_stage(store, space, config.graphs.shard_size,
                                                       config.cluster.features, config.space.sample,
                                                       config.seed, progress))
    stages.run("clusters", lambda: _cluster(store, config, progress))
    manifest["space"] = {"name": "cell", "nodes": space.nodes, "ops": list(space.ops), "size": space.size,
                         "architectures": store.count_rows("graphs"), "unique_cells": unique_cells(store)}
    return finish(store, manifest, ("graphs", "clusters"), started)
