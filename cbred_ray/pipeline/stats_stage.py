"""Statistics stage: the run loop over a pool of statistics actors (one per GPU, or CPU).

The requested architectures are grouped by canonical architecture and cut into shards; the actors
(:class:`~cbred_ray.pipeline.stats_actor.StatsWorker`) score the shards not already whole in the
store, and finished shards are written as they arrive, so an interrupted run resumes where it
stopped. Precomputed statistics are read and stored by :mod:`~cbred_ray.pipeline.precomputed`.
"""
from __future__ import annotations

import warnings
from collections import Counter, deque

import numpy as np
import pandas as pd
import pyarrow as pa
import ray

from cbred_ray.log import log
from cbred_ray.pipeline.context import RunContext
from cbred_ray.pipeline.losses import LOST, RETRIES, Waiting, reason
from cbred_ray.pipeline.manifest import shard_log
from cbred_ray.pipeline.runtime import plan_actors, shard_progress
from cbred_ray.pipeline.stats_actor import StatsWorker
from cbred_ray.stats.engine import effective_settings
from cbred_ray.store import Store


def plan_shards(arch_index: np.ndarray, canonical_index: np.ndarray, shard_size: int,
                first: int = 0) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """Group requested architectures by canonical cell and cut the groups into shards numbered from ``first``.

    Architectures of one canonical cell never straddle two shards, so each cell is
    computed exactly once. The plan depends only on its inputs (sorted order).
    """
    order = np.lexsort((arch_index, canonical_index))
    arch_index, canonical_index = arch_index[order], canonical_index[order]
    _, starts = np.unique(canonical_index, return_index=True)
    bounds = list(starts[::shard_size]) + [len(arch_index)]
    return [(first + i, arch_index[a:b], canonical_index[a:b]) for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:]))]


class StatsRun:
    """The statistics actors of one stats stage, scoring one or more sets of architectures in turn.

    :meth:`score` plans a set's shards, numbering them on from the sets before it, and computes
    those whose file is not already whole in the store: a rerun that asks for the same sets in the
    same order reuses every finished shard. The actors are started at the first set and kept until
    :meth:`close`, which stops them and returns the stage's record.
    """

    def __init__(self, ctx: RunContext):
        self.store, self.space, self.cfg, self.progress = ctx.store, ctx.space, ctx.stats, ctx.progress
        self.seeds, self.resources = ctx.seeds.stats(ctx.stats.repeats), ctx.resources
        self.partial = self.store.remove_partial("stats")
        self.log = shard_log(self.store, "stats", publish=ctx.publish)
        self.actors: list = []  # placed and described, in the order they came up
        self.pending: dict = {}  # describe() call -> actor not yet placed (the cluster may have no room)
        self.node_of: dict = {}  # actor -> the node it runs on
        self.described: list[dict] = []
        self.requested, self.reused, self.computed, self.out_of_memory, self.lost = 0, 0, 0, 0, 0
        self.gpu_peak: int | None = None
        self.num_gpus: float | None = None
        self.shards_per_node: Counter = Counter()
        self.cells = np.empty(0, np.int64)  # canonical cells of the sets scored so far

    def _start(self, count: int) -> None:
        """Ask for ``count`` more actors; they join the pool as the cluster places them."""
        plan = plan_actors(self.resources)
        remote = ray.remote(num_cpus=plan.num_cpus, num_gpus=plan.num_gpus, max_restarts=0)(StatsWorker)
        self.num_gpus = plan.num_gpus
        for _ in range(count):
            actor = remote.remote(self.space, self.cfg, self.seeds, str(self.store.root), plan.num_gpus > 0,
                                  self.resources.torch_threads)
            self.pending[actor.describe.remote()] = actor

    def _grow(self, todo: int) -> None:
        """Actors up to one per shard to compute, at most the plan's number (at least one)."""
        wanted = max(1, min(plan_actors(self.resources).num_actors, todo))
        self._start(max(0, wanted - len(self.actors) - len(self.pending)))

    def _placed(self, call, idle: deque) -> None:
        actor = self.pending.pop(call)
        try:
            described = ray.get(call)
        except LOST as err:  # lost before it could start: another is asked for
            log.warning("stats: a statistics actor was lost while starting (%s); starting another", reason(err))
            self._start(1)
            return
        self.actors.append(actor)
        self.described.append(described)
        self.node_of[actor] = described["node_id"]
        idle.append(actor)

    def _lose(self, actor, shard: int, err: BaseException, tries: Counter) -> None:
        """An actor lost with its shard: both replaced; the shard's retries are bounded (:data:`RETRIES`)."""
        tries[shard] += 1
        self.lost += 1
        if actor in self.actors:
            self.actors.remove(actor)
        ray.kill(actor)
        log.warning("stats: lost the statistics actor on node %s with shard %d (%s); the shard goes to another "
                    "actor (retry %d of %d)", str(self.node_of.get(actor, "?"))[:12], shard, reason(err),
                    tries[shard], RETRIES)
        if tries[shard] > RETRIES:
            raise RuntimeError(f"stats: shard {shard} was lost {tries[shard]} times; the cluster keeps losing "
                               "its workers") from err
        self._start(1)

    def score(self, arch_index: np.ndarray, canonical_index: np.ndarray, label: str = "stats") -> None:
        """Compute (or reuse) the statistics of ``arch_index`` (with their canonical cells) into the store.

        A cell computed for an earlier set is not computed again: its row is copied, by the driver,
        to the architectures of this set equivalent to it, in a shard of their own. A shard whose actor
        is lost (its node gone, its process killed) is done again by another actor, on whatever nodes
        remain; the lost actor is replaced where the cluster has room.
        """
        arch_index, canonical_index = np.asarray(arch_index), np.asarray(canonical_index)
        self.requested += len(arch_index)
        known = np.isin(canonical_index, self.cells)
        if known.any():
            self._copy(arch_index[known], canonical_index[known])
        self.cells = np.union1d(self.cells, canonical_index)
        shards = plan_shards(arch_index[~known], canonical_index[~known], self.cfg.shard_size, first=self.log.total)
        self.log.extend(len(shards))
        todo = deque(s for s in shards if s[0] not in self.log.done)
        self.reused += len(shards) - len(todo)
        described_before = len(self.described)
        self._grow(len(todo))
        idle, running, tries = deque(self.actors), {}, Counter()
        waiting = Waiting(label, self.resources.wait_seconds)
        with shard_progress(label, len(shards), len(shards) - len(todo), self.progress) as bar:
            while todo or running:
                while todo and idle:
                    actor, shard = idle.popleft(), todo.popleft()
                    running[actor.score_shard.remote(*shard)] = (actor, shard)
                if not running and not self.pending:
                    self._start(1)
                ready, _ = ray.wait([*running, *self.pending], num_returns=1, timeout=1.0)
                if not ready:
                    if not running:
                        waiting.tick()
                    continue
                waiting.over()
                call = ready[0]
                if call in self.pending:
                    self._placed(call, idle)
                    continue
                actor, shard = running.pop(call)
                try:
                    summary = ray.get(call)
                except LOST as err:
                    self._lose(actor, shard[0], err, tries)
                    todo.appendleft(shard)
                    continue
                idle.append(actor)
                self.computed += summary["computed"]
                self.out_of_memory += summary["out_of_memory"]
                self.log.finished(summary["shard"])
                self.shards_per_node[summary["node_id"]] += 1
                if summary["gpu_peak_bytes"] is not None:
                    self.gpu_peak = max(self.gpu_peak or 0, summary["gpu_peak_bytes"])
                bar.update(1)
        started = self.described[described_before:]
        fallbacks = [d["warning"] for d in started if d["warning"]]
        for warning in dict.fromkeys(fallbacks):
            warnings.warn(f"{fallbacks.count(warning)} of {len(started)} statistics actors were {warning}",
                          RuntimeWarning, stacklevel=2)

    def _copy(self, arch_index: np.ndarray, canonical_index: np.ndarray) -> None:
        """Write, as the next shard, rows for ``arch_index`` copied from the stored row of an
        equivalent architecture (one whose statistics an earlier set computed)."""
        shard = self.log.total
        self.log.extend(1)
        if shard in self.log.done:
            self.reused += 1
            return
        stored = self.store.read("stats")
        cells = stored.column("canonical_index").to_numpy()
        order = np.argsort(cells, kind="stable")
        rows = stored.take(pa.array(order[np.searchsorted(cells[order], canonical_index)]))
        names = rows.column_names
        rows = rows.set_column(names.index("arch_index"), "arch_index", pa.array(arch_index, pa.int64()))
        column = self.space.id_column
        rows = rows.set_column(names.index(column), column, pa.array(self.space.format_ids(arch_index), pa.string()))
        self.store.write_shard("stats", shard, rows.sort_by("arch_index"))
        self.log.finished(shard)

    def close(self) -> dict:
        """Stop the actors; the stage's counts, the status of each shard and where the actors ran."""
        for actor in [*self.actors, *self.pending.values()]:
            ray.kill(actor)
        devices = sorted({d["device"] for d in self.described})
        fallbacks = [d["warning"] for d in self.described if d["warning"]]
        notes = [f"{fallbacks.count(w)} of {len(self.actors)} statistics actors were {w}"
                 for w in dict.fromkeys(fallbacks)]
        return {
            "shards_total": self.log.total, "shards_reused": self.reused,
            "shards_broken_redone": len(self.log.broken & set(range(self.log.total))),
            "shards": self.log.record(), "partial_files_removed": self.partial,
            "cells_computed": self.computed, "cells_out_of_memory": self.out_of_memory, "actors_lost": self.lost,
            "archs_requested": self.requested, "actors": len(self.actors),
            "num_gpus_per_actor": self.num_gpus,
            "device": devices[0] if len(devices) == 1 else "mixed" if devices else None,
            "batch": self.described[0]["batch"] if self.described else None,
            "gpu_peak_bytes_per_actor": self.gpu_peak,
            "placement": [{"node_id": d["node_id"], "gpu_ids": d["gpu_ids"], "device": d["device"]}
                          for d in self.described],
            "shards_per_node": dict(self.shards_per_node), "warnings": notes,
            "statistics": effective_settings(self.cfg.names, self.cfg.options),
        }


def run_stats_stage(ctx: RunContext, arch_index: np.ndarray, canonical_index: np.ndarray) -> dict:
    """Score the requested architectures; returns counts, the status of each shard (kept up to date in
    the manifest as shards finish, see :func:`shard_log`) and the batch description."""
    run = StatsRun(ctx)
    try:
        run.score(arch_index, canonical_index)
    finally:
        record = run.close()
    return record


def read_stats(store: Store, arch_index: np.ndarray, names: tuple[str, ...]) -> pd.DataFrame:
    """The stored statistics ``names`` of ``arch_index`` (indexed by arch_index, in that order)."""
    stats = store.read("stats", columns=["arch_index", *names]).to_pandas().set_index("arch_index")
    return stats.loc[arch_index]
