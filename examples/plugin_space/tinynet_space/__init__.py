"""TinyNet: a ResNet-like macro space for CIFAR-10, written as a cbred-ray plug-in.

Each of ``stages`` stages picks one block, and the whole network one width multiplier:

- ``b3``: basic residual block, two 3x3 convolutions; ``bn``: bottleneck, 1x1 -> 3x3 -> 1x1 at a
  quarter of the channels; ``d5``: depthwise-separable 5x5; ``id``: identity (the stage is skipped);
- ``/0.5`` or ``/1.0``: the multiplier of every stage's channels.

An identifier is the blocks joined by ``-``, then the multiplier: ``b3-d5-bn-id/1.0``. Its index is
the blocks read as a base-4 number (first stage most significant), times 2, plus the multiplier's
position, so the default 4 stages give 4**4 * 2 = 512 architectures.

This module does not import torch: listing spaces and validating configs stay fast. The network is
built in :mod:`tinynet_space.network`; the graph, features and costs come from tracing it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from cbred_ray.errors import BadInput
from cbred_ray.spaces.builder import BuilderSpace

BLOCKS = ("b3", "bn", "d5", "id")
MULTIPLIERS = ("0.5", "1.0")


class TinyNetParams(BaseModel):
    """The parameters a config may set beside ``name`` (``space: {name: tinynet, stages: 3}``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)  # an unknown or misspelt key is refused
    stages: int = Field(4, ge=1, le=5, description="searchable stages, each halving the resolution after the first")
    base_channels: int = Field(16, ge=4, le=256, description="channels of the first stage at multiplier 1.0")


@dataclass(frozen=True)
class TinyNetSpace(BuilderSpace):
    """A ResNet-like CIFAR-10 space: one block of b3/bn/d5/id per stage and a width multiplier."""

    stages: int = 4
    base_channels: int = 16
    name: ClassVar[str] = "tinynet"
    Params: ClassVar[type[BaseModel]] = TinyNetParams
    # Optional: the kernel types the tracer finds (cbred_ray.graphs.traced.kernel_type), listed to spare
    # BuilderSpace tracing 64 networks to discover them; a kernel of any other type counts as "other".
    kernel_types: ClassVar[tuple[str, ...]] = ("add", "batchnorm", "conv1x1", "conv3x3", "conv3x3_s2", "dwconv5x5",
                                               "globalpool", "identity", "linear", "relu", "other")

    @property
    def size(self) -> int:
        return len(BLOCKS) ** self.stages * len(MULTIPLIERS)

    @property
    def radices(self) -> tuple[int, ...]:
        # The index is a mixed-radix number of the choices (a block per stage, then the multiplier): local search
        # and evolution then move by changing one of them.
        return (len(BLOCKS),) * self.stages + (len(MULTIPLIERS),)

    def parse_id(self, text: str) -> int:
        blocks, _, multiplier = str(text).partition("/")
        parts = blocks.split("-")
        if len(parts) != self.stages or set(parts) - set(BLOCKS) or multiplier not in MULTIPLIERS:
            raise BadInput(f"not a tinynet identifier: {text!r} ({self.stages} of {'|'.join(BLOCKS)} joined by "
                           f"'-', then /0.5 or /1.0, e.g. {'-'.join(BLOCKS[:1] * self.stages)}/1.0)")
        digits = "".join(str(BLOCKS.index(part)) for part in parts)
        return int(digits, len(BLOCKS)) * len(MULTIPLIERS) + MULTIPLIERS.index(multiplier)

    def format_ids(self, indices) -> list[str]:
        ids = []
        for index in self.check_indices(indices):  # BadInput for an index outside the space
            blocks, multiplier = divmod(int(index), len(MULTIPLIERS))
            digits = np.base_repr(blocks, len(BLOCKS)).zfill(self.stages)
            ids.append("-".join(BLOCKS[int(d)] for d in digits) + "/" + MULTIPLIERS[multiplier])
        return ids

    def build(self, arch: str, width: int | None = None, num_classes: int = 10):
        from tinynet_space.network import tinynet  # torch is imported only when a network is built

        blocks, multiplier = arch.split("/")
        first = max(1, round((width or self.base_channels) * float(multiplier)))
        return tinynet(blocks.split("-"), [first * 2**i for i in range(self.stages)], num_classes)
