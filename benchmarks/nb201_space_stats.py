"""Whole-space NB201 statistics in committed chunks, resumable across sessions, merged into one file.

    python benchmarks/nb201_space_stats.py --stats meco,zen --parts benchmarks/results/nb201_stats_parts/c100 \\
        --work WORK [--chunks 4] [--actors 2]
    python benchmarks/nb201_space_stats.py --parts benchmarks/results/nb201_stats_parts/c100 \\
        --merge benchmarks/results/nb201_stats.parquet

The distinct cells of NB201 (one computation per canonical cell, as a whole-space ``cbred stats`` run does)
are split, in canonical order, into fixed chunks of ``--chunk-size``; each chunk is scored by
``run_statistics`` (Ray actors) into a store under WORK and saved as ``PARTS/<stats>/chunk-NNN.parquet``
(canonical cell, its values, its errors). A chunk already saved is skipped, so a run stopped at any point
resumes where it was, in the next session too once the parts are committed; ``--chunks`` bounds how many
chunks this invocation computes. Every chunk of a statistic set shares one settings record
(``PARTS/<stats>/settings.json``: names, batch, seed, classes); a different setting is refused rather than
mixed in. ``--merge`` expands the canonical values to all 15,625 architectures and writes them as new
columns of the existing whole-space file (its other columns, rows and metadata untouched; each set's settings
recorded under the metadata key ``cbred_added_columns``), for every set whose chunks are all there, and,
once AZ-NAS's four components are there, its aggregate ``az_nas`` (their log-rank sum among all 15,625).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from cbred_ray.config import DataConfig, ResourcesConfig, StatsConfig
from cbred_ray.pipeline.run import run_statistics
from cbred_ray.select.scoring import AZ_COMPONENTS, az_nas
from cbred_ray.spaces.base import distinct_sorted
from cbred_ray.spaces.cell import nb201
from cbred_ray.store import Store

CHUNK_SIZE = 500


def canonical_cells() -> np.ndarray:
    """The canonical index of every distinct NB201 cell, sorted."""
    return distinct_sorted(nb201.SPACE.canonical_indices(np.arange(nb201.SPACE_SIZE)))


def settings_of(args: argparse.Namespace) -> dict:
    return {"names": args.stats.split(","), "source": args.source, "batch_size": args.batch_size,
            "num_classes": args.num_classes, "seed": args.seed, "chunk_size": args.chunk_size}


def compute(args: argparse.Namespace) -> None:
    settings = settings_of(args)
    folder = Path(args.parts) / "-".join(settings["names"])
    folder.mkdir(parents=True, exist_ok=True)
    record = folder / "settings.json"
    if record.is_file() and json.loads(record.read_text()) != settings:
        raise SystemExit(f"{record} holds other settings: {record.read_text()}")
    record.write_text(json.dumps(settings, indent=1) + "\n")
    cells = canonical_cells()
    chunks = range((len(cells) + args.chunk_size - 1) // args.chunk_size)
    todo = [c for c in chunks if not (folder / f"chunk-{c:03d}.parquet").is_file()][: args.chunks]
    saved = sum((folder / f"chunk-{c:03d}.parquet").is_file() for c in chunks)
    print(f"{saved} of {len(chunks)} chunks saved; computing {len(todo)}", flush=True)
    cfg = StatsConfig(names=tuple(settings["names"]), num_classes=args.num_classes, shard_size=25,
                      data={"source": args.source, "batch_size": args.batch_size})
    for chunk in todo:
        started = time.perf_counter()
        canon = cells[chunk * args.chunk_size:(chunk + 1) * args.chunk_size]
        store = Path(args.work) / f"{folder.name}-chunk-{chunk:03d}"
        run_statistics(nb201.SPACE.format_ids(canon), cfg, str(store), seed=args.seed, progress=False,
                       resources=ResourcesConfig(num_actors=args.actors))
        stats = Store(store).read("stats").to_pandas()
        stats = stats[["canonical_index", *settings["names"], "error"]].sort_values("canonical_index")
        stats.to_parquet(folder / f"chunk-{chunk:03d}.parquet.part", index=False)
        (folder / f"chunk-{chunk:03d}.parquet.part").rename(folder / f"chunk-{chunk:03d}.parquet")
        print(f"chunk {chunk}: {len(canon)} cells in {time.perf_counter() - started:.0f} s", flush=True)


def set_column(table: pa.Table, name: str, column: pa.Array) -> pa.Table:
    """``table`` with ``column`` as ``name``: in its place if there is one, else just before ``error``."""
    where = table.schema.get_field_index(name)
    return table.set_column(where, name, column) if where >= 0 else \
        table.add_column(table.schema.get_field_index("error"), name, column)


def merge(parts: Path, out: Path) -> None:
    """Every complete set of ``parts`` as columns of ``out`` (replaced where a column exists), its schema
    metadata kept and each set's settings added under ``cbred_added_columns``."""
    table = pq.read_table(out)
    frame = table.to_pandas()
    cells = canonical_cells()
    added = json.loads((table.schema.metadata or {}).get(b"cbred_added_columns", b"{}"))
    errors = frame["error"].tolist()
    for folder in sorted(p for p in parts.iterdir() if p.is_dir()):
        settings = json.loads((folder / "settings.json").read_text())
        files = sorted(folder.glob("chunk-*.parquet"))
        expected = (len(cells) + settings["chunk_size"] - 1) // settings["chunk_size"]
        if len(files) != expected:
            print(f"{folder.name}: {len(files)} of {expected} chunks, left out until the rest are computed")
            continue
        values = pd.concat([pd.read_parquet(f) for f in files]).set_index("canonical_index")
        if not np.array_equal(values.index.to_numpy(), cells):
            raise SystemExit(f"{folder}: the chunks do not hold every canonical cell once")
        rows = values.loc[frame["canonical_index"].to_numpy()]
        for name in settings["names"]:
            column = pa.array(rows[name].to_numpy(), pa.float64())
            table = set_column(table, name, column)
            added[name] = settings
        replaced = tuple(f"{name}: " for name in settings["names"])  # a set merged again replaces its errors
        kept = [[e for e in (a.split("; ") if isinstance(a, str) else []) if not e.startswith(replaced)]
                for a in errors]
        errors = ["; ".join(k + ([b] if isinstance(b, str) and b else [])) or None
                  for k, b in zip(kept, rows["error"].to_numpy())]
    if all(name in table.column_names for name in AZ_COMPONENTS):
        score = az_nas(table.select(list(AZ_COMPONENTS)).to_pandas())
        table = set_column(table, "az_nas", pa.array(score.to_numpy(), pa.float64()))
        added["az_nas"] = {"log_rank": list(AZ_COMPONENTS), "among": "all rows"}
    table = table.set_column(table.schema.get_field_index("error"), "error", pa.array(errors, pa.string()))
    metadata = {**(table.schema.metadata or {}), b"cbred_added_columns": json.dumps(added).encode()}
    pq.write_table(table.replace_schema_metadata(metadata), out)
    print(f"{out}: {table.num_rows} rows, columns {table.column_names}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stats", help="comma-separated statistic names (one set per parts folder)")
    parser.add_argument("--parts", required=True, type=Path)
    parser.add_argument("--work", help="folder for the chunks' stores (not committed)")
    parser.add_argument("--source", default=DataConfig().source)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--num-classes", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--chunk-size", type=int, default=CHUNK_SIZE)
    parser.add_argument("--chunks", type=int, default=None, help="compute at most this many chunks now")
    parser.add_argument("--actors", type=int, default=None)
    parser.add_argument("--merge", type=Path, default=None, help="write every set's columns into this file")
    args = parser.parse_args()
    if args.merge is not None:
        merge(args.parts, args.merge)
    else:
        if not args.stats or not args.work:
            raise SystemExit("--stats and --work are needed to compute chunks")
        compute(args)


if __name__ == "__main__":
    main()
