"""The computational graph of a NAS-Bench-101 cell, and its clustering features, vectorised.

The cell's program, as the benchmark's ``model_builder.build_module`` runs it (see
:mod:`cbred_ray.spaces.nb101.network`), as a bipartite memory/kernel graph
(:mod:`cbred_ray.graphs.computational` has the vocabulary):

* memory node ``v{i}`` is the feature array of vertex ``i`` (``v0`` the cell input, the last the
  cell output);
* an interior vertex ``t`` reads the sum of its inputs: each input edge from the cell input goes
  through a *projection* (kernels ``proj1x1`` -> ``batchnorm`` -> ``relu``, a 1×1 convolution to the
  vertex's channels), each edge from an interior vertex is read as it is (the benchmark truncates
  it to the vertex's channels: a slice, not a kernel); with several inputs an ``add`` kernel writes
  ``v{t}/in``; then the vertex's operation: ``conv3x3``/``conv1x1`` -> ``batchnorm`` -> ``relu``, or
  ``maxpool``;
* the output concatenates (``concat``) the interior vertices that feed it (read as they are when
  there is one) and, when the input feeds the output too, ``add``s a projection of the input to
  it; a cell whose only output edge is from the input outputs that projection.

Convolution kernels read their weight arrays and batch norms their scale and shift
(``*.weight``, ``bn.weight``, ``bn.bias``), as in the cell graphs. Truncations are left out: they
depend on the channel split, not on the cell. :func:`kernel_counts` counts the same kernels from
arrays of cells without building graphs (a test holds the two equal on whole vertex counts).
"""
from __future__ import annotations

from collections.abc import Sequence

import networkx as nx
import numpy as np

from cbred_ray.errors import BadInput
from cbred_ray.graphs.computational import FEATURE, KERNEL, MEMORY, PARAMETER

KERNEL_TYPES: tuple[str, ...] = ("conv3x3", "conv1x1", "proj1x1", "batchnorm", "relu", "maxpool", "add", "concat")
"""Kernel types of NB101 computational graphs, in the order of ``op_usage``/``op_counts``."""
OPS: tuple[str, ...] = ("conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3")
MAX_VERTICES = 7
_K = {name: i for i, name in enumerate(KERNEL_TYPES)}
_OP_KERNELS = {0: ("conv3x3", "batchnorm", "relu"), 1: ("conv1x1", "batchnorm", "relu"), 2: ("maxpool",)}
ADJACENCY_WIDTH = MAX_VERTICES * (MAX_VERTICES - 1) // 2 + (MAX_VERTICES - 2) * len(OPS)
"""The one-hot encoding: 21 edge bits with the output placed last, and each of the 5 interior slots one-hot
over the 3 operations (all zero for a slot the cell does not have)."""


def _memory(g: nx.DiGraph, name: str, kind: str = FEATURE) -> str:
    g.add_node(name, partition=MEMORY, kind=kind)
    return name


def _kernel(g: nx.DiGraph, name: str, kind: str, reads: Sequence[str], write: str, params: Sequence[str] = ()) -> str:
    g.add_node(name, partition=KERNEL, kind=kind)
    g.add_edges_from((m, name) for m in reads)
    g.add_edges_from((_memory(g, f"{name}.{p}", PARAMETER), name) for p in params)
    g.add_edge(name, write)
    return write


def _conv_bn_relu(g: nx.DiGraph, prefix: str, conv: str, src: str, out: str) -> str:
    conv_out = _memory(g, f"{prefix}/conv.out")
    _kernel(g, f"{prefix}/{conv}", conv, [src], conv_out, ("weight",))
    bn_out = _memory(g, f"{prefix}/bn.out")
    _kernel(g, f"{prefix}/batchnorm", "batchnorm", [conv_out], bn_out, ("weight", "bias"))
    return _kernel(g, f"{prefix}/relu", "relu", [bn_out], out)


def cell_graph(matrix: np.ndarray, ops: Sequence[str]) -> nx.DiGraph:
    """Bipartite memory/kernel graph of one pruned NB101 cell (``matrix`` V×V, ``ops`` its V labels)."""
    matrix = np.asarray(matrix, dtype=np.int64)
    size = len(ops)
    if matrix.shape != (size, size):
        raise BadInput(f"an NB101 cell of {size} ops needs a {size}x{size} matrix, got shape {matrix.shape}")
    g = nx.DiGraph()
    names = [_memory(g, f"v{i}") for i in range(size)]
    last = size - 1
    for t in range(1, last):
        op = OPS.index(ops[t])
        reads = [names[s] for s in range(1, t) if matrix[s, t]]
        if matrix[0, t]:
            reads.append(_conv_bn_relu(g, f"v{t}/proj", "proj1x1", names[0], _memory(g, f"v{t}/proj.out")))
        if len(reads) > 1:
            reads = [_kernel(g, f"v{t}/add", "add", reads, _memory(g, f"v{t}/in"))]
        if op == 2:
            _kernel(g, f"v{t}/maxpool", "maxpool", reads, names[t])
        else:
            _conv_bn_relu(g, f"v{t}", _OP_KERNELS[op][0], reads[0], names[t])
    feeding = [names[s] for s in range(1, last) if matrix[s, last]]
    if not feeding:  # only the input feeds the output
        _conv_bn_relu(g, "out/proj", "proj1x1", names[0], names[last])
        return g
    direct = bool(matrix[0, last])
    if len(feeding) == 1 and not direct:  # one interior vertex is the output: name its array so
        nx.relabel_nodes(g, {feeding[0]: f"{feeding[0]}=out"}, copy=False)
        g.remove_node(names[last])
        return g
    if len(feeding) > 1:
        joined = _kernel(g, "out/concat", "concat", feeding, _memory(g, "out/concat.out") if direct else names[last])
    else:
        joined = feeding[0]
    if direct:
        projected = _conv_bn_relu(g, "out/proj", "proj1x1", names[0], _memory(g, "out/proj.out"))
        _kernel(g, "out/add", "add", [joined, projected], names[last])
    return g


def kernel_counts(vertices: np.ndarray, matrices: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Kernels of each type (:data:`KERNEL_TYPES`) in the graph of each cell, (n, 8) int64, from the arrays
    of :func:`cbred_ray.spaces.nb101.encoding.decode_many` (matrices padded to 7, labels -1/op index/-2/-3)."""
    size = np.asarray(vertices, dtype=np.int64).ravel()
    matrices = np.asarray(matrices, dtype=np.int64)
    labels = np.asarray(labels, dtype=np.int64)
    n = len(size)
    rows = np.arange(n)
    counts = np.zeros((n, len(KERNEL_TYPES)), dtype=np.int64)
    last = size - 1
    for t in range(1, MAX_VERTICES - 1):
        interior = t < last
        op = labels[:, t]
        for code, kernels in _OP_KERNELS.items():
            for kernel in kernels:
                counts[:, _K[kernel]] += interior & (op == code)
        from_input = interior & (matrices[:, 0, t] == 1)
        inputs = from_input + (matrices[:, 1:t, t].sum(axis=1) * interior)
        for kernel in ("proj1x1", "batchnorm", "relu"):
            counts[:, _K[kernel]] += from_input
        counts[:, _K["add"]] += interior & (inputs > 1)
    into_output = matrices[rows, :, last]  # (n, 7): edges into the output vertex
    feeding = into_output[:, 1:].sum(axis=1)
    direct = into_output[:, 0] == 1
    projected = direct | (feeding == 0)
    for kernel in ("proj1x1", "batchnorm", "relu"):
        counts[:, _K[kernel]] += projected
    counts[:, _K["concat"]] += feeding > 1
    counts[:, _K["add"]] += direct & (feeding > 0)
    return counts


def op_usage(counts: np.ndarray) -> np.ndarray:
    """Share of kernel nodes of each type (float64; every NB101 cell has at least one kernel)."""
    counts = np.asarray(counts, dtype=np.float64)
    return counts / counts.sum(axis=1, keepdims=True)


def adjacency(vertices: np.ndarray, matrices: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The lossless one-hot encoding of each cell, (n, :data:`ADJACENCY_WIDTH`) float64: its edges with the
    output vertex moved to slot 6, then the interior vertices' operations one-hot."""
    size = np.asarray(vertices, dtype=np.int64).ravel()
    matrices = np.asarray(matrices, dtype=np.int64)
    labels = np.asarray(labels, dtype=np.int64)
    n, rows = len(size), np.arange(len(size))
    placed = np.zeros((n, MAX_VERTICES, MAX_VERTICES), dtype=np.int64)
    placed[:, :-1, :-1] = matrices[:, :-1, :-1]
    placed[:, :, -1] = matrices[rows, :, size - 1]  # the output's column moved to slot 6
    for v in range(MAX_VERTICES):  # clear the output's old column (now copied)
        moved = (size - 1 == v) & (v < MAX_VERTICES - 1)
        placed[moved, :, v] = 0
    upper = np.triu_indices(MAX_VERTICES, k=1)
    edges = placed[:, upper[0], upper[1]]
    ops = np.zeros((n, MAX_VERTICES - 2, len(OPS)), dtype=np.int64)
    for t in range(1, MAX_VERTICES - 1):
        interior = t < size - 1
        for code in range(len(OPS)):
            ops[:, t - 1, code] = interior & (labels[:, t] == code)
    return np.concatenate([edges, ops.reshape(n, -1)], axis=1).astype(np.float64)
