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
nodes         list<string>          node names of the bipartite graph, in graph order
node_kinds    list<string>          ``partition:kind`` of each node
edges         list<int32>           read and write edges as flat (source, target)
                                    pairs of positions in ``nodes``
memory_edges  list<int32>           memory projection, flat (source, target, kernel
                                    type index in :data:`FEATURE_NAMES`) triples
kernel_edges  list<int32>           kernel projection, flat (source, target) pairs
============  ====================  ==================================================

:func:`graph_from_row` rebuilds the networkx graph from a row.

:data:`SCHEMA` is that table as a ``pyarrow.Schema``. Rows are computed once per
distinct cell and cached (canonical cells repeat a lot); the cached arrays are
read-only and shared between rows.
"""
from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import networkx as nx
import numpy as np
import pyarrow as pa

from cbred_ray.errors import BadInput
from cbred_ray.graphs.computational import KERNEL, KERNEL_TYPES, MEMORY, cell_graph, project
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
        ("nodes", pa.list_(pa.string())),
        ("node_kinds", pa.list_(pa.string())),
        ("edges", pa.list_(pa.int32())),
        ("memory_edges", pa.list_(pa.int32())),
        ("kernel_edges", pa.list_(pa.int32())),
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
    nodes: list[str]
    node_kinds: list[str]
    edges: np.ndarray
    memory_edges: np.ndarray
    kernel_edges: np.ndarray


def _edge_list(graph: nx.DiGraph, position: dict[str, int], with_kind: bool = False) -> np.ndarray:
    rows = [(position[a], position[b], *([KERNEL_TYPES.index(d["kind"])] if with_kind else []))
            for a, b, d in graph.edges(data=True)]
    return np.asarray(rows, dtype=np.int32).ravel()


@lru_cache(maxsize=SPACE_SIZE)
def graph_row(cell: Cell) -> GraphRow:
    """The row of one cell (a tuple of 6 ints), cached per distinct cell."""
    g = cell_graph(cell)
    counts = op_counts(g)
    n_kernel = int(counts.sum())
    position = {name: i for i, name in enumerate(g.nodes)}
    arrays = (
        op_usage(g), counts, cell_adjacency(cell).ravel(), _edge_list(g, position),
        _edge_list(project(g, MEMORY), position, with_kind=True), _edge_list(project(g, KERNEL), position),
    )
    for a in arrays:
        a.setflags(write=False)
    kinds = [f"{d['partition']}:{d['kind']}" for _, d in g.nodes(data=True)]
    return GraphRow(g.number_of_nodes() - n_kernel, n_kernel, g.number_of_edges(), *arrays[:3],
                    list(g.nodes), kinds, *arrays[3:])


def graph_from_row(nodes: list[str], node_kinds: list[str], edges: list[int]) -> nx.DiGraph:
    """The bipartite graph of a stored row (inverse of the ``nodes``/``node_kinds``/``edges`` columns)."""
    graph = nx.DiGraph()
    for name, tag in zip(nodes, node_kinds):
        partition, kind = tag.split(":", 1)
        graph.add_node(name, partition=partition, kind=kind)
    pairs = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    graph.add_edges_from((nodes[a], nodes[b]) for a, b in pairs)
    return graph


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
