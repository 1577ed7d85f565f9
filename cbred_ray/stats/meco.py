"""MeCo: the minimum eigenvalue of the Pearson correlation of each layer's feature map.

Jiang, Wang, Bie, "MeCo: Zero-Shot NAS with One Data and Single Forward Pass via Minimum
Eigenvalue of Correlation", NeurIPS 2023; reference code github.com/HamsterMimi/MeCo
(``correlation/NAS_Bench_201.py``, ``get_score``).
"""

from __future__ import annotations

import torch
from torch import nn

from cbred_ray.stats.numerics import finite, restored_state

MECO_BATCH = 1
"""Images MeCo reads: one real image (the reference's ``batch_size = 1``)."""


def channel_correlation_min_eigenvalue(feature: torch.Tensor) -> torch.Tensor:
    """λ_min of the (C, C) Pearson correlation of one sample's (C, ...) feature map across its positions;
    NaN and infinite entries (a constant channel, a map with one position) are set to 0, as the reference does."""
    rows = feature.reshape(feature.shape[0], -1).double()
    if rows.shape[0] < 2 or rows.shape[1] < 2:
        # one position (a linear layer's output): every correlation is NaN, set to 0, so λ_min is 0, as in the
        # reference; one channel: no matrix to speak of (never in NB201's networks)
        return torch.zeros((), dtype=torch.float64, device=feature.device)
    corr = torch.corrcoef(rows)
    corr = torch.where(torch.isfinite(corr), corr, torch.zeros_like(corr))
    return torch.linalg.eigvalsh(corr)[0]


def meco(net: nn.Module, batch: torch.Tensor, train_mode: bool = True) -> float:
    """MeCo = Σ over every module of λ_min of the channel correlation of its output for the first
    image. Higher is better.

    Published setup (the reference's ``get_score``): a forward hook on *every* module of
    ``named_modules()``, the root and the containers included (so a feature map that several nested
    modules return is counted once per module, as there); each hook takes the output's first sample,
    (C, H, W), as C rows over H·W positions, ``torch.corrcoef``, NaN and infinity set to 0, and the
    smallest real eigenvalue; one image (``batch_size = 1``), one forward pass, no labels, the
    network as built (train mode, BatchNorm on the batch of one, PyTorch's default initialisation).
    A linear layer's (K,) output gives a (K, 1) map whose correlation is all NaN, so it adds 0.
    Departure: ``eigvalsh`` of the symmetric matrix in float64, where the reference takes the real
    parts of a general ``eig`` in float32 (the same spectrum up to rounding).
    """
    total = torch.zeros((), dtype=torch.float64, device=batch.device)

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output) -> None:
        nonlocal total
        if isinstance(output, torch.Tensor) and output.dim() >= 1:
            first = output[0].detach()
            total = total + channel_correlation_min_eigenvalue(first if first.dim() else first.reshape(1))

    handles = [module.register_forward_hook(hook) for _, module in net.named_modules()]
    try:
        with restored_state(net), torch.no_grad():
            net.train(train_mode)
            net(batch[:MECO_BATCH])
    finally:
        for handle in handles:
            handle.remove()
    return finite(total.item(), "meco")
