"""The shape of the NAS-Bench-101 network of a cell, without building it: the checks of a cell's spec, the
channels of its vertices, the plan of cells, and the network's costs in closed form (no torch).

The rules are google-research/nasbench's (``nasbench/lib/model_builder.py``: ``compute_vertex_channels``,
``build_model_fn``); :mod:`.network` builds the network they describe, and a test holds the costs here equal
to the built network's.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

from cbred_ray.errors import BadInput

INPUT, OUTPUT = "input", "output"
CONV3X3, CONV1X1, MAXPOOL3X3 = "conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3"
OP_NAMES: tuple[str, ...] = (CONV3X3, CONV1X1, MAXPOOL3X3)
"""The three interior-vertex operations, in the benchmark's own order (``api.ALLOWED_OPS``)."""

IMAGE_SIDE = 32
"""Side of the CIFAR images the network is costed on (``macs``' default input, 3 x 32 x 32)."""


def validate_matrix(matrix: object) -> np.ndarray:
    """The adjacency ``matrix`` as a V x V int64 array, after checking it is a pruned NB101 DAG; else BadInput.

    Accepts a V x V array-like or its row-major flattening (as the table's ``module_adjacency``
    stores it). Checks: square, V >= 2, entries 0/1, strictly upper-triangular (vertices in
    topological order), and pruned: every vertex but the input has an incoming edge and every
    vertex but the output an outgoing one, i.e. every vertex lies on an input-output path (what
    the benchmark's ``ModelSpec`` leaves after pruning).
    """
    try:
        array = np.asarray(matrix)
    except (TypeError, ValueError) as error:
        raise BadInput(f"NB101 matrix is not an array: {error}") from None
    if array.ndim == 1:
        side = math.isqrt(array.size)
        if side * side != array.size:
            raise BadInput(f"a flat NB101 matrix needs V*V entries, got {array.size}")
        array = array.reshape(side, side)
    if array.ndim != 2 or array.shape[0] != array.shape[1]:
        raise BadInput(f"NB101 matrix must be square, got shape {array.shape}")
    if array.shape[0] < 2:
        raise BadInput(f"an NB101 cell needs at least 2 vertices, got {array.shape[0]}")
    if not np.isin(array, (0, 1)).all():
        raise BadInput(f"NB101 matrix entries must be 0 or 1, got {np.unique(array).tolist()!r}")
    array = array.astype(np.int64)
    if np.tril(array).any():
        raise BadInput("NB101 matrix must be strictly upper-triangular (edges from lower to higher vertices)")
    inputs, outputs = array.sum(axis=0), array.sum(axis=1)
    for vertex in range(array.shape[0]):
        if (vertex > 0 and not inputs[vertex]) or (vertex < array.shape[0] - 1 and not outputs[vertex]):
            raise BadInput(f"NB101 vertex {vertex} is not on an input-output path (prune the spec first)")
    return array


def validate_spec(matrix: object, ops: Sequence[str]) -> tuple[np.ndarray, tuple[str, ...]]:
    """(matrix as ``validate_matrix`` returns it, ops as a tuple) after checking the ops; else BadInput.

    ``ops`` are the V vertex labels: ``input``, then one of ``OP_NAMES`` per interior vertex, then ``output``.
    """
    array = validate_matrix(matrix)
    ops = tuple(str(op) for op in ops)
    if len(ops) != array.shape[0]:
        raise BadInput(f"an NB101 cell with {array.shape[0]} vertices needs {array.shape[0]} ops, got {len(ops)}")
    if ops[0] != INPUT or ops[-1] != OUTPUT:
        raise BadInput(f"NB101 ops must start with {INPUT!r} and end with {OUTPUT!r}, got {ops!r}")
    unknown = [op for op in ops[1:-1] if op not in OP_NAMES]
    if unknown:
        raise BadInput(f"unknown NB101 operation {unknown[0]!r} in {ops!r}")
    return array, ops


def compute_vertex_channels(input_channels: int, output_channels: int, matrix: object) -> list[int]:
    """Channels of every vertex of a cell, as ``model_builder.compute_vertex_channels``.

    Vertex 0 has ``input_channels`` and the output ``output_channels``. The k interior vertices
    that feed the output (k = the output's in-degree, ignoring an input -> output edge) share
    ``output_channels``: each gets ``output_channels // k``, and the first ``output_channels % k``
    of them in vertex order one more, so that their concatenation has ``output_channels``. Every
    other interior vertex, going backwards, gets the largest channel count of its interior
    successors. With V == 2 there is no interior vertex. BadInput if some vertex would get 0.
    """
    array = validate_matrix(matrix)
    num_vertices = array.shape[0]
    channels = [0] * num_vertices
    channels[0], channels[-1] = int(input_channels), int(output_channels)
    if num_vertices == 2:
        return channels
    feeders = int(array[1:, -1].sum())
    interior, correction = divmod(int(output_channels), feeders)
    for vertex in range(1, num_vertices - 1):
        if array[vertex, -1]:
            channels[vertex] = interior + (1 if correction else 0)
            correction -= 1 if correction else 0
    for vertex in range(num_vertices - 3, 0, -1):
        if not array[vertex, -1]:
            for dst in range(vertex + 1, num_vertices - 1):
                if array[vertex, dst]:
                    channels[vertex] = max(channels[vertex], channels[dst])
    if min(channels[1:-1]) < 1:
        raise BadInput(f"{output_channels} output channels are too few for {feeders} vertices feeding the output")
    return channels


def validate_sizes(num_classes: int, stem_channels: int, num_stacks: int, cells_per_stack: int) -> None:
    for name, value in (("num_classes", num_classes), ("stem_channels", stem_channels), ("num_stacks", num_stacks),
                        ("cells_per_stack", cells_per_stack)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise BadInput(f"{name} must be a positive integer, got {value!r}")


_OP_CODE = {INPUT: 3, OUTPUT: 4, **{name: code for code, name in enumerate(OP_NAMES)}}
_CONV_AREA = np.array([9, 1, 0])  # kernel area of each OP_NAMES op; 0: the max-pool has no weights


def _group_costs(matrices: np.ndarray, codes: np.ndarray, c_in: int, c_out: int) -> tuple[np.ndarray, np.ndarray]:
    """Per cell of one vertex count: (trainable parameters, convolution weights) of one cell c_in -> c_out.

    MACs are the weights times the output area, the same for every convolution of a cell.
    """
    count, num_vertices = codes.shape
    weights = np.where(matrices[:, 0, -1] == 1, c_in * c_out, 0)
    bn = np.where(matrices[:, 0, -1] == 1, 2 * c_out, 0)
    if num_vertices > 2:
        feeds = matrices[:, 1:-1, -1]
        feeders = feeds.sum(axis=1)
        interior, correction = np.divmod(c_out, feeders)
        channels = np.zeros((count, num_vertices), dtype=np.int64)
        channels[:, 1:-1] = np.where(feeds == 1, interior[:, None] + (np.cumsum(feeds, axis=1) <= correction[:, None]), 0)
        for vertex in range(num_vertices - 3, 0, -1):
            successors = (matrices[:, vertex, vertex + 1:-1] * channels[:, vertex + 1:-1]).max(axis=1)
            channels[:, vertex] = np.where(feeds[:, vertex - 1] == 1, channels[:, vertex], successors)
        if (channels[:, 1:-1] < 1).any():
            raise BadInput(f"{c_out} output channels are too few for {int(feeders.max())} vertices feeding the output")
        inner, projected = channels[:, 1:-1], matrices[:, 0, 1:-1] == 1
        area = _CONV_AREA[codes[:, 1:-1]]
        weights = weights + (np.where(projected, c_in * inner, 0) + area * inner * inner).sum(axis=1)
        bn = bn + (np.where(projected, 2 * inner, 0) + np.where(area > 0, 2 * inner, 0)).sum(axis=1)
    return weights + bn, weights


def nb101_costs(
    matrices: Sequence[object], ops: Sequence[Sequence[str]], num_classes: int = 10, stem_channels: int = 128,
    num_stacks: int = 3, cells_per_stack: int = 3,
) -> tuple[np.ndarray, np.ndarray]:
    """(params, MACs) of the NB101 network of every cell, in closed form, without building one.

    ``matrices[i]`` and ``ops[i]`` as ``build_nb101_network`` takes them (a cell that it refuses
    raises BadInput naming the cell). Trainable parameters: convolution weights (no biases),
    BatchNorm gamma and beta, the head's weight and bias; MACs of one 3 x 32 x 32 image count
    convolutions and the linear layer only, as ``cbred_ray.stats.cost.macs``: a k x k convolution
    c_in -> c_out at H x H costs H²·c_in·c_out·k², the head width x classes. Per cell c_in -> c_out:
    each projection c_in x channels(t), each conv vertex channels(t)² x k², plus c_in x c_out for an
    input -> output projection, with ``compute_vertex_channels`` vectorised over the cells of each
    vertex count. Equal to ``params`` and ``macs`` of ``build_nb101_network`` (a test holds them
    equal) and to the table's ``trainable_parameters`` at the defaults (the benchmark holds them).
    """
    validate_sizes(num_classes, stem_channels, num_stacks, cells_per_stack)
    matrices, ops = list(matrices), list(ops)
    if len(matrices) != len(ops):
        raise BadInput(f"{len(matrices)} matrices but {len(ops)} op lists")
    sizes = np.array([len(cell_ops) for cell_ops in ops], dtype=np.int64)
    total_params = np.zeros(len(ops))
    total_macs = np.zeros(len(ops))
    plan = Counter(_cell_plan(stem_channels, num_stacks, cells_per_stack))  # cells alike in a stack, costed once
    for num_vertices in np.unique(sizes):
        index = np.flatnonzero(sizes == num_vertices)
        stacked, codes = _stack_group(matrices, ops, index, int(num_vertices))
        for (c_in, c_out, side), repeats in plan.items():
            cell_params, cell_weights = _group_costs(stacked, codes, c_in, c_out)
            total_params[index] += repeats * cell_params
            total_macs[index] += repeats * cell_weights * side * side
    width = stem_channels * 2 ** (num_stacks - 1)
    total_params += 27 * stem_channels + 2 * stem_channels + width * num_classes + num_classes
    total_macs += IMAGE_SIDE * IMAGE_SIDE * 27 * stem_channels + width * num_classes
    return total_params, total_macs


def _cell_plan(stem_channels: int, num_stacks: int, cells_per_stack: int) -> list[tuple[int, int, int]]:
    """(c_in, c_out, side) of every cell of the network, in order."""
    plan, channels, side = [], stem_channels, IMAGE_SIDE
    for stack in range(num_stacks):
        c_in = channels
        if stack > 0:
            channels, side = channels * 2, (side + 1) // 2
        for _ in range(cells_per_stack):
            plan.append((c_in, channels, side))
            c_in = channels
    return plan


def _stack_group(matrices: list, ops: list, index: np.ndarray, num_vertices: int) -> tuple[np.ndarray, np.ndarray]:
    """The matrices (N x V x V) and op codes (N x V) of the cells ``index`` with V ops, checked as a batch.

    A cell that fails a check is checked again on its own so that the error names the cell and the reason.
    """

    def refuse(position: int, fallback: str) -> BadInput:
        cell = int(index[position])
        try:
            validate_spec(matrices[cell], ops[cell])
        except BadInput as error:
            return BadInput(f"NB101 cell {cell}: {error}")
        return BadInput(f"NB101 cell {cell}: {fallback}")

    if num_vertices < 2:
        raise refuse(0, "an NB101 cell needs at least 2 vertices")
    stacked = np.zeros((len(index), num_vertices, num_vertices))
    for position, cell in enumerate(index):
        matrix = np.asarray(matrices[cell])
        if matrix.size != num_vertices * num_vertices:
            raise refuse(position, f"matrix has {matrix.size} entries for {num_vertices} ops")
        if matrix.ndim != 1 and matrix.shape != (num_vertices, num_vertices):
            raise refuse(position, f"matrix must be square, got shape {matrix.shape}")
        try:
            stacked[position] = matrix.reshape(num_vertices, num_vertices)
        except (TypeError, ValueError):
            raise refuse(position, "matrix entries must be 0 or 1") from None
    codes = np.empty((len(index), num_vertices), dtype=np.int64)
    for position, cell in enumerate(index):
        try:
            codes[position] = [_OP_CODE[op] for op in ops[cell]]
        except (KeyError, TypeError):
            raise refuse(position, "unknown operation") from None
    upper = np.triu(np.ones((num_vertices, num_vertices), dtype=bool), k=1)
    checks = (
        (((stacked == 0) | (stacked == 1)).all(axis=(1, 2)), "matrix entries must be 0 or 1"),
        (~(stacked[:, ~upper] != 0).any(axis=1), "matrix must be strictly upper-triangular"),
        ((stacked.sum(axis=1)[:, 1:] > 0).all(axis=1) & (stacked.sum(axis=2)[:, :-1] > 0).all(axis=1),
         "a vertex is not on an input-output path"),
        ((codes[:, 0] == _OP_CODE[INPUT]) & (codes[:, -1] == _OP_CODE[OUTPUT]) & (codes[:, 1:-1] < 3).all(axis=1),
         "ops must be input, interior operations, output"),
    )
    for passed, reason in checks:
        failed = np.flatnonzero(~passed)
        if failed.size:
            raise refuse(int(failed[0]), reason)
    return stacked.astype(np.int64), codes
