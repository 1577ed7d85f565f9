"""Cost measures of a network: parameter count and multiply-accumulates (MACs)."""

from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call
from torch.utils.flop_counter import FlopCounterMode

from cbred_ray.stats.numerics import batchnorm_bypassed


def params(net: nn.Module) -> float:
    """Number of parameters (all of them, as NB201's ``count_parameters_in_MB``). Lower is cheaper."""
    return float(sum(p.numel() for p in net.parameters()))


def macs(net: nn.Module, input_shape: tuple[int, ...] = (1, 3, 32, 32)) -> float:
    """MACs of one forward pass on ``input_shape`` (default: one CIFAR image). Lower is cheaper.

    Counted by ``torch.utils.flop_counter.FlopCounterMode`` (convolutions and matrix
    products; MACs = FLOPs / 2); elementwise ops, pooling and BatchNorm are not counted.
    The pass runs on the ``meta`` device (shapes only, no arithmetic) with BatchNorm
    bypassed, which the counter would otherwise decompose slowly without counting it.
    The caller's network is not modified.
    """
    state = {name: t.to("meta") for name, t in (*net.named_parameters(), *net.named_buffers())}
    counter = FlopCounterMode(display=False)
    with batchnorm_bypassed(net), torch.no_grad(), counter:
        functional_call(net, state, (torch.zeros(input_shape, device="meta"),))
    return counter.get_total_flops() / 2.0
