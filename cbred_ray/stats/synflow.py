"""SynFlow and log-SynFlow: data-free saliency sums with |θ| and an all-ones input.

SynFlow: Tanaka, Kunin, Yamins, Ganguli, "Pruning neural networks without any data by
iteratively conserving synaptic flow", NeurIPS 2020; as a NAS proxy: Abdelfattah, Mehrotra,
Dudziak, Lane, "Zero-Cost Proxies for Lightweight NAS", ICLR 2021 (github.com/SamsungLabs/
zero-cost-nas, ``foresight/pruners/measures/synflow.py``). log-SynFlow: Cavagnero, Robbiano,
Caputo, Averta, "FreeREA: Training-Free Evolution-based Architecture Search", WACV 2023.

Convention of both reference codes, followed here: BatchNorm is *disabled* (zero-cost-nas
scores a copy of the network built without BN, ``get_prunable_copy(bn=False)``; FreeREA
replaces each BN's forward with the identity), not switched to eval mode; the network runs
in float64; the scores sum over the weights of Conv2d and Linear layers (biases and BN
affine parameters are not scored).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.func import functional_call

from cbred_ray.stats.numerics import StatisticFailed, batchnorm_bypassed, finite

Terms = list[tuple[torch.Tensor, torch.Tensor]]
"""The (|θ|, ∂R/∂θ) pairs of ``synflow_terms``: both scores read the same backward pass."""


def synflow_terms(net: nn.Module, input_shape: tuple[int, ...] = (1, 3, 32, 32)) -> Terms:
    """(|θ|, ∂R/∂θ) in float64 for the weight θ of each Conv2d/Linear layer.

    Every parameter is replaced by its absolute value in float64 (through
    ``torch.func.functional_call``: the caller's parameters are untouched), BatchNorm is
    bypassed, and R is the sum of the outputs for an all-ones input of ``input_shape``.
    A weight that R does not depend on gets a zero gradient.
    """
    weights = [f"{name}.weight" for name, m in net.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    state = {name: p.detach().abs().double() for name, p in net.named_parameters()}
    for name in weights:
        state[name].requires_grad_(True)
    device = next(net.parameters()).device
    with batchnorm_bypassed(net):
        output = functional_call(net, state, (torch.ones(input_shape, dtype=torch.float64, device=device),))
    grads = torch.autograd.grad(output.sum(), [state[name] for name in weights], allow_unused=True)
    return [
        (state[name].detach(), torch.zeros_like(state[name]) if grad is None else grad)
        for name, grad in zip(weights, grads)
    ]


def synflow_score(terms: Terms) -> float:
    """ln(Σ |θ ⊙ ∂R/∂θ|) over ``terms``; StatisticFailed when the sum is zero or not finite."""
    total = sum(float((weight * grad).abs().sum()) for weight, grad in terms)
    if total <= 0.0:
        raise StatisticFailed("synflow is zero: no signal path from input to output")
    return finite(math.log(total), "ln(synflow)")


def logsynflow_score(terms: Terms) -> float:
    """Σ |θ ⊙ log(|∂R/∂θ| + 1)| over ``terms``."""
    return finite(sum(float((weight * torch.log1p(grad.abs())).abs().sum()) for weight, grad in terms), "logsynflow")


def synflow(net: nn.Module) -> float:
    """ln(SynFlow): the natural log of Σ |θ ⊙ ∂R/∂θ| (see module docstring). Higher is better.

    The raw SynFlow of an NB201 network reaches ~1e60, so the statistic (and any column
    holding it) is ln(synflow). Raises StatisticFailed when the sum is zero (no path from
    input to output) or not finite.
    """
    return synflow_score(synflow_terms(net))


def logsynflow(net: nn.Module) -> float:
    """log-SynFlow (FreeREA): Σ |θ ⊙ log(|∂R/∂θ| + 1)| (see module docstring). Higher is better."""
    return logsynflow_score(synflow_terms(net))
