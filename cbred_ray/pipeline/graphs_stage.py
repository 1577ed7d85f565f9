"""Graphs stage: a Ray Data pipeline over index shards of the space.

Each task enumerates one shard of architectures (an index range of the space, or of its seeded
sample), finds each one's canonical index and the clustering feature of its computational graph
(:meth:`~cbred_ray.spaces.base.Space.features`, computed once per distinct canonical index and
without building a graph), and writes the shard straight to the store, so the driver only sees
one summary row per shard. The same code serves NB201, N-node cell spaces of millions and NB101. A task
lost with its node is run again by Ray Data elsewhere (at most :data:`~cbred_ray.pipeline.losses.RETRIES`
times); its shard is written whole either way. Each lost node is named in the log, and a cluster left with
no CPU for a task is waited for, with a message, for ``resources.wait_seconds``
(:class:`~cbred_ray.pipeline.losses.Watched`).
"""
from __future__ import annotations

import warnings

import numpy as np
import pyarrow as pa
import ray

from cbred_ray.pipeline.context import RunContext
from cbred_ray.pipeline.losses import RETRIES, Watched
from cbred_ray.pipeline.manifest import shard_log
from cbred_ray.pipeline.runtime import shard_progress
from cbred_ray.spaces.base import Space
from cbred_ray.store import Store

GRAPH_KEY = "graph_key"
"""The graphs column holding a space's deduplication key (:meth:`~cbred_ray.spaces.base.Space.graph_keys`)."""


def graphs_table(space: Space, indices: np.ndarray, feature: str, num_classes: int = 10) -> pa.Table:
    """Architectures ``indices``: their canonical index, clustering feature (float64) and the costs of their
    network (``arch_params``, ``arch_macs``: what a hardware budget reads), one row each; for a space that
    deduplicates by a key, also that key."""
    indices = np.asarray(indices, dtype=np.int64)
    canonical = space.canonical_indices(indices)
    distinct, inverse = np.unique(canonical, return_inverse=True)
    points = space.features(distinct, feature)[inverse.ravel()]
    columns = {
        "arch_index": pa.array(indices, pa.int64()),
        "canonical_index": pa.array(canonical, pa.int64()),
        feature: pa.FixedSizeListArray.from_arrays(pa.array(points.ravel(), pa.float64()), points.shape[1]),
    }
    keys = space.graph_keys(distinct)
    if keys is not None:  # the space deduplicates by a key: the cluster stage picks each key's representative
        columns[GRAPH_KEY] = pa.array(np.asarray(keys)[inverse.ravel()], pa.int64())
    params, macs = space.costs(indices, num_classes)
    columns["arch_params"], columns["arch_macs"] = pa.array(params, pa.float64()), pa.array(macs, pa.float64())
    return pa.table(columns)


def key_firsts(arch_index: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the distinct keys, sorted; the smallest architecture index holding each). Merging these pairs from
    several parts of a run and taking this again gives the run's own: how the distributed engine finds them."""
    order = np.lexsort((arch_index, keys))
    sorted_keys = keys[order]
    starts = np.concatenate([[True], sorted_keys[1:] != sorted_keys[:-1]]) if len(order) else np.zeros(0, bool)
    return sorted_keys[starts], arch_index[order][starts]


def representatives(arch_index: np.ndarray, keys: np.ndarray, firsts: tuple[np.ndarray, np.ndarray] | None = None
                    ) -> np.ndarray:
    """For each architecture, the smallest index among the architectures sharing its key (over ``firsts``,
    :func:`key_firsts` of the whole run; by default of these architectures): the one the statistics are
    computed on."""
    distinct, first = firsts if firsts is not None else key_firsts(arch_index, keys)
    return first[np.searchsorted(distinct, keys)]


def _write_shards(batch: dict[str, np.ndarray], store_root: str, space: Space, feature: str, num_classes: int,
                  sample: list) -> dict[str, np.ndarray]:
    """Ray Data task body: shard ranges of the space, or of the sorted sample, in; one summary row per shard out.
    An error of the store's volume (a full disk, no permission) is part of the summary, for the driver to
    raise as it is: Ray Data would pass it on only as text."""
    store, rows, failures = Store(store_root), [], []
    drawn = ray.get(sample[0]) if sample else None
    for shard, start, stop in zip(batch["shard"], batch["start"], batch["stop"]):
        indices = np.arange(start, stop, dtype=np.int64) if drawn is None else drawn[start:stop]
        table = graphs_table(space, indices, feature, num_classes)
        try:
            rows.append(store.write_shard("graphs", int(shard), table)["rows"])
            failures.append((0, "", ""))
        except OSError as err:
            rows.append(0)
            failures.append((err.errno or 0, err.strerror or str(err), str(err.filename or "")))
    errnos, strerrors, filenames = zip(*failures)
    return {"shard": batch["shard"], "rows": np.asarray(rows, dtype=np.int64), "errno": np.asarray(errnos, np.int64),
            "strerror": np.asarray(strerrors, object), "filename": np.asarray(filenames, object)}


def run_graphs_stage(ctx: RunContext) -> dict:
    """Write every missing graphs shard of the run's space (whole, or its sorted sample ``ctx.drawn``); counts
    and the status of each shard for the manifest (kept up to date as shards finish, see :func:`shard_log`).
    A cluster with no CPU left is waited for ``resources.wait_seconds``."""
    store, space, drawn, progress = ctx.store, ctx.space, ctx.drawn, ctx.progress
    feature, num_classes = ctx.config.cluster.features, ctx.stats.num_classes
    ranges = list(space.ranges(ctx.config.graphs.shard_size, len(drawn) if drawn is not None else None))
    partial = store.remove_partial("graphs")
    log = shard_log(store, "graphs", len(ranges), ctx.publish)
    todo = [(i, s, e) for i, (s, e) in enumerate(ranges) if i not in log.done]
    written, nodes_lost = 0, 0
    if todo:
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # one bar of our own, in shards, instead
        context.print_on_execution_start = False
        items = [{"shard": i, "start": s, "stop": e} for i, s, e in todo]
        kwargs = {"store_root": str(store.root), "space": space, "feature": feature, "num_classes": num_classes,
                  "sample": [ray.put(drawn)] if drawn is not None else []}
        with warnings.catch_warnings():  # max_retries has no named parameter yet; Ray says so for every run
            warnings.filterwarnings("ignore", message=".*ray_remote_args.*", category=DeprecationWarning)
            summaries = (
                ray.data.from_items(items, override_num_blocks=len(items))
                .map_batches(_write_shards, fn_kwargs=kwargs, batch_size=1, max_retries=RETRIES)
                .iter_rows()
            )
        stream = Watched(summaries, "graphs", ctx.resources.wait_seconds)
        with shard_progress("graphs", len(ranges), len(ranges) - len(todo), progress) as bar:
            for summary in stream:
                if summary["errno"]:
                    raise OSError(int(summary["errno"]), summary["strerror"], summary["filename"] or None)
                written += int(summary["rows"])
                log.finished(int(summary["shard"]))
                bar.update(1)
        nodes_lost = stream.nodes_lost
    return {"shards_total": len(ranges), "shards_reused": len(ranges) - len(todo), "rows_written": written,
            "nodes_lost": nodes_lost, "shards": log.record(), "partial_files_removed": partial}
