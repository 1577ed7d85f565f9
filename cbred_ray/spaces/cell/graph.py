"""The computational graph of a cell (NB201, or any N-node cell space) in program form
(:mod:`cbred_ray.graphs.computational`).

How a cell becomes such a graph (:func:`cell_graph`):

* memory node ``x{i}`` is the feature array of cell node ``i``; ``x0`` (input)
  and ``x3`` (output) always exist, ``x1``/``x2`` only when a non-``none`` edge
  touches them;
* each edge ``i <- j`` is expanded into kernels named ``e{i}{j}/<kernel>``:
  ``skip_connect`` -> ``identity``; ``avg_pool_3x3`` -> ``avgpool``;
  ``nor_conv_kxk`` -> ``relu`` -> ``conv{k}x{k}`` (reads the parameter array
  ``e{i}{j}/conv.weight``, no bias) -> ``batchnorm`` (reads the parameter arrays
  ``e{i}{j}/bn.weight`` and ``e{i}{j}/bn.bias``; running statistics are
  buffers, not parameters, and are left out); the arrays between them are
  feature arrays ``e{i}{j}/relu.out`` and ``e{i}{j}/conv.out``;
* ``none`` edges contribute nothing;
* a cell node with one incoming edge is written directly by that edge's last
  kernel; one with several is written by an ``add`` kernel ``x{i}/add`` that
  reads each edge's output array ``e{i}{j}/out``.

Every array is written by at most one kernel, so in the memory projection each
edge a -> b comes from exactly one kernel (the writer of b) and its ``kind`` is
well defined. The cell is used as given: the pipeline passes canonical cells
(:func:`cbred_ray.spaces.cell.canonical.canonical_cells`), whose dead edges are
already ``none``.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import networkx as nx

from cbred_ray.errors import BadInput
from cbred_ray.graphs.computational import FEATURE, KERNEL, MEMORY, PARAMETER

# Kernel types, in the fixed order used by every feature vector and tensor axis.
KERNEL_TYPES: tuple[str, ...] = ("relu", "conv1x1", "conv3x3", "batchnorm", "avgpool", "identity", "add")


class CellLayout(Protocol):
    """What a cell graph reads of its space (a :class:`cbred_ray.spaces.cell.CellSpace` is one): its nodes,
    its edges as (to, from) pairs in cell order, and its operations."""

    name: str
    nodes: int
    ops: tuple[str, ...]

    @property
    def edges(self) -> tuple[tuple[int, int], ...]: ...

    @property
    def num_edges(self) -> int: ...

    @property
    def none(self) -> int | None: ...

    def op_names(self, cell: Sequence[int]) -> tuple[str, ...]: ...

_CONV_KERNEL = {"nor_conv_1x1": "conv1x1", "nor_conv_3x3": "conv3x3"}


def cell_node(i: int) -> str:
    """Name of the memory node holding the feature array of cell node ``i``."""
    return f"x{i}"


def cell_graph(cell: Sequence[int], space: CellLayout) -> nx.DiGraph:
    """Bipartite memory/kernel computational graph of one cell of ``space`` (NB201's: ``nb201.SPACE``).

    Node attributes: ``partition`` ("memory" or "kernel") and ``kind``
    ("feature"/"parameter" for memory nodes, one of :data:`KERNEL_TYPES` for
    kernel nodes). Edges memory -> kernel are reads, kernel -> memory writes.
    Nodes are inserted in a fixed order: ``x0`` to the last node first, then each edge's
    nodes in the order of the space's edges, then the ``add`` kernels.
    """
    ops = _validated(cell, space)
    edges, last = space.edges, space.nodes - 1
    g = nx.DiGraph()
    incoming = {i: [k for k, (to, _) in enumerate(edges) if to == i and ops[k] != "none"]
                for i in range(space.nodes)}
    touched = {i for k, edge in enumerate(edges) if ops[k] != "none" for i in edge}
    for i in range(space.nodes):
        if i in (0, last) or i in touched:
            _memory(g, cell_node(i), FEATURE)
    for k, (to, frm) in enumerate(edges):
        if ops[k] != "none":
            single = len(incoming[to]) == 1
            out = cell_node(to) if single else _memory(g, f"e{to}{frm}/out", FEATURE)
            _add_edge_op(g, f"e{to}{frm}", ops[k], cell_node(frm), out)
    for i in range(space.nodes):
        if len(incoming[i]) > 1:
            reads = [f"e{to}{frm}/out" for to, frm in (edges[k] for k in incoming[i])]
            _kernel(g, f"{cell_node(i)}/add", "add", reads, cell_node(i))
    return g


def _validated(cell: Sequence[int], space: CellLayout) -> tuple[str, ...]:
    """The operation names of ``cell``; BadInput unless it is ``space.num_edges`` indices of ``space.ops``."""
    ops = tuple(int(o) for o in cell)
    if len(ops) != space.num_edges or not all(0 <= o < len(space.ops) for o in ops):
        raise BadInput(f"a cell of the {space.name} space is {space.num_edges} operation indices in "
                       f"[0, {len(space.ops)}), got {tuple(cell)!r}")
    return space.op_names(ops)


def _memory(g: nx.DiGraph, name: str, kind: str) -> str:
    g.add_node(name, partition=MEMORY, kind=kind)
    return name


def _kernel(g: nx.DiGraph, name: str, kind: str, reads: Sequence[str], write: str) -> None:
    g.add_node(name, partition=KERNEL, kind=kind)
    g.add_edges_from((m, name) for m in reads)
    g.add_edge(name, write)


def _add_edge_op(g: nx.DiGraph, prefix: str, op: str, src: str, out: str) -> None:
    """Kernels and arrays of one cell edge, reading ``src`` and writing ``out``."""
    if op == "skip_connect":
        _kernel(g, f"{prefix}/identity", "identity", [src], out)
    elif op == "avg_pool_3x3":
        _kernel(g, f"{prefix}/avgpool", "avgpool", [src], out)
    else:  # nor_conv_kxk = ReLU -> Conv(kxk, no bias) -> BatchNorm
        conv = _CONV_KERNEL[op]
        relu_out = _memory(g, f"{prefix}/relu.out", FEATURE)
        _kernel(g, f"{prefix}/relu", "relu", [src], relu_out)
        weight = _memory(g, f"{prefix}/conv.weight", PARAMETER)
        conv_out = _memory(g, f"{prefix}/conv.out", FEATURE)
        _kernel(g, f"{prefix}/{conv}", conv, [relu_out, weight], conv_out)
        bn_params = [_memory(g, f"{prefix}/bn.{p}", PARAMETER) for p in ("weight", "bias")]
        _kernel(g, f"{prefix}/batchnorm", "batchnorm", [conv_out, *bn_params], out)
