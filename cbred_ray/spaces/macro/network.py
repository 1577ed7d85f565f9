"""The torch network of a macro-space architecture (:mod:`cbred_ray.spaces.macro` describes it).

Module layout (the names of the computational graph's parameter arrays): ``stem`` (Conv-BN-ReLU6),
``layers.<i>`` (one block per searchable layer), ``head`` (1×1 Conv-BN-ReLU6), ``global_pooling``,
``classifier``. Blocks: ``nn.Identity``; ``ConvBN`` (``0`` conv, ``1`` BatchNorm, ``2`` activation, if
any: the reshaping identity and ``conv_k{K}``); :class:`MBConv` (``expand``, ``depthwise``, ``se``,
``project``). Convolutions have no bias (they feed a BatchNorm) except squeeze-and-excitation's.

What the statistics read, as NB201's and NB101's networks give it: :meth:`MacroNetwork.pre_pool` (the
head's output, after its BatchNorm and ReLU6, which Zen-NAS perturbs) and
:meth:`MacroNetwork.cell_features` (the stem's output and every searchable layer's, AZ-NAS's blocks).

**ReLU6.** :class:`ReLU6` computes ``torch.nn.functional.relu6`` but is an ``nn.ReLU`` subclass: the
statistics find activations with ``isinstance(m, nn.ReLU)`` (NASWOT's codes, SWAP's patterns), which
torch's own ``nn.ReLU6`` (a ``Hardtanh``) is not, so a network of MBConv blocks would have no units to
count. NASWOT's reference code hooks every module with ``'ReLU' in str(type(module))``, ReLU6 included
(BayesWatch/nas-without-training, ``score_networks.py``), and the unit's code is the same (input > 0),
so this keeps the reference's behaviour. The tracer traces through it to ``F.relu6``: kernel type
``relu6``, as for ``nn.ReLU6``.

Weights take PyTorch's default initialisation (seed torch before building). Weights are stored
channels-last (NHWC), faster on CPU with a channels-last input (oneDNN); values and names are unchanged.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from cbred_ray.errors import BadInput
from cbred_ray.spaces.macro.plan import Block, Layer, Stage, layer_plan, parse_block

KINDS = ("standard", "small")
SMALL_MIN_STEM = 8
"""The small network has a quarter of the standard network's channels, but at least this many in its stem."""


class ReLU6(nn.ReLU):
    """min(max(x, 0), 6), seen by the statistics as an ``nn.ReLU`` (see the module docstring)."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:  # noqa: A002 - nn.ReLU's own argument name
        return F.relu6(input, inplace=self.inplace)


class ConvBN(nn.Sequential):
    """Conv2d (padding kernel // 2, no bias) -> BatchNorm2d -> ``activation`` (none: left out)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1,
                 activation: type[nn.Module] | None = None) -> None:
        layers = [nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, groups=groups, bias=False),
                  nn.BatchNorm2d(c_out)]
        super().__init__(*layers, *([activation()] if activation else []))


class SqueezeExcite(nn.Module):
    """x · sigmoid(W₂ relu(W₁ pool(x))), 1×1 convolutions with bias (MnasNet's squeeze-and-excitation)."""

    def __init__(self, channels: int, reduced: int) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.reduce = nn.Conv2d(channels, reduced, 1)
        self.act = nn.ReLU()
        self.expand = nn.Conv2d(reduced, channels, 1)
        self.gate = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(self.expand(self.act(self.reduce(self.pool(x)))))


class MBConv(nn.Module):
    """MobileNetV2's inverted residual block, optionally with squeeze-and-excitation."""

    def __init__(self, block: Block, layer: Layer) -> None:
        super().__init__()
        expanded = layer.c_in * block.expansion
        # absent parts are None, not nn.Identity: an nn.Identity would be a kernel of the traced graph
        self.expand = ConvBN(layer.c_in, expanded, 1, activation=ReLU6) if block.expansion != 1 else None
        self.depthwise = ConvBN(expanded, expanded, block.kernel, layer.stride, groups=expanded, activation=ReLU6)
        self.se = SqueezeExcite(expanded, max(1, layer.c_in // 4)) if block.se else None
        self.project = ConvBN(expanded, layer.c_out, 1)
        self.residual = layer.keeps_shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.depthwise(x if self.expand is None else self.expand(x))
        out = self.project(out if self.se is None else self.se(out))
        return x + out if self.residual else out


def make_block(name: str, layer: Layer) -> nn.Module:
    """The module of block ``name`` for one searchable layer."""
    try:
        block = parse_block(name)
    except ValueError as err:
        raise BadInput(str(err)) from None
    if block.kind == "identity":
        return nn.Identity() if layer.keeps_shape else ConvBN(layer.c_in, layer.c_out, 1, layer.stride)
    if block.kind == "conv":
        return ConvBN(layer.c_in, layer.c_out, block.kernel, layer.stride, activation=nn.ReLU)
    return MBConv(block, layer)


class MacroNetwork(nn.Module):
    """Stem, the searchable layers, head, global average pooling, classifier."""

    def __init__(self, blocks: Sequence[str], stages: Sequence[Stage], stem_channels: int, head_channels: int,
                 num_classes: int, width: int | None = None) -> None:
        super().__init__()
        plan = layer_plan(stem_channels, [Stage(*s) for s in stages], head_channels, width=width)
        if len(blocks) != len(plan.layers):
            raise BadInput(f"a macro network of {len(plan.layers)} searchable layers needs {len(plan.layers)} "
                           f"blocks, got {len(blocks)}")
        self.stem = ConvBN(3, plan.stem, 3, activation=ReLU6)
        self.layers = nn.Sequential(*(make_block(name, layer) for name, layer in zip(blocks, plan.layers)))
        self.head = ConvBN(plan.layers[-1].c_out, plan.head, 1, activation=ReLU6)
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(plan.head, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.global_pooling(self.pre_pool(x)).flatten(1))

    def pre_pool(self, x: torch.Tensor) -> torch.Tensor:
        """The feature map the global pooling reads (after the head's BatchNorm and ReLU6)."""
        return self.head(self.layers(self.stem(x)))

    def cell_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The stem's output and every searchable layer's, in order."""
        features = [self.stem(x)]
        for layer in self.layers:
            features.append(layer(features[-1]))
        return features


def build_macro_network(blocks: Sequence[str], stages: Sequence[Stage], stem_channels: int = 32,
                        head_channels: int = 1280, num_classes: int = 10, width: int | None = None) -> nn.Module:
    """The network of one architecture: ``blocks`` (one block name per searchable layer) in the chain of
    ``stages`` after a stem of ``stem_channels``; ``width``: the stem channels to build it at, every channel
    count scaled by ``width / stem_channels`` (:func:`cbred_ray.spaces.macro.layer_plan`)."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise BadInput(f"num_classes must be a positive integer, got {num_classes!r}")
    net = MacroNetwork(tuple(blocks), stages, stem_channels, head_channels, num_classes, width)
    return net.to(memory_format=torch.channels_last)


@dataclass(frozen=True)
class MacroNetworks:
    """The networks of one macro architecture (:meth:`cbred_ray.spaces.macro.MacroSpace.networks`).

    ``standard``: the network with a stem of ``width`` channels (None: the space's ``stem_channels``),
    every channel count scaled alike; ``small``: the same at a quarter of those channels, with at least
    :data:`SMALL_MIN_STEM` stem channels (never more than the standard network's), on which the NTK and
    SWAP run, as NB201's small network is (TE-NAS computes the NTK on a narrow copy).
    """

    blocks: tuple[str, ...]
    stages: tuple[Stage, ...]
    stem_channels: int
    head_channels: int
    width: int | None = None

    def build(self, kind: str, num_classes: int) -> nn.Module:
        standard = self.stem_channels if self.width is None else self.width
        if kind == "standard":
            width = standard
        elif kind == "small":
            width = min(standard, max(SMALL_MIN_STEM, standard // 4))
        else:
            raise BadInput(f"unknown network kind {kind!r} for a macro space (known: {', '.join(KINDS)})")
        return build_macro_network(self.blocks, self.stages, self.stem_channels, self.head_channels, num_classes,
                                   width)
