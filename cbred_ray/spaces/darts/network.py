"""The DARTS CIFAR network around a genotype (Liu et al., ICLR 2019, ``model.py``'s ``NetworkCIFAR``).

A 3×3 stem convolution to ``stem_multiplier × C`` channels + BatchNorm; ``cells`` cells, the ones at a
third and two thirds of the depth reduction cells (stride 2 on the edges out of the two inputs, twice
the channels); each cell preprocesses its two inputs to its ``C`` channels (ReLU, 1×1 convolution,
BatchNorm; a factorized reduction for the older input when the cell before it reduced), sums two
edges per intermediate node and concatenates the four nodes (``4 × C`` channels out); an optional
auxiliary head after the cell at two thirds of the depth (ReLU, 5×5 average pooling with stride 3,
1×1 convolution to 128, BatchNorm, ReLU, 2×2 convolution to 768, BatchNorm, ReLU, linear; run in
training mode only, as DARTS does); global average pooling and a linear classifier.

The operations are those of NASLib's NAS-Bench-301 network, on which NAS-Bench-Suite-Zero computed its
zero-cost scores, parameter counts and FLOPs: separable convolutions are two stacked (ReLU, depthwise
K×K, 1×1, BatchNorm) blocks, the stride on the first; dilated convolutions one (ReLU, depthwise K×K
with dilation 2, 1×1, BatchNorm) block; max and average pooling 3×3 (average not counting the padding)
each followed by a BatchNorm; ``skip_connect`` the identity, or a factorized reduction on a strided
edge. BatchNorms inside the cells have no affine parameters; those of the stem, the preprocessing and
the auxiliary head do. At 32 initial channels and 8 cells without the auxiliary head, the parameter
count equals the ``params_m`` that NAS-Bench-Suite-Zero records for all 400 architectures of the
project's NAS-Bench-301 sample (``tests/spaces/test_darts_space.py``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from cbred_ray.errors import BadInput
from cbred_ray.spaces.darts.encoding import NODES, OPS


class ReLUConvBN(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, affine: bool = True) -> None:
        super().__init__(nn.ReLU(), nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out, affine=affine))


class FactorizedReduce(nn.Module):
    """Halves the resolution without losing a pixel: two 1×1 stride-2 convolutions, one shifted by a pixel,
    their outputs concatenated."""

    def __init__(self, c_in: int, c_out: int, affine: bool = True) -> None:
        super().__init__()
        self.relu = nn.ReLU()
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out - c_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(c_out, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(x[:, :, 1:, 1:])], dim=1))


def _separable(c: int, kernel: int, stride: int, dilation: int = 1) -> list[nn.Module]:
    return [nn.ReLU(), nn.Conv2d(c, c, kernel, stride=stride, padding=dilation * (kernel - 1) // 2,
                                 dilation=dilation, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c, affine=False)]


def operation(name: str, c: int, stride: int) -> nn.Module:
    """One edge's operation at ``c`` channels (stride 2 on a reduction cell's edges out of its inputs)."""
    if name in ("sep_conv_3x3", "sep_conv_5x5"):
        kernel = int(name[-1])
        return nn.Sequential(*_separable(c, kernel, stride), *_separable(c, kernel, 1))
    if name in ("dil_conv_3x3", "dil_conv_5x5"):
        return nn.Sequential(*_separable(c, int(name[-1]), stride, dilation=2))
    if name == "max_pool_3x3":
        return nn.Sequential(nn.MaxPool2d(3, stride=stride, padding=1), nn.BatchNorm2d(c, affine=False))
    if name == "avg_pool_3x3":
        return nn.Sequential(nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False),
                             nn.BatchNorm2d(c, affine=False))
    if name == "skip_connect":
        return nn.Identity() if stride == 1 else FactorizedReduce(c, c, affine=False)
    raise BadInput(f"unknown DARTS operation {name!r} (known: {', '.join(OPS)})")


class Cell(nn.Module):
    """One cell: its two inputs preprocessed, four nodes of two edges each, the nodes concatenated."""

    def __init__(self, inputs: np.ndarray, ops: np.ndarray, c_prev_prev: int, c_prev: int, c: int, reduction: bool,
                 reduction_prev: bool) -> None:
        super().__init__()
        self.preprocess0 = FactorizedReduce(c_prev_prev, c) if reduction_prev else ReLUConvBN(c_prev_prev, c)
        self.preprocess1 = ReLUConvBN(c_prev, c)
        self.inputs = [tuple(int(i) for i in node) for node in np.asarray(inputs)]
        self.edges = nn.ModuleList(
            operation(OPS[int(op)], c, 2 if reduction and source < 2 else 1)
            for node, node_ops in zip(self.inputs, np.asarray(ops)) for source, op in zip(node, node_ops))

    def forward(self, s0: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for j, (a, b) in enumerate(self.inputs):
            states.append(self.edges[2 * j](states[a]) + self.edges[2 * j + 1](states[b]))
        return torch.cat(states[2:], dim=1)


class AuxiliaryHead(nn.Sequential):
    """DARTS's auxiliary CIFAR head (8×8 input)."""

    def __init__(self, c: int, num_classes: int) -> None:
        super().__init__(nn.ReLU(), nn.AvgPool2d(5, stride=3, padding=0, count_include_pad=False),
                         nn.Conv2d(c, 128, 1, bias=False), nn.BatchNorm2d(128), nn.ReLU(),
                         nn.Conv2d(128, 768, 2, bias=False), nn.BatchNorm2d(768), nn.ReLU(),
                         nn.Flatten(), nn.Linear(768, num_classes))


def reduction_cells(cells: int) -> tuple[int, ...]:
    """The positions of the reduction cells: a third and two thirds of the depth."""
    return (cells // 3, 2 * cells // 3)


class DartsNetwork(nn.Module):
    """The network around one genotype's (2, 4, 2) ``inputs`` and ``ops`` (normal cell, reduction cell)."""

    def __init__(self, inputs: np.ndarray, ops: np.ndarray, channels: int = 32, cells: int = 8, num_classes: int = 10,
                 stem_multiplier: int = 3, auxiliary: bool = False) -> None:
        super().__init__()
        c_stem = stem_multiplier * channels
        self.stem = nn.Sequential(nn.Conv2d(3, c_stem, 3, padding=1, bias=False), nn.BatchNorm2d(c_stem))
        c_prev_prev, c_prev, c = c_stem, c_stem, channels
        reductions, reduction_prev = reduction_cells(cells), False
        self.cells = nn.ModuleList()
        self.auxiliary_head = None
        for position in range(cells):
            reduction = position in reductions
            c = 2 * c if reduction else c
            kind = int(reduction)
            self.cells.append(Cell(inputs[kind], ops[kind], c_prev_prev, c_prev, c, reduction, reduction_prev))
            reduction_prev = reduction
            c_prev_prev, c_prev = c_prev, NODES * c
            if auxiliary and position == reductions[1]:
                self.auxiliary_head = AuxiliaryHead(c_prev, num_classes)
                self.auxiliary_after = position
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)

    def cell_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The stem's output and every cell's, in order."""
        s0 = s1 = self.stem(x)
        features = [s1]
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1)
            features.append(s1)
        return features

    def pre_pool(self, x: torch.Tensor) -> torch.Tensor:
        """The feature map the global average pooling reads."""
        return self.cell_features(x)[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s0 = s1 = self.stem(x)
        auxiliary = None
        for position, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1)
            if self.auxiliary_head is not None and self.training and position == self.auxiliary_after:
                auxiliary = self.auxiliary_head(s1)
        logits = self.classifier(torch.flatten(self.global_pooling(s1), 1))
        return logits if auxiliary is None else (logits, auxiliary)


@dataclass(frozen=True)
class DartsNetworks:
    """The networks of one genotype by the kind a statistic asks for: ``standard``, the space's network at
    ``channels``; ``small``, two cells per stage (a reduction cell then a normal one: 5 cells) at the same
    width; there is no ``thin`` network (a separable convolution at one channel is a scalar)."""

    inputs: tuple
    ops: tuple
    channels: int = 32
    cells: int = 8
    auxiliary: bool = False

    def build(self, kind: str, num_classes: int) -> nn.Module:
        inputs, ops = np.asarray(self.inputs), np.asarray(self.ops)
        if kind == "standard":
            return DartsNetwork(inputs, ops, self.channels, self.cells, num_classes, auxiliary=self.auxiliary)
        if kind == "small":
            return DartsNetwork(inputs, ops, self.channels, 5, num_classes)
        if kind == "thin":
            raise BadInput("the DARTS space has no thin network: linear_regions is defined on cell spaces")
        raise BadInput(f"unknown network kind {kind!r} (known: standard, small, thin)")
