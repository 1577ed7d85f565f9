"""The NAS-Bench-101 network for one cell, as in the official code (its costs in closed form: :mod:`.plan`).

Follows google-research/nasbench (Ying et al., ICML 2019): ``nasbench/lib/model_builder.py``
(``build_model_fn``, ``build_module``, ``projection``, ``truncate``, ``compute_vertex_channels``)
and ``nasbench/lib/base_ops.py`` (``conv_bn_relu``, ``Conv3x3BnRelu``, ``Conv1x1BnRelu``,
``MaxPool3x3``), with the benchmark's configuration (``nasbench/lib/config.py``): a 128-filter stem,
3 stacks of 3 modules, 10 labels, BatchNorm epsilon 1e-5 and momentum 0.997 (TF's convention; 0.003
in PyTorch's). The official "module" is called a cell here. Differences, none of which changes a
parameter count or a MAC:

- weights take PyTorch's default initialisation (officially variance scaling for convolutions,
  Glorot uniform for the dense layer), so seed torch before building;
- the 2x2 stride-2 max-pool between stacks uses ``ceil_mode`` for TF's "same" padding (equal to
  no padding at the even sizes 32 and 16 of the benchmark);
- ``forward`` returns the logits only (officially the model function returns a training spec).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from cbred_ray.errors import BadInput
from cbred_ray.spaces.nb101.plan import (
    CONV1X1,
    CONV3X3,
    MAXPOOL3X3,
    compute_vertex_channels,
    validate_sizes,
    validate_spec,
)

BN_EPSILON = 1e-5
BN_MOMENTUM = 0.997
"""``base_ops.BN_EPSILON`` and ``BN_MOMENTUM`` (TF: running = momentum x running + (1 - momentum) x batch)."""

class ConvBNReLU(nn.Sequential):
    """``base_ops.conv_bn_relu``: Conv2d (stride 1, "same" padding, no bias) -> BatchNorm2d -> ReLU."""

    def __init__(self, c_in: int, c_out: int, kernel: int) -> None:
        super().__init__(
            nn.Conv2d(c_in, c_out, kernel, stride=1, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(c_out, eps=BN_EPSILON, momentum=1.0 - BN_MOMENTUM),
            nn.ReLU(inplace=False),
        )


def make_op(name: str, channels: int) -> nn.Module:
    """One interior-vertex operation (``base_ops.OP_MAP``); its input already has ``channels`` channels."""
    if name == CONV3X3:
        return ConvBNReLU(channels, channels, 3)
    if name == CONV1X1:
        return ConvBNReLU(channels, channels, 1)
    if name == MAXPOOL3X3:
        return nn.MaxPool2d(3, stride=1, padding=1)
    raise BadInput(f"unknown NB101 operation {name!r}")


class NB101Cell(nn.Module):
    """One NB101 module (``model_builder.build_module``) from ``c_in`` to ``c_out`` channels.

    Interior vertex t sums, in this order, the tensors of its interior predecessors truncated to
    its channel count (the first channels; no parameters) and, when the input feeds it, a 1x1
    Conv-BN-ReLU projection of the input; then applies its op. The output concatenates the
    interior vertices that feed it (in vertex order) and, when the input feeds it, adds a 1x1
    projection of the input to ``c_out``; with no interior vertex feeding it, it is that projection.
    """

    def __init__(self, matrix: np.ndarray, ops: Sequence[str], c_in: int, c_out: int) -> None:
        super().__init__()
        num_vertices = matrix.shape[0]
        self.vertex_channels = tuple(compute_vertex_channels(c_in, c_out, matrix))
        self.sources = tuple(tuple(s for s in range(1, t) if matrix[s, t]) for t in range(num_vertices))
        self.from_input = tuple(bool(matrix[0, t]) for t in range(num_vertices))
        self.to_output = tuple(t for t in range(1, num_vertices - 1) if matrix[t, -1])
        self.projections = nn.ModuleDict()
        self.vertex_ops = nn.ModuleDict()
        for t in range(1, num_vertices - 1):
            if self.from_input[t]:
                self.projections[f"vertex_{t}"] = ConvBNReLU(c_in, self.vertex_channels[t], 1)
            self.vertex_ops[f"vertex_{t}"] = make_op(ops[t], self.vertex_channels[t])
        if self.from_input[-1]:
            self.projections["output"] = ConvBNReLU(c_in, c_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tensors = [x]
        for t in range(1, len(self.vertex_channels) - 1):
            width = self.vertex_channels[t]
            add_in = [tensors[s] if tensors[s].shape[1] == width else tensors[s][:, :width] for s in self.sources[t]]
            if self.from_input[t]:
                add_in.append(self.projections[f"vertex_{t}"](x))
            value = add_in[0]
            for other in add_in[1:]:
                value = value + other
            tensors.append(self.vertex_ops[f"vertex_{t}"](value))
        if not self.to_output:
            return self.projections["output"](x)
        out = tensors[self.to_output[0]] if len(self.to_output) == 1 else torch.cat([tensors[t] for t in self.to_output], 1)
        if self.from_input[-1]:
            out = out + self.projections["output"](x)
        return out


class NB101Network(nn.Module):
    """Stem, ``num_stacks`` stacks of ``cells_per_stack`` cells, global average pool, linear head.

    ``model_builder.build_model_fn``: the stem is a 3x3 Conv-BN-ReLU to ``stem_channels``; before
    every stack but the first, a 2x2 stride-2 max-pool halves the resolution and the stack's
    channels double; the first cell of a stack maps the previous width to the new one.
    """

    def __init__(
        self, matrix: np.ndarray, ops: Sequence[str], num_classes: int, stem_channels: int, num_stacks: int,
        cells_per_stack: int,
    ) -> None:
        super().__init__()
        self.stem = ConvBNReLU(3, stem_channels, 3)
        layers: list[nn.Module] = []
        channels = stem_channels
        for stack in range(num_stacks):
            c_in = channels
            if stack > 0:
                layers.append(nn.MaxPool2d(2, stride=2, ceil_mode=True))
                channels *= 2
            for _ in range(cells_per_stack):
                layers.append(NB101Cell(matrix, ops, c_in, channels))
                c_in = channels
        self.cells = nn.Sequential(*layers)
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pre_pool(x).mean(dim=(2, 3)))

    def pre_pool(self, x: torch.Tensor) -> torch.Tensor:
        """The feature map the global average pooling reads."""
        return self.cells(self.stem(x))

    def cell_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The stem's output and every layer's of the stacks (cells and downsampling), in order."""
        features = [self.stem(x)]
        for layer in self.cells:
            features.append(layer(features[-1]))
        return features


def build_nb101_network(
    matrix: object, ops: Sequence[str], num_classes: int = 10, stem_channels: int = 128, num_stacks: int = 3,
    cells_per_stack: int = 3,
) -> nn.Module:
    """Build the NB101 network for a cell (the benchmark's: 128 stem channels, 3 x 3 cells, 10 classes).

    ``matrix``: the V x V adjacency of a pruned cell (array-like, or flat row-major as in the
    table); ``ops``: its V vertex labels (``input``, ``OP_NAMES``..., ``output``). Weights use
    PyTorch's default initialisation, so seed torch before calling for a reproducible network.
    ``stem_channels`` is the width knob; any width at least the output's in-degree builds.
    Weights are stored channels-last (NHWC), which with a channels-last input is faster on CPU
    (oneDNN); values and parameter names are unchanged.
    """
    array, ops = validate_spec(matrix, ops)
    validate_sizes(num_classes, stem_channels, num_stacks, cells_per_stack)
    net = NB101Network(array, ops, int(num_classes), int(stem_channels), int(num_stacks), int(cells_per_stack))
    return net.to(memory_format=torch.channels_last)


WIDTH = 8
"""Stem channels of the NB101 network statistics are computed on (the benchmark trains at 128). Chosen by
``benchmarks/nb101_width.py`` (300 seeded cells, CIFAR-10 accuracy; ``results/nb101_width.json``) with a
rule fixed before its results were read: the cheapest width at which every statistic's Kendall τ is within
0.03 of its best over the widths measured (8, 16, 32). At 8 channels: all statistics 1.27 s per cell (16:
1.38 s, 32: 2.16 s, one thread), τ of NASWOT v2 0.298 (16: 0.285, 32: 0.284), log-synflow 0.276 (0.287,
0.293), synflow 0.250 (0.270, 0.280)."""
SMALL_WIDTH = 16
"""Stem channels of the ``small`` network (one cell per stack) the NTK is computed on: fewer channels than
the output vertex's in-degree would leave a vertex without any."""


@dataclass(frozen=True)
class NB101Networks:
    """The networks of one NB101 cell (a pruned spec), by the kind a statistic asks for: ``standard``, the
    benchmark's network at ``width``; ``small``, one cell per stack at :data:`SMALL_WIDTH`. There is no
    ``thin`` network (an NB101 cell at one channel has vertices with none), so ``linear_regions`` is refused."""

    matrix: tuple[tuple[int, ...], ...]
    ops: tuple[str, ...]
    width: int = WIDTH
    cells_per_stack: int = 3

    def build(self, kind: str, num_classes: int) -> nn.Module:
        matrix = np.asarray(self.matrix)
        if kind == "standard":
            return build_nb101_network(matrix, self.ops, num_classes, stem_channels=self.width,
                                       cells_per_stack=self.cells_per_stack)
        if kind == "small":
            return build_nb101_network(matrix, self.ops, num_classes, stem_channels=SMALL_WIDTH, cells_per_stack=1)
        if kind == "thin":
            raise BadInput("NB101 has no thin network (a cell at one channel leaves vertices without any): "
                           "linear_regions is defined on cell spaces")
        raise BadInput(f"unknown network kind {kind!r} (known: standard, small, thin)")
