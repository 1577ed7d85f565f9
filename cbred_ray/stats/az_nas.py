"""AZ-NAS's four components: expressivity, progressivity, trainability (one pass) and complexity.

Lee and Ham, "AZ-NAS: Assembling Zero-Cost Proxies for Network Architecture Search", CVPR 2024
(github.com/cvlab-yonsei/AZ-NAS, ``NB201/ZeroShotProxy/compute_az_nas_score.py``; the aggregation is
in ``NB201/tss_general.ipynb``). The components are computed from the feature maps of the stem and of
every block (18 maps on NB201) of a Kaiming-initialised network on a Gaussian batch; complexity is the
network's FLOPs (``cbred_ray.stats.cost.macs``, half of them). The aggregate AZ-NAS score is
Σ_m log(rank_m / N) over the four components across the architectures scored together: a property of
a population, not of one network, so it lives with the other combinations of statistics
(``select.combine: log_rank``), not here.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn

from cbred_ray.stats.numerics import StatisticFailed, finite
from cbred_ray.stats.reinit import gaussian_inputs, kaiming_fan_in_copy

AZ_BATCH = 64
"""Gaussian images AZ-NAS draws on NB201 (``batch_size`` 64 of ``weight-sharing.config``)."""
AZ_EPS = 1e-8
"""The regulariser inside the logarithm of the eigenvalue entropy."""


class AzPass(NamedTuple):
    """The per-map expressivities and per-block trainabilities of one pass (-inf for an identity block)."""

    expressivities: list[float]
    trainabilities: list[float]


def _entropy_of_spectrum(feature: torch.Tensor) -> float:
    """Σ -p log(p + 1e-8), p the eigenvalues of the channel covariance of the (B·H·W, C) map, normalised."""
    channels = feature.shape[1]
    rows = feature.detach().transpose(0, 1).reshape(channels, -1).T.double()  # (B·H·W, C)
    rows = rows - rows.mean(dim=0, keepdim=True)
    sigma = rows.T @ rows / rows.shape[0]
    spectrum = torch.linalg.eigvalsh(sigma)
    p = spectrum / spectrum.sum()
    return float((-p * torch.log(p + AZ_EPS)).sum())


def _block_trainability(f_in: torch.Tensor, f_out: torch.Tensor, generator: torch.Generator) -> float:
    """-σ - 1/(σ + 1e-6) + 2 for σ the largest singular value of E[g_in g_outᵀ], g_out Rademacher noise
    back-propagated through the block to g_in (-inf when the block passes g_out through unchanged)."""
    g_out = ((torch.bernoulli(torch.full(f_out.shape, 0.5), generator=generator) - 0.5) * 2).to(f_out)
    g_in = None
    if f_out.requires_grad and f_in.requires_grad:
        (g_in,) = torch.autograd.grad(f_out, f_in, g_out, allow_unused=True)
    if g_in is None:  # the block's output does not depend on its input (only 'none' paths): zero gradient
        g_in = torch.zeros_like(f_in)
    if g_in.shape == g_out.shape and torch.equal(g_in, g_out):
        return -math.inf
    if g_in.shape[2:] != g_out.shape[2:]:
        g_in = nn.functional.pixel_unshuffle(g_in, g_in.shape[2] // g_out.shape[2])
    bo, co, ho, wo = g_out.shape
    a = g_in.permute(0, 2, 3, 1).reshape(-1, g_in.shape[1])
    b = g_out.permute(0, 2, 3, 1).reshape(-1, co)
    matrix = (a.T @ b) / (bo * ho * wo)
    sigma = float(torch.linalg.svdvals(matrix).max())
    return -sigma - 1.0 / (sigma + 1e-6) + 2.0


def az_pass(net: nn.Module, batch_size: int = AZ_BATCH, train_mode: bool = True, *,
            generator: torch.Generator) -> AzPass:
    """One forward of a Gaussian batch through a Kaiming-initialised copy of ``net``, keeping every
    block's output, and one Rademacher backward per block.

    As the reference: weights N(0, 2/fan_in) for convolutions and linear layers, biases 0, BatchNorm
    1 and 0 (``kaiming_normal_fanin_init``); ``batch_size`` standard-normal 3x32x32 images; train mode;
    the maps are the stem's output and each block's (``cell_features``). Departures: the covariances'
    eigenvalues in float64 (the reference: float32), and a block whose output does not depend on its
    input (our networks drop 'none' edges; the reference multiplies by 0) gets the zero gradient the
    reference's multiplication by 0 gives.
    """
    device = next(net.parameters()).device
    model = kaiming_fan_in_copy(net, generator).train(train_mode)
    x = gaussian_inputs(batch_size, generator, device)
    with torch.enable_grad():
        features = model.cell_features(x)
        expressivities = [_entropy_of_spectrum(f) for f in features]
        trainabilities = [_block_trainability(features[i - 1], features[i], generator)
                          for i in reversed(range(1, len(features)))]
    return AzPass(expressivities, trainabilities)


def expressivity_score(result: AzPass) -> float:
    """s^E = Σ over the maps of the entropy of their normalised covariance spectrum."""
    return finite(sum(result.expressivities), "az_expressivity")


def progressivity_score(result: AzPass) -> float:
    """s^P = min over consecutive maps of the growth of their expressivity."""
    e = result.expressivities
    if len(e) < 2:
        raise StatisticFailed("progressivity needs at least two feature maps")
    return finite(min(b - a for a, b in zip(e, e[1:])), "az_progressivity")


def trainability_score(result: AzPass) -> float:
    """s^T = the mean over blocks of their trainability; -inf (a failure here) when a block is the identity,
    which the reference's ranking puts last."""
    return finite(sum(result.trainabilities) / len(result.trainabilities), "az_trainability")


def az_expressivity(net: nn.Module, batch_size: int = AZ_BATCH, train_mode: bool = True, *,
                    generator: torch.Generator) -> float:
    """AZ-NAS expressivity: Σ_l H(spectrum of the channel covariance of map l). Higher is better."""
    return expressivity_score(az_pass(net, batch_size, train_mode, generator=generator))


def az_progressivity(net: nn.Module, batch_size: int = AZ_BATCH, train_mode: bool = True, *,
                     generator: torch.Generator) -> float:
    """AZ-NAS progressivity: min_l (E_{l+1} - E_l) over the maps' expressivities. Higher is better."""
    return progressivity_score(az_pass(net, batch_size, train_mode, generator=generator))


def az_trainability(net: nn.Module, batch_size: int = AZ_BATCH, train_mode: bool = True, *,
                    generator: torch.Generator) -> float:
    """AZ-NAS trainability: mean over blocks of -σ - 1/σ + 2, σ the spectral norm of the block's
    Rademacher-probed Jacobian correlation (0 at σ = 1, an isometry). Higher is better."""
    return trainability_score(az_pass(net, batch_size, train_mode, generator=generator))
