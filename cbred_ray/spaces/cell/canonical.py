"""Canonical form of NB201 cells: one representative per computed function.

Two cells compute the same function when they differ only in edges that cannot
matter. The canonical form
1. removes dead edges: an edge whose source node is unreachable from the input
   (node 0) through non-``none`` edges, or whose target cannot reach the output
   (node 3), is set to ``none``;
2. merges isomorphic cells: the two intermediate nodes 1 and 2 may be renamed
   when the result is again a valid cell. Swapping them is valid only when the
   edge between them (2<-1) is ``none``; the representative is the
   lexicographically smaller of the cell and its swap.

This is the cell spaces' canonical form (:meth:`cbred_ray.spaces.cell.CellSpace.canonical_cells`)
at 4 nodes; this module keeps its NB201 names.

Cells whose output is disconnected from the input all map to the all-``none``
cell (they output zeros). This form gives 8,765 classes on NB201.

The NB201 authors count 6,466 (:func:`nb201_unique_str`, their
``to_unique_str(consider_zero=True)``): they expand ``skip_connect`` edges into
symbolic sums, which also merges cells whose networks differ in weight sharing,
e.g. ``x1 = conv_a(x0); x3 = conv_b(x1) + conv_c(x0)`` and
``x1 = conv_a(x0); x3 = conv_b(x1) + skip(x1)`` (both read
``conv(conv(x)) + conv(x)``, but in the second the two inner convolutions are one
layer). Those are different untrained networks with different statistics, so
the expensive work is shared only within the classes of :func:`canonical_cells`.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cbred_ray.spaces.cell.nb201 import EDGES, NUM_NODES, OPS, SPACE, Cell


def live_edges(cells: np.ndarray) -> np.ndarray:
    """Boolean (n, 6): edges that carry information from the input to the output."""
    return SPACE.live_edges(cells)


def canonical_cells(cells: np.ndarray) -> np.ndarray:
    """Vectorised canonical form of an (n, 6) array of cells (the cell space's, at 4 nodes)."""
    return SPACE.canonical_cells(cells)


def canonical(cell: Sequence[int]) -> Cell:
    """Canonical form of one cell."""
    return tuple(int(o) for o in canonical_cells(np.asarray([cell]))[0])


def nb201_unique_str(cell: Sequence[int]) -> str:
    """The NB201 authors' symbolic form (``CellStructure.to_unique_str(True)``).

    Kept to report their count of unique cells (6,466); see the module docstring
    for why the pipeline does not merge at this level.
    """
    nodes = {0: "0"}
    for k, (to, frm) in enumerate(EDGES):
        op = OPS[int(cell[k])]
        if op == "none" or nodes[frm] == "#":
            term = "#"
        elif op == "skip_connect":
            term = nodes[frm]
        else:
            term = f"({nodes[frm]})@{op}"
        nodes.setdefault(to, [])
        nodes[to].append(term)
        if frm == to - 1:  # last incoming edge of this node
            nodes[to] = "+".join(sorted(nodes[to]))
    return nodes[NUM_NODES - 1]
