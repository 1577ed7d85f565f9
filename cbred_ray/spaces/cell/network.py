"""The NAS-Bench-201 macro network for one cell, as in the official code, for cells of any node count.

Follows AutoDL-Projects (D-X-Y, NAS-Bench-201 authors): ``xautodl/models/cell_infers/
tiny_network.py`` (``TinyNetwork``), ``cells.py`` (``InferCell``) and
``cell_operations.py`` (``ReLUConvBN``, ``ResNetBasicblock``, ``POOLING``, ``Zero``).
Two deliberate simplifications, neither of which changes any value:

- an edge whose op is ``none`` (``x.mul(0.)`` officially) is left out of its node's sum;
  a node whose incoming edges are all ``none`` is a zero tensor of the cell input's shape;
- ``forward`` returns the logits only (``TinyNetwork`` returns ``(features, logits)``).

The cell may have any number of nodes (``edges``: the (to, from) pairs of a
:class:`~cbred_ray.spaces.cell.CellSpace`, NB201's by default): node i sums its incoming edges and
the last node is the cell's output, so an N-node cell space gets NB201's macro network around its
own cell.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from cbred_ray.errors import BadInput

OP_NAMES: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
"""The five NB201 operations, in the benchmark's own order."""

EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
"""(to, from) node pairs of the six cell edges, in the order of the official arch string."""


class ReLUConvBN(nn.Sequential):
    """ReLU -> Conv2d(bias=False) -> BatchNorm2d(affine, tracking running stats)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(c_out, affine=True, track_running_stats=True),
        )


class ResNetBasicblock(nn.Module):
    """The stride-2 residual reduction block between NB201 stages."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2, 1)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, 1)
        self.downsample = nn.Sequential(
            nn.AvgPool2d(kernel_size=2, stride=2, padding=0),
            nn.Conv2d(c_in, c_out, kernel_size=1, stride=1, padding=0, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.downsample(x) + self.conv_b(self.conv_a(x))


def make_op(name: str, channels: int) -> nn.Module:
    """One non-``none`` cell operation at stride 1 with equal input and output channels."""
    if name == "skip_connect":
        return nn.Identity()
    if name == "nor_conv_1x1":
        return ReLUConvBN(channels, channels, 1, 1, 0)
    if name == "nor_conv_3x3":
        return ReLUConvBN(channels, channels, 3, 1, 1)
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    raise BadInput(f"unknown NB201 operation {name!r}")


class InferCell(nn.Module):
    """A cell (NB201's 4 nodes by default); node i is the sum of its non-``none`` incoming edges."""

    def __init__(self, ops: Sequence[str], channels: int, edges: Sequence[tuple[int, int]] = EDGES) -> None:
        super().__init__()
        live = [(edge, op) for edge, op in zip(edges, ops) if op != "none"]
        self.num_nodes = max(to for to, _ in edges) + 1
        self.edges = [edge for edge, _ in live]
        self.layers = nn.ModuleList(make_op(op, channels) for _, op in live)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes: list[torch.Tensor | None] = [x] + [None] * (self.num_nodes - 1)
        for (to, src), layer in zip(self.edges, self.layers):
            source = nodes[src] if nodes[src] is not None else torch.zeros_like(x)
            nodes[src] = source
            out = layer(source)
            nodes[to] = out if nodes[to] is None else nodes[to] + out
        return nodes[-1] if nodes[-1] is not None else torch.zeros_like(x)


class NB201Network(nn.Module):
    """Stem, three stages of cells separated by reduction blocks, then the classifier head.

    ``use_stem=False`` drops the stem (the input then has ``channels`` channels) and
    ``depth`` keeps only the first ``depth`` blocks (cells and reduction blocks counted
    alike), as TE-NAS's ``TinyNetworkDarts(depth=..., use_stem=...)`` does for the thin
    network on which it counts linear regions. The defaults give the full network.
    """

    def __init__(
        self,
        ops: Sequence[str],
        num_classes: int,
        channels: int,
        cells_per_stage: int,
        use_stem: bool = True,
        depth: int | None = None,
        edges: Sequence[tuple[int, int]] = EDGES,
    ) -> None:
        super().__init__()
        self.stem = (
            nn.Sequential(nn.Conv2d(3, channels, kernel_size=3, padding=1, bias=False), nn.BatchNorm2d(channels))
            if use_stem
            else nn.Identity()
        )
        if depth is not None and depth < 1:
            raise BadInput(f"depth must be at least 1, got {depth!r}")
        widths: list[tuple[int, bool]] = []  # (width, is a reduction block), in order
        for stage, width in enumerate((channels, 2 * channels, 4 * channels)):
            if stage > 0:
                widths.append((width, True))
            widths.extend([(width, False)] * cells_per_stage)
        widths = widths[:depth]
        self.cells = nn.Sequential(
            *(ResNetBasicblock(width // 2, width) if reduce else InferCell(ops, width, edges)
              for width, reduce in widths)
        )
        width = widths[-1][0]
        self.lastact = nn.Sequential(nn.BatchNorm2d(width), nn.ReLU(inplace=True))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.global_pooling(self.pre_pool(x)).flatten(1))

    def pre_pool(self, x: torch.Tensor) -> torch.Tensor:
        """The feature map the global pooling reads (after the last BatchNorm and ReLU)."""
        return self.lastact(self.cells(self.stem(x)))

    def cell_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The stem's output and every block's (cells and reduction blocks), in order."""
        features = [self.stem(x)]
        for block in self.cells:
            features.append(block(features[-1]))
        return features


def validate_ops(ops: Sequence[str], edges: Sequence[tuple[int, int]] = EDGES) -> tuple[str, ...]:
    """Return ``ops`` as a tuple after checking it is one known NB201 op name per edge; else BadInput."""
    ops = tuple(ops)
    if len(ops) != len(edges):
        raise BadInput(f"a cell of {len(edges)} edges needs {len(edges)} ops, got {len(ops)}: {ops!r}")
    unknown = [op for op in ops if op not in OP_NAMES]
    if unknown:
        raise BadInput(f"unknown NB201 operation {unknown[0]!r} in {ops!r}")
    return ops


def build_network(
    ops: Sequence[str], num_classes: int = 100, channels: int = 16, cells_per_stage: int = 5,
    edges: Sequence[tuple[int, int]] = EDGES,
) -> nn.Module:
    """Build the NB201 network (``TinyNetwork``, C=16, N=5 by default) for a cell.

    ``ops`` are the 6 op names in edge order (1<-0),(2<-0),(2<-1),(3<-0),(3<-1),(3<-2),
    i.e. the order of ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``; ``edges`` another cell space's
    edges (:attr:`~cbred_ray.spaces.cell.CellSpace.edges`) for its N-node cell. Weights use PyTorch's
    default initialisation, so seed torch before calling for a reproducible network.
    Convolution weights are stored channels-last (NHWC), which with a channels-last input
    roughly halves CPU forward time (oneDNN); values and parameter names are unchanged.
    """
    net = NB201Network(validate_ops(ops, edges), num_classes, channels, cells_per_stage, edges=edges)
    return net.to(memory_format=torch.channels_last)


THIN_CHANNELS = 1
THIN_CELLS_PER_STAGE = 1
THIN_DEPTH = 1


Init = Literal["default", "kaiming_normal_fanin"]


def _kaiming_normal_fanin(module: nn.Module) -> None:
    """TE-NAS ``kaiming_normal_fanin_init`` for one module."""
    if isinstance(module, (nn.Conv2d, nn.Linear)):
        nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def build_thin_network(
    ops: Sequence[str],
    num_classes: int = 100,
    channels: int = THIN_CHANNELS,
    cells_per_stage: int = THIN_CELLS_PER_STAGE,
    depth: int | None = THIN_DEPTH,
    use_stem: bool = False,
    init: Init = "default",
    edges: Sequence[tuple[int, int]] = EDGES,
) -> nn.Module:
    """The thin NB201 network on which TE-NAS counts linear regions (C=1, N=1, depth 1, no stem).

    Without a stem the input must have ``channels`` channels. ``depth`` None keeps all
    blocks. ``init`` "default" keeps PyTorch's initialisation (what the reference code
    effectively does); "kaiming_normal_fanin" re-initialises as TE-NAS intended. ``edges``: the
    cell's, for an N-node cell space. Seed torch before calling for a reproducible network.
    """
    if init not in ("default", "kaiming_normal_fanin"):
        raise BadInput(f"unknown init {init!r}; known: 'default', 'kaiming_normal_fanin'")
    net = NB201Network(validate_ops(ops, edges), num_classes, channels, cells_per_stage, use_stem=use_stem,
                       depth=depth, edges=edges)
    if init == "kaiming_normal_fanin":
        net.apply(_kaiming_normal_fanin)
    return net


SMALL_NETWORK = {"channels": 3, "cells_per_stage": 1}
"""TE-NAS computes the NTK on the NB201 network with C=3, N=1 (``prune_tenas.py``, ``model_config``)."""


@dataclass(frozen=True)
class CellNetworks:
    """The networks of one cell (:meth:`~cbred_ray.spaces.cell.CellSpace.networks`), by the kind a statistic
    asks for (:data:`cbred_ray.stats.networks.KINDS`): ``standard``, NB201's macro network at ``channels``
    and ``cells_per_stage``; ``small``, the copy TE-NAS computes the NTK on (:data:`SMALL_NETWORK`);
    ``thin``, TE-NAS's one-cell, one-channel network for counting linear regions."""

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
        raise BadInput(f"unknown network kind {kind!r} (known: standard, small, thin)")
