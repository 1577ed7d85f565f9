"""Shared helpers for the statistics tests: small NB201 networks and batches."""

import torch

from cbred_ray.spaces.cell.network import build_network

ALL_CONV = ["nor_conv_3x3"] * 6
MIXED = ["nor_conv_3x3", "skip_connect", "nor_conv_1x1", "avg_pool_3x3", "nor_conv_3x3", "skip_connect"]
SMALL = {"channels": 8, "cells_per_stage": 1}


def small_net() -> torch.nn.Module:
    """A seeded NB201 network with the MIXED cell, 8 channels, one cell per stage."""
    torch.manual_seed(0)
    return build_network(MIXED, **SMALL)


def batch16() -> torch.Tensor:
    """A seeded standard-normal batch of 16 CIFAR-sized images."""
    return torch.randn(16, 3, 32, 32, generator=torch.Generator().manual_seed(1))


def labels16(num_classes: int = 100) -> torch.Tensor:
    """Seeded labels for ``batch16``: 16 classes drawn from ``num_classes``, some repeated."""
    return torch.randint(0, num_classes, (16,), generator=torch.Generator().manual_seed(2))
