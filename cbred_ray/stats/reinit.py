"""Seeded re-initialisations that some statistics make before they measure (Zen-NAS, AZ-NAS, SWAP).

Each returns a re-initialised deep copy, so the caller's network (which the engine shares between
statistics) keeps PyTorch's initialisation. Random numbers are drawn on the CPU from the given
generator and then copied to the network's device, so a seed gives the same weights on every device.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

WEIGHTED = (nn.Conv2d, nn.Linear)


def _normal_like(tensor: torch.Tensor, std: float, generator: torch.Generator) -> torch.Tensor:
    """N(0, std²) values of ``tensor``'s shape: the draws ``nn.init.normal_(cpu_tensor, 0, std, generator)``
    makes, then moved to ``tensor``'s device."""
    return torch.empty(tensor.shape, dtype=tensor.dtype).normal_(0.0, std, generator=generator).to(tensor.device)


def _reset_norms(net: nn.Module) -> None:
    """BatchNorm (and GroupNorm) weight 1 and bias 0, where affine."""
    for module in net.modules():
        if isinstance(module, (_BatchNorm, nn.GroupNorm)) and module.affine:
            module.weight.fill_(1.0)
            module.bias.zero_()


def gaussian_copy(net: nn.Module, generator: torch.Generator) -> nn.Module:
    """A copy with every convolution and linear weight drawn from N(0, 1), biases 0, norms 1 and 0:
    Zen-NAS's (and SWAP's) ``network_weight_gaussian_init``."""
    return gaussian_init_(copy.deepcopy(net), generator)


def gaussian_init_(net: nn.Module, generator: torch.Generator) -> nn.Module:
    """:func:`gaussian_copy`'s initialisation, in place on ``net``."""
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, WEIGHTED):
                module.weight.copy_(_normal_like(module.weight, 1.0, generator))
                if module.bias is not None:
                    module.bias.zero_()
        _reset_norms(net)
    return net


def kaiming_fan_in_copy(net: nn.Module, generator: torch.Generator) -> nn.Module:
    """A copy with every convolution and linear weight drawn from N(0, 2 / fan_in) (He et al.'s
    normal init for ReLU, fan-in mode), biases 0, norms 1 and 0: AZ-NAS's ``kaiming_normal_fanin_init``."""
    net = copy.deepcopy(net)
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, WEIGHTED):
                fan_in = module.weight[0].numel()
                module.weight.copy_(_normal_like(module.weight, math.sqrt(2.0 / fan_in), generator))
                if module.bias is not None:
                    module.bias.zero_()
        _reset_norms(net)
    return net


def gaussian_inputs(batch_size: int, generator: torch.Generator, device: torch.device | str,
                    shape: tuple[int, ...] = (3, 32, 32)) -> torch.Tensor:
    """A (batch_size, *shape) standard-normal batch, drawn on the CPU from ``generator``."""
    return torch.randn((batch_size, *shape), generator=generator).to(device)
