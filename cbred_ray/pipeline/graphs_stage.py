"""Graphs stage: a Ray Data pipeline over index shards of the space.

Each task enumerates one shard of architectures, finds each one's canonical cell
and its graph features, and writes the shard straight to the store, so the driver
only sees one summary row per shard. For NB201 the computational graph of every
distinct cell is built (networkx); for a cell space of millions only the features
the clustering needs are computed, vectorised, without building any graph.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import ray

from cbred_ray.graphs.cell_features import cell_features
from cbred_ray.graphs.records import SCHEMA, graph_records
from cbred_ray.pipeline.manifest import shard_log
from cbred_ray.pipeline.runtime import shard_progress
from cbred_ray.spaces import nb201
from cbred_ray.spaces.cell import CellSpace
from cbred_ray.spaces.canonical import canonical_cells
from cbred_ray.store import Store


def graphs_table(start: int, stop: int) -> pa.Table:
    """Graph features of architectures [start, stop): one row each."""
    cells = nb201.cell_range(start, stop)
    canon = canonical_cells(cells)
    uniq, inverse = np.unique(canon, axis=0, return_inverse=True)
    records = pa.table(graph_records(uniq), schema=SCHEMA).take(pa.array(inverse.ravel()))
    table = pa.table({
        "arch_index": pa.array(nb201.indices_of(cells), pa.int64()),
        "arch_str": pa.array([nb201.format_cell(c) for c in cells]),
        "canonical_index": pa.array(nb201.indices_of(canon), pa.int64()),
    })
    for name in records.column_names:
        table = table.append_column(records.schema.field(name), records.column(name))
    return table


def cell_graphs_table(space: CellSpace, indices: np.ndarray, feature: str) -> pa.Table:
    """Architectures ``indices`` of a cell space: their canonical index and one feature, one row each."""
    canonical = space.canonical_cells(space.cells_of(indices))
    points = cell_features(space, canonical, feature)
    return pa.table({
        "arch_index": pa.array(indices, pa.int64()),
        "canonical_index": pa.array(space.indices_of(canonical), pa.int64()),
        feature: pa.FixedSizeListArray.from_arrays(pa.array(points.ravel(), pa.float32()), points.shape[1]),
    })


def _write_graph_shards(batch: dict[str, np.ndarray], store_root: str) -> dict[str, np.ndarray]:
    """Ray Data task body (NB201): a batch of shard ranges in, one summary row per shard out."""
    store, rows = Store(store_root), []
    for shard, start, stop in zip(batch["shard"], batch["start"], batch["stop"]):
        table = graphs_table(int(start), int(stop))
        store.write_shard("graphs", int(shard), table)
        rows.append(table.num_rows)
    return {"shard": batch["shard"], "rows": np.asarray(rows, dtype=np.int64)}


def _write_cell_shards(batch: dict[str, np.ndarray], store_root: str, space: CellSpace, feature: str,
                       sample: list) -> dict[str, np.ndarray]:
    """Ray Data task body (cell space): shard ranges of the space, or of the sorted sample."""
    store, rows = Store(store_root), []
    drawn = ray.get(sample[0]) if sample else None
    for shard, start, stop in zip(batch["shard"], batch["start"], batch["stop"]):
        indices = np.arange(start, stop, dtype=np.int64) if drawn is None else drawn[start:stop]
        table = cell_graphs_table(space, indices, feature)
        store.write_shard("graphs", int(shard), table)
        rows.append(table.num_rows)
    return {"shard": batch["shard"], "rows": np.asarray(rows, dtype=np.int64)}


def _map_shards(store: Store, ranges: list[tuple[int, int]], body, fn_kwargs: dict, progress: bool) -> dict:
    """Run ``body`` over every missing shard of ``ranges`` as a Ray Data pipeline; counts and the status of
    each shard for the manifest (kept up to date as shards finish, see :func:`shard_log`)."""
    partial = store.remove_partial("graphs")
    done, broken = store.finished_shards("graphs"), store.broken_shards("graphs")
    todo = [(i, s, e) for i, (s, e) in enumerate(ranges) if i not in done]
    log = shard_log(len(ranges), done, broken)
    written = 0
    if todo:
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # one bar of our own, in shards, instead
        context.print_on_execution_start = False
        items = [{"shard": i, "start": s, "stop": e} for i, s, e in todo]
        summaries = (
            ray.data.from_items(items, override_num_blocks=len(items))
            .map_batches(body, fn_kwargs={"store_root": str(store.root), **fn_kwargs}, batch_size=1)
            .iter_rows()
        )
        with shard_progress("graphs", len(ranges), len(ranges) - len(todo), progress) as bar:
            for summary in summaries:
                written += int(summary["rows"])
                log.finished(int(summary["shard"]))
                bar.update(1)
    return {"shards_total": len(ranges), "shards_reused": len(ranges) - len(todo), "rows_written": written,
            "shards": log.record(), "partial_files_removed": partial}


def run_graphs_stage(store: Store, shard_size: int, progress: bool) -> dict:
    """Write every missing NB201 graphs shard; returns counts for the manifest."""
    return _map_shards(store, list(nb201.shard_ranges(shard_size)), _write_graph_shards, {}, progress)


def run_cell_graphs_stage(store: Store, space: CellSpace, shard_size: int, feature: str, sample: int | None,
                          seed: int, progress: bool) -> dict:
    """Write every missing graphs shard of a cell space (whole, or a seeded sample of ``sample``)."""
    drawn = space.sample(sample, seed) if sample is not None else None
    ranges = list(space.ranges(shard_size, len(drawn) if drawn is not None else None))
    kwargs = {"space": space, "feature": feature, "sample": [ray.put(drawn)] if drawn is not None else []}
    return _map_shards(store, ranges, _write_cell_shards, kwargs, progress)
