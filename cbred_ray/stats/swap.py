"""SWAP: the number of distinct sample-wise activation patterns of the ReLUs over a batch.

Peng, Song, Fayek, Ciesielski, Chang, "SWAP-NAS: Sample-Wise Activation Patterns for Ultra-fast NAS",
ICLR 2024 (github.com/pym1024/SWAP, ``src/metrics/swap.py`` and ``correlation.py``).
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

from cbred_ray.stats.numerics import StatisticFailed, finite
from cbred_ray.stats.reinit import gaussian_init_

SWAP_BATCH = 16
"""Real images SWAP reads (``--input_samples 16``)."""
SWAP_REPEATS = 32
"""Gaussian re-initialisations SWAP averages over (``--repeats 32``)."""


def activation_patterns(net: nn.Module, batch: torch.Tensor) -> int:
    """The number of distinct rows of the (units, samples) sign matrix of every ReLU's output whose input
    is a 4-D map (the reference's hook), one forward without gradients."""
    outputs: list[torch.Tensor] = []

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        if inputs[0].dim() == 4:
            outputs.append(torch.sign(output.detach()).reshape(len(batch), -1))

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, nn.ReLU)]
    try:
        with torch.no_grad():
            net(batch)
    finally:
        for handle in handles:
            handle.remove()
    if not outputs:
        raise StatisticFailed("network has no ReLU on a feature map")
    return distinct_patterns(torch.cat(outputs, dim=1))


_BITS = 62
"""Samples packed into one int64 code per unit."""


def distinct_patterns(signs: torch.Tensor) -> int:
    """The number of distinct columns of a (samples, units) 0/1 matrix: ``torch.unique(signs.T, dim=0)``'s
    row count, computed on each unit's pattern packed into int64 codes of 62 samples (one code for SWAP's
    16 samples), which sorts integers instead of rows."""
    bits = signs.to(torch.int64)
    words = []
    for start in range(0, bits.shape[0], _BITS):
        chunk = bits[start:start + _BITS]
        weights = torch.pow(2, torch.arange(chunk.shape[0], device=bits.device, dtype=torch.int64))
        words.append((chunk * weights[:, None]).sum(dim=0))
    codes = torch.stack(words, dim=1)
    if codes.shape[1] == 1:
        return int(torch.unique(codes[:, 0]).numel())
    return int(torch.unique(codes, dim=0).shape[0])


def swap_regulariser(net: nn.Module, mu: float, sigma: float) -> float:
    """exp(-(P - μ)² / σ), P the number of parameters in thousands (the reference's ``cal_regular_factor``)."""
    thousands = sum(p.numel() for p in net.parameters()) / 1e3
    return math.exp(-((thousands - mu) ** 2) / sigma)


def swap(net: nn.Module, batch: torch.Tensor, repeats: int = SWAP_REPEATS, mu: float | None = None,
         sigma: float | None = None, train_mode: bool = True, *, generator: torch.Generator) -> float:
    """SWAP = the mean over ``repeats`` Gaussian re-initialisations of the number of distinct activation
    patterns (:func:`activation_patterns`) of the batch, times exp(-(P - μ)²/σ) when ``mu`` and ``sigma``
    are given (regularised SWAP; P in thousands of parameters). Higher is better.

    As the reference (``correlation.py``): 16 real images, no labels; before each repeat every convolution
    and linear weight re-drawn from N(0, 1), biases 0, BatchNorm 1 and 0 (``network_weight_gaussian_init``),
    each repeat's draw following the last from one seeded stream (``generator``, the engine's); train mode
    (the reference never calls ``eval``). The network given is not changed.
    """
    if (mu is None) != (sigma is None):
        raise StatisticFailed("regularised SWAP needs both mu and sigma")
    counts, model = [], copy.deepcopy(net).train(train_mode)
    for _ in range(repeats):
        counts.append(activation_patterns(gaussian_init_(model, generator), batch))
    factor = 1.0 if mu is None else swap_regulariser(net, mu, sigma)
    return finite(sum(counts) / len(counts) * factor, "swap")
