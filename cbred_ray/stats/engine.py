"""Compute a set of statistics for one architecture, failing each one independently."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from cbred_ray.errors import BadInput
from cbred_ray.stats.network import build_network
from cbred_ray.stats.numerics import finite
from cbred_ray.stats.registry import STATISTICS, Statistic

StatResult = tuple[float | None, str | None]
"""(value, None) on success; (None, reason) on failure; (value, note) when the value was
computed with a caveat (a batch halved after CUDA out-of-memory)."""

_MIN_RETRY_BATCH = 2


def validate_stat_names(names: Sequence[str]) -> None:
    """Raise BadInput naming the first statistic name that is not in the registry."""
    if isinstance(names, str):
        raise BadInput(f"statistic names must be a list, got the string {names!r}")
    for name in names:
        if name not in STATISTICS:
            raise BadInput(f"unknown statistic {name!r}; known: {', '.join(STATISTICS)}")


def _short(err: BaseException) -> str:
    """A one-line reason for a failed statistic."""
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text[:200]}" if text else type(err).__name__


def _run(stat: Statistic, net: torch.nn.Module, batch: torch.Tensor | None, train_mode: bool) -> float:
    """Call ``stat`` on ``net`` (and ``batch`` if it needs one); its value, checked finite."""
    if not stat.needs_batch:
        return finite(stat.fn(net), stat.name)
    return finite(stat.fn(net, batch, train_mode=train_mode), stat.name)


def _run_with_oom_retry(stat: Statistic, net: torch.nn.Module, batch: torch.Tensor | None, train_mode: bool) -> StatResult:
    """Run ``stat``; on CUDA out-of-memory, retry a batch statistic on the first half of the batch.

    A kernel over half the batch is a different statistic (NASWOT's K_H is batch x batch),
    so the value is returned with a note saying on how many images it was computed.
    """
    current = batch
    while True:
        try:
            value = _run(stat, net, current, train_mode)
        except torch.OutOfMemoryError:
            torch.cuda.empty_cache()
            if not stat.needs_batch or len(current) // 2 < _MIN_RETRY_BATCH:
                return None, "CUDA out of memory"
            current = current[: len(current) // 2]
            continue
        if current is not batch:
            return value, f"computed on {len(current)} of {len(batch)} images after CUDA out of memory"
        return value, None


def compute_stats(
    ops: Sequence[str],
    names: Sequence[str],
    batch: torch.Tensor | None,
    seed: int,
    num_classes: int = 100,
    device: str = "cpu",
    naswot_train_mode: bool = True,
    channels: int = 16,
    cells_per_stage: int = 5,
) -> dict[str, StatResult]:
    """Build the NB201 network for ``ops`` once (``torch.manual_seed(seed)``, on CPU, then
    moved to ``device``) and compute each statistic in ``names`` on it.

    Same ops, seed and batch give identical values on a given device. A statistic that
    fails (exception, NaN, infinity, singular kernel) yields ``(None, reason)`` and the
    others still run; see ``StatResult``. ``naswot_train_mode`` is the network mode for
    batch statistics (the published NASWOT setup is train mode). Raises BadInput for an
    unknown statistic name, a bad cell, or a batch statistic requested without a batch.
    ``channels`` and ``cells_per_stage`` shrink the network (tests); NB201 is 16 and 5.
    """
    validate_stat_names(names)
    if batch is None and any(STATISTICS[name].needs_batch for name in names):
        raise BadInput(f"statistics {[n for n in names if STATISTICS[n].needs_batch]} need an input batch")
    torch.manual_seed(seed)
    net = build_network(ops, num_classes, channels, cells_per_stage).to(device)
    batch = None if batch is None else batch.to(device)
    results: dict[str, StatResult] = {}
    for name in names:
        try:
            results[name] = _run_with_oom_retry(STATISTICS[name], net, batch, naswot_train_mode)
        except Exception as err:  # one statistic's failure must not stop the others
            results[name] = (None, _short(err))
    return results
