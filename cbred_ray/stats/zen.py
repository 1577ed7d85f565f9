"""Zen-score: the log expected change of the pre-pooling features under a small input perturbation,
corrected by the BatchNorm scaling, on a Gaussian-initialised network with Gaussian inputs.

Lin, Wang, Sun, Chen, Sun, Qian, Li, Jin, "Zen-NAS: A Zero-Shot NAS for High-Performance Image
Recognition", ICCV 2021 (github.com/idstcv/ZenNAS, ``ZeroShotProxy/compute_zen_score.py``); as
NAS-Bench-Suite-Zero's ``zen.py`` runs it on NB201 (one repeat, the batch's shape).
"""

from __future__ import annotations

import torch
from torch import nn

from cbred_ray.stats.numerics import finite
from cbred_ray.stats.reinit import gaussian_copy, gaussian_inputs

ZEN_BATCH = 64
"""Gaussian images Zen draws: the shape of the zero-cost set's batch of 64 (NAS-Bench-Suite-Zero)."""
ZEN_MIXUP = 1e-2
"""The perturbation's scale (``mixup_gamma``)."""


def zen(net: nn.Module, batch_size: int = ZEN_BATCH, mixup_gamma: float = ZEN_MIXUP, repeats: int = 1, *,
        generator: torch.Generator) -> float:
    """Zen = log E_n ‖f(x_n) - f(x_n + γ ε_n)‖₁ + Σ over BatchNorm2d layers of log √(mean running_var),
    averaged over ``repeats``. Higher is better. Data-free.

    Published setup (ZenNAS ``compute_nas_score``): every convolution and linear weight re-drawn from
    N(0, 1), biases 0, BatchNorm weight 1 and bias 0; x and ε standard-normal (``batch_size`` images of
    3x32x32), γ = 0.01; f the feature map before the global pooling (after the last BatchNorm and
    ReLU); both forwards in train mode without gradients, so the running variances the correction
    reads are those the two forwards leave (momentum 0.1 from 1). The network given is not changed
    (the re-initialisation is on a copy). Random numbers come from ``generator`` (the engine's).
    """
    device = next(net.parameters()).device
    scores = []
    for _ in range(repeats):
        model = gaussian_copy(net, generator).train()
        x = gaussian_inputs(batch_size, generator, device)
        noise = gaussian_inputs(batch_size, generator, device)
        with torch.no_grad():
            output = model.pre_pool(x)
            mixed = model.pre_pool(x + mixup_gamma * noise)
            change = (output - mixed).abs().sum(dim=tuple(range(1, output.dim()))).mean()
            correction = sum(torch.log(torch.sqrt(m.running_var.mean())) for m in model.modules()
                             if isinstance(m, nn.BatchNorm2d))
            scores.append(torch.log(change) + correction)
    return finite(torch.stack(scores).mean(), "zen")
