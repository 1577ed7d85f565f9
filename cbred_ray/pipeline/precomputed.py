"""Statistics computed before (``stats.precomputed``): read, checked against the space, and stored
as the stats stage instead of computing them."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pyarrow as pa

from cbred_ray.config import StatsConfig
from cbred_ray.errors import BadInput
from cbred_ray.spaces.base import Space
from cbred_ray.store import Store


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
