"""Helpers shared by the statistics: the failure type and state-preserving contexts."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


class StatisticFailed(ArithmeticError):
    """A statistic has no meaningful value for this network (singular, NaN, infinite)."""


def finite(value: float, name: str) -> float:
    """Return ``value`` as a float, or raise StatisticFailed naming the statistic."""
    value = float(value)
    if not math.isfinite(value):
        raise StatisticFailed(f"{name} is {value}")
    return value


@contextmanager
def restored_state(net: nn.Module) -> Iterator[None]:
    """Restore ``net``'s train/eval flags and buffers (BatchNorm running stats) on exit."""
    modes = [(module, module.training) for module in net.modules()]
    buffers = [(buf, buf.detach().clone()) for buf in net.buffers()]
    try:
        yield
    finally:
        with torch.no_grad():
            for buf, saved in buffers:
                buf.copy_(saved)
        for module, training in modes:
            module.training = training


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


@contextmanager
def batchnorm_bypassed(net: nn.Module) -> Iterator[None]:
    """Make every BatchNorm of ``net`` the identity until exit (not thread-safe).

    The same device as FreeREA's log-SynFlow code: each BN's ``forward`` is shadowed by an
    instance attribute, removed again on exit.
    """
    norms = [m for m in net.modules() if isinstance(m, _BatchNorm)]
    for norm in norms:
        norm.forward = _identity
    try:
        yield
    finally:
        for norm in norms:
            del norm.forward
