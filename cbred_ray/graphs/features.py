"""Graph features: adjacency tensors and operation-usage distributions.

Method doc, "Computational graphs": a graph is represented by a third-order
adjacency tensor A ∈ {0,1}^{|V|×|V|×|P|}, P the set of operation types; and
"Distances between graphs": the probabilistic distances compare distributions
of operation usage. Kernel-type axes follow :data:`KERNEL_TYPES`.
"""
from __future__ import annotations

from collections.abc import Sequence

import networkx as nx
import numpy as np

from cbred_ray.graphs.computational import KERNEL, KERNEL_TYPES, MEMORY, nodes_of, project
from cbred_ray.spaces.nb201 import EDGES, NUM_NODES, OPS

_KERNEL_INDEX = {name: t for t, name in enumerate(KERNEL_TYPES)}
# Shape of :func:`cell_adjacency`: (source node, target node, NB201 operation).
CELL_ADJACENCY_SHAPE: tuple[int, int, int] = (NUM_NODES, NUM_NODES, len(OPS))


def adjacency_tensor(graph: nx.DiGraph) -> np.ndarray:
    """Third-order adjacency tensor of the memory projection over kernel types.

    ``A[a, b, t] = 1`` when a kernel of type ``KERNEL_TYPES[t]`` reads memory
    node ``a`` and writes memory node ``b``. Shape (|V_M|, |V_M|,
    len(KERNEL_TYPES)), dtype int8. Memory nodes are indexed in the graph's
    node order (:func:`~cbred_ray.graphs.computational.nodes_of`), which
    :func:`~cbred_ray.graphs.computational.cell_graph` fixes, so the tensor is
    deterministic; its size varies with the cell (see :func:`cell_adjacency`
    for a fixed-size encoding).
    """
    memory = project(graph, MEMORY)
    index = {n: i for i, n in enumerate(nodes_of(graph, MEMORY))}
    a = np.zeros((len(index), len(index), len(KERNEL_TYPES)), dtype=np.int8)
    for src, dst, kind in memory.edges(data="kind"):
        a[index[src], index[dst], _KERNEL_INDEX[kind]] = 1
    return a


def cell_adjacency(cell: Sequence[int]) -> np.ndarray:
    """Fixed-size adjacency tensor of a cell over its 4 nodes and the NB201 operations.

    ``A[j, i, o] = 1`` when edge ``i <- j`` carries ``OPS[o]``. Each of the 6
    edges is one-hot over all of :data:`~cbred_ray.spaces.nb201.OPS`, ``none``
    included, so every cell maps to exactly 6 ones, the encoding is lossless,
    and two cells' tensors differ in 2 entries per differing edge. Entries
    with ``j >= i`` are always 0. Shape :data:`CELL_ADJACENCY_SHAPE`, dtype int8.
    """
    a = np.zeros(CELL_ADJACENCY_SHAPE, dtype=np.int8)
    for (to, frm), op in zip(EDGES, cell, strict=True):
        a[frm, to, int(op)] = 1
    return a


def op_counts(graph: nx.DiGraph) -> np.ndarray:
    """Number of kernel nodes of each type, int64 of length len(KERNEL_TYPES)."""
    counts = np.zeros(len(KERNEL_TYPES), dtype=np.int64)
    for k in nodes_of(graph, KERNEL):
        counts[_KERNEL_INDEX[graph.nodes[k]["kind"]]] += 1
    return counts


def op_usage(graph: nx.DiGraph) -> np.ndarray:
    """Operation-usage distribution: share of kernel nodes of each type (float64).

    Sums to 1 for a graph with kernels. A graph without kernels (the all-``none``
    cell, which outputs zeros) has no distribution; it gets all zeros, which the
    distances must treat as a point of its own.
    """
    counts = op_counts(graph)
    total = counts.sum()
    return counts / total if total else np.zeros(len(KERNEL_TYPES), dtype=np.float64)
