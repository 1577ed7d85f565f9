"""The cost model of the cell spaces, in closed form and without torch: parameters and MACs of NB201's
macro network (:class:`cbred_ray.spaces.cell.network.NB201Network`) around each cell.

The network is a fixed frame (the stem, the two residual reduction blocks, the last batch norm and the
classifier) plus, in each of its ``cells_per_stage`` cells per stage, the convolution edges of the cell.
Per stage of width C at resolution H × H, a k×k convolution edge adds C²k² weights and 2C batch-norm
parameters, and H²C²k² MACs; skips, pooling and ``none`` add nothing. MACs count convolutions and linear
layers only, as :func:`cbred_ray.stats.cost.macs` does; a test holds both equal to the built network's.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from cbred_ray.spaces.cell.graph import CellLayout

_CONV_AREA = {"nor_conv_1x1": 1, "nor_conv_3x3": 9}
_SIDE = 32
"""The input images' side (CIFAR)."""


def frame_costs(num_classes: int, channels: int) -> tuple[float, float]:
    """(parameters, MACs) of the network's fixed frame: a 3×3 stem and its batch norm, two reduction blocks
    (a stride-2 and a stride-1 3×3 ReLU-conv-BN, and an average-pooled 1×1 shortcut), the last batch norm
    and the linear classifier."""
    params = 3 * channels * 9 + 2 * channels
    macs = _SIDE * _SIDE * channels * 3 * 9
    for stage in (1, 2):
        c_in, c_out, side = channels * 2 ** (stage - 1), channels * 2**stage, _SIDE // 2**stage
        params += c_in * c_out * 9 + 2 * c_out + c_out * c_out * 9 + 2 * c_out + c_in * c_out
        macs += side * side * c_out * (c_in * 9 + c_out * 9 + c_in)
    width = 4 * channels
    params += 2 * width + width * num_classes + num_classes
    macs += width * num_classes
    return float(params), float(macs)


def cell_costs(space: CellLayout, cells: np.ndarray, num_classes: int = 100, channels: int = 16,
               cells_per_stage: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """(params, MACs) of the NB201 macro network around each cell (rows of the space's operation indices).

    Every edge that is not ``none`` counts: pass canonical cells to count the pruned network the
    statistics are computed on, or the cells as given to count every edge as NB201's own tables do."""
    cells = np.asarray(cells).reshape(-1, space.num_edges)
    fixed_params, fixed_macs = frame_costs(num_classes, channels)
    total_params, total_macs = np.full(len(cells), fixed_params), np.full(len(cells), fixed_macs)
    for stage in range(3):
        width, side = channels * 2**stage, _SIDE // 2**stage
        for op, area in _CONV_AREA.items():
            if op not in space.ops:
                continue
            edges = (cells == space.ops.index(op)).sum(axis=1) * cells_per_stage
            total_params += edges * (width * width * area + 2 * width)
            total_macs += edges * (side * side * width * width * area)
    return total_params, total_macs
