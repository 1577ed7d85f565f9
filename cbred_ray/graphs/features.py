"""Graph features of a built computational graph: adjacency tensors and operation-usage distributions.

Method doc, "Computational graphs": a graph is represented by a third-order
adjacency tensor A ∈ {0,1}^{|V|×|V|×|P|}, P the set of operation types; and
"Distances between graphs": the probabilistic distances compare distributions
of operation usage. Kernel-type axes follow ``kernel_types`` (a space's
:attr:`~cbred_ray.spaces.base.Space.kernel_types`). These are the definitions; the cell spaces and NB101
compute the same features vectorised over arrays of architectures (:mod:`cbred_ray.spaces.cell.features`,
:mod:`cbred_ray.spaces.nb101.graph`), and the tests hold the two equal.
"""
from __future__ import annotations

import networkx as nx
import numpy as np

from cbred_ray.graphs.computational import KERNEL, MEMORY, nodes_of, project


def adjacency_tensor(graph: nx.DiGraph, kernel_types: tuple[str, ...]) -> np.ndarray:
    """Third-order adjacency tensor of the memory projection over kernel types.

    ``A[a, b, t] = 1`` when a kernel of type ``KERNEL_TYPES[t]`` reads memory
    node ``a`` and writes memory node ``b``. Shape (|V_M|, |V_M|,
    len(KERNEL_TYPES)), dtype int8. Memory nodes are indexed in the graph's
    node order (:func:`~cbred_ray.graphs.computational.nodes_of`), which
    :func:`~cbred_ray.spaces.cell.graph.cell_graph` fixes, so the tensor is
    deterministic; its size varies with the cell (the ``adjacency`` feature of
    :mod:`cbred_ray.spaces.cell.features` is a fixed-size encoding).
    """
    memory = project(graph, MEMORY)
    index = {n: i for i, n in enumerate(nodes_of(graph, MEMORY))}
    a = np.zeros((len(index), len(index), len(kernel_types)), dtype=np.int8)
    for src, dst, kind in memory.edges(data="kind"):
        a[index[src], index[dst], kernel_types.index(kind)] = 1
    return a


def op_counts(graph: nx.DiGraph, kernel_types: tuple[str, ...]) -> np.ndarray:
    """Number of kernel nodes of each type, int64 of length len(kernel_types)."""
    counts = np.zeros(len(kernel_types), dtype=np.int64)
    for k in nodes_of(graph, KERNEL):
        counts[kernel_types.index(graph.nodes[k]["kind"])] += 1
    return counts


def op_usage(graph: nx.DiGraph, kernel_types: tuple[str, ...]) -> np.ndarray:
    """Operation-usage distribution: share of kernel nodes of each type (float64).

    Sums to 1 for a graph with kernels. A graph without kernels (the all-``none``
    cell, which outputs zeros) has no distribution; it gets all zeros, which the
    distances must treat as a point of its own.
    """
    counts = op_counts(graph, kernel_types)
    total = counts.sum()
    return counts / total if total else np.zeros(len(kernel_types), dtype=np.float64)
