"""MobileNet-style macro spaces: a chain of searchable layers, one candidate block per layer.

The network (:mod:`cbred_ray.spaces.macro.network` builds it): a 3×3 stem convolution (stride 1, as
for 32×32 CIFAR images) + BatchNorm + ReLU6; then the searchable layers, stage by stage (the first
layer of a stage has the stage's stride and output channels, the others stride 1 and the same
channels); a 1×1 head convolution to ``head_channels`` + BatchNorm + ReLU6; global average pooling
and a linear classifier. Every layer chooses one block of ``choices``, from this vocabulary:

- ``identity``: the layer passes its input through (``nn.Identity``), as the "skip" candidate of
  FBNet (Wu et al., CVPR 2019) and ProxylessNAS (Cai et al., ICLR 2019) lets a search drop a layer.
  Where the layer changes the shape (stride above 1, or other output channels) it is instead a 1×1
  convolution with the layer's stride + BatchNorm, ResNet's projection shortcut (He et al., CVPR 2016,
  option B).
- ``mbconv_k{K}_t{T}``: MobileNetV2's inverted residual block (Sandler et al., "MobileNetV2: Inverted
  Residuals and Linear Bottlenecks", CVPR 2018; named MBConv by MnasNet): 1×1 expansion to T×C_in
  channels + BN + ReLU6 (left out when T = 1, as MobileNetV2's first bottleneck does), K×K depthwise
  convolution with the layer's stride + BN + ReLU6, linear 1×1 projection + BN; the input is added to
  the output where the stride is 1 and C_in == C_out. K odd (padding K // 2), T ≥ 1.
- ``mbconv_k{K}_t{T}_se``: the same with squeeze-and-excitation (Hu et al., CVPR 2018) after the
  depthwise convolution, as MnasNet (Tan et al., CVPR 2019) and EfficientNet (Tan and Le, ICML 2019)
  place it: global average pooling, 1×1 convolution (with bias) to max(1, ⌊C_in / 4⌋) channels, ReLU,
  1×1 convolution (with bias) back to T×C_in, sigmoid, times the depthwise output. C_in is the
  block's *input* channels (tensorflow/tpu ``mnasnet_model.py`` and ``efficientnet_model.py``:
  ``num_reduced_filters = max(1, int(input_filters * se_ratio))``, ``se_ratio`` 0.25); the activation
  is MnasNet's ReLU (EfficientNet's is swish).
- ``conv_k{K}``: a plain K×K convolution with the layer's stride + BN + ReLU (no residual).

**Identifiers and indices.** An architecture is one character per searchable layer, the index of its
block in ``choices``: ``0``–``9`` then ``a``–``z`` (so at most 36 choices), e.g. ``02012100``. Its
index is that base-len(choices) number with layer 0 the most significant digit, as
:mod:`cbred_ray.spaces.cell` numbers its edges.

**Canonical form: every architecture is its own.** No two architectures are the same program: the
blocks have different parameter shapes (kernel size, expansion, squeeze-and-excitation, plain
convolution), two different blocks composed in one order are not the same as in the other, and at a
shape-changing position ``identity`` is a 1×1 convolution. Some do compute the same *function*: those
that differ only by where ``identity`` sits inside a run of shape-preserving layers (consecutive layers
of stride 1 whose input and output channels are equal), since there ``[A, identity, B]`` and ``[A, B,
identity]`` both compute B∘A (the shipped config's 6,561 architectures are 3,969 such functions). They are
not merged: their programs differ by where the ``identity`` kernel sits (their traced graphs hash
differently), statistics that read every module's output (MeCo, AZ-NAS's per-layer maps) differ, and
the project's deduplication key asks for the same program up to renaming (:mod:`cbred_ray.spaces.check`).

**Computational graph** (:meth:`MacroSpace.computational_graph`): the conventions of
:mod:`cbred_ray.graphs.computational`, the kernels of the whole network named by the module path they
come from (``layers.3.depthwise.0``), each writing ``<kernel>.out``, the input array ``x``, parameter
arrays named as the torch network's ``named_parameters()`` (BatchNorm's running statistics are
buffers, not parameters). Kernel types follow the torch.fx tracer (:mod:`cbred_ray.graphs.traced`):
``conv{K}x{K}``, ``dwconv{K}x{K}`` when depthwise (groups == input channels > 1), suffixed ``_s{s}``
when the stride s exceeds 1; ``batchnorm``, ``relu6``, ``relu``, ``globalpool``, ``sigmoid``, ``mul``
(squeeze-and-excitation's gating), ``add`` (the residual), ``identity`` and ``linear``. ``op_counts``,
``op_usage`` and the costs are closed forms over per-layer, per-choice tables built once per space from
the graph of each block (so nothing builds a graph per architecture); ``adjacency`` is the one-hot
encoding of every layer's choice.

This module does not import torch (a config that names the space is validated without it).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Annotated, ClassVar

import numpy as np
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from cbred_ray.errors import BadInput
from cbred_ray.spaces.base import Space
from cbred_ray.spaces.macro.plan import (
    BLOCK_FORMS,
    Block,
    Layer,
    Plan,
    Stage,
    conv_type,
    layer_plan,
    parse_block,
    scaled,
)

if TYPE_CHECKING:
    import networkx as nx

__all__ = ["ALPHABET", "BLOCK_FORMS", "Block", "Layer", "MacroParams", "MacroSpace", "Plan", "Stage",
           "StageParams", "conv_type", "layer_plan", "parse_block", "scaled"]

ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
"""The characters of an identifier: character ``i`` names choice ``i``."""
_FIXED_KINDS = ("batchnorm", "relu6", "relu", "globalpool", "sigmoid", "mul", "add", "identity", "linear")


def _checked_block(name: str) -> str:
    parse_block(name)
    return name


# -- parameters ---------------------------------------------------------------------------------
class StageParams(BaseModel):
    """One stage: ``{layers, channels, stride}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    layers: int = Field(ge=1, le=64, description="searchable layers of the stage")
    channels: int = Field(ge=1, le=4096, description="output channels of every layer of the stage")
    stride: int = Field(1, ge=1, le=4, description="stride of the stage's first layer (the others: 1)")


DEFAULT_STAGES = (Stage(2, 64, 2), Stage(3, 128, 2), Stage(3, 256, 2))
DEFAULT_CHOICES = ("identity", "mbconv_k3_t3", "mbconv_k5_t6")


class MacroParams(BaseModel):
    """The parameters of a macro space (``space: {name: macro, stages: [...], choices: [...]}``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    stem_channels: int = Field(32, ge=1, le=4096, description="output channels of the 3x3 stem convolution")
    stages: tuple[StageParams, ...] = Field(tuple(StageParams(**s._asdict()) for s in DEFAULT_STAGES),
                                            min_length=1, description="stages of searchable layers, "
                                            "each {layers, channels, stride}")
    head_channels: int = Field(1280, ge=1, le=16384, description="output channels of the 1x1 head convolution")
    choices: tuple[Annotated[str, AfterValidator(_checked_block)], ...] = Field(
        DEFAULT_CHOICES, min_length=1, max_length=len(ALPHABET),
        description=f"candidate blocks of every searchable layer, among {BLOCK_FORMS}")
    input_size: int = Field(32, ge=1, le=4096, description="side of the square input images the costs are "
                            "counted on")

    @field_validator("choices")
    @classmethod
    def _distinct(cls, choices: tuple[str, ...]) -> tuple[str, ...]:
        repeated = [c for i, c in enumerate(choices) if c in choices[:i]]
        if repeated:
            raise ValueError(f"block {repeated[0]!r} is listed twice")
        return choices

    @model_validator(mode="after")
    def _indexable(self) -> MacroParams:
        layers = sum(stage.layers for stage in self.stages)
        if len(self.choices) ** layers >= 2**62:
            raise ValueError(f"{len(self.choices)}^{layers} architectures are too many to index")
        return self


def _stage_dict(stage: object) -> object:
    if isinstance(stage, Stage):
        return stage._asdict()
    return stage.model_dump() if isinstance(stage, BaseModel) else stage


# -- the computational graph, block by block ----------------------------------------------------
class _Builder:
    """Adds a network's memory and kernel nodes to a graph (:mod:`cbred_ray.graphs.computational`
    conventions), tallying the parameters and MACs (convolutions and linear layers, as
    :func:`cbred_ray.stats.cost.macs` counts them) of what it adds."""

    def __init__(self, source: str = "x") -> None:
        import networkx as nx

        from cbred_ray.graphs.computational import FEATURE, MEMORY

        self.graph = nx.DiGraph()
        self.graph.add_node(source, partition=MEMORY, kind=FEATURE)
        self.params = self.macs = 0

    def kernel(self, name: str, kind: str, reads: Sequence[str], params: dict[str, int] | None = None,
               macs: int = 0) -> str:
        """A kernel ``name`` of type ``kind`` reading ``reads`` and its parameter arrays ``name.<p>``
        (of the given sizes); it writes ``name.out``, which is returned."""
        from cbred_ray.graphs.computational import FEATURE, KERNEL, MEMORY, PARAMETER

        g = self.graph
        g.add_node(name, partition=KERNEL, kind=kind)
        g.add_edges_from((r, name) for r in reads)
        for array, size in (params or {}).items():
            g.add_node(f"{name}.{array}", partition=MEMORY, kind=PARAMETER)
            g.add_edge(f"{name}.{array}", name)
            self.params += size
        g.add_node(f"{name}.out", partition=MEMORY, kind=FEATURE)
        g.add_edge(name, f"{name}.out")
        self.macs += macs
        return f"{name}.out"

    def conv(self, name: str, src: str, c_in: int, c_out: int, kernel: int, stride: int, side_out: int,
             groups: int = 1, bias: bool = False) -> str:
        params = {"weight": c_out * (c_in // groups) * kernel * kernel, **({"bias": c_out} if bias else {})}
        macs = side_out * side_out * c_out * (c_in // groups) * kernel * kernel
        return self.kernel(name, conv_type(kernel, stride, groups, c_in), [src], params, macs)

    def batchnorm(self, name: str, src: str, channels: int) -> str:
        return self.kernel(name, "batchnorm", [src], {"weight": channels, "bias": channels})

    def conv_bn(self, prefix: str, src: str, c_in: int, c_out: int, kernel: int, stride: int, side_out: int,
                activation: str | None, groups: int = 1) -> str:
        """``prefix.0`` convolution, ``prefix.1`` BatchNorm and ``prefix.2`` the activation, if any."""
        out = self.conv(f"{prefix}.0", src, c_in, c_out, kernel, stride, side_out, groups)
        out = self.batchnorm(f"{prefix}.1", out, c_out)
        return self.kernel(f"{prefix}.2", activation, [out]) if activation else out

    def block(self, prefix: str, block: Block, layer: Layer, src: str) -> str:
        """The kernels of one searchable layer reading ``src``; the array it writes."""
        c_in, c_out, stride, side = layer.c_in, layer.c_out, layer.stride, layer.side_out
        if block.kind == "identity":
            if layer.keeps_shape:
                return self.kernel(prefix, "identity", [src])
            return self.conv_bn(prefix, src, c_in, c_out, 1, stride, side, None)
        if block.kind == "conv":
            return self.conv_bn(prefix, src, c_in, c_out, block.kernel, stride, side, "relu")
        expanded = c_in * block.expansion
        out = src
        if block.expansion != 1:
            out = self.conv_bn(f"{prefix}.expand", out, c_in, expanded, 1, 1, layer.side_in, "relu6")
        out = self.conv_bn(f"{prefix}.depthwise", out, expanded, expanded, block.kernel, stride, side, "relu6",
                           groups=expanded)
        if block.se:
            out = self.squeeze_excite(f"{prefix}.se", out, expanded, max(1, c_in // 4))
        out = self.conv_bn(f"{prefix}.project", out, expanded, c_out, 1, 1, side, None)
        return self.kernel(f"{prefix}.add", "add", [src, out]) if layer.keeps_shape else out

    def squeeze_excite(self, prefix: str, src: str, channels: int, reduced: int) -> str:
        pooled = self.kernel(f"{prefix}.pool", "globalpool", [src])
        out = self.conv(f"{prefix}.reduce", pooled, channels, reduced, 1, 1, 1, bias=True)
        out = self.kernel(f"{prefix}.act", "relu", [out])
        out = self.conv(f"{prefix}.expand", out, reduced, channels, 1, 1, 1, bias=True)
        gate = self.kernel(f"{prefix}.gate", "sigmoid", [out])
        return self.kernel(f"{prefix}.mul", "mul", [src, gate])

    def stem(self, plan: Plan, src: str, input_size: int) -> str:
        return self.conv_bn("stem", src, 3, plan.stem, 3, 1, input_size, "relu6")

    def head(self, plan: Plan, src: str, c_in: int, num_classes: int) -> str:
        out = self.conv_bn("head", src, c_in, plan.head, 1, 1, plan.side, "relu6")
        out = self.kernel("global_pooling", "globalpool", [out])
        params = {"weight": plan.head * num_classes, "bias": num_classes}
        return self.kernel("classifier", "linear", [out], params, plan.head * num_classes)


# -- the space ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class MacroSpace(Space):
    """A MobileNet-style chain of searchable layers, each one block of ``choices`` (see the module docstring)."""

    stem_channels: int = 32
    stages: tuple[Stage, ...] = DEFAULT_STAGES
    head_channels: int = 1280
    choices: tuple[str, ...] = DEFAULT_CHOICES
    input_size: int = 32
    name = "macro"
    id_column = "arch"
    network_kinds = ("standard", "small")
    network_methods = ("pre_pool", "cell_features")
    Params: ClassVar[type[BaseModel]] = MacroParams
    graph_of_network: ClassVar[bool | None] = True
    """The computational graph is the whole standard network's (:mod:`cbred_ray.spaces.check`)."""

    def __post_init__(self) -> None:
        checked = self.validate_params(self.params(), self.name)
        object.__setattr__(self, "stages", tuple(Stage(**s.model_dump()) for s in checked.stages))
        object.__setattr__(self, "choices", tuple(checked.choices))

    def params(self) -> dict:
        return {"stem_channels": self.stem_channels, "stages": [_stage_dict(s) for s in self.stages],
                "head_channels": self.head_channels, "choices": list(self.choices), "input_size": self.input_size}

    # -- layout -------------------------------------------------------------------------------
    @property
    def num_layers(self) -> int:
        return sum(stage.layers for stage in self.stages)

    @property
    def size(self) -> int:
        return len(self.choices) ** self.num_layers

    @property
    def radices(self) -> tuple[int, ...]:
        """One block per layer: a neighbour changes one layer's block."""
        return (len(self.choices),) * self.num_layers

    @cached_property
    def plan(self) -> Plan:
        """The channels and sides of the network at the space's own channels."""
        return layer_plan(self.stem_channels, self.stages, self.head_channels, self.input_size)

    @cached_property
    def blocks(self) -> tuple[Block, ...]:
        return tuple(parse_block(c) for c in self.choices)

    @cached_property
    def _places(self) -> np.ndarray:
        return len(self.choices) ** np.arange(self.num_layers - 1, -1, -1, dtype=np.int64)

    def digits_of(self, indices: np.ndarray) -> np.ndarray:
        """(n, layers) int64: the choice of every layer of each index; BadInput names one outside."""
        idx = self.check_indices(indices)
        return (idx[:, None] // self._places[None, :]) % len(self.choices)

    def indices_of(self, digits: np.ndarray) -> np.ndarray:
        return np.asarray(digits, dtype=np.int64).reshape(-1, self.num_layers) @ self._places

    # -- identifiers --------------------------------------------------------------------------
    def parse_id(self, text: str) -> int:
        if not isinstance(text, str) or len(text) != self.num_layers:
            raise BadInput(f"malformed macro architecture {text!r}: expected {self.num_layers} characters, one "
                           f"choice per layer")
        known = ALPHABET[: len(self.choices)]
        for position, char in enumerate(text):
            if char not in known:
                raise BadInput(f"malformed macro architecture {text!r}: layer {position} has {char!r}, not a "
                               f"choice of {len(self.choices)} ({known[0]}-{known[-1]})")
        return int(self.indices_of(np.asarray([[ALPHABET.index(c) for c in text]]))[0])

    def parse_ids(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros(0, dtype=np.int64)
        if any(not isinstance(t, str) or len(t) != self.num_layers for t in texts):
            return super().parse_ids(texts)  # raises, naming the first malformed one
        codes = np.asarray(texts, dtype=f"<U{self.num_layers}").view(np.uint32).reshape(len(texts), -1)
        lookup = np.full(128, -1, dtype=np.int64)
        lookup[[ord(c) for c in ALPHABET[: len(self.choices)]]] = np.arange(len(self.choices))
        digits = np.where(codes < 128, lookup[np.minimum(codes, 127)], -1)
        if (digits < 0).any():
            return super().parse_ids(texts)
        return self.indices_of(digits)

    def format_ids(self, indices: np.ndarray) -> list[str]:
        chars = np.asarray(list(ALPHABET), dtype="<U1")[self.digits_of(indices)]
        return np.ascontiguousarray(chars).view(f"<U{self.num_layers}").ravel().tolist()

    def block_names(self, index: int) -> tuple[str, ...]:
        """The block of every layer of one architecture."""
        return tuple(self.choices[d] for d in self.digits_of(np.asarray([index]))[0])

    # -- equivalence --------------------------------------------------------------------------
    def canonical_indices(self, indices: np.ndarray) -> np.ndarray:
        """Every architecture is its own canonical form (module docstring)."""
        return self.check_indices(indices).copy()

    # -- graph, features, costs ---------------------------------------------------------------
    def computational_graph(self, index: int) -> nx.DiGraph:
        """The bipartite memory/kernel graph of the whole network (module docstring); the architecture
        as given (the pipeline passes canonical ones)."""
        builder = _Builder()
        self._emit(builder, self.digits_of(np.asarray([index]))[0], num_classes=1)
        return builder.graph

    def _emit(self, builder: _Builder, digits: Sequence[int], num_classes: int) -> None:
        out = builder.stem(self.plan, "x", self.input_size)
        for position, (layer, digit) in enumerate(zip(self.plan.layers, digits, strict=True)):
            out = builder.block(f"layers.{position}", self.blocks[int(digit)], layer, out)
        builder.head(self.plan, out, self.plan.layers[-1].c_out, num_classes)

    @cached_property
    def _block_builders(self) -> tuple[tuple[_Builder, ...], ...]:
        """The builder of every (layer, choice) alone: its graph, parameters and MACs."""
        out = []
        for position, layer in enumerate(self.plan.layers):
            row = []
            for block in self.blocks:
                builder = _Builder()
                builder.block(f"layers.{position}", block, layer, "x")
                row.append(builder)
            out.append(tuple(row))
        return tuple(out)

    def _fixed(self, num_classes: int) -> _Builder:
        """The stem, head and classifier alone (the head reading the stem: sizes come from the plan)."""
        builder = _Builder()
        builder.head(self.plan, builder.stem(self.plan, "x", self.input_size), self.plan.layers[-1].c_out,
                     num_classes)
        return builder

    @cached_property
    def kernel_types(self) -> tuple[str, ...]:
        """Every kernel type of the space's graphs: convolutions, depthwise ones, then the fixed kinds."""
        from cbred_ray.graphs.computational import KERNEL, nodes_of

        graphs = [b.graph for row in self._block_builders for b in row] + [self._fixed(1).graph]
        kinds = {g.nodes[k]["kind"] for g in graphs for k in nodes_of(g, KERNEL)}

        def order(kind: str) -> tuple[int, str]:
            if kind in _FIXED_KINDS:
                return 3 + _FIXED_KINDS.index(kind), kind
            return ("conv", "dwconv", "gconv").index(kind.split("conv")[0] + "conv"), kind

        return tuple(sorted(kinds, key=order))

    @cached_property
    def _count_table(self) -> tuple[np.ndarray, np.ndarray]:
        """(kernels of the fixed part (types,), kernels of every (layer, choice) (layers, choices, types))."""
        from cbred_ray.graphs.features import op_counts

        table = np.array([[op_counts(b.graph, self.kernel_types) for b in row] for row in self._block_builders])
        return op_counts(self._fixed(1).graph, self.kernel_types), table

    def _lookup(self, table: np.ndarray, digits: np.ndarray) -> np.ndarray:
        """Σ over layers of ``table[layer, digit]``, for every row of ``digits``."""
        total = np.zeros((len(digits), *table.shape[2:]), dtype=table.dtype)
        for position in range(self.num_layers):
            total += table[position, digits[:, position]]
        return total

    def op_counts(self, indices: np.ndarray) -> np.ndarray:
        """(n, len(kernel_types)) int64: the kernels of each type in each architecture's graph."""
        fixed, table = self._count_table
        return fixed + self._lookup(table, self.digits_of(indices))

    def features(self, canonical: np.ndarray, name: str) -> np.ndarray:
        self.check_feature(name)
        if name == "adjacency":
            digits = self.digits_of(canonical)
            onehot = np.zeros((len(digits), self.num_layers, len(self.choices)))
            np.put_along_axis(onehot, digits[:, :, None], 1.0, axis=2)
            return onehot.reshape(len(digits), -1)
        counts = self.op_counts(canonical).astype(np.float64)
        return counts / counts.sum(axis=1, keepdims=True) if name == "op_usage" else counts

    def costs(self, indices: np.ndarray, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
        """(parameters, MACs per ``input_size``² image) of the standard network at the space's channels:
        trainable parameters (convolution weights, squeeze-and-excitation biases, BatchNorm scale and
        shift, the classifier's weight and bias) and the MACs of the convolutions and the linear layer,
        as :func:`cbred_ray.stats.cost.params` and :func:`~cbred_ray.stats.cost.macs` count them."""
        params, macs = self._cost_tables
        digits, fixed = self.digits_of(indices), self._fixed(num_classes)
        return fixed.params + self._lookup(params, digits), fixed.macs + self._lookup(macs, digits)

    @cached_property
    def _cost_tables(self) -> tuple[np.ndarray, np.ndarray]:
        """(parameters, MACs) of every (layer, choice), float64 (layers, choices)."""
        rows = self._block_builders
        return (np.array([[b.params for b in row] for row in rows], dtype=np.float64),
                np.array([[b.macs for b in row] for row in rows], dtype=np.float64))

    # -- networks -----------------------------------------------------------------------------
    def networks(self, canonical_index: int, width: int | None = None):
        """The network of one architecture (:class:`cbred_ray.spaces.macro.network.MacroNetworks`):
        ``standard`` at the space's channels, or, with ``width`` (``stats.width``: the stem channels of
        the statistics network), every channel count scaled by ``width / stem_channels``; ``small`` at a
        quarter of the standard network's channels (at least 8 stem channels), for the NTK and SWAP."""
        from cbred_ray.spaces.macro.network import MacroNetworks

        return MacroNetworks(self.block_names(canonical_index), self.stages, self.stem_channels,
                             self.head_channels, width)
