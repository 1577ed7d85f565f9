"""Graph features of cells from a :class:`~cbred_ray.spaces.cell.CellSpace`, vectorised.

The same features as :mod:`cbred_ray.graphs.features` computes from a networkx graph,
without building one: for a canonical cell (dead edges already ``none``) the kernel
nodes of its computational graph (:func:`cbred_ray.graphs.computational.cell_graph`)
are the kernels of each non-``none`` edge plus one ``add`` per node with several
incoming edges, so their counts are a sum over edges. For 4 nodes the results equal
the graph-built ones for every NB201 cell (a test checks all 15,625). This is what
the graphs stage of a cell space of millions computes; networkx graphs are built
only where a stage needs a real graph.
"""
from __future__ import annotations

import numpy as np

from cbred_ray.spaces.cell.graph import KERNEL_TYPES, CellLayout

__all__ = ["adjacency", "cell_features", "kernel_table", "op_counts", "op_usage"]

_KERNELS_OF = {
    "none": (),
    "skip_connect": ("identity",),
    "avg_pool_3x3": ("avgpool",),
    "nor_conv_1x1": ("relu", "conv1x1", "batchnorm"),
    "nor_conv_3x3": ("relu", "conv3x3", "batchnorm"),
}


def kernel_table(space: CellLayout) -> np.ndarray:
    """(len(ops), len(KERNEL_TYPES)) int64: the kernels one edge of each operation adds."""
    table = np.zeros((len(space.ops), len(KERNEL_TYPES)), dtype=np.int64)
    for o, op in enumerate(space.ops):
        for kernel in _KERNELS_OF[op]:
            table[o, KERNEL_TYPES.index(kernel)] += 1
    return table


def op_counts(space: CellLayout, canonical: np.ndarray) -> np.ndarray:
    """Kernel nodes of each type in the computational graph of each canonical cell, (n, 7) int64."""
    canonical = np.asarray(canonical).reshape(-1, space.num_edges)
    onehot = np.zeros((len(canonical), len(space.ops)), dtype=np.int64)
    for o in range(len(space.ops)):
        onehot[:, o] = (canonical == o).sum(axis=1)
    counts = onehot @ kernel_table(space)
    on = canonical != space.none if space.none is not None else np.ones(canonical.shape, dtype=bool)
    adds = np.zeros(len(canonical), dtype=np.int64)
    for to in range(1, space.nodes):
        incoming = [k for k, (t, _) in enumerate(space.edges) if t == to]
        adds += on[:, incoming].sum(axis=1) > 1
    counts[:, KERNEL_TYPES.index("add")] = adds
    return counts


def op_usage(counts: np.ndarray) -> np.ndarray:
    """Share of kernel nodes of each type (rows of zeros for cells without kernels), float64."""
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, total, out=np.zeros_like(counts), where=total > 0)


def adjacency(space: CellLayout, canonical: np.ndarray) -> np.ndarray:
    """Each edge one-hot over the space's operations, (n, edges x ops) int8 (lossless)."""
    canonical = np.asarray(canonical, dtype=np.int64).reshape(-1, space.num_edges)
    out = np.zeros((len(canonical), space.num_edges, len(space.ops)), dtype=np.int8)
    np.put_along_axis(out, canonical[:, :, None], 1, axis=2)
    return out.reshape(len(canonical), -1)


def cell_features(space: CellLayout, canonical: np.ndarray, name: str) -> np.ndarray:
    """One of :data:`cbred_ray.spaces.base.FEATURES` for an array of canonical cells, as float64 rows."""
    if name == "adjacency":
        return adjacency(space, canonical).astype(np.float64)
    counts = op_counts(space, canonical)
    return (op_usage(counts) if name == "op_usage" else counts).astype(np.float64)
