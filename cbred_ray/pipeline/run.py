"""The driver: runs the stages of a reduction in order over one store, for any space.

graphs (Ray Data; the costs of every network) -> clusters (the hardware budget, then the clustering, on
the driver or over holder actors for spaces of millions) -> stats (Ray actors; every architecture, a
seeded sample per cluster in quick mode, or round by round under successive halving, which also makes the
choice) -> selection (the reduced space: the selection, and the region of a run on a sample of its space).
Every stage is given the run's one :class:`~cbred_ray.pipeline.context.RunContext`, whose seeds all come
from the run's seed (:mod:`cbred_ray.seeds`). Each stage reads what the stage before it wrote to the store;
a stage already finished by the same config is skipped, and the shard stages skip finished shards. The
driver talks to the space only through :class:`~cbred_ray.spaces.base.Space`.
"""
from __future__ import annotations

import hashlib
import time

import numpy as np

from cbred_ray.cluster.space import Clustering, check_points, distinct_points
from cbred_ray.config import ResourcesConfig, RunConfig, StatsConfig, config_hash
from cbred_ray.log import log
from cbred_ray.pipeline.cluster_stage import run_cluster_stage
from cbred_ray.pipeline.context import RunContext
from cbred_ray.pipeline.graphs_stage import GRAPH_KEY, run_graphs_stage
from cbred_ray.pipeline.halving_stage import run_halving_stage
from cbred_ray.pipeline.manifest import Stages, claim, finish, held, session
from cbred_ray.pipeline.precomputed import check_precomputed, read_precomputed, write_precomputed
from cbred_ray.pipeline.runtime import ray_session, ship_space
from cbred_ray.pipeline.select_stage import clusters_to_select_from, run_select_stage
from cbred_ray.pipeline.stats_stage import run_stats_stage
from cbred_ray.seeds import RunSeeds
from cbred_ray.select.constraints import arch_costs, within_budget
from cbred_ray.select.halving import halving_budget
from cbred_ray.select.scoring import sample_members
from cbred_ray.spaces.base import Space, distinct_sorted
from cbred_ray.spaces.cell import nb201
from cbred_ray.stats.data import load_batch
from cbred_ray.stats.engine import effective_settings, validate_inputs
from cbred_ray.store import RUN_STAGES, Store
from cbred_ray.store.lock import StoreLock

COST_CHECK_MAX = 2_000_000
"""A hardware budget is checked against every architecture before the run when the space has at most
this many (larger spaces are checked on a seeded sample of this size)."""


def _architectures(config: RunConfig, space: Space) -> np.ndarray | None:
    """The sorted indices of a sampled run, or None for the whole space."""
    sample = config.space.sample
    return space.sample(sample, RunSeeds(config.seed).of("sample")) if sample is not None else None


def _preflight(config: RunConfig, space: Space, drawn: np.ndarray | None):
    """Everything a run reads from outside or can be refused for (the batch or the precomputed
    statistics, the hardware budget, the clustering's K, the halving budget), checked before the
    store is touched; the precomputed statistics."""
    budget = config.select.constraints
    runs = len(drawn) if drawn is not None else space.size
    checked = drawn if drawn is not None else (
        np.arange(space.size) if space.size <= COST_CHECK_MAX
        else space.sample(COST_CHECK_MAX, RunSeeds(config.seed).of("cost_check")))
    whole = len(checked) == runs  # every architecture of the run is checked, not a sample
    eligible, clustered = runs, checked
    if budget.max_params is not None or budget.max_macs is not None:
        inside = within_budget(arch_costs(space, checked, config.stats.num_classes), budget.max_params,
                               budget.max_macs)
        eligible = int(inside.sum() * (runs / len(checked)))
        if budget.apply == "before":
            clustered = checked[inside]
    clustering = Clustering.of(config.cluster)
    if whole and config.cluster.engine_for(runs) == "driver" and not space.traced_features:  # the driver's points
        canonical = distinct_sorted(space.canonical_indices(clustered))
        cells = space.edit_rows(canonical) if clustering.distance == "edit" else canonical[:, None]
        check_points(distinct_points(space.features(canonical, config.cluster.features), cells, clustering),
                     clustering)
    else:
        check_points(len(clustered) if whole else runs, clustering, whole=False)
    if config.select.halving.enabled:  # enough for K clusters, whichever K is chosen
        halving_budget(config.select.halving.budget, eligible, max(config.cluster.ks))
    if config.stats.precomputed:
        precomputed = read_precomputed(space, config.stats)
        check_precomputed(space, precomputed, drawn if drawn is not None else np.arange(space.size),
                          config.stats.precomputed)
        return precomputed
    check_batch(config.stats, RunSeeds(config.seed).stats(1)[0])
    return None


def check_batch(cfg: StatsConfig, seed: int) -> None:
    """BadInput, before anything is written, when the batch source is unusable or cannot feed the
    statistics asked for (labels they need, labels beyond the network's classes); a progress message (not a
    warning: a small batch is a legitimate choice, and the manifest records what each statistic read) for each
    statistic that will read fewer images than its published setup."""
    batch, labels, _ = load_batch(cfg.data.source, cfg.data.batch_size, seed, cfg.data.augment)
    validate_inputs(cfg.names, batch, labels, cfg.num_classes)
    for name, setting in effective_settings(cfg.names, cfg.options).items():
        if setting["images"] is not None and setting["images"] > len(batch):
            log.info(f"{name} reads {setting['images']} images but the batch holds {len(batch)}: it will read "
                        f"{len(batch)} (set stats.data.batch_size to {setting['images']} for its published setup)")


def unique_cells(store: Store) -> int:
    """Distinct canonical architectures among those of the run (one column read, sorted once): distinct
    deduplication keys, for a space that has them."""
    key = GRAPH_KEY if GRAPH_KEY in store.columns("graphs") else "canonical_index"
    return int(len(distinct_sorted(store.read("graphs", columns=[key]).column(key).to_numpy())))


def run_reduction(config: RunConfig, out: str, progress: bool = True, overrides: tuple[str, ...] = (),
                  space: Space | None = None) -> dict:
    """Run a whole reduction into the store ``out`` (``overrides``: the ``--set`` options that made
    ``config``, recorded; ``space``: the space object, when the caller holds it, else the config's);
    returns the manifest. Every check runs before anything is written; the store is then held by this
    driver alone until the run ends (:class:`StoreLock`). A Ray this call started is shut down at the end."""
    space = space or config.space.space()
    store = Store(out)
    StoreLock(out).check()
    store.check_owner(config.hash())
    drawn = _architectures(config, space)
    precomputed = _preflight(config, space, drawn)
    with StoreLock(out) as lock:
        manifest = store.check_owner(config.hash())  # again, now that no other driver can write
        manifest = claim(store, manifest, "run", config.identity(), config.hash(), config.seed,
                         session(config.resources, overrides))
        with held(store, manifest, lock), ray_session():
            ship_space(space)
            return _run_stages(RunContext.of_run(config, store, space, progress, drawn, precomputed), manifest)


def _run_stages(ctx: RunContext, manifest: dict) -> dict:
    """The stages of :func:`run_reduction`, in order, on a claimed store with Ray up: where they meet."""
    started = time.perf_counter()
    manifest["seeds"] = ctx.seeds.record()
    stages = Stages(ctx, manifest)
    stages.run("graphs", run_graphs_stage)
    stages.run("clusters", run_cluster_stage)
    stages.run("stats", _statistics)
    stages.run("selection", run_select_stage)
    store = ctx.store
    manifest["space"] = {**ctx.space.describe(), "architectures": store.count_rows("graphs"),
                         "unique_cells": unique_cells(store)}
    return finish(store, manifest, RUN_STAGES, started)


def _statistics(ctx: RunContext) -> dict:
    """The stats stage: successive halving (which also chooses), or the members the selection scores (every
    architecture within budget, or quick mode's seeded sample per cluster), computed or precomputed."""
    config = ctx.config
    clusters = clusters_to_select_from(ctx.store)
    if config.select.halving.enabled:
        return run_halving_stage(ctx, clusters)
    if config.select.quick.enabled:
        requested = sample_members(clusters["cluster"], config.select.quick.sample_per_cluster, ctx.seeds.of("quick"))
    else:
        requested = clusters.index.to_numpy()
    if ctx.precomputed is not None:
        return write_precomputed(ctx.store, ctx.space, ctx.precomputed, np.sort(requested), config.stats.precomputed)
    return run_stats_stage(ctx, requested, clusters.loc[requested, "canonical_index"].to_numpy())


def run_statistics(arch_strs: list[str], cfg: StatsConfig, out: str, seed: int = 0, progress: bool = True,
                   space: Space = nb201.SPACE, resources: ResourcesConfig | None = None,
                   overrides: tuple[str, ...] = ()) -> dict:
    """Score a list of architectures given by their identifiers (``cbred stats``); returns the manifest."""
    resources = resources or ResourcesConfig()
    arch_index = np.unique(space.parse_ids(arch_strs))
    canonical = space.canonical_indices(arch_index)
    archs = {"count": int(len(arch_index)), "sha256": hashlib.sha256(arch_index.tobytes()).hexdigest()}
    config = {"command": "stats", "stats": cfg.model_dump(mode="json"), "seed": seed, "archs": archs,
              "space": space.describe()}
    digest_of_config = config_hash(config)
    store = Store(out)
    StoreLock(out).check()
    store.check_owner(digest_of_config)
    seeds = RunSeeds(seed)
    check_batch(cfg, seeds.stats(1)[0])
    with StoreLock(out) as lock:
        manifest = store.check_owner(digest_of_config)
        manifest = claim(store, manifest, "stats", config, digest_of_config, seed, session(resources, overrides))
        manifest["seeds"] = seeds.record()
        with held(store, manifest, lock), ray_session():
            ship_space(space)
            ctx = RunContext(store, space, cfg, seeds, resources, progress)
            Stages(ctx, manifest).run("stats", lambda c: run_stats_stage(c, arch_index, canonical), redo=True)
            return finish(store, manifest, ("stats",))
