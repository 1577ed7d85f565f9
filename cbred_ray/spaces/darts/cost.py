"""Parameters and MACs of the DARTS network (:mod:`cbred_ray.spaces.darts.network`) in closed form.

The network's cost is a fixed frame (stem, the cells' preprocessing, classifier, auxiliary head) plus,
for each cell, the sum of its eight edges' operations, each costed at the cell's channels and
resolution, strided or not. The per-operation sums over the positions of each cell kind are tabled once
(:func:`tables`), so the cost of millions of architectures is a product of their operation counts with
a small table. MACs count convolutions and linear layers on one 32×32 image in eval mode, as
:func:`cbred_ray.stats.cost.macs` does (the auxiliary head does not run in eval mode: its parameters count,
its MACs do not); the tests hold both equal to the built network.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from cbred_ray.spaces.darts.encoding import NODES, OPS
from cbred_ray.spaces.darts.network import reduction_cells

INPUT_SIDE = 32
STEM_MULTIPLIER = 3


def _operation(name: str, c: int, side: int, strided: bool) -> tuple[int, int]:
    """(parameters, MACs) of one edge's operation at ``c`` channels writing a ``side`` × ``side`` map."""
    area = side * side
    if name.startswith("sep_conv"):
        k = int(name[-1])
        return 2 * (c * k * k + c * c), 2 * area * (c * k * k + c * c)
    if name.startswith("dil_conv"):
        k = int(name[-1])
        return c * k * k + c * c, area * (c * k * k + c * c)
    if name == "skip_connect" and strided:
        return c * c, area * c * c  # a factorized reduction, BatchNorm without parameters
    return 0, 0  # pooling (its BatchNorm has none), the identity


@lru_cache(maxsize=64)
def tables(channels: int, cells: int, num_classes: int, auxiliary: bool) -> tuple[np.ndarray, np.ndarray]:
    """(frame, edges): the frame's (parameters, MACs), and per cell kind (normal, reduce), operation and
    edge kind (0: unstrided, 1: out of an input of a reduction cell), the (parameters, MACs) summed over the
    cells of that kind: shape (2, len(OPS), 2, 2)."""
    c_stem = STEM_MULTIPLIER * channels
    frame = np.array([3 * c_stem * 9 + 2 * c_stem, INPUT_SIDE ** 2 * c_stem * 3 * 9], dtype=np.int64)
    edges = np.zeros((2, len(OPS), 2, 2), dtype=np.int64)
    reductions, reduction_prev = reduction_cells(cells), False
    c_prev_prev, c_prev, c, side = c_stem, c_stem, channels, INPUT_SIDE
    for position in range(cells):
        reduction = position in reductions
        c = 2 * c if reduction else c
        # both preprocessings write the cell's input resolution: c_prev_prev -> c, c_prev -> c (+ affine BN)
        frame += [c_prev_prev * c + 2 * c, side * side * c_prev_prev * c]
        frame += [c_prev * c + 2 * c, side * side * c_prev * c]
        out_side = side // 2 if reduction else side
        for op, name in enumerate(OPS):
            for strided in (0, 1):
                if strided and not reduction:
                    continue
                edges[int(reduction), op, strided] += _operation(name, c, out_side, bool(strided))
        reduction_prev = reduction
        c_prev_prev, c_prev, side = c_prev, NODES * c, out_side
        if auxiliary and position == reductions[1]:
            frame[0] += c_prev * 128 + 2 * 128 + 128 * 768 * 4 + 2 * 768 + 768 * num_classes + num_classes
    del reduction_prev  # the factorized reduction and the 1x1 preprocessing cost the same
    frame += [c_prev * num_classes + num_classes, c_prev * num_classes]
    return frame, edges


def costs(inputs: np.ndarray, ops: np.ndarray, channels: int, cells: int, num_classes: int,
          auxiliary: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(parameters, MACs) of each architecture of (n, 2, 4, 2) ``inputs`` and ``ops``, as float64."""
    frame, edges = tables(channels, cells, num_classes, auxiliary)
    strided = np.zeros(inputs.shape, dtype=np.int64)
    strided[:, 1] = inputs[:, 1] < 2  # a reduction cell's edges out of its two inputs
    kind = np.broadcast_to(np.arange(2)[None, :, None, None], inputs.shape)
    per_edge = edges[kind, ops, strided]  # (n, 2, 4, 2, 2)
    total = frame[None, :] + per_edge.reshape(len(inputs), -1, 2).sum(axis=1)
    return total[:, 0].astype(np.float64), total[:, 1].astype(np.float64)
