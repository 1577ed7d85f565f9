"""The blocks of the macro spaces and the channel plan of their networks: what the space
(:mod:`cbred_ray.spaces.macro`) and its network (:mod:`cbred_ray.spaces.macro.network`) share.

Torch-free: a config naming the space is validated without torch.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

BLOCK_FORMS = "identity, mbconv_k{K}_t{T}, mbconv_k{K}_t{T}_se, conv_k{K} (K odd, at most 15; T from 1 to 16)"
MAX_KERNEL, MAX_EXPANSION = 15, 16
_BLOCK = re.compile(r"identity|mbconv_k(?P<mk>[1-9]\d*)_t(?P<t>[1-9]\d*)(?P<se>_se)?|conv_k(?P<ck>[1-9]\d*)")


class Block(NamedTuple):
    """One parsed block name: ``kind`` identity, mbconv or conv; kernel size, expansion, SE."""

    kind: str
    kernel: int = 0
    expansion: int = 0
    se: bool = False


def parse_block(name: str) -> Block:
    """The block a name of the vocabulary (see the module docstring) stands for; ValueError naming it."""
    match = _BLOCK.fullmatch(name) if isinstance(name, str) else None
    if match is None:
        raise ValueError(f"unknown block {name!r} (blocks: {BLOCK_FORMS})")
    if name == "identity":
        return Block("identity")
    kernel = int(match["mk"] or match["ck"])
    if kernel % 2 == 0 or kernel > MAX_KERNEL:
        raise ValueError(f"block {name!r}: the kernel size must be odd and at most {MAX_KERNEL}")
    if match["ck"]:
        return Block("conv", kernel)
    expansion = int(match["t"])
    if expansion > MAX_EXPANSION:
        raise ValueError(f"block {name!r}: the expansion must be at most {MAX_EXPANSION}")
    return Block("mbconv", kernel, expansion, bool(match["se"]))


class Stage(NamedTuple):
    """``layers`` searchable layers; the first has ``stride`` and ``channels`` output channels."""

    layers: int
    channels: int
    stride: int = 1


class Layer(NamedTuple):
    """One searchable layer of a network: channels in and out, stride, input and output side."""

    c_in: int
    c_out: int
    stride: int
    side_in: int
    side_out: int

    @property
    def keeps_shape(self) -> bool:
        return self.stride == 1 and self.c_in == self.c_out


class Plan(NamedTuple):
    """The channels and sides of a whole network: stem, searchable layers, head, the head's side."""

    stem: int
    layers: tuple[Layer, ...]
    head: int
    side: int


def scaled(channels: int, stem_channels: int, width: int) -> int:
    """``channels`` × ``width`` / ``stem_channels``, rounded half up, at least 1."""
    return max(1, (2 * channels * width + stem_channels) // (2 * stem_channels))


def layer_plan(stem_channels: int, stages: Sequence[Stage], head_channels: int, input_size: int = 32,
               width: int | None = None) -> Plan:
    """The network's channels and sides; with ``width``, every channel count scaled by ``width /
    stem_channels`` (:func:`scaled`; the stem gets exactly ``width``). A K×K convolution with stride s
    and padding K // 2 (K odd) maps side H to ⌊(H - 1) / s⌋ + 1, as does a 1×1 one with stride s."""
    width = stem_channels if width is None else width
    stem = scaled(stem_channels, stem_channels, width)
    layers, c_in, side = [], stem, input_size
    for stage in stages:
        channels = scaled(stage.channels, stem_channels, width)
        for position in range(stage.layers):
            stride = stage.stride if position == 0 else 1
            out_side = (side - 1) // stride + 1
            layers.append(Layer(c_in, channels, stride, side, out_side))
            c_in, side = channels, out_side
    return Plan(stem, tuple(layers), scaled(head_channels, stem_channels, width), side)


def conv_type(kernel: int, stride: int, groups: int, c_in: int) -> str:
    """The kernel type of a convolution, as :func:`cbred_ray.graphs.traced.kernel_type` names it."""
    prefix = "" if groups == 1 else "dw" if groups == c_in else "g"
    return f"{prefix}conv{kernel}x{kernel}" + (f"_s{stride}" if stride > 1 else "")
