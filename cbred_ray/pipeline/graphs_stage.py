"""Graphs stage: a Ray Data pipeline over index shards of the space.

Each task enumerates one shard of architectures, builds the computational graph
of each one's canonical cell (once per distinct cell) and writes the shard's
features straight to the store, so the driver only sees one summary row per
shard.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import ray

from cbred_ray.graphs.records import SCHEMA, graph_records
from cbred_ray.pipeline.runtime import shard_progress
from cbred_ray.spaces import nb201
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


def _write_graph_shards(batch: dict[str, np.ndarray], store_root: str) -> dict[str, np.ndarray]:
    """Ray Data task body: a batch of shard ranges in, one summary row per shard out."""
    store, rows = Store(store_root), []
    for shard, start, stop in zip(batch["shard"], batch["start"], batch["stop"]):
        table = graphs_table(int(start), int(stop))
        store.write_shard("graphs", int(shard), table)
        rows.append(table.num_rows)
    return {"shard": batch["shard"], "rows": np.asarray(rows, dtype=np.int64)}


def run_graphs_stage(store: Store, shard_size: int, progress: bool) -> dict:
    """Write every missing graphs shard; returns counts for the manifest."""
    ranges = list(nb201.shard_ranges(shard_size))
    done = store.finished_shards("graphs")
    todo = [(i, s, e) for i, (s, e) in enumerate(ranges) if i not in done]
    written = 0
    if todo:
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # one bar of our own, in shards, instead
        context.print_on_execution_start = False
        items = [{"shard": i, "start": s, "stop": e} for i, s, e in todo]
        summaries = (
            ray.data.from_items(items, override_num_blocks=len(items))
            .map_batches(_write_graph_shards, fn_kwargs={"store_root": str(store.root)}, batch_size=1)
            .iter_rows()
        )
        with shard_progress("graphs", len(ranges), len(ranges) - len(todo), progress) as bar:
            for summary in summaries:
                written += int(summary["rows"])
                bar.update(1)
    return {"shards_total": len(ranges), "shards_reused": len(ranges) - len(todo), "rows_written": written}
