"""Cost measures of a network: parameter count and multiply-accumulates (MACs)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from cbred_ray.stats.network import build_network
from cbred_ray.stats.numerics import restored_state


def params(net: nn.Module) -> float:
    """Number of parameters (all of them, as NB201's ``count_parameters_in_MB``). Lower is cheaper."""
    return float(sum(p.numel() for p in net.parameters()))


def macs(net: nn.Module, input_shape: tuple[int, ...] = (1, 3, 32, 32)) -> float:
    """MACs of one forward pass on ``input_shape`` (default: one CIFAR image). Lower is cheaper.

    Convolutions and linear layers only, as ``torch.utils.flop_counter.FlopCounterMode``
    counts them (MACs = its FLOPs / 2; a test holds the two equal): a convolution costs
    (output elements per sample) x (input channels / groups) x kernel area, a linear layer
    in_features x out_features; elementwise ops, pooling, BatchNorm and biases are not
    counted. Counted with forward hooks during one eval-mode pass of a zero input (about
    ten times faster than the counter's dispatch mode). The caller's network is unchanged.
    """
    total = 0

    def conv(module: nn.Conv2d, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal total
        kernel = module.kernel_size[0] * module.kernel_size[1]
        total += output[0].numel() * (module.in_channels // module.groups) * kernel

    def linear(module: nn.Linear, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal total
        total += output[0].numel() * module.in_features

    handles = [m.register_forward_hook(conv) for m in net.modules() if isinstance(m, nn.Conv2d)]
    handles += [m.register_forward_hook(linear) for m in net.modules() if isinstance(m, nn.Linear)]
    device = next(net.parameters()).device
    try:
        with restored_state(net), torch.no_grad():
            net.eval()
            net(torch.zeros(input_shape, device=device))
    finally:
        for handle in handles:
            handle.remove()
    return float(total)


def cell_costs(space, cells: np.ndarray, num_classes: int = 100, channels: int = 16,
               cells_per_stage: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """(params, MACs) of the NB201 macro network around each cell of a cell space, in closed form,
    without building one.

    ``space``: a :class:`~cbred_ray.spaces.cell.CellSpace` (NB201 or N nodes); ``cells``: rows of its
    operation indices. Every edge that is not ``none`` counts, so pass canonical cells to count the
    pruned network the statistics are computed on, or the cells as given to count every edge as
    NB201's own tables do. The network's fixed part (stem, reduction blocks, head) is measured once
    on the all-``none`` cell; each convolution edge then adds, per cell of a stage at width C and
    resolution H x H, C²k² weights and 2C BatchNorm parameters, and H²C²k² MACs. Equal to ``params``
    and ``macs`` of ``build_network`` (a test holds them equal).
    """
    cells = np.asarray(cells).reshape(-1, space.num_edges)
    base = build_network(["none"] * space.num_edges, num_classes, channels, cells_per_stage, edges=space.edges)
    total_params = np.full(len(cells), params(base))
    total_macs = np.full(len(cells), macs(base))
    for stage in range(3):
        width, side = channels * 2**stage, 32 // 2**stage
        for op, area in (("nor_conv_1x1", 1), ("nor_conv_3x3", 9)):
            if op not in space.ops:
                continue
            edges = (cells == space.ops.index(op)).sum(axis=1) * cells_per_stage
            total_params += edges * (width * width * area + 2 * width)
            total_macs += edges * (side * side * width * width * area)
    return total_params, total_macs
