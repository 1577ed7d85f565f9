"""Statistics stage: a pool of stateful Ray actors, one per GPU (or CPU).

Each actor builds its input batch once and then scores shards of architectures:
one computation per canonical cell, fanned out to every requested architecture
equivalent to it. Finished shards are written to the store as they arrive, so an
interrupted run resumes where it stopped.
"""
from __future__ import annotations

import hashlib
import time
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import ray
from ray.util import ActorPool

from cbred_ray.config import StatsConfig
from cbred_ray.errors import BadInput
from cbred_ray.pipeline.manifest import shard_log
from cbred_ray.pipeline.runtime import plan_actors, shard_progress
from cbred_ray.spaces.base import Space
from cbred_ray.stats.data import load_batch
from cbred_ray.stats.engine import OOM_NOTE, compute_stats, effective_settings, summarise_repeats
from cbred_ray.stats.networks import networks_of
from cbred_ray.store import Store

ACTOR_RESTARTS = 3
"""A statistics actor that dies (a lost node, a killed process) is restarted this many times and
its shard retried; shards are written whole and their content depends only on the shard, so a
retried shard is never counted twice."""


def stats_table(
    space: Space, arch_index: np.ndarray, canonical_index: np.ndarray, results: dict[int, dict],
    names: tuple[str, ...], with_spread: bool,
) -> pa.Table:
    """Rows for the requested architectures from the (mean, spread, reason) of their canonical cells."""
    rows = [results[int(c)] for c in canonical_index]
    columns: dict[str, pa.Array] = {
        "arch_index": pa.array(arch_index, pa.int64()),
        space.id_column: pa.array(space.format_ids(arch_index), pa.string()),
        "canonical_index": pa.array(canonical_index, pa.int64()),
    }
    for name in names:
        columns[name] = pa.array([row[name][0] for row in rows], pa.float64())
        if with_spread:
            columns[f"{name}_std"] = pa.array([row[name][1] for row in rows], pa.float64())
    reasons = [[f"{n}: {row[n][2]}" for n in names if row[n][2]] for row in rows]
    columns["error"] = pa.array(["; ".join(r) or None for r in reasons], pa.string())
    return pa.table(columns)


class StatsWorker:
    """Holds the input batches (one per repeat) and scores shards of architectures with them.

    Repeat ``r`` uses seed ``seed + r`` for both the network's initialisation and the batch.
    An actor assigned a GPU that torch cannot see (a CPU build of torch, no driver) computes on
    the CPU and says so in ``describe()``, with the node and GPU ids Ray gave it.
    """

    def __init__(self, space: Space, cfg: StatsConfig, seed: int, store_root: str, use_gpu: bool):
        import torch

        torch.set_num_threads(cfg.torch_threads)
        self.space, self.cfg, self.seed, self.store = space, cfg, seed, Store(store_root)
        context = ray.get_runtime_context()
        self.node_id, self.gpu_ids = context.get_node_id(), list(ray.get_gpu_ids())
        self.warning = None
        if use_gpu and not torch.cuda.is_available():
            # a node that advertises GPUs to Ray but whose torch sees none (a CPU build, no driver)
            self.warning = (f"assigned a GPU by Ray, but torch {torch.__version__} where they run sees no CUDA device "
                            "(torch.cuda.is_available() is False): computing on the CPU instead")
            use_gpu = False
        self.device = "cuda" if use_gpu else "cpu"  # Ray pins the actor's GPU via CUDA_VISIBLE_DEVICES
        self.batches, self.batch_descriptions = [], []
        for repeat in range(cfg.repeats):
            batch, description = load_batch(cfg.data.source, cfg.data.batch_size, seed + repeat, cfg.data.augment)
            self.batches.append(batch.to(self.device))
            self.batch_descriptions.append(description)

    def describe(self) -> dict:
        batch = self.batch_descriptions[0] if self.cfg.repeats == 1 else self.batch_descriptions
        return {"device": self.device, "batch": batch, "node_id": self.node_id, "gpu_ids": self.gpu_ids,
                "warning": self.warning}

    def score_shard(self, shard: int, arch_index: np.ndarray, canonical_index: np.ndarray) -> dict:
        started = time.perf_counter()
        results = {}
        for canon in np.unique(canonical_index):
            networks = networks_of(self.space, int(canon), self.cfg.width)
            runs = [
                compute_stats(networks, self.cfg.names, batch, self.seed + repeat, num_classes=self.cfg.num_classes,
                              device=self.device, options=self.cfg.options)
                for repeat, batch in enumerate(self.batches)
            ]
            results[int(canon)] = summarise_repeats(runs, self.cfg.names)
        table = stats_table(self.space, arch_index, canonical_index, results, self.cfg.names, self.cfg.repeats > 1)
        self.store.write_shard("stats", shard, table)
        short = sum(any(reason and OOM_NOTE in reason for _, _, reason in summary.values())
                    for summary in results.values())  # cells with a statistic that ran out of memory
        return {"shard": shard, "rows": table.num_rows, "computed": len(results), "out_of_memory": short,
                "seconds": time.perf_counter() - started, "gpu_peak_bytes": self._gpu_peak_bytes(),
                "node_id": self.node_id}

    def _gpu_peak_bytes(self) -> int | None:
        """The most GPU memory this actor's tensors have held so far (None on CPU)."""
        import torch

        return int(torch.cuda.max_memory_allocated()) if self.device == "cuda" else None


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

    def __init__(self, store: Store, space: Space, cfg: StatsConfig, seed: int, progress: bool):
        self.store, self.space, self.cfg, self.seed, self.progress = store, space, cfg, seed, progress
        self.partial = store.remove_partial("stats")
        self.done, self.broken = store.finished_shards("stats"), store.broken_shards("stats")
        self.log = shard_log(0, (), self.broken)
        self.actors: list = []
        self.described: list[dict] = []
        self.requested, self.reused, self.computed, self.out_of_memory = 0, 0, 0, 0
        self.gpu_peak: int | None = None
        self.num_gpus: float | None = None
        self.shards_per_node: Counter = Counter()
        self.cells = np.empty(0, np.int64)  # canonical cells of the sets scored so far

    def _grow(self, todo: int) -> None:
        """Start actors up to one per shard to compute, at most the plan's number (at least one)."""
        plan = plan_actors(self.cfg)
        wanted = max(1, min(plan.num_actors, todo))
        if wanted <= len(self.actors):
            return
        remote = ray.remote(num_cpus=plan.num_cpus, num_gpus=plan.num_gpus, max_restarts=ACTOR_RESTARTS,
                            max_task_retries=ACTOR_RESTARTS)(StatsWorker)
        self.num_gpus = plan.num_gpus
        started = [remote.remote(self.space, self.cfg, self.seed, str(self.store.root), plan.num_gpus > 0)
                   for _ in range(wanted - len(self.actors))]
        described = ray.get([actor.describe.remote() for actor in started])
        self.actors += started
        self.described += described
        fallbacks = [d["warning"] for d in described if d["warning"]]
        for warning in dict.fromkeys(fallbacks):
            warnings.warn(f"{fallbacks.count(warning)} of {len(started)} statistics actors were {warning}",
                          RuntimeWarning, stacklevel=3)

    def score(self, arch_index: np.ndarray, canonical_index: np.ndarray, label: str = "stats") -> None:
        """Compute (or reuse) the statistics of ``arch_index`` (with their canonical cells) into the store.

        A cell computed for an earlier set is not computed again: its row is copied, by the driver,
        to the architectures of this set equivalent to it, in a shard of their own.
        """
        arch_index, canonical_index = np.asarray(arch_index), np.asarray(canonical_index)
        self.requested += len(arch_index)
        known = np.isin(canonical_index, self.cells)
        if known.any():
            self._copy(arch_index[known], canonical_index[known])
        self.cells = np.union1d(self.cells, canonical_index)
        shards = plan_shards(arch_index[~known], canonical_index[~known], self.cfg.shard_size, first=self.log.total)
        self.log.extend(len(shards), self.done)
        todo = [s for s in shards if s[0] not in self.done]
        self.reused += len(shards) - len(todo)
        self._grow(len(todo))
        with shard_progress(label, len(shards), len(shards) - len(todo), self.progress) as bar:
            pool = ActorPool(self.actors)
            for summary in pool.map_unordered(lambda a, s: a.score_shard.remote(*s), todo):
                self.computed += summary["computed"]
                self.out_of_memory += summary["out_of_memory"]
                self.log.finished(summary["shard"])
                self.shards_per_node[summary["node_id"]] += 1
                if summary["gpu_peak_bytes"] is not None:
                    self.gpu_peak = max(self.gpu_peak or 0, summary["gpu_peak_bytes"])
                bar.update(1)

    def _copy(self, arch_index: np.ndarray, canonical_index: np.ndarray) -> None:
        """Write, as the next shard, rows for ``arch_index`` copied from the stored row of an
        equivalent architecture (one whose statistics an earlier set computed)."""
        shard = self.log.total
        self.log.extend(1, self.done)
        if shard in self.done:
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
        for actor in self.actors:
            ray.kill(actor)
        devices = sorted({d["device"] for d in self.described})
        fallbacks = [d["warning"] for d in self.described if d["warning"]]
        notes = [f"{fallbacks.count(w)} of {len(self.actors)} statistics actors were {w}"
                 for w in dict.fromkeys(fallbacks)]
        return {
            "shards_total": self.log.total, "shards_reused": self.reused,
            "shards_broken_redone": len(self.broken & set(range(self.log.total))),
            "shards": self.log.record(), "partial_files_removed": self.partial,
            "cells_computed": self.computed, "cells_out_of_memory": self.out_of_memory,
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


def run_stats_stage(
    store: Store, space: Space, cfg: StatsConfig, seed: int, arch_index: np.ndarray, canonical_index: np.ndarray,
    progress: bool,
) -> dict:
    """Score the requested architectures; returns counts, the status of each shard (kept up to date in
    the manifest as shards finish, see :func:`shard_log`) and the batch description."""
    run = StatsRun(store, space, cfg, seed, progress)
    try:
        run.score(arch_index, canonical_index)
    finally:
        record = run.close()
    return record


def read_stats(store: Store, arch_index: np.ndarray, names: tuple[str, ...]) -> pd.DataFrame:
    """The stored statistics ``names`` of ``arch_index`` (indexed by arch_index, in that order)."""
    stats = store.read("stats", columns=["arch_index", *names]).to_pandas().set_index("arch_index")
    return stats.loc[arch_index]


def read_precomputed(space: Space, cfg: StatsConfig) -> pa.Table:
    """The statistics of ``cfg.precomputed`` (a ``cbred export --stage stats`` file), checked:
    a column of the space's identifiers (``Space.id_column``), one row each, and a column per statistic."""
    import pyarrow.parquet as pq

    path, key = cfg.precomputed, space.id_column
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as err:
        raise BadInput(f"stats.precomputed {path!r} is not a readable Parquet file: {str(err).splitlines()[0]}") from None
    missing = [c for c in (key, *cfg.names) if c not in table.column_names]
    if missing:
        raise BadInput(f"stats.precomputed {path!r} has no {missing[0]!r} column")
    ids = [str(a) for a in table.column(key).to_pylist()]
    arch_index = space.parse_ids(ids)
    if len(np.unique(arch_index)) != len(arch_index):
        raise BadInput(f"stats.precomputed {path!r} lists an architecture twice")
    columns = {"arch_index": pa.array(arch_index, pa.int64()), key: pa.array(ids, pa.string()),
               "canonical_index": pa.array(space.canonical_indices(arch_index), pa.int64())}
    for name in cfg.names:
        columns[name] = table.column(name).cast(pa.float64())
    columns["error"] = table.column("error").cast(pa.string()) if "error" in table.column_names else \
        pa.nulls(table.num_rows, pa.string())
    return pa.table(columns).sort_by("arch_index")


def _positions(space: Space, precomputed: pa.Table, arch_index: np.ndarray, source: str) -> np.ndarray:
    """Rows of ``precomputed`` holding ``arch_index``; BadInput naming the first one it lacks."""
    have = precomputed.column("arch_index").to_numpy()
    position = np.searchsorted(have, arch_index)
    found = (position < len(have)) & (have[np.minimum(position, len(have) - 1)] == arch_index)
    if not found.all():
        lacking = arch_index[~found]
        raise BadInput(f"stats.precomputed {source!r} lacks {len(lacking)} architectures of the space "
                       f"(first: {space.format_ids(lacking[:1])[0]!r})")
    return position


def check_precomputed(space: Space, precomputed: pa.Table, arch_index: np.ndarray, source: str) -> None:
    """Refuse, before anything is written, precomputed statistics that miss part of the space."""
    _positions(space, precomputed, np.asarray(arch_index), source)


def write_precomputed(store: Store, space: Space, precomputed: pa.Table, arch_index: np.ndarray,
                      source: str) -> dict:
    """Store the precomputed statistics of the requested architectures as the stats stage."""
    position = _positions(space, precomputed, np.asarray(arch_index), source)
    store.write_shard("stats", 0, precomputed.take(pa.array(np.sort(position))))
    digest = hashlib.sha256(Path(source).read_bytes()).hexdigest()
    return {"precomputed": source, "precomputed_sha256": digest, "archs_requested": int(len(arch_index)),
            "shards_total": 1, "cells_computed": 0}
