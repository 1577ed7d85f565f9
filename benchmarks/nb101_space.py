"""Enumerate the whole NAS-Bench-101 space with Ray (one task per chunk) and check it against the benchmark's table.

    python benchmarks/nb101_space.py --workers 2 --out benchmarks/results/nb101_space.json

The space is made as the official ``generate_graphs.py`` makes it (see
:mod:`cbred_ray.spaces.nb101`): every full DAG of 2 to 7 vertices and at most 9 edges,
every labelling, deduplicated by module hash. Ray runs one task per chunk on ``workers``
CPUs; the driver merges the results as they come back (in whatever order they finish).
The result must be exactly the table's 423,624 hashes, and every cell's code must decode
to the table's adjacency matrix and operations (only the ``hash``, ``num_vertices``,
``module_adjacency`` and ``module_operations`` columns are read; never the accuracy).
Reported: seconds to start Ray, to enumerate and to merge; labelled graphs gone through;
graphs hashed (MD5: only the first graph of each isomorphism class by default, every one
with ``--exhaustive``, as the official script does); cells per vertex count; whether all of
it matches. With ``--serial`` the same chunks also run one after another in the driver,
timed, and must give the same arrays. Exits 1 when anything does not match (after writing
the result).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from provenance import provenance

from cbred_ray.spaces.nb101 import encoding as nb101
from cbred_ray.spaces.nb101 import read_cells, write_cells

REPO = Path(__file__).resolve().parents[1]
TABLE = "../shared/nb101/nb101_test_accuracy.parquet"
README_CELLS = {2: 1, 3: 6, 4: 84, 5: 2_441, 6: 62_010, 7: 359_082}  # the table's README
README_LABELLED_GRAPHS = 1_293_208


def table_arrays(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The table's hashes and cells as :func:`nb101.decode_many` lays them out: (hashes, vertices, matrices, labels)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=["hash", "num_vertices", "module_adjacency", "module_operations"])
    hashes = table.column("hash").to_numpy().astype("<U32")
    vertices = table.column("num_vertices").to_numpy().astype(np.int64)
    adjacency = table.column("module_adjacency").combine_chunks()
    operations = table.column("module_operations").combine_chunks()
    names = [nb101.INPUT, *nb101.OPS, nb101.OUTPUT]
    positions = pc.index_in(operations.flatten(), value_set=pa.array(names))
    if positions.null_count:
        raise SystemExit("the table has an operation outside " + ", ".join(names))
    label_of = np.array([nb101.INPUT_LABEL, *range(len(nb101.OPS)), nb101.OUTPUT_LABEL], dtype=np.int8)
    op_labels = label_of[positions.to_numpy().astype(np.int64)]
    adj_values = adjacency.flatten().to_numpy().astype(np.int8)
    adj_offsets = adjacency.offsets.to_numpy()
    op_offsets = operations.offsets.to_numpy()
    n = len(hashes)
    matrices = np.zeros((n, nb101.MAX_VERTICES, nb101.MAX_VERTICES), dtype=np.int8)
    labels = np.full((n, nb101.MAX_VERTICES), nb101.NO_VERTEX, dtype=np.int8)
    for size in range(2, nb101.MAX_VERTICES + 1):
        rows = np.flatnonzero(vertices == size)
        if not ((adj_offsets[rows + 1] - adj_offsets[rows]) == size * size).all():
            raise SystemExit(f"the table has a {size}-vertex cell whose adjacency is not {size}x{size}")
        if not ((op_offsets[rows + 1] - op_offsets[rows]) == size).all():
            raise SystemExit(f"the table has a {size}-vertex cell without {size} operations")
        entries = adj_values[adj_offsets[rows][:, None] + np.arange(size * size)]
        matrices[rows, :size, :size] = entries.reshape(-1, size, size)
        labels[rows, :size] = op_labels[op_offsets[rows][:, None] + np.arange(size)]
    return hashes, vertices, matrices, labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="CPUs Ray may use (default 2)")
    parser.add_argument("--chunk-bits", type=int, default=12, help="each chunk is 2**chunk_bits edge patterns")
    parser.add_argument("--table", default=TABLE, help=f"the NB101 table (default {TABLE}, from the project root)")
    parser.add_argument("--exhaustive", action="store_true",
                        help="hash every labelled graph, as the official script does (not only class firsts)")
    parser.add_argument("--serial", action="store_true", help="also enumerate serially in the driver and compare")
    parser.add_argument("--write-package", action="store_true",
                        help="write the enumeration as the package's list of cells (cbred_ray/spaces/nb101/data)")
    parser.add_argument("--out", default="benchmarks/results/nb101_space.json")
    args = parser.parse_args()
    table_path = Path(args.table) if Path(args.table).is_absolute() else REPO / args.table

    import ray

    load = os.getloadavg()[0]
    started = time.perf_counter()
    ray.init(num_cpus=args.workers, include_dashboard=False, logging_level="ERROR")
    ray_seconds = time.perf_counter() - started

    @ray.remote
    def run_chunk(chunk: nb101.Chunk):
        hashes, codes = nb101.enumerate_chunk(*chunk, exhaustive=args.exhaustive)
        return hashes, codes, nb101.labelled_graphs(*chunk)

    parts = nb101.chunks(nb101.MAX_VERTICES, args.chunk_bits)
    started = time.perf_counter()
    pending = [run_chunk.remote(chunk) for chunk in parts]
    finished = []
    while pending:  # collect in the order the tasks finish
        done, pending = ray.wait(pending, num_returns=1)
        finished.extend(ray.get(done))
    enumerate_seconds = time.perf_counter() - started
    started = time.perf_counter()
    hashes, codes = nb101.merge_chunks((h, c) for h, c, _ in finished)
    merge_seconds = time.perf_counter() - started
    ray.shutdown()
    labelled = sum(count for _, _, count in finished)
    chunk_rows = sum(len(h) for h, _, _ in finished)
    hashed = labelled if args.exhaustive else sum(  # the first graphs of their classes, counted again (untimed)
        int(nb101.first_of_class(chunk.vertices, nb101.full_dags(*chunk)).sum()) for chunk in parts)
    print(f"{len(parts)} chunks on {args.workers} workers: {enumerate_seconds:.1f} s, merge {merge_seconds:.2f} s, "
          f"{len(hashes)} cells", file=sys.stderr)

    serial = None
    if args.serial:
        started = time.perf_counter()
        serial_hashes, serial_codes = nb101.merge_chunks(nb101.enumerate_chunk(*chunk, exhaustive=args.exhaustive)
                                                         for chunk in parts)
        same = np.array_equal(serial_hashes, hashes) and np.array_equal(serial_codes, codes)
        serial = {"seconds": round(time.perf_counter() - started, 2), "equal_to_parallel": bool(same)}
        print(f"serial: {serial}", file=sys.stderr)

    vertices, matrices, labels = nb101.decode_many(codes)
    cells_by_vertices = {int(v): int((vertices == v).sum()) for v in range(2, nb101.MAX_VERTICES + 1)}
    checks = {
        "cells_by_vertices_equal_readme": cells_by_vertices == README_CELLS,
        "labelled_graphs_equal_readme": labelled == README_LABELLED_GRAPHS,
    }
    if table_path.is_file():
        t_hashes, t_vertices, t_matrices, t_labels = table_arrays(table_path)
        same_hashes = bool(np.array_equal(t_hashes, hashes))
        checks["hashes_equal_table"] = same_hashes
        checks["decoded_specs_equal_table"] = same_hashes and bool(
            np.array_equal(t_vertices, vertices) and np.array_equal(t_matrices, matrices)
            and np.array_equal(t_labels, labels))
        checks["table_specs_encode_to_codes"] = same_hashes and bool(
            np.array_equal(nb101.encode_many(t_vertices, t_matrices, t_labels), codes))
    else:
        checks["table"] = f"absent: {args.table}"
    if serial is not None:
        checks["serial_equal_to_parallel"] = serial["equal_to_parallel"]
    if args.write_package:
        write_cells(hashes, codes)
    package_hashes, package_codes = read_cells()
    checks["packaged_cells_equal_enumeration"] = bool(np.array_equal(package_hashes, hashes)
                                                      and np.array_equal(package_codes, codes))
    matched = all(v is True for v in checks.values())

    command = f"python benchmarks/nb101_space.py --workers {args.workers}"
    if args.chunk_bits != 12:
        command += f" --chunk-bits {args.chunk_bits}"
    if args.table != TABLE:
        command += " --table TABLE"
    if args.exhaustive:
        command += " --exhaustive"
    if args.serial:
        command += " --serial"
    command += f" --out {args.out}"
    result = {
        "command": command,
        **provenance(load_average_1min_at_start=round(load, 2)),
        "workers": args.workers, "chunk_bits": args.chunk_bits, "chunks": len(parts),
        "mode": "every labelled graph hashed" if args.exhaustive else "first graph of each class hashed",
        "table": args.table if args.table == TABLE else "TABLE",
        "labelled_graphs_enumerated": labelled, "graphs_hashed": hashed,
        "chunk_rows_before_merge": chunk_rows, "cells": len(hashes),
        "cells_by_vertices": cells_by_vertices,
        "seconds": {"ray_init": round(ray_seconds, 2), "enumerate": round(enumerate_seconds, 2),
                    "merge": round(merge_seconds, 2),
                    "enumerate_and_merge": round(enumerate_seconds + merge_seconds, 2)},
        "serial": serial,
        "checks": checks, "matched": matched,
    }
    out = Path(args.out) if Path(args.out).is_absolute() else REPO / args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({"matched": matched, **result["seconds"]}))
    if not matched:
        sys.exit(1)


if __name__ == "__main__":
    main()
