"""ZiCo: the inverse coefficient of variation of the loss gradients across batches.

Li, Yang, Wang, Marculescu, "ZiCo: Zero-shot NAS via Inverse Coefficient of Variation on
Gradients", ICLR 2023 (github.com/SLDGroup/ZiCo, ``ZeroShotProxy/compute_zico.py``: ``getzico``,
``caculate_zico``), in the paper's setup: two batches of 128 labelled images ("we set the batch size as
128 and use two batches"; AZ-NAS's port of it uses two of 64).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from cbred_ray.stats.numerics import StatisticFailed, finite, restored_state
from cbred_ray.stats.zero_cost import SCORED_LAYERS

ZICO_BATCHES = 2
"""Batches ZiCo's statistics run across (the paper's N = 2)."""
ZICO_BATCH = 256
"""Labelled images ZiCo reads: two batches of 128 (the paper's)."""


def zico(net: nn.Module, batch: torch.Tensor, labels: torch.Tensor, batches: int = ZICO_BATCHES,
         train_mode: bool = True) -> float:
    """ZiCo = Σ over convolutions and linear layers of log Σ_θ E|g_θ| / σ(g_θ), g_θ the gradient of the
    cross-entropy with respect to weight θ on each of ``batches`` equal splits of the batch, E and σ
    (population standard deviation) across the splits, over the weights whose σ is not 0; a layer whose
    sum is 0 adds nothing. Higher is better.

    As the reference: train mode, PyTorch's initialisation, ``F.cross_entropy`` (mean) per split, the
    gradient of each split on its own (``zero_grad`` between them), float64 statistics (numpy's there).
    A layer that no path to the output reaches has no gradient (the reference would fail on it): zero,
    so σ = 0 and it adds nothing.
    """
    if batches < 2 or len(batch) < batches:
        raise StatisticFailed(f"ZiCo needs at least 2 splits of at least one image, got {batches} of {len(batch)}")
    layers = [m for m in net.modules() if isinstance(m, SCORED_LAYERS)]
    weights = [layer.weight for layer in layers]
    size = len(batch) // batches
    per_split = []
    with restored_state(net), torch.enable_grad():
        net.train(train_mode)
        for split in range(batches):
            part = slice(split * size, (split + 1) * size)
            loss = F.cross_entropy(net(batch[part]), labels[part])
            grads = torch.autograd.grad(loss, weights, allow_unused=True)
            per_split.append([torch.zeros_like(w) if g is None else g.detach() for w, g in zip(weights, grads)])
    total = 0.0
    for layer_grads in zip(*per_split):
        g = torch.stack([x.reshape(-1) for x in layer_grads]).double()
        std = g.std(dim=0, unbiased=False)
        kept = std != 0
        ratio = float((g.abs().mean(dim=0)[kept] / std[kept]).sum())
        if ratio != 0:
            total += math.log(ratio)
    return finite(total, "zico")
