"""The untrained networks of one architecture, by the network family of its space.

The statistics engine builds, for one architecture, up to three networks (``Statistic.network``):

- ``standard``: the benchmark's network for the architecture, at the width statistics are computed
  at (NB201 and N-node cell spaces: NB201's macro network, 16 channels, 5 cells per stage; NB101:
  the benchmark's network with a stem of ``width`` channels, :data:`NB101_WIDTH` by default);
- ``small``: the smaller copy on which the NTK is computed (TE-NAS: NB201's network at 3 channels
  and one cell per stage; NB101: one cell per stack at :data:`NB101_SMALL_WIDTH` channels, since
  fewer channels than the output vertex's in-degree leave a vertex without any);
- ``thin``: TE-NAS's thin network for counting linear regions (cell spaces only: one cell at one
  channel, no stem; an NB101 cell at one channel has vertices with none, so NB101 has no thin
  network and ``linear_regions`` is refused for it).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from torch import nn

from cbred_ray.errors import BadInput
from cbred_ray.stats.linear_regions import build_thin_network
from cbred_ray.stats.network import EDGES, build_network

SMALL_NETWORK = {"channels": 3, "cells_per_stage": 1}
"""TE-NAS computes the NTK on the NB201 network with C=3, N=1 (``prune_tenas.py``, ``model_config``)."""
NB101_WIDTH = 8
"""Stem channels of the NB101 network statistics are computed on (the benchmark trains at 128). Chosen by
``benchmarks/nb101_width.py`` (300 seeded cells, CIFAR-10 accuracy; ``results/nb101_width.json``) with a
rule fixed before its results were read: the cheapest width at which every statistic's Kendall τ is within
0.03 of its best over the widths measured (8, 16, 32). At 8 channels: all statistics 1.27 s per cell (16:
1.38 s, 32: 2.16 s, one thread), τ of NASWOT v2 0.298 (16: 0.285, 32: 0.284), log-synflow 0.276 (0.287,
0.293), synflow 0.250 (0.270, 0.280)."""
NB101_SMALL_WIDTH = 16
KINDS = ("standard", "small", "thin")


@dataclass(frozen=True)
class CellNetworks:
    """The networks of one cell: its operation names in edge order, and the space's edges."""

    ops: tuple[str, ...]
    edges: tuple[tuple[int, int], ...] = EDGES
    channels: int = 16
    cells_per_stage: int = 5

    def build(self, kind: str, num_classes: int) -> nn.Module:
        if kind == "standard":
            return build_network(self.ops, num_classes, self.channels, self.cells_per_stage, edges=self.edges)
        if kind == "small":
            return build_network(self.ops, num_classes, edges=self.edges, **SMALL_NETWORK)
        if kind == "thin":
            return build_thin_network(self.ops, num_classes, edges=self.edges)
        raise BadInput(f"unknown network kind {kind!r} (known: {', '.join(KINDS)})")


@dataclass(frozen=True)
class NB101Networks:
    """The networks of one NB101 cell (a pruned spec): the benchmark's network at ``width``."""

    matrix: tuple[tuple[int, ...], ...]
    ops: tuple[str, ...]
    width: int = NB101_WIDTH
    cells_per_stack: int = 3

    def build(self, kind: str, num_classes: int) -> nn.Module:
        from cbred_ray.stats.nb101_network import build_nb101_network

        matrix = np.asarray(self.matrix)
        if kind == "standard":
            return build_nb101_network(matrix, self.ops, num_classes, stem_channels=self.width,
                                       cells_per_stack=self.cells_per_stack)
        if kind == "small":
            return build_nb101_network(matrix, self.ops, num_classes, stem_channels=NB101_SMALL_WIDTH,
                                       cells_per_stack=1)
        if kind == "thin":
            raise BadInput("NB101 has no thin network (a cell at one channel leaves vertices without any): "
                           "linear_regions is defined on cell spaces")
        raise BadInput(f"unknown network kind {kind!r} (known: {', '.join(KINDS)})")


Networks = CellNetworks | NB101Networks


def as_networks(arch: Sequence[str] | Networks, channels: int = 16, cells_per_stage: int = 5) -> Networks:
    """``arch`` as networks: NB201 operation names (with the standard network's size), or anything with a
    ``build(kind, num_classes)`` (a space's :meth:`~cbred_ray.spaces.base.Space.networks`) as given."""
    if callable(getattr(arch, "build", None)):
        return arch
    return CellNetworks(tuple(arch), EDGES, channels, cells_per_stage)
