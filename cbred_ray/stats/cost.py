"""Cost measures of a network: parameter count and multiply-accumulates (MACs)."""

from __future__ import annotations

import torch
from torch import nn

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
