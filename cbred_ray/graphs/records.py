"""Columns of the store's ``graphs`` table for a batch of NB201 cells.

:func:`graph_records` runs inside a Ray Data ``map_batches`` over shards of
cells. One row per input cell, in input order:

============  ====================  ==================================================
column        Arrow type            meaning
============  ====================  ==================================================
n_memory      int64                 |V_M|: feature and parameter arrays
n_kernel      int64                 |V_K|: kernel nodes
n_edges       int64                 |E_R| + |E_W|: read and write edges
op_usage      list<float64>[7]      :func:`~.features.op_usage`, entries named by
                                    :data:`FEATURE_NAMES`
op_counts     list<int64>[7]        :func:`~.features.op_counts`, same order
adjacency     list<int8>[80]        :func:`~.features.cell_adjacency` flattened in
                                    C order (source node, target node, NB201 op)
============  ====================  ==================================================

:data:`SCHEMA` is that table as a ``pyarrow.Schema``. Rows are computed once per
distinct cell and cached (canonical cells repeat a lot); the cached arrays are
read-only and shared between rows.
"""
from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import numpy as np
import pyarrow as pa

from cbred_ray.errors import BadInput
from cbred_ray.graphs.computational import KERNEL_TYPES, cell_graph
from cbred_ray.graphs.features import cell_adjacency, op_counts, op_usage
from cbred_ray.spaces.nb201 import NUM_EDGES, SPACE_SIZE, Cell

# Names of the op_usage (and op_counts) entries, in order.
FEATURE_NAMES: tuple[str, ...] = KERNEL_TYPES
SCHEMA = pa.schema(
    [
        ("n_memory", pa.int64()),
        ("n_kernel", pa.int64()),
        ("n_edges", pa.int64()),
        ("op_usage", pa.list_(pa.float64())),
        ("op_counts", pa.list_(pa.int64())),
        ("adjacency", pa.list_(pa.int8())),
    ]
)
_SCALARS = ("n_memory", "n_kernel", "n_edges")


class GraphRow(NamedTuple):
    """The ``graphs`` table row of one cell (fields as in :data:`SCHEMA`)."""

    n_memory: int
    n_kernel: int
    n_edges: int
    op_usage: np.ndarray
    op_counts: np.ndarray
    adjacency: np.ndarray


@lru_cache(maxsize=SPACE_SIZE)
def graph_row(cell: Cell) -> GraphRow:
    """The row of one cell (a tuple of 6 ints), cached per distinct cell."""
    g = cell_graph(cell)
    counts = op_counts(g)
    n_kernel = int(counts.sum())
    arrays = (op_usage(g), counts, cell_adjacency(cell).ravel())
    for a in arrays:
        a.setflags(write=False)
    return GraphRow(g.number_of_nodes() - n_kernel, n_kernel, g.number_of_edges(), *arrays)


def graph_records(cells: np.ndarray) -> dict[str, list | np.ndarray]:
    """Columns of the ``graphs`` table for an (n, 6) array of cells.

    Scalar columns are int64 arrays of length n; vector columns are lists of n
    fixed-length arrays (``pyarrow.table(graph_records(c), schema=SCHEMA)``
    builds the table).
    """
    cells = np.asarray(cells)
    if cells.ndim != 2 or cells.shape[1] != NUM_EDGES:
        raise BadInput(f"cells must be an (n, {NUM_EDGES}) array, got shape {cells.shape}")
    rows = [graph_row(tuple(c)) for c in cells.astype(np.int64).tolist()]
    return {
        name: np.array([getattr(r, name) for r in rows], dtype=np.int64)
        if name in _SCALARS
        else [getattr(r, name) for r in rows]
        for name in GraphRow._fields
    }
