"""Number of linear regions: distinct ReLU activation patterns over a set of inputs.

Chen, Gong, Wang, "Neural Architecture Search on ImageNet in Four GPU Hours: A
Theoretically Inspired Perspective" (TE-NAS), ICLR 2021; reference code
github.com/VITA-Group/TENAS (``lib/procedures/linear_region_counter.py``:
``Linear_Region_Collector``, ``LinearRegionCount``; ``prune_tenas.py``; ``prune_launch.py``).

The published setup for NAS-Bench-201, which the defaults here follow:

- Network: a *thin* copy of the cell network, ``TinyNetworkDarts(C=1, N=1, depth=1,
  use_stem=False)``: no stem, only the first block (one cell, 1 channel), then the head
  (BatchNorm + ReLU, global pooling, linear classifier):
  :func:`cbred_ray.spaces.cell.network.build_thin_network`.
- Inputs: ``input_size=(1000, 1, 3, 3)``: batches of 1000 random 3x3 crops (``RandomCrop(3,
  padding=0)`` of normalised training images) of one randomly chosen channel
  (``RandChannel(1)``). ``region_inputs`` crops the caller's image batch the same way, or
  draws standard-normal inputs when there is none.
- Mode: train mode (BatchNorm normalises with the statistics of each 1000-sample batch),
  no gradient.
- Initialisation: PyTorch's default. ``prune_launch.py`` passes ``--init kaiming_normal``,
  which ``prune_tenas.py`` extends to ``'kaiming_normal_fanin'``, but ``init_model`` only
  recognises ``'kaiming_norm_fanin'``/``'kaiming_norm_fanout'``, so it re-initialises
  nothing. ``build_thin_network(init="kaiming_normal_fanin")`` gives the evidently intended
  Kaiming-normal (fan-in, ReLU gain; zero biases; BatchNorm weight 1, bias 0) instead.
- Counting: the output of every ``nn.ReLU`` whose input is 4-D is hooked, its sign (0/1)
  taken per unit, and all ReLUs concatenated into one pattern row per sample. The rows of
  ``sample_batch=3`` batches (3000 samples) are pooled and the number of unique rows is
  the count (``calc_LR`` sums 1/multiplicity of each row, found with a half-precision
  Hamming-distance matrix: exactly the number of distinct rows).
- Repeats: ``--repeat 3``: the count is taken three times on fresh batches and averaged
  (TE-NAS averages the relative change of the count when pruning an op). As the init
  is a no-op, the weights are the same in the three repeats; only the inputs differ.

Departures: every ``nn.ReLU`` is hooked, whatever its input's rank (in NB201 all are 4-D;
this lets the function count regions of a plain MLP); patterns are compared exactly with
``torch.unique`` on bit-packed rows rather than through a half-precision matrix (same
count); crops are drawn (with replacement) from the engine's image batch rather than each
from a different training image.

Sharing a forward pass with NASWOT v2 (whose ReLU codes are the same 0/1 signs) does not
apply in the published setup: NASWOT runs on the full network with 32x32 images, linear
regions on the thin network with 3x3 crops. No configuration puts the two on one
network and batch, so no shared pass is implemented.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from cbred_ray.errors import BadInput
from cbred_ray.stats.numerics import StatisticFailed, restored_state

REGION_RESOLUTION = 3
REGION_CHANNELS = 1
"""One randomly chosen channel (``RandChannel(1)``): the input of the thin network, which has no stem."""
REGION_FORWARD_BATCH = 1000
REGION_SAMPLE_BATCH = 3
REGION_REPEATS = 3
REGION_SAMPLES = REGION_FORWARD_BATCH * REGION_SAMPLE_BATCH * REGION_REPEATS
"""9000 inputs: 3 repeats x 3 batches x 1000 samples, as TE-NAS draws them."""

def region_inputs(
    samples: int = REGION_SAMPLES,
    resolution: int = REGION_RESOLUTION,
    seed: int = 0,
    source_batch: torch.Tensor | None = None,
    channels: int = REGION_CHANNELS,
) -> torch.Tensor:
    """``samples`` inputs of shape (channels, resolution, resolution) for counting regions.

    With ``source_batch`` (N, C, H, W), normalised images: each input is a random
    ``resolution`` x ``resolution`` crop (no padding) of a random image, keeping
    ``channels`` randomly chosen channels in their original order (TE-NAS's
    ``RandomCrop`` + ``RandChannel``); returned on the batch's device and dtype. Without
    one: standard-normal inputs (float32, CPU). Seeded by ``seed`` alone.
    """
    if samples < 1 or resolution < 1 or channels < 1:
        raise BadInput(f"samples, resolution and channels must be positive, got {samples}, {resolution}, {channels}")
    n = samples
    generator = torch.Generator().manual_seed(seed)
    if source_batch is None:
        return torch.randn((n, channels, resolution, resolution), generator=generator)
    if source_batch.dim() != 4:
        raise BadInput(f"source_batch must be (N, C, H, W), got shape {tuple(source_batch.shape)}")
    count, source_channels, height, width = source_batch.shape
    if count < 1 or source_channels < channels or height < resolution or width < resolution:
        raise BadInput(
            f"cannot crop {channels}x{resolution}x{resolution} inputs from a batch of shape {tuple(source_batch.shape)}"
        )
    picks = torch.randint(count, (n,), generator=generator)
    tops = torch.randint(height - resolution + 1, (n,), generator=generator)
    lefts = torch.randint(width - resolution + 1, (n,), generator=generator)
    chans = torch.rand(n, source_channels, generator=generator).argsort(dim=1)[:, :channels].sort(dim=1).values
    offsets = torch.arange(resolution)
    rows = (tops[:, None] + offsets)[:, None, :, None]
    cols = (lefts[:, None] + offsets)[:, None, None, :]
    index = [t.to(source_batch.device) for t in (picks[:, None, None, None], chans[:, :, None, None], rows, cols)]
    return source_batch[index[0], index[1], index[2], index[3]].contiguous()


def _pack_rows(codes: torch.Tensor) -> torch.Tensor:
    """(n, units) 0/1 codes as (n, ceil(units / 8)) uint8, eight units a byte."""
    n, units = codes.shape
    codes = nn.functional.pad(codes.to(torch.uint8), (0, -units % 8))
    shifts = torch.arange(7, -1, -1, device=codes.device, dtype=torch.uint8)
    return (codes.view(n, -1, 8) << shifts).sum(dim=2, dtype=torch.uint8)


class _PatternCollector:
    """Forward hook for nn.ReLU: keeps each ReLU's bit-packed 0/1 output signs per sample."""

    def __init__(self) -> None:
        self.packed: list[torch.Tensor] = []

    def hook(self, module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        self.packed.append(_pack_rows(output.reshape(output.shape[0], -1) > 0))

    def rows(self) -> torch.Tensor:
        """The (samples, bytes) pattern rows of the last forward pass, and reset."""
        rows, self.packed = torch.cat(self.packed, dim=1), []
        return rows


def _pattern_rows(net: nn.Module, batch: torch.Tensor, forward_batch: int, train_mode: bool) -> torch.Tensor:
    """Bit-packed activation-pattern rows of every sample, forwarded ``forward_batch`` at a time."""
    collector = _PatternCollector()
    relus = [m for m in net.modules() if isinstance(m, nn.ReLU)]
    if not relus:
        raise StatisticFailed("network has no ReLU units")
    handles = [m.register_forward_hook(collector.hook) for m in relus]
    chunks = []
    try:
        with restored_state(net), torch.no_grad():
            net.train(train_mode)
            for chunk in batch.split(forward_batch):
                if chunk.dim() == 4:
                    chunk = chunk.contiguous(memory_format=torch.channels_last)
                net(chunk)
                if not collector.packed:
                    raise StatisticFailed("no ReLU ran in the forward pass")
                chunks.append(collector.rows())
    finally:
        for handle in handles:
            handle.remove()
    return torch.cat(chunks)


def count_patterns(rows: torch.Tensor) -> int:
    """Number of distinct rows of a (samples, features) tensor."""
    return int(torch.unique(rows, dim=0).shape[0])


def linear_regions(
    net: nn.Module,
    batch: torch.Tensor,
    train_mode: bool = True,
    *,
    forward_batch: int = REGION_FORWARD_BATCH,
    repeats: int = REGION_REPEATS,
    dtype: torch.dtype = torch.float32,
) -> float:
    """Number of distinct ReLU activation patterns of ``net`` over ``batch``. Higher is better.

    A sample's pattern is the sign (0/1) of the output of every unit of every ``nn.ReLU``
    module. ``batch`` is split into ``repeats`` equal groups (the TE-NAS repeats); in each,
    the samples are forwarded ``forward_batch`` at a time (in train mode this sets the
    BatchNorm statistics) and their distinct patterns counted; the value is the mean
    count. With ``repeats=1`` and ``forward_batch >= len(batch)`` it is exactly the number
    of distinct patterns over the batch. The network runs in ``dtype`` (a converted copy
    if its parameters are of another dtype) and keeps its mode and running statistics.
    Defaults: the published setup (3 repeats of 3 batches of 1000, train mode, float32).
    Raises StatisticFailed for a network without ReLU modules.
    """
    if repeats < 1 or forward_batch < 1:
        raise BadInput(f"repeats and forward_batch must be positive, got {repeats}, {forward_batch}")
    if len(batch) < repeats:
        raise BadInput(f"{repeats} repeats need at least {repeats} samples, got {len(batch)}")
    param = next(net.parameters(), None)
    if param is not None and param.dtype != dtype:
        net = copy.deepcopy(net).to(dtype)
    batch = batch.to(dtype)
    counts = [count_patterns(_pattern_rows(net, group, forward_batch, train_mode)) for group in batch.tensor_split(repeats)]
    return sum(counts) / len(counts)
