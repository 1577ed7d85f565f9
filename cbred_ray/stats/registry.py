"""The registry of training-free statistics, by the names the store and configs use.

Adding a statistic: write it as a plain function, ``fn(net)`` for a data-free one or
``fn(net, batch, train_mode=...)`` for one that needs an input batch, and add one
``Statistic`` to ``_ALL`` below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from cbred_ray.stats.cost import macs, params
from cbred_ray.stats.naswot import naswot_v2
from cbred_ray.stats.synflow import logsynflow, synflow


@dataclass(frozen=True)
class Statistic:
    """A named statistic and how to read it.

    ``kind`` is "quality" for training-free accuracy predictors and "cost" for resource
    measures (params, MACs), for which ``higher_is_better`` is False (smaller is cheaper).
    """

    name: str
    fn: Callable[..., float]
    higher_is_better: bool
    needs_batch: bool
    kind: Literal["quality", "cost"]
    doc: str


_ALL = (
    Statistic("naswot_v2", naswot_v2, True, True, "quality",
              "log|det| of the ReLU binary-code kernel (Mellor et al., ICML 2021)"),
    Statistic("logsynflow", logsynflow, True, False, "quality",
              "sum |θ ⊙ log(1 + |∂R/∂θ|)|, |θ|, all-ones input, float64, no BN (Cavagnero et al., 2023)"),
    Statistic("synflow", synflow, True, False, "quality",
              "ln of sum |θ ⊙ ∂R/∂θ|, |θ|, all-ones input, float64, no BN (Tanaka et al., 2020)"),
    Statistic("params", params, False, False, "cost", "number of parameters"),
    Statistic("macs", macs, False, False, "cost",
              "multiply-accumulates for one 3x32x32 image (FlopCounterMode FLOPs / 2)"),
)

STATISTICS: dict[str, Statistic] = {stat.name: stat for stat in _ALL}
