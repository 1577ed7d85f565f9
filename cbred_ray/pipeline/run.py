"""The driver: runs the stages of a reduction in order over one store.

graphs (Ray Data) -> clusters -> stats (Ray actors; every architecture, a seeded
sample per cluster in quick mode, or round by round under successive halving) ->
selection. Each stage reads what the stage before it wrote to the store; a stage
already finished by the same config is skipped, and the shard stages skip finished
shards.
"""
from __future__ import annotations

import hashlib
import time

import numpy as np

from cbred_ray.config import RunConfig, StatsConfig, config_hash
from cbred_ray.pipeline.cell_run import run_cell_space, unique_cells
from cbred_ray.pipeline.cluster_stage import run_cluster_stage
from cbred_ray.pipeline.graphs_stage import run_graphs_stage
from cbred_ray.pipeline.halving_stage import run_halving_stage
from cbred_ray.pipeline.manifest import Stages, claim, finish
from cbred_ray.pipeline.runtime import init_ray
from cbred_ray.pipeline.select_stage import run_select_stage
from cbred_ray.pipeline.stats_stage import (
    check_precomputed, read_precomputed, run_stats_stage, write_precomputed,
)
from cbred_ray.select.constraints import arch_costs, within_budget
from cbred_ray.select.halving import halving_budget
from cbred_ray.select.scoring import sample_members
from cbred_ray.spaces import nb201
from cbred_ray.spaces.canonical import canonical_cells
from cbred_ray.stats.data import load_batch
from cbred_ray.store import Store


def run_reduction(config: RunConfig, out: str, progress: bool = True) -> dict:
    """Run a whole reduction into the store ``out``; returns the manifest.

    Everything a run reads from outside (the input batch or the precomputed statistics,
    the hardware budget) is checked before the store is touched. A cell space is
    clustered without statistics (:func:`~cbred_ray.pipeline.cell_run.run_cell_space`).
    """
    if config.space.name == "cell":
        return run_cell_space(config, out, progress)
    store = Store(out)
    manifest = store.check_owner(config.hash())
    budget = config.select.constraints
    space = within_budget(arch_costs(np.arange(nb201.SPACE_SIZE), config.stats.num_classes), budget.max_params,
                          budget.max_macs)
    if config.select.halving.enabled:  # enough for K clusters, whichever K is chosen
        halving_budget(config.select, int(space.sum()), max(config.cluster.ks))
    precomputed = read_precomputed(config.stats) if config.stats.precomputed else None
    if precomputed is not None:
        check_precomputed(precomputed, np.arange(nb201.SPACE_SIZE), config.stats.precomputed)
    else:
        load_batch(config.stats.data.source, config.stats.data.batch_size, config.seed, config.stats.data.augment)
    manifest = claim(store, manifest, "run", config.model_dump(mode="json"), config.hash(), config.seed)
    init_ray()
    started = time.perf_counter()
    stages = Stages(store, manifest, progress)
    stages.run("graphs", lambda: run_graphs_stage(store, config.graphs.shard_size, progress))
    stages.run("clusters", lambda: run_cluster_stage(store, config.cluster, budget, config.stats.num_classes,
                                                     config.seed))

    def stats() -> dict:
        if config.select.halving.enabled:
            return run_halving_stage(store, config, precomputed, progress)
        clusters = store.read("clusters", columns=["arch_index", "canonical_index", "cluster"]).to_pandas()
        clusters = clusters.set_index("arch_index")
        if config.select.quick.enabled:
            requested = sample_members(clusters["cluster"], config.select.quick.sample_per_cluster, config.seed)
        else:
            requested = clusters.index.to_numpy()
        if precomputed is not None:
            return write_precomputed(store, precomputed, np.sort(requested), config.stats.precomputed)
        canonical = clusters.loc[requested, "canonical_index"].to_numpy()
        return run_stats_stage(store, config.stats, config.seed, requested, canonical, progress)

    stages.run("stats", stats)
    stages.run("selection", lambda: run_select_stage(store, config.select, config.seed))
    manifest["space"] = {"name": "nb201", "size": store.count_rows("graphs"), "unique_cells": unique_cells(store)}
    return finish(store, manifest, ("graphs", "stats", "clusters", "selection"), started)


def run_statistics(arch_strs: list[str], cfg: StatsConfig, out: str, seed: int = 0, progress: bool = True) -> dict:
    """Score a list of architectures (``cbred stats``); returns the manifest."""
    cells = np.asarray([nb201.parse(s) for s in arch_strs], dtype=np.int8).reshape(-1, nb201.NUM_EDGES)
    arch_index = np.unique(nb201.indices_of(cells))
    canonical = nb201.indices_of(canonical_cells(nb201.cells_of(arch_index)))
    archs = {"count": int(len(arch_index)), "sha256": hashlib.sha256(arch_index.tobytes()).hexdigest()}
    config = {"command": "stats", "stats": cfg.model_dump(mode="json"), "seed": seed, "archs": archs}
    digest_of_config = config_hash(config)
    store = Store(out)
    manifest = store.check_owner(digest_of_config)
    load_batch(cfg.data.source, cfg.data.batch_size, seed, cfg.data.augment)
    manifest = claim(store, manifest, "stats", config, digest_of_config, seed)
    init_ray()
    Stages(store, manifest, progress).run(
        "stats", lambda: run_stats_stage(store, cfg, seed, arch_index, canonical, progress), redo=True)
    return finish(store, manifest, ("stats",))
